"""Segment effectiveness: one table for every segmentation and value (segments.parquet).

The first row is the whole company (segmentation ``all``, value ``all``). Per (segmentation, value):
participants, share, buyers, orders, revenue, revenue share, average check (revenue / orders), mean CLV
(when CLV is computed), margin, costs, commissions, profit, ROI % (profit / costs); conversion and churn
from the segments at the window start (:mod:`mlmroi.segments.churn`) with their bases (``conversion_base``:
members at the start who had never bought; ``churn_base``: members at the start who bought in the previous
window); and the flags ``unprofitable`` (ROI < 0) and ``weak_conversion`` (conversion below half the
company's). Sums are exact integers (bincounts over the codes).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mlmroi.money import IntArray, sum_by_index, to_decimal
from mlmroi.segments.base import Segmentation
from mlmroi.segments.churn import AtStart
from mlmroi.segments.measures import Measures

MONEY = ("revenue", "margin", "costs", "commissions", "profit")


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def effectiveness(
    segmentations: list[Segmentation],
    measures: Measures,
    decimals: int,
    clv: IntArray | None = None,
    start: AtStart | None = None,
) -> pl.DataFrame:
    """The segment-effectiveness table: the company row, then the segmentations in the given order, values
    in label order (``start``: the segments at the window start, None without earlier orders)."""
    n = max(measures.size, 1)
    buyer = measures.buyers.astype(np.int64)
    never = ~measures.bought_before  # conversion's base: had not bought before the window
    converted = (never & measures.buyers).astype(np.int64)
    company = Segmentation("all", np.zeros(measures.size, dtype=np.int16), ("all",))
    frames = []
    for seg in [company, *segmentations]:
        k = len(seg.labels)
        codes = seg.codes.astype(np.int64)
        count = np.bincount(codes, minlength=k)
        sums = {name: sum_by_index(codes, measures.measure(name), k) for name in (*MONEY, "orders")}
        buyers = sum_by_index(codes, buyer, k)
        at_start = seg.codes if seg is company else None if start is None else start.codes.get(seg.name)
        unknown = np.full(k, np.nan)
        conversion_base = churn_base = np.zeros(k, dtype=np.int64)
        conversion = churn = unknown
        if at_start is not None:
            first = at_start.astype(np.int64)
            conversion_base = sum_by_index(first, never.astype(np.int64), k)
            conversion = _ratio(sum_by_index(first, converted, k), conversion_base)
            if start is not None:
                churn_base = sum_by_index(first, start.buyers.astype(np.int64), k)
                lost = (start.buyers & ~measures.buyers).astype(np.int64)
                churn = _ratio(sum_by_index(first, lost, k), churn_base)
        columns: dict[str, object] = {
            "segmentation": [seg.name] * k,
            "value": list(seg.labels),
            "participants": count,
            "share": count / n,
            "buyers": buyers,
            "conversion_base": conversion_base,
            "conversion": conversion,
            "orders": sums["orders"],
            **{name: sums[name] for name in MONEY},
            "revenue_share": _ratio(sums["revenue"], np.full(k, max(int(measures.revenue.sum()), 0))),
            "average_check": np.where(
                sums["orders"] > 0, np.round(_ratio(sums["revenue"], sums["orders"])), 0
            ).astype(np.int64),
            "roi_pct": _ratio(sums["profit"] * 100.0, sums["costs"]),
            "churn_base": churn_base,
            "churn_rate": churn,
        }
        if clv is not None:
            mean = np.where(count > 0, np.round(_ratio(sum_by_index(codes, clv, k), count)), 0)
            columns["mean_clv"] = mean.astype(np.int64)
        frames.append(pl.DataFrame(columns))
    frame = pl.concat(frames, how="diagonal_relaxed")

    money_names = [*MONEY, "average_check", *(["mean_clv"] if clv is not None else [])]
    frame = frame.with_columns(
        [to_decimal(name, decimals) for name in money_names]
        + [pl.col(c).fill_nan(None) for c in ("conversion", "revenue_share", "roi_pct", "churn_rate")]
        + [pl.col(c).round(6) for c in ("share",)]
    )
    # Averages over nobody are unknown, not zero.
    frame = frame.with_columns(
        pl.when(pl.col("orders") > 0).then(pl.col("average_check")).alias("average_check"),
        pl.when(pl.col("participants") > 0).then(pl.col("mean_clv")).alias("mean_clv")
        if clv is not None
        else [],
    )
    overall_conversion = frame["conversion"][0]  # the company row's
    frame = frame.with_columns(
        (pl.col("roi_pct") < 0).fill_null(False).alias("unprofitable"),
        (pl.col("conversion") < (overall_conversion or 0) / 2).fill_null(False).alias("weak_conversion"),
    )
    if clv is None:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Decimal(18, decimals)).alias("mean_clv"))
    order = [
        "segmentation",
        "value",
        "participants",
        "share",
        "buyers",
        "conversion_base",
        "conversion",
        "orders",
        "revenue",
        "revenue_share",
        "average_check",
        "mean_clv",
        "margin",
        "costs",
        "commissions",
        "profit",
        "roi_pct",
        "churn_base",
        "churn_rate",
        "unprofitable",
        "weak_conversion",
    ]
    return frame.select(order)
