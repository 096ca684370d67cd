"""Binary: ORACLES.md examples, placement rejects, and a naive recursive twin on random placement trees."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlmroi
from mlmroi.errors import ConfigError
from mlmroi.network import Network, from_edges, with_placement
from mlmroi.plans.base import PeriodVolumes
from mlmroi.plans.binary import BinaryConfig, binary, binary_ledger
from tests.helpers import write_dataset
from tests.runjson import run_json

binary_module = importlib.import_module("mlmroi.plans.binary")  # the package re-exports the function


def two_legs(left: float, right: float, periods: int = 1) -> tuple[Network, PeriodVolumes]:
    """X with A on its left leg (PV ``left``) and B on its right (PV ``right``), every period."""
    net = with_placement(from_edges(["X", "A", "B"], [None, "X", "X"]), {"A": ("X", "L"), "B": ("X", "R")})
    pv = {"X": 0, "A": left, "B": right}
    personal = np.array([[round(pv[v] * 100) for v in net.ids.to_list()]] * periods, dtype=np.int64)
    return net, PeriodVolumes(personal, tuple(f"2025-{m + 1:02d}" for m in range(periods)))


def paid(net: Network, volumes: PeriodVolumes, **config: object) -> dict[tuple[str, int], float]:
    result = binary(net, volumes, BinaryConfig(**config), 100)  # type: ignore[arg-type]
    ids = net.ids.to_list()
    assert result.received_exact.sum() == result.generated_exact.sum()
    return {
        (ids[v], int(p)): a / 100
        for v, p, a in zip(result.payee.tolist(), result.period.tolist(), result.amount.tolist(), strict=True)
    }


def carry(net: Network, volumes: PeriodVolumes, **config: object) -> dict[str, tuple[float, float]]:
    ledger = binary_ledger(net, volumes, BinaryConfig(**config), 100)  # type: ignore[arg-type]
    return {v: (ledger.carry[i, 0] / 100, ledger.carry[i, 1] / 100) for i, v in enumerate(net.ids.to_list())}


def test_genelet_unit_pairs_and_carry() -> None:
    # ORACLES.md, Binary, genelet/mlm README: unit 200, rate 0.1; legs 500 / 400 -> 2 units -> 40.00, carry 100 / 0.
    net, volumes = two_legs(500, 400)
    assert paid(net, volumes, unit=200, rate=0.1) == {("X", 0): 40.0}
    assert carry(net, volumes, unit=200, rate=0.1)["X"] == (100.0, 0.0)


def test_genelet_cap_per_period() -> None:
    # Same legs, cap 30 -> 30.00 (the paired volume is used up all the same).
    net, volumes = two_legs(500, 400)
    assert paid(net, volumes, unit=200, rate=0.1, cap_per_period=30) == {("X", 0): 30.0}
    assert carry(net, volumes, unit=200, rate=0.1, cap_per_period=30)["X"] == (100.0, 0.0)


def test_genelet_ratio_two_to_one() -> None:
    # Ratio 2:1: legs 1,000 / 400 pair 800 : 400, carry 200 : 0 (pay on the weak leg's 400).
    net, volumes = two_legs(1000, 400)
    ledger = binary_ledger(net, volumes, BinaryConfig(unit=200, rate=0.1, ratio="2:1"), 100)
    x = net.ids.to_list().index("X")
    assert ledger.paired[x] == 120_000
    assert carry(net, volumes, unit=200, rate=0.1, ratio="2:1")["X"] == (200.0, 0.0)
    assert paid(net, volumes, unit=200, rate=0.1, ratio="2:1") == {("X", 0): 40.0}
    # The stronger leg takes the 2 side whichever leg it is.
    net, volumes = two_legs(400, 1000)
    assert carry(net, volumes, unit=200, rate=0.1, ratio="2:1")["X"] == (0.0, 200.0)


def test_panda_weak_leg_remainder_kept_or_flushed() -> None:
    # ORACLES.md, Binary, Panda MLM README: legs 250 / 120, pair size 100 -> 1 pair, carry 150 and 20.
    net, volumes = two_legs(250, 120)
    assert paid(net, volumes, unit=100, pair_amount=10) == {("X", 0): 10.0}
    assert carry(net, volumes, unit=100, pair_amount=10)["X"] == (150.0, 20.0)
    assert carry(net, volumes, unit=100, pair_amount=10, flush_weak=True)["X"] == (150.0, 0.0)


def test_flush_weak_keeps_a_refund_debt() -> None:
    """docs/plans.md: a negative carry is made up by later volume before anything pairs, flush or not.
    January: left -50 (a refund), nothing pairs; February +100 on each leg -> 50 pairs, 5.00, carry 0 / 50."""
    net = with_placement(from_edges(["X", "A", "B"], [None, "X", "X"]), {"A": ("X", "L"), "B": ("X", "R")})
    pv = {"X": [0, 0], "A": [-50, 100], "B": [0, 100]}
    personal = np.array([[pv[v][p] * 100 for v in net.ids.to_list()] for p in range(2)], dtype=np.int64)
    volumes = PeriodVolumes(personal, ("2025-01", "2025-02"))
    for flush in (False, True):
        assert paid(net, volumes, rate=0.1, flush_weak=flush) == {("X", 1): 5.0}
        assert carry(net, volumes, rate=0.1, flush_weak=flush)["X"] == (0.0, 50.0)


def test_mylistbuilders_ten_percent() -> None:
    # ORACLES.md, Binary, mylistbuilders.com, 10% of the weak leg. Every member has 100 PV; B's right leg
    # holds two members (200), so B's legs are 100 / 200 and C's 100 / 100; A above both sees 400 / 300.
    sponsor = {"A": None, "B": "A", "C": "A", "B1": "B", "B2": "B", "B3": "B2", "C1": "C", "C2": "C"}
    net = from_edges(list(sponsor), list(sponsor.values()))
    net = with_placement(
        net,
        {
            "B": ("A", "L"),
            "C": ("A", "R"),
            "B1": ("B", "L"),
            "B2": ("B", "R"),
            "B3": ("B2", "L"),
            "C1": ("C", "L"),
            "C2": ("C", "R"),
        },
    )
    personal = np.array([[0 if v == "A" else 10_000 for v in net.ids.to_list()]], dtype=np.int64)
    volumes = PeriodVolumes(personal, ("2025-01",))
    assert paid(net, volumes, rate=0.1) == {("B", 0): 10.0, ("C", 0): 10.0, ("A", 0): 30.0}
    carried = carry(net, volumes, rate=0.1)
    assert carried["B"] == (0.0, 100.0)
    assert carried["C"] == (0.0, 0.0)


def test_carry_across_periods_and_max_carry() -> None:
    # Two periods of 500 / 100: period 1 pairs 100 (carry 400 / 0), period 2 sees 900 / 100.
    net, volumes = two_legs(500, 100, periods=2)
    assert paid(net, volumes, rate=0.1) == {("X", 0): 10.0, ("X", 1): 10.0}
    assert carry(net, volumes, rate=0.1)["X"] == (800.0, 0.0)
    ledger = binary_ledger(net, volumes, BinaryConfig(rate=0.1, max_carry=300), 100)
    x = net.ids.to_list().index("X")
    assert (ledger.carry[x] / 100).tolist() == [300.0, 0.0]
    assert ledger.flushed[x] == 100 * 100 + 400 * 100  # 400 -> 300; then 300 + 500 - 100 paired = 700 -> 300


def test_qualification_active_and_sponsored_legs() -> None:
    # X sponsors A (left) but not B: B is sponsored by A and placed on X's right.
    net = from_edges(["X", "A", "B"], [None, "X", "A"])
    net = with_placement(net, {"A": ("X", "L"), "B": ("X", "R")})
    ids = net.ids.to_list()
    pv = {"X": 100, "A": 300, "B": 300}
    volumes = PeriodVolumes(np.array([[pv[v] * 100 for v in ids]], dtype=np.int64), ("2025-01",))
    assert paid(net, volumes, rate=0.1, active_min_pv=100) == {("X", 0): 30.0}
    assert paid(net, volumes, rate=0.1, active_min_pv=200) == {}  # X is not active
    assert (
        paid(net, volumes, rate=0.1, active_min_pv=100, sponsored_legs=True) == {}
    )  # no recruit on the right
    assert carry(net, volumes, rate=0.1, active_min_pv=200)["X"] == (300.0, 300.0)  # unqualified: all kept


def test_config_needs_exactly_one_way_to_pay() -> None:
    with pytest.raises(ValueError, match="exactly one of rate"):
        BinaryConfig(unit=100)
    with pytest.raises(ValueError, match="exactly one of rate"):
        BinaryConfig(rate=0.1, pair_amount=5)


# --- the naive twin: legs by recursion over dicts, one period at a time -------------------------------


def naive_binary(
    parent: list[int], leg: list[int], pv: list[list[int]], config: dict[str, int | bool]
) -> tuple[dict[tuple[int, int], int], list[tuple[int, int]], list[int]]:
    """Pay (minor × 10⁶) per (node, period), carry at the end, and the flushed volume, node by node."""
    n = len(parent)
    kids: dict[int, dict[int, int]] = {v: {} for v in range(n)}
    for v in range(n):
        if parent[v] >= 0:
            kids[parent[v]][leg[v]] = v

    def subtree(v: int, period: int) -> int:
        return pv[period][v] + sum(subtree(c, period) for c in kids[v].values())

    unit, strong_units, rate = int(config["unit"]), 2 if config["two_to_one"] else 1, int(config["rate"])
    cap, max_carry = int(config["cap"]), int(config["max_carry"])
    carried = [[0, 0] for _ in range(n)]
    flushed = [0] * n
    pay: dict[tuple[int, int], int] = {}
    for period in range(len(pv)):
        for v in range(n):
            legs = [carried[v][k] + (subtree(kids[v][k], period) if k in kids[v] else 0) for k in (0, 1)]
            if pv[period][v] >= int(config["min_pv"]):
                strong = 0 if legs[0] >= legs[1] else 1
                weak = 1 - strong
                pairs = max(0, min(legs[strong] // (strong_units * unit), legs[weak] // unit))
                legs[strong] -= pairs * strong_units * unit
                legs[weak] -= pairs * unit
                if pairs:
                    amount = pairs * unit * rate
                    pay[(v, period)] = min(amount, cap) if cap >= 0 else amount
                if config["flush_weak"] and legs[weak] > 0:  # a refund debt is not flushed
                    flushed[v] += legs[weak]
                    legs[weak] = 0
            for k in (0, 1):
                if max_carry >= 0 and legs[k] > max_carry:
                    flushed[v] += legs[k] - max_carry
                    legs[k] = max_carry
            carried[v] = legs
    return pay, [(a, b) for a, b in carried], flushed


@st.composite
def placement_trees(draw: st.DrawFn) -> tuple[list[int], list[int], list[list[int]]]:
    """A random binary placement forest (node i's parent < i) and PV over 1-3 periods."""
    n = draw(st.integers(1, 14))
    parent, leg, free = [-1], [-1], {(0, 0), (0, 1)}
    for v in range(1, n):
        slot = draw(st.sampled_from(sorted(free)) | st.none())
        if slot is None:
            parent.append(-1)
            leg.append(-1)
        else:
            free.discard(slot)
            parent.append(slot[0])
            leg.append(slot[1])
        free |= {(v, 0), (v, 1)}
    periods = draw(st.integers(1, 3))
    pv = [draw(st.lists(st.sampled_from([0, 5_000, 10_000, 20_000, 35_000, -5_000]), min_size=n, max_size=n))]
    pv += [draw(st.lists(st.integers(-2_000, 40_000), min_size=n, max_size=n)) for _ in range(periods - 1)]
    return parent, leg, pv


@given(
    placement_trees(),
    st.sampled_from([100, 5_000, 10_000]),
    st.booleans(),
    st.booleans(),
    st.sampled_from([-1, 0, 15_000]),
    st.sampled_from([-1, 50_000]),
    st.sampled_from([0, 10_000]),
)
def test_binary_matches_naive_twin(
    tree: tuple[list[int], list[int], list[list[int]]],
    unit: int,
    two_to_one: bool,
    flush_weak: bool,
    max_carry: int,
    cap: int,
    min_pv: int,
) -> None:
    parent, leg, pv = tree
    n = len(parent)
    ids = [f"p{v:02d}" for v in range(n)]
    sponsors = [None if parent[v] < 0 else ids[parent[v]] for v in range(n)]  # sponsor tree = placement
    net = from_edges(ids, sponsors)
    net = with_placement(net, {ids[v]: (ids[parent[v]], "LR"[leg[v]]) for v in range(n) if parent[v] >= 0})
    node = [net.ids.to_list().index(i) for i in ids]
    personal = np.zeros((len(pv), n), dtype=np.int64)
    for p, row in enumerate(pv):
        personal[p, node] = row
    config = BinaryConfig(
        rate=0.1,
        unit=unit / 100,
        ratio="2:1" if two_to_one else "1:1",
        flush_weak=flush_weak,
        max_carry=None if max_carry < 0 else max_carry / 100,
        cap_per_period=None if cap < 0 else cap / 100,
        active_min_pv=min_pv / 100,
    )
    volumes = PeriodVolumes(personal, tuple(f"2025-{p + 1:02d}" for p in range(len(pv))))
    ledger = binary_ledger(net, volumes, config, 100)
    twin = {"unit": unit, "two_to_one": two_to_one, "rate": 100_000, "cap": cap * 10**6 if cap >= 0 else -1}
    twin |= {"max_carry": max_carry, "flush_weak": flush_weak, "min_pv": min_pv}
    pay, carried, flushed = naive_binary(parent, leg, pv, twin)
    got = {(v, p): int(ledger.pay_exact[p, node[v]]) for v in range(n) for p in range(len(pv))}
    assert {k: a for k, a in got.items() if a} == {k: a for k, a in pay.items() if a}
    assert [tuple(ledger.carry[node[v]].tolist()) for v in range(n)] == carried
    assert [int(ledger.flushed[node[v]]) for v in range(n)] == flushed
    # The volume ledger: in = paired + flushed + carried, for every participant.
    assert (ledger.volume_in == ledger.paired + ledger.flushed + ledger.carry.sum(axis=1)).all()
    result = binary(net, volumes, config, 100)
    assert result.received_exact.sum() == result.generated_exact.sum()
    assert set(result.payee.tolist()) <= set(range(n))


@pytest.mark.parametrize("sponsored_legs", [False, True])
def test_periods_paired_per_pass_do_not_change_the_ledger(
    monkeypatch: pytest.MonkeyPatch, sponsored_legs: bool
) -> None:
    """Carry flows across the passes over the tree: 1 period per pass, 12 (the default: 14 periods are two
    passes) or all 14 at once give the same ledger."""
    rng = np.random.default_rng(7)
    n, periods = 60, 14
    sponsor = [None] + [f"p{int(rng.integers(0, v)):02d}" for v in range(1, n)]
    ids = [f"p{v:02d}" for v in range(n)]
    net = from_edges(ids, sponsor)
    free, placed = [("p00", "L"), ("p00", "R")], {}
    for v in ids[1:]:  # placed in a random free slot
        upline, side = free.pop(int(rng.integers(0, len(free))))
        placed[v] = (upline, side)
        free += [(v, "L"), (v, "R")]
    net = with_placement(net, placed)
    volumes = PeriodVolumes(
        rng.choice([0, 0, 4_000, 10_000, 30_000], size=(periods, n)).astype(np.int64),
        tuple(f"p{p}" for p in range(periods)),
    )
    config = BinaryConfig(
        rate=0.1, unit=50, max_carry=400, active_min_pv=40, sponsored_legs=sponsored_legs, flush_weak=True
    )
    ledgers = []
    for per_pass in (1, 12, 14):
        monkeypatch.setattr(binary_module, "PERIODS_PER_PASS", per_pass)
        ledgers.append(binary_ledger(net, volumes, config, 100))
    assert ledgers[0].pay_exact.any()
    for other in ledgers[1:]:
        for name in ("volume_in", "paired", "flushed", "carry", "pay_node", "pay_period", "pay_amount"):
            assert np.array_equal(getattr(other, name), getattr(ledgers[0], name)), name


# --- the data contract: placement columns and their rejects ------------------------------------------

BINARY_PLAN = """
[window]
start = 2025-01-01
end = 2025-01-31
[[plan.components]]
type = "binary"
unit = 100
rate = 0.1
"""
ORDERS = """
participant_id,ordered_on,amount
A,2025-01-05,100
B,2025-01-05,300
C,2025-01-05,200
"""


def run(folder: Path) -> mlmroi.Result:
    return mlmroi.score(folder, mlmroi.load_config(dataset=folder))


def reasons(result: mlmroi.Result) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    frame = result.rejects.filter(pl.col("table") == "participants")
    for row, reason in frame.select("row", "reason").iter_rows():
        out.setdefault(row, []).append(reason)
    return out


def test_binary_end_to_end_with_carry_columns(tmp_path: Path) -> None:
    people = """
participant_id,sponsor_id,joined_on,placement_id,placement_leg
A,,2024-01-01,,
B,A,2024-01-02,A,L
C,A,2024-01-03,A,R
"""
    result = run(write_dataset(tmp_path, people, ORDERS, config=BINARY_PLAN))
    rows = {r["participant_id"]: r for r in result.participants.to_dicts()}
    assert float(rows["A"]["commissions_binary"]) == 20.0  # weak leg 200 x 10%
    assert float(rows["A"]["binary_carry_left"]) == 100.0
    assert float(rows["A"]["branch_commissions"]) == 20.0
    assert result.commissions["level"].null_count() == result.commissions.height


def test_placement_rejects_name_their_reason(tmp_path: Path) -> None:
    people = """
participant_id,sponsor_id,joined_on,placement_id,placement_leg
A,,2024-01-01,,
B,A,2024-01-05,A,L
C,A,2024-01-02,A,L
D,A,2024-01-03,Z,R
E,A,2024-01-03,A,X
F,A,2024-01-03,A,
G,A,2024-01-04,D,L
H,D,2024-01-04,A,R
I,A,2024-01-04,I,R
"""
    result = run(write_dataset(tmp_path, people, ORDERS, config=BINARY_PLAN))
    assert reasons(result) == {
        2: ["leg L of A is already taken by C (who joined first)"],
        4: ["placement parent Z does not exist"],
        5: ["bad placement_leg (expected L or R)"],
        6: ["missing placement_leg (placement_id is given)"],
        7: ["placement chain broken: G → D reaches rejected participant D (row 4)"],
        8: ["sponsor chain broken: H → D reaches rejected participant D (row 4)"],
        9: ["self-placement (placement_id equals participant_id)"],
    }
    assert sorted(result.participants["participant_id"].to_list()) == ["A", "C"]
    for rows in run_json(result)["rows"].values():
        assert rows["in"] == rows["used"] + rows["rejected"]


def test_leg_claims_go_to_the_earlier_joiner_then_the_smaller_id(tmp_path: Path) -> None:
    """Three claims on each leg, leg spellings as people type them (case, blanks, words)."""
    people = """
participant_id,sponsor_id,joined_on,placement_id,placement_leg
A,,2024-01-01,,
C,A,2024-01-02,A, left
B,A,2024-01-02,A,L
F,A,2024-01-01,A,l
D,A,2024-01-03,A,Right
E,A,2024-01-02,A,r
G,A,2024-01-04,A,RIGHT
"""
    result = run(write_dataset(tmp_path, people, ORDERS, config=BINARY_PLAN))
    assert reasons(result) == {
        2: ["leg L of A is already taken by F (who joined first)"],
        3: ["leg L of A is already taken by F (who joined first)"],
        5: ["leg R of A is already taken by E (who joined first)"],
        7: ["leg R of A is already taken by E (who joined first)"],
    }
    assert sorted(result.participants["participant_id"].to_list()) == ["A", "E", "F"]


def test_leg_claim_tie_on_the_join_day_goes_to_the_smaller_id(tmp_path: Path) -> None:
    people = """
participant_id,sponsor_id,joined_on,placement_id,placement_leg
A,,2024-01-01,,
C,A,2024-01-02,A,L
B,A,2024-01-02,A,L
"""
    result = run(write_dataset(tmp_path, people, ORDERS, config=BINARY_PLAN))
    assert reasons(result) == {2: ["leg L of A is already taken by B (same join day, smaller id)"]}


def test_placement_cycle_is_rejected(tmp_path: Path) -> None:
    people = """
participant_id,sponsor_id,joined_on,placement_id,placement_leg
A,,2024-01-01,,
B,A,2024-01-02,C,L
C,A,2024-01-03,B,L
"""
    result = run(write_dataset(tmp_path, people, ORDERS, config=BINARY_PLAN))
    assert reasons(result) == {2: ["placement cycle: B → C → B"], 3: ["placement cycle: C → B → C"]}


def test_binary_without_placement_tree_is_a_config_error(tmp_path: Path) -> None:
    people = "participant_id,sponsor_id,joined_on\nA,,2024-01-01\nB,A,2024-01-02\nC,A,2024-01-03\n"
    folder = write_dataset(tmp_path, people, ORDERS, config=BINARY_PLAN)
    with pytest.raises(
        ConfigError, match=r"plan.components\[0\]: a binary component needs the placement tree"
    ):
        run(folder)


def test_placement_is_checked_only_for_plans_that_use_it(tmp_path: Path) -> None:
    people = """
participant_id,sponsor_id,joined_on,placement_id,placement_leg
A,,2024-01-01,,
B,A,2024-01-05,A,L
C,A,2024-01-02,A,L
"""
    unilevel = BINARY_PLAN.replace(
        'type = "binary"\nunit = 100\nrate = 0.1', 'type = "unilevel"\nlevels = [0.1]'
    )
    result = run(write_dataset(tmp_path, people, ORDERS, config=unilevel))
    assert result.rejects.height == 0  # placement columns are plain attributes here
    assert result.participants.height == 3
