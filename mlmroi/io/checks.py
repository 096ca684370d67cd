"""Row checks shared by every table: a failed check becomes reject lines and marks its rows bad; rows are
keyed to their participant's network node (or rejected when the participant is unknown or rejected)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.io import parse
from mlmroi.io.read import ROW, RawTable
from mlmroi.io.rejects import Rejects
from mlmroi.network.ids import REJECTED, IdLookup

IntArray = npt.NDArray[np.int64]


class RowChecks:
    """Row checks on one table (or slice): a failed check adds reject lines and marks its rows bad."""

    def __init__(self, raw: RawTable, frame: pl.DataFrame, rejects: Rejects) -> None:
        self.table, self.label, self.frame, self.rejects = raw.name, raw.label, frame, rejects
        self.date_format = raw.date_format
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
        values, bad = parse.parse_date(self.label, self.frame[column], self.date_format)
        if required:
            self.reject(self.frame[column].is_null(), column, f"missing {column}")
        expected = self.date_format or "YYYY-MM-DD"
        self.reject(bad, column, f"bad date (expected {expected})")
        return values

    def number(self, column: str, required: bool = True) -> pl.Series:
        values, bad = parse.parse_number(self.label, self.frame[column])
        if required:
            self.reject(self.frame[column].is_null(), column, f"missing {column}")
        self.reject(bad, column, f"non-numeric {column}")
        return values


@dataclass(frozen=True, eq=False)
class Owners:
    """What the tables after participants need to key their rows by node (and reject the rest)."""

    lookup: IdLookup
    node_of_code: IntArray
    rejected_row: dict[int, int]  # code of a rejected participant -> their participants row
    rejects: Rejects


def owner_nodes(
    frame: pl.DataFrame, table: str, owners: Owners, required: bool
) -> tuple[IntArray, pl.Series]:
    """Node of each row's participant (-1 for none) and the mask of rows rejected for it."""
    lookup, rejects, rejected_row = owners.lookup, owners.rejects, owners.rejected_row
    pid, pid_bad = parse.parse_id(frame["participant_id"], owners.lookup.kind)
    node = lookup.nodes(pid, owners.node_of_code)
    if bool(pid_bad.any()):
        node[pid_bad.to_numpy()] = -1
    given = pid.is_not_null() | pid_bad
    unknown = given & pl.Series(node == -1)
    cascade = pl.Series(node == REJECTED)
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
