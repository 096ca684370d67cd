"""Customer value in a scoring run: CLV columns, branch CLV, the holdout check, failure without a crash."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl

import mlmroi
from mlmroi.config import parse_config
from tests.helpers import write_dataset

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def sample(**value: object) -> mlmroi.Result:
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    return mlmroi.score(SAMPLE, parse_config(base | {"value": base["value"] | value}))


def test_clv_columns_and_branch_clv_on_the_sample() -> None:
    result = sample()
    people = result.participants
    model = result.run["value"]["model"]
    assert model["status"] == "fitted"
    assert {"r", "alpha", "a", "b", "log_likelihood"} <= set(model["bgnbd"])
    assert {"p", "q", "gamma"} <= set(model["gamma_gamma"])
    assert (people["clv_predicted"] >= 0).all()
    alive = people["p_alive"].drop_nulls()
    assert alive.len() == result.run["value"]["customers"] and ((alive >= 0) & (alive <= 1)).all()
    # Participants without a purchase have no model figures and no predicted value.
    none = people.filter(pl.col("p_alive").is_null())
    assert (none["orders"] == 0).all() and (none["clv_predicted"] == 0).all()
    # Branch CLV is the subtree sum: at the roots it is the whole network's predicted CLV, to the cent.
    roots = people.filter(pl.col("sponsor_id").is_null())
    assert roots["branch_clv"].sum() == people["clv_predicted"].sum()
    assert Decimal(result.run["totals"]["clv_predicted"]) == people["clv_predicted"].sum()
    assert (people["clv_historic"] == people["margin"]).all()
    # The segment table's mean CLV is the mean of clv_predicted per value.
    a = result.segments.filter((pl.col("segmentation") == "abc") & (pl.col("value") == "A")).row(
        0, named=True
    )
    mean = people.filter(pl.col("abc") == "A")["clv_predicted"].mean()
    assert abs(float(a["mean_clv"]) - float(mean)) <= 0.01  # type: ignore[arg-type]


def test_holdout_check_totals_and_segments() -> None:
    result = sample(holdout_periods=3)
    holdout = result.outputs["holdout"]
    total = holdout.filter(pl.col("segmentation") == "total").row(0, named=True)
    summary = result.run["value"]["holdout"]
    assert total["actual"] == summary["actual_purchase_weeks"] > 0
    assert abs(total["expected"] - summary["expected_purchase_weeks"]) < 0.01
    for name in ("abc", "xyz", "rfm_segment", "lifecycle"):
        rows = holdout.filter(pl.col("segmentation") == name)
        assert rows["actual"].sum() == total["actual"]
        assert abs(rows["expected"].sum() - total["expected"]) < 0.05
    assert result.run["value"]["calibration_weeks"] + result.run["value"]["holdout_weeks"] == 53


def test_clv_formula_article_example(tmp_path: Path) -> None:
    # ORACLES.md 5 (seeds/002): 100 EUR a month for 24 months -> 2,400 EUR.
    people = "participant_id,sponsor_id,joined_on\n1,,2024-01-01\n2,1,2024-01-01\n"
    orders = "participant_id,ordered_on,amount\n" + "".join(f"1,2025-{m:02d}-10,100\n" for m in range(1, 13))
    config = "[window]\nstart = 2025-01-01\nend = 2025-12-31\n[value]\nlifetime_months = 24\n"
    result = mlmroi.score(
        write_dataset(tmp_path, people, orders, config=config), mlmroi.load_config(dataset=tmp_path)
    )
    first = result.participants.filter(pl.col("participant_id") == 1).row(0, named=True)
    assert first["clv_formula"] == Decimal("2400.00")


def test_a_model_that_cannot_fit_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    people = "participant_id,sponsor_id,joined_on\n1,,2024-01-01\n2,1,2024-01-01\n3,1,2024-01-01\n"
    orders = "participant_id,ordered_on,amount\n1,2025-01-05,100\n1,2025-02-05,100\n2,2025-01-07,50\n"
    folder = write_dataset(
        tmp_path, people, orders, config="[window]\nstart = 2025-01-01\nend = 2025-06-30\n"
    )
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    model = result.run["value"]["model"]
    assert model["status"] == "failed" and "repeat buyers" in model["reason"] and "\n" not in model["reason"]
    assert result.warnings == [f"CLV model not fitted: {model['reason']}"]
    assert result.participants["p_alive"].null_count() == 3
    assert "clv_predicted" not in result.run["totals"]
