"""Commission components: one module each (config model, numba kernel or shared mechanism, public function).

Components run in plan order, except matching, which runs after every other component because it pays on
their commissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mlmroi.errors import ConfigError
from mlmroi.money import IntArray
from mlmroi.network import Network
from mlmroi.plans.base import ComponentModel, ComponentResult, PeriodVolumes
from mlmroi.plans.binary import BinaryConfig, binary
from mlmroi.plans.caps import CapsConfig, apply_caps
from mlmroi.plans.fast_start import FastStartConfig, fast_start
from mlmroi.plans.matching import MatchingConfig, matching
from mlmroi.plans.registry import kind_of
from mlmroi.plans.stairstep import StairstepConfig, stairstep
from mlmroi.plans.unilevel import UnilevelConfig, unilevel

if TYPE_CHECKING:
    from mlmroi.config import Config


def active_by_period(personal: IntArray, config: Config) -> npt.NDArray[np.bool_]:
    """(periods, n): who is active in each period by the plan's lowest activity threshold (the smallest
    ``active_min_pv`` of its components): PV at or above it, and any positive PV when that is 0 or no
    component sets one. Active frontline and shared retention costs use it."""
    scale = 10**config.money.decimals
    thresholds = [c.active_min_pv for c in config.plan.components if hasattr(c, "active_min_pv")]
    min_pv = max(round(min(thresholds, default=0.0) * scale), 1)
    active: npt.NDArray[np.bool_] = personal >= min_pv
    return active


def run_plan(
    network: Network,
    volumes: PeriodVolumes,
    config: Config,
    rank: IntArray | None = None,
    trace: int = -1,
) -> list[ComponentResult]:
    """Run every component of ``config.plan``, then its caps; results come back in plan order.

    ``rank[node]`` is the participant-id order used to break ties when caps scale payouts (node order if
    not given). ``trace`` (a node) makes every component keep that participant's per-source detail.
    """
    scale = 10**config.money.decimals
    results: dict[int, ComponentResult] = {}
    for i, component in enumerate(config.plan.components):
        kind = kind_of(component)
        if kind.needs_placement and network.placement is None:
            raise ConfigError(
                f"plan.components[{i}]: a {kind.type} component needs the placement tree "
                "(placement_id and placement_leg columns in participants)"
            )
        if not kind.pays_on_others:
            results[i] = kind.run(network, volumes, component, scale, trace)
    base = [results[i] for i in sorted(results)]
    for i, component in enumerate(config.plan.components):
        kind = kind_of(component)
        if kind.pays_on_others:
            results[i] = kind.run(network, volumes, component, scale, base, trace)
    ordered = [results[i] for i in sorted(results)]
    if config.plan.caps.active:
        tie_order = rank if rank is not None else np.arange(network.size, dtype=np.int64)
        period_volume = volumes.personal.sum(axis=1)
        ordered = apply_caps(ordered, period_volume, tie_order, config.plan.caps, config.money.decimals)
    return ordered


def early_days(config: Config) -> list[int]:
    """The fast-start windows (days) whose early volume the order aggregation must collect."""
    return sorted({c.days for c in config.plan.components if isinstance(c, FastStartConfig)})


__all__ = [
    "BinaryConfig",
    "CapsConfig",
    "ComponentModel",
    "ComponentResult",
    "FastStartConfig",
    "MatchingConfig",
    "PeriodVolumes",
    "StairstepConfig",
    "UnilevelConfig",
    "binary",
    "early_days",
    "fast_start",
    "matching",
    "run_plan",
    "stairstep",
    "unilevel",
]
