"""Every segmentation and the effectiveness table at scale, against the same work written in plain polars.

    python -m benchmarks.segments --participants 10000000 --repeat 3

Builds per-participant measures shaped like an MLM network's (deterministic ``--seed``): 12 monthly periods,
a third of participants buying nothing, lognormal baskets, a region column; then times, in one process
after a warm-up, median of ``--repeat``:

- ``mlmroi``: ``segment()`` (ABC, ABCD, XYZ, ABCXYZ, RFM with named cells, BCG, lifecycle, region),
  ``loyalty()`` and ``effectiveness()`` — everything a score run's "segments" stage does;
- ``polars``: the comparable core written the way an analyst would in polars (ABC cumulative with
  ``sort``/``cum_sum``, RFM scores with ``qcut``, XYZ from a long table of period revenue, effectiveness
  with ``group_by`` per segmentation), checked for the same ABC classes.

Target (issue 4): all segmentations and the effectiveness table for 10M participants ≤ 10 s on this
machine. Writes ``benchmarks/results/segments_<N>.md``.
"""

from __future__ import annotations

import argparse

import numpy as np
import polars as pl

from benchmarks._common import fmt_ratio, fmt_s, machine_md, md_table, median, text_table, timed, write_result
from mlmroi.segments import Measures, SegmentsConfig, effectiveness, segment
from mlmroi.segments.loyalty import loyalty

PERIODS = 12
END = 20_453  # 2025-12-31


def build(n: int, seed: int) -> tuple[Measures, pl.Series]:
    rng = np.random.default_rng(seed)
    buys = rng.random((PERIODS, n)) < np.where(rng.random(n) < 0.33, 0.0, rng.uniform(0.1, 0.9, n))
    revenue_by_period = np.where(buys, np.round(rng.lognormal(8.5, 0.6, (PERIODS, n))), 0).astype(np.int64)
    orders = buys.sum(axis=0).astype(np.int64)
    revenue = revenue_by_period.sum(axis=0)
    last = np.where(orders > 0, END - rng.integers(0, 365, n), np.iinfo(np.int32).min).astype(np.int64)
    costs = rng.integers(0, 20_000, n).astype(np.int64)
    commissions = np.where(rng.random(n) < 0.2, rng.integers(0, 50_000, n), 0).astype(np.int64)
    margin = (revenue * 0.4).astype(np.int64)
    group_volume = revenue + rng.integers(0, 100_000, n) * (rng.random(n) < 0.15)
    measures = Measures(
        id_rank=rng.permutation(n).astype(np.int64),
        end_day=END,
        revenue=revenue,
        margin=margin,
        profit=margin - costs - commissions,
        costs=costs + commissions,
        commissions=commissions,
        orders=orders,
        personal_volume=revenue,
        group_volume=group_volume.astype(np.int64),
        gv_growth=rng.integers(-50_000, 50_000, n).astype(np.int64),
        frontline=rng.poisson(0.8, n).astype(np.int64),
        downline_size=rng.poisson(3.0, n).astype(np.int64),
        revenue_by_period=revenue_by_period,
        purchased=buys,
        join_period=np.where(rng.random(n) < 0.7, 0, rng.integers(0, PERIODS + 1, n)).astype(np.int64),
        last_order_day=last,
        bought_before=rng.random(n) < 0.5,
        left_on_day=np.where(rng.random(n) < 0.05, END - 30, np.iinfo(np.int32).min).astype(np.int64),
    )
    regions = pl.Series("region", ["north", "south", "east", "west", "central"]).gather(rng.integers(0, 5, n))
    return measures, regions


def run_mlmroi(measures: Measures, regions: pl.Series) -> pl.DataFrame:
    config = SegmentsConfig(by=("region",))
    segmentations = segment(measures, config, 100, {"region": regions})
    recruits = np.zeros(measures.size, dtype=np.int64)
    segmentations.append(loyalty(None, measures, recruits, (END - 364, END)))
    return effectiveness(segmentations, measures, 2)


def run_polars(measures: Measures, regions: pl.Series) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "rank": measures.id_rank,
            "revenue": measures.revenue,
            "orders": measures.orders,
            "profit": measures.profit,
            "costs": measures.costs,
            "recency": measures.end_day - measures.last_order_day,
            "region": regions,
        }
    )
    total = frame["revenue"].clip(lower_bound=0).sum()
    frame = (
        frame.sort(["revenue", "rank"], descending=[True, False])
        .with_columns((pl.col("revenue").clip(lower_bound=0).cum_sum() / total).alias("share"))
        .with_columns(pl.col("share").shift(1, fill_value=0.0).alias("before"))
        .with_columns(
            pl.when(pl.col("revenue") <= 0)
            .then(pl.lit("C"))
            .when(pl.col("before") < 0.75)
            .then(pl.lit("A"))
            .when(pl.col("before") < 0.95)
            .then(pl.lit("B"))
            .otherwise(pl.lit("C"))
            .alias("abc")
        )
    )
    buyers = frame.filter(pl.col("orders") > 0)
    scored = buyers.select(
        "rank",
        pl.col("recency").bin_quantiles(5, labels=[str(k) for k in range(5, 0, -1)]).alias("r"),
        pl.col("orders").bin_quantiles(5, labels=[str(k) for k in range(1, 6)]).alias("f"),
        pl.col("revenue").bin_quantiles(5, labels=[str(k) for k in range(1, 6)]).alias("m"),
    )
    frame = frame.join(scored, on="rank", how="left").with_columns(
        pl.concat_str("r", "f", "m").fill_null("none").alias("rfm")
    )
    long = pl.DataFrame({"revenue": measures.revenue_by_period.T.ravel()}).with_columns(
        (pl.int_range(pl.len()) // PERIODS).alias("node")
    )
    cv = long.group_by("node").agg((pl.col("revenue").std(ddof=0) / pl.col("revenue").mean()).alias("cv"))
    frame = frame.with_columns(pl.int_range(pl.len()).alias("node")).join(cv, on="node", how="left")
    frame = frame.with_columns(
        pl.when(pl.col("cv") <= 0.1)
        .then(pl.lit("X"))
        .when(pl.col("cv") <= 0.25)
        .then(pl.lit("Y"))
        .otherwise(pl.lit("Z"))
        .alias("xyz")
    )
    tables = [
        frame.group_by(name)
        .agg(
            pl.len().alias("participants"),
            (pl.col("orders") > 0).sum().alias("buyers"),
            pl.col("orders").sum(),
            pl.col("revenue").sum(),
            pl.col("profit").sum(),
            pl.col("costs").sum(),
        )
        .with_columns((pl.col("profit") * 100 / pl.col("costs")).alias("roi_pct"), pl.lit(name).alias("s"))
        .rename({name: "value"})
        for name in ("abc", "xyz", "rfm", "region")
    ]
    return pl.concat(tables, how="diagonal_relaxed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    measures, regions = build(args.participants, args.seed)
    ours, table = timed(lambda: run_mlmroi(measures, regions), args.repeat)
    theirs, other = timed(lambda: run_polars(measures, regions), args.repeat)
    a_ours = table.filter((pl.col("segmentation") == "abc") & (pl.col("value") == "A"))["participants"].item()
    a_theirs = other.filter((pl.col("s") == "abc") & (pl.col("value") == "A"))["participants"].item()
    assert a_ours == a_theirs, (a_ours, a_theirs)  # the same ABC split
    rows = [
        [
            "mlmroi: 9 segmentations + loyalty + effectiveness",
            fmt_s(median(ours)),
            "1×",
            ", ".join(fmt_s(t) for t in ours),
        ],
        [
            "polars: ABC, RFM, XYZ, region + effectiveness",
            fmt_s(median(theirs)),
            fmt_ratio(median(theirs) / median(ours)),
            ", ".join(fmt_s(t) for t in theirs),
        ],
    ]
    headers = ["what", "median s", "vs mlmroi", "runs"]
    print(text_table(headers, rows))
    body = "\n\n".join(
        [
            f"# Segments at {args.participants:,} participants",
            "Command: `python -m benchmarks.segments "
            f"--participants {args.participants} --repeat {args.repeat}`",
            "In one process after a warm-up; median of the runs. Target: ≤ 10 s at 10M (issue 4).",
            md_table(headers, rows),
            "Machine:\n\n" + machine_md(),
        ]
    )
    write_result(f"segments_{args.participants}.md", body)


if __name__ == "__main__":
    main()
