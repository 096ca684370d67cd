"""The commissions table: what was actually paid, for the audit against the computed plan."""

from __future__ import annotations

import polars as pl

from mlmroi.io import parse
from mlmroi.io.checks import Owners, RowChecks, check_totals, owner_nodes
from mlmroi.io.read import RawTable


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
    amount = checks.amount("amount", decimals)
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
    used = used.filter(~checks.bad) if bool(checks.bad.any()) else used
    check_totals(raw.label, [used], ("amount",), decimals)
    return used
