"""Segmentations: every participant gets exactly one value per segmentation (SPEC §6).

Each segmentation is a function of :class:`Measures` (per-node figures) and its config, returning codes and
labels (:class:`Segmentation`); ties are broken by participant id, never by input row order. The
effectiveness table (:func:`effectiveness`) summarises every segmentation and value in one frame.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from mlmroi.segments.abc import abc
from mlmroi.segments.attributes import age_band, attribute
from mlmroi.segments.base import Segmentation, combine
from mlmroi.segments.bcg import bcg
from mlmroi.segments.config import SegmentsConfig
from mlmroi.segments.effectiveness import effectiveness
from mlmroi.segments.lifecycle import lifecycle
from mlmroi.segments.measures import NEVER, Measures
from mlmroi.segments.rfm import rfm
from mlmroi.segments.xyz import xyz


def segment(
    measures: Measures,
    config: SegmentsConfig,
    money_scale: int,
    columns: dict[str, pl.Series] | None = None,
    as_of: dt.date | None = None,
) -> list[Segmentation]:
    """Every segmentation in a fixed order: abc, abcd, xyz, abcxyz, rfm_segment, bcg, lifecycle, then one
    per ``segments.by`` column (``columns``: name → values in node order; ``birth_date`` for age_band)."""
    first, with_d = abc(measures, config.abc)
    stability = xyz(measures, config.xyz)
    out = [
        first,
        with_d,
        stability,
        combine("abcxyz", first, stability),
        rfm(measures, config.rfm),
        bcg(measures, config.bcg, money_scale),
        lifecycle(measures, config.lifecycle),
    ]
    columns = columns or {}
    for name in config.by:
        if name == "age_band":
            assert as_of is not None
            out.append(age_band(columns["birth_date"], as_of, config.age_bands))
        else:
            out.append(attribute(name, columns[name]))
    return out


__all__ = ["NEVER", "Measures", "Segmentation", "SegmentsConfig", "effectiveness", "segment"]
