"""Attribute segments: any participant column (``segments.by``), plus ``age_band`` from ``birth_date``.

Values are the column's text, stripped; empty or missing values are ``unknown``. Labels are sorted, so the
result never depends on input row order. Age bands are ages at the window end: ``<25``, ``25-34``, …,
``65+`` for the default starts (25, 35, 45, 55, 65).
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import polars as pl

from mlmroi.segments.base import Segmentation

UNKNOWN = "unknown"


def attribute(name: str, values: pl.Series) -> Segmentation:
    """A segmentation from one column's values in node order."""
    text = values.cast(pl.String).str.strip_chars().replace("", None).fill_null(UNKNOWN)
    labels = tuple(sorted(text.unique().to_list()))
    codes = text.replace_strict(labels, list(range(len(labels))), return_dtype=pl.Int16).to_numpy()
    return Segmentation(name, codes.astype(np.int16), labels)


def band_labels(starts: tuple[int, ...]) -> tuple[str, ...]:
    """``<25``, ``25-34``, …, ``65+`` for the band starts."""
    inner = [f"{lo}-{hi - 1}" for lo, hi in itertools.pairwise(starts)]
    return (f"<{starts[0]}", *inner, f"{starts[-1]}+", UNKNOWN)


def age_band(birth: pl.Series, as_of: dt.date, starts: tuple[int, ...]) -> Segmentation:
    """Age bands at ``as_of`` from birth dates in node order (null: unknown)."""
    years = pl.DataFrame({"b": birth}).select(
        (
            pl.lit(as_of.year)
            - pl.col("b").dt.year()
            - (
                (pl.lit(as_of.month * 100 + as_of.day))
                < (pl.col("b").dt.month() * 100 + pl.col("b").dt.day())
            ).cast(pl.Int32)
        ).alias("age")
    )["age"]
    labels = band_labels(starts)
    known = years.is_not_null().to_numpy()
    ages = years.fill_null(0).to_numpy()
    codes = np.where(known, np.searchsorted(np.asarray(starts), ages, side="right"), len(labels) - 1)
    return Segmentation("age_band", codes.astype(np.int16), labels)
