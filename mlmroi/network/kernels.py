"""Tree kernels over flat arrays.

Conventions (see docs/architecture.md): nodes are numbered in breadth-first order, so ``parent[i] < i`` for
every non-root (``parent[i] == -1`` for a root); a bottom-up pass is a reverse loop and a top-down pass a
forward loop; children of a node are the contiguous range ``child_start[i]:child_start[i + 1]``. Kernels are
private ``@kernel`` workers over plain numpy arrays; public wrappers live in :mod:`mlmroi.network.tree`.

Each ``@kernel`` (``*_into``) writes into arrays allocated by the plain function of the same name without
``_into``, which returns them: numba compiles its own allocation code once per dtype, a noticeable part of
a first run's compile time (:mod:`mlmroi._numba`), where numpy allocates at no compile cost.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mlmroi._numba import kernel

# Why a participant was not accepted into the tree (codes shared with build.py).
CHAIN_REJECTED_ANCESTOR = 1
CHAIN_IN_CYCLE = 2
CHAIN_UNDER_CYCLE = 3


def _bfs_order(parent: npt.NDArray[Any], ok: npt.NDArray[Any]) -> Any:
    """Breadth-first order of the nodes reachable from ok roots through ok nodes.

    ``parent`` holds codes (-1 root); children are visited in ascending code, roots too. Returns
    ``(order, reached)`` where ``order[:count]`` lists reached codes in BFS order.
    """
    n = parent.shape[0]
    starts = np.zeros(n + 1, dtype=np.int64)
    children = np.empty(max(int(np.count_nonzero(parent >= 0)), 1), dtype=np.int64)
    _children_into(parent, starts, children)
    return _bfs_listed(parent, starts, children, ok)


@kernel
def _children_into(parent, starts, children):  # type: ignore[no-untyped-def]
    """Node ``i``'s children, ascending, as ``children[starts[i]:starts[i + 1]]`` (``starts`` zero, n + 1
    long; ``children`` one entry per non-root): a counting pass, prefix sums, then each child put at its
    parent's next free place (``starts[p]`` moved along, then shifted back)."""
    n = parent.shape[0]
    for i in range(n):
        p = parent[i]
        if p >= 0:
            starts[p + 1] += 1
    for i in range(n):
        starts[i + 1] += starts[i]
    for i in range(n):
        p = parent[i]
        if p >= 0:
            children[starts[p]] = i
            starts[p] += 1
    for i in range(n, 0, -1):  # starts[p] is now p's end, the next node's start
        starts[i] = starts[i - 1]
    starts[0] = 0


def _bfs_listed(
    parent: npt.NDArray[Any], starts: npt.NDArray[Any], children: npt.NDArray[Any], ok: npt.NDArray[Any]
) -> Any:
    """:func:`_bfs_order` when the children are already listed: node ``i``'s are
    ``children[starts[i]:starts[i + 1]]`` (-1 entries are skipped)."""
    n = parent.shape[0]
    order = np.empty(n, dtype=np.int64)
    reached = np.zeros(n, dtype=np.bool_)
    tail = _bfs_into(parent, starts, children, ok, order, reached)
    return order[:tail], reached


@kernel
def _bfs_into(parent, starts, children, ok, order, reached):  # type: ignore[no-untyped-def]
    """:func:`_bfs_listed`'s walk: fills ``order`` (n) and ``reached`` (n, all False), returns the count."""
    n = parent.shape[0]
    tail = 0
    for i in range(n):
        if parent[i] == -1 and ok[i]:
            order[tail] = i
            reached[i] = True
            tail += 1
    head = 0
    while head < tail:
        node = order[head]
        head += 1
        for c in range(starts[node], starts[node + 1]):
            child = children[c]
            if child >= 0 and ok[child] and not reached[child]:
                reached[child] = True
                order[tail] = child
                tail += 1
    return tail


def _classify_unreached(parent: npt.NDArray[Any], ok: npt.NDArray[Any], reached: npt.NDArray[Any]) -> Any:
    """For ok nodes not reached from a root: why not, and which node blocks them.

    ``kind`` is CHAIN_REJECTED_ANCESTOR (``blocker`` = the nearest rejected ancestor), CHAIN_IN_CYCLE or
    CHAIN_UNDER_CYCLE (``blocker`` = the smallest code on the cycle). Each node is walked once. When every
    ok node was reached (the usual case) nothing is walked, and the kernel is not even compiled.
    """
    n = parent.shape[0]
    kind = np.zeros(n, dtype=np.int8)
    blocker = np.full(n, -1, dtype=np.int64)
    if np.logical_and(ok, np.logical_not(reached)).any():
        on_path = np.full(n, -1, dtype=np.int64)  # position on the current walk, -1 if not on it
        path = np.empty(n, dtype=np.int64)
        _classify_into(parent, ok, reached, kind, blocker, on_path, path)
    return kind, blocker


@kernel
def _classify_into(parent, ok, reached, kind, blocker, on_path, path):  # type: ignore[no-untyped-def]
    """:func:`_classify_unreached`'s walk, into ``kind`` (zeros), ``blocker`` and ``on_path`` (-1) and
    ``path`` (scratch), all n long."""
    n = parent.shape[0]
    for start in range(n):
        if reached[start] or not ok[start] or kind[start] != 0:
            continue
        length = 0
        node = start
        end_kind = 0
        end_blocker = -1
        cycle_from = -1
        while True:
            if node < 0 or not ok[node]:
                end_kind = 1
                end_blocker = node
                break
            if kind[node] != 0:
                end_kind = 1 if kind[node] == 1 else 3
                end_blocker = blocker[node]
                break
            if on_path[node] >= 0:
                cycle_from = on_path[node]
                smallest = node
                for k in range(cycle_from, length):
                    if path[k] < smallest:
                        smallest = path[k]
                end_kind = 3
                end_blocker = smallest
                break
            on_path[node] = length
            path[length] = node
            length += 1
            node = parent[node]
        for k in range(length):
            v = path[k]
            on_path[v] = -1
            kind[v] = 2 if (cycle_from >= 0 and k >= cycle_from) else end_kind
            blocker[v] = end_blocker


def _depth(parent: npt.NDArray[Any]) -> Any:
    """Each node's depth (roots 0), int32."""
    depth = np.zeros(parent.shape[0], dtype=np.int32)
    _depth_into(parent, depth)
    return depth


@kernel
def _depth_into(parent, depth):  # type: ignore[no-untyped-def]
    n = parent.shape[0]
    for i in range(n):
        p = parent[i]
        if p >= 0:
            depth[i] = depth[p] + 1


def _subtree_sum(parent: npt.NDArray[Any], values: npt.NDArray[Any]) -> Any:
    """Σ of ``values[:, j]`` over each node's subtree (node included); ``values`` is (n, k)."""
    out = values.copy()
    _subtree_sum_into(parent, out)
    return out


@kernel
def _subtree_sum_into(parent, out):  # type: ignore[no-untyped-def]
    """:func:`_subtree_sum` in place: ``out`` holds the values and ends with the sums."""
    n, k = out.shape
    for i in range(n - 1, -1, -1):
        p = parent[i]
        if p >= 0:
            for j in range(k):
                out[p, j] += out[i, j]


def _count_children_where(parent: npt.NDArray[Any], flag: npt.NDArray[Any]) -> Any:
    """Number of children with ``flag`` set, per node and per column of ``flag`` (n, k)."""
    out = np.zeros(flag.shape, dtype=np.int32)
    _count_children_into(parent, flag, out)
    return out


@kernel
def _count_children_into(parent, flag, out):  # type: ignore[no-untyped-def]
    n, k = flag.shape
    for i in range(n):
        p = parent[i]
        if p >= 0:
            for j in range(k):
                if flag[i, j]:
                    out[p, j] += 1


def _nearest_ancestor_where(parent: npt.NDArray[Any], flag: npt.NDArray[Any]) -> Any:
    """The nearest proper ancestor with ``flag`` set, or -1 (one forward pass)."""
    out = np.full(parent.shape[0], -1, dtype=np.int64)
    _nearest_ancestor_into(parent, flag, out)
    return out


@kernel
def _nearest_ancestor_into(parent, flag, out):  # type: ignore[no-untyped-def]
    n = parent.shape[0]
    for i in range(n):
        p = parent[i]
        if p >= 0:
            out[i] = p if flag[p] else out[p]
