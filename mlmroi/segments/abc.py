"""ABC (and ABCD) by a measure — the two methods of the source article (seeds/003).

``cumulative``: participants sorted by the measure, highest first (ties by participant id); A takes rows up
to and including the first where the cumulative share of the positive total reaches ``a``, B up to ``b``,
C the rest and everyone whose measure is ≤ 0. ``mean_multiple``: P = total / buyers (participants with a
positive measure); A ≥ 6·P, C ≤ P/2, else B. ABCD: D for a negative personal profit, else the ABC class.
"""

from __future__ import annotations

import math

import numpy as np

from mlmroi.segments.base import Segmentation, descending
from mlmroi.segments.config import AbcConfig
from mlmroi.segments.measures import IntArray, Measures

LABELS = ("A", "B", "C")
A, B, C = 0, 1, 2


def abc_cumulative(
    measure: IntArray, id_rank: IntArray, thresholds: tuple[float, float], order: IntArray | None = None
) -> IntArray:
    """Class per node by cumulative share (see the module docstring); exact integer comparisons.

    ``order``: the nodes by measure descending, ties by id, when already known."""
    codes = np.full(measure.shape[0], C, dtype=np.int64)
    positive = np.maximum(measure, 0)
    total = int(positive.sum())
    if total == 0:
        return codes
    order = descending(measure, id_rank) if order is None else order
    cumulative = np.cumsum(positive[order])
    # cumulative / total ≥ t  ⟺  cumulative ≥ ⌈t·total⌉, with t in parts per million (exact in Python ints)
    targets = [-(-round(t * 1_000_000) * total // 1_000_000) for t in thresholds]
    end_a, end_b = (int(np.searchsorted(cumulative, target, side="left")) for target in targets)
    codes[order[: end_a + 1]] = A
    codes[order[end_a + 1 : end_b + 1]] = B
    codes[measure <= 0] = C
    return codes


def abc_mean_multiple(measure: IntArray, multiples: tuple[float, float]) -> IntArray:
    """Class per node against P = total / buyers: A ≥ a·P, C ≤ c·P (float64, exact for integer money)."""
    codes = np.full(measure.shape[0], C, dtype=np.int64)
    buyers = int((measure > 0).sum())
    if buyers == 0:
        return codes
    total = float(measure[measure > 0].sum())
    scaled = measure.astype(np.float64) * buyers  # compare m·N with a·M instead of m with a·M/N
    codes[scaled > multiples[1] * total] = B
    codes[scaled >= multiples[0] * total] = A
    codes[measure <= 0] = C
    return codes


def pareto_share(revenue: IntArray, order: IntArray, share: float = 0.80) -> float | None:
    """The smallest share of participants that makes ``share`` of the (positive) revenue (``order``: the
    nodes by revenue, highest first)."""
    positive = np.maximum(revenue, 0)
    total = int(positive.sum())
    if total == 0 or revenue.size == 0:
        return None
    cumulative = np.cumsum(positive[order])
    needed = int(np.searchsorted(cumulative, math.ceil(share * total), side="left")) + 1
    return round(needed / revenue.size, 6)


def abc(measures: Measures, config: AbcConfig) -> tuple[Segmentation, Segmentation]:
    """The ``abc`` and ``abcd`` segmentations, with health figures on ``abc``."""
    measure = measures.measure(config.measure)
    by_revenue = descending(measures.revenue, measures.id_rank)
    if config.method == "cumulative":
        order = by_revenue if config.measure == "revenue" else None
        codes = abc_cumulative(measure, measures.id_rank, config.thresholds, order)
    else:
        codes = abc_mean_multiple(measure, config.multiples)
    n = max(measures.size, 1)
    revenue = measures.revenue
    positive_revenue = int(np.maximum(revenue, 0).sum())
    buyers = revenue > 0
    a_share = float((codes == A).sum()) / n
    # The source article's healthy 20–30 % is a share of the customers who buy: people who bought nothing
    # in the window (prospects, lapsed) would otherwise dilute it and flip the verdict.
    a_of_buyers = float(((codes == A) & buyers).sum()) / int(buyers.sum()) if buyers.any() else None
    health = {
        "measure": config.measure,
        "method": config.method,
        "buyers": int(buyers.sum()),
        "a_share_of_buyers": None if a_of_buyers is None else round(a_of_buyers, 6),
        "a_share_of_participants": round(a_share, 6),
        "a_share_in_healthy_range": a_of_buyers is not None and 0.20 <= a_of_buyers <= 0.30,
        "a_share_of_revenue": round(int(np.maximum(revenue[codes == A], 0).sum()) / positive_revenue, 6)
        if positive_revenue
        else None,
        "participants_making_80pct_of_revenue": pareto_share(revenue, by_revenue),
    }
    first = Segmentation("abc", codes.astype(np.int16), LABELS, health=health)
    with_d = np.where(measures.profit < 0, 3, codes).astype(np.int16)
    return first, Segmentation("abcd", with_d, (*LABELS, "D"))
