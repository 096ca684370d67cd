"""Renew index of leads — the source article's (seeds/003) "attractiveness of renewing contact".

Each lead (a prospect who never became a participant) is scored 1–5 on brand, attractiveness of the order
and closeness (how near the deal came); the index is the sum (3–15), ranked high to low.

``rank`` is the competition ("min") rank: 1 + the number of leads with a strictly higher index, so tied
leads share a rank and the next rank skips (15, 14, 14, 13 → 1, 2, 2, 4). Rows are ordered by index
descending, ties by ``lead_id``.
"""

from __future__ import annotations

import polars as pl

SCORES = ("brand", "attractiveness", "closeness")
COLUMNS = ("lead_id", *SCORES, "renew_index", "rank")


def renew_index(leads: pl.DataFrame) -> pl.DataFrame:
    """lead_id, brand, attractiveness, closeness, renew_index (Int8, 3–15) and rank (Int32, 1 = highest)."""
    index = pl.sum_horizontal(pl.col(s).cast(pl.Int16) for s in SCORES).cast(pl.Int8)
    return (
        leads.select(
            pl.col("lead_id"), *(pl.col(s).cast(pl.Int8) for s in SCORES), index.alias("renew_index")
        )
        .with_columns(pl.col("renew_index").rank("min", descending=True).cast(pl.Int32).alias("rank"))
        .sort(["renew_index", "lead_id"], descending=[True, False])
        .select(COLUMNS)
    )
