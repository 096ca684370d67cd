"""Unilevel: the ORACLES golden example, the naive twin on tiny and random forests, and plan invariants."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmroi.economics import branch_commissions
from mlmroi.network import Network, from_edges
from mlmroi.plans.base import ComponentResult, PeriodVolumes
from mlmroi.plans.unilevel import UnilevelConfig, unilevel
from tests import naive
from tests.test_network import random_forests

SCALE = 100  # volumes in cents


@dataclass
class Run:
    """A kernel run with its outputs translated back to original ids."""

    net: Network
    sponsor: dict[Any, Any]
    personal: dict[Any, list[int]]
    result: ComponentResult
    rows: dict[tuple[Any, int, int], int]
    received_exact: dict[Any, int]
    generated_exact: dict[Any, int]
    received: np.ndarray  # rounded Σ per node

    def totals(self) -> dict[Any, int]:
        out: dict[Any, int] = defaultdict(int)
        for (payee, _, _), amount in self.rows.items():
            out[payee] += amount
        return dict(out)


def run(
    pids: list[Any],
    sids: list[Any],
    personal: dict[Any, list[int]],
    levels: list[float],
    active_min_pv: float,
    compression: str,
    unlock: list[int] | None = None,
    net: Network | None = None,
) -> Run:
    net = net if net is not None else from_edges(pids, sids)
    ids = net.ids.to_list()
    n_periods = len(personal[ids[0]])
    matrix = np.array([personal[v] for v in ids], dtype=np.int64).reshape(len(ids), n_periods).T.copy()
    labels = tuple(f"2025-{p + 1:02d}" for p in range(n_periods))
    config = UnilevelConfig(
        levels=levels, active_min_pv=active_min_pv, compression=compression, unlock=unlock
    )
    result = unilevel(net, PeriodVolumes(matrix, labels), config, SCALE)
    m = len(result.amount)
    assert result.payee.shape == result.period.shape == result.level.shape == (m,)
    assert np.all(result.amount != 0)
    rows = naive.rows_by_id(
        (ids[int(result.payee[r])], result.period[r], result.level[r], result.amount[r]) for r in range(m)
    )
    received = np.zeros(len(ids), dtype=np.int64)
    np.add.at(received, result.payee, result.amount)
    return Run(
        net=net,
        sponsor=naive.forest(pids, sids),
        personal=personal,
        result=result,
        rows=rows,
        received_exact={v: int(x) for v, x in zip(ids, result.received_exact, strict=True) if x != 0},
        generated_exact={v: int(x) for v, x in zip(ids, result.generated_exact, strict=True) if x != 0},
        received=received,
    )


def nonzero(d: dict[Any, int]) -> dict[Any, int]:
    return {k: v for k, v in d.items() if v != 0}


def assert_matches_naive(r: Run, levels: list[float], min_pv: float, compression: str, unlock: Any) -> Any:
    twin = naive.unilevel(r.sponsor, r.personal, levels, min_pv, compression, unlock, SCALE)
    assert r.rows == twin.rows
    assert r.received_exact == nonzero(twin.received_exact)
    assert r.generated_exact == nonzero(twin.generated_exact)
    return twin


# ----------------------------------------------------------------------------------------------------------
# Golden: ORACLES.md, Compensation plans, Unilevel
# ----------------------------------------------------------------------------------------------------------

# ORACLES.md, Compensation plans, Unilevel: A root; B under A; C and F under B; D under C; E under D.
GOLDEN_PIDS = ["A", "B", "C", "D", "E", "F"]
GOLDEN_SIDS = [None, "A", "B", "C", "D", "B"]
# PV A 150, B 100, C 0, D 200, E 100, F 50 (x 100 = cents); levels [0.10, 0.05, 0.02]; active_min_pv 100.
GOLDEN_PV = {"A": [15000], "B": [10000], "C": [0], "D": [20000], "E": [10000], "F": [5000]}
GOLDEN_LEVELS = [0.10, 0.05, 0.02]


@pytest.fixture(scope="module")
def golden_net() -> Network:
    return from_edges(GOLDEN_PIDS, GOLDEN_SIDS)


def test_golden_none(golden_net: Network) -> None:
    # ORACLES.md, Compensation plans, Unilevel, compression "none":
    # D 10.00, B 17.00, A 16.50, everyone else 0 (C's 20.00 + 5.00 are breakage).
    r = run(GOLDEN_PIDS, GOLDEN_SIDS, GOLDEN_PV, GOLDEN_LEVELS, 100, "none", net=golden_net)
    assert r.totals() == {"D": 1000, "B": 1700, "A": 1650}
    assert r.rows == {
        ("A", 0, 1): 1000,  # B 100 x 10%
        ("A", 0, 2): 250,  # F 50 x 5%
        ("A", 0, 3): 400,  # D 200 x 2%
        ("B", 0, 1): 500,  # F 50 x 10%
        ("B", 0, 2): 1000,  # D 200 x 5%
        ("B", 0, 3): 200,  # E 100 x 2%
        ("D", 0, 1): 1000,  # E 100 x 10%
    }
    twin = assert_matches_naive(r, GOLDEN_LEVELS, 100, "none", None)
    # C's shares are the breakage: 200 at level 1 (from D) and 100 at level 2 (from E), i.e. 20.00 + 5.00.
    assert dict(twin.breakage) == {(0, 1): 20000, (0, 2): 10000}
    assert sum(r.result.amount) == 1000 + 1700 + 1650


def test_golden_dynamic(golden_net: Network) -> None:
    # ORACLES.md, Compensation plans, Unilevel, compression "dynamic": D 10.00, B 30.00, A 24.50.
    r = run(GOLDEN_PIDS, GOLDEN_SIDS, GOLDEN_PV, GOLDEN_LEVELS, 100, "dynamic", net=golden_net)
    assert r.totals() == {"D": 1000, "B": 3000, "A": 2450}
    assert r.rows == {
        ("A", 0, 1): 1000,  # B 100 x 10%
        ("A", 0, 2): 1250,  # (F 50 + D 200) x 5%
        ("A", 0, 3): 200,  # E 100 x 2%
        ("B", 0, 1): 2500,  # (F 50 + D 200) x 10%
        ("B", 0, 2): 500,  # E 100 x 5%
        ("D", 0, 1): 1000,  # E 100 x 10%
    }
    twin = assert_matches_naive(r, GOLDEN_LEVELS, 100, "dynamic", None)
    assert dict(twin.breakage) == {}


@pytest.mark.parametrize("compression", ["none", "dynamic"])
def test_golden_branch_commissions(golden_net: Network, compression: str) -> None:
    r = run(GOLDEN_PIDS, GOLDEN_SIDS, GOLDEN_PV, GOLDEN_LEVELS, 100, compression, net=golden_net)
    branch = branch_commissions(r.net, [r.result], r.received)
    ids = r.net.ids.to_list()
    twin = naive.unilevel(r.sponsor, r.personal, GOLDEN_LEVELS, 100, compression, None, SCALE)
    assert dict(zip(ids, branch.tolist(), strict=True)) == naive.branch_commissions(r.sponsor, twin)
    assert int(branch[ids.index("A")]) == sum(r.totals().values())


# ----------------------------------------------------------------------------------------------------------
# Unlock
# ----------------------------------------------------------------------------------------------------------

# A root with frontline B (active) and X; B with frontline C and Y (both active); D under C.
UNLOCK_PIDS = ["A", "B", "X", "C", "Y", "D"]
UNLOCK_SIDS = [None, "A", "A", "B", "B", "C"]
UNLOCK_LEVELS = [0.10, 0.05]


@pytest.mark.parametrize("compression", ["none", "dynamic"])
def test_unlock_locks_level_two(compression: str) -> None:
    pv = {"A": [10000], "B": [10000], "X": [5000], "C": [10000], "Y": [10000], "D": [10000]}
    # unlock [1, 2]: level 2 needs 2 active frontline. A has 1 (X is inactive) -> C's and Y's level-2 shares
    # (5.00 each) are lost; B has 2 (C, Y) -> B takes D's level 2.
    r = run(UNLOCK_PIDS, UNLOCK_SIDS, pv, UNLOCK_LEVELS, 100, compression, unlock=[1, 2])
    assert r.rows == {
        ("A", 0, 1): 1500,  # (B 100 + X 50) x 10%
        ("B", 0, 1): 2000,  # (C 100 + Y 100) x 10%
        ("B", 0, 2): 500,  # D 100 x 5%
        ("C", 0, 1): 1000,  # D 100 x 10%
    }
    twin = assert_matches_naive(r, UNLOCK_LEVELS, 100, compression, [1, 2])
    assert dict(twin.breakage) == {(0, 2): 20000}
    # Without the requirement A is paid level 2 too.
    free = run(UNLOCK_PIDS, UNLOCK_SIDS, pv, UNLOCK_LEVELS, 100, compression)
    assert free.totals() == {"A": 2500, "B": 2500, "C": 1000}
    # X turning active unlocks A's level 2 (and adds X to A's level 1).
    pv["X"] = [10000]
    more = run(UNLOCK_PIDS, UNLOCK_SIDS, pv, UNLOCK_LEVELS, 100, compression, unlock=[1, 2])
    assert more.totals() == {"A": 3000, "B": 2500, "C": 1000}
    assert_matches_naive(more, UNLOCK_LEVELS, 100, compression, [1, 2])


def test_unlock_level_one_blocks_leaf_payee() -> None:
    # Chain A - B - C: B has one active frontline (C) but level 1 needs 2 -> B is unpaid on C's volume.
    pids, sids = ["A", "B", "C"], [None, "A", "B"]
    pv = {"A": [10000], "B": [10000], "C": [30000]}
    r = run(pids, sids, pv, [0.10, 0.05], 100, "none", unlock=[2, 0])
    assert r.rows == {("A", 0, 2): 1500}
    assert r.generated_exact == {"C": 30000 * 50_000}
    assert r.received_exact == {"A": 30000 * 50_000}
    d = run(pids, sids, pv, [0.10, 0.05], 100, "dynamic", unlock=[2, 0])
    assert d.rows == r.rows


# ----------------------------------------------------------------------------------------------------------
# Tiny hand-made trees against the twin
# ----------------------------------------------------------------------------------------------------------

TINY = {
    "single": (["r"], [None], {"r": [12345, -5]}),
    "chain": (
        [1, 2, 3, 4, 5],
        [None, 1, 2, 3, 4],
        {1: [10000, 0], 2: [0, 9999], 3: [15001, 15001], 4: [-2500, 3], 5: [33333, 10001]},
    ),
    "star": (
        ["hub", "s1", "s2", "s3"],
        [None, "hub", "hub", "hub"],
        {"hub": [10000, 100], "s1": [5, 15], "s2": [25, 35], "s3": [-45, 10000]},
    ),
    "forest": (
        [30, 10, 20, 11, 21, 22],
        [None, None, None, 10, 20, 21],
        {30: [1, 2], 10: [10000, 10000], 20: [0, 20000], 11: [7, 19999], 21: [10000, 0], 22: [250, -250]},
    ),
}


@pytest.mark.parametrize("name", sorted(TINY))
@pytest.mark.parametrize("compression", ["none", "dynamic"])
@pytest.mark.parametrize("unlock", [None, [0, 1, 1]])
def test_tiny_trees_match_naive(name: str, compression: str, unlock: list[int] | None) -> None:
    pids, sids, pv = TINY[name]
    levels = [0.5, 0.25, 0.0125]  # ties: 0.5 x odd cents, 0.25 x ...2 cents
    r = run(pids, sids, pv, levels, 100, compression, unlock=unlock)
    assert_matches_naive(r, levels, 100, compression, unlock)


def test_half_even_rounding_per_aggregate() -> None:
    # One payee, level rate 0.5: sources 1 + 2 cents -> 3 x 0.5 = 1.5 -> 2 (rounded once, not per source);
    # a lone 5 cents -> 2.5 -> 2 (half to even), 7 cents -> 3.5 -> 4.
    pids, sids = ["P", "a", "b"], [None, "P", "P"]
    r = run(pids, sids, {"P": [0, 0, 0], "a": [1, 5, 7], "b": [2, 0, 0]}, [0.5], 0, "none")
    assert r.rows == {("P", 0, 1): 2, ("P", 1, 1): 2, ("P", 2, 1): 4}
    assert r.received_exact == {"P": 15 * 500_000}
    assert r.generated_exact == {"a": 13 * 500_000, "b": 2 * 500_000}


def test_refunds_are_linear() -> None:
    pids, sids = ["P", "a"], [None, "P"]
    pos = run(pids, sids, {"P": [10000], "a": [12345]}, [0.1], 100, "none")
    neg = run(pids, sids, {"P": [10000], "a": [-12345]}, [0.1], 100, "none")
    assert pos.rows == {("P", 0, 1): 1234}  # 1234.5 -> 1234
    assert neg.rows == {("P", 0, 1): -1234}  # -1234.5 -> -1234
    assert neg.received_exact == {"P": -pos.received_exact["P"]}


# ----------------------------------------------------------------------------------------------------------
# Random forests x volumes x plans
# ----------------------------------------------------------------------------------------------------------

RATE = st.one_of(st.integers(0, 10_000), st.sampled_from([5_000, 2_500, 1_250, 500, 10_000, 1]))
VOLUME = st.one_of(
    st.just(0), st.integers(1, 40_000), st.sampled_from([10_000, 9_999, 5, 15, 25]), st.integers(-5_000, -1)
)


@st.composite
def plans(draw: st.DrawFn) -> dict[str, Any]:
    pids, sids = draw(random_forests(max_size=14))
    n_periods = draw(st.integers(1, 3))
    personal = {v: draw(st.lists(VOLUME, min_size=n_periods, max_size=n_periods)) for v in pids}
    levels = [k / 10_000 for k in draw(st.lists(RATE, min_size=1, max_size=5))]
    unlock = draw(st.none() | st.lists(st.integers(0, 3), min_size=len(levels), max_size=len(levels)))
    return {
        "pids": pids,
        "sids": sids,
        "personal": personal,
        "levels": levels,
        "active_min_pv": draw(st.sampled_from([0, 0.01, 50, 100, 123.45])),
        "compression": draw(st.sampled_from(["none", "dynamic"])),
        "unlock": unlock,
    }


def run_plan(plan: dict[str, Any], **override: Any) -> Run:
    p = {**plan, **override}
    return run(
        p["pids"], p["sids"], p["personal"], p["levels"], p["active_min_pv"], p["compression"], p["unlock"]
    )


@given(plans())
def test_random_plans_match_naive(plan: dict[str, Any]) -> None:
    r = run_plan(plan)
    twin = assert_matches_naive(r, plan["levels"], plan["active_min_pv"], plan["compression"], plan["unlock"])
    # Σ amounts by payee = per-participant totals.
    assert r.totals() == nonzero(twin.totals())
    ids = r.net.ids.to_list()
    assert nonzero(dict(zip(ids, r.received.tolist(), strict=True))) == nonzero(r.totals())
    # Exact attribution balances within each tree (payees and sources share a root).
    root = r.net.root_of
    for t in r.net.roots:
        in_tree = root == t
        assert int(r.result.received_exact[in_tree].sum()) == int(r.result.generated_exact[in_tree].sum())


@given(plans())
def test_random_plans_payees_are_ancestors_of_sources(plan: dict[str, Any]) -> None:
    r = run_plan(plan)
    sponsor = r.sponsor
    for (payee, period, level), _ in r.rows.items():
        sources = [s for s in sponsor if r.personal[s][period] != 0 and payee in naive.ancestors(sponsor, s)]
        assert sources, f"{payee} paid at level {level} in period {period} without a source below it"
        distances = {naive.ancestors(sponsor, s).index(payee) + 1 for s in sources}
        if plan["compression"] == "none":
            assert level in distances  # the level is the tree distance
        else:
            assert max(distances) >= level  # compression only pulls volume up: level <= distance
        # The payee qualified: active in the period.
        assert r.personal[payee][period] >= round(plan["active_min_pv"] * SCALE)


@given(plans())
def test_random_plans_volume_is_conserved(plan: dict[str, Any]) -> None:
    # With every rate = 1.0 each row's amount is the paid level volume itself.
    unit = [1.0] * len(plan["levels"])
    r = run_plan(plan, levels=unit)
    twin = assert_matches_naive(r, unit, plan["active_min_pv"], plan["compression"], plan["unlock"])
    n_periods = len(next(iter(plan["personal"].values())))
    for p in range(n_periods):
        paid = sum(a for (_, period, _), a in r.rows.items() if period == p)
        lost = sum(v for (period, _), v in twin.breakage.items() if period == p)
        assert paid + lost == twin.reach[p]
        # Reach computed independently: volume x levels with a candidate payee above the source.
        threshold = round(plan["active_min_pv"] * SCALE)
        expected = 0
        for s, chain in ((s, naive.ancestors(r.sponsor, s)) for s in r.sponsor):
            if plan["compression"] == "dynamic":
                chain = [a for a in chain if plan["personal"][a][p] >= threshold]
            expected += plan["personal"][s][p] * min(len(chain), len(unit))
        assert paid + lost == expected
    if plan["compression"] == "dynamic" and plan["unlock"] is None:
        assert dict(twin.breakage) == {}


@given(plans())
def test_all_active_dynamic_equals_none(plan: dict[str, Any]) -> None:
    everyone = {v: [abs(x) + 100_000 for x in vs] for v, vs in plan["personal"].items()}
    none = run_plan(plan, personal=everyone, compression="none", unlock=None)
    dynamic = run_plan(plan, personal=everyone, compression="dynamic", unlock=None)
    assert none.rows == dynamic.rows
    assert none.received_exact == dynamic.received_exact
    assert none.generated_exact == dynamic.generated_exact


@given(plans())
def test_branch_commissions_reconcile(plan: dict[str, Any]) -> None:
    r = run_plan(plan)
    twin = naive.unilevel(
        r.sponsor,
        r.personal,
        plan["levels"],
        plan["active_min_pv"],
        plan["compression"],
        plan["unlock"],
        SCALE,
    )
    branch = branch_commissions(r.net, [r.result], r.received)
    ids = r.net.ids.to_list()
    assert dict(zip(ids, branch.tolist(), strict=True)) == naive.branch_commissions(r.sponsor, twin)
    root = r.net.root_of
    for t in r.net.roots:
        assert int(branch[t]) == int(r.received[root == t].sum())
