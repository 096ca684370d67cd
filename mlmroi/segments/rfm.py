"""RFM as of the window end: R = days since the last order, F = orders, M = revenue in the window.

Scores 1..``bins`` by value-based quantile breaks over the buyers: the breaks are the values at the
k/bins quantiles, and a score is 1 + the number of breaks strictly below the value — so equal values always
get equal scores and scores never fall as the measure rises (R is reversed: more recent, higher score).
Named segments: the first row of the configured table whose ranges hold (R, F, M), else ``other``;
participants without an order in the window are ``no_purchase`` (scores null).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.segments.base import Segmentation
from mlmroi.segments.config import RfmConfig, RfmSegment
from mlmroi.segments.measures import Measures


def quantile_scores(values: npt.NDArray[np.float64], bins: int) -> npt.NDArray[np.int64]:
    """1..``bins`` per value by value-based quantile breaks (see the module docstring)."""
    if values.size == 0:
        return np.zeros(0, dtype=np.int64)
    breaks = np.quantile(values, np.arange(1, bins) / bins)
    return 1 + np.searchsorted(breaks, values, side="left").astype(np.int64)


def name_cells(
    r: npt.NDArray[np.int64],
    f: npt.NDArray[np.int64],
    m: npt.NDArray[np.int64],
    segments: tuple[RfmSegment, ...],
) -> npt.NDArray[np.int16]:
    """Index of the first segment whose ranges hold each (R, F, M); ``len(segments)`` (other) if none."""
    assigned = np.full(r.shape[0], len(segments), dtype=np.int16)
    for k in range(len(segments) - 1, -1, -1):  # last to first, so the first match wins
        s = segments[k]
        hit = (s.r[0] <= r) & (r <= s.r[1]) & (s.f[0] <= f) & (f <= s.f[1]) & (s.m[0] <= m) & (m <= s.m[1])
        assigned[hit] = k
    return assigned


def rfm(measures: Measures, config: RfmConfig) -> Segmentation:
    """The ``rfm_segment`` segmentation, with ``rfm_r``, ``rfm_f``, ``rfm_m`` score columns."""
    n = measures.size
    buyers = np.flatnonzero(measures.buyers)
    recency = (measures.end_day - measures.last_order_day[buyers]).astype(np.float64)
    scores = np.zeros((3, n), dtype=np.int64)
    scores[0, buyers] = quantile_scores(-recency, config.bins)
    scores[1, buyers] = quantile_scores(measures.orders[buyers].astype(np.float64), config.bins)
    scores[2, buyers] = quantile_scores(measures.revenue[buyers].astype(np.float64), config.bins)
    names = (*(s.name for s in config.segments), "other", "no_purchase")
    codes = np.full(n, len(names) - 1, dtype=np.int16)
    codes[buyers] = name_cells(scores[0, buyers], scores[1, buyers], scores[2, buyers], config.segments)
    extra = {
        f"rfm_{letter}": pl.Series(f"rfm_{letter}", scores[i], dtype=pl.Int8).set(
            pl.Series(~measures.buyers), None
        )
        for i, letter in enumerate("rfm")
    }
    return Segmentation("rfm_segment", codes, names, extra=extra)
