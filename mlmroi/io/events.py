"""The optional tables for the segments: events (contacts, invoices paid, surveys, …) keyed by participant,
and leads (prospects scored on brand, attractiveness and closeness, keyed by their own ``lead_id``)."""

from __future__ import annotations

import polars as pl

from mlmroi.io import parse
from mlmroi.io.checks import Owners, RowChecks, owner_nodes
from mlmroi.io.read import ROW, RawTable
from mlmroi.io.rejects import Rejects


def _event_types(raw: pl.Series) -> pl.Series:
    """Event types stripped and lower-cased (empty = null); the text work is done once per distinct value."""
    text = raw.cast(pl.String)
    distinct = text.drop_nulls().unique()
    clean = parse.parse_text(distinct).str.to_lowercase()
    if bool(clean.eq_missing(distinct).all()):  # the usual export: nothing to clean, no copy
        return text.alias("type")
    return text.replace_strict(distinct, clean, return_dtype=pl.String).alias("type")


_SURVEY_SCORES = (0.0, 10.0)  # SPEC says 1–10 for CSI; NPS counts 0–6 as detractors, so 0 is a valid score


def read_events(raw: RawTable, owners: Owners) -> pl.DataFrame:
    """Contacts, events, newsletter responses, feedback, referrals, paid invoices, surveys (and custom types).

    ``value`` is the days to pay for ``invoice_paid`` (≥ 0) and the score for ``survey`` (required, 0–10);
    other types keep whatever number they carry (or null).
    """
    frame = raw.frame()
    checks = RowChecks(raw, frame, owners.rejects)
    node, checks.bad = owner_nodes(frame, "events", owners, required=True)
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


def read_leads(raw: RawTable, rejects: Rejects) -> pl.DataFrame:
    """Prospects who never became participants, each scored 1–5 on brand, attractiveness and closeness."""
    frame = raw.frame()
    checks = RowChecks(raw, frame, rejects)
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
