"""Money per participant: margin, cost allocation, personal and branch ROI, the distributor view.

All amounts are integer minor units. ROI is a float percentage and null where costs are 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.config import Config
from mlmroi.io.dataset import Dataset
from mlmroi.io.rejects import Rejects
from mlmroi.money import (
    RATE_SCALE,
    divide_half_even,
    minor_from_floats,
    rate_ppm,
    split_largest_remainder,
    sum_by_index,
)
from mlmroi.network import Network
from mlmroi.periods import OrderTotals, Window
from mlmroi.plans import active_by_period
from mlmroi.plans.base import ComponentResult

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def paid_by_node(paid: pl.DataFrame, window: Window, n: int) -> tuple[IntArray, int]:
    """Commissions actually paid per node inside the window, and the count of paid rows outside it."""
    period = paid.select(window.index(pl.col("paid_on")))["paid_on"]
    inside = paid.filter(period >= 0)
    return sum_by_index(inside["node"].to_numpy(), inside["amount"].to_numpy(), n), int((period < 0).sum())


def roi_pct(profit: IntArray, costs: IntArray) -> FloatArray:
    """``profit / costs × 100``; NaN (written as null) where costs are 0."""
    out = np.full(profit.shape, np.nan)
    np.divide(profit * 100.0, costs, out=out, where=costs != 0)
    return out


@dataclass(frozen=True, eq=False)
class CostAllocation:
    """Company costs per node by kind, and participant-paid costs (distributor expenses)."""

    acquisition: IntArray
    retention: IntArray
    paid_by_participant: IntArray
    shared_total: int
    outside_window_rows: int


def allocate_costs(
    data: Dataset,
    window: Window,
    totals: OrderTotals,
    config: Config,
    personal: IntArray,
    rejects: Rejects | None = None,
) -> CostAllocation:
    """Direct costs to their participant; shared costs split to the cent among the participants they select
    (``data``'s costs, participants, attributes and id order; a shared cost that selects nobody goes to
    ``rejects``, by default the dataset's own).

    A shared acquisition cost goes to those who joined in its period, a retention cost to those active in it
    (``personal``: the plan's PV per period, against the plan's lowest activity threshold,
    :func:`mlmroi.plans.active_by_period`), each optionally narrowed by ``filter_column = filter_value``;
    split by count or
    by revenue in the period (``costs.allocation``; by count when the selection has no revenue). Shares are
    rounded down and the leftover cents go to the largest remainders, ties to the smaller participant id
    (``id_order``: the nodes sorted by id), so nothing is left unallocated. A shared cost that selects nobody
    is moved to ``rejects``.
    """
    costs, participants, attributes, id_order = data.costs, data.participants, data.attributes, data.id_order
    rejects = data.rejects if rejects is None else rejects
    n = participants.height
    acquisition = np.zeros(n, dtype=np.int64)
    retention = np.zeros(n, dtype=np.int64)
    paid_by_participant = np.zeros(n, dtype=np.int64)
    if costs is None or costs.height == 0:
        return CostAllocation(acquisition, retention, paid_by_participant, 0, 0)
    costs = costs.with_columns(window.index(pl.col("incurred_on")).alias("period"))
    outside = int((costs["period"] < 0).sum())
    costs = costs.filter(pl.col("period") >= 0)
    direct = costs.filter(pl.col("node") >= 0)
    for kind, target in (("acquisition", acquisition), ("retention", retention)):
        part = direct.filter((pl.col("payer") == "company") & (pl.col("kind") == kind))
        target += sum_by_index(part["node"].to_numpy(), part["amount"].to_numpy(), n)
    part = direct.filter(pl.col("payer") == "participant")
    paid_by_participant += sum_by_index(part["node"].to_numpy(), part["amount"].to_numpy(), n)

    shared = costs.filter(pl.col("node") < 0)
    active = active_by_period(personal, config) if shared.height else None
    joined_period = participants.select(window.index(pl.col("joined_on")))["joined_on"].to_numpy()
    groups = (
        shared.group_by("period", "kind", "filter_column", "filter_value")
        .agg(pl.col("amount").sum(), pl.col("__row"))
        .sort("period", "kind", "filter_column", "filter_value", nulls_last=False)
    )
    labels = window.labels
    shared_total = 0
    filters: dict[tuple[str, str], npt.NDArray[np.bool_]] = {}  # a filter is usually reused every period
    for period, kind, f_col, f_val, amount, rows in groups.iter_rows():
        if kind == "acquisition":
            selected = joined_period == period
            who = f"nobody joined in {labels[period]}"
        else:
            assert active is not None
            selected = active[period].copy()
            who = f"nobody was active in {labels[period]}"
        if f_col is not None:
            if (f_col, f_val) not in filters:
                filters[(f_col, f_val)] = attributes.equals(f_col, f_val)
            selected &= filters[(f_col, f_val)]
            who += f" with {f_col} = {f_val}"
        chosen = id_order[selected[id_order]]  # in participant-id order: leftover cents go by id
        if chosen.size == 0:
            rejects.add(
                "costs",
                pl.Series(rows),
                "participant_id",
                None,
                f"shared {kind} cost selects no participant ({who})",
            )
            continue
        weights = np.ones(chosen.size, dtype=np.int64)
        if config.costs.allocation == "revenue":
            revenue = np.maximum(totals.revenue_by_period[period, chosen], 0)
            if revenue.sum() > 0:
                weights = revenue
        share = split_largest_remainder(int(amount), weights)
        target = acquisition if kind == "acquisition" else retention
        target[chosen] += share
        shared_total += int(amount)
    return CostAllocation(acquisition, retention, paid_by_participant, shared_total, outside)


@dataclass(frozen=True, eq=False)
class Economics:
    """Per-node money columns (minor units) and ROI percentages."""

    margin: IntArray
    commissions: IntArray  # what ROI uses: paid when audited, else computed
    computed_commissions: IntArray  # what the plan computes
    paid_commissions: IntArray | None  # what was actually paid (commissions table), if given
    commissions_by_component: dict[str, IntArray]
    acquisition: IntArray
    retention: IntArray
    costs: IntArray
    profit: IntArray
    roi_pct: FloatArray
    branch_income: IntArray
    branch_commissions: IntArray
    branch_costs: IntArray
    branch_profit: IntArray
    branch_roi_pct: FloatArray
    distributor_income: IntArray
    distributor_expenses: IntArray
    distributor_net: IntArray
    is_distributor: npt.NDArray[np.bool_]


def branch_commissions(network: Network, results: list[ComponentResult], received: IntArray) -> IntArray:
    """Commissions generated by each subtree's volume, whoever was paid, reconciling exactly at the roots.

    = what payees inside the subtree received (``received``: rounded rows, or what was actually paid) +
    what the subtree's volume generated for payees above it (the plan's exact attribution, rounded once).
    At a root nothing is paid above, so the figure is exactly the network's total of ``received``.
    """
    if not results:
        return np.zeros(network.size, dtype=np.int64)
    inside = network.subtree_sum(received)
    if all(r.attribution_scale == 1.0 for r in results):
        generated = sum((r.generated_exact for r in results), np.zeros(network.size, dtype=np.int64))
        received_exact = sum((r.received_exact for r in results), np.zeros(network.size, dtype=np.int64))
        outside_exact = network.subtree_sum(np.asarray(generated)) - network.subtree_sum(
            np.asarray(received_exact)
        )
        return np.asarray(inside + divide_half_even(outside_exact, RATE_SCALE), dtype=np.int64)
    # Caps bound: each component's part above the branch is scaled by its paid / computed ratio. The
    # integer difference is exactly 0 at a root, so roots stay exact.
    outside = np.zeros(network.size, dtype=np.float64)
    for r in results:
        difference = network.subtree_sum(r.generated_exact) - network.subtree_sum(r.received_exact)
        outside += difference * r.attribution_scale
    return np.asarray(inside + minor_from_floats(outside / RATE_SCALE), dtype=np.int64)


def compute(
    network: Network,
    participants: pl.DataFrame,
    totals: OrderTotals,
    results: list[ComponentResult],
    allocation: CostAllocation,
    config: Config,
    paid: IntArray | None = None,
) -> Economics:
    """Personal ROI, branch ROI and the distributor view for every node.

    With ``paid`` (the commissions actually paid, per node, from a ``commissions`` table), ROI and the
    distributor view use what was paid; the plan-computed amounts stay in ``computed_commissions``.
    """
    n = network.size
    by_component = {}
    for result in results:
        by_component[result.component] = sum_by_index(result.payee, result.amount, n)
    computed = sum(by_component.values(), np.zeros(n, dtype=np.int64))
    commissions = computed if paid is None else paid
    margin = totals.margin
    costs = allocation.acquisition + allocation.retention + commissions
    profit = margin - costs
    branch_income = network.subtree_sum(margin)
    branch_comm = branch_commissions(network, results, commissions)
    branch_costs = network.subtree_sum(allocation.acquisition + allocation.retention) + branch_comm
    branch_profit = branch_income - branch_costs
    is_distributor = (participants["role"] == "distributor").to_numpy()
    markup = rate_ppm(config.distributor.retail_markup)
    retail_profit = divide_half_even(totals.retail_revenue * markup, RATE_SCALE)
    own_purchases = totals.revenue - totals.retail_revenue
    d_income = commissions + retail_profit
    d_expenses = allocation.paid_by_participant + (
        own_purchases if config.distributor.own_purchases_are_expenses else 0
    )
    return Economics(
        margin=margin,
        commissions=commissions,
        computed_commissions=computed,
        paid_commissions=paid,
        commissions_by_component=by_component,
        acquisition=allocation.acquisition,
        retention=allocation.retention,
        costs=costs,
        profit=profit,
        roi_pct=roi_pct(profit, costs),
        branch_income=branch_income,
        branch_commissions=branch_comm,
        branch_costs=branch_costs,
        branch_profit=branch_profit,
        branch_roi_pct=roi_pct(branch_profit, branch_costs),
        distributor_income=d_income,
        distributor_expenses=np.asarray(d_expenses, dtype=np.int64),
        distributor_net=d_income - d_expenses,
        is_distributor=is_distributor,
    )
