"""Reject reasons for broken chains (``mlmroi.network.chains.chain_reasons``) on the worst shapes.

    python -m benchmarks.bench_chains --repeat 3

Every participant of a broken chain gets a reason that names it (first four ids, ``…``, last two), so the
work must stay linear however long the chain is. Times, in one process after a warm-up, median of
``--repeat``, the classification (``kernels._classify_unreached``) plus the wording (``chain_reasons``) for:

- a 100k-deep chain under a rejected root (every participant names the chain down from it);
- a 100k-long cycle and a 1M-long cycle (every participant names the whole cycle, starting at itself).

The breadth-first reach that comes before is not timed. Ids are integers or strings (``P0000042``).
Target: the 100k cases well under 2 s, the 1M cycle in seconds (the loader's old walk needed minutes
for the 100k chain and did not finish on the 100k cycle). Prints a table; writes nothing.

End to end (skip with ``--no-load``): the same shapes as small CSV datasets (``participants.csv``,
``orders.csv``) in a temporary folder, timed through ``mlmroi.io.load.load(folder, LoadOptions())`` —
reading, row checks, reach, reasons and the rejects table — median of ``--repeat`` after a warm-up:

- a 100k-deep chain under a root whose ``joined_on`` is ``not-a-date`` (the root is rejected for its row,
  the 100k below it for the chain);
- a 100k-long and a 1M-long sponsor cycle.

Each dataset also has one valid root with one order, so something is accepted. The rejected participant
count is asserted. Same targets.
"""

from __future__ import annotations

import argparse
import tempfile
from functools import partial
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from benchmarks._common import fmt_s, median, text_table, timed
from mlmroi.io.load import LoadOptions, load
from mlmroi.network import kernels
from mlmroi.network.chains import chain_reasons

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def deep_chain(n: int) -> tuple[IntArray, BoolArray]:
    """Code 0 a rejected root, code k's parent k - 1: ``n`` participants below it."""
    parent = np.arange(-1, n, dtype=np.int64)
    ok = np.ones(n + 1, dtype=np.bool_)
    ok[0] = False
    return parent, ok


def cycle(n: int) -> tuple[IntArray, BoolArray]:
    """Code k's parent k + 1 (mod n): one cycle through all ``n`` participants."""
    parent = ((np.arange(n, dtype=np.int64) + 1) % n).astype(np.int64)
    return parent, np.ones(n, dtype=np.bool_)


def reasons(parent: IntArray, ok: BoolArray, reached: BoolArray, ids: pl.Series) -> list[str]:
    kinds, blockers = kernels._classify_unreached(parent, ok, reached)
    broken = np.flatnonzero(kinds != 0)
    rows = (blockers[broken] + 2).astype(np.int64)  # a made-up input row per code
    return chain_reasons("sponsor", ids, parent, kinds, blockers, broken, rows)


# ----------------------------------------------------------------------------------------------------------
# End to end: the loader on CSV datasets
# ----------------------------------------------------------------------------------------------------------

VALID_ROOT = 1  # every dataset's one accepted participant (ids of the broken shapes start at 2)


def write_dataset(folder: Path, sponsor: IntArray, bad_date: IntArray) -> None:
    """``participants.csv`` for ids ``2..n+1`` (``sponsor``: each one's sponsor id, -1 for none; ``bad_date``:
    positions whose ``joined_on`` is ``not-a-date``) after the valid root, and ``orders.csv`` with one order
    of the valid root."""
    n = sponsor.shape[0]
    joined = np.full(n, "2024-01-01", dtype=object)
    joined[bad_date] = "not-a-date"
    pl.DataFrame(
        {
            "participant_id": np.arange(VALID_ROOT, n + 2, dtype=np.int64),
            "sponsor_id": pl.Series([-1, *sponsor.tolist()], dtype=pl.Int64).replace(-1, None),
            "joined_on": ["2024-01-01", *joined.tolist()],
        }
    ).write_csv(folder / "participants.csv")
    pl.DataFrame(
        {"participant_id": [VALID_ROOT], "ordered_on": ["2024-01-15"], "amount": ["10.00"]}
    ).write_csv(folder / "orders.csv")


def chain_dataset(folder: Path, n: int) -> int:
    """Id 2 a root with a bad ``joined_on``, id k + 1 sponsored by id k: ``n`` below it. Returns the
    participants to be rejected."""
    sponsor = np.arange(1, n + 2, dtype=np.int64)
    sponsor[0] = -1
    write_dataset(folder, sponsor, np.array([0], dtype=np.int64))
    return n + 1


def cycle_dataset(folder: Path, n: int) -> int:
    """Id k sponsored by id k + 1, the last by id 2: one sponsor cycle through ``n`` participants."""
    sponsor = np.arange(3, n + 3, dtype=np.int64)
    sponsor[-1] = 2
    write_dataset(folder, sponsor, np.array([], dtype=np.int64))
    return n


def end_to_end(repeat: int) -> None:
    cases = [
        ("100k-deep chain under a bad root", chain_dataset, 100_000),
        ("100k-long cycle", cycle_dataset, 100_000),
        ("1M-long cycle", cycle_dataset, 1_000_000),
    ]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_chains_") as tmp:
        for label, make, n in cases:
            folder = Path(tmp) / label.replace(" ", "_")
            folder.mkdir()
            expected = make(folder, n)
            times, dataset = timed(partial(load, folder, LoadOptions()), repeat)
            rejected = dataset.rejects.rows_rejected()["participants"]
            assert rejected == expected, (label, rejected, expected)
            assert dataset.network.size == 1 and dataset.network.ids.to_list() == [VALID_ROOT]
            assert sum(frame.height for frame in dataset.orders) == 1
            lines = dataset.rejects.frame()
            print(f"  {label}, e.g.: row {lines['row'][-1]}: {lines['reason'][-1]}")
            rows.append(
                [
                    label,
                    f"{dataset.rows_in['participants']:,}",
                    f"{rejected:,}",
                    f"{len(dataset.rejects):,}",
                    fmt_s(median(times)),
                    ", ".join(fmt_s(t) for t in times),
                ]
            )
            del dataset, lines
    print()
    print(text_table(["load(folder)", "rows", "rejected", "reject lines", "median s", "runs"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-load", action="store_true", help="skip the end-to-end load of CSV datasets")
    args = parser.parse_args()
    cases = [
        ("100k-deep chain under a rejected root", *deep_chain(100_000)),
        ("100k-long cycle", *cycle(100_000)),
        ("1M-long cycle", *cycle(1_000_000)),
    ]
    rows = []
    for label, parent, ok in cases:
        _, reached = kernels._bfs_order(parent, ok)
        n = parent.shape[0]
        for kind, ids in (
            ("int", pl.Series(np.arange(n, dtype=np.int64) * 7 + 1_000_000)),
            ("str", pl.Series([f"P{i:07d}" for i in range(n)])),
        ):
            times, out = timed(partial(reasons, parent, ok, reached, ids), args.repeat)
            assert len(out) == n - int((~ok).sum())
            rows.append(
                [label, kind, f"{len(out):,}", fmt_s(median(times)), ", ".join(fmt_s(t) for t in times)]
            )
            print(f"  {label} ({kind} ids), e.g.: {out[-1]}")
    print()
    print(text_table(["case", "ids", "reasons", "median s", "runs"], rows))
    if not args.no_load:
        print()
        end_to_end(args.repeat)


if __name__ == "__main__":
    main()
