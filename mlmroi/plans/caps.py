"""Caps: a ceiling per participant and period, and a ceiling on the period's payout ratio.

Applied after every component (matching included), per period:

1. ``cap_per_participant_period``: a payee whose period total exceeds the cap has their rows of that period
   scaled down to exactly the cap;
2. ``max_payout_ratio``: when the period's total payout exceeds ``ratio × period volume`` (rounded down
   to the cent, so the ratio is never passed), every row of the period is scaled down to exactly that
   amount.

Scaling is exact pro rata: each row gets ``amount × target / total`` rounded down, and the cents left over
go to the largest remainders, ties to the earlier participant (by id). Only positive rows are scaled;
clawbacks (negative rows) are kept as they are. Branch ROI's attribution of what a branch's volume generated
above it is scaled by each component's overall capped / uncapped ratio (exact at the roots, where nothing is
paid above; an approximation inside the tree while caps bind).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from mlmroi._numba import kernel
from mlmroi.money import (
    MAX_AMOUNT,
    RATE_SCALE,
    IntArray,
    largest_remainder,
    rate_ppm,
    split_largest_remainder,
)
from mlmroi.plans.base import ComponentResult, MoneySetting

_INT64_MAX = np.iinfo(np.int64).max


class CapsConfig(BaseModel):
    """``[plan.caps]``: limits applied after all components."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    cap_per_participant_period: MoneySetting | None = Field(
        default=None, gt=0.0, lt=MAX_AMOUNT, description="money per payee and period"
    )
    max_payout_ratio: float | None = Field(
        default=None, gt=0.0, le=1.0, description="Σ payouts / Σ volume per period"
    )

    @property
    def active(self) -> bool:
        """Whether any cap is set."""
        return self.cap_per_participant_period is not None or self.max_payout_ratio is not None


def _scale_to(amount: IntArray, rows: IntArray, target: int) -> None:
    """Scale the positive rows among ``rows`` (in tie order) so they sum to ``target`` less the negatives."""
    positive = rows[amount[rows] > 0]
    negative_total = int(amount[rows][amount[rows] < 0].sum())
    goal = max(target - negative_total, 0)
    if positive.size and int(amount[positive].sum()) > goal:
        amount[positive] = split_largest_remainder(goal, amount[positive])


@kernel
def _cap_groups(amount, rows, starts, ends, cap):  # type: ignore[no-untyped-def]
    """:func:`_scale_to` to ``cap`` for each group ``rows[starts[g]:ends[g]]``, done here; returns a flag per
    group whose shares could overflow int64, left to :func:`_scale_to` (never seen in practice).

    At 10M participants tens of thousands of payee × period totals exceed the cap; one numpy call chain per
    group took over a second. The split is :func:`~mlmroi.money.largest_remainder`, as everywhere.
    """
    overflow = np.zeros(starts.shape[0], dtype=np.bool_)
    for g in range(starts.shape[0]):
        group = rows[starts[g] : ends[g]]
        values = amount[group]
        positive = group[values > 0]
        if positive.size == 0:
            continue
        negative_total = values[values < 0].sum()
        goal = max(cap - negative_total, 0)
        weights = amount[positive]
        if weights.sum() <= goal:
            continue
        if weights.max() > _INT64_MAX // max(weights.size, goal, 1):
            overflow[g] = True
            continue
        amount[positive] = largest_remainder(weights, goal)
    return overflow


@kernel
def _over_cap(payee, amount, rows, cap, total):  # type: ignore[no-untyped-def]
    """The rows among ``rows`` of the payees whose positive amounts add up to more than ``cap``, grouped by
    payee (in their order within a group), with each group's start and end. ``total`` (n,) must be zero
    and is left zero."""
    for j in rows:
        if amount[j] > 0:
            total[payee[j]] += amount[j]
    count = 0
    for j in rows:
        if total[payee[j]] > cap:
            count += 1
    hit = np.empty(count, dtype=np.int64)
    count = 0
    for j in rows:
        if total[payee[j]] > cap:
            hit[count] = j
            count += 1
    for j in rows:
        total[payee[j]] = 0
    hit = hit[np.argsort(payee[hit], kind="mergesort")]  # stable: rows keep their order within a payee
    starts = np.empty(count, dtype=np.int64)
    groups = 0
    for k in range(count):
        if k == 0 or payee[hit[k]] != payee[hit[k - 1]]:
            starts[groups] = k
            groups += 1
    starts = starts[:groups]
    ends = np.empty(groups, dtype=np.int64)
    ends[:-1] = starts[1:]
    if groups:
        ends[-1] = count
    return hit, starts, ends


def apply_caps(
    results: list[ComponentResult], period_volume: IntArray, rank: IntArray, caps: CapsConfig, decimals: int
) -> list[ComponentResult]:
    """The results with every cap applied; ``rank[node]`` orders payees for ties (participant id order)."""
    if not caps.active or not results:
        return results
    sizes = [r.amount.size for r in results]
    payee = np.concatenate([r.payee for r in results])
    period = np.concatenate([r.period for r in results])
    amount = np.concatenate([r.amount for r in results])  # a new array: scaled in place
    per_payee_cap = (
        None
        if caps.cap_per_participant_period is None
        else round(caps.cap_per_participant_period * 10**decimals)
    )
    total = np.zeros(rank.size, dtype=np.int64)  # scratch for _over_cap
    for p in range(period_volume.size):
        rows = np.flatnonzero(period == p)  # as they come: component and level order within a payee
        if rows.size == 0:
            continue
        if per_payee_cap is not None:
            hit, starts, ends = _over_cap(payee, amount, rows, per_payee_cap, total)
            overflow = _cap_groups(amount, hit, starts, ends, per_payee_cap)
            for g in np.flatnonzero(overflow):
                _scale_to(amount, hit[starts[g] : ends[g]], per_payee_cap)
        if caps.max_payout_ratio is not None:
            # Rounded down: the payout never passes the ratio, not even by a cent.
            ceiling = int(period_volume[p]) * rate_ppm(caps.max_payout_ratio) // RATE_SCALE
            values = amount[rows]
            if int(values[values > 0].sum()) > max(ceiling - int(values[values < 0].sum()), 0):
                # It binds: rows in tie order, participant id then as they come (sorting only then).
                _scale_to(amount, rows[np.argsort(rank[payee[rows]], kind="stable")], ceiling)
    capped = []
    offset = 0
    for result, size in zip(results, sizes, strict=True):
        new = amount[offset : offset + size]
        old_total, new_total = int(result.amount.sum()), int(new.sum())
        keep = new != 0
        capped.append(
            replace(
                result,
                payee=result.payee[keep],
                period=result.period[keep],
                level=result.level[keep],
                amount=new[keep],
                attribution_scale=result.attribution_scale * (new_total / old_total if old_total else 1.0),
            )
        )
        offset += size
    return capped
