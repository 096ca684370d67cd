"""Read and validate a dataset folder: accepted rows keyed by network node, and rejects for the rest.

Flow: read and map columns (structural problems stop the run) → parse cells (bad cells become rejects) →
participants: duplicates, self-sponsorship, missing sponsors, then the sponsor chains (cycles and rejected
ancestors) → build the :class:`~mlmroi.network.Network` → orders, costs, paid commissions and events keyed
by node; rows of rejected participants follow them into ``rejects`` → leads (prospects, keyed by their own
``lead_id``). Every input row is either used or rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel
from mlmroi.config import Config
from mlmroi.io import parse
from mlmroi.io.read import ROW, RawTable, read_table
from mlmroi.io.rejects import Rejects
from mlmroi.network import Network, Placement, from_parent_codes
from mlmroi.network import kernels as tree_kernels

IntArray = npt.NDArray[np.int64]
Orphans = Literal["reject", "root"]
TableName = Literal["participants", "orders", "costs", "commissions", "events", "leads"]
TABLE_NAMES: tuple[TableName, ...] = ("participants", "orders", "costs", "commissions", "events", "leads")
_CHAIN_SHOWN = 6  # ids shown in a chain before an ellipsis


@dataclass(frozen=True, eq=False)
class Attributes:
    """Participant columns as read (text for CSV) in input row order; node ``i`` is row ``rows_by_node[i]``.

    Shared-cost filters (``filter_column = filter_value``) compare against these, so any participants
    column can select: ``region``, ``channel``, ``role``, …
    """

    frame: pl.DataFrame
    rows_by_node: IntArray

    @property
    def names(self) -> list[str]:
        """The attribute column names."""
        return self.frame.columns

    def released(self) -> Attributes:
        """An empty copy (frees the columns once cost filters have been applied)."""
        return Attributes(self.frame.clear(), self.rows_by_node[:0].copy())

    def equals(self, column: str, value: str) -> npt.NDArray[np.bool_]:
        """Per node: does ``column`` hold ``value`` (compared as text)?"""
        match = (self.frame[column].cast(pl.String) == value).fill_null(False).to_numpy()
        out: npt.NDArray[np.bool_] = match[self.rows_by_node]
        return out


@dataclass(frozen=True, eq=False)
class Dataset:
    """Validated tables keyed by network node (``node`` column), plus rejects and row counts."""

    network: Network
    participants: pl.DataFrame  # accepted, in node order: the contract's columns
    attributes: Attributes  # every participant column as read, for filters (region, channel, …)
    orders: tuple[
        pl.DataFrame, ...
    ]  # used order rows, one frame per chunk read (node, ordered_on, amount, …)
    costs: pl.DataFrame | None
    paid: (
        pl.DataFrame | None
    )  # the commissions table (what was actually paid): node, paid_on, amount, component
    rejects: Rejects
    rows_in: dict[str, int]
    files: dict[str, Path]
    orphans_rooted: int
    id_order: IntArray  # nodes sorted by participant_id (output row order)
    # Optional tables for the segments (SPEC §6), ``None`` when the dataset has none:
    events: pl.DataFrame | None = None  # node (Int64), occurred_on (Date), type (String), value (Float64)
    leads: pl.DataFrame | None = None  # lead_id (Int64 or String), brand, attractiveness, closeness (Int8)

    @cached_property
    def id_rank(self) -> IntArray:
        """Each node's position in participant-id order (output row order; ties in caps); computed once."""
        rank = np.empty(self.network.size, dtype=np.int64)
        rank[self.id_order] = np.arange(self.network.size, dtype=np.int64)
        return rank

    @cached_property
    def joined_day(self) -> IntArray:
        """Each node's join date as days since 1970-01-01 (fast start, CLV, recruits in the window)."""
        days: IntArray = self.participants["joined_on"].cast(pl.Int32).to_numpy().astype(np.int64)
        return days

    def rows(self) -> dict[str, dict[str, int]]:
        """``in``, ``used`` and ``rejected`` rows per table (``in = used + rejected``)."""
        out = {}
        rejected_by_table = self.rejects.rows_rejected()
        for table, count in self.rows_in.items():
            rejected = rejected_by_table.get(table, 0)
            out[table] = {"in": count, "used": count - rejected, "rejected": rejected}
        return out


@kernel
def _table_lookup(keys, table, lo):  # type: ignore[no-untyped-def]
    out = np.empty(keys.shape[0], dtype=np.int64)
    size = table.shape[0]
    for i in range(keys.shape[0]):
        k = keys[i] - lo
        out[i] = table[k] if 0 <= k < size else -1
    return out


class _IdLookup:
    """Original id -> position among the sorted distinct ids (-1 when unknown)."""

    def __init__(self, sorted_ids: pl.Series) -> None:
        self.ids = sorted_ids
        self._table: IntArray | None = None
        self._node_table: IntArray | None = None
        if sorted_ids.dtype == pl.Int64 and sorted_ids.len():
            lo, hi = int(sorted_ids[0]), int(sorted_ids[-1])
            if hi - lo < 4 * sorted_ids.len() + 1024:  # dense integer ids: a direct table beats hashing
                self._lo = lo
                self._table = np.full(hi - lo + 1, -1, dtype=np.int64)
                self._table[sorted_ids.to_numpy() - lo] = np.arange(sorted_ids.len(), dtype=np.int64)

    def codes(self, keys: pl.Series) -> IntArray:
        if self._table is not None and keys.dtype == pl.Int64:
            out: IntArray = _table_lookup(keys.fill_null(self._lo - 1).to_numpy(), self._table, self._lo)
            return out
        mapping = pl.Series("code", np.arange(self.ids.len(), dtype=np.int64))
        return (
            keys.cast(self.ids.dtype)
            .replace_strict(self.ids, mapping, default=-1)
            .to_numpy()
            .astype(np.int64)
        )

    def nodes(self, keys: pl.Series, node_of_code: IntArray) -> IntArray:
        """Network node of each key: -1 unknown id, -2 a known but rejected participant (one pass)."""
        if node_of_code.size == 0:
            return np.full(keys.len(), -1, dtype=np.int64)
        known_node = np.where(node_of_code >= 0, node_of_code, -2)
        if self._table is not None and keys.dtype == pl.Int64:
            if self._node_table is None:
                self._node_table = np.where(self._table >= 0, known_node[np.maximum(self._table, 0)], -1)
            out: IntArray = _table_lookup(keys.fill_null(self._lo - 1).to_numpy(), self._node_table, self._lo)
            return out
        code = self.codes(keys)
        return np.where(code >= 0, known_node[np.maximum(code, 0)], -1).astype(np.int64)


class _Checks:
    """Row checks on one table (or slice): a failed check adds reject lines and marks its rows bad."""

    def __init__(self, table: str, label: str, frame: pl.DataFrame, rejects: Rejects) -> None:
        self.table, self.label, self.frame, self.rejects = table, label, frame, rejects
        self.bad = pl.Series([False]).new_from_index(0, frame.height)

    def reject(self, mask: pl.Series, column: str, reason: str | pl.Series) -> None:
        self.rejects.add_masked(self.table, self.frame, mask, column, reason)
        self.bad = self.bad | mask

    def reject_rows(self, rows: IntArray, column: str, reasons: list[str]) -> None:
        """Reject the rows at positions ``rows``, each with its own reason."""
        picked = pl.Series(rows)
        self.rejects.add(
            self.table,
            self.frame[ROW].gather(picked),
            column,
            self.frame[column].gather(picked),
            pl.Series(reasons),
        )
        mask = np.zeros(self.frame.height, dtype=bool)
        mask[rows] = True
        self.bad = self.bad | pl.Series(mask)

    def date(self, column: str, required: bool = True) -> pl.Series:
        values, bad = parse.parse_date(self.label, self.frame[column])
        if required:
            self.reject(self.frame[column].is_null(), column, f"missing {column}")
        self.reject(bad, column, "bad date (expected YYYY-MM-DD)")
        return values

    def number(self, column: str, required: bool = True) -> pl.Series:
        values, bad = parse.parse_number(self.label, self.frame[column])
        if required:
            self.reject(self.frame[column].is_null(), column, f"missing {column}")
        self.reject(bad, column, f"non-numeric {column}")
        return values


def _chain(ids: list[object], parent: IntArray, start: int, stop: int) -> str:
    """``a → b → … → stop`` along sponsors, shortened in the middle when long."""
    hops = [start]
    node = start
    while node >= 0 and len(hops) <= 10_000:
        node = int(parent[node])
        hops.append(node)
        if node in (stop, start):
            break
    names = [str(ids[h]) for h in hops]
    if len(names) > _CHAIN_SHOWN:
        names = [*names[: _CHAIN_SHOWN - 2], "…", *names[-2:]]
    return " → ".join(names)


@dataclass(frozen=True, eq=False)
class _Tree:
    """A parent relation over the id codes whose chains must reach a root (sponsor or placement)."""

    name: str
    column: str
    parent_code: IntArray
    leg: npt.NDArray[np.int8] | None = None  # placement only: 0 = L, 1 = R
    child: IntArray | None = None  # placement only: (codes, 2) the holder of each leg, -1 for none

    def bfs(self, ok: npt.NDArray[np.bool_]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        """Breadth-first order of the codes reached from ok roots through ok codes, and the reached mask."""
        if self.child is not None:  # the leg holders are the children, two slots each: no lists to build
            starts = np.arange(0, 2 * self.child.shape[0] + 1, 2, dtype=np.int64)
            listed: tuple[IntArray, npt.NDArray[np.bool_]]
            listed = tree_kernels._bfs_listed(self.parent_code, starts, self.child.reshape(-1), ok)
            return listed
        return tree_kernels._bfs_order(self.parent_code, ok)  # type: ignore[no-any-return]

    def in_node_space(self, order_code: IntArray, node_of_code: IntArray) -> Placement:
        """The placement tree over the accepted participants' network nodes (``order_code``: the accepted
        codes, placement parents first)."""
        assert self.leg is not None
        parent, leg, order = _placement_nodes(order_code, self.parent_code, self.leg, node_of_code)
        return Placement.build(parent, leg, order)


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


def _placement_checks(
    frame: pl.DataFrame,
    checks: _Checks,
    pid: pl.Series,
    joined: pl.Series,
    kind: pl.DataType,
    u_rows: IntArray,
    lookup: _IdLookup,
) -> _Tree | None:
    """Row checks of ``placement_id``/``placement_leg`` (binary plans); None when the table has neither.

    A placement parent must be a participant, and each leg holds one participant: when several claim the
    same leg, the one who joined first keeps it (then the smaller id) and the others are rejected.
    """
    if "placement_id" not in frame.columns and "placement_leg" not in frame.columns:
        return None
    if "placement_id" not in frame.columns or "placement_leg" not in frame.columns:
        from mlmroi.errors import InputError

        raise InputError(f"{checks.label}: placement_id and placement_leg must be given together")
    reject = checks.reject
    plid, plid_bad = parse.parse_id(frame["placement_id"], kind)
    leg, leg_given = parse.parse_leg(frame["placement_leg"])
    given = plid.is_not_null() | plid_bad
    reject(leg_given & leg.is_null(), "placement_leg", "bad placement_leg (expected L or R)")
    reject(given & ~leg_given, "placement_leg", "missing placement_leg (placement_id is given)")
    reject(~given & leg_given, "placement_id", "placement_leg given without placement_id")
    reject(
        (plid == pid).fill_null(False), "placement_id", "self-placement (placement_id equals participant_id)"
    )
    code = lookup.codes(plid.gather(u_rows))
    u_given = given.gather(u_rows).to_numpy()
    missing = u_given & (code < 0)
    if missing.any():
        mask = np.zeros(frame.height, dtype=bool)
        mask[u_rows[missing]] = True
        reason = "placement parent " + frame["placement_id"].cast(pl.String).fill_null("") + " does not exist"
        reject(pl.Series(mask), "placement_id", reason)
    u_leg = leg.gather(u_rows).fill_null(-1).to_numpy().astype(np.int8)
    ok = ~checks.bad.gather(u_rows).to_numpy() & (code >= 0)
    join_day = joined.gather(u_rows).cast(pl.Int32).fill_null(np.iinfo(np.int32).max).to_numpy()
    holder, child = _leg_holders(code, u_leg, join_day, ok)
    losers = np.flatnonzero(ok & (holder != np.arange(code.size)))
    if losers.size:
        ids = lookup.ids
        winners = holder[losers]
        first = join_day[winners] < join_day[losers]
        reasons = [
            f"leg {'LR'[side]} of {ids[parent]} is already taken by {ids[w]} "
            + ("(who joined first)" if earlier else "(same join day, smaller id)")
            for side, parent, w, earlier in zip(
                u_leg[losers].tolist(), code[losers].tolist(), winners.tolist(), first.tolist(), strict=True
            )
        ]
        checks.reject_rows(u_rows[losers], "placement_leg", reasons)
    parent = np.where(u_given & (code >= 0), code, -1).astype(np.int64)
    return _Tree("placement", "placement_id", parent, u_leg, child)


def _reach(
    trees: list[_Tree],
    ok: npt.NDArray[np.bool_],
    frame: pl.DataFrame,
    u_rows: IntArray,
    lookup: _IdLookup,
    rejects: Rejects,
) -> tuple[npt.NDArray[np.bool_], list[IntArray]]:
    """Which id codes are accepted: their row is good and every chain (sponsor, placement) reaches a root
    through accepted participants. The others are rejected with the chain named; repeated until stable,
    because a participant rejected for one tree breaks chains in the other. Also returns each tree's
    breadth-first order of the accepted codes (what building the trees needs next)."""
    ids_list: list[object] | None = None
    row_of = frame[ROW].to_numpy()
    while True:
        accepted = ok.copy()
        orders = []
        for tree in trees:
            order, reached = tree.bfs(ok)
            orders.append(order)
            kinds, blockers = tree_kernels._classify_unreached(tree.parent_code, ok, reached)
            broken = np.flatnonzero((kinds != 0) & accepted)  # one reason per participant
            accepted &= reached
            if not broken.size:
                continue
            ids_list = ids_list if ids_list is not None else lookup.ids.to_list()
            reasons = [
                _chain_reason(tree, ids_list, kinds, blockers, int(code), row_of[u_rows[blockers[code]]])
                for code in broken
            ]
            rows = pl.Series(row_of[u_rows[broken]])
            rejects.add(
                "participants",
                rows,
                tree.column,
                frame[tree.column].gather(u_rows[broken]),
                pl.Series(reasons),
            )
        if (accepted == ok).all():
            return accepted, orders
        ok = accepted


def _chain_reason(
    tree: _Tree,
    ids: list[object],
    kinds: npt.NDArray[np.int8],
    blockers: IntArray,
    code: int,
    blocker_row: int,
) -> str:
    parent, b = tree.parent_code, int(blockers[code])
    if kinds[code] == tree_kernels.CHAIN_REJECTED_ANCESTOR:
        return (
            f"{tree.name} chain broken: {_chain(ids, parent, code, b)} reaches "
            f"rejected participant {ids[b]} (row {blocker_row})"
        )
    if kinds[code] == tree_kernels.CHAIN_IN_CYCLE:
        return f"{tree.name} cycle: {_chain(ids, parent, code, code)}"
    entry = code
    while kinds[entry] != tree_kernels.CHAIN_IN_CYCLE:
        entry = int(parent[entry])
    return (
        f"{tree.name} chain broken: {_chain(ids, parent, code, entry)} reaches "
        f"{tree.name} cycle {_chain(ids, parent, entry, entry)}"
    )


def _participants(
    raw: RawTable, rejects: Rejects, orphans: Orphans, placement_used: bool
) -> tuple[Network, pl.DataFrame, Attributes, _IdLookup, IntArray, dict[int, int], int]:
    frame, label, table = raw.frame(), raw.label, "participants"
    kind = parse.id_kind(frame["participant_id"])
    pid, _ = parse.parse_id(frame["participant_id"], kind)
    sid, sid_bad = parse.parse_id(frame["sponsor_id"], kind)
    checks = _Checks(table, label, frame, rejects)
    reject = checks.reject
    reject(pid.is_null(), "participant_id", "missing participant_id")
    first = pid.is_first_distinct() | pid.is_null()
    if not bool(first.all()):
        first_row = frame.select(pl.col(ROW).first().over(pid).alias("r"))["r"]
        reason = "duplicate participant_id (first at row " + first_row.cast(pl.String) + ")"
        reject(~first, "participant_id", reason)
    cols: dict[str, pl.Series] = {
        "participant_id": pid,
        "sponsor_id": sid,
        "joined_on": checks.date("joined_on"),
    }
    if "role" in frame.columns:
        role, role_bad = parse.parse_choice(frame["role"], ("distributor", "customer"), "distributor")
        reject(role_bad, "role", "bad role (expected distributor or customer)")
    else:
        role = pl.Series("role", ["distributor"] * frame.height, dtype=pl.String)
    cols["role"] = role.alias("role")
    if "left_on" in frame.columns:
        cols["left_on"] = checks.date("left_on", required=False)
    reject((sid == pid).fill_null(False), "sponsor_id", "self-sponsorship (sponsor_id equals participant_id)")

    # The id universe: first occurrence of every non-null id, sorted; sponsors are looked up in it.
    universe = pid.is_not_null() & first
    u_rows = np.flatnonzero(universe.to_numpy())
    u_ids = pid.gather(u_rows)
    u_sort = u_ids.arg_sort().to_numpy()
    u_rows = u_rows[u_sort]
    lookup = _IdLookup(u_ids.gather(u_sort))
    sponsor_code = lookup.codes(sid.gather(u_rows))
    sponsor_given = (sid.gather(u_rows).is_not_null() | sid_bad.gather(u_rows)).to_numpy()
    missing = sponsor_given & (sponsor_code < 0)
    orphans_rooted = 0
    if orphans == "root":
        orphans_rooted = int((missing & ~checks.bad.gather(u_rows).to_numpy()).sum())
    elif missing.any():
        miss_mask = np.zeros(frame.height, dtype=bool)
        miss_mask[u_rows[missing]] = True
        reason = (
            "sponsor "
            + frame["sponsor_id"].cast(pl.String).fill_null("")
            + " does not exist (use --orphans root to make such participants roots)"
        )
        reject(pl.Series(miss_mask), "sponsor_id", reason)
    parent_code = np.where(sponsor_given & ~missing, sponsor_code, -1).astype(np.int64)
    trees = [_Tree("sponsor", "sponsor_id", parent_code)]
    placement = (
        _placement_checks(frame, checks, pid, cols["joined_on"], kind, u_rows, lookup)
        if placement_used
        else None
    )
    if placement is not None:
        trees.append(placement)
    reached, orders = _reach(trees, ~checks.bad.gather(u_rows).to_numpy(), frame, u_rows, lookup, rejects)

    # Accepted participants, relabelled to breadth-first nodes.
    accepted_codes = np.flatnonzero(reached)
    sub_of_code = np.full(parent_code.shape[0], -1, dtype=np.int64)
    sub_of_code[accepted_codes] = np.arange(accepted_codes.size, dtype=np.int64)
    sub_parent = np.where(
        parent_code[accepted_codes] >= 0, sub_of_code[np.maximum(parent_code[accepted_codes], 0)], -1
    )
    network, node_of_sub = from_parent_codes(
        lookup.ids.gather(accepted_codes), sub_parent.astype(np.int64), order=sub_of_code[orders[0]]
    )
    node_of_code = np.full(parent_code.shape[0], -1, dtype=np.int64)
    node_of_code[accepted_codes] = node_of_sub
    if placement is not None:
        network = replace(network, placement=placement.in_node_space(orders[1], node_of_code))
    rows_by_node = np.empty(accepted_codes.size, dtype=np.int64)
    rows_by_node[node_of_sub] = u_rows[accepted_codes]
    # Only the parsed columns are reordered into node order; the columns as read (often text) stay in
    # input order and are reached through ``rows_by_node`` when a cost filter needs them.
    accepted = pl.DataFrame(cols).with_columns(frame[ROW]).gather(rows_by_node)
    accepted = accepted.with_columns(pl.Series("node", np.arange(accepted.height, dtype=np.int64)))
    attributes = Attributes(frame.drop(ROW), rows_by_node)
    # Rejected participants' first rows, for the cascade reasons of orders and costs.
    rejected_codes = np.flatnonzero(~reached)
    rejected_row = dict(
        zip(rejected_codes.tolist(), frame[ROW].to_numpy()[u_rows[rejected_codes]].tolist(), strict=True)
    )
    return network, accepted, attributes, lookup, node_of_code, rejected_row, orphans_rooted


@dataclass(frozen=True, eq=False)
class _Owners:
    """What the tables after participants need to key their rows by node (and reject the rest)."""

    lookup: _IdLookup
    node_of_code: IntArray
    rejected_row: dict[int, int]  # code of a rejected participant -> their participants row
    rejects: Rejects
    decimals: int

    @property
    def kind(self) -> pl.DataType:
        """The dataset's id type."""
        return self.lookup.ids.dtype


def _owner(frame: pl.DataFrame, table: str, owners: _Owners, required: bool) -> tuple[IntArray, pl.Series]:
    """Node of each row's participant (-1 for none) and the mask of rows rejected for it."""
    lookup, rejects, rejected_row = owners.lookup, owners.rejects, owners.rejected_row
    pid, pid_bad = parse.parse_id(frame["participant_id"], owners.kind)
    node = lookup.nodes(pid, owners.node_of_code)
    if bool(pid_bad.any()):
        node[pid_bad.to_numpy()] = -1
    given = pid.is_not_null() | pid_bad
    unknown = given & pl.Series(node == -1)
    cascade = pl.Series(node == -2)
    bad = unknown | cascade
    if required:
        rejects.add_masked(table, frame, ~given, "participant_id", "missing participant_id")
        bad = bad | ~given
    rejects.add_masked(
        table, frame, unknown, "participant_id", "unknown participant_id (not in participants)"
    )
    if bool(cascade.any()):
        codes = lookup.codes(pid.filter(cascade))
        reasons = pl.Series(
            [f"participant is rejected (see participants row {rejected_row[int(c)]})" for c in codes]
        )
        rejects.add(
            table,
            frame.filter(cascade)[ROW],
            "participant_id",
            frame.filter(cascade)["participant_id"],
            reasons,
        )
    return node, bad


@kernel
def _round_to_minor(values, scale):  # type: ignore[no-untyped-def]
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = np.rint(values[i] * scale)  # half-to-even
    return out


def _money(values: pl.Series, decimals: int) -> pl.Series:
    """Amounts to integer minor units, rounded half-to-even; nulls stay null."""
    minor = pl.Series(values.name, _round_to_minor(values.fill_null(0.0).to_numpy(), float(10**decimals)))
    return minor.set(values.is_null(), None) if values.null_count() else minor


def _order_chunk(
    frame: pl.DataFrame,
    label: str,
    owners: _Owners,
) -> pl.DataFrame:
    """Parse one slice of the orders table; its bad rows go to rejects, the rest come back compact."""
    checks = _Checks("orders", label, frame, owners.rejects)
    node, checks.bad = _owner(frame, "orders", owners, required=True)
    reject = checks.reject
    ordered_on = checks.date("ordered_on")
    out = {
        "node": pl.Series(node),
        "ordered_on": ordered_on,
        "amount": _money(checks.number("amount"), owners.decimals),
    }
    if "volume" in frame.columns:
        volume = _money(checks.number("volume", required=False), owners.decimals)
        out["volume"] = volume.fill_null(out["amount"])
    else:
        out["volume"] = out["amount"]
    if "cost" in frame.columns:
        out["cost"] = _money(checks.number("cost", required=False), owners.decimals)
    else:
        out["cost"] = pl.Series([None] * frame.height, dtype=pl.Int64)
    if "retail" in frame.columns:
        retail, retail_bad = parse.parse_bool(label, frame["retail"])
        reject(retail_bad, "retail", "bad retail flag (expected true or false)")
        out["retail"] = retail.fill_null(False)
    else:
        out["retail"] = pl.Series([False] * frame.height, dtype=pl.Boolean)
    used = pl.DataFrame({k: v.alias(k) for k, v in out.items()}).with_columns(frame[ROW])
    return used.filter(~checks.bad) if bool(checks.bad.any()) else used  # no copy when every row is good


def _order_ids(frame: pl.DataFrame) -> pl.Series:
    raw = frame["order_id"]
    return raw if raw.dtype.is_integer() else parse.parse_text(raw.cast(pl.String))


def _orders(
    raw: RawTable,
    owners: _Owners,
) -> tuple[pl.DataFrame, ...]:
    """The orders table, streamed chunk by chunk (see :meth:`RawTable.chunks`): used rows per chunk
    (node, ordered_on, amount, volume, cost, retail).

    Repeated ``order_id`` values are found without hashing when the ids strictly increase through the file
    (the usual export); otherwise the ids are read once more and checked as a whole.
    """
    chunks: list[pl.DataFrame] = []
    increasing = "order_id" in raw.columns
    last: int | None = None
    for frame in raw.chunks():
        chunks.append(_order_chunk(frame, raw.label, owners))
        if increasing and frame.height:
            oid = _order_ids(frame)
            values = oid.to_numpy() if oid.dtype.is_integer() and oid.null_count() == 0 else None
            increasing = values is not None and bool((np.diff(values) > 0).all())
            increasing = increasing and (last is None or int(values[0]) > last)  # type: ignore[index]
            last = int(values[-1]) if values is not None else None
    if "order_id" in raw.columns and not increasing:
        ids = pl.concat([f.select(ROW, _order_ids(f).alias("order_id")) for f in raw.chunks()])
        dup = ids.filter(~pl.col("order_id").is_first_distinct() & pl.col("order_id").is_not_null())
        if dup.height:
            owners.rejects.add("orders", dup[ROW], "order_id", dup["order_id"], "duplicate order_id")
            chunks = [c.filter(~pl.col(ROW).is_in(dup[ROW].implode())) for c in chunks]
    # Row numbers served the rejects above; nothing after the load needs them (0.4 GB at 100M orders).
    return tuple(c.drop(ROW) for c in chunks)


_CHOICE_PAYER = ("company", "participant")


def _costs(
    raw: RawTable,
    owners: _Owners,
    config: Config,
    attribute_columns: list[str],
) -> pl.DataFrame:
    frame = raw.frame()
    checks = _Checks("costs", raw.label, frame, owners.rejects)
    node, checks.bad = _owner(frame, "costs", owners, required=False)
    reject = checks.reject
    incurred = checks.date("incurred_on")
    amount = checks.number("amount")
    reject((amount < 0).fill_null(False), "amount", "negative cost amount (costs must be ≥ 0)")
    category = parse.parse_text(frame["category"].cast(pl.String))
    reject(category.is_null(), "category", "missing category")
    if "payer" in frame.columns:
        payer, payer_bad = parse.parse_choice(frame["payer"], _CHOICE_PAYER, "company")
        reject(payer_bad, "payer", "bad payer (expected company or participant)")
    else:
        payer = pl.Series(["company"] * frame.height, dtype=pl.String)
    shared = pl.Series(node < 0) & ~checks.bad
    reject(
        shared & (payer == "participant").fill_null(False),
        "payer",
        "a cost paid by a participant needs participant_id",
    )
    kinds = config.costs.kind_of()
    cost_kind = category.replace_strict(kinds, default=None, return_dtype=pl.String)
    unmapped = (payer == "company").fill_null(False) & category.is_not_null() & cost_kind.is_null()
    reject(
        unmapped, "category", "category not mapped in [costs.categories] (add it to acquisition or retention)"
    )
    f_col = (
        parse.parse_text(frame["filter_column"].cast(pl.String))
        if "filter_column" in frame.columns
        else pl.Series([None] * frame.height, dtype=pl.String)
    )
    f_val = (
        parse.parse_text(frame["filter_value"].cast(pl.String))
        if "filter_value" in frame.columns
        else pl.Series([None] * frame.height, dtype=pl.String)
    )
    reject(
        f_col.is_null() != f_val.is_null(),
        "filter_column",
        "filter_column and filter_value must be given together",
    )
    reject(
        f_col.is_not_null() & ~f_col.is_in(attribute_columns),
        "filter_column",
        "filter_column is not a participants column",
    )
    reject(
        f_col.is_not_null() & pl.Series(node >= 0),
        "filter_column",
        "a filter applies to shared costs only (participant_id must be empty)",
    )
    used = pl.DataFrame(
        {
            "node": pl.Series(node),
            "incurred_on": incurred,
            "category": category.alias("category"),
            "kind": cost_kind.alias("kind"),
            "amount": _money(amount, owners.decimals).alias("amount"),
            "payer": payer.alias("payer"),
            "filter_column": f_col.alias("filter_column"),
            "filter_value": f_val.alias("filter_value"),
        }
    ).with_columns(frame[ROW])
    return used.filter(~checks.bad) if bool(checks.bad.any()) else used


def load(
    dataset: str | Path, config: Config, orphans: Orphans = "reject", placement: bool | None = None
) -> Dataset:
    """Read and validate a dataset folder (see module docstring); structural problems raise InputError.

    The binary placement tree (``placement_id``/``placement_leg``) is built and checked only when a plan
    uses it — by default when ``config``'s plan has a binary component (``placement`` overrides, e.g. for
    simulating several plans); otherwise those columns are plain attributes, at no cost.
    """
    dataset = Path(dataset)
    if not dataset.is_dir():
        from mlmroi.errors import InputError

        raise InputError(f"{dataset}: dataset folder not found")
    # Every table is read (and structurally checked) before any row is processed; each raw frame is
    # dropped as soon as its rows are parsed, so at most one large raw table is alive at a time.
    raws = {name: read_table(dataset, name, config.columns.get(name, {})) for name in TABLE_NAMES}
    rows_in: dict[str, int] = {name: raw.rows for name, raw in raws.items() if raw is not None}
    files: dict[str, Path] = {name: raw.path for name, raw in raws.items() if raw is not None}
    participants_raw, orders_raw = raws.pop("participants"), raws.pop("orders")
    assert participants_raw is not None and orders_raw is not None  # read_table raised otherwise
    rejects = Rejects()
    if placement is None:
        placement = any(c.type == "binary" for c in config.plan.components)
    network, participants, attributes, lookup, node_of_code, rejected_row, orphans_rooted = _participants(
        participants_raw, rejects, orphans, placement
    )
    del participants_raw
    owners = _Owners(lookup, node_of_code, rejected_row, rejects, config.money.decimals)
    orders = _orders(orders_raw, owners)
    del orders_raw
    costs = None
    costs_raw = raws.pop("costs")
    if costs_raw is not None:
        costs = _costs(costs_raw, owners, config, attributes.names)
    paid_raw = raws.pop("commissions")
    paid = None
    if paid_raw is not None:
        paid = _paid(paid_raw, owners)
    events_raw = raws.pop("events")
    events = None if events_raw is None else _events(events_raw, owners)
    del events_raw
    leads_raw = raws.pop("leads")
    leads = None if leads_raw is None else _leads(leads_raw, rejects)
    del leads_raw
    id_order = node_of_code[node_of_code >= 0]  # codes ascend with id
    return Dataset(
        network,
        participants,
        attributes,
        orders,
        costs,
        paid,
        rejects,
        rows_in,
        files,
        orphans_rooted,
        id_order,
        events,
        leads,
    )


def _paid(
    raw: RawTable,
    owners: _Owners,
) -> pl.DataFrame:
    """The commissions actually paid (for the audit); negative amounts are clawbacks and allowed."""
    frame = raw.frame()
    checks = _Checks("commissions", raw.label, frame, owners.rejects)
    node, checks.bad = _owner(frame, "commissions", owners, required=True)
    paid_on = checks.date("paid_on")
    amount = _money(checks.number("amount"), owners.decimals)
    component = (
        parse.parse_text(frame["component"].cast(pl.String))
        if "component" in frame.columns
        else pl.Series([None] * frame.height, dtype=pl.String)
    )
    used = pl.DataFrame(
        {
            "node": pl.Series(node),
            "paid_on": paid_on,
            "amount": amount,
            "component": component.alias("component"),
        }
    )
    return used.filter(~checks.bad) if bool(checks.bad.any()) else used


def _event_types(raw: pl.Series) -> pl.Series:
    """Event types stripped and lower-cased (empty = null); the text work is done once per distinct value."""
    text = raw.cast(pl.String)
    distinct = text.drop_nulls().unique()
    clean = parse.parse_text(distinct).str.to_lowercase()
    if bool(clean.eq_missing(distinct).all()):  # the usual export: nothing to clean, no copy
        return text.alias("type")
    return text.replace_strict(distinct, clean, return_dtype=pl.String).alias("type")


_SURVEY_SCORES = (0.0, 10.0)  # SPEC says 1–10 for CSI; NPS counts 0–6 as detractors, so 0 is a valid score


def _events(raw: RawTable, owners: _Owners) -> pl.DataFrame:
    """Contacts, events, newsletter responses, feedback, referrals, paid invoices, surveys (and custom types).

    ``value`` is the days to pay for ``invoice_paid`` (≥ 0) and the score for ``survey`` (required, 0–10);
    other types keep whatever number they carry (or null).
    """
    frame = raw.frame()
    checks = _Checks("events", raw.label, frame, owners.rejects)
    node, checks.bad = _owner(frame, "events", owners, required=True)
    reject = checks.reject
    occurred_on = checks.date("occurred_on")
    kind = _event_types(frame["type"])
    reject(kind.is_null(), "type", "missing type")
    if "value" in frame.columns:
        value = checks.number("value", required=False)
        absent = frame["value"].is_null()
    else:
        value = pl.repeat(None, frame.height, dtype=pl.Float64, eager=True)
        absent = pl.repeat(True, frame.height, dtype=pl.Boolean, eager=True)
    invoice = (kind == "invoice_paid").fill_null(False)
    reject(
        invoice & (value < 0).fill_null(False),
        "value",
        "negative value for invoice_paid (days to pay must be ≥ 0)",
    )
    survey = (kind == "survey").fill_null(False)
    reject(survey & absent, "value", "missing value (a survey needs a score 0–10)")
    low, high = _SURVEY_SCORES
    reject(survey & ((value < low) | (value > high)).fill_null(False), "value", "survey score outside 0–10")
    used = pl.DataFrame(
        {
            "node": pl.Series(node),
            "occurred_on": occurred_on.alias("occurred_on"),
            "type": kind,
            "value": value.alias("value"),
        }
    )
    return used.filter(~checks.bad) if bool(checks.bad.any()) else used


_LEAD_SCORES = ("brand", "attractiveness", "closeness")


def _leads(raw: RawTable, rejects: Rejects) -> pl.DataFrame:
    """Prospects who never became participants, each scored 1–5 on brand, attractiveness and closeness."""
    frame = raw.frame()
    checks = _Checks("leads", raw.label, frame, rejects)
    reject = checks.reject
    lead_id, _ = parse.parse_id(frame["lead_id"], parse.id_kind(frame["lead_id"]))
    reject(lead_id.is_null(), "lead_id", "missing lead_id")
    first = lead_id.is_first_distinct() | lead_id.is_null()
    if not bool(first.all()):
        first_row = frame.select(pl.col(ROW).first().over(lead_id).alias("r"))["r"]
        reject(~first, "lead_id", "duplicate lead_id (first at row " + first_row.cast(pl.String) + ")")
    cols: dict[str, pl.Series] = {"lead_id": lead_id.alias("lead_id")}
    for column in _LEAD_SCORES:
        values, bad = parse.parse_number(raw.label, frame[column])
        reject(frame[column].is_null(), column, f"missing {column}")
        outside = ((values != values.round(0)) | (values < 1) | (values > 5)).fill_null(False)
        reject(bad | outside, column, f"bad {column} (expected an integer 1–5)")
        cols[column] = values.cast(pl.Int8, strict=False).alias(column)
    used = pl.DataFrame(cols)
    return used.filter(~checks.bad) if bool(checks.bad.any()) else used
