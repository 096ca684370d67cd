"""The network: participants relabelled to a dense breadth-first index, as a few flat arrays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, overload

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.network import kernels
from mlmroi.network.placement import Placement

IntArray = npt.NDArray[np.int64]
#: per-participant values: keyed by id in a DataFrame, or a numpy array in node order
Values = pl.DataFrame | npt.NDArray[Any]


@dataclass(frozen=True, eq=False)
class Network:
    """A sponsor forest in breadth-first order.

    Attributes
    ----------
    ids : pl.Series
        Original participant ids; ``ids[i]`` is node ``i``.
    parent : ndarray of int64
        Sponsor's node index, -1 for a root; ``parent[i] < i``.
    depth : ndarray of int32
        Distance from the root (root = 0).
    child_start : ndarray of int64
        Children of ``i`` are nodes ``child_start[i]:child_start[i + 1]`` (length n + 1).
    level_start : ndarray of int64
        Nodes at depth ``d`` are ``level_start[d]:level_start[d + 1]``.
    placement : Placement or None
        The binary placement tree over the same nodes, when the participants table has one.
    """

    ids: pl.Series
    parent: IntArray
    depth: npt.NDArray[np.int32]
    child_start: IntArray
    level_start: IntArray
    placement: Placement | None = None

    @property
    def size(self) -> int:
        """Number of participants."""
        return int(self.parent.shape[0])

    @property
    def roots(self) -> IntArray:
        """Node indices of the roots (ascending)."""
        return np.flatnonzero(self.parent < 0).astype(np.int64)

    @property
    def root_of(self) -> IntArray:
        """Each node's root (one forward pass)."""
        root = np.arange(self.size, dtype=np.int64)
        has_parent = self.parent >= 0
        for lo, hi in zip(self.level_start[1:-1], self.level_start[2:], strict=True):
            sl = slice(int(lo), int(hi))
            root[sl] = root[self.parent[sl]]
        root[~has_parent] = np.flatnonzero(~has_parent)
        return root

    def frontline(self) -> npt.NDArray[np.int32]:
        """Personally sponsored participants per node."""
        return np.diff(self.child_start).astype(np.int32)

    def downline_size(self) -> IntArray:
        """All descendants per node."""
        ones = np.ones((self.size, 1), dtype=np.int64)
        return kernels._subtree_sum(self.parent, ones)[:, 0] - 1  # type: ignore[no-any-return]

    def subtree_sum(self, values: Values) -> Any:
        """Σ of ``values`` over each subtree, self included.

        ``values``: a polars DataFrame with ``participant_id`` and value columns, matched by id (every
        participant exactly once, any row order; the result is a frame in the same row order with the
        sums in place of the values), or a numpy array (n,) or (n, k) in **node order** (row ``i`` is
        participant ``ids[i]``; the result likewise). A list or a Series carries no ids and its order cannot
        be told from node order: it is refused (ValueError), never silently misread.
        """
        array, restore = self._in_node_order(values)
        if array.ndim == 1:
            return restore(kernels._subtree_sum(self.parent, array[:, None])[:, 0])
        return restore(kernels._subtree_sum(self.parent, array))

    def group_volume(self, personal_volume: Values) -> Any:
        """GV: personal volume summed over each subtree, self included; ``personal_volume`` keyed by
        ``participant_id`` in a DataFrame, or a node-order numpy array (see :meth:`subtree_sum`)."""
        return self.subtree_sum(personal_volume)

    def _in_node_order(
        self, values: Values, *, flags: bool = False, one: bool = False
    ) -> tuple[npt.NDArray[Any], Callable[..., Any]]:
        """``values`` as a contiguous node-order array of n rows, and ``restore(out, as_ids=None)``, which
        gives a node-order result back in their form: an array as it is; for a DataFrame, a frame in its
        row order with ``participant_id`` and the result in place of the value columns, or, with
        ``as_ids=NAME``, ``out`` read as node indices (-1 for none) and given as one column NAME of
        participant ids (null for none). ``flags``: the values are booleans (a frame's value columns must be
        Boolean without nulls); ``one``: a single value column (an array must be 1-D)."""
        if isinstance(values, np.ndarray):
            array = np.ascontiguousarray(values, dtype=np.bool_ if flags else None)
            if array.ndim != 1 and (one or array.ndim != 2):
                shape = "(n,)" if one else "(n,) or (n, k)"
                raise ValueError(f"values: a numpy array in node order must be {shape}, not {array.shape}")
            if array.shape[0] != self.size:
                raise ValueError(f"values has {array.shape[0]} rows, network has {self.size} nodes")
            return array, lambda out, as_ids=None: out
        if isinstance(values, pl.DataFrame):
            columns = [c for c in values.columns if c != "participant_id"]
            if "participant_id" not in values.columns or not columns or (one and len(columns) > 1):
                count = "exactly one" if one else "at least one"
                raise ValueError(f"values: a DataFrame needs participant_id and {count} value column")
            if flags and any(values[c].dtype != pl.Boolean or values[c].null_count() for c in columns):
                raise ValueError(
                    "values: flag columns must be Boolean without nulls ("
                    + ", ".join(f"{c}: {values[c].dtype}" for c in columns)
                    + ")"
                )
            given = values["participant_id"]
            node = self.nodes_of(given)
            found = values.select(columns).to_numpy()
            array = np.empty((self.size, len(columns)), dtype=found.dtype)
            array[node] = found
            if one:
                array = array[:, 0]

            def restore(out: npt.NDArray[Any], as_ids: str | None = None) -> pl.DataFrame:
                rows = out[node]
                if as_ids is not None:
                    index = pl.Series(rows).set(pl.Series(rows < 0), None)
                    return pl.DataFrame([given, self.ids.gather(index).alias(as_ids)])
                rows = rows if rows.ndim > 1 else rows[:, None]
                return pl.DataFrame([given] + [pl.Series(c, rows[:, j]) for j, c in enumerate(columns)])

            return np.ascontiguousarray(array), restore
        raise ValueError(
            f"values: a {type(values).__name__} has no participant ids, and its order cannot be told from "
            "the network's node order; pass a DataFrame with participant_id, or a numpy array in node order "
            "(network.ids)"
        )

    def nodes_of(self, participant_ids: pl.Series) -> IntArray:
        """The node of each id; every participant exactly once (a ValueError names what is missing,
        repeated or unknown)."""
        frame = pl.DataFrame({"participant_id": self.ids, "node": np.arange(self.size, dtype=np.int64)})
        given = pl.DataFrame({"participant_id": participant_ids.cast(self.ids.dtype, strict=False)})
        if (
            given["participant_id"].null_count() > participant_ids.null_count()
            or given.height != given["participant_id"].n_unique()
        ):
            raise ValueError("values: participant_id repeats or does not match the network's ids")
        joined = given.join(frame, on="participant_id", how="left", maintain_order="left")
        unknown = joined.filter(pl.col("node").is_null())["participant_id"]
        if unknown.len() or given.height != self.size:
            what = (
                f"unknown ids such as {unknown[0]!r}"
                if unknown.len()
                else f"{given.height} of {self.size} ids"
            )
            raise ValueError(f"values: every participant exactly once is needed ({what})")
        nodes: IntArray = joined["node"].to_numpy().astype(np.int64)
        return nodes

    @overload
    def count_children_where(self, flag: pl.DataFrame) -> pl.DataFrame: ...
    @overload
    def count_children_where(self, flag: npt.NDArray[Any]) -> npt.NDArray[np.int32]: ...
    def count_children_where(self, flag: Values) -> pl.DataFrame | npt.NDArray[np.int32]:
        """Children with the flag set, per participant (e.g. the active frontline).

        ``flag``: a polars DataFrame with ``participant_id`` and Boolean flag columns (no nulls), matched
        by id (every participant exactly once, any row order; the result is a frame in the same row order
        with the counts, int32, in place of the flags), or a bool numpy array (n,) or (n, k) in **node
        order** (the result likewise). A list or a Series is refused, as in :meth:`subtree_sum`.
        """
        array, restore = self._in_node_order(flag, flags=True)
        counts = kernels._count_children_where(self.parent, array if array.ndim == 2 else array[:, None])
        result: pl.DataFrame | npt.NDArray[np.int32] = restore(counts if array.ndim == 2 else counts[:, 0])
        return result

    @overload
    def nearest_ancestor_where(self, flag: pl.DataFrame) -> pl.DataFrame: ...
    @overload
    def nearest_ancestor_where(self, flag: npt.NDArray[Any]) -> IntArray: ...
    def nearest_ancestor_where(self, flag: Values) -> pl.DataFrame | IntArray:
        """The nearest proper ancestor (sponsor, their sponsor, …) with the flag set, per participant.

        ``flag``: a polars DataFrame with ``participant_id`` and one Boolean column (no nulls), matched by
        id (every participant exactly once, any row order); the result is a frame in the same row order
        with ``participant_id`` and ``ancestor_id``, the ancestor's participant id, null when no ancestor
        has the flag (roots included). Or a bool numpy array (n,) in **node order**; the result is then the
        ancestor's node index, -1 for none. A list or a Series is refused, as in :meth:`subtree_sum`.
        """
        array, restore = self._in_node_order(flag, flags=True, one=True)
        result: pl.DataFrame | IntArray = restore(
            kernels._nearest_ancestor_where(self.parent, array), as_ids="ancestor_id"
        )
        return result

    def to_networkx(self) -> Any:
        """The forest as a ``networkx.DiGraph`` with edges sponsor → recruit, nodes named by original id."""
        import networkx as nx

        graph = nx.DiGraph()
        ids = self.ids.to_list()
        graph.add_nodes_from(ids)
        child = np.flatnonzero(self.parent >= 0)
        graph.add_edges_from(zip([ids[p] for p in self.parent[child]], [ids[c] for c in child], strict=True))
        return graph


def from_parent_codes(
    ids: pl.Series, parent_code: IntArray, order: IntArray | None = None
) -> tuple[Network, IntArray]:
    """Build a :class:`Network` from parents given as positions into ``ids`` (-1 for a root).

    Every node must be reachable from a root (callers validate first). ``order`` is the breadth-first
    order of the positions (roots and children in ascending position) when the caller already has it.
    Returns the network and ``node_of_code`` (position in ``ids`` -> node index).
    """
    parent_code = np.ascontiguousarray(parent_code, dtype=np.int64)
    n = parent_code.shape[0]
    if order is None:
        order, _ = kernels._bfs_order(parent_code, np.ones(n, dtype=np.bool_))
    if order.shape[0] != n:
        raise ValueError(f"{n - order.shape[0]} participants are not reachable from a root")
    node_of_code = np.empty(n, dtype=np.int64)
    node_of_code[order] = np.arange(n, dtype=np.int64)
    parent = np.where(parent_code[order] >= 0, node_of_code[np.maximum(parent_code[order], 0)], -1)
    parent = parent.astype(np.int64)
    depth = kernels._depth(parent)
    counts = np.bincount(parent[parent >= 0], minlength=n)
    # In BFS order, children of consecutive parents are consecutive; roots come first.
    n_roots = int((parent < 0).sum())
    child_start = np.empty(n + 1, dtype=np.int64)
    child_start[0] = n_roots
    np.cumsum(counts, out=child_start[1:])
    child_start[1:] += n_roots
    max_depth = int(depth.max()) if n else -1
    level_start = np.searchsorted(depth, np.arange(max_depth + 2)).astype(np.int64)
    network = Network(
        ids=ids.gather(pl.Series(order)),
        parent=parent,
        depth=depth,
        child_start=child_start,
        level_start=level_start,
    )
    return network, node_of_code


def from_edges(participant_ids: list[Any] | pl.Series, sponsor_ids: list[Any] | pl.Series) -> Network:
    """Build a :class:`Network` from clean id lists (``None`` sponsor = root); for tests and interop.

    Raises ``ValueError`` on unknown sponsors or cycles; datasets go through :func:`mlmroi.io.load`,
    which turns such rows into rejects instead.
    """
    ids = pl.Series("participant_id", participant_ids)
    sponsors = pl.Series("sponsor_id", sponsor_ids, dtype=ids.dtype)
    if ids.n_unique() != ids.len():
        raise ValueError("participant ids are not unique")
    sort = ids.arg_sort()
    ids_sorted = ids.gather(sort)
    code_of_id = dict(zip(ids_sorted.to_list(), range(ids.len()), strict=True))
    sponsors_sorted = sponsors.gather(sort).to_list()
    parent_code = np.empty(ids.len(), dtype=np.int64)
    for code, sponsor in enumerate(sponsors_sorted):
        if sponsor is None:
            parent_code[code] = -1
        elif sponsor in code_of_id:
            parent_code[code] = code_of_id[sponsor]
        else:
            raise ValueError(f"sponsor {sponsor!r} is not a participant")
    return from_parent_codes(ids_sorted, parent_code)[0]


def with_placement(network: Network, placed: dict[Any, tuple[Any, str]]) -> Network:
    """``network`` with a binary placement tree: ``{participant: (placement parent, "L" | "R")}``.

    Participants not in ``placed`` are placement roots. For tests and interop; datasets go through
    :func:`mlmroi.io.load`, which turns bad placements into rejects. Raises ``ValueError``.
    """
    node_of = {pid: node for node, pid in enumerate(network.ids.to_list())}
    parent = np.full(network.size, -1, dtype=np.int64)
    leg = np.full(network.size, -1, dtype=np.int8)
    for pid, (upline, side) in placed.items():
        if pid not in node_of or upline not in node_of:
            raise ValueError(f"placement {pid!r} under {upline!r}: not a participant")
        parent[node_of[pid]] = node_of[upline]
        leg[node_of[pid]] = "LR".index(side)
    return replace(network, placement=Placement.build(parent, leg))
