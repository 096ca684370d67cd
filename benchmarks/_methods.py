"""Group volume (subtree sums of PV) computed by each tool the benchmark compares; each returns its own
result shape, converted with :func:`to_positions` (participant id = input position)."""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import polars as pl

from benchmarks._forest import I64, Forest


# ----------------------------------------------------------------------------------------------- mlmroi
@numba.njit(cache=True)
def plain_sum(values: I64) -> int:
    acc = 0
    for i in range(values.shape[0]):
        acc += values[i]
    return acc


@numba.njit(cache=True)
def plain_copy_pass(parent: I64, values: I64) -> tuple[I64, int]:
    """The kernel's memory traffic without its dependency: copy ``values``, read ``parent`` and ``values``
    in reverse order, but never write to the parent's slot."""
    out = values.copy()
    acc = 0
    for i in range(parent.shape[0] - 1, -1, -1):
        if parent[i] >= 0:
            acc += out[i]
    return out, acc


def mlmroi_build(forest: Forest) -> tuple[Any, I64, I64]:
    from mlmroi.network import from_parent_codes

    ids = pl.Series("participant_id", np.arange(forest.n, dtype=np.int64))
    network, node_of_code = from_parent_codes(ids, forest.parent_code)
    pv_node = np.empty(forest.n, dtype=np.int64)
    pv_node[node_of_code] = forest.pv
    return network, node_of_code, pv_node


# ----------------------------------------------------------------------------------------------- networkx
def nx_build(forest: Forest) -> Any:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(range(forest.n))
    child = np.flatnonzero(forest.parent_code >= 0)
    graph.add_edges_from(zip(forest.parent_code[child].tolist(), child.tolist(), strict=True))
    return graph


def nx_group_volume(graph: Any, pv: list[int]) -> dict[int, int]:
    """Post-order accumulation: each node's GV is its PV plus its children's GV (the fastest of post-order,
    reverse topological order pushing to the predecessor, and reverse topological order pulling)."""
    import networkx as nx

    gv = dict(enumerate(pv))
    succ = graph.succ
    for node in nx.dfs_postorder_nodes(graph):
        total = gv[node]
        for child in succ[node]:
            total += gv[child]
        gv[node] = total
    return gv


# ----------------------------------------------------------------------------------------------- DuckDB
DUCKDB_QUERIES = {
    # Level-by-level upward accumulation: each recursive step moves every (ancestor, volume) row one level up
    # and merges rows that reach the same sponsor, so a step holds at most one row per ancestor.
    "per-distance upward accumulation (GROUP BY in the recursive step)": """
WITH RECURSIVE up(anc, pv) AS (
    SELECT sponsor, sum(pv) FROM nodes WHERE pv <> 0 AND sponsor IS NOT NULL GROUP BY sponsor
    UNION ALL
    SELECT n.sponsor, sum(up.pv) FROM up JOIN nodes n ON n.id = up.anc
    WHERE n.sponsor IS NOT NULL GROUP BY n.sponsor
)
SELECT nodes.id, CAST(nodes.pv + coalesce(s.gv, 0) AS BIGINT) AS gv
FROM nodes LEFT JOIN (SELECT anc, sum(pv) AS gv FROM up GROUP BY anc) s ON s.anc = nodes.id
""",
    # The closure, but only from participants with PV (most have none), carrying the PV upwards.
    "PV-carrying closure from PV > 0 participants": """
WITH RECURSIVE up(anc, pv) AS (
    SELECT id, pv FROM nodes WHERE pv <> 0
    UNION ALL
    SELECT n.sponsor, up.pv FROM up JOIN nodes n ON n.id = up.anc WHERE n.sponsor IS NOT NULL
)
SELECT nodes.id, CAST(coalesce(s.gv, 0) AS BIGINT) AS gv
FROM nodes LEFT JOIN (SELECT anc, sum(pv) AS gv FROM up GROUP BY anc) s ON s.anc = nodes.id
""",
    # The textbook formulation: the full ancestor-descendant closure, joined to PV, grouped by ancestor.
    "full ancestor closure, then GROUP BY ancestor": """
WITH RECURSIVE up(node, anc) AS (
    SELECT id, id FROM nodes
    UNION ALL
    SELECT up.node, n.sponsor FROM up JOIN nodes n ON n.id = up.anc WHERE n.sponsor IS NOT NULL
)
SELECT up.anc AS id, CAST(sum(p.pv) AS BIGINT) AS gv
FROM up JOIN nodes p ON p.id = up.node
GROUP BY up.anc
""",
}


def edge_frame(forest: Forest) -> pl.DataFrame:
    """The edge table every other tool starts from: id, sponsor id (null for a root), PV."""
    ids = np.arange(forest.n, dtype=np.int64)
    frame = pl.DataFrame({"id": ids, "sponsor": forest.parent_code, "pv": forest.pv})
    return frame.with_columns(sponsor=pl.when(pl.col("sponsor") >= 0).then(pl.col("sponsor")))


def duckdb_build(edges: pl.DataFrame) -> Any:
    import duckdb

    con = duckdb.connect()
    arrow = edges.to_arrow()
    con.register("edges_arrow", arrow)
    con.execute("CREATE TABLE nodes AS SELECT * FROM edges_arrow")
    con.unregister("edges_arrow")
    return con


def duckdb_group_volume(con: Any, query: str) -> dict[str, Any]:
    return con.execute(query).fetchnumpy()  # type: ignore[no-any-return]


# ----------------------------------------------------------------------------------------------- polars
def polars_levels(edges: pl.DataFrame) -> list[pl.DataFrame]:
    """Depth by pointer jumping (log2(depth) self-joins), then the nodes partitioned by depth."""
    jump = edges.select("id", anc=pl.col("sponsor"), dist=pl.col("sponsor").is_not_null().cast(pl.Int32))
    while jump["anc"].null_count() < jump.height:
        step = jump.select(anc="id", anc2="anc", dist2="dist")
        jump = jump.join(step, on="anc", how="left").select(
            "id", anc="anc2", dist=pl.col("dist") + pl.col("dist2").fill_null(0)
        )
    by_depth = edges.join(jump.select("id", depth="dist"), on="id").partition_by("depth", as_dict=True)
    return [by_depth[(d,)].drop("depth") for d in range(len(by_depth))]


def polars_group_volume(levels: list[pl.DataFrame]) -> pl.DataFrame:
    """From the deepest level up: a level's GV is PV plus its children's summed GV (one join per level)."""
    out = []
    carry: pl.DataFrame | None = None
    for level in reversed(levels):
        if carry is None:
            level = level.select("id", "sponsor", gv="pv")
        else:
            level = level.join(carry, on="id", how="left").select(
                "id", "sponsor", gv=pl.col("pv") + pl.col("children").fill_null(0)
            )
        out.append(level.select("id", "gv"))
        carry = level.group_by("sponsor").agg(children=pl.col("gv").sum()).rename({"sponsor": "id"})
    return pl.concat(out)


def polars_frontier(edges: pl.DataFrame) -> pl.DataFrame:
    """Per-distance upward accumulation, no depth needed: move (ancestor, volume) rows one sponsor up per
    join, merging rows that reach the same sponsor, until none is left; then sum per ancestor."""
    up = edges.select(anc="id", up="sponsor").drop_nulls("up")
    flow = (
        edges.filter((pl.col("pv") != 0) & pl.col("sponsor").is_not_null())
        .group_by("sponsor")
        .agg(pl.col("pv").sum())
        .rename({"sponsor": "anc"})
    )
    parts = []
    while flow.height:
        parts.append(flow)
        flow = flow.join(up, on="anc").group_by("up").agg(pl.col("pv").sum()).rename({"up": "anc"})
    sums = pl.concat(parts).group_by("anc").agg(below=pl.col("pv").sum())
    return edges.join(sums, left_on="id", right_on="anc", how="left").select(
        "id", gv=pl.col("pv") + pl.col("below").fill_null(0)
    )


def to_positions(n: int, ids: Any, gv: Any) -> I64:
    out = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    out[np.asarray(ids, dtype=np.int64)] = np.asarray(gv, dtype=np.int64)
    return out
