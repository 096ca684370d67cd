"""Matching: a payee earns ``rates[g-1] ×`` the commissions earned by their generation-g recruits.

Generation 1 is the frontline (personally sponsored), generation 2 their recruits, and so on, in the
sponsor tree without compression. The matched commissions are those of the other components (never
matching itself; ``on`` narrows them to named components), per period. A payee qualifies in a period with
PV ≥ ``active_min_pv``.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from mlmroi.money import IntArray, rate_ppm, sum_by_index
from mlmroi.network import Network
from mlmroi.plans.base import ComponentModel, ComponentResult, PeriodVolumes, check_rates
from mlmroi.plans.upline import pay_uplines


class MatchingConfig(ComponentModel):
    """Config of a matching component (``[[plan.components]] type = "matching"``)."""

    type: Literal["matching"] = "matching"
    rates: list[float] = Field(min_length=1, max_length=32)
    active_min_pv: float = Field(default=0.0, ge=0.0)
    on: list[str] | None = Field(default=None, description="components matched; default: all non-matching")

    @field_validator("rates")
    @classmethod
    def _rates(cls, rates: list[float]) -> list[float]:
        return check_rates(rates, "generation")


def earned_by_period(results: list[ComponentResult], n: int, n_periods: int) -> IntArray:
    """Σ commission amounts per period and payee, (periods, n), in minor units."""
    out = np.zeros(n_periods * n, dtype=np.int64)
    for result in results:
        out += sum_by_index(result.period.astype(np.int64) * n + result.payee, result.amount, n_periods * n)
    return out.reshape(n_periods, n)


def matching(
    network: Network,
    volumes: PeriodVolumes,
    config: MatchingConfig,
    volume_scale: int,
    matched: list[ComponentResult],
) -> ComponentResult:
    """Pay each upline ``rates[g-1]`` of what their generation-g recruits earned in ``matched``."""
    n_periods, n = volumes.personal.shape
    if config.on is not None:
        matched = [r for r in matched if r.component in config.on]
    earned = earned_by_period(matched, n, n_periods)
    active = volumes.personal >= round(config.active_min_pv * volume_scale)
    level_ppm = np.array([rate_ppm(r) for r in config.rates], dtype=np.int64)
    return pay_uplines(network, config.label, earned, active, level_ppm)
