"""What every segmentation returns: one code per participant and the labels of the codes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl


@dataclass(frozen=True, eq=False)
class Segmentation:
    """``labels[codes[i]]`` is node ``i``'s value; every participant has exactly one.

    ``name`` is the participants.parquet column and the ``segmentation`` of segments.parquet; ``extra``
    holds further per-node columns (RFM scores) and ``health`` figures for run.json (ABC).
    """

    name: str
    codes: npt.NDArray[np.int16]
    labels: tuple[str, ...]
    extra: dict[str, pl.Series] = field(default_factory=dict)
    health: dict[str, Any] = field(default_factory=dict)

    def column(self) -> pl.Series:
        """The values as a polars Enum column in node order (labels in their defined order)."""
        return pl.Series(self.name, self.labels, dtype=pl.Enum(self.labels)).gather(pl.Series(self.codes))


def combine(name: str, first: Segmentation, second: Segmentation) -> Segmentation:
    """Every pair of values (``abcxyz``: AX, AY, …), first's labels major."""
    labels = tuple(a + b for a in first.labels for b in second.labels)
    codes = (first.codes.astype(np.int32) * len(second.labels) + second.codes).astype(np.int16)
    return Segmentation(name, codes, labels)
