"""``mlmroi compare RUN_A RUN_B``: how participants moved between segments from one run to the next.

For each segmentation (ABC, XYZ, RFM segment, lifecycle by default) a migration matrix counts participants
by (value in A, value in B); participants in only one run are counted from ``(new)`` or to ``(gone)``.
The participants behind every cell are listed in ``members`` (written with ``--out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mlmroi.errors import InputError

DEFAULT_SEGMENTATIONS = ("abc", "xyz", "rfm_segment", "lifecycle")
NEW, GONE = "(new)", "(gone)"


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


def _read(run_dir: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    path = run_dir / "participants.parquet"
    if not path.is_file():
        raise InputError(f"{run_dir}: no participants.parquet (is this the output folder of `mlmroi score`?)")
    names = pl.read_parquet_schema(path)
    missing = [c for c in columns if c not in names]
    if missing:
        raise InputError(f"{path}: no column(s) {', '.join(missing)} (run `mlmroi score` with this version)")
    return pl.read_parquet(path, columns=["participant_id", *columns])


def compare(
    run_a: str | Path, run_b: str | Path, segmentations: tuple[str, ...] = DEFAULT_SEGMENTATIONS
) -> Comparison:
    """Migration matrices between two runs (see the module docstring)."""
    a, b = _read(Path(run_a), segmentations), _read(Path(run_b), segmentations)
    if a["participant_id"].dtype != b["participant_id"].dtype:
        raise InputError("the two runs have different participant id types (integer vs text)")
    both = a.join(b, on="participant_id", how="full", coalesce=True, suffix="_b")
    migrations, members, orders = [], [], {}
    for name in segmentations:
        order = _value_order(a[name], b[name])
        cells = both.select(
            pl.lit(name).alias("segmentation"),
            pl.col(name).cast(pl.String).fill_null(NEW).alias("from"),
            pl.col(f"{name}_b").cast(pl.String).fill_null(GONE).alias("to"),
            "participant_id",
        )
        orders[name] = [NEW, *order, GONE]
        rank = {value: k for k, value in enumerate(orders[name])}
        keyed = cells.with_columns(
            pl.col("from").replace_strict(rank, return_dtype=pl.Int32).alias("_f"),
            pl.col("to").replace_strict(rank, return_dtype=pl.Int32).alias("_t"),
        )
        members.append(keyed.sort("_f", "_t", "participant_id").drop("_f", "_t"))
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
