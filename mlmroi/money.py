"""Exact money arithmetic: integer minor units (cents), rates in parts per million, half-to-even rounding.

Kernels add integer minor units only. A rate is applied once per aggregate (payee × period × component ×
level) by :func:`apply_rate`, which is exact: ``amount × rate_ppm`` is an integer and the division by 10⁶
is rounded half-to-even with integer arithmetic, so no floating-point error can move a cent.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel, readonly

RATE_SCALE = 1_000_000  # rates are stored as integer parts per million
#: the bound on amounts (currency units, exclusive): input amounts and money settings stay below it, so every
#: figure in minor units, and the totals of up to a billion of them, fit in int64 (docs/data-contract.md)
MAX_AMOUNT = 10**13
#: outputs store money as Decimal(18, decimals): a table's amounts, added up in absolute value, must stay
#: below 10^18 minor units, so that no total or partial sum can overflow (checked on read)
MAX_TOTAL_MINOR = 10**18
_INT64_MAX = np.iinfo(np.int64).max

IntArray = npt.NDArray[np.int64]


def rate_ppm(rate: float) -> int:
    """A rate as integer parts per million (0.05 -> 50_000)."""
    return round(rate * RATE_SCALE)


def is_ppm_exact(rate: float) -> bool:
    """True when ``rate`` has at most six decimals (so :func:`rate_ppm` loses nothing)."""
    return abs(rate * RATE_SCALE - round(rate * RATE_SCALE)) < 1e-6


@kernel
def div_half_even(numerator, denominator):  # type: ignore[no-untyped-def]
    """``numerator / denominator`` rounded half-to-even, exactly, in int64 (denominator > 0): the one
    rounding rule of every amount mlmroi computes; kernels call it directly."""
    quotient = numerator // denominator  # floor, as Python's
    twice = (numerator - quotient * denominator) * 2
    if twice > denominator or (twice == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def half_even_expr(numerator: pl.Expr, denominator: int) -> pl.Expr:
    """:func:`div_half_even` as a polars expression over an Int64 column (the same rule, for tables)."""
    quotient, remainder = numerator // denominator, numerator % denominator  # floor, remainder ≥ 0
    up = (2 * remainder > denominator) | ((2 * remainder == denominator) & (quotient % 2 != 0))
    return quotient + up.cast(pl.Int64)


@kernel
def _div_half_even_into(numerator, denominator, out):  # type: ignore[no-untyped-def]
    for i in range(numerator.shape[0]):
        out[i] = div_half_even(numerator[i], denominator)


def divide_half_even(numerator: IntArray, denominator: int) -> IntArray:
    """``numerator / denominator`` rounded half-to-even, exactly, for integer arrays (denominator > 0)."""
    values = np.ascontiguousarray(numerator, dtype=np.int64)
    out = np.empty(values.shape, dtype=np.int64)
    _div_half_even_into(readonly(values.reshape(-1)), np.int64(denominator), out.reshape(-1))
    return out


def _half_even_big(numerator: int, denominator: int) -> int:
    """The same rule for Python integers beyond int64 (``round`` of a Fraction is exact, half-to-even)."""
    return round(Fraction(numerator, denominator))


def apply_rate(minor: IntArray, ppm: int) -> IntArray:
    """``minor × ppm / 10⁶`` rounded half-to-even to the minor unit, exactly."""
    minor = np.asarray(minor, dtype=np.int64)
    if ppm == 0 or minor.size == 0:
        return np.zeros(minor.shape, dtype=np.int64)
    if max(-int(minor.min()), int(minor.max())) > _INT64_MAX // abs(ppm):
        # Beyond int64 range: Python integers are exact at any size (never seen in practice).
        exact: IntArray = np.array(
            [_half_even_big(int(m) * ppm, RATE_SCALE) for m in minor.ravel().tolist()], dtype=np.int64
        ).reshape(minor.shape)
        return exact
    return divide_half_even(minor * ppm, RATE_SCALE)


@kernel
def largest_remainder(weights, goal):  # type: ignore[no-untyped-def]
    """Shares of ``goal`` in proportion to int64 ``weights`` (positive sum, ``weights × goal`` within
    int64): each rounded down, the units left over one each to the largest remainders, ties to the earlier
    position. The one splitter of paid money; kernels call it directly."""
    total = weights.sum()
    shares = weights * goal // total
    remainders = weights * goal - shares * total
    left = goal - shares.sum()
    order = np.argsort(-remainders, kind="mergesort")  # stable: ties to the earlier position
    for j in range(left):
        shares[order[j]] += 1
    return shares


def split_largest_remainder(total: int, weights: IntArray) -> IntArray:
    """Split ``total`` minor units in proportion to non-negative integer ``weights``, exactly.

    Each share is rounded down; the cents left over go one each to the largest remainders, ties to the
    earlier position. The shares always add up to ``total``. ``weights`` must not sum to zero.
    """
    weights = np.asarray(weights, dtype=np.int64)
    if weights.size == 0 or int(weights.min()) < 0:
        raise ValueError("weights must be non-negative and not empty")
    if int(weights.min()) == int(weights.max()) > 0:  # equal weights (allocation by count): no sorting
        shares = np.full(weights.size, total // weights.size, dtype=np.int64)
        shares[: total % weights.size] += 1  # equal remainders: the leftover units go to the earliest
        return shares
    if int(weights.sum()) <= 0:
        raise ValueError("weights must have a positive sum")
    if int(weights.max()) <= _INT64_MAX // max(weights.size, abs(total), 1):
        out: IntArray = largest_remainder(weights, np.int64(total))
        return out
    # Beyond int64 (never seen in practice): the same rule in Python integers, exact at any magnitude.
    ints = [int(w) for w in weights.tolist()]
    pairs = [divmod(w * total, sum(ints)) for w in ints]
    shares = np.array([q for q, _ in pairs], dtype=np.int64)
    left = total - sum(q for q, _ in pairs)
    order = sorted(range(len(pairs)), key=lambda i: (-pairs[i][1], i))
    shares[np.asarray(order[:left], dtype=np.int64)] += 1
    return shares


def apportion(total: int, weights: IntArray) -> IntArray:
    """Split ``total`` in proportion to ``weights`` of any sign (their sum must not be 0), exactly.

    Shares are rounded down and the units left over go to the largest remainders (ties to the earlier
    position), so they always add up to ``total``. Shares are computed in float64: for explanations and
    apportionments, where a share may differ from the ideal by one unit at extreme magnitudes but the sum
    is always exact. (Money that is *paid* is split with :func:`split_largest_remainder`.)
    """
    weights = np.asarray(weights, dtype=np.int64)
    weight_sum = int(weights.sum())
    if weights.size == 0 or weight_sum == 0:
        raise ValueError("weights must not be empty or sum to zero")
    ideal = weights.astype(np.float64) * (total / weight_sum)
    shares = np.floor(ideal).astype(np.int64)
    left = total - int(shares.sum())
    order = np.lexsort((np.arange(weights.size), -(ideal - shares)))
    if left > 0:
        shares[order[: min(left, weights.size)]] += 1
        left -= min(left, weights.size)
    elif left < 0:  # float error only: take units back from the smallest remainders
        shares[order[::-1][: min(-left, weights.size)]] -= 1
        left += min(-left, weights.size)
    shares[0] += left  # never in practice; keeps the sum exact whatever happens
    return shares


@kernel
def scatter_add(out, index, values):  # type: ignore[no-untyped-def]
    """``out[index[i]] += values[i]`` for every i, in ``out``'s type (exact for integers)."""
    for i in range(index.shape[0]):
        out[index[i]] += values[i]


def sum_by_index(index: npt.NDArray[np.integer[Any]], values: IntArray, n: int) -> IntArray:
    """``out[k] = Σ values[index == k]`` for k < n, in exact int64 (np.add.at is ~20× slower)."""
    out = np.zeros(n, dtype=np.int64)
    index = readonly(np.ascontiguousarray(index, dtype=np.int64))
    scatter_add(out, index, readonly(np.ascontiguousarray(values, dtype=np.int64)))
    return out


def to_decimal(column: str | pl.Expr, decimals: int) -> pl.Expr:
    """An integer minor-units column as an exact Decimal(18, decimals) expression."""
    expr: pl.Expr = pl.col(column) if isinstance(column, str) else column
    # × 10^-decimals in Decimal arithmetic is exact and several times cheaper than a Decimal division.
    unit = pl.lit(Decimal(1).scaleb(-decimals), dtype=pl.Decimal(18, decimals))
    return (expr.cast(pl.Decimal(18, 0)) * unit).cast(pl.Decimal(18, decimals))


def decimal_series(name: str, minor: npt.NDArray[np.int64], decimals: int) -> pl.Series:
    """Minor units as an exact polars Decimal(18, decimals) Series."""
    return pl.DataFrame({name: minor}).select(to_decimal(name, decimals))[name]


@kernel
def float_to_minor(value):  # type: ignore[no-untyped-def]
    """A float amount already in minor units (a model's estimate, an apportioned share) to the nearest
    integer, half-to-even. Money read from input never passes through float."""
    return np.int64(np.rint(value))


def minor_from_floats(values: npt.NDArray[np.float64], scale: float = 1.0) -> IntArray:
    """:func:`float_to_minor` of ``values × scale`` for a float array (any shape): the same float64
    product, ``rint`` and cast, elementwise in numpy (as fast, and nothing to compile)."""
    flat = np.ascontiguousarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):  # NaN or out of range: what the cast gives, as float_to_minor, unsaid
        out: IntArray = np.rint(flat * float(scale)).astype(np.int64)
    return out


def minor_from_float_amounts(values: pl.Series, decimals: int) -> tuple[pl.Series, pl.Series]:
    """Float64 amounts as exact minor units, rounded half-to-even on their shortest decimal form (the digits
    Python prints), without building that text, wherever that is safe:

    - ``x`` has at most ``decimals`` places: the double nearest to ``m / 10^decimals`` (``m``: ``x`` scaled
      and rounded) is ``x`` itself, with ``|x|`` below :data:`MAX_AMOUNT` and below 2⁵¹ / 10^decimals (the
      doubles' spacing under half a minor unit, so no two such decimals share a double): the amount is ``m``;
    - otherwise the scaled value ``y`` is nowhere near a half (``|frac(y) − ½| > 0.001``, ``|y| < 2⁴⁰``): no
      decimal that rounds to ``x`` — its shortest form included — is a tie or on the other side of one, so
      the amount is ``y`` rounded to the nearest integer.

    Returns the minor units (null elsewhere) and the mask of the values converted; the others (ties like
    1.015, NaN, huge) need their text form (:mod:`mlmroi.io.amounts`).
    """
    scale = 10**decimals
    floats = values.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    minor, done = _float_amounts(floats, float(scale), min(2.0**51 / scale, float(MAX_AMOUNT)))
    converted = pl.Series(done)
    out = pl.Series(values.name, minor)
    return out.set(~converted, None) if out.len() else out, converted


@kernel
def _float_amounts(x, scale, exact_below):  # type: ignore[no-untyped-def]
    n = x.shape[0]
    minor = np.zeros(n, dtype=np.int64)
    done = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        v = x[i]
        if not np.isfinite(v):
            continue
        y = v * scale
        m = np.rint(y)
        exact = m / scale == v and abs(v) < exact_below  # at most ``decimals`` places
        clear = abs(y) < 2.0**40 and abs(y - np.floor(y) - 0.5) > 0.001  # nowhere near a tie
        if exact or clear:
            minor[i] = np.int64(m)
            done[i] = True
    return minor, done
