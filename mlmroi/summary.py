"""The run summary: one typed value (pydantic) that a score run hands to run.json, the command line and the
report, instead of a dict read by string keys.

Every model forbids unknown keys, so a renamed or misspelt key fails where the summary is built (and in the
tests), never silently downstream. Money is :class:`~decimal.Decimal` (exact; written to JSON as a string,
e.g. ``"1333783.70"``); shares and rates are floats rounded where they are computed.
:meth:`RunSummary.to_json` writes the keys in declaration order, leaving out the optional parts a run does
not have (no ``audit`` without paid commissions, no ``holdout`` without one), so the file reads as before.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer

from mlmroi.config import Config


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Versions(_Part):
    polars: str
    numpy: str


class WindowSummary(_Part):
    start: dt.date
    end: dt.date
    period: str
    periods: list[str]
    inferred: list[str]  # "start" and/or "end" when the config left them to be inferred from the orders


class TableRows(_Part):
    """Rows of one input table: ``in = used + rejected + joined_after_window`` (docs/data-contract.md)."""

    in_: int = Field(alias="in")
    used: int
    rejected: int
    joined_after_window: int
    not_read: int | None = None  # after a pushdown: rows outside the window's reach, never read
    outside_window: int | None = None  # read, but dated outside the window


class NetworkSummary(_Part):
    participants: int
    roots: int
    max_depth: int
    orphans_made_roots: int
    joined_after_window: int


class Audit(_Part):
    paid: Decimal
    computed: Decimal
    difference: Decimal
    tolerance: Decimal
    participants_flagged: int


class Totals(_Part):
    revenue: Decimal
    margin: Decimal
    volume: Decimal
    acquisition_cost: Decimal
    retention_cost: Decimal
    shared_cost_allocated: Decimal
    commissions: Decimal
    commissions_by_component: dict[str, Decimal]
    costs: Decimal
    profit: Decimal
    payout_ratio: float | None
    roi_pct: float | None
    audit: Audit | None = None
    clv_predicted: Decimal | None = None


class PeriodFigures(_Part):
    """One commission period of the window: what the company sold and what its plan paid on it."""

    period: str
    revenue: Decimal
    volume: Decimal
    commissions: Decimal
    payout_ratio: float | None  # commissions / volume


class FileInput(_Part):
    file: str
    sha256: str


class DatabaseInput(_Part):
    source: str  # the URI, password redacted
    table: str | None = None
    query: str | None = None
    sql: str
    rows: int
    fingerprint: str
    not_read: int | None = None


class AbcHealth(_Part):
    measure: str
    method: str
    buyers: int
    a_share_of_buyers: float | None
    a_share_of_participants: float
    a_share_in_healthy_range: bool
    a_share_of_revenue: float | None
    participants_making_80pct_of_revenue: float | None


class Conversion(_Part):
    base: int
    converted: int
    rate: float | None


class PreviousWindow(_Part):
    start: dt.date
    end: dt.date


class Churn(_Part):
    """The company's churn: of the previous window's buyers, who did not buy in this one; or a note saying
    why it cannot be told."""

    note: str | None = None
    previous_window: PreviousWindow | None = None
    previous_buyers: int | None = None
    retained: int | None = None
    rate: float | None = None
    monthly_rate: float | None = None
    months: float | None = None


class Surveys(_Part):
    responses: int
    attract: int
    detract: int
    csi: float | None
    promoters: int
    detractors: int
    nps: float | None


class SegmentsSummary(_Part):
    abc_health: AbcHealth
    conversion: Conversion
    churn: Churn
    surveys: Surveys | None = None


class PurchaseFit(_Part):
    """A BG/NBD or MBG/NBD fit (time in weeks)."""

    model: str
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    repeat_buyers: int
    iterations: int


class SpendFit(_Part):
    """The Gamma-Gamma fit (γ in ``money_unit``)."""

    model: str
    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int
    iterations: int
    money_unit: str
    mean_transaction_value: float | None = None


class ValueModel(_Part):
    status: Literal["off", "failed", "fitted"]
    reason: str | None = None
    selected: str | None = None
    fit: str | None = None
    bgnbd: PurchaseFit | None = None
    mbgnbd: PurchaseFit | None = None
    gamma_gamma: SpendFit | None = None

    @property
    def purchases(self) -> PurchaseFit | None:
        """The selected purchase model's fit."""
        return self.mbgnbd if self.selected == "mbgnbd" else self.bgnbd


class HoldoutFit(_Part):
    status: Literal["failed", "fitted"]
    reason: str | None = None
    expected: float | None = None
    actual_per_expected: float | None = None
    log_likelihood: float | None = None
    params: dict[str, float] | None = None
    iterations: int | None = None


class Holdout(_Part):
    periods: int
    fit: str
    holdout: str
    weeks: float
    customers: int
    model: str
    expected_purchase_days: float | None
    actual_purchase_days: int
    models: dict[str, HoldoutFit]


class ValueSummary(_Part):
    lifetime_months: float
    lifetime_source: str
    time_unit: str | None = None
    purchase_unit: str | None = None
    money_unit: str | None = None
    customers: int | None = None
    repeat_purchases: int | None = None
    margin_rate: float | None = None
    model: ValueModel
    holdout: Holdout | None = None


class RunSummary(_Part):
    """run.json: what a score run read, the window it scored, the company's totals and the models' figures."""

    mlmroi_version: str
    versions: Versions
    window: WindowSummary
    rows: dict[str, TableRows]
    network: NetworkSummary
    totals: Totals
    by_period: list[PeriodFigures]
    config: Config  # written as Config.resolved(): defaults filled, any password redacted
    inputs: dict[str, FileInput | DatabaseInput]
    dataset: str  # the dataset's folder, or the database URI with its password redacted
    segments: SegmentsSummary
    value: ValueSummary

    @field_serializer("config")
    def _resolved(self, config: Config) -> dict[str, Any]:
        return config.resolved()

    @property
    def currency(self) -> str:
        return self.config.money.currency

    @property
    def decimals(self) -> int:
        return self.config.money.decimals

    @property
    def order_rows(self) -> TableRows:
        """The orders table's rows (or, on the warehouse path, the order periods table's)."""
        return self.rows["orders"] if "orders" in self.rows else self.rows["order_periods"]

    def to_json(self) -> str:
        """run.json's text: two-space indented, keys in declaration order, absent optional parts left out."""
        data = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        return json.dumps(data, indent=2, sort_keys=False) + "\n"
