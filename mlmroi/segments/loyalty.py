"""Loyalty profile — the five loyalty types of the source article (seeds/003, table 1), each a 0–100 score.

Raw value per participant, counting only events whose ``occurred_on`` lies in the window (``window_days``):

- ``financial``: revenue and order count in the window (the article: sales volume and number of deals over a
  period) — the mean of the two percentiles, rounded once;
- ``recommendation``: personally sponsored recruits who joined in the window plus ``referral`` events;
- ``process``: the share of the participant's ``invoice_paid`` events paid within 3 days (``value`` ≤ 3; an
  ``invoice_paid`` without a value counts as an invoice, not as paid on time); no invoices → 0;
- ``contact``: ``contact``, ``event`` and ``newsletter_response`` events;
- ``evaluation``: ``feedback`` events.

Percentile score: a raw value ≤ 0 scores 0; a positive raw value ``x`` scores
``round(100 × #{participants with raw ≤ x} / n)``, rounded half-to-even in exact integer arithmetic, and at
least 1 (so a score is 0 exactly when there was no activity of that type). Equal raw values get equal
scores and scores never fall as the raw value rises. ``financial`` is ``round(100 × (c_revenue + c_orders)
/ (2n))`` with each count 0 for a raw value ≤ 0, again at least 1 when either is positive.

``loyalty_type`` is the type with the highest score, ties by the fixed order financial, recommendation,
process, contact, evaluation; ``none`` when all five are 0.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel
from mlmroi.segments.base import Segmentation
from mlmroi.segments.measures import IntArray, Measures

TYPES = ("financial", "recommendation", "process", "contact", "evaluation")
LABELS = (*TYPES, "none")
ON_TIME_DAYS = 3  # the article: an invoice paid within three banking days
CONTACT_TYPES = ("contact", "event", "newsletter_response")
# A count table (bincount) is used instead of a sort when the largest value is at most this many times the
# number of participants.
_DENSE_FACTOR = 4
# Event kinds, as coded for the counting kernel (-1: not a loyalty event).
_KINDS = ("referral", "invoice_paid", "feedback", *CONTACT_TYPES)
_CONTACT = 3  # every contact-type event shares this code

Raw = npt.NDArray[np.int64] | npt.NDArray[np.int32] | npt.NDArray[np.float64]


def _dense(raw: Raw) -> bool:
    n = raw.shape[0]
    return raw.dtype.kind in "iu" and (n == 0 or int(raw.max()) <= _DENSE_FACTOR * max(n, 1))


def count_at_most(raw: Raw) -> IntArray:
    """Per element: how many elements are ≤ it; 0 for elements ≤ 0 (which score 0 anyway).

    Small non-negative integers go through a count table; otherwise only the positive values are sorted
    (every non-positive value is ≤ any positive one).
    """
    n = raw.shape[0]
    if _dense(raw):
        clipped = np.maximum(raw, 0).astype(np.intp)
        table = np.cumsum(np.bincount(clipped))
        table[0] = 0
        return table[clipped].astype(np.int64)
    out = np.zeros(n, dtype=np.int64)
    positive = raw > 0
    values = raw[positive]
    if values.size:
        ordered = np.sort(values)
        out[positive] = n - values.size + np.searchsorted(ordered, values, side="right")
    return out


def _scale(counts: IntArray, denominator: int) -> npt.NDArray[np.int8]:
    """``round(100 × counts / denominator)`` half-to-even, at least 1 where ``counts`` > 0."""
    q, r = np.divmod(counts * 100, denominator)
    q += (2 * r > denominator) | ((2 * r == denominator) & (q % 2 == 1))
    q[(q == 0) & (counts > 0)] = 1
    return q.astype(np.int8)


def percentile_scores(raw: Raw) -> npt.NDArray[np.int8]:
    """0–100 percentile score per element (see the module docstring)."""
    n = raw.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    if _dense(raw):  # score each distinct value once, then look the scores up
        clipped = np.maximum(raw, 0).astype(np.intp)
        table = np.cumsum(np.bincount(clipped))
        table[0] = 0
        return _scale(table.astype(np.int64), n)[clipped]
    return _scale(count_at_most(raw), n)


def financial_scores(revenue: IntArray, orders: IntArray) -> npt.NDArray[np.int8]:
    """The mean of the revenue and order-count percentiles, rounded once (see the module docstring)."""
    n = revenue.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    return _scale(count_at_most(revenue) + count_at_most(orders), 2 * n)


@kernel
def _count_events(  # type: ignore[no-untyped-def]
    node, day, kind, value, first, last, on_time_days, referral, invoices, on_time, feedback, contact
):
    """One pass over the events, counting those dated ``first``..``last`` per node and kind (``value`` is
    NaN where absent, so such an invoice is never on time)."""
    for i in range(node.shape[0]):
        d = day[i]
        k = kind[i]
        if k < 0 or d < first or d > last:
            continue
        v = node[i]
        if k == 0:
            referral[v] += 1
        elif k == 1:
            invoices[v] += 1
            if value[i] <= on_time_days:
                on_time[v] += 1
        elif k == 2:
            feedback[v] += 1
        else:
            contact[v] += 1


def event_counts(events: pl.DataFrame | None, n: int, window_days: tuple[int, int]) -> dict[str, Raw]:
    """Raw event-based values per node: ``referral``, ``process`` (on-time share), ``contact``,
    ``evaluation``; events outside ``window_days`` (first and last day, inclusive) are ignored."""
    counts = {
        name: np.zeros(n, dtype=np.int32)
        for name in ("referral", "invoices", "on_time", "feedback", "contact")
    }
    if events is not None and events.height > 0:
        kind = pl.lit(-1, dtype=pl.Int8)
        for code, name in reversed(list(enumerate(_KINDS))):  # equality tests: far faster than is_in here
            kind = (
                pl.when(pl.col("type") == name)
                .then(pl.lit(min(code, _CONTACT), dtype=pl.Int8))
                .otherwise(kind)
            )
        coded = events.select(
            pl.col("node").cast(pl.Int64),
            pl.col("occurred_on").cast(pl.Int32).alias("day"),
            kind.alias("kind"),
            pl.col("value").cast(pl.Float64).fill_null(float("nan")),
        )
        _count_events(
            coded["node"].to_numpy(),
            coded["day"].to_numpy(),
            coded["kind"].to_numpy(),
            coded["value"].to_numpy(),
            window_days[0],
            window_days[1],
            float(ON_TIME_DAYS),
            *counts.values(),
        )
    invoices = counts["invoices"]
    process = np.divide(
        counts["on_time"], invoices, out=np.zeros(n, dtype=np.float64), where=invoices > 0, dtype=np.float64
    )
    return {
        "referral": counts["referral"],
        "process": process,
        "contact": counts["contact"],
        "evaluation": counts["feedback"],
    }


def loyalty(
    events: pl.DataFrame | None,
    measures: Measures,
    recruits_in_window: IntArray,
    window_days: tuple[int, int],
) -> Segmentation:
    """The ``loyalty_type`` segmentation with ``loyalty_<type>`` Int8 score columns (module docstring).

    ``events``: node, occurred_on (Date), type, value (Float64) — None when the dataset has none (every
    event-based score is then 0); ``recruits_in_window``: personally sponsored recruits who joined in the
    window, per node; ``window_days``: the window's first and last day as days since 1970-01-01.
    """
    n = measures.size
    if recruits_in_window.shape != (n,):
        raise ValueError(f"recruits_in_window has shape {recruits_in_window.shape}, expected ({n},)")
    raw = event_counts(events, n, window_days)
    scores = np.empty((len(TYPES), n), dtype=np.int8)
    scores[0] = financial_scores(measures.revenue, measures.orders)
    scores[1] = percentile_scores(recruits_in_window.astype(np.int64) + raw["referral"])
    scores[2] = percentile_scores(raw["process"])
    scores[3] = percentile_scores(raw["contact"])
    scores[4] = percentile_scores(raw["evaluation"])
    codes = np.argmax(scores, axis=0).astype(np.int16)  # the first highest: the fixed tie order
    codes[scores.max(axis=0, initial=0) == 0] = len(TYPES)
    extra = {
        f"loyalty_{name}": pl.Series(f"loyalty_{name}", scores[i], dtype=pl.Int8)
        for i, name in enumerate(TYPES)
    }
    return Segmentation("loyalty_type", codes, LABELS, extra=extra)
