"""XYZ: how steadily a participant buys, over the window's periods since they joined.

``cv``: population standard deviation / mean of per-period revenue; X ≤ 0.10, Y ≤ 0.25, else Z.
``frequency``: share of periods with a purchase; X ≥ 0.75, Y ≥ 0.25, else Z. No purchase in the window
(or a mean ≤ 0) → Z. Periods before a participant joined do not count against them, and a participant with
fewer than ``min_periods`` periods since joining (default 3) is ``new``: one or two periods say nothing about
stability (one period has no variation at all, which would make nearly every newcomer X).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mlmroi._numba import kernel
from mlmroi.segments.base import Segmentation
from mlmroi.segments.config import XyzConfig
from mlmroi.segments.measures import Measures

LABELS = ("X", "Y", "Z", "new")
NEW = 3


def _stability(
    revenue_by_period: npt.NDArray[Any], purchased: npt.NDArray[Any], join_period: npt.NDArray[Any]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Per node over its periods since joining: (periods counted, periods with a purchase, mean revenue,
    population standard deviation), two passes over the node's few periods (numerically stable)."""
    n = revenue_by_period.shape[1]
    counted, bought = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    mean, spread = np.zeros(n, dtype=np.float64), np.zeros(n, dtype=np.float64)
    _stability_into(revenue_by_period, purchased, join_period, counted, bought, mean, spread)
    return counted, bought, mean, spread


@kernel
def _stability_into(  # type: ignore[no-untyped-def]
    revenue_by_period, purchased, join_period, counted, bought, mean, spread
):
    n_periods, n = revenue_by_period.shape
    for v in range(n):
        first = max(join_period[v], 0)
        k = n_periods - first
        if k <= 0:
            continue
        total = 0.0
        for p in range(first, n_periods):
            total += revenue_by_period[p, v]
            if purchased[p, v]:
                bought[v] += 1
        m = total / k
        squares = 0.0
        for p in range(first, n_periods):
            d = revenue_by_period[p, v] - m
            squares += d * d
        counted[v] = k
        mean[v] = m
        spread[v] = np.sqrt(squares / k)


def xyz(measures: Measures, config: XyzConfig) -> Segmentation:
    """The ``xyz`` segmentation."""
    counted, bought, mean, spread = _stability(
        measures.revenue_by_period, measures.purchased, measures.join_period
    )
    first, second = config.bounds
    n = counted.shape[0]
    codes = np.full(n, 2, dtype=np.int16)
    if config.method == "cv":
        usable = (bought > 0) & (mean > 0)
        cv = np.divide(spread, mean, out=np.full(n, np.inf), where=usable)
        cv = np.round(cv, 9)  # float noise must not move a participant across a threshold
        codes[usable & (cv <= second)] = 1
        codes[usable & (cv <= first)] = 0
    else:
        share = np.divide(bought, counted, out=np.zeros(n), where=counted > 0)
        codes[(bought > 0) & (share >= second)] = 1
        codes[(bought > 0) & (share >= first)] = 0
    codes[counted < config.min_periods] = NEW
    return Segmentation("xyz", codes, LABELS)
