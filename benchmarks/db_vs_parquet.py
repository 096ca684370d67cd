"""``score`` from PostgreSQL and from Parquet, side by side: the same synthetic dataset in both.

    python -m benchmarks.db_vs_parquet --participants 1000000 --repeat 3

The Parquet dataset is ``end_to_end``'s cached one (generated when missing). Its tables are loaded into a
throwaway PostgreSQL server (``tests/servers.py``; ``MLMROI_TEST_PG_URI`` to use your own) as a back office
holds them: money as NUMERIC(14, 2), the orders keyed by ``order_id``; loading is timed but not compared.
The database run's folder holds only ``mlmroi.toml`` with a ``[source]`` section. Each run is a fresh
``mlmroi score`` process, one untimed warm-up first; reported: median wall time, the ``reading and
validating`` stage, peak memory (of the mlmroi process: the server's own work is not in it) and the
PostgreSQL / Parquet ratio (target: at most 2). Both runs must agree on run.json's totals. Writes
``benchmarks/results/db_vs_parquet_<N>.md``.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from benchmarks._common import DATA_DIR, machine_md, md_table, median, scale_args, text_table, write_result
from benchmarks.end_to_end import dataset, side_by_side

MONEY = ("amount", "volume", "cost")


def load(uri: str, folder: Path) -> dict[str, str]:
    """Every Parquet table of ``folder`` into PostgreSQL as ``bench_<name>``; the [source.tables] map."""
    import adbc_driver_postgresql.dbapi as adbc

    tables = {}
    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        for path in sorted(folder.glob("*.parquet")):
            frame = pl.read_parquet(path)
            frame = frame.with_columns(
                [pl.col(c).cast(pl.Decimal(14, 2)) for c in MONEY if c in frame.columns]
            )
            table = f"bench_{path.stem}"
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.adbc_ingest(table, frame.to_arrow(), mode="create")
            # adbc_ingest creates NUMERIC without a declared precision and scale; a back office declares them
            for column in (c for c in MONEY if c in frame.columns):
                cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE NUMERIC(14, 2)")
            if path.stem == "orders":  # and keys its orders
                cursor.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (order_id)")
            tables[path.stem] = table
        connection.commit()
    return tables


def source_folder(folder: Path, uri: str, tables: dict[str, str]) -> Path:
    """A folder holding only the dataset's mlmroi.toml plus a [source] section."""
    target = DATA_DIR / f"{folder.name}_pg"
    target.mkdir(parents=True, exist_ok=True)
    names = "".join(f'{name} = "{table}"\n' for name, table in tables.items())
    text = (folder / "mlmroi.toml").read_text() + f'\n[source]\nuri = "{uri}"\n[source.tables]\n{names}'
    (target / "mlmroi.toml").write_text(text)
    return target


def fetch_floor(uri: str, tables: dict[str, str], repeat: int, say: Callable[[str], None]) -> float:
    """Median seconds to stream every table through the SELECT a run sends for it (mlmroi.io.database,
    the run's projection), nothing else done with the rows: what reading them from this server costs at
    least."""
    from mlmroi.io.database import open_db_table
    from mlmroi.io.read import db_table

    seconds = []
    for _ in range(repeat):
        began = time.perf_counter()
        rows = 0
        for name, table in tables.items():
            opened = open_db_table(name, table, uri, None, 2, {})
            db_table(opened, {})  # the run's projection: only the columns it reads
            rows += sum(frame.height for frame in opened.batches())
        seconds.append(time.perf_counter() - began)
        say(f"fetched {rows:,} rows of {len(tables)} tables in {seconds[-1]:.2f} s")
    return median(seconds)


def main(argv: list[str] | None = None) -> int:
    args, n, max_rss = scale_args("db_vs_parquet", __doc__, argv)

    def say(msg: str) -> None:
        print(f"[db_vs_parquet {n:,}] {msg}", flush=True)

    from tests.servers import postgres

    folder, info = dataset(n, args.seed, False, max_rss, say)
    with postgres() as uri:
        began = time.perf_counter()
        tables = load(uri, folder)
        say(f"loaded into PostgreSQL in {time.perf_counter() - began:.1f} s")
        sources = {"parquet": folder, "postgresql": source_folder(folder, uri, tables)}
        rows, totals, walls, readings = side_by_side(sources, n, args.repeat, max_rss, say)
        fetch = fetch_floor(uri, tables, args.repeat, say)
    if totals["postgresql"] != totals["parquet"]:
        sys.exit("the PostgreSQL and Parquet runs disagree on run.json totals")
    ratio = walls["postgresql"] / walls["parquet"]
    floor = (walls["parquet"] - readings["parquet"] + fetch) / walls["parquet"]
    headers = ["source", "median wall", "reading and validating", "peak RSS", "runs (s)"]
    print(text_table(headers, rows))
    print(f"PostgreSQL / Parquet end to end: {ratio:.2f}x (target ≤ 2x)")
    floor_line = (
        f"Every table fetched as a run sends it, nothing else done with the rows: {fetch:.2f} s; "
        f"the Parquet run with that in place of its reading: {floor:.2f}× — the floor on this machine."
    )
    print(floor_line)
    text = (
        f"# score from PostgreSQL vs Parquet, {n:,} participants, {info['orders']:,} orders\n\n"
        + md_table(headers, rows)
        + f"\n\nPostgreSQL / Parquet end to end: **{ratio:.2f}×** (target ≤ 2×); "
        f"identical run.json totals.\n\n{floor_line}\n\n" + machine_md()
    )
    say(f"wrote {write_result(f'db_vs_parquet_{n}.md', text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
