"""BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", *Marketing Science* 24(2)).

Each customer buys as a Poisson process with rate λ ~ Gamma(r, α) while alive and, after each repeat
purchase, drops out with probability p ~ Beta(a, b). Per customer the data are ``frequency`` x (repeat
purchases), ``recency`` t_x (time of the last repeat purchase, from the first purchase; 0 when x = 0) and
``T`` (time from the first purchase to the end of the calibration window). Time is in any one unit (days,
weeks, months); α is in that unit and ``expected_purchases`` takes its horizon in it too.

The fit is maximum likelihood (FHL 2005 eq. 6) over the distinct (x, t_x, T) rows weighted by their
counts, with an analytic gradient. Times are divided by the largest T before the search so that starting
values and bounds do not depend on the time unit; α and the log-likelihood are reported in the caller's
unit. Bad data and fits the data cannot support raise :class:`~mlmroi.errors.ModelError` with a one-line
reason; parameters are never NaN.
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
    betaln,
    broadcast,
    check_frequency,
    check_params,
    count,
    digamma,
    distinct,
    expit,
    gammaln,
    hyp2f1,
    maximise,
    same_length,
)

MODEL = "BG/NBD"
UNIDENTIFIED = "e.g. no sign of dropout, or every customer buying at the same rate"
NAMES = ("r", "alpha", "a", "b")
NEAR_ONE = 1e-6  # |a − 1| below this: eq. 10 is 0/0 at a = 1, so it is evaluated either side and averaged
STEP = 1e-4


@dataclass(frozen=True)
class BgNbdFit:
    """Fitted BG/NBD parameters (α in the time unit of the data) and how the fit went."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    repeat_buyers: int
    iterations: int

    def as_dict(self) -> dict[str, Any]:
        """The fit for run.json."""
        return {"model": "bgnbd", **asdict(self)}


@dataclass(frozen=True)
class _Summary:
    """The data, aggregated: per distinct x (the terms that depend on x only), the one-time buyers' ages
    (x = 0 depends on T only) and the repeat buyers' distinct (x, t_x, T) rows; times scaled."""

    x: FloatArray  # distinct frequencies
    x_weight: FloatArray
    age0: FloatArray  # T of customers with x = 0
    age0_weight: FloatArray
    x1: FloatArray  # repeat buyers' distinct rows
    recency1: FloatArray
    age1: FloatArray
    weight1: FloatArray
    customers: float
    scale: float


def fit_bgnbd(frequency: Any, recency: Any, T: Any, *, max_iterations: int = MAX_ITERATIONS) -> BgNbdFit:
    """Fit r, α, a, b by maximum likelihood; deterministic and independent of the row order.

    Raises ModelError when there are no customers, fewer than ``MIN_REPEAT_BUYERS`` (10) repeat buyers,
    invalid values (NaN, negative, fractional frequency, recency > T, recency ≠ 0 at frequency 0), every
    T = 0, no convergence within ``max_iterations``, or a parameter at its search bound."""
    x, recency_, age = _checked(frequency, recency, T)
    if len(x) == 0:
        raise ModelError(f"{MODEL}: no customers to fit")
    if not np.any(age > 0):
        raise ModelError(f"{MODEL}: every customer has T = 0; the calibration window has no length")
    repeat = count(x > 0)
    if repeat < MIN_REPEAT_BUYERS:
        raise ModelError(
            f"{MODEL}: {repeat} repeat buyers among {len(x)} customers; "
            f"at least {MIN_REPEAT_BUYERS} are needed to fit the model"
        )
    data = _summarise(x, recency_, age)
    mean_rate = float(np.sum(data.x * data.x_weight)) / float(
        np.sum(data.age0 * data.age0_weight) + np.sum(data.age1 * data.weight1)
    )
    start = np.log(np.array([1.0, 1.0 / mean_rate, 1.0, 1.0]))
    optimum = maximise(
        MODEL, NAMES, lambda theta: _negative_mean(theta, data), start, max_iterations, UNIDENTIFIED
    )
    r, alpha, a, b = (float(v) for v in np.exp(optimum.log_params))
    # Dividing times by s multiplies each customer's likelihood by s^x.
    shift = float(np.log(data.scale)) * float(np.sum(data.x * data.x_weight))
    return BgNbdFit(
        r=r,
        alpha=alpha * data.scale,
        a=a,
        b=b,
        log_likelihood=optimum.mean_log_likelihood * data.customers - shift,
        customers=len(x),
        repeat_buyers=repeat,
        iterations=optimum.iterations,
    )


def expected_purchases(fit: BgNbdFit, t: Any, frequency: Any, recency: Any, T: Any) -> FloatArray:
    """Expected purchases in (T, T + t] given each customer's history (FHL 2005 eq. 10), ≥ 0.

    Inputs broadcast (``t`` may be one horizon or one per customer). The ₂F₁ term is evaluated after
    Euler's transformation, ₂F₁(r+x, b+x; c; z) = (1−z)^(a−1−r−x) ₂F₁(a+b−1−r, a−1; c; z) with
    c = a+b+x−1: the original grows without bound in x while the transformed one tends to 1, so heavy
    buyers stay finite. The dead-or-alive factor is a logistic in log space (no overflow for long-lapsed
    heavy buyers, whose expectation is then 0)."""
    _check_fit(fit)
    x, recency_, age = _checked(frequency, recency, T, fitting=False)
    horizon = as_floats(MODEL, "t", t)
    if np.any(horizon < 0):
        raise ModelError(f"{MODEL}: the horizon t has {count(horizon < 0)} negative values")
    horizon, x, recency_, age = broadcast(MODEL, horizon, x, recency_, age)
    if abs(fit.a - 1.0) < NEAR_ONE:
        alive = 0.5 * (
            _alive_purchases(fit, fit.a - STEP, horizon, x, age)
            + _alive_purchases(fit, fit.a + STEP, horizon, x, age)
        )
    else:
        alive = _alive_purchases(fit, fit.a, horizon, x, age)
    expected = np.maximum(alive, 0.0) * expit(-_log_dead_odds(fit, x, recency_, age))
    if not np.all(np.isfinite(expected)):
        raise ModelError(
            f"{MODEL}: expected purchases are not finite for {count(~np.isfinite(expected))} customers "
            "(the hypergeometric term overflowed); shorten the horizon or check the fit"
        )
    return expected


def p_alive(fit: BgNbdFit, frequency: Any, recency: Any, T: Any) -> FloatArray:
    """Probability that each customer is still alive at T, in [0, 1]; exactly 1 for x = 0 (a customer
    can drop out only after a repeat purchase, so one who never bought again is alive by the model)."""
    _check_fit(fit)
    x, recency_, age = _checked(frequency, recency, T, fitting=False)
    x, recency_, age = broadcast(MODEL, x, recency_, age)
    return expit(-_log_dead_odds(fit, x, recency_, age))


def _check_fit(fit: BgNbdFit) -> None:
    check_params(MODEL, {"r": fit.r, "alpha": fit.alpha, "a": fit.a, "b": fit.b})


def _checked(
    frequency: Any, recency: Any, T: Any, *, fitting: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The three columns as float64, or a ModelError naming the first problem."""
    x = as_floats(MODEL, "frequency", frequency)
    recency_ = as_floats(MODEL, "recency", recency)
    age = as_floats(MODEL, "T", T)
    if fitting:
        same_length(MODEL, {"frequency": x, "recency": recency_, "T": age})
    check_frequency(MODEL, x)
    for name, values in (("recency", recency_), ("T", age)):
        if np.any(values < 0):
            raise ModelError(f"{MODEL}: {name} has {count(values < 0)} negative values; times start at 0")
    try:
        late = recency_ > age
        lapsed = (x == 0) & (recency_ != 0)
    except ValueError:
        raise ModelError(f"{MODEL}: frequency, recency and T have incompatible shapes") from None
    if np.any(late):
        raise ModelError(
            f"{MODEL}: recency exceeds T for {count(late)} customers; the last purchase must be within T"
        )
    if np.any(lapsed):
        raise ModelError(f"{MODEL}: recency is not 0 for {count(lapsed)} customers with frequency 0")
    return x, recency_, age


def _summarise(x: FloatArray, recency: FloatArray, age: FloatArray) -> _Summary:
    """Aggregate identical customers and scale times by the largest T."""
    scale = float(np.max(age))
    keys, weight = distinct({"x": x, "recency": recency / scale, "age": age / scale})
    xs, first = np.unique(keys["x"], return_index=True)  # keys are sorted by x first
    once = keys["x"] == 0
    return _Summary(
        x=xs,
        x_weight=np.add.reduceat(weight, first),
        age0=keys["age"][once],
        age0_weight=weight[once],
        x1=keys["x"][~once],
        recency1=keys["recency"][~once],
        age1=keys["age"][~once],
        weight1=weight[~once],
        customers=float(np.sum(weight)),
        scale=scale,
    )


def _negative_mean(theta: FloatArray, d: _Summary) -> tuple[float, FloatArray]:
    """−(mean log-likelihood) and its gradient in (log r, log α, log a, log b).

    Per customer, log L = log Γ(r+x) − log Γ(r) + r log α + log B(a, b+x) − log B(a, b)
    + log[(α+T)^−(r+x) + 1{x>0} a/(b+x−1) (α+t_x)^−(r+x)], the last term by log-sum-exp."""
    r, alpha, a, b = np.exp(theta)
    x, w = d.x, d.x_weight
    ll = np.sum(w * (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)))
    g_r = np.sum(w * (digamma(r + x) - digamma(r) + np.log(alpha)))
    g_alpha = np.sum(w) * r / alpha
    g_a = np.sum(w * (digamma(a + b) - digamma(a + b + x)))
    g_b = np.sum(w * (digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x)))

    log_age0 = np.log(alpha + d.age0)
    ll += np.sum(d.age0_weight * (-r * log_age0))
    g_r -= np.sum(d.age0_weight * log_age0)
    g_alpha -= np.sum(d.age0_weight * r / (alpha + d.age0))

    x1, w1 = d.x1, d.weight1
    log_age1 = np.log(alpha + d.age1)
    log_recency1 = np.log(alpha + d.recency1)
    alive = -(r + x1) * log_age1
    dead = np.log(a) - np.log(b + x1 - 1) - (r + x1) * log_recency1
    total = np.logaddexp(alive, dead)
    share_dead = np.exp(dead - total)  # the weight of the "dropped out after t_x" branch
    share_alive = 1.0 - share_dead
    ll += np.sum(w1 * total)
    g_r -= np.sum(w1 * (share_alive * log_age1 + share_dead * log_recency1))
    g_alpha -= np.sum(w1 * (r + x1) * (share_alive / (alpha + d.age1) + share_dead / (alpha + d.recency1)))
    g_a += np.sum(w1 * share_dead) / a
    g_b -= np.sum(w1 * share_dead / (b + x1 - 1))

    n = d.customers
    gradient = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b], dtype=np.float64)
    return -float(ll) / n, -gradient / n


def _alive_purchases(fit: BgNbdFit, a: float, t: FloatArray, x: FloatArray, age: FloatArray) -> FloatArray:
    """The numerator of eq. 10: expected purchases in (T, T+t] for a customer known to be alive at T,
    (a+b+x−1)/(a−1) · [1 − (1−z)^(a−1) ₂F₁(a+b−1−r, a−1; a+b+x−1; z)], z = t/(α+T+t)."""
    r, alpha, b = fit.r, fit.alpha, fit.b
    c = a + b + x - 1
    log_rest = np.log(alpha + age) - np.log(alpha + age + t)  # log(1 − z), exact for small t
    z = t / (alpha + age + t)
    tail = np.exp((a - 1) * log_rest) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * (1.0 - tail)


def _log_dead_odds(fit: BgNbdFit, x: FloatArray, recency: FloatArray, age: FloatArray) -> FloatArray:
    """log[P(dropped out after t_x) / P(alive at T)] = log a − log(b+x−1) + (r+x) log((α+T)/(α+t_x));
    −∞ for x = 0 (no dropout before the first repeat purchase)."""
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)  # keeps log(b + x − 1) defined where it is not used
    odds = (
        np.log(fit.a)
        - np.log(fit.b + safe_x - 1)
        + (fit.r + safe_x) * (np.log(fit.alpha + age) - np.log(fit.alpha + recency))
    )
    return np.where(repeat, odds, -np.inf)
