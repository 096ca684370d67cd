"""The BCG analogue of the source article: activity (x) against capacity / growth (y).

High means strictly above the split (the median over all participants unless configured; money measures'
splits are in the currency): ``star`` (high x, high y), ``cash_cow`` (high x, low y), ``question_mark``
(low x, high y), ``dog`` (low, low). The default y, ``gv_growth``, is the group volume of the window's second
half minus that of its first half (a difference, so participants with no first-half volume still rank).
"""

from __future__ import annotations

import numpy as np

from mlmroi.segments.base import Segmentation
from mlmroi.segments.config import BcgConfig
from mlmroi.segments.measures import Measures

LABELS = ("star", "cash_cow", "question_mark", "dog")
COUNTS = {"orders", "frontline", "downline_size"}  # measures that are counts, not money or volume


def bcg(measures: Measures, config: BcgConfig, money_scale: int) -> Segmentation:
    """The ``bcg`` segmentation."""
    high = []
    for name, split in ((config.x, config.x_split), (config.y, config.y_split)):
        values = measures.measure(name)
        if split is None:
            cut = float(np.median(values)) if values.size else 0.0
        else:
            cut = split if name in COUNTS else split * money_scale
        high.append(values > cut)
    x, y = high
    codes = np.where(x, np.where(y, 0, 1), np.where(y, 2, 3)).astype(np.int16)
    return Segmentation("bcg", codes, LABELS)
