"""Customer value in a scoring run (SPEC §7): historic and formula CLV, BG/NBD or MBG/NBD + Gamma-Gamma
predictions, ``p_alive``, branch CLV, and a holdout check.

Purchases follow Fader & Hardie's convention: a purchase is a DAY with an order of positive amount (several
orders on one day are one purchase). Per participant, ``frequency`` x = purchase days − 1 (repeat
purchases), ``recency`` = (last − first purchase day) / 7 and ``T`` = (end − first purchase day) / 7, in
fractional weeks; the Gamma-Gamma spend model takes the mean value of the repeat purchases (the net
revenue without the first purchase day's orders, divided by x), in currency units.

The run's figures (``p_alive``, ``expected_purchases``, ``clv_predicted``) come from a fit on the whole
window, T to the window end. With ``value.holdout_periods`` > 0, a second fit on the calibration part (the
window without its last ``holdout_periods`` periods, T to the day before the first of them) predicts each
participant's purchase days in the holdout (``holdout_expected`` against ``holdout_actual``), with both
BG/NBD and MBG/NBD side by side in run.json. Participants with no purchase in the window have no model
figures (null ``p_alive``, 0 predicted); in the holdout check, those with none in the calibration part.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel
from mlmroi.config import MoneyConfig, ValueConfig
from mlmroi.errors import ConfigError, ModelError
from mlmroi.money import minor_from_floats
from mlmroi.network import Network
from mlmroi.periods import OrderTotals, PeriodPurchases, Window
from mlmroi.segments.base import Segmentation
from mlmroi.segments.churn import CompanyChurn
from mlmroi.value import (
    BgNbdFit,
    GammaGammaFit,
    clv_formula,
    expected_order_value,
    fit_bgnbd,
    fit_gamma_gamma,
    fit_mbgnbd,
    lifetime_from_churn,
    p_alive_indexed,
    purchases_if_alive,
)

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]
WEEKS_PER_MONTH = 52.0 / 12.0
DAYS_PER_WEEK = 7.0
HOLDOUT_SEGMENTATIONS = ("abc", "xyz", "rfm_segment", "lifecycle")
PURCHASE_MODELS = {"bgnbd": fit_bgnbd, "mbgnbd": fit_mbgnbd}
MONEY_COLUMNS = ("clv_historic", "clv_formula", "clv_predicted", "branch_clv")
_SPEND_SHIFT = 50  # (x, repeat value in minor units) packed as x · 2^50 + value while both fit
_DENSE_PAIRS = 64_000_000  # distinct (x, T) found by counting below this many possible pairs, else by sorting

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@kernel
def _popcount(word):  # type: ignore[no-untyped-def]
    """Set bits of a uint64 (SWAR: bit pairs, nibbles, bytes, then one multiply sums the bytes)."""
    word = word - ((word >> np.uint64(1)) & _M1)
    word = (word & _M2) + ((word >> np.uint64(2)) & _M2)
    word = (word + (word >> np.uint64(4))) & _M4
    return np.int32((word * _H01) >> np.uint64(56))


@kernel
def _highest_bit(word):  # type: ignore[no-untyped-def]
    """Index of the highest set bit of a nonzero uint64 (a binary search on halves, six steps)."""
    index = 0
    for step in (32, 16, 8, 4, 2, 1):
        upper = word >> np.uint64(step)
        if upper:
            word = upper
            index += step
    return np.int32(index)


def purchase_summary(
    bits: npt.NDArray[np.uint64], first_day: npt.NDArray[np.integer[Any]], days: int, calibration_days: int
) -> tuple[IntArray, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array]:
    """Per node that bought in the window of ``days`` days, from :class:`~mlmroi.periods.PurchaseDays`:
    (node, first purchase day, last purchase day, purchase days, last purchase day and purchase days before
    ``calibration_days``; -1 and 0 when none). Days count from the window's first day; per word of 64 days
    a popcount and a highest-bit search, never a loop over days."""
    buyers = int(np.count_nonzero(first_day < days))
    node = np.empty(buyers, dtype=np.int64)
    first, last, count, last_calibration, count_calibration = (
        np.empty(buyers, dtype=np.int32) for _ in range(5)
    )
    _purchase_summary_into(
        bits, first_day, days, calibration_days, node, first, last, count, last_calibration, count_calibration
    )
    return node, first, last, count, last_calibration, count_calibration


@kernel
def _purchase_summary_into(  # type: ignore[no-untyped-def]
    bits, first_day, days, calibration_days, node, first, last, count, last_calibration, count_calibration
):
    """:func:`purchase_summary` into arrays with one entry per buyer."""
    words, n = bits.shape
    j = 0
    for v in range(n):
        if first_day[v] >= days:
            continue
        node[j] = v
        first[j] = first_day[v]
        total = np.int32(0)
        latest = np.int32(-1)
        early = np.int32(0)
        early_latest = np.int32(-1)
        for w in range(words):
            word = bits[w, v]
            if not word:
                continue
            low = w * 64
            total += _popcount(word)
            latest = low + _highest_bit(word)
            if low < calibration_days:
                if low + 64 > calibration_days:
                    word &= (np.uint64(1) << np.uint64(calibration_days - low)) - np.uint64(1)
                if word:
                    early += _popcount(word)
                    early_latest = low + _highest_bit(word)
        last[j] = latest
        count[j] = total
        last_calibration[j] = early_latest
        count_calibration[j] = early
        j += 1


@dataclass(frozen=True, eq=False)
class Histories:
    """Customers' purchase histories in days: x repeat purchase days, recency = last − first purchase day,
    age = end − first purchase day (T), over a part of the window ``days`` long."""

    x: Int32Array
    recency: Int32Array
    age: Int32Array
    days: int

    @cached_property
    def rows(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """The distinct (x, recency, T) rows sorted, recency and T in weeks, with their customer counts: one
        integer key per customer and a sort of the keys (no argsort, no hashing: 10M customers in ~0.2 s)."""
        base = self.days
        key = (self.x.astype(np.int64) * base + self.recency) * base + self.age
        key.sort()
        starts = np.flatnonzero(np.diff(key, prepend=-1))
        weight = np.diff(np.append(starts, key.size)).astype(np.float64)
        rows = key[starts]
        x, recency, age = rows // (base * base), rows // base % base, rows % base
        return x.astype(np.float64), recency / DAYS_PER_WEEK, age / DAYS_PER_WEEK, weight

    def fit(self, model: str) -> BgNbdFit:
        """BG/NBD or MBG/NBD on these histories (ModelError when it cannot be fitted)."""
        x, recency, age, weight = self.rows
        return PURCHASE_MODELS[model](x, recency, age, weights=weight)

    def predict(self, fit: BgNbdFit, horizons: FloatArray) -> tuple[FloatArray, FloatArray, IntArray]:
        """(p_alive per customer, purchases if alive in (T, T + h] per horizon h and distinct (x, T) pair,
        each customer's pair): a customer's expected purchases are p_alive × their pair's purchases if
        alive, which depend on (x, T) only, so the ₂F₁ terms are computed once per pair."""
        times = np.arange(self.days, dtype=np.float64) / DAYS_PER_WEEK
        alive = p_alive_indexed(fit, self.x, self.recency, self.age, times)
        pairs, back = self._pairs()
        if_alive = purchases_if_alive(
            fit, horizons[:, None], (pairs // self.days).astype(np.float64), times[pairs % self.days]
        )
        return alive, if_alive, back

    def _pairs(self) -> tuple[IntArray, IntArray]:
        """The distinct (x, T) pairs as keys x · days + T, and each customer's pair."""
        key = self.x.astype(np.int64) * self.days + self.age
        size = (int(self.x.max()) + 1) * self.days if len(key) else 1
        if size <= _DENSE_PAIRS:
            present = np.flatnonzero(np.bincount(key, minlength=size))
            lookup = np.zeros(size, dtype=np.int64)
            lookup[present] = np.arange(present.size, dtype=np.int64)
            return present, lookup[key]
        present, back = np.unique(key, return_inverse=True)
        return present, back.reshape(-1)


@dataclass(frozen=True, eq=False)
class ValueResult:
    """Per-node columns (money in minor units; floats for p_alive, expected purchases and the purchase
    histories), run.json figures and the holdout check."""

    columns: dict[str, npt.NDArray[Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    warning: str | None = None  # a one-line reason when a model could not be fitted

    @property
    def fitted(self) -> bool:
        """Whether the purchase and Gamma-Gamma models were fitted (else clv_predicted is all 0)."""
        return bool(self.summary.get("model", {}).get("status") == "fitted")


def calibration_days(window: Window, holdout_periods: int) -> int:
    """Days in the calibration part: the window up to the day before its last ``holdout_periods`` periods
    begin (the whole window when 0)."""
    days = (window.end - window.start).days + 1
    periods = len(window.labels)
    if holdout_periods == 0:
        return days
    if holdout_periods >= periods:
        raise ConfigError(
            f"value.holdout_periods: {holdout_periods} leaves no calibration period "
            f"(the window has {periods})"
        )
    calendar = pl.DataFrame({"d": pl.date_range(window.start, window.end, "1d", eager=True)})
    index = calendar.select(window.index(pl.col("d")))["d"].to_numpy()
    return int(np.flatnonzero(index == periods - holdout_periods)[0])


def run_value(
    network: Network,
    totals: OrderTotals,
    margin: IntArray,
    joined_day: IntArray,
    window: Window,
    config: ValueConfig,
    fallback_margin_rate: float,
    churn: CompanyChurn | None = None,
    *,
    money: MoneyConfig | None = None,
) -> ValueResult:
    """Every per-participant value column and run.json's ``value`` figures (see the module docstring;
    ``churn``: the company churn, for clv_formula's lifetime when ``value.lifetime_months`` is unset;
    ``money``: the run's currency and minor unit, for the Gamma-Gamma figures in currency units)."""
    money = MoneyConfig() if money is None else money
    n = network.size
    revenue, orders = totals.revenue, totals.orders
    # Historic: the margin the company made on the participant in the window.
    columns: dict[str, npt.NDArray[Any]] = {"clv_historic": margin.astype(np.int64)}
    # Formula (seeds/002): average order value × orders per month × expected lifetime in months.
    # Months of membership in the window, counted in calendar months (January–December = 12).
    first_month = window.start.year * 12 + window.start.month - 1
    last_month = window.end.year * 12 + window.end.month - 1
    joined_month = joined_day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) + 1970 * 12
    member_months = (last_month - np.maximum(joined_month, first_month) + 1).clip(min=1)
    aov = np.divide(revenue, orders, out=np.zeros(n), where=orders > 0)
    lifetime = config.lifetime_months
    churn_note = "configured (value.lifetime_months)"
    if lifetime is None:
        monthly_churn = None if churn is None else churn.monthly_rate
        if churn is not None and monthly_churn:
            lifetime = float(lifetime_from_churn(monthly_churn))
            buyers = churn.previous_buyers
            churn_note = f"1 / monthly churn {monthly_churn:.4f} of the previous window's {buyers} buyers"
        else:
            lifetime = 24.0
            churn_note = "24 (no churn observable: nobody bought in the previous window, or nobody left)"
    formula = clv_formula(np.maximum(aov, 0.0), orders / member_months, lifetime)
    columns["clv_formula"] = minor_from_floats(formula)
    del joined_month, member_months, aov, formula  # n-sized temporaries: this stage sets the run's peak
    summary: dict[str, Any] = {"lifetime_months": round(lifetime, 4), "lifetime_source": churn_note}
    # Model figures: 0 / null unless the models are fitted below.
    columns["clv_predicted"] = np.zeros(n, dtype=np.int64)
    columns["p_alive"] = np.full(n, np.nan)
    columns["expected_purchases"] = np.full(n, np.nan)
    columns["branch_clv"] = np.zeros(n, dtype=np.int64)
    purchase_days = totals.purchase_days
    split = calibration_days(window, config.holdout_periods) if config.model != "none" else purchase_days.days
    node, first, last, count, last_early, count_early = (
        purchase_days.summary(split)
        if isinstance(purchase_days, PeriodPurchases)
        else purchase_summary(purchase_days.bits, purchase_days.first_day, purchase_days.days, split)
    )
    whole = Histories(count - 1, last - first, purchase_days.days - 1 - first, purchase_days.days)
    for name, values in (
        ("frequency", whole.x),
        ("recency_weeks", whole.recency / DAYS_PER_WEEK),
        ("T_weeks", whole.age / DAYS_PER_WEEK),
    ):
        column = np.full(n, np.nan)
        column[node] = values
        columns[name] = column
    if config.model == "none":
        summary["model"] = {"status": "off"}
        return ValueResult(columns, summary)
    revenue_total = int(revenue.sum())
    margin_rate = int(margin.sum()) / revenue_total if revenue_total > 0 else fallback_margin_rate
    summary |= {
        "time_unit": "week",
        "purchase_unit": "day",
        "money_unit": money.currency,
        "customers": int(node.size),
        "repeat_purchases": int(whole.x.sum(dtype=np.int64)),
        "margin_rate": round(margin_rate, 6),
    }
    fitted_on = f"whole window ({window.start} to {window.end})"
    model: dict[str, Any] = {"selected": config.model, "fit": fitted_on}
    # Gamma-Gamma on the repeat purchases: the net revenue without the first purchase day's orders.
    repeat_value = revenue[node] - purchase_days.first_amount[node]
    months = np.arange(1, config.horizon_months + 1, dtype=np.float64)
    scale = 10.0**money.decimals
    try:
        purchases = whole.fit(config.model)
        frequency, mean, weight = _spend_rows(whole.x, repeat_value, money.decimals)
        spend = fit_gamma_gamma(frequency, mean, weights=weight)
        alive, if_alive, back = whole.predict(purchases, months * WEEKS_PER_MONTH)  # (months, pairs)
        spender = (whole.x > 0) & (repeat_value > 0)
        mean_value = np.divide(repeat_value / scale, whole.x, out=np.zeros(node.size), where=spender)
        value = expected_order_value(spend, np.where(spender, whole.x, 0), mean_value)
    except ModelError as exc:
        summary["model"] = {"status": "failed", "reason": str(exc), **model}
        return ValueResult(columns, summary, warning=f"CLV model not fitted: {exc}")
    summary["model"] = {
        "status": "fitted",
        **model,
        config.model: purchases.as_dict(),
        "gamma_gamma": _spend_summary(spend, money.currency),
    }
    # Discounted expected purchases: per pair Σ_m discount^m × (purchases if alive in month m), × p_alive.
    discount = (1.0 + config.discount_rate) ** -months
    discounted = (discount @ np.diff(if_alive, axis=0, prepend=0.0))[back] * alive
    predicted = np.zeros(n, dtype=np.int64)
    predicted[node] = minor_from_floats(discounted * value * margin_rate, scale)
    columns["clv_predicted"] = predicted
    columns["p_alive"][node] = alive
    columns["expected_purchases"][node] = if_alive[-1][back] * alive
    columns["branch_clv"] = network.subtree_sum(predicted)
    del alive, back, discounted, mean_value, value, spender, repeat_value
    if config.holdout_periods:
        calibration = count_early > 0
        early = Histories(
            count_early[calibration] - 1,
            last_early[calibration] - first[calibration],
            split - 1 - first[calibration],
            split,
        )
        actual = (count - count_early)[calibration]
        holdout, warning = _holdout(window, split, config.model, early, node[calibration], actual, n)
        columns |= holdout.pop("columns")
        summary["holdout"] = {"periods": config.holdout_periods, **holdout}
        return ValueResult(columns, summary, warning=warning)
    return ValueResult(columns, summary)


def _spend_rows(
    x: Int32Array, repeat_value: IntArray, decimals: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """The Gamma-Gamma data of the repeat buyers with a positive repeat value: distinct (x, mean repeat
    value in currency units) rows, sorted, with their counts (one integer key per customer and a sort)."""
    keep = (x > 0) & (repeat_value > 0)
    x_, value = x[keep].astype(np.int64), repeat_value[keep]
    if value.size and (int(value.max()) >> _SPEND_SHIFT or int(x_.max()) >> (63 - _SPEND_SHIFT)):
        # Beyond any real basket (or a window of decades): unsorted rows, which the fit aggregates itself.
        return x_.astype(np.float64), value / 10.0**decimals / x_, np.ones(value.size)
    key = (x_ << _SPEND_SHIFT) + value
    key.sort()
    starts = np.flatnonzero(np.diff(key, prepend=-1))
    weight = np.diff(np.append(starts, key.size)).astype(np.float64)
    rows = key[starts]
    frequency = rows >> _SPEND_SHIFT
    mean = (rows & ((1 << _SPEND_SHIFT) - 1)) / 10.0**decimals / frequency
    return frequency.astype(np.float64), mean, weight


def _spend_summary(spend: GammaGammaFit, currency: str) -> dict[str, Any]:
    """run.json's Gamma-Gamma figures: γ and the population's mean transaction value in currency units."""
    out = spend.as_dict() | {"money_unit": currency}
    if spend.q > 1:
        out["mean_transaction_value"] = round(spend.p * spend.gamma / (spend.q - 1), 6)
    return out


def _holdout(
    window: Window,
    split: int,
    selected: str,
    early: Histories,
    node: IntArray,
    actual: Int32Array,
    n: int,
) -> tuple[dict[str, Any], str | None]:
    """Both purchase models fitted on the calibration part, their expected purchase days in the holdout
    against the actual ones; the selected model's per participant (``holdout_expected``,
    ``holdout_actual``) when it could be fitted, else a warning."""
    horizon = ((window.end - window.start).days + 1 - split) / DAYS_PER_WEEK
    calibration_end = window.start + dt.timedelta(days=split - 1)
    actual_total = int(actual.sum(dtype=np.int64))
    out: dict[str, Any] = {
        "fit": f"calibration part ({window.start} to {calibration_end})",
        "holdout": f"{calibration_end + dt.timedelta(days=1)} to {window.end}",
        "weeks": round(horizon, 4),
        "customers": int(node.size),
        "model": selected,
        "expected_purchase_days": None,
        "actual_purchase_days": actual_total,
        "models": {},
        "columns": {},
    }
    warning = None
    for name in PURCHASE_MODELS:
        try:
            fit = early.fit(name)
            alive, if_alive, back = early.predict(fit, np.array([horizon]))
        except ModelError as exc:
            out["models"][name] = {"status": "failed", "reason": str(exc)}
            if name == selected:
                warning = f"CLV holdout check not fitted: {exc}"
            continue
        expected = if_alive[0][back] * alive
        total = float(expected.sum())
        out["models"][name] = {
            "status": "fitted",
            "expected": round(total, 2),
            "actual_per_expected": round(actual_total / total, 4) if total > 0 else None,
            "log_likelihood": fit.log_likelihood,
            "params": fit.params,
            "iterations": fit.iterations,
        }
        if name == selected:
            out["expected_purchase_days"] = round(total, 2)
            column = np.zeros(n)
            column[node] = expected
            # Only calibration customers are predicted, so only their holdout purchases are compared.
            counted = np.zeros(n, dtype=np.int64)
            counted[node] = actual
            out["columns"] = {"holdout_expected": column, "holdout_actual": counted}
    return out, warning


def holdout_by_segment(result: ValueResult, segmentations: list[Segmentation]) -> pl.DataFrame | None:
    """Expected against actual purchase days in the holdout, in total and per segment value (None when
    there is no holdout or no fitted model)."""
    if "holdout_expected" not in result.columns:
        return None
    expected, actual = result.columns["holdout_expected"], result.columns["holdout_actual"]
    frames = [
        pl.DataFrame(
            {
                "segmentation": ["total"],
                "value": ["all"],
                "expected": [float(expected.sum())],
                "actual": [int(actual.sum())],
            }
        )
    ]
    for seg in segmentations:
        if seg.name not in HOLDOUT_SEGMENTATIONS:
            continue
        k = len(seg.labels)
        codes = seg.codes.astype(np.int64)
        frames.append(
            pl.DataFrame(
                {
                    "segmentation": [seg.name] * k,
                    "value": list(seg.labels),
                    "expected": np.bincount(codes, weights=expected, minlength=k),
                    "actual": np.bincount(codes, weights=actual, minlength=k).astype(np.int64),
                }
            )
        )
    frame = pl.concat(frames)
    return frame.with_columns(
        pl.col("expected").round(2),
        (pl.col("actual") / pl.col("expected")).round(4).fill_nan(None).alias("actual_per_expected"),
    )
