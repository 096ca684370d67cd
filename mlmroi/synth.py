"""Deterministic, vectorised synthetic MLM datasets: participants, orders, costs and a matching config.

The generator is built for scale (10 million participants, 100 million orders in minutes): every step is a
numpy array operation, the only sequential pass over the tree runs in numba, and orders are produced and
written in slices of days (one parquet row group per slice), so memory stays bounded by the largest slice.

Everything is drawn from one ``numpy.random.default_rng(seed)`` stream in a fixed order: the same
arguments give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import numba
import numpy as np
import polars as pl
import pyarrow.parquet as pq
from numpy.typing import NDArray

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Mask = NDArray[np.bool_]

_EPOCH = dt.date(1970, 1, 1)
REGIONS = ("north", "south", "east", "west", "central")
_REGION_SHARES = np.array([0.31, 0.24, 0.19, 0.15, 0.11])
# Cost categories, payers and filter values are written from small integer codes.
_CATS = ("signup_bonus", "starter_kit", "loyalty", "training", "event_ticket", "advertising", "support")
_SIGNUP, _KIT, _LOYALTY, _TRAINING, _TICKET, _ADVERTISING, _SUPPORT = range(len(_CATS))
_FILTER_VALUES = (*REGIONS, "distributor")
# Calendar month factors (Jan..Dec) and weekday factors (Mon..Sun).
_JOIN_MONTH = np.array([1.30, 1.10, 1.05, 1.00, 0.95, 0.85, 0.75, 0.75, 1.15, 1.10, 1.00, 0.80])
_ORDER_MONTH = np.array([0.90, 0.90, 1.00, 1.00, 1.00, 0.90, 0.80, 0.80, 1.00, 1.05, 1.15, 1.40])
_JOIN_WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.7, 0.5])
_ORDER_WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.9, 0.75])
_HISTORY_DAYS = 3 * 365  # pre-window participants joined up to three years before the window
_SLICE_ORDERS = 4_000_000  # expected orders per written slice (= parquet row group)
_NEVER = np.iinfo(np.int32).max

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
    """What :func:`generate` wrote: the folder, row counts, tree depth and file names."""

    out_dir: Path
    participants: int
    orders: int
    costs: int
    max_depth: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class _People:
    """Participant arrays, index ``i`` = participant id ``i + 1``; days are days since 1970-01-01."""

    joined: I32
    sponsor: I64  # 0-based index, -1 for roots
    distributor: Mask
    left: I32  # _NEVER unless the participant formally left
    region: NDArray[np.int8]
    birth: I32
    lo: I64  # ordering interval [lo, hi) as window day indices
    hi: I64
    rate: F64  # relative order rate (role x activity)
    basket: F64  # individual basket-size multiplier
    max_depth: int


@numba.njit(cache=True)
def _tree_pass(
    sponsor: I64, joined: I32, left: I32, region: NDArray[np.int8], inherit: Mask
) -> NDArray[np.int32]:
    """Re-sponsor recruits of participants who had left (to the nearest upline still in), inherit regions
    and return the depth of every participant (roots 0). Parents precede children, so one forward pass."""
    n = sponsor.shape[0]
    depth = np.zeros(n, dtype=np.int32)
    for i in range(n):
        s = sponsor[i]
        if s < 0:
            continue
        while left[s] <= joined[i] and sponsor[s] >= 0:
            s = sponsor[s]
        sponsor[i] = s
        depth[i] = depth[s] + 1
        if inherit[i]:
            region[i] = region[s]
    return depth


def _calendar(days: I64) -> tuple[I64, I64]:
    """Calendar month (0..11) and weekday (Mon=0) of epoch days."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months % 12, (days + 3) % 7


def _sample_days(rng: np.random.Generator, cum: F64, size: int) -> I64:
    """``size`` day indices drawn from the density whose cumulative sums are ``cum``."""
    idx: I64 = np.searchsorted(cum, rng.random(size) * cum[-1], side="right").astype(np.int64)
    return np.minimum(idx, cum.size - 1)


def _participants(rng: np.random.Generator, n: int, start: int, n_days: int) -> _People:
    """Join dates, roles, the sponsor tree, churn, regions and birth dates of ``n`` participants."""
    n_roots = min(n, int(np.clip(round(n**0.25 / 2), 1, 5)))
    n_pre = min(n - n_roots, round(0.3 * n))
    window = np.arange(start, start + n_days, dtype=np.int64)
    month, weekday = _calendar(window)
    density = _JOIN_MONTH[month] * _JOIN_WEEKDAY[weekday] * (1.0 + 0.3 * np.arange(n_days) / n_days)
    inside = start + _sample_days(rng, np.cumsum(density), n - n_roots - n_pre)
    # Older participants: up to three years before the window, denser towards it (company growth).
    before = start - _HISTORY_DAYS + np.floor(_HISTORY_DAYS * np.sqrt(rng.random(n_pre))).astype(np.int64)
    founders = np.full(n_roots, start - _HISTORY_DAYS - 1, dtype=np.int64)
    joined = np.sort(np.concatenate([founders, before, inside]))
    is_root = np.arange(n) < n_roots

    distributor = is_root | (rng.random(n) < 0.7)
    # Heavy-tailed recruiting propensity: most distributors barely recruit, a few recruit dozens.
    weight = rng.lognormal(0.0, 1.4, n) * np.where(rng.random(n) < 0.45, 1.0, 0.02)
    weight = np.where(distributor, weight, 0.0)
    weight[is_root] = 50.0
    cum = np.cumsum(weight)
    limit = np.searchsorted(joined, joined, side="left")  # candidates: those who joined strictly earlier
    top = cum[np.maximum(limit - 1, 0)]
    # Locality: most recruits come through recent joiners, which makes chains tens of levels deep.
    recent = np.maximum(limit - max(10, round(0.5 * n**0.55)), 0)
    base = np.where(recent > 0, cum[np.maximum(recent - 1, 0)], 0.0)
    local = (rng.random(n) < 0.88) & (top > base)
    low = np.where(local, base, 0.0)
    u = np.minimum(low + rng.random(n) * (top - low), np.nextafter(top, -np.inf))
    sponsor = np.searchsorted(cum, u, side="right").astype(np.int64)
    sponsor[is_root] = -1

    # Churn: a share stop ordering soon after joining, the rest with a long exponential tenure.
    tenure = np.where(
        rng.random(n) < 0.12, rng.integers(1, 61, n), 1 + rng.exponential(1100.0, n).astype(np.int64)
    )
    end = start + n_days
    stop = np.where(is_root, end, np.minimum(joined + tenure, end))
    formally = (stop < end) & (rng.random(n) < 1 / 3)
    left = np.where(formally, np.minimum(stop + rng.integers(0, 45, n), end - 1), _NEVER).astype(np.int32)

    region = rng.choice(len(REGIONS), size=n, p=_REGION_SHARES).astype(np.int8)
    joined32 = joined.astype(np.int32)
    depth = _tree_pass(sponsor, joined32, left, region, rng.random(n) < 0.5)
    age = np.clip(rng.normal(40.0, 11.0, n), 18.0, 80.0)
    birth = (joined - np.round(age * 365.25)).astype(np.int32)

    activity = rng.lognormal(-0.5, 1.0, n)  # heavy-tailed, mean 1
    rate = np.where(distributor, 1.0, 0.55) * activity
    basket = rng.lognormal(0.0, 0.3, n)
    return _People(
        joined=joined32,
        sponsor=sponsor,
        distributor=distributor,
        left=left,
        region=region,
        birth=birth,
        lo=np.clip(joined - start, 0, n_days),
        hi=np.clip(stop - start, 0, n_days),
        rate=rate,
        basket=basket,
        max_depth=int(depth.max()),
    )


def _orders_frame(
    rng: np.random.Generator, p: _People, cum: F64, start: int, first_id: int, d0: int, d1: int, init: Mask
) -> tuple[pl.DataFrame, I64, I64]:
    """Orders of window days ``[d0, d1)`` sorted by (ordered_on, participant_id), with the participant
    index and window day of every order."""
    m = int(np.searchsorted(p.lo, d1, side="left"))  # participants active before d1 (lo ascends)
    lo = np.clip(p.lo[:m], d0, d1)
    hi = np.clip(p.hi[:m], d0, d1)
    starter = init[:m] & (p.lo[:m] >= d0) & (p.lo[:m] < d1) & (hi > lo)
    counts = rng.poisson(p.rate[:m] * (cum[hi] - cum[lo])) + starter
    who = np.repeat(np.arange(m, dtype=np.int64), counts)
    c_lo = np.repeat(cum[lo], counts)
    c_hi = np.repeat(cum[hi], counts)
    day = np.searchsorted(cum, c_lo + rng.random(who.size) * (c_hi - c_lo), side="right") - 1
    day = np.clip(day, np.repeat(lo, counts), np.repeat(hi, counts) - 1)
    first = np.cumsum(counts) - counts  # a new participant's starter order falls on the join day
    day[first[starter]] = lo[starter]
    order = np.argsort(day.astype(np.int32), kind="stable")  # who ascends already: (day, participant)
    who, day = who[order], day[order]

    k = who.size
    dist = p.distributor[who]
    mu = math.log(42.0) + dist * math.log(60.0 / 42.0)  # median basket: distributors 60, customers 42
    amount: F64 = np.round((np.exp(rng.normal(mu, 0.55)) * p.basket[who]).clip(3.0, None), 2)
    amount = np.where(rng.random(k) < 0.01, -amount, amount)  # refunds
    volume = np.round(amount * rng.uniform(0.8, 1.0, k), 2)
    cost = np.round(amount * rng.uniform(0.45, 0.60, k), 2)
    cost[rng.random(k) < 0.10] = np.nan  # no cost recorded: the engine falls back to margin_rate
    frame = pl.DataFrame(
        {
            "order_id": np.arange(first_id, first_id + k, dtype=np.int64),
            "participant_id": who + 1,
            "ordered_on": pl.Series((day + start).astype(np.int32)).cast(pl.Date),
            "amount": amount,
            "volume": volume,
            "cost": pl.Series(cost, nan_to_null=True),
            "retail": dist & (rng.random(k) < 0.25),
        }
    )
    return frame, who, day


def _write_orders(
    rng: np.random.Generator,
    p: _People,
    start: int,
    n_days: int,
    target: float,
    path: Path,
    fmt: str,
) -> tuple[int, I64, I64, I64]:
    """Generate and write the orders; return the count, orders and distributor orders per window day,
    and orders per participant."""
    window = np.arange(start, start + n_days, dtype=np.int64)
    month, weekday = _calendar(window)
    cum = np.concatenate([[0.0], np.cumsum(_ORDER_MONTH[month] * _ORDER_WEEKDAY[weekday])])
    n = p.rate.size
    exposure = p.rate * (cum[p.hi] - cum[p.lo])
    # Starter orders on the join day for new participants, then Poisson orders scaled to hit the target.
    eligible = p.joined >= start
    p_init = min(0.6, 0.3 * target / max(int(eligible.sum()), 1))
    init = eligible & (rng.random(n) < p_init)
    total = float(exposure.sum())
    scale = max(target - p_init * float(eligible.sum()), 0.0) / total if total > 0 else 0.0
    p = dataclasses.replace(p, rate=p.rate * scale)

    # Slices of days holding about _SLICE_ORDERS expected orders each.
    active = np.bincount(p.lo, p.rate, n_days + 1) - np.bincount(p.hi, p.rate, n_days + 1)
    per_day = (
        np.cumsum(active)[:n_days] * np.diff(cum) + np.bincount(p.lo[init], minlength=n_days + 1)[:n_days]
    )
    expected = np.cumsum(per_day)
    n_slices = max(1, math.ceil(expected[-1] / _SLICE_ORDERS))
    cuts = np.searchsorted(expected, np.arange(1, n_slices) * expected[-1] / n_slices)
    bounds = np.unique(np.concatenate([[0], cuts, [n_days]])).tolist()

    written, started = 0, False
    by_day = np.zeros(n_days, dtype=np.int64)
    by_day_dist = np.zeros(n_days, dtype=np.int64)
    per_person = np.zeros(n, dtype=np.int64)
    writer: pq.ParquetWriter | None = None
    handle: IO[bytes] | None = None
    try:
        for d0, d1 in itertools.pairwise(bounds):
            frame, who, day = _orders_frame(rng, p, cum, start, written + 1, d0, d1, init)
            if frame.height == 0 and started:
                continue
            by_day += np.bincount(day, minlength=n_days)
            by_day_dist += np.bincount(day[p.distributor[who]], minlength=n_days)
            per_person += np.bincount(who, minlength=n)
            written += frame.height
            if fmt == "parquet":
                table = frame.to_arrow()
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema, compression="zstd")
                writer.write_table(table, row_group_size=max(table.num_rows, 1))
            else:
                if handle is None:
                    handle = path.open("wb")
                frame.write_csv(handle, include_header=not started, float_precision=2)
            started = True
    finally:
        if writer is not None:
            writer.close()
        if handle is not None:
            handle.close()
    return written, by_day, by_day_dist, per_person


def _costs(
    rng: np.random.Generator,
    p: _People,
    start: int,
    n_days: int,
    by_day: I64,
    by_day_dist: I64,
    per_person: I64,
) -> pl.DataFrame:
    """Acquisition, retention, shared (company-wide, regional, role) and participant-paid costs."""
    rows: list[tuple[I64, I64, I64, F64, bool, I64]] = []  # pid(0=shared), day, category, amount, by, filter

    def add(who: I64, day: I64, cat: int | I64, amount: F64, by_participant: bool = False) -> None:
        k = who.size
        cats = np.broadcast_to(np.asarray(cat, dtype=np.int64), (k,))
        rows.append((who + 1, day, cats, np.round(amount, 2), by_participant, np.full(k, -1, np.int64)))

    def active_day(who: I64) -> I64:
        return p.lo[who] + (rng.random(who.size) * (p.hi[who] - p.lo[who])).astype(np.int64)

    new = np.flatnonzero(p.distributor & (p.joined >= start))
    bonus = new[rng.random(new.size) < 0.5]
    add(
        bonus, p.lo[bonus], _SIGNUP, rng.choice([25.0, 50.0, 75.0, 100.0], bonus.size, p=[0.4, 0.3, 0.2, 0.1])
    )
    kit = new[rng.random(new.size) < 0.7]
    add(kit, p.lo[kit], _KIT, rng.uniform(18.0, 45.0, kit.size))
    buyers = np.flatnonzero(p.distributor & (per_person > 0))
    loyal = buyers[rng.random(buyers.size) < 0.12]
    add(loyal, active_day(loyal), _LOYALTY, rng.lognormal(np.log(25.0), 0.5, loyal.size))
    trained = buyers[rng.random(buyers.size) < 0.06]
    add(trained, active_day(trained), _TRAINING, rng.uniform(60.0, 250.0, trained.size))
    payers = np.flatnonzero(p.distributor & (p.hi > p.lo))
    payers = payers[rng.random(payers.size) < 0.18]
    ticket = rng.random(payers.size) < 0.65
    own = np.where(ticket, rng.uniform(40.0, 350.0, payers.size), rng.uniform(80.0, 600.0, payers.size))
    add(payers, active_day(payers), np.where(ticket, _TICKET, _TRAINING), own, by_participant=True)

    # Shared company costs, one per calendar month, each in a month with joiners / orders to allocate to.
    window = np.arange(start, start + n_days, dtype=np.int64)
    month = window.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    month -= month[0]
    n_months = int(month[-1]) + 1
    first_day = np.searchsorted(month, np.arange(n_months))
    joined_in = p.joined >= start
    j_month = month[p.joined[joined_in] - start]
    joins = np.bincount(j_month, minlength=n_months)
    joins_region = np.bincount(
        j_month * len(REGIONS) + p.region[joined_in], minlength=n_months * len(REGIONS)
    )
    orders = np.bincount(month, by_day, n_months)
    dist_orders = np.bincount(month, by_day_dist, n_months)
    months = np.arange(n_months, dtype=np.int64)
    shared: list[tuple[I64, int, F64, int]] = []  # month, category, amount, filter code
    m = months[joins > 0]
    shared.append(
        (m, _ADVERTISING, joins[m] * rng.uniform(9.0, 14.0, m.size) + rng.uniform(300, 900, m.size), -1)
    )
    m = months[orders > 0]
    shared.append(
        (m, _SUPPORT, orders[m] * rng.uniform(0.4, 0.7, m.size) + rng.uniform(200, 500, m.size), -1)
    )
    for r in range(len(REGIONS)):
        jr = joins_region[r :: len(REGIONS)]
        m = months[(jr > 0) & ((r == 0) | (rng.random(n_months) < 0.35))]
        shared.append(
            (m, _ADVERTISING, jr[m] * rng.uniform(4.0, 8.0, m.size) + rng.uniform(100, 300, m.size), r)
        )
    m = months[(dist_orders > 0) & (rng.random(n_months) < 0.5)]
    amount = dist_orders[m] * rng.uniform(0.1, 0.3, m.size) + rng.uniform(500, 1500, m.size)
    shared.append((m, _TRAINING, amount, len(REGIONS)))
    for mon, code, value, filt in shared:
        k = mon.size
        rows.append(
            (
                np.zeros(k, np.int64),
                first_day[mon].astype(np.int64),
                np.full(k, code, np.int64),
                np.round(value, 2),
                False,
                np.full(k, filt, np.int64),
            )
        )

    pid = np.concatenate([r[0] for r in rows])
    day = np.concatenate([r[1] for r in rows])
    cat = np.concatenate([r[2] for r in rows])
    amount = np.concatenate([r[3] for r in rows])
    by_participant = np.concatenate([np.full(r[0].size, r[4]) for r in rows])
    fval = np.concatenate([r[5] for r in rows]).astype(np.int64)
    order = np.lexsort((cat, pid, day))
    codes = range(len(_FILTER_VALUES))
    return pl.DataFrame(
        {
            "participant_id": pid[order],
            "incurred_on": pl.Series((day[order] + start).astype(np.int32)).cast(pl.Date),
            "category": pl.Series(cat[order]).replace_strict(
                range(len(_CATS)), _CATS, return_dtype=pl.String
            ),
            "amount": amount[order],
            "payer": pl.Series(by_participant[order]).replace_strict(
                [False, True], ["company", "participant"], return_dtype=pl.String
            ),
            "filter_column": pl.Series(fval[order]),
            "filter_value": pl.Series(fval[order]).replace_strict(
                codes, _FILTER_VALUES, default=None, return_dtype=pl.String
            ),
        }
    ).with_columns(
        pl.when(pl.col("participant_id") > 0).then(pl.col("participant_id")).alias("participant_id"),
        pl.when(pl.col("filter_column") == len(REGIONS))
        .then(pl.lit("role"))
        .when(pl.col("filter_column") >= 0)
        .then(pl.lit("region"))
        .otherwise(pl.lit(None, pl.String))
        .alias("filter_column"),
    )


def _participants_frame(p: _People) -> pl.DataFrame:
    n = p.joined.size
    return pl.DataFrame(
        {
            "participant_id": np.arange(1, n + 1, dtype=np.int64),
            "sponsor_id": p.sponsor + 1,
            "joined_on": pl.Series(p.joined).cast(pl.Date),
            "role": pl.Series(p.distributor).replace_strict(
                [True, False], ["distributor", "customer"], return_dtype=pl.String
            ),
            "left_on": pl.Series(p.left),
            "region": pl.Series(p.region).replace_strict(
                range(len(REGIONS)), REGIONS, return_dtype=pl.String
            ),
            "birth_date": pl.Series(p.birth).cast(pl.Date),
        }
    ).with_columns(
        pl.when(pl.col("sponsor_id") > 0).then(pl.col("sponsor_id")).alias("sponsor_id"),
        pl.when(pl.col("left_on") < _NEVER).then(pl.col("left_on")).cast(pl.Date).alias("left_on"),
    )


def _write(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        frame.write_parquet(path, compression="zstd")
    else:
        frame.write_csv(path, float_precision=2)


def _add_months(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    return dt.date(year, month + 1, 1) + dt.timedelta(days=day.day - 1)


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
    """Write a synthetic MLM dataset (participants, orders, costs, ``mlmroi.toml``) into ``out_dir``.

    Parameters
    ----------
    out_dir
        Target folder, created if missing; existing files of the same names are replaced.
    participants
        Number of participants (>= 1).
    months
        Length of the window in months (>= 1), starting at ``start``.
    seed
        Seed of the random stream; the same arguments give byte-identical files.
    start
        First day of the window (normally the first of a month).
    fmt
        ``"csv"`` or ``"parquet"`` for the three tables.
    orders_per_participant
        Mean number of orders per participant over the window; default ``10 * months / 12``.
    progress
        Called with ``"participants"``, ``"orders"``, ``"costs"`` and ``"writing"`` as each stage starts.

    Returns
    -------
    GeneratedSummary
        Folder, row counts, maximum sponsor depth (roots are depth 0) and the file names written.

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
    if not math.isfinite(per_head) or per_head < 0:
        raise ValueError(
            f"orders_per_participant must be a non-negative number (got {orders_per_participant})"
        )
    report = progress or (lambda _stage: None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    end = _add_months(start, months) - dt.timedelta(days=1)
    first = (start - _EPOCH).days
    n_days = (end - start).days + 1
    rng = np.random.default_rng(seed)
    names = (f"participants.{fmt}", f"orders.{fmt}", f"costs.{fmt}", "mlmroi.toml")

    report("participants")
    people = _participants(rng, participants, first, n_days)
    report("orders")
    n_orders, by_day, by_day_dist, per_person = _write_orders(
        rng, people, first, n_days, per_head * participants, out / names[1], fmt
    )
    report("costs")
    costs = _costs(rng, people, first, n_days, by_day, by_day_dist, per_person)
    report("writing")
    _write(_participants_frame(people), out / names[0], fmt)
    _write(costs, out / names[2], fmt)
    (out / names[3]).write_text(
        _CONFIG.format(start=start.isoformat(), end=end.isoformat()), encoding="utf-8"
    )
    return GeneratedSummary(
        out_dir=out,
        participants=participants,
        orders=n_orders,
        costs=costs.height,
        max_depth=people.max_depth,
        files=names,
    )
