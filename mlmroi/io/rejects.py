"""The ledger of rows not used: the rejects table (every bad row, with file, 1-based row, column, value and
reason) and the rows left out because their participant joined after the window end (counted, not rejected:
nothing is wrong with them)."""

from __future__ import annotations

import polars as pl

SCHEMA = {"table": pl.String, "row": pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}
TABLE_ORDER = ("participants", "orders", "costs", "commissions")


class Rejects:
    """Collects reject lines; a row may have several problems (one line each), counted once."""

    def __init__(self) -> None:
        self._frames: list[pl.DataFrame] = []
        self._after: dict[str, list[pl.Series]] = {}

    def after_window(self, table: str, rows: pl.Series) -> None:
        """Rows (1-based) left out because their participant joined after the window end."""
        if rows.len():
            self._after.setdefault(table, []).append(rows.cast(pl.Int64))

    def rows_after_window(self) -> dict[str, int]:
        """Per table, the rows left out as joined after the window end and not rejected for a problem of
        their own (a bad row is a reject whoever it belongs to)."""
        out = {}
        for table, parts in self._after.items():
            rows = pl.concat(parts).unique().to_frame("row")
            rejected = [f.filter(pl.col("table") == table).select("row") for f in self._frames]
            if rejected:
                rows = rows.join(pl.concat(rejected), on="row", how="anti")
            out[table] = rows.height
        return out

    def add(
        self, table: str, rows: pl.Series, column: str, values: pl.Series | None, reason: str | pl.Series
    ) -> None:
        """Add one line per row in ``rows`` (all Series aligned)."""
        if rows.len() == 0:
            return
        value = (
            values.cast(pl.String) if values is not None else pl.Series([None] * rows.len(), dtype=pl.String)
        )
        reasons = (
            reason if isinstance(reason, pl.Series) else pl.Series([reason] * rows.len(), dtype=pl.String)
        )
        self._frames.append(
            pl.DataFrame(
                {
                    "table": pl.Series([table] * rows.len(), dtype=pl.String),
                    "row": rows.cast(pl.Int64),
                    "column": pl.Series([column] * rows.len(), dtype=pl.String),
                    "value": value,
                    "reason": reasons.cast(pl.String),
                }
            )
        )

    def add_masked(
        self, table: str, frame: pl.DataFrame, mask: pl.Series, column: str, reason: str | pl.Series
    ) -> None:
        """Add a line for each row of ``frame`` where ``mask`` is true (value taken from ``column``)."""
        if not bool(mask.any()):
            return
        picked = frame.filter(mask)
        values = picked[column] if column in picked.columns else None
        reasons = reason.filter(mask) if isinstance(reason, pl.Series) else reason
        self.add(table, picked["__row"], column, values, reasons)

    def frame(self) -> pl.DataFrame:
        """All lines, sorted by table (participants, orders, costs, …), row and column."""
        if not self._frames:
            return pl.DataFrame(schema=SCHEMA)
        order = {name: i for i, name in enumerate(TABLE_ORDER)}
        frame = pl.concat(self._frames)
        rank = frame["table"].replace_strict(order, default=len(order), return_dtype=pl.Int32)
        return (
            frame.with_columns(rank.alias("__t")).sort("__t", "table", "row", "column", "reason").drop("__t")
        )

    def rows_rejected(self) -> dict[str, int]:
        """Distinct rejected rows per table (one pass over all lines)."""
        if not self._frames:
            return {}
        counts = pl.concat(self._frames).group_by("table").agg(pl.col("row").n_unique())
        return {table: int(count) for table, count in counts.iter_rows()}

    def __len__(self) -> int:
        return sum(f.height for f in self._frames)
