"""Paying uplines: the one mechanism behind unilevel, matching and fast start.

Each of those components credits a *source amount* per node and period (personal volume, commissions
earned, early volume of a recruit) to the node's uplines at levels 1..L, at one rate per level. The kernel
adds integer amounts per payee × level; the rate is applied once per payee × period × level (exact,
half-to-even), and the exact unrounded attribution (what each payee received, what each source generated)
is kept for branch ROI.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from mlmroi._numba import kernel
from mlmroi.money import apply_rate
from mlmroi.network import Network
from mlmroi.plans.base import ComponentResult, RowCollector
from mlmroi.plans.trace import record, trace_uplines

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
    row_payee,
    row_volume,
    row_count,
):
    """One period: the volume credited per level and payee, as rows ``row_payee[k, :row_count[k]]``
    (ascending) and ``row_volume[k, :row_count[k]]``, plus exact attribution.

    Walks at most ``len(levels)`` steps up from each source (O(n × levels)); with dynamic compression
    each step jumps to the nearest active ancestor (``next_active``), precomputed in one forward pass.
    Adds to ``received`` / ``generated`` (minor units × 10⁶) what each payee received unrounded and what
    each source's volume generated. ``level_volume`` (levels, n) must be zero; reading out the rows zeroes
    it again for the next period (a buffer reused across periods: new memory is slow to fault in at 10M,
    and scanning for the rows here spares a numpy scan per level).
    """
    n = parent.shape[0]
    n_levels = level_ppm.shape[0]
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
    for k in range(n_levels):
        count = 0
        for i in range(n):
            if level_volume[k, i] != 0:
                row_payee[k, count] = i
                row_volume[k, count] = level_volume[k, i]
                level_volume[k, i] = 0
                count += 1
        row_count[k] = count


def pay_uplines(
    network: Network,
    component: str,
    source: IntArray | Callable[[int], IntArray],
    active: BoolArray,
    level_ppm: IntArray,
    unlock: IntArray | None = None,
    dynamic: bool = False,
    levelled: bool = True,
    trace: int = -1,
) -> ComponentResult:
    """Credit ``source[p, i]`` to node ``i``'s uplines at levels 1..L, every period ``p``.

    Parameters
    ----------
    network : Network
        The sponsor forest.
    component : str
        The component's name in outputs.
    source : ndarray (periods, n) of int64, or a function of the period giving its (n,) array
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
    trace : int
        A node whose per-source detail is kept (:mod:`mlmroi.plans.trace`); -1 for none.

    Returns
    -------
    ComponentResult
        One row per payee × period × level with a non-zero amount.
    """
    n_periods, n = active.shape
    n_levels = level_ppm.shape[0]
    unlock_k = np.zeros(n_levels, dtype=np.int64) if unlock is None else unlock
    rows = RowCollector(n, trace)
    level_volume = np.zeros((n_levels, n), dtype=np.int64)
    row_payee, row_volume = np.empty((n_levels, n), dtype=np.int64), np.empty((n_levels, n), dtype=np.int64)
    row_count = np.zeros(n_levels, dtype=np.int64)
    for p in range(n_periods):
        volume = np.ascontiguousarray(source(p) if callable(source) else source[p])
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
            row_payee,
            row_volume,
            row_count,
        )
        if trace >= 0:
            traced = trace_uplines(
                network.parent,
                network.child_start,
                next_active,
                volume,
                active_p,
                active_frontline,
                unlock_k,
                level_ppm,
                dynamic,
                trace,
            )
            record(rows, p, traced, levelled)
        for k in range(n_levels):
            count, level = row_count[k], k + 1 if levelled else -1
            rows.add(p, level, row_payee[k, :count], apply_rate(row_volume[k, :count], int(level_ppm[k])))
    return rows.result(component)
