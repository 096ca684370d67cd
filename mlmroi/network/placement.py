"""The binary placement tree: at most two children per participant (legs L and R), in sponsor-node space.

The placement tree is separate from the sponsor tree (a sponsor may place a recruit deep in a leg:
"spillover"), so it is kept as flat arrays indexed by the sponsor network's nodes rather than relabelled:
``parent``, ``leg`` and ``child`` plus a top-down ``order`` and preorder intervals. Node ``v`` is in the
placement subtree of ``u`` iff ``enter[u] <= enter[v] < leave[u]`` — O(1), which is how a binary plan
finds the leg a personally sponsored participant sits in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mlmroi._numba import kernel
from mlmroi.network import kernels

IntArray = npt.NDArray[np.int64]
LEFT, RIGHT = 0, 1


@kernel
def _intervals(order, parent, child):  # type: ignore[no-untyped-def]
    """Preorder ``enter`` and ``leave`` (enter + subtree size) of every node, left leg before right."""
    n = order.shape[0]
    size = np.ones(n, dtype=np.int64)
    for k in range(n - 1, -1, -1):
        v = order[k]
        if parent[v] >= 0:
            size[parent[v]] += size[v]
    enter = np.empty(n, dtype=np.int64)
    nxt = 0
    for k in range(n):
        v = order[k]
        if parent[v] < 0:  # a placement root: its whole subtree gets the next block of numbers
            enter[v] = nxt
            nxt += size[v]
        left, right = child[v, 0], child[v, 1]
        first = enter[v] + 1
        if left >= 0:
            enter[left] = first
            first += size[left]
        if right >= 0:
            enter[right] = first
    return enter, enter + size


@dataclass(frozen=True, eq=False)
class Placement:
    """A binary placement forest over the sponsor network's nodes.

    Attributes
    ----------
    parent : placement parent's node, -1 for a placement root (someone placed nowhere is a root).
    leg : 0 (L) or 1 (R): which leg of the parent the node sits on; -1 for a root.
    child : (n, 2) the node on each leg, -1 when the leg is empty.
    order : every node, placement parents before their children.
    enter, leave : preorder intervals (see the module docstring).
    """

    parent: IntArray
    leg: npt.NDArray[np.int8]
    child: IntArray
    order: IntArray
    enter: IntArray
    leave: IntArray

    @classmethod
    def build(cls, parent: IntArray, leg: npt.NDArray[np.int8], order: IntArray | None = None) -> Placement:
        """From validated arrays: parents form a forest and each (parent, leg) holds at most one node;
        ``order`` (parents before children) when the caller has one, else breadth-first."""
        parent = np.ascontiguousarray(parent, dtype=np.int64)
        leg = np.ascontiguousarray(leg, dtype=np.int8)
        n = parent.shape[0]
        child = np.full((n, 2), -1, dtype=np.int64)
        placed = np.flatnonzero(parent >= 0)
        child[parent[placed], leg[placed]] = placed
        if int((child >= 0).sum()) != placed.size:
            raise ValueError("two participants on one leg")
        if order is None:
            order, _ = kernels._bfs_order(parent, np.ones(n, dtype=np.bool_))
        if order.shape[0] != n:
            raise ValueError(f"{n - order.shape[0]} participants are not reachable from a placement root")
        enter, leave = _intervals(order, parent, child)
        return cls(parent, leg, child, order, enter, leave)


@kernel
def _placement_nodes(order_code, parent_code, leg_code, node_of_code):  # type: ignore[no-untyped-def]
    """Placement parent and leg per node, and a top-down order of the nodes: by placement depth, then
    node (the sponsor network's breadth-first numbering keeps the tree passes' memory access local)."""
    n = order_code.shape[0]
    depth_code = np.zeros(parent_code.shape[0], dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    leg = np.full(n, -1, dtype=np.int8)
    depth = np.empty(n, dtype=np.int64)
    max_depth = 0
    for k in range(n):
        c = order_code[k]
        v = node_of_code[c]
        p = parent_code[c]
        if p >= 0:
            depth_code[c] = depth_code[p] + 1
            parent[v] = node_of_code[p]
            leg[v] = leg_code[c]
        depth[v] = depth_code[c]
        max_depth = max(max_depth, depth_code[c])
    start = np.zeros(max_depth + 2, dtype=np.int64)
    for v in range(n):
        start[depth[v] + 1] += 1
    for d in range(max_depth + 1):
        start[d + 1] += start[d]
    order = np.empty(n, dtype=np.int64)
    for v in range(n):
        order[start[depth[v]]] = v
        start[depth[v]] += 1
    return parent, leg, order


@kernel
def _leg_holders(parent, leg, joined, ok):  # type: ignore[no-untyped-def]
    """Each ok code's leg holder: among the codes claiming the same (placement parent, leg), the one who
    joined first, then the smallest code; and the holder of each leg, (codes, 2)."""
    n = parent.shape[0]
    holder_of_slot = np.full(2 * n, -1, dtype=np.int64)
    for c in range(n):  # ascending code: a tie on the join day keeps the earlier (smaller) code
        if ok[c]:
            slot = 2 * parent[c] + leg[c]
            h = holder_of_slot[slot]
            if h < 0 or joined[c] < joined[h]:
                holder_of_slot[slot] = c
    holder = np.full(n, -1, dtype=np.int64)
    for c in range(n):
        if ok[c]:
            holder[c] = holder_of_slot[2 * parent[c] + leg[c]]
    return holder, holder_of_slot.reshape((n, 2))


def leg_holders(
    parent: IntArray, leg: npt.NDArray[np.int8], joined: npt.NDArray[np.int32], ok: npt.NDArray[np.bool_]
) -> tuple[IntArray, IntArray]:
    """Which participant holds each claimed leg: among those (``ok``) claiming the same (placement parent,
    leg), the one who joined first, then the smallest code. Returns each code's leg holder (-1 when not
    ok) and the holder of each leg, ``(codes, 2)`` (-1 for an empty leg)."""
    holder, child = _leg_holders(parent, leg, joined, ok)
    return holder, child


def placement_in_node_space(
    order_code: IntArray, parent_code: IntArray, leg_code: npt.NDArray[np.int8], node_of_code: IntArray
) -> Placement:
    """The placement tree over the accepted participants' network nodes, from the relation over codes
    (``order_code``: the accepted codes, placement parents first)."""
    parent, leg, order = _placement_nodes(order_code, parent_code, leg_code, node_of_code)
    return Placement.build(parent, leg, order)
