"""Exact money arithmetic: integer minor units (cents), rates in parts per million, half-to-even rounding.

Kernels add integer minor units only. A rate is applied once per aggregate (payee × period × component ×
level) by :func:`apply_rate`, which is exact: ``amount × rate_ppm`` is an integer and the division by 10⁶
is rounded half-to-even with integer arithmetic, so no floating-point error can move a cent.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

RATE_SCALE = 1_000_000  # rates are stored as integer parts per million
_INT64_MAX = np.iinfo(np.int64).max

IntArray = npt.NDArray[np.int64]


def rate_ppm(rate: float) -> int:
    """A rate as integer parts per million (0.05 -> 50_000)."""
    return round(rate * RATE_SCALE)


def is_ppm_exact(rate: float) -> bool:
    """True when ``rate`` has at most six decimals (so :func:`rate_ppm` loses nothing)."""
    return abs(rate * RATE_SCALE - round(rate * RATE_SCALE)) < 1e-6


def divide_half_even(numerator: IntArray, denominator: int) -> IntArray:
    """``numerator / denominator`` rounded half-to-even, exactly, for integer arrays (denominator > 0)."""
    quotient, remainder = np.divmod(numerator, denominator)  # remainder in [0, denominator)
    twice = remainder * 2
    round_up = (twice > denominator) | ((twice == denominator) & (quotient % 2 == 1))
    out: IntArray = (quotient + round_up).astype(np.int64)
    return out


def apply_rate(minor: IntArray, ppm: int) -> IntArray:
    """``minor × ppm / 10⁶`` rounded half-to-even to the minor unit, exactly."""
    minor = np.asarray(minor, dtype=np.int64)
    if ppm == 0 or minor.size == 0:
        return np.zeros(minor.shape, dtype=np.int64)
    if int(np.abs(minor).max()) > _INT64_MAX // abs(ppm):
        # Beyond int64 range: Python integers are exact at any size (never seen in practice).
        big = minor.astype(object) * ppm
        q, r = np.divmod(big, RATE_SCALE)
        up = (r * 2 > RATE_SCALE) | ((r * 2 == RATE_SCALE) & (q % 2 == 1))
        exact: IntArray = (q + up).astype(np.int64)
        return exact
    return divide_half_even(minor * ppm, RATE_SCALE)


def to_minor(values: npt.NDArray[np.float64], decimals: int) -> IntArray:
    """Float amounts to integer minor units, rounded half-to-even (np.rint)."""
    out: IntArray = np.rint(np.asarray(values, dtype=np.float64) * 10**decimals).astype(np.int64)
    return out


def split_largest_remainder(total: int, weights: IntArray) -> IntArray:
    """Split ``total`` minor units in proportion to non-negative integer ``weights``, exactly.

    Each share is rounded down; the cents left over go one each to the largest remainders, ties to the
    earlier position. The shares always add up to ``total``. ``weights`` must not sum to zero.
    """
    weights = np.asarray(weights, dtype=np.int64)
    weight_sum = int(weights.sum())
    if weight_sum <= 0:
        raise ValueError("weights must have a positive sum")
    if total and int(weights.max()) > _INT64_MAX // abs(total):
        products = weights.astype(object) * total
        shares = (products // weight_sum).astype(np.int64)
        remainders = (products % weight_sum).astype(np.float64)  # order only; exact enough for ties
    else:
        products = weights * total
        shares, remainders = np.divmod(products, weight_sum)
    left = total - int(shares.sum())
    if left:
        order = np.lexsort((np.arange(weights.size), -remainders))  # largest remainder, then earlier
        shares[order[:left]] += 1
    return shares.astype(np.int64)
