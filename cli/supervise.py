"""Run the command in a child process so that even the failures Python cannot catch end in one line.

When memory runs out inside polars' or LLVM's native code the allocator aborts the process (SIGABRT,
exit 134), and the kernel's out-of-memory killer sends SIGKILL: neither reaches a Python ``except``. The
``mlmroi`` command therefore starts itself once more as a child (same arguments, same terminal) and waits;
a child that dies by a signal is reported as ``error: …`` with exit code 2 (3 for a crash that is a bug).
The child dies with its parent (``PR_SET_PDEATHSIG``), so killing ``mlmroi`` stops the run at once; the
output folder is crash-clean either way (:mod:`mlmroi.destinations`).

Under an address-space limit (``ulimit -v``) two libraries do worse than abort. OpenBLAS, loaded by scipy,
retries a failed buffer allocation forever, so the child loads it first and makes it take its buffer while
there is room.
polars can deadlock when it cannot create a thread, so there the parent also watches for a stall: a child
whose threads all sit on futexes using almost no CPU for :data:`STALL_SECONDS` is stopped and reported as
out of memory (exit 2).

This module imports nothing heavy, so the parent costs a few milliseconds. ``python -m mlmroi_cli.main``
and ``MLMROI_IN_PROCESS=1`` run the command in the calling process (benchmarks measure that process);
so does every platform but Linux.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

_CHILD = "MLMROI_SUPERVISED"
_PR_SET_PDEATHSIG = 1

#: what to do when memory runs out (said for a MemoryError and for an allocator's abort alike)
MEMORY_ADVICE = "close other programs, score fewer periods (--start/--end) or use a machine with more memory"
_DEATHS: dict[int, tuple[str, int]] = {
    signal.SIGABRT: (
        "the run was aborted (SIGABRT), almost always because memory ran out in native code; "
        + MEMORY_ADVICE,
        2,
    ),
    signal.SIGKILL: (
        "the run was killed (SIGKILL), by the system's out-of-memory killer when memory runs out; the "
        "previous output is unchanged",
        2,
    ),
    signal.SIGTERM: ("the run was stopped (SIGTERM); the previous output is unchanged", 2),
    signal.SIGINT: ("interrupted", 130),
}


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(2)


#: the child's environment under an address-space limit: polars' jemalloc would print a line for every
#: background thread it fails to start; OpenBLAS with one thread keeps the one buffer _reserve_lapack_buffer
#: reserved (its worker threads would take and re-take theirs)
_LIMITED_ENV = {"_RJEM_MALLOC_CONF": "background_thread:false", "OPENBLAS_NUM_THREADS": "1"}


def _address_space_limited() -> bool:
    """Whether an address-space limit (``ulimit -v``) is in force."""
    return resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY


def _reserve_lapack_buffer(linalg: object) -> None:
    """Make OpenBLAS take its LAPACK work buffer (32 MiB) now, while there is room: it keeps the buffer for
    every later call, and when it cannot get one it retries forever, spinning at full CPU where no stall
    detector can tell it from work (seen in the CLV fit under ``ulimit -v``). A probe first makes sure the
    buffer fits, so that running short of memory here is a MemoryError, not the spin."""
    import mmap

    import numpy

    with mmap.mmap(-1, 64 * 2**20):  # OSError (ENOMEM) when it does not fit
        pass
    linalg.cho_factor(numpy.eye(2))  # type: ignore[attr-defined]


def _in_process() -> None:
    try:
        # scipy's OpenBLAS allocates its buffers as it loads and, when the address space is exhausted
        # (ulimit -v), retries the failed mmap forever. Loaded first, before polars, numba and pyarrow
        # reserve theirs, it gets them; running out of memory then happens in code that aborts or raises.
        import scipy.linalg

        if _address_space_limited():  # only there can it spin
            _reserve_lapack_buffer(scipy.linalg)
            # … and the libraries load now, in this order, as the run will need them anyway: running out
            # of memory while loading is then this one line, never an abort inside a BLAS call later.
            import mlmroi.pipeline  # noqa: F401
        from mlmroi_cli.main import app
    except (MemoryError, OSError, ImportError) as exc:  # the commands guard themselves; loading them, here
        if os.environ.get("MLMROI_DEBUG"):
            raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(
            f"error: mlmroi could not load its libraries ({reason}): out of memory, or a broken install; "
            f"{MEMORY_ADVICE}, or reinstall mlmroi\n"
        )
        sys.exit(2)
    try:
        app(prog_name="mlmroi")
    except SystemExit:
        raise
    except BaseException as exc:  # the last net: memory ran out while a command's guard was reporting
        if os.environ.get("MLMROI_DEBUG"):
            raise
        if isinstance(exc, KeyboardInterrupt):
            code, message = 130, "interrupted"
        elif isinstance(exc, MemoryError | SystemError):  # SystemError: C code that failed to allocate
            code, message = 2, f"out of memory; {MEMORY_ADVICE}"
        else:
            code, message = 3, f"internal error ({type(exc).__name__}); please report it with MLMROI_DEBUG=1"
        with contextlib.suppress(OSError):
            os.write(2, f"error: {message}\n".encode("ascii", "replace"))
        os._exit(code)


#: the exit codes the commands use (cli/terminal.py); any other means the child died abnormally
_DOCUMENTED = (0, 1, 2, 3, 130)
#: how long a child may sit idle on futexes, using no CPU, before it counts as deadlocked
STALL_SECONDS = 30.0
_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime + stime, all threads


def _all_parked(pid: int) -> bool:
    """Every thread of ``pid`` waits on a futex or an event loop (not on a lock file, a pipe, a disk)."""
    waits = [(task / "wchan").read_text() for task in Path(f"/proc/{pid}/task").iterdir()]
    return all("futex" in w or "epoll" in w for w in waits)


def _stalled(pid: int, seconds: float, poll: float = 1.0) -> bool:
    """Whether ``pid`` stays parked using under 2 % of a core for ``seconds``. Under an address-space
    limit polars can deadlock when it cannot create a thread (a task waits forever for the thread that
    never started); a working run keeps a core busy, and waiting for the output lock or a full pipe is
    not parked on futexes."""
    try:
        start = _cpu_seconds(pid)
        waited = 0.0
        while waited < seconds:
            if not _all_parked(pid):
                return False
            time.sleep(poll)
            waited += poll
        return _cpu_seconds(pid) - start < 0.02 * seconds and _all_parked(pid)
    except (OSError, ValueError, IndexError):  # the process ended meanwhile
        return False


def _wait(child: subprocess.Popen[bytes], stall: float | None) -> int | None:
    """The child's exit code; None if it deadlocked (checked only when ``stall`` is given)."""
    if stall is None:
        return child.wait()
    while True:
        try:
            return child.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            if _stalled(child.pid, stall):
                return None


def main(spawn: bool = True) -> None:
    """The ``mlmroi`` command: the typer app in a child process, exiting as it did (module docstring);
    with ``spawn=False`` (``python -m mlmroi_cli.main``) in this process."""
    parent = os.environ.pop(_CHILD, None)
    if parent is not None:
        _die_with_parent(int(parent))
        _in_process()
        return
    if not spawn or sys.platform != "linux" or os.environ.get("MLMROI_IN_PROCESS"):
        _in_process()
        return
    limited = _address_space_limited()
    env = dict(os.environ, **{_CHILD: str(os.getpid())})
    if limited:
        env.update(_LIMITED_ENV)
    # The child starts from this light module, so even running out of memory while loading is one line.
    child = subprocess.Popen([sys.executable, "-m", "mlmroi_cli.supervise", *sys.argv[1:]], env=env)
    # Ctrl-C reaches the child from the terminal; a signal sent to this process alone is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    code = _wait(child, STALL_SECONDS if limited else None)
    if code is None:
        child.kill()
        child.wait()
    if code in _DOCUMENTED:
        sys.exit(code)
    message, exit_code = _verdict(code, limited)
    with contextlib.suppress(OSError, UnicodeError):
        sys.stderr.write(f"error: {message}\n")
    sys.exit(exit_code)


def _verdict(code: int | None, limited: bool) -> tuple[str, int]:
    """What to say, and the exit code, for a child that did not end with a documented code: deadlocked
    (None), killed by a signal (negative) or gone with a code of its own."""
    if code is None:  # see _stalled
        return (
            "the run stopped making progress after memory ran out under the address-space limit "
            f"(ulimit -v); {MEMORY_ADVICE}",
            2,
        )
    if code >= 0:  # died in native code without a word of ours (a panic inside a panic, …)
        if limited:
            return (
                f"mlmroi stopped abnormally (exit code {code}), most often because memory ran out; "
                + MEMORY_ADVICE,
                2,
            )
        return f"mlmroi stopped abnormally (exit code {code}); please report it", 3
    name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
    if limited and -code in (signal.SIGSEGV, signal.SIGBUS):
        # Under an address-space limit, native code that does not check an allocation crashes on it.
        return (
            f"the run crashed ({name}) after memory ran out under the address-space limit (ulimit -v); "
            + MEMORY_ADVICE,
            2,
        )
    return _DEATHS.get(
        -code, (f"mlmroi crashed ({name}); please report it with the traceback MLMROI_DEBUG=1 shows", 3)
    )


if __name__ == "__main__":
    main()
