"""numba options in one place: compiled kernels are cached on disk; no fastmath (money is exact).

A kernel is compiled on its first call, once per distinct set of argument types, and the machine code is
cached on disk (``__pycache__`` next to the module, or the user's cache directory — ``~/.cache/numba`` —
when the installed package's folder is not writable, or ``NUMBA_CACHE_DIR`` when set); later processes
load it. The first run after an install therefore compiles every kernel it uses, which on small data costs
more than the run itself. To keep that short (``python -m benchmarks.cold_start``):

- kernels write into arrays their caller allocates with numpy, and return nothing or a count (numba
  compiles its own allocation, fill and copy code per dtype, as much again as a small kernel each); the
  kernels a default ``score`` run uses all do;
- inputs that are only read are passed through :func:`readonly` where they may arrive writable or not:
  numba types the two apart and would compile the kernel once for each; likewise a kernel passes a
  constant to another as ``np.int64(RATE_SCALE)``, since a literal int is a type of its own;
- no C callback wrapper is generated (``no_cfunc_wrapper``): kernels are called from Python and from
  other kernels, never passed around as first-class functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba
import numpy as np

A = TypeVar("A", bound=np.ndarray[Any, Any])
_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False, "no_cfunc_wrapper": True}


def kernel(func: Callable[..., Any]) -> Callable[..., Any]:
    """Compile ``func`` in nopython mode with an on-disk cache (first call compiles, later runs load).

    Where no cache folder is writable (a read-only install and no writable home, without
    ``NUMBA_CACHE_DIR``) numba refuses to cache: the kernel is then compiled in every run instead."""
    try:
        compiled: Callable[..., Any] = numba.njit(**_OPTIONS)(func)
    except RuntimeError as error:
        if "no locator available" not in str(error):
            raise
        compiled = numba.njit(**{**_OPTIONS, "cache": False})(func)
    return compiled


def readonly(array: A) -> A:
    """A read-only view of ``array`` (no copy), so that a kernel reading it compiles once however the
    caller's array came (polars hands out read-only views, numpy's own arrays are writable)."""
    view = array.view()
    view.flags.writeable = False
    return view
