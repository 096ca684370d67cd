"""numba options in one place: compiled kernels are cached on disk; no fastmath (money is exact)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import numba

F = TypeVar("F", bound=Callable[..., Any])


def kernel(func: F) -> F:
    """Compile ``func`` in nopython mode with an on-disk cache (first call compiles, later runs load)."""
    return numba.njit(cache=True, nogil=True, fastmath=False)(func)  # type: ignore[no-any-return]
