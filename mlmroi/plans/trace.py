"""Per-source detail for one participant (``mlmroi explain``): the walk rules of the upline components.

The production kernels aggregate (what a payee receives per level, what a source generates in total); they
never materialise source → payee pairs, which at 10M participants would be billions. For one traced
participant ``node`` the pairs are few, and these kernels produce them with the same rules:

* ``received``: a depth-first walk down ``node``'s subtree, carrying what the rule needs about the path
  (how many qualifying uplines lie between, the highest rate between, how many breakaway leaders), pruned
  as soon as nothing deeper can pay ``node``;
* ``generated``: the walk up from ``node`` as a source, exactly as the production kernel walks.

Amounts are exact (minor units × 10⁶). Tests check, for every participant of random trees, that the traced
amounts add up to what the production kernels computed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from mlmroi._numba import kernel

if TYPE_CHECKING:
    from mlmroi.plans.base import RowCollector

IntArray = npt.NDArray[np.int64]


def record(rows: RowCollector, period: int, traced: tuple[IntArray, ...], levelled: bool = True) -> None:
    """Add one period's output of a trace kernel to ``rows`` (levels kept only when ``levelled``)."""
    sources, source_levels, received, payees, payee_levels, generated = traced
    for kind, other, levels, exact in (
        ("received", sources, source_levels, received),
        ("generated", payees, payee_levels, generated),
    ):
        period_column = np.full(other.size, period, dtype=np.int32)
        rows.trace(kind, other, period_column, levels if levelled else np.full(other.size, -1), exact)


@kernel
def trace_uplines(  # type: ignore[no-untyped-def]
    parent,
    child_start,
    next_active,
    volume,
    active,
    active_frontline,
    unlock,
    level_ppm,
    dynamic,
    node,
):
    """Pay-uplines rule (unilevel, matching, fast start) for one period.

    Returns ``(sources, source_levels, received, payees, payee_levels, generated)``: what ``node`` received
    from each source at which level, and what ``node``'s own amount paid each upline.
    """
    n = parent.shape[0]
    n_levels = level_ppm.shape[0]
    src = np.empty(n, dtype=np.int64)
    src_level = np.empty(n, dtype=np.int64)
    got = np.empty(n, dtype=np.int64)
    count = 0
    # Received: a source s below node reaches node at level 1 + (uplines counted between them), where
    # dynamic compression counts only active uplines; only an active node is paid.
    if active[node]:
        stack = np.empty(n, dtype=np.int64)
        between = np.empty(n, dtype=np.int64)  # counted uplines strictly between node and the stacked node
        top = 0
        for c in range(child_start[node], child_start[node + 1]):
            stack[top] = c
            between[top] = 0
            top += 1
        while top > 0:
            top -= 1
            s = stack[top]
            k = between[top]  # level - 1
            v = volume[s]
            if v != 0 and active_frontline[node] >= unlock[k]:
                src[count] = s
                src_level[count] = k + 1
                got[count] = v * level_ppm[k]
                count += 1
            deeper = k + (1 if (active[s] or not dynamic) else 0)
            if deeper < n_levels:
                for c in range(child_start[s], child_start[s + 1]):
                    stack[top] = c
                    between[top] = deeper
                    top += 1
    payees = np.empty(n_levels, dtype=np.int64)
    payee_level = np.empty(n_levels, dtype=np.int64)
    gave = np.empty(n_levels, dtype=np.int64)
    paid = 0
    v = volume[node]
    payee = next_active[node] if dynamic else parent[node]
    for k in range(n_levels):
        if payee < 0 or v == 0:
            break
        if active[payee] and active_frontline[payee] >= unlock[k]:
            payees[paid] = payee
            payee_level[paid] = k + 1
            gave[paid] = v * level_ppm[k]
            paid += 1
        payee = next_active[payee] if dynamic else parent[payee]
    return src[:count], src_level[:count], got[:count], payees[:paid], payee_level[:paid], gave[:paid]


@kernel
def trace_stairstep(  # type: ignore[no-untyped-def]
    parent, child_start, pv, bucket, bucket_ppm, rebate, breakaway, generation_ppm, node
):
    """Stairstep rule for one period, given every node's rank bucket (0 = no rank) that period.

    Differential: a source's volume pays each upline ``(own rate − highest rate between)⁺`` (the source
    itself counts as between with ``rebate``, and then earns its own rate), walking up until and including
    the first breakaway leader (bucket ≥ ``breakaway``, which lies beyond every bucket when the plan has no
    breakaway). Generations: the g-th breakaway leader above a source's own leader earns
    ``generation_ppm[g-1]`` of it. Level -1 = differential, g = generation.
    Returns ``(sources, levels, received, payees, levels, generated)``.
    """
    n = parent.shape[0]
    n_gen = generation_ppm.shape[0]
    src = np.empty(n + 1, dtype=np.int64)
    src_level = np.empty(n + 1, dtype=np.int64)
    got = np.empty(n + 1, dtype=np.int64)
    count = 0
    own_rate = bucket_ppm[bucket[node]]
    if rebate and pv[node] != 0 and own_rate > 0:
        src[0], src_level[0], got[0] = node, -1, pv[node] * own_rate
        count = 1
    is_leader = bucket[node] >= breakaway
    stack = np.empty(n, dtype=np.int64)
    high = np.empty(n, dtype=np.int64)  # highest rate strictly between node and the stacked node
    leaders = np.empty(n, dtype=np.int64)  # breakaway leaders strictly between node and the stacked node
    top = 0
    for c in range(child_start[node], child_start[node + 1]):
        stack[top], high[top], leaders[top] = c, 0, 0
        top += 1
    while top > 0:
        top -= 1
        s = stack[top]
        h = high[top]
        lead = leaders[top] + (1 if (bucket[s] >= breakaway) else 0)
        v = pv[s]
        if v != 0:
            if lead == 0:
                between = max(h, bucket_ppm[bucket[s]]) if rebate else h
                if own_rate > between:
                    src[count], src_level[count], got[count] = s, -1, (own_rate - between) * v
                    count += 1
            elif is_leader and lead <= n_gen and generation_ppm[lead - 1] != 0:
                src[count], src_level[count], got[count] = s, lead, generation_ppm[lead - 1] * v
                count += 1
        deeper_high = max(h, bucket_ppm[bucket[s]])
        differential_left = lead == 0 and own_rate > deeper_high
        generations_left = is_leader and lead <= n_gen and n_gen > 0
        if differential_left or generations_left:
            for c in range(child_start[s], child_start[s + 1]):
                stack[top], high[top], leaders[top] = c, deeper_high, lead
                top += 1
    # Generated: the walk up from node as a source, as the production rule walks.
    payees = np.empty(n + 1, dtype=np.int64)
    payee_level = np.empty(n + 1, dtype=np.int64)
    gave = np.empty(n + 1, dtype=np.int64)
    paid = 0
    v = pv[node]
    if v != 0:
        between = bucket_ppm[bucket[node]] if rebate else 0
        if rebate and between > 0:
            payees[0], payee_level[0], gave[0] = node, -1, between * v
            paid = 1
        leader = node if (bucket[node] >= breakaway) else -1
        payee = parent[node] if leader < 0 else -1
        while payee >= 0:
            rate = bucket_ppm[bucket[payee]]
            if rate > between:
                payees[paid], payee_level[paid], gave[paid] = payee, -1, (rate - between) * v
                paid += 1
            between = max(between, rate)
            if bucket[payee] >= breakaway:
                leader = payee
                break
            payee = parent[payee]
        if leader >= 0:
            g = 0
            above = parent[leader]
            while above >= 0 and g < n_gen:
                if bucket[above] >= breakaway:
                    if generation_ppm[g] != 0:
                        payees[paid], payee_level[paid], gave[paid] = above, g + 1, generation_ppm[g] * v
                        paid += 1
                    g += 1
                above = parent[above]
    return src[:count], src_level[:count], got[:count], payees[:paid], payee_level[:paid], gave[:paid]
