"""What the BG/NBD and Gamma-Gamma models share: typed scipy wrappers, input checks, aggregation and the
bounded maximum-likelihood search.

scipy ships no type information, so it is imported here once and every function used is wrapped with a
typed signature; the models never touch an untyped name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy import optimize, special

from mlmroi.errors import ModelError

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray], tuple[float, FloatArray]]

MIN_REPEAT_BUYERS = 10
"""Fewer repeat buyers than this and a fit is refused: the repeat-purchase and dropout parameters are
identified only by customers who bought again, and ten is the least that gives the optimiser a surface to
climb (CDNOW has 946). The absolute floor, not a share, because a large base with a small repeat share
still identifies the model."""

LOWER, UPPER = float(np.log(1e-6)), float(np.log(1e4))
"""Every parameter is searched on a log scale within [1e-6, 1e4] in the data's own units (times divided by
the largest age, money by the mean value). Real populations sit well inside: a shape of 1e4 means a
coefficient of variation of 1%, b = 1e4 a dropout chance of 1 in 10,000 purchases. An optimum at either end
means the data cannot identify that parameter (no dropout, no heterogeneity, identical values), so the fit
is refused rather than reported."""

AT_BOUND = 1e-3  # how close (on the log scale) to a bound counts as "at the bound"
MAX_ITERATIONS = 1000
GRADIENT_TOLERANCE = 1e-9  # on the mean log-likelihood per customer, per log-parameter
ACCEPT_GRADIENT = 1e-6  # a stalled line search is accepted as converged below this gradient


def gammaln(x: FloatArray | float) -> FloatArray:
    """log Γ(x), elementwise."""
    out: FloatArray = special.gammaln(x)
    return out


def digamma(x: FloatArray | float) -> FloatArray:
    """ψ(x) = d log Γ(x) / dx, elementwise (the gradients)."""
    out: FloatArray = special.digamma(x)
    return out


def betaln(a: FloatArray | float, b: FloatArray | float) -> FloatArray:
    """log B(a, b), elementwise."""
    out: FloatArray = special.betaln(a, b)
    return out


def hyp2f1(a: FloatArray | float, b: FloatArray | float, c: FloatArray | float, z: FloatArray) -> FloatArray:
    """The Gauss hypergeometric function ₂F₁(a, b; c; z), elementwise."""
    out: FloatArray = special.hyp2f1(a, b, c, z)
    return out


def expit(x: FloatArray) -> FloatArray:
    """1 / (1 + e^−x) without overflow for large |x|."""
    out: FloatArray = special.expit(x)
    return out


def as_floats(model: str, name: str, values: Any) -> FloatArray:
    """``values`` as float64 (any array-like, polars Series included); finite, or a one-line ModelError."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"{model}: {name} is not numeric") from None
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise ModelError(f"{model}: {name} has {bad} NaN or infinite values; every customer needs a number")
    return array + 0.0  # a copy, and −0.0 becomes 0.0 so equal values aggregate together


def check_frequency(model: str, frequency: FloatArray) -> None:
    """Repeat purchases are whole numbers ≥ 0."""
    if np.any(frequency < 0):
        raise ModelError(
            f"{model}: frequency has {count(frequency < 0)} negative values; it counts purchases"
        )
    fractional = frequency != np.floor(frequency)
    if np.any(fractional):
        raise ModelError(
            f"{model}: frequency has {count(fractional)} non-integer values; it counts repeat purchases"
        )


def check_params(model: str, params: dict[str, float]) -> None:
    """A fit built by hand (or read back from run.json) must have finite, positive parameters."""
    for name, value in params.items():
        if not (np.isfinite(value) and value > 0):
            raise ModelError(f"{model}: parameter {name} is {value}; every parameter must be positive")


def broadcast(model: str, *arrays: FloatArray) -> list[FloatArray]:
    """The arrays broadcast to one shape (scalars and one value per customer mix freely)."""
    try:
        return list(np.broadcast_arrays(*arrays))
    except ValueError:
        raise ModelError(f"{model}: the inputs have incompatible shapes") from None


def count(mask: npt.NDArray[np.bool_]) -> int:
    """How many are true (for messages)."""
    return int(np.count_nonzero(mask))


def same_length(model: str, columns: dict[str, FloatArray]) -> int:
    """The common length of one-dimensional columns, or a ModelError naming the mismatch."""
    for name, column in columns.items():
        if column.ndim != 1:
            raise ModelError(f"{model}: {name} must be one-dimensional, one value per customer")
    lengths = {name: len(column) for name, column in columns.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{name} {n}" for name, n in lengths.items())
        raise ModelError(f"{model}: the inputs differ in length ({listed}); give one value per customer")
    return next(iter(lengths.values()))


def as_weights(model: str, weights: Any, n: int) -> FloatArray:
    """How many customers each row stands for (1 each when ``weights`` is None): finite and positive, one
    per row, or a one-line ModelError."""
    if weights is None:
        return np.ones(n)
    w = as_floats(model, "weights", weights)
    if w.ndim != 1 or len(w) != n:
        raise ModelError(f"{model}: weights must be one number per row ({n} rows)")
    if np.any(w <= 0):
        raise ModelError(
            f"{model}: weights has {count(w <= 0)} values that are 0 or negative; it counts customers"
        )
    return w


def distinct(
    columns: dict[str, FloatArray], weights: FloatArray | None = None
) -> tuple[dict[str, FloatArray], FloatArray]:
    """The distinct rows of ``columns``, sorted (the first column the primary key), with how many customers
    share each (the sum of their ``weights``, 1 per row when None).

    The likelihood is a sum over customers, so customers with identical data contribute identical terms:
    at 10M customers on day granularity there are far fewer distinct rows than customers. The sorted order
    makes every later sum independent of the input row order (bit for bit). Rows already distinct and
    sorted (what a caller that aggregated them itself passes, with weights) are taken as they are."""
    names = list(columns)
    n = len(columns[names[0]])
    w = np.ones(n) if weights is None else weights
    if _strictly_sorted([columns[name] for name in names]):
        return dict(columns), w
    frame = pl.DataFrame(columns).with_columns(pl.Series("_w", w))
    table = frame.group_by(names).agg(pl.col("_w").sum())  # hash groups, in no particular order
    keys = {name: table[name].to_numpy().astype(np.float64) for name in names}
    order = np.lexsort([keys[name] for name in reversed(names)])
    return {name: key[order] for name, key in keys.items()}, table["_w"].to_numpy()[order].astype(np.float64)


def _strictly_sorted(columns: list[FloatArray]) -> bool:
    """Whether every row is lexicographically greater than the one before (sorted, no repeats)."""
    if len(columns[0]) < 2:
        return True
    greater = np.zeros(len(columns[0]) - 1, dtype=np.bool_)
    equal = np.ones_like(greater)
    for column in columns:
        before, after = column[:-1], column[1:]
        greater |= equal & (after > before)
        equal &= after == before
        if not equal.any():
            break
    return bool(greater.all())


@dataclass(frozen=True)
class Optimum:
    """The maximum-likelihood point on the log scale and the mean log-likelihood there."""

    log_params: FloatArray
    mean_log_likelihood: float
    iterations: int


def maximise(
    model: str,
    names: tuple[str, ...],
    objective: Objective,
    start: FloatArray,
    max_iterations: int,
    unidentified: str,
) -> Optimum:
    """Maximise the mean log-likelihood with L-BFGS-B on log-parameters within [``LOWER``, ``UPPER``].

    ``objective`` returns the negative mean log-likelihood and its gradient; ``unidentified`` says, for the
    message, what data make a parameter run to a bound. A non-finite start, no convergence within
    ``max_iterations`` or an optimum at a bound is a ModelError, never a NaN result."""
    value, _ = objective(start)
    if not np.isfinite(value):
        raise ModelError(f"{model}: the log-likelihood is not finite at the starting values; check the data")
    result = optimize.minimize(
        objective,
        start,
        method="L-BFGS-B",
        jac=True,
        bounds=[(LOWER, UPPER)] * len(names),
        options={"maxiter": max_iterations, "ftol": 1e-15, "gtol": GRADIENT_TOLERANCE, "maxcor": 20},
    )
    log_params = np.asarray(result.x, dtype=np.float64)
    iterations = int(result.nit)
    for name, value in zip(names, log_params, strict=True):  # first: the most useful reason
        if value < LOWER + AT_BOUND or value > UPPER - AT_BOUND:
            side = "upper" if value > 0 else "lower"
            raise ModelError(
                f"{model}: parameter {name} ran to its {side} bound after {iterations} iterations; "
                f"the data cannot identify it ({unidentified})"
            )
    if not _converged(result, iterations, max_iterations):
        raise ModelError(
            f"{model}: the optimiser did not converge after {iterations} iterations ({_reason(result)})"
        )
    return Optimum(log_params, -float(result.fun), iterations)


def _converged(result: Any, iterations: int, max_iterations: int) -> bool:
    """Success, or a line search that stalled where the gradient is already ~0 (the objective's rounding
    floor, reached on long flat ridges such as Gamma-Gamma's p-q): converged for every purpose."""
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        return False
    if result.success:
        return True
    gradient = np.asarray(result.jac, dtype=np.float64)
    flat = bool(np.all(np.isfinite(gradient)) and np.max(np.abs(gradient)) <= ACCEPT_GRADIENT)
    return iterations < max_iterations and flat


def _reason(result: Any) -> str:
    """scipy's termination message on one line ("ABNORMAL" is a failed line search)."""
    message = " ".join(str(result.message).split())
    return "the line search failed" if message.startswith("ABNORMAL") else message.lower()
