"""Reject reasons that name a broken sponsor or placement chain, in time linear in the network.

A participant whose chain does not reach a root is rejected with the chain spelled out: ``a → b → c`` up to
the rejected ancestor that blocks it, round the cycle it is in, or up to the cycle it hangs under. A chain of
more than :data:`CHAIN_SHOWN` names shows only its first ``CHAIN_SHOWN - 2``, ``…`` and its last two, so a
chain never shows more than six names: the first few are at most five hops from the participant, and the last
two (the stop and the hop just before it) come from one memoised pass over all codes (:func:`_chain_shape`),
however long the chains are. The texts are then put together column-wise by polars.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import polars as pl

from mlmroi._numba import kernel
from mlmroi.network.kernels import CHAIN_IN_CYCLE, CHAIN_REJECTED_ANCESTOR, CHAIN_UNDER_CYCLE

IntArray = npt.NDArray[np.int64]
Int8Array = npt.NDArray[np.int8]

CHAIN_SHOWN = 6  # ids shown in a chain before an ellipsis


@kernel
def _chain_shape(parent, kinds):  # type: ignore[no-untyped-def]
    """For every classified node, the chain it is named by: ``(hops, last, stop)``.

    - CHAIN_REJECTED_ANCESTOR: from the node up to the rejected ancestor ``stop`` (its blocker);
    - CHAIN_IN_CYCLE: from the node round its cycle back to itself (``stop`` = the node, ``hops`` = the
      cycle's length, ``last`` = its predecessor on the cycle, the in-cycle node whose parent it is);
    - CHAIN_UNDER_CYCLE: from the node up to ``stop``, the first node of its path that is on the cycle.

    ``hops`` counts parent links (the chain has ``hops + 1`` names) and ``last`` is the hop just before
    ``stop``. Unclassified nodes get ``(0, -1, -1)``. Each node is walked once: a chain's shape is its
    parent's shape one hop longer (memoised with an explicit path, parents before children).
    """
    n = parent.shape[0]
    hops = np.zeros(n, dtype=np.int64)  # 0 = not done yet, -1 = on the current walk
    last = np.full(n, -1, dtype=np.int64)
    stop = np.full(n, -1, dtype=np.int64)
    path = np.empty(n, dtype=np.int64)
    pos = np.zeros(n, dtype=np.int64)  # position on the current walk (read only while hops == -1)
    # Cycles: each cycle node is the predecessor of its parent; the length takes one walk per cycle.
    for v in range(n):
        p = parent[v]
        if kinds[v] == CHAIN_IN_CYCLE and p >= 0 and kinds[p] == CHAIN_IN_CYCLE:
            last[p] = v
    for v in range(n):
        if kinds[v] != CHAIN_IN_CYCLE or hops[v] != 0:
            continue
        length = 0
        u = v
        while u >= 0 and kinds[u] == CHAIN_IN_CYCLE and hops[u] == 0:
            hops[u] = -1
            pos[u] = length
            path[length] = u
            length += 1
            u = parent[u]
        # Back on the walk: the cycle is path[pos[u]:]. Anything else only happens for kinds that did not
        # come from _classify_unreached; the nodes still get a (meaningless) positive length.
        cycle_from = pos[u] if (u >= 0 and kinds[u] == CHAIN_IN_CYCLE and hops[u] == -1) else 0
        for k in range(length):
            w = path[k]
            hops[w] = length - cycle_from if k >= cycle_from else length - k
            stop[w] = w
    # Chains up to a rejected ancestor or up to a cycle: the parent is the stop or has the same kind.
    for v in range(n):
        kind = kinds[v]
        if (kind != CHAIN_REJECTED_ANCESTOR and kind != CHAIN_UNDER_CYCLE) or hops[v] != 0:
            continue
        length = 0
        u = v
        while True:
            hops[u] = -1
            path[length] = u
            length += 1
            p = parent[u]
            if p < 0 or kinds[p] != kind or hops[p] != 0:
                break
            u = p
        top = path[length - 1]
        p = parent[top]
        if p >= 0 and kinds[p] == kind and hops[p] > 0:  # joins a chain already done
            hops[top] = hops[p] + 1
            last[top] = last[p]
            stop[top] = stop[p]
        else:  # the parent is the stop (a walk that closes on itself only comes from inconsistent kinds)
            hops[top] = 1
            last[top] = top
            stop[top] = p
        for k in range(length - 2, -1, -1):
            w = path[k]
            hops[w] = hops[path[k + 1]] + 1
            last[w] = last[top]
            stop[w] = stop[top]
    return hops, last, stop


def _chain_codes(parent: IntArray, starts: IntArray, last: IntArray, stop: IntArray) -> list[IntArray]:
    """The codes a chain may show: the start, its first ``CHAIN_SHOWN - 1`` ancestors (-1 above a root),
    the hop before the stop and the stop."""
    columns = [starts]
    for _ in range(CHAIN_SHOWN - 1):
        below = columns[-1]
        columns.append(np.where(below >= 0, parent[below], -1))
    return [*columns, last, stop]


def _gather(values: pl.Series, codes: IntArray) -> pl.Series:
    """``values[codes]``, where a code of -1 (only from kinds that did not come from _classify_unreached)
    reads the last value, as Python's ``ids[-1]`` would."""
    return values.gather(np.where(codes >= 0, codes, codes + values.len()))


def _id_text(ids: pl.Series, needed: list[IntArray]) -> pl.Series:
    """``str()`` of each id as a String series; only the ``needed`` codes are filled in (the others are null)
    unless polars writes every id as Python would (integers and strings)."""
    if ids.dtype.is_integer() or ids.dtype == pl.String:
        return ids.cast(pl.String).fill_null("None")
    n = ids.len()
    mask = np.zeros(n, dtype=np.bool_)
    for codes in needed:
        mask[np.where(codes >= 0, codes, codes + n)] = True
    wanted = np.flatnonzero(mask)
    text = np.full(n, None, dtype=object)
    text[wanted] = [str(v) for v in ids.gather(wanted).to_list()]
    return pl.Series(ids.name, text.tolist(), dtype=pl.String)


def _chain_texts(text: pl.Series, columns: list[IntArray], hops: IntArray) -> pl.Series:
    """``start → … → stop`` for each chain of ``hops`` parent links, from the codes in ``columns`` (see
    :func:`_chain_codes`): all ``hops + 1`` names, or when there are more than ``CHAIN_SHOWN`` the first
    ``CHAIN_SHOWN - 2``, ``…`` and the last two."""
    frame = pl.DataFrame({f"c{k}": _gather(text, codes) for k, codes in enumerate(columns)}).with_columns(
        hops=pl.Series(hops)
    )
    head = [pl.col(f"c{k}") for k in range(CHAIN_SHOWN)]
    tail = [pl.col(f"c{CHAIN_SHOWN}"), pl.col(f"c{CHAIN_SHOWN + 1}")]
    hop = pl.col("hops")
    chain = (
        pl.when(hop >= CHAIN_SHOWN)
        .then(pl.concat_str([*head[: CHAIN_SHOWN - 2], pl.lit("…"), *tail], separator=" → "))
        .when(hop == CHAIN_SHOWN - 1)
        .then(pl.concat_str(head, separator=" → "))
    )
    for h in range(CHAIN_SHOWN - 2, 0, -1):
        chain = chain.when(hop == h).then(pl.concat_str(head[: h + 1], separator=" → "))
    return frame.select(chain.otherwise(head[0]).alias("chain")).to_series()


def chain_reasons(
    tree_name: str,
    ids: pl.Series,
    parent: IntArray,
    kinds: Int8Array,
    blockers: IntArray,
    broken: IntArray,
    blocker_rows: IntArray,
    joined_after: npt.NDArray[np.bool_] | None = None,
) -> list[str]:
    """The reject reason of each code in ``broken``, naming the chain that does not reach a root.

    ``ids[c]`` is code ``c``'s participant id (printed with ``str``), ``parent`` the parent code of each code
    (-1 for a root), ``kinds`` and ``blockers`` what :func:`mlmroi.network.kernels._classify_unreached`
    returned for that ``parent``, ``broken`` the codes to explain (``kinds[broken] != 0``) and
    ``blocker_rows[i]`` the input row of ``broken[i]``'s blocker (only read for a rejected ancestor):

    - ``"sponsor chain broken: a → b → c reaches rejected participant c (row 7)"``
    - ``"sponsor chain broken: a → c reaches participant c (row 7), who joined after the window end"``
      (``joined_after[c]``: a code left out, not rejected)
    - ``"sponsor cycle: a → b → c → a"``
    - ``"sponsor chain broken: d → a reaches sponsor cycle a → b → c → a"``

    Chains of more than six names show the first four, ``…`` and the last two. Linear in the network: one
    memoised pass (:func:`_chain_shape`), then a fixed number of names per reason, put together by polars.
    ``ValueError`` if a code in ``broken`` was not classified.
    """
    broken = np.asarray(broken, dtype=np.int64)
    if broken.size == 0:
        return []
    kind = kinds[broken]
    if not np.isin(kind, (CHAIN_REJECTED_ANCESTOR, CHAIN_IN_CYCLE, CHAIN_UNDER_CYCLE)).all():
        raise ValueError(f"chain_reasons: some {tree_name} codes to explain have no broken chain")
    hops, last, stop = _chain_shape(parent, kinds)
    under = kind == CHAIN_UNDER_CYCLE
    # The cycles that chains run into, each worded once.
    entered = np.zeros(parent.shape[0], dtype=np.bool_)
    entered[stop[broken[under]]] = True
    entries = np.flatnonzero(entered)
    own = _chain_codes(parent, broken, last[broken], stop[broken])
    cycle = _chain_codes(parent, entries, last[entries], entries)
    block = blockers[broken]
    text = _id_text(ids, [block, *own, *cycle])
    cycles = pl.concat([_chain_texts(text, cycle, hops[entries]), pl.Series("chain", [""])])
    which = np.where(under, np.searchsorted(entries, stop[broken]), entries.size)  # "" when not under one
    frame = pl.DataFrame(
        {
            "kind": kind,
            "chain": _chain_texts(text, own, hops[broken]),
            "blocker": _gather(text, block),
            "row": pl.Series(np.asarray(blocker_rows)).cast(pl.String),
            "after": np.zeros(block.size, dtype=np.bool_) if joined_after is None else joined_after[block],
            "cycle": cycles.gather(which),
        }
    )
    chain = pl.col("chain")
    reason = (
        pl.when((pl.col("kind") == CHAIN_REJECTED_ANCESTOR) & pl.col("after"))
        .then(
            pl.concat_str(
                [
                    pl.lit(f"{tree_name} chain broken: "),
                    chain,
                    pl.lit(" reaches participant "),
                    pl.col("blocker"),
                    pl.lit(" (row "),
                    pl.col("row"),
                    pl.lit("), who joined after the window end"),
                ]
            )
        )
        .when(pl.col("kind") == CHAIN_REJECTED_ANCESTOR)
        .then(
            pl.concat_str(
                [
                    pl.lit(f"{tree_name} chain broken: "),
                    chain,
                    pl.lit(" reaches rejected participant "),
                    pl.col("blocker"),
                    pl.lit(" (row "),
                    pl.col("row"),
                    pl.lit(")"),
                ]
            )
        )
        .when(pl.col("kind") == CHAIN_IN_CYCLE)
        .then(pl.concat_str([pl.lit(f"{tree_name} cycle: "), chain]))
        .otherwise(
            pl.concat_str(
                [
                    pl.lit(f"{tree_name} chain broken: "),
                    chain,
                    pl.lit(f" reaches {tree_name} cycle "),
                    pl.col("cycle"),
                ]
            )
        )
    )
    reasons: list[str] = frame.select(reason).to_series().to_list()
    return reasons
