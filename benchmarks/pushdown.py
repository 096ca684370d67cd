"""Pushdown's saving: one year scored out of five years of orders, with and without pushdown, from Parquet
and from PostgreSQL.

    python -m benchmarks.pushdown --participants 200000 --repeat 3

A synthetic dataset with 60 months of orders (2021–2025, Parquet sorted by date as the generator writes
it) is generated once and cached; its tables are loaded into a throwaway PostgreSQL (``tests/servers.py``;
``MLMROI_TEST_PG_URI`` to use your own), money as NUMERIC(14, 2). Each source is scored over 2025 with
``[input] pushdown`` on and off, in fresh ``mlmroi score`` processes (one untimed warm-up each). Reported
per run: order rows read and not read (run.json), median wall time, the ``reading and validating`` stage,
peak memory of the mlmroi process, and the on / off ratio. With and without pushdown the runs must agree on
run.json's totals. Writes ``benchmarks/results/pushdown_<N>.md``.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from benchmarks._common import (
    DATA_DIR,
    fmt_s,
    machine_md,
    md_table,
    median,
    scale_args,
    text_table,
    write_result,
)
from benchmarks._process import run_child
from benchmarks.db_vs_parquet import load
from benchmarks.end_to_end import gib, score_once

GENERATE = """
import json, sys, time, datetime as dt
from mlmroi.synth import generate
began = time.perf_counter()
s = generate(sys.argv[1], int(sys.argv[2]), months=60, seed=int(sys.argv[3]), fmt="parquet",
             start=dt.date(2021, 1, 1))
print(json.dumps({"orders": s.orders, "seconds": time.perf_counter() - began}))
"""
WINDOW = '[window]\nstart = 2025-01-01\nend = 2025-12-31\nperiod = "month"\n'


def five_years(n: int, seed: int, max_rss: int, say) -> tuple[Path, int]:  # type: ignore[no-untyped-def]
    folder = DATA_DIR / f"synth5y_{n}_s{seed}"
    marker = folder / ".complete.json"
    if not marker.is_file():
        say(f"generating {n:,} participants × 60 months into {folder}")
        child = run_child(
            [sys.executable, "-c", GENERATE, str(folder), str(n), str(seed)], DATA_DIR / "logs", max_rss
        )
        if child.code != 0:
            sys.exit(child.stderr[-3000:])
        regroup(folder / "orders.parquet")
        marker.write_text(child.stdout.strip().splitlines()[-1])
    info = json.loads(marker.read_text())
    return folder, int(info["orders"])


def regroup(path: Path, rows: int = 1 << 20) -> None:
    """Rewrite a Parquet file in row groups of ``rows`` (pyarrow's default, as a company's export has them;
    the generator writes one group per 4M-order slice), streaming."""
    import pyarrow.parquet as pq

    source = pq.ParquetFile(path)
    target = path.with_suffix(".regroup")
    with pq.ParquetWriter(target, source.schema_arrow, compression="zstd") as writer:
        for batch in source.iter_batches(batch_size=rows):
            writer.write_batch(batch, row_group_size=rows)
    target.replace(path)


def config(folder: Path, target: Path, pushdown: bool, source: str = "") -> Path:
    """The dataset's config scored over 2025 (pushdown on or off; a [source] section when given)."""
    text = (folder / "mlmroi.toml").read_text()
    text = re.sub(r"\[window\]\n(?:[a-z]+ = .*\n)+", WINDOW, text)
    text += f"\n[input]\npushdown = {'true' if pushdown else 'false'}\n" + source
    target.write_text(text)
    return target


def main(argv: list[str] | None = None) -> int:
    args, n, max_rss = scale_args("pushdown", __doc__, argv, 200_000)

    def say(msg: str) -> None:
        print(f"[pushdown {n:,}] {msg}", flush=True)

    from tests.servers import postgres

    folder, orders = five_years(n, args.seed, max_rss, say)
    empty = DATA_DIR / f"synth5y_{n}_pg"
    empty.mkdir(exist_ok=True)
    rows, walls, totals = [], {}, {}
    with postgres() as uri:
        began = time.perf_counter()
        tables = load(uri, folder)
        say(f"loaded into PostgreSQL in {time.perf_counter() - began:.1f} s")
        names = "".join(f'{name} = "{table}"\n' for name, table in tables.items())
        source = f'\n[source]\nuri = "{uri}"\n[source.tables]\n{names}'
        for kind, data, extra in (("parquet", folder, ""), ("postgresql", empty, source)):
            for pushdown in (False, True):
                label = f"{kind}, pushdown {'on' if pushdown else 'off'}"
                cfg = config(folder, DATA_DIR / f"pushdown_{kind}_{pushdown}.toml", pushdown, extra)
                out = DATA_DIR / f"out_pushdown_{kind}_{n}"
                score_once("cli", data, out, DATA_DIR / "logs", max_rss, cfg)  # warm-up
                runs = []
                for k in range(args.repeat):
                    child = score_once("cli", data, out, DATA_DIR / "logs", max_rss, cfg)
                    if child.killed or child.code != 0:
                        sys.exit(f"{label}: exit code {child.code}\n{child.stderr[-3000:]}")
                    runs.append(child)
                    say(f"{label} run {k + 1}: {child.wall:.2f} s")
                run = runs[-1].extra["run"]
                read = run["rows"]["orders"]["in"]
                unread = run["rows"]["orders"].get("not_read", 0)
                walls[label] = median([c.wall for c in runs])
                totals[label] = run["totals"]
                reading = median([c.extra["timings"]["reading and validating"] for c in runs])
                rows.append(
                    [
                        label,
                        f"{read:,}",
                        f"{unread:,}",
                        fmt_s(walls[label]),
                        fmt_s(reading),
                        gib(max(c.max_rss for c in runs)),
                        ", ".join(f"{c.wall:.2f}" for c in runs),
                    ]
                )
    if len({json.dumps(t, sort_keys=True) for t in totals.values()}) != 1:
        sys.exit("runs with and without pushdown disagree on run.json totals")
    headers = [
        "source",
        "order rows read",
        "not read",
        "median wall",
        "reading and validating",
        "peak RSS",
        "runs (s)",
    ]
    ratios = {
        kind: walls[f"{kind}, pushdown on"] / walls[f"{kind}, pushdown off"]
        for kind in ("parquet", "postgresql")
    }
    db_vs_parquet = walls["postgresql, pushdown on"] / walls["parquet, pushdown on"]
    print(text_table(headers, rows))
    summary = (
        f"on / off: Parquet {ratios['parquet']:.2f}×, PostgreSQL {ratios['postgresql']:.2f}×; "
        f"PostgreSQL / Parquet with pushdown: {db_vs_parquet:.2f}×"
    )
    print(summary)
    text = (
        f"# Pushdown: 2025 scored out of five years of orders, {n:,} participants, {orders:,} orders\n\n"
        + md_table(headers, rows)
        + f"\n\n{summary}; identical run.json totals in all four.\n\n"
        + machine_md()
    )
    say(f"wrote {write_result(f'pushdown_{n}.md', text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
