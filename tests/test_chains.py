"""Reject reasons naming broken chains (mlmroi.network.chains) against a naive twin of the loader's old walk."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmroi.network import kernels
from mlmroi.network.chains import chain_reasons

# ----------------------------------------------------------------------------------------------------------
# Naive twin: the loader's _chain / _chain_reason, walking every hop (no 10,000-hop cap)
# ----------------------------------------------------------------------------------------------------------


def naive_chain(ids: list[Any], parent: list[int], start: int, stop: int) -> str:
    hops = [start]
    node = start
    while node >= 0:
        node = parent[node]
        hops.append(node)
        if node in (stop, start):
            break
    names = [str(ids[h]) for h in hops]
    if len(names) > 6:
        names = [*names[:4], "…", *names[-2:]]
    return " → ".join(names)


def naive_reason(
    tree: str, ids: list[Any], parent: list[int], kinds: list[int], blockers: list[int], code: int, row: int
) -> str:
    b = blockers[code]
    if kinds[code] == kernels.CHAIN_REJECTED_ANCESTOR:
        return (
            f"{tree} chain broken: {naive_chain(ids, parent, code, b)} reaches "
            f"rejected participant {ids[b]} (row {row})"
        )
    if kinds[code] == kernels.CHAIN_IN_CYCLE:
        return f"{tree} cycle: {naive_chain(ids, parent, code, code)}"
    entry = code
    while kinds[entry] != kernels.CHAIN_IN_CYCLE:
        entry = parent[entry]
    return (
        f"{tree} chain broken: {naive_chain(ids, parent, code, entry)} reaches "
        f"{tree} cycle {naive_chain(ids, parent, entry, entry)}"
    )


# ----------------------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------------------


def classify(parent: list[int], ok: list[bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.array(parent, dtype=np.int64)
    o = np.array(ok, dtype=np.bool_)
    _, reached = kernels._bfs_order(p, o)
    kinds, blockers = kernels._classify_unreached(p, o, reached)
    return p, kinds, blockers


def rows_of(blockers: np.ndarray, broken: np.ndarray) -> np.ndarray:
    """A made-up input row per code (2 + 3 × code), looked up for each broken code's blocker."""
    rows: np.ndarray = (2 + 3 * blockers[broken]).astype(np.int64)
    return rows


def both(
    parent: list[int], ok: list[bool], ids: list[Any], tree: str = "sponsor"
) -> tuple[list[str], list[str], np.ndarray]:
    """(chain_reasons, naive twin, broken codes) for every classified code."""
    p, kinds, blockers = classify(parent, ok)
    broken = np.flatnonzero(kinds != 0)
    rows = rows_of(blockers, broken)
    got = chain_reasons(tree, pl.Series(ids), p, kinds, blockers, broken, rows)
    want = [
        naive_reason(tree, ids, parent, kinds.tolist(), blockers.tolist(), int(c), int(r))
        for c, r in zip(broken, rows, strict=True)
    ]
    return got, want, broken


def reasons_by_code(
    parent: list[int], ok: list[bool], ids: list[Any], tree: str = "sponsor"
) -> dict[int, str]:
    got, want, broken = both(parent, ok, ids, tree)
    assert got == want
    return dict(zip(broken.tolist(), got, strict=True))


# ----------------------------------------------------------------------------------------------------------
# Hand-made cases
# ----------------------------------------------------------------------------------------------------------


def test_chain_under_rejected_node() -> None:
    # 0 root; 1 rejected under 0; 2 → 1, 3 → 2, 4 → 2 (parent links); 5 a rejected root, 6 → 5.
    parent = [-1, 0, 1, 2, 2, -1, 5]
    ok = [True, False, True, True, True, False, True]
    ids = ["r", "bad", "a", "b", "c", "gone", "d"]
    got = reasons_by_code(parent, ok, ids)
    assert got == {
        2: "sponsor chain broken: a → bad reaches rejected participant bad (row 5)",
        3: "sponsor chain broken: b → a → bad reaches rejected participant bad (row 5)",
        4: "sponsor chain broken: c → a → bad reaches rejected participant bad (row 5)",
        6: "sponsor chain broken: d → gone reaches rejected participant gone (row 17)",
    }


def test_two_cycle_and_self_loop() -> None:
    # 0 ↔ 1 a 2-cycle with 2 under 1; 3 a self-loop; 4 a root.
    parent = [1, 0, 1, 3, -1]
    got = reasons_by_code(parent, [True] * 5, [10, 11, 12, 13, 14], tree="placement")
    assert got == {
        0: "placement cycle: 10 → 11 → 10",
        1: "placement cycle: 11 → 10 → 11",
        2: "placement chain broken: 12 → 11 reaches placement cycle 11 → 10 → 11",
        3: "placement cycle: 13 → 13",
    }


def test_long_cycle_with_trees_under_it() -> None:
    # The cycle 0 → 1 → … → 9 → 0 (parent links); a chain of 8 hangs under 3, a branch of it under 5,
    # and a single node under 9. Codes are numbered so that children often come before their parents.
    cycle = 10
    parent = [(i + 1) % cycle for i in range(cycle)]
    tail = list(range(cycle, cycle + 8))  # tail[0] is the deepest
    parent += [tail[k + 1] for k in range(7)] + [3]
    parent += [tail[5], 18, 9]  # 18 under tail[5], 19 under 18, 20 under 9
    n = len(parent)
    ids = [f"p{i}" for i in range(n)]
    got = reasons_by_code(parent, [True] * n, ids)
    assert len(got) == n
    assert got[0] == "sponsor cycle: p0 → p1 → p2 → p3 → … → p9 → p0"
    assert got[tail[0]] == (
        "sponsor chain broken: p10 → p11 → p12 → p13 → … → p17 → p3 reaches sponsor cycle "
        "p3 → p4 → p5 → p6 → … → p2 → p3"
    )
    assert got[19] == (
        "sponsor chain broken: p19 → p18 → p15 → p16 → p17 → p3 reaches sponsor cycle "
        "p3 → p4 → p5 → p6 → … → p2 → p3"
    )
    assert got[20] == ("sponsor chain broken: p20 → p9 reaches sponsor cycle p9 → p0 → p1 → p2 → … → p8 → p9")


@pytest.mark.parametrize("names", [5, 6, 7])
def test_chains_of_five_six_seven_names(names: int) -> None:
    # A rejected root 0 and a chain of `names` names ending at it: code k's parent is k - 1.
    parent = [-1, *range(names - 1)]
    ok = [False] + [True] * (names - 1)
    got = reasons_by_code(parent, ok, list(range(100, 100 + names)))
    chain = got[names - 1].split(": ", 1)[1].split(" reaches")[0]
    expected = [str(100 + k) for k in range(names - 1, -1, -1)]
    if names > 6:
        expected = [*expected[:4], "…", *expected[-2:]]
    assert chain == " → ".join(expected)
    # A cycle of `names - 1` nodes is a chain of `names` names; a tail of `names - 1` hops under it too.
    length = names - 1
    parent = [(i + 1) % length for i in range(length)] + [0] + [length + k for k in range(length - 1)]
    got = reasons_by_code(parent, [True] * len(parent), [f"c{i}" for i in range(len(parent))])
    cycle = got[0].removeprefix("sponsor cycle: ")
    assert cycle.count("→") == min(length, 6)
    assert cycle.startswith("c0 → c1") and cycle.endswith(f"c{length - 1} → c0")
    under = got[2 * length - 1].removeprefix("sponsor chain broken: ").split(" reaches")[0]
    assert under.count("→") == min(length, 6)
    assert under.startswith(f"c{2 * length - 1} → c{2 * length - 2}") and under.endswith(f"c{length} → c0")


def test_integer_and_string_ids_print_like_str() -> None:
    parent = [1, 2, 0, 0, -1, 4]
    ok = [True, True, True, True, False, True]
    floats = [1.5, 1e20, -0.0, 3.0, 1e-7, float("inf")]  # not ids the loader makes: worded by Python's str
    days = [date(2024, 1, d) for d in range(1, 7)]
    for ids in ([7, -3, 0, 2**40, 5, 6], ["α", "b c", "", "0", "→", "x"], floats, days):
        got = reasons_by_code(parent, ok, ids)  # equal to the twin
        assert str(ids[0]) in got[0]


def test_only_some_codes_and_empty() -> None:
    parent = [-1, 0, 1, 2, 3, 4, 5, 6, 7]
    ok = [False] + [True] * 8
    p, kinds, blockers = classify(parent, ok)
    ids = pl.Series([f"n{i}" for i in range(9)])
    broken = np.array([3, 8], dtype=np.int64)
    got = chain_reasons("sponsor", ids, p, kinds, blockers, broken, np.array([41, 42], dtype=np.int64))
    assert got == [
        "sponsor chain broken: n3 → n2 → n1 → n0 reaches rejected participant n0 (row 41)",
        "sponsor chain broken: n8 → n7 → n6 → n5 → … → n1 → n0 reaches rejected participant n0 (row 42)",
    ]
    empty = np.array([], dtype=np.int64)
    assert chain_reasons("sponsor", ids, p, kinds, blockers, empty, empty) == []


def test_unclassified_code_is_an_error() -> None:
    p, kinds, blockers = classify([-1, 0], [True, True])
    with pytest.raises(ValueError, match="no broken chain"):
        chain_reasons("sponsor", pl.Series([1, 2]), p, kinds, blockers, np.array([1]), np.array([0]))


# ----------------------------------------------------------------------------------------------------------
# Random parent arrays
# ----------------------------------------------------------------------------------------------------------


@st.composite
def networks(draw: st.DrawFn) -> tuple[list[int], list[bool], list[Any]]:
    """Arbitrary parent links (roots, self-loops, cycles, long tails), an ok mask, and int or string ids."""
    n = draw(st.integers(1, 40))
    if draw(st.booleans()):  # mostly chains: parent k - 1 (or a random earlier/later code)
        parent = [
            draw(st.one_of(st.just(k - 1), st.integers(-1, n - 1), st.just((k + 1) % n))) for k in range(n)
        ]
    else:
        parent = draw(st.lists(st.integers(-1, n - 1), min_size=n, max_size=n))
    ok = draw(st.lists(st.sampled_from([True, True, True, True, False]), min_size=n, max_size=n))
    if draw(st.booleans()):
        ids: list[Any] = draw(st.lists(st.integers(-(2**40), 2**40), min_size=n, max_size=n, unique=True))
    else:
        ids = draw(st.lists(st.text(max_size=3), min_size=n, max_size=n, unique=True))
    return parent, ok, ids


@settings(max_examples=50)
@given(networks())
def test_random_networks_match_naive(network: tuple[list[int], list[bool], list[Any]]) -> None:
    parent, ok, ids = network
    got, want, _ = both(parent, ok, ids)
    assert got == want


# ----------------------------------------------------------------------------------------------------------
# Long chains: the last names are right however far the stop is (the old walk stopped at 10,000 hops)
# ----------------------------------------------------------------------------------------------------------


def test_hundred_thousand_long_chain_and_cycle() -> None:
    n = 100_000
    # Codes 0..n-1: a chain under the rejected root 0 (k's parent is k - 1).
    # Codes n..2n-1: a cycle (n + k's parent is n + (k + 1) % n); codes 2n..3n-1: a tail under code n.
    parent = np.empty(3 * n, dtype=np.int64)
    parent[0] = -1
    parent[1:n] = np.arange(n - 1)
    parent[n : 2 * n] = n + (np.arange(1, n + 1) % n)
    parent[2 * n] = n
    parent[2 * n + 1 :] = np.arange(2 * n, 3 * n - 1)
    ok = np.ones(3 * n, dtype=np.bool_)
    ok[0] = False
    _, reached = kernels._bfs_order(parent, ok)
    kinds, blockers = kernels._classify_unreached(parent, ok, reached)
    ids = pl.Series([f"id{i}" for i in range(3 * n)])
    broken = np.flatnonzero(kinds != 0)
    assert broken.size == 3 * n - 1
    rows = np.full(broken.size, 2, dtype=np.int64)
    reasons = dict(
        zip(
            broken.tolist(),
            chain_reasons("sponsor", ids, parent, kinds, blockers, broken, rows),
            strict=True,
        )
    )
    last = n - 1
    assert reasons[last] == (
        f"sponsor chain broken: id{last} → id{last - 1} → id{last - 2} → id{last - 3} → … → id1 → id0 "
        "reaches rejected participant id0 (row 2)"
    )
    assert (
        reasons[n] == f"sponsor cycle: id{n} → id{n + 1} → id{n + 2} → id{n + 3} → … → id{2 * n - 1} → id{n}"
    )
    assert reasons[n + 5] == (
        f"sponsor cycle: id{n + 5} → id{n + 6} → id{n + 7} → id{n + 8} → … → id{n + 4} → id{n + 5}"
    )
    deepest = 3 * n - 1
    assert reasons[deepest] == (
        f"sponsor chain broken: id{deepest} → id{deepest - 1} → id{deepest - 2} → id{deepest - 3} → … → "
        f"id{2 * n} → id{n} reaches sponsor cycle "
        f"id{n} → id{n + 1} → id{n + 2} → id{n + 3} → … → id{2 * n - 1} → id{n}"
    )
    # The twin agrees on a few codes (each walk is up to 2n hops, so only a few).
    ids_list, parent_list = ids.to_list(), parent.tolist()
    kinds_list, blockers_list = kinds.tolist(), blockers.tolist()
    for code in (1, 6, 7, last, n, n + 5, 2 * n - 1, 2 * n, 2 * n + 5, deepest):
        assert reasons[code] == naive_reason(
            "sponsor", ids_list, parent_list, kinds_list, blockers_list, code, 2
        )
