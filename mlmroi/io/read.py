"""Finding, reading and column-mapping the tables of a dataset folder; structural checks.

Structural problems (a missing or unreadable file, a missing required column, a column of the wrong type as
a whole) raise :class:`~mlmroi.errors.InputError` with one line per problem. Row problems are not decided
here: :mod:`mlmroi.io.parse` turns each cell into a value or a reject.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mlmroi.errors import InputError

ROW = "__row"  # 1-based data row number of the source file

REQUIRED: dict[str, tuple[str, ...]] = {
    "participants": ("participant_id", "sponsor_id", "joined_on"),
    "orders": ("participant_id", "ordered_on", "amount"),
    "costs": ("participant_id", "incurred_on", "category", "amount"),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "participants": ("role", "left_on"),
    "orders": ("order_id", "volume", "cost", "retail"),
    "costs": ("payer", "filter_column", "filter_value"),
}
MANDATORY_TABLES = ("participants", "orders")


@dataclass(frozen=True)
class RawTable:
    """One table as read: every column, ``__row`` added, columns renamed to the contract's names."""

    name: str
    path: Path
    frame: pl.DataFrame

    @property
    def label(self) -> str:
        """The file name, for messages (``orders.csv``)."""
        return self.path.name


def find_table(dataset: Path, name: str) -> Path | None:
    """``NAME.parquet`` or ``NAME.csv`` in the dataset folder (not both)."""
    found = [dataset / f"{name}.{ext}" for ext in ("parquet", "csv") if (dataset / f"{name}.{ext}").is_file()]
    if len(found) > 1:
        raise InputError(f"{dataset}: both {name}.parquet and {name}.csv exist; keep one")
    return found[0] if found else None


def _read_file(path: Path) -> pl.DataFrame:
    try:
        if path.suffix == ".csv":
            # Everything as text: each cell is parsed (and rejected with its reason) by mlmroi.io.parse.
            return pl.read_csv(path, infer_schema=False, encoding="utf8", raise_if_empty=False)
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path.name}: cannot read file ({detail})") from None


def read_table(dataset: Path, name: str, mapping: dict[str, str]) -> RawTable | None:
    """Read one table, apply the ``[columns.NAME]`` mapping and check its required columns."""
    path = find_table(dataset, name)
    if path is None:
        if name in MANDATORY_TABLES:
            raise InputError(f"{dataset}: missing required table {name} ({name}.csv or {name}.parquet)")
        return None
    frame = _read_file(path)
    problems = []
    missing_sources = [src for src in mapping if src not in frame.columns]
    problems += [
        f"{path.name}: column {src!r} named in [columns.{name}] is not in the file" for src in missing_sources
    ]
    rename = {src: dst for src, dst in mapping.items() if src in frame.columns}
    clashes = [dst for src, dst in rename.items() if dst in frame.columns and dst not in rename]
    problems += [
        f"{path.name}: [columns.{name}] maps onto {dst!r}, which the file already has" for dst in clashes
    ]
    if problems:
        raise InputError(problems)
    frame = frame.rename(rename)
    missing = [col for col in REQUIRED[name] if col not in frame.columns]
    if missing:
        raise InputError([f"{path.name}: missing required column {col!r}" for col in missing])
    frame = frame.with_row_index(ROW, offset=1)  # UInt32: 4 bytes a row; rejects widen it to Int64
    return RawTable(name=name, path=path, frame=frame)


def fingerprint(path: Path) -> str:
    """sha256 of a file's bytes (recorded in run.json so a run can be tied to its inputs)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
