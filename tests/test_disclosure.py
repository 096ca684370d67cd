"""The income disclosure statement (mlmroi.disclosure, docs/disclosure.md): a hand-computed example, a naive
Decimal reference over random inputs, schema and row order, determinism, ranks, config and the sample."""

from __future__ import annotations

import datetime as dt
import io
import math
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mlmroi
from mlmroi.config import parse_config
from mlmroi.disclosure import DEFAULT_BRACKETS, NO_RANK, TOP_PERCENTS, income_disclosure, rank_column, schema
from mlmroi.errors import ConfigError

START = dt.date(2025, 1, 1)
CENT = Decimal("0.01")
DEFAULT_GROUPS = [
    "nothing",
    "over 0 up to 100",
    "over 100 up to 1,000",
    "over 1,000 up to 10,000",
    "over 10,000 up to 100,000",
    "over 100,000",
]


def frame(rows: list[tuple[Any, ...]], decimals: int = 2, rank: pl.DataType | None = None) -> pl.DataFrame:
    """A participants table: (id, role, joined_on, income, net[, rank]) per row; income/net as text or None."""
    money = pl.Decimal(18, decimals)
    data: dict[str, Any] = {
        "participant_id": [r[0] for r in rows],
        "role": [r[1] for r in rows],
        "joined_on": [r[2] for r in rows],
        "distributor_income": pl.Series([None if r[3] is None else Decimal(r[3]) for r in rows], dtype=money),
        "distributor_net": pl.Series([None if r[4] is None else Decimal(r[4]) for r in rows], dtype=money),
    }
    if rank is not None:
        data["rank"] = pl.Series([r[5] for r in rows], dtype=rank)
    return pl.DataFrame(data)


# Six distributors and a customer. Hand-computed below: incomes 0, 0, 100, 100.01, 250, 1500.
EXAMPLE = [
    ("A", "distributor", dt.date(2024, 6, 1), "0.00", "-50.00", "bronze"),
    (
        "B",
        "distributor",
        dt.date(2025, 2, 1),
        "100.00",
        "40.00",
        " bronze ",
    ),  # on a boundary: over 0 up to 100
    ("C", "distributor", dt.date(2025, 3, 1), "100.01", "-0.01", "bronze"),
    ("D", "distributor", dt.date(2025, 4, 1), "250.00", "250.00", "silver"),
    ("E", "distributor", dt.date(2025, 5, 1), "1500.00", "1200.00", "silver"),
    ("F", "distributor", dt.date(2025, 1, 1), "0.00", "0.00", ""),  # an empty rank is no rank
    ("X", "customer", dt.date(2025, 1, 1), None, None, "gold"),  # customers are not in the statement
]


def row(table: pl.DataFrame, by: str, group: str) -> dict[str, Any]:
    rows = table.filter((pl.col("by") == by) & (pl.col("group") == group)).to_dicts()
    assert len(rows) == 1
    return rows[0]


def d(text: str) -> Decimal:
    return Decimal(text)


def test_hand_computed_example() -> None:
    table = income_disclosure(frame(EXAMPLE, rank=pl.String()), 2, window_start=START)
    everyone = row(table, "all", "all")
    assert everyone["participants"] == 6 and everyone["share"] == 1.0  # the customer is left out
    # Median of 6: (100.00 + 100.01) / 2 = 100.005 -> 100.00 (half-to-even; half-up would say 100.01).
    assert everyone["income_median"] == d("100.00")
    assert everyone["income_mean"] == d("325.00")  # 1,950.01 / 6 = 325.0016…
    assert everyone["income_total"] == d("1950.01")
    # Top 1 % and 10 % of 6 people: ceil(0.06) = ceil(0.6) = 1 person, the top earner.
    assert everyone["income_top1_mean"] == everyone["income_top1_min"] == d("1500.00")
    assert everyone["income_top10_mean"] == everyone["income_top10_min"] == d("1500.00")
    assert everyone["share_no_income"] == round(2 / 6, 6)
    # Nets -50, -0.01, 0, 40, 250, 1200: median (0 + 40) / 2, mean 1,439.99 / 6 = 239.998… -> 240.00.
    assert everyone["net_median"] == d("20.00") and everyone["net_mean"] == d("240.00")
    assert everyone["net_total"] == d("1439.99") and everyone["net_top1_mean"] == d("1200.00")
    assert everyone["share_net_loss"] == round(2 / 6, 6)  # a net of 0.00 is not a loss

    nothing = row(table, "income_bracket", "nothing")
    assert (nothing["participants"], nothing["share"]) == (2, round(2 / 6, 6))
    assert nothing["lower"] is None and nothing["upper"] == d("0.00")
    assert nothing["income_mean"] == d("0.00") and nothing["share_no_income"] == 1.0
    assert nothing["net_median"] == d("-25.00") and nothing["share_net_loss"] == 0.5
    boundary = row(table, "income_bracket", "over 0 up to 100")
    assert boundary["participants"] == 1 and boundary["income_median"] == d("100.00")  # 100.00 is "up to"
    assert (boundary["lower"], boundary["upper"]) == (d("0.00"), d("100.00"))
    middle = row(table, "income_bracket", "over 100 up to 1,000")
    assert middle["participants"] == 2
    assert middle["income_median"] == d("175.00")  # (100.01 + 250.00) / 2 = 175.005 -> 175.00
    assert middle["net_median"] == d("125.00")  # (-0.01 + 250.00) / 2 = 124.995 -> 125.00
    assert middle["net_total"] == d("249.99") and middle["share_net_loss"] == 0.5
    empty = row(table, "income_bracket", "over 100,000")
    assert empty["participants"] == 0 and empty["share"] == 0.0
    assert empty["lower"] == d("100000.00") and empty["upper"] is None
    assert empty["income_median"] is None and empty["share_no_income"] is None

    bronze = row(table, "rank", "bronze")  # stripped text: " bronze " is bronze
    assert bronze["participants"] == 3
    assert bronze["income_median"] == d("100.00")  # odd count: the middle value
    assert bronze["income_mean"] == d("66.67")  # 200.01 / 3
    assert bronze["net_median"] == d("-0.01") and bronze["net_mean"] == d("-3.34")  # -10.01 / 3 = -3.336…
    assert row(table, "rank", "silver")["income_median"] == d("875.00")
    assert row(table, "rank", NO_RANK)["participants"] == 1

    before = row(table, "tenure", "joined before 2025-01-01")
    assert before["participants"] == 1 and before["net_mean"] == d("-50.00")
    assert row(table, "tenure", "joined 2025-01-01 or later")["participants"] == 5  # F joined on the start


def test_tie_at_the_edge_of_the_top_group() -> None:
    # 101 distributors: the top 1 % is ceil(1.01) = 2 people; the 2nd and 3rd earned the same 5.00, so
    # whichever of them is counted, the top 1 % mean is (7 + 5) / 2 and its least member earned 5.00.
    incomes = ["7.00", "5.00", "5.00"] + ["1.00"] * 98
    rows = [(i, "distributor", START, v, v) for i, v in enumerate(incomes)]
    everyone = row(income_disclosure(frame(rows), 2), "all", "all")
    assert everyone["income_top1_mean"] == d("6.00") and everyone["income_top1_min"] == d("5.00")
    # Top 10 %: ceil(10.1) = 11 people: 7 + 5 + 5 + 8 × 1 = 25 / 11 = 2.2727… -> 2.27.
    assert everyone["income_top10_mean"] == d("2.27") and everyone["income_top10_min"] == d("1.00")
    assert everyone["income_median"] == d("1.00")


def test_schema_and_row_order() -> None:
    table = income_disclosure(frame(EXAMPLE, rank=pl.String()), 2, window_start=START)
    assert table.schema == pl.Schema(schema(2))
    assert table.columns[:8] == [
        "by", "group", "lower", "upper", "participants", "share", "share_no_income", "income_median",
    ]  # fmt: skip
    assert table["by"].to_list() == ["all"] + ["income_bracket"] * 6 + ["rank"] * 3 + ["tenure"] * 2
    assert table["group"].to_list() == [
        "all",
        *DEFAULT_GROUPS,
        "bronze",
        "silver",
        NO_RANK,
        "joined before 2025-01-01",
        "joined 2025-01-01 or later",
    ]
    # Every distributor is in exactly one bracket, one rank and one tenure.
    for by in ("income_bracket", "rank", "tenure"):
        assert table.filter(pl.col("by") == by)["participants"].sum() == 6


def test_custom_brackets_and_labels() -> None:
    table = income_disclosure(frame(EXAMPLE), 2, brackets=[Decimal("50"), 1000.5, 20000])
    brackets = table.filter(pl.col("by") == "income_bracket")
    assert brackets["group"].to_list() == [
        "up to 50",  # a first boundary above 0: everything up to it, nothing included
        "over 50 up to 1,000.5",
        "over 1,000.5 up to 20,000",
        "over 20,000",
    ]
    assert brackets["participants"].to_list() == [2, 3, 1, 0]
    assert brackets["upper"].to_list()[:2] == [d("50.00"), d("1000.50")]


def test_deterministic_whatever_the_row_order() -> None:
    rows = frame(EXAMPLE, rank=pl.String())
    first = income_disclosure(rows, 2, window_start=START)
    shuffled = income_disclosure(rows.sample(fraction=1.0, shuffle=True, seed=3), 2, window_start=START)
    assert first.equals(shuffled)
    a, b = io.BytesIO(), io.BytesIO()
    first.write_parquet(a)
    shuffled.write_parquet(b)
    assert a.getvalue() == b.getvalue()


def test_ranks_known_or_not() -> None:
    table = income_disclosure(frame(EXAMPLE), 2)  # no rank column: no rank rows
    assert "rank" not in table["by"].to_list() and rank_column(frame(EXAMPLE)) is None
    with_rank = frame(EXAMPLE, rank=pl.String())
    assert "rank" not in income_disclosure(with_rank, 2, rank=None)["by"].to_list()
    with pytest.raises(ValueError, match="no rank column 'level'"):
        income_disclosure(with_rank, 2, rank="level")

    # A stairstep's rank (an Enum, the plan's order) wins over the dataset's and lists every rank.
    plan = pl.Enum(["member", "bronze", "silver", "gold"])
    ranked = with_rank.with_columns(
        pl.Series(
            "rank_stairstep", ["member", "bronze", "bronze", "silver", "silver", None, None], dtype=plan
        )
    )
    assert rank_column(ranked) == "rank_stairstep"
    ranks = income_disclosure(ranked, 2).filter(pl.col("by") == "rank")
    assert ranks["group"].to_list() == ["member", "bronze", "silver", "gold", NO_RANK]
    assert ranks["participants"].to_list() == [1, 2, 2, 0, 1]
    assert ranks["share"].to_list()[3] == 0.0 and ranks["income_mean"].to_list()[3] is None


def test_other_units_of_money() -> None:
    rows = [("A", "distributor", START, "0.125", "0.125"), ("B", "distributor", START, "0.130", "-1.000")]
    everyone = row(income_disclosure(frame(rows, decimals=3), 3, brackets=[0, 0.125]), "all", "all")
    assert everyone["income_median"] == d("0.128")  # 0.1275 -> 0.128 (to even)
    assert everyone["net_mean"] == d("-0.438")  # -0.4375 -> -0.438 (to even)
    assert income_disclosure(frame(rows, decimals=3), 3).schema["income_mean"] == pl.Decimal(18, 3)


def test_refusals_are_one_line() -> None:
    with pytest.raises(ValueError, match="no distributor_net column"):
        income_disclosure(frame(EXAMPLE).drop("distributor_net"), 2)
    broken = frame(EXAMPLE).with_columns(
        pl.when(pl.col("participant_id") == "A")
        .then(None)
        .otherwise(pl.col("distributor_income"))
        .alias("distributor_income")
    )
    with pytest.raises(ValueError, match="distributor_income is empty for 1 distributors"):
        income_disclosure(broken, 2)
    with pytest.raises(ValueError, match="at most 0 decimals"):
        income_disclosure(frame(EXAMPLE), 0)
    with pytest.raises(ValueError, match="finer than the money unit"):
        income_disclosure(frame(EXAMPLE), 2, brackets=[0, 0.005])
    for bad, message in (
        ([], "at least one"),
        ([0, 100, 100], "must increase: 100 after 100"),
        ([-1], "from 0 to below"),
        ([10**13], "below 10"),
    ):
        with pytest.raises(ValueError, match=message):
            income_disclosure(frame(EXAMPLE), 2, brackets=bad)
    with pytest.raises(ValueError, match="need the joined_on column"):
        income_disclosure(frame(EXAMPLE).drop("joined_on"), 2, window_start=START)


def test_config_brackets() -> None:
    default = parse_config({}).distributor.disclosure_brackets
    assert default == [float(b) for b in DEFAULT_BRACKETS]
    custom = parse_config({"distributor": {"disclosure_brackets": [0, 500, 5000]}}).distributor
    table = income_disclosure(frame(EXAMPLE), 2, custom.disclosure_brackets)
    assert table.filter(pl.col("by") == "income_bracket")["group"].to_list() == [
        "nothing",
        "over 0 up to 500",
        "over 500 up to 5,000",
        "over 5,000",
    ]
    for bad, message in (
        ([0, 100, 50], "distributor.disclosure_brackets: bracket boundaries must increase: 50 after 100"),
        ([-5, 100], r"distributor.disclosure_brackets\[0\]: Input should be greater than or equal to 0"),
        ([], "distributor.disclosure_brackets: at least one bracket boundary"),
        ([0, 0.001], r"distributor.disclosure_brackets\[1\]: 0.001 is finer than the money unit"),
    ):
        with pytest.raises(ConfigError, match=message) as caught:
            parse_config({"distributor": {"disclosure_brackets": bad}})
        assert len(caught.value.problems) == 1 and "\n" not in caught.value.problems[0]


# --- a naive Decimal reference over random inputs ---------------------------------------------------------


def _half_even(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _naive_figures(values: list[Decimal]) -> dict[str, Decimal | None]:
    if not values:
        return dict.fromkeys(("median", "mean", "total", "top1_mean", "top1_min", "top10_mean", "top10_min"))
    ordered, n = sorted(values), len(values)
    median = ordered[n // 2] if n % 2 else _half_even((ordered[n // 2 - 1] + ordered[n // 2]) / 2)
    out: dict[str, Decimal | None] = {"median": median, "mean": _half_even(sum(ordered, Decimal(0)) / n)}
    out["total"] = sum(ordered, Decimal(0))
    for percent in TOP_PERCENTS:
        top = ordered[::-1][: math.ceil(Fraction(n * percent, 100))]
        out[f"top{percent}_mean"] = _half_even(sum(top, Decimal(0)) / len(top))
        out[f"top{percent}_min"] = top[-1]
    return out


def _naive_row(members: list[tuple[Decimal, Decimal]], everyone: int) -> dict[str, Any]:
    people = len(members)
    out: dict[str, Any] = {
        "participants": people,
        "share": round(people / everyone, 6) if everyone else None,
        "share_no_income": round(sum(i <= 0 for i, _ in members) / people, 6) if people else None,
        "share_net_loss": round(sum(n < 0 for _, n in members) / people, 6) if people else None,
    }
    out |= {f"income_{k}": v for k, v in _naive_figures([i for i, _ in members]).items()}
    out |= {f"net_{k}": v for k, v in _naive_figures([n for _, n in members]).items()}
    return out


CENTS = st.integers(-(10**6), 10**8)


@settings(max_examples=50)
@given(
    st.lists(st.tuples(CENTS, CENTS, st.booleans(), st.sampled_from(["a", "b", None])), max_size=40),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=5, unique=True),
)
def test_matches_a_naive_decimal_reference(
    people: list[tuple[int, int, bool, str | None]], boundaries: list[int]
) -> None:
    bounds = [Decimal(b).scaleb(-2) for b in sorted(boundaries)]
    rows = [  # customers have no distributor view
        (i, "customer", START, None, None, rank)
        if customer
        else (i, "distributor", START, str(Decimal(inc).scaleb(-2)), str(Decimal(net).scaleb(-2)), rank)
        for i, (inc, net, customer, rank) in enumerate(people)
    ]
    table = income_disclosure(frame(rows, rank=pl.String()) if rows else frame([]), 2, brackets=bounds)
    members = [(Decimal(str(r[3])), Decimal(str(r[4])), r[5]) for r in rows if r[1] == "distributor"]
    n = len(members)

    expected = [("all", "all", [(i, net) for i, net, _ in members])]
    for k in range(len(bounds) + 1):
        inside = [(i, net) for i, net, _ in members if sum(b < i for b in bounds) == k]
        expected.append(("income_bracket", table["group"][1 + k], inside))
    if rows:
        names = sorted({r for _, _, r in members if r is not None})
        expected += [("rank", name, [(i, net) for i, net, r in members if r == name]) for name in names]
        if any(r is None for _, _, r in members):
            expected.append(("rank", NO_RANK, [(i, net) for i, net, r in members if r is None]))
    assert table.height == len(expected)
    for got, (by, group, inside) in zip(table.iter_rows(named=True), expected, strict=True):
        assert (got["by"], got["group"]) == (by, group)
        want = _naive_row(inside, n)
        assert {k: got[k] for k in want} == want, (by, group)


# --- the bundled sample, end to end -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample() -> mlmroi.Result:
    folder = Path(__file__).resolve().parents[1] / "data" / "sample"
    return mlmroi.score(folder, mlmroi.load_config(dataset=folder))


def test_the_sample(sample: mlmroi.Result) -> None:
    participants = sample.participants
    config = sample.run.config
    table = income_disclosure(
        participants,
        config.money.decimals,
        config.distributor.disclosure_brackets,
        window_start=sample.run.window.start,
    )
    distributors = participants.filter(pl.col("role") == "distributor")
    everyone = row(table, "all", "all")
    assert everyone["participants"] == distributors.height > 0
    total = sum(distributors["distributor_income"].to_list(), Decimal(0))
    assert everyone["income_total"] == total
    assert everyone["income_mean"] == _half_even(total / distributors.height)
    net = sum(distributors["distributor_net"].to_list(), Decimal(0))
    assert everyone["net_mean"] == _half_even(net / distributors.height)
    for by in ("income_bracket", "tenure"):
        block = table.filter(pl.col("by") == by)
        assert block["participants"].sum() == distributors.height
        assert sum(block["income_total"].drop_nulls().to_list(), Decimal(0)) == total
    assert table.filter(pl.col("by") == "rank").height == 0  # the sample's unilevel plan has no rank
