"""BG/NBD (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", *Marketing Science* 24(2)), and
what it shares with MBG/NBD (:mod:`mlmroi.value.mbgnbd`).

Each customer buys as a Poisson process with rate λ ~ Gamma(r, α) while alive and, after each repeat
purchase, drops out with probability p ~ Beta(a, b) (MBG/NBD: at the first purchase too). Per customer the
data are ``frequency`` x (repeat purchases), ``recency`` t_x (time of the last repeat purchase, from the
first purchase; 0 when x = 0) and ``T`` (time from the first purchase to the end of the calibration
window). Time is in any one unit (days, weeks, months); α is in that unit and ``expected_purchases`` takes
its horizon in it too.

The fit is maximum likelihood (FHL 2005 eq. 6) over the distinct (x, t_x, T) rows weighted by their
counts, with an analytic gradient; the per-row terms are one compiled pass that takes log(α + t) from a
table of the distinct times (a few hundred at day granularity, however many customers). Times are divided
by the largest T before the search so that starting values and bounds do not depend on the time unit; α
and the log-likelihood are reported in the caller's unit. Bad data and fits the data cannot support raise
:class:`~mlmroi.errors.ModelError` with a one-line reason; parameters are never NaN.

The two models differ in one place: where BG/NBD has b, MBG/NBD's dropout terms have b + 1, and they
apply to customers without a repeat purchase too. So :func:`expected_purchases`, :func:`p_alive` and
:func:`purchases_if_alive` take either fit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from mlmroi._numba import kernel
from mlmroi.errors import ModelError
from mlmroi.value._common import (
    MAX_ITERATIONS,
    MIN_REPEAT_BUYERS,
    FloatArray,
    as_floats,
    as_weights,
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

IntArray = npt.NDArray[np.int64]
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

    name: ClassVar[str] = "bgnbd"  # run.json's key
    label: ClassVar[str] = "BG/NBD"  # in messages
    dropout_at_first: ClassVar[bool] = False  # MBG/NBD: a customer can drop out at the first purchase too

    def as_dict(self) -> dict[str, Any]:
        """The fit for run.json."""
        return {"model": self.name, **asdict(self)}

    @property
    def params(self) -> dict[str, float]:
        """r, α, a, b."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


Fit = TypeVar("Fit", bound=BgNbdFit)


@dataclass(frozen=True)
class _Summary:
    """The data, aggregated: per distinct x the terms that depend on x only, and the distinct (x, t_x, T)
    rows sorted by x (rows ``starts[j]:starts[j + 1]`` have x = ``x[j]``), their times as indices into the
    distinct scaled times."""

    x: FloatArray  # distinct frequencies
    x_weight: FloatArray
    starts: IntArray  # (len(x) + 1,)
    recency: IntArray  # per row, index into times
    age: IntArray
    weight: FloatArray
    times: FloatArray  # distinct recency and T values, divided by scale
    customers: float
    scale: float


def fit_bgnbd(
    frequency: Any, recency: Any, T: Any, *, weights: Any = None, max_iterations: int = MAX_ITERATIONS
) -> BgNbdFit:
    """Fit r, α, a, b by maximum likelihood; deterministic and independent of the row order.

    ``weights``: how many customers each row stands for (rows aggregated by the caller; 1 each when None).
    Raises ModelError when there are no customers, fewer than ``MIN_REPEAT_BUYERS`` (10) repeat buyers,
    invalid values (NaN, negative, fractional frequency, recency > T, recency ≠ 0 at frequency 0), every
    T = 0, no convergence within ``max_iterations``, or a parameter at its search bound."""
    return fit_family(BgNbdFit, frequency, recency, T, weights, max_iterations)


def fit_family(
    kind: type[Fit], frequency: Any, recency: Any, T: Any, weights: Any, max_iterations: int
) -> Fit:
    """:func:`fit_bgnbd` for ``kind`` (:class:`BgNbdFit` or MBG/NBD's subclass)."""
    model = kind.label
    x, recency_, age = _checked(model, frequency, recency, T)
    if len(x) == 0:
        raise ModelError(f"{model}: no customers to fit")
    w = as_weights(model, weights, len(x))
    if not np.any(age > 0):
        raise ModelError(f"{model}: every customer has T = 0; the calibration window has no length")
    repeat = round(float(np.sum(w[x > 0])))
    customers = round(float(np.sum(w)))
    if repeat < MIN_REPEAT_BUYERS:
        raise ModelError(
            f"{model}: {repeat} repeat buyers among {customers} customers; "
            f"at least {MIN_REPEAT_BUYERS} are needed to fit the model"
        )
    data = _summarise(x, recency_, age, w)
    mean_rate = float(np.sum(data.x * data.x_weight)) / float(np.sum(data.times[data.age] * data.weight))
    start = np.log(np.array([1.0, 1.0 / mean_rate, 1.0, 1.0]))
    shift = 1.0 if kind.dropout_at_first else 0.0
    optimum = maximise(
        model, NAMES, lambda theta: _negative_mean(theta, data, shift), start, max_iterations, UNIDENTIFIED
    )
    r, alpha, a, b = (float(v) for v in np.exp(optimum.log_params))
    # Dividing times by s multiplies each customer's likelihood by s^x.
    log_shift = float(np.log(data.scale)) * float(np.sum(data.x * data.x_weight))
    return kind(
        r=r,
        alpha=alpha * data.scale,
        a=a,
        b=b,
        log_likelihood=optimum.mean_log_likelihood * data.customers - log_shift,
        customers=customers,
        repeat_buyers=repeat,
        iterations=optimum.iterations,
    )


def expected_purchases(fit: BgNbdFit, t: Any, frequency: Any, recency: Any, T: Any) -> FloatArray:
    """Expected purchases in (T, T + t] given each customer's history (FHL 2005 eq. 10; MBG/NBD: Batislam
    et al. 2007 with Wagner & Hoppe's 2008 erratum), ≥ 0: :func:`purchases_if_alive` × :func:`p_alive`.

    Inputs broadcast (``t`` may be one horizon or one per customer)."""
    model = fit.label
    _check_fit(fit)
    x, recency_, age = _checked(model, frequency, recency, T, fitting=False)
    horizon = _horizon(model, t)
    horizon, x, recency_, age = broadcast(model, horizon, x, recency_, age)
    return _if_alive(fit, horizon, x, age) * expit(-_log_dead_odds(fit, x, recency_, age))


def purchases_if_alive(fit: BgNbdFit, t: Any, frequency: Any, T: Any) -> FloatArray:
    """Expected purchases in (T, T + t] of a customer known to be alive at T (eq. 10's numerator), ≥ 0: it
    does not depend on recency, so it can be computed once per distinct (x, T) and multiplied by each
    customer's :func:`p_alive`.

    The ₂F₁ term is evaluated after Euler's transformation, ₂F₁(r+x, b+x; c; z) = (1−z)^(a−1−r−x)
    ₂F₁(a+b−1−r, a−1; c; z) with c = a+b+x−1 (MBG/NBD: b+1 for b): the original grows without bound in x
    while the transformed one tends to 1, so heavy buyers stay finite."""
    model = fit.label
    _check_fit(fit)
    x, _, age = _checked(model, frequency, 0.0, T, fitting=False, recency_checks=False)
    horizon = _horizon(model, t)
    horizon, x, age = broadcast(model, horizon, x, age)
    return _if_alive(fit, horizon, x, age)


def p_alive(fit: BgNbdFit, frequency: Any, recency: Any, T: Any) -> FloatArray:
    """Probability that each customer is still alive at T, in [0, 1]. BG/NBD: exactly 1 for x = 0 (a
    customer can drop out only after a repeat purchase, so one who never bought again is alive by the
    model); MBG/NBD: below 1 for them too, falling with T."""
    model = fit.label
    _check_fit(fit)
    x, recency_, age = _checked(model, frequency, recency, T, fitting=False)
    x, recency_, age = broadcast(model, x, recency_, age)
    return expit(-_log_dead_odds(fit, x, recency_, age))


def p_alive_indexed(
    fit: BgNbdFit,
    frequency: npt.NDArray[np.integer[Any]],
    recency: npt.NDArray[np.integer[Any]],
    T: npt.NDArray[np.integer[Any]],
    times: FloatArray,
) -> FloatArray:
    """:func:`p_alive` for customers whose recency and T are indices into ``times`` (e.g. days, with
    ``times`` = days / 7 for weeks): the logarithms are taken once per distinct time and frequency, not per
    customer; the same values as :func:`p_alive` on ``times[recency]``, ``times[T]``.
    The caller vouches for the data (integers, recency ≤ T, recency 0 at frequency 0)."""
    _check_fit(fit)
    log_times = np.log(fit.alpha + np.asarray(times, dtype=np.float64))
    xs = np.arange(int(frequency.max()) + 1 if len(frequency) else 1, dtype=np.float64)
    dead = _dead_constant(fit, xs)
    log_odds = dead[frequency] + (fit.r + xs[frequency]) * (log_times[T] - log_times[recency])
    return expit(-log_odds)


def _horizon(model: str, t: Any) -> FloatArray:
    horizon = as_floats(model, "t", t)
    if np.any(horizon < 0):
        raise ModelError(f"{model}: the horizon t has {count(horizon < 0)} negative values")
    return horizon


def _if_alive(fit: BgNbdFit, horizon: FloatArray, x: FloatArray, age: FloatArray) -> FloatArray:
    """eq. 10's numerator, with the limit at a = 1, finite (or a ModelError)."""
    if abs(fit.a - 1.0) < NEAR_ONE:
        alive = 0.5 * (
            _alive_purchases(fit, fit.a - STEP, horizon, x, age)
            + _alive_purchases(fit, fit.a + STEP, horizon, x, age)
        )
    else:
        alive = _alive_purchases(fit, fit.a, horizon, x, age)
    alive = np.maximum(alive, 0.0)
    if not np.all(np.isfinite(alive)):
        raise ModelError(
            f"{fit.label}: expected purchases are not finite for {count(~np.isfinite(alive))} customers "
            "(the hypergeometric term overflowed); shorten the horizon or check the fit"
        )
    return alive


def _check_fit(fit: BgNbdFit) -> None:
    check_params(fit.label, fit.params)


def _checked(
    model: str, frequency: Any, recency: Any, T: Any, *, fitting: bool = True, recency_checks: bool = True
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The three columns as float64, or a ModelError naming the first problem."""
    x = as_floats(model, "frequency", frequency)
    recency_ = as_floats(model, "recency", recency)
    age = as_floats(model, "T", T)
    if fitting:
        same_length(model, {"frequency": x, "recency": recency_, "T": age})
    check_frequency(model, x)
    for name, values in (("recency", recency_), ("T", age)):
        if np.any(values < 0):
            raise ModelError(f"{model}: {name} has {count(values < 0)} negative values; times start at 0")
    if not recency_checks:
        return x, recency_, age
    try:
        late = recency_ > age
        lapsed = (x == 0) & (recency_ != 0)
    except ValueError:
        raise ModelError(f"{model}: frequency, recency and T have incompatible shapes") from None
    if np.any(late):
        raise ModelError(
            f"{model}: recency exceeds T for {count(late)} customers; the last purchase must be within T"
        )
    if np.any(lapsed):
        raise ModelError(f"{model}: recency is not 0 for {count(lapsed)} customers with frequency 0")
    return x, recency_, age


def _summarise(x: FloatArray, recency: FloatArray, age: FloatArray, weights: FloatArray) -> _Summary:
    """Aggregate identical customers, scale times by the largest T and index them in one table."""
    scale = float(np.max(age))
    keys, weight = distinct({"x": x, "recency": recency / scale, "age": age / scale}, weights)
    rows = len(weight)
    first = np.flatnonzero(np.diff(keys["x"], prepend=-1.0))  # keys are sorted by x first
    both = np.concatenate([keys["recency"], keys["age"]])
    times = np.unique(both)  # a sort, no argsort: at day granularity a few hundred values
    index = np.searchsorted(times, both).astype(np.int64)
    return _Summary(
        x=keys["x"][first],
        x_weight=np.add.reduceat(weight, first),
        starts=np.append(first, rows).astype(np.int64),
        recency=index[:rows],
        age=index[rows:],
        weight=weight,
        times=times,
        customers=float(np.sum(weight)),
        scale=scale,
    )


def _negative_mean(theta: FloatArray, d: _Summary, shift: float) -> tuple[float, FloatArray]:
    """−(mean log-likelihood) and its gradient in (log r, log α, log a, log b); ``shift`` 0 for BG/NBD, 1
    for MBG/NBD.

    Per customer, with b' = b + shift,
    log L = log Γ(r+x) − log Γ(r) + r log α + log B(a, b'+x) − log B(a, b)
    + log[(α+T)^−(r+x) + D a/(b'+x−1) (α+t_x)^−(r+x)],
    D = 1{x>0} for BG/NBD, 1 for MBG/NBD; the last term by a log-sum-exp in the compiled row pass."""
    r, alpha, a, b = np.exp(theta)
    x, w = d.x, d.x_weight
    xb = x + shift  # B(a, b+x) for BG/NBD, B(a, b+x+1) for MBG/NBD
    ll = np.sum(w * (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + xb) - betaln(a, b)))
    g_r = np.sum(w * (digamma(r + x) - digamma(r) + np.log(alpha)))
    g_alpha = np.sum(w) * r / alpha
    g_a = np.sum(w * (digamma(a + b) - digamma(a + b + xb)))
    g_b = np.sum(w * (digamma(a + b) + digamma(b + xb) - digamma(b) - digamma(a + b + xb)))

    dropout = (x > 0) | (shift > 0)
    b_x = np.where(dropout, b + xb - 1, 1.0)  # b' + x − 1, kept positive where it is not used
    scaled = alpha + d.times
    share_dead_b = np.zeros(x.shape[0])
    row_ll, row_r, row_alpha, share_dead = _row_terms(
        d.starts,
        r + x,
        np.log(a) - np.log(b_x),
        dropout,
        d.recency,
        d.age,
        d.weight,
        np.log(scaled),
        1.0 / scaled,
        share_dead_b,
    )
    ll += row_ll
    g_r += row_r
    g_alpha += row_alpha
    g_a += share_dead / a
    g_b += -float(np.sum(share_dead_b / b_x))

    n = d.customers
    gradient = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b], dtype=np.float64)
    return -float(ll) / n, -gradient / n


@kernel
def _row_terms(  # type: ignore[no-untyped-def]
    starts, rx, dead, dropout, recency, age, weight, log_times, inverse_times, per_x
):
    """The per-row part of the log-likelihood and its gradient, one pass over the rows of each x.

    Per row: alive = −(r+x) log(α+T), dead = log a − log(b'+x−1) − (r+x) log(α+t_x) (where dropout is
    possible), log[e^alive + e^dead] = alive + softplus(dead − alive), and the gradient terms weighted by
    the share of each branch. Returns (Σ log L, ∂/∂r, ∂/∂α, Σ w·share_dead) and writes per x Σ w·share_dead
    into ``per_x`` (zeros, one per x)."""
    groups = rx.shape[0]
    ll = 0.0
    g_r = 0.0
    g_alpha = 0.0
    g_dead = 0.0
    for j in range(groups):
        rate = rx[j]
        group_ll = 0.0
        group_log = 0.0
        group_inverse = 0.0
        group_dead = 0.0
        if dropout[j]:
            for i in range(starts[j], starts[j + 1]):
                w = weight[i]
                log_age = log_times[age[i]]
                log_recency = log_times[recency[i]]
                s = dead[j] + rate * (log_age - log_recency)  # log(dead / alive) ≥ log a − log(b'+x−1)
                if s > 0:
                    e = np.exp(-s)
                    soft = s + np.log1p(e)
                    share = 1.0 / (1.0 + e)
                else:
                    e = np.exp(s)
                    soft = np.log1p(e)
                    share = e / (1.0 + e)
                group_ll += w * (soft - rate * log_age)
                group_log += w * ((1.0 - share) * log_age + share * log_recency)
                group_inverse += w * (
                    (1.0 - share) * inverse_times[age[i]] + share * inverse_times[recency[i]]
                )
                group_dead += w * share
        else:
            for i in range(starts[j], starts[j + 1]):
                w = weight[i]
                log_age = log_times[age[i]]
                group_ll -= w * rate * log_age
                group_log += w * log_age
                group_inverse += w * inverse_times[age[i]]
        ll += group_ll
        g_r -= group_log
        g_alpha -= rate * group_inverse
        g_dead += group_dead
        per_x[j] = group_dead
    return ll, g_r, g_alpha, g_dead


def _alive_purchases(fit: BgNbdFit, a: float, t: FloatArray, x: FloatArray, age: FloatArray) -> FloatArray:
    """The numerator of eq. 10: expected purchases in (T, T+t] for a customer known to be alive at T,
    (a+b'+x−1)/(a−1) · [1 − (1−z)^(a−1) ₂F₁(a+b'−1−r, a−1; a+b'+x−1; z)], z = t/(α+T+t), b' = b (BG/NBD)
    or b + 1 (MBG/NBD)."""
    r, alpha = fit.r, fit.alpha
    b = fit.b + 1.0 if fit.dropout_at_first else fit.b
    c = a + b + x - 1
    log_rest = np.log(alpha + age) - np.log(alpha + age + t)  # log(1 − z), exact for small t
    z = t / (alpha + age + t)
    tail = np.exp((a - 1) * log_rest) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    out: FloatArray = c / (a - 1) * (1.0 - tail)
    return out


def _dead_constant(fit: BgNbdFit, x: FloatArray) -> FloatArray:
    """log a − log(b'+x−1) where dropout after the last purchase is possible, −∞ elsewhere (BG/NBD: x = 0)."""
    if fit.dropout_at_first:
        out: FloatArray = np.log(fit.a) - np.log(fit.b + x)
        return out
    repeat = x > 0
    safe_x = np.where(repeat, x, 1.0)  # keeps log(b + x − 1) defined where it is not used
    return np.where(repeat, np.log(fit.a) - np.log(fit.b + safe_x - 1), -np.inf)


def _log_dead_odds(fit: BgNbdFit, x: FloatArray, recency: FloatArray, age: FloatArray) -> FloatArray:
    """log[P(dropped out after t_x) / P(alive at T)] = log a − log(b'+x−1) + (r+x) log((α+T)/(α+t_x));
    −∞ for x = 0 in BG/NBD (no dropout before the first repeat purchase)."""
    dead = _dead_constant(fit, x)
    log_odds: FloatArray = dead + (fit.r + x) * (np.log(fit.alpha + age) - np.log(fit.alpha + recency))
    return log_odds
