"""Fast start: the sponsor earns ``rate × volume`` of a new participant's orders within ``days`` of joining.

The join day is day 0; an order on day ``d`` counts when ``d ≤ days`` (so with ``days = 30`` an order 29
or 30 days after joining counts, one 31 days after does not). Commission periods follow the order dates.
Only the direct sponsor is paid, when active in the period (PV ≥ ``active_min_pv``; 0 = always).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator

from mlmroi.money import MAX_AMOUNT, IntArray, rate_ppm
from mlmroi.network import Network
from mlmroi.plans.base import ComponentModel, ComponentResult, MoneySetting, PeriodVolumes, check_rates
from mlmroi.plans.upline import pay_uplines


class FastStartConfig(ComponentModel):
    """Config of a fast-start component (``[[plan.components]] type = "fast_start"``)."""

    type: Literal["fast_start"] = "fast_start"
    rate: float = Field(ge=0.0, le=1.0)
    days: int = Field(default=30, ge=0, le=3660)
    active_min_pv: MoneySetting = Field(default=0.0, ge=0.0, lt=MAX_AMOUNT)

    @field_validator("rate")
    @classmethod
    def _exact(cls, rate: float) -> float:
        return check_rates([rate], "fast start")[0]


def fast_start(
    network: Network, volumes: PeriodVolumes, config: FastStartConfig, volume_scale: int, trace: int = -1
) -> ComponentResult:
    """Pay each sponsor ``rate`` of their recruits' early volume (``volumes.early[config.days]``)."""
    early = volumes.early.get(config.days)
    if early is None:
        raise ValueError(f"early volume for {config.days} days was not aggregated")
    active = volumes.personal >= round(config.active_min_pv * volume_scale)
    level_ppm = np.array([rate_ppm(config.rate)], dtype=np.int64)
    buffer = np.zeros(network.size, dtype=np.int64)  # one period's early volume at a time

    def period(p: int) -> IntArray:
        return early.period(p, buffer)

    return pay_uplines(network, config.label, period, active, level_ppm, levelled=False, trace=trace)
