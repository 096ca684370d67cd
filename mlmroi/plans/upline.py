"""Paying uplines: the one mechanism behind unilevel, matching and fast start.

Each of those components credits a *source amount* per node and period (personal volume, commissions
earned, early volume of a recruit) to the node's uplines at levels 1..L, at one rate per level. The kernel
adds integer amounts per payee × level; the rate is applied once per payee × period × level (exact,
half-to-even), and the exact unrounded attribution (what each payee received, what each source generated)
is kept for branch ROI.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlmroi._numba import kernel
from mlmroi.money import apply_rate
from mlmroi.network import Network
from mlmroi.plans.base import ComponentResult, RowCollector

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@kernel
def _pay_uplines_period(  # type: ignore[no-untyped-def]
    parent,
    next_active,
    volume,
    active,
    active_frontline,
    unlock,
    level_ppm,
    dynamic,
    received,
    generated,
    level_volume,
):
    """One period: volume credited per level and payee (``(levels, n)``), plus exact attribution.

    Walks at most ``len(levels)`` steps up from each source (O(n × levels)); with dynamic compression
    each step jumps to the nearest active ancestor (``next_active``), precomputed in one forward pass.
    Adds to ``received`` / ``generated`` (minor units × 10⁶) what each payee received unrounded and what
    each source's volume generated.
    """
    n = parent.shape[0]
    n_levels = level_ppm.shape[0]
    level_volume[:] = 0  # a buffer reused across periods: zeroing beats fresh pages at 10M
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


def pay_uplines(
    network: Network,
    component: str,
    source: IntArray,
    active: BoolArray,
    level_ppm: IntArray,
    unlock: IntArray | None = None,
    dynamic: bool = False,
    levelled: bool = True,
) -> ComponentResult:
    """Credit ``source[p, i]`` to node ``i``'s uplines at levels 1..L, every period ``p``.

    Parameters
    ----------
    network : Network
        The sponsor forest.
    component : str
        The component's name in outputs.
    source : ndarray (periods, n) of int64
        What each node's amount is in each period, in minor units.
    active : ndarray (periods, n) of bool
        Who is active per period: only active uplines are paid; with ``dynamic`` compression inactive
        uplines are skipped (levels count active uplines only).
    level_ppm : ndarray of int64
        The rate of each level in parts per million.
    unlock : ndarray of int64, optional
        Level k pays only to uplines with at least ``unlock[k-1]`` active frontline in the period.
    dynamic : bool
        Dynamic compression.
    levelled : bool
        False for components whose rows carry no level (written as null).

    Returns
    -------
    ComponentResult
        One row per payee × period × level with a non-zero amount.
    """
    n_periods, n = source.shape
    unlock_k = np.zeros(level_ppm.shape[0], dtype=np.int64) if unlock is None else unlock
    rows = RowCollector(n)
    level_volume = np.empty((level_ppm.shape[0], n), dtype=np.int64)
    for p in range(n_periods):
        volume = np.ascontiguousarray(source[p])
        if not volume.any():
            continue
        active_p = np.ascontiguousarray(active[p])
        if unlock_k.any():
            active_frontline = network.count_children_where(active_p)
        else:
            active_frontline = np.zeros(n, dtype=np.int32)
        next_active = network.nearest_ancestor_where(active_p) if dynamic else network.parent
        _pay_uplines_period(
            network.parent,
            next_active,
            volume,
            active_p,
            active_frontline,
            unlock_k,
            level_ppm,
            dynamic,
            rows.received,
            rows.generated,
            level_volume,
        )
        for k in range(level_ppm.shape[0]):
            payee = np.flatnonzero(level_volume[k])
            rows.add(
                p, k + 1 if levelled else -1, payee, apply_rate(level_volume[k, payee], int(level_ppm[k]))
            )
    return rows.result(component)
