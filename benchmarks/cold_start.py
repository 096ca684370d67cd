"""The first run after an install: ``mlmroi score`` on the bundled sample with an empty numba cache, and warm.

    python -m benchmarks.cold_start --repeat 3
    python -m benchmarks.cold_start --repeat 5 --config data/plans/hybrid.toml --limit 5

Each run is a fresh ``mlmroi score`` process (``python -m mlmroi_cli.supervise``, which is what the installed
``mlmroi`` command runs: the supervisor and its child) on a copy of ``data/sample`` in
``benchmarks/.data/cold_start/``, started from that folder. A *cold* run gets ``NUMBA_CACHE_DIR`` pointed at
a new empty folder, so numba finds no compiled kernel (that variable replaces every other cache location,
``__pycache__`` included) and compiles every kernel the run uses, as the first run after an install does;
the *warm* run after it reuses the folder. Before the timed runs, one cold and one warm run with
``NUMBA_DEBUG_CACHE=1`` check that this holds: the cold one must load nothing from the cache and save what
it compiled, the warm one load and save nothing new. Python's bytecode cache is left as it is (an installer
writes it; with ``PYTHONDONTWRITEBYTECODE`` an editable install never has one, for cold and warm alike).

Reports the medians of ``--repeat`` cold and ``--repeat`` warm runs: wall time, and the CPU time of the
process tree (user + system, steadier than wall time on a shared machine), their difference (compiling,
mostly), and how many kernel signatures a cold run compiles. Exits with status 1 when the cold median
exceeds ``--limit`` seconds (default 4.0, issue 14). Writes ``benchmarks/results/cold_start.md``
(``cold_start_<config>.md`` with ``--config``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks._common import DATA_DIR, ROOT, fmt_s, machine_md, md_table, median, text_table, write_result

HERE = DATA_DIR / "cold_start"
SAMPLE = ROOT / "data" / "sample"


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float  # user + system seconds of the supervisor and its child
    stdout: str


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def score(dataset: Path, cache: Path, config: Path | None, debug: bool = False) -> Run:
    """One ``mlmroi score`` process with numba's cache in ``cache`` (outputs to ``HERE/out``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NUMBA_", "MLMROI_"))}
    env["NUMBA_CACHE_DIR"] = str(cache)
    if debug:
        env["NUMBA_DEBUG_CACHE"] = "1"
    cmd = [sys.executable, "-m", "mlmroi_cli.supervise", "-q", "score", str(dataset), "--out", "out"]
    if config is not None:
        cmd += ["--config", str(config)]
    cpu = _children_cpu()
    began = time.perf_counter()
    done = subprocess.run(cmd, cwd=HERE, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - began
    if done.returncode != 0:
        sys.exit(f"mlmroi score failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return Run(wall, _children_cpu() - cpu, done.stdout)


def check_cache(dataset: Path, config: Path | None) -> tuple[int, int]:
    """One cold and one warm run with NUMBA_DEBUG_CACHE=1: the cold run must compile (save) and load
    nothing, the warm one load and compile nothing. Returns how many kernel signatures the cold run compiled
    and the warm one loaded (fewer: a kernel called only from other kernels is compiled into them)."""
    cache = Path(tempfile.mkdtemp(prefix="numba-", dir=HERE))
    try:
        cold = score(dataset, cache, config, debug=True).stdout
        saved, loaded = _count(cold, "data saved"), _count(cold, "data loaded")
        if loaded or not saved:
            sys.exit(f"the cold run was not cold: {loaded} kernels loaded from the cache, {saved} compiled")
        warm = score(dataset, cache, config, debug=True).stdout
        if _count(warm, "data saved") or not _count(warm, "data loaded"):
            sys.exit(
                f"the warm run was not warm: {_count(warm, 'data loaded')} kernels loaded, "
                f"{_count(warm, 'data saved')} compiled"
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return saved, _count(warm, "data loaded")


def _count(debug_output: str, what: str) -> int:
    return sum(1 for line in debug_output.splitlines() if line.startswith("[cache]") and what in line)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cold_start", description=__doc__)
    parser.add_argument("--repeat", type=int, default=3, help="cold runs, and as many warm ones")
    parser.add_argument("--limit", type=float, default=4.0, help="fail when the cold median is above (s)")
    parser.add_argument("--config", type=Path, default=None, help="score with this config (a plan)")
    args = parser.parse_args(argv)
    config = args.config.resolve() if args.config is not None else None

    def say(msg: str) -> None:
        print(f"[cold_start] {msg}", flush=True)

    HERE.mkdir(parents=True, exist_ok=True)
    dataset = HERE / "sample"
    shutil.rmtree(dataset, ignore_errors=True)
    shutil.copytree(SAMPLE, dataset)
    package = subprocess.run(
        [sys.executable, "-c", "import mlmroi; print(mlmroi.__file__)"],
        cwd=HERE,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    say(f"measuring {Path(package).parent}")
    compiled, loaded = check_cache(dataset, config)
    say(
        f"checked: a cold run compiles {compiled} kernel signatures and loads none; a warm run loads {loaded}"
    )
    cold: list[Run] = []
    warm: list[Run] = []
    for k in range(args.repeat):
        cache = Path(tempfile.mkdtemp(prefix="numba-", dir=HERE))
        try:
            cold.append(score(dataset, cache, config))
            warm.append(score(dataset, cache, config))
        finally:
            shutil.rmtree(cache, ignore_errors=True)
        say(f"round {k + 1}: cold {cold[-1].wall:.2f} s, warm {warm[-1].wall:.2f} s")
    shutil.rmtree(HERE / "out", ignore_errors=True)

    cold_wall, warm_wall = median([r.wall for r in cold]), median([r.wall for r in warm])
    cold_cpu, warm_cpu = median([r.cpu for r in cold]), median([r.cpu for r in warm])
    headers = ["run", "median wall (s)", "median CPU (s)", "walls (s)"]
    rows = [
        [
            "cold (empty numba cache)",
            fmt_s(cold_wall),
            fmt_s(cold_cpu),
            ", ".join(fmt_s(r.wall) for r in cold),
        ],
        ["warm (cache written)", fmt_s(warm_wall), fmt_s(warm_cpu), ", ".join(fmt_s(r.wall) for r in warm)],
        ["cold − warm (compiling)", fmt_s(cold_wall - warm_wall), fmt_s(cold_cpu - warm_cpu), ""],
    ]
    print(text_table(headers, rows))
    verdict = "within" if cold_wall <= args.limit else "ABOVE"
    print(
        f"cold median {cold_wall:.2f} s: {verdict} the {args.limit:g} s limit ({compiled} kernels compiled)"
    )
    what, command = "data/sample", f"python -m benchmarks.cold_start --repeat {args.repeat}"
    if config is not None:
        what += f" with {args.config}"
        command += f" --config {args.config}"
    summary = f"A cold run compiles {compiled} kernel signatures; cold median {cold_wall:.2f} s: {verdict}"
    text = (
        f"# First run: `mlmroi score` on {what}, empty numba cache vs warm\n\n"
        f"Command: `{command}` (package: `{Path(package).parent}`)\n\n"
        + md_table(headers, rows)
        + f"\n\n{summary} the {args.limit:g} s limit.\n\nMachine:\n\n"
        + machine_md()
        + "\n"
    )
    name = "cold_start.md" if config is None else f"cold_start_{config.stem}.md"
    say(f"wrote {write_result(name, text)}")
    return 0 if cold_wall <= args.limit else 1


if __name__ == "__main__":
    raise SystemExit(main())
