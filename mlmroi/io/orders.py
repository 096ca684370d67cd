"""The orders table, streamed chunk by chunk: each chunk's rows are checked and come back compact (node,
ordered_on, amount, volume, cost, retail as integers and flags); bad rows go to rejects."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

from mlmroi.io import parse
from mlmroi.io.checks import Owners, RowChecks, check_totals, owner_nodes
from mlmroi.io.read import ROW, RawTable


def _order_chunk(
    frame: pl.DataFrame,
    raw: RawTable,
    owners: Owners,
    decimals: int,
) -> pl.DataFrame:
    """Parse one slice of the orders table; its bad rows go to rejects, the rest come back compact."""
    checks = RowChecks(raw, frame, owners.rejects)
    node, checks.bad = owner_nodes(frame, "orders", owners, required=True)
    reject = checks.reject
    ordered_on = checks.date("ordered_on")
    out = {
        "node": pl.Series(node),
        "ordered_on": ordered_on,
        "amount": checks.amount("amount", decimals),
    }
    if "volume" in frame.columns:
        volume = checks.amount("volume", decimals, required=False)
        out["volume"] = volume.fill_null(out["amount"])
    else:
        out["volume"] = out["amount"]
    if "cost" in frame.columns:
        out["cost"] = checks.amount("cost", decimals, required=False)
    else:
        out["cost"] = pl.Series([None] * frame.height, dtype=pl.Int64)
    if "retail" in frame.columns:
        retail, retail_bad = parse.parse_bool(raw.label, frame["retail"])
        reject(retail_bad, "retail", "bad retail flag (expected true or false)")
        out["retail"] = retail.fill_null(False)
    else:
        out["retail"] = pl.Series([False] * frame.height, dtype=pl.Boolean)
    used = pl.DataFrame({k: v.alias(k) for k, v in out.items()}).with_columns(frame[ROW])
    return used.filter(~checks.bad) if bool(checks.bad.any()) else used  # no copy when every row is good


def _order_ids(frame: pl.DataFrame) -> pl.Series:
    """Order ids as integers when every one is written as a plain integer (then repeats are found without
    hashing), else as text (``007`` and ``7`` are two orders, as for participants)."""
    raw = frame["order_id"]
    if raw.dtype.is_integer():
        return raw
    text = raw.cast(pl.String)
    ints = parse.plain_integers(text)
    return ints if ints.null_count() == text.null_count() else parse.parse_text(text)


def read_orders(
    raw: RawTable,
    owners: Owners,
    decimals: int,
) -> tuple[pl.DataFrame, ...]:
    """The orders table, streamed chunk by chunk (see :meth:`RawTable.chunks`): used rows per chunk
    (node, ordered_on, amount, volume, cost, retail).

    Repeated ``order_id`` values are found without hashing when the ids strictly increase through the file
    (the usual export); otherwise the ids are read once more and checked as a whole.
    """
    chunks: list[pl.DataFrame] = []
    increasing = "order_id" in raw.columns
    last: int | None = None
    # A file decodes its order ids again cheaply; a database would run the whole query again, so its ids
    # are kept from this pass (12 bytes an order) in case they turn out not to increase.
    kept: list[pl.DataFrame] | None = [] if increasing and raw.db is not None else None
    for frame in raw.chunks():
        chunks.append(_order_chunk(frame, raw, owners, decimals))
        if kept is not None:
            kept.append(frame.select(ROW, _order_ids(frame).alias("order_id")))
        if increasing and frame.height:
            oid = _order_ids(frame)
            values = oid.to_numpy() if oid.dtype.is_integer() and oid.null_count() == 0 else None
            increasing = values is not None and bool((np.diff(values) > 0).all())
            increasing = increasing and (last is None or int(values[0]) > last)  # type: ignore[index]
            last = int(values[-1]) if values is not None else None
    if "order_id" in raw.columns and not increasing:
        ids = pl.concat(
            kept
            if kept is not None
            else [f.select(ROW, _order_ids(f).alias("order_id")) for f in raw.chunks(columns=("order_id",))],
            how="vertical_relaxed",  # integer ids in one chunk, text in another: compared as text
        )
        dup = ids.filter(~pl.col("order_id").is_first_distinct() & pl.col("order_id").is_not_null())
        if dup.height:
            owners.rejects.add("orders", dup[ROW], "order_id", dup["order_id"], "duplicate order_id")
            chunks = [c.filter(~pl.col(ROW).is_in(dup[ROW].implode())) for c in chunks]
    # Row numbers served the rejects above; nothing after the load needs them (0.4 GB at 100M orders).
    check_totals(raw.label, chunks, ("amount", "volume", "cost"), decimals)
    return tuple(c.drop(ROW) for c in chunks)


def order_date_counts(raw: RawTable) -> pl.DataFrame:
    """How many rows of the orders table fall on each date (``ordered_on``, ``n``), ascending, over every
    readable date in the file: the order dates' distribution in a few thousand rows, read before the rows
    are checked (the window end decides who is in the network). Only the date column is decoded."""
    parts = []
    for frame in raw.chunks(columns=("ordered_on",)):
        days, _ = parse.parse_date(raw.label, frame["ordered_on"], raw.date_format)
        parts.append(days.alias("ordered_on").drop_nulls().to_frame().group_by("ordered_on").len("n"))
    if not parts:
        return pl.DataFrame(schema={"ordered_on": pl.Date, "n": pl.UInt32})
    return pl.concat(parts).group_by("ordered_on").agg(pl.col("n").sum()).sort("ordered_on")


def order_rows_on(raw: RawTable, dates: list[dt.date]) -> dict[dt.date, list[int]]:
    """The orders rows (1-based data rows) dated on each of ``dates``, for an error message that must name
    rows (the loaded orders keep no row numbers)."""
    found: dict[dt.date, list[int]] = {}
    wanted = pl.Series(dates, dtype=pl.Date)
    for frame in raw.chunks(columns=("ordered_on",)):
        days, _ = parse.parse_date(raw.label, frame["ordered_on"], raw.date_format)
        hits = frame.select(ROW).with_columns(days.alias("d")).filter(pl.col("d").is_in(wanted.implode()))
        for day, row in hits.select("d", ROW).iter_rows():
            found.setdefault(day, []).append(int(row))
    return found
