"""Customer value in a scoring run (SPEC §7): historic and formula CLV, BG/NBD + Gamma-Gamma predictions,
``p_alive``, branch CLV, and a calibration / holdout check.

Time is counted in weeks of the window (purchases are recorded per week, one bit each): per participant,
``frequency`` = purchase weeks in the calibration part − 1, ``recency`` = weeks from the first to the last
purchase week, ``T`` = weeks from the first purchase week to the end of the calibration part. The
calibration part is the window without its last ``value.holdout_periods`` periods (the whole window when 0).
Participants with no purchase in the calibration part have no model figures (null ``p_alive``, 0 predicted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel
from mlmroi.config import ValueConfig
from mlmroi.errors import ConfigError, ModelError
from mlmroi.money import minor_from_floats
from mlmroi.network import Network
from mlmroi.periods import OrderTotals, Window
from mlmroi.segments.base import Segmentation
from mlmroi.segments.churn import CompanyChurn
from mlmroi.value import (
    clv_formula,
    expected_order_value,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    lifetime_from_churn,
    p_alive,
)

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
WEEKS_PER_MONTH = 52.0 / 12.0
HOLDOUT_SEGMENTATIONS = ("abc", "xyz", "rfm_segment", "lifecycle")


@kernel
def purchase_summary(week_bits, calibration_weeks, total_weeks):  # type: ignore[no-untyped-def]
    """Per node: (first purchase week or -1, frequency, recency, holdout purchase weeks) from the bitsets.

    Weeks below ``calibration_weeks`` are the calibration part, the rest up to ``total_weeks`` the holdout.
    """
    n = week_bits.shape[0]
    first = np.full(n, -1, dtype=np.int64)
    frequency = np.zeros(n, dtype=np.int64)
    recency = np.zeros(n, dtype=np.int64)
    holdout = np.zeros(n, dtype=np.int64)
    for v in range(n):
        last = -1
        count = 0
        for week in range(total_weeks):
            if (week_bits[v, week // 64] >> np.uint64(week % 64)) & np.uint64(1):
                if week < calibration_weeks:
                    if first[v] < 0:
                        first[v] = week
                    last = week
                    count += 1
                else:
                    holdout[v] += 1
        if first[v] >= 0:
            frequency[v] = count - 1
            recency[v] = last - first[v]
    return first, frequency, recency, holdout


MONEY_COLUMNS = ("clv_historic", "clv_formula", "clv_predicted", "branch_clv")


@dataclass(frozen=True, eq=False)
class ValueResult:
    """Per-node columns (money in minor units; floats for p_alive and expected purchases), run.json
    figures and the holdout check."""

    columns: dict[str, npt.NDArray[Any]]
    summary: dict[str, Any] = field(default_factory=dict)
    warning: str | None = None  # a one-line reason when the model could not be fitted

    @property
    def fitted(self) -> bool:
        """Whether the BG/NBD and Gamma-Gamma models were fitted (else clv_predicted is all 0)."""
        return bool(self.summary.get("model", {}).get("status") == "fitted")


def _calibration_weeks(window: Window, holdout_periods: int) -> tuple[int, int]:
    """(weeks in the calibration part, weeks in the window): the calibration part ends where the first
    holdout period begins; a week cut by that day goes to the holdout."""
    total = (window.end - window.start).days // 7 + 1
    periods = len(window.labels)
    if holdout_periods == 0:
        return total, total
    if holdout_periods >= periods:
        raise ConfigError(
            f"value.holdout_periods: {holdout_periods} leaves no calibration period "
            f"(the window has {periods})"
        )
    days = pl.DataFrame({"d": pl.date_range(window.start, window.end, "1d", eager=True)})
    index = days.select(window.index(pl.col("d")))["d"].to_numpy()
    first_holdout_day = int(np.flatnonzero(index == periods - holdout_periods)[0])
    return first_holdout_day // 7, total


def _distinct_rows(
    x: IntArray, recency: IntArray, age: IntArray, weeks: int
) -> tuple[list[IntArray], IntArray]:
    """The distinct (x, recency, age) rows (each in [0, weeks]) and, per input row, its distinct row's index.

    The values are small integers, so a row is one integer key and the distinct keys come from a counting
    pass (O(n), no sort of the customers)."""
    base = weeks + 1
    key = (x * base + recency) * base + age
    if base**3 <= 64_000_000:
        present = np.flatnonzero(np.bincount(key, minlength=base**3))
        lookup = np.zeros(base**3, dtype=np.int64)
        lookup[present] = np.arange(present.size, dtype=np.int64)
        inverse = lookup[key]
    else:  # a window of many years: sort the keys instead
        present, inverse = np.unique(key, return_inverse=True)
    return [present // (base * base), present // base % base, present % base], inverse.reshape(-1)


def run_value(
    network: Network,
    totals: OrderTotals,
    margin: IntArray,
    joined_day: IntArray,
    window: Window,
    config: ValueConfig,
    fallback_margin_rate: float,
    churn: CompanyChurn | None = None,
) -> ValueResult:
    """Every per-participant value column and run.json's ``value`` figures (see the module docstring;
    ``churn``: the company churn, for clv_formula's lifetime when ``value.lifetime_months`` is unset)."""
    n = network.size
    revenue, orders = totals.revenue, totals.orders
    periods = len(window.labels)
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
    if config.model == "none":
        summary["model"] = {"status": "off"}
        return ValueResult(columns, summary)
    calibration_weeks, total_weeks = _calibration_weeks(window, config.holdout_periods)
    first, x_all, t_x_all, holdout = purchase_summary(totals.week_bits, calibration_weeks, total_weeks)
    buyer = np.flatnonzero(first >= 0)
    age = calibration_weeks - first[buyer]
    x, t_x = x_all[buyer], t_x_all[buyer]  # the model works on buyers only
    del x_all, t_x_all
    calibration = revenue if not config.holdout_periods else None
    if calibration is None:
        calibration = totals.revenue_by_period[: periods - config.holdout_periods].sum(axis=0)
    monetary = calibration[buyer] / (x + 1)
    del calibration
    revenue_total = int(revenue.sum())
    margin_rate = int(margin.sum()) / revenue_total if revenue_total > 0 else fallback_margin_rate
    summary |= {
        "time_unit": "week",
        "calibration_weeks": calibration_weeks,
        "holdout_weeks": total_weeks - calibration_weeks,
        "customers": int(buyer.size),
        "margin_rate": round(margin_rate, 6),
    }
    try:
        purchases = fit_bgnbd(x, t_x, age)
        positive = (x > 0) & (monetary > 0)
        spend = fit_gamma_gamma(x[positive], monetary[positive])
    except ModelError as exc:
        summary["model"] = {"status": "failed", "reason": str(exc)}
        return ValueResult(columns, summary, warning=f"CLV model not fitted: {exc}")
    summary["model"] = {"status": "fitted", "bgnbd": purchases.as_dict(), "gamma_gamma": spend.as_dict()}
    # The model's figures on the distinct (x, t_x, T) rows only, then gathered (far fewer than customers).
    (ux, ut, uage), back = _distinct_rows(x, t_x, age, total_weeks)
    steps = np.arange(1, config.horizon_months + 1) * WEEKS_PER_MONTH
    cumulative = np.stack([expected_purchases(purchases, t, ux, ut, uage) for t in steps])  # (months, rows)
    per_month = np.diff(cumulative, axis=0, prepend=0.0)
    discount = (1.0 + config.discount_rate) ** -np.arange(1, config.horizon_months + 1)
    discounted = (per_month * discount[:, None]).sum(axis=0)[back]
    value = expected_order_value(spend, np.where(monetary > 0, x, 0), np.where(monetary > 0, monetary, 0))
    predicted = np.zeros(n, dtype=np.int64)
    predicted[buyer] = minor_from_floats(discounted * value * margin_rate)
    columns["clv_predicted"] = predicted
    columns["p_alive"][buyer] = p_alive(purchases, ux, ut, uage)[back]
    columns["expected_purchases"][buyer] = cumulative[-1][back]
    columns["branch_clv"] = network.subtree_sum(predicted)
    if config.holdout_periods:
        expected = np.zeros(n)
        expected[buyer] = expected_purchases(purchases, total_weeks - calibration_weeks, ux, ut, uage)[back]
        columns["holdout_expected"] = expected
        # Only calibration customers are predicted, so only their holdout purchases are compared.
        columns["holdout_actual"] = np.where(first >= 0, holdout, 0)
        summary["holdout"] = {
            "periods": config.holdout_periods,
            "expected_purchase_weeks": round(float(expected.sum()), 2),
            "actual_purchase_weeks": int(holdout[buyer].sum()),
        }
    return ValueResult(columns, summary)


def holdout_by_segment(result: ValueResult, segmentations: list[Segmentation]) -> pl.DataFrame | None:
    """Expected against actual purchase weeks in the holdout, in total and per segment value (None when
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
