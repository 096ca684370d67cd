"""Network contract: breadth-first layout and every tree metric against naive twins and networkx."""

from __future__ import annotations

import random
from typing import Any

import networkx as nx
import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmroi.network import Network, from_edges, kernels
from tests import naive

# ----------------------------------------------------------------------------------------------------------
# Hand-made forests: (participant ids, sponsor ids)
# ----------------------------------------------------------------------------------------------------------

FORESTS: dict[str, tuple[list[Any], list[Any]]] = {
    "single": (["solo"], [None]),
    "chain6": ([1, 2, 3, 4, 5, 6], [None, 1, 2, 3, 4, 5]),
    "star6": ([100, 6, 5, 4, 3, 2], [None, 100, 100, 100, 100, 100]),
    # Two trees given out of order: roots 5 and 10 (5 first), 3 is a grandchild of 5.
    "two_trees": ([10, 11, 12, 3, 7, 5], [None, 10, 10, 7, 5, None]),
    # BFS: m | b k z | y q c d | e a  -- id order: a b c d e k m q y z
    "bushy_str": (
        ["z", "a", "m", "e", "b", "q", "k", "c", "d", "y"],
        ["m", "c", None, "y", "m", "k", "m", "z", "z", "b"],
    ),
}

EXPECTED_ORDER = {
    "single": ["solo"],
    "chain6": [1, 2, 3, 4, 5, 6],
    "star6": [100, 2, 3, 4, 5, 6],
    "two_trees": [5, 10, 7, 11, 12, 3],
    "bushy_str": ["m", "b", "k", "z", "y", "q", "c", "d", "e", "a"],
}


@pytest.fixture(scope="module", params=sorted(FORESTS))
def case(request: pytest.FixtureRequest) -> tuple[str, Network, dict[Any, Any]]:
    pids, sids = FORESTS[request.param]
    return request.param, from_edges(pids, sids), naive.forest(pids, sids)


def by_id(net: Network, values: Any) -> dict[Any, Any]:
    """Per-node array -> {original id: value} (rows of 2-D arrays become tuples)."""
    ids = net.ids.to_list()
    arr = np.asarray(values)
    if arr.ndim == 2:
        return {ids[i]: tuple(arr[i].tolist()) for i in range(len(ids))}
    return {ids[i]: arr[i].item() for i in range(len(ids))}


def to_nodes(net: Network, mapping: dict[Any, Any], dtype: Any) -> np.ndarray:
    """{original id: value} -> per-node array in the network's order."""
    return np.array([mapping[i] for i in net.ids.to_list()], dtype=dtype)


def check_against_naive(net: Network, sponsor: dict[Any, Any], rng: random.Random) -> None:
    """Every Network attribute and metric, node by node, against the naive twins."""
    ids = net.ids.to_list()
    n = len(sponsor)
    assert net.size == n == len(ids)
    assert sorted(ids, key=repr) == sorted(sponsor, key=repr)
    # Layout: the naive BFS order, parents before children.
    assert ids == naive.bfs_order(sponsor)
    index = {v: i for i, v in enumerate(ids)}
    expected_parent = [index[sponsor[v]] if sponsor[v] is not None else -1 for v in ids]
    assert net.parent.tolist() == expected_parent
    assert all(net.parent[i] < i for i in range(n))
    assert net.roots.tolist() == [i for i in range(n) if expected_parent[i] < 0]
    assert [ids[r] for r in net.roots] == sorted(v for v, s in sponsor.items() if s is None)
    # Child ranges hold exactly the children, ascending by id.
    kids = naive.children(sponsor)
    assert net.child_start.shape == (n + 1,)
    for i, v in enumerate(ids):
        lo, hi = int(net.child_start[i]), int(net.child_start[i + 1])
        assert ids[lo:hi] == kids[v]
    assert int(net.child_start[-1]) == n
    # Level ranges hold exactly the nodes at each depth; depth never decreases.
    d = naive.depth(sponsor)
    assert by_id(net, net.depth) == d
    assert np.all(np.diff(net.depth) >= 0)
    max_depth = max(d.values())
    assert net.level_start.shape == (max_depth + 2,)
    assert net.level_start[0] == 0 and net.level_start[-1] == n
    for level in range(max_depth + 1):
        lo, hi = int(net.level_start[level]), int(net.level_start[level + 1])
        assert sorted(ids[lo:hi], key=repr) == sorted((v for v in ids if d[v] == level), key=repr)
    # Metrics.
    assert by_id(net, net.frontline()) == naive.frontline(sponsor)
    assert by_id(net, net.downline_size()) == naive.downline_size(sponsor)
    assert {v: ids[r] for v, r in by_id(net, net.root_of).items()} == naive.root_of(sponsor)
    values = {v: rng.randint(-1000, 1000) for v in sponsor}
    arr = to_nodes(net, values, np.int64)
    assert by_id(net, net.subtree_sum(arr)) == naive.subtree_sum(sponsor, values)
    pv = {v: (rng.randint(0, 500), rng.randint(-50, 500), 0) for v in sponsor}
    gv = net.group_volume(to_nodes(net, pv, np.int64))
    assert gv.shape == (n, 3)
    assert by_id(net, gv) == naive.group_volume(sponsor, pv)
    floats = {v: rng.choice([0.25, 0.5, 1.5, -2.0]) for v in sponsor}
    assert by_id(net, net.subtree_sum(to_nodes(net, floats, np.float64))) == naive.subtree_sum(
        sponsor, floats
    )
    flag = {v: rng.random() < 0.5 for v in sponsor}
    flag_arr = to_nodes(net, flag, np.bool_)
    assert by_id(net, net.count_children_where(flag_arr)) == naive.count_children_where(sponsor, flag)
    flags2 = {v: (rng.random() < 0.5, True, False) for v in sponsor}
    counts2 = net.count_children_where(to_nodes(net, flags2, np.bool_))
    for j in range(3):
        col = {v: f[j] for v, f in flags2.items()}
        assert by_id(net, counts2[:, j]) == naive.count_children_where(sponsor, col)
    nearest = net.nearest_ancestor_where(flag_arr)
    got = {v: (ids[a] if a >= 0 else None) for v, a in by_id(net, nearest).items()}
    assert got == naive.nearest_ancestor_where(sponsor, flag)
    # networkx round trip: same edge set as the input.
    graph = net.to_networkx()
    assert set(graph.nodes) == set(sponsor)
    assert set(graph.edges) == {(s, v) for v, s in sponsor.items() if s is not None}


# ----------------------------------------------------------------------------------------------------------
# Contract over hand-made forests
# ----------------------------------------------------------------------------------------------------------


class TestNetworkContract:
    def test_bfs_order_is_known(self, case: tuple[str, Network, dict[Any, Any]]) -> None:
        name, net, _ = case
        assert net.ids.to_list() == EXPECTED_ORDER[name]

    def test_matches_naive(self, case: tuple[str, Network, dict[Any, Any]]) -> None:
        _, net, sponsor = case
        check_against_naive(net, sponsor, random.Random(7))

    def test_matches_networkx(self, case: tuple[str, Network, dict[Any, Any]]) -> None:
        _, net, sponsor = case
        graph = nx.DiGraph()
        graph.add_nodes_from(sponsor)
        graph.add_edges_from((s, v) for v, s in sponsor.items() if s is not None)
        assert nx.is_forest(graph.to_undirected())
        ids = net.ids.to_list()
        depth = {}
        for root in (v for v, s in sponsor.items() if s is None):
            depth.update(nx.shortest_path_length(graph, root))
        assert by_id(net, net.depth) == depth
        assert by_id(net, net.downline_size()) == {v: len(nx.descendants(graph, v)) for v in graph}
        assert by_id(net, net.frontline()) == dict(graph.out_degree())
        pv = {v: 10 * k + 1 for k, v in enumerate(sponsor)}
        gv = by_id(net, net.group_volume(to_nodes(net, pv, np.int64)))
        assert gv == {v: pv[v] + sum(pv[u] for u in nx.descendants(graph, v)) for v in graph}
        assert nx.utils.graphs_equal(net.to_networkx(), graph)
        assert set(ids) == set(graph.nodes)

    def test_roots_root_of_and_sizes(self, case: tuple[str, Network, dict[Any, Any]]) -> None:
        _, net, sponsor = case
        roots = sorted(v for v, s in sponsor.items() if s is None)
        assert net.ids.gather(net.roots).to_list() == roots
        # Each root's downline + 1 covers the forest exactly once.
        assert int((net.downline_size()[net.roots] + 1).sum()) == net.size
        ones = np.ones(net.size, dtype=np.int64)
        assert net.subtree_sum(ones).tolist() == (net.downline_size() + 1).tolist()

    def test_subtree_sum_rejects_wrong_length(self, case: tuple[str, Network, dict[Any, Any]]) -> None:
        _, net, _ = case
        with pytest.raises(ValueError, match="rows"):
            net.subtree_sum(np.zeros(net.size + 1, dtype=np.int64))


def test_chain_and_star_values() -> None:
    chain = from_edges(*FORESTS["chain6"])
    assert chain.depth.tolist() == [0, 1, 2, 3, 4, 5]
    assert chain.downline_size().tolist() == [5, 4, 3, 2, 1, 0]
    assert chain.frontline().tolist() == [1, 1, 1, 1, 1, 0]
    assert chain.level_start.tolist() == [0, 1, 2, 3, 4, 5, 6]
    assert chain.subtree_sum(np.arange(1, 7, dtype=np.int64)).tolist() == [21, 20, 18, 15, 11, 6]
    assert chain.nearest_ancestor_where(np.array([1, 0, 1, 0, 0, 0], dtype=bool)).tolist() == [
        -1,
        0,
        0,
        2,
        2,
        2,
    ]
    star = from_edges(*FORESTS["star6"])
    assert star.frontline().tolist() == [5, 0, 0, 0, 0, 0]
    assert star.child_start.tolist() == [1, 6, 6, 6, 6, 6, 6]
    assert star.level_start.tolist() == [0, 1, 6]
    assert star.count_children_where(np.array([1, 1, 0, 1, 0, 1], dtype=bool)).tolist() == [3, 0, 0, 0, 0, 0]


def keyed_reference(sponsor: dict[Any, Any], rng: random.Random) -> tuple[pl.DataFrame, dict[str, Any]]:
    """A frame keyed by participant_id in shuffled row order (a value and two flags), and what networkx
    says each metric is, per id."""
    graph = nx.DiGraph()
    graph.add_nodes_from(sponsor)
    graph.add_edges_from((s, v) for v, s in sponsor.items() if s is not None)
    rows = list(sponsor)
    rng.shuffle(rows)
    pv = {v: rng.randint(-50, 500) for v in rows}
    flag = {v: rng.random() < 0.5 for v in rows}
    frame = pl.DataFrame(
        {
            "participant_id": rows,
            "pv": [pv[v] for v in rows],
            "active": [flag[v] for v in rows],
            "everyone": [True] * len(rows),
        }
    )
    nearest = {}
    for root in (v for v, s in sponsor.items() if s is None):
        for v, path in nx.shortest_path(graph, root).items():  # root … v
            nearest[v] = next((a for a in reversed(path[:-1]) if flag[a]), None)
    expected = {
        "gv": {v: pv[v] + sum(pv[u] for u in nx.descendants(graph, v)) for v in graph},
        "active_children": {v: sum(flag[c] for c in graph.successors(v)) for v in graph},
        "children": dict(graph.out_degree()),
        "nearest_active": nearest,
    }
    return frame, expected


def test_keyed_values_in_any_row_order_match_networkx(case: tuple[str, Network, dict[Any, Any]]) -> None:
    """subtree_sum, count_children_where and nearest_ancestor_where on a frame keyed by participant_id in
    shuffled row order: each row gets its own participant's figure (networkx as the reference), in the
    caller's row order."""
    _, net, sponsor = case
    frame, expected = keyed_reference(sponsor, random.Random(11))
    rows = frame["participant_id"].to_list()
    assert rows != net.ids.to_list() or len(rows) < 3  # really not in node order
    gv = net.subtree_sum(frame.select("participant_id", "pv"))
    assert gv.columns == ["participant_id", "pv"] and gv["participant_id"].to_list() == rows
    assert dict(gv.iter_rows()) == expected["gv"]
    counts = net.count_children_where(frame.select("participant_id", "active", "everyone"))
    assert counts.columns == ["participant_id", "active", "everyone"]
    assert counts["participant_id"].to_list() == rows and counts["active"].dtype == pl.Int32
    assert dict(counts.select("participant_id", "active").iter_rows()) == expected["active_children"]
    assert dict(counts.select("participant_id", "everyone").iter_rows()) == expected["children"]
    nearest = net.nearest_ancestor_where(frame.select("participant_id", "active"))
    assert nearest.columns == ["participant_id", "ancestor_id"]
    assert nearest["participant_id"].to_list() == rows
    assert nearest["ancestor_id"].dtype == net.ids.dtype  # the ancestor's id itself, null for none
    assert dict(nearest.iter_rows()) == expected["nearest_active"]
    # The same figures as the node-order arrays give (today's contract for the engine's own layout).
    node = net.nodes_of(frame["participant_id"])
    in_nodes = np.zeros(net.size, dtype=np.bool_)
    in_nodes[node] = frame["active"].to_numpy()
    assert net.count_children_where(in_nodes)[node].tolist() == counts["active"].to_list()
    ancestor = net.nearest_ancestor_where(in_nodes)[node]
    assert [net.ids[int(a)] if a >= 0 else None for a in ancestor] == nearest["ancestor_id"].to_list()


def test_keyed_flags_are_refused_when_their_order_or_type_is_unclear() -> None:
    net = from_edges(*FORESTS["bushy_str"])
    ids = ["a", "b", "c", "d", "e", "k", "m", "q", "y", "z"]
    flags = pl.DataFrame({"participant_id": ids, "on": [i % 3 == 0 for i in range(10)]})
    for method in (net.count_children_where, net.nearest_ancestor_where):
        for ambiguous in (flags["on"].to_list(), flags["on"]):  # no ids: order unknown
            with pytest.raises(ValueError, match="no participant ids"):
                method(ambiguous)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="every participant exactly once"):
            method(flags.head(9))
        with pytest.raises(ValueError, match="unknown ids such as 'x'"):
            method(flags.with_columns(pl.Series("participant_id", [*ids[:9], "x"])))
        with pytest.raises(ValueError, match="repeats"):
            method(pl.concat([flags, flags.head(1)]))
        with pytest.raises(ValueError, match="Boolean without nulls"):
            method(flags.with_columns(pl.col("on").cast(pl.Int64)))  # 0/1 is not taken as a flag
        with pytest.raises(ValueError, match="Boolean without nulls"):
            method(
                flags.with_columns(
                    pl.when(pl.col("participant_id") == "a").then(None).otherwise("on").alias("on")
                )
            )
        with pytest.raises(ValueError, match="participant_id and"):
            method(flags.select("participant_id"))
        with pytest.raises(ValueError, match="rows, network has 10 nodes"):
            method(np.ones(9, dtype=np.bool_))
    with pytest.raises(ValueError, match="exactly one value column"):
        net.nearest_ancestor_where(flags.with_columns(other=pl.col("on")))
    with pytest.raises(ValueError, match=r"must be \(n,\), not \(10, 2\)"):
        net.nearest_ancestor_where(np.ones((10, 2), dtype=np.bool_))


def test_from_edges_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="not a participant"):
        from_edges([1, 2], [None, 3])
    with pytest.raises(ValueError):
        from_edges([1, 2, 3], [None, 3, 2])  # 2 <-> 3 cycle
    with pytest.raises(ValueError):
        from_edges([1, 2], [None, 2])  # self-sponsorship
    with pytest.raises(ValueError, match="unique"):
        from_edges([1, 2, 2], [None, 1, 1])
    with pytest.raises(ValueError):
        from_edges(["a", "b"], ["b", "a"])  # no root at all


# ----------------------------------------------------------------------------------------------------------
# Random forests
# ----------------------------------------------------------------------------------------------------------

ALPHABET = "abcxyzAZ09_é"


@st.composite
def random_forests(draw: st.DrawFn, max_size: int = 24) -> tuple[list[Any], list[Any]]:
    """(participant ids, sponsor ids): sponsor of node i uniform among earlier nodes or None, input shuffled,
    ids mapped to random distinct ints or strings."""
    n = draw(st.integers(1, max_size))
    parent: list[int | None] = [None]
    for i in range(1, n):
        parent.append(None if draw(st.integers(0, 5)) == 0 else draw(st.integers(0, i - 1)))
    if draw(st.booleans()):
        ids: list[Any] = draw(st.lists(st.integers(-(10**12), 10**12), min_size=n, max_size=n, unique=True))
    else:
        ids = draw(st.lists(st.text(ALPHABET, min_size=1, max_size=5), min_size=n, max_size=n, unique=True))
    perm = draw(st.permutations(range(n)))
    pids = [ids[j] for j in perm]
    sids = [None if parent[j] is None else ids[parent[j]] for j in perm]  # type: ignore[index]
    return pids, sids


@given(random_forests(), st.randoms(use_true_random=False))
def test_random_forest_matches_naive(edges: tuple[list[Any], list[Any]], rng: random.Random) -> None:
    pids, sids = edges
    net = from_edges(pids, sids)
    check_against_naive(net, naive.forest(pids, sids), rng)


@given(random_forests(), st.randoms(use_true_random=False))
def test_random_forest_invariants(edges: tuple[list[Any], list[Any]], rng: random.Random) -> None:
    pids, sids = edges
    net = from_edges(pids, sids)
    n = net.size
    pv = {v: rng.randint(-100, 10_000) for v in pids}
    gv = net.group_volume(to_nodes(net, pv, np.int64))
    assert int(gv[net.roots].sum()) == sum(pv.values())
    # GV = own PV + GV of the children.
    for i in range(n):
        lo, hi = int(net.child_start[i]), int(net.child_start[i + 1])
        assert gv[i] == to_nodes(net, pv, np.int64)[i] + gv[lo:hi].sum()
    # Input order does not matter.
    perm = list(range(n))
    rng.shuffle(perm)
    other = from_edges([pids[j] for j in perm], [sids[j] for j in perm])
    assert other.ids.to_list() == net.ids.to_list()
    assert other.parent.tolist() == net.parent.tolist()
    assert by_id(other, other.group_volume(to_nodes(other, pv, np.int64))) == by_id(net, gv)
    # Depth-d nodes are contiguous, and their parents are at depth d - 1.
    for d in range(1, len(net.level_start) - 1):
        sl = slice(int(net.level_start[d]), int(net.level_start[d + 1]))
        assert np.all(net.depth[sl] == d)
        assert np.all(net.depth[net.parent[sl]] == d - 1)
    # networkx round trip.
    graph = net.to_networkx()
    assert set(graph.edges) == {(s, v) for v, s in zip(pids, sids, strict=True) if s is not None}
    assert graph.number_of_nodes() == n


@given(random_forests(), st.randoms(use_true_random=False))
def test_random_forest_keyed_values_match_naive(
    edges: tuple[list[Any], list[Any]], rng: random.Random
) -> None:
    pids, sids = edges
    net = from_edges(pids, sids)
    sponsor = naive.forest(pids, sids)
    frame, _ = keyed_reference(sponsor, rng)
    rows = frame["participant_id"].to_list()
    flag = dict(zip(rows, frame["active"].to_list(), strict=True))
    counts = net.count_children_where(frame.select("participant_id", "active"))
    assert counts["participant_id"].to_list() == rows
    assert dict(counts.iter_rows()) == naive.count_children_where(sponsor, flag)
    nearest = net.nearest_ancestor_where(frame.select("participant_id", "active"))
    assert dict(nearest.iter_rows()) == naive.nearest_ancestor_where(sponsor, flag)


# ----------------------------------------------------------------------------------------------------------
# Validation workers: _bfs_order and _classify_unreached
# ----------------------------------------------------------------------------------------------------------


def run_workers(parent: list[int], ok: list[bool]) -> tuple[list[int], list[bool], list[int], list[int]]:
    p = np.array(parent, dtype=np.int64)
    o = np.array(ok, dtype=np.bool_)
    order, reached = kernels._bfs_order(p, o)
    kind, blocker = kernels._classify_unreached(p, o, reached)
    return order.tolist(), reached.tolist(), kind.tolist(), blocker.tolist()


def test_bfs_order_hand_made() -> None:
    # roots 1 and 2; children of 1: 3, 4; of 2: 0, 5; of 3: 6.
    parent = [2, -1, -1, 1, 1, 2, 3]
    order, reached, kind, _ = run_workers(parent, [True] * 7)
    assert order == [1, 2, 3, 4, 0, 5, 6]
    assert all(reached) and kind == [0] * 7
    # 3 rejected: it and its subtree are not reached; 6 is blocked by 3.
    ok = [True, True, True, False, True, True, True]
    order, reached, kind, blocker = run_workers(parent, ok)
    assert order == [1, 2, 4, 0, 5]
    assert reached == [True, True, True, False, True, True, False]
    assert kind == [0, 0, 0, 0, 0, 0, kernels.CHAIN_REJECTED_ANCESTOR]
    assert blocker == [-1, -1, -1, -1, -1, -1, 3]


def test_classify_three_cycle() -> None:
    order, reached, kind, blocker = run_workers([1, 2, 0], [True] * 3)
    assert order == [] and reached == [False] * 3
    assert kind == [kernels.CHAIN_IN_CYCLE] * 3
    assert blocker == [0, 0, 0]


def test_classify_cycle_with_tail() -> None:
    # 0 root; cycle 2 -> 4 -> 3 -> 2 (parent links); 5 hangs under 3, 1 under 5, 6 under 1.
    parent = [-1, 5, 4, 2, 3, 3, 1]
    order, _, kind, blocker = run_workers(parent, [True] * 7)
    assert order == [0]
    assert kind == [0, 3, 2, 2, 2, 3, 3]
    assert blocker == [-1, 2, 2, 2, 2, 2, 2]


def test_classify_rejected_ancestor() -> None:
    # 1 rejected with descendants 2, 3, 4; 6 (rejected) under 3 and 7 under 6; 5 a rejected root.
    parent = [-1, 0, 1, 2, 2, -1, 3, 6]
    ok = [True, False, True, True, True, False, False, True]
    order, _, kind, blocker = run_workers(parent, ok)
    assert order == [0]
    assert kind == [0, 0, 1, 1, 1, 0, 0, 1]
    assert blocker == [-1, -1, 1, 1, 1, -1, -1, 6]  # the nearest rejected ancestor


def test_classify_self_loop() -> None:
    order, _, kind, blocker = run_workers([-1, 1, 1, 0], [True] * 4)
    assert order == [0, 3]
    assert kind == [0, 2, 3, 0]
    assert blocker == [-1, 1, 1, -1]


@st.composite
def parent_codes(draw: st.DrawFn) -> tuple[list[int], list[bool]]:
    """Arbitrary parent links over codes (roots, self-loops, cycles, shared ancestors) and an ok mask."""
    n = draw(st.integers(1, 16))
    parent = draw(st.lists(st.integers(-1, n - 1), min_size=n, max_size=n))
    ok = draw(st.lists(st.sampled_from([True, True, True, False]), min_size=n, max_size=n))
    return parent, ok


@given(parent_codes())
def test_validation_workers_match_naive(codes: tuple[list[int], list[bool]]) -> None:
    parent, ok = codes
    order, reached, kind, blocker = run_workers(parent, ok)
    n_order, n_reached = naive.bfs_codes(parent, ok)
    assert order == n_order
    assert reached == n_reached
    n_kind, n_blocker = naive.classify_unreached(parent, ok, n_reached)
    assert kind == n_kind
    assert blocker == n_blocker
    # Every ok node is either reached or explained; rejected nodes are never classified.
    for i in range(len(parent)):
        assert (kind[i] != 0) == (ok[i] and not reached[i])


def test_group_volume_per_period_sums_to_window_group_volume() -> None:
    from mlmroi.plans.base import PeriodVolumes

    net = from_edges(["a", "b", "c", "d"], [None, "a", "b", "a"])
    personal = np.array([[1, 2, 3, 4], [10, 0, 0, 5]], dtype=np.int64)  # (periods, nodes)
    gv = PeriodVolumes(personal, ("2025-01", "2025-02")).group_volume(net)
    assert gv.shape == (2, 4)
    for p in range(2):
        assert gv[p].tolist() == net.group_volume(personal[p]).tolist()
    assert gv.sum(axis=0).tolist() == net.group_volume(personal.sum(axis=0)).tolist()
    assert gv[:, net.roots].sum() == personal.sum()  # Σ GV at the roots = Σ PV, every period
