"""Commission periods inside the analysis window, and per-node aggregation of orders by period."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel, readonly
from mlmroi.errors import ConfigError, InputError
from mlmroi.money import RATE_SCALE, div_half_even, rate_ppm, scatter_add

IntArray = npt.NDArray[np.int64]
NEVER = int(np.iinfo(np.int32).min)  # "no such day" in day-number arrays
Period = Literal["week", "month", "quarter"]


#: the longest window mlmroi scores (per-period arrays are periods × participants): 20 years
MAX_WINDOW_YEARS = 20
#: an order date more than this many days before the first 0.1 % or after the last 0.1 % of the order dates
#: is outlying: it would stretch an inferred window far beyond the data (a typo like 1900-01-01)
OUTLIER_GAP_DAYS = 366
_BULK_SHARE = 0.001


def outlying_dates(counts: pl.DataFrame) -> tuple[list[dt.date], list[dt.date]]:
    """The order dates far before and far after the bulk of the orders (:data:`OUTLIER_GAP_DAYS`)."""
    if counts.height == 0:
        return [], []
    cumulative = counts["n"].cast(pl.Int64).cum_sum()
    total = int(cumulative[-1])
    dates = counts["ordered_on"]
    low = dates[int((cumulative >= max(1, int(total * _BULK_SHARE))).arg_max() or 0)]
    high = dates[int((cumulative >= total - int(total * _BULK_SHARE)).arg_max() or 0)]
    gap = dt.timedelta(days=OUTLIER_GAP_DAYS)
    before = dates.filter(dates < low - gap).to_list()
    after = dates.filter(dates > high + gap).to_list()
    return before, after


def check_span(start: dt.date, end: dt.date, what: str) -> None:
    """A window longer than :data:`MAX_WINDOW_YEARS` is a config error (never a multi-GB allocation)."""
    years = (end - start).days / 365.25
    if years > MAX_WINDOW_YEARS:
        raise ConfigError(
            f"window: {start} … {end}{what} spans {years:.0f} years, more than the {MAX_WINDOW_YEARS} "
            "mlmroi scores; set [window] start and end (or --start/--end) to a shorter window"
        )


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

    def _whole_months(self) -> int | None:
        """How many calendar months the window is when it starts on a 1st and ends on a month's last day."""
        after_end = self.end + dt.timedelta(days=1)
        months = (after_end.year - self.start.year) * 12 + after_end.month - self.start.month
        return months if self.start.day == 1 and after_end.day == 1 and months > 0 else None

    def previous(self) -> Window:
        """The window of the same length that ends the day before this one starts: the same number of
        calendar months when this window is whole months (2025-01-01 … 2025-12-31 → the whole of 2024),
        else the same number of days. Segments at the window start (churn, conversion) are labelled on it."""
        months = self._whole_months()
        if months is not None:
            first = self.start.year * 12 + self.start.month - 1 - months
            start = dt.date(first // 12, first % 12 + 1, 1)
        else:
            start = self.start - (self.end + dt.timedelta(days=1) - self.start)
        return Window(start, self.start - dt.timedelta(days=1), self.period)

    def head(self, periods: int) -> Window:
        """The window's first ``periods`` periods (the calibration part when the rest is a holdout)."""
        if not 0 < periods < len(self.labels):
            raise ValueError(f"head: {periods} periods of a window of {len(self.labels)}")
        days = pl.DataFrame({"d": pl.date_range(self.start, self.end, "1d", eager=True)})
        first = days.filter(self.index(pl.col("d")) == periods)["d"][0]
        return Window(self.start, first - dt.timedelta(days=1), self.period)

    @property
    def months(self) -> float:
        """The window's length in months (whole calendar months count exactly; else days / 30.4375)."""
        months = self._whole_months()
        return float(months) if months is not None else ((self.end - self.start).days + 1) / 30.4375

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
def _aggregate_orders(  # type: ignore[no-untyped-def]
    node,
    day,
    amount,
    volume,
    cost,
    has_cost,
    retail,
    period_of_day,
    first_day,
    margin_ppm,
    volume_by_period,
    revenue_by_period,
    orders,
    margin_total,
    retail_revenue,
    last_order_day,
    bought_before,
    purchase_bits,
    purchase_first,
    purchase_amount,
    joined_offset,
    max_early_days,
    early_node,
    early_period,
    early_age,
    early_volume,
):
    """One pass over (a chunk of) the orders, adding into the per-period (periods, n) and per-node arrays;
    returns the count of orders outside the window and the count of early-order entries written.

    For segments and CLV it also records, for orders with a positive amount: the days of the window with a
    purchase and the first one with its amount (:class:`PurchaseDays`; the bits word-major, so that the
    orders of a day touch one (n,) plane as they touch the per-period arrays, and the amount only when the
    order is on or before the first purchase day seen so far), the last order day before the window, and
    who bought at any time before the window (``bought_before``: conversion's base).

    For fast start, every order in the window placed 0..``max_early_days`` days after its participant joined
    is written out as an entry (node, period, age in days, volume) to the ``early_*`` arrays (as long as the
    chunk): few orders are early, so this is cheaper than a (periods, n) array touched at random
    (``joined_offset[v]``: v's join day minus ``first_day``, int16 when that is exact for every join day
    that matters: 20 MB at 10M participants, which mostly stays in cache where int64 join days cost a
    memory miss per order).

    ``period_of_day[d - first_day]`` is the period of day number ``d`` (-1 outside the window). An order's
    margin is ``amount − cost`` when it has a cost, else ``amount × margin_ppm / 10⁶`` rounded half-to-even.
    """
    outside = 0
    early_count = 0
    span = period_of_day.shape[0]
    for i in range(node.shape[0]):
        k = day[i] - first_day
        p = period_of_day[k] if 0 <= k < span else -1
        v = node[i]
        a = amount[i]
        if p < 0:
            if a > 0 and k < 0:
                if day[i] > last_order_day[v]:
                    last_order_day[v] = day[i]
                bought_before[v] = True
            outside += 1
            continue
        volume_by_period[p, v] += volume[i]
        revenue_by_period[p, v] += a
        if max_early_days >= 0:
            age = k - joined_offset[v]
            if 0 <= age <= max_early_days:
                early_node[early_count] = v
                early_period[early_count] = p
                early_age[early_count] = age
                early_volume[early_count] = volume[i]
                early_count += 1
        if has_cost[i]:
            margin_total[v] += a - cost[i]
        else:
            margin_total[v] += div_half_even(a * margin_ppm, np.int64(RATE_SCALE))  # int64, not a literal
        if a > 0:
            orders[v] += 1
            if day[i] > last_order_day[v]:  # the last purchase day, to the day (RFM recency, lapse)
                last_order_day[v] = day[i]
            purchase_bits[k // 64, v] |= np.uint64(1) << np.uint64(k % 64)
            first_purchase = purchase_first[v]  # int16: a small array, the amount touched rarely
            if k <= first_purchase:
                if k < first_purchase:
                    purchase_first[v] = k
                    purchase_amount[v] = a
                else:
                    purchase_amount[v] += a
        if retail[i]:
            retail_revenue[v] += a
    return outside, early_count


@kernel
def _move_to_ancestor(values, target):  # type: ignore[no-untyped-def]
    """Move each column ``i`` of ``values`` (periods, n) onto column ``target[i]`` (when ≥ 0)."""
    out = values.copy()
    k, n = values.shape
    for i in range(n):
        t = target[i]
        if t >= 0:
            for j in range(k):
                out[j, t] += values[j, i]
                out[j, i] -= values[j, i]
    return out


@dataclass(frozen=True, eq=False)
class EarlyVolume:
    """The volume of participants' own orders placed within ``days`` of joining (fast start), kept sparse:
    one entry per such order, grouped by period (entries ``bounds[p]:bounds[p + 1]`` are period ``p``'s)."""

    days: int
    n: int
    node: IntArray
    volume: IntArray
    bounds: IntArray  # (periods + 1,)

    def period(self, p: int, out: IntArray | None = None) -> IntArray:
        """Period ``p``'s early volume per node, (n,), written into ``out`` when given (reused buffer)."""
        out = np.zeros(self.n, dtype=np.int64) if out is None else out
        out[:] = 0
        lo, hi = int(self.bounds[p]), int(self.bounds[p + 1])
        scatter_add(out, readonly(self.node[lo:hi]), readonly(self.volume[lo:hi]))
        return out

    def dense(self) -> IntArray:
        """(periods, n): every period's early volume per node (for tests and small data)."""
        return np.stack([self.period(p) for p in range(self.bounds.shape[0] - 1)])

    @classmethod
    def from_dense(cls, days: int, dense: IntArray) -> EarlyVolume:
        """From a (periods, n) array (tests, interop)."""
        period, node = np.nonzero(dense)
        bounds = np.searchsorted(period, np.arange(dense.shape[0] + 1)).astype(np.int64)
        return cls(days, dense.shape[1], node.astype(np.int64), dense[period, node].astype(np.int64), bounds)

    @classmethod
    def collect(
        cls, days: int, n: int, n_periods: int, entries: tuple[npt.NDArray[np.integer], ...]
    ) -> EarlyVolume:
        """From early-order entries (node, period, age, volume), keeping those ``age ≤ days``."""
        node, volume, bounds = _group_early(*entries, days, n_periods)
        return cls(days, n, node, volume, bounds)


@kernel
def _group_early(node, period, age, volume, days, n_periods):  # type: ignore[no-untyped-def]
    """The entries with ``age ≤ days`` grouped by period, in their order (a counting sort: two passes)."""
    bounds = np.zeros(n_periods + 1, dtype=np.int64)
    for i in range(node.shape[0]):
        if age[i] <= days:
            bounds[period[i] + 1] += 1
    for p in range(n_periods):
        bounds[p + 1] += bounds[p]
    fill = bounds[:-1].copy()
    out_node = np.empty(bounds[n_periods], dtype=np.int64)
    out_volume = np.empty(bounds[n_periods], dtype=np.int64)
    for i in range(node.shape[0]):
        if age[i] <= days:
            k = fill[period[i]]
            out_node[k] = node[i]
            out_volume[k] = volume[i]
            fill[period[i]] += 1
    return out_node, out_volume, bounds


@dataclass(frozen=True, eq=False)
class PurchaseDays:
    """The days of the window on which each node bought, for customer value: a purchase day is a day with
    an order of positive amount (several orders on one day are one purchase day).

    ``bits`` holds one bit per day and node, word-major: day ``d`` (0 = the window's first day) of node
    ``v`` is bit ``d % 64`` of ``bits[d // 64, v]``, so the orders of one day touch one (n,) plane, in the
    pattern they touch the per-period arrays. ``first_day`` is each node's first purchase day (``days``, a
    day past the window, when none; int16 unless the window is longer than 89 years) and ``first_amount``
    the sum of that day's positive orders (minor units). Memory: 8 bytes per 64 days and node plus 10 bytes
    per node (580 MB at 10M and one year).

    Measured at 10M participants and 100M date-sorted orders, this layout costs the order pass about what
    the former one bit per week did; one row per node (the bits and the first day in one cache line) and
    an int64 (first day, amount) pair per node each cost about 10 % more: a miss per order, where the int16
    first days mostly stay in cache and the amount is touched only on or before the first purchase day."""

    bits: npt.NDArray[np.uint64]  # (ceil(days / 64), n)
    first_day: npt.NDArray[np.int16] | npt.NDArray[np.int32]  # (n,)
    first_amount: IntArray  # (n,)
    days: int  # days in the window

    @classmethod
    def allocate(cls, n: int, days: int) -> PurchaseDays:
        """Arrays for ``n`` nodes over a window of ``days`` days, no purchase recorded."""
        first: npt.NDArray[np.int16] | npt.NDArray[np.int32] = (
            np.full(n, days, dtype=np.int16)
            if days < np.iinfo(np.int16).max
            else np.full(n, days, dtype=np.int32)
        )
        return cls(
            np.zeros(((days + 63) // 64, n), dtype=np.uint64),
            first,
            np.zeros(n, dtype=np.int64),
            days,
        )

    def released(self) -> PurchaseDays:
        """The same window with no nodes (after customer value, which alone reads them)."""
        return PurchaseDays.allocate(0, self.days)


Int32Array = npt.NDArray[np.int32]
#: per node that bought: node, first, last and count of purchase days, last and count before a cut
PurchaseSummary = tuple[IntArray, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]


@dataclass(frozen=True, eq=False)
class PeriodPurchases:
    """The purchase days of the window as pre-aggregated orders give them (:class:`OrderPeriods`): per row
    (a node's period) how many purchase days it holds and the last one, plus each node's first purchase
    day and that day's amount, as in :class:`PurchaseDays`. Customer value needs no more than this: counts,
    first and last purchase days, over the window and over its calibration part (whole periods)."""

    node: IntArray  # (rows,)
    start: IntArray  # (rows,) the row's period's first day (0 = the window's first day)
    count: IntArray  # (rows,) purchase days
    last: IntArray  # (rows,) the last purchase day (-1: none)
    first_day: npt.NDArray[np.int32]  # (n,) ``days`` when none
    first_amount: IntArray  # (n,)
    days: int

    def summary(self, calibration_days: int) -> PurchaseSummary:
        """What ``customer_value.purchase_summary`` computes from day bits: per node that bought (ascending),
        first, last and count of purchase days, and the last and count before ``calibration_days``."""
        n = self.first_day.shape[0]
        early = self.start < calibration_days
        if bool((early & (self.last >= calibration_days)).any()):
            raise ValueError("calibration part does not end at a period boundary")
        count, last = _node_counts(self.node, self.count, self.last, n)
        count_early, last_early = _node_counts(self.node[early], self.count[early], self.last[early], n)
        node = np.flatnonzero(self.first_day < self.days).astype(np.int64)
        return (
            node,
            self.first_day[node].astype(np.int32),
            last[node].astype(np.int32),
            count[node].astype(np.int32),
            last_early[node].astype(np.int32),
            count_early[node].astype(np.int32),
        )

    def released(self) -> PeriodPurchases:
        """The same window with no nodes."""
        empty = np.zeros(0, dtype=np.int64)
        return PeriodPurchases(empty, empty, empty, empty, np.zeros(0, dtype=np.int32), empty, self.days)


def _node_counts(node: IntArray, count: IntArray, last: IntArray, n: int) -> tuple[IntArray, IntArray]:
    """Per node: the sum of ``count`` and the largest ``last`` (-1 when no row)."""
    total = np.zeros(n, dtype=np.int64)
    np.add.at(total, node, count)
    latest = np.full(n, -1, dtype=np.int64)
    np.maximum.at(latest, node, last)
    return total, latest


@dataclass(frozen=True, eq=False)
class OrderHistory:
    """What a run knows of the orders dated before ``since`` without reading their rows (a database sends
    this summary in place of years of rows; the warehouse path's ``order_history`` table): per node,
    whether it ordered at all and its last purchase day (an order of positive amount; ``NEVER``: none).
    Only segments and conversion look that far back: lifecycle's lapse, and who had never bought."""

    since: dt.date
    ordered: npt.NDArray[np.bool_]  # (n,)
    last_purchase_day: IntArray  # (n,) days since 1970-01-01

    def check(self, window: Window) -> None:
        """A window starting before ``since`` would need rows this summary stands for."""
        if window.start < self.since:
            raise ValueError(f"orders before {self.since} are summarised; window {window.start} needs them")


@dataclass(frozen=True, eq=False)
class OrderTotals:
    """Per-node order aggregates over the window (money and volume in minor units)."""

    personal_volume: IntArray  # (periods, n), before any customer-volume move
    revenue_by_period: IntArray  # (periods, n)
    orders: IntArray
    margin: IntArray
    retail_revenue: IntArray
    outside_window: int  # order rows dated outside the window (used, not counted in figures)
    early: dict[int, EarlyVolume] = field(default_factory=dict)  # days -> fast start's early volume
    # For segments and CLV: the last purchase day up to the window end (NEVER: none), who bought at any time
    # before the window, and the days of the window with a purchase.
    last_order_day: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    bought_before: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(0, dtype=np.bool_))
    purchase_days: PurchaseDays | PeriodPurchases = field(default_factory=lambda: PurchaseDays.allocate(0, 0))

    revenue: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # window net revenue

    def release_period_revenue(self) -> OrderTotals:
        """The same totals without the (periods, n) revenue array, which only cost allocation and customer
        value need, and without the purchase days, which only customer value reads."""
        return replace(
            self,
            revenue_by_period=np.zeros((self.revenue_by_period.shape[0], 0), dtype=np.int64),
            purchase_days=self.purchase_days.released(),
        )


def aggregate_orders(
    chunks: Sequence[pl.DataFrame],
    n: int,
    window: Window,
    margin_rate: float,
    joined_day: IntArray | None = None,
    early_days: Sequence[int] = (),
    history: OrderHistory | None = None,
) -> OrderTotals:
    """Aggregate orders (frames with node, ordered_on, amount, volume, cost, retail) into per-node arrays.

    Periods are looked up per day in a small table over the window, so no per-order date arithmetic runs
    in polars; each chunk is one kernel pass adding into the same arrays. With ``early_days`` (fast start)
    it also collects, per window, each node's own orders placed within that many days of joining as an
    :class:`EarlyVolume` (``joined_day``: days since 1970-01-01 per node). ``history`` stands for the orders
    before its ``since`` when the chunks hold only later rows (a pushed-down read).
    """
    first = (window.start - dt.date(1970, 1, 1)).days
    calendar = pl.DataFrame({"d": pl.date_range(window.start, window.end, "1d", eager=True)})
    period_of_day = calendar.select(window.index(pl.col("d")))["d"].to_numpy().astype(np.int32)
    # Separate flat arrays: measured at 10M participants / 100M orders, interleaving them into one
    # (periods, n, 2) array was twice as slow (page and TLB misses), and the views then needed copies.
    totals = OrderTotals(
        personal_volume=np.zeros((len(window.labels), n), dtype=np.int64),
        revenue_by_period=np.zeros((len(window.labels), n), dtype=np.int64),
        orders=np.zeros(n, dtype=np.int64),
        margin=np.zeros(n, dtype=np.int64),
        retail_revenue=np.zeros(n, dtype=np.int64),
        outside_window=0,
        early={},
        last_order_day=np.full(n, NEVER, dtype=np.int64),
        bought_before=np.zeros(n, dtype=np.bool_),
        purchase_days=(purchases := PurchaseDays.allocate(n, (window.end - window.start).days + 1)),
    )
    if history is not None:
        history.check(window)
        totals.last_order_day[:] = history.last_purchase_day
        totals.bought_before[:] = history.last_purchase_day != NEVER
    days = np.array(sorted(early_days), dtype=np.int64)
    max_days = int(days.max()) if days.size else -1
    joined = _join_offsets(joined_day, first, period_of_day.shape[0], days)
    outside = 0
    # Early-order entries for every chunk in one set of buffers: reserved for every order, but only the
    # pages written (the early orders) become resident.
    rows = sum(orders.height for orders in chunks) if max_days >= 0 else 0
    entries = (
        np.empty(rows, dtype=np.int64),
        np.empty(rows, dtype=np.int32),
        np.empty(rows, dtype=np.int32),
        np.empty(rows, dtype=np.int64),
    )
    filled = 0
    for orders in chunks:
        cost = orders["cost"]
        out, count = _aggregate_orders(
            orders["node"].to_numpy(),
            orders["ordered_on"].cast(pl.Int32).to_numpy(),
            orders["amount"].to_numpy(),
            orders["volume"].to_numpy(),
            cost.fill_null(0).to_numpy(),
            cost.is_not_null().to_numpy(),
            orders["retail"].to_numpy(),
            period_of_day,
            first,
            rate_ppm(margin_rate),
            totals.personal_volume,
            totals.revenue_by_period,
            totals.orders,
            totals.margin,
            totals.retail_revenue,
            totals.last_order_day,
            totals.bought_before,
            purchases.bits,
            purchases.first_day,
            purchases.first_amount,
            joined,
            max_days,
            *(buffer[filled:] for buffer in entries),
        )
        outside += out
        filled += count
    if days.size:
        written = tuple(buffer[:filled] for buffer in entries)
        n_periods = len(window.labels)
        early = {int(d): EarlyVolume.collect(int(d), n, n_periods, written) for d in days}
        totals = replace(totals, early=early)
    del entries
    return replace(totals, outside_window=int(outside), revenue=totals.revenue_by_period.sum(axis=0))


def _join_offsets(
    joined_day: IntArray | None, first: int, span: int, days: IntArray
) -> npt.NDArray[np.signedinteger]:
    """Join day minus the window's first day, as the smallest integer type that keeps every offset an early
    order can have exact (``first - max(days)`` .. ``first + span``); farther ones are clipped, which keeps
    them farther than ``max(days)`` from every order in the window."""
    if joined_day is None or not days.size:
        return np.zeros(1, dtype=np.int16)
    lo, hi = -int(days.max()) - 1, span + 1
    kind = np.int16 if lo > -32_000 and hi < 32_000 else np.int32
    bound = np.iinfo(kind)
    return np.clip(joined_day - first, bound.min, bound.max).astype(kind)


def move_customer_volume(
    personal_volume: IntArray, nearest_distributor: IntArray, is_customer: npt.NDArray[np.bool_]
) -> IntArray:
    """Customers' PV counted as their nearest distributor upline's PV (``customer_volume_to_sponsor``)."""
    target = np.where(is_customer, nearest_distributor, -1).astype(np.int64)
    return _move_to_ancestor(personal_volume, target)  # type: ignore[no-any-return]


@dataclass(frozen=True, eq=False)
class OrderPeriods:
    """Orders pre-aggregated per node and period (the warehouse path's ``order_periods`` table), money and
    volume in minor units: one row per node and period with orders, for the periods of the window and of
    the window before it. ``start_day`` is the period's first day (days since 1970-01-01); purchase days
    are days -1970 like ``start_day`` (``NEVER``: none). ``early[d]``: the volume of the row's orders placed
    within ``d`` days of the node joining (fast start)."""

    node: IntArray
    start_day: IntArray
    orders: IntArray  # orders of positive amount
    amount: IntArray
    volume: IntArray
    margin: IntArray
    retail: IntArray  # amount of retail orders
    purchase_days: IntArray
    first_purchase_day: IntArray
    first_purchase_amount: IntArray
    last_purchase_day: IntArray
    early: dict[int, IntArray] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return int(self.node.shape[0])

    def ordered_before(self, day: dt.date) -> bool:
        """Is any row's period before ``day``?"""
        return bool((self.start_day < (day - _EPOCH).days).any())


_EPOCH = dt.date(1970, 1, 1)


def period_first_days(window: Window) -> IntArray:
    """The first day of each of the window's periods (days since 1970-01-01), ascending."""
    calendar = pl.DataFrame({"d": pl.date_range(window.start, window.end, "1d", eager=True)})
    firsts = calendar.with_columns(window.index(pl.col("d")).alias("p")).group_by("p").agg(pl.col("d").min())
    days: IntArray = firsts.sort("p")["d"].cast(pl.Int32).to_numpy().astype(np.int64)
    return days


def totals_from_periods(
    periods: OrderPeriods,
    n: int,
    window: Window,
    early_days: Sequence[int] = (),
    history: OrderHistory | None = None,
) -> OrderTotals:
    """The :class:`OrderTotals` of ``window`` from pre-aggregated orders: what :func:`aggregate_orders`
    computes from the rows, as long as every period of ``window`` is one of the rows' periods (rows of
    other periods lie wholly before or after it). Rows before the window count like orders before it
    (last purchase day, who bought before); rows after it are not read."""
    first = (window.start - _EPOCH).days
    last_day = (window.end - _EPOCH).days
    starts = period_first_days(window)
    n_periods = starts.shape[0]
    inside = (periods.start_day >= first) & (periods.start_day <= last_day)
    before = periods.start_day < first
    p = np.searchsorted(starts, periods.start_day[inside])
    if bool((starts[np.minimum(p, n_periods - 1)] != periods.start_day[inside]).any()):
        raise ValueError("order_periods: a row's period is not one of the window's periods")
    node = periods.node[inside]
    flat = p * n + node

    def per_period(values: IntArray) -> IntArray:
        out = np.zeros(n_periods * n, dtype=np.int64)
        scatter_add(out, readonly(flat), readonly(values[inside]))
        return out.reshape(n_periods, n)

    def per_node(values: IntArray) -> IntArray:
        out = np.zeros(n, dtype=np.int64)
        scatter_add(out, readonly(node), readonly(values[inside]))
        return out

    revenue_by_period = per_period(periods.amount)
    last_order_day = (
        np.full(n, NEVER, dtype=np.int64) if history is None else history.last_purchase_day.copy()
    )
    bought_before = np.zeros(n, dtype=np.bool_) if history is None else history.last_purchase_day != NEVER
    if history is not None:
        history.check(window)
    upto = inside | before
    np.maximum.at(last_order_day, periods.node[upto], periods.last_purchase_day[upto])
    bought_before[periods.node[before & (periods.purchase_days > 0)]] = True
    days = last_day - first + 1
    first_day = np.full(n, days, dtype=np.int32)
    first_amount = np.zeros(n, dtype=np.int64)
    bought = periods.purchase_days[inside] > 0
    offset = periods.first_purchase_day[inside][bought] - first
    order = np.lexsort((offset, node[bought]))  # each node's earliest first purchase day first
    buyers, at = np.unique(node[bought][order], return_index=True)
    first_day[buyers] = offset[order][at]
    first_amount[buyers] = periods.first_purchase_amount[inside][bought][order][at]
    last = np.where(bought, periods.last_purchase_day[inside] - first, -1)
    purchases = PeriodPurchases(
        node, starts[p] - first, periods.purchase_days[inside], last, first_day, first_amount, days
    )
    lacking = [d for d in early_days if d not in periods.early]
    if lacking:
        raise InputError(
            f"order_periods: no early volume for fast start within {lacking[0]} days; make the tables with "
            "`mlmroi sql` and a config whose plan has that fast start"
        )
    early = {
        d: EarlyVolume.collect(
            d,
            n,
            n_periods,
            (node, p.astype(np.int32), np.zeros(node.shape[0], dtype=np.int32), periods.early[d][inside]),
        )
        for d in sorted(early_days)
    }
    return OrderTotals(
        personal_volume=per_period(periods.volume),
        revenue_by_period=revenue_by_period,
        orders=per_node(periods.orders),
        margin=per_node(periods.margin),
        retail_revenue=per_node(periods.retail),
        outside_window=int((~inside).sum()),
        early=early,
        last_order_day=last_order_day,
        bought_before=bought_before,
        purchase_days=purchases,
        revenue=revenue_by_period.sum(axis=0),
    )
