"""Running a benchmark child process: wall time, its own peak RSS, and a watchdog on resident memory."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._common import ROOT


@dataclass
class Child:
    """One finished child process."""

    wall: float
    max_rss: int  # bytes, from the kernel's accounting of this child
    polled_rss: int  # bytes, highest VmRSS the watchdog saw
    code: int
    killed: bool
    stdout: str
    stderr: str
    extra: dict[str, Any] = field(default_factory=dict)


def _vm_rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def run_child(cmd: list[str], log_dir: Path, max_rss: int) -> Child:
    """Run ``cmd`` from the repository root; measure wall time and the child's own peak RSS."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    with open(log_dir / "stdout.txt", "wb") as out, open(log_dir / "stderr.txt", "wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        peak = [0, False]  # highest VmRSS seen, killed
        done = threading.Event()

        def watch() -> None:
            while not done.wait(0.1):
                rss = _vm_rss(proc.pid)
                peak[0] = max(int(peak[0]), rss)
                if rss > max_rss and not peak[1]:
                    peak[1] = True
                    os.kill(proc.pid, signal.SIGKILL)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
        done.set()
        watcher.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Child(
        wall=wall,
        max_rss=usage.ru_maxrss * 1024,  # KiB on Linux
        polled_rss=int(peak[0]),
        code=proc.returncode,
        killed=bool(peak[1]),
        stdout=(log_dir / "stdout.txt").read_text(errors="replace"),
        stderr=(log_dir / "stderr.txt").read_text(errors="replace"),
    )
