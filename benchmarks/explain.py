"""``mlmroi explain`` on a large run: seconds per participant, against the score run it explains.

    python -m benchmarks.explain --participants 1000000 --repeat 3

Uses the dataset ``benchmarks.end_to_end`` generates and caches (``benchmarks/.data/synth_<N>_s0``; run
that first), scores it once with the hybrid example plan (unilevel + matching + fast start) into
``benchmarks/.data/explain_<N>/``, then times, each in a fresh process and median of ``--repeat``:
``mlmroi score`` itself, and ``mlmroi explain`` for the top earner (the largest traced subtree), a root and
a participant without a downline. Explain re-reads the inputs and runs the plan once, so its time should be
about a score run's whoever is asked for — never proportional to the number of lines it explains.
Writes ``benchmarks/results/explain_<N>.md``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import polars as pl

from benchmarks._common import (
    DATA_DIR,
    ROOT,
    fmt_ratio,
    fmt_s,
    machine_md,
    md_table,
    median,
    text_table,
    write_result,
)

PLAN = ROOT / "data" / "plans" / "hybrid.toml"


def run(args: list[str]) -> float:
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mlmroi_cli.main", *args], check=True, capture_output=True)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    dataset = DATA_DIR / f"synth_{args.participants}_s0"
    if not dataset.is_dir():
        sys.exit(
            f"{dataset} is missing: run python -m benchmarks.end_to_end --participants {args.participants}"
        )
    out = DATA_DIR / f"explain_{args.participants}"
    score = ["score", str(dataset), "--config", str(PLAN), "--out", str(out)]
    run(score)  # warm-up and the run to explain
    people = pl.read_parquet(
        out / "participants.parquet", columns=["participant_id", "sponsor_id", "commissions", "downline_size"]
    )
    who = {
        "top earner": people.sort("commissions", descending=True)["participant_id"][0],
        "a root": people.filter(pl.col("sponsor_id").is_null())["participant_id"][0],
        "no downline": people.filter(pl.col("downline_size") == 0)["participant_id"][0],
    }
    score_times = [run(score) for _ in range(args.repeat)]
    rows = [
        [
            "mlmroi score (hybrid plan)",
            fmt_s(median(score_times)),
            "1×",
            ", ".join(fmt_s(t) for t in score_times),
        ]
    ]
    for label, pid in who.items():
        times = [run(["explain", str(out), str(pid)]) for _ in range(args.repeat)]
        ratio = fmt_ratio(median(times) / median(score_times))
        rows.append(
            [
                f"mlmroi explain: {label} ({pid})",
                fmt_s(median(times)),
                ratio,
                ", ".join(fmt_s(t) for t in times),
            ]
        )
    headers = ["command (fresh process)", "median s", "vs score", "runs"]
    print(text_table(headers, rows))
    body = "\n\n".join(
        [
            f"# explain at {args.participants:,} participants",
            "Command: `python -m benchmarks.explain "
            f"--participants {args.participants} --repeat {args.repeat}`",
            md_table(headers, rows),
            "Machine:\n\n" + machine_md(),
        ]
    )
    write_result(f"explain_{args.participants}.md", body)


if __name__ == "__main__":
    main()
