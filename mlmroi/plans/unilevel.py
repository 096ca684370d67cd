"""Unilevel: a payee earns ``levels[k-1] × volume`` of every source k levels below them.

``compression = "none"``: the level is the tree distance; an unqualified upline's share is lost (breakage).
``compression = "dynamic"``: inactive uplines are skipped, so levels count active participants only; an
active upline who has not unlocked that level (``unlock``) still takes the level, and its share is breakage.
Qualification: PV ≥ ``active_min_pv`` in the period; with ``unlock = [q1, q2, …]`` level k also needs at
least ``q_k`` active frontline participants in the period.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from mlmroi.money import MAX_AMOUNT, RATE_SCALE, rate_ppm
from mlmroi.network import Network
from mlmroi.plans.base import ComponentModel, ComponentResult, MoneySetting, PeriodVolumes, check_rates
from mlmroi.plans.upline import pay_uplines


class UnilevelConfig(ComponentModel):
    """Config of one unilevel component (``[[plan.components]] type = "unilevel"``)."""

    type: Literal["unilevel"] = "unilevel"
    levels: list[float] = Field(min_length=1, max_length=64)
    active_min_pv: MoneySetting = Field(default=0.0, ge=0.0, lt=MAX_AMOUNT)
    compression: Literal["none", "dynamic"] = "none"
    unlock: list[int] | None = None

    @field_validator("levels")
    @classmethod
    def _rates(cls, levels: list[float]) -> list[float]:
        return check_rates(levels, "level")

    @model_validator(mode="after")
    def _unlock(self) -> UnilevelConfig:
        if self.unlock is not None:
            if len(self.unlock) != len(self.levels):
                raise ValueError(f"unlock has {len(self.unlock)} entries, levels has {len(self.levels)}")
            if any(not 0 <= q <= 1_000_000 for q in self.unlock):
                raise ValueError("unlock entries must be between 0 and 1,000,000")
        return self


def unilevel(
    network: Network, volumes: PeriodVolumes, config: UnilevelConfig, volume_scale: int, trace: int = -1
) -> ComponentResult:
    """Run a unilevel component over every period.

    Parameters
    ----------
    network : Network
        The sponsor forest.
    volumes : PeriodVolumes
        PV per period and node, in minor units (``volume_scale`` per volume point).
    config : UnilevelConfig
        The component.
    volume_scale : int
        Minor units per volume point (100 when volumes carry cents), to compare PV with ``active_min_pv``.
    trace : int
        A node whose per-source detail is kept (``mlmroi explain``); -1 for none.

    Returns
    -------
    ComponentResult
        One row per payee × period × level with a non-zero amount, rounded half-to-even once.
    """
    level_ppm = np.array([rate_ppm(r) for r in config.levels], dtype=np.int64)
    unlock = np.array(config.unlock, dtype=np.int64) if config.unlock is not None else None
    active = volumes.personal >= round(config.active_min_pv * volume_scale)
    dynamic = config.compression == "dynamic"
    return pay_uplines(
        network, config.label, volumes.personal, active, level_ppm, unlock, dynamic, trace=trace
    )


__all__ = ["RATE_SCALE", "UnilevelConfig", "unilevel"]
