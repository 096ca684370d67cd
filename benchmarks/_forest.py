"""The benchmark forest: a random sponsor tree shaped like an MLM network, with monthly PV in cents."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

I64 = npt.NDArray[np.int64]
PERIODS = 12


@dataclass(frozen=True)
class Forest:
    """Input position ``k`` is participant id ``k``; ``parent_code[k]``: the sponsor's position (-1: root)."""

    parent_code: I64
    personal: I64  # (n, PERIODS) PV in cents
    max_depth: int
    mean_depth: float
    max_frontline: int

    @property
    def n(self) -> int:
        return int(self.parent_code.shape[0])

    @property
    def pv(self) -> I64:
        """The PV summed by the group-volume comparison: the first period (most participants at 0)."""
        return np.ascontiguousarray(self.personal[:, 0])


@numba.njit(cache=True)
def _depths(parent: I64) -> npt.NDArray[np.int32]:
    depth = np.zeros(parent.shape[0], dtype=np.int32)
    for i in range(parent.shape[0]):
        if parent[i] >= 0:
            depth[i] = depth[parent[i]] + 1
    return depth


def make_forest(n: int, seed: int = 0) -> Forest:
    """A sponsor forest of ``n`` participants shaped like an MLM network, plus monthly PV.

    Participants join one after another; each recruit's sponsor is drawn among earlier participants in
    proportion to a heavy-tailed recruiting propensity (lognormal, most near zero, 30% never recruit), and
    88% of the time only among the most recent ~0.5·n^0.55 joiners (locality), which makes chains tens of
    levels deep. A few roots (founders). Positions are then shuffled so the input is not in join order.
    PV: each participant orders in a month with an individual probability (Beta(0.6, 1), mean 0.375); a
    month's PV is lognormal around 60 points, in cents.
    """
    rng = np.random.default_rng(seed)
    n_roots = max(1, min(5, round(n**0.25 / 6)))
    weight = rng.lognormal(0.0, 1.4, n) * np.where(rng.random(n) < 0.45, 1.0, 0.02)
    weight[rng.random(n) < 0.3] = 0.0
    weight[:n_roots] = 50.0
    cum = np.cumsum(weight)
    idx = np.arange(n)
    top = cum[np.maximum(idx - 1, 0)]
    recent = np.maximum(idx - max(10, round(0.5 * n**0.55)), 0)
    base = np.where(recent > 0, cum[np.maximum(recent - 1, 0)], 0.0)
    low = np.where((rng.random(n) < 0.88) & (top > base), base, 0.0)
    u = np.minimum(low + rng.random(n) * (top - low), np.nextafter(top, -np.inf))
    del weight, top, recent, base, low
    parent = np.searchsorted(cum, u, side="right").astype(np.int64)
    del cum, u
    parent[:n_roots] = -1
    depth = _depths(parent)
    frontline = np.bincount(parent[parent >= 0], minlength=n)
    # Shuffle: join index i is written at position pos[i].
    pos = rng.permutation(n).astype(np.int64)
    parent_code = np.empty(n, dtype=np.int64)
    parent_code[pos] = np.where(parent >= 0, pos[np.maximum(parent, 0)], -1)
    prob = rng.beta(0.6, 1.0, n)
    personal = np.zeros((n, PERIODS), dtype=np.int64)
    for p in range(PERIODS):
        buys = rng.random(n) < prob
        personal[pos[buys], p] = np.round(rng.lognormal(math.log(60.0), 0.7, int(buys.sum())) * 100)
    return Forest(parent_code, personal, int(depth.max()), float(depth.mean()), int(frontline.max()))
