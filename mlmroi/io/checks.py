"""Row checks shared by every table: a failed check becomes reject lines and marks its rows bad; rows are
keyed to their participant's network node (or rejected when the participant is unknown or rejected)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.errors import InputError
from mlmroi.io import parse
from mlmroi.io.amounts import out_of_range_reason, parse_amount
from mlmroi.io.read import ROW, RawTable
from mlmroi.io.rejects import Rejects
from mlmroi.money import MAX_TOTAL_MINOR, minor_from_float_amounts
from mlmroi.network.ids import JOINED_AFTER, REJECTED, IdLookup

IntArray = npt.NDArray[np.int64]


class RowChecks:
    """Row checks on one table (or slice): a failed check adds reject lines and marks its rows bad."""

    def __init__(self, raw: RawTable, frame: pl.DataFrame, rejects: Rejects) -> None:
        self.table, self.label, self.frame, self.rejects = raw.name, raw.label, frame, rejects
        self.date_format, self.separator, self.decimal_comma = (
            raw.date_format,
            raw.separator,
            raw.decimal_comma,
        )
        self.minor_units = raw.minor_units
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

    def amount(self, column: str, decimals: int, required: bool = True) -> pl.Series:
        """Money as exact Int64 minor units (:mod:`mlmroi.io.amounts`); bad and out-of-range cells are
        rejected, with their reasons."""
        raw = self.frame[column]
        if column in self.minor_units and raw.dtype.is_integer():  # a database sent exact minor units
            falses = pl.Series([False]).new_from_index(0, raw.len())
            values, bad, too_large = raw.cast(pl.Int64), falses, falses
        elif raw.dtype == pl.Float64:  # pandas' amounts: most convert exactly without their text form
            values, exact = minor_from_float_amounts(raw, decimals)
            values, bad, too_large = _fill(
                raw, values, exact, lambda r: parse_amount(self.label, r, decimals)
            )
        else:
            values, bad, too_large = parse_amount(self.label, raw, decimals, self._decimal_comma(raw))
        if required:
            self.reject(raw.is_null(), column, f"missing {column}")
        self.reject(bad, column, f"non-numeric {column}")
        self.reject(too_large, column, out_of_range_reason(column, decimals))
        return values

    def _decimal_comma(self, raw: pl.Series) -> bool:
        """``[input] decimal``, else: a comma is the decimal mark only in a file not separated by commas
        whose column has a digit-comma-digit cell and no cell with a point between digits and no comma
        (``1.234,56`` reads as 1234.56; one ``12.50`` in the column makes it a point column)."""
        if self.decimal_comma is not None:
            return self.decimal_comma
        if self.separator in (None, ",") or raw.dtype != pl.String:
            return False
        comma = bool(raw.str.contains(r"\d,\d").any())
        return comma and not bool(raw.str.contains(r"^[^,]*\d\.\d[^,]*$").any())  # "12.50": a point decimal

    def number(self, column: str, required: bool = True) -> pl.Series:
        values, bad = parse.parse_number(self.label, self.frame[column])
        if required:
            self.reject(self.frame[column].is_null(), column, f"missing {column}")
        self.reject(bad, column, f"non-numeric {column}")
        return values


def check_totals(label: str, frames: Sequence[pl.DataFrame], columns: Sequence[str], decimals: int) -> None:
    """A table's money columns, added up in absolute value, must stay below Decimal(18, decimals)
    (:data:`~mlmroi.money.MAX_TOTAL_MINOR`): a clear error instead of a total that wraps around."""
    for column in columns:
        total = sum(
            int(f.select(pl.col(column).cast(pl.Int128).abs().sum()).item() or 0)
            for f in frames
            if column in f.columns
        )
        if total >= MAX_TOTAL_MINOR:
            largest = f"{Decimal(MAX_TOTAL_MINOR - 1).scaleb(-decimals):,}"
            raise InputError(
                f"{label}: the {column} column adds up to more than {largest} in absolute value, the largest "
                f"total mlmroi can write (Decimal(18, {decimals})); check the amounts' unit (cents written "
                "as units?) or split the data"
            )


def _fill(
    raw: pl.Series,
    values: pl.Series,
    done: pl.Series,
    parse: Callable[[pl.Series], tuple[pl.Series, pl.Series, pl.Series]],
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """``values`` where ``done``, the rest of ``raw`` through ``parse``; with ``parse``'s bad and too-large
    masks (false where done)."""
    falses = pl.Series([False]).new_from_index(0, raw.len())
    if bool(done.all()):
        return values, falses, falses
    where = (~done).arg_true()
    left = raw.gather(where)
    try:
        rest, bad, large = parse(left)
    except InputError:  # none of the rest parses (NaN, ...): bad cells, since the others did
        if not bool(done.any()):
            raise
        rest, bad, large = (
            pl.Series([None] * left.len(), dtype=pl.Int64),
            left.is_not_null(),
            falses[: left.len()],
        )
    # scatter writes in place: each mask gets its own copy
    return (
        values.scatter(where, rest),
        falses.clone().scatter(where, bad),
        falses.clone().scatter(where, large),
    )


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
    """Node of each row's participant (-1 for none) and the mask of rows not to use: rejected for their
    participant (unknown or rejected), or left out because the participant joined after the window end
    (recorded in ``rejects.after_window``, not rejected)."""
    lookup, rejects, rejected_row = owners.lookup, owners.rejects, owners.rejected_row
    pid, pid_bad = parse.parse_id(frame["participant_id"], owners.lookup.kind)
    node = lookup.nodes(pid, owners.node_of_code)
    if bool(pid_bad.any()):
        node[pid_bad.to_numpy()] = -1
    given = pid.is_not_null() | pid_bad
    unknown = given & pl.Series(node == -1)
    cascade = pl.Series(node == REJECTED)
    after = pl.Series(node == JOINED_AFTER)
    bad = unknown | cascade
    if bool(after.any()):
        rejects.after_window(table, frame[ROW].filter(after))
        bad = bad | after
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
