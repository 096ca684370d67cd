"""Matching: a payee earns ``rates[g-1] ×`` the commissions earned by their generation-g recruits.

Generation 1 is the frontline (personally sponsored), generation 2 their recruits, and so on, in the
sponsor tree without compression. The matched commissions are those of the other components (never
matching itself; ``on`` narrows them to named components), per period. A payee qualifies in a period with
PV ≥ ``active_min_pv``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from mlmroi._numba import kernel
from mlmroi.money import MAX_AMOUNT, IntArray, rate_ppm
from mlmroi.network import Network
from mlmroi.plans.base import ComponentModel, ComponentResult, MoneySetting, PeriodVolumes, check_rates
from mlmroi.plans.upline import pay_uplines


class MatchingConfig(ComponentModel):
    """Config of a matching component (``[[plan.components]] type = "matching"``)."""

    type: Literal["matching"] = "matching"
    rates: list[float] = Field(min_length=1, max_length=32)
    active_min_pv: MoneySetting = Field(default=0.0, ge=0.0, lt=MAX_AMOUNT)
    on: list[str] | None = Field(default=None, description="components matched; default: all non-matching")

    @field_validator("rates")
    @classmethod
    def _rates(cls, rates: list[float]) -> list[float]:
        return check_rates(rates, "generation")


@kernel
def _add_period_rows(period, payee, amount, p, out):  # type: ignore[no-untyped-def]
    """``out[payee] += amount`` for every row of period ``p``."""
    for j in range(payee.shape[0]):
        if period[j] == p:
            out[payee[j]] += amount[j]


def earned_in_period(results: list[ComponentResult], n: int) -> Callable[[int], IntArray]:
    """A function of the period giving Σ commission amounts per payee in it, (n,), in minor units.

    It fills one buffer, overwritten at each call: at 10M participants a (periods, n) array of the
    earnings took seconds to fault in, more than scanning the rows once per period.
    """
    out = np.zeros(n, dtype=np.int64)

    def earned(p: int) -> IntArray:
        out[:] = 0
        for result in results:
            _add_period_rows(result.period, result.payee, result.amount, p, out)
        return out

    return earned


def matching(
    network: Network,
    volumes: PeriodVolumes,
    config: MatchingConfig,
    volume_scale: int,
    matched: list[ComponentResult],
    trace: int = -1,
) -> ComponentResult:
    """Pay each upline ``rates[g-1]`` of what their generation-g recruits earned in ``matched``."""
    n = volumes.personal.shape[1]
    if config.on is not None:
        matched = [r for r in matched if r.component in config.on]
    earned = earned_in_period(matched, n)
    active = volumes.personal >= round(config.active_min_pv * volume_scale)
    level_ppm = np.array([rate_ppm(r) for r in config.rates], dtype=np.int64)
    return pay_uplines(network, config.label, earned, active, level_ppm, trace=trace)
