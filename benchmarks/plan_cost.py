"""What a compensation plan adds to a score run: the dataset's own config and a plan config, side by side.

    python -m benchmarks.plan_cost --participants 10000000 --config benchmarks/plans/all_components.toml

Both configs score the same cached synthetic dataset (see ``benchmarks.end_to_end``) in fresh ``mlmroi score``
processes, interleaved (base, plan, base, plan, …) after one warm-up of each, so a slow spell of a shared
machine hits both alike. Reports each side's median wall time and peak memory, and the median of the paired
differences (plan run k − base run k), per stage too (from ``OUT/timings.json``). Writes
``benchmarks/results/plan_cost_<N>_<config>.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from benchmarks._common import DATA_DIR, fmt_s, machine_md, md_table, median, text_table, write_result
from benchmarks._process import Child
from benchmarks.end_to_end import _check, dataset, gib, score_once


def _run(config: Path | None, folder: Path, out: Path, log: str, max_rss: int) -> Child:
    child = score_once("cli", folder, out, DATA_DIR / "logs" / log, max_rss, config)
    _check(child, log, max_rss)
    return child


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.plan_cost", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, required=True, help="the plan config to cost")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds the plan may add (the target)")
    parser.add_argument("--max-rss-gb", type=float, default=16.0)
    args = parser.parse_args(argv)
    n, max_rss = args.participants, int(args.max_rss_gb * 2**30)

    def say(msg: str) -> None:
        print(f"[plan_cost {n:,}] {msg}", flush=True)

    folder, info = dataset(n, args.seed, False, max_rss, say)
    out = DATA_DIR / f"out_{n}_s{args.seed}"
    sides: dict[str, Path | None] = {"base": None, "plan": args.config}
    for side, config in sides.items():
        say(f"warm-up: {side}")
        _run(config, folder, out, f"warmup_{side}", max_rss)
    runs: dict[str, list[Child]] = {"base": [], "plan": []}
    for k in range(args.repeat):
        for side, config in sides.items():
            child = _run(config, folder, out, f"{side}{k}", max_rss)
            runs[side].append(child)
            say(f"run {k + 1}/{args.repeat} {side}: {child.wall:.2f} s, peak {gib(child.max_rss)}")

    walls = {side: [c.wall for c in children] for side, children in runs.items()}
    added = [p - b for p, b in zip(walls["plan"], walls["base"], strict=True)]
    verdict = "met" if median(added) <= args.budget else "NOT met"
    summary = [
        [
            "base (dataset config)",
            fmt_s(median(walls["base"])),
            ", ".join(f"{w:.1f}" for w in walls["base"]),
            gib(max(c.max_rss for c in runs["base"])),
        ],
        [
            f"plan ({args.config})",
            fmt_s(median(walls["plan"])),
            ", ".join(f"{w:.1f}" for w in walls["plan"]),
            gib(max(c.max_rss for c in runs["plan"])),
        ],
        [
            "added (median of paired differences)",
            fmt_s(median(added)),
            ", ".join(f"{a:+.1f}" for a in added),
            f"target ≤ {args.budget:g} s: {verdict}",
        ],
    ]
    headers = ["side", "median wall", "runs (s)", "peak memory"]
    stages = list(runs["plan"][0].extra["timings"])
    stage_rows = []
    for stage in stages:
        base = [c.extra["timings"].get(stage, 0.0) for c in runs["base"]]
        plan = [c.extra["timings"][stage] for c in runs["plan"]]
        diff = [p - b for p, b in zip(plan, base, strict=True)]
        stage_rows.append([stage, fmt_s(median(base)), fmt_s(median(plan)), f"{median(diff):+.2f}"])
    rest = {
        side: [c.wall - sum(c.extra["timings"].values()) for c in children] for side, children in runs.items()
    }
    rest_diff = [p - b for p, b in zip(rest["plan"], rest["base"], strict=True)]
    stage_rows.append(
        [
            "(rest: start-up, imports, writing the outputs)",
            fmt_s(median(rest["base"])),
            fmt_s(median(rest["plan"])),
            f"{median(rest_diff):+.2f}",
        ]
    )
    stage_headers = ["stage (timings.json)", "base s", "plan s", "added s (median of paired)"]
    text = "\n\n".join([text_table(headers, summary), text_table(stage_headers, stage_rows)])
    md = "\n".join(
        [
            f"# What `{args.config}` adds to a score run of {n:,} participants",
            "",
            f"Command: `python -m benchmarks.plan_cost --participants {n} --repeat {args.repeat} "
            f"--config {args.config}`",
            "",
            f"Dataset `{folder}` ({info['orders']:,} orders); fresh `mlmroi score` processes, base and plan "
            "interleaved after one warm-up each.",
            "",
            "Machine:",
            "",
            machine_md(),
            "",
            md_table(headers, summary),
            "",
            "## Stages",
            "",
            md_table(stage_headers, stage_rows),
            "",
        ]
    )
    print("\n" + text, flush=True)
    path = write_result(f"plan_cost_{n}_{args.config.stem}.md", md)
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
