"""``report.html``: one self-contained page (inline CSS and SVG, no script, no links) that answers "is the
network paying off, where does the money go, which segments pay off" for the people who read a score run.

:func:`render` is a pure function of a :class:`~mlmroi.pipeline.Result`. It uses only what the run has (a
section whose data is absent is left out), takes money from run.json's exact strings and the tables' exact
decimals (never floats), escapes every text that comes from data, and formats numbers with fixed formats, so
the same inputs give the same bytes. See docs/report.md.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import polars as pl

from mlmroi.pipeline import Result

TOP = 20  # participants per ranking
TOP_REASONS = 10  # reject reasons listed

#: Columns of the participant rankings: (column, heading, kind).
PARTICIPANT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("participant_id", "participant", "text"),
    ("depth", "depth", "int"),
    ("downline_size", "downline", "int"),
    ("revenue", "revenue", "money"),
    ("commissions", "commissions", "money"),
    ("costs", "costs (incl. commissions)", "money"),
    ("profit", "profit", "money"),
    ("roi_pct", "ROI %", "float"),
)
BRANCH_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("branch_profit", "branch profit", "money"),
    ("branch_roi_pct", "branch ROI %", "float"),
)
#: Columns of the segment-effectiveness table shown (all of segments.parquet minus buyers and the flags).
SEGMENT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("participants", "participants", "int"),
    ("share", "share", "pct"),
    ("conversion", "conversion", "pct"),
    ("orders", "orders", "int"),
    ("revenue", "revenue", "money"),
    ("revenue_share", "revenue share", "pct"),
    ("average_check", "average check", "money"),
    ("mean_clv", "mean CLV", "money"),
    ("margin", "margin", "money"),
    ("costs", "costs", "money"),
    ("commissions", "of which commissions", "money"),
    ("profit", "profit", "money"),
    ("roi_pct", "ROI %", "float"),
    ("churn_rate", "churn", "pct"),
)
PALETTE = ("#3b6ea5", "#e08a2e", "#4f9a5b", "#b8433e", "#7d5ba6", "#8c6d46", "#c7629f", "#6f7780")
DASH = "—"

CSS = """
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#1d232b;
margin:0 auto;max-width:1180px;padding:24px 28px 48px;font-size:14px;line-height:1.45;background:#fff}
h1{font-size:24px;margin:0 0 4px}
h2{font-size:18px;margin:32px 0 2px;padding-top:10px;border-top:2px solid #d9dee5}
h3{font-size:15px;margin:18px 0 2px}
p.what{margin:0 0 10px;color:#4a5562;max-width:900px}
p.lead{font-size:16px;margin:8px 0 12px}
table{border-collapse:collapse;margin:6px 0 12px;font-size:13px}
th,td{padding:3px 9px;border-bottom:1px solid #e3e7ec;vertical-align:top;text-align:left}
th{background:#f2f4f7;font-weight:600;border-bottom:1px solid #c9d0d9}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.sum td{font-weight:600;border-top:1px solid #9aa5b1}
tr.group td{background:#f7f8fa;font-weight:600}
tr.loss td{background:#fdecec}
tr.loss td.neg{color:#a11d1d;font-weight:600}
td.neg{color:#a11d1d}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:8px 0 4px}
dl.facts dt{color:#4a5562}
dl.facts dd{margin:0}
.warn{border-left:4px solid #d08a00;background:#fff6e0;padding:6px 10px;margin:8px 0}
.good{color:#1f6b33;font-weight:600}
.bad{color:#a11d1d;font-weight:600}
.legend span{display:inline-block;margin-right:14px;white-space:nowrap}
.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:-1px}
svg text{font-family:inherit;font-size:11px;fill:#4a5562}
footer{margin-top:36px;color:#6b7580;font-size:12px}
@media print{body{padding:0;max-width:none;font-size:11px}h2{break-after:avoid}
table,svg,dl{break-inside:avoid}tr.loss td{background:#fdecec !important;print-color-adjust:exact;
-webkit-print-color-adjust:exact}}
""".strip()


def render(result: Result) -> str:
    """The report of one run as an HTML page (a str; write it as UTF-8)."""
    run = result.run.model_dump(mode="json", by_alias=True, exclude_unset=True)
    currency = str(run.get("config", {}).get("money", {}).get("currency", ""))
    decimals = int(run.get("config", {}).get("money", {}).get("decimals", 2))
    sections = [
        _header(run, result.warnings),
        _rows(run, result.rejects),
        _totals(run, currency),
        _commissions(run, result.commissions, currency, decimals),
        _segments(run, result.segments, currency),
        _value(run, currency),
        _audit(run, currency),
        _participants(result.participants, currency),
    ]
    name = _dataset_name(str(run.get("dataset", ""))) or "run"
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>mlmroi report: {_e(name)}</title>\n<style>\n{CSS}\n</style>\n</head>\n<body>\n"
        + "".join(s for s in sections if s)
        + f"<footer>Written by mlmroi {_e(run.get('mlmroi_version', ''))} with participants.parquet, "
        "commissions.parquet, segments.parquet, rejects.parquet and run.json beside it: every figure here "
        "comes from those files.</footer>\n</body>\n</html>\n"
    )


def _dataset_name(dataset: str) -> str:
    """What the page shows of the dataset: a folder's name, not its absolute path (the page is shared and
    archived; run.json beside it keeps the path), or a database source's redacted URI as it is."""
    if "://" in dataset:
        return dataset
    return dataset.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


# --- sections ------------------------------------------------------------------------------------------


def _header(run: Mapping[str, Any], warnings: Sequence[str]) -> str:
    window = run.get("window", {})
    config = run.get("config", {})
    facts: list[tuple[str, str]] = []
    if "dataset" in run:
        facts.append(("dataset", _e(_dataset_name(str(run["dataset"])))))
    if window:
        periods = window.get("periods", [])
        plural = "" if len(periods) == 1 else "s"
        facts.append(
            (
                "window",
                f"{_e(window.get('start', ''))} – {_e(window.get('end', ''))}, "
                f"by {_e(window.get('period', ''))} ({len(periods):,} period{plural})",
            )
        )
    if "money" in config:
        facts.append(("currency", _e(config["money"].get("currency", ""))))
    if "mlmroi_version" in run:
        facts.append(("mlmroi version", _e(run["mlmroi_version"])))
    network = run.get("network")
    if network:
        facts.append(
            (
                "network",
                f"{network.get('participants', 0):,} participants, {network.get('roots', 0):,} "
                f"root{'' if network.get('roots') == 1 else 's'}, up to {network.get('max_depth', 0):,} "
                "levels deep",
            )
        )
    plan = config.get("plan", {})
    components = plan.get("components", [])
    plan_html = ""
    if components:
        rows = [
            [
                _e(c.get("name") or c.get("type", "")),
                _e(c.get("type", "")),
                _e(_settings(c, ("type", "name"))),
            ]
            for c in components
        ]
        extras = []
        caps = {k: v for k, v in plan.get("caps", {}).items() if v is not None}
        if caps:
            extras.append("caps: " + _settings(caps, ()))
        if plan.get("customer_volume_to_sponsor"):
            extras.append("customers' volume counts for their nearest distributor upline")
        plan_html = "<h3>Compensation plan</h3>\n" + _table(
            [("component", False), ("type", False), ("settings", False)], rows
        )
        if extras:
            plan_html += "".join(f"<p class='what'>{_e(x)}</p>\n" for x in extras)
    elif "plan" in config:
        facts.append(("compensation plan", "no components: nothing is paid"))
    warn = "".join(f'<div class="warn">warning: {_e(w)}</div>\n' for w in warnings)
    return (
        "<header>\n<h1>mlmroi report</h1>\n"
        '<p class="what">Is the network paying off, where does the money go, and which segments pay off: '
        "the company's view of one scoring run.</p>\n" + _facts(facts) + warn + plan_html + "</header>\n"
    )


def _rows(run: Mapping[str, Any], rejects: pl.DataFrame) -> str:
    rows_info = run.get("rows")
    if not rows_info:
        return ""
    with_outside = any("outside_window" in r for r in rows_info.values())
    with_after = any(r.get("joined_after_window") for r in rows_info.values())
    heads = [("table", False), ("rows in", True), ("used", True), ("rejected", True)]
    if with_after:
        heads.append(("joined after the window end", True))
    if with_outside:
        heads.append(("of which outside the window", True))
    body = []
    for name, r in rows_info.items():
        row = [_e(name), _int(r.get("in")), _int(r.get("used")), _int(r.get("rejected"))]
        if with_after:
            row.append(_int(r.get("joined_after_window", 0)))
        if with_outside:
            row.append(_int(r["outside_window"]) if "outside_window" in r else "")
        body.append(row)
    parts = [_table(heads, body)]
    if rejects.height and {"table", "reason"} <= set(rejects.columns):
        reasons = (
            rejects.lazy()
            .group_by("table", "reason")
            .agg(pl.len().alias("rows"))
            .sort(["rows", "table", "reason"], descending=[True, False, False], nulls_last=True)
            .head(TOP_REASONS)
            .collect()
        )
        body = [[_e(t), _e(reason), _int(n)] for t, reason, n in reasons.iter_rows()]
        parts.append(
            f"<h3>Top reject reasons</h3>\n<p class='what'>{_int(rejects.height)} reject line"
            f"{'' if rejects.height == 1 else 's'} in all; the most frequent reasons (every line, with file, "
            "row, column and value, is in rejects.parquet).</p>\n"
            + _table([("table", False), ("reason", False), ("rows", True)], body)
        )
    return _section(
        "rows",
        "Input rows",
        "Every input row is used, rejected, or left out because its participant joined after the window end "
        "(the run describes the company as of that date). Used rows dated outside the analysis window are "
        "read but not counted in the figures.",
        "".join(parts),
    )


def _totals(run: Mapping[str, Any], currency: str) -> str:
    totals = run.get("totals")
    if not totals:
        return ""
    has_costs = "costs" in run.get("rows", {})
    audited = "audit" in totals
    cur = f" ({_e(currency)})" if currency else ""
    lines: list[tuple[str, str, str]] = []  # (label, value, class)

    def add(key: str, label: str, css: str = "") -> None:
        if totals.get(key) is not None:
            lines.append((label, _money(totals[key]), css))

    add("revenue", "revenue")
    add("margin", "margin (what the orders earn the company)")
    add("volume", "commissionable volume (PV)")
    if has_costs:
        add("acquisition_cost", "acquisition costs")
        add("retention_cost", "retention costs")
        add("shared_cost_allocated", "of which shared costs, allocated")
    add("commissions", "commissions paid" if audited else "commissions")
    by_component = totals.get("commissions_by_component") or {}
    for component, amount in by_component.items():
        prefix = "plan-computed: " if audited else ""
        lines.append((f"{prefix}{component}", _money(amount), "sub"))
    add("costs", "costs (acquisition + retention + commissions)" if has_costs else "costs (commissions)")
    add("profit", "profit (margin − costs)", "sum")
    roi = totals.get("roi_pct")
    lines.append(("ROI % (profit / costs × 100)", DASH if roi is None else _fixed(roi, 2), ""))
    ratio = totals.get("payout_ratio")
    lines.append(
        ("payout ratio % (commissions / volume)", DASH if ratio is None else _fixed(ratio * 100, 2), "")
    )
    revenue, commissions = totals.get("revenue"), totals.get("commissions")
    if revenue is not None and commissions is not None:
        lines.append(("commissions / revenue %", _share_pct(Decimal(commissions), Decimal(revenue)), ""))
    body = []
    classes = []
    for label, value, css in lines:
        cell_label = f"&nbsp;&nbsp;&nbsp;{_e(label)}" if css == "sub" else _e(label)
        body.append([cell_label, value])
        classes.append("sum" if css == "sum" else "")
    lead = ""
    profit = totals.get("profit")
    if profit is not None:
        p = Decimal(profit)
        verdict = (
            '<span class="good">The network pays off</span>'
            if p > 0
            else '<span class="bad">The network does not pay off</span>'
        )
        roi_text = f", ROI {_fixed(roi, 1)} %" if roi is not None else ""
        unit = f" {_e(currency)}" if currency else ""
        lead = (
            f'<p class="lead">{verdict}: profit {_money(profit)}{unit} on costs '
            f"{_money(totals.get('costs', '0'))}{unit}{roi_text}.</p>\n"
        )
    note = ""
    if not has_costs:
        note = "<p class='what'>The dataset has no costs table: the only costs are commissions.</p>\n"
    return _section(
        "totals",
        "Totals",
        "The company's view of the whole window: income is the margin of every order; costs are "
        "acquisition and retention spending plus every commission; ROI % = profit / costs × 100. Amounts "
        "are exact to the cent" + cur + ".",
        lead + _table([("figure", False), (f"amount{cur}", True)], body, classes) + note,
    )


def _commissions(run: Mapping[str, Any], commissions: pl.DataFrame, currency: str, decimals: int) -> str:
    if not commissions.height or not {"period", "component", "amount"} <= set(commissions.columns):
        return ""
    grouped = (
        commissions.lazy()
        .group_by("period", "component")
        .agg(pl.col("amount").sum())
        .sort("period", "component")
        .collect()
    )
    cells = {(p, c): _dec(a) for p, c, a in grouped.iter_rows()}
    listed = list(run.get("window", {}).get("periods", []))
    periods = listed + sorted({p for p, _ in cells if p not in listed})
    planned = list((run.get("totals", {}).get("commissions_by_component") or {}).keys())
    components = [c for c in planned if any(k[1] == c for k in cells)]
    components += sorted({c for _, c in cells if c not in components})
    zero = Decimal(0).scaleb(-decimals)
    matrix = [[cells.get((p, c), zero) for c in components] for p in periods]
    heads = [("period", False)] + [(_e(c), True) for c in components] + [("total", True)]
    body = [
        [_e(p)] + [_money(v) for v in row] + [_money(sum(row, zero))]
        for p, row in zip(periods, matrix, strict=True)
    ]
    column_totals = [sum((row[i] for row in matrix), zero) for i in range(len(components))]
    body.append(["total"] + [_money(v) for v in column_totals] + [_money(sum(column_totals, zero))])
    classes = [""] * len(periods) + ["sum"]
    audited = "audit" in run.get("totals", {})
    cur = f" in {_e(currency)}" if currency else ""
    what = (
        f"What the compensation plan pays{cur}, per commission period and component (the rows of "
        "commissions.parquet, summed). A period's bar shows how the payout splits across the plan's "
        "components."
    )
    if audited:
        what += " This run audits a paid-commissions table: these are the plan's computed commissions."
    chart = _stacked_bars(periods, components, matrix, currency)
    legend = (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{_e(c)}</span>'
            for i, c in enumerate(components)
        )
        + "</div>\n"
    )
    return _section(
        "commissions",
        "Commissions by period and component",
        what,
        chart + legend + _table(heads, body, classes),
    )


def _segments(run: Mapping[str, Any], segments: pl.DataFrame, currency: str) -> str:
    summary = run.get("segments") or {}
    if not segments.height and not summary:
        return ""
    parts = []
    if segments.height and {"segmentation", "value"} <= set(segments.columns):
        shown = [c for c in SEGMENT_COLUMNS if c[0] in segments.columns]
        # Columns with no figure at all (no CLV model; nobody bought in the previous window) are left out.
        empty = {c for c in ("mean_clv", "churn_rate") if c in segments.columns}
        empty = {c for c in empty if segments[c].null_count() == segments.height}
        shown = [c for c in shown if c[0] not in empty]
        heads = [("segment", False)] + [(h, k != "text") for _, h, k in shown] + [("flags", False)]
        body: list[list[str]] = []
        classes: list[str] = []
        losing: list[str] = []
        previous = None
        for row in segments.iter_rows(named=True):
            if row["segmentation"] != previous:
                body.append([f"<b>{_e(row['segmentation'])}</b>"])
                classes.append("group")
                previous = row["segmentation"]
            flags = []
            if row.get("unprofitable"):
                flags.append("loses money")
            if row.get("weak_conversion"):
                flags.append("weak conversion")
            roi, profit = row.get("roi_pct"), row.get("profit")
            loss = (roi is not None and roi < 0) or (profit is not None and _dec(profit) < 0)
            if loss:
                losing.append(f"{row['segmentation']} {row['value']}")
            body.append(
                [f"&nbsp;&nbsp;{_e(row['value'])}"]
                + [_cell(row.get(col), kind) for col, _, kind in shown]
                + [_e(", ".join(flags))]
            )
            classes.append("loss" if loss else "")
        lead = ""
        if losing:
            lead = (
                f'<p class="lead">{len(losing):,} of {segments.height:,} segment values lose money '
                "(highlighted): " + _e(", ".join(losing)) + ".</p>\n"
            )
        else:
            lead = '<p class="lead"><span class="good">Every segment value pays off.</span></p>\n'
        parts.append(lead + _table(heads, body, classes, css_class="segments"))
    kpis = []
    conversion = summary.get("conversion") or {}
    if conversion.get("rate") is not None:
        kpis.append(
            (
                "conversion",
                f"{_fixed(conversion['rate'] * 100, 1)} % of the {_int(conversion['base'])} participants "
                "who had never bought before the window bought in it",
            )
        )
    churn = summary.get("churn") or {}
    if churn.get("rate") is not None:
        previous = churn["previous_window"]
        kpis.append(
            (
                "churn",
                f"{_fixed(churn['rate'] * 100, 1)} % of the {_int(churn['previous_buyers'])} buyers of "
                f"{_e(previous['start'])} … {_e(previous['end'])} did not buy in this window "
                f"({_fixed(churn['monthly_rate'] * 100, 2)} % a month)",
            )
        )
    elif churn.get("note"):
        kpis.append(("churn", _e(churn["note"])))
    if kpis:
        parts.append("<h3>Company KPIs</h3>\n" + _facts(kpis))
    health = summary.get("abc_health")
    if health:
        facts = [("ABC measure", _e(f"{health.get('measure', '')} ({health.get('method', '')})"))]
        share = health.get("a_share_of_buyers")
        if share is not None:
            verdict = (
                '<span class="good">inside the healthy 20–30 %</span>'
                if health.get("a_share_in_healthy_range")
                else '<span class="bad">outside the healthy 20–30 %</span>'
            )
            facts.append(("A's share of buyers", f"{_fixed(share * 100, 1)} % ({verdict})"))
        if health.get("a_share_of_revenue") is not None:
            facts.append(("A's share of revenue", f"{_fixed(health['a_share_of_revenue'] * 100, 1)} %"))
        if health.get("participants_making_80pct_of_revenue") is not None:
            facts.append(
                (
                    "participants making 80 % of revenue",
                    f"{_fixed(health['participants_making_80pct_of_revenue'] * 100, 1)} %",
                )
            )
        parts.append(
            "<h3>ABC health</h3>\n<p class='what'>A healthy network has 20–30 % of its participants in "
            "class A (the source article's range); the Pareto share says how few people bring most of "
            "the revenue."
            "</p>\n" + _facts(facts)
        )
    surveys = summary.get("surveys")
    if surveys:
        facts = [("survey responses", _int(surveys.get("responses")))]
        if "csi" in surveys:
            facts.append(
                (
                    "CSI (scores 8–10 / scores 1–3)",
                    (DASH if surveys["csi"] is None else _fixed(surveys["csi"], 2))
                    + f" ({_int(surveys.get('attract'))} / {_int(surveys.get('detract'))})",
                )
            )
        if "nps" in surveys:
            facts.append(
                (
                    "NPS (% 9–10 − % 0–6)",
                    (DASH if surveys["nps"] is None else _fixed(surveys["nps"], 1))
                    + f" ({_int(surveys.get('promoters'))} promoters, {_int(surveys.get('detractors'))} "
                    "detractors)",
                )
            )
        parts.append(
            "<h3>Customer satisfaction</h3>\n<p class='what'>From survey events: CSI should be well above 1; "
            "NPS runs from −100 to 100 (per segment and period in surveys.parquet).</p>\n" + _facts(facts)
        )
    if not parts:
        return ""
    cur = f" in {_e(currency)}" if currency else ""
    return _section(
        "segments",
        "Segment effectiveness",
        "Which segments pay off: per segmentation and value, the company's personal-view figures of its "
        f"members (money{cur}; costs include the commissions paid to them; ROI % = profit / costs × 100). "
        "Rows losing money are highlighted. Each segmentation's rows add up to the totals.",
        "".join(parts),
    )


def _value(run: Mapping[str, Any], currency: str) -> str:
    value = run.get("value")
    if not value:
        return ""
    totals = run.get("totals", {})
    settings = run.get("config", {}).get("value", {})
    model = value.get("model", {})
    status = model.get("status")
    cur = f" {_e(currency)}" if currency else ""
    facts: list[tuple[str, str]] = []
    selected = model.get("selected", "bgnbd")
    names = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD"}
    if status == "fitted":
        fit = f", fitted on the {_e(model['fit'])}" if model.get("fit") else ", fitted"
        facts.append(
            ("model", f"{names.get(selected, _e(selected))} (purchases) × Gamma-Gamma (order value){fit}")
        )
    elif status == "failed":
        facts.append(("model", '<span class="bad">not fitted</span>: ' + _e(model.get("reason", ""))))
    elif status == "off":
        facts.append(("model", 'turned off (<code>[value] model = "none"</code>)'))
    if totals.get("clv_predicted") is not None:
        horizon = settings.get("horizon_months")
        label = "predicted CLV, all participants"
        if horizon is not None:
            label += f" (margin over the next {horizon} months"
            rate = settings.get("discount_rate")
            label += f", discounted {_fixed(rate * 100, 2)} % a month)" if rate is not None else ")"
        facts.append((label, _money(totals["clv_predicted"]) + cur))
    if "customers" in value:
        repeat = value.get("repeat_purchases")
        more = f"; {_int(repeat)} repeat purchase days" if repeat is not None else ""
        facts.append(("buyers the model was fitted on", _int(value["customers"]) + more))
    if value.get("margin_rate") is not None:
        facts.append(("margin rate applied", f"{_fixed(value['margin_rate'] * 100, 2)} %"))
    purchases, gg = model.get(selected), model.get("gamma_gamma")
    if purchases:
        params = ", ".join(
            f"{k} {_fixed(purchases[k], 4)}" for k in ("r", "alpha", "a", "b") if k in purchases
        )
        loglik = purchases.get("log_likelihood")
        repeaters = purchases.get("repeat_buyers")
        facts.append(
            (
                f"{names.get(selected, _e(selected))} parameters (time in weeks)",
                _e(params)
                + (f"; log-likelihood {_fixed(loglik, 1)}" if loglik is not None else "")
                + (f"; {_int(repeaters)} repeat buyers" if repeaters is not None else ""),
            )
        )
    if gg:
        params = ", ".join(f"{k} {_fixed(gg[k], 4)}" for k in ("p", "q", "gamma") if k in gg)
        unit = f" (γ in {_e(gg['money_unit'])})" if gg.get("money_unit") else ""
        mean = gg.get("mean_transaction_value")
        facts.append(
            (
                "Gamma-Gamma parameters",
                _e(params)
                + unit
                + (f"; mean repeat purchase {_fixed(mean, 2)}" if mean is not None else "")
                + (f"; log-likelihood {_fixed(gg['log_likelihood'], 1)}" if "log_likelihood" in gg else ""),
            )
        )
    holdout = value.get("holdout")
    if holdout:
        expected, actual = holdout.get("expected_purchase_days"), holdout.get("actual_purchase_days")
        ratio = ""
        if expected:
            ratio = f" (actual / expected {_fixed(actual / expected, 2)}; near 1 means the model is right)"
        fit = f"; fitted on the {_e(holdout['fit'])}" if holdout.get("fit") else ""
        facts.append(
            (
                f"holdout check, last {_int(holdout.get('periods'))} periods",
                f"expected {_fixed(expected, 1)} purchase days, actual {_int(actual)}{ratio}{fit}",
            )
        )
        for name, figures in (holdout.get("models") or {}).items():
            if figures.get("status") == "fitted":
                text = (
                    f"expected {_fixed(figures.get('expected'), 1)} purchase days, actual / expected "
                    f"{_fixed(figures.get('actual_per_expected'), 2)}, calibration log-likelihood "
                    f"{_fixed(figures.get('log_likelihood'), 1)}"
                )
            else:
                text = "not fitted: " + _e(figures.get("reason", ""))
            facts.append((f"holdout, {names.get(name, _e(name))}", text))
    if value.get("lifetime_months") is not None:
        facts.append(
            (
                "rule-of-thumb CLV lifetime (clv_formula)",
                f"{_fixed(value['lifetime_months'], 1)} months: {_e(value.get('lifetime_source', ''))}",
            )
        )
    if not facts:
        return ""
    return _section(
        "value",
        "Customer value",
        "What participants are expected to be worth: predicted CLV is the margin each is expected to bring "
        "over the horizon, from how often and how much they bought (per participant, with p_alive and branch "
        "CLV, in participants.parquet).",
        _facts(facts),
    )


def _audit(run: Mapping[str, Any], currency: str) -> str:
    audit = run.get("totals", {}).get("audit")
    if not audit:
        return ""
    cur = f" ({_e(currency)})" if currency else ""
    lines = [
        ["paid (the commissions table)", _money(audit.get("paid"))],
        ["computed by the plan", _money(audit.get("computed"))],
        ["difference (paid − computed)", _money(audit.get("difference"))],
        ["tolerance per participant", _money(audit.get("tolerance"))],
        ["participants with a difference above the tolerance", _int(audit.get("participants_flagged"))],
    ]
    return _section(
        "audit",
        "Commission audit",
        "What was actually paid against what the plan computes. ROI above uses what was paid; the "
        "participants flagged (commission_flag in participants.parquet) are the ones to look at.",
        _table([("figure", False), (f"amount{cur}", True)], lines),
    )


def _participants(participants: pl.DataFrame, currency: str) -> str:
    if not participants.height or "participant_id" not in participants.columns:
        return ""
    base = [c for c in PARTICIPANT_COLUMNS if c[0] in participants.columns]
    parts = []
    if "branch_profit" in participants.columns:
        columns = base + [c for c in BRANCH_COLUMNS if c[0] in participants.columns]
        top = ranked(participants, "branch_profit", [c for c, _, _ in columns], lowest=False)
        parts.append(
            "<h3>Top branches by branch profit</h3>\n<p class='what'>Branch profit: what the company earns "
            "on this participant's whole downline (them included) after commissions and costs; the other "
            "figures are the participant's own.</p>\n" + _participant_table(top, columns, "branch_profit")
        )
    if "roi_pct" in participants.columns:
        low = ranked(participants, "roi_pct", [c for c, _, _ in base], lowest=True)
        if low.height:
            parts.append(
                f"<h3>Lowest personal ROI</h3>\n<p class='what'>The {TOP} participants on whom the company "
                "earns least for what it spends on them: the margin of their own orders against their costs "
                "(commissions paid to them included). Participants without costs have no ROI and are not "
                "listed.</p>\n" + _participant_table(low, base, "roi_pct")
            )
    if not parts:
        return ""
    cur = f" ({_e(currency)})" if currency else ""
    return _section(
        "participants",
        "Participants",
        f"The {TOP} strongest branches and the {TOP} weakest personal returns; money{cur}. Ties are listed "
        "by participant id. Every participant is in participants.parquet.",
        "".join(parts),
    )


def ranked(
    participants: pl.DataFrame, by: str, columns: Sequence[str], lowest: bool, k: int = TOP
) -> pl.DataFrame:
    """The ``k`` participants with the highest (or lowest) ``by``, ties by participant id ascending; for the
    lowest, participants whose ``by`` is null or not finite are left out."""
    frame = participants.lazy().select(list(dict.fromkeys([*columns, by, "participant_id"])))
    if lowest:
        if participants.schema[by].is_float():
            frame = frame.filter(pl.col(by).is_finite())
        else:
            frame = frame.filter(pl.col(by).is_not_null())
        return frame.bottom_k(k, by=[by, "participant_id"]).collect()
    return frame.top_k(k, by=[by, "participant_id"], reverse=[False, True]).collect()


def _participant_table(frame: pl.DataFrame, columns: Sequence[tuple[str, str, str]], key: str) -> str:
    """Participants' rows, highlighted where the ranking figure ``key`` is negative."""
    heads = [(h, kind != "text") for _, h, kind in columns]
    body = []
    classes = []
    for row in frame.iter_rows(named=True):
        body.append([_cell(row[c], kind) for c, _, kind in columns])
        figure = row.get(key)
        classes.append("loss" if figure is not None and _dec(figure) < 0 else "")
    return _table(heads, body, classes)


# --- chart ---------------------------------------------------------------------------------------------


def _stacked_bars(
    periods: Sequence[str], components: Sequence[str], matrix: Sequence[Sequence[Decimal]], currency: str
) -> str:
    """An inline SVG stacked bar chart: one bar per period, one colour per component (negative amounts,
    clawbacks, are left out of the bars; the table has them)."""
    width, height = 900, 280
    left, right, top, bottom = 78, 12, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    stacks = [sum((v for v in row if v > 0), Decimal(0)) for row in matrix]
    peak = float(max(stacks, default=Decimal(0)))
    step = _nice_step(peak / 4) if peak > 0 else 1.0
    ceiling = step * max(math.ceil(peak / step), 1)
    scale = plot_h / ceiling
    out = [
        f'<svg role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'style="max-width:100%;height:auto" aria-label="commissions by period and component">'
    ]
    ticks = round(ceiling / step)
    for i in range(ticks + 1):
        y = top + plot_h - i * step * scale
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#e3e7ec"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_axis(i * step)}</text>'
        )
    n = max(len(periods), 1)
    band = plot_w / n
    bar = max(band * 0.7, 1.0)
    every = max(1, math.ceil(n / 16))  # at most 16 period labels
    for i, (period, row) in enumerate(zip(periods, matrix, strict=True)):
        x = left + i * band + (band - bar) / 2
        base = float(top + plot_h)
        for j, amount in enumerate(row):
            if amount <= 0:
                continue
            h = float(amount) * scale
            base -= h
            out.append(
                f'<rect x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{_e(period)} {_e(components[j])}: '
                f"{_money(amount)}{' ' + _e(currency) if currency else ''}</title></rect>"
            )
        if i % every == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
                f"{_e(period)}</text>"
            )
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#9aa5b1"/>'
    )
    out.append("</svg>\n")
    return "".join(out)


def _nice_step(raw: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at least ``raw``."""
    power = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * power >= raw:
            return m * power
    return 10.0 * power


def _axis(value: float) -> str:
    if value >= 1_000_000 and value % 100_000 == 0:
        return f"{value / 1_000_000:,.1f}M".replace(".0M", "M")
    if value >= 10_000 and value % 1_000 == 0:
        return f"{value / 1_000:,.0f}k"
    return _fixed(value, 0) if value >= 1 else f"{value:.2g}"


# --- formatting ----------------------------------------------------------------------------------------


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _dec(value: object) -> Decimal:
    """An exact decimal from a Decimal, an int or a money string (never from a float's binary value)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _money(value: object) -> str:
    """Money with thousands separators and its exact digits ("1234567.80" -> "1,234,567.80")."""
    if value is None:
        return DASH
    return format(_dec(value), ",f")


def _int(value: object) -> str:
    if value is None:
        return DASH
    return f"{int(str(value)):,}"


def _fixed(value: float | int | None, digits: int) -> str:
    """A fixed-point number with thousands separators; never "-0.0"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    text = f"{value:,.{digits}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]
    return text


def _share_pct(part: Decimal, whole: Decimal) -> str:
    if whole <= 0:
        return DASH
    return format((part * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), ",f")


def _cell(value: object, kind: str) -> str:
    if value is None:
        return DASH
    if kind == "money":
        return _money(value)
    if kind == "int":
        return _int(value)
    if kind == "pct":
        return _fixed(float(str(value)) * 100, 1) + " %"
    if kind == "float":
        return _fixed(float(str(value)), 1)
    return _e(value)


def _settings(values: Mapping[str, Any], skip: Iterable[str]) -> str:
    """A config mapping in one line: ``levels 0.1, 0.05; active_min_pv 50; compression dynamic``."""
    parts = []
    for key, value in values.items():
        if key in skip or value is None or value == [] or value == {}:
            continue
        parts.append(f"{key} {_setting(value)}")
    return "; ".join(parts)


def _setting(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else format(value, "g")
    if isinstance(value, Mapping):
        return "(" + ", ".join(f"{k} {_setting(v)}" for k, v in value.items() if v is not None) + ")"
    if isinstance(value, list | tuple):
        return ", ".join(_setting(v) for v in value)
    return str(value)


# --- html pieces ---------------------------------------------------------------------------------------


def _section(anchor: str, title: str, what: str, body: str) -> str:
    return f'<section id="{anchor}">\n<h2>{_e(title)}</h2>\n<p class="what">{what}</p>\n{body}</section>\n'


def _facts(facts: Sequence[tuple[str, str]]) -> str:
    """A definition list; values are HTML already (escaped by the caller)."""
    if not facts:
        return ""
    return '<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>\n"


def _table(
    heads: Sequence[tuple[str, bool]],
    rows: Sequence[Sequence[str]],
    classes: Sequence[str] = (),
    css_class: str = "",
) -> str:
    """A table; headings and cells are HTML already (escaped by the caller); ``True`` = a numeric column,
    right-aligned."""
    numeric = [num for _, num in heads]
    out = [f'<table class="{css_class}">' if css_class else "<table>", "<thead><tr>"]
    out += [f'<th class="num">{h}</th>' if num else f"<th>{h}</th>" for h, num in heads]
    out.append("</tr></thead>\n<tbody>\n")
    for i, row in enumerate(rows):
        css = classes[i] if i < len(classes) else ""
        out.append(f'<tr class="{css}">' if css else "<tr>")
        if len(row) == 1 and len(heads) > 1:  # a group heading across the table
            out.append(f'<td colspan="{len(heads)}">{row[0]}</td></tr>\n')
            continue
        for j, cell in enumerate(row):
            if j < len(numeric) and numeric[j]:
                neg = " neg" if cell.startswith("-") else ""
                out.append(f'<td class="num{neg}">{cell}</td>')
            else:
                out.append(f"<td>{cell}</td>")
        out.append("</tr>\n")
    out.append("</tbody></table>\n")
    return "".join(out)
