"""Read and validate a dataset folder: accepted rows keyed by network node, and rejects for the rest.

Flow: read and map columns (structural problems stop the run, :mod:`mlmroi.io.read`) → participants: row
checks, then the sponsor and placement chains (:mod:`mlmroi.io.participants`, which builds the
:class:`~mlmroi.network.Network`) → orders, costs, paid commissions and events keyed by node; rows of
rejected participants follow them into ``rejects`` → leads (prospects, keyed by their own ``lead_id``).
Every input row is used, rejected, or (as of a date) left out with its participant who joined later.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from mlmroi.errors import InputError
from mlmroi.io.commissions import read_paid
from mlmroi.io.costs import read_costs
from mlmroi.io.csv import CsvOptions
from mlmroi.io.database import DbSource, DbTable, open_db_table
from mlmroi.io.dataset import TABLE_NAMES, Dataset
from mlmroi.io.events import read_events, read_leads
from mlmroi.io.order_periods import read_order_history, read_order_periods
from mlmroi.io.orders import read_orders
from mlmroi.io.participants import read_participants
from mlmroi.io.pushdown import push_down, read_counts
from mlmroi.io.read import MANDATORY_TABLES, RawTable, db_table, find_table, read_table
from mlmroi.io.rejects import Rejects
from mlmroi.io.warehouse import OrderSql

Orphans = Literal["reject", "root"]


@dataclass(frozen=True)
class LoadOptions:
    """What reading a dataset needs to know; callers build it (``Config.load_options``).

    ``placement``: build and check the binary placement tree (``placement_id``/``placement_leg``) — only
    when a plan uses it; otherwise those columns are plain attributes, at no cost.
    """

    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> {input name: contract name}
    decimals: int = 2  # digits of the minor unit
    cost_kinds: dict[str, str] = field(default_factory=dict)  # cost category -> acquisition / retention
    orphans: Orphans = "reject"
    placement: bool = False
    csv: CsvOptions = field(default_factory=CsvOptions)  # how CSV files are written ([input])
    as_of: dt.date | None = None  # the window end: who joined later is left out (counted, not rejected)
    source: DbSource | None = None  # read the tables from a database instead of the folder ([source])
    # What the run's order aggregates are made for (window, margin, fast start): the warehouse path's
    # order_periods and order_history must match it; the pipeline sets it once the window is resolved.
    order_sql: OrderSql | None = None
    # Read only the order rows the window and its lookback need (mlmroi.io.pushdown); with order_sql.
    pushdown: bool = True


@dataclass(eq=False)
class Tables:
    """A dataset folder opened and structurally checked (:func:`open_tables`): each table as read, its rows
    not yet checked. :func:`read_rows` consumes it, dropping each raw table once its rows are parsed."""

    raws: dict[str, RawTable | None]
    rows_in: dict[str, int]
    files: dict[str, Path]
    databases: dict[str, DbTable]

    @property
    def orders(self) -> RawTable:
        """The orders table as read (a dataset always has one)."""
        raw = self.raws["orders"]
        assert raw is not None, "orders already read"
        return raw


def open_tables(dataset: str | Path, options: LoadOptions) -> Tables:
    """Open every table of a dataset folder and check its structure; structural problems raise
    InputError before any row is processed."""
    if options.source is not None:
        return _open_database(options.source, options)
    dataset = Path(dataset)
    if not dataset.is_dir():
        raise InputError(f"{dataset}: dataset folder not found")
    aggregated = find_table(dataset, "order_periods") is not None
    if aggregated and find_table(dataset, "orders") is not None:
        raise InputError(f"{dataset}: both orders and order_periods exist; keep one (docs/sources.md)")
    raws: dict[str, RawTable | None] = {
        name: read_table(
            dataset, name, options.columns.get(name, {}), options.csv, _required(name, aggregated)
        )
        for name in TABLE_NAMES
    }
    rows_in: dict[str, int] = {name: raw.rows for name, raw in raws.items() if raw is not None}
    files: dict[str, Path] = {name: raw.path for name, raw in raws.items() if raw is not None}
    return Tables(raws, rows_in, files, {})


def _open_database(source: DbSource, options: LoadOptions) -> Tables:
    """The tables of a database source (:mod:`mlmroi.io.database`), structurally checked like files."""
    databases: dict[str, DbTable] = {}
    raws: dict[str, RawTable | None] = {}
    aggregated = source.spec("order_periods", required=False) is not None
    for name in TABLE_NAMES:
        spec = source.spec(name, required=_required(name, aggregated))
        if spec is None:
            raws[name] = None
            continue
        mapping = options.columns.get(name, {})
        table = open_db_table(name, spec, source.uri, source.password_env, options.decimals, mapping)
        databases[name] = table
        raws[name] = db_table(table, mapping)
    rows_in = {name: raw.rows for name, raw in raws.items() if raw is not None}
    return Tables(raws, rows_in, {}, databases)


def _required(name: str, aggregated: bool) -> bool:
    """Must table ``name`` exist: participants, and orders unless order_periods stand in for them."""
    if name == "orders":
        return not aggregated
    return name in MANDATORY_TABLES


def load(dataset: str | Path, options: LoadOptions) -> Dataset:
    """Read and validate a dataset folder (see module docstring); structural problems raise InputError."""
    return read_rows(open_tables(dataset, options), options)


def read_rows(tables: Tables, options: LoadOptions) -> Dataset:
    """Check every row of the opened tables (see module docstring); with ``options.as_of``, participants
    who joined after that date and their rows are left out and counted (``Rejects.rows_after_window``)."""
    raws = tables.raws
    rejects = Rejects()
    for name, raw in raws.items():
        if raw is not None and raw.ragged:
            rows = pl.Series(list(raw.ragged), dtype=pl.UInt32)
            header = len(raw.columns)
            reasons = [f"ragged row: {n} fields, the header has {header}" for n in raw.ragged.values()]
            rejects.add(name, rows, "", None, pl.Series(reasons))
    participants_raw, orders_raw = raws.pop("participants"), raws.pop("orders")
    periods_raw, history_raw = raws.pop("order_periods"), raws.pop("order_history")
    assert participants_raw is not None  # read_table raised otherwise
    people = read_participants(
        participants_raw, rejects, options.orphans == "root", options.placement, options.as_of
    )
    del participants_raw
    owners, decimals = people.owners, options.decimals
    orders: tuple[pl.DataFrame, ...] = ()
    order_periods, history = None, None
    spec = options.order_sql
    not_read: dict[str, int] = {}
    if orders_raw is not None:
        if history_raw is not None:
            raise InputError("order_history: goes with order_periods, in place of orders (docs/sources.md)")
        if options.pushdown and spec is not None:
            orders_raw, history_raw = push_down(orders_raw, spec)
        orders = read_orders(orders_raw, owners, decimals)
        if history_raw is not None:  # pushed down: rows read and not read are known now
            tables.rows_in["orders"], not_read["orders"] = read_counts(orders_raw)
            tables.rows_in["order_history"] = history_raw.rows
        del orders_raw
    elif periods_raw is not None:
        if spec is None:
            raise InputError("order_periods: the warehouse path needs a resolved window")
        order_periods = read_order_periods(
            periods_raw, owners, spec.made_for, spec.period_starts(), sorted(spec.early_days)
        )
    if history_raw is not None:
        assert spec is not None  # a history is read or made only for a known window
        history = read_order_history(history_raw, owners, spec.since, people.network.size)
    costs_raw = raws.pop("costs")
    costs = (
        None
        if costs_raw is None
        else read_costs(costs_raw, owners, decimals, options.cost_kinds, people.attributes.names)
    )
    paid_raw = raws.pop("commissions")
    paid = None if paid_raw is None else read_paid(paid_raw, owners, decimals)
    events_raw = raws.pop("events")
    events = None if events_raw is None else read_events(events_raw, owners)
    del events_raw
    leads_raw = raws.pop("leads")
    leads = None if leads_raw is None else read_leads(leads_raw, rejects)
    del leads_raw
    node_of_code = owners.node_of_code
    return Dataset(
        network=people.network,
        participants=people.frame,
        attributes=people.attributes,
        orders=orders,
        costs=costs,
        paid=paid,
        rejects=rejects,
        rows_in=tables.rows_in,
        files=tables.files,
        databases=tables.databases,
        orphans_rooted=people.orphans_rooted,
        id_order=node_of_code[node_of_code >= 0],  # codes ascend with id
        events=events,
        leads=leads,
        history=history,
        order_periods=order_periods,
        not_read=not_read,
    )
