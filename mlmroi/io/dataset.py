"""The validated dataset: accepted rows keyed by network node, the participants' columns as read, rejects."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.io.database import DbTable
from mlmroi.io.rejects import Rejects
from mlmroi.network import Network
from mlmroi.periods import OrderHistory, OrderPeriods

IntArray = npt.NDArray[np.int64]
TableName = Literal[
    "participants", "orders", "costs", "commissions", "events", "leads", "order_periods", "order_history"
]
TABLE_NAMES: tuple[TableName, ...] = (
    "participants",
    "orders",
    "costs",
    "commissions",
    "events",
    "leads",
    "order_periods",  # the warehouse path, in place of orders (mlmroi.io.warehouse)
    "order_history",
)
PRE_AGGREGATED = ("order_periods", "order_history")


@dataclass(frozen=True, eq=False)
class Attributes:
    """Participant columns as read (text for CSV) in input row order; node ``i`` is row ``rows_by_node[i]``.

    Shared-cost filters (``filter_column = filter_value``) compare against these, so any participants
    column can select: ``region``, ``channel``, ``role``, …
    """

    frame: pl.DataFrame
    rows_by_node: IntArray

    @property
    def names(self) -> list[str]:
        """The attribute column names."""
        return self.frame.columns

    def released(self) -> Attributes:
        """An empty copy (frees the columns once cost filters have been applied)."""
        return Attributes(self.frame.clear(), self.rows_by_node[:0].copy())

    def equals(self, column: str, value: str) -> npt.NDArray[np.bool_]:
        """Per node: does ``column`` hold ``value`` (compared as text)?"""
        match = (self.frame[column].cast(pl.String) == value).fill_null(False).to_numpy()
        out: npt.NDArray[np.bool_] = match[self.rows_by_node]
        return out


@dataclass(frozen=True, eq=False)
class Dataset:
    """Validated tables keyed by network node (``node`` column), plus rejects and row counts."""

    network: Network
    participants: pl.DataFrame  # accepted, in node order: the contract's columns
    attributes: Attributes  # every participant column as read, for filters (region, channel, …)
    orders: tuple[
        pl.DataFrame, ...
    ]  # used order rows, one frame per chunk read (node, ordered_on, amount, …)
    costs: pl.DataFrame | None
    paid: (
        pl.DataFrame | None
    )  # the commissions table (what was actually paid): node, paid_on, amount, component
    rejects: Rejects
    rows_in: dict[str, int]
    files: dict[str, Path]
    orphans_rooted: int
    id_order: IntArray  # nodes sorted by participant_id (output row order)
    databases: dict[str, DbTable] = field(default_factory=dict)  # tables read from a database ([source])
    # Orders before ``history.since`` as a per-node summary (a pushed-down read, or the warehouse path's
    # order_history); None when every order row was read.
    history: OrderHistory | None = None
    # The warehouse path: orders pre-aggregated per node and period, in place of order rows (then
    # ``orders`` is empty).
    order_periods: OrderPeriods | None = None
    not_read: dict[str, int] = field(default_factory=dict)  # per table: rows a pushdown left unread
    # Optional tables for the segments (SPEC §6), ``None`` when the dataset has none:
    events: pl.DataFrame | None = None  # node (Int64), occurred_on (Date), type (String), value (Float64)
    leads: pl.DataFrame | None = None  # lead_id (Int64 or String), brand, attractiveness, closeness (Int8)

    @cached_property
    def id_rank(self) -> IntArray:
        """Each node's position in participant-id order (output row order; ties in caps); computed once."""
        rank = np.empty(self.network.size, dtype=np.int64)
        rank[self.id_order] = np.arange(self.network.size, dtype=np.int64)
        return rank

    @cached_property
    def joined_day(self) -> IntArray:
        """Each node's join date as days since 1970-01-01 (fast start, CLV, recruits in the window)."""
        days: IntArray = self.participants["joined_on"].cast(pl.Int32).to_numpy().astype(np.int64)
        return days

    def ordered_before(self, day: dt.date) -> bool:
        """Did anyone place an order (a used row) dated before ``day``?"""
        if self.history is not None and day > self.history.since and bool(self.history.ordered.any()):
            return True
        if self.order_periods is not None:
            return self.order_periods.ordered_before(day)
        return any(bool((c["ordered_on"] < day).any()) for c in self.orders)

    def label(self, table: str) -> str:
        """A table's name for messages: its file (``orders.csv``) or database table."""
        return self.databases[table].label if table in self.databases else self.files[table].name

    def rows(self) -> dict[str, dict[str, int]]:
        """``in``, ``used``, ``rejected`` and ``joined_after_window`` rows per table (``in = used + rejected
        + joined_after_window``; the last: rows of participants who joined after the window end); after a
        pushdown, ``not_read``: rows outside the window's reach, never read (not part of ``in``)."""
        out = {}
        rejected_by_table = self.rejects.rows_rejected()
        after_by_table = self.rejects.rows_after_window()
        for table, count in self.rows_in.items():
            rejected, after = rejected_by_table.get(table, 0), after_by_table.get(table, 0)
            out[table] = {
                "in": count,
                "used": count - rejected - after,
                "rejected": rejected,
                "joined_after_window": after,
            } | ({"not_read": self.not_read[table]} if table in self.not_read else {})
        return out
