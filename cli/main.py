"""The ``mlmroi`` command: thin wrappers that parse arguments, call the library and render tables."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlmroi.errors import MlmRoiError

app = typer.Typer(
    name="mlmroi",
    help="MLM network analytics: commissions, costs and ROI per participant and per branch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


class Orphans(StrEnum):
    reject = "reject"
    root = "root"


class Format(StrEnum):
    parquet = "parquet"
    csv = "csv"


def _fail(exc: MlmRoiError) -> typer.Exit:
    for line in exc.problems:
        err.print(Text.assemble(("error: ", "red"), line), highlight=False, soft_wrap=True)
    return typer.Exit(exc.exit_code)


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


DatasetArg = Annotated[
    Path, typer.Argument(help="Dataset folder with participants, orders and costs (csv or parquet).")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Config file (default: DATASET/mlmroi.toml).")
]
OrphansOpt = Annotated[
    Orphans, typer.Option(help="A missing sponsor: reject the participant, or make them a root.")
]


def _run(
    dataset: Path,
    config_path: Path | None,
    start: str | None,
    end: str | None,
    orphans: Orphans,
    strict: bool,
):  # type: ignore[no-untyped-def]
    from mlmroi.config import load_config, with_overrides
    from mlmroi.pipeline import score

    config = load_config(config_path, dataset)
    s, e = _date(start, "--start"), _date(end, "--end")
    if s or e:
        config = with_overrides(config, s, e)
    with err.status("starting") as status:
        result = score(
            dataset,
            config,
            orphans=orphans.value,
            strict=strict,
            progress=lambda stage: status.update(f"{stage}…"),
        )
    return config, result


def _summary(result) -> Table:  # type: ignore[no-untyped-def]
    run = result.run
    table = Table(
        title=f"mlmroi — {run['window']['start']} … {run['window']['end']} "
        f"({run['config']['money']['currency']})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, rows in run["rows"].items():
        table.add_row(
            f"{name} rows in / used / rejected", f"{rows['in']:,} / {rows['used']:,} / {rows['rejected']:,}"
        )
    table.add_row(
        "participants / roots / max depth",
        f"{run['network']['participants']:,} / {run['network']['roots']:,} / {run['network']['max_depth']}",
    )
    totals = run["totals"]
    for key in ("revenue", "margin", "acquisition_cost", "retention_cost", "commissions", "costs", "profit"):
        table.add_row(key.replace("_", " "), f"{float(totals[key]):,.2f}")
    table.add_row("payout ratio", "—" if totals["payout_ratio"] is None else f"{totals['payout_ratio']:.2%}")
    table.add_row("ROI %", "—" if totals["roi_pct"] is None else f"{totals['roi_pct']:,.1f}")
    value = run.get("value", {})
    if "clv_predicted" in totals:
        months = run["config"]["value"]["horizon_months"]
        table.add_row(
            f"CLV predicted (next {months} months, margin)", f"{float(totals['clv_predicted']):,.2f}"
        )
    holdout = value.get("holdout")
    if holdout:
        table.add_row(
            "holdout purchase weeks expected / actual",
            f"{holdout['expected_purchase_weeks']:,.0f} / {holdout['actual_purchase_weeks']:,}",
        )
    return table


def _segments_table(segments: pl.DataFrame) -> Table:
    """Which segments pay off: the effectiveness table, one row per segmentation value (abcxyz left out:
    it is the product of abc and xyz; every column is in segments.parquet)."""
    table = Table(title="segments: which pay off (full table: segments.parquet)")
    for column in ("segment", "value", "people", "conversion", "revenue", "ROI %", "churn", "flags"):
        table.add_column(column, justify="left" if column in ("segment", "value", "flags") else "right")

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.0%}"

    previous = None
    for row in segments.filter(pl.col("segmentation") != "abcxyz").iter_rows(named=True):
        flags = [
            short for name, short in (("unprofitable", "loss"), ("weak_conversion", "weak")) if row[name]
        ]
        table.add_row(
            Text("" if row["segmentation"] == previous else row["segmentation"]),
            Text(row["value"]),
            Text(f"{row['participants']:,}"),
            Text(pct(row["conversion"])),
            Text(pct(row["revenue_share"])),
            Text("—" if row["roi_pct"] is None else f"{row['roi_pct']:,.0f}"),
            Text(pct(row["churn_rate"])),
            Text(" ".join(flags)),
        )
        previous = row["segmentation"]
    return table


@app.command("score")
def score_cli(
    dataset: DatasetArg,
    config: ConfigOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder (replaced atomically).")] = Path(
        "mlmroi-out"
    ),
    start: Annotated[
        str | None, typer.Option(help="Window start, YYYY-MM-DD (overrides the config).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Window end (as-of date), YYYY-MM-DD.")] = None,
    strict: Annotated[
        bool, typer.Option(help="Fail (exit 1, nothing written) if any row would be rejected.")
    ] = False,
    orphans: OrphansOpt = Orphans.reject,
    fmt: Annotated[
        list[Format] | None, typer.Option("--format", help="Also write csv (parquet is always written).")
    ] = None,
) -> None:
    """Score a dataset: network metrics, commissions, costs and ROI per participant and per branch.

    Writes participants.parquet, commissions.parquet, segments.parquet, rejects.parquet, run.json and
    timings.json to --out.
    """
    from mlmroi.output import write

    try:
        _, result = _run(dataset, config, start, end, orphans, strict)
        formats = {"parquet"} | {f.value for f in fmt or []}
        inputs = list(dataset.glob("*.csv")) + list(dataset.glob("*.parquet"))
        path = write(result, out_dir, formats=sorted(formats), inputs=inputs)
    except MlmRoiError as exc:
        raise _fail(exc) from None
    for warning in result.warnings:
        err.print(Text.assemble(("warning: ", "yellow"), warning), highlight=False, soft_wrap=True)
    out.print(_summary(result))
    if result.segments.height:
        out.print(_segments_table(result.segments))
        health = result.run["segments"]["abc_health"]
        if health["a_share_of_revenue"] is not None:
            verdict = "healthy" if health["a_share_in_healthy_range"] else "outside the healthy 20–30 %"
            out.print(
                f"ABC health: A is {health['a_share_of_participants']:.1%} of participants ({verdict}) and "
                f"brings {health['a_share_of_revenue']:.1%} of revenue; "
                f"{health['participants_making_80pct_of_revenue']:.1%} of participants make 80 % of revenue",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
    rejected = result.rejects.height
    note = f" ({rejected:,} reject lines — see rejects.parquet)" if rejected else ""
    out.print(f"wrote {path}{note}", highlight=False, soft_wrap=True, markup=False)


@app.command("validate")
def validate_cli(
    dataset: DatasetArg,
    config: ConfigOpt = None,
    orphans: OrphansOpt = Orphans.reject,
    limit: Annotated[int, typer.Option(help="Problems to list (0 = all).")] = 50,
) -> None:
    """Check a dataset and its config without writing anything: exit 0 if clean, 1 listing the problems."""
    try:
        _, result = _run(dataset, config, None, None, orphans, strict=False)
    except MlmRoiError as exc:
        raise _fail(exc) from None
    rows = result.run["rows"]
    for name, r in rows.items():
        out.print(
            f"{name}: {r['in']:,} rows, {r['used']:,} used, {r['rejected']:,} rejected", highlight=False
        )
    rejects: pl.DataFrame = result.rejects
    if rejects.height == 0:
        out.print("[green]clean:[/green] no problems found")
        return
    table = Table(title=f"{rejects.height:,} problem(s)")
    for column in rejects.columns:
        table.add_column(column)
    shown = rejects if limit == 0 else rejects.head(limit)
    for row in shown.iter_rows():
        table.add_row(*[Text("" if v is None else str(v)) for v in row])  # data, never markup
    out.print(table)
    if shown.height < rejects.height:
        out.print(f"… {rejects.height - shown.height:,} more (use --limit 0 to list all)")
    raise typer.Exit(1)


@app.command("simulate")
def simulate_cli(
    dataset: DatasetArg,
    plan: Annotated[
        list[Path],
        typer.Option("--plan", help="A TOML file with a [plan]; repeat. The first is the baseline."),
    ],
    config: ConfigOpt = None,
    orphans: OrphansOpt = Orphans.reject,
    top: Annotated[int, typer.Option(help="Biggest winners and losers to list per plan.")] = 10,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write the comparison as JSON here.")
    ] = None,
) -> None:
    """Plans side by side on one dataset: payout ratio, commissions by component, rank and depth, ROI shifts.

    Window, money and costs come from the dataset's config (or --config); each --plan file contributes
    only its [plan]. The dataset is read and aggregated once.
    """
    import json

    from mlmroi.config import load_config
    from mlmroi.simulate import load_plan, simulate

    try:
        base = load_config(config, dataset)
        configs = {}
        for path in plan:
            name = path.stem if path.stem not in configs else str(path)
            configs[name] = load_plan(path, base)
        with err.status("simulating"):
            result = simulate(dataset, configs, orphans=orphans.value, top=top)
    except MlmRoiError as exc:
        raise _fail(exc) from None
    names = list(result.plans)
    table = Table(title=f"plans side by side (baseline: {names[0]})")
    table.add_column("figure")
    for name in names:
        table.add_column(name, justify="right")

    def row(label: str, values: list[object]) -> None:
        table.add_row(Text(label), *[Text("—" if v is None else str(v)) for v in values])

    plans = result.plans
    row("commissions", [plans[n]["commissions"] for n in names])
    row(
        "payout ratio",
        [f"{plans[n]['payout_ratio']:.2%}" if plans[n]["payout_ratio"] is not None else None for n in names],
    )
    row("company profit", [plans[n]["profit"] for n in names])
    for component in dict.fromkeys(c for n in names for c in plans[n]["by_component"]):
        row(f"  {component}", [plans[n]["by_component"].get(component) for n in names])
    for band in plans[names[0]]["by_depth_band"]:
        row(f"  depth {band}", [plans[n]["by_depth_band"][band] for n in names])
    for period in plans[names[0]]["payout_ratio_by_period"]:
        ratios = [plans[n]["payout_ratio_by_period"][period] for n in names]
        row(f"  payout {period}", [f"{r:.2%}" if r is not None else None for r in ratios])
    row("ROI turns negative", [plans[n].get("roi_turns_negative", "") for n in names])
    row("ROI turns positive", [plans[n].get("roi_turns_positive", "") for n in names])
    out.print(table)
    for name in names:
        by_rank = plans[name]["commissions_by_rank"]
        if by_rank is None:
            out.print(
                f"{name}: no commissions by rank (no stairstep in the plan, no rank column in the dataset)",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            continue
        ranks = Table(title=Text(f"{name}: commissions by rank ({plans[name]['rank_source']})"))
        ranks.add_column("rank")
        for column in ("participants", "commissions", "share", "mean"):
            ranks.add_column(column, justify="right")
        for r in by_rank:
            ranks.add_row(
                Text(r["rank"]),
                Text(f"{r['participants']:,}"),
                Text(r["commissions"]),
                Text("—" if r["share"] is None else f"{r['share']:.2%}"),
                Text("—" if r["mean"] is None else r["mean"]),
            )
        out.print(ranks)
    if result.changes.height:
        changes = Table(title="biggest changes in commissions against the baseline")
        for column in result.changes.columns:
            changes.add_column(column, justify="right" if column not in ("plan",) else "left")
        for values in result.changes.iter_rows():
            changes.add_row(*[Text(str(v)) for v in values])
        out.print(changes)
    if json_out is not None:
        json_out.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
        out.print(f"wrote {json_out}", highlight=False, soft_wrap=True, markup=False)


@app.command("explain")
def explain_cli(
    run_dir: Annotated[Path, typer.Argument(help="Output folder of `mlmroi score` (has run.json).")],
    participant_id: Annotated[str, typer.Argument(help="The participant to explain.")],
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset folder (default: the one recorded in run.json).")
    ] = None,
    top: Annotated[int, typer.Option(help="Lines to show per direction (all go to --out).")] = 15,
    detail_out: Annotated[
        Path | None, typer.Option("--out", help="Write every line here (.csv or .parquet).")
    ] = None,
) -> None:
    """Every commission one participant received — per source, component, level and period, adding up
    to the cent to their totals — and what their own volume paid their uplines.

    Re-reads the run's inputs (checked against run.json) and runs the plan once with the participant
    traced: a few seconds at a million participants, whoever is asked for.
    """
    from mlmroi.explain import explain

    try:
        with err.status("explaining"):
            result = explain(run_dir, participant_id, data)
    except MlmRoiError as exc:
        raise _fail(exc) from None
    summary = result.summary
    table = Table(title=Text(f"participant {summary['participant_id']}: commissions by component"))
    for column in ("component", "received", "from sources", "generated for uplines"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for component, figures in summary["by_component"].items():
        table.add_row(
            Text(component),
            Text(figures["received"]),
            Text(figures["sources"]),
            Text(figures["generated_for_uplines"]),
        )
    table.add_row(Text("total"), Text(summary["received"]), Text(""), Text(summary["generated_for_uplines"]))
    out.print(table)
    for direction, title, who in (
        ("received", "largest amounts received", "source"),
        ("generated", "largest amounts their volume paid uplines", "payee"),
    ):
        lines = result.detail.filter(pl.col("direction") == direction)
        if not lines.height:
            continue
        biggest = lines.sort(pl.col("amount").abs(), descending=True, maintain_order=True).head(top)
        detail = Table(title=Text(f"{title} ({min(top, lines.height)} of {lines.height:,} lines)"))
        for column in ("period", "component", "level", who, "amount"):
            detail.add_column(column, justify="right" if column in ("level", "amount") else "left")
        for period, component, level, other, amount in biggest.select(
            "period", "component", "level", "participant_id", "amount"
        ).iter_rows():
            detail.add_row(
                Text(period),
                Text(component),
                Text("" if level is None else str(level)),
                Text(str(other)),
                Text(str(amount)),
            )
        out.print(detail)
    if detail_out is not None:
        if detail_out.suffix == ".parquet":
            result.detail.write_parquet(detail_out)
        else:
            result.detail.write_csv(detail_out)
        out.print(f"wrote {detail_out}", highlight=False, soft_wrap=True, markup=False)


@app.command("compare")
def compare_cli(
    run_a: Annotated[Path, typer.Argument(help="The earlier run's output folder.")],
    run_b: Annotated[Path, typer.Argument(help="The later run's output folder.")],
    segmentation: Annotated[
        list[str] | None,
        typer.Option(
            "--segmentation", help="Compare these (repeat); default abc, xyz, rfm_segment, lifecycle."
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Write migrations.parquet and members.parquet (who is in each cell) here."
        ),
    ] = None,
) -> None:
    """Segment migration between two runs: how many A became B, C became B, … per segmentation."""
    from mlmroi.compare import DEFAULT_SEGMENTATIONS, compare

    try:
        result = compare(run_a, run_b, tuple(segmentation) if segmentation else DEFAULT_SEGMENTATIONS)
    except MlmRoiError as exc:
        raise _fail(exc) from None
    for name in dict.fromkeys(result.migrations["segmentation"].to_list()):
        matrix = result.matrix(name)
        out.print(Text(f"{name}: rows = {run_a.name}, columns = {run_b.name}"), soft_wrap=True)
        table = Table()
        for column in matrix.columns:
            table.add_column(
                Text(name if column == "from" else column), justify="left" if column == "from" else "right"
            )
        for row in matrix.iter_rows():
            table.add_row(Text(str(row[0])), *[Text(f"{v:,}") for v in row[1:]])
        out.print(table)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        result.migrations.write_parquet(out_dir / "migrations.parquet")
        result.members.write_parquet(out_dir / "members.parquet")
        out.print(f"wrote {out_dir}", highlight=False, soft_wrap=True, markup=False)


@app.command("generate")
def generate_cli(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write the dataset into.")],
    participants: Annotated[int, typer.Option(help="Number of participants.")] = 2000,
    months: Annotated[int, typer.Option(help="Months of orders.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files).")] = 0,
    start: Annotated[str, typer.Option(help="First day of the window, YYYY-MM-DD.")] = "2025-01-01",
    fmt: Annotated[Format, typer.Option("--format", help="File format of the tables.")] = Format.csv,
) -> None:
    """Generate a realistic synthetic MLM dataset (skewed recruiting, deep chains, seasonal orders, churn)."""
    from mlmroi.synth import generate

    begin = _date(start, "--start")
    assert begin is not None
    try:
        with err.status("generating") as status:
            summary = generate(
                out_dir,
                participants,
                months=months,
                seed=seed,
                start=begin,
                fmt=fmt.value,
                progress=lambda stage: status.update(f"{stage}…"),
            )
    except ValueError as exc:
        err.print(Text.assemble(("error: ", "red"), str(exc)), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    out.print(
        f"wrote {summary.out_dir}: {summary.participants:,} participants, {summary.orders:,} orders, "
        f"{summary.costs:,} costs, {summary.events:,} events, {summary.leads:,} leads, "
        f"max depth {summary.max_depth}",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )


if __name__ == "__main__":
    app()
