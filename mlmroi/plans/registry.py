"""The plan components mlmroi knows: one entry each. The config reads its models from here (the ``type`` key
of a ``[[plan.components]]`` table picks one) and :func:`mlmroi.plans.run_plan` its functions, so adding a
component is a module with a config model and a function, plus one line below."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlmroi.plans.base import ComponentModel, ComponentResult
from mlmroi.plans.binary import BinaryConfig, binary
from mlmroi.plans.fast_start import FastStartConfig, fast_start
from mlmroi.plans.matching import MatchingConfig, matching
from mlmroi.plans.stairstep import StairstepConfig, stairstep
from mlmroi.plans.unilevel import UnilevelConfig, unilevel


@dataclass(frozen=True)
class ComponentKind:
    """One kind of plan component.

    ``run(network, volumes, config, volume_scale, trace)`` computes its rows; a component that ``pays_on``
    the others' commissions (matching) runs after all of them and gets their results before ``trace``.
    ``needs_placement``: it walks the binary placement tree, so the dataset must have one.
    """

    type: str
    model: builtins.type[ComponentModel]
    run: Callable[..., ComponentResult]
    pays_on_others: bool = False
    needs_placement: bool = False


KINDS: tuple[ComponentKind, ...] = (
    ComponentKind("unilevel", UnilevelConfig, unilevel),
    ComponentKind("matching", MatchingConfig, matching, pays_on_others=True),
    ComponentKind("fast_start", FastStartConfig, fast_start),
    ComponentKind("stairstep", StairstepConfig, stairstep),
    ComponentKind("binary", BinaryConfig, binary, needs_placement=True),
)
BY_TYPE: dict[str, ComponentKind] = {kind.type: kind for kind in KINDS}


def kind_of(component: Any) -> ComponentKind:
    """The registry entry of a validated component config."""
    return BY_TYPE[component.type]
