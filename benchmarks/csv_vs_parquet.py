"""``score`` from CSV and from Parquet, side by side: the same synthetic dataset in both formats.

    python -m benchmarks.csv_vs_parquet --participants 1000000 --repeat 3

The Parquet dataset is ``end_to_end``'s cached one (generated when missing); the CSV twin is written from it
with polars into ``benchmarks/.data/synth_<N>_s<seed>_csv/`` (same rows, so the outputs must agree: the run
checks that both runs' ``run.json`` totals are equal). Each run is a fresh ``mlmroi score`` process, one
untimed warm-up first; reported: median wall time, the ``reading and validating`` stage, peak memory and the
CSV / Parquet ratio (the target is at most 1.5 end to end).
Writes ``benchmarks/results/csv_vs_parquet_<N>.md``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import polars as pl

from benchmarks._common import machine_md, md_table, scale_args, text_table, write_result
from benchmarks.end_to_end import MARKER, dataset, side_by_side


def csv_twin(folder: Path) -> Path:
    """The dataset's tables as CSV (config copied), written once next to the Parquet folder."""
    twin = folder.with_name(folder.name + "_csv")
    marker = twin / MARKER
    if marker.is_file():
        return twin
    shutil.rmtree(twin, ignore_errors=True)
    twin.mkdir(parents=True)
    for path in sorted(folder.iterdir()):
        if path.suffix == ".parquet":
            pl.read_parquet(path).write_csv(twin / f"{path.stem}.csv")
        elif path.suffix == ".toml":
            shutil.copy(path, twin / path.name)
    marker.write_text(json.dumps({"from": folder.name}) + "\n")
    return twin


def main(argv: list[str] | None = None) -> int:
    args, n, max_rss = scale_args("csv_vs_parquet", __doc__, argv)

    def say(msg: str) -> None:
        print(f"[csv_vs_parquet {n:,}] {msg}", flush=True)

    folder, info = dataset(n, args.seed, False, max_rss, say)
    sources = {"parquet": folder, "csv": csv_twin(folder)}
    rows, totals, walls, _ = side_by_side(sources, n, args.repeat, max_rss, say)
    if totals["csv"] != totals["parquet"]:
        sys.exit("the CSV and Parquet runs disagree on run.json totals")
    ratio = walls["csv"] / walls["parquet"]
    headers = ["format", "median wall", "reading and validating", "peak RSS", "runs (s)"]
    print(text_table(headers, rows))
    print(f"CSV / Parquet end to end: {ratio:.2f}x (target ≤ 1.5x)")
    text = (
        f"# score from CSV vs Parquet, {n:,} participants, {info['orders']:,} orders\n\n"
        + md_table(headers, rows)
        + f"\n\nCSV / Parquet end to end: **{ratio:.2f}×** (target ≤ 1.5×); identical run.json totals.\n\n"
        + machine_md()
    )
    say(f"wrote {write_result(f'csv_vs_parquet_{n}.md', text)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
