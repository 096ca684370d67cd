"""Loyalty profile, CSI / NPS and the renew index (SPEC §6): ORACLES.md 7 and 8 (seeds/003), hand examples
and properties."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from mlmroi.periods import Window
from mlmroi.segments.base import Segmentation
from mlmroi.segments.leads import renew_index
from mlmroi.segments.loyalty import count_at_most, financial_scores, loyalty, percentile_scores
from mlmroi.segments.survey import company_figures, csi_nps, survey_table
from tests.test_segments import measures

EPOCH = dt.date(1970, 1, 1)
START, END = dt.date(2025, 1, 1), dt.date(2025, 3, 31)
WINDOW_DAYS = ((START - EPOCH).days, (END - EPOCH).days)
INSIDE = dt.date(2025, 2, 10)


def events(rows: list[tuple[int, dt.date, str, float | None]]) -> pl.DataFrame:
    """An events table as Dataset.events holds it."""
    return pl.DataFrame(
        {
            "node": [r[0] for r in rows],
            "occurred_on": [r[1] for r in rows],
            "type": [r[2] for r in rows],
            "value": [r[3] for r in rows],
        },
        schema={"node": pl.Int64, "occurred_on": pl.Date, "type": pl.String, "value": pl.Float64},
    )


def naive_score(raw: list[float], i: int) -> int:
    """The module docstring's rule, one participant at a time in exact fractions."""
    if raw[i] <= 0:
        return 0
    exact = Fraction(100 * sum(1 for v in raw if v <= raw[i]), len(raw))
    return max(1, round(exact))  # Python's round of a Fraction is half-to-even


def type_of(seg: Segmentation, i: int) -> str:
    return seg.labels[int(seg.codes[i])]


# --- loyalty -----------------------------------------------------------------------------------------------


def test_percentile_scores_hand_example() -> None:
    # n = 8: raw 0 scores 0; 1 (x2): 100·(2 + 2)/8 = 50; 2: 100·5/8 = 62.5 -> 62 (half-to-even); 3: 75;
    # 5 (x2): 100.
    raw = np.array([0, 1, 1, 2, 5, 5, 3, 0], dtype=np.int64)
    assert percentile_scores(raw).tolist() == [0, 50, 50, 62, 100, 100, 75, 0]
    # A positive value scores at least 1, even when 100·1/n rounds to 0.
    assert percentile_scores(np.arange(1, 301, dtype=np.int64))[0] == 1
    assert percentile_scores(np.zeros(0, dtype=np.int64)).tolist() == []


@given(
    st.lists(st.integers(-3, 12), min_size=1, max_size=40),
    st.sampled_from([1, 10**9]),  # small values take the count table, large ones the sort
)
def test_percentile_scores_property(values: list[int], scale: int) -> None:
    raw = np.array(values, dtype=np.int64) * scale
    scores = percentile_scores(raw)
    assert scores.tolist() == [naive_score(raw.tolist(), i) for i in range(raw.size)]
    for a in range(raw.size):
        for b in range(raw.size):
            if raw[a] == raw[b]:
                assert scores[a] == scores[b]
            if raw[a] < raw[b]:
                assert scores[a] <= scores[b]
    assert ((scores > 0) == (raw > 0)).all()
    as_float = percentile_scores(raw.astype(np.float64) / 7)
    assert as_float.tolist() == scores.tolist()
    assert count_at_most(raw).tolist() == [sum(1 for w in values if w <= v) if v > 0 else 0 for v in values]


def test_financial_is_the_mean_of_revenue_and_order_percentiles() -> None:
    # n = 4: revenue [100, 200, 300, 300] -> counts at most [1, 2, 4, 4]; orders [3, 1, 1, 0] -> [4, 3, 3, 0];
    # 100·(c_r + c_o)/8 = [62.5, 62.5, 87.5, 50] -> [62, 62, 88, 50] (half-to-even, rounded once).
    got = financial_scores(np.array([100, 200, 300, 300]), np.array([3, 1, 1, 0]))
    assert got.tolist() == [62, 62, 88, 50]


def test_loyalty_each_type_by_hand() -> None:
    # Five participants, each active in one type only (+ node 5 with nothing): each active one scores
    # 100·6/6 = 100 in its type (the five others are 0 there), 0 elsewhere.
    m = measures(6, revenue=[500, 0, 0, 0, 0, 0], orders=[2, 0, 0, 0, 0, 0])
    recruits = np.array([0, 1, 0, 0, 0, 0], dtype=np.int64)
    ev = events(
        [
            (2, INSIDE, "invoice_paid", 2.0),
            (2, INSIDE, "invoice_paid", 3.0),  # ≤ 3 days is on time
            (3, INSIDE, "contact", None),
            (3, INSIDE, "newsletter_response", None),
            (4, INSIDE, "feedback", None),
        ]
    )
    seg = loyalty(ev, m, recruits, WINDOW_DAYS)
    assert seg.name == "loyalty_type"
    assert seg.labels == ("financial", "recommendation", "process", "contact", "evaluation", "none")
    assert [type_of(seg, i) for i in range(6)] == [
        "financial",
        "recommendation",
        "process",
        "contact",
        "evaluation",
        "none",
    ]
    assert list(seg.extra) == [
        "loyalty_financial",
        "loyalty_recommendation",
        "loyalty_process",
        "loyalty_contact",
        "loyalty_evaluation",
    ]
    assert all(s.dtype == pl.Int8 for s in seg.extra.values())
    # Node 0: revenue count 6 and orders count 6 -> 100; node 5 scores 0 everywhere.
    assert seg.extra["loyalty_financial"].to_list() == [100, 0, 0, 0, 0, 0]
    assert seg.extra["loyalty_process"].to_list() == [0, 0, 100, 0, 0, 0]
    assert seg.column().to_list()[5] == "none"


def test_loyalty_recommendation_adds_referrals_to_recruits() -> None:
    # raw recommendation = recruits in window + referral events: [2, 1 + 1, 3, 0] -> counts [3, 3, 4, 0].
    m = measures(4)
    ev = events([(1, INSIDE, "referral", None)])
    seg = loyalty(ev, m, np.array([2, 1, 3, 0], dtype=np.int64), WINDOW_DAYS)
    assert seg.extra["loyalty_recommendation"].to_list() == [75, 75, 100, 0]


def test_loyalty_process_is_the_on_time_share() -> None:
    # Shares: node 0 1/2 (a late one), node 1 1/2 (an invoice without days is not on time), node 2 1/1,
    # node 3 0/1 (all late: raw 0, scores 0), node 4 no invoices (0). n = 5.
    m = measures(5)
    ev = events(
        [
            (0, INSIDE, "invoice_paid", 1.0),
            (0, INSIDE, "invoice_paid", 10.0),
            (1, INSIDE, "invoice_paid", 0.0),
            (1, INSIDE, "invoice_paid", None),
            (2, INSIDE, "invoice_paid", 3.0),
            (3, INSIDE, "invoice_paid", 4.0),
        ]
    )
    seg = loyalty(ev, m, np.zeros(5, dtype=np.int64), WINDOW_DAYS)
    # counts at most: 1/2 -> 4 (two zeros + both halves) -> 80; 1 -> 5 -> 100.
    assert seg.extra["loyalty_process"].to_list() == [80, 80, 100, 0, 0]


def test_loyalty_tie_order_and_none() -> None:
    # Node 0: financial and evaluation both 100 -> financial (first in the fixed order).
    # Node 1: contact and evaluation both 100 -> contact. Node 2: recommendation and process tie -> recommendation.
    # Node 3: nothing at all -> none.
    m = measures(4, revenue=[10, 0, 0, 0], orders=[1, 0, 0, 0])
    ev = events(
        [
            (0, INSIDE, "feedback", None),
            (1, INSIDE, "feedback", None),
            (1, INSIDE, "event", None),
            (0, INSIDE, "contact", None),  # contact ties among 0 and 1: both 100
            (2, INSIDE, "invoice_paid", 1.0),
        ]
    )
    seg = loyalty(ev, m, np.array([0, 0, 1, 0], dtype=np.int64), WINDOW_DAYS)
    scores = {name: s.to_list() for name, s in seg.extra.items()}
    assert scores["loyalty_financial"] == [100, 0, 0, 0]
    assert scores["loyalty_recommendation"] == [0, 0, 100, 0]
    assert scores["loyalty_process"] == [0, 0, 100, 0]
    assert scores["loyalty_contact"] == [100, 100, 0, 0]
    assert scores["loyalty_evaluation"] == [100, 100, 0, 0]
    assert [type_of(seg, i) for i in range(4)] == ["financial", "contact", "recommendation", "none"]


def test_loyalty_ignores_events_outside_the_window_and_no_events() -> None:
    m = measures(3)
    recruits = np.zeros(3, dtype=np.int64)
    before, after = START - dt.timedelta(days=1), END + dt.timedelta(days=1)
    ev = events(
        [
            (0, before, "feedback", None),
            (0, after, "contact", None),
            (1, before, "invoice_paid", 1.0),
            (1, after, "referral", None),
            (2, START, "feedback", None),  # the window's first and last days count
            (2, END, "feedback", None),
            (1, INSIDE, "survey", 9.0),  # other types do not count toward any loyalty type
            (0, INSIDE, "custom_thing", 1.0),
        ]
    )
    seg = loyalty(ev, m, recruits, WINDOW_DAYS)
    assert [type_of(seg, i) for i in range(3)] == ["none", "none", "evaluation"]
    assert seg.extra["loyalty_evaluation"].to_list() == [0, 0, 100]
    assert sum(s.sum() for name, s in seg.extra.items() if name != "loyalty_evaluation") == 0
    without = loyalty(None, measures(3, revenue=[0, 5, 0], orders=[0, 1, 0]), recruits, WINDOW_DAYS)
    assert [type_of(without, i) for i in range(3)] == ["none", "financial", "none"]
    assert without.extra["loyalty_contact"].to_list() == [0, 0, 0]


# --- CSI / NPS ---------------------------------------------------------------------------------------------


def test_csi_nps_worked_example() -> None:
    # ORACLES.md 7 (seeds/003, "CSI – сегментация по уровню удовлетворенности клиента"): scores
    # [10, 9, 8, 8, 7, 5, 3, 2] -> attract (8–10) 4, detract (1–3) 2 -> CSI 2.0; NPS on the same scores:
    # promoters (9–10) 2, detractors (0–6) 3, n = 8 -> NPS = 100·(2 − 3)/8 = −12.5.
    got = csi_nps([10, 9, 8, 8, 7, 5, 3, 2])
    assert got == {
        "responses": 8,
        "attract": 4,
        "detract": 2,
        "csi": 2.0,
        "promoters": 2,
        "detractors": 3,
        "nps": -12.5,
    }


def test_csi_is_null_without_detract_responses() -> None:
    got = csi_nps([10, 8, 7, 0])  # 0 is an NPS detractor but not a CSI detract (1–3)
    assert got["attract"] == 2 and got["detract"] == 0 and got["csi"] is None
    assert got["nps"] == 0.0  # promoters 1, detractors 1
    empty = csi_nps([])
    assert empty["responses"] == 0 and empty["csi"] is None and empty["nps"] is None


def test_survey_table_scopes() -> None:
    # Tree: node 0 (id 30) sponsors 1 (id 10) and 2 (id 20); node 2 sponsors 3 (id 5).
    window = Window(START, END, "month")
    sponsor_of = np.array([-1, 0, 0, 2], dtype=np.int64)
    ids = pl.Series("participant_id", [30, 10, 20, 5], dtype=pl.Int64)
    seg = Segmentation("abc", np.array([0, 1, 1, 0], dtype=np.int16), ("A", "B", "C"))
    ev = events(
        [
            (0, dt.date(2025, 1, 5), "survey", 10.0),  # root: company, period, segment; no sponsor
            (1, dt.date(2025, 1, 20), "survey", 2.0),
            (2, dt.date(2025, 3, 1), "survey", 9.0),
            (3, dt.date(2025, 3, 2), "survey", 8.0),
            (3, dt.date(2024, 12, 31), "survey", 1.0),  # outside the window: nowhere
            (1, dt.date(2025, 2, 1), "feedback", 1.0),  # not a survey
        ]
    )
    table = survey_table(ev, window, sponsor_of, ids, [seg])
    assert table.columns == [
        "scope",
        "key",
        "responses",
        "attract",
        "detract",
        "csi",
        "promoters",
        "detractors",
        "nps",
    ]
    rows = [
        (r["scope"], r["key"], r["responses"], r["attract"], r["detract"])
        for r in table.iter_rows(named=True)
    ]
    assert rows == [
        ("company", None, 4, 3, 1),
        ("period", "2025-01", 2, 1, 1),
        ("period", "2025-02", 0, 0, 0),
        ("period", "2025-03", 2, 2, 0),
        # sponsor keys are the sponsors' participant ids, ordered by id: 20 (node 2: node 3's survey),
        # then 30 (node 0: surveys of nodes 1 and 2).
        ("sponsor", "20", 1, 1, 0),
        ("sponsor", "30", 2, 1, 1),
        ("abc", "A", 2, 2, 0),
        ("abc", "B", 2, 1, 1),
        ("abc", "C", 0, 0, 0),
    ]
    company = company_figures(table)
    # scores 10, 2, 9, 8: attract 3, detract 1 -> CSI 3.0; promoters 2, detractors 1 -> NPS 25.0
    assert company == {
        "responses": 4,
        "attract": 3,
        "detract": 1,
        "csi": 3.0,
        "promoters": 2,
        "detractors": 1,
        "nps": 25.0,
    }
    by_key = {(r["scope"], r["key"]): r for r in table.iter_rows(named=True)}
    assert by_key[("period", "2025-02")]["csi"] is None and by_key[("period", "2025-02")]["nps"] is None
    assert by_key[("sponsor", "30")]["csi"] == 1.0 and by_key[("sponsor", "30")]["nps"] == 0.0


def test_survey_table_string_ids_and_no_events() -> None:
    window = Window(START, END, "quarter")
    sponsor_of = np.array([-1, 0, 0], dtype=np.int64)
    ids = pl.Series("participant_id", ["b", "a", "c"])
    ev = events([(1, INSIDE, "survey", 10.0), (2, INSIDE, "survey", 0.0)])
    table = survey_table(ev, window, sponsor_of, ids)
    assert table.filter(pl.col("scope") == "sponsor").select("key", "responses").rows() == [("b", 2)]
    empty = survey_table(None, window, sponsor_of, ids)
    assert empty.select("scope", "key", "responses").rows() == [
        ("company", None, 0),
        ("period", "2025-Q1", 0),
    ]
    assert company_figures(empty)["csi"] is None


# --- renew index -------------------------------------------------------------------------------------------


def test_renew_index_worked_example() -> None:
    # ORACLES.md 8 (seeds/003, "Индекс привлекательности возобновления контакта"): brand 5, attractiveness 4,
    # closeness 5 -> index 14.
    leads = pl.DataFrame(
        {"lead_id": [1], "brand": [5], "attractiveness": [4], "closeness": [5]},
        schema={"lead_id": pl.Int64, "brand": pl.Int8, "attractiveness": pl.Int8, "closeness": pl.Int8},
    )
    got = renew_index(leads)
    assert got.row(0, named=True) == {
        "lead_id": 1,
        "brand": 5,
        "attractiveness": 4,
        "closeness": 5,
        "renew_index": 14,
        "rank": 1,
    }


def test_renew_index_ranking_with_ties() -> None:
    leads = pl.DataFrame(
        {
            "lead_id": ["d", "b", "a", "c", "e"],
            "brand": [1, 5, 5, 5, 1],
            "attractiveness": [1, 4, 5, 5, 1],
            "closeness": [1, 5, 4, 5, 1],
        },
        schema_overrides={"brand": pl.Int8, "attractiveness": pl.Int8, "closeness": pl.Int8},
    )
    got = renew_index(leads)
    # 15 (c) first; 14 shared by a and b (listed by lead_id) at rank 2; the 3s (d, e) at rank 4 (min rank).
    assert got.select("lead_id", "renew_index", "rank").rows() == [
        ("c", 15, 1),
        ("a", 14, 2),
        ("b", 14, 2),
        ("d", 3, 4),
        ("e", 3, 4),
    ]
    assert got.schema["renew_index"] == pl.Int8 and got.schema["rank"] == pl.Int32
    assert renew_index(leads.clear()).height == 0
