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


def descending(measure: npt.NDArray[np.int64], id_rank: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Node order by ``measure``, highest first, ties by participant id.

    One argsort of a combined integer key (measure major, id rank minor) — five times faster than a
    two-key lexsort at 10M; when the measure is too large for the key, polars sorts by both columns.
    """
    shift = max(int(id_rank.max()).bit_length(), 1) if id_rank.size else 1
    limit = (1 << (62 - shift)) - 1
    if measure.size and int(np.abs(measure).max()) <= limit:
        order: npt.NDArray[np.int64] = np.argsort((-measure << shift) | id_rank)
        return order
    frame = pl.DataFrame({"m": measure, "r": id_rank})
    ranked = frame.select(pl.arg_sort_by(["m", "r"], descending=[True, False]))["m"].to_numpy()
    return ranked.astype(np.int64)
