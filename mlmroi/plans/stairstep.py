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
from mlmroi.money import RATE_SCALE, divide_half_even, rate_ppm
from mlmroi.network import Network
from mlmroi.plans.base import ComponentModel, ComponentResult, PeriodVolumes, RowCollector, check_rates


class RankConfig(BaseModel):
    """One rank of a stairstep: reached in a period with PV ≥ ``min_pv``, GV ≥ ``min_gv`` and at least
    ``min_legs`` qualified legs — frontline legs that contain someone at ``leg_rank`` or above (default: the
    rank listed just before this one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    rate: float = Field(ge=0.0, le=1.0)
    min_pv: float = Field(default=0.0, ge=0.0)
    min_gv: float = Field(default=0.0, ge=0.0)
    min_legs: int = Field(default=0, ge=0)
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
    pv,
    min_pv,
    min_gv,
    min_legs,
    leg_bucket,
    bucket_ppm,
    rebate,
    received,
    generated,
    bucket,
    unit,
    legs,
    breakaway_at,
    generation_ppm,
    gen,
):
    """One period. Returns each node's differential pay and its generation pay per generation (minor units
    × 10⁶), and its rank (-1: none).

    Buckets: 0 = nobody between (rate 0), k + 1 = rank k. A node at bucket ``breakaway_at`` or above breaks
    away: its group volume leaves its upline's GV and its volume stops paying differential above it;
    instead, breakaway uplines earn ``generation_ppm[g]`` of the group volume of breakaway leaders g + 1
    generations below them (``gen[i, g]``). Adds exact attribution into received/generated.
    """
    n = parent.shape[0]
    n_ranks = min_pv.shape[0]
    n_buckets = n_ranks + 1
    bucket[:] = 0  # buffers reused across periods (unit is fully overwritten below)
    legs[:] = 0  # legs[i, r]: frontline legs of i containing someone at bucket r or above
    gv = pv.copy()
    best = np.zeros(n, dtype=np.int64)  # highest bucket in each subtree
    rank_bucket = np.zeros(n, dtype=np.int64)
    pay = np.zeros(n, dtype=np.int64)
    n_gen = generation_ppm.shape[0]
    gen[:] = 0
    gen_pay = np.zeros((n, n_gen), dtype=np.int64)
    for i in range(n - 1, -1, -1):
        b = 0
        for k in range(n_ranks):
            if pv[i] >= min_pv[k] and gv[i] >= min_gv[k] and legs[i, leg_bucket[k]] >= min_legs[k]:
                b = k + 1
        rank_bucket[i] = b
        if b > best[i]:
            best[i] = b
        own = bucket_ppm[b]
        earned = own * pv[i] if rebate else 0
        for r in range(b):
            earned += (own - bucket_ppm[r]) * bucket[i, r]
        pay[i] = earned
        received[i] += earned
        breakaway = b >= breakaway_at
        if breakaway:
            for g in range(n_gen):
                gen_pay[i, g] = generation_ppm[g] * gen[i, g]
                received[i] += gen_pay[i, g]
        p = parent[i]
        if p >= 0:
            for r in range(1, best[i] + 1):
                legs[p, r] += 1
            if best[i] > best[p]:
                best[p] = best[i]
            if breakaway:  # the group leaves the upline: generation 1 for the next breakaway above
                if n_gen > 0:
                    gen[p, 0] += gv[i]
                for g in range(1, n_gen):
                    gen[p, g] += gen[i, g - 1]
            else:
                gv[p] += gv[i]
                for g in range(n_gen):
                    gen[p, g] += gen[i, g]
                for r in range(n_buckets):
                    bucket[p, r if r > b else b] += bucket[i, r]
                bucket[p, b if rebate else 0] += pv[i]
    # Top-down: unit[i, r] = what one unit arriving at i with bucket r pays to i and every upline of i.
    # Generation pay per unit of a breakaway leader's group volume: its breakaway ancestors, in order.
    leader = np.full(n, -1, dtype=np.int64)  # the breakaway leader whose group a node's volume belongs to
    n_above = np.zeros(n, dtype=np.int64)  # breakaway proper ancestors (capped at the generations paid)
    unit_gen = np.zeros(n, dtype=np.int64)
    for i in range(n):
        p = parent[i]
        b = rank_bucket[i]
        breakaway = b >= breakaway_at
        for r in range(n_buckets):
            diff = bucket_ppm[b] - bucket_ppm[r]
            above = 0
            if p >= 0 and not breakaway:
                above = unit[p, r if r > b else b]
            unit[i, r] = (diff if diff > 0 else 0) + above
        if p >= 0:
            n_above[i] = n_above[p] + (1 if rank_bucket[p] >= breakaway_at else 0)
            if n_above[i] > n_gen:
                n_above[i] = n_gen
        leader[i] = i if breakaway else (leader[p] if p >= 0 else -1)
        if breakaway:
            for g in range(n_above[i]):
                unit_gen[i] += generation_ppm[g]
    for s in range(n):
        v = pv[s]
        if v == 0:
            continue
        b = rank_bucket[s]
        own = bucket_ppm[b] * v if rebate else 0
        p = parent[s]
        up = 0
        if p >= 0 and b < breakaway_at:
            up = unit[p, b if rebate else 0] * v
        generations = unit_gen[leader[s]] * v if leader[s] >= 0 else 0
        generated[s] += own + up + generations
    return pay, gen_pay, rank_bucket - 1


def stairstep(
    network: Network, volumes: PeriodVolumes, config: StairstepConfig, volume_scale: int
) -> ComponentResult:
    """Run a stairstep component over every period; one row per payee × period (level null)."""
    n_periods, n = volumes.personal.shape
    min_pv = np.array([round(r.min_pv * volume_scale) for r in config.ranks], dtype=np.int64)
    min_gv = np.array([round(r.min_gv * volume_scale) for r in config.ranks], dtype=np.int64)
    bucket_ppm = np.array([0, *[rate_ppm(r.rate) for r in config.ranks]], dtype=np.int64)
    rows = RowCollector(n)
    bucket = np.empty((n, bucket_ppm.shape[0]), dtype=np.int64)
    unit = np.empty((n, bucket_ppm.shape[0]), dtype=np.int64)
    legs = np.empty((n, bucket_ppm.shape[0]), dtype=np.int32)
    generation_ppm = np.array([rate_ppm(r) for r in config.generation_rates], dtype=np.int64)
    gen = np.empty((n, generation_ppm.shape[0]), dtype=np.int64)
    min_legs = np.array([r.min_legs for r in config.ranks], dtype=np.int64)
    leg_bucket = np.array(config.leg_buckets(), dtype=np.int64)
    best = np.full(n, -1, dtype=np.int64)  # highest rank reached in the window
    for p in range(n_periods):
        pv = np.ascontiguousarray(volumes.personal[p])
        pay, gen_pay, rank = _stairstep_period(
            network.parent,
            pv,
            min_pv,
            min_gv,
            min_legs,
            leg_bucket,
            bucket_ppm,
            config.personal_rebate,
            rows.received,
            rows.generated,
            bucket,
            unit,
            legs,
            config.breakaway_bucket(),
            generation_ppm,
            gen,
        )
        # Differential pay: level null; generation overrides: level = the generation.
        for level, owed in ((-1, pay), *((g + 1, gen_pay[:, g]) for g in range(gen_pay.shape[1]))):
            payee = np.flatnonzero(owed)
            rows.add(p, level, payee, divide_half_even(owed[payee], RATE_SCALE))
        np.maximum(best, rank, out=best)
    names = pl.Enum([r.name for r in config.ranks])
    highest = pl.Series(f"rank_{config.label}", [r.name for r in config.ranks], dtype=names)
    column = highest.gather(pl.Series(np.maximum(best, 0))).set(pl.Series(best < 0), None)
    return rows.result(config.label, {column.name: column})
