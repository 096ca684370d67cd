"""Commission periods inside the analysis window, and per-node aggregation of orders by period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel

IntArray = npt.NDArray[np.int64]
Period = Literal["week", "month", "quarter"]


@dataclass(frozen=True)
class Window:
    """The analysis window [start, end] (inclusive) cut into commission periods."""

    start: dt.date
    end: dt.date
    period: Period

    def _origin(self) -> dt.date:
        if self.period == "week":
            return self.start - dt.timedelta(days=self.start.weekday())
        if self.period == "quarter":
            return dt.date(self.start.year, 3 * ((self.start.month - 1) // 3) + 1, 1)
        return dt.date(self.start.year, self.start.month, 1)

    def index(self, dates: pl.Expr) -> pl.Expr:
        """Period index of each date (0 = the period holding ``start``); -1 outside the window."""
        origin = self._origin()
        if self.period == "week":
            raw = (dates - pl.lit(origin)).dt.total_days() // 7
        elif self.period == "quarter":
            raw = (dates.dt.year() - origin.year) * 4 + (dates.dt.month() - 1) // 3 - (origin.month - 1) // 3
        else:
            raw = (dates.dt.year() - origin.year) * 12 + dates.dt.month() - origin.month
        inside = (dates >= pl.lit(self.start)) & (dates <= pl.lit(self.end))
        return pl.when(inside).then(raw).otherwise(-1).cast(pl.Int32)

    @property
    def labels(self) -> tuple[str, ...]:
        """Period names: ``2025-03``, ``2025-Q1`` or ISO ``2025-W05``."""
        frame = pl.DataFrame({"d": pl.date_range(self._origin(), self.end, "1d", eager=True)})
        frame = frame.with_columns(self.index(pl.col("d")).alias("p")).filter(pl.col("p") >= 0)
        firsts = frame.group_by("p").agg(pl.col("d").min()).sort("p")
        labels = []
        for day in firsts["d"].to_list():
            if self.period == "week":
                iso = day.isocalendar()
                labels.append(f"{iso.year}-W{iso.week:02d}")
            elif self.period == "quarter":
                labels.append(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
            else:
                labels.append(f"{day.year}-{day.month:02d}")
        return tuple(labels)


@kernel
def _aggregate_orders(node, period, amount, volume, margin, retail, n, n_periods):  # type: ignore[no-untyped-def]
    """One pass over the orders: per-node per-period volume and revenue, and window totals."""
    pv = np.zeros((n, n_periods), dtype=np.int64)
    revenue_by_period = np.zeros((n, n_periods), dtype=np.int64)
    orders = np.zeros(n, dtype=np.int64)
    margin_total = np.zeros(n, dtype=np.int64)
    retail_revenue = np.zeros(n, dtype=np.int64)
    for i in range(node.shape[0]):
        p = period[i]
        if p < 0:
            continue
        v = node[i]
        pv[v, p] += volume[i]
        revenue_by_period[v, p] += amount[i]
        margin_total[v] += margin[i]
        if amount[i] > 0:
            orders[v] += 1
        if retail[i]:
            retail_revenue[v] += amount[i]
    return pv, revenue_by_period, orders, margin_total, retail_revenue


@kernel
def _move_to_ancestor(values, target):  # type: ignore[no-untyped-def]
    """Move each row of ``values`` onto row ``target[i]`` (when ≥ 0); returns a new array."""
    out = values.copy()
    n, k = values.shape
    for i in range(n):
        t = target[i]
        if t >= 0:
            for j in range(k):
                out[t, j] += values[i, j]
                out[i, j] -= values[i, j]
    return out


@dataclass(frozen=True, eq=False)
class OrderTotals:
    """Per-node order aggregates over the window (money and volume in minor units)."""

    personal_volume: IntArray  # (n, periods), before any customer-volume move
    revenue_by_period: IntArray  # (n, periods)
    orders: IntArray
    margin: IntArray
    retail_revenue: IntArray

    @property
    def revenue(self) -> IntArray:
        """Net revenue over the window (refunds included)."""
        return self.revenue_by_period.sum(axis=1)  # type: ignore[no-any-return]


def aggregate_orders(orders: pl.DataFrame, n: int, window: Window, n_periods: int) -> OrderTotals:
    """Aggregate orders (columns node, period, amount, volume, margin, retail) into per-node arrays."""
    pv, revenue_by_period, count, margin, retail = _aggregate_orders(
        orders["node"].to_numpy(),
        orders["period"].to_numpy(),
        orders["amount"].to_numpy(),
        orders["volume"].to_numpy(),
        orders["margin"].to_numpy(),
        orders["retail"].to_numpy(),
        n,
        n_periods,
    )
    return OrderTotals(pv, revenue_by_period, count, margin, retail)


def move_customer_volume(
    personal_volume: IntArray, nearest_distributor: IntArray, is_customer: npt.NDArray[np.bool_]
) -> IntArray:
    """Customers' PV counted as their nearest distributor upline's PV (``customer_volume_to_sponsor``)."""
    target = np.where(is_customer, nearest_distributor, -1).astype(np.int64)
    return _move_to_ancestor(personal_volume, target)  # type: ignore[no-any-return]
