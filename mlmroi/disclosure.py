"""The income disclosure statement: what distributors earned and netted, in the form MLM companies publish.

One long, tidy frame (``income_disclosure.parquet``) with a row for all distributors, one per earnings
bracket, one per rank (when a rank is known) and one per tenure (when the window start is given). Each row
has the group's participants and share, and for gross income (``distributor_income``: commissions + retail
profit) and for the net after expenses (``distributor_net``): median, mean, total, the mean of the top 1 %
and 10 % and the least a member of that top group had; plus the share who earned nothing and the share who
netted a loss. Money is exact: medians of an even count and means are rounded half-to-even to the minor
unit by :func:`mlmroi.money.div_half_even`. Figures are for the window as it is, never annualised; who is
included and why is in docs/disclosure.md.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.money import MAX_AMOUNT, MAX_TOTAL_MINOR, div_half_even, to_decimal

IntArray = npt.NDArray[np.int64]

#: default bracket boundaries in currency units: nothing, up to 100, over 100 up to 1,000, …, over 100,000
DEFAULT_BRACKETS: tuple[int, ...] = (0, 100, 1_000, 10_000, 100_000)
#: the top groups reported: the top 1 % and the top 10 % of each group by the figure
TOP_PERCENTS: tuple[int, ...] = (1, 10)
NO_RANK = "(no rank)"  # the rank group of distributors without a rank
BY = ("all", "income_bracket", "rank", "tenure")  # the row blocks, in their order

_FIGURES = ("median", "mean", "total", *(f"top{p}_{k}" for p in TOP_PERCENTS for k in ("mean", "min")))
#: money columns of the frame, in order (bracket bounds, then each figure for income and for net)
MONEY_COLUMNS: tuple[str, ...] = (
    "lower",
    "upper",
    *(f"income_{f}" for f in _FIGURES),
    *(f"net_{f}" for f in _FIGURES),
)


def schema(decimals: int) -> dict[str, pl.DataType]:
    """The columns of :func:`income_disclosure`'s frame and their types: the group, then gross income and
    the share who earned nothing, then the net and the share who netted a loss."""
    money = pl.Decimal(18, decimals)
    return {
        "by": pl.String(),
        "group": pl.String(),
        "lower": money,
        "upper": money,
        "participants": pl.Int64(),
        "share": pl.Float64(),
        "share_no_income": pl.Float64(),
        **{f"income_{f}": money for f in _FIGURES},
        "share_net_loss": pl.Float64(),
        **{f"net_{f}": money for f in _FIGURES},
    }


def check_brackets(boundaries: Sequence[Decimal | int | float]) -> list[Decimal]:
    """Bracket boundaries as exact decimals: at least one, none negative, each above the one before (a
    ValueError of one line otherwise). Floats are taken as written (``repr``), never by their binary value."""
    if len(boundaries) == 0:
        raise ValueError("at least one bracket boundary is needed (e.g. [0, 100, 1000])")
    exact: list[Decimal] = []
    for value in boundaries:
        if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
            raise ValueError(f"bracket boundary {value!r} is not a number")
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite() or number < 0 or number >= MAX_AMOUNT:
            raise ValueError(f"bracket boundary {value} is not an amount from 0 to below 10^13")
        if exact and number <= exact[-1]:
            raise ValueError(
                f"bracket boundaries must increase: {_amount(number)} after {_amount(exact[-1])}"
            )
        exact.append(number)
    return exact


def rank_column(participants: pl.DataFrame) -> str | None:
    """The rank a disclosure groups by: the first stairstep's ``rank_<name>`` (the highest rank reached in
    the window, an Enum in the plan's order), else a ``rank`` column (the dataset's own), else None."""
    for name, dtype in participants.schema.items():
        if name.startswith("rank_") and isinstance(dtype, pl.Enum):
            return name
    return "rank" if "rank" in participants.columns else None


def income_disclosure(
    participants: pl.DataFrame,
    decimals: int,
    brackets: Sequence[Decimal | int | float] | None = None,
    rank: str | None = "auto",
    window_start: dt.date | None = None,
) -> pl.DataFrame:
    """The income disclosure statement of a score run's participants table (docs/disclosure.md).

    Distributors only (``role`` other than ``customer``; every row when there is no ``role`` column), their
    ``distributor_income`` and ``distributor_net`` (Decimal, at most ``decimals`` places) for the window as
    it is. ``brackets``: boundaries in currency units (default :data:`DEFAULT_BRACKETS`); a bracket holds
    incomes over one boundary up to and including the next, the first everything up to the first boundary,
    the last everything over the last. ``rank``: ``"auto"`` (:func:`rank_column`), a column name, or None
    for no rank rows. ``window_start``: adds rows for those who joined before it and the others (from
    ``joined_on``). Rows: ``all``, the brackets in order, the ranks in their order then ``(no rank)``, the
    tenures; columns: :func:`schema`.
    """
    bounds = check_brackets(DEFAULT_BRACKETS if brackets is None else brackets)
    bounds_minor = np.array([_to_minor(b, decimals) for b in bounds], dtype=np.int64)
    missing = [c for c in ("distributor_income", "distributor_net") if c not in participants.columns]
    if missing:
        raise ValueError(f"income_disclosure: participants has no {' or '.join(missing)} column")
    rank_name = rank_column(participants) if rank == "auto" else rank
    if rank_name is not None and rank_name not in participants.columns:
        raise ValueError(f"income_disclosure: participants has no rank column {rank_name!r}")
    if window_start is not None and "joined_on" not in participants.columns:
        raise ValueError("income_disclosure: tenure rows (window_start) need the joined_on column")

    # Only the columns used are read: a filter of the whole table would copy all of it (GiBs at 10M).
    used = ["distributor_income", "distributor_net", "role", "joined_on", rank_name]
    lazy = participants.lazy().select([c for c in dict.fromkeys(used) if c in participants.columns])
    if "role" in participants.columns:
        lazy = lazy.filter(pl.col("role").is_null() | (pl.col("role") != "customer"))
    frame = lazy.collect()
    income = _minor(frame, "distributor_income", decimals)
    net = _minor(frame, "distributor_net", decimals)
    n = income.shape[0]

    blocks: list[tuple[str, list[str], npt.NDArray[np.int64]]] = [("all", ["all"], np.zeros(n, np.int64))]
    blocks.append(
        ("income_bracket", _bracket_labels(bounds), np.searchsorted(bounds_minor, income).astype(np.int64))
    )
    if rank_name is not None:
        names, codes = _rank_codes(frame[rank_name])
        blocks.append(("rank", names, codes))
    if window_start is not None:
        joined = frame["joined_on"]
        if joined.null_count():
            raise ValueError(f"income_disclosure: joined_on is empty for {joined.null_count()} distributors")
        before = (joined < window_start).to_numpy()
        labels = [f"joined before {window_start.isoformat()}", f"joined {window_start.isoformat()} or later"]
        blocks.append(("tenure", labels, np.where(before, 0, 1).astype(np.int64)))

    by_income, by_net = np.argsort(income, kind="stable"), np.argsort(net, kind="stable")
    sorted_income, sorted_net = income[by_income], net[by_net]
    rows: list[dict[str, Any]] = []
    for by, labels, codes in blocks:
        k = len(labels)
        counts = np.bincount(codes, minlength=k)
        no_income = np.bincount(codes[income <= 0], minlength=k)
        loss = np.bincount(codes[net < 0], minlength=k)
        income_stats = _group_stats(sorted_income, codes[by_income] if k > 1 else None, counts)
        net_stats = _group_stats(sorted_net, codes[by_net] if k > 1 else None, counts)
        for g, label in enumerate(labels):
            people = int(counts[g])
            row: dict[str, Any] = {
                "by": by,
                "group": label,
                "lower": None,
                "upper": None,
                "participants": people,
                "share": _share(people, n),
                "share_no_income": _share(int(no_income[g]), people),
                "share_net_loss": _share(int(loss[g]), people),
            }
            if by == "income_bracket":
                row["lower"] = int(bounds_minor[g - 1]) if g > 0 else None
                row["upper"] = int(bounds_minor[g]) if g < len(bounds) else None
            row |= {f"income_{f}": v for f, v in zip(_FIGURES, income_stats[g], strict=True)}
            row |= {f"net_{f}": v for f, v in zip(_FIGURES, net_stats[g], strict=True)}
            rows.append(row)
    minor_schema: dict[str, Any] = {
        name: (pl.Int64 if name in MONEY_COLUMNS else dtype) for name, dtype in schema(decimals).items()
    }
    table = pl.DataFrame(rows, schema=minor_schema)
    return table.with_columns(to_decimal(name, decimals).alias(name) for name in MONEY_COLUMNS)


def _group_stats(
    ascending: IntArray, codes: IntArray | None, counts: npt.NDArray[np.intp]
) -> list[list[int | None]]:
    """Per group, :data:`_FIGURES` (minor units; None for an empty group) of ``ascending`` (sorted values)
    whose group codes are ``codes`` (None: one group). A stable sort by code keeps each group's values
    contiguous and still in order (a radix sort: codes fit 16 bits)."""
    if codes is not None:
        small = codes.astype(np.int16 if counts.shape[0] <= np.iinfo(np.int16).max else np.int32)
        ascending = ascending[np.argsort(small, kind="stable")]
    ends = np.cumsum(counts)
    return [
        _stats(ascending[end - count : end])
        for count, end in zip(counts.tolist(), ends.tolist(), strict=True)
    ]


def _stats(ascending: IntArray) -> list[int | None]:
    """:data:`_FIGURES` of one group's values in ascending order, exact in minor units."""
    n = int(ascending.shape[0])
    if n == 0:
        return [None] * len(_FIGURES)
    middle = n // 2
    if n % 2:
        median = int(ascending[middle])
    else:
        median = div_half_even(int(ascending[middle - 1]) + int(ascending[middle]), 2)
    total = _sum(ascending)
    figures: list[int | None] = [median, div_half_even(total, n), total]
    for percent in TOP_PERCENTS:
        top = -(-n * percent // 100)  # ceil(n × percent / 100): never an empty top group
        figures += [div_half_even(_sum(ascending[n - top :]), top), int(ascending[n - top])]
    return figures


def _sum(values: IntArray) -> int:
    """Σ values exactly, within the bound every output table keeps (:data:`MAX_TOTAL_MINOR`)."""
    if float(np.abs(values).sum(dtype=np.float64)) >= MAX_TOTAL_MINOR:
        raise ValueError("income_disclosure: amounts too large to add up exactly (over 10^18 minor units)")
    return int(values.sum())


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 6) if whole else None


def _minor(frame: pl.DataFrame, column: str, decimals: int) -> IntArray:
    """A Decimal money column as int64 minor units, exactly (no nulls allowed)."""
    series = frame[column]
    dtype = series.dtype
    if not isinstance(dtype, pl.Decimal) or (dtype.scale or 0) > decimals:
        raise ValueError(f"income_disclosure: {column} must be Decimal with at most {decimals} decimals")
    if series.null_count():
        raise ValueError(f"income_disclosure: {column} is empty for {series.null_count()} distributors")
    physical = series.cast(pl.Decimal(38, decimals)).to_physical()
    out: IntArray = physical.cast(pl.Int64).to_numpy().astype(np.int64, copy=False)
    return out


def _to_minor(amount: Decimal, decimals: int) -> int:
    scaled = amount.scaleb(decimals)
    if scaled != scaled.to_integral_value():
        raise ValueError(
            f"bracket boundary {_amount(amount)} is finer than the money unit ({decimals} decimals)"
        )
    return int(scaled)


def _amount(value: Decimal) -> str:
    """An amount as people write it: thousands separated, no trailing zeros (1000.50 -> 1,000.5)."""
    return format(value.normalize(), ",f")


def _bracket_labels(bounds: Sequence[Decimal]) -> list[str]:
    """``nothing`` (or ``up to b0``), ``over b0 up to b1``, …, ``over b_last``."""
    labels = ["nothing" if bounds[0] == 0 else f"up to {_amount(bounds[0])}"]
    labels += [f"over {_amount(a)} up to {_amount(b)}" for a, b in pairwise(bounds)]
    return [*labels, f"over {_amount(bounds[-1])}"]


def _rank_codes(series: pl.Series) -> tuple[list[str], IntArray]:
    """Rank names in order and each distributor's code (the last code, ``(no rank)``, for a missing rank).

    An Enum lists every rank in its order, reached or not; any other column lists the ranks present,
    alphabetically (text stripped; empty is no rank). ``(no rank)`` is listed when someone has none."""
    if isinstance(series.dtype, pl.Enum):
        names = series.dtype.categories.to_list()
        enum = series
    else:
        text = series.cast(pl.String).str.strip_chars()
        text = text.replace("", None)
        names = sorted(text.drop_nulls().unique().to_list())
        enum = text.cast(pl.Enum(names))
    codes = enum.to_physical().cast(pl.Int64).fill_null(len(names)).to_numpy().astype(np.int64, copy=False)
    if enum.null_count():
        names = [*names, NO_RANK]
    return names, codes
