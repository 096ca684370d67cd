"""Amount cells to integer cents: the exact parser (``parse_amount``) against the float path it replaces.

    python -m benchmarks.bench_amounts --rows 10000000 --repeat 3

Times, in one process after a warm-up, median of ``--repeat``, both ways of turning an amount column into
integer minor units (2 decimals) on ``--rows`` cells (deterministic ``--seed``):

- ``exact``: ``parse_amount`` — the written digits, rounded half-to-even, never through a float;
- ``float``: the previous path, ``parse_number`` (text to Float64) then ``np.rint(x * 100)``.

Columns (amounts lognormal around 30.00, a tenth negative):

- text with 2 decimals (``1234.56``, the usual CSV);
- text with 3 decimals, nine in ten needing rounding (``1234.565``);
- the 2-decimal amounts as a Float64 column (what pandas writes to Parquet; the exact path reads each
  float's shortest repr);
- the 2-decimal text with a decimal comma (``1234,56``, ``decimal_comma=True``): exact path only, the float
  path cannot read it.

Each row also counts the cells on which the two paths disagree (the float path's rounding errors).
Target: 10M cells in about a second or two on 2 cores. Prints a table; writes nothing.
"""

from __future__ import annotations

import argparse
from functools import partial

import numpy as np
import numpy.typing as npt
import polars as pl

from benchmarks._common import fmt_ratio, fmt_s, machine_md, median, text_table, timed
from mlmroi.io.amounts import parse_amount
from mlmroi.io.parse import parse_number

LABEL = "orders.csv"
DECIMALS = 2


def text_amounts(minor: npt.NDArray[np.int64], decimals: int) -> pl.Series:
    """Integer minor units written as text with ``decimals`` places (``-12.05``), vectorised."""
    unit = 10**decimals
    return (
        pl.DataFrame({"v": minor})
        .select(
            pl.format(
                "{}{}.{}",
                pl.when(pl.col("v") < 0).then(pl.lit("-")).otherwise(pl.lit("")),
                pl.col("v").abs() // unit,
                (pl.col("v").abs() % unit).cast(pl.String).str.zfill(decimals),
            )
        )
        .to_series()
        .alias("amount")
    )


def build(rows: int, seed: int) -> dict[str, pl.Series]:
    rng = np.random.default_rng(seed)
    cents = np.round(rng.lognormal(8.0, 1.2, rows)).astype(np.int64)  # median ~30.00, a long tail
    cents[rng.random(rows) < 0.1] *= -1  # refunds
    mills = cents * 10 + rng.integers(0, 10, rows)  # a third decimal: most cells need rounding
    return {
        "text, 2 decimals": text_amounts(cents, 2),
        "text, 3 decimals (rounding)": text_amounts(mills, 3),
        "Float64, 2 decimals": pl.Series("amount", cents / 100.0),
        "text, decimal comma (1.234,56)": text_amounts(cents, 2).str.replace(".", ",", literal=True),
    }


def exact(raw: pl.Series, decimal_comma: bool = False) -> pl.Series:
    minor, _, _ = parse_amount(LABEL, raw, DECIMALS, decimal_comma)
    return minor


def via_float(raw: pl.Series) -> pl.Series:
    values, _ = parse_number(LABEL, raw)
    minor = np.rint(values.fill_null(0.0).to_numpy() * 10**DECIMALS).astype(np.int64)
    return pl.Series(raw.name, minor).set(values.is_null(), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    columns = build(args.rows, args.seed)
    rows = []
    for name, raw in columns.items():
        comma = "comma" in name
        ours, minor = timed(partial(exact, raw, comma), args.repeat)
        if comma:  # the float path cannot read a decimal comma at all
            rows.append([name, fmt_s(median(ours)), "–", "–", "–", ", ".join(fmt_s(t) for t in ours)])
            continue
        theirs, old = timed(partial(via_float, raw), args.repeat)
        differ = int((minor != old).fill_null(True).sum())
        rows.append(
            [
                name,
                fmt_s(median(ours)),
                fmt_s(median(theirs)),
                fmt_ratio(median(ours) / median(theirs)),
                f"{differ:,}",
                ", ".join(fmt_s(t) for t in ours),
            ]
        )
    headers = ["column", "exact s", "float s", "exact / float", "cells differing", "exact runs"]
    print(f"{args.rows:,} cells, {DECIMALS} decimals; median of {args.repeat} after a warm-up\n")
    print(text_table(headers, rows))
    print("\n" + machine_md())


if __name__ == "__main__":
    main()
