"""The commissions table: what was actually paid, for the audit against the computed plan."""

from __future__ import annotations

import polars as pl

from mlmroi.io import parse
from mlmroi.io.checks import Owners, RowChecks, owner_nodes
from mlmroi.io.read import RawTable
from mlmroi.money import minor_from_float


def read_paid(
    raw: RawTable,
    owners: Owners,
    decimals: int,
) -> pl.DataFrame:
    """The commissions actually paid (for the audit); negative amounts are clawbacks and allowed."""
    frame = raw.frame()
    checks = RowChecks(raw, frame, owners.rejects)
    node, checks.bad = owner_nodes(frame, "commissions", owners, required=True)
    paid_on = checks.date("paid_on")
    amount = minor_from_float(checks.number("amount"), decimals)
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
