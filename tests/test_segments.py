"""Segmentations: ORACLES.md golden examples (seeds/003 above all) and properties on random measures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmroi.segments import Measures, effectiveness, segment
from mlmroi.segments.abc import abc_cumulative, abc_mean_multiple
from mlmroi.segments.attributes import age_band, attribute
from mlmroi.segments.config import DEFAULT_RFM_SEGMENTS, SegmentsConfig, XyzConfig
from mlmroi.segments.measures import NEVER
from mlmroi.segments.rfm import name_cells, quantile_scores
from mlmroi.segments.xyz import LABELS, xyz

END = 20_453  # 2025-12-31 as days since 1970-01-01


def measures(n: int, periods: int = 4, **given: Any) -> Measures:
    """Measures of ``n`` participants: zeros unless given (arrays in node order)."""
    zeros = np.zeros(n, dtype=np.int64)
    fields: dict[str, Any] = {
        "id_rank": np.arange(n, dtype=np.int64),
        "end_day": END,
        "revenue_by_period": np.zeros((periods, n), dtype=np.int64),
        "purchased": np.zeros((periods, n), dtype=np.bool_),
        "join_period": zeros.copy(),
        "last_order_day": np.full(n, NEVER, dtype=np.int64),
        "bought_before": np.zeros(n, dtype=np.bool_),
        "left_on_day": np.full(n, NEVER, dtype=np.int64),
    }
    for name in (
        "revenue",
        "margin",
        "profit",
        "costs",
        "commissions",
        "orders",
        "personal_volume",
        "group_volume",
        "gv_growth",
        "frontline",
        "downline_size",
    ):
        fields[name] = zeros.copy()
    for name, value in given.items():
        fields[name] = (
            np.asarray(value, dtype=fields[name].dtype)
            if name in fields and hasattr(fields[name], "dtype")
            else value
        )
    return Measures(**fields)


def labels_of(codes: np.ndarray, labels: tuple[str, ...]) -> list[str]:
    return [labels[int(c)] for c in codes]


def test_abc_cumulative_worked_example() -> None:
    # ORACLES.md 3 (seeds/003): sales [50, 20, 10, 8, 5, 4, 3] -> cumulative [50, 70, 80, 88, 93, 97, 100] %:
    # A = first three (75 % reached at row 3), B = rows 4-6 (95 % reached at row 6), C = row 7.
    sales = np.array([50, 20, 10, 8, 5, 4, 3], dtype=np.int64)
    codes = abc_cumulative(sales, np.arange(7), (0.75, 0.95))
    assert labels_of(codes, ("A", "B", "C")) == ["A", "A", "A", "B", "B", "B", "C"]
    # Input order does not matter; ties go to the smaller id.
    shuffled = np.array([3, 50, 8, 20, 4, 10, 5], dtype=np.int64)
    by_value = dict(
        zip(shuffled.tolist(), abc_cumulative(shuffled, np.arange(7), (0.75, 0.95)).tolist(), strict=True)
    )
    assert by_value == dict(zip(sales.tolist(), codes.tolist(), strict=True))
    tie = abc_cumulative(np.array([10, 10, 0, -5]), np.array([1, 0, 2, 3]), (0.5, 0.9))
    assert tie.tolist() == [1, 0, 2, 2]  # the smaller id (rank 0) takes A; zero and negative are C


def test_abc_mean_multiple_worked_example() -> None:
    # ORACLES.md 2 (seeds/003): M = 100,000,000, N = 250 buyers -> P = 400,000; A >= 2,400,000, C <= 200,000.
    sales = [2_400_000, 200_000, 300_000, *([394_000] * 246), 176_000, 0]
    assert sum(sales) == 100_000_000 and sum(1 for s in sales if s > 0) == 250
    codes = abc_mean_multiple(np.array(sales, dtype=np.int64) * 100, (6.0, 0.5))
    got = labels_of(codes, ("A", "B", "C"))
    assert got[:3] == ["A", "C", "B"] and set(got[3:249]) == {"B"} and got[249:] == ["C", "C"]


def test_d_class_for_negative_profit_and_health() -> None:
    # ORACLES.md 4 (seeds/003): D = negative profitability, whatever the ABC class.
    m = measures(4, revenue=[500, 300, 150, 50], profit=[-1, 10, 0, 5])
    seg = {s.name: s for s in segment(m, SegmentsConfig(), 100)}
    assert labels_of(seg["abc"].codes, seg["abc"].labels) == ["A", "A", "B", "C"]
    assert labels_of(seg["abcd"].codes, seg["abcd"].labels) == ["D", "A", "B", "C"]
    health = seg["abc"].health
    assert health["a_share_of_participants"] == 0.5 and health["a_share_in_healthy_range"] is False
    assert health["buyers"] == 4 and health["a_share_of_buyers"] == 0.5
    assert health["a_share_of_revenue"] == 0.8
    assert health["participants_making_80pct_of_revenue"] == 0.5  # 500 + 300 = 80 % of 1,000


@pytest.mark.parametrize(
    ("cell", "name"),
    [
        # ORACLES.md, RFM named segments, the worked list.
        ((5, 5, 5), "champions"),
        ((4, 4, 4), "potential_loyalist"),
        ((2, 2, 2), "loyal"),
        ((3, 1, 4), "promising"),
        ((5, 1, 1), "new"),
        ((1, 3, 4), "cant_lose"),
        ((2, 5, 5), "at_risk"),
        ((1, 5, 3), "need_attention"),
        ((2, 1, 1), "about_to_sleep"),
        ((1, 1, 1), "lost"),
        ((2, 1, 5), "other"),
    ],
)
def test_rfm_named_segments(cell: tuple[int, int, int], name: str) -> None:
    r, f, m = (np.array([v], dtype=np.int64) for v in cell)
    names = (*(s.name for s in DEFAULT_RFM_SEGMENTS), "other")
    assert names[int(name_cells(r, f, m, DEFAULT_RFM_SEGMENTS)[0])] == name


def test_rfm_scores_and_no_purchase() -> None:
    # Five buyers with distinct recency, orders and revenue, one participant without orders.
    m = measures(
        6,
        orders=[1, 2, 3, 4, 5, 0],
        revenue=[100, 200, 300, 400, 500, 0],
        last_order_day=[END - 50, END - 40, END - 30, END - 20, END - 10, NEVER],
    )
    seg = {s.name: s for s in segment(m, SegmentsConfig(), 100)}
    rfm = seg["rfm_segment"]
    assert rfm.extra["rfm_r"].to_list() == [1, 2, 3, 4, 5, None]
    assert rfm.extra["rfm_f"].to_list() == [1, 2, 3, 4, 5, None]
    assert labels_of(rfm.codes, rfm.labels)[4:] == ["champions", "no_purchase"]


@given(st.lists(st.integers(-5, 60), min_size=1, max_size=60), st.integers(2, 7))
def test_quantile_scores_monotone_and_equal_for_equal_values(values: list[int], bins: int) -> None:
    array = np.array(values, dtype=np.float64)
    scores = quantile_scores(array, bins)
    assert scores.min() >= 1 and scores.max() <= bins
    order = np.argsort(array, kind="stable")
    assert (np.diff(scores[order]) >= 0).all()  # never falls as the value rises
    for value in set(values):
        assert len(set(scores[array == value].tolist())) == 1


def test_xyz_cv_and_frequency_count_periods_from_the_join() -> None:
    # Rows are periods, columns participants 0-3 (3 joins after the window, so its periods do not count).
    revenue = np.array(
        [[100, 100, 0, 0], [100, 50, 0, 0], [100, 150, 0, 100], [100, 0, 100, 0]], dtype=np.int64
    )
    m = measures(
        4,
        revenue_by_period=revenue,
        purchased=revenue > 0,
        join_period=[0, 0, 2, 4],
        orders=[4, 4, 2, 0],
    )
    # node 0: 100 every period (cv 0) -> X; node 1: 100, 50, 150, 0 -> cv 0.75 -> Z;
    # node 2 joined in period 2: counts [0, 100] -> cv 1 -> Z; node 3 joined after the window: no period
    # at all, so new whatever min_periods says.
    cv = xyz(m, XyzConfig(min_periods=1))
    assert labels_of(cv.codes, cv.labels) == ["X", "Z", "Z", "new"]
    # frequency: node 0 4/4 -> X; node 1 3/4 -> X; node 2 1/2 -> Y.
    frequency = xyz(m, XyzConfig(method="frequency", min_periods=1))
    assert labels_of(frequency.codes, frequency.labels) == ["X", "X", "Y", "new"]
    # By default two periods since joining (node 2) or none (node 3) are too few to judge: new.
    assert labels_of(xyz(m, XyzConfig()).codes, LABELS) == ["X", "Z", "new", "new"]


def test_xyz_newcomers_are_new_not_x() -> None:
    """One period of history has no variation: without the rule every newcomer who bought once is X."""
    revenue = np.array([[0, 0], [0, 0], [100, 0], [100, 100]], dtype=np.int64)
    m = measures(2, revenue_by_period=revenue, purchased=revenue > 0, join_period=[2, 3], orders=[2, 1])
    assert labels_of(xyz(m, XyzConfig(min_periods=1)).codes, LABELS) == ["X", "X"]
    assert labels_of(xyz(m, XyzConfig()).codes, LABELS) == ["new", "new"]
    assert labels_of(xyz(m, XyzConfig(min_periods=2)).codes, LABELS) == ["X", "new"]


def test_lifecycle_precedence() -> None:
    m = measures(
        6,
        last_order_day=[NEVER, END - 5, END - 5, END - 5, END - 200, END - 5],
        frontline=[0, 0, 1, 5, 0, 3],
        commissions=[0, 0, 0, 0, 0, 0],
        group_volume=[0, 0, 10, 1000, 0, 50],
        left_on_day=[NEVER, NEVER, NEVER, NEVER, NEVER, END - 1],
    )
    config = SegmentsConfig.model_validate({"lifecycle": {"leader_top_share": 0.2}})
    seg = {s.name: s for s in segment(m, config, 100)}
    got = labels_of(seg["lifecycle"].codes, seg["lifecycle"].labels)
    # prospect, customer, partner, leader (top 20 % by GV with 5 recruits), churned (no order in 200 days),
    # churned (left) even though a partner.
    assert got == ["prospect", "customer", "partner", "leader", "churned", "churned"]


def test_attribute_and_age_band() -> None:
    seg = attribute("region", pl.Series(["north", " south", None, "", "north"]))
    assert seg.labels == ("north", "south", "unknown")
    assert labels_of(seg.codes, seg.labels) == ["north", "south", "unknown", "unknown", "north"]
    births = pl.Series([dt.date(2001, 1, 1), dt.date(2000, 12, 31), dt.date(1960, 6, 1), None])
    band = age_band(births, dt.date(2025, 12, 31), (25, 35, 45, 55, 65))
    assert labels_of(band.codes, band.labels) == ["<25", "25-34", "65+", "unknown"]


@st.composite
def random_measures(draw: st.DrawFn) -> Measures:
    n = draw(st.integers(1, 40))
    periods = draw(st.integers(1, 4))

    def ints(lo: int, hi: int) -> list[int]:
        return draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n))

    revenue_by_period = np.array([ints(-50, 500) for _ in range(periods)], dtype=np.int64)
    orders = np.array(ints(0, 5))
    return measures(
        n,
        periods,
        id_rank=np.array(draw(st.permutations(range(n)))),
        revenue=revenue_by_period.sum(axis=0),
        revenue_by_period=revenue_by_period,
        purchased=revenue_by_period > 0,
        orders=orders,
        profit=ints(-100, 300),
        costs=ints(0, 200),
        margin=ints(-10, 200),
        group_volume=ints(0, 2000),
        gv_growth=ints(-500, 500),
        frontline=ints(0, 4),
        join_period=ints(0, periods),
        last_order_day=np.where(orders > 0, END - np.array(ints(0, 300)), NEVER),
        bought_before=np.array(ints(0, 1), dtype=bool),
    )


@given(random_measures(), st.sampled_from(["cumulative", "mean_multiple"]))
def test_every_participant_gets_exactly_one_value_and_the_table_adds_up(m: Measures, method: str) -> None:
    config = SegmentsConfig.model_validate({"abc": {"method": method}})
    segmentations = segment(m, config, 100)
    for seg in segmentations:
        assert seg.codes.shape == (m.size,)
        assert ((seg.codes >= 0) & (seg.codes < len(seg.labels))).all(), seg.name
    table = effectiveness(segmentations, m, 2)
    for seg in segmentations:
        rows = table.filter(pl.col("segmentation") == seg.name)
        assert rows["value"].to_list() == list(seg.labels)
        assert rows["participants"].sum() == m.size
        assert rows["revenue"].sum() * 100 == int(m.revenue.sum())  # exact money, no cent lost
        assert rows["buyers"].sum() == int((m.orders > 0).sum())
    if method == "cumulative":
        positive = np.maximum(m.revenue, 0)
        total = int(positive.sum())
        a = segmentations[0].codes == 0
        if total:
            # A holds at least 75 % of the positive revenue, and without its smallest member less than 75 %.
            assert positive[a].sum() * 100 >= 75 * total
            smallest = positive[a].min()
            assert (positive[a].sum() - smallest) * 100 < 75 * total


@given(
    st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=40),
    st.booleans(),
)
def test_descending_order_matches_a_two_key_sort(values: list[int], huge: bool) -> None:
    from mlmroi.segments.base import descending

    measure = np.array(values, dtype=np.int64) if huge else np.array(values, dtype=np.int64) % 1000
    rank = np.arange(measure.size, dtype=np.int64)[::-1].copy()  # ids in reverse node order
    assert descending(measure, rank).tolist() == np.lexsort((rank, -measure)).tolist()
    subset = np.arange(0, measure.size, 2)
    expected = subset[np.lexsort((rank[subset], -measure[subset]))]
    assert subset[descending(measure[subset], rank[subset])].tolist() == expected.tolist()


def test_abc_health_counts_buyers_not_everyone() -> None:
    """Non-buyers (revenue 0) do not dilute A's share: 2 A among 8 buyers is 25 % (healthy) even with 12
    participants who bought nothing (2 of 20 = 10 % of everyone)."""
    revenue = [1000, 900] + [100] * 6 + [0] * 12
    m = measures(20, revenue=revenue, profit=[1] * 20)
    health = {s.name: s for s in segment(m, SegmentsConfig(), 100)}["abc"].health
    a = health["a_share_of_participants"] * 20
    assert health["buyers"] == 8
    assert health["a_share_of_buyers"] == a / 8
    assert health["a_share_in_healthy_range"] is (0.2 <= a / 8 <= 0.3)
    assert health["a_share_of_buyers"] > health["a_share_of_participants"]
