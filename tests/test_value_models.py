"""Customer-value models (SPEC §7): the published CDNOW estimates (ORACLES.md "Customer value"), MBG/NBD
against the lifetimes package's fit and the formulas as printed, the models' properties, determinism, and a
one-line ModelError for every way a fit can fail."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmroi.errors import MlmRoiError, ModelError
from mlmroi.value import (
    MIN_REPEAT_BUYERS,
    BgNbdFit,
    GammaGammaFit,
    MbgNbdFit,
    clv_formula,
    expected_order_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    lifetime_from_churn,
    p_alive,
    p_alive_indexed,
    purchases_if_alive,
)
from mlmroi.value._common import betaln, gammaln, hyp2f1

DATA = Path(__file__).parent / "data"
# Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way", Marketing Science 24(2), CDNOW sample.
PUBLISHED_BGNBD = BgNbdFit(
    r=0.243,
    alpha=4.414,
    a=0.793,
    b=2.426,
    log_likelihood=-9582.4,
    customers=2357,
    repeat_buyers=946,
    iterations=0,
)


@pytest.fixture(scope="module")
def cdnow() -> pl.DataFrame:
    """frequency, recency, T (weeks) of the 2,357 CDNOW customers over the 39-week calibration period."""
    return pl.read_csv(DATA / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def cdnow_spend() -> pl.DataFrame:
    """The same customers with zbar, the mean repeat transaction value (0 for one-time buyers)."""
    return pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def bgnbd(cdnow: pl.DataFrame) -> BgNbdFit:
    return fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_bgnbd_reproduces_published_cdnow_estimates(bgnbd: BgNbdFit) -> None:
    # ORACLES.md: FHL 2005, r 0.243, α 4.414, a 0.793, b 2.426 (1%), log-likelihood −9,582.4 (0.1%).
    for name in ("r", "alpha", "a", "b"):
        assert getattr(bgnbd, name) == pytest.approx(getattr(PUBLISHED_BGNBD, name), rel=0.01), name
    assert bgnbd.log_likelihood == pytest.approx(-9582.4, rel=0.001)
    assert (bgnbd.customers, bgnbd.repeat_buyers) == (2357, 946)
    assert 0 < bgnbd.iterations < 100


def test_expected_purchases_published_example() -> None:
    # ORACLES.md: FHL 2005, next 39 weeks for x = 2, t_x = 30.43, T = 38.86 with the published parameters.
    assert float(expected_purchases(PUBLISHED_BGNBD, 39, 2, 30.43, 38.86)) == pytest.approx(1.226, rel=0.005)


def test_gamma_gamma_reproduces_published_cdnow_estimates(cdnow_spend: pl.DataFrame) -> None:
    # ORACLES.md: Fader & Hardie's Gamma-Gamma note, 946 repeat buyers, p 6.25, q 3.74, γ 15.44 (1%).
    fit = fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    assert fit.p == pytest.approx(6.25, rel=0.01)
    assert fit.q == pytest.approx(3.74, rel=0.01)
    assert fit.gamma == pytest.approx(15.44, rel=0.01)
    assert fit.customers == 946
    assert np.isfinite(fit.log_likelihood)


@pytest.fixture(scope="module")
def mbgnbd(cdnow: pl.DataFrame) -> MbgNbdFit:
    return fit_mbgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def test_mbgnbd_reproduces_lifetimes_cdnow_estimates(mbgnbd: MbgNbdFit) -> None:
    # lifetimes' ModifiedBetaGeoFitter on the CDNOW weekly summary: r 0.5248, α 6.183, a 0.8914, b 1.614.
    for name, value in {"r": 0.5248, "alpha": 6.183, "a": 0.8914, "b": 1.614}.items():
        assert getattr(mbgnbd, name) == pytest.approx(value, rel=0.01), name
    assert (mbgnbd.customers, mbgnbd.repeat_buyers) == (2357, 946)
    assert mbgnbd.as_dict()["model"] == "mbgnbd" and isinstance(mbgnbd, BgNbdFit)


def test_mbgnbd_log_likelihood_is_the_printed_formula(cdnow: pl.DataFrame, mbgnbd: MbgNbdFit) -> None:
    """Batislam et al. (2007): L = Γ(r+x) α^r / Γ(r) · B(a, b+x+1) / B(a, b) · [(α+T)^−(r+x) + a/(b+x)
    (α+t_x)^−(r+x)], summed over the customers at the fitted parameters; and the fit is its maximum."""
    x, t_x, T = (cdnow[c].to_numpy().astype(np.float64) for c in ("frequency", "recency", "T"))

    def log_likelihood(r: float, alpha: float, a: float, b: float) -> float:
        head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + 1) - betaln(a, b)
        tail = np.log((alpha + T) ** -(r + x) + a / (b + x) * (alpha + t_x) ** -(r + x))
        return float(np.sum(head + tail))

    params = (mbgnbd.r, mbgnbd.alpha, mbgnbd.a, mbgnbd.b)
    assert mbgnbd.log_likelihood == pytest.approx(log_likelihood(*params), rel=1e-10)
    for i in range(4):
        for step in (0.99, 1.01):
            moved = tuple(v * step if j == i else v for j, v in enumerate(params))
            assert log_likelihood(*moved) < mbgnbd.log_likelihood


def test_mbgnbd_expectation_and_p_alive_are_the_printed_formulas(mbgnbd: MbgNbdFit) -> None:
    """Wagner & Hoppe's (2008) conditional expectation and Batislam et al.'s P(alive), as printed (and as
    the lifetimes package computes them), where the original ₂F₁ is finite."""
    r, alpha, a, b = mbgnbd.r, mbgnbd.alpha, mbgnbd.a, mbgnbd.b
    x = np.array([0, 0, 1, 2, 5, 10, 30])
    recency = np.array([0.0, 0.0, 1.71, 30.43, 20.0, 35.0, 38.0])
    T = np.array([38.86, 5.0, 38.86, 38.86, 38.86, 38.86, 38.86])
    t = np.array([39.0, 10.0, 1.0, 39.0, 100.0, 52.0, 10.0])
    alive = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + recency)) ** (r + x))
    z = t / (alpha + T + t)
    numerator = (
        (a + b + x)
        / (a - 1)
        * (1 - hyp2f1(r + x, b + x + 1, a + b + x, z) * ((alpha + T) / (alpha + t + T)) ** (r + x))
    )
    np.testing.assert_allclose(p_alive(mbgnbd, x, recency, T), alive, rtol=1e-12)
    np.testing.assert_allclose(expected_purchases(mbgnbd, t, x, recency, T), numerator * alive, rtol=1e-10)
    np.testing.assert_allclose(purchases_if_alive(mbgnbd, t, x, T), numerator, rtol=1e-10)


def test_mbgnbd_one_time_buyers_can_have_left(mbgnbd: MbgNbdFit, bgnbd: BgNbdFit) -> None:
    T = np.array([1.0, 10.0, 38.86, 100.0])
    alive = p_alive(mbgnbd, 0, 0.0, T)
    assert np.all((alive > 0) & (alive < 1)) and np.all(np.diff(alive) < 0)
    assert np.all(p_alive(bgnbd, 0, 0.0, T) == 1.0)


def test_weights_stand_for_repeated_rows(cdnow: pl.DataFrame, bgnbd: BgNbdFit) -> None:
    """Rows aggregated by the caller with their counts give the fit of the customers one by one."""
    rows = cdnow.group_by("frequency", "recency", "T").len().sort("frequency", "recency", "T")
    weighted = fit_bgnbd(rows["frequency"], rows["recency"], rows["T"], weights=rows["len"])
    assert weighted == bgnbd
    shuffled = rows.sample(fraction=1.0, shuffle=True, seed=1)
    assert (
        fit_bgnbd(shuffled["frequency"], shuffled["recency"], shuffled["T"], weights=shuffled["len"]) == bgnbd
    )
    spend = pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    grouped = spend.group_by("x", "zbar").len()
    assert fit_gamma_gamma(grouped["x"], grouped["zbar"], weights=grouped["len"]) == fit_gamma_gamma(
        spend["x"], spend["zbar"]
    )


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_indexed_p_alive_and_the_split_expectation(model: str, bgnbd: BgNbdFit, mbgnbd: MbgNbdFit) -> None:
    """The run's fast paths: p_alive from day indices equals p_alive on the times, and purchases if alive ×
    p_alive equals the expected purchases."""
    fit = bgnbd if model == "bgnbd" else mbgnbd
    rng = np.random.default_rng(5)
    age = rng.integers(0, 365, 5000)
    recency = (age * rng.random(5000)).astype(np.int64)
    x = np.where(recency > 0, rng.integers(1, 60, 5000), 0)
    times = np.arange(365) / 7
    indexed = p_alive_indexed(fit, x, recency, age, times)
    np.testing.assert_allclose(indexed, p_alive(fit, x, times[recency], times[age]), rtol=1e-13, atol=1e-300)
    split = purchases_if_alive(fit, 13.0, x, times[age]) * indexed
    np.testing.assert_allclose(
        split, expected_purchases(fit, 13.0, x, times[recency], times[age]), rtol=1e-13
    )


def test_bgnbd_in_another_time_unit_scales_alpha_only(cdnow: pl.DataFrame, bgnbd: BgNbdFit) -> None:
    """Days instead of weeks: r, a, b unchanged, α × 7, and each likelihood divided by 7^x."""
    days = fit_bgnbd(cdnow["frequency"], cdnow["recency"] * 7, cdnow["T"] * 7)
    for name in ("r", "a", "b"):
        assert getattr(days, name) == pytest.approx(getattr(bgnbd, name), rel=1e-5)
    assert days.alpha == pytest.approx(bgnbd.alpha * 7, rel=1e-5)
    shift = np.log(7) * float(cdnow["frequency"].sum())
    assert days.log_likelihood == pytest.approx(bgnbd.log_likelihood - shift, rel=1e-9)


def test_bgnbd_recovers_a_simulated_process() -> None:
    """20,000 customers drawn from the model itself, on day granularity, give back its parameters."""
    rng = np.random.default_rng(11)
    n, r, alpha, a, b = 20_000, 0.5, 20.0, 0.8, 2.5
    T = rng.integers(30, 366, n).astype(np.float64)
    purchases = rng.poisson(rng.gamma(r, 1 / alpha, n) * T)
    x = np.minimum(purchases, rng.geometric(rng.beta(a, b, n)))
    recency = np.where(x > 0, T * rng.beta(np.maximum(x, 1), purchases - x + 1), 0.0)
    fit = fit_bgnbd(x, recency, T)
    assert fit.r == pytest.approx(r, rel=0.1)
    assert fit.alpha == pytest.approx(alpha, rel=0.15)
    assert fit.a == pytest.approx(a, rel=0.2)
    assert fit.b == pytest.approx(b, rel=0.25)


def test_fits_are_deterministic(cdnow: pl.DataFrame, cdnow_spend: pl.DataFrame, bgnbd: BgNbdFit) -> None:
    assert fit_bgnbd(cdnow["frequency"], cdnow["recency"], cdnow["T"]) == bgnbd
    spend = [fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"]) for _ in range(2)]
    assert spend[0] == spend[1]


def test_fits_do_not_depend_on_row_order(
    cdnow: pl.DataFrame, cdnow_spend: pl.DataFrame, bgnbd: BgNbdFit
) -> None:
    shuffled = cdnow.sample(fraction=1.0, shuffle=True, seed=3)
    assert not shuffled["ID"].equals(cdnow["ID"])
    assert fit_bgnbd(shuffled["frequency"], shuffled["recency"], shuffled["T"]) == bgnbd
    spend = cdnow_spend.sample(fraction=1.0, shuffle=True, seed=5)
    assert fit_gamma_gamma(spend["x"], spend["zbar"]) == fit_gamma_gamma(
        cdnow_spend["x"], cdnow_spend["zbar"]
    )


def test_fit_as_dict_is_json_ready(bgnbd: BgNbdFit, cdnow_spend: pl.DataFrame) -> None:
    spend = fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    assert json.loads(json.dumps(bgnbd.as_dict()))["alpha"] == bgnbd.alpha
    assert set(spend.as_dict()) == {"model", "p", "q", "gamma", "log_likelihood", "customers", "iterations"}


customers = st.tuples(
    st.integers(1, 60), st.floats(0.1, 500, allow_nan=False), st.floats(0.0, 1.0, allow_nan=False)
)


@given(customers)
def test_p_alive_in_unit_interval_and_falls_with_time_since_last_purchase(
    customer: tuple[int, float, float],
) -> None:
    x, T, _ = customer
    recency = np.linspace(T, 0.0, 50)  # the last purchase ever further back, frequency and T fixed
    alive = p_alive(PUBLISHED_BGNBD, np.full(50, x), recency, np.full(50, T))
    assert np.all((alive >= 0) & (alive <= 1))
    assert np.all(np.diff(alive) <= 0)
    assert float(p_alive(PUBLISHED_BGNBD, 0, 0.0, T)) == 1.0  # no repeat purchase: alive by the model


@given(customers)
def test_expected_purchases_nonnegative_and_increasing_in_horizon(customer: tuple[int, float, float]) -> None:
    x, T, share = customer
    horizons = np.array([0.0, 0.5, 1, 5, 20, 39, 100, 520, 5200])
    for frequency, recency in ((x, T * share), (0, 0.0)):
        expected = expected_purchases(PUBLISHED_BGNBD, horizons, frequency, recency, T)
        assert np.all(np.isfinite(expected))
        assert expected[0] == 0.0
        assert np.all(expected >= 0)
        assert np.all(np.diff(expected) >= -1e-12 * expected[1:])


def test_expected_purchases_euler_form_equals_eq10() -> None:
    """The transformed ₂F₁ (used for heavy buyers) equals FHL eq. 10 as printed where both are finite."""
    fit = PUBLISHED_BGNBD
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    x = np.array([0, 1, 2, 5, 10, 30])
    recency = np.array([0.0, 1.71, 30.43, 20.0, 35.0, 38.0])
    T, t = 38.86, np.array([39.0, 1.0, 39.0, 100.0, 52.0, 10.0])
    z = t / (alpha + T + t)
    alive = (
        (a + b + x - 1)
        / (a - 1)
        * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z))
    )
    dead = np.where(x > 0, a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + recency)) ** (r + x), 0.0)
    np.testing.assert_allclose(expected_purchases(fit, t, x, recency, T), alive / (1 + dead), rtol=1e-10)


def test_expected_purchases_continuous_through_a_equal_one() -> None:
    """Eq. 10 divides by a − 1; at a = 1 the limit is used, continuous with its neighbours."""
    values = [
        expected_purchases(dataclasses.replace(PUBLISHED_BGNBD, a=a), 39, [0, 2, 8], [0, 30.43, 10], 38.86)
        for a in (1 - 1e-3, 1.0, 1 + 1e-3)
    ]
    assert np.all(np.isfinite(values[1]))
    np.testing.assert_allclose(values[1], (values[0] + values[2]) / 2, rtol=1e-5)


def test_heavy_lapsed_buyer_expects_nothing_without_overflow() -> None:
    assert float(expected_purchases(PUBLISHED_BGNBD, 39, 500, 1.0, 38.86)) == 0.0
    assert float(p_alive(PUBLISHED_BGNBD, 500, 1.0, 38.86)) == 0.0


def test_expected_order_value_shrinks_to_population_mean(cdnow_spend: pl.DataFrame) -> None:
    fit = fit_gamma_gamma(cdnow_spend["x"], cdnow_spend["zbar"])
    mean = fit.p * fit.gamma / (fit.q - 1)
    values = expected_order_value(fit, [0, 1, 1, 50], [np.nan, 10.0, 100.0, 100.0])  # m̄ unused at x = 0
    assert values[0] == pytest.approx(mean)
    assert 10 < values[1] < mean < values[2] < values[3] < 100  # more purchases, more weight on m̄


def test_clv_formula_article_example() -> None:
    # ORACLES.md 5 (seeds/002): 100 a month for 24 months → 2,400.
    assert float(clv_formula(100, 1, 24)) == 2400.0
    assert float(clv_formula(50, 2, lifetime_from_churn(1 / 24))) == pytest.approx(2400.0)
    np.testing.assert_allclose(clv_formula([100, 20], [1, 3], 24), [2400.0, 1440.0])
    np.testing.assert_allclose(lifetime_from_churn([0.1, 0.5, 1.0]), [10.0, 2.0, 1.0])


def _few_repeat_buyers() -> Any:
    n = 100
    x = np.zeros(n)
    x[: MIN_REPEAT_BUYERS - 1] = 1
    return fit_bgnbd(x, np.where(x > 0, 5.0, 0.0), np.full(n, 10.0))


def _cdnow() -> tuple[Any, Any, Any]:
    frame = pl.read_csv(DATA / "cdnow_customers_summary.csv")
    return frame["frequency"].to_numpy(), frame["recency"].to_numpy(), frame["T"].to_numpy()


def _spend() -> tuple[Any, Any]:
    frame = pl.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return frame["x"].to_numpy(), frame["zbar"].to_numpy()


def _with(values: Any, row: int, value: float) -> Any:
    out = np.asarray(values, dtype=np.float64).copy()
    out[row] = value
    return out


def _no_dropout() -> Any:
    """Everyone bought at a steady rate to the end of the window: nothing suggests anyone left."""
    rng = np.random.default_rng(2)
    x = rng.integers(1, 10, 1000)
    return fit_bgnbd(x, np.full(1000, 52.0), np.full(1000, 52.0))


FAILURES: dict[str, tuple[Callable[[], Any], str]] = {
    "no customers": (lambda: fit_bgnbd([], [], []), "no customers"),
    "too few repeat buyers": (_few_repeat_buyers, "repeat buyers"),
    "every T is 0": (lambda: fit_bgnbd(np.zeros(20), np.zeros(20), np.zeros(20)), "T = 0"),
    "negative frequency": (lambda: fit_bgnbd(_with(_cdnow()[0], 0, -1), *_cdnow()[1:]), "negative"),
    "negative T": (lambda: fit_bgnbd(*_cdnow()[:2], _with(_cdnow()[2], 2, -1)), "T has 1 negative"),
    "fractional frequency": (lambda: fit_bgnbd(_with(_cdnow()[0], 0, 1.5), *_cdnow()[1:]), "non-integer"),
    "recency > T": (
        lambda: fit_bgnbd(_cdnow()[0], _with(_cdnow()[1], 0, 40.0), _cdnow()[2]),
        "recency exceeds T",
    ),
    "recency without repeat": (
        lambda: fit_bgnbd(_cdnow()[0], _with(_cdnow()[1], 2, 3.0), _cdnow()[2]),
        "frequency 0",
    ),
    "NaN": (lambda: fit_bgnbd(_cdnow()[0], _with(_cdnow()[1], 0, np.nan), _cdnow()[2]), "NaN"),
    "infinite": (lambda: fit_bgnbd(*_cdnow()[:2], _with(_cdnow()[2], 0, np.inf)), "infinite"),
    "not numeric": (lambda: fit_bgnbd(["a"], [0], [1]), "not numeric"),
    "lengths differ": (lambda: fit_bgnbd(_cdnow()[0][:-1], *_cdnow()[1:]), "differ in length"),
    "not converged": (lambda: fit_bgnbd(*_cdnow(), max_iterations=2), "did not converge after 2 iterations"),
    "at a bound": (_no_dropout, "bound"),
    "negative horizon": (lambda: expected_purchases(PUBLISHED_BGNBD, -1, 2, 30.43, 38.86), "horizon"),
    "invalid fit": (
        lambda: p_alive(dataclasses.replace(PUBLISHED_BGNBD, r=float("nan")), 2, 30.43, 38.86),
        "parameter r",
    ),
    "shapes differ": (
        lambda: p_alive(PUBLISHED_BGNBD, [1, 2], [1.0, 2.0, 3.0], 38.86),
        "incompatible shapes",
    ),
    "MBG/NBD: too few repeat buyers": (
        lambda: fit_mbgnbd(np.zeros(50), np.zeros(50), np.full(50, 10.0)),
        "MBG/NBD: 0 repeat buyers",
    ),
    "MBG/NBD: recency > T": (
        lambda: fit_mbgnbd(_cdnow()[0], _with(_cdnow()[1], 0, 40.0), _cdnow()[2]),
        "MBG/NBD: recency exceeds T",
    ),
    "MBG/NBD: not converged": (
        lambda: fit_mbgnbd(*_cdnow(), max_iterations=2),
        "did not converge after 2 iterations",
    ),
    "MBG/NBD: invalid fit": (
        lambda: p_alive(MbgNbdFit(0.5, -1.0, 0.9, 1.6, 0.0, 1, 1, 1), 2, 30.43, 38.86),
        "MBG/NBD: parameter alpha",
    ),
    "weights: not positive": (
        lambda: fit_bgnbd(*_cdnow(), weights=np.zeros(len(_cdnow()[0]))),
        "weights has 2357 values that are 0 or negative",
    ),
    "weights: wrong length": (lambda: fit_bgnbd(*_cdnow(), weights=[1.0, 2.0]), "one number per row"),
    "spend: too few repeat buyers": (lambda: fit_gamma_gamma([1, 2, 0], [10.0, 20.0, 0.0]), "repeat buyers"),
    "spend: non-positive value": (
        lambda: fit_gamma_gamma(_spend()[0], _with(_spend()[1], 0, 0.0)),
        "0 or negative",
    ),
    "spend: NaN value": (lambda: fit_gamma_gamma(_spend()[0], _with(_spend()[1], 0, np.nan)), "NaN"),
    "spend: identical values": (lambda: fit_gamma_gamma(np.full(50, 3), np.full(50, 20.0)), "bound"),
    "spend: not converged": (
        lambda: fit_gamma_gamma(*_spend(), max_iterations=2),
        "did not converge after 2",
    ),
    "spend: infinite mean": (
        lambda: expected_order_value(GammaGammaFit(6.0, 0.9, 15.0, 0.0, 10, 1), [0, 2], [0.0, 20.0]),
        "q > 1",
    ),
    "churn of 0": (lambda: lifetime_from_churn([0.1, 0.0]), "infinite lifetime"),
}


@pytest.mark.parametrize("case", list(FAILURES))
def test_model_errors_are_one_line_and_name_the_problem(case: str) -> None:
    call, words = FAILURES[case]
    with pytest.raises(ModelError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    assert words in message
    assert isinstance(caught.value, MlmRoiError)
    assert caught.value.exit_code == 1
