"""``report.html``: one self-contained page (inline CSS and SVG charts, no script, no links) that answers
"is the network paying off, where is money made and lost, which segments pay off, what do distributors
earn" for the people who read a score run.

:func:`render` is a pure function of a :class:`~mlmroi.pipeline.Result`: the typed run summary and the
run's tables. The page is a Jinja2 template (``templates/report.html.j2``, autoescaped) filled with
:class:`Section` values built here; charts are matplotlib figures as inline SVG (:mod:`.charts`). Money is
taken from the summary's and the tables' exact decimals; the same inputs give the same bytes. See
docs/report.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

from mlmroi.pipeline import Result
from mlmroi.report import charts
from mlmroi.report.figures import (
    TOP,
    alive_matrix,
    breakdowns,
    gains_and_losses,
    parent_rows,
    pareto_curve,
    separate_branches,
)
from mlmroi.report.format import DASH, cell, fixed, integer, money, pct, settings, share_pct
from mlmroi.summary import RunSummary

TOP_REASONS = 10  # reject reasons listed

#: The page's sections in order: (id, heading). A section whose data the run lacks is left out.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("totals", "Is the network paying off?"),
    ("periods", "Revenue, commissions and payout ratio by period"),
    ("money", "Where money is made and lost"),
    ("segments", "Which segments pay off"),
    ("network", "The network: by depth, rank and join cohort"),
    ("disclosure", "Income disclosure statement"),
    ("value", "Customer value"),
    ("audit", "Commission audit"),
    ("rows", "Input rows"),
)
TITLES = dict(SECTIONS)

PARTICIPANT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("participant_id", "participant", "text"),
    ("depth", "depth", "int"),
    ("downline_size", "downline", "int"),
    ("revenue", "revenue", "money"),
    ("commissions", "commissions", "money"),
    ("costs", "costs", "money"),
    ("profit", "profit", "money"),
    ("roi_pct", "ROI %", "float"),
)
BRANCH_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("participant_id", "branch of", "text"),
    ("depth", "depth", "int"),
    ("downline_size", "downline", "int"),
    ("branch_income", "branch margin", "money"),
    ("branch_commissions", "branch commissions", "money"),
    ("branch_costs", "branch costs", "money"),
    ("branch_profit", "branch profit", "money"),
    ("branch_roi_pct", "branch ROI %", "float"),
)
#: The segment table's columns (segments.parquet minus buyers and the flags, which are one column here).
SEGMENT_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("participants", "people", "int"),
    ("share", "share", "pct"),
    ("conversion", "conversion", "pct"),
    ("revenue", "revenue", "money"),
    ("revenue_share", "revenue share", "pct"),
    ("average_check", "avg check", "money"),
    ("mean_clv", "mean CLV", "money"),
    ("costs", "costs", "money"),
    ("commissions", "of which commissions", "money"),
    ("profit", "profit", "money"),
    ("roi_pct", "ROI %", "float"),
    ("churn_rate", "churn", "pct"),
)
BREAKDOWN_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("participants", "people", "int"),
    ("revenue", "revenue", "money"),
    ("commissions", "commissions", "money"),
    ("costs", "costs", "money"),
    ("profit", "profit", "money"),
    ("roi_pct", "ROI %", "float"),
)
MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD"}


@dataclass(frozen=True)
class Table:
    """A table of formatted cells; ``numeric`` columns are right-aligned; a row's class marks it (``loss``,
    ``sum``, ``group``); a one-cell row spans the table as a group heading."""

    heads: list[str]
    rows: list[list[str]]
    numeric: list[bool]
    classes: list[str] = field(default_factory=list)
    css: str = ""

    def row_class(self, i: int) -> str:
        return self.classes[i] if i < len(self.classes) else ""


@dataclass(frozen=True)
class Part:
    """One block of a section, in order: a heading, a paragraph, facts, a chart, a table."""

    heading: str = ""
    text: str = ""
    lead: str = ""
    lead_class: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    svg: str = ""
    table: Table | None = None


@dataclass(frozen=True)
class Section:
    id: str
    what: str
    parts: list[Part]

    @property
    def title(self) -> str:
        return TITLES[self.id]


def render(result: Result) -> str:
    """The report of one run as an HTML page (a str; write it as UTF-8)."""
    run = result.run
    sections = [
        _totals(run),
        _periods(run, result.commissions),
        _money(run, result.participants),
        _segments(run, result.segments, result.participants),
        _network(run, result.participants),
        _disclosure(run, result.outputs.get("income_disclosure"), result.participants),
        _value(run, result.participants),
        _audit(run),
        _rows(run, result.rejects),
    ]
    page: str = _template().render(
        run=run,
        name=_dataset_name(run.dataset),
        header=_header(run),
        plan=_plan(run),
        warnings=result.warnings,
        sections=[s for s in sections if s is not None],
    )
    return page


def _template() -> Template:
    environment = Environment(
        loader=PackageLoader("mlmroi.report", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return environment.get_template("report.html.j2")


def _dataset_name(dataset: str) -> str:
    """What the page shows of the dataset: a folder's name, not its absolute path (the page is shared and
    archived; run.json beside it keeps the path), or a database source's redacted URI as it is."""
    if "://" in dataset:
        return dataset
    return dataset.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def _table(
    columns: Sequence[tuple[str, str, str]], frame: pl.DataFrame, loss_on: str | None = None, css: str = ""
) -> Table:
    rows, classes = [], []
    for row in frame.iter_rows(named=True):
        rows.append([cell(row[c], kind) for c, _, kind in columns])
        figure = row.get(loss_on) if loss_on else None
        classes.append("loss" if figure is not None and Decimal(str(figure)) < 0 else "")
    return Table([h for _, h, _ in columns], rows, [k != "text" for _, _, k in columns], classes, css)


def _as_floats(series: pl.Series) -> np.ndarray:
    return series.cast(pl.Float64).fill_null(np.nan).to_numpy()


# --- sections ------------------------------------------------------------------------------------------


def _header(run: RunSummary) -> list[tuple[str, str]]:
    window, network = run.window, run.network
    plural = "" if len(window.periods) == 1 else "s"
    return [
        ("dataset", _dataset_name(run.dataset)),
        (
            "window",
            f"{window.start} – {window.end}, by {window.period} ({len(window.periods):,} period{plural})",
        ),
        ("currency", run.currency),
        (
            "network",
            f"{network.participants:,} participants, {network.roots:,} "
            f"root{'' if network.roots == 1 else 's'}, "
            f"up to {network.max_depth:,} levels deep",
        ),
        ("mlmroi version", run.mlmroi_version),
    ]


def _plan(run: RunSummary) -> Part:
    plan = run.config.plan
    if not plan.components:
        return Part(facts=[("compensation plan", "no components: nothing is paid")])
    rows = []
    for component in plan.components:
        values = component.model_dump(mode="json")
        rows.append(
            [
                str(values.get("name") or values.get("type", "")),
                str(values.get("type", "")),
                settings(values, ("type", "name")),
            ]
        )
    extras = []
    caps = {k: v for k, v in plan.caps.model_dump(mode="json").items() if v is not None}
    if caps:
        extras.append("caps: " + settings(caps))
    if plan.customer_volume_to_sponsor:
        extras.append("customers' volume counts for their nearest distributor upline")
    return Part(
        heading="Compensation plan",
        text="; ".join(extras),
        table=Table(["component", "type", "settings"], rows, [False, False, False]),
    )


def _totals(run: RunSummary) -> Section:
    totals = run.totals
    has_costs = "costs" in run.rows
    audited = totals.audit is not None
    lines: list[tuple[str, Decimal | None, str]] = [
        ("revenue", totals.revenue, ""),
        ("margin (what the orders earn the company)", totals.margin, ""),
        ("commissionable volume (PV)", totals.volume, ""),
    ]
    if has_costs:
        lines += [
            ("acquisition costs", totals.acquisition_cost, ""),
            ("retention costs", totals.retention_cost, ""),
            ("of which shared costs, allocated", totals.shared_cost_allocated, "sub"),
        ]
    lines.append(("commissions paid" if audited else "commissions", totals.commissions, ""))
    for component, amount in totals.commissions_by_component.items():
        lines.append((("plan-computed: " if audited else "") + component, amount, "sub"))
    lines.append(
        (
            "costs (acquisition + retention + commissions)" if has_costs else "costs (commissions)",
            totals.costs,
            "",
        )
    )
    lines.append(("profit (margin − costs)", totals.profit, "sum"))
    rows = [[("\u2003" if css == "sub" else "") + label, money(value)] for label, value, css in lines]
    classes = ["sum" if css == "sum" else "" for _, _, css in lines]
    rows.append(["ROI % (profit / costs × 100)", fixed(totals.roi_pct, 2)])
    rows.append(
        [
            "payout ratio % (commissions / volume)",
            DASH if totals.payout_ratio is None else fixed(totals.payout_ratio * 100, 2),
        ]
    )
    rows.append(["commissions / revenue %", share_pct(totals.commissions, totals.revenue)])
    pays = totals.profit > 0
    roi = f", ROI {fixed(totals.roi_pct, 1)} %" if totals.roi_pct is not None else ""
    lead = (
        f"{'The network pays off' if pays else 'The network does not pay off'}: profit "
        f"{money(totals.profit)} "
        f"{run.currency} on costs {money(totals.costs)} {run.currency}{roi}."
    )
    parts = [
        Part(lead=lead, lead_class="good" if pays else "bad"),
        Part(table=Table(["figure", f"amount ({run.currency})"], rows, [False, True], classes)),
    ]
    if not has_costs:
        parts.append(Part(text="The dataset has no costs table: the only costs are commissions."))
    return Section(
        "totals",
        "The company's view of the whole window: income is the margin of every order; costs are acquisition "
        "and retention spending plus every commission; ROI % = profit / costs × 100. Amounts are exact "
        "to the "
        f"cent ({run.currency}).",
        parts,
    )


def _periods(run: RunSummary, commissions: pl.DataFrame) -> Section | None:
    periods = run.by_period
    if not periods:
        return None
    svg = charts.periods_chart(
        [p.period for p in periods],
        [float(p.revenue) for p in periods],
        [float(p.commissions) for p in periods],
        [p.payout_ratio for p in periods],
        run.currency,
    )
    components = list(run.totals.commissions_by_component)
    by_component: dict[tuple[str, str], Decimal] = {}
    if commissions.height:
        grouped = commissions.group_by("period", "component").agg(pl.col("amount").sum())
        by_component = {(p, c): Decimal(a) for p, c, a in grouped.iter_rows()}
    rows = []
    for p in periods:
        rows.append(
            [p.period, money(p.revenue), money(p.volume)]
            + (
                [money(by_component.get((p.period, c), Decimal(0))) for c in components]
                if len(components) > 1
                else []
            )
            + [money(p.commissions), pct(p.payout_ratio), share_pct(p.commissions, p.revenue) + " %"]
        )
    heads = (
        ["period", "revenue", "volume"]
        + (components if len(components) > 1 else [])
        + [
            "commissions",
            "payout ratio",
            "of revenue",
        ]
    )
    first, last = periods[0].payout_ratio, periods[-1].payout_ratio
    growth = periods[-1].revenue / periods[0].revenue if periods[0].revenue else None
    lead = ""
    if first is not None and last is not None and len(periods) > 1:
        drift = (
            "drifts up" if last > first * 1.02 else "drifts down" if last < first * 0.98 else "holds steady"
        )
        lead = (
            f"The payout ratio {drift}: {pct(first)} in {periods[0].period} → {pct(last)} in "
            f"{periods[-1].period}"
            + (f", while revenue moved ×{fixed(float(growth), 2)}." if growth is not None else ".")
        )
    return Section(
        "periods",
        f"Bars: revenue and commissions per period ({run.currency}); line: the payout ratio (commissions / "
        "commissionable volume). Commissions that grow with sales keep the ratio flat; a rising ratio is "
        "payout drift (the plan pays more per unit sold).",
        [Part(lead=lead, svg=svg), Part(table=Table(heads, rows, [False] + [True] * (len(heads) - 1)))],
    )


def _money(run: RunSummary, participants: pl.DataFrame) -> Section | None:
    if not participants.height:
        return None
    columns = [c for c in PARTICIPANT_COLUMNS if c[0] in participants.columns]
    gains, losses = gains_and_losses(participants, [c for c, _, _ in columns])
    parts = [
        Part(
            heading=f"Biggest losses in money (top {TOP})",
            text="Participants on whom the company loses most: the margin of their own orders minus their "
            "costs, commissions paid to them included. Leaders often lead this list: their commissions are "
            "paid on their whole downline's volume.",
            table=_table(columns, losses, "profit"),
        ),
        Part(
            heading=f"Biggest gains in money (top {TOP})",
            text="Participants on whom the company earns most.",
            table=_table(columns, gains, "profit"),
        ),
    ]
    branch_columns = [c for c in BRANCH_COLUMNS if c[0] in participants.columns]
    if "branch_profit" in participants.columns:
        parent = parent_rows(participants)  # the tree, once for both lists
        for lowest, heading in ((False, "Strongest branches"), (True, "Weakest branches")):
            rows = separate_branches(participants, parent, "branch_profit", lowest=lowest)
            frame = participants[rows] if rows else participants.clear()
            if lowest:
                frame = frame.filter(pl.col("branch_profit") < 0)
            if frame.height:
                parts.append(
                    Part(
                        heading=f"{heading} by branch profit (none inside another)",
                        text="A branch is a participant and everything they built, below the roots (a "
                        "root's branch is its whole network); a branch inside one already listed is skipped, "
                        "so each chain is listed once. Branch costs include every commission the branch's "
                        "volume generated, whoever was paid.",
                        table=_table(branch_columns, frame, "branch_profit"),
                    )
                )
    panels = []
    for column, title, label in (
        ("roi_pct", "personal ROI %", "ROI %"),
        ("commissions", "commissions received", run.currency),
        ("distributor_net", "distributor net", f"{run.currency}, income − expenses"),
    ):
        if column in participants.columns:
            values = participants[column]
            if column == "commissions":
                values = values.filter(values > 0)
            panels.append((title, _as_floats(values.drop_nulls()), label))
    if panels:
        parts.append(
            Part(
                heading="Distributions per participant",
                text="Participants with no costs have no ROI; commissions count those paid anything. Values "
                "beyond the 1st and 99th percentiles are drawn in the edge bars.",
                svg=charts.histograms(panels),
            )
        )
    return Section(
        "money",
        f"Gains and losses in money ({run.currency}), not in ratios: a small account with a bad ROI loses "
        "little, a leader with a fair ROI can lose much. Ties are listed by participant id; every "
        "participant "
        "is in participants.parquet.",
        parts,
    )


def _segments(run: RunSummary, segments: pl.DataFrame, participants: pl.DataFrame) -> Section | None:
    parts = []
    if segments.height:
        shown = [c for c in SEGMENT_COLUMNS if c[0] in segments.columns]
        empty = {c for c in ("mean_clv", "churn_rate") if segments[c].null_count() == segments.height}
        shown = [c for c in shown if c[0] not in empty]
        rows: list[list[str]] = []
        classes: list[str] = []
        losing = []
        groups: list[tuple[str, list[str], list[float], list[float | None]]] = []
        previous = None
        for row in segments.iter_rows(named=True):
            if row["segmentation"] != previous:
                rows.append([row["segmentation"]])
                classes.append("group")
                previous = row["segmentation"]
                if row["segmentation"] not in ("all", "abcxyz"):
                    groups.append((row["segmentation"], [], [], []))
            flags = [
                f
                for f, on in (
                    ("loses money", row["unprofitable"]),
                    ("weak conversion", row["weak_conversion"]),
                )
                if on
            ]
            loss = (row["roi_pct"] is not None and row["roi_pct"] < 0) or Decimal(row["profit"]) < 0
            if loss:
                losing.append(f"{row['segmentation']} {row['value']}")
            rows.append([str(row["value"])] + [cell(row[c], k) for c, _, k in shown] + [", ".join(flags)])
            classes.append("loss" if loss else "")
            if groups and groups[-1][0] == row["segmentation"]:
                groups[-1][1].append(str(row["value"]))
                groups[-1][2].append(float(row["profit"]))
                groups[-1][3].append(row["roi_pct"])
        if losing:
            lead = (
                f"{len(losing):,} of {segments.height:,} segment values lose money (marked red): "
                f"{', '.join(losing)}."
            )
        else:
            lead = "Every segment value pays off."
        parts.append(
            Part(
                lead=lead,
                lead_class="bad" if losing else "good",
                svg=charts.segments_chart(groups, run.currency),
            )
        )
        parts.append(
            Part(
                heading="Segment effectiveness table",
                text="Per segmentation and value, the company's personal-view figures of its members (costs "
                "include the commissions paid to them). Each segmentation's rows add up to the totals.",
                table=Table(
                    ["segment"] + [h for _, h, _ in shown] + ["flags"],
                    rows,
                    [False] + [k != "text" for _, _, k in shown] + [False],
                    classes,
                    css="segments",
                ),
            )
        )
    summary = run.segments
    health = summary.abc_health
    facts = [("ABC measure", f"{health.measure} ({health.method})")]
    if health.a_share_of_buyers is not None:
        verdict = "inside" if health.a_share_in_healthy_range else "outside"
        facts.append(
            ("A's share of buyers", f"{pct(health.a_share_of_buyers)} ({verdict} the healthy 20–30 %)")
        )
    facts.append(("A's share of revenue", pct(health.a_share_of_revenue)))
    facts.append(("participants making 80 % of revenue", pct(health.participants_making_80pct_of_revenue)))
    x, y = pareto_curve(participants)
    parts.append(
        Part(
            heading="ABC health and the Pareto curve",
            text="A healthy network has 20–30 % of its buyers in class A (the source article's range); the "
            "curve shows how few participants bring most of the revenue.",
            facts=facts,
            svg=charts.pareto_chart(x, y, health.a_share_of_participants),
        )
    )
    kpis = []
    if summary.conversion.rate is not None:
        kpis.append(
            (
                "conversion",
                f"{pct(summary.conversion.rate)} of the {summary.conversion.base:,} participants who had "
                "never "
                "bought before the window bought in it",
            )
        )
    churn = summary.churn
    if churn.rate is not None and churn.previous_window is not None:
        kpis.append(
            (
                "churn",
                f"{pct(churn.rate)} of the {integer(churn.previous_buyers)} buyers of "
                f"{churn.previous_window.start} … {churn.previous_window.end} did not buy in this window "
                f"({pct(churn.monthly_rate, 2)} a month)",
            )
        )
    elif churn.note:
        kpis.append(("churn", churn.note))
    if summary.surveys is not None:
        s = summary.surveys
        kpis.append(("CSI (scores 8–10 / scores 1–3)", f"{fixed(s.csi, 2)} ({s.attract:,} / {s.detract:,})"))
        kpis.append(
            (
                "NPS (% 9–10 − % 0–6)",
                f"{fixed(s.nps, 1)} ({s.promoters:,} promoters, {s.detractors:,} detractors; "
                f"{s.responses:,} responses)",
            )
        )
    parts.append(Part(heading="Company KPIs", facts=kpis))
    return Section(
        "segments",
        f"Which segments pay off: profit per segment value ({run.currency}) with its ROI %, loss-makers in "
        "red; the full table below and in segments.parquet.",
        parts,
    )


def _network(run: RunSummary, participants: pl.DataFrame) -> Section | None:
    parts = []
    for breakdown in breakdowns(participants):
        frame = breakdown.frame
        svg = charts.breakdown_chart(
            breakdown.dimension,
            frame["group"].to_list(),
            [float(v) for v in frame["profit"]],
            frame["roi_pct"].to_list(),
            run.currency,
        )
        columns = [("group", breakdown.dimension, "text"), *BREAKDOWN_COLUMNS]
        parts.append(
            Part(heading=f"By {breakdown.dimension}", svg=svg, table=_table(columns, frame, "profit"))
        )
    if not parts:
        return None
    return Section(
        "network",
        f"Participants and the company's money on them ({run.currency}), grouped by how deep they sit, by "
        "rank (when the data has ranks) and by when they joined. Personal view: a group's costs include the "
        "commissions paid to its members.",
        parts,
    )


DISCLOSURE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("participants", "distributors", "int"),
    ("share", "share", "pct"),
    ("income_median", "median income", "money"),
    ("income_mean", "mean income", "money"),
    ("income_top10_mean", "top 10 % mean", "money"),
    ("income_top1_mean", "top 1 % mean", "money"),
    ("share_no_income", "earned nothing", "pct"),
    ("net_median", "median net", "money"),
    ("net_mean", "mean net", "money"),
    ("share_net_loss", "netted a loss", "pct"),
)
DISCLOSURE_BLOCKS = {"all": "", "income_bracket": "by gross income", "rank": "by rank", "tenure": "by tenure"}


def _disclosure(run: RunSummary, table: pl.DataFrame | None, participants: pl.DataFrame) -> Section | None:
    if table is None or table.height == 0:
        return None
    everyone = table.row(0, named=True)
    count = int(everyone["participants"])
    if count == 0:
        return None
    window = run.window
    customers = participants.height - count
    lead = (
        f"In {window.start} – {window.end}, the median distributor earned {money(everyone['income_median'])} "
        f"{run.currency} before expenses and netted {money(everyone['net_median'])} {run.currency} after "
        "them; "
        f"{pct(everyone['share_no_income'])} earned nothing and {pct(everyone['share_net_loss'])} lost money."
    )
    bracket = table.filter(pl.col("by") == "income_bracket")
    parts = [
        Part(
            lead=lead,
            lead_class="",
            text=f"Every one of the {count:,} distributors is counted, including those who earned "
            "nothing, joined "
            f"during the window or left; the {customers:,} customers are not (they cannot earn). Figures "
            "are for "
            "the window as it is, not annualised. Gross income is commissions received plus the estimated "
            "retail profit on what they resold; net subtracts the costs they paid and their own purchases "
            "(docs/disclosure.md). The top 1 % and 10 % are the highest earners of each group; their mean "
            "shows "
            "how concentrated the money is.",
            svg=charts.share_bars(
                [str(g) for g in bracket["group"]],
                [float(s) for s in bracket["share"]],
                "Share of distributors by gross income in the window",
            ),
        )
    ]
    columns = [("group", "group", "text"), *DISCLOSURE_COLUMNS]
    for block, heading in DISCLOSURE_BLOCKS.items():
        rows = table.filter(pl.col("by") == block)
        if rows.height and block != "all":
            parts.append(Part(heading=f"Distributors {heading}", table=_table(columns, rows, css="compact")))
        elif rows.height:
            parts.append(Part(heading="All distributors", table=_table(columns, rows, css="compact")))
    if not table.filter(pl.col("by") == "rank").height:
        parts.append(Part(text="No rank is known (no stairstep plan and no rank column): no rows by rank."))
    return Section(
        "disclosure",
        f"What distributors earned from the business opportunity ({run.currency}), in the form MLM companies "
        "publish for regulators (the FTC's business-opportunity and earnings-claims guidance; direct-selling "
        "associations' disclosures). Also written as income_disclosure.parquet.",
        parts,
    )


def _value(run: RunSummary, participants: pl.DataFrame) -> Section | None:
    value = run.value
    model = value.model
    facts: list[tuple[str, str]] = []
    selected = model.selected or "bgnbd"
    name = MODEL_NAMES.get(selected, selected)
    if model.status == "fitted":
        facts.append(("model", f"{name} (purchases) × Gamma-Gamma (order value), fitted on the {model.fit}"))
    elif model.status == "failed":
        facts.append(("model", f"not fitted: {model.reason}"))
    else:
        facts.append(("model", 'turned off ([value] model = "none")'))
    settings_ = run.config.value
    if run.totals.clv_predicted is not None:
        facts.append(
            (
                f"predicted CLV, all participants (margin over the next {settings_.horizon_months} months, "
                f"discounted {fixed(settings_.discount_rate * 100, 2)} % a month)",
                f"{money(run.totals.clv_predicted)} {run.currency}",
            )
        )
    if value.customers is not None:
        facts.append(
            (
                "buyers the model was fitted on",
                f"{value.customers:,}; {integer(value.repeat_purchases)} repeat purchase days",
            )
        )
    if value.margin_rate is not None:
        facts.append(("margin rate applied", pct(value.margin_rate, 2)))
    purchases, spend = model.purchases, model.gamma_gamma
    if purchases is not None:
        facts.append(
            (
                f"{name} parameters (time in weeks)",
                f"r {fixed(purchases.r, 4)}, alpha {fixed(purchases.alpha, 4)}, a {fixed(purchases.a, 4)}, "
                f"b {fixed(purchases.b, 4)}; log-likelihood {fixed(purchases.log_likelihood, 1)}; "
                f"{purchases.repeat_buyers:,} repeat buyers",
            )
        )
    if spend is not None:
        facts.append(
            (
                "Gamma-Gamma parameters",
                f"p {fixed(spend.p, 4)}, q {fixed(spend.q, 4)}, gamma {fixed(spend.gamma, 4)} (γ in "
                f"{spend.money_unit}); mean repeat purchase {fixed(spend.mean_transaction_value, 2)}",
            )
        )
    facts.append(
        (
            "rule-of-thumb CLV lifetime (clv_formula)",
            f"{fixed(value.lifetime_months, 1)} months: {value.lifetime_source}",
        )
    )
    parts = [Part(facts=facts)]
    holdout = value.holdout
    if holdout is not None:
        rows = []
        for model_name, fit in holdout.models.items():
            rows.append(
                [
                    MODEL_NAMES.get(model_name, model_name)
                    + (" (selected)" if model_name == holdout.model else ""),
                    fixed(fit.expected, 1) if fit.status == "fitted" else f"not fitted: {fit.reason}",
                    integer(holdout.actual_purchase_days),
                    fixed(fit.actual_per_expected, 2),
                    fixed(fit.log_likelihood, 1),
                ]
            )
        parts.append(
            Part(
                heading=f"Holdout check: the last {holdout.periods} periods",
                text=f"Fitted on the {holdout.fit}; purchase days predicted for {holdout.holdout} against "
                "those "
                "that happened (actual / expected near 1 means the model is right).",
                table=Table(
                    [
                        "model",
                        "expected purchase days",
                        "actual",
                        "actual / expected",
                        "calibration log-likelihood",
                    ],
                    rows,
                    [False, True, True, True, True],
                ),
            )
        )
    if model.status == "fitted":
        scored = pl.col("p_alive").is_not_nan()
        buyers = participants.lazy().select("clv_predicted", "p_alive").filter(scored).collect()
        parts.append(
            Part(
                heading="Distributions",
                text="Predicted CLV and the probability of still being a buyer (p_alive), over the "
                "participants "
                "the model scored.",
                svg=charts.histograms(
                    [
                        ("predicted CLV", _as_floats(buyers["clv_predicted"]), run.currency),
                        ("p_alive", _as_floats(buyers["p_alive"]), "probability"),
                    ]
                ),
            )
        )
        matrix = alive_matrix(participants)
        if matrix is not None:
            rows = [
                [frequency]
                + [
                    DASH if n == 0 else f"{pct(float(mean), 0)} ({int(n):,})"
                    for mean, n in zip(matrix.mean[i], matrix.customers[i], strict=True)
                ]
                for i, frequency in enumerate(matrix.frequencies)
            ]
            parts.append(
                Part(
                    heading="p_alive by frequency × weeks since the last purchase",
                    text="Mean p_alive (customers) per cell: rows are repeat purchase days in the window, "
                    "columns the weeks since the last one. Frequent buyers who stopped recently are the "
                    "ones to win back.",
                    table=Table(
                        ["repeat purchases \\ weeks since", *matrix.weeks],
                        rows,
                        [False] + [True] * len(matrix.weeks),
                        css="matrix",
                    ),
                )
            )
    return Section(
        "value",
        "What participants are expected to be worth: predicted CLV is the margin each is expected to "
        "bring over "
        "the horizon, from how often and how much they bought (per participant, with p_alive and branch "
        "CLV, in "
        "participants.parquet).",
        parts,
    )


def _audit(run: RunSummary) -> Section | None:
    audit = run.totals.audit
    if audit is None:
        return None
    rows = [
        ["paid (the commissions table)", money(audit.paid)],
        ["computed by the plan", money(audit.computed)],
        ["difference (paid − computed)", money(audit.difference)],
        ["tolerance per participant", money(audit.tolerance)],
        ["participants with a difference above the tolerance", integer(audit.participants_flagged)],
    ]
    return Section(
        "audit",
        "What was actually paid against what the plan computes. ROI above uses what was paid; the "
        "participants "
        "flagged (commission_flag in participants.parquet) are the ones to look at.",
        [Part(table=Table(["figure", f"amount ({run.currency})"], rows, [False, True]))],
    )


def _rows(run: RunSummary, rejects: pl.DataFrame) -> Section:
    with_outside = any(r.outside_window is not None for r in run.rows.values())
    with_after = any(r.joined_after_window for r in run.rows.values())
    heads = ["table", "rows in", "used", "rejected"]
    heads += ["joined after the window end"] if with_after else []
    heads += ["of which outside the window"] if with_outside else []
    rows = []
    for name, r in run.rows.items():
        row = [name, integer(r.in_), integer(r.used), integer(r.rejected)]
        row += [integer(r.joined_after_window)] if with_after else []
        row += [integer(r.outside_window) if r.outside_window is not None else ""] if with_outside else []
        rows.append(row)
    parts = [Part(table=Table(heads, rows, [False] + [True] * (len(heads) - 1)))]
    if rejects.height:
        reasons = (
            rejects.lazy()
            .group_by("table", "reason")
            .agg(pl.len().alias("rows"))
            .sort(["rows", "table", "reason"], descending=[True, False, False], nulls_last=True)
            .head(TOP_REASONS)
            .collect()
        )
        parts.append(
            Part(
                heading="Top reject reasons",
                text=f"{rejects.height:,} reject line{'' if rejects.height == 1 else 's'} in all; the "
                "most frequent "
                "reasons (every line, with file, row, column and value, is in rejects.parquet).",
                table=Table(
                    ["table", "reason", "rows"],
                    [[str(t), str(reason), integer(n)] for t, reason, n in reasons.iter_rows()],
                    [False, False, True],
                ),
            )
        )
    return Section(
        "rows",
        "Every input row is used, rejected, or left out because its participant joined after the window end "
        "(the run describes the company as of that date). Used rows dated outside the analysis window are "
        "read "
        "but not counted in the figures.",
        parts,
    )
