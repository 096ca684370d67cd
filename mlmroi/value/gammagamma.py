"""Gamma-Gamma spend model (Fader & Hardie, "The Gamma-Gamma Model of Monetary Value", 2013; Fader, Hardie &
Lee 2005, "RFM and CLV", *Journal of Marketing Research* 42(4)).

A customer's transaction values are Gamma(p, ν) with ν ~ Gamma(q, γ) across customers (γ is called v in
some libraries); the data are each repeat buyer's number of repeat transactions x and their mean value
m̄ (the first purchase left out: Fader & Hardie's and the lifetimes package's convention). Only customers
with x > 0 enter the fit; ``monetary_value`` is ignored (may be anything) where x = 0. The model assumes
spend is independent of purchase frequency; check the correlation before relying on it.

Maximum likelihood with an analytic gradient; values are divided by their mean before the search (so
bounds and starting values do not depend on the currency) and γ and the log-likelihood are reported in
the caller's money unit. Bad data and unsupported fits raise :class:`~mlmroi.errors.ModelError`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from mlmroi.errors import ModelError
from mlmroi.value._common import (
    MAX_ITERATIONS,
    MIN_REPEAT_BUYERS,
    FloatArray,
    as_floats,
    as_weights,
    broadcast,
    check_frequency,
    check_params,
    count,
    digamma,
    distinct,
    gammaln,
    maximise,
    same_length,
)

MODEL = "Gamma-Gamma"
UNIDENTIFIED = "e.g. every repeat buyer spending the same"
NAMES = ("p", "q", "gamma")


@dataclass(frozen=True)
class GammaGammaFit:
    """Fitted Gamma-Gamma parameters (γ in the money unit of the data) and how the fit went."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int  # repeat buyers, the customers the model is fitted on
    iterations: int

    def as_dict(self) -> dict[str, Any]:
        """The fit for run.json."""
        return {"model": "gamma_gamma", **asdict(self)}


@dataclass(frozen=True)
class _Spend:
    """Repeat buyers' distinct (x, m̄) rows with counts, values scaled, and the parameter-free sums."""

    x: FloatArray  # distinct frequencies
    x_weight: FloatArray
    row_x: FloatArray  # per distinct (x, m̄) row
    row_total: FloatArray  # x · m̄
    row_weight: FloatArray
    log_terms: float  # Σ x (log m̄ + log x): the coefficient of p
    log_values: float  # Σ log m̄
    customers: float
    scale: float


def fit_gamma_gamma(
    frequency: Any, monetary_value: Any, *, weights: Any = None, max_iterations: int = MAX_ITERATIONS
) -> GammaGammaFit:
    """Fit p, q, γ on the repeat buyers (frequency > 0); deterministic and independent of the row order.

    ``weights``: how many customers each row stands for (rows aggregated by the caller; 1 each when None).
    Raises ModelError on invalid frequencies, NaN or non-positive mean values of repeat buyers, fewer
    than ``MIN_REPEAT_BUYERS`` (10) repeat buyers, no convergence, or a parameter at its search bound."""
    x, m = _checked(frequency, monetary_value, fitting=True)
    w = as_weights(MODEL, weights, len(x))
    repeat = x > 0
    buyers = round(float(np.sum(w[repeat])))
    if buyers < MIN_REPEAT_BUYERS:
        raise ModelError(
            f"{MODEL}: {buyers} repeat buyers among {round(float(np.sum(w)))} customers; "
            f"at least {MIN_REPEAT_BUYERS} are needed to fit the model"
        )
    data = _summarise(x[repeat], m[repeat], w[repeat])
    start = np.log(np.array([1.0, 2.0, 1.0]))  # mean p·γ/(q−1) = 1, the scaled mean value
    optimum = maximise(
        MODEL, NAMES, lambda theta: _negative_mean(theta, data), start, max_iterations, UNIDENTIFIED
    )
    p, q, gamma = (float(v) for v in np.exp(optimum.log_params))
    # Dividing values by s multiplies each customer's density by s.
    shift = data.customers * float(np.log(data.scale))
    return GammaGammaFit(
        p=p,
        q=q,
        gamma=gamma * data.scale,
        log_likelihood=optimum.mean_log_likelihood * data.customers - shift,
        customers=round(data.customers),
        iterations=optimum.iterations,
    )


def expected_order_value(fit: GammaGammaFit, frequency: Any, monetary_value: Any) -> FloatArray:
    """Each customer's expected transaction value, E[Z | x, m̄] = p (γ + x m̄) / (p x + q − 1): a weighted
    mean of the population mean p γ / (q − 1) and the customer's own m̄. For x = 0 it is the population
    mean, which exists only if q > 1 (ModelError otherwise); inputs broadcast."""
    check_params(MODEL, {"p": fit.p, "q": fit.q, "gamma": fit.gamma})
    x, m = _checked(frequency, monetary_value, fitting=False)
    x, m = broadcast(MODEL, x, m)
    denominator = fit.p * x + fit.q - 1
    if np.any(denominator <= 0):
        needs = "q > 1 for customers without repeat purchases" if np.any(x == 0) else "p·x + q > 1"
        raise ModelError(
            f"{MODEL}: the expected order value is infinite for {count(denominator <= 0)} customers "
            f"(q = {fit.q:.4g}; it needs {needs})"
        )
    return fit.p * (fit.gamma + x * np.where(x > 0, m, 0.0)) / denominator


def _checked(frequency: Any, monetary_value: Any, *, fitting: bool) -> tuple[FloatArray, FloatArray]:
    """Frequencies and mean values as float64; mean values checked only where frequency > 0."""
    x = as_floats(MODEL, "frequency", frequency)
    check_frequency(MODEL, x)
    try:
        raw = np.asarray(monetary_value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelError(f"{MODEL}: monetary_value is not numeric") from None
    if fitting:
        same_length(MODEL, {"frequency": x, "monetary_value": raw})
    try:
        used = np.broadcast_to(x > 0, np.broadcast_shapes(x.shape, raw.shape))
    except ValueError:
        raise ModelError(f"{MODEL}: frequency and monetary_value have incompatible shapes") from None
    m = as_floats(MODEL, "monetary_value", np.where(used, raw, 1.0))
    if np.any(m <= 0):
        raise ModelError(
            f"{MODEL}: monetary_value is 0 or negative for {count(m <= 0)} repeat buyers; "
            "the model needs positive mean transaction values"
        )
    return x, m


def _summarise(x: FloatArray, m: FloatArray, weights: FloatArray) -> _Spend:
    """Aggregate identical repeat buyers and scale values by their mean (over the sorted rows, so the
    scale does not depend on the row order)."""
    keys, weight = distinct({"x": x, "m": m}, weights)
    scale = float(np.sum(keys["m"] * weight) / np.sum(weight))
    row_x, row_m = keys["x"], keys["m"] / scale
    first = np.flatnonzero(np.diff(row_x, prepend=-1.0))  # rows are sorted by x first
    return _Spend(
        x=row_x[first],
        x_weight=np.add.reduceat(weight, first),
        row_x=row_x,
        row_total=row_x * row_m,
        row_weight=weight,
        log_terms=float(np.sum(weight * row_x * (np.log(row_m) + np.log(row_x)))),
        log_values=float(np.sum(weight * np.log(row_m))),
        customers=float(np.sum(weight)),
        scale=scale,
    )


def _negative_mean(theta: FloatArray, d: _Spend) -> tuple[float, FloatArray]:
    """−(mean log-likelihood) and its gradient in (log p, log q, log γ). Per repeat buyer,
    log L = log Γ(px+q) − log Γ(px) − log Γ(q) + q log γ + (px−1) log m̄ + px log x − (px+q) log(x m̄ + γ);
    only the last term needs a pass over the rows, the others are sums per distinct x or constants."""
    p, q, gamma = np.exp(theta)
    x, w = d.x, d.x_weight
    n = d.customers
    px = p * x
    log_total = np.log(d.row_total + gamma)
    spread = np.sum(d.row_weight * d.row_x * log_total)  # Σ x log(x m̄ + γ)
    level = np.sum(d.row_weight * log_total)  # Σ log(x m̄ + γ)
    ll = (
        np.sum(w * (gammaln(px + q) - gammaln(px) - gammaln(q)))
        + n * q * np.log(gamma)
        + p * d.log_terms
        - d.log_values
        - p * spread
        - q * level
    )
    g_p = np.sum(w * x * (digamma(px + q) - digamma(px))) + d.log_terms - spread
    g_q = np.sum(w * (digamma(px + q) - digamma(q))) + n * np.log(gamma) - level
    g_gamma = n * q / gamma - np.sum(d.row_weight * (p * d.row_x + q) / (d.row_total + gamma))
    gradient = np.array([g_p * p, g_q * q, g_gamma * gamma], dtype=np.float64)
    return -float(ll) / n, -gradient / n
