"""Slow, obviously-correct pure-Python twins of the library's kernels, for differential tests.

Everything here works on plain dicts and lists keyed by the *original* participant id (or by code, for the
validation workers), walks explicitly to the root instead of relying on breadth-first numbering, and rounds
money with :mod:`decimal` / :mod:`fractions` rather than the library's integer tricks. Nothing imports
``mlmroi`` so that a bug there cannot leak into the reference.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from typing import Any

Id = Hashable
Forest = dict[Any, Any]  # participant id -> sponsor id (None for a root)

PPM = 1_000_000


# ----------------------------------------------------------------------------------------------------------
# Forest metrics (by original id)
# ----------------------------------------------------------------------------------------------------------


def forest(participant_ids: Sequence[Any], sponsor_ids: Sequence[Any]) -> Forest:
    """The input lists as a ``{participant: sponsor}`` dict."""
    return dict(zip(participant_ids, sponsor_ids, strict=True))


def ancestors(sponsor: Mapping[Any, Any], node: Any) -> list[Any]:
    """Proper ancestors of ``node``, nearest first (walk the sponsor links up to the root)."""
    out = []
    up = sponsor[node]
    while up is not None:
        out.append(up)
        up = sponsor[up]
    return out


def root_of(sponsor: Mapping[Any, Any]) -> dict[Any, Any]:
    """Each participant's root: the last ancestor, or itself."""
    return {v: (ancestors(sponsor, v) or [v])[-1] for v in sponsor}


def depth(sponsor: Mapping[Any, Any]) -> dict[Any, int]:
    """Number of proper ancestors of each participant (root = 0)."""
    return {v: len(ancestors(sponsor, v)) for v in sponsor}


def children(sponsor: Mapping[Any, Any]) -> dict[Any, list[Any]]:
    """Direct recruits of each participant, ascending by id."""
    out: dict[Any, list[Any]] = {v: [] for v in sponsor}
    for v, s in sponsor.items():
        if s is not None:
            out[s].append(v)
    return {v: sorted(c) for v, c in out.items()}


def frontline(sponsor: Mapping[Any, Any]) -> dict[Any, int]:
    """Number of direct recruits."""
    return {v: len(c) for v, c in children(sponsor).items()}


def descendants(sponsor: Mapping[Any, Any], node: Any) -> set[Any]:
    """All participants having ``node`` as a proper ancestor."""
    return {v for v in sponsor if node in ancestors(sponsor, v)}


def downline_size(sponsor: Mapping[Any, Any]) -> dict[Any, int]:
    """Number of descendants (self excluded)."""
    return {v: len(descendants(sponsor, v)) for v in sponsor}


def subtree_sum(sponsor: Mapping[Any, Any], values: Mapping[Any, Any]) -> dict[Any, Any]:
    """Σ ``values`` over the node and all its descendants (values may be numbers or tuples of numbers)."""
    out = {}
    for v in sponsor:
        members = [v, *descendants(sponsor, v)]
        first = values[v]
        if isinstance(first, tuple):
            out[v] = tuple(sum(values[m][j] for m in members) for j in range(len(first)))
        else:
            out[v] = sum(values[m] for m in members)
    return out


group_volume = subtree_sum  # GV is the subtree sum of personal volume


def count_children_where(sponsor: Mapping[Any, Any], flag: Mapping[Any, bool]) -> dict[Any, int]:
    """Number of direct recruits with ``flag`` set."""
    return {v: sum(1 for c in kids if flag[c]) for v, kids in children(sponsor).items()}


def nearest_ancestor_where(sponsor: Mapping[Any, Any], flag: Mapping[Any, bool]) -> dict[Any, Any]:
    """Nearest proper ancestor with ``flag`` set, or ``None``."""
    return {v: next((a for a in ancestors(sponsor, v) if flag[a]), None) for v in sponsor}


def bfs_order(sponsor: Mapping[Any, Any]) -> list[Any]:
    """Breadth-first order of a forest: all roots ascending by id, then each level's children in the order of
    their parents, each parent's children ascending by id."""
    kids = children(sponsor)
    queue = sorted(v for v, s in sponsor.items() if s is None)
    head = 0
    while head < len(queue):
        queue.extend(kids[queue[head]])
        head += 1
    return queue


# ----------------------------------------------------------------------------------------------------------
# Validation workers (by code: parent[i] in -1 or 0..n-1, possibly cyclic)
# ----------------------------------------------------------------------------------------------------------


def bfs_codes(parent: Sequence[int], ok: Sequence[bool]) -> tuple[list[int], list[bool]]:
    """Codes reachable from ok roots through ok nodes, in BFS order (roots and children ascending by code)."""
    n = len(parent)
    order = [i for i in range(n) if parent[i] == -1 and ok[i]]
    head = 0
    while head < len(order):
        node = order[head]
        order.extend(c for c in range(n) if parent[c] == node and ok[c] and c not in order)
        head += 1
    reached = [i in order for i in range(n)]
    return order, reached


def classify_unreached(
    parent: Sequence[int], ok: Sequence[bool], reached: Sequence[bool]
) -> tuple[list[int], list[int]]:
    """Why an ok node is not reached, by walking up from it.

    kind 0: reached or not ok (blocker -1); 1: the walk meets a rejected (not ok) node first (blocker =
    that nearest rejected ancestor); 2: the node lies on a sponsor cycle; 3: the walk enters a cycle the node
    is not on. For 2 and 3 the blocker is the smallest code on that cycle.
    """
    n = len(parent)
    kind = [0] * n
    blocker = [-1] * n
    for v in range(n):
        if reached[v] or not ok[v]:
            continue
        path = [v]
        node = parent[v]
        while True:
            if node < 0 or not ok[node]:
                kind[v], blocker[v] = 1, node
                break
            if node in path:
                cycle = path[path.index(node) :]
                kind[v] = 2 if v in cycle else 3
                blocker[v] = min(cycle)
                break
            path.append(node)
            node = parent[node]
    return kind, blocker


# ----------------------------------------------------------------------------------------------------------
# Money
# ----------------------------------------------------------------------------------------------------------


def round_half_even(value: Decimal | Fraction | int) -> int:
    """Round to the nearest integer, ties to even, with :mod:`decimal` (a Fraction is converted exactly)."""
    if isinstance(value, Fraction):
        with localcontext() as ctx:
            ctx.prec = 200
            value = Decimal(value.numerator) / Decimal(value.denominator)
    with localcontext() as ctx:
        ctx.prec = 200
        return int(Decimal(value).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def apply_rate(minor: int, ppm: int) -> int:
    """``minor × ppm / 10⁶`` rounded half-to-even, via Decimal."""
    with localcontext() as ctx:
        ctx.prec = 200
        return round_half_even(Decimal(minor) * Decimal(ppm) / Decimal(PPM))


def split_largest_remainder(total: int, weights: Sequence[int]) -> list[int]:
    """Shares of ``total`` proportional to ``weights``: exact proportions with Fraction, rounded down, then
    one unit each to the largest fractional parts (ties to the earlier position) until the total is met."""
    weight_sum = sum(weights)
    exact = [Fraction(w * total, weight_sum) for w in weights]
    shares = [q.numerator // q.denominator for q in exact]
    left = total - sum(shares)
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in by_remainder[:left]:
        shares[i] += 1
    return shares


def rate_decimal(rate: float) -> Decimal:
    """A float rate as the decimal it was written as (``0.05`` -> ``Decimal('0.05')``)."""
    return Decimal(repr(rate))


# ----------------------------------------------------------------------------------------------------------
# Unilevel
# ----------------------------------------------------------------------------------------------------------


class UnilevelOutcome:
    """What the naive unilevel computed.

    Attributes
    ----------
    rows : dict
        ``(payee id, period, level) -> amount`` (minor units, rounded half-to-even once), non-zero only.
    level_volume : dict
        ``(payee id, period, level) -> Σ source volume`` credited (paid shares only).
    breakage : dict
        ``(period, level) -> Σ source volume`` whose share at that level was lost.
    reach : dict
        ``period -> Σ over sources of volume × number of levels with a payee candidate`` (an existing ancestor
        for "none", an existing active ancestor for "dynamic").
    received_exact, generated_exact : dict
        Per id, minor units × 10⁶, exact.
    paid_links : list
        ``(source id, payee id, period, level, volume × ppm)`` for every paid share.
    """

    def __init__(self) -> None:
        self.rows: dict[tuple[Any, int, int], int] = {}
        self.level_volume: dict[tuple[Any, int, int], int] = defaultdict(int)
        self.breakage: dict[tuple[int, int], int] = defaultdict(int)
        self.reach: dict[int, int] = defaultdict(int)
        self.received_exact: dict[Any, int] = defaultdict(int)
        self.generated_exact: dict[Any, int] = defaultdict(int)
        self.paid_links: list[tuple[Any, Any, int, int, int]] = []

    def totals(self) -> dict[Any, int]:
        """Σ amounts per payee id."""
        out: dict[Any, int] = defaultdict(int)
        for (payee, _, _), amount in self.rows.items():
            out[payee] += amount
        return dict(out)


def unilevel(
    sponsor: Mapping[Any, Any],
    personal: Mapping[Any, Sequence[int]],
    levels: Sequence[float],
    active_min_pv: float,
    compression: str,
    unlock: Sequence[int] | None,
    volume_scale: int,
) -> UnilevelOutcome:
    """Unilevel by walking up from every source, period by period.

    ``personal[id][p]`` is the PV in minor units. Active: PV ≥ ``active_min_pv × volume_scale``. Level k's
    candidate is the k-th ancestor ("none") or the k-th *active* ancestor ("dynamic"); it is paid iff active
    and its active frontline count is ≥ ``unlock[k-1]``; otherwise the share is breakage. Each
    (payee, period, level) volume is rounded once: ``round_half_even(rate × volume)``.
    """
    rates = [rate_decimal(r) for r in levels]
    ppm = [int(r * PPM) for r in rates]
    assert all(Decimal(p) == r * PPM for p, r in zip(ppm, rates, strict=True)), "rates must be ppm-exact"
    threshold = Decimal(repr(active_min_pv)) * volume_scale
    n_periods = len(next(iter(personal.values()))) if personal else 0
    kids = children(sponsor)
    out = UnilevelOutcome()
    for p in range(n_periods):
        active = {v: personal[v][p] >= threshold for v in sponsor}
        active_front = {v: sum(1 for c in kids[v] if active[c]) for v in sponsor}
        for source in sponsor:
            volume = personal[source][p]
            if volume == 0:
                continue
            chain = ancestors(sponsor, source)
            if compression == "dynamic":
                chain = [a for a in chain if active[a]]
            else:
                assert compression == "none"
            for k, payee in enumerate(chain[: len(levels)], start=1):
                out.reach[p] += volume
                need = 0 if unlock is None else unlock[k - 1]
                if active[payee] and active_front[payee] >= need:
                    out.level_volume[(payee, p, k)] += volume
                    exact = volume * ppm[k - 1]
                    out.received_exact[payee] += exact
                    out.generated_exact[source] += exact
                    out.paid_links.append((source, payee, p, k, exact))
                else:
                    out.breakage[(p, k)] += volume
    for (payee, p, k), volume in out.level_volume.items():
        amount = round_half_even(rates[k - 1] * volume)
        if amount != 0:
            out.rows[(payee, p, k)] = amount
    return out


def branch_commissions(sponsor: Mapping[Any, Any], outcome: UnilevelOutcome) -> dict[Any, int]:
    """Per id: commissions generated by the volume of its subtree, whoever was paid.

    = Σ rounded amounts paid to payees inside the subtree + the exact value of shares paid from sources inside
    the subtree to payees *above* it (proper ancestors of the node), rounded half-to-even once.
    """
    paid_to = outcome.totals()
    out = {}
    for v in sponsor:
        inside = {v} | descendants(sponsor, v)
        above = set(ancestors(sponsor, v))
        rounded = sum(paid_to.get(u, 0) for u in inside)
        upward = sum(exact for s, u, _, _, exact in outcome.paid_links if s in inside and u in above)
        out[v] = rounded + round_half_even(Fraction(upward, PPM))
    return out


def rows_by_id(rows: Iterable[tuple[Any, int, int, int]]) -> dict[tuple[Any, int, int], int]:
    """``[(payee, period, level, amount)]`` as a dict, asserting each key occurs once."""
    out: dict[tuple[Any, int, int], int] = {}
    for payee, period, level, amount in rows:
        key = (payee, int(period), int(level))
        assert key not in out, f"duplicate row {key}"
        out[key] = int(amount)
    return out
