"""The output tables: participants (one row per accepted participant, id order) and commission rows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.config import Config
from mlmroi.economics import Economics
from mlmroi.io.dataset import Dataset
from mlmroi.money import decimal_series, to_decimal
from mlmroi.periods import OrderTotals
from mlmroi.plans import active_by_period
from mlmroi.plans.base import ComponentResult
from mlmroi.sorting import counting_order


def money(minor: int, decimals: int) -> str:
    """Minor units as an exact decimal string (``12345, 2 -> "123.45"``) for run.json."""
    return str(Decimal(minor).scaleb(-decimals))


def participants_table(
    data: Dataset,
    totals: OrderTotals,
    personal: npt.NDArray[np.int64],
    econ: Economics,
    results: list[ComponentResult],
    config: Config,
    scale: int,
    segments: list[pl.Series] | None = None,
) -> pl.DataFrame:
    """participants.parquet: SPEC §8 columns this release fills, one row per participant in id order."""
    net, d = data.network, config.money.decimals
    window_pv = personal.sum(axis=0)
    window_gv = net.group_volume(window_pv)  # Σ over periods of GV = GV of the window's PV
    # Active frontline: recruits active in at least one period (the plan's lowest activity threshold).
    active_any = np.asarray(active_by_period(personal, config).any(axis=0), dtype=np.bool_)
    counts: dict[str, npt.NDArray[Any]] = {
        "depth": net.depth,
        "frontline": net.frontline(),
        "active_frontline": net.count_children_where(active_any),
        "downline_size": net.downline_size(),
    }
    money_columns = {
        "personal_volume": window_pv,
        "group_volume": window_gv,
        "orders": totals.orders,
        "revenue": totals.revenue,
        "margin": econ.margin,
        "commissions": econ.commissions,
        **{f"commissions_{name}": amounts for name, amounts in econ.commissions_by_component.items()},
        "acquisition_cost": econ.acquisition,
        "retention_cost": econ.retention,
        "costs": econ.costs,
        "profit": econ.profit,
        "roi_pct": econ.roi_pct,
        "branch_income": econ.branch_income,
        "branch_commissions": econ.branch_commissions,
        "branch_costs": econ.branch_costs,
        "branch_profit": econ.branch_profit,
        "branch_roi_pct": econ.branch_roi_pct,
        "distributor_income": econ.distributor_income,
        "distributor_expenses": econ.distributor_expenses,
        "distributor_net": econ.distributor_net,
    }
    if econ.paid_commissions is not None:  # the commission audit: what was paid against the plan
        money_columns["commissions_computed"] = econ.computed_commissions
        money_columns["commissions_paid"] = econ.paid_commissions
        money_columns["commission_difference"] = econ.paid_commissions - econ.computed_commissions
    order = data.id_order  # numpy takes are cheaper than reordering the finished frame
    p = data.participants.select("participant_id", "sponsor_id", "role", "joined_on")
    frame = p.gather(pl.Series(order)).with_columns([pl.Series(k, v[order]) for k, v in counts.items()])
    customer = pl.col("role") == "customer"

    def finished(name: str) -> pl.Expr:
        if name in ("orders",):
            return pl.col(name)
        if name.endswith("roi_pct"):
            return pl.col(name).fill_nan(None)
        if name.startswith("distributor_"):
            return pl.when(customer).then(None).otherwise(to_decimal(name, d)).alias(name)
        return to_decimal(name, d)

    # A few columns at a time: each batch's int64 copies are freed once converted (peak memory at 10M).
    names = list(money_columns)
    for start in range(0, len(names), 6):
        batch = names[start : start + 6]
        frame = frame.with_columns([pl.Series(k, money_columns[k][order]) for k in batch])
        frame = frame.with_columns([finished(k) for k in batch])
    for result in results:  # the components' own columns (a stairstep's rank, a binary's carry)
        frame = frame.with_columns(series.gather(pl.Series(order)) for series in result.columns.values())
    frame = frame.with_columns(series.gather(pl.Series(order)) for series in segments or [])
    if econ.paid_commissions is not None:
        tolerance = round(config.audit.tolerance * 10**d)
        flag = np.abs(econ.paid_commissions - econ.computed_commissions)[order] > tolerance
        frame = frame.with_columns(pl.Series("commission_flag", flag))
    return frame


def commissions_table(
    data: Dataset, results: list[ComponentResult], labels: tuple[str, ...], decimals: int
) -> pl.DataFrame:
    """commissions.parquet: payee × period × component × level rows.

    Sorted by participant_id, period, component (in plan order) and level, using integer keys.
    """
    network = data.network
    if not results or sum(r.payee.size for r in results) == 0:
        return pl.DataFrame(
            schema={
                "participant_id": network.ids.dtype,
                "period": pl.String,
                "component": pl.String,
                "level": pl.Int16,
                "amount": pl.Decimal(18, decimals),
            }
        )
    rank = data.id_rank
    payee = np.concatenate([r.payee for r in results])
    period = np.concatenate([r.period for r in results])
    component = np.concatenate([np.full(r.payee.size, i, dtype=np.int16) for i, r in enumerate(results)])
    level = np.concatenate([r.level for r in results])
    amount = np.concatenate([r.amount for r in results])
    # Two stable counting sorts, O(rows): by (period, component, level), then by participant rank.
    # (np.lexsort on tens of millions of rows took seconds at 10M participants.)
    n_levels = int(level.max()) + 2
    minor_key = (period.astype(np.int64) * len(results) + component) * n_levels + (level.astype(np.int64) + 1)
    first = counting_order(minor_key, int(minor_key.max()) + 1)
    order = first[counting_order(rank[payee[first]], network.size)]
    names = pl.Series([r.component for r in results], dtype=pl.String)
    level_sorted = level[order]
    return pl.DataFrame(
        [
            network.ids.gather(pl.Series(payee[order])).alias("participant_id"),
            pl.Series(labels, dtype=pl.String).gather(pl.Series(period[order])).alias("period"),
            names.gather(pl.Series(component[order])).alias("component"),
            pl.Series("level", level_sorted, dtype=pl.Int16).set(pl.Series(level_sorted < 0), None),
            decimal_series("amount", amount[order], decimals),
        ]
    )
