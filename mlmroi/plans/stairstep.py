"""Stairstep (differential): a payee earns ``(own rate − highest rate between) × volume`` per source.

Each period every participant gets the highest rank whose ``min_pv`` and ``min_gv`` they meet (GV: the
period's group volume in the sponsor tree). With ``personal_rebate = true`` a participant earns their own
rate on their own PV and counts as "between" for their uplines; with ``false`` they earn nothing on their
own PV and the source is not "between" (both conventions exist in the field). Nobody earns a negative
difference: an upline whose rate is not above the highest rate between earns nothing on that source.

One bottom-up pass per period, O(participants × ranks): each node carries its subtree's volume bucketed by
the highest rank met on the way up (``bucket[i, r]``); a node's pay is Σ_r (rate_i − rate_r)⁺ × bucket[i, r],
and moving to the parent lifts every bucket below the node's own rank into it. A top-down pass gives, per
node, what one unit of volume arriving with each bucket pays to the node and all its uplines, so each
source's generated commission (for branch ROI) costs O(1). Qualified legs (``min_legs``) are counted in the
same bottom-up pass. Breakaway (``breakaway_rank``): a participant at that rank or above leaves their upline's
GV and their volume stops paying differential above them; breakaway uplines earn ``generation_rates[g-1]``
of the group volume of the breakaway leaders g generations below them (rows with level = g).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mlmroi._numba import kernel
from mlmroi.money import MAX_AMOUNT, RATE_SCALE, div_half_even, rate_ppm
from mlmroi.network import Network
from mlmroi.plans.base import (
    ComponentModel,
    ComponentResult,
    MoneySetting,
    PeriodVolumes,
    RowCollector,
    check_rates,
)
from mlmroi.plans.trace import record, trace_stairstep


class RankConfig(BaseModel):
    """One rank of a stairstep: reached in a period with PV ≥ ``min_pv``, GV ≥ ``min_gv`` and at least
    ``min_legs`` qualified legs — frontline legs that contain someone at ``leg_rank`` or above (default: the
    rank listed just before this one)."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    name: str
    rate: float = Field(ge=0.0, le=1.0)
    min_pv: MoneySetting = Field(default=0.0, ge=0.0, lt=MAX_AMOUNT)
    min_gv: MoneySetting = Field(default=0.0, ge=0.0, lt=MAX_AMOUNT)
    min_legs: int = Field(default=0, ge=0, le=1_000_000)
    leg_rank: str | None = None


class StairstepConfig(ComponentModel):
    """Config of a stairstep component (``[[plan.components]] type = "stairstep"``)."""

    type: Literal["stairstep"] = "stairstep"
    ranks: list[RankConfig] = Field(min_length=1, max_length=32)
    personal_rebate: bool = True
    breakaway_rank: str | None = None
    generation_rates: list[float] = Field(default_factory=list, max_length=16)

    @model_validator(mode="after")
    def _ordered(self) -> StairstepConfig:
        for lower, upper in zip(self.ranks, self.ranks[1:], strict=False):
            if upper.rate < lower.rate:
                raise ValueError(
                    f"ranks must be listed by rising rate ({upper.name!r} pays less than {lower.name!r})"
                )
        check_rates([rank.rate for rank in self.ranks], "rank")
        names = [rank.name for rank in self.ranks]
        if len(set(names)) != len(names):
            raise ValueError("rank names must be unique")
        for k, rank in enumerate(self.ranks):
            if rank.leg_rank is not None and rank.leg_rank not in names[:k]:
                raise ValueError(
                    f"rank {rank.name!r}: leg_rank {rank.leg_rank!r} is not a rank listed before it"
                )
            if rank.min_legs and k == 0 and rank.leg_rank is None:
                raise ValueError(f"rank {rank.name!r}: the first rank needs a leg_rank to count legs")
        if self.breakaway_rank is not None and self.breakaway_rank not in names:
            raise ValueError(f"breakaway_rank {self.breakaway_rank!r} is not one of the ranks")
        if self.generation_rates and self.breakaway_rank is None:
            raise ValueError("generation_rates need a breakaway_rank")
        check_rates(self.generation_rates, "generation")
        return self

    def breakaway_bucket(self) -> int:
        """The bucket (rank index + 1) from which a participant breaks away; beyond every rank if none."""
        names = [rank.name for rank in self.ranks]
        return names.index(self.breakaway_rank) + 1 if self.breakaway_rank else len(names) + 1

    def leg_buckets(self) -> list[int]:
        """Per rank, the bucket (rank index + 1) a leg must reach to qualify."""
        names = [rank.name for rank in self.ranks]
        return [names.index(r.leg_rank) + 1 if r.leg_rank else max(k, 1) for k, r in enumerate(self.ranks)]


@kernel
def _stairstep_period(  # type: ignore[no-untyped-def]
    parent,
    child_start,
    pv,
    min_pv,
    min_gv,
    min_legs,
    leg_bucket,
    bucket_ppm,
    rebate,
    breakaway_at,
    generation_ppm,
    received,
    generated,
    highest,
    rank_bucket,
    bucket,
    legs,
    best,
    gen,
    unit,
    n_above,
    gen_unit,
    payee,
    amount,
    gen_payee,
    gen_level,
    gen_amount,
):
    """One period: differential rows into ``payee``/``amount`` and generation rows into ``gen_*`` (rounded,
    non-zero, by descending payee); returns both row counts. Raises ``highest[i]`` to the bucket reached.

    Buckets: 0 = nobody between (rate 0), k + 1 = rank k. A node at bucket ``breakaway_at`` or above breaks
    away: its group volume leaves its upline's GV and its volume stops paying differential above it;
    instead, breakaway uplines earn ``generation_ppm[g]`` of the group volume of breakaway leaders g + 1
    generations below them (``gen[., g]``). Adds exact attribution into received/generated.

    What a node passes to its children or parent (``bucket``, ``legs``, ``best``, ``gen``, ``unit``,
    ``n_above``, ``gen_unit``) only matters for nodes with children, so only they have a row: a *slot*,
    0, 1, … in node order. At 10M participants 87% of the nodes are leaves, and these rows then stay in
    cache where rows for every node did not (the kernel ran 2.5× slower). Slots need no lookup table:
    in breadth-first order the distinct parents, met in node order, are exactly the nodes with children in
    node order, so a pass counts them as it goes. The first child to reach a parent's rows zeroes them.
    GV is not stored: it is the node's PV plus its buckets.
    """
    n = parent.shape[0]
    n_ranks = min_pv.shape[0]
    n_buckets = n_ranks + 1
    n_gen = generation_ppm.shape[0]
    count_legs = min_legs.max() > 0
    rows = 0
    gen_rows = 0
    # Bottom-up: node order descending, so slots descend from the number of nodes with children.
    own_slot = parent_slot = bucket.shape[0]
    last_parent = -1
    for i in range(n - 1, -1, -1):
        inner = child_start[i + 1] > child_start[i]  # then own_slot's rows were filled by its children
        if inner:
            own_slot -= 1
        gv = pv[i]
        if inner:
            for r in range(n_buckets):
                gv += bucket[own_slot, r]
        b = 0
        for k in range(n_ranks):
            legs_met = min_legs[k] == 0 or (inner and legs[own_slot, leg_bucket[k]] >= min_legs[k])
            if pv[i] >= min_pv[k] and gv >= min_gv[k] and legs_met:
                b = k + 1
        rank_bucket[i] = b
        if b > highest[i]:
            highest[i] = b
        own = bucket_ppm[b]
        earned = own * pv[i] if rebate else 0
        if inner:
            for r in range(b):
                earned += (own - bucket_ppm[r]) * bucket[own_slot, r]
        received[i] += earned
        if earned != 0:
            owed = div_half_even(earned, np.int64(RATE_SCALE))
            if owed != 0:
                payee[rows] = i
                amount[rows] = owed
                rows += 1
        breakaway = b >= breakaway_at
        if breakaway and inner:
            for g in range(n_gen):
                gen_pay = generation_ppm[g] * gen[own_slot, g]
                received[i] += gen_pay
                if gen_pay != 0:
                    owed = div_half_even(gen_pay, np.int64(RATE_SCALE))
                    if owed != 0:
                        gen_payee[gen_rows] = i
                        gen_level[gen_rows] = g
                        gen_amount[gen_rows] = owed
                        gen_rows += 1
        p = parent[i]
        if p < 0:
            continue
        if p != last_parent:  # p's last child, the first to reach p's rows
            last_parent = p
            parent_slot -= 1
            bucket[parent_slot, :] = 0
            if count_legs:
                legs[parent_slot, :] = 0
                best[parent_slot] = 0
            if n_gen > 0:
                gen[parent_slot, :] = 0
        if count_legs:
            top = b if not inner or b > best[own_slot] else best[own_slot]  # highest bucket in i's subtree
            for r in range(1, top + 1):
                legs[parent_slot, r] += 1
            if top > best[parent_slot]:
                best[parent_slot] = top
        if breakaway:  # the group leaves the upline: generation 1 for the next breakaway above
            if n_gen > 0:
                gen[parent_slot, 0] += gv
                if inner:
                    for g in range(1, n_gen):
                        gen[parent_slot, g] += gen[own_slot, g - 1]
        else:
            if inner:
                for g in range(n_gen):
                    gen[parent_slot, g] += gen[own_slot, g]
                for r in range(n_buckets):
                    bucket[parent_slot, r if r > b else b] += bucket[own_slot, r]
            bucket[parent_slot, b if rebate else 0] += pv[i]
    # Top-down: unit[., r] = what one unit arriving at the node with bucket r pays to it and every upline.
    # It never exceeds the top rate in ppm (the differentials along a chain add up to at most the highest
    # rate), so int32 holds it. Generation pay per unit of volume in a node's breakaway group: the rates
    # of its leader's breakaway ancestors, in order (``n_above``: how many, capped at the generations paid).
    own_slot = parent_slot = -1
    last_parent = -1
    for i in range(n):
        p = parent[i]
        if p >= 0 and p != last_parent:
            last_parent = p
            parent_slot += 1
        b = rank_bucket[i]
        breakaway = b >= breakaway_at
        if child_start[i + 1] > child_start[i]:
            own_slot += 1
            for r in range(n_buckets):
                diff = bucket_ppm[b] - bucket_ppm[r]
                above = 0
                if p >= 0 and not breakaway:
                    above = unit[parent_slot, r if r > b else b]
                unit[own_slot, r] = (diff if diff > 0 else 0) + above
        per_unit = 0
        if n_gen > 0:
            leaders = 0
            if p >= 0:
                leaders = min(n_above[parent_slot] + (1 if rank_bucket[p] >= breakaway_at else 0), n_gen)
                per_unit = gen_unit[parent_slot]
            if breakaway:
                per_unit = 0
                for g in range(leaders):
                    per_unit += generation_ppm[g]
            if child_start[i + 1] > child_start[i]:
                n_above[own_slot] = leaders
                gen_unit[own_slot] = per_unit
        v = pv[i]
        if v == 0:
            continue
        own_pay = bucket_ppm[b] * v if rebate else 0
        up = 0
        if p >= 0 and not breakaway:
            up = unit[parent_slot, b if rebate else 0] * v
        generated[i] += own_pay + up + per_unit * v
    return rows, gen_rows


def stairstep(
    network: Network, volumes: PeriodVolumes, config: StairstepConfig, volume_scale: int, trace: int = -1
) -> ComponentResult:
    """Run a stairstep component over every period; one row per payee × period (level null).

    ``trace`` (a node): keep that participant's per-source detail (:mod:`mlmroi.plans.trace`).
    """
    n_periods, n = volumes.personal.shape
    min_pv = np.array([round(r.min_pv * volume_scale) for r in config.ranks], dtype=np.int64)
    min_gv = np.array([round(r.min_gv * volume_scale) for r in config.ranks], dtype=np.int64)
    bucket_ppm = np.array([0, *[rate_ppm(r.rate) for r in config.ranks]], dtype=np.int64)
    rows = RowCollector(n, trace)
    generation_ppm = np.array([rate_ppm(r) for r in config.generation_rates], dtype=np.int64)
    n_gen = generation_ppm.shape[0]
    min_legs = np.array([r.min_legs for r in config.ranks], dtype=np.int64)
    leg_bucket = np.array(config.leg_buckets(), dtype=np.int64)
    # Buffers reused across periods: rows for the nodes with children only (see the kernel); legs and
    # generations only when the plan has them.
    n_buckets, inner = bucket_ppm.shape[0], int((np.diff(network.child_start) > 0).sum())
    counted = inner if min_legs.any() else 0
    bucket = np.empty((inner, n_buckets), dtype=np.int64)
    legs = np.empty((counted, n_buckets), dtype=np.int32)
    best = np.empty(counted, dtype=np.int8)  # highest bucket in each subtree (n_buckets ≤ 33)
    gen = np.empty((inner, n_gen), dtype=np.int64)
    unit = np.empty((inner, n_buckets), dtype=np.int32)
    n_above = np.empty(inner if n_gen else 0, dtype=np.int64)
    gen_unit = np.empty(inner if n_gen else 0, dtype=np.int64)
    rank_bucket = np.empty(n, dtype=np.int8)
    highest = np.zeros(n, dtype=np.int8)  # highest bucket reached in the window
    payee, amount = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    gen_payee, gen_amount = np.empty(n * n_gen, dtype=np.int64), np.empty(n * n_gen, dtype=np.int64)
    gen_level = np.empty(n * n_gen, dtype=np.int64)
    for p in range(n_periods):
        count, gen_count = _stairstep_period(
            network.parent,
            network.child_start,
            np.ascontiguousarray(volumes.personal[p]),
            min_pv,
            min_gv,
            min_legs,
            leg_bucket,
            bucket_ppm,
            config.personal_rebate,
            config.breakaway_bucket(),
            generation_ppm,
            rows.received,
            rows.generated,
            highest,
            rank_bucket,
            bucket,
            legs,
            best,
            gen,
            unit,
            n_above,
            gen_unit,
            payee,
            amount,
            gen_payee,
            gen_level,
            gen_amount,
        )
        if trace >= 0:
            traced = trace_stairstep(
                network.parent,
                network.child_start,
                np.ascontiguousarray(volumes.personal[p]),
                rank_bucket,
                bucket_ppm,
                config.personal_rebate,
                config.breakaway_bucket(),
                generation_ppm,
                trace,
            )
            record(rows, p, traced)
        # Differential pay: level null; generation overrides: level = the generation. Rows by payee.
        rows.add(p, -1, payee[:count][::-1], amount[:count][::-1])
        generation = gen_level[:gen_count][::-1]
        for g in range(n_gen):
            mine = generation == g
            rows.add(p, g + 1, gen_payee[:gen_count][::-1][mine], gen_amount[:gen_count][::-1][mine])
    names = pl.Enum([r.name for r in config.ranks])
    ranked = pl.Series(f"rank_{config.label}", [r.name for r in config.ranks], dtype=names)
    reached = highest.astype(np.int64) - 1  # the rank index, -1: none
    column = ranked.gather(pl.Series(np.maximum(reached, 0))).set(pl.Series(reached < 0), None)
    return rows.result(config.label, {column.name: column})
