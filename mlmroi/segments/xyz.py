"""XYZ: how steadily a participant buys, over the window's periods since they joined.

``cv``: population standard deviation / mean of per-period revenue; X ≤ 0.10, Y ≤ 0.25, else Z.
``frequency``: share of periods with a purchase; X ≥ 0.75, Y ≥ 0.25, else Z. No purchase in the window
(or a mean ≤ 0) → Z. Periods before a participant joined do not count against them.
"""

from __future__ import annotations

import numpy as np

from mlmroi.segments.base import Segmentation
from mlmroi.segments.config import XyzConfig
from mlmroi.segments.measures import Measures

LABELS = ("X", "Y", "Z")


def xyz(measures: Measures, config: XyzConfig) -> Segmentation:
    """The ``xyz`` segmentation (period by period: no (periods, n) temporaries)."""
    n_periods, n = measures.revenue_by_period.shape
    counted = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=np.float64)
    bought = np.zeros(n, dtype=np.int64)
    for p in range(n_periods):
        member = measures.join_period <= p
        counted += member
        total += np.where(member, measures.revenue_by_period[p], 0)
        bought += member & measures.purchased[p]
    first, second = config.bounds
    codes = np.full(n, 2, dtype=np.int16)
    if config.method == "cv":
        mean = np.divide(total, counted, out=np.zeros(n), where=counted > 0)
        squares = np.zeros(n, dtype=np.float64)
        for p in range(n_periods):
            member = measures.join_period <= p
            squares += np.where(member, (measures.revenue_by_period[p] - mean) ** 2, 0.0)
        spread = np.sqrt(np.divide(squares, counted, out=np.zeros(n), where=counted > 0))
        usable = (bought > 0) & (mean > 0)
        cv = np.divide(spread, mean, out=np.full(n, np.inf), where=usable)
        cv = np.round(cv, 9)  # float noise must not move a participant across a threshold
        codes[usable & (cv <= second)] = 1
        codes[usable & (cv <= first)] = 0
    else:
        share = np.divide(bought, counted, out=np.zeros(n), where=counted > 0)
        codes[(bought > 0) & (share >= second)] = 1
        codes[(bought > 0) & (share >= first)] = 0
    return Segmentation("xyz", codes, LABELS)
