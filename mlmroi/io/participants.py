"""The participants table: row checks, then the sponsor (and placement) relations decided by
:mod:`mlmroi.network.build`, then the accepted participants in network-node order.

Order of checks: missing and duplicate ids, dates and roles, self-sponsorship, missing sponsors (rejected,
or made roots with ``--orphans root``), placement claims; then every chain must reach a root through
accepted participants (:func:`mlmroi.network.build.reach`), the others are rejected with the chain named.

As of a date (the window end): a participant who joined after it is not in the network and not rejected —
their rows are counted as joined after the window (``Rejects.after_window``); someone who joined earlier
under such a sponsor (contradictory dates) is rejected, the chain named.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.errors import InputError
from mlmroi.io import parse
from mlmroi.io.checks import Owners, RowChecks
from mlmroi.io.dataset import Attributes
from mlmroi.io.read import ROW, RawTable
from mlmroi.io.rejects import Rejects
from mlmroi.network import Network
from mlmroi.network.build import ParentRelation, accepted_network, reach, reasons
from mlmroi.network.ids import JOINED_AFTER, IdLookup
from mlmroi.network.placement import leg_holders

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class Participants:
    """The accepted participants and what the other tables need to key their rows to them."""

    network: Network
    frame: pl.DataFrame  # accepted, in node order: the contract's columns, ``__row`` and ``node``
    attributes: Attributes
    owners: Owners
    orphans_rooted: int


@dataclass(frozen=True, eq=False)
class _Universe:
    """The id universe: the first row of every non-null id, sorted by id (a row's position is its code)."""

    rows: IntArray  # input row position of each code
    lookup: IdLookup


def _placement(
    frame: pl.DataFrame,
    checks: RowChecks,
    pid: pl.Series,
    joined: pl.Series,
    universe: _Universe,
    after: pl.Series,
) -> ParentRelation | None:
    """Row checks of ``placement_id``/``placement_leg`` (binary plans); None when the table has neither.

    A placement parent must be a participant, and each leg holds one participant: when several claim the
    same leg, the one who joined first keeps it (then the smaller id) and the others are rejected.
    """
    if "placement_id" not in frame.columns and "placement_leg" not in frame.columns:
        return None
    if "placement_id" not in frame.columns or "placement_leg" not in frame.columns:
        raise InputError(f"{checks.label}: placement_id and placement_leg must be given together")
    reject, u_rows, lookup = checks.reject, universe.rows, universe.lookup
    plid, plid_bad = parse.parse_id(frame["placement_id"], lookup.kind)
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
    ok = ~(checks.bad | after).gather(u_rows).to_numpy() & (code >= 0)
    join_day = joined.gather(u_rows).cast(pl.Int32).fill_null(np.iinfo(np.int32).max).to_numpy()
    holder, child = leg_holders(code, u_leg, join_day, ok)
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
    return ParentRelation("placement", "placement_id", parent, u_leg, child)


def _sponsor(
    frame: pl.DataFrame,
    checks: RowChecks,
    sid: pl.Series,
    sid_bad: pl.Series,
    universe: _Universe,
    root_orphans: bool,
    after: pl.Series,
) -> tuple[ParentRelation, int]:
    """The sponsor relation over the codes; a sponsor who is not a participant is rejected, or (``--orphans
    root``) the participant becomes a root. Also returns how many were made roots."""
    u_rows = universe.rows
    sponsor_code = universe.lookup.codes(sid.gather(u_rows))
    sponsor_given = (sid.gather(u_rows).is_not_null() | sid_bad.gather(u_rows)).to_numpy()
    missing = sponsor_given & (sponsor_code < 0)
    orphans_rooted = 0
    if root_orphans:
        orphans_rooted = int((missing & ~(checks.bad | after).gather(u_rows).to_numpy()).sum())
    elif missing.any():
        miss_mask = np.zeros(frame.height, dtype=bool)
        miss_mask[u_rows[missing]] = True
        reason = (
            "sponsor "
            + frame["sponsor_id"].cast(pl.String).fill_null("")
            + " does not exist (use --orphans root to make such participants roots)"
        )
        checks.reject(pl.Series(miss_mask), "sponsor_id", reason)
    parent = np.where(sponsor_given & ~missing, sponsor_code, -1).astype(np.int64)
    return ParentRelation("sponsor", "sponsor_id", parent), orphans_rooted


def read_participants(
    raw: RawTable, rejects: Rejects, root_orphans: bool, placement_used: bool, as_of: dt.date | None = None
) -> Participants:
    """Check the participants table and build the network of the accepted participants (module docstring);
    with ``as_of``, of those who joined by then."""
    frame = raw.frame()
    kind = parse.id_kind(frame["participant_id"])
    pid, pid_bad = parse.parse_id(frame["participant_id"], kind)
    sid, sid_bad = parse.parse_id(frame["sponsor_id"], kind)
    checks = RowChecks(raw, frame, rejects)
    reject = checks.reject
    reject(pid.is_null() & ~pid_bad, "participant_id", "missing participant_id")
    reject(pid_bad, "participant_id", "bad participant_id (a fractional number)")
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
    after = pl.Series([False]).new_from_index(0, frame.height)
    if as_of is not None:
        after = (cols["joined_on"] > as_of).fill_null(False)
        rejects.after_window("participants", frame[ROW].filter(after))

    u_rows = np.flatnonzero((pid.is_not_null() & first).to_numpy())
    u_ids = pid.gather(u_rows)
    u_sort = u_ids.arg_sort().to_numpy()
    universe = _Universe(u_rows[u_sort], IdLookup(u_ids.gather(u_sort)))
    u_rows = universe.rows
    sponsor, orphans_rooted = _sponsor(frame, checks, sid, sid_bad, universe, root_orphans, after)
    relations = [sponsor]
    placement = _placement(frame, checks, pid, cols["joined_on"], universe, after) if placement_used else None
    if placement is not None:
        relations.append(placement)
    later = (after & ~checks.bad).gather(u_rows).to_numpy()  # good rows of those who joined after as_of
    decided = reach(relations, ~checks.bad.gather(u_rows).to_numpy() & ~later)
    row_of = frame[ROW].to_numpy()
    for broken in decided.broken:
        blocker_rows = row_of[u_rows[broken.blockers[broken.codes]]]
        why = reasons(broken, universe.lookup.ids, blocker_rows, later)
        column, rows = broken.relation.column, u_rows[broken.codes]
        rejects.add(
            "participants", pl.Series(row_of[rows]), column, frame[column].gather(rows), pl.Series(why)
        )
    network, node_of_code = accepted_network(universe.lookup.ids, relations, decided)
    node_of_code[later] = JOINED_AFTER

    accepted_codes = np.flatnonzero(decided.accepted)
    rows_by_node = np.empty(accepted_codes.size, dtype=np.int64)
    rows_by_node[node_of_code[accepted_codes]] = u_rows[accepted_codes]
    # Only the parsed columns are reordered into node order; the columns as read (often text) stay in
    # input order and are reached through ``rows_by_node`` when a cost filter needs them.
    accepted = pl.DataFrame(cols).with_columns(frame[ROW]).gather(rows_by_node)
    accepted = accepted.with_columns(pl.Series("node", np.arange(accepted.height, dtype=np.int64)))
    attributes = Attributes(frame.drop(ROW), rows_by_node)
    # Rejected participants' first rows, for the cascade reasons of orders and costs.
    rejected_codes = np.flatnonzero(~decided.accepted & ~later)
    rejected_row = dict(zip(rejected_codes.tolist(), row_of[u_rows[rejected_codes]].tolist(), strict=True))
    owners = Owners(universe.lookup, node_of_code, rejected_row, rejects)
    return Participants(network, accepted, attributes, owners, orphans_rooted)
