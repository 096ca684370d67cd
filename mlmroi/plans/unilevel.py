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
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mlmroi._numba import kernel
from mlmroi.money import RATE_SCALE, apply_rate, is_ppm_exact, rate_ppm
from mlmroi.network import Network
from mlmroi.plans.base import ComponentResult, PeriodVolumes


class UnilevelConfig(BaseModel):
    """Config of one unilevel component (``[[plan.components]] type = "unilevel"``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["unilevel"] = "unilevel"
    name: str | None = Field(default=None, description="label in outputs; default: the type")
    levels: list[float] = Field(min_length=1, max_length=64)
    active_min_pv: float = Field(default=0.0, ge=0.0)
    compression: Literal["none", "dynamic"] = "none"
    unlock: list[int] | None = None

    @field_validator("levels")
    @classmethod
    def _rates(cls, levels: list[float]) -> list[float]:
        for k, rate in enumerate(levels, start=1):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"level {k} rate {rate} is not between 0 and 1")
            if not is_ppm_exact(rate):
                raise ValueError(f"level {k} rate {rate} has more than 6 decimals")
        return levels

    @model_validator(mode="after")
    def _unlock(self) -> UnilevelConfig:
        if self.unlock is not None:
            if len(self.unlock) != len(self.levels):
                raise ValueError(f"unlock has {len(self.unlock)} entries, levels has {len(self.levels)}")
            if any(q < 0 for q in self.unlock):
                raise ValueError("unlock entries must be ≥ 0")
        return self

    @property
    def label(self) -> str:
        """The component's name in outputs."""
        return self.name or self.type


@kernel
def _unilevel_period(  # type: ignore[no-untyped-def]
    parent, next_active, volume, active, active_frontline, unlock, level_ppm, dynamic, received, generated
):
    """One period: volume credited per level and payee (``(levels, n)``), plus exact attribution.

    Walks at most ``len(levels)`` steps up from each source (O(n × levels)); with dynamic compression
    each step jumps to the nearest active ancestor (``next_active``), precomputed in one forward pass.
    Adds to ``received`` / ``generated`` (minor units × 10⁶) what each payee received unrounded and what
    each source's volume generated.
    """
    n = parent.shape[0]
    n_levels = level_ppm.shape[0]
    level_volume = np.zeros((n_levels, n), dtype=np.int64)
    for s in range(n):
        v = volume[s]
        if v == 0:
            continue
        payee = next_active[s] if dynamic else parent[s]
        for k in range(n_levels):
            if payee < 0:
                break
            if active[payee] and active_frontline[payee] >= unlock[k]:
                level_volume[k, payee] += v
                received[payee] += v * level_ppm[k]
                generated[s] += v * level_ppm[k]
            payee = next_active[payee] if dynamic else parent[payee]
    return level_volume


def unilevel(
    network: Network, volumes: PeriodVolumes, config: UnilevelConfig, volume_scale: int
) -> ComponentResult:
    """Run a unilevel component over every period.

    Parameters
    ----------
    network : Network
        The sponsor forest.
    volumes : PeriodVolumes
        PV per node and period, in minor units (``volume_scale`` per volume point).
    config : UnilevelConfig
        The component.
    volume_scale : int
        Minor units per volume point (100 when volumes carry cents), to compare PV with ``active_min_pv``.

    Returns
    -------
    ComponentResult
        One row per payee × period × level with a non-zero amount, rounded half-to-even once.
    """
    n_periods, n = volumes.personal.shape
    level_ppm = np.array([rate_ppm(r) for r in config.levels], dtype=np.int64)
    unlock = np.array(config.unlock or [0] * len(config.levels), dtype=np.int64)
    min_pv = round(config.active_min_pv * volume_scale)
    payees, periods, levels, amounts = [], [], [], []
    received = np.zeros(n, dtype=np.int64)
    generated = np.zeros(n, dtype=np.int64)
    for p in range(n_periods):
        volume = np.ascontiguousarray(volumes.personal[p])
        active = volume >= min_pv
        if config.unlock is not None and unlock.any():
            active_frontline = network.count_children_where(active)
        else:
            active_frontline = np.zeros(n, dtype=np.int32)
        next_active = network.nearest_ancestor_where(active)
        level_volume = _unilevel_period(
            network.parent,
            next_active,
            volume,
            active,
            active_frontline,
            unlock,
            level_ppm,
            config.compression == "dynamic",
            received,
            generated,
        )
        for k in range(level_ppm.shape[0]):
            payee = np.flatnonzero(level_volume[k])
            amount = apply_rate(level_volume[k, payee], int(level_ppm[k]))
            keep = amount != 0
            payees.append(payee[keep])
            amounts.append(amount[keep])
            periods.append(np.full(int(keep.sum()), p, dtype=np.int32))
            levels.append(np.full(int(keep.sum()), k + 1, dtype=np.int16))
    return ComponentResult(
        component=config.label,
        payee=np.concatenate(payees) if payees else np.zeros(0, np.int64),
        period=np.concatenate(periods) if periods else np.zeros(0, np.int32),
        level=np.concatenate(levels) if levels else np.zeros(0, np.int16),
        amount=np.concatenate(amounts) if amounts else np.zeros(0, np.int64),
        received_exact=received,
        generated_exact=generated,
    )


__all__ = ["RATE_SCALE", "UnilevelConfig", "unilevel"]
