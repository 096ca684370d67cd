"""CSI and NPS from ``survey`` events (``value`` = the score, 0–10); CSI as in the source article, seeds/003.

- CSI: ``attract`` = scores 8–10, ``detract`` = scores 1–3 (the article's 1–10 "would you recommend" scale;
  a 0 is neither), CSI = attract / detract — null when there is no detract response. The article: it must be
  well above 1.
- NPS: 100 × (share of scores 9–10 − share of scores 0–6) over all responses; null with no responses.

Fractional scores are placed by value (8.5 attracts, 6.5 is neither promoter nor detractor). Only surveys
inside the window count, in every scope. CSI and NPS are rounded to 6 decimals.

The table (:func:`survey_table`) has one row per scope and key, in this order:

1. ``company`` (key null) — every survey in the window;
2. ``period`` — every window period in order (key = the period label), also those without responses;
3. ``sponsor`` — every sponsor with at least one response from a personally sponsored participant (key =
   the sponsor's participant id as text), ordered by participant id (numeric ids numerically);
4. one block per segmentation, in the order given (scope = its name): every value in label order (key = the
   value), also those without responses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi.periods import Window
from mlmroi.segments.base import Segmentation
from mlmroi.segments.measures import IntArray

ATTRACT = (8.0, 10.0)  # seeds/003: "attract" = high scores 8–10
DETRACT = (1.0, 3.0)  # seeds/003: "detract" = low scores 1–3
PROMOTERS = (9.0, 10.0)  # NPS promoters
DETRACTORS = (0.0, 6.0)  # NPS detractors
COUNTS = ("responses", "attract", "detract", "promoters", "detractors")
COLUMNS = ("scope", "key", "responses", "attract", "detract", "csi", "promoters", "detractors", "nps")


def _flags(scores: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """(5, m): every response, then attract, detract, promoter and detractor membership of each score."""
    rows = [np.ones(scores.shape[0], dtype=np.bool_)]
    for low, high in (ATTRACT, DETRACT, PROMOTERS, DETRACTORS):
        rows.append((scores >= low) & (scores <= high))
    return np.stack(rows)


def _tally(groups: IntArray, flags: npt.NDArray[np.bool_], size: int) -> IntArray:
    """(5, size): each count of :data:`COUNTS` per group (``groups`` in 0..size-1 per response)."""
    out = np.zeros((len(COUNTS), size), dtype=np.int64)
    for i in range(len(COUNTS)):
        out[i] = np.bincount(groups[flags[i]], minlength=size)[:size]
    return out


def _with_indices(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``csi`` and ``nps`` to a frame of counts and put the columns in table order."""
    csi = pl.when(pl.col("detract") > 0).then(pl.col("attract") / pl.col("detract"))
    nps = pl.when(pl.col("responses") > 0).then(
        100 * (pl.col("promoters") - pl.col("detractors")) / pl.col("responses")
    )
    return frame.with_columns(
        csi.round(6).cast(pl.Float64).alias("csi"), nps.round(6).cast(pl.Float64).alias("nps")
    ).select(COLUMNS)


def _block(scope: str, keys: pl.Series, counts: IntArray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "scope": pl.repeat(scope, keys.len(), dtype=pl.String, eager=True),
            "key": keys.cast(pl.String),
            **{name: pl.Series(name, counts[i], dtype=pl.Int64) for i, name in enumerate(COUNTS)},
        }
    )


def csi_nps(scores: Sequence[float] | npt.NDArray[np.float64]) -> dict[str, Any]:
    """Counts, CSI and NPS of a list of scores (the company figures of a single scope)."""
    values = np.asarray(scores, dtype=np.float64)
    counts = _flags(values).sum(axis=1)
    frame = _block("company", pl.Series([None], dtype=pl.String), counts.reshape(-1, 1))
    row = _with_indices(frame).row(0, named=True)
    return {name: row[name] for name in COLUMNS[2:]}


def _surveys(events: pl.DataFrame | None, window: Window) -> pl.DataFrame:
    """Survey responses inside the window: node, period index, score."""
    schema = {"node": pl.Int64, "period": pl.Int32, "value": pl.Float64}
    if events is None:
        return pl.DataFrame(schema=schema)
    return (
        events.filter(pl.col("type") == "survey")
        .select(
            pl.col("node").cast(pl.Int64),
            window.index(pl.col("occurred_on")).alias("period"),
            pl.col("value").cast(pl.Float64),
        )
        .filter((pl.col("period") >= 0) & pl.col("value").is_not_null())
    )


def survey_table(
    events: pl.DataFrame | None,
    window: Window,
    sponsor_of: IntArray,
    ids: pl.Series,
    segments: Sequence[Segmentation] = (),
) -> pl.DataFrame:
    """Responses, attract, detract, CSI, promoters, detractors and NPS per scope (module docstring).

    ``events``: node, occurred_on (Date), type, value — None when the dataset has none (every count is then
    0); ``sponsor_of``: the personal sponsor's node per node (-1: none); ``ids``: participant id per node;
    ``segments``: segmentations whose values get a row each.
    """
    surveys = _surveys(events, window)
    node = surveys["node"].to_numpy().astype(np.int64)
    flags = _flags(surveys["value"].to_numpy().astype(np.float64))
    labels = window.labels
    blocks = [
        _block("company", pl.Series([None], dtype=pl.String), _tally(np.zeros_like(node), flags, 1)),
        _block(
            "period",
            pl.Series(labels, dtype=pl.String),
            _tally(surveys["period"].to_numpy().astype(np.int64), flags, len(labels)),
        ),
    ]
    sponsor = np.asarray(sponsor_of, dtype=np.int64)[node]
    has_sponsor = sponsor >= 0
    sponsors, groups = np.unique(sponsor[has_sponsor], return_inverse=True)
    counts = _tally(groups.astype(np.int64).reshape(-1), flags[:, has_sponsor], sponsors.shape[0])
    sponsor_ids = ids.gather(pl.Series(sponsors, dtype=pl.Int64))
    order = sponsor_ids.arg_sort().to_numpy()
    blocks.append(_block("sponsor", sponsor_ids.gather(pl.Series(order)), counts[:, order]))
    for seg in segments:
        groups = seg.codes[node].astype(np.int64)
        blocks.append(
            _block(seg.name, pl.Series(seg.labels, dtype=pl.String), _tally(groups, flags, len(seg.labels)))
        )
    return _with_indices(pl.concat(blocks, how="vertical"))


def company_figures(table: pl.DataFrame) -> dict[str, Any]:
    """run.json's survey figures — the ``company`` row of :func:`survey_table`: responses, attract, detract,
    csi, promoters, detractors, nps."""
    row = table.filter(pl.col("scope") == "company").row(0, named=True)
    return {name: row[name] for name in COLUMNS[2:]}
