"""Commission components: one module each (config model, numba kernel or shared mechanism, public function).

Components run in plan order, except matching, which runs after every other component because it pays on
their commissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmroi.network import Network
from mlmroi.plans.base import ComponentResult, PeriodVolumes
from mlmroi.plans.fast_start import FastStartConfig, fast_start
from mlmroi.plans.matching import MatchingConfig, matching
from mlmroi.plans.stairstep import StairstepConfig, stairstep
from mlmroi.plans.unilevel import UnilevelConfig, unilevel

if TYPE_CHECKING:
    from mlmroi.config import Config

ComponentConfig = UnilevelConfig | MatchingConfig | FastStartConfig | StairstepConfig


def run_plan(network: Network, volumes: PeriodVolumes, config: Config) -> list[ComponentResult]:
    """Run every component of ``config.plan``; results come back in plan order."""
    scale = 10**config.money.decimals
    results: dict[int, ComponentResult] = {}
    for i, component in enumerate(config.plan.components):
        if isinstance(component, UnilevelConfig):
            results[i] = unilevel(network, volumes, component, scale)
        elif isinstance(component, FastStartConfig):
            results[i] = fast_start(network, volumes, component, scale)
        elif isinstance(component, StairstepConfig):
            results[i] = stairstep(network, volumes, component, scale)
    base = [results[i] for i in sorted(results)]
    for i, component in enumerate(config.plan.components):
        if isinstance(component, MatchingConfig):
            results[i] = matching(network, volumes, component, scale, base)
    return [results[i] for i in sorted(results)]


def early_days(config: Config) -> list[int]:
    """The fast-start windows (days) whose early volume the order aggregation must collect."""
    return sorted({c.days for c in config.plan.components if isinstance(c, FastStartConfig)})


__all__ = [
    "ComponentConfig",
    "ComponentResult",
    "FastStartConfig",
    "MatchingConfig",
    "PeriodVolumes",
    "StairstepConfig",
    "UnilevelConfig",
    "early_days",
    "fast_start",
    "matching",
    "run_plan",
    "stairstep",
    "unilevel",
]
