"""Deterministic, vectorised synthetic MLM datasets: participants, orders, costs, events, leads and a
matching config.

Built for scale (10 million participants and 100 million orders in minutes): every step is a numpy array
operation, the one sequential pass over the sponsor tree runs in numba, and orders are generated and written
in slices of days (one parquet row group per slice), so memory is bounded by the largest slice. Participants,
orders and costs come from one ``numpy.random.default_rng(seed)`` stream in a fixed order; events and leads
from a second stream, ``default_rng([seed, 1])``, drawn after everything else, so adding them left the first
three tables unchanged. Same arguments, same bytes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Literal

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from mlmroi._numba import kernel
from mlmroi.destinations import claim_folder

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]

REGIONS = ("north", "south", "east", "west", "central")
_REGION_SHARES = np.array([0.31, 0.24, 0.19, 0.15, 0.11])
_CATEGORIES = ("signup_bonus", "starter_kit", "loyalty", "training", "event_ticket", "advertising", "support")
_SIGNUP, _KIT, _LOYALTY, _TRAINING, _TICKET, _ADVERTISING, _SUPPORT = range(len(_CATEGORIES))
_ROLE_FILTER = len(REGIONS)  # filter code of role = "distributor"; codes 0..4 are the regions
# Calendar month factors (Jan..Dec) and weekday factors (Mon..Sun) of joining and ordering.
_JOIN_MONTH = np.array([1.30, 1.10, 1.05, 1.00, 0.95, 0.85, 0.75, 0.75, 1.15, 1.10, 1.00, 0.80])
_ORDER_MONTH = np.array([0.90, 0.90, 1.00, 1.00, 1.00, 0.90, 0.80, 0.80, 1.00, 1.05, 1.15, 1.40])
_JOIN_WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.5])
_ORDER_WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.75])
_HISTORY_DAYS = 3 * 365  # pre-window participants joined up to three years before the window
_SLICE_ORDERS = 4_000_000  # expected orders per slice (= parquet row group)
_NEVER = np.iinfo(np.int32).max

# Events (docs/data-contract.md): types in output code order.
_EVENT_TYPES = ("contact", "event", "newsletter_response", "referral", "feedback", "invoice_paid", "survey")
_CONTACT, _EVENT, _NEWSLETTER, _REFERRAL, _FEEDBACK, _INVOICE, _SURVEY = range(len(_EVENT_TYPES))
_INVOICED_ORDERS = 0.07  # mean share of a participant's orders with an invoice_paid event
_SURVEYED = 0.15  # share of participants (active in the window) answering a survey
# Survey scores 0..10 of a satisfied and of a disappointed respondent; the disappointed share is higher among
# those who stopped ordering. Together: CSI (8-10 / 1-3) about 3-5, NPS (% 9-10 - % 0-6) about +10 to +25.
_SATISFIED = np.array([0.0, 0.0, 0.0, 0.005, 0.01, 0.02, 0.05, 0.12, 0.22, 0.27, 0.305])
_DISAPPOINTED = np.array([0.03, 0.22, 0.30, 0.25, 0.10, 0.05, 0.03, 0.02, 0.0, 0.0, 0.0])
# Leads: the share of cold and warm prospects scoring 1..5 on brand, attractiveness and closeness.
_LEADS_PER_PARTICIPANT = 0.15
_WARM_LEADS = 0.3
_LEAD_SCORES = {
    "brand": ((0.08, 0.20, 0.35, 0.25, 0.12), (0.02, 0.08, 0.25, 0.38, 0.27)),
    "attractiveness": ((0.20, 0.32, 0.28, 0.14, 0.06), (0.05, 0.15, 0.30, 0.30, 0.20)),
    "closeness": ((0.40, 0.32, 0.18, 0.08, 0.02), (0.05, 0.15, 0.30, 0.30, 0.20)),
}

_CONFIG = """[window]
start = {start}
end = {end}
period = "month"

[money]
currency = "EUR"
margin_rate = 0.40

[[plan.components]]
type = "unilevel"
levels = [0.10, 0.05, 0.03, 0.02, 0.01]
active_min_pv = 50
compression = "dynamic"

[costs]
allocation = "count"

[costs.categories]
acquisition = ["advertising", "signup_bonus", "starter_kit"]
retention = ["loyalty", "training", "support"]
"""


@dataclass(frozen=True)
class GeneratedSummary:
    """What :func:`generate` wrote.

    Attributes
    ----------
    out_dir : Path
        The dataset folder.
    participants, orders, costs, events, leads : int
        Row counts of the five tables.
    max_depth : int
        Deepest sponsor level (roots are level 0).
    files : tuple of str
        File names written into ``out_dir``.
    """

    out_dir: Path
    participants: int
    orders: int
    costs: int
    events: int
    leads: int
    max_depth: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class _Window:
    """The window's days: ``start`` in days since 1970-01-01, then per window day its calendar data."""

    start: int
    days: int
    month: I64  # month number within the window, from 0
    calendar_month: I64  # 0 = January
    weekday: I64  # 0 = Monday

    @classmethod
    def of(cls, start: dt.date, end: dt.date) -> _Window:
        days = np.arange(np.datetime64(start), np.datetime64(end) + 1).astype(np.int64)
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        return cls(int(days[0]), days.size, months - months[0], months % 12, (days + 3) % 7)


@dataclass(frozen=True)
class _People:
    """Participant arrays; index ``i`` is participant id ``i + 1``; days since 1970-01-01."""

    joined: I64
    sponsor: I64  # index, -1 for roots
    distributor: Mask
    left: I32  # _NEVER unless the participant formally left
    region: NDArray[np.int8]
    birth: I64
    lo: I64  # ordering interval [lo, hi) in window days
    hi: I64
    rate: F64  # relative order rate: role x heavy-tailed activity
    basket: F64  # individual basket-size factor
    max_depth: int


@kernel
def _tree_pass(sponsor: I64, joined: I64, left: I32, region: NDArray[np.int8], inherit: Mask) -> I32:
    """Hand recruits of departed sponsors to the nearest upline still in, let recruits inherit their
    sponsor's region and return every depth. Sponsors precede recruits, so one forward pass suffices."""
    depth = np.zeros(sponsor.size, dtype=np.int32)
    for i in range(sponsor.size):
        s = sponsor[i]
        if s >= 0:
            while left[s] <= joined[i] and sponsor[s] >= 0:
                s = sponsor[s]
            sponsor[i] = s
            depth[i] = depth[s] + 1
            if inherit[i]:
                region[i] = region[s]
    return depth


@kernel
def _placements(sponsor: I64, distributor: Mask) -> tuple[I64, NDArray[np.int8]]:
    """Binary placement by spillover: a sponsor's distributors go to their left and right legs in turn,
    each at the bottom of that leg's outer edge (the usual automatic placement). Customers are not placed.
    Sponsors precede recruits, so one forward pass suffices; each sponsor remembers where its edges end."""
    n = sponsor.size
    parent = np.full(n, -1, dtype=np.int64)
    leg = np.full(n, -1, dtype=np.int8)
    child = np.full((n, 2), -1, dtype=np.int64)
    edge = np.arange(n).repeat(2).reshape(n, 2)  # the last node on each leg's outer edge, per sponsor
    placed = np.zeros(n, dtype=np.int64)
    for i in range(n):
        s = sponsor[i]
        if s < 0 or not distributor[i] or not distributor[s]:
            continue
        k = placed[s] % 2
        placed[s] += 1
        node = edge[s, k]
        while child[node, k] >= 0:
            node = child[node, k]
        child[node, k] = i
        edge[s, k] = i
        parent[i] = node
        leg[i] = k
    return parent, leg


def _participants(rng: np.random.Generator, n: int, w: _Window) -> _People:
    """Join days, roles, the sponsor tree, churn, regions and birth dates of ``n`` participants."""
    n_roots = min(n, int(np.clip(round(n**0.25 / 2), 1, 5)))
    n_pre = min(n - n_roots, round(0.3 * n))
    density = np.cumsum(
        _JOIN_MONTH[w.calendar_month] * _JOIN_WEEKDAY[w.weekday] * (1.0 + 0.3 * np.arange(w.days) / w.days)
    )
    inside = np.searchsorted(density, rng.random(n - n_roots - n_pre) * density[-1], side="right")
    # Older participants: up to three years back, denser towards the window (company growth).
    before = np.floor(_HISTORY_DAYS * np.sqrt(rng.random(n_pre))).astype(np.int64) - _HISTORY_DAYS
    founders = np.full(n_roots, -_HISTORY_DAYS - 1)  # alone on the first day
    joined = w.start + np.sort(np.concatenate([founders, before, np.minimum(inside, w.days - 1)]))
    root = np.arange(n) < n_roots

    distributor = root | (rng.random(n) < 0.7)
    # Heavy-tailed recruiting propensity (customers never recruit): most recruit nobody, a few dozens.
    weight = rng.lognormal(0.0, 1.4, n) * np.where(rng.random(n) < 0.45, 1.0, 0.02)
    weight = np.where(distributor, weight, 0.0)
    weight[root] = 50.0
    cum = np.cumsum(weight)
    limit = np.searchsorted(joined, joined, side="left")  # candidates joined strictly earlier: [0, limit)
    top = cum[np.maximum(limit - 1, 0)]
    # Locality: most sponsors are among the most recent joiners, which makes chains tens of levels deep.
    recent = np.maximum(limit - max(10, round(0.5 * n**0.55)), 0)
    low = np.where(recent > 0, cum[np.maximum(recent - 1, 0)], 0.0)
    low = np.where((rng.random(n) < 0.88) & (top > low), low, 0.0)
    pick = np.minimum(low + rng.random(n) * (top - low), np.nextafter(top, -np.inf))
    sponsor = np.where(root, -1, np.searchsorted(cum, pick, side="right")).astype(np.int64)

    # Churn: some stop ordering within two months, the rest after an exponential tenure; a third of those
    # who stop also formally leave.
    quick = rng.random(n) < 0.12
    tenure = np.where(quick, rng.integers(1, 61, n), 1 + rng.exponential(1100.0, n).astype(np.int64))
    end = w.start + w.days
    stop = np.where(root, end, np.minimum(joined + tenure, end))
    formally = (stop < end) & (rng.random(n) < 1 / 3)
    left = np.where(formally, np.minimum(stop + rng.integers(0, 45, n), end - 1), _NEVER).astype(np.int32)

    region = rng.choice(len(REGIONS), size=n, p=_REGION_SHARES).astype(np.int8)
    depth = _tree_pass(sponsor, joined, left, region, rng.random(n) < 0.5)
    birth = joined - np.round(np.clip(rng.normal(40.0, 11.0, n), 18.0, 80.0) * 365.25).astype(np.int64)
    rate = np.where(distributor, 1.0, 0.55) * rng.lognormal(-0.5, 1.0, n)  # activity: mean 1, long tail
    return _People(
        joined=joined,
        sponsor=sponsor,
        distributor=distributor,
        left=left,
        region=region,
        birth=birth,
        lo=np.clip(joined - w.start, 0, w.days),
        hi=np.clip(stop - w.start, 0, w.days),
        rate=rate,
        basket=rng.lognormal(0.0, 0.3, n),
        max_depth=int(depth.max()),
    )


def _col(values: NDArray[np.generic], valid: Mask | None = None, date: bool = False) -> pl.Series:
    """A column from an array; ``valid`` False gives null; ``date`` reads days since 1970-01-01."""
    kind = pa.date32() if date else None
    data = values.astype(np.int32) if date else values
    return pl.Series(pa.array(data, type=kind, mask=None if valid is None else ~valid))


def _labels(codes: NDArray[np.generic], labels: Sequence[str]) -> pl.Series:
    """Strings from integer codes; codes outside ``labels`` give null."""
    return pl.Series(codes).replace_strict(range(len(labels)), labels, default=None, return_dtype=pl.String)


def _orders_slice(
    rng: np.random.Generator, p: _People, cum: F64, w: _Window, first_id: int, d0: int, d1: int, starter: Mask
) -> tuple[pl.DataFrame, I64, I64]:
    """Orders of window days ``[d0, d1)`` sorted by (ordered_on, participant_id), their participant
    indices and window days."""
    m = int(np.searchsorted(p.lo, d1, side="left"))  # participants who joined before d1 (lo ascends)
    lo, hi = np.clip(p.lo[:m], d0, d1), np.clip(p.hi[:m], d0, d1)
    first_order = starter[:m] & (p.lo[:m] >= d0) & (p.lo[:m] < d1)
    counts = rng.poisson(p.rate[:m] * (cum[hi] - cum[lo])) + first_order
    who = np.repeat(np.arange(m, dtype=np.int64), counts)
    c_lo, c_hi = np.repeat(cum[lo], counts), np.repeat(cum[hi], counts)
    day = np.searchsorted(cum, c_lo + rng.random(who.size) * (c_hi - c_lo), side="right") - 1
    day = np.clip(day, np.repeat(lo, counts), np.repeat(hi, counts) - 1)
    day[(np.cumsum(counts) - counts)[first_order]] = lo[first_order]  # starter order on the join day
    order = np.argsort(day.astype(np.int32), kind="stable")  # `who` ascends already
    who, day = who[order], day[order]

    k = who.size
    dist = p.distributor[who]
    mu = math.log(42.0) + dist * math.log(60.0 / 42.0)  # median basket: distributors 60, customers 42
    amount: F64 = np.round((np.exp(rng.normal(mu, 0.55)) * p.basket[who]).clip(3.0, None), 2)
    amount = np.where(rng.random(k) < 0.01, -amount, amount)  # refunds
    volume = np.round(amount * rng.uniform(0.8, 1.0, k), 2)
    cost = np.round(amount * rng.uniform(0.45, 0.60, k), 2)
    frame = pl.DataFrame(
        {
            "order_id": np.arange(first_id, first_id + k, dtype=np.int64),
            "participant_id": who + 1,
            "ordered_on": _col(day + w.start, date=True),
            "amount": amount,
            "volume": volume,
            "cost": _col(cost, rng.random(k) >= 0.10),  # missing cost: the engine uses margin_rate
            "retail": dist & (rng.random(k) < 0.25),
        }
    )
    return frame, who, day


def _write_orders(
    rng: np.random.Generator, p: _People, w: _Window, target: float, path: Path, fmt: str
) -> tuple[int, I64, I64, I64]:
    """Generate and write the orders; return their count, orders and distributor orders per window month,
    and orders per participant."""
    cum = np.concatenate([[0.0], np.cumsum(_ORDER_MONTH[w.calendar_month] * _ORDER_WEEKDAY[w.weekday])])
    n = p.rate.size
    # Starter orders on the join day for many newcomers, then Poisson orders scaled to hit the target.
    new = p.joined >= w.start
    p_starter = min(0.6, 0.3 * target / max(int(new.sum()), 1))
    starter = new & (rng.random(n) < p_starter)
    exposure = float((p.rate * (cum[p.hi] - cum[p.lo])).sum())
    scale = max(target - p_starter * float(new.sum()), 0.0) / exposure if exposure > 0 else 0.0
    p = dataclasses.replace(p, rate=p.rate * scale)

    # Slices of consecutive days with about _SLICE_ORDERS expected orders each.
    active = np.cumsum(np.bincount(p.lo, p.rate, w.days + 1) - np.bincount(p.hi, p.rate, w.days + 1))
    expected = np.cumsum(
        active[: w.days] * np.diff(cum) + np.bincount(p.lo[starter], minlength=w.days + 1)[:-1]
    )
    n_slices = max(1, math.ceil(expected[-1] / _SLICE_ORDERS))
    cuts = np.searchsorted(expected, np.arange(1, n_slices) * expected[-1] / n_slices)
    bounds = np.unique(np.concatenate([[0], cuts, [w.days]])).tolist()

    n_months = int(w.month[-1]) + 1
    per_month, per_month_dist = np.zeros(n_months, np.int64), np.zeros(n_months, np.int64)
    per_person = np.zeros(n, dtype=np.int64)
    written = 0
    writer: pq.ParquetWriter | None = None
    handle: IO[bytes] | None = None
    try:
        for d0, d1 in itertools.pairwise(bounds):
            frame, who, day = _orders_slice(rng, p, cum, w, written + 1, d0, d1, starter)
            if frame.height == 0 and (writer or handle):
                continue
            per_month += np.bincount(w.month[day], minlength=n_months)
            per_month_dist += np.bincount(w.month[day[p.distributor[who]]], minlength=n_months)
            per_person += np.bincount(who, minlength=n)
            written += frame.height
            if fmt == "parquet":
                table = frame.to_arrow()
                writer = writer or pq.ParquetWriter(path, table.schema, compression="zstd")
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
            else:
                header = handle is None
                handle = handle or path.open("wb")
                frame.write_csv(handle, include_header=header, float_precision=2)
    finally:
        for sink in (writer, handle):
            if sink is not None:
                sink.close()
    return written, per_month, per_month_dist, per_person


def _costs(
    rng: np.random.Generator, p: _People, w: _Window, per_month: I64, per_month_dist: I64, per_person: I64
) -> pl.DataFrame:
    """Acquisition and retention costs per participant, shared company costs (whole company, per region,
    per role) in months with someone to allocate them to, and costs paid by participants themselves."""
    # Columns as arrays: participant index (-1: shared), window day, category, amount, payer, filter code.
    parts: list[tuple[I64, I64, I64, F64, I64, I64]] = []

    def add(who: I64, day: I64, category: int | I64, amount: F64, payer: int = 0, code: int = -1) -> None:
        k = who.size
        cat = np.broadcast_to(np.asarray(category, dtype=np.int64), (k,))
        parts.append((who, day, cat, np.round(amount, 2), np.full(k, payer), np.full(k, code)))

    def active_day(who: I64) -> I64:
        return p.lo[who] + (rng.random(who.size) * (p.hi[who] - p.lo[who])).astype(np.int64)

    new = np.flatnonzero(p.distributor & (p.joined >= w.start))
    bonus, kit = new[rng.random(new.size) < 0.5], new[rng.random(new.size) < 0.7]
    tiers = rng.choice([25.0, 50.0, 75.0, 100.0], bonus.size, p=[0.4, 0.3, 0.2, 0.1])
    add(bonus, p.lo[bonus], _SIGNUP, tiers)
    add(kit, p.lo[kit], _KIT, rng.uniform(18.0, 45.0, kit.size))
    buyers = np.flatnonzero(p.distributor & (per_person > 0))
    loyal, trained = buyers[rng.random(buyers.size) < 0.12], buyers[rng.random(buyers.size) < 0.06]
    add(loyal, active_day(loyal), _LOYALTY, rng.lognormal(np.log(25.0), 0.5, loyal.size))
    add(trained, active_day(trained), _TRAINING, rng.uniform(60.0, 250.0, trained.size))
    payers = np.flatnonzero(p.distributor & (p.hi > p.lo))
    payers = payers[rng.random(payers.size) < 0.18]
    ticket = rng.random(payers.size) < 0.65
    own = np.where(ticket, rng.uniform(40.0, 350.0, payers.size), rng.uniform(80.0, 600.0, payers.size))
    add(payers, active_day(payers), np.where(ticket, _TICKET, _TRAINING), own, payer=1)

    n_months = per_month.size
    first_day = np.searchsorted(w.month, np.arange(n_months))
    month = w.month[p.lo[p.joined >= w.start]]
    region = p.region[p.joined >= w.start]
    joins = np.bincount(month * len(REGIONS) + region, minlength=n_months * len(REGIONS))
    joins = joins.reshape(n_months, len(REGIONS))

    def shared(use: Mask, category: int, count: I64, unit: float, base: float, code: int = -1) -> None:
        m = np.flatnonzero(use)
        amount = count[m] * unit * rng.uniform(0.7, 1.3, m.size) + base * rng.uniform(0.5, 1.5, m.size)
        add(np.full(m.size, -1, np.int64), first_day[m], category, amount, code=code)

    all_joins = joins.sum(axis=1)
    shared(all_joins > 0, _ADVERTISING, all_joins, 11.0, 600.0)
    shared(per_month > 0, _SUPPORT, per_month, 0.55, 350.0)
    for r in range(len(REGIONS)):
        campaign = (joins[:, r] > 0) & ((r == 0) | (rng.random(n_months) < 0.35))
        shared(campaign, _ADVERTISING, joins[:, r], 6.0, 200.0, code=r)
    sessions = (per_month_dist > 0) & (rng.random(n_months) < 0.5)
    shared(sessions, _TRAINING, per_month_dist, 0.2, 1000.0, _ROLE_FILTER)  # for distributors only

    who, day, cat, payer, code = (np.concatenate([part[i] for part in parts]) for i in (0, 1, 2, 4, 5))
    order = np.lexsort((cat, who, day))  # by day, shared costs first
    amount = np.concatenate([part[3] for part in parts])[order]
    who, day, cat, payer, code = (a[order] for a in (who, day, cat, payer, code))
    return pl.DataFrame(
        {
            "participant_id": _col(who + 1, who >= 0),
            "incurred_on": _col(day + w.start, date=True),
            "category": _labels(cat, _CATEGORIES),
            "amount": amount,
            "payer": _labels(payer, ("company", "participant")),
            "filter_column": _labels(np.where(code < 0, -1, code // _ROLE_FILTER), ("region", "role")),
            "filter_value": _labels(code, (*REGIONS, "distributor")),
        }
    )


def _pick(weights: F64, u: F64) -> I64:
    """Index drawn from ``weights`` (summing to 1) by uniform numbers ``u`` (inverse CDF); may reach
    ``len(weights)`` only by rounding, so callers clip."""
    index: I64 = np.searchsorted(np.cumsum(weights), u * weights.sum(), side="right").astype(np.int64)
    return index


def _events(rng: np.random.Generator, p: _People, w: _Window, per_person: I64) -> pl.DataFrame:
    """Touches, referrals, paid invoices, feedback and surveys, each on a day of the participant's active span
    ``[lo, hi)`` in the window; sorted by (occurred_on, participant_id, type). About two events per
    participant and window year (four to five per year of active membership): contacts and company events
    (more for distributors and frequent buyers), responses from the two in five who read the newsletter,
    referrals mostly from those who recruit (by frontline size), ``invoice_paid`` for about one order in
    fourteen (value = days to pay: 0-3 for most, later by personal habit), rare feedback, and a survey from
    about one participant in seven (value = the score 0-10)."""
    n = p.rate.size
    span = p.hi - p.lo
    years = span / 365.25
    # Engagement: rises with buying activity, less than proportionally, and varies by person (mean about 1).
    touch = np.sqrt(p.rate / p.rate.mean()) * rng.lognormal(-0.125, 0.5, n)
    frontline = np.bincount(p.sponsor[p.sponsor >= 0], minlength=n)
    rates = (  # per year, of the types drawn as Poisson counts (contact ... feedback)
        np.where(p.distributor, 2.0, 0.8) * touch,
        np.where(p.distributor, 0.8, 0.2) * touch,
        (rng.random(n) < 0.4) * 1.5 * touch,  # newsletter readers who respond
        np.where(p.distributor, 0.03, 0.01) + 0.3 * frontline,  # referrals: mostly from recruiters
        0.04 * touch,
    )
    counts = [rng.poisson(rate * years) for rate in rates]
    share = rng.beta(1.5, 1.5 / _INVOICED_ORDERS - 1.5, n)  # invoiced share of orders: individual
    counts.append(np.where(span > 0, rng.binomial(per_person, share), 0))
    counts.append(((span > 0) & (rng.random(n) < _SURVEYED)).astype(np.int64))
    sizes = [int(c.sum()) for c in counts]
    kind = np.repeat(np.arange(len(_EVENT_TYPES), dtype=np.int64), sizes)
    who = np.concatenate([np.repeat(np.arange(n, dtype=np.int64), c) for c in counts])
    del counts
    lo, hi = p.lo[who], p.hi[who]
    day = lo + (rng.random(who.size) * (hi - lo)).astype(np.int64)  # uniform over the span
    value = np.full(who.size, -1, dtype=np.int64)  # -1: no value

    # Invoices: ordered on an order-like day (the orders' seasonality), paid 0-3 days later by most, with a
    # personal share of late payments (4 days and more); a payment after the span is not in the data.
    invoice = np.flatnonzero(kind == _INVOICE)
    cum = np.concatenate([[0.0], np.cumsum(_ORDER_MONTH[w.calendar_month] * _ORDER_WEEKDAY[w.weekday])])
    c_lo, c_hi = cum[lo[invoice]], cum[hi[invoice]]
    ordered = np.searchsorted(cum, c_lo + rng.random(invoice.size) * (c_hi - c_lo), side="right") - 1
    late = rng.random(invoice.size) < rng.beta(0.6, 4.0, n)[who[invoice]]
    on_time = rng.choice(4, invoice.size, p=[0.40, 0.30, 0.18, 0.12])
    value[invoice] = np.where(late, 3 + rng.geometric(1 / 7, invoice.size), on_time)
    day[invoice] = np.clip(ordered, lo[invoice], hi[invoice] - 1) + value[invoice]

    # Surveys: disappointed more often among those who stopped ordering.
    survey = np.flatnonzero(kind == _SURVEY)
    stopped = hi[survey] < w.days
    sad = rng.random(survey.size) < np.where(stopped, 0.37, 0.17)
    u = rng.random(survey.size)
    value[survey] = np.minimum(np.where(sad, _pick(_DISAPPOINTED, u), _pick(_SATISFIED, u)), 10)

    keep = day < hi
    who, day, kind, value = who[keep], day[keep], kind[keep], value[keep]
    order = np.argsort((day * n + who) * len(_EVENT_TYPES) + kind, kind="stable")  # one key: faster
    who, day, kind, value = who[order], day[order], kind[order], value[order]
    return pl.DataFrame(
        {
            "participant_id": who + 1,
            "occurred_on": _col(day + w.start, date=True),
            "type": _labels(kind, _EVENT_TYPES),
            "value": _col(value, value >= 0),
        }
    )


def _leads(rng: np.random.Generator, participants: int) -> pl.DataFrame:
    """Prospects who never joined, about one per seven participants, ids ``L000001``...: brand, attractiveness
    and closeness 1-5, higher for the warm leads (three in ten) than for the cold."""
    k = max(1, round(_LEADS_PER_PARTICIPANT * participants))
    warm = rng.random(k) < _WARM_LEADS
    columns: dict[str, pl.Series] = {}
    for name, (cold, hot) in _LEAD_SCORES.items():
        u = rng.random(k)
        score = np.minimum(np.where(warm, _pick(np.array(hot), u), _pick(np.array(cold), u)), 4) + 1
        columns[name] = pl.Series(name, score, dtype=pl.Int64)
    ids = pl.Series(np.arange(1, k + 1, dtype=np.int64)).cast(pl.String).str.zfill(max(6, len(str(k))))
    return pl.DataFrame({"lead_id": "L" + ids, **columns})


def _participants_frame(p: _People) -> pl.DataFrame:
    placement, leg = _placements(p.sponsor, p.distributor)
    return pl.DataFrame(
        {
            "participant_id": np.arange(1, p.joined.size + 1, dtype=np.int64),
            "sponsor_id": _col(p.sponsor + 1, p.sponsor >= 0),
            "joined_on": _col(p.joined, date=True),
            "role": _labels(p.distributor.astype(np.int8), ("customer", "distributor")),
            "left_on": _col(p.left, p.left < _NEVER, date=True),
            "region": _labels(p.region, REGIONS),
            "birth_date": _col(p.birth, date=True),
            "placement_id": _col(placement + 1, placement >= 0),
            "placement_leg": _labels(leg, ("L", "R")),
        }
    )


def _write(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        frame.write_parquet(path, compression="zstd")
    else:
        frame.write_csv(path, float_precision=2)


def generate(
    out_dir: str | Path,
    participants: int,
    months: int = 12,
    seed: int = 0,
    start: dt.date = dt.date(2025, 1, 1),
    fmt: Literal["csv", "parquet"] = "csv",
    orders_per_participant: float | None = None,
    progress: Callable[[str], None] | None = None,
) -> GeneratedSummary:
    """Write a synthetic MLM dataset (participants, orders, costs, events, leads, ``mlmroi.toml``) into
    ``out_dir``.

    Parameters
    ----------
    out_dir : str or Path
        Target folder: new, empty, or a dataset written by ``generate`` before (replaced once the new one
        is complete, :mod:`mlmroi.destinations`); any other folder raises :class:`~mlmroi.errors.OutputError`.
    participants : int
        Number of participants, at least 1.
    months : int
        Window length in months, at least 1; the window ends the day before ``start`` + ``months``.
    seed : int
        Seed of the random streams; the same arguments give byte-identical files.
    start : datetime.date
        First day of the window (normally the first of a month).
    fmt : {"csv", "parquet"}
        Format of the five tables.
    orders_per_participant : float, optional
        Mean number of orders per participant in the window; default ``10 * months / 12``.
    progress : callable, optional
        Called with ``"participants"``, ``"orders"``, ``"costs"``, ``"events"`` and ``"writing"`` as each
        stage starts.

    Returns
    -------
    GeneratedSummary
        The folder, row counts, maximum sponsor depth and the file names written.

    Raises
    ------
    ValueError
        If ``participants`` or ``months`` is below 1, ``fmt`` is unknown or ``orders_per_participant`` is
        negative.
    """
    if participants < 1:
        raise ValueError(f"participants must be at least 1 (got {participants})")
    if months < 1:
        raise ValueError(f"months must be at least 1 (got {months})")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"fmt must be 'csv' or 'parquet' (got {fmt!r})")
    per_head = 10.0 * months / 12 if orders_per_participant is None else float(orders_per_participant)
    if not (math.isfinite(per_head) and per_head >= 0):
        raise ValueError(f"orders_per_participant must be >= 0 (got {orders_per_participant})")
    report = progress or (lambda _stage: None)
    with claim_folder(out_dir, "dataset", label=str(out_dir)) as claim:
        counts = _generate_into(claim.staging, participants, months, seed, start, fmt, per_head, report)
        return replace(counts, out_dir=claim.commit())


def _generate_into(
    out: Path,
    participants: int,
    months: int,
    seed: int,
    start: dt.date,
    fmt: Literal["csv", "parquet"],
    per_head: float,
    report: Callable[[str], None],
) -> GeneratedSummary:
    after = start.year * 12 + start.month - 1 + months
    end = dt.date(after // 12, after % 12 + 1, 1) + dt.timedelta(days=start.day - 2)  # start + months - 1 day
    window = _Window.of(start, end)
    rng = np.random.default_rng(seed)
    files = tuple(f"{name}.{fmt}" for name in ("participants", "orders", "costs", "events", "leads"))
    files += ("mlmroi.toml",)

    report("participants")
    people = _participants(rng, participants, window)
    report("orders")
    n_orders, per_month, per_month_dist, per_person = _write_orders(
        rng, people, window, per_head * participants, out / files[1], fmt
    )
    report("costs")
    costs = _costs(rng, people, window, per_month, per_month_dist, per_person)
    report("events")
    extra = np.random.default_rng([seed, 1])  # events and leads: their own stream, after all the above
    events = _events(extra, people, window, per_person)
    leads = _leads(extra, participants)
    report("writing")
    _write(_participants_frame(people), out / files[0], fmt)
    for frame, name in ((costs, files[2]), (events, files[3]), (leads, files[4])):
        _write(frame, out / name, fmt)
    (out / files[5]).write_text(_CONFIG.format(start=start, end=end), encoding="utf-8")
    return GeneratedSummary(
        out, participants, n_orders, costs.height, events.height, leads.height, people.max_depth, files
    )
