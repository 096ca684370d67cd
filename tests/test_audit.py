"""Commission audit: with a `commissions` table, ROI uses what was paid and the run compares it with the plan."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import mlmroi
from tests.helpers import ORACLE_ORDERS, ORACLE_PARTICIPANTS, UNILEVEL, write_dataset
from tests.runjson import run_json

PLAN = UNILEVEL.format(compression="dynamic") + "[audit]\ntolerance = 0.50\n"
# Computed (ORACLES.md, dynamic): D 10.00, B 30.00, A 24.50.
PAID = """participant_id,paid_on,amount,component
D,2025-01-31,10.00,unilevel
B,2025-01-31,29.80,unilevel
A,2025-01-31,30.00,unilevel
A,2025-02-03,99.00,unilevel
E,2025-01-15,,unilevel
Z,2025-01-15,5,unilevel
"""


@pytest.fixture()
def audited(tmp_path: Path) -> mlmroi.Result:
    folder = write_dataset(tmp_path, ORACLE_PARTICIPANTS, ORACLE_ORDERS, config=PLAN)
    (folder / "commissions.csv").write_text(PAID)
    return mlmroi.score(folder, mlmroi.load_config(dataset=folder))


def col(result: mlmroi.Result, name: str) -> dict[object, object]:
    return dict(result.participants.select("participant_id", name).iter_rows())


def test_roi_uses_paid_commissions(audited: mlmroi.Result) -> None:
    assert col(audited, "commissions") == {
        "A": Decimal("30.00"),
        "B": Decimal("29.80"),
        "C": Decimal("0.00"),
        "D": Decimal("10.00"),
        "E": Decimal("0.00"),
        "F": Decimal("0.00"),
    }
    assert col(audited, "commissions_computed")["A"] == Decimal("24.50")
    assert col(audited, "costs")["A"] == Decimal("30.00")
    assert col(audited, "roi_pct")["A"] == pytest.approx((60 - 30) / 30 * 100)  # margin 150 × 0.40 = 60
    assert col(audited, "branch_commissions")["A"] == Decimal("69.80")  # the whole network, as paid


def test_audit_flags_differences_above_tolerance(audited: mlmroi.Result) -> None:
    assert col(audited, "commission_difference")["A"] == Decimal("5.50")
    assert col(audited, "commission_flag") == {
        "A": True,
        "B": False,
        "C": False,
        "D": False,
        "E": False,
        "F": False,
    }
    audit = run_json(audited)["totals"]["audit"]
    assert audit == {
        "paid": "69.80",
        "computed": "64.50",
        "difference": "5.30",
        "tolerance": "0.50",
        "participants_flagged": 1,
    }
    assert run_json(audited)["totals"]["commissions"] == "69.80"


def test_paid_rows_are_validated_and_counted(audited: mlmroi.Result) -> None:
    rejects = audited.rejects.filter(pl.col("table") == "commissions")
    assert rejects.select("row", "reason").rows() == [
        (5, "missing amount"),
        (6, "unknown participant_id (not in participants)"),
    ]
    assert run_json(audited)["rows"]["commissions"] == {
        "in": 6,
        "used": 4,
        "rejected": 2,
        "joined_after_window": 0,
        "outside_window": 1,
    }


def test_without_a_commissions_table_there_is_no_audit(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, ORACLE_PARTICIPANTS, ORACLE_ORDERS, config=PLAN)
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    assert "audit" not in run_json(result)["totals"]
    assert "commissions_paid" not in result.participants.columns
