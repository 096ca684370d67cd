"""Run the command in a child process so that even the failures Python cannot catch end in one line.

When memory runs out inside polars' or LLVM's native code the allocator aborts the process (SIGABRT,
exit 134), and the kernel's out-of-memory killer sends SIGKILL: neither reaches a Python ``except``. The
``mlmroi`` command therefore starts itself once more as a child (same arguments, same terminal) and waits;
a child that dies by a signal is reported as ``error: …`` with exit code 2 (3 for a crash that is a bug).
The child dies with its parent (``PR_SET_PDEATHSIG``), so killing ``mlmroi`` stops the run at once; the
output folder is crash-clean either way (:mod:`mlmroi.destinations`).

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

_CHILD = "MLMROI_SUPERVISED"
_PR_SET_PDEATHSIG = 1

_DEATHS = {
    signal.SIGABRT: (
        "the run was aborted (SIGABRT), almost always because memory ran out in native code; close other "
        "programs, score fewer periods (--start/--end) or use a machine with more memory",
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


def _in_process() -> None:
    try:
        from mlmroi_cli.main import app
    except MemoryError:  # the commands guard themselves; loading them is guarded here
        if os.environ.get("MLMROI_DEBUG"):
            raise
        sys.stderr.write("error: out of memory while starting mlmroi\n")
        sys.exit(2)
    app(prog_name="mlmroi")


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
    env = dict(os.environ, **{_CHILD: str(os.getpid())})
    if resource.getrlimit(resource.RLIMIT_AS)[0] != resource.RLIM_INFINITY:
        # Under an address-space limit (ulimit -v) OpenBLAS, loaded by scipy, retries a failed mmap for
        # its per-thread buffers forever: the run would hang instead of failing. One BLAS thread needs
        # no such buffers (mlmroi's BLAS work, the customer-value fits, is small).
        env.setdefault("OPENBLAS_NUM_THREADS", "1")
    # The child starts from this light module, so even running out of memory while loading is one line.
    child = subprocess.Popen([sys.executable, "-m", "mlmroi_cli.supervise", *sys.argv[1:]], env=env)
    # Ctrl-C reaches the child from the terminal; a signal sent to this process alone is passed on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    code = child.wait()
    if code >= 0:
        sys.exit(code)
    name = signal.Signals(-code).name if -code in signal.valid_signals() else f"signal {-code}"
    message, exit_code = _DEATHS.get(
        -code, (f"mlmroi crashed ({name}); please report it with the traceback MLMROI_DEBUG=1 shows", 3)
    )
    with contextlib.suppress(OSError, UnicodeError):
        sys.stderr.write(f"error: {message}\n")
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
