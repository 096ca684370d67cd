"""Stairstep: ORACLES.md examples, public examples, and a naive walk-to-the-root twin on random forests."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlmroi
from mlmroi.economics import branch_commissions
from mlmroi.network import from_edges
from mlmroi.plans.base import PeriodVolumes
from mlmroi.plans.stairstep import StairstepConfig, stairstep
from tests.helpers import write_dataset

GV_RANKS = [
    {"name": "member", "rate": 0.0},
    {"name": "bronze", "rate": 0.05, "min_gv": 500},
    {"name": "silver", "rate": 0.10, "min_gv": 1000},
    {"name": "gold", "rate": 0.15, "min_gv": 2000},
]


def pay(
    sponsor: dict[str, str | None], pv: dict[str, float], ranks: list[dict[str, object]], rebate: bool
) -> dict[str, float]:
    net = from_edges(list(sponsor), list(sponsor.values()))
    ids = net.ids.to_list()
    personal = np.array([[round(pv[v] * 100) for v in ids]], dtype=np.int64)
    result = stairstep(
        net, PeriodVolumes(personal, ("2025-01",)), StairstepConfig(ranks=ranks, personal_rebate=rebate), 100
    )
    out = {v: 0.0 for v in ids}
    for payee, amount in zip(result.payee.tolist(), result.amount.tolist(), strict=True):
        out[ids[payee]] += amount / 100
    assert result.received_exact.sum() == result.generated_exact.sum()
    return out


@pytest.mark.parametrize(
    ("rebate", "expected"),
    [
        # ORACLES.md, Compensation plans, Stairstep (constructed): A root; B and D under A; C under B.
        (True, {"A": 200.0, "B": 70.0, "C": 30.0, "D": 0.0}),
        (False, {"A": 120.0, "B": 60.0, "C": 0.0, "D": 0.0}),
    ],
)
def test_stairstep_oracle(rebate: bool, expected: dict[str, float]) -> None:
    sponsor = {"A": None, "B": "A", "C": "B", "D": "A"}
    pv = {"A": 800, "B": 400, "C": 600, "D": 200}
    assert pay(sponsor, pv, GV_RANKS, rebate) == expected


def test_be_infinity_breakaway_example_3() -> None:
    # ORACLES.md, Be-Infinity unilevel-breakaway example 3 (personal_rebate = false): the payee at 12%;
    # User4 at 4% stands between the payee and User5 -> User5's 1,200 pays (12 - 4)% = 96; User6 (10%) is
    # the source of 4,800 and not "between" -> 12% = 576. (Plus 12% of User4's own 100 = 12.)
    ranks = [
        {"name": "r4", "rate": 0.04, "min_pv": 100},
        {"name": "r10", "rate": 0.10, "min_pv": 4000},
        {"name": "r12", "rate": 0.12, "min_pv": 10000},
    ]
    sponsor = {"payee": None, "user4": "payee", "user5": "user4", "user6": "payee"}
    pv = {"payee": 10000, "user4": 100, "user5": 1200, "user6": 4800}
    assert pay(sponsor, pv, ranks, rebate=False)["payee"] == pytest.approx(96 + 576 + 12)


def test_life_leadership_faq() -> None:
    # ORACLES.md, Life Leadership FAQ: own PV 1,500 at 15%; a downline team of 1,000 PV whose leader is at
    # 12% -> differential 3% x 1,000 = 30 (plus 15% x 1,500 = 225 on own PV with the personal rebate).
    ranks = [{"name": "r12", "rate": 0.12, "min_pv": 1000}, {"name": "r15", "rate": 0.15, "min_pv": 1500}]
    out = pay({"me": None, "leader": "me"}, {"me": 1500, "leader": 1000}, ranks, rebate=True)
    assert out["me"] == pytest.approx(225 + 30)
    assert out["leader"] == pytest.approx(120)


@pytest.mark.parametrize(("downline_rank", "expected"), [(1, 10.0), (2, 5.0), (3, 0.0)])
def test_networkmarketingwhy_each_rank_adds_five_percent(downline_rank: int, expected: float) -> None:
    # ORACLES.md, networkmarketingwhy.com: each rank adds 5%; at rank 3 (15%) you earn 10% on a rank-1
    # downline, 5% once it reaches rank 2, 0 once it reaches rank 3 (per 100 of the downline's volume).
    ranks = [{"name": f"rank{k}", "rate": 0.05 * k, "min_pv": 100 * k} for k in (1, 2, 3)]
    # The downline's own rank stands between (personal_rebate = true); "me" also earns 15% on own PV 300.
    out = pay({"me": None, "down": "me"}, {"me": 300, "down": 100 * downline_rank}, ranks, rebate=True)
    assert out["me"] == pytest.approx(45 + expected * downline_rank)


def naive_stairstep(
    sponsor: dict[str, str | None], pv: dict[str, int], rates: list[int], mins: list[int], rebate: bool
) -> dict[str, int]:
    """Walk from every source to the root, tracking the highest rate between; round once per payee."""
    children: dict[str, list[str]] = {v: [] for v in sponsor}
    for v, s in sponsor.items():
        if s is not None:
            children[s].append(v)

    def gv(v: str) -> int:
        return pv[v] + sum(gv(c) for c in children[v])

    rate = {}
    for v in sponsor:
        met = [r for r, m in zip(rates, mins, strict=True) if gv(v) >= m]
        rate[v] = max(met, default=0)
    owed: dict[str, Decimal] = {v: Decimal(0) for v in sponsor}
    for source in sponsor:
        between = rate[source] if rebate else 0
        if rebate:
            owed[source] += Decimal(rate[source]) * pv[source]
        payee = sponsor[source]
        while payee is not None:
            owed[payee] += Decimal(max(0, rate[payee] - between)) * pv[source]
            between = max(between, rate[payee])
            payee = sponsor[payee]
    return {v: int((x / 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) for v, x in owed.items()}


@given(
    parents=st.lists(st.integers(0, 1000), min_size=1, max_size=30),
    pv=st.lists(st.integers(0, 50_000), min_size=31, max_size=31),
    steps=st.lists(st.tuples(st.integers(1, 300), st.integers(0, 2_000_000)), min_size=1, max_size=4),
    rebate=st.booleans(),
)
def test_stairstep_matches_naive_twin(
    parents: list[int], pv: list[int], steps: list[tuple[int, int]], rebate: bool
) -> None:
    ids = [f"n{i}" for i in range(len(parents) + 1)]
    sponsor: dict[str, str | None] = {ids[0]: None}
    for i, r in enumerate(parents, start=1):
        sponsor[ids[i]] = ids[r % i] if r % 5 else None
    rates, mins, rate, floor = [], [], 0, 0
    for add_rate, add_min in steps:  # rising rates and rising GV thresholds
        rate += add_rate * 100
        floor += add_min
        rates.append(rate)
        mins.append(floor)
    pv_by = {v: pv[i] for i, v in enumerate(ids)}
    net = from_edges(ids, [sponsor[v] for v in ids])
    order = net.ids.to_list()
    personal = np.array([[pv_by[v] for v in order]], dtype=np.int64)
    ranks = [
        {"name": f"r{k}", "rate": r / 1_000_000, "min_gv": m / 100}
        for k, (r, m) in enumerate(zip(rates, mins, strict=True))
    ]
    result = stairstep(
        net, PeriodVolumes(personal, ("2025-01",)), StairstepConfig(ranks=ranks, personal_rebate=rebate), 100
    )
    got = {v: 0 for v in ids}
    for payee, amount in zip(result.payee.tolist(), result.amount.tolist(), strict=True):
        got[order[payee]] += amount
    assert got == naive_stairstep(sponsor, pv_by, rates, mins, rebate)
    # Pay on any source never exceeds the top rate x its volume; branch figures reconcile at the roots.
    assert result.received_exact.sum() <= rates[-1] * personal.sum()
    received = np.zeros(len(ids), dtype=np.int64)
    np.add.at(received, result.payee, result.amount)
    branch = branch_commissions(net, [result], received)
    for root in net.roots:
        in_tree = net.root_of == root
        assert branch[root] == received[in_tree].sum()


def test_stairstep_end_to_end(tmp_path: Path) -> None:
    people = (
        "participant_id,sponsor_id,joined_on\nA,,2024-01-01\nB,A,2024-01-01\nC,B,2024-01-01\nD,A,2024-01-01\n"
    )
    orders = "participant_id,ordered_on,amount\nA,2025-01-05,800\nB,2025-01-05,400\nC,2025-01-05,600\nD,2025-01-05,200\n"
    ranks = "".join(
        f'[[plan.components.ranks]]\nname = "{r["name"]}"\nrate = {r["rate"]}\nmin_gv = {r.get("min_gv", 0)}\n'
        for r in GV_RANKS
    )
    config = (
        '[window]\nstart = 2025-01-01\nend = 2025-01-31\n[[plan.components]]\ntype = "stairstep"\n' + ranks
    )
    folder = write_dataset(tmp_path, people, orders, config=config)
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    paid = dict(result.participants.select("participant_id", "commissions_stairstep").iter_rows())
    assert paid == {
        "A": Decimal("200.00"),
        "B": Decimal("70.00"),
        "C": Decimal("30.00"),
        "D": Decimal("0.00"),
    }
    assert result.commissions["level"].null_count() == result.commissions.height


LEG_RANKS = [
    {"name": "member", "rate": 0.0},
    {"name": "bronze", "rate": 0.05, "min_pv": 100},
    {"name": "silver", "rate": 0.10, "min_pv": 100, "min_legs": 2},  # two legs with a bronze or above
]


def test_qualified_legs_decide_the_rank() -> None:
    # S has three legs: X (whose recruit x1 is bronze), Y (bronze) and Z (nobody ranked).
    sponsor = {"S": None, "X": "S", "x1": "X", "Y": "S", "Z": "S"}
    pv = {"S": 1000, "X": 0, "x1": 100, "Y": 100, "Z": 50}
    # S is silver (two qualified legs, X's and Y's): 10% of x1's 100 (X, between, is unranked), of Y's 100
    # (the source is not "between" without the rebate) and of Z's 50 -> 25.00.
    assert pay(sponsor, pv, LEG_RANKS, rebate=False)["S"] == pytest.approx(25.0)
    # With Y below bronze only X's leg qualifies: S is bronze, 5% of 100 + 50 + 50 -> 10.00.
    assert pay(sponsor, {**pv, "Y": 50}, LEG_RANKS, rebate=False)["S"] == pytest.approx(10.0)


def naive_ranks_with_legs(
    sponsor: dict[str, str | None], pv: dict[str, int], ranks: list[dict[str, object]]
) -> dict[str, int]:
    """Bucket (rank index + 1, 0 = none) per participant, legs counted by walking each subtree."""
    children: dict[str, list[str]] = {v: [] for v in sponsor}
    for v, s in sponsor.items():
        if s is not None:
            children[s].append(v)
    memo: dict[str, int] = {}

    def subtree(v: str) -> list[str]:
        return [v, *[w for c in children[v] for w in subtree(c)]]

    def bucket(v: str) -> int:
        if v not in memo:
            gv = sum(pv[w] for w in subtree(v))
            b = 0
            for k, r in enumerate(ranks):
                need = k if k else 1
                legs = sum(1 for c in children[v] if max(bucket(w) for w in subtree(c)) >= need)
                if (
                    pv[v] >= round(float(r.get("min_pv", 0)) * 100)
                    and gv >= round(float(r.get("min_gv", 0)) * 100)
                    and legs >= int(r.get("min_legs", 0))
                ):
                    b = k + 1
            memo[v] = b
        return memo[v]

    return {v: bucket(v) for v in sponsor}


@given(
    parents=st.lists(st.integers(0, 1000), min_size=1, max_size=20),
    pv=st.lists(st.sampled_from([0, 5_000, 10_000, 20_000]), min_size=21, max_size=21),
    legs=st.lists(st.integers(0, 3), min_size=2, max_size=2),
)
def test_leg_qualification_matches_naive_twin(parents: list[int], pv: list[int], legs: list[int]) -> None:
    ids = [f"n{i}" for i in range(len(parents) + 1)]
    sponsor: dict[str, str | None] = {ids[0]: None}
    for i, r in enumerate(parents, start=1):
        sponsor[ids[i]] = ids[r % i] if r % 5 else None
    ranks: list[dict[str, object]] = [
        {"name": "a", "rate": 0.02, "min_pv": 50},
        {"name": "b", "rate": 0.05, "min_pv": 100, "min_legs": legs[0]},
        {"name": "c", "rate": 0.09, "min_pv": 100, "min_gv": 300, "min_legs": legs[1]},
    ]
    pv_by = {v: pv[i] for i, v in enumerate(ids)}
    expected_bucket = naive_ranks_with_legs(sponsor, pv_by, ranks)
    rates = {0: 0, 1: 20_000, 2: 50_000, 3: 90_000}
    # Pay follows from the ranks: compare with the naive walk, fed the naive ranks as single-threshold ranks.
    owed: dict[str, Decimal] = {v: Decimal(0) for v in ids}
    for source in ids:
        between = rates[expected_bucket[source]]
        owed[source] += Decimal(between) * pv_by[source]
        payee = sponsor[source]
        while payee is not None:
            owed[payee] += Decimal(max(0, rates[expected_bucket[payee]] - between)) * pv_by[source]
            between = max(between, rates[expected_bucket[payee]])
            payee = sponsor[payee]
    want = {v: int((x / 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) for v, x in owed.items()}
    net = from_edges(ids, [sponsor[v] for v in ids])
    order = net.ids.to_list()
    personal = np.array([[pv_by[v] for v in order]], dtype=np.int64)
    result = stairstep(net, PeriodVolumes(personal, ("2025-01",)), StairstepConfig(ranks=ranks), 100)
    got = {v: 0 for v in ids}
    for payee, amount in zip(result.payee.tolist(), result.amount.tolist(), strict=True):
        got[order[payee]] += amount
    assert got == want


def test_leg_rank_must_be_listed_before() -> None:
    with pytest.raises(ValueError, match="leg_rank 'gold' is not a rank listed before it"):
        StairstepConfig(ranks=[{"name": "a", "rate": 0.1, "min_legs": 1, "leg_rank": "gold"}])


BREAKAWAY = {
    "ranks": [
        {"name": "member", "rate": 0.0},
        {"name": "manager", "rate": 0.05, "min_gv": 500},
        {"name": "director", "rate": 0.10, "min_gv": 1000},
    ],
    "breakaway_rank": "director",
    "generation_rates": [0.04, 0.02],
}


def run_breakaway(sponsor: dict[str, str | None], pv: dict[str, int]) -> dict[tuple[str, int], int]:
    net = from_edges(list(sponsor), list(sponsor.values()))
    ids = net.ids.to_list()
    personal = np.array([[pv[v] * 100 for v in ids]], dtype=np.int64)
    result = stairstep(net, PeriodVolumes(personal, ("2025-01",)), StairstepConfig(**BREAKAWAY), 100)
    assert result.received_exact.sum() == result.generated_exact.sum()
    out: dict[tuple[str, int], int] = {}
    for payee, level, amount in zip(
        result.payee.tolist(), result.level.tolist(), result.amount.tolist(), strict=True
    ):
        out[(ids[payee], level)] = out.get((ids[payee], level), 0) + amount
    return out


def test_breakaway_and_generations() -> None:
    # T -> A -> B -> C -> D. D (GV 1,200) and B (1,000 own + C's 100) are directors and break away; A keeps
    # only its own 200 (member); T has 1,000 + A's 200 = 1,200 (director).
    # D: 10% of own 1,200 = 120. B: 10% of 1,000 + 10% of C's 100 = 110, plus generation 1 (4%) on D's
    # group 1,200 = 48. T: 10% of 1,000 + 10% of A's 200 = 120, generation 1 on B's group 1,100 = 44 and
    # generation 2 (2%) on D's group 1,200 = 24. A and C earn nothing.
    sponsor = {"T": None, "A": "T", "B": "A", "C": "B", "D": "C"}
    pv = {"T": 1000, "A": 200, "B": 1000, "C": 100, "D": 1200}
    assert run_breakaway(sponsor, pv) == {
        ("D", -1): 12000,
        ("B", -1): 11000,
        ("B", 1): 4800,
        ("T", -1): 12000,
        ("T", 1): 4400,
        ("T", 2): 2400,
    }


def naive_breakaway(sponsor: dict[str, str | None], pv: dict[str, int]) -> dict[tuple[str, int], int]:
    """Ranks with breakaway groups leaving the upline's GV, then a walk per source (rebate convention)."""
    ranks = BREAKAWAY["ranks"]
    rates = [0] + [round(float(r["rate"]) * 1_000_000) for r in ranks]  # type: ignore[index]
    mins = [0] + [round(float(r.get("min_gv", 0)) * 100) for r in ranks]  # type: ignore[union-attr]
    gen_rates = [round(r * 1_000_000) for r in BREAKAWAY["generation_rates"]]  # type: ignore[union-attr]
    children: dict[str, list[str]] = {v: [] for v in sponsor}
    for v, s in sponsor.items():
        if s is not None:
            children[s].append(v)
    bucket: dict[str, int] = {}
    group: dict[str, int] = {}

    def rank(v: str) -> None:
        for c in children[v]:
            rank(c)
        gv = pv[v] * 100 + sum(group[c] for c in children[v] if bucket[c] < 3)
        group[v] = gv
        bucket[v] = max(k for k in range(len(mins)) if gv >= mins[k])

    for root in [v for v, s in sponsor.items() if s is None]:
        rank(root)
    owed: dict[tuple[str, int], Decimal] = {}
    for source in sponsor:
        v = pv[source] * 100
        between = rates[bucket[source]]
        owed[(source, -1)] = owed.get((source, -1), Decimal(0)) + between * v
        payee = sponsor[source] if bucket[source] < 3 else None
        while payee is not None:
            owed[(payee, -1)] = owed.get((payee, -1), Decimal(0)) + max(0, rates[bucket[payee]] - between) * v
            between = max(between, rates[bucket[payee]])
            payee = sponsor[payee] if bucket[payee] < 3 else None
        leader = source
        while leader is not None and bucket[leader] < 3:
            leader = sponsor[leader]
        if leader is None:
            continue
        g, above = 0, sponsor[leader]
        while above is not None and g < len(gen_rates):
            if bucket[above] >= 3:
                owed[(above, g + 1)] = owed.get((above, g + 1), Decimal(0)) + gen_rates[g] * v
                g += 1
            above = sponsor[above]
    out = {k: int((x / 1_000_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) for k, x in owed.items()}
    return {k: x for k, x in out.items() if x}


@given(
    parents=st.lists(st.integers(0, 1000), min_size=1, max_size=25),
    pv=st.lists(st.sampled_from([0, 100, 300, 600, 1200]), min_size=26, max_size=26),
)
def test_breakaway_matches_naive_twin(parents: list[int], pv: list[int]) -> None:
    ids = [f"n{i}" for i in range(len(parents) + 1)]
    sponsor: dict[str, str | None] = {ids[0]: None}
    for i, r in enumerate(parents, start=1):
        sponsor[ids[i]] = ids[r % i] if r % 6 else None
    pv_by = {v: pv[i] for i, v in enumerate(ids)}
    assert run_breakaway(sponsor, pv_by) == naive_breakaway(sponsor, pv_by)


def test_highest_rank_is_an_output_column() -> None:
    # Two periods: C reaches silver (GV 1,000) in the first only, A gold in the second only.
    net = from_edges(["A", "B", "C"], [None, "A", "B"])
    ids = net.ids.to_list()
    pv = {"A": (0, 1500), "B": (0, 0), "C": (1000, 500)}
    personal = np.array([[pv[v][p] * 100 for v in ids] for p in range(2)], dtype=np.int64)
    result = stairstep(
        net, PeriodVolumes(personal, ("2025-01", "2025-02")), StairstepConfig(ranks=GV_RANKS[1:]), 100
    )
    column = result.columns["rank_stairstep"]
    assert dict(zip(ids, column.cast(str).to_list(), strict=True)) == {
        "A": "gold",
        "B": "silver",
        "C": "silver",
    }
    quiet = stairstep(
        net, PeriodVolumes(personal * 0, ("2025-01", "2025-02")), StairstepConfig(ranks=GV_RANKS[1:]), 100
    )
    assert quiet.columns["rank_stairstep"].null_count() == 3
