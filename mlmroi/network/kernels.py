"""Tree kernels over flat arrays.

Conventions (see docs/architecture.md): nodes are numbered in breadth-first order, so ``parent[i] < i`` for
every non-root (``parent[i] == -1`` for a root); a bottom-up pass is a reverse loop and a top-down pass a
forward loop; children of a node are the contiguous range ``child_start[i]:child_start[i + 1]``. Kernels are
private ``@kernel`` workers over plain numpy arrays; public wrappers live in :mod:`mlmroi.network.tree`.
"""

from __future__ import annotations

import numpy as np

from mlmroi._numba import kernel

# Why a participant was not accepted into the tree (codes shared with build.py).
CHAIN_REJECTED_ANCESTOR = 1
CHAIN_IN_CYCLE = 2
CHAIN_UNDER_CYCLE = 3


@kernel
def _bfs_order(parent, ok):  # type: ignore[no-untyped-def]
    """Breadth-first order of the nodes reachable from ok roots through ok nodes.

    ``parent`` holds codes (-1 root); children are visited in ascending code, roots too. Returns
    ``(order, reached)`` where ``order[:count]`` lists reached codes in BFS order.
    """
    n = parent.shape[0]
    counts = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        p = parent[i]
        if p >= 0:
            counts[p + 1] += 1
    starts = np.cumsum(counts)
    fill = starts[:-1].copy()
    children = np.empty(max(starts[n], 1), dtype=np.int64)
    for i in range(n):
        p = parent[i]
        if p >= 0:
            children[fill[p]] = i
            fill[p] += 1
    return _bfs_listed(parent, starts, children, ok)


@kernel
def _bfs_listed(parent, starts, children, ok):  # type: ignore[no-untyped-def]
    """:func:`_bfs_order` when the children are already listed: node ``i``'s are
    ``children[starts[i]:starts[i + 1]]`` (-1 entries are skipped)."""
    n = parent.shape[0]
    order = np.empty(n, dtype=np.int64)
    reached = np.zeros(n, dtype=np.bool_)
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
    return order[:tail], reached


@kernel
def _classify_unreached(parent, ok, reached):  # type: ignore[no-untyped-def]
    """For ok nodes not reached from a root: why not, and which node blocks them.

    ``kind`` is CHAIN_REJECTED_ANCESTOR (``blocker`` = the nearest rejected ancestor), CHAIN_IN_CYCLE or
    CHAIN_UNDER_CYCLE (``blocker`` = the smallest code on the cycle). Each node is walked once.
    """
    n = parent.shape[0]
    kind = np.zeros(n, dtype=np.int8)
    blocker = np.full(n, -1, dtype=np.int64)
    on_path = np.full(n, -1, dtype=np.int64)  # position on the current walk, -1 if not on it
    path = np.empty(n, dtype=np.int64)
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
    return kind, blocker


@kernel
def _depth(parent):  # type: ignore[no-untyped-def]
    n = parent.shape[0]
    depth = np.zeros(n, dtype=np.int32)
    for i in range(n):
        p = parent[i]
        if p >= 0:
            depth[i] = depth[p] + 1
    return depth


@kernel
def _subtree_sum(parent, values):  # type: ignore[no-untyped-def]
    """Σ of ``values[:, j]`` over each node's subtree (node included); ``values`` is (n, k)."""
    out = values.copy()
    n, k = out.shape
    for i in range(n - 1, -1, -1):
        p = parent[i]
        if p >= 0:
            for j in range(k):
                out[p, j] += out[i, j]
    return out


@kernel
def _count_children_where(parent, flag):  # type: ignore[no-untyped-def]
    """Number of children with ``flag`` set, per node and per column of ``flag`` (n, k)."""
    n, k = flag.shape
    out = np.zeros((n, k), dtype=np.int32)
    for i in range(n):
        p = parent[i]
        if p >= 0:
            for j in range(k):
                if flag[i, j]:
                    out[p, j] += 1
    return out


@kernel
def _nearest_ancestor_where(parent, flag):  # type: ignore[no-untyped-def]
    """The nearest proper ancestor with ``flag`` set, or -1 (one forward pass)."""
    n = parent.shape[0]
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        p = parent[i]
        if p >= 0:
            out[i] = p if flag[p] else out[p]
    return out
