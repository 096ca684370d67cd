"""The rejects table: every row that is not used, with file, 1-based row, column, value and reason."""

from __future__ import annotations

import polars as pl

SCHEMA = {"table": pl.String, "row": pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String}
TABLE_ORDER = ("participants", "orders", "costs", "commissions")


class Rejects:
    """Collects reject lines; a row may have several problems (one line each), counted once."""

    def __init__(self) -> None:
        self._frames: list[pl.DataFrame] = []

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
