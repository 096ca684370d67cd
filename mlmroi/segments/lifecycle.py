"""MLM lifecycle stages, precedence churned > leader > partner > customer > prospect.

``prospect``: no order ever (before or in the window). ``customer``: buys, has no recruits and earned no
commissions. ``partner``: has recruits or earned commissions. ``leader``: a partner at ``leader_rank`` or
above, or in the top ``leader_top_share`` of all participants by group volume (ties by id) with at least
``leader_min_frontline`` recruits. ``churned``: left (``left_on`` up to the window end), or bought before but
not in the last ``churn_days`` days of the window.
"""

from __future__ import annotations

import math

import numpy as np

from mlmroi.segments.base import Segmentation, descending
from mlmroi.segments.config import LifecycleConfig
from mlmroi.segments.measures import NEVER, Measures

LABELS = ("prospect", "customer", "partner", "leader", "churned")


def lifecycle(measures: Measures, config: LifecycleConfig) -> Segmentation:
    """The ``lifecycle`` segmentation."""
    n = measures.size
    bought = measures.last_order_day != NEVER
    partner = (measures.frontline > 0) | (measures.commissions > 0)
    leader = np.zeros(n, dtype=np.bool_)
    if config.leader_rank is not None and measures.rank_names:
        threshold = measures.rank_names.index(config.leader_rank)
        leader |= measures.rank >= threshold
    top = math.ceil(config.leader_top_share * n)
    if top:
        # Only the top few matter: partition them out, then order just those (ties by id at the cut).
        gv = measures.group_volume
        cut = np.partition(gv, n - top)[n - top] if top < n else gv.min()
        contenders = np.flatnonzero(gv >= cut)
        best = contenders[descending(gv[contenders], measures.id_rank[contenders])][:top]
        leader[best[measures.frontline[best] >= config.leader_min_frontline]] = True
    left = (measures.left_on_day != NEVER) & (measures.left_on_day <= measures.end_day)
    lapsed = bought & (measures.end_day - measures.last_order_day >= config.churn_days)
    codes = np.zeros(n, dtype=np.int16)
    codes[bought] = 1
    codes[partner] = 2
    codes[partner & leader] = 3
    codes[left | lapsed] = 4
    return Segmentation("lifecycle", codes, LABELS)
