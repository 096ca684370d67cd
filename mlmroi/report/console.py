"""The command line's tables (rich), from the same typed run summary and tables as the page: the run's
summary, which segments pay off, and a compare run's migration matrix. Each fits the width it is given: a
narrow layout when the terminal is narrow or the output is piped (80 columns), so no cell is cut."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
from rich.table import Table
from rich.text import Text

from mlmroi.report.format import DASH, fixed, money, shown
from mlmroi.summary import RunSummary


def _t(value: object) -> Text:
    """A cell of data: control characters escaped, never read as markup."""
    return Text(shown(value))


def _whole_pct(share: float | None) -> str:
    """A share in whole percent ("83%"), never "-0%"."""
    return DASH if share is None else fixed(share * 100, 0) + "%"


def _fits(columns: Sequence[Sequence[str]], width: int) -> bool:
    """Whether a table with these columns (cell texts, heading first) fits ``width`` without cutting a cell:
    rich's heavy-head box takes three characters a column plus one."""
    return sum(max((len(c) for c in column), default=0) for column in columns) + 3 * len(columns) + 1 <= width


def summary_table(run: RunSummary) -> Table:
    """The run in figures: rows read, the network, the company's totals, conversion, churn and CLV."""
    window, currency = run.window, run.currency
    note = f"; {' and '.join(window.inferred)} inferred from the orders" if window.inferred else ""
    table = Table(title=_t(f"mlmroi — {window.start} … {window.end} ({currency}{note})"))
    table.add_column("figure")
    table.add_column("value", justify="right")
    for name, rows in run.rows.items():
        table.add_row(
            _t(f"{name} rows in / used / rejected"), _t(f"{rows.in_:,} / {rows.used:,} / {rows.rejected:,}")
        )
    after = run.rows["participants"].joined_after_window
    if after:
        orders = "orders" if "orders" in run.rows else "order_periods"
        table.add_row(
            "joined after the window end (left out)",
            f"{after:,} participants, {run.order_rows.joined_after_window:,} {orders.replace('_', ' ')} rows",
        )
    network = run.network
    table.add_row(
        "participants / roots / max depth",
        f"{network.participants:,} / {network.roots:,} / {network.max_depth}",
    )
    totals = run.totals
    for key in ("revenue", "margin", "acquisition_cost", "retention_cost", "commissions", "costs", "profit"):
        table.add_row(key.replace("_", " "), money(getattr(totals, key)))  # exact, as run.json has it
    table.add_row("payout ratio", DASH if totals.payout_ratio is None else f"{totals.payout_ratio:.2%}")
    table.add_row("ROI %", fixed(totals.roi_pct, 1))
    conversion, churn = run.segments.conversion, run.segments.churn
    if conversion.rate is not None:
        table.add_row(
            "conversion (never bought before → bought)", f"{conversion.rate:.1%} of {conversion.base:,}"
        )
    if churn.rate is not None and churn.previous_window is not None:
        previous = churn.previous_window
        table.add_row(
            _t(f"churn (of {previous.start} … {previous.end} buyers)"),
            f"{churn.rate:.1%} ({churn.monthly_rate or 0:.1%} a month)",
        )
    if totals.clv_predicted is not None:
        months = run.config.value.horizon_months
        table.add_row(f"CLV predicted (next {months} months, margin)", money(totals.clv_predicted))
    holdout = run.value.holdout
    if holdout:
        expected = holdout.expected_purchase_days
        table.add_row(
            "holdout purchase days expected / actual",
            f"{DASH if expected is None else f'{expected:,.0f}'} / {holdout.actual_purchase_days:,}",
        )
    return table


def segments_table(segments: pl.DataFrame, width: int) -> Table:
    """Which segments pay off: the effectiveness table, one row per segmentation value (abcxyz left out: it
    is the product of abc and xyz; every column is in segments.parquet). When a segmentation column beside
    the values would not fit ``width``, each segmentation heads its own group of rows instead."""
    frame = segments.filter(pl.col("segmentation") != "abcxyz")
    with_churn = frame["churn_rate"].null_count() < frame.height  # none without earlier orders
    rows = []
    for row in frame.iter_rows(named=True):
        flags = [
            short for name, short in (("unprofitable", "loss"), ("weak_conversion", "weak")) if row[name]
        ]
        rows.append(
            (
                str(row["segmentation"]),
                [
                    shown(row["value"]),
                    f"{row['participants']:,}",
                    _whole_pct(row["conversion"]),
                    _whole_pct(row["revenue_share"]),
                    fixed(row["roi_pct"], 1),
                    *([_whole_pct(row["churn_rate"])] if with_churn else []),
                    " ".join(flags),
                ],
            )
        )
    heads = ["value", "people", "conversion", "revenue", "ROI %", *(["churn"] if with_churn else []), "flags"]
    columns = [[h, *(cells[i] for _, cells in rows)] for i, h in enumerate(heads)]
    segment_column = ["segment", *(shown(name) for name, _ in rows)]
    wide = _fits([segment_column, *columns], width)
    table = Table(title="segments: which pay off (full table: segments.parquet)")
    for head in ["segment", *heads] if wide else heads:
        table.add_column(head, justify="left" if head in ("segment", "value", "flags") else "right")
    previous = None
    for name, cells in rows:
        if wide:
            table.add_row(_t("" if name == previous else name), *map(_t, cells))
        else:
            if name != previous:
                if previous is not None:
                    table.add_section()
                table.add_row(Text(shown(name), style="bold"))
            table.add_row(*(_t(("  " if i == 0 else "") + c) for i, c in enumerate(cells)))
        previous = name
    return table


def migration_tables(matrix: pl.DataFrame, name: str, width: int) -> Table:
    """One segmentation's migration between two runs: a matrix (rows = before, columns = after) when it fits
    ``width``; otherwise the moves as a list, largest first (before → after, people, share of before)."""
    values = [str(c) for c in matrix.columns[1:]]
    counts = [[int(v) for v in row[1:]] for row in matrix.iter_rows()]
    sources = [shown(row[0]) for row in matrix.iter_rows()]
    columns = [[name, *sources]] + [
        [shown(v), *(f"{counts[r][c]:,}" for r in range(len(sources)))] for c, v in enumerate(values)
    ]
    if _fits(columns, width):
        table = Table()
        table.add_column(_t(name))
        for value in values:
            table.add_column(_t(value), justify="right")
        for source, row in zip(sources, counts, strict=True):
            table.add_row(source, *(f"{n:,}" for n in row))
        return table
    moves = [
        (n, source, shown(value), n / sum(row))
        for source, row in zip(sources, counts, strict=True)
        for value, n in zip(values, row, strict=True)
        if n
    ]
    moves.sort(key=lambda m: (-m[0], m[1], m[2]))
    table = Table(title=_t(f"{name}: every move, largest first (too wide for a matrix here)"))
    for head, justify in (("before", "left"), ("after", "left"), ("people", "right"), ("of before", "right")):
        table.add_column(head, justify=justify)  # type: ignore[arg-type]
    for n, source, value, share in moves:
        table.add_row(source, value, f"{n:,}", _whole_pct(share))
    return table
