"""Customer value (SPEC §7): BG/NBD and MBG/NBD purchase and churn models, Gamma-Gamma spend model, the
simple CLV formula.

Pure functions of per-customer arrays: fits are deterministic, independent of row order, and raise
:class:`~mlmroi.errors.ModelError` with a one-line reason instead of returning NaN parameters.
"""

from __future__ import annotations

from mlmroi.value._common import MIN_REPEAT_BUYERS
from mlmroi.value.bgnbd import (
    BgNbdFit,
    expected_purchases,
    fit_bgnbd,
    p_alive,
    p_alive_indexed,
    purchases_if_alive,
)
from mlmroi.value.formula import clv_formula, lifetime_from_churn
from mlmroi.value.gammagamma import GammaGammaFit, expected_order_value, fit_gamma_gamma
from mlmroi.value.mbgnbd import MbgNbdFit, fit_mbgnbd

__all__ = [
    "MIN_REPEAT_BUYERS",
    "BgNbdFit",
    "GammaGammaFit",
    "MbgNbdFit",
    "clv_formula",
    "expected_order_value",
    "expected_purchases",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_mbgnbd",
    "lifetime_from_churn",
    "p_alive",
    "p_alive_indexed",
    "purchases_if_alive",
]
