"""The report's figures, computed from a run's tables: pure functions of polars frames, money kept exact
(polars Decimal sums; ROI and shares are floats computed from the exact sums at the end)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

import numpy as np
import polars as pl

from mlmroi.disclosure import rank_column

TOP = 10  # participants or branches per ranking


def ranked(
    participants: pl.DataFrame,
    by: str,
    columns: Sequence[str],
    lowest: bool,
    k: int = TOP,
    where: pl.Expr | None = None,
) -> pl.DataFrame:
    """The ``k`` participants with the highest (or lowest) ``by`` (among those ``where`` selects), ties by
    participant id ascending; for the lowest, participants whose ``by`` is null or not finite are left out.
    Only the named columns are read, never a copy of the whole table."""
    frame = participants.lazy().select(list(dict.fromkeys([*columns, by, "participant_id"])))
    if where is not None:
        frame = frame.filter(where)
    if lowest:
        if participants.schema[by].is_float():
            frame = frame.filter(pl.col(by).is_finite())
        else:
            frame = frame.filter(pl.col(by).is_not_null())
        return frame.bottom_k(k, by=[by, "participant_id"]).collect()
    return frame.top_k(k, by=[by, "participant_id"], reverse=[False, True]).collect()


def gains_and_losses(
    participants: pl.DataFrame, columns: Sequence[str], k: int = TOP
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The ``k`` biggest personal gains (profit > 0, highest first) and losses (profit < 0, lowest first) in
    money: where the company makes and loses the most, not the worst ratios."""
    gains = ranked(participants, "profit", columns, lowest=False, k=k, where=pl.col("profit") > 0)
    losses = ranked(participants, "profit", columns, lowest=True, k=k, where=pl.col("profit") < 0)
    return gains, losses


def parent_rows(participants: pl.DataFrame) -> np.ndarray:
    """Each participant's sponsor's row number in ``participants`` (-1 for a root): the tree as an array."""
    rows = participants.select("participant_id", "sponsor_id").with_row_index("row")
    parent = rows.join(
        rows.select(pl.col("participant_id").alias("sponsor_id"), pl.col("row").alias("parent")),
        on="sponsor_id",
        how="left",
    ).sort("row")
    return parent["parent"].fill_null(-1).cast(pl.Int64).to_numpy()


def separate_branches(
    participants: pl.DataFrame,
    parent: np.ndarray,
    by: str,
    k: int = TOP,
    lowest: bool = False,
    candidates: int = 20_000,
) -> list[int]:
    """Row numbers of the ``k`` branches with the highest (or lowest) ``by``, none inside another: a branch
    whose head sits in or above an already chosen branch is skipped, so one chain is listed once. A root's
    branch is its whole network (the totals), so branches start below the roots. Ties by participant id;
    the ``candidates`` best by ``by`` are considered (a bound on the work at 10M participants). ``parent``:
    :func:`parent_rows` of ``participants``."""
    if participants.height == 0 or by not in participants.columns:
        return []
    ranked_rows = (
        participants.lazy()
        .select(pl.col(by), pl.col("participant_id"), pl.Series("parent", parent))
        .with_row_index("row")
        .filter(pl.col(by).is_not_null() & (pl.col("parent") >= 0))
        .drop("parent")
    )
    keys = [by, "participant_id"]
    best = (
        ranked_rows.bottom_k(candidates, by=keys)
        if lowest
        else ranked_rows.top_k(candidates, by=keys, reverse=[False, True])
    )
    order = best.sort(keys, descending=[not lowest, False]).collect()["row"].to_numpy()
    chosen: list[int] = []
    chosen_set: set[int] = set()
    above_chosen: set[int] = set()  # every ancestor of a chosen branch's head
    for row in order.tolist():
        if row in above_chosen:
            continue  # it contains a chosen branch
        chain = []
        node = int(parent[row])
        while node >= 0 and node not in chosen_set:
            chain.append(node)
            node = int(parent[node])
        if node >= 0:
            continue  # it lies inside a chosen branch
        chosen.append(row)
        chosen_set.add(row)
        above_chosen.update(chain)
        if len(chosen) == k:
            break
    return chosen


@dataclass(frozen=True)
class Breakdown:
    """Participants and the company's personal-view money per group of a dimension (depth, rank, cohort)."""

    dimension: str
    frame: pl.DataFrame  # group, participants, revenue, margin, costs, commissions, profit, roi_pct


def _bands(depth: pl.Expr, max_depth: int) -> pl.Expr:
    if max_depth <= 12:
        return depth.cast(pl.String)
    edges = [0, 1, 2, 3, 4, 5, 10, 20, 50, 100, 1000, 10_000]
    expr = pl.lit(f"{edges[-1]}+")
    for low, high in reversed(list(pairwise(edges))):
        label = str(low) if high == low + 1 else f"{low}–{high - 1}"
        expr = pl.when(depth < high).then(pl.lit(label)).otherwise(expr)
    return expr


def breakdowns(participants: pl.DataFrame) -> list[Breakdown]:
    """The network's shape in money: by depth (banded when deep), by rank (when the data has ranks) and by
    join cohort (year, or quarter when every participant joined within three years)."""
    if participants.height == 0:
        return []
    out = []
    max_depth = int(participants["depth"].max() or 0)  # type: ignore[arg-type]
    out.append(_breakdown(participants, "depth", _bands(pl.col("depth"), max_depth), pl.col("depth").min()))
    rank = rank_column(participants)
    if rank is not None:
        # An Enum rank (a stairstep's) keeps the plan's order; a dataset's own rank sorts by name.
        out.append(_breakdown(participants, "rank", pl.col(rank), None))
    joined = participants["joined_on"]
    span = (joined.max() - joined.min()).days if joined.null_count() < len(joined) else 0  # type: ignore[operator, union-attr]
    year = pl.col("joined_on").dt.year().cast(pl.String)
    cohort = (
        year + pl.lit("-Q") + pl.col("joined_on").dt.quarter().cast(pl.String) if span <= 3 * 366 else year
    )
    out.append(_breakdown(participants, "join cohort", cohort, pl.col("joined_on").min()))
    return out


def _breakdown(participants: pl.DataFrame, dimension: str, key: pl.Expr, order: pl.Expr | None) -> Breakdown:
    sums = [pl.col(c).sum() for c in ("revenue", "margin", "commissions", "costs", "profit")]
    aggs = [pl.len().alias("participants"), *sums]
    if order is not None:
        aggs.append(order.alias("_order"))
    frame = participants.lazy().group_by(key.alias("group")).agg(aggs)
    frame = frame.sort("_order").drop("_order") if order is not None else frame.sort("group", nulls_last=True)
    result = frame.collect().with_columns(pl.col("group").cast(pl.String).fill_null("(none)"))
    roi = [
        None if costs is None or costs == 0 else float(Decimal(profit) * 100 / Decimal(costs))
        for profit, costs in zip(result["profit"], result["costs"], strict=True)
    ]
    return Breakdown(dimension, result.with_columns(pl.Series("roi_pct", roi, dtype=pl.Float64)))


def pareto_curve(participants: pl.DataFrame, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The ABC Pareto curve: share of participants (by revenue, highest first) against their share of the
    revenue; ``points`` evenly spaced samples."""
    revenue = np.sort(participants["revenue"].cast(pl.Float64).fill_null(0).clip(0).to_numpy())[::-1]
    total = revenue.sum()
    x = np.linspace(0, 1, points)
    if revenue.size == 0 or total <= 0:
        return x, np.zeros(points)
    cumulative = np.concatenate([[0.0], np.cumsum(revenue) / total])
    return x, cumulative[np.round(x * revenue.size).astype(np.int64)]


FREQUENCY_BINS: tuple[tuple[int, str], ...] = ((1, "0"), (2, "1"), (3, "2"), (6, "3–5"), (11, "6–10"))
FREQUENCY_TOP = "11+"
WEEKS_BINS: tuple[tuple[int, str], ...] = ((4, "< 4"), (13, "4–12"), (26, "13–25"), (39, "26–38"))
WEEKS_TOP = "39+"


@dataclass(frozen=True)
class AliveMatrix:
    """Mean ``p_alive`` and customers per (repeat purchases, weeks since the last purchase) cell."""

    frequencies: list[str]
    weeks: list[str]
    mean: np.ndarray  # (frequencies, weeks); NaN where a cell has no customer
    customers: np.ndarray  # (frequencies, weeks)


def alive_matrix(participants: pl.DataFrame) -> AliveMatrix | None:
    """Mean ``p_alive`` by repeat purchases (frequency) × weeks since the last purchase: the customer-base
    model's view of who is still buying (the lifetimes library's frequency/recency matrix, in bins)."""
    needed = ["p_alive", "frequency", "recency_weeks", "T_weeks"]
    if not set(needed) <= set(participants.columns):
        return None
    frame = participants.lazy().select(needed).filter(pl.col("p_alive").is_not_nan()).collect()
    if frame.height == 0:
        return None
    alive = frame["p_alive"].to_numpy()
    since = (frame["T_weeks"] - frame["recency_weeks"]).to_numpy()
    f_edges = np.array([edge for edge, _ in FREQUENCY_BINS], dtype=np.float64)
    w_edges = np.array([edge for edge, _ in WEEKS_BINS], dtype=np.float64)
    # A value below an edge falls in that edge's bin; at or above the last, in the top bin.
    f_bin = np.searchsorted(f_edges, frame["frequency"].to_numpy(), side="right")
    w_bin = np.searchsorted(w_edges, since, side="right")
    shape = (f_edges.size + 1, w_edges.size + 1)
    cell = f_bin * shape[1] + w_bin
    customers = np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape)
    total = np.bincount(cell, weights=alive, minlength=shape[0] * shape[1]).reshape(shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(customers > 0, total / np.maximum(customers, 1), np.nan)
    return AliveMatrix(
        [label for _, label in FREQUENCY_BINS] + [FREQUENCY_TOP],
        [label for _, label in WEEKS_BINS] + [WEEKS_TOP],
        mean,
        customers,
    )
