"""Churn and conversion from the segments at the window start (mlmroi/segments/churn.py).

The oracle is an independent run over the previous window: its segments, read back from its own
participants.parquet, are the segments at the start of the later run, and churn / conversion are counted
from the two runs' tables with polars."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.config import parse_config, with_overrides
from mlmroi.periods import Window
from mlmroi.synth import generate
from mlmroi_cli.main import app
from tests.runjson import run_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
BEHAVIOUR = ("abc", "abcd", "xyz", "abcxyz", "rfm_segment", "bcg", "lifecycle", "loyalty_type")


@pytest.fixture(scope="module")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, mlmroi.Result, mlmroi.Result]:
    """A generated dataset with orders through 2024 and 2025: the 2025 run and the 2024 run."""
    folder = tmp_path_factory.mktemp("churn") / "data"
    generate(folder, 2500, months=24, seed=3, start=dt.date(2024, 1, 1))
    base = mlmroi.load_config(dataset=folder)
    later = mlmroi.score(folder, with_overrides(base, dt.date(2025, 1, 1), dt.date(2025, 12, 31)))
    earlier = mlmroi.score(folder, with_overrides(base, dt.date(2024, 1, 1), dt.date(2024, 12, 31)))
    return folder, later, earlier


def _expected(later: mlmroi.Result, earlier: mlmroi.Result, name: str) -> pl.DataFrame:
    """Per value of ``name`` at the start (the earlier run's label): churn and its base, from the tables."""
    now = later.participants.select("participant_id", (pl.col("orders") > 0).alias("buys_now"))
    then = earlier.participants.select(
        "participant_id", pl.col(name).cast(pl.String).alias("value"), (pl.col("orders") > 0).alias("bought")
    )
    joined = then.join(now, on="participant_id", how="left").filter(pl.col("bought"))
    return joined.group_by("value").agg(
        pl.len().alias("churn_base"), (~pl.col("buys_now").fill_null(False)).sum().alias("lost")
    )


def test_segment_churn_is_counted_from_the_previous_windows_own_labels(
    two_years: tuple[Path, mlmroi.Result, mlmroi.Result],
) -> None:
    _, later, earlier = two_years
    table = later.segments
    circular = 0
    for name in BEHAVIOUR:
        rows = table.filter(pl.col("segmentation") == name).select("value", "churn_base", "churn_rate")
        expected = _expected(later, earlier, name)
        got = rows.join(expected, on="value", how="left").with_columns(
            pl.col("churn_base_right").fill_null(0), pl.col("lost").fill_null(0)
        )
        assert got["churn_base"].to_list() == got["churn_base_right"].to_list(), name
        for base, rate, lost in got.select("churn_base", "churn_rate", "lost").iter_rows():
            if base:
                assert rate == pytest.approx(lost / base, abs=1e-12), name
                circular += base >= 20 and rate in (0.0, 1.0)
            else:
                assert rate is None
    # Not circular: segments defined by buying keep informative churn (the issue measured 26 of 38 values
    # at exactly 0 or 1 when the labels came from the window itself); here only 2024's 94 champions all
    # came back.
    assert circular <= 2
    rates = dict(table.filter(pl.col("segmentation") == "abc").select("value", "churn_rate").iter_rows())
    assert 0 < rates["A"] < rates["C"] < 1  # the best customers of 2024 churn least


def test_company_churn_is_reported_and_is_the_all_row(
    two_years: tuple[Path, mlmroi.Result, mlmroi.Result],
) -> None:
    _, later, earlier = two_years
    churn = run_json(later)["segments"]["churn"]
    everyone = _expected(later, earlier, "abc").select(pl.sum("churn_base"), pl.sum("lost")).row(0)
    assert churn["previous_window"] == {"start": "2024-01-01", "end": "2024-12-31"}
    assert churn["previous_buyers"] == everyone[0]
    assert churn["retained"] == everyone[0] - everyone[1]
    assert churn["rate"] == pytest.approx(everyone[1] / everyone[0], abs=1e-6)
    assert churn["months"] == 12
    assert churn["monthly_rate"] == pytest.approx(1 - (1 - churn["rate"]) ** (1 / 12), abs=1e-6)
    row = later.segments.row(0, named=True)
    assert (row["segmentation"], row["value"]) == ("all", "all")
    assert row["churn_rate"] == pytest.approx(churn["rate"], abs=1e-6)
    assert row["participants"] == later.participants.height
    assert row["buyers"] == later.participants.filter(pl.col("orders") > 0).height
    assert str(row["revenue"]) == run_json(later)["totals"]["revenue"]
    assert row["roi_pct"] == pytest.approx(run_json(later)["totals"]["roi_pct"], abs=1e-3)


def test_clv_formula_lifetime_is_one_over_the_monthly_churn(
    two_years: tuple[Path, mlmroi.Result, mlmroi.Result],
) -> None:
    folder, later, _ = two_years
    config = with_overrides(mlmroi.load_config(dataset=folder), dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    config = parse_config(config.model_dump() | {"value": {"model": "none", "lifetime_months": None}})
    value = run_json(mlmroi.score(folder, config))["value"]
    monthly = run_json(later)["segments"]["churn"]["monthly_rate"]
    assert f"{monthly:.4f}" in value["lifetime_source"]
    assert value["lifetime_months"] == pytest.approx(1 / monthly, rel=1e-3)


def test_conversion_counts_who_had_never_bought(
    two_years: tuple[Path, mlmroi.Result, mlmroi.Result],
) -> None:
    folder, later, _ = two_years
    orders = pl.read_csv(folder / "orders.csv", try_parse_dates=True)
    before = (
        orders.filter((pl.col("ordered_on") < dt.date(2025, 1, 1)) & (pl.col("amount") > 0))
        .select("participant_id")
        .unique()
    )
    fresh = later.participants.join(before, on="participant_id", how="anti")
    converted = fresh.filter(pl.col("orders") > 0).height
    assert run_json(later)["segments"]["conversion"] == {
        "base": fresh.height,
        "converted": converted,
        "rate": round(converted / fresh.height, 6),
    }
    row = later.segments.row(0, named=True)
    assert row["conversion_base"] == fresh.height
    assert row["conversion"] == pytest.approx(converted / fresh.height)
    # Per segment, members at the start who had never bought: the earlier run's prospects convert at a
    # rate strictly between 0 and 1, and its customers (who bought) are no one's base.
    life = dict(
        later.segments.filter(pl.col("segmentation") == "lifecycle").select("value", "conversion").iter_rows()
    )
    assert 0 < life["prospect"] < 1
    assert life["customer"] is None
    # Every row's base adds up to the company's, in every segmentation (newcomers included).
    bases = later.segments.group_by("segmentation").agg(pl.sum("conversion_base"))
    assert set(bases["conversion_base"].to_list()) == {fresh.height}


def test_without_earlier_orders_churn_is_unknown_and_said_once(tmp_path: Path) -> None:
    result = mlmroi.score(SAMPLE, mlmroi.load_config(dataset=SAMPLE))
    assert "note" in run_json(result)["segments"]["churn"]
    assert result.segments["churn_rate"].null_count() == result.segments.height
    per_segment = result.segments.filter(pl.col("segmentation") != "all")
    assert per_segment["conversion"].null_count() == per_segment.height
    row = result.segments.row(0, named=True)
    assert row["conversion"] == pytest.approx(row["buyers"] / row["participants"])
    out = CliRunner().invoke(app, ["score", str(SAMPLE), "--out", str(tmp_path / "run")])
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert text.count("no orders before the window start") == 1


def test_the_previous_window_is_whole_months_when_the_window_is() -> None:
    year = Window(dt.date(2025, 1, 1), dt.date(2025, 12, 31), "month")
    assert year.previous() == Window(dt.date(2024, 1, 1), dt.date(2024, 12, 31), "month")
    assert year.months == 12
    quarter = Window(dt.date(2025, 3, 1), dt.date(2025, 5, 31), "month")
    assert quarter.previous() == Window(dt.date(2024, 12, 1), dt.date(2025, 2, 28), "month")
    odd = Window(dt.date(2025, 1, 15), dt.date(2025, 2, 14), "week")
    assert odd.previous() == Window(dt.date(2024, 12, 15), dt.date(2025, 1, 14), "week")
    assert odd.months == pytest.approx(31 / 30.4375)
