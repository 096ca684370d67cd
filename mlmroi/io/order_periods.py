"""The warehouse path's tables (``order_periods``, ``order_history``; :mod:`mlmroi.io.warehouse` prints the
SQL that makes them), read in place of the orders: rows keyed by node, bad rows to rejects with a reason,
tables made for another run refused with one line."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from mlmroi.errors import InputError
from mlmroi.io.checks import Owners, RowChecks, owner_nodes
from mlmroi.io.read import RawTable
from mlmroi.periods import NEVER, IntArray, OrderHistory, OrderPeriods

EARLY_PREFIX = "early_volume_minor_"
#: order_periods' integer columns, by the OrderPeriods field each fills
PERIOD_INTEGERS = {
    "orders": "orders",
    "amount_minor": "amount",
    "volume_minor": "volume",
    "margin_minor": "margin",
    "retail_minor": "retail",
    "purchase_days": "purchase_days",
    "first_purchase_minor": "first_purchase_amount",
}
PERIOD_DATES = {
    "period_start": "start_day",
    "first_purchase_on": "first_purchase_day",
    "last_purchase_on": "last_purchase_day",
}
_EPOCH = dt.date(1970, 1, 1)


def _days(values: pl.Series) -> IntArray:
    days: IntArray = values.cast(pl.Int32).fill_null(NEVER).to_numpy().astype(np.int64)
    return days


def read_order_periods(
    raw: RawTable, owners: Owners, made_for: str, period_starts: list[dt.date], early_days: list[int]
) -> OrderPeriods:
    """The order_periods table as :class:`OrderPeriods`. Every row must be ``made_for`` this run (else an
    InputError: the figures would be another window's or another margin rate's); a row whose period is not
    one of ``period_starts``, a repeated participant and period, or a bad cell is rejected."""
    frame = raw.frame()
    seen = frame["made_for"].drop_nulls().unique().sort().to_list()
    if seen and seen != [made_for]:
        other = next(s for s in seen if s != made_for)
        raise InputError(
            f"{raw.label}: made for {other!r}, but this run needs {made_for!r}; run `mlmroi sql` with this "
            "config and window again"
        )
    missing = [f"{EARLY_PREFIX}{d}" for d in early_days if f"{EARLY_PREFIX}{d}" not in frame.columns]
    if missing:
        raise InputError([f"{raw.label}: missing column {c!r} (fast start's early volume)" for c in missing])
    checks = RowChecks(raw, frame, owners.rejects)
    node, checks.bad = owner_nodes(frame, raw.name, owners, required=True)
    values: dict[str, pl.Series] = {}
    for column in PERIOD_INTEGERS:
        values[column] = checks.amount(column, 0)
    for column in [f"{EARLY_PREFIX}{d}" for d in early_days]:
        values[column] = checks.amount(column, 0)
    for column in PERIOD_DATES:
        values[column] = checks.date(column, required=column == "period_start")
    known = pl.Series(period_starts, dtype=pl.Date)
    other_period = values["period_start"].is_not_null() & ~values["period_start"].is_in(known.implode())
    checks.reject(
        other_period,
        "period_start",
        f"not a period of the window or of the one before it ({period_starts[0]} … {period_starts[-1]})",
    )
    keys = pl.DataFrame({"node": node, "start": values["period_start"]})
    repeated = ~keys.select(pl.struct(pl.all()).is_first_distinct()).to_series() & ~checks.bad
    checks.reject(repeated, "period_start", "repeated participant and period_start")
    used = ~checks.bad.to_numpy()

    def ints(column: str) -> IntArray:
        out: IntArray = values[column].fill_null(0).to_numpy()[used].astype(np.int64)
        return out

    return OrderPeriods(
        node=node[used].astype(np.int64),
        **{field: ints(column) for column, field in PERIOD_INTEGERS.items()},
        **{field: _days(values[column])[used] for column, field in PERIOD_DATES.items()},
        early={d: ints(f"{EARLY_PREFIX}{d}") for d in early_days},
    )


def read_order_history(raw: RawTable, owners: Owners, since: dt.date, n: int) -> OrderHistory:
    """The order_history table as :class:`OrderHistory` over ``n`` nodes; its ``since`` must be this run's
    (else an InputError); bad rows are rejected."""
    frame = raw.frame()
    checks = RowChecks(raw, frame, owners.rejects)
    node, checks.bad = owner_nodes(frame, raw.name, owners, required=True)
    recorded = checks.date("since")
    other = recorded.drop_nulls().unique().to_list()
    if any(day != since for day in other):
        raise InputError(
            f"{raw.label}: summarises the orders before {other[0]}, but this run needs those before {since}; "
            "run `mlmroi sql` with this config and window again"
        )
    first = checks.date("first_order_on")
    last = checks.date("last_purchase_before", required=False)
    late = (first >= since).fill_null(False) | (last >= since).fill_null(False)
    checks.reject(late, "first_order_on", f"an order_history date on or after {since}")
    repeated = ~pl.Series(node).is_first_distinct() & ~checks.bad
    checks.reject(repeated, "participant_id", "repeated participant")
    used = ~checks.bad.to_numpy()
    ordered = np.zeros(n, dtype=np.bool_)
    ordered[node[used]] = True
    last_day = np.full(n, NEVER, dtype=np.int64)
    last_day[node[used]] = _days(last)[used]
    return OrderHistory(since, ordered, last_day)
