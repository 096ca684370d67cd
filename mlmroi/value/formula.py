"""The simple CLV formula (SPEC §7 ``clv_formula``; seeds/002): average order value × orders per month ×
expected lifetime in months. 100 a month for 24 months is 2,400.

No discounting and no model: it is the back-of-the-envelope figure a report shows next to the BG/NBD
prediction, so it takes whatever the caller measured and multiplies, elementwise.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlmroi.errors import ModelError
from mlmroi.value._common import FloatArray, as_floats, count

MODEL = "CLV formula"


def clv_formula(average_order_value: Any, orders_per_month: Any, lifetime_months: Any) -> FloatArray:
    """average_order_value × orders_per_month × lifetime_months, broadcast elementwise (money in, money out).

    Orders per month and the lifetime must be ≥ 0; the order value may be negative (net of returns)."""
    value = as_floats(MODEL, "average_order_value", average_order_value)
    orders = as_floats(MODEL, "orders_per_month", orders_per_month)
    lifetime = as_floats(MODEL, "lifetime_months", lifetime_months)
    for name, values in (("orders_per_month", orders), ("lifetime_months", lifetime)):
        if np.any(values < 0):
            raise ModelError(f"{MODEL}: {name} has {count(values < 0)} negative values")
    try:
        return value * orders * lifetime
    except ValueError:
        raise ModelError(f"{MODEL}: the inputs have incompatible shapes") from None


def lifetime_from_churn(monthly_churn_rate: Any) -> FloatArray:
    """Expected lifetime in months = 1 / monthly churn rate, elementwise.

    If a customer leaves in any month with probability c, independently, the number of months they stay
    (the month they leave included) is geometric with mean 1/c: 10% churn → 10 months, 1/24 → 24. A rate
    outside (0, 1] is a ModelError (0 would mean an infinite lifetime)."""
    churn = as_floats(MODEL, "monthly_churn_rate", monthly_churn_rate)
    outside = (churn <= 0) | (churn > 1)
    if np.any(outside):
        raise ModelError(
            f"{MODEL}: monthly_churn_rate has {count(outside)} values outside (0, 1]; "
            "a rate of 0 means an infinite lifetime"
        )
    return 1.0 / churn
