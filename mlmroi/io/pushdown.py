"""Read only the order rows a run needs: those dated from the start of the window before the scored one
(segments at the window start are labelled on it) to the window end. The rows before that are not read;
what the run needs of them — who ordered, and each participant's last purchase before — comes as a small
per-participant summary, the same ``order_history`` table the warehouse path makes
(:mod:`mlmroi.io.warehouse`). Rows after the window end are not read at all.

- A database gets a WHERE on the order date; rows whose date is missing or unreadable are still sent, so
  they are rejected with their reason as before. The summary is one GROUP BY query there.
- A Parquet file's row groups are chosen by their statistics on the order date: a group wholly outside the
  reach is skipped (a group without statistics is read). The summary is one lazy polars scan, which prunes
  row groups the same way and decodes three columns.
- CSV files are read whole (text has no statistics); so are tables whose order date is not a date type.

Rows not read are not checked: a bad row years before the window no longer shows in rejects. run.json
counts them per table as ``not_read``; ``[input] pushdown = false`` reads and checks every row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from mlmroi.errors import InputError
from mlmroi.io.database import valid_date, window_filter
from mlmroi.io.read import RawTable, first_line
from mlmroi.io.warehouse import OrderSql, order_history_sql

SUMMARY_COLUMNS = ("participant_id", "ordered_on", "amount")


def push_down(orders: RawTable, spec: OrderSql) -> tuple[RawTable, RawTable | None]:
    """The orders table narrowed to ``spec``'s reach (``spec.since`` … the window end) and the summary of
    the orders before it; ``(orders, None)`` unchanged when the source cannot be narrowed."""
    if orders.db is not None:
        return _database(orders, spec)
    if orders.csv is None and orders.memory is None:
        try:
            return _parquet(orders, spec)
        except (pl.exceptions.PolarsError, OSError, ValueError, pa.ArrowException) as exc:
            raise InputError(f"{orders.label}: cannot read file ({first_line(exc)})") from None
    return orders, None


def _summary(frame: pl.DataFrame, label: str) -> RawTable:
    """An order_history table made in memory."""
    return RawTable(
        name="order_history",
        path=Path(label),
        rename={},
        columns=tuple(frame.columns),
        rows=frame.height,
        memory=frame,
    )


def _database(orders: RawTable, spec: OrderSql) -> tuple[RawTable, RawTable | None]:
    db = orders.db
    assert db is not None
    columns = {c.name: c for c in db.columns}
    date, amount = columns.get("ordered_on"), columns.get("amount")
    where = None if date is None else window_filter(date, db.dialect, spec.since, spec.window.end)
    if where is None or amount is None or amount.kind not in ("numeric", "integer", "float"):
        return orders, None
    # The summary: one GROUP BY on the table's own columns (rows with an unreadable date left out).
    names = {c.name: c.source for c in db.columns}
    source = replace(spec, orders=db.spec, order_columns=names)
    readable = valid_date("{date}", db.dialect)
    history = db.fetch(order_history_sql(source, db.dialect, readable))  # type: ignore[arg-type]
    db.push_down(where)
    return orders, _summary(history, f"order_history (summary of {db.label} before {spec.since})")


def read_counts(orders: RawTable) -> tuple[int, int]:
    """After a pushed-down read: the rows read and the rows not read."""
    if orders.db is not None:
        return orders.db.sent or 0, orders.db.not_read
    return orders.rows, orders.not_read


def _parquet(orders: RawTable, spec: OrderSql) -> tuple[RawTable, RawTable | None]:
    parquet = pq.ParquetFile(orders.path)
    schema = parquet.schema_arrow
    names = {c: orders.source_name(c) for c in SUMMARY_COLUMNS}
    date_type = schema.field(names["ordered_on"]).type
    amount_type = schema.field(names["amount"]).type
    dated = pa.types.is_date(date_type) or pa.types.is_timestamp(date_type)
    numeric = (
        pa.types.is_integer(amount_type)
        or pa.types.is_floating(amount_type)
        or pa.types.is_decimal(amount_type)
    )
    if not (dated and numeric):
        return orders, None
    since, end = spec.since, spec.window.end
    index = schema.get_field_index(names["ordered_on"])
    kept, unread = [], 0
    for g in range(parquet.metadata.num_row_groups):
        group = parquet.metadata.row_group(g)
        stats = group.column(index).statistics
        low, high = (
            (_day(stats.min), _day(stats.max)) if stats is not None and stats.has_min_max else (None, None)
        )
        if low is not None and high is not None and (high < since or low > end):
            unread += group.num_rows
        else:
            kept.append(g)
    if not unread:
        return orders, None
    day = pl.col(names["ordered_on"]).cast(pl.Date)
    history = (
        pl.scan_parquet(orders.path)
        .select(
            pl.col(names["participant_id"]).alias("participant_id"),
            day.alias("d"),
            pl.col(names["amount"]).alias("a"),
        )
        .filter(pl.col("d") < since)
        .group_by("participant_id")
        .agg(
            pl.col("d").min().alias("first_order_on"),
            pl.col("d").filter(pl.col("a") > 0).max().alias("last_purchase_before"),
        )
        .with_columns(pl.lit(since).alias("since"))
        .sort("participant_id")
        .collect()
    )
    narrowed = replace(orders, row_groups=tuple(kept), rows=orders.rows - unread, not_read=unread)
    return narrowed, _summary(history, f"order_history (summary of {orders.path.name} before {since})")


def _day(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None
