"""The network rules the participants loader applies, tested directly on hand-built code arrays (no CSV).

:mod:`mlmroi.network.build` (``reach``, ``reasons``, ``accepted_network``), :mod:`mlmroi.network.placement`
(``leg_holders``, ``placement_in_node_space``) and :mod:`mlmroi.network.ids` (``IdLookup``). Codes are
positions among the sorted ids, so every ``ids`` series below is given in ascending order.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmroi.network import Network
from mlmroi.network.build import Broken, ParentRelation, Reach, accepted_network, reach, reasons
from mlmroi.network.ids import REJECTED, IdLookup
from mlmroi.network.kernels import CHAIN_IN_CYCLE, CHAIN_REJECTED_ANCESTOR, CHAIN_UNDER_CYCLE
from mlmroi.network.placement import Placement, leg_holders, placement_in_node_space

L, R = 0, 1

# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------


def i64(values: list[int]) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def flags(values: list[bool] | list[int]) -> np.ndarray:
    return np.array(values, dtype=np.bool_)


def sponsor(parent: list[int]) -> ParentRelation:
    return ParentRelation("sponsor", "sponsor_id", i64(parent))


def placement(parent: list[int], leg: list[int], joined: list[int], ok: np.ndarray) -> ParentRelation:
    """A placement relation as the loader builds it: leg holders among the ok codes that claim a leg."""
    p, g = i64(parent), np.array(leg, dtype=np.int8)
    _, child = leg_holders(p, g, np.array(joined, dtype=np.int32), ok & (p >= 0))
    return ParentRelation("placement", "placement_id", p, g, child)


def reason_map(broken: Broken, ids: pl.Series, row_of_code: np.ndarray) -> dict[object, str]:
    """Each broken code's id -> its reason, with the blocker's row taken from ``row_of_code``."""
    codes = broken.codes
    blocker_row = row_of_code[np.maximum(broken.blockers[codes], 0)]
    texts = reasons(broken, ids, blocker_row)
    return dict(zip(ids.gather(codes).to_list(), texts, strict=True))


def check_network(network: Network, node_of_code: np.ndarray, ids: pl.Series, accepted: np.ndarray) -> None:
    """Breadth-first numbering, roots first in ascending id, ``node_of_code`` consistent with the ids."""
    n = network.size
    assert n == int(accepted.sum())
    child = np.flatnonzero(network.parent >= 0)
    assert (network.parent[child] < child).all()
    roots = network.roots
    assert (roots == np.arange(roots.size)).all()  # roots first
    root_ids = network.ids.gather(roots).to_list()
    assert root_ids == sorted(root_ids)
    assert (np.diff(network.depth) >= 0).all()  # breadth-first: depth never decreases
    assert (node_of_code[~accepted] == -1).all()
    codes = np.flatnonzero(accepted)
    assert sorted(node_of_code[codes].tolist()) == list(range(n))
    assert network.ids.gather(node_of_code[codes]).to_list() == ids.gather(codes).to_list()


# ----------------------------------------------------------------------------------------------------------
# One relation: forests, rejected ancestors, cycles
# ----------------------------------------------------------------------------------------------------------

# Two trees: 10 (codes 0) with 20, 60 below it and 50 below 20; 40 (code 3) with 30 below it.
FOREST_IDS = pl.Series("participant_id", [10, 20, 30, 40, 50, 60], dtype=pl.Int64)
FOREST_PARENT = [-1, 0, 3, -1, 1, 0]


def test_forest_all_ok_is_all_accepted() -> None:
    relations = [sponsor(FOREST_PARENT)]
    ok = np.ones(6, dtype=np.bool_)
    decided = reach(relations, ok)
    assert decided.accepted.all()
    assert decided.broken == []
    assert sorted(decided.orders[0].tolist()) == list(range(6))
    network, node_of_code = accepted_network(FOREST_IDS, relations, decided)
    check_network(network, node_of_code, FOREST_IDS, decided.accepted)
    assert network.ids.to_list() == [10, 40, 20, 60, 30, 50]
    assert network.parent.tolist() == [-1, -1, 0, 0, 1, 2]
    assert network.roots.tolist() == [0, 1]
    assert node_of_code.tolist() == [0, 2, 4, 1, 5, 3]
    # Sponsor links survive the relabelling.
    for code, parent in enumerate(FOREST_PARENT):
        node = node_of_code[code]
        assert network.parent[node] == (node_of_code[parent] if parent >= 0 else -1)


def test_parent_minus_one_is_a_root() -> None:
    """Orphans are decided by the loader (rejected, or given parent -1): a parent of -1 is a root."""
    ids = pl.Series("participant_id", ["a", "b", "c"])
    relations = [sponsor([-1, 0, -1])]  # c: an orphan the loader made a root
    decided = reach(relations, np.ones(3, dtype=np.bool_))
    assert decided.accepted.all()
    network, node_of_code = accepted_network(ids, relations, decided)
    assert network.parent[node_of_code[2]] == -1
    assert network.ids.gather(network.roots).to_list() == ["a", "c"]
    check_network(network, node_of_code, ids, decided.accepted)


def test_rejected_node_takes_its_subtree() -> None:
    # 10 ─ 20 ─ 50 ─ 70
    #    └ 60      └ 80
    # 40 ─ 30
    ids = pl.Series("participant_id", [10, 20, 30, 40, 50, 60, 70, 80], dtype=pl.Int64)
    parent = [-1, 0, 3, -1, 1, 0, 4, 4]
    ok = np.ones(8, dtype=np.bool_)
    ok[1] = False  # 20's row is bad
    relations = [sponsor(parent)]
    decided = reach(relations, ok)
    assert decided.accepted.tolist() == [True, False, True, True, False, True, False, False]
    [broken] = decided.broken
    assert broken.relation is relations[0]
    assert broken.codes.tolist() == [4, 6, 7]  # 20 itself is not a chain reject
    assert (broken.kinds[broken.codes] == CHAIN_REJECTED_ANCESTOR).all()
    assert (broken.blockers[broken.codes] == 1).all()
    assert broken.kinds[[0, 1, 2, 3, 5]].tolist() == [0, 0, 0, 0, 0]
    row_of_code = np.array([2, 7, 3, 4, 5, 6, 8, 9], dtype=np.int64)  # 20 is on input row 7
    assert reason_map(broken, ids, row_of_code) == {
        50: "sponsor chain broken: 50 → 20 reaches rejected participant 20 (row 7)",
        70: "sponsor chain broken: 70 → 50 → 20 reaches rejected participant 20 (row 7)",
        80: "sponsor chain broken: 80 → 50 → 20 reaches rejected participant 20 (row 7)",
    }
    network, node_of_code = accepted_network(ids, relations, decided)
    check_network(network, node_of_code, ids, decided.accepted)
    assert network.ids.to_list() == [10, 40, 60, 30]


def test_nearest_rejected_ancestor_blocks() -> None:
    """Two bad rows on one chain: each participant is blocked by the nearest one above it."""
    ids = pl.Series("participant_id", ["a", "b", "c", "d", "e"])
    parent = [-1, 0, 1, 2, 3]  # a ← b ← c ← d ← e
    ok = flags([1, 0, 1, 0, 1])
    decided = reach([sponsor(parent)], ok)
    assert decided.accepted.tolist() == [True, False, False, False, False]
    [broken] = decided.broken
    assert broken.codes.tolist() == [2, 4]
    assert broken.blockers[[2, 4]].tolist() == [1, 3]
    assert reason_map(broken, ids, np.arange(2, 7, dtype=np.int64)) == {
        "c": "sponsor chain broken: c → b reaches rejected participant b (row 3)",
        "e": "sponsor chain broken: e → d reaches rejected participant d (row 5)",
    }


def test_long_chain_is_shortened_in_reasons() -> None:
    ids = pl.Series("participant_id", list(range(100, 110)), dtype=pl.Int64)
    parent = [-1, *range(9)]  # 100 ← 101 ← … ← 109
    ok = np.ones(10, dtype=np.bool_)
    ok[0] = False
    decided = reach([sponsor(parent)], ok)
    [broken] = decided.broken
    texts = reason_map(broken, ids, np.full(10, 2, dtype=np.int64))
    assert (
        texts[109]
        == "sponsor chain broken: 109 → 108 → 107 → 106 → … → 101 → 100 reaches rejected participant 100 (row 2)"
    )
    assert (
        texts[104]
        == "sponsor chain broken: 104 → 103 → 102 → 101 → 100 reaches rejected participant 100 (row 2)"
    )


# a ⇄ b, x under a; c → d → e → c, f under e and g under f; h ← i a tree.
CYCLE_IDS = pl.Series("participant_id", ["a", "b", "c", "d", "e", "f", "g", "h", "i", "x"])
CYCLE_PARENT = [1, 0, 3, 4, 2, 4, 5, -1, 7, 0]


def test_cycles_and_chains_under_them() -> None:
    relations = [sponsor(CYCLE_PARENT)]
    decided = reach(relations, np.ones(10, dtype=np.bool_))
    assert decided.accepted.tolist() == [False] * 7 + [True, True, False]
    [broken] = decided.broken
    assert broken.codes.tolist() == [0, 1, 2, 3, 4, 5, 6, 9]
    kinds = broken.kinds.tolist()
    assert [kinds[c] for c in (0, 1, 2, 3, 4)] == [CHAIN_IN_CYCLE] * 5
    assert [kinds[c] for c in (5, 6, 9)] == [CHAIN_UNDER_CYCLE] * 3
    assert kinds[7] == kinds[8] == 0
    # The blocker is the smallest code on the cycle, not where the chain enters it (e).
    assert broken.blockers[[0, 1, 9]].tolist() == [0, 0, 0]
    assert broken.blockers[[2, 3, 4, 5, 6]].tolist() == [2, 2, 2, 2, 2]
    assert reason_map(broken, CYCLE_IDS, np.arange(2, 12, dtype=np.int64)) == {
        "a": "sponsor cycle: a → b → a",
        "b": "sponsor cycle: b → a → b",
        "c": "sponsor cycle: c → d → e → c",
        "d": "sponsor cycle: d → e → c → d",
        "e": "sponsor cycle: e → c → d → e",
        "f": "sponsor chain broken: f → e reaches sponsor cycle e → c → d → e",
        "g": "sponsor chain broken: g → f → e reaches sponsor cycle e → c → d → e",
        "x": "sponsor chain broken: x → a reaches sponsor cycle a → b → a",
    }
    network, node_of_code = accepted_network(CYCLE_IDS, relations, decided)
    check_network(network, node_of_code, CYCLE_IDS, decided.accepted)
    assert network.ids.to_list() == ["h", "i"]


def test_self_loop_is_a_one_cycle() -> None:
    decided = reach([sponsor([-1, 1, 1])], np.ones(3, dtype=np.bool_))
    assert decided.accepted.tolist() == [True, False, False]
    [broken] = decided.broken
    assert broken.kinds[[1, 2]].tolist() == [CHAIN_IN_CYCLE, CHAIN_UNDER_CYCLE]
    assert broken.blockers[[1, 2]].tolist() == [1, 1]


def test_bad_row_on_a_cycle_breaks_it_into_a_chain() -> None:
    """A cycle through a not-ok code is no cycle: the others are blocked by that code."""
    ids = pl.Series("participant_id", [1, 2, 3], dtype=pl.Int64)
    ok = flags([1, 0, 1])
    decided = reach([sponsor([1, 2, 0])], ok)  # 1 → 2 → 3 → 1
    [broken] = decided.broken
    assert broken.codes.tolist() == [0, 2]
    assert (broken.kinds[[0, 2]] == CHAIN_REJECTED_ANCESTOR).all()
    assert (broken.blockers[[0, 2]] == 1).all()
    assert reason_map(broken, ids, i64([2, 3, 4])) == {
        1: "sponsor chain broken: 1 → 2 reaches rejected participant 2 (row 3)",
        3: "sponsor chain broken: 3 → 1 → 2 reaches rejected participant 2 (row 3)",
    }


def test_nothing_ok_nothing_broken() -> None:
    decided = reach([sponsor([-1, 0, 1])], np.zeros(3, dtype=np.bool_))
    assert not decided.accepted.any()
    assert decided.broken == []


# ----------------------------------------------------------------------------------------------------------
# Two relations: a placement reject cascades down the sponsor tree in the next round
# ----------------------------------------------------------------------------------------------------------

# Codes (ids a..f):        sponsor parent   placement parent, leg
#   0 a  root               -1               -1
#   1 b                     a                a L
#   2 c                     a                f L   (f's row is bad: c's placement chain is broken)
#   3 d                     c                b L   (placement fine; sponsor chain through c)
#   4 e                     d                b R
#   5 f  bad row            a                a R
TWO_IDS = pl.Series("participant_id", ["a", "b", "c", "d", "e", "f"])
TWO_SPONSOR = [-1, 0, 0, 2, 3, 0]
TWO_PLACEMENT = [-1, 0, 5, 1, 1, 0]
TWO_LEG = [-1, L, L, L, R, R]
TWO_JOINED = [0, 1, 2, 3, 4, 5]


def two_relations() -> tuple[list[ParentRelation], Reach]:
    ok = flags([1, 1, 1, 1, 1, 0])
    relations = [sponsor(TWO_SPONSOR), placement(TWO_PLACEMENT, TWO_LEG, TWO_JOINED, ok)]
    return relations, reach(relations, ok)


def test_placement_reject_cascades_to_sponsor_subtree() -> None:
    relations, decided = two_relations()
    assert decided.accepted.tolist() == [True, True, False, False, False, False]
    assert [(b.relation.name, b.codes.tolist()) for b in decided.broken] == [
        ("placement", [2]),  # round 1: c's placement parent f is rejected
        ("sponsor", [3, 4]),  # round 2: d and e's sponsor chain runs through c
    ]
    placed, sponsored = decided.broken
    assert placed.relation is relations[1] and sponsored.relation is relations[0]
    assert placed.kinds[2] == CHAIN_REJECTED_ANCESTOR and placed.blockers[2] == 5
    assert (sponsored.kinds[[3, 4]] == CHAIN_REJECTED_ANCESTOR).all()
    assert (sponsored.blockers[[3, 4]] == 2).all()
    rows = np.arange(2, 8, dtype=np.int64)
    assert reason_map(placed, TWO_IDS, rows) == {
        "c": "placement chain broken: c → f reaches rejected participant f (row 7)"
    }
    assert reason_map(sponsored, TWO_IDS, rows) == {
        "d": "sponsor chain broken: d → c reaches rejected participant c (row 4)",
        "e": "sponsor chain broken: e → d → c reaches rejected participant c (row 4)",
    }
    # Orders: each relation's breadth-first order of the accepted codes.
    assert decided.orders[0].tolist() == [0, 1]
    assert decided.orders[1].tolist() == [0, 1]


def test_two_relations_network_has_both_trees() -> None:
    relations, decided = two_relations()
    network, node_of_code = accepted_network(TWO_IDS, relations, decided)
    check_network(network, node_of_code, TWO_IDS, decided.accepted)
    assert network.ids.to_list() == ["a", "b"]
    tree = network.placement
    assert tree is not None
    a, b = node_of_code[0], node_of_code[1]
    assert tree.parent[b] == a and tree.leg[b] == L and tree.parent[a] == -1
    assert tree.child[a].tolist() == [b, -1]  # f held leg R but was rejected; c never got in


def test_sponsor_reject_cascades_through_placement() -> None:
    """The other way round: a sponsor-chain reject takes its placement downline in the next round."""
    # 0 a root; 1 b under a (sponsor) but sponsor 3 d is bad; 2 c sponsored by a, placed under b.
    ok = flags([1, 1, 1, 0])
    relations = [sponsor([-1, 3, 0, 0]), placement([-1, 0, 1, 0], [-1, L, L, R], [0, 1, 2, 3], ok)]
    decided = reach(relations, ok)
    assert decided.accepted.tolist() == [True, False, False, False]
    assert [(b.relation.name, b.codes.tolist()) for b in decided.broken] == [
        ("sponsor", [1]),
        ("placement", [2]),
    ]
    assert decided.broken[1].blockers[2] == 1


# ----------------------------------------------------------------------------------------------------------
# Leg holders and the placement tree in node space
# ----------------------------------------------------------------------------------------------------------


def holders(
    parent: list[int], leg: list[int], joined: list[int], ok: list[int]
) -> tuple[list[int], list[list[int]]]:
    holder, child = leg_holders(
        i64(parent), np.array(leg, dtype=np.int8), np.array(joined, dtype=np.int32), flags(ok)
    )
    return holder.tolist(), child.tolist()


def test_leg_holders_first_to_join_wins() -> None:
    # Codes 1, 2, 3 claim leg L of code 0; 3 joined first.
    holder, child = holders([-1, 0, 0, 0], [-1, L, L, L], [0, 5, 4, 2], [0, 1, 1, 1])
    assert holder == [-1, 3, 3, 3]
    assert child == [[3, -1], [-1, -1], [-1, -1], [-1, -1]]


def test_leg_holders_tie_goes_to_smaller_code() -> None:
    # 2 and 3 joined on the same (earliest) day, 1 later: 2 keeps the leg.
    holder, child = holders([-1, 0, 0, 0], [-1, L, L, L], [0, 5, 3, 3], [0, 1, 1, 1])
    assert holder == [-1, 2, 2, 2]
    assert child[0] == [2, -1]
    # Everyone on the same day: the smallest code.
    holder, _ = holders([-1, 0, 0, 0], [-1, L, L, L], [0, 3, 3, 3], [0, 1, 1, 1])
    assert holder == [-1, 1, 1, 1]


def test_leg_holders_ignore_claimants_not_ok() -> None:
    # 3 joined first but its row is bad: the next earliest (2) holds the leg; 3 gets no holder.
    holder, child = holders([-1, 0, 0, 0], [-1, L, L, L], [0, 5, 4, 2], [0, 1, 1, 0])
    assert holder == [-1, 2, 2, -1]
    assert child[0] == [2, -1]
    # Nobody ok on the leg: it stays empty.
    holder, child = holders([-1, 0, 0, 0], [-1, L, L, L], [0, 5, 4, 2], [0, 0, 0, 0])
    assert holder == [-1, -1, -1, -1]
    assert child[0] == [-1, -1]


def test_leg_holders_legs_and_parents_are_separate() -> None:
    # 1 and 2 on 0's L and R; 3 and 4 both on 1's R (4 first); 5 on 1's L.
    holder, child = holders([-1, 0, 0, 1, 1, 1], [-1, L, R, R, R, L], [0, 1, 1, 6, 5, 9], [0, 1, 1, 1, 1, 1])
    assert holder == [-1, 1, 2, 4, 4, 5]
    assert child[0] == [1, 2] and child[1] == [5, 4]
    assert child[2:] == [[-1, -1]] * 4


def test_placement_in_node_space_matches_leg_holders() -> None:
    # Codes (ids 1..7): sponsor all under 1; placement 1 ─L 2 ─L 4, 2 ─R 5 (5 beats 6: joined first),
    # 1 ─R 3 ─R 7.  6 lost its leg, so the loader rejects it (not ok here).
    ids = pl.Series("participant_id", [1, 2, 3, 4, 5, 6, 7], dtype=pl.Int64)
    ok = flags([1, 1, 1, 1, 1, 0, 1])
    plc_parent, plc_leg = [-1, 0, 0, 1, 1, 1, 2], [-1, L, R, L, R, R, R]
    joined = [0, 1, 2, 3, 4, 5, 6]
    holder, _ = leg_holders(
        i64(plc_parent),
        np.array(plc_leg, dtype=np.int8),
        np.array(joined, dtype=np.int32),
        flags([0, 1, 1, 1, 1, 1, 1]),
    )
    assert holder.tolist() == [-1, 1, 2, 3, 4, 4, 6]  # 6 (code 5) loses to 5 (code 4)
    relations = [sponsor([-1, 0, 0, 0, 0, 0, 0]), placement(plc_parent, plc_leg, joined, ok)]
    child_code, leg_code = relations[1].child, relations[1].leg
    assert child_code is not None and leg_code is not None
    decided = reach(relations, ok)
    assert decided.accepted.tolist() == [True] * 5 + [False, True]
    network, node_of_code = accepted_network(ids, relations, decided)
    tree = placement_in_node_space(decided.orders[1], relations[1].parent, leg_code, node_of_code)
    assert isinstance(tree, Placement)
    assert network.placement is not None
    assert (tree.child == network.placement.child).all()
    # In node space, each accepted code's legs hold the node of its leg holder.
    for code in np.flatnonzero(decided.accepted):
        expected = [node_of_code[h] if h >= 0 else -1 for h in child_code[code]]
        assert tree.child[node_of_code[code]].tolist() == expected
    # Parent and leg agree with the child slots, and the order puts parents first.
    placed = np.flatnonzero(tree.parent >= 0)
    assert (tree.child[tree.parent[placed], tree.leg[placed]] == placed).all()
    seen = np.zeros(network.size, dtype=np.bool_)
    for v in tree.order:
        assert tree.parent[v] < 0 or seen[tree.parent[v]]
        seen[v] = True
    assert seen.all()
    # Preorder intervals: 4 and 5 (codes 3, 4) sit in 2's subtree, 7 (code 6) in 3's, not in 2's.
    n2, n3, n4, n5, n7 = (node_of_code[c] for c in (1, 2, 3, 4, 6))

    def inside(u: int, v: int) -> bool:
        return bool(tree.enter[u] <= tree.enter[v] < tree.leave[u])

    assert inside(n2, n4) and inside(n2, n5) and inside(n3, n7)
    assert not inside(n2, n7) and not inside(n3, n4)


# ----------------------------------------------------------------------------------------------------------
# IdLookup
# ----------------------------------------------------------------------------------------------------------


def test_id_lookup_dense_ints_use_a_table() -> None:
    lookup = IdLookup(pl.Series("participant_id", [3, 5, 6, 10], dtype=pl.Int64))
    assert lookup._table is not None  # direct table, no hashing
    assert lookup.kind == pl.Int64
    keys = pl.Series([5, 4, 10, None, 100, -7, 3, 6], dtype=pl.Int64)
    assert lookup.codes(keys).tolist() == [1, -1, 3, -1, -1, -1, 0, 2]
    # Keys of another integer type take the hash path, with the same answers.
    assert lookup.codes(keys.cast(pl.Int32)).tolist() == [1, -1, 3, -1, -1, -1, 0, 2]
    node_of_code = i64([2, -1, 0, 1])  # code 1 (id 5) was rejected
    assert lookup.nodes(keys, node_of_code).tolist() == [REJECTED, -1, 1, -1, -1, -1, 2, 0]


def test_id_lookup_sparse_ints_use_a_hash() -> None:
    lookup = IdLookup(pl.Series("participant_id", [-(10**15), 1, 10**12, 10**15], dtype=pl.Int64))
    assert lookup._table is None
    keys = pl.Series([10**12, 2, None, -(10**15), 10**15], dtype=pl.Int64)
    assert lookup.codes(keys).tolist() == [2, -1, -1, 0, 3]
    node_of_code = i64([-1, 0, 1, -1])
    assert lookup.nodes(keys, node_of_code).tolist() == [1, -1, -1, REJECTED, REJECTED]


def test_id_lookup_strings() -> None:
    lookup = IdLookup(pl.Series("participant_id", ["P01", "P02", "P10", "Q"]))
    assert lookup._table is None
    assert lookup.kind == pl.String
    keys = pl.Series(["P10", "P1", None, "Q", "p01", "P01"])
    assert lookup.codes(keys).tolist() == [2, -1, -1, 3, -1, 0]
    node_of_code = i64([0, -1, 1, 2])  # code 1 (P02) was rejected
    assert lookup.nodes(keys, node_of_code).tolist() == [1, -1, -1, 2, -1, 0]
    node_of_code = i64([-1, -1, -1, -1])
    assert lookup.nodes(keys, node_of_code).tolist() == [REJECTED, -1, -1, REJECTED, -1, REJECTED]


def test_id_lookup_empty() -> None:
    lookup = IdLookup(pl.Series("participant_id", [], dtype=pl.Int64))
    keys = pl.Series([1, None], dtype=pl.Int64)
    assert lookup.codes(keys).tolist() == [-1, -1]
    assert lookup.nodes(keys, np.empty(0, dtype=np.int64)).tolist() == [-1, -1]


# ----------------------------------------------------------------------------------------------------------
# Property: reach against a naive walk
# ----------------------------------------------------------------------------------------------------------


def naive_walk(parent: list[int], ok: list[bool], start: int) -> tuple[int, int]:
    """(kind, blocker) of an ok code: 0 when its walk visits only ok codes and ends at -1 without repeating."""
    seen: list[int] = []
    node = start
    while True:
        if node < 0:
            return 0, -1
        if not ok[node]:
            return CHAIN_REJECTED_ANCESTOR, node
        if node in seen:
            cycle = seen[seen.index(node) :]
            return (CHAIN_IN_CYCLE if start in cycle else CHAIN_UNDER_CYCLE), min(cycle)
        seen.append(node)
        node = parent[node]


def naive_accepted(parents: list[list[int]], ok: list[bool]) -> list[bool]:
    """Greatest set of ok codes whose walk in every relation stays inside the set and ends at -1."""
    accepted = list(ok)
    while True:
        nxt = [
            accepted[c] and all(naive_walk(parent, accepted, c)[0] == 0 for parent in parents)
            for c in range(len(ok))
        ]
        if nxt == accepted:
            return accepted
        accepted = nxt


@st.composite
def parents_and_ok(draw: st.DrawFn, relations: int = 1) -> tuple[list[list[int]], list[bool]]:
    """Per relation a parent array mixing roots, links to a smaller code (trees) and (half) links to any code
    (cycles, self-loops, chains into them); an ok mask, mostly true."""
    n = draw(st.integers(1, 30))

    def parent() -> list[int]:
        links = [st.just(-1), st.integers(-1, n - 1), st.integers(-1, n - 1)]
        return [draw(st.one_of(*links, st.integers(0, i - 1)) if i else st.one_of(*links)) for i in range(n)]

    ok = draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n))
    return [parent() for _ in range(relations)], ok


@settings(max_examples=50, deadline=None)
@given(parents_and_ok())
def test_reach_matches_naive_walk(case: tuple[list[list[int]], list[bool]]) -> None:
    [parent], ok = case
    decided = reach([ParentRelation("sponsor", "sponsor_id", i64(parent))], flags(ok))
    assert decided.accepted.tolist() == naive_accepted([parent], ok)
    # One relation needs one round: every ok code not accepted is explained once, as the naive walk says.
    assert len(decided.broken) <= 1
    walks = {c: naive_walk(parent, ok, c) for c in range(len(ok)) if ok[c]}
    expected = {c: kind_blocker for c, kind_blocker in walks.items() if kind_blocker[0] != 0}
    got = {
        int(c): (int(broken.kinds[c]), int(broken.blockers[c]))
        for broken in decided.broken
        for c in broken.codes
    }
    assert got == expected


@settings(max_examples=50, deadline=None)
@given(parents_and_ok(relations=2))
def test_reach_two_relations_matches_naive_fixpoint(case: tuple[list[list[int]], list[bool]]) -> None:
    parents, ok = case
    relations = [
        ParentRelation(name, name, i64(p)) for name, p in zip(("sponsor", "placement"), parents, strict=True)
    ]
    decided = reach(relations, flags(ok))
    accepted = naive_accepted(parents, ok)
    assert decided.accepted.tolist() == accepted
    # Every ok code turned away is explained exactly once.
    explained = [int(c) for broken in decided.broken for c in broken.codes]
    assert sorted(explained) == [c for c in range(len(ok)) if ok[c] and not accepted[c]]
    ids = pl.Series("participant_id", list(range(len(ok))), dtype=pl.Int64)
    network, node_of_code = accepted_network(ids, relations[:1], decided)  # random placements: no binary tree
    check_network(network, node_of_code, ids, decided.accepted)
