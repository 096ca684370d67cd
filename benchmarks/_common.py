"""Helpers shared by the benchmarks: timing, machine description, markdown tables, paths."""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA_DIR = HERE / ".data"  # git-ignored
RESULTS_DIR = HERE / "results"


def timed(fn: Callable[[], Any], repeat: int, warmup: int = 1) -> tuple[list[float], Any]:
    """Call ``fn`` ``warmup`` times untimed, then ``repeat`` times timed; return (seconds, last result).

    The garbage collector is run (not disabled) before every call so one call's garbage is not billed to
    the next.
    """
    result = None
    for _ in range(warmup):
        result = fn()
    times = []
    for _ in range(repeat):
        result = None
        gc.collect()
        began = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - began)
    return times, result


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def fmt_s(seconds: float | None) -> str:
    """Seconds with 3 significant digits (``0.00412``, ``1.53``, ``412``); ``–`` for None."""
    if seconds is None:
        return "–"
    if seconds >= 100:
        return f"{seconds:.0f}"
    return f"{seconds:.3g}"


def fmt_ratio(ratio: float | None) -> str:
    if ratio is None:
        return "–"
    return f"{ratio:,.0f}×" if ratio >= 100 else f"{ratio:.3g}×"


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """The same table aligned for a terminal."""
    cells = [list(map(str, headers)), *[[str(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    out = []
    for k, row in enumerate(cells):
        padded = (
            c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        out.append("  ".join(padded))
        if k == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, str]:
    """CPU, cores, memory and library versions, for the header of a result file."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    libs = ("numpy", "polars", "numba", "networkx", "duckdb", "pyarrow")
    return {
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "memory": mem,
        "python": platform.python_version(),
        "libraries": ", ".join(f"{lib} {_version(lib)}" for lib in libs),
    }


def machine_md() -> str:
    return "\n".join(f"- {key}: {value}" for key, value in machine().items())


def write_result(name: str, text: str) -> Path:
    """Write ``benchmarks/results/<name>`` and return its path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / name
    path.write_text(text, encoding="utf-8")
    return path


def scale_args(
    prog: str, doc: str | None, argv: list[str] | None, participants: int = 1_000_000
) -> tuple[argparse.Namespace, int, int]:
    """The side-by-side benchmarks' common options (--participants, --repeat, --seed, --max-rss-gb): the
    parsed arguments, the participant count and the memory limit in bytes."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{prog}", description=doc)
    parser.add_argument("--participants", type=int, default=participants)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-rss-gb", type=float, default=14.0)
    args = parser.parse_args(argv)
    return args, args.participants, int(args.max_rss_gb * 2**30)
