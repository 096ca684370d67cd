"""What every commission component returns, and the per-period volumes it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
import polars as pl
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from mlmroi.money import is_ppm_exact
from mlmroi.network import Network
from mlmroi.periods import EarlyVolume

IntArray = npt.NDArray[np.int64]
AnyInt = npt.NDArray[np.integer[Any]]


@dataclass(frozen=True, eq=False)
class PeriodVolumes:
    """Personal volume per node and commission period, in minor volume units.

    ``personal[p, i]`` is node ``i``'s PV in period ``p``: one contiguous row per period (after customer
    volume moved to the sponsor when the plan says so); ``labels[p]`` names the period (``2025-03``).
    ``early[d]`` is the volume of the nodes' own orders placed within ``d`` days of joining, per period
    (fast start; sparse: ``early[d].period(p)`` is period ``p``'s (n,) array).
    """

    personal: IntArray  # (periods, n)
    labels: tuple[str, ...]
    early: dict[int, EarlyVolume] = field(default_factory=dict)  # days -> early volume of new recruits

    def group_volume(self, network: Network) -> IntArray:
        """GV per period, (periods, n): each period's PV summed over every subtree, self included."""
        out: IntArray = np.ascontiguousarray(network.subtree_sum(np.ascontiguousarray(self.personal.T)).T)
        return out


@dataclass(frozen=True, eq=False)
class TraceRows:
    """Detail rows for one traced participant: the other participant (the source of what they received,
    or the payee of what their volume generated), period, level (-1: none) and the exact unrounded amount
    in minor units × 10⁶."""

    other: IntArray
    period: npt.NDArray[np.int32]
    level: npt.NDArray[np.int16]
    exact: IntArray


@dataclass(frozen=True, eq=False)
class Trace:
    """What one component paid a traced participant, per source, and what their volume generated above."""

    node: int
    received: TraceRows
    generated: TraceRows


@dataclass(frozen=True, eq=False)
class ComponentResult:
    """Commission rows of one component plus the exact attribution used by branch ROI.

    Rows are payee × period × level aggregates, each rounded half-to-even once. ``received_exact`` and
    ``generated_exact`` are unrounded totals in minor units × 10⁶ (exact integers): what each node received,
    and what each node's own volume generated for whoever was paid.
    """

    component: str
    payee: IntArray
    period: npt.NDArray[np.int32]
    level: npt.NDArray[np.int16]  # -1 where a level does not apply
    amount: IntArray
    received_exact: IntArray
    generated_exact: IntArray
    attribution_scale: float = 1.0  # paid / computed after caps (scales the attribution above a branch)
    #: per-node output columns of the component, in node order (a stairstep's rank, a binary's carry)
    columns: dict[str, pl.Series] = field(default_factory=dict)
    #: per-source detail for one participant, when the plan was run with ``trace`` (``mlmroi explain``)
    trace: Trace | None = None


class ComponentModel(BaseModel):
    """What every component's config has: frozen, no unknown keys, an optional ``name`` for outputs."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    type: str
    name: str | None = Field(default=None, description="label in outputs; default: the type")

    @property
    def label(self) -> str:
        """The component's name in outputs (``commissions_<label>``, the ``component`` column)."""
        return self.name or self.type


def _whole_minor_units(value: float, info: ValidationInfo) -> float:
    decimals = int((info.context or {}).get("decimals", 2))
    exponent = Decimal(repr(float(value))).as_tuple().exponent
    if isinstance(exponent, int) and exponent < -decimals:
        raise ValueError(
            f"{value} is finer than the money unit: at most {decimals} decimals ([money] decimals), or it "
            "would be rounded without a word"
        )
    return value


#: a money or volume setting (thresholds, pair amounts, carries, caps): a whole number of minor units
MoneySetting = Annotated[float, AfterValidator(_whole_minor_units)]


def check_rates(rates: list[float], what: str) -> list[float]:
    """Each rate in [0, 1] with at most six decimals (exact in parts per million); ``what`` names them."""
    for k, rate in enumerate(rates, start=1):
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{what} {k} rate {rate} is not between 0 and 1")
        if not is_ppm_exact(rate):
            raise ValueError(f"{what} {k} rate {rate} has more than 6 decimals")
    return rates


class RowCollector:
    """Collects a component's commission rows period by period and packages its :class:`ComponentResult`.

    Also holds the exact attribution arrays the component's kernels add into (minor units × 10⁶).
    """

    def __init__(self, n: int, trace: int = -1) -> None:
        self.received = np.zeros(n, dtype=np.int64)
        self.generated = np.zeros(n, dtype=np.int64)
        self.trace_node = trace  # the participant whose detail is kept (-1: none)
        self._traced: dict[str, list[tuple[IntArray, AnyInt, AnyInt, IntArray]]] = {
            "received": [],
            "generated": [],
        }
        self._payee: list[IntArray] = [np.zeros(0, dtype=np.int64)]
        self._period: list[npt.NDArray[np.int32]] = [np.zeros(0, dtype=np.int32)]
        self._level: list[npt.NDArray[np.int16]] = [np.zeros(0, dtype=np.int16)]
        self._amount: list[IntArray] = [np.zeros(0, dtype=np.int64)]

    def add(self, period: int, level: int, payee: IntArray, amount: IntArray) -> None:
        """Rows of one period and level (-1: none); rows whose rounded amount is 0 are not kept."""
        keep = amount != 0
        count = int(keep.sum())
        self._payee.append(payee[keep])
        self._period.append(np.full(count, period, dtype=np.int32))
        self._level.append(np.full(count, level, dtype=np.int16))
        self._amount.append(amount[keep])

    def trace(self, kind: str, other: IntArray, period: AnyInt, level: AnyInt, exact: IntArray) -> None:
        """Detail rows of the traced participant: ``kind`` is "received" (other = source) or "generated"
        (other = payee)."""
        self._traced[kind].append((other, period, level, exact))

    def _trace_rows(self, kind: str) -> TraceRows:
        parts = self._traced[kind]
        columns = [
            np.concatenate([np.zeros(0, dtype=np.int64), *(part[k] for part in parts)]) for k in range(4)
        ]
        return TraceRows(
            columns[0].astype(np.int64),
            columns[1].astype(np.int32),
            columns[2].astype(np.int16),
            columns[3].astype(np.int64),
        )

    def result(self, component: str, columns: dict[str, pl.Series] | None = None) -> ComponentResult:
        """The collected rows with the attribution (and the component's per-node output columns)."""
        trace = None
        if self.trace_node >= 0:
            trace = Trace(self.trace_node, self._trace_rows("received"), self._trace_rows("generated"))
        return ComponentResult(
            component,
            np.concatenate(self._payee),
            np.concatenate(self._period),
            np.concatenate(self._level),
            np.concatenate(self._amount),
            self.received,
            self.generated,
            columns=columns or {},
            trace=trace,
        )
