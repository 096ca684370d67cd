"""Segments in a scoring run: the :class:`Measures` from the run's stages, every segmentation, and the
effectiveness table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.economics import Economics
from mlmroi.errors import ConfigError
from mlmroi.io import parse
from mlmroi.io.dataset import Dataset
from mlmroi.periods import NEVER, OrderTotals, Window
from mlmroi.plans.base import ComponentResult
from mlmroi.segments import Measures, Segmentation, SegmentsConfig, effectiveness, segment
from mlmroi.segments.churn import NO_EARLIER_DATA, AtStart, company_churn, conversion_figures
from mlmroi.segments.leads import renew_index
from mlmroi.segments.loyalty import loyalty
from mlmroi.segments.measures import IntArray
from mlmroi.segments.survey import company_figures, survey_table

EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True, eq=False)
class SegmentsResult:
    """Every segmentation (node order), the effectiveness table and run.json's segment figures."""

    segmentations: list[Segmentation]
    table: pl.DataFrame
    summary: dict[str, Any]
    outputs: dict[str, pl.DataFrame]  # further tables: surveys (with events), leads (with leads)

    def columns(self) -> list[pl.Series]:
        """participants.parquet columns in node order: each segmentation plus RFM's scores."""
        out: list[pl.Series] = []
        for seg in self.segmentations:
            out.extend(seg.extra.values())
            out.append(seg.column())
        return out


def check_columns(config: SegmentsConfig, names: list[str]) -> None:
    """``segments.by`` names participant columns (or ``age_band`` with a ``birth_date`` column)."""
    problems = []
    for name in config.by:
        needed = "birth_date" if name == "age_band" else name
        if needed not in names:
            problems.append(f"segments.by: {name!r} needs a participants column {needed!r} (not in the file)")
    if problems:
        raise ConfigError(problems)


def _day(date: dt.date) -> int:
    return (date - EPOCH).days


def _join_period(joined: pl.Series, window: Window) -> IntArray:
    """First window period each participant belongs to: 0 if they joined before it, periods if after."""
    index = pl.DataFrame({"d": joined}).select(window.index(pl.col("d")))["d"].to_numpy().astype(np.int64)
    days = joined.cast(pl.Int32).to_numpy().astype(np.int64)
    before = days < _day(window.start)
    return np.where(index >= 0, index, np.where(before, 0, len(window.labels))).astype(np.int64)


def _ranks(
    data: Dataset, results: list[ComponentResult], config: SegmentsConfig
) -> tuple[IntArray, tuple[str, ...]]:
    """Rank index per node (-1: none) and rank names low to high: the plan's first stairstep, else the
    dataset's ``rank`` column ordered by ``lifecycle.rank_order``."""
    for result in results:
        for name, column in result.columns.items():
            if name.startswith("rank_") and isinstance(column.dtype, pl.Enum):
                names = tuple(column.dtype.categories.to_list())
                return column.to_physical().fill_null(-1).to_numpy().astype(np.int64), names
    order = config.lifecycle.rank_order
    if "rank" in data.attributes.names and order:
        text = parse.parse_text(data.attributes.frame["rank"].cast(pl.String))
        codes = text.replace_strict(list(order), list(range(len(order))), default=-1, return_dtype=pl.Int64)
        return codes.to_numpy()[data.attributes.rows_by_node].astype(np.int64), order
    return np.full(data.network.size, -1, dtype=np.int64), ()


def measures(
    data: Dataset,
    totals: OrderTotals,
    personal: IntArray,
    econ: Economics,
    results: list[ComponentResult],
    window: Window,
    config: SegmentsConfig,
) -> Measures:
    """The segmentations' inputs from the run's stages (before the per-period revenue is released), as of the
    window end: ``frontline`` and ``downline_size`` count only who had joined by then (the same as the
    network's when the window is the run's own; fewer when labelling the previous window)."""
    net = data.network
    member = data.joined_day <= _day(window.end)
    window_pv = personal.sum(axis=0)
    half = personal.shape[0] // 2
    growth = net.group_volume(personal[personal.shape[0] - half :].sum(axis=0)) - net.group_volume(
        personal[:half].sum(axis=0)
    )
    people = data.participants
    left = (
        people["left_on"].cast(pl.Int32).fill_null(NEVER).to_numpy().astype(np.int64)
        if "left_on" in people.columns
        else np.full(net.size, NEVER, dtype=np.int64)
    )
    rank, rank_names = _ranks(data, results, config)
    leader_rank = config.lifecycle.leader_rank
    if leader_rank is not None and leader_rank not in rank_names:
        where = "the plan's stairstep ranks" if rank_names else "segments.lifecycle.rank_order"
        raise ConfigError(f"segments.lifecycle.leader_rank: {leader_rank!r} is not one of {where}")
    return Measures(
        id_rank=data.id_rank,
        end_day=_day(window.end),
        revenue=totals.revenue,
        margin=econ.margin,
        profit=econ.profit,
        costs=econ.costs,
        commissions=econ.commissions,
        orders=totals.orders,
        personal_volume=window_pv,
        group_volume=net.group_volume(window_pv),
        gv_growth=np.asarray(growth, dtype=np.int64),
        frontline=net.count_children_where(member).astype(np.int64),
        downline_size=net.subtree_sum(member.astype(np.int64)) - member,
        revenue_by_period=totals.revenue_by_period,
        purchased=totals.revenue_by_period > 0,  # a purchase in a period: positive net revenue in it
        join_period=_join_period(people["joined_on"], window),
        last_order_day=totals.last_order_day,
        bought_before=totals.bought_before,
        left_on_day=left,
        rank=rank,
        rank_names=rank_names,
    )


def label(
    data: Dataset,
    figures: Measures,
    window: Window,
    config: SegmentsConfig,
    decimals: int,
    nodes: IntArray | None = None,
) -> list[Segmentation]:
    """Every segmentation from ``figures`` (a window's measures): :func:`segment`'s, then loyalty (events and
    recruits in ``window``). With ``nodes``, of those participants only, labelled among themselves (their
    codes in the order of ``nodes``)."""
    columns: dict[str, pl.Series] = {}
    rows = pl.Series(data.attributes.rows_by_node)
    for name in config.by:
        if name == "age_band":
            birth, _ = parse.parse_date("participants", data.attributes.frame["birth_date"])
            columns["birth_date"] = birth.gather(rows)
        else:
            columns[name] = data.attributes.frame[name].gather(rows)
    window_days = (_day(window.start), _day(window.end))
    joined = data.joined_day
    new = (joined >= window_days[0]) & (joined <= window_days[1])
    recruits = data.network.count_children_where(new).astype(np.int64)
    events = data.events
    if nodes is not None:
        figures = figures.subset(nodes)
        picked = pl.Series(nodes)
        columns = {name: column.gather(picked) for name, column in columns.items()}
        recruits = recruits[nodes]
        if events is not None:
            position = np.full(data.network.size, -1, dtype=np.int64)
            position[nodes] = np.arange(nodes.size, dtype=np.int64)
            moved = position[events["node"].to_numpy()]
            events = events.with_columns(pl.Series("node", moved)).filter(pl.col("node") >= 0)
    segmentations = segment(figures, config, 10**decimals, columns, window.end)
    segmentations.append(loyalty(events, figures, recruits, window_days))
    return segmentations


def label_codes(
    data: Dataset, figures: Measures, window: Window, config: SegmentsConfig, decimals: int
) -> dict[str, npt.NDArray[np.int16]]:
    """Each segmentation's code per node, labelling the participants who had joined by the window's end as
    a run over that window would: among themselves (quantiles, medians, top shares and percentiles range
    over them only). Who joined later is labelled among the later joiners — with no history in the window,
    that is what a participant without history gets (no_purchase, prospect, …; attributes as they are)."""
    member = data.joined_day <= _day(window.end)
    if member.all():
        return {s.name: s.codes for s in label(data, figures, window, config, decimals)}
    out: dict[str, npt.NDArray[np.int16]] = {}
    for group in (member, ~member):
        nodes = np.flatnonzero(group)
        if not nodes.size:
            continue
        for seg in label(data, figures, window, config, decimals, nodes):
            out.setdefault(seg.name, np.zeros(figures.size, dtype=np.int16))[nodes] = seg.codes
    return out


def run_segments(
    data: Dataset,
    totals: OrderTotals,
    personal: IntArray,
    econ: Economics,
    results: list[ComponentResult],
    window: Window,
    config: SegmentsConfig,
    decimals: int,
    clv: IntArray | None = None,
    start: AtStart | None = None,
) -> SegmentsResult:
    """Every segmentation and the effectiveness table for a run (``clv``: predicted CLV per node, for the
    table's mean CLV; ``start``: the segments at the window start, for churn and conversion)."""
    figures = measures(data, totals, personal, econ, results, window, config)
    segmentations = label(data, figures, window, config, decimals)
    table = effectiveness(segmentations, figures, decimals, clv, start)
    summary: dict[str, Any] = {"abc_health": segmentations[0].health}
    summary["conversion"] = conversion_figures(figures.bought_before, figures.buyers)
    if start is None:
        summary["churn"] = {"note": NO_EARLIER_DATA}
    else:
        summary["churn"] = company_churn(start, figures.buyers, window).as_dict()
    outputs = {}
    net = data.network
    if data.events is not None:
        surveys = survey_table(data.events, window, net.parent, net.ids, segmentations)
        outputs["surveys"] = surveys
        summary["surveys"] = company_figures(surveys)
    if data.leads is not None:
        outputs["leads"] = renew_index(data.leads)
    return SegmentsResult(segmentations, table, summary, outputs)
