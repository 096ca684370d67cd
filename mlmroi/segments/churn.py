"""Churn and conversion, measured from where participants stood at the window start.

A segment defined by buying now (A, champions, customer …) cannot lose its own members to churn, and its
conversion is 100 % by construction. So both figures start from the segments at the window *start*: each
participant labelled on the previous window of the same length (:meth:`mlmroi.periods.Window.previous`),
exactly as a run over that window labels them (:class:`AtStart`).

- **churn** of a segment: of its members at the start who bought in the previous window, the share who did
  not buy in this one. The company churn rate (seeds/001's KPI) is the same over everyone; the monthly rate
  is ``1 − (1 − churn)^(1 / months)`` (the rate that, compounded over the window's months, loses as many).
- **conversion** of a segment: of its members at the start who had never bought before the window, the
  share who bought in it (newcomers of the window count: at the start they had not bought).

Without orders before the window there are no start labels: churn is unknown and per-segment conversion
too; the company conversion is then the share of everyone who bought.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlmroi.periods import Window

BoolArray = npt.NDArray[np.bool_]

NO_EARLIER_DATA = (
    "no orders before the window start, so no segments at the start (labelled on the previous window): "
    "churn is unknown and conversion is given for the company only"
)


@dataclass(frozen=True, eq=False)
class AtStart:
    """Each participant's segments at the window start — every segmentation run on ``window`` (the previous
    window) — and who bought in it (a positive order, as a participant by its end)."""

    window: Window
    codes: dict[str, npt.NDArray[np.int16]]  # segmentation name -> code per node, labels as this run's
    buyers: BoolArray


@dataclass(frozen=True)
class CompanyChurn:
    """seeds/001's churn KPI: of the previous window's buyers, the share who did not buy in this window."""

    previous: Window
    previous_buyers: int
    retained: int
    months: float  # the window's length

    @property
    def rate(self) -> float | None:
        """Churn over the window (None: nobody bought in the previous window)."""
        return 1.0 - self.retained / self.previous_buyers if self.previous_buyers else None

    @property
    def monthly_rate(self) -> float | None:
        """The monthly rate that compounds to :attr:`rate` over the window's months."""
        rate = self.rate
        if rate is None or self.months <= 0:
            return None
        return float(1.0 - (1.0 - rate) ** (1.0 / self.months))

    def as_dict(self) -> dict[str, Any]:
        """run.json's ``churn`` figures."""
        rate, monthly = self.rate, self.monthly_rate
        return {
            "previous_window": {
                "start": self.previous.start.isoformat(),
                "end": self.previous.end.isoformat(),
            },
            "previous_buyers": self.previous_buyers,
            "retained": self.retained,
            "rate": None if rate is None else round(rate, 6),
            "monthly_rate": None if monthly is None else round(monthly, 6),
            "months": round(self.months, 4),
        }


def company_churn(start: AtStart, buyers: BoolArray, window: Window) -> CompanyChurn:
    """The company churn rate from the start labels' buyers and this window's ``buyers``."""
    return CompanyChurn(
        start.window, int(start.buyers.sum()), int((start.buyers & buyers).sum()), window.months
    )


def conversion_figures(bought_before: BoolArray, buyers: BoolArray) -> dict[str, Any]:
    """run.json's company ``conversion``: of everyone who had not bought before the window, who bought."""
    base = int((~bought_before).sum())
    converted = int((~bought_before & buyers).sum())
    return {"base": base, "converted": converted, "rate": round(converted / base, 6) if base else None}
