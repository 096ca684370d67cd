"""The output tables: participants (one row per accepted participant, id order) and commission rows."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.config import Config
from mlmroi.economics import Economics
from mlmroi.io.load import Dataset
from mlmroi.periods import OrderTotals
from mlmroi.plans.base import ComponentResult


def money(minor: int, decimals: int) -> str:
    """Minor units as an exact decimal string (``12345, 2 -> "123.45"``) for run.json."""
    return str(Decimal(minor).scaleb(-decimals))


def decimal_series(
    name: str, minor: npt.NDArray[np.int64], decimals: int, null: npt.NDArray[np.bool_] | None = None
) -> pl.Series:
    """Minor units as an exact polars Decimal(18, decimals) column."""
    series = pl.Series(name, minor, dtype=pl.Int64)
    if null is not None:
        series = series.set(pl.Series(null), None)
    scaled: pl.Series = series.cast(pl.Decimal(38, decimals)) / 10**decimals
    return scaled.cast(pl.Decimal(18, decimals)).alias(name)


def participants_table(
    data: Dataset,
    totals: OrderTotals,
    personal: npt.NDArray[np.int64],
    econ: Economics,
    config: Config,
    scale: int,
) -> pl.DataFrame:
    """participants.parquet: SPEC §8 columns this release fills, sorted by participant_id."""
    net, d = data.network, config.money.decimals
    group = net.group_volume(personal)
    window_pv = personal.sum(axis=1)
    window_gv = group.sum(axis=1)
    active_any = np.zeros(net.size, dtype=bool)
    if config.plan.components:
        min_pv = min(round(c.active_min_pv * scale) for c in config.plan.components)
        active_any = (personal >= min_pv).any(axis=1) & (personal != 0).any(axis=1)
    is_customer = ~econ.is_distributor
    p = data.participants
    columns: list[pl.Series] = [
        p["participant_id"],
        p["sponsor_id"],
        p["role"],
        p["joined_on"],
        pl.Series("depth", net.depth),
        pl.Series("frontline", net.frontline()),
        pl.Series("active_frontline", net.count_children_where(active_any)),
        pl.Series("downline_size", net.downline_size()),
        decimal_series("personal_volume", window_pv, d),
        decimal_series("group_volume", window_gv, d),
        pl.Series("orders", totals.orders),
        decimal_series("revenue", totals.revenue, d),
        decimal_series("margin", econ.margin, d),
        decimal_series("commissions", econ.commissions, d),
        *[
            decimal_series(f"commissions_{name}", amounts, d)
            for name, amounts in econ.commissions_by_component.items()
        ],
        decimal_series("acquisition_cost", econ.acquisition, d),
        decimal_series("retention_cost", econ.retention, d),
        decimal_series("costs", econ.costs, d),
        decimal_series("profit", econ.profit, d),
        pl.Series("roi_pct", econ.roi_pct).fill_nan(None),
        decimal_series("branch_income", econ.branch_income, d),
        decimal_series("branch_commissions", econ.branch_commissions, d),
        decimal_series("branch_costs", econ.branch_costs, d),
        decimal_series("branch_profit", econ.branch_profit, d),
        pl.Series("branch_roi_pct", econ.branch_roi_pct).fill_nan(None),
        decimal_series("distributor_income", econ.distributor_income, d, null=is_customer),
        decimal_series("distributor_expenses", econ.distributor_expenses, d, null=is_customer),
        decimal_series("distributor_net", econ.distributor_net, d, null=is_customer),
    ]
    return pl.DataFrame(columns).gather(pl.Series(data.id_order))


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
    rank = np.empty(network.size, dtype=np.int64)
    rank[data.id_order] = np.arange(network.size, dtype=np.int64)
    payee = np.concatenate([r.payee for r in results])
    period = np.concatenate([r.period for r in results])
    component = np.concatenate([np.full(r.payee.size, i, dtype=np.int16) for i, r in enumerate(results)])
    level = np.concatenate([r.level for r in results])
    amount = np.concatenate([r.amount for r in results])
    order = np.lexsort((level, component, period, rank[payee]))
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
