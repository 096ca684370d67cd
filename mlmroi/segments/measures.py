"""The per-participant figures every segmentation reads, in network-node order."""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from mlmroi.periods import NEVER

__all__ = ["NEVER", "Measures"]

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, eq=False)
class Measures:
    """Figures per node (money and volume in minor units, days since 1970-01-01).

    ``revenue_by_period`` / ``purchased`` are (periods, n); ``join_period`` is the first window period a
    participant belongs to (0 when they joined before the window, ``periods`` when after it);
    ``last_order_day`` is the day of their last purchase (positive amount) up to the window end, to the day
    (``NEVER`` if none); ``bought_before`` marks who bought at any time before the window (conversion's
    base); ``frontline`` and ``downline_size`` count only who had joined by the window end.
    ``id_rank`` orders participants by id (ties are broken by it, never by input order).
    """

    id_rank: IntArray
    end_day: int
    revenue: IntArray
    margin: IntArray
    profit: IntArray
    costs: IntArray
    commissions: IntArray
    orders: IntArray
    personal_volume: IntArray
    group_volume: IntArray
    gv_growth: IntArray
    frontline: IntArray
    downline_size: IntArray
    revenue_by_period: IntArray
    purchased: BoolArray
    join_period: IntArray
    last_order_day: IntArray
    bought_before: BoolArray
    left_on_day: IntArray  # NEVER when not left
    rank: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # -1: none; see rank_names
    rank_names: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        """Number of participants."""
        return int(self.id_rank.shape[0])

    def measure(self, name: str) -> IntArray:
        """A named measure (``abc.measure``, ``bcg.x``, …)."""
        value: IntArray = getattr(self, name)
        return value

    @property
    def buyers(self) -> BoolArray:
        """Participants with at least one order in the window."""
        return np.asarray(self.orders > 0)

    def subset(self, nodes: IntArray) -> Measures:
        """The measures of ``nodes`` only (ascending node numbers), as if they were all the participants:
        population-relative rules (quantiles, medians, top shares, percentiles) then range over them."""
        n = self.size
        taken: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and value.ndim and value.shape[-1] == n:
                taken[f.name] = value[..., nodes]
        return replace(self, **taken)
