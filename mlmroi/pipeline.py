"""``score()``: the stages in order (read → network → periods → plans → economics → tables). Nothing else."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi import __version__
from mlmroi.config import Config, load_config
from mlmroi.customer_value import MONEY_COLUMNS, ValueResult, holdout_by_segment, run_value
from mlmroi.disclosure import income_disclosure
from mlmroi.economics import CostAllocation, Economics, allocate_costs, compute, paid_by_node
from mlmroi.errors import ConfigError, DataError
from mlmroi.io.database import redact
from mlmroi.io.dataset import Dataset
from mlmroi.io.load import Orphans, Tables, open_tables, read_rows
from mlmroi.io.orders import order_date_counts, order_rows_on
from mlmroi.io.read import fingerprint
from mlmroi.io.rejects import Rejects
from mlmroi.io.warehouse import ORDER_COLUMNS, OrderSql
from mlmroi.money import IntArray, decimal_series
from mlmroi.periods import (
    OrderTotals,
    Window,
    aggregate_orders,
    check_span,
    move_customer_volume,
    outlying_dates,
    totals_from_periods,
)
from mlmroi.plans import early_days, run_plan
from mlmroi.plans.base import ComponentResult, PeriodVolumes
from mlmroi.segments.base import Segmentation
from mlmroi.segments.churn import AtStart, company_churn
from mlmroi.segments.run import check_columns, label_codes, measures, run_segments
from mlmroi.summary import (
    Audit,
    DatabaseInput,
    FileInput,
    NetworkSummary,
    PeriodFigures,
    RunSummary,
    SegmentsSummary,
    TableRows,
    Totals,
    ValueSummary,
    Versions,
    WindowSummary,
)
from mlmroi.tables import commissions_table, money, participants_table

Progress = Callable[[str], None]
NO_PLAN = (
    "no compensation plan is configured ([[plan.components]]): commissions are 0, so ROI and profit leave "
    "out what the company pays its distributors (docs/plans.md)"
)
Codes = npt.NDArray[np.int16]  # a segmentation's code per node


@dataclass(frozen=True, eq=False)
class Result:
    """Everything a run produces; :func:`mlmroi.output.write` puts it on disk."""

    participants: pl.DataFrame
    commissions: pl.DataFrame
    rejects: pl.DataFrame
    run: RunSummary
    timings: dict[str, float] = field(default_factory=dict)
    segments: pl.DataFrame = field(default_factory=pl.DataFrame)  # the segment-effectiveness table
    #: income_disclosure; surveys, leads, holdout (when the data has them)
    outputs: dict[str, pl.DataFrame] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # one line each (e.g. a CLV model that did not fit)

    def __repr__(self) -> str:
        totals = self.run.totals
        money = f"revenue {totals.revenue}, commissions {totals.commissions}, profit {totals.profit}"
        roi = totals.roi_pct
        return (
            f"Result({self.participants.height:,} participants, {self.commissions.height:,} commission rows, "
            f"{self.rejects.height:,} rejects; {money}; ROI % {roi if roi is None else round(roi, 1)}; "
            f"{len(self.warnings)} warning(s))"
        )


def read(
    dataset: str | Path, config: Config, orphans: Orphans = "reject", placement: bool | None = None
) -> tuple[Window, Dataset]:
    """The window and the dataset as of its end: the tables are opened, the window resolved (from the order
    dates where a bound is not configured), then the rows read; participants who joined after the window
    end are left out and counted (SPEC: a run describes the company as of ``window.end``)."""
    options = config.load_options(orphans, placement)
    tables = open_tables(dataset, options)
    window = resolve_window(config, tables)
    return window, read_rows(tables, replace(options, as_of=window.end, order_sql=order_sql(config, window)))


def order_sql(config: Config, window: Window, present: Sequence[str] = ORDER_COLUMNS) -> OrderSql:
    """What this run's order aggregates are made for (the warehouse path's SQL and its check), reading the
    orders and participants where ``[source.tables]`` and ``[columns.*]`` say (``present``: which optional
    orders columns exist)."""
    tables = {} if config.source is None else config.source.tables

    def source_names(table: str) -> dict[str, str]:
        mapping = next((m for t, m in config.columns.items() if t == table), {})
        return {contract: name for name, contract in mapping.items()}

    return OrderSql(
        window,
        config.money.margin_rate,
        config.money.decimals,
        tuple(early_days(config)),
        orders=tables.get("orders", "orders"),
        participants=tables.get("participants", "participants"),
        order_columns=source_names("orders"),
        participant_columns=source_names("participants"),
        present=tuple(present),
    )


def resolve_window(config: Config, tables: Tables) -> Window:
    """The configured window; missing bounds come from the first and last order date in the file, unless a
    few orders lie far from the rest (a typo like 1900-01-01 would stretch the window over a century): that
    is a config error naming them. Any window longer than ``periods.MAX_WINDOW_YEARS`` is refused."""
    start, end = config.window.start, config.window.end
    if (start is None or end is None) and tables.raws.get("orders") is None:
        raise ConfigError(
            "window: order_periods were made for a window; set [window] start and end (or --start/--end) "
            "to the one given to `mlmroi sql`"
        )
    if start is None or end is None:
        counts = order_date_counts(tables.orders)
        if start is not None:
            counts = counts.filter(pl.col("ordered_on") >= start)
        if end is not None:
            counts = counts.filter(pl.col("ordered_on") <= end)
        if counts.height == 0:
            raise ConfigError(
                "window.start/window.end: no usable orders to infer the window from; set them in [window]"
            )
        before, after = outlying_dates(counts)
        outliers = (before if start is None else []) + (after if end is None else [])
        if outliers:
            raise ConfigError(_outlier_message(tables, outliers, counts))
        start = start or counts["ordered_on"][0]
        end = end or counts["ordered_on"][-1]
        check_span(start, end, " (inferred from the orders)")
    else:
        check_span(start, end, "")
    assert isinstance(start, dt.date) and isinstance(end, dt.date)
    return Window(start, end, config.window.period)


def _outlier_message(tables: Tables, outliers: list[dt.date], counts: pl.DataFrame) -> str:
    shown = outliers[:5]
    rows = order_rows_on(tables.orders, shown)
    described = []
    for day in shown:
        found = rows.get(day, [])
        where = ", ".join(str(r) for r in found[:3]) + (", …" if len(found) > 3 else "")
        described.append(f"{day} (orders row {where})" if where else str(day))
    more = f" and {len(outliers) - len(shown)} more" if len(outliers) > len(shown) else ""
    first, last = counts["ordered_on"][0], counts["ordered_on"][-1]
    return (
        f"window: order dates far from the rest — {'; '.join(described)}{more} — would stretch the window "
        f"inferred from the orders to {first} … {last}; fix those dates, or set [window] start and end "
        "(or --start/--end): orders outside the window are counted, not scored"
    )


class _Clock:
    def __init__(self, progress: Progress | None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    @contextmanager
    def stage(self, name: str, detail: str = "") -> Iterator[None]:
        """Time a stage under ``name``; the progress line also says what it works on (``detail``)."""
        if self.progress:
            self.progress(f"{name} ({detail})" if detail else name)
        began = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - began, 3)


def score(
    dataset: str | Path,
    config: Config | str | Path | None = None,
    orphans: Orphans = "reject",
    strict: bool = False,
    progress: Progress | None = None,
) -> Result:
    """Score a dataset: per-participant network metrics, commissions, costs, ROI (see SPEC §5, §8).

    ``config``: a :class:`Config`, or the path of a TOML config file, or None for ``DATASET/mlmroi.toml``
    (defaults when there is none), read as :func:`~mlmroi.config.load_config` reads it.

    Raises :class:`~mlmroi.errors.InputError` for structural problems, :class:`DataError` under ``strict``
    when any row would be rejected, :class:`ConfigError` for an unusable config.
    """
    if not isinstance(config, Config):
        config = load_config(config, dataset=dataset)
    clock = _Clock(progress)
    with clock.stage("reading and validating"):
        window, data = read(dataset, config, orphans)
        check_columns(config.segments, data.attributes.names)
    # Hashing the inputs (hashlib releases the GIL) overlaps with the rest of the run.
    hasher = ThreadPoolExecutor(max_workers=1)
    hashes = {name: hasher.submit(fingerprint, path) for name, path in sorted(data.files.items())}
    hasher.shutdown(wait=False)
    read_rows = ", ".join(f"{count:,} {table.replace('_', ' ')}" for table, count in data.rows_in.items())
    with clock.stage("segments on other windows", f"read {read_rows} rows"):
        start = at_start(data, config, window)
        calibration = calibration_labels(data, config, window)
    with clock.stage("aggregating orders"):
        totals = aggregate(data, config, window, early_days(config))
        labels = window.labels
        data = replace(data, orders=(), order_periods=None)  # later stages use the totals: free the orders
        volumes = plan_volumes(data, totals, labels, config)
        personal = volumes.personal
    with clock.stage("commissions", f"{data.network.size:,} participants, {len(labels)} periods"):
        results = run_plan(data.network, volumes, config, data.id_rank)
        # Fast start's early-order entries are paid: free them.
        del volumes
        totals = replace(totals, early={})
    with clock.stage("economics"):
        allocation = allocate_costs(data, window, totals, config, personal)
        if strict and len(data.rejects):
            raise DataError(_strict_message(data))
        paid, paid_outside = (
            (None, 0) if data.paid is None else paid_by_node(data.paid, window, data.network.size)
        )
        econ = compute(data.network, data.participants, totals, results, allocation, config, paid)
        data = replace(data, costs=None, paid=None)  # only cost allocation and the audit read them
        # The exact attribution arrays served branch ROI only: free them (2 × n int64 per component).
        empty = np.zeros(0, dtype=np.int64)
        results = [replace(r, received_exact=empty, generated_exact=empty) for r in results]
    with clock.stage("customer value"):
        churn = None if start is None else company_churn(start, totals.orders > 0, window)
        value = run_value(
            data.network,
            totals,
            econ.margin,
            data.joined_day,
            window,
            config.value,
            config.money.margin_rate,
            churn,
            money=config.money,
        )
    with clock.stage("segments"):
        segments = run_segments(
            data,
            totals,
            personal,
            econ,
            results,
            window,
            config.segments,
            config.money.decimals,
            value.columns["clv_predicted"] if value.fitted else None,
            start,
        )
        holdout = holdout_by_segment(
            value,
            segments.segmentations
            if calibration is None
            else [Segmentation(s.name, calibration[s.name], s.labels) for s in segments.segmentations],
        )
        if holdout is not None:
            segments.outputs["holdout"] = holdout
        # The new participant columns as Series; then what only costs, CLV and segments needed is released
        # before the output tables are built (peak memory: the tables stage is the run's high-water mark).
        extra = value_columns(value, config.money.decimals) + segments.columns()
        clv_total = int(value.columns["clv_predicted"].sum()) if value.fitted else None
        by_period = _by_period(
            labels, totals.revenue_by_period.sum(axis=1), personal.sum(axis=1), results, config
        )
        value = replace(value, columns={})
        segments = replace(segments, segmentations=[])
        totals = totals.release_period_revenue()
        data = replace(data, events=None, leads=None, attributes=data.attributes.released())
    with clock.stage("tables"):
        scale = 10**config.money.decimals
        participants = participants_table(data, totals, personal, econ, results, config, scale, extra)
        del extra
        commissions = commissions_table(data, results, labels, config.money.decimals)
        outputs = {
            "income_disclosure": income_disclosure(
                participants,
                config.money.decimals,
                config.distributor.disclosure_brackets,
                window_start=window.start,
            ),
            **segments.outputs,
        }
        rejects = data.rejects.frame()
        run = _run_info(
            hashes,
            data,
            config,
            window,
            totals,
            econ,
            results,
            allocation,
            paid_outside,
            # where `mlmroi explain` re-reads the inputs: the folder, or the database (its URI redacted)
            dataset=str(Path(dataset).resolve()) if config.source is None else redact(config.source.uri),
            segments=SegmentsSummary.model_validate(segments.summary),
            value=ValueSummary.model_validate(value.summary),
            clv_total=clv_total,
            by_period=by_period,
        )
    warnings = [value.warning] if value.warning else []
    if not config.plan.components:
        warnings.insert(0, NO_PLAN)
    return Result(participants, commissions, rejects, run, clock.timings, segments.table, outputs, warnings)


def at_start(data: Dataset, config: Config, window: Window) -> AtStart | None:
    """The segments at the window start: every segmentation on the previous window of the same length
    (:meth:`Window.previous`, :func:`labels_on`). None when no order is dated before the window start
    (nothing to label on)."""
    if not data.ordered_before(window.start):
        return None
    previous = window.previous()
    codes, orders = labels_on(data, config, previous)
    member = data.joined_day <= (previous.end - dt.date(1970, 1, 1)).days
    return AtStart(previous, codes, (orders > 0) & member)


def calibration_labels(data: Dataset, config: Config, window: Window) -> dict[str, Codes] | None:
    """With a holdout (``value.holdout_periods``), the segments on the calibration part only — the window
    without its holdout periods — so the per-segment holdout check does not label people by the purchases
    it predicts. None without a holdout."""
    holdout = config.value.holdout_periods
    if not holdout or config.value.model == "none" or holdout >= len(window.labels):
        return None
    codes, _ = labels_on(data, config, window.head(len(window.labels) - holdout))
    return codes


def labels_on(
    data: Dataset, config: Config, window: Window
) -> tuple[dict[str, Codes], npt.NDArray[np.int64]]:
    """Every segmentation's codes on another ``window`` of the same data, as a run over that window labels
    its participants — its orders, plan, costs and economics, the participants who had joined by its end
    labelled among themselves (:func:`label_codes`) — and each participant's orders in it. The plan runs on
    this run's network, where who joined later holds no volume and sits below the earlier members, so it
    pays the members what a run over that window pays them."""
    totals = aggregate(data, config, window, early_days(config))
    volumes = plan_volumes(data, totals, window.labels, config)
    results = run_plan(data.network, volumes, config, data.id_rank)
    # That window's shared costs that select nobody are not this run's rejects: a scratch ledger takes them.
    allocation = allocate_costs(data, window, totals, config, volumes.personal, Rejects())
    econ = compute(data.network, data.participants, totals, results, allocation, config)
    figures = measures(data, totals, volumes.personal, econ, results, window, config.segments)
    return label_codes(data, figures, window, config.segments, config.money.decimals), totals.orders


def value_columns(value: ValueResult, decimals: int) -> list[pl.Series]:
    """participants.parquet's customer-value columns in node order: money as exact decimals, model figures
    as floats (null where a participant has none)."""
    out = []
    for name, column in value.columns.items():
        if name in MONEY_COLUMNS:
            out.append(decimal_series(name, column, decimals))
        elif column.dtype.kind == "f":
            out.append(pl.Series(name, np.round(column, 6)).fill_nan(None))
        else:
            out.append(pl.Series(name, column))
    return out


def aggregate(data: Dataset, config: Config, window: Window, early: Sequence[int]) -> OrderTotals:
    """The order totals of ``data`` in ``window`` (``early``: fast-start windows in days), from the order
    rows or, on the warehouse path, from the orders pre-aggregated per period."""
    n = data.network.size
    if data.order_periods is not None:
        return totals_from_periods(data.order_periods, n, window, early, data.history)
    margin_rate = config.money.margin_rate
    return aggregate_orders(data.orders, n, window, margin_rate, data.joined_day, early, data.history)


def plan_volumes(
    data: Dataset, totals: OrderTotals, labels: tuple[str, ...], config: Config
) -> PeriodVolumes:
    """The per-period volumes a plan pays on: PV, with customers' volume moved to their nearest distributor
    upline when ``plan.customer_volume_to_sponsor`` is set, plus the fast-start early volumes."""
    personal = totals.personal_volume
    if config.plan.customer_volume_to_sponsor:
        is_customer = (data.participants["role"] == "customer").to_numpy()
        personal = move_customer_volume(
            personal, data.network.nearest_ancestor_where(~is_customer), is_customer
        )
    return PeriodVolumes(personal, labels, totals.early)


def _strict_message(data: Dataset) -> list[str]:
    frame = data.rejects.frame()
    lines = [f"--strict: {frame.height} problem(s) found, nothing written"]
    for table, row, column, value, reason in frame.head(20).iter_rows():
        lines.append(f"{data.label(table)} row {row}: {column} {value!r}: {reason}")
    if frame.height > 20:
        lines.append(f"… and {frame.height - 20} more (run `mlmroi validate` to list them all)")
    return lines


def _by_period(
    labels: Sequence[str], revenue: IntArray, volume: IntArray, results: list[ComponentResult], config: Config
) -> list[PeriodFigures]:
    """Revenue, volume and commissions per period (the report's payout-ratio chart)."""
    paid = np.zeros(len(labels), dtype=np.int64)
    for result in results:
        np.add.at(paid, result.period, result.amount)
    decimals = config.money.decimals
    return [
        PeriodFigures(
            period=label,
            revenue=money(int(revenue[p]), decimals),
            volume=money(int(volume[p]), decimals),
            commissions=money(int(paid[p]), decimals),
            payout_ratio=round(int(paid[p]) / int(volume[p]), 6) if volume[p] else None,
        )
        for p, label in enumerate(labels)
    ]


def _run_info(
    hashes: dict[str, Future[str]],
    data: Dataset,
    config: Config,
    window: Window,
    order_totals: OrderTotals,
    econ: Economics,
    results: list[ComponentResult],
    allocation: CostAllocation,
    paid_outside: int,
    *,
    dataset: str,
    segments: SegmentsSummary,
    value: ValueSummary,
    clv_total: int | None,
    by_period: list[PeriodFigures],
) -> RunSummary:
    decimals = config.money.decimals
    rows = data.rows()
    rows["orders" if "orders" in rows else "order_periods"]["outside_window"] = order_totals.outside_window
    if "costs" in rows:
        rows["costs"]["outside_window"] = allocation.outside_window_rows
    if "commissions" in rows:
        rows["commissions"]["outside_window"] = paid_outside
    volume = int(order_totals.personal_volume.sum())
    commissions = int(econ.commissions.sum())
    roots = data.network.roots
    audit = None
    if econ.paid_commissions is not None:
        difference = econ.paid_commissions - econ.computed_commissions
        tolerance = round(config.audit.tolerance * 10**decimals)
        audit = Audit(
            paid=money(int(econ.paid_commissions.sum()), decimals),
            computed=money(int(econ.computed_commissions.sum()), decimals),
            difference=money(int(difference.sum()), decimals),
            tolerance=money(tolerance, decimals),
            participants_flagged=int((np.abs(difference) > tolerance).sum()),
        )
    totals = Totals(
        revenue=money(int(order_totals.revenue.sum()), decimals),
        margin=money(int(econ.margin.sum()), decimals),
        volume=money(volume, decimals),
        acquisition_cost=money(int(econ.acquisition.sum()), decimals),
        retention_cost=money(int(econ.retention.sum()), decimals),
        shared_cost_allocated=money(allocation.shared_total, decimals),
        commissions=money(commissions, decimals),
        commissions_by_component={r.component: money(int(r.amount.sum()), decimals) for r in results},
        costs=money(int(econ.costs.sum()), decimals),
        profit=money(int(econ.profit.sum()), decimals),
        payout_ratio=round(commissions / volume, 6) if volume else None,
        roi_pct=round(float(econ.profit.sum()) * 100 / float(econ.costs.sum()), 4)
        if econ.costs.sum()
        else None,
        **({"audit": audit} if audit is not None else {}),
        **({"clv_predicted": money(clv_total, decimals)} if clv_total is not None else {}),
    )
    return RunSummary(
        mlmroi_version=__version__,
        versions=Versions(polars=pl.__version__, numpy=np.__version__),
        window=WindowSummary(
            start=window.start,
            end=window.end,
            period=window.period,
            periods=list(window.labels),
            inferred=[bound for bound in ("start", "end") if getattr(config.window, bound) is None],
        ),
        rows={name: TableRows.model_validate(table) for name, table in rows.items()},
        network=NetworkSummary(
            participants=data.network.size,
            roots=int(roots.size),
            max_depth=int(data.network.depth.max()) if data.network.size else 0,
            orphans_made_roots=data.orphans_rooted,
            joined_after_window=rows["participants"]["joined_after_window"],
        ),
        totals=totals,
        by_period=by_period,
        config=config,
        inputs={name: FileInput(file=data.files[name].name, sha256=h.result()) for name, h in hashes.items()}
        | {
            name: DatabaseInput.model_validate(table.describe())
            for name, table in sorted(data.databases.items())
        },
        dataset=dataset,
        segments=segments,
        value=value,
    )
