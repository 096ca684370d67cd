"""``mlmroi compare RUN_A RUN_B``: how participants moved between segments from one run to the next.

For each segmentation (ABC, XYZ, RFM segment, lifecycle by default) a migration matrix counts participants
by (value in A, value in B); participants in only one run are counted from ``(new)`` or to ``(gone)``.
The participants behind every cell are listed in ``members`` (written with ``--out``). Any text or
categorical column of participants.parquet, or small integer one (``rfm_r``), can be compared; ids cannot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mlmroi.errors import InputError

DEFAULT_SEGMENTATIONS = ("abc", "xyz", "rfm_segment", "lifecycle")
NEW, GONE = "(new)", "(gone)"
PARTICIPANTS = "participants.parquet"
ID = "participant_id"
IDS = frozenset({ID, "sponsor_id"})
SMALL_INTEGERS = (pl.Int8, pl.Int16, pl.UInt8, pl.UInt16)
#: What reading a damaged parquet file raises (a corrupt page can even panic inside polars).
PARQUET_ERRORS = (OSError, pl.exceptions.PolarsError, pl.exceptions.PanicException)


@dataclass(frozen=True)
class Comparison:
    """``migrations``: segmentation, from, to, participants; ``members``: segmentation, from, to, id."""

    migrations: pl.DataFrame
    members: pl.DataFrame
    orders: dict[str, list[str]]  # per segmentation: (new), its values in their order, (gone)

    def matrix(self, segmentation: str) -> pl.DataFrame:
        """One segmentation as a from × to table of counts, rows and columns in value order; a row or
        column appears when it has participants (``(new)`` / ``(gone)`` only then)."""
        cells = self.migrations.filter(pl.col("segmentation") == segmentation)
        order = self.orders[segmentation]
        rows = [v for v in order if v in set(cells["from"])]
        columns = [v for v in order if v in set(cells["to"])]
        counts = {(f, t): c for f, t, c in cells.select("from", "to", "participants").iter_rows()}
        data: dict[str, list[object]] = {"from": list(rows)}
        for column in columns:
            data[column] = [counts.get((row, column), 0) for row in rows]
        return pl.DataFrame(data)


def run_table_schema(path: Path, columns: tuple[str, ...]) -> dict[str, pl.DataType]:
    """The schema of one of a run's parquet tables, which must hold ``columns``; any problem (missing,
    truncated or not parquet, a column missing) is an :class:`InputError` naming the file."""
    if not path.is_file():
        raise InputError(f"{path.parent}: no {path.name} (is this the output folder of `mlmroi score`?)")
    try:
        schema = pl.read_parquet_schema(path)
    except PARQUET_ERRORS as exc:
        raise InputError(_unreadable(path, exc)) from None
    missing = [c for c in columns if c not in schema]
    if missing:
        raise InputError(
            f"{path}: no column(s) {', '.join(missing)} (written by another mlmroi version or edited; "
            "re-run `mlmroi score`)"
        )
    return schema


def read_run_table(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    """``columns`` of a run's parquet table (checked with :func:`run_table_schema` first); a file damaged
    past its footer is an :class:`InputError` naming it."""
    try:
        return pl.read_parquet(path, columns=list(columns))
    except PARQUET_ERRORS as exc:
        raise InputError(_unreadable(path, exc)) from None


def _unreadable(path: Path, exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    reason = lines[0] if lines else type(exc).__name__
    return f"{path}: not a readable parquet file ({reason}); damaged or truncated, re-run `mlmroi score`"


def dtype_kind(dtype: pl.DataType) -> str:
    """A column type's kind (text, integer, decimal, else its name): what two runs must agree on."""
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "text"
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    return "integer" if dtype.is_integer() else str(dtype)


def _is_segmentation(name: str, dtype: pl.DataType) -> bool:
    """Text and categorical columns and small integers (``rfm_r``) segment participants; ids do not."""
    return name not in IDS and (dtype_kind(dtype) == "text" or dtype in SMALL_INTEGERS)


def _check_segmentations(path: Path, schema: dict[str, pl.DataType], segmentations: tuple[str, ...]) -> None:
    """Each name is a segmentation column of the run, or an :class:`InputError` listing those it has."""
    available = ", ".join(c for c, dtype in schema.items() if _is_segmentation(c, dtype)) or "none"
    if not segmentations:
        raise InputError(f"no segmentation to compare; {path} has: {available}")
    for name in segmentations:
        if name in schema and _is_segmentation(name, schema[name]):
            continue
        if name in IDS:
            problem = f"{name!r} is an id, not a segmentation"
        elif name in schema:
            problem = f"{name!r} is a {schema[name]} column, not a segmentation"
        elif name in DEFAULT_SEGMENTATIONS:
            problem = f"no column {name!r} (an older mlmroi wrote this run; re-run `mlmroi score`)"
        else:
            problem = f"no column {name!r}"
        raise InputError(f"{path}: {problem}; available segmentations: {available}")


def compare(
    run_a: str | Path, run_b: str | Path, segmentations: tuple[str, ...] = DEFAULT_SEGMENTATIONS
) -> Comparison:
    """Migration matrices between two runs (see the module docstring)."""
    segmentations = tuple(dict.fromkeys(segmentations))
    path_a, path_b = Path(run_a) / PARTICIPANTS, Path(run_b) / PARTICIPANTS
    schema_a, schema_b = run_table_schema(path_a, (ID,)), run_table_schema(path_b, (ID,))
    _check_segmentations(path_a, schema_a, segmentations)
    _check_segmentations(path_b, schema_b, segmentations)
    if schema_a[ID] != schema_b[ID]:
        raise InputError("the two runs have different participant id types (integer vs text)")
    for name in segmentations:
        kind_a, kind_b = dtype_kind(schema_a[name]), dtype_kind(schema_b[name])
        if kind_a != kind_b:
            raise InputError(
                f"{path_b}: {name!r} is {kind_b} but {kind_a} in {path_a} "
                "(runs of different mlmroi versions or edited; re-run `mlmroi score`)"
            )
    a = read_run_table(path_a, (ID, *segmentations))
    b = read_run_table(path_b, (ID, *segmentations))
    # Each side's columns by position: a segmentation's name never collides with the other side's.
    both = a.select(ID, *[pl.col(n).alias(f"a{k}") for k, n in enumerate(segmentations)]).join(
        b.select(ID, *[pl.col(n).alias(f"b{k}") for k, n in enumerate(segmentations)]),
        on=ID,
        how="full",
        coalesce=True,
    )
    migrations, members, orders = [], [], {}
    for i, name in enumerate(segmentations):
        order = _value_order(a[name], b[name])
        cells = both.select(
            pl.lit(name).alias("segmentation"),
            pl.col(f"a{i}").cast(pl.String).fill_null(NEW).alias("from"),
            pl.col(f"b{i}").cast(pl.String).fill_null(GONE).alias("to"),
            ID,
        )
        orders[name] = [NEW, *order, GONE]
        rank = {value: k for k, value in enumerate(orders[name])}
        keyed = cells.with_columns(
            pl.col("from").replace_strict(rank, return_dtype=pl.Int32).alias("_f"),
            pl.col("to").replace_strict(rank, return_dtype=pl.Int32).alias("_t"),
        )
        members.append(keyed.sort("_f", "_t", ID).drop("_f", "_t"))
        counts = keyed.group_by("segmentation", "from", "to", "_f", "_t").agg(pl.len().alias("participants"))
        migrations.append(counts.sort("_f", "_t").drop("_f", "_t"))
    return Comparison(
        pl.concat(migrations).with_columns(pl.col("participants").cast(pl.Int64)), pl.concat(members), orders
    )


def _value_order(first: pl.Series, second: pl.Series) -> list[str]:
    """Values in their defined order (Enum categories), else sorted."""
    for column in (first, second):
        if isinstance(column.dtype, pl.Enum):
            values = column.dtype.categories.to_list()
            extra = sorted(set(first.cast(pl.String).drop_nulls()) | set(second.cast(pl.String).drop_nulls()))
            return values + [v for v in extra if v not in values]
    return sorted(set(first.cast(pl.String).drop_nulls()) | set(second.cast(pl.String).drop_nulls()))
