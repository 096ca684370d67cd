"""The costs table: acquisition and retention spending, per participant or shared (optionally filtered to
the participants whose column equals a value); categories map to a kind through the config."""

from __future__ import annotations

import polars as pl

from mlmroi.io import parse
from mlmroi.io.checks import Owners, RowChecks, check_totals, owner_nodes
from mlmroi.io.read import ROW, RawTable

_CHOICE_PAYER = ("company", "participant")


def read_costs(
    raw: RawTable,
    owners: Owners,
    decimals: int,
    cost_kinds: dict[str, str],
    attribute_columns: list[str],
) -> pl.DataFrame:
    frame = raw.frame()
    checks = RowChecks(raw, frame, owners.rejects)
    node, checks.bad = owner_nodes(frame, "costs", owners, required=False)
    reject = checks.reject
    incurred = checks.date("incurred_on")
    amount = checks.amount("amount", decimals)
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
    cost_kind = category.replace_strict(cost_kinds, default=None, return_dtype=pl.String)
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
            "amount": amount.alias("amount"),
            "payer": payer.alias("payer"),
            "filter_column": f_col.alias("filter_column"),
            "filter_value": f_val.alias("filter_value"),
        }
    ).with_columns(frame[ROW])
    used = used.filter(~checks.bad) if bool(checks.bad.any()) else used
    check_totals(raw.label, [used], ("amount",), decimals)
    return used
