"""Customer value in a scoring run: purchase histories, CLV columns, branch CLV, the holdout check, MBG/NBD,
failure without a crash."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config
from mlmroi.customer_value import _spend_rows, purchase_summary
from mlmroi.periods import PurchaseDays, Window, aggregate_orders
from mlmroi.value import BgNbdFit, GammaGammaFit, expected_order_value, expected_purchases
from tests.helpers import write_dataset
from tests.runjson import run_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
GG_FIELDS = ("p", "q", "gamma", "log_likelihood", "customers", "iterations")


def sample(**value: object) -> mlmroi.Result:
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    return mlmroi.score(SAMPLE, parse_config(base | {"value": base["value"] | value}))


def test_clv_columns_and_branch_clv_on_the_sample() -> None:
    result = sample()
    people = result.participants
    model = run_json(result)["value"]["model"]
    assert model["status"] == "fitted"
    assert {"r", "alpha", "a", "b", "log_likelihood"} <= set(model["bgnbd"])
    assert {"p", "q", "gamma"} <= set(model["gamma_gamma"])
    assert (people["clv_predicted"] >= 0).all()
    alive = people["p_alive"].drop_nulls()
    assert alive.len() == run_json(result)["value"]["customers"] and ((alive >= 0) & (alive <= 1)).all()
    # Participants without a purchase have no model figures and no predicted value.
    none = people.filter(pl.col("p_alive").is_null())
    assert (none["orders"] == 0).all() and (none["clv_predicted"] == 0).all()
    # Branch CLV is the subtree sum: at the roots it is the whole network's predicted CLV, to the cent.
    roots = people.filter(pl.col("sponsor_id").is_null())
    assert roots["branch_clv"].sum() == people["clv_predicted"].sum()
    assert Decimal(run_json(result)["totals"]["clv_predicted"]) == people["clv_predicted"].sum()
    assert (people["clv_historic"] == people["margin"]).all()
    # The segment table's mean CLV is the mean of clv_predicted per value.
    a = result.segments.filter((pl.col("segmentation") == "abc") & (pl.col("value") == "A")).row(
        0, named=True
    )
    mean = people.filter(pl.col("abc") == "A")["clv_predicted"].mean()
    assert abs(float(a["mean_clv"]) - float(mean)) <= 0.01  # type: ignore[arg-type]


def sample_orders() -> pl.DataFrame:
    return pl.read_csv(SAMPLE / "orders.csv", try_parse_dates=True)


def purchase_days(orders: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Per participant, the distinct days in [start, end] with an order of positive amount."""
    return (
        orders.filter(pl.col("ordered_on").is_between(start, end) & (pl.col("amount") > 0))
        .group_by("participant_id")
        .agg(
            pl.col("ordered_on").n_unique().alias("days"),
            pl.col("ordered_on").min().alias("first"),
            pl.col("ordered_on").max().alias("last"),
        )
    )


def test_purchase_histories_are_distinct_days_in_fractional_weeks() -> None:
    """frequency, recency_weeks, T_weeks against the orders themselves (the sample has several orders on
    one day and non-positive amounts, which are no purchase)."""
    people = sample().participants
    expected = purchase_days(sample_orders(), dt.date(2025, 1, 1), dt.date(2025, 12, 31)).select(
        "participant_id",
        (pl.col("days") - 1).cast(pl.Float64).alias("x"),
        ((pl.col("last") - pl.col("first")).dt.total_days() / 7).alias("t_x"),
        ((pl.lit(dt.date(2025, 12, 31)) - pl.col("first")).dt.total_days() / 7).alias("T"),
    )
    joined = people.join(expected, on="participant_id", how="left")
    assert joined["frequency"].null_count() == joined["x"].null_count() > 0
    buyers = joined.drop_nulls("x")
    assert (buyers["frequency"] == buyers["x"]).all()
    assert (buyers["recency_weeks"] - buyers["t_x"]).abs().max() < 1e-6  # type: ignore[operator]
    assert (buyers["T_weeks"] - buyers["T"]).abs().max() < 1e-6  # type: ignore[operator]


def test_holdout_check_totals_and_segments() -> None:
    result = sample(holdout_periods=3)
    holdout = result.outputs["holdout"]
    total = holdout.filter(pl.col("segmentation") == "total").row(0, named=True)
    summary = run_json(result)["value"]["holdout"]
    assert total["actual"] == summary["actual_purchase_days"] > 0
    assert abs(total["expected"] - summary["expected_purchase_days"]) < 0.01
    for name in ("abc", "xyz", "rfm_segment", "lifecycle"):
        rows = holdout.filter(pl.col("segmentation") == name)
        assert rows["actual"].sum() == total["actual"]
        assert abs(rows["expected"].sum() - total["expected"]) < 0.05
    assert summary["fit"] == "calibration part (2025-01-01 to 2025-09-30)"
    assert summary["holdout"] == "2025-10-01 to 2025-12-31" and summary["weeks"] == round(92 / 7, 4)
    # Both models side by side, the selected one's figures in the totals and the columns.
    models = summary["models"]
    assert set(models) == {"bgnbd", "mbgnbd"} and summary["model"] == "bgnbd"
    for fit in models.values():
        assert (
            fit["status"] == "fitted"
            and fit["expected"] > 0
            and {"r", "alpha", "a", "b"} == set(fit["params"])
        )
        assert fit["log_likelihood"] < 0
    assert models["bgnbd"]["expected"] == summary["expected_purchase_days"]
    assert models["mbgnbd"]["params"] != models["bgnbd"]["params"]


def test_holdout_actual_counts_purchase_days_of_calibration_buyers() -> None:
    people = sample(holdout_periods=3).participants
    orders = sample_orders()
    calibration = purchase_days(orders, dt.date(2025, 1, 1), dt.date(2025, 9, 30)).select("participant_id")
    held = purchase_days(orders, dt.date(2025, 10, 1), dt.date(2025, 12, 31)).join(
        calibration, on="participant_id"
    )
    joined = people.join(held, on="participant_id", how="left").with_columns(pl.col("days").fill_null(0))
    assert (joined["holdout_actual"] == joined["days"]).all()
    # Participants who first bought in the holdout are neither predicted nor counted.
    late = people.filter(
        pl.col("holdout_actual").eq(0) & pl.col("holdout_expected").eq(0) & pl.col("orders").gt(0)
    )
    assert late.height > 0


def test_the_run_figures_come_from_the_whole_window_with_or_without_a_holdout() -> None:
    plain, checked = sample(), sample(holdout_periods=3)
    assert run_json(plain)["value"]["model"] == run_json(checked)["value"]["model"]
    for column in ("p_alive", "expected_purchases", "clv_predicted", "frequency", "T_weeks"):
        assert plain.participants[column].equals(checked.participants[column]), column
    assert "holdout_expected" not in plain.participants.columns


def test_mbgnbd_model() -> None:
    result = sample(model="mbgnbd", holdout_periods=2)
    value = run_json(result)["value"]
    assert value["model"]["status"] == "fitted" and value["model"]["selected"] == "mbgnbd"
    assert {"r", "alpha", "a", "b"} <= set(value["model"]["mbgnbd"]) and "bgnbd" not in value["model"]
    assert value["holdout"]["model"] == "mbgnbd"
    assert value["holdout"]["expected_purchase_days"] == value["holdout"]["models"]["mbgnbd"]["expected"]
    people = result.participants
    # One-time buyers can have left: p_alive below 1, lower the longer ago their purchase (BG/NBD: 1.0).
    once = people.filter(pl.col("frequency") == 0).sort("T_weeks")
    assert once.height > 2 and (once["p_alive"] < 1).all()
    assert once["p_alive"].head(1).item() > once["p_alive"].tail(1).item()
    plain = sample().participants.filter(pl.col("frequency") == 0)
    assert (plain["p_alive"] == 1.0).all()


def test_model_none_keeps_the_purchase_histories() -> None:
    people = sample(model="none").participants
    assert people["p_alive"].null_count() == people.height
    assert people["frequency"].drop_nulls().len() > 0


def test_a_holdout_that_cannot_be_fitted_is_a_warning(tmp_path: Path) -> None:
    """Customers drawn from BG/NBD itself, all first buying in the last days of November: the whole window
    fits, the calibration part (to 30 November) has too little history to identify the model, so the
    holdout check says why it is missing, and the run completes with the run's figures."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(300):
        rate, dropout = rng.gamma(0.7, 1 / 5.0), rng.beta(0.8, 2.5)  # per day
        day = 326.0 + int(rng.integers(0, 8))
        days = {int(day)}
        while (day := day + rng.exponential(1 / rate)) <= 364:
            days.add(int(day))
            if rng.random() < dropout:
                break
        rows += [f"{i},{dt.date(2025, 1, 1) + dt.timedelta(days=d)},{30 + 7 * (i % 9) + d % 5}" for d in days]
    people = "participant_id,sponsor_id,joined_on\n" + "".join(f"{i},,2024-01-01\n" for i in range(300))
    orders = "participant_id,ordered_on,amount\n" + "\n".join(rows) + "\n"
    config = "[window]\nstart = 2025-01-01\nend = 2025-12-31\n[value]\nholdout_periods = 1\n"
    folder = write_dataset(tmp_path, people, orders, config=config)
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    value = run_json(result)["value"]
    assert value["model"]["status"] == "fitted" and result.participants["p_alive"].null_count() == 0
    failed = value["holdout"]["models"]["bgnbd"]
    assert failed["status"] == "failed" and "bound" in failed["reason"] and "\n" not in failed["reason"]
    assert value["holdout"]["expected_purchase_days"] is None
    assert result.warnings[-1] == f"CLV holdout check not fitted: {failed['reason']}"
    assert "holdout" not in result.outputs and "holdout_expected" not in result.participants.columns


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
    model = run_json(result)["value"]["model"]
    assert model["status"] == "failed" and "repeat buyers" in model["reason"] and "\n" not in model["reason"]
    assert result.warnings[-1] == f"CLV model not fitted: {model['reason']}"  # after: no plan
    assert result.participants["p_alive"].null_count() == 3
    assert "clv_predicted" not in run_json(result)["totals"]


@pytest.mark.parametrize("days", [1, 63, 64, 65, 200, 365, 731])
def test_purchase_summary_kernel_against_a_loop_over_days(days: int) -> None:
    """The popcount / highest-bit summary of the purchase-day bits equals counting day by day, for every
    calibration split (word boundaries included)."""
    rng = np.random.default_rng(days)
    n = 40
    bought = rng.random((n, days)) < rng.choice([0.0, 0.01, 0.2, 1.0], size=(n, 1))
    purchases = PurchaseDays.allocate(n, days)
    for v, d in zip(*np.nonzero(bought), strict=True):
        purchases.bits[d // 64, v] |= np.uint64(1) << np.uint64(d % 64)
        purchases.first_day[v] = min(int(purchases.first_day[v]), int(d))
    for split in sorted({1, days // 2, 63, 64, 65, 128, days} & set(range(1, days + 1))):
        node, first, last, count, last_early, count_early = purchase_summary(
            purchases.bits, purchases.first_day, days, split
        )
        assert list(node) == [v for v in range(n) if bought[v].any()]
        for j, v in enumerate(node):
            on = np.flatnonzero(bought[v])
            early = on[on < split]
            assert (first[j], last[j], count[j]) == (on[0], on[-1], on.size)
            assert (last_early[j], count_early[j]) == ((early[-1], early.size) if early.size else (-1, 0))


def test_order_pass_records_purchase_days_and_the_first_days_amount() -> None:
    """Positive orders set their day's bit (orders before the window and returns set none); the first
    purchase day's positive orders are summed, in whatever order and chunks the orders come."""
    window = Window(dt.date(2025, 1, 1), dt.date(2025, 12, 31), "month")
    orders = pl.DataFrame(
        {
            "node": [0, 0, 0, 0, 0, 1, 1, 2, 2],
            "ordered_on": [
                *("2025-03-05", "2025-01-10", "2025-01-10", "2025-12-31", "2024-12-31"),
                *("2025-02-01", "2025-01-01"),
                *("2025-05-01", "2025-04-01"),
            ],
            "amount": [700, 100, 250, 50, 9999, 300, -40, 0, -10],
        }
    ).with_columns(
        pl.col("ordered_on").str.to_date(),
        volume=pl.col("amount"),
        cost=pl.lit(None, dtype=pl.Int64),
        retail=pl.lit(False),
    )
    for chunks in ([orders], [orders[:2], orders[2:]], [orders.reverse()]):
        days = aggregate_orders(chunks, 3, window, 0.4).purchase_days
        assert days.days == 365 and days.bits.shape == (6, 3)
        assert days.first_day.tolist() == [9, 31, 365]  # 365: none
        assert days.first_amount.tolist() == [350, 300, 0]
        node, first, last, count, *_ = purchase_summary(days.bits, days.first_day, 365, 365)
        assert (node.tolist(), first.tolist(), last.tolist(), count.tolist()) == (
            [0, 1],
            [9, 31],
            [364, 31],
            [3, 1],
        )


def test_clv_predicted_recomputed_from_the_orders_and_the_published_fit() -> None:
    """clv_predicted = Σ_m (expected purchase days in month m) × (1 + d)^−m × Gamma-Gamma expected order
    value × margin rate, the order value from the mean of the repeat purchase days (net revenue without the
    first purchase day's positive orders, / x; returns lower it; not positive: the population mean)."""
    result = sample()
    value = run_json(result)["value"]
    fit = BgNbdFit(**{k: v for k, v in value["model"]["bgnbd"].items() if k != "model"})
    spend = GammaGammaFit(**{k: v for k, v in value["model"]["gamma_gamma"].items() if k in GG_FIELDS})
    end = dt.date(2025, 12, 31)
    orders = sample_orders().filter(pl.col("ordered_on") <= end)
    histories = purchase_days(orders, dt.date(2025, 1, 1), end)
    first_day = (
        orders.join(histories, on="participant_id")
        .filter((pl.col("ordered_on") == pl.col("first")) & (pl.col("amount") > 0))
        .group_by("participant_id")
        .agg(pl.col("amount").sum().alias("first_amount"))
    )
    people = (
        result.participants.join(histories, on="participant_id")
        .join(first_day, on="participant_id")
        .with_columns(
            x=pl.col("days") - 1,
            t_x=(pl.col("last") - pl.col("first")).dt.total_days() / 7,
            T=(pl.lit(end) - pl.col("first")).dt.total_days() / 7,
            repeat=pl.col("revenue").cast(pl.Float64) - pl.col("first_amount"),
        )
    )
    x = people["x"].to_numpy().astype(np.float64)
    t_x, T = people["t_x"].to_numpy(), people["T"].to_numpy()
    repeat = people["repeat"].to_numpy()
    spender = (x > 0) & (repeat > 0.005)
    assert value["model"]["gamma_gamma"]["customers"] == int(spender.sum()) < int((x > 0).sum())
    months = np.arange(1, 13)
    cumulative = np.stack([expected_purchases(fit, m * 52 / 12, x, t_x, T) for m in months])
    discounted = (np.diff(cumulative, axis=0, prepend=0.0) * 1.01 ** -months[:, None]).sum(axis=0)
    mean = np.where(spender, repeat / np.maximum(x, 1), 0.0)
    order_value = expected_order_value(spend, np.where(spender, x, 0), mean)
    clv = discounted * order_value * value["margin_rate"]
    got = people["clv_predicted"].cast(pl.Float64).to_numpy()
    assert np.abs(got - clv).max() < 0.02
    np.testing.assert_allclose(people["expected_purchases"].to_numpy(), cumulative[-1], atol=1e-6)


def test_spend_rows_aggregate_exactly_and_fall_back_for_huge_values() -> None:
    """The Gamma-Gamma rows: repeat buyers with a positive repeat value, (x, mean in currency units) sorted
    and counted; a value past the packed key's range leaves the aggregation to the fit."""
    x = np.array([2, 1, 2, 0, 3, 2], dtype=np.int32)
    value = np.array([1000, 500, 1000, 700, -30, 999], dtype=np.int64)
    frequency, mean, weight = _spend_rows(x, value, 2)
    assert frequency.tolist() == [1.0, 2.0, 2.0] and weight.tolist() == [1.0, 1.0, 2.0]
    assert mean.tolist() == [5.0, 4.995, 5.0]
    huge = value.copy()
    huge[0] = 1 << 51
    frequency, mean, weight = _spend_rows(x, huge, 2)
    assert frequency.tolist() == [2.0, 1.0, 2.0, 2.0] and weight.tolist() == [1.0] * 4
    assert mean[0] == (1 << 51) / 100 / 2
