"""numba options in one place: compiled kernels are cached on disk; no fastmath (money is exact)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba


def kernel(func: Callable[..., Any]) -> Callable[..., Any]:
    """Compile ``func`` in nopython mode with an on-disk cache (first call compiles, later runs load)."""
    compiled: Callable[..., Any] = numba.njit(cache=True, nogil=True, fastmath=False)(func)
    return compiled
