"""Finding, reading and column-mapping the tables of a dataset folder; structural checks.

Structural problems (a missing or unreadable file, a missing required column, a column of the wrong type as
a whole) raise :class:`~mlmroi.errors.InputError` with one line per problem. Row problems are not decided
here: :mod:`mlmroi.io.parse` turns each cell into a value or a reject.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from mlmroi.errors import InputError
from mlmroi.io.csv import CsvOptions, CsvText, read_csv_text
from mlmroi.io.database import DbColumn, DbTable

ROW = "__row"  # 1-based data row number of the source file

REQUIRED: dict[str, tuple[str, ...]] = {
    "participants": ("participant_id", "sponsor_id", "joined_on"),
    "orders": ("participant_id", "ordered_on", "amount"),
    "costs": ("participant_id", "incurred_on", "category", "amount"),
    "commissions": ("participant_id", "paid_on", "amount"),
    "events": ("participant_id", "occurred_on", "type"),
    "leads": ("lead_id", "brand", "attractiveness", "closeness"),
    # the warehouse path: orders pre-aggregated by mlmroi.io.warehouse's SQL, read in place of orders
    "order_periods": (
        "participant_id",
        "period_start",
        "orders",
        "amount_minor",
        "volume_minor",
        "margin_minor",
        "retail_minor",
        "purchase_days",
        "first_purchase_on",
        "first_purchase_minor",
        "last_purchase_on",
        "made_for",
    ),
    "order_history": ("participant_id", "first_order_on", "last_purchase_before", "since"),
}
MANDATORY_TABLES = ("participants", "orders")
#: the optional columns each table's reader uses (participants keep every column: attributes)
OPTIONAL: dict[str, tuple[str, ...]] = {
    "orders": ("order_id", "volume", "cost", "retail"),
    "costs": ("payer", "filter_column", "filter_value"),
    "commissions": ("component",),
    "events": ("value",),
    "leads": (),
}


def used_columns(name: str) -> frozenset[str] | None:
    """The contract columns the run reads of table ``name`` (None: all of them, as for participants)."""
    if name not in OPTIONAL:
        return None
    return frozenset(REQUIRED[name]) | frozenset(OPTIONAL[name])


CHUNK_ROWS = 4_000_000  # rows per streamed chunk of a large table


@dataclass(frozen=True, eq=False)
class RawTable:
    """One table: columns renamed to the contract's names, rows numbered 1.. in ``__row`` (UInt32).

    CSV files are read whole (as text). Parquet files are opened and checked here but read only when asked,
    whole (:meth:`frame`) or as a stream of row batches (:meth:`chunks`), so a large orders table never has
    to sit in memory twice (as read and as parsed).
    """

    name: str
    path: Path
    rename: dict[str, str]
    columns: tuple[str, ...]
    rows: int
    csv: CsvText | None = None  # the whole CSV file, when the source is CSV
    db: DbTable | None = None  # the database table, when the source is a database
    memory: pl.DataFrame | None = None  # a table made in memory (a per-participant summary of orders)
    row_groups: tuple[int, ...] | None = None  # Parquet: read only these row groups (a pushdown)
    not_read: int = 0  # rows a pushdown leaves unread (Parquet row groups, rows a database filter keeps)

    @property
    def minor_units(self) -> frozenset[str]:
        """Money columns that arrive as exact integer minor units (from a database), not as amounts."""
        return frozenset() if self.db is None else self.db.minor_units

    @property
    def text(self) -> pl.DataFrame | None:
        """The CSV file's rows as text (ragged rows left out), or None for Parquet."""
        return None if self.csv is None else self.csv.frame

    @property
    def ragged(self) -> dict[int, int]:
        """CSV rows with the wrong number of fields (row -> fields), left out of the table."""
        return {} if self.csv is None else self.csv.ragged

    @property
    def date_format(self) -> str | None:
        """The dates' strftime format in a CSV file (None: YYYY-MM-DD)."""
        return None if self.csv is None else self.csv.options.date_format

    @property
    def decimal_comma(self) -> bool | None:
        """``[input] decimal`` for a CSV file: True ',' / False '.' / None detect (Parquet: False)."""
        return False if self.csv is None else self.csv.options.decimal_comma

    @property
    def separator(self) -> str | None:
        """The CSV separator (None for Parquet)."""
        return None if self.csv is None else self.csv.separator

    @property
    def label(self) -> str:
        """For messages: the file name (``orders.csv``) or the database table (``orders (postgres table
        sales.orders)``)."""
        return self.path.name if self.db is None else self.db.label

    def _number(self, frame: pl.DataFrame, offset: int) -> pl.DataFrame:
        # A chunk may hold a few columns only (the window's inference reads the dates alone).
        frame = frame.rename(self.rename, strict=False)
        kept = None if self.csv is None else self.csv.kept
        if kept is None:
            return frame.with_row_index(ROW, offset=offset + 1)
        rows = pl.Series(ROW, kept[offset : offset + frame.height], dtype=pl.UInt32)
        return frame.select(rows, pl.all())

    def frame(self) -> pl.DataFrame:
        """The whole table."""
        if self.memory is not None:
            return self._number(self.memory, 0)
        if self.db is not None:
            return pl.concat(list(self.chunks()), how="vertical_relaxed")
        if self.text is not None:
            return self._number(self.text, 0)
        try:
            return self._number(pl.read_parquet(self.path), 0)
        except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
            raise InputError(f"{self.label}: cannot read file ({first_line(exc)})") from None

    def chunks(
        self, size: int | None = None, columns: tuple[str, ...] | None = None
    ) -> Iterator[pl.DataFrame]:
        """The table as consecutive slices of about ``size`` rows (row numbers continue across them); only
        ``columns`` (contract names) when given: a Parquet file then decodes no other column."""
        size = size or CHUNK_ROWS
        if self.db is not None:  # the SELECT already names the columns by the contract
            start = 0
            for rows in self.db.batches(columns, size):
                yield self._number(rows, start)
                start += rows.height
            return
        sources = None if columns is None else [self.source_name(c) for c in columns]
        if self.text is not None:
            text = self.text if sources is None else self.text.select(sources)
            for offset in range(0, max(text.height, 1), size):
                yield self._number(text.slice(offset, size), offset)
            return
        if self.memory is not None:
            memory = self.memory if sources is None else self.memory.select(sources)
            yield self._number(memory, 0)
            return
        read = 0
        try:
            parquet = pq.ParquetFile(self.path)
            for group, offset in self._groups(parquet):
                for batch in parquet.iter_batches(batch_size=size, columns=sources, row_groups=group):
                    frame = pl.from_arrow(batch)
                    assert isinstance(frame, pl.DataFrame)
                    yield self._number(frame, offset)
                    offset += frame.height
                    read += frame.height
        except (pl.exceptions.PolarsError, OSError, ValueError, pa.ArrowException) as exc:
            raise InputError(f"{self.label}: cannot read file ({first_line(exc)})") from None
        if read == 0:  # an empty file (or no row group to read) still has its columns
            yield self._number(pl.read_parquet(self.path, columns=sources, n_rows=0), 0)

    def _groups(self, parquet: pq.ParquetFile) -> Iterator[tuple[list[int] | None, int]]:
        """The row groups to read, each with the file row number of its first row (all at once when every
        group is read)."""
        if self.row_groups is None:
            yield None, 0
            return
        starts = [0]
        for g in range(parquet.metadata.num_row_groups):
            starts.append(starts[-1] + parquet.metadata.row_group(g).num_rows)
        for g in self.row_groups:
            yield [g], starts[g]

    def source_name(self, column: str) -> str:
        """The file's name of a contract column."""
        return next((src for src, dst in self.rename.items() if dst == column), column)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def find_table(dataset: Path, name: str) -> Path | None:
    """``NAME.parquet`` or ``NAME.csv`` in the dataset folder (not both)."""
    found = [dataset / f"{name}.{ext}" for ext in ("parquet", "csv") if (dataset / f"{name}.{ext}").is_file()]
    if len(found) > 1:
        raise InputError(f"{dataset}: both {name}.parquet and {name}.csv exist; keep one")
    return found[0] if found else None


def _open(path: Path, options: CsvOptions) -> tuple[list[str], int, CsvText | None]:
    """Column names, row count and (for CSV) the text of a table file."""
    try:
        if path.suffix == ".csv":
            # Everything as text: each cell is parsed (and rejected with its reason) by mlmroi.io.parse.
            text = read_csv_text(path, options)
            return text.frame.columns, text.rows, text
        meta = pq.ParquetFile(path)
        return list(meta.schema_arrow.names), meta.metadata.num_rows, None
    except (pl.exceptions.PolarsError, OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{path.name}: cannot read file ({first_line(exc)})") from None


def read_table(
    dataset: Path,
    name: str,
    mapping: dict[str, str],
    options: CsvOptions | None = None,
    required: bool | None = None,
) -> RawTable | None:
    """Open one table, check the ``[columns.NAME]`` mapping and its required columns (``required``: must
    the table exist; default: when it is one of :data:`MANDATORY_TABLES`)."""
    path = find_table(dataset, name)
    if path is None:
        if name in MANDATORY_TABLES if required is None else required:
            raise InputError(f"{dataset}: missing required table {name} ({name}.csv or {name}.parquet)")
        return None
    columns, rows, text = _open(path, options or CsvOptions())
    problems = []
    missing_sources = [src for src in mapping if src not in columns]
    problems += [
        f"{path.name}: column {src!r} named in [columns.{name}] is not in the file" for src in missing_sources
    ]
    rename = {src: dst for src, dst in mapping.items() if src in columns}
    clashes = [dst for src, dst in rename.items() if dst in columns and dst not in rename]
    problems += [
        f"{path.name}: [columns.{name}] maps onto {dst!r}, which the file already has" for dst in clashes
    ]
    if problems:
        raise InputError(problems)
    renamed = tuple(rename.get(c, c) for c in columns)
    missing = [col for col in REQUIRED[name] if col not in renamed]
    if missing:
        raise InputError([f"{path.name}: missing required column {col!r}" for col in missing])
    return RawTable(name=name, path=path, rename=rename, columns=renamed, rows=rows, csv=text)


def db_table(table: DbTable, mapping: dict[str, str]) -> RawTable:
    """A database table as a :class:`RawTable` (its SELECT already renames ``mapping``'s columns), with the
    same structural checks as a file: mapped columns exist, required columns are there."""
    names = [c.source for c in table.columns]
    used = used_columns(table.name)
    if used is not None:  # projection: a column the run never reads is not sent at all
        table.columns = [c for c in table.columns if c.name in used and not _guaranteed(table.name, c)]
    problems = [
        f"{table.label}: column {src!r} named in [columns.{table.name}] is not in the source"
        for src in mapping
        if src not in names
    ]
    if problems:
        raise InputError(problems)
    columns = tuple(c.name for c in table.columns)
    missing = [col for col in REQUIRED[table.name] if col not in columns]
    if missing:
        raise InputError([f"{table.label}: missing required column {col!r}" for col in missing])
    return RawTable(
        name=table.name, path=Path(table.name), rename={}, columns=columns, rows=table.rows, db=table
    )


def _guaranteed(table: str, column: DbColumn) -> bool:
    """A column read only to check that no value repeats, which the database guarantees (a unique index or
    primary key on it): orders' ``order_id``. It is not sent."""
    return table == "orders" and column.name == "order_id" and column.unique


def fingerprint(path: Path) -> str:
    """sha256 of a file's bytes (recorded in run.json so a run can be tied to its inputs)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
