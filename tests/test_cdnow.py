"""End to end on the public CDNOW sample: its transactions as participants and orders, scored by
``mlmroi.score`` over the papers' 39-week calibration period, reproduce the published BG/NBD and
Gamma-Gamma estimates and the published per-customer summary (Fader & Hardie's convention: purchases on
distinct days, recency and T in fractional weeks, the mean of the repeat transactions)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config
from mlmroi.value import BgNbdFit, p_alive
from tests.runjson import run_json

DATA = Path(__file__).parent / "data"
START, END = dt.date(1997, 1, 1), dt.date(1997, 9, 30)
# Fader, Hardie & Lee (2005) and Fader & Hardie's Gamma-Gamma note; ORACLES.md "Customer value".
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def transactions() -> pl.DataFrame:
    """CDNOW_sample.txt: customer id, sample id (the summary files' ID), date, CDs, dollar value."""
    rows = [line.split() for line in (DATA / "CDNOW_sample.txt").read_text().splitlines() if line.strip()]
    return pl.DataFrame(
        {
            "customer": [int(r[0]) for r in rows],
            "ID": [int(r[1]) for r in rows],
            "ordered_on": [dt.datetime.strptime(r[2], "%Y%m%d").date() for r in rows],
            "amount": [r[4] for r in rows],  # the dollar value as written: exact cents
        }
    )


def write_cdnow(folder: Path, model: str = "bgnbd") -> Path:
    """Every customer a participant (no sponsor, joined on their first purchase), every transaction an
    order, the window 1997-01-01 … 1997-09-30 in months."""
    folder.mkdir(parents=True, exist_ok=True)
    orders = transactions()
    people = orders.group_by("customer").agg(pl.col("ordered_on").min().alias("joined_on")).sort("customer")
    people.select(
        pl.col("customer").alias("participant_id"),
        pl.lit(None, dtype=pl.String).alias("sponsor_id"),
        "joined_on",
    ).write_csv(folder / "participants.csv")
    orders.select(pl.col("customer").alias("participant_id"), "ordered_on", "amount").write_csv(
        folder / "orders.csv"
    )
    (folder / "mlmroi.toml").write_text(
        f'[window]\nstart = {START}\nend = {END}\nperiod = "month"\n'
        f'[money]\ncurrency = "USD"\n[value]\nmodel = "{model}"\n',
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> mlmroi.Result:
    """One score run (BG/NBD; MBG/NBD's selection is tested on the sample in test_value_run.py, its
    estimates on this summary in test_value_models.py)."""
    folder = write_cdnow(tmp_path_factory.mktemp("cdnow"), "bgnbd")
    return mlmroi.score(folder, parse_config(mlmroi.load_config(dataset=folder).model_dump()))


def approx(figures: dict[str, Any], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert figures[name] == pytest.approx(value, rel=0.01), name


def test_published_bgnbd_and_gamma_gamma_estimates(result: mlmroi.Result) -> None:
    value = run_json(result)["value"]
    model = value["model"]
    assert model["status"] == "fitted" and model["selected"] == "bgnbd"
    assert model["fit"] == "whole window (1997-01-01 to 1997-09-30)"
    approx(model["bgnbd"], PUBLISHED_BGNBD)
    assert model["bgnbd"]["log_likelihood"] == pytest.approx(-9582.4, rel=0.001)
    # 8 of the 2,357 customers bought once, for $0.00: a purchase is a day with an order of positive
    # amount, so they are not buyers here (the papers count them, with x = 0).
    assert (model["bgnbd"]["customers"], model["bgnbd"]["repeat_buyers"]) == (2349, 946)
    assert value["customers"] == 2349
    spend = model["gamma_gamma"]
    approx(spend, PUBLISHED_GAMMA_GAMMA)  # γ in dollars, not cents
    assert spend["customers"] == 946 and "money_unit" in spend
    assert spend["mean_transaction_value"] == pytest.approx(6.25 * 15.44 / 2.74, rel=0.02)


def test_per_customer_summary_is_the_published_one(result: mlmroi.Result) -> None:
    summary = pl.read_csv(DATA / "cdnow_customers_summary.csv")
    ids = transactions().select(pl.col("customer").alias("participant_id"), "ID").unique()
    people = result.participants.join(ids, on="participant_id").join(summary, on="ID")
    assert people.height == 2357
    free = people.filter(pl.col("frequency").is_null())
    assert free.height == 8 and (free["orders"] == 0).all() and (free["frequency_right"] == 0).all()
    people = people.filter(pl.col("frequency").is_not_null())
    assert run_json(result)["value"]["repeat_purchases"] == summary["frequency"].sum() == 2457
    assert (people["frequency"] == people["frequency_right"]).all()
    assert (people["recency_weeks"] - people["recency"]).abs().max() < 0.01  # type: ignore[operator]
    assert (people["T_weeks"] - people["T"]).abs().max() < 0.01  # type: ignore[operator]
    # The first customer: purchases on 01-01, 01-18 and 08-02 (two on one day would be one).
    first = people.filter(pl.col("ID") == 1).row(0, named=True)
    assert (first["frequency"], first["recency_weeks"], first["T_weeks"]) == (2.0, 30.428571, 38.857143)


def test_p_alive_is_the_models_on_the_published_summary(result: mlmroi.Result) -> None:
    summary = pl.read_csv(DATA / "cdnow_customers_summary.csv")
    ids = transactions().select(pl.col("customer").alias("participant_id"), "ID").unique()
    fit = run_json(result)["value"]["model"]["bgnbd"]
    model = BgNbdFit(**{k: v for k, v in fit.items() if k != "model"})
    people = result.participants.join(ids, on="participant_id").join(summary, on="ID").drop_nulls("p_alive")
    expected = p_alive(model, people["frequency_right"], people["recency"], people["T"])
    assert (people["p_alive"] - expected).abs().max() < 0.001  # type: ignore[operator]  # 2-decimal weeks
