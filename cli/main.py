"""The ``mlmroi`` command: thin wrappers that parse arguments, call the library and render tables."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import polars as pl
import typer
from rich.table import Table
from rich.text import Text

from mlmroi.errors import InputError
from mlmroi.report.format import money as _money

if TYPE_CHECKING:
    from mlmroi.config import Config
    from mlmroi.pipeline import Result
from mlmroi_cli.terminal import VERBOSITY, Stages, T, err, guarded, out, say

app = typer.Typer(
    name="mlmroi",
    help="MLM network analytics: commissions, costs and ROI per participant and per branch.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: "[plan]" and "[source]" are printed, not taken as markup
)


def _version(value: bool) -> None:
    if value:
        from mlmroi import __version__

        say(out, f"mlmroi {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option("--quiet", "-q", help="Print only warnings, errors and where the output went."),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", "-v", help="Print one line per stage with its time, also on a terminal."),
    ] = False,
) -> None:
    """MLM network analytics: commissions, costs and ROI per participant and per branch."""
    if quiet and verbose:
        raise typer.BadParameter("--quiet and --verbose exclude each other", param_hint="-q/-v")
    VERBOSITY["level"] = -1 if quiet else 1 if verbose else 0


class Orphans(StrEnum):
    reject = "reject"
    root = "root"


class Format(StrEnum):
    parquet = "parquet"
    csv = "csv"


def _warn(line: str) -> None:
    err.print(Text.assemble(("warning: ", "yellow"), T(line)), soft_wrap=True)


def _dataset_inputs(dataset: Path, config_path: Path | None) -> list[Path]:
    """What a run reads: the dataset folder, its files and the config; an output may not hold any."""
    if not dataset.is_dir():
        raise InputError(f"{dataset}: not a folder (a dataset is a folder of csv or parquet tables)")
    files = sorted(p for p in dataset.iterdir() if p.suffix in (".csv", ".parquet", ".toml"))
    return [dataset, *files, *([config_path] if config_path is not None else [])]


def _date(value: str | None, option: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


DatasetArg = Annotated[
    Path,
    typer.Argument(
        help="Dataset folder with participants, orders and costs (csv or parquet).", metavar="DATASET"
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="Config file (default: DATASET/mlmroi.toml).")
]
SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source",
        metavar="URI",
        help="Read the tables from this database (postgresql://… or mysql://…) instead of DATASET's files; "
        "DATASET still holds mlmroi.toml. The password may come from [source] password_env.",
    ),
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
    source: str | None = None,
    every_row: bool = False,
) -> tuple[Config, Result]:
    with Stages("scoring") as stages:
        stages.stage("loading mlmroi")  # shown at once: the libraries take about a second to load
        from mlmroi.config import load_config, with_overrides, with_source
        from mlmroi.pipeline import score

        config = with_source(load_config(config_path, dataset), source)
        if every_row:  # no pushdown: every order row is read and checked
            config = config.model_copy(update={"input": config.input.model_copy(update={"pushdown": False})})
        s, e = _date(start, "--start"), _date(end, "--end")
        if s or e:
            config = with_overrides(config, s, e)
        result = score(dataset, config, orphans=orphans.value, strict=strict, progress=stages.stage)
    return config, result


@app.command("score")
@guarded
def score_cli(
    dataset: DatasetArg,
    config: ConfigOpt = None,
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output folder: new, empty, or an earlier mlmroi output (replaced once the new one is "
            "complete). Any other folder is refused.",
        ),
    ] = Path("mlmroi-out"),
    start: Annotated[
        str | None, typer.Option(help="Window start, YYYY-MM-DD (overrides the config).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Window end (as-of date), YYYY-MM-DD.")] = None,
    strict: Annotated[
        bool, typer.Option(help="Fail (exit 1, nothing written) if any row would be rejected.")
    ] = False,
    orphans: OrphansOpt = Orphans.reject,
    source: SourceOpt = None,
    fmt: Annotated[
        list[Format] | None,
        typer.Option(
            "--format",
            help="Also write csv (parquet is always written; csv cells are spreadsheet-safe).",
            metavar="csv",
        ),
    ] = None,
) -> None:
    """Score a dataset: network metrics, commissions, costs and ROI per participant and per branch.

    Writes participants, commissions, segments and rejects (parquet, csv with --format csv), run.json,
    report.html and timings.json to --out.
    """
    from mlmroi.destinations import claim_folder
    from mlmroi.output import estimated_bytes, write_claimed

    formats = sorted({"parquet"} | {f.value for f in fmt or []})
    inputs = _dataset_inputs(dataset, config)
    # The output folder is checked, locked and its staging folder created before any data is read.
    claim = claim_folder(
        out_dir,
        "output",
        inputs,
        needed_bytes=estimated_bytes(dataset, formats),
        on_wait=lambda m: say(err, m),
    )
    with claim:
        _, result = _run(dataset, config, start, end, orphans, strict, source)
        path = write_claimed(result, claim, formats)
    for warning in result.warnings:
        _warn(warning)
    rejected = result.rejects.height
    note = f" ({rejected:,} reject lines — see rejects.parquet)" if rejected else ""
    if VERBOSITY["level"] < 0:
        say(out, f"wrote {path}{note}")
        return
    from mlmroi.report.console import segments_table, summary_table

    out.print(summary_table(result.run))
    if result.segments.height:
        out.print(segments_table(result.segments, out.width))
        churn_note = result.run.segments.churn.note
        if churn_note:
            say(out, f"churn and conversion: {churn_note}")
        health = result.run.segments.abc_health
        if health.a_share_of_revenue is not None:
            verdict = "healthy" if health.a_share_in_healthy_range else "outside the healthy 20–30 %"
            say(
                out,
                f"ABC health: A is {health.a_share_of_buyers or 0:.1%} of buyers ({verdict}) and "
                f"brings {health.a_share_of_revenue:.1%} of revenue; "
                f"{health.participants_making_80pct_of_revenue or 0:.1%} of participants make 80 % of "
                "revenue",
            )
    say(out, f"wrote {path}{note}")


@app.command("validate")
@guarded
def validate_cli(
    dataset: DatasetArg,
    config: ConfigOpt = None,
    orphans: OrphansOpt = Orphans.reject,
    limit: Annotated[int, typer.Option(help="Problems to list (0 = all).")] = 50,
    source: SourceOpt = None,
) -> None:
    """Check a dataset and its config without writing anything: exit 0 if clean, 1 listing the problems.

    Every order row is read and checked, also those a score run's pushdown leaves unread.
    """
    _dataset_inputs(dataset, config)
    _, result = _run(dataset, config, None, None, orphans, strict=False, source=source, every_row=True)
    for name, r in result.run.rows.items():
        after = r.joined_after_window
        later = f", {after:,} of participants who joined after the window end" if after else ""
        say(out, f"{name}: {r.in_:,} rows, {r.used:,} used, {r.rejected:,} rejected{later}")
    rejects: pl.DataFrame = result.rejects
    if rejects.height == 0:
        out.print(Text.assemble(("clean:", "green"), " no problems found"))
        return
    table = Table(title=T(f"{rejects.height:,} problem(s)"))
    for column in rejects.columns:
        table.add_column(T(column))
    listed = rejects if limit == 0 else rejects.head(limit)
    for row in listed.iter_rows():
        table.add_row(*[T(v) for v in row])  # data: escaped, never markup
    out.print(table)
    if listed.height < rejects.height:
        say(out, f"… {rejects.height - listed.height:,} more (use --limit 0 to list all)")
    raise typer.Exit(1)


@app.command("simulate")
@guarded
def simulate_cli(
    dataset: DatasetArg,
    plan: Annotated[
        list[Path],
        typer.Option(
            "--plan", help="A TOML file with a [plan]; repeat. The first is the baseline.", metavar="FILE"
        ),
    ],
    config: ConfigOpt = None,
    orphans: OrphansOpt = Orphans.reject,
    top: Annotated[int, typer.Option(help="Biggest winners and losers to list per plan.")] = 10,
    source: SourceOpt = None,
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json", help="Also write the comparison as JSON here (a new .json file, or an earlier one)."
        ),
    ] = None,
) -> None:
    """Plans side by side on one dataset: payout ratio, commissions by component, rank and depth, ROI shifts.

    Window, money and costs come from the dataset's config (or --config); each --plan file contributes
    only its [plan]. The dataset is read and aggregated once.
    """
    from mlmroi.config import load_config, with_source
    from mlmroi.destinations import claim_file, replacing
    from mlmroi.simulate import is_comparison_json, load_plan, simulate

    inputs = _dataset_inputs(dataset, config) + list(plan)
    target = None
    if json_out is not None:
        target = claim_file(
            json_out, (".json",), inputs, is_comparison_json, "`mlmroi simulate --json` output", "--json"
        )
    base = with_source(load_config(config, dataset), source)
    configs = {}
    for path in plan:
        name = path.stem if path.stem not in configs else str(path)
        configs[name] = load_plan(path, base)
    with Stages("simulating"):
        result = simulate(dataset, configs, orphans=orphans.value, top=top)
    names = list(result.plans)
    table = Table(title=T(f"plans side by side (baseline: {names[0]})"))
    table.add_column("figure")
    for name in names:
        table.add_column(T(name), justify="right")

    def row(label: str, values: list[object]) -> None:
        table.add_row(T(label), *[T("—" if v is None else v) for v in values])

    plans = result.plans
    row("commissions", [_money(plans[n]["commissions"]) for n in names])
    row(
        "payout ratio",
        [f"{plans[n]['payout_ratio']:.2%}" if plans[n]["payout_ratio"] is not None else None for n in names],
    )
    row("company profit", [_money(plans[n]["profit"]) for n in names])
    for component in dict.fromkeys(c for n in names for c in plans[n]["by_component"]):
        row(f"  {component}", [_money(plans[n]["by_component"].get(component)) for n in names])
    for band in plans[names[0]]["by_depth_band"]:
        row(f"  depth {band}", [_money(plans[n]["by_depth_band"][band]) for n in names])
    for period in plans[names[0]]["payout_ratio_by_period"]:
        ratios = [plans[n]["payout_ratio_by_period"][period] for n in names]
        row(f"  payout {period}", [f"{r:.2%}" if r is not None else None for r in ratios])
    row("ROI turns negative", [plans[n].get("roi_turns_negative", "") for n in names])
    row("ROI turns positive", [plans[n].get("roi_turns_positive", "") for n in names])
    out.print(table)
    for name in names:
        by_rank = plans[name]["commissions_by_rank"]
        if by_rank is None:
            say(
                out,
                f"{name}: no commissions by rank (no stairstep in the plan, no rank column in the dataset)",
            )
            continue
        ranks = Table(title=T(f"{name}: commissions by rank ({plans[name]['rank_source']})"))
        ranks.add_column("rank")
        for column in ("participants", "commissions", "share", "mean"):
            ranks.add_column(column, justify="right")
        for r in by_rank:
            ranks.add_row(
                T(r["rank"]),
                T(f"{r['participants']:,}"),
                T(_money(r["commissions"])),
                T("—" if r["share"] is None else f"{r['share']:.2%}"),
                T(_money(r["mean"])),
            )
        out.print(ranks)
    if result.changes.height:
        changes = Table(title="biggest changes in commissions against the baseline")
        for column in result.changes.columns:
            changes.add_column(T(column), justify="right" if column not in ("plan",) else "left")
        for values in result.changes.iter_rows():
            changes.add_row(*[T(_money(v) if isinstance(v, Decimal) else v) for v in values])
        out.print(changes)
    if target is not None:
        with replacing(target, "--json") as staging:
            staging.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
        say(out, f"wrote {target}")


@app.command("explain")
@guarded
def explain_cli(
    run_dir: Annotated[
        Path, typer.Argument(help="Output folder of `mlmroi score` (has run.json).", metavar="RUN_DIR")
    ],
    participant_id: Annotated[
        str, typer.Argument(help="The participant to explain.", metavar="PARTICIPANT_ID")
    ],
    data: Annotated[
        Path | None, typer.Option("--data", help="Dataset folder (default: the one recorded in run.json).")
    ] = None,
    top: Annotated[int, typer.Option(help="Lines to show per direction (all go to --out).")] = 15,
    source: SourceOpt = None,
    detail_out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write every line here: F.csv (spreadsheet-safe) or F.parquet; never an input, never a "
            "file explain did not write.",
        ),
    ] = None,
) -> None:
    """Every commission one participant received — per source, component, level and period, adding up
    to the cent to their totals — and what their own volume paid their uplines.

    Re-reads the run's inputs (checked against run.json) and runs the plan once with the participant
    traced: a few seconds at a million participants, whoever is asked for.
    """
    from mlmroi.destinations import claim_file, replacing
    from mlmroi.explain import explain, is_detail_file, run_folders
    from mlmroi.output import write_csv

    target = None
    if detail_out is not None:
        target = claim_file(
            detail_out,
            (".csv", ".parquet"),
            run_folders(run_dir, data),
            is_detail_file,
            "`mlmroi explain --out` file",
        )
    with Stages("explaining"):
        result = explain(run_dir, participant_id, data, source)
    summary = result.summary
    table = Table(title=T(f"participant {summary['participant_id']}: commissions by component"))
    for column in ("component", "received", "from sources", "generated for uplines"):
        table.add_column(column, justify="left" if column == "component" else "right")
    for component, figures in summary["by_component"].items():
        table.add_row(
            T(component), T(figures["received"]), T(figures["sources"]), T(figures["generated_for_uplines"])
        )
    table.add_row(T("total"), T(summary["received"]), T(""), T(summary["generated_for_uplines"]))
    out.print(table)
    for direction, title, who in (
        ("received", "largest amounts received", "source"),
        ("generated", "largest amounts their volume paid uplines", "payee"),
    ):
        lines = result.detail.filter(pl.col("direction") == direction)
        if not lines.height:
            continue
        biggest = lines.sort(pl.col("amount").abs(), descending=True, maintain_order=True).head(top)
        detail = Table(title=T(f"{title} ({min(top, lines.height)} of {lines.height:,} lines)"))
        for column in ("period", "component", "level", who, "amount"):
            detail.add_column(column, justify="right" if column in ("level", "amount") else "left")
        for values in biggest.select("period", "component", "level", "participant_id", "amount").iter_rows():
            detail.add_row(*[T(v) for v in values])
        out.print(detail)
    if target is not None:
        with replacing(target) as staging:
            if target.suffix.lower() == ".parquet":
                result.detail.write_parquet(staging)
            else:
                write_csv(result.detail, staging)
        say(out, f"wrote {target}")


@app.command("compare")
@guarded
def compare_cli(
    run_a: Annotated[Path, typer.Argument(help="The earlier run's output folder.", metavar="RUN_A")],
    run_b: Annotated[Path, typer.Argument(help="The later run's output folder.", metavar="RUN_B")],
    segmentation: Annotated[
        list[str] | None,
        typer.Option(
            "--segmentation",
            help="Compare these (repeat); default abc, xyz, rfm_segment, lifecycle.",
            metavar="NAME",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write migrations.parquet and members.parquet (who is in each cell) to this folder (new, "
            "empty or an earlier mlmroi output).",
        ),
    ] = None,
) -> None:
    """Segment migration between two runs: how many A became B, C became B, … per segmentation."""
    from mlmroi.compare import DEFAULT_SEGMENTATIONS, compare
    from mlmroi.destinations import claim_folder
    from mlmroi.report.console import migration_tables

    claim = (
        None
        if out_dir is None
        else claim_folder(out_dir, "output", [run_a, run_b], on_wait=lambda m: say(err, m))
    )
    with claim or contextlib.nullcontext():
        result = compare(run_a, run_b, tuple(segmentation) if segmentation else DEFAULT_SEGMENTATIONS)
        for name in dict.fromkeys(result.migrations["segmentation"].to_list()):
            say(out, f"{name}: {run_a.name} (rows, before) → {run_b.name} (columns, after)")
            out.print(migration_tables(result.matrix(name), name, out.width))
        if claim is not None:
            result.migrations.write_parquet(claim.staging / "migrations.parquet")
            result.members.write_parquet(claim.staging / "members.parquet")
            say(out, f"wrote {claim.commit()}")


class Dialect(StrEnum):
    postgres = "postgres"
    duckdb = "duckdb"
    spark = "spark"
    bigquery = "bigquery"


class AggregateTable(StrEnum):
    both = "both"
    order_periods = "order_periods"
    order_history = "order_history"


@app.command("sql")
@guarded
def sql_cli(
    dialect: Annotated[Dialect, typer.Option(help="SQL dialect of the database or warehouse.")],
    config: Annotated[
        Path | None, typer.Option("--config", help="Config file (default: ./mlmroi.toml if there is one).")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="Window start, YYYY-MM-DD (overrides the config).")
    ] = None,
    end: Annotated[str | None, typer.Option(help="Window end (as-of date), YYYY-MM-DD.")] = None,
    table: Annotated[
        AggregateTable, typer.Option(help="Print the SELECT for one table, or both.")
    ] = AggregateTable.both,
    without: Annotated[
        list[str] | None,
        typer.Option(
            "--without",
            help="An optional orders column the orders table does not have (volume, cost or retail); "
            "repeat for several.",
            metavar="COLUMN",
        ),
    ] = None,
) -> None:
    """Print the SQL that pre-aggregates the orders where they live (the warehouse path).

    Run each SELECT in the database or warehouse and save its result as order_periods and order_history
    (tables of a [source], or order_periods.parquet and order_history.parquet in the dataset folder in
    place of orders); `mlmroi score` then gives what it gives on the raw orders. The SQL is made for the
    config's window, period, margin rate, minor unit and fast-start days: run it again when they change.
    """
    from mlmroi.config import load_config, with_overrides
    from mlmroi.errors import ConfigError
    from mlmroi.io.warehouse import ORDER_COLUMNS, order_history_sql, order_periods_sql
    from mlmroi.periods import Window
    from mlmroi.pipeline import order_sql

    path = config if config is not None else (Path("mlmroi.toml") if Path("mlmroi.toml").is_file() else None)
    settings = load_config(path)
    s, e = _date(start, "--start"), _date(end, "--end")
    if s or e:
        settings = with_overrides(settings, s, e)
    unknown = sorted(set(without or []) - set(ORDER_COLUMNS))
    if unknown:
        raise typer.BadParameter(
            f"{', '.join(unknown)}: not one of {', '.join(ORDER_COLUMNS)}", param_hint="--without"
        )
    w = settings.window
    if w.start is None or w.end is None:
        raise ConfigError(
            "window: the SQL is made for one window; set [window] start and end (or --start/--end)"
        )
    present = [c for c in ORDER_COLUMNS if c not in (without or [])]
    spec = order_sql(settings, Window(w.start, w.end, w.period), present)
    statements = {
        "order_periods": order_periods_sql(spec, dialect.value),
        "order_history": order_history_sql(spec, dialect.value),
    }
    for name, sql in statements.items():
        if table.value in ("both", name):
            out.print(Text(f"-- save as {name}\n{sql};\n"), soft_wrap=True)


@app.command("schema")
@guarded
def schema_cli() -> None:
    """Print the JSON Schema of mlmroi.toml (every section, key, type, default and description)."""
    from mlmroi.config import Config

    out.print(Text(json.dumps(Config.model_json_schema(), indent=2, sort_keys=True)), soft_wrap=True)


@app.command("init")
@guarded
def init_cli(
    dataset: Annotated[Path, typer.Argument(help="Dataset folder to write mlmroi.toml into.", metavar="DIR")],
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write the config to this new .toml file instead.", metavar="FILE"),
    ] = None,
) -> None:
    """Write a commented mlmroi.toml for DIR, guessed from the columns of its files.

    Only the files' headers are read. Columns named differently from mlmroi's are mapped when the guess
    is unambiguous; each question left open is a TODO line, shown as a warning. An existing file is
    never overwritten.
    """
    from mlmroi.starter import write_starter

    path, todo = write_starter(dataset, out_file)
    for line in todo:
        _warn(line)
    say(out, f"wrote {path}")


@app.command("generate")
@guarded
def generate_cli(
    out_dir: Annotated[
        Path,
        typer.Argument(
            help="Folder to write the dataset into: new, empty, or a dataset generate wrote before.",
            metavar="DIR",
        ),
    ],
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
        with Stages("generating") as stages:
            summary = generate(
                out_dir,
                participants,
                months=months,
                seed=seed,
                start=begin,
                fmt=fmt.value,
                progress=stages.stage,
            )
    except ValueError as exc:
        err.print(Text.assemble(("error: ", "red"), T(exc)), soft_wrap=True)
        raise typer.Exit(2) from None
    say(
        out,
        f"wrote {summary.out_dir}: {summary.participants:,} participants, {summary.orders:,} orders, "
        f"{summary.costs:,} costs, {summary.events:,} events, {summary.leads:,} leads, "
        f"max depth {summary.max_depth}",
    )


if __name__ == "__main__":
    # `python -m mlmroi_cli.main`: in this process. The installed `mlmroi` command enters through
    # mlmroi_cli.supervise, which runs this module in a child process.
    from mlmroi_cli.supervise import main

    main(spawn=False)
