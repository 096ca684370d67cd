"""Pushdown: a run reads only the order rows from the previous window's start to the window end (a
database's WHERE, Parquet row groups by their date statistics) plus a per-participant summary of the
earlier orders — and writes the same participants, commissions, segments and holdout byte for byte as a run
that reads every row. Rows whose date is missing or unreadable are still sent and rejected."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import mlmroi
from mlmroi.config import Config, parse_config
from tests.servers import load_postgres

OUTPUTS = ("participants.parquet", "commissions.parquet", "segments.parquet", "holdout.parquet")
WINDOW = {"start": dt.date(2025, 4, 1), "end": dt.date(2025, 12, 31), "period": "month"}
TABLES = {
    "participants": "pd_members",
    "orders": "pd_orders",
    "costs": "pd_costs",
    "events": "pd_events",
    "leads": "pd_leads",
}


def _config(pushdown: bool = True, **extra: Any) -> Config:
    return parse_config(
        {"window": WINDOW, "value": {"holdout_periods": 3}, "input": {"pushdown": pushdown}} | extra
    )


def _written(result: mlmroi.Result, folder: Path) -> dict[str, Any]:
    mlmroi.write(result, folder)
    run: dict[str, Any] = json.loads((folder / "run.json").read_text())
    return run


def _same_tables(a: Path, b: Path) -> None:
    for name in OUTPUTS:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def parquet_dataset(two_years: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two-year dataset with its orders as Parquet sorted by date, in row groups of 2,000 rows."""
    folder = tmp_path_factory.mktemp("parquet_orders")
    for path in two_years.iterdir():
        if path.name != "orders.csv":
            shutil.copy(path, folder / path.name)
    orders = pl.read_csv(two_years / "orders.csv", try_parse_dates=True).sort("ordered_on", "order_id")
    orders.write_parquet(folder / "orders.parquet", row_group_size=2000, statistics=True)
    return folder


def test_parquet_row_groups_outside_the_reach_are_not_read(
    two_years: Path, parquet_dataset: Path, tmp_path: Path
) -> None:
    every_row = _written(mlmroi.score(two_years, _config()), tmp_path / "csv")
    narrowed = _written(mlmroi.score(parquet_dataset, _config()), tmp_path / "pushed")
    _same_tables(tmp_path / "csv", tmp_path / "pushed")
    assert narrowed["totals"] == every_row["totals"]
    assert narrowed["segments"]["churn"] == every_row["segments"]["churn"]
    orders, history = narrowed["rows"]["orders"], narrowed["rows"]["order_history"]
    total = every_row["rows"]["orders"]["in"]
    # The reach starts 2024-07-01 (the nine months before April 2025): the first half of 2024 is summarised.
    before = pl.read_csv(two_years / "orders.csv", try_parse_dates=True).filter(
        pl.col("ordered_on") < dt.date(2024, 7, 1)
    )
    assert orders["not_read"] >= before.height - 2000  # all but the group straddling 2024-07-01
    assert orders["in"] + orders["not_read"] == total
    assert history["in"] == before["participant_id"].n_unique()


def test_pushdown_off_reads_every_row(parquet_dataset: Path, tmp_path: Path) -> None:
    run = _written(mlmroi.score(parquet_dataset, _config(pushdown=False)), tmp_path / "all")
    assert "not_read" not in run["rows"]["orders"] and "order_history" not in run["rows"]
    on = _written(mlmroi.score(parquet_dataset, _config()), tmp_path / "on")
    _same_tables(tmp_path / "all", tmp_path / "on")
    assert run["rows"]["orders"]["in"] == on["rows"]["orders"]["in"] + on["rows"]["orders"]["not_read"]


def test_a_window_covering_every_row_group_reads_them_all(parquet_dataset: Path, tmp_path: Path) -> None:
    config = parse_config({"window": {"start": dt.date(2025, 1, 1), "end": dt.date(2025, 12, 31)}})
    run = _written(mlmroi.score(parquet_dataset, config), tmp_path / "out")
    assert "not_read" not in run["rows"]["orders"]  # the reach (2024–2025) is the whole file


def _load_postgres(uri: str, dataset: Path, bad_dates: bool) -> None:
    adbc = pytest.importorskip("adbc_driver_postgresql.dbapi", reason="the db extra is not installed")
    load_postgres(uri, dataset, TABLES)
    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        if bad_dates:  # a row with no date and one dated infinity: sent anyway, and rejected
            cursor.execute(
                f"INSERT INTO {TABLES['orders']} (order_id, participant_id, ordered_on, amount) "
                "VALUES (900001, 1, NULL, 10.00), (900002, 1, 'infinity', 10.00)"
            )
            cursor.execute(f"ALTER TABLE {TABLES['orders']} ALTER COLUMN ordered_on TYPE DATE")
        connection.commit()


def test_postgres_sends_only_the_reach_and_a_summary(pg_uri: str, two_years: Path, tmp_path: Path) -> None:
    _load_postgres(pg_uri, two_years, bad_dates=True)
    config = _config(source={"uri": pg_uri, "tables": TABLES})
    pushed = _written(mlmroi.score(tmp_path / "none", config), tmp_path / "db")
    every_row = _written(mlmroi.score(two_years, _config()), tmp_path / "csv")
    _same_tables(tmp_path / "csv", tmp_path / "db")
    orders = pushed["rows"]["orders"]
    csv_orders = every_row["rows"]["orders"]
    assert orders["rejected"] == 2  # the missing date and the infinite one were sent and rejected
    assert orders["in"] - 2 + orders["not_read"] == csv_orders["in"]
    assert orders["not_read"] > 0 and pushed["rows"]["order_history"]["in"] > 0
    sql = pushed["inputs"]["orders"]["sql"]
    assert "WHERE NOT COALESCE(" in sql and "DATE '2024-07-01'" in sql and "DATE '2025-12-31'" in sql
    assert pushed["inputs"]["orders"]["not_read"] == orders["not_read"]
    assert pushed["inputs"]["orders"]["rows"] == orders["in"]


def test_mysql_sends_only_the_reach(
    mysql_server: tuple[str, list[str]], two_years: Path, tmp_path: Path
) -> None:
    pytest.importorskip("connectorx", reason="the db extra is not installed")
    from tests.test_sources_mysql import load

    uri, client = mysql_server
    for name, table in TABLES.items():
        load(
            client,
            pl.read_csv(two_years / f"{name}.csv", try_parse_dates=True, infer_schema_length=None),
            table,
        )
    config = _config(source={"uri": uri, "tables": TABLES})
    pushed = _written(mlmroi.score(tmp_path / "none", config), tmp_path / "db")
    _written(mlmroi.score(two_years, _config()), tmp_path / "csv")
    _same_tables(tmp_path / "csv", tmp_path / "db")
    assert pushed["rows"]["orders"]["not_read"] > 0


def test_validate_checks_the_rows_score_does_not_read(parquet_dataset: Path, tmp_path: Path) -> None:
    """A bad row years before the window: score (pushed down) does not read it; validate reads every row."""
    from typer.testing import CliRunner

    from mlmroi_cli.main import app

    folder = tmp_path / "data"
    shutil.copytree(parquet_dataset, folder)
    orders = pl.read_parquet(folder / "orders.parquet")
    orders = orders.with_columns(
        pl.when(pl.int_range(pl.len()) == 5).then(None).otherwise(pl.col("amount")).alias("amount")
    )
    orders.write_parquet(folder / "orders.parquet", row_group_size=2000, statistics=True)
    (folder / "mlmroi.toml").write_text(f"[window]\nstart = {WINDOW['start']}\nend = {WINDOW['end']}\n")
    scored = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    assert scored.rejects.filter(pl.col("table") == "orders").height == 0
    checked = CliRunner().invoke(app, ["validate", str(folder)])
    assert checked.exit_code == 1 and "missing amount" in checked.output
