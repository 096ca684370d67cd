"""Commission components: one module each (config model, numba kernel, public function)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlmroi.network import Network
from mlmroi.plans.base import ComponentResult, PeriodVolumes
from mlmroi.plans.unilevel import UnilevelConfig, unilevel

if TYPE_CHECKING:
    from mlmroi.config import Config


def run_plan(network: Network, volumes: PeriodVolumes, config: Config) -> list[ComponentResult]:
    """Run every component of ``config.plan`` in order."""
    scale = 10**config.money.decimals
    results = []
    for component in config.plan.components:
        if isinstance(component, UnilevelConfig):
            results.append(unilevel(network, volumes, component, scale))
    return results


__all__ = ["ComponentResult", "PeriodVolumes", "UnilevelConfig", "run_plan", "unilevel"]
