"""End-to-end ``score`` of a synthetic dataset: wall time and peak memory of a fresh process per run.

    python -m benchmarks.end_to_end --participants 1000000 --repeat 3
    python -m benchmarks.end_to_end --participants 10000000 --repeat 3   # generation alone takes minutes

The dataset comes from ``mlmroi.synth.generate(..., fmt="parquet")`` (about 10 orders per participant) and is
cached under ``benchmarks/.data/synth_<N>_s<seed>/`` (reused while its ``.complete.json`` marker is there;
``--regenerate`` forces a new one). Each run is a fresh child process: the ``mlmroi score`` CLI if
``mlmroi_cli`` is importable, else the equivalent library calls; one untimed warm-up run comes first so the
numba cache on disk is warm. Peak memory is the child's own ``ru_maxrss`` (``os.wait4``); a watchdog kills a
child whose resident memory passes ``--max-rss-gb``. Writes ``benchmarks/results/end_to_end_<N>.md`` with the
stage timings from ``OUT/timings.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._common import DATA_DIR, ROOT, fmt_s, machine_md, md_table, median, text_table, write_result
from benchmarks._process import Child, run_child

MARKER = ".complete.json"

GENERATE = """
import json, sys, time
from mlmroi.synth import generate
began = time.perf_counter()
s = generate(sys.argv[1], int(sys.argv[2]), months=12, seed=int(sys.argv[3]), fmt="parquet")
print(json.dumps({"participants": s.participants, "orders": s.orders, "costs": s.costs,
                  "max_depth": s.max_depth, "seconds": time.perf_counter() - began}))
"""

# The library form of `mlmroi score DATASET --out OUT`. It also records, at every stage boundary, the time and
# the process's resident memory (VmRSS) and high-water mark (VmHWM), so memory can be attributed to stages.
SCORE_API = """
import json, sys, time
def mark(name):
    mem = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                mem[line[:5]] = int(line.split()[1]) * 1024
    row = [name, time.perf_counter(), mem.get("VmRSS", 0), mem.get("VmHWM", 0)]
    print("MARK", json.dumps(row), flush=True)
mark("(process) imports")
import mlmroi
dataset, out = sys.argv[1], sys.argv[2]
mark("(process) load_config")
config = mlmroi.load_config(sys.argv[3] if len(sys.argv) > 3 else None, dataset=dataset)
result = mlmroi.score(dataset, config, progress=mark)
mark("(process) write")
mlmroi.write(result, out)
mark("end")
"""


def _check(child: Child, what: str, max_rss: int) -> None:
    if child.killed:
        sys.exit(f"{what}: killed, resident memory passed {max_rss / 2**30:.1f} GiB (--max-rss-gb)")
    if child.code != 0:
        sys.exit(f"{what}: exit code {child.code}\n{child.stderr[-4000:]}")


def _synth_hash() -> str:
    return hashlib.sha256((ROOT / "mlmroi" / "synth.py").read_bytes()).hexdigest()[:16]


def dataset(n: int, seed: int, regenerate: bool, max_rss: int, say: Any) -> tuple[Path, dict[str, Any]]:
    """The cached dataset folder for (n, seed), generated in a child process when missing."""
    folder = DATA_DIR / f"synth_{n}_s{seed}"
    marker = folder / MARKER
    if marker.is_file() and not regenerate:
        info: dict[str, Any] = json.loads(marker.read_text())
        if info.get("synth_sha256") != _synth_hash():
            say(
                "note: mlmroi/synth.py changed since this dataset was generated (use --regenerate to refresh)"
            )
        say(f"reusing {folder} ({info['orders']:,} orders, generated in {info['seconds']:.0f} s)")
        return folder, info
    shutil.rmtree(folder, ignore_errors=True)
    say(f"generating {n:,} participants into {folder} (cached for later runs)")
    child = run_child(
        [sys.executable, "-c", GENERATE, str(folder), str(n), str(seed)], DATA_DIR / "logs", max_rss
    )
    _check(child, "generate", max_rss)
    info = json.loads(child.stdout.strip().splitlines()[-1])
    info.update(seed=seed, peak_rss=child.max_rss, synth_sha256=_synth_hash())
    info["bytes"] = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    marker.write_text(json.dumps(info, indent=2) + "\n")
    say(f"generated {info['orders']:,} orders in {info['seconds']:.0f} s, peak {gib(info['peak_rss'])}")
    return folder, info


def runner(choice: str) -> str:
    """``cli`` when ``mlmroi_cli.main`` imports (installed package), else ``api``."""
    if choice != "auto":
        return choice
    probe = subprocess.run(
        [sys.executable, "-c", "import mlmroi_cli.main"], cwd=ROOT, capture_output=True, check=False
    )
    return "cli" if probe.returncode == 0 else "api"


def score_once(
    kind: str, folder: Path, out: Path, log_dir: Path, max_rss: int, config: Path | None = None
) -> Child:
    if kind == "cli":
        cmd = [sys.executable, "-m", "mlmroi_cli.main", "score", str(folder), "--out", str(out)]
        cmd += ["--config", str(config)] if config else []
    else:
        cmd = [sys.executable, "-c", SCORE_API, str(folder), str(out)] + ([str(config)] if config else [])
    if out.exists():
        shutil.rmtree(out)  # a failed run must not leave the previous run's timings.json behind
    child = run_child(cmd, log_dir, max_rss)
    if kind == "api":
        marks = [json.loads(line[5:]) for line in child.stdout.splitlines() if line.startswith("MARK ")]
        if child.killed or child.code != 0:  # the stage running when it stopped, with the peak at kill time
            marks.append(["(stopped)", marks[-1][1] + child.wall, child.polled_rss, child.max_rss])
        child.extra["stages"] = [
            (name, t1 - t0, hwm1, rss1) for (name, t0, _, _), (_, t1, rss1, hwm1) in itertools.pairwise(marks)
        ]
    if child.killed or child.code != 0:
        return child
    child.extra["timings"] = json.loads((out / "timings.json").read_text())
    child.extra["run"] = json.loads((out / "run.json").read_text())
    return child


def side_by_side(
    sources: dict[str, Path], n: int, repeat: int, max_rss: int, say: Callable[[str], None]
) -> tuple[list[list[str]], dict[str, Any], dict[str, float], dict[str, float]]:
    """Score each source folder in fresh ``mlmroi score`` processes (one untimed warm-up, then ``repeat``
    runs): per source a table row (median wall, median "reading and validating", peak RSS, every run), the
    last run's run.json totals, the median wall and the median reading stage. Exits on a failed run."""
    rows, totals, walls, readings = [], {}, {}, {}
    for kind, source in sources.items():
        out = DATA_DIR / f"out_{kind}_{n}"
        score_once("cli", source, out, DATA_DIR / "logs", max_rss)  # warm-up (numba cache, page cache)
        runs = []
        for k in range(repeat):
            child = score_once("cli", source, out, DATA_DIR / "logs", max_rss)
            if child.killed or child.code != 0:
                sys.exit(f"{kind}: exit code {child.code}\n{child.stderr[-3000:]}")
            runs.append(child)
            say(f"{kind} run {k + 1}: {child.wall:.2f} s")
        totals[kind] = runs[-1].extra["run"]["totals"]
        walls[kind] = median([c.wall for c in runs])
        reading = readings[kind] = median([c.extra["timings"]["reading and validating"] for c in runs])
        peak = max(c.max_rss for c in runs)
        rows.append(
            [kind, fmt_s(walls[kind]), fmt_s(reading), gib(peak), ", ".join(f"{c.wall:.2f}" for c in runs)]
        )
    return rows, totals, walls, readings


def gib(nbytes: float) -> str:
    return f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.0f} MiB"


IMPORTS = {"cli": "import mlmroi, mlmroi.pipeline, mlmroi.output, mlmroi_cli.main", "api": "import mlmroi"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.end_to_end", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runner", choices=("auto", "cli", "api"), default="auto")
    parser.add_argument("--regenerate", action="store_true", help="generate the dataset even if it is cached")
    parser.add_argument(
        "--config", type=Path, default=None, help="score with this config (e.g. a plan with every component)"
    )
    parser.add_argument(
        "--max-rss-gb", type=float, default=14.0, help="kill a child above this resident memory"
    )
    parser.add_argument(
        "--no-profile",
        action="store_true",
        help="skip the extra untimed run that attributes memory to stages",
    )
    args = parser.parse_args(argv)
    n, max_rss = args.participants, int(args.max_rss_gb * 2**30)

    def say(msg: str) -> None:
        print(f"[end_to_end {n:,}] {msg}", flush=True)

    load_before = os.getloadavg()
    folder, info = dataset(n, args.seed, args.regenerate, max_rss, say)
    kind = runner(args.runner)
    out = DATA_DIR / f"out_{n}_s{args.seed}"
    say(f"runner: {kind}; warm-up run")
    warm = score_once(kind, folder, out, DATA_DIR / "logs" / "warmup", max_rss, args.config)
    if warm.killed or warm.code != 0:
        return failed(args, kind, "warm-up run", warm, folder, out, max_rss, say)
    say(f"warm-up: {warm.wall:.2f} s, peak {gib(warm.max_rss)}")
    floor = run_child([sys.executable, "-c", IMPORTS[kind]], DATA_DIR / "logs" / "imports", max_rss)
    _check(floor, "import", max_rss)
    warm.extra["imports"] = floor.wall
    runs = []
    for k in range(args.repeat):
        child = score_once(kind, folder, out, DATA_DIR / "logs" / f"run{k}", max_rss, args.config)
        if child.killed or child.code != 0:
            return failed(args, kind, f"run {k + 1}", child, folder, out, max_rss, say)
        runs.append(child)
        say(f"run {k + 1}/{args.repeat}: {child.wall:.2f} s, peak {gib(child.max_rss)}")
    load_after = os.getloadavg()
    profile = runs[-1] if kind == "api" else None
    if profile is None and not args.no_profile:
        say("profile run (library form, memory per stage; not timed)")
        profile = score_once("api", folder, out, DATA_DIR / "logs" / "profile", max_rss, args.config)
        if profile.killed or profile.code != 0:
            return failed(args, "api", "profile run", profile, folder, out, max_rss, say)
    text, md = render(args, kind, folder, info, warm, runs, load_before, load_after)
    if profile is not None:
        text, md = text + "\n\n" + profile_table(profile, text=True), md + "\n" + profile_table(profile)
    print("\n" + text, flush=True)
    path = write_result(f"end_to_end_{n}{'_' + args.config.stem if args.config else ''}.md", md)
    print(f"\nwritten: {path}")
    return 0


def failed(
    args: argparse.Namespace,
    kind: str,
    what: str,
    child: Child,
    folder: Path,
    out: Path,
    max_rss: int,
    say: Any,
) -> int:
    """Report a run that was killed for memory or failed; locate the stage with a library-form run."""
    n = args.participants
    if child.killed:
        reason = f"killed by the watchdog: resident memory passed {gib(max_rss)} (`--max-rss-gb`)"
    else:
        reason = f"exit code {child.code}"
    say(f"{what} FAILED: {reason} after {child.wall:.1f} s (peak {gib(child.max_rss)})")
    profile = child if kind == "api" else None
    if profile is None and child.killed:
        say("locating the stage: one library-form run with memory marks")
        profile = score_once("api", folder, out, DATA_DIR / "logs" / "profile", max_rss, args.config)
    md = [
        f"# End-to-end score of {n:,} participants: FAILED",
        "",
        f"Command: `python -m benchmarks.end_to_end --participants {n} --repeat {args.repeat}`",
        "",
        f"The {what} (runner `{kind}`) was {reason}, after {child.wall:.1f} s; the child's peak RSS was "
        f"{gib(child.max_rss)}.",
        "",
        "Machine:",
        "",
        machine_md(),
        "",
    ]
    if profile is not None and profile.extra.get("stages"):
        md.append(profile_table(profile))
        print(profile_table(profile, text=True))
    if child.code != 0 and not child.killed:
        md += ["", "stderr (last lines):", "", "```", child.stderr[-3000:].rstrip(), "```", ""]
        print(child.stderr[-3000:])
    path = write_result(f"end_to_end_{n}.md", "\n".join(md))
    print(f"\nwritten: {path}")
    return 1


def profile_table(child: Child, text: bool = False) -> str:
    """Time, resident memory and high-water mark at the end of every stage of one library-form run."""
    head = ["stage (one run, library form)", "s", "RSS at end", "peak so far (VmHWM)", "peak added"]
    rows, before = [], 0
    for name, secs, hwm, rss in child.extra["stages"]:
        rows.append([name, fmt_s(secs), gib(rss), gib(hwm), f"+{gib(max(hwm - before, 0))}"])
        before = max(before, hwm)
    rows.append(["whole process (ru_maxrss), wall", fmt_s(child.wall), "", gib(child.max_rss), ""])
    if text:
        return text_table(head, rows)
    intro = (
        "## Memory by stage\n\nOne extra run in the library form (`mlmroi.score(..., progress=…)`), reading "
        "the child's `/proc/self/status` at every stage boundary. `peak added` is how much the high-water "
        "mark rose during the stage: the stage that sets the process's peak is the one to shrink for 10M.\n\n"
    )
    return intro + md_table(head, rows) + "\n"


def render(
    args: argparse.Namespace,
    kind: str,
    folder: Path,
    info: dict[str, Any],
    warm: Child,
    runs: list[Child],
    load_before: tuple[float, ...],
    load_after: tuple[float, ...],
) -> tuple[str, str]:
    n = args.participants
    wall = median([r.wall for r in runs])
    peak = max(r.max_rss for r in runs)
    rows_info = runs[-1].extra["run"].get("rows", {})
    orders = info["orders"]
    summary = [
        ["participants", f"{n:,}"],
        ["orders", f"{orders:,}"],
        ["costs rows", f"{info.get('costs', 0):,}"],
        ["dataset on disk (parquet)", gib(info.get("bytes", 0))],
        [
            "median wall time (fresh process)",
            f"{wall:.2f} s  (runs: {', '.join(f'{r.wall:.2f}' for r in runs)})",
        ],
        ["peak RSS (max over runs)", f"{gib(peak)}  (runs: {', '.join(gib(r.max_rss) for r in runs)})"],
        ["throughput", f"{orders / wall / 1e6:.2f} M orders/s, {n / wall / 1e6:.2f} M participants/s"],
        ["warm-up run", f"{warm.wall:.2f} s, peak {gib(warm.max_rss)}"],
    ]
    stages: dict[str, list[float]] = {}
    for r in runs:
        for name, secs in r.extra["timings"].items():
            stages.setdefault(name, []).append(float(secs))
    stage_rows = [[name, fmt_s(median(v)), f"{median(v) / wall:.0%}"] for name, v in stages.items()]
    in_stages = sum(median(v) for v in stages.values())
    stage_rows.append(
        [
            "(rest: interpreter start-up, imports, config, write, exit)",
            fmt_s(wall - in_stages),
            f"{(wall - in_stages) / wall:.0%}",
        ]
    )
    floor = warm.extra["imports"]
    stage_rows.append(
        [f"(separately: a process that only runs `{IMPORTS[kind]}`)", fmt_s(floor), f"{floor / wall:.0%}"]
    )
    shead = ["stage (timings.json, median)", "s", "share of wall"]
    facts = (
        f"runner `{kind}`; dataset `{folder.relative_to(ROOT)}` (seed {args.seed}, "
        f"generated in {info.get('seconds', 0):.0f} s, peak {gib(info.get('peak_rss', 0))}); "
        f"median of {args.repeat} fresh processes after one warm-up; "
        f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
    )
    text = "\n".join([facts, "", text_table(["what", "value"], summary), "", text_table(shead, stage_rows)])
    md = "\n".join(
        [
            f"# End-to-end score of {n:,} participants",
            "",
            f"Command: `python -m benchmarks.end_to_end --participants {n} --repeat {args.repeat}"
            f"{' --config ' + str(args.config) if args.config else ''}`",
            "",
            facts + ".",
            "",
            "Machine:",
            "",
            machine_md(),
            "",
            md_table(["what", "value"], summary),
            "",
            "## Stages",
            "",
            "Medians of the `score()` stages from `OUT/timings.json`; `rest` is the median wall time minus "
            "their sum.",
            "",
            md_table(shead, stage_rows),
            "",
            "Rows read: `" + json.dumps(rows_info) + "`",
            "",
        ]
    )
    return text, md


if __name__ == "__main__":
    raise SystemExit(main())
