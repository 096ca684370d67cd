"""Caps: exact pro-rata scaling (ORACLES.md example), per-participant ceilings, end-to-end invariants."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
from hypothesis import given
from hypothesis import strategies as st

import mlmroi
from mlmroi.plans.base import ComponentResult
from mlmroi.plans.caps import CapsConfig, apply_caps
from tests.runjson import run_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def rows(payee: list[int], period: list[int], amount: list[int], n: int = 10) -> ComponentResult:
    return ComponentResult(
        component="unilevel",
        payee=np.array(payee, dtype=np.int64),
        period=np.array(period, dtype=np.int32),
        level=np.ones(len(payee), dtype=np.int16),
        amount=np.array(amount, dtype=np.int64),
        received_exact=np.zeros(n, dtype=np.int64),
        generated_exact=np.zeros(n, dtype=np.int64),
    )


def test_payout_ratio_cap_oracle() -> None:
    # ORACLES.md, Compensation plans, Payout-ratio cap (constructed): max_payout_ratio 0.40, period volume
    # 1,000.00, payouts 166.67 + 166.67 + 166.66 = 500.00 -> 400.00 exactly: 133.34, 133.33, 133.33.
    result = rows([0, 1, 2], [0, 0, 0], [16667, 16667, 16666], n=3)
    capped = apply_caps([result], np.array([100_000]), np.arange(3), CapsConfig(max_payout_ratio=0.40), 2)[0]
    assert capped.amount.tolist() == [13334, 13333, 13333]
    assert capped.attribution_scale == 0.8


def test_per_participant_cap_then_ratio() -> None:
    result = rows([0, 0, 1, 1, 2], [0, 0, 0, 1, 1], [3000, 2001, 500, 9000, 100])
    caps = CapsConfig(cap_per_participant_period=40.0)  # 40.00 per payee and period
    capped = apply_caps([result], np.array([10**9, 10**9]), np.arange(10), caps, 2)[0]
    assert capped.amount.tolist() == [2400, 1600, 500, 4000, 100]  # 5001 -> 4000 pro rata; 9000 -> 4000


def test_ties_go_to_the_earlier_participant_by_id() -> None:
    result = rows([5, 3, 4], [0, 0, 0], [100, 100, 100])
    rank = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    capped = apply_caps([result], np.array([500]), rank, CapsConfig(max_payout_ratio=0.40), 2)[0]
    assert dict(zip(capped.payee.tolist(), capped.amount.tolist(), strict=True)) == {3: 67, 4: 67, 5: 66}


@given(
    amounts=st.lists(st.integers(-500, 100_000), min_size=1, max_size=30),
    ratio=st.integers(1, 100),
    volume=st.integers(0, 2_000_000),
)
def test_ratio_cap_is_exact_and_never_raises_a_payout(amounts: list[int], ratio: int, volume: int) -> None:
    n = len(amounts)
    result = rows(list(range(n)), [0] * n, amounts, n=n)
    capped = apply_caps(
        [result], np.array([volume]), np.arange(n), CapsConfig(max_payout_ratio=ratio / 100), 2
    )[0]
    before = dict(zip(result.payee.tolist(), result.amount.tolist(), strict=True))
    after = dict(zip(capped.payee.tolist(), capped.amount.tolist(), strict=True))
    ceiling = volume * ratio // 100  # rounded down: the ratio is never passed
    for payee, amount in before.items():
        assert (after.get(payee, 0) <= amount) if amount > 0 else after.get(payee, 0) == amount
    if sum(before.values()) > ceiling:
        negatives = sum(a for a in before.values() if a < 0)
        assert sum(after.values()) == max(ceiling, negatives)
    else:
        assert after == {k: v for k, v in before.items() if v}


def test_caps_end_to_end_on_the_sample() -> None:
    data = mlmroi.load_config(dataset=SAMPLE).model_dump()
    uncapped = mlmroi.score(SAMPLE, mlmroi.config.parse_config(data))
    data["plan"]["caps"] = {"max_payout_ratio": 0.12, "cap_per_participant_period": 500.0}
    config = mlmroi.config.parse_config(data)
    result = mlmroi.score(SAMPLE, config)
    c = result.commissions
    by_period = c.group_by("period", "participant_id").agg(pl.col("amount").sum())
    assert by_period["amount"].max() <= Decimal("500.00")
    assert run_json(result)["totals"]["payout_ratio"] <= 0.12
    assert Decimal(run_json(result)["totals"]["commissions"]) < Decimal(
        run_json(uncapped)["totals"]["commissions"]
    )
    p = result.participants
    assert p["commissions"].sum() == c["amount"].sum()
    roots = p.filter(pl.col("sponsor_id").is_null())
    assert roots["branch_commissions"].sum() == p["commissions"].sum()  # exact at the roots
    before = dict(
        uncapped.participants.filter(pl.col("sponsor_id").is_null())
        .select("participant_id", "branch_commissions")
        .iter_rows()
    )
    for root, branch in roots.select("participant_id", "branch_commissions").iter_rows():
        assert branch <= before[root]


def test_ratio_cap_rounds_its_target_down() -> None:
    """0.333 × 100.03 = 33.30999: the cap pays 33.30, never a cent over the ratio."""
    result = rows([0, 1], [0, 0], [2000, 2000], n=2)
    capped = apply_caps([result], np.array([10_003]), np.arange(2), CapsConfig(max_payout_ratio=0.333), 2)[0]
    assert int(capped.amount.sum()) == 3330
