"""Group volume (subtree sums of PV) on one random MLM-like forest: mlmroi vs networkx, DuckDB and polars.

    python -m benchmarks.tree_pass --participants 1000000 --repeat 5
    python -m benchmarks.tree_pass --participants 10000000 --repeat 5 --only-mlmroi

Every method gets the same edge table (participant id, sponsor id or null, PV in cents) and must return the
same group volume for every participant (asserted). Each method is timed in two parts: ``prep`` (whatever it
builds from the edge table before it can sum: mlmroi's breadth-first network, the networkx DiGraph, the DuckDB
table, the polars depth levels) and ``GV`` (the sum itself). Times are medians over ``--repeat`` runs after a
warm-up. Writes ``benchmarks/results/tree_pass_<N>.md``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks._common import fmt_ratio, fmt_s, machine_md, md_table, median, text_table, timed, write_result
from benchmarks._forest import I64, PERIODS, Forest, make_forest
from benchmarks._methods import (
    DUCKDB_QUERIES,
    duckdb_build,
    duckdb_group_volume,
    edge_frame,
    mlmroi_build,
    nx_build,
    nx_group_volume,
    plain_copy_pass,
    plain_sum,
    polars_frontier,
    polars_group_volume,
    polars_levels,
    to_positions,
)

LEVELS = [0.10, 0.05, 0.03, 0.02, 0.01]
TARGETS = {"networkx": 300.0, "duckdb": 20.0, "polars": 30.0}  # minimum "method / mlmroi" at 1M


@dataclass
class Row:
    tool: str  # key of TARGETS, or "mlmroi"
    method: str
    prep: list[float]
    gv: list[float]
    scale: float = 1.0
    measured_at: int = 0

    @property
    def prep_s(self) -> float:
        return median(self.prep) * self.scale if self.prep else 0.0

    @property
    def gv_s(self) -> float:
        return median(self.gv) * self.scale

    @property
    def total_s(self) -> float:
        return self.prep_s + self.gv_s


def run_competitors(
    forest: Forest, expected: I64, repeat: int, scale: float, say: Callable[[str], None]
) -> list[Row]:
    """networkx, DuckDB and polars formulations on ``forest``; asserts every result equals ``expected``."""
    rows = []
    n = forest.n
    edges = edge_frame(forest)

    def add(tool: str, method: str, prep: list[float], gv: list[float], ids: Any, values: Any) -> None:
        assert np.array_equal(to_positions(n, ids, values), expected), f"{method}: GV differs from mlmroi's"
        rows.append(Row(tool, method, prep, gv, scale, n))
        say(f"{method}: prep {fmt_s(median(prep) if prep else None)} s, GV {fmt_s(median(gv))} s (checked)")

    say("networkx: building DiGraph")
    prep, graph = timed(lambda: nx_build(forest), repeat=min(repeat, 3), warmup=0)
    pv_list = forest.pv.tolist()
    say("networkx: group volume")
    t, gv = timed(lambda: nx_group_volume(graph, pv_list), repeat=repeat, warmup=1)
    add(
        "networkx", "networkx DiGraph, dfs_postorder_nodes accumulation", prep, t, list(gv), list(gv.values())
    )

    say("duckdb: loading table")
    prep, con = timed(lambda: duckdb_build(edges), repeat=repeat, warmup=1)
    for label, query in DUCKDB_QUERIES.items():
        say(f"duckdb: {label}")
        t, res = timed(lambda q=query: duckdb_group_volume(con, q), repeat=repeat, warmup=1)  # type: ignore[misc]
        add("duckdb", f"DuckDB recursive CTE: {label}", prep, t, res["id"], res["gv"])
    con.close()

    say("polars: depth levels")
    prep, levels = timed(lambda: polars_levels(edges), repeat=repeat, warmup=1)
    say("polars: level-by-level join")
    t, res = timed(lambda: polars_group_volume(levels), repeat=repeat, warmup=1)
    add(
        "polars",
        "polars: depth by pointer jumping, then level-by-level join from the deepest level",
        prep,
        t,
        res["id"],
        res["gv"],
    )
    say("polars: per-distance frontier join")
    t, res = timed(lambda: polars_frontier(edges), repeat=repeat, warmup=1)
    add("polars", "polars: per-distance frontier join + group_by (no depth)", [], t, res["id"], res["gv"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.tree_pass", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--participants", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only-mlmroi", action="store_true", help="mlmroi kernels and the plain passes only")
    parser.add_argument("--no-unilevel", action="store_true", help="skip the unilevel timing")
    parser.add_argument(
        "--compare-max",
        type=int,
        default=1_000_000,
        help="above this size networkx/DuckDB/polars run on a forest this big, scaled linearly",
    )
    args = parser.parse_args(argv)
    n, repeat = args.participants, args.repeat

    def say(msg: str) -> None:
        print(f"[tree_pass {n:,}] {msg}", flush=True)

    say("generating forest")
    forest = make_forest(n, args.seed)
    say(f"depth max {forest.max_depth}, mean {forest.mean_depth:.1f}; max frontline {forest.max_frontline}")

    say("mlmroi: building network")
    build, (network, node_of_code, pv_node) = timed(lambda: mlmroi_build(forest), repeat=repeat, warmup=1)
    say("mlmroi: group volume kernel")
    kern, gv_node = timed(lambda: network.group_volume(pv_node), repeat=repeat, warmup=1)
    expected = gv_node[node_of_code]
    sum_t, total = timed(lambda: plain_sum(pv_node), repeat=repeat, warmup=1)
    copy_t, _ = timed(lambda: plain_copy_pass(network.parent, pv_node), repeat=repeat, warmup=1)
    assert total == int(forest.pv.sum()) and int(expected[forest.parent_code < 0].sum()) == total
    mlm = Row("mlmroi", "mlmroi Network.group_volume (numba kernel)", build, kern)
    say(f"mlmroi: build {fmt_s(mlm.prep_s)} s, GV {fmt_s(mlm.gv_s)} s")
    kernels = {"plain_sum": median(sum_t), "plain_copy": median(copy_t)}

    if not args.no_unilevel:
        from mlmroi.plans.base import PeriodVolumes
        from mlmroi.plans.unilevel import UnilevelConfig, unilevel

        say("mlmroi: unilevel")
        personal = np.empty((forest.personal.shape[1], forest.n), dtype=np.int64)  # (periods, n)
        personal[:, node_of_code] = forest.personal.T
        volumes = PeriodVolumes(personal, tuple(f"2025-{m:02d}" for m in range(1, PERIODS + 1)))
        config = UnilevelConfig(levels=LEVELS, active_min_pv=50, compression="dynamic")
        uni_t, _ = timed(
            lambda: unilevel(network, volumes, config, volume_scale=100), repeat=repeat, warmup=1
        )
        kernels["unilevel"] = median(uni_t)

    rows: list[Row] = []
    if not args.only_mlmroi:
        if n > args.compare_max:
            say(f"comparisons on a {args.compare_max:,}-participant forest, scaled linearly")
            small = make_forest(args.compare_max, args.seed)
            snet, scode, spv = mlmroi_build(small)
            rows = run_competitors(small, snet.group_volume(spv)[scode], repeat, n / args.compare_max, say)
        else:
            rows = run_competitors(forest, expected, repeat, 1.0, say)

    text, md = render(forest, mlm, rows, kernels, args)
    print("\n" + text, flush=True)
    path = write_result(f"tree_pass_{n}{'_mlmroi' if args.only_mlmroi else ''}.md", md)
    print(f"\nwritten: {path}")
    return 0


def render(
    forest: Forest, mlm: Row, rows: list[Row], kernels: dict[str, float], args: argparse.Namespace
) -> tuple[str, str]:
    """The result tables, as terminal text and as markdown."""
    n = forest.n
    spread = "min–max GV s"
    head = ["method", "prep s", "GV s", spread, "GV ratio", "prep+GV ratio"]
    table = [
        [
            mlm.method,
            fmt_s(mlm.prep_s),
            fmt_s(mlm.gv_s),
            f"{fmt_s(min(mlm.gv))}–{fmt_s(max(mlm.gv))}",
            "1×",
            "1×",
        ]
    ]
    for row in rows:
        name = row.method + (f" [measured at {row.measured_at:,}, ×{row.scale:g}]" if row.scale != 1 else "")
        table.append(
            [
                name,
                fmt_s(row.prep_s) if row.prep else "0",
                fmt_s(row.gv_s),
                f"{fmt_s(min(row.gv) * row.scale)}–{fmt_s(max(row.gv) * row.scale)}",
                fmt_ratio(row.gv_s / mlm.gv_s),
                fmt_ratio(row.total_s / mlm.total_s),
            ]
        )
    verdicts = []
    for tool, target in TARGETS.items():
        mine = [r for r in rows if r.tool == tool]
        if not mine:
            continue
        best_gv = min(mine, key=lambda r: r.gv_s)
        best_total = min(mine, key=lambda r: r.total_s)
        r_gv, r_total = best_gv.gv_s / mlm.gv_s, best_total.total_s / mlm.total_s
        verdicts.append(
            [
                tool,
                f"≥ {target:g}×",
                fmt_ratio(r_gv),
                "PASS" if r_gv >= target else "FAIL",
                fmt_ratio(r_total),
                "PASS" if r_total >= target else "FAIL",
            ]
        )
    vhead = ["vs", "target", "best GV ratio", "GV", "best prep+GV ratio", "prep+GV"]
    plain, copy = kernels["plain_sum"], kernels["plain_copy"]
    kt = [
        ["mlmroi group_volume kernel (copy + reverse pass, scatter to parent)", fmt_s(mlm.gv_s), "1×"],
        [
            "plain pass: copy PV, read parent and PV in reverse, no scatter (numba)",
            fmt_s(copy),
            f"kernel / plain = {mlm.gv_s / copy:.2f}×",
        ],
        ["plain pass: Σ PV (numba loop)", fmt_s(plain), f"kernel / plain = {mlm.gv_s / plain:.1f}×"],
        [
            "mlmroi network build (from_parent_codes + PV remap)",
            fmt_s(mlm.prep_s),
            f"{mlm.prep_s / mlm.gv_s:.0f}× the kernel",
        ],
    ]
    if "unilevel" in kernels:
        uni = kernels["unilevel"]
        label = f"mlmroi unilevel(), dynamic compression, {len(LEVELS)} levels, {PERIODS} periods"
        kt.append(
            [
                label,
                fmt_s(uni),
                f"{fmt_s(uni / PERIODS)} s per period = {uni / PERIODS / mlm.gv_s:.1f}× one GV kernel",
            ]
        )
    khead = ["mlmroi kernel vs plain pass", "median s", "ratio"]
    closure = n * (1 + forest.mean_depth) / 1e6
    positive = float((forest.pv > 0).mean())
    facts = (
        f"{n:,} participants, {int((forest.parent_code < 0).sum())} roots, max depth {forest.max_depth}, "
        f"mean depth {forest.mean_depth:.1f} (ancestor closure ≈ {closure:,.0f}M rows), max frontline "
        f"{forest.max_frontline}, {positive:.0%} with PV > 0 in the summed period; seed {args.seed}; "
        f"median of {args.repeat} runs after one warm-up"
    )
    note = "(the targets are stated for 1,000,000 participants)" if n != 1_000_000 else ""
    text = [facts, ""]
    if rows:
        text += [text_table(head, table), "", text_table(vhead, verdicts), note, ""]
    text.append(text_table(khead, kt))
    flags = (" --only-mlmroi" if args.only_mlmroi else "") + (" --no-unilevel" if args.no_unilevel else "")
    md = [
        f"# Group volume on a {n:,}-participant forest",
        "",
        f"Command: `python -m benchmarks.tree_pass --participants {n} --repeat {args.repeat}{flags}`",
        "",
        facts + ".",
        "",
        "Machine:",
        "",
        machine_md(),
        "",
    ]
    if rows:
        md += [
            "## mlmroi vs networkx, DuckDB, polars",
            "",
            "`prep` = what a method builds from the edge table before it sums (mlmroi: the breadth-first "
            "network; networkx: the DiGraph; DuckDB: the table; polars: depth levels). `GV` = the "
            "group-volume computation, result materialised. Ratios are method / mlmroi (GV: against mlmroi's "
            "kernel; prep+GV: against mlmroi's build + kernel). Every result is asserted equal to mlmroi's. "
            "DuckDB and polars use both cores; mlmroi's kernel and networkx one. mlmroi's build "
            "(breadth-first relabelling of a shuffled input) is paid once per scoring run, shared by every "
            "kernel after it; the other tools' prep is per query.",
            "",
            md_table(head, table),
            "",
            "### Targets (best formulation per tool)",
            "",
            md_table(vhead, verdicts),
            "",
            note,
            "",
        ]
    md += ["## mlmroi kernels vs a plain pass", "", md_table(khead, kt), ""]
    return "\n".join(text), "\n".join(md)


if __name__ == "__main__":
    raise SystemExit(main())
