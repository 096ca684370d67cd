"""The warehouse path: the SQL ``mlmroi sql`` prints, run on DuckDB and on PostgreSQL over raw orders, makes
order_periods and order_history that ``score`` reads in place of the orders with byte-identical outputs —
over windows by month, week and quarter, with fast start, a holdout and orders years before the window."""

from __future__ import annotations

import datetime as dt
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.config import Config, parse_config
from mlmroi.errors import ConfigError, InputError
from mlmroi.io.warehouse import order_history_sql, order_periods_sql
from mlmroi.money import div_half_even
from mlmroi.periods import Window
from mlmroi.pipeline import order_sql
from mlmroi_cli.main import app
from tests.runjson import run_json
from tests.servers import load_postgres

duckdb = pytest.importorskip("duckdb", reason="the test extra is not installed")

ROOT = Path(__file__).resolve().parents[1]
PLAN = (ROOT / "benchmarks" / "plans" / "all_components.toml").read_text()
OUTPUTS = ("participants.parquet", "commissions.parquet", "segments.parquet", "holdout.parquet")
#: the dataset's tables in PostgreSQL under a company's own names
TABLES = {
    "participants": "wh_members",
    "orders": "wh_shop_orders",
    "costs": "wh_costs",
    "events": "wh_events",
    "leads": "wh_leads",
}
#: windows that start after the orders do (so segments at the start and order_history have rows)
WINDOWS: dict[str, dict[str, Any]] = {
    "months": {"start": dt.date(2025, 4, 1), "end": dt.date(2025, 12, 31), "period": "month"},
    "weeks": {"start": dt.date(2025, 3, 3), "end": dt.date(2025, 12, 28), "period": "week"},
    "quarters": {"start": dt.date(2025, 2, 15), "end": dt.date(2025, 11, 20), "period": "quarter"},
}


@pytest.fixture
def dataset(two_years: Path) -> Path:
    return two_years


def _config(window: str, **extra: Any) -> Config:
    import tomllib

    data = tomllib.loads(PLAN)
    data["window"] = WINDOWS[window]
    data["value"] = {"holdout_periods": 3 if window != "weeks" else 8}
    return parse_config(data | extra)


def _window(config: Config) -> Window:
    w = config.window
    assert w.start is not None and w.end is not None
    return Window(w.start, w.end, w.period)


def _duckdb(dataset: Path) -> Any:
    connection = duckdb.connect()
    header = (dataset / "orders.csv").read_text().splitlines()[0].split(",")
    money = {c: "DECIMAL(18,2)" for c in ("amount", "volume", "cost") if c in header}
    types = {"participant_id": "VARCHAR"} | money
    connection.execute(
        f"CREATE TABLE orders AS SELECT * FROM read_csv('{dataset}/orders.csv', types={types})"
    )
    connection.execute(
        f"CREATE TABLE participants AS SELECT * FROM read_csv('{dataset}/participants.csv', "
        "types={'participant_id': 'VARCHAR'})"
    )
    return connection


def _aggregated_folder(dataset: Path, target: Path) -> Path:
    """The dataset's tables without orders (order_periods and order_history go in their place)."""
    target.mkdir()
    for path in dataset.iterdir():
        if path.suffix == ".csv" and path.stem != "orders":
            shutil.copy(path, target / path.name)
    return target


def _same_outputs(a: mlmroi.Result, b: mlmroi.Result, tmp_path: Path) -> None:
    mlmroi.write(a, tmp_path / "a")
    mlmroi.write(b, tmp_path / "b")
    compared = 0
    for name in OUTPUTS:
        if (tmp_path / "a" / name).exists():
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
            compared += 1
    assert compared >= 3
    assert run_json(a)["totals"] == run_json(b)["totals"]
    assert run_json(a)["segments"]["churn"] == run_json(b)["segments"]["churn"]
    assert run_json(a)["value"] == run_json(b)["value"]


@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_duckdb_aggregates_score_like_the_raw_orders(dataset: Path, window: str, tmp_path: Path) -> None:
    config = _config(window)
    spec = order_sql(config, _window(config))
    folder = _aggregated_folder(dataset, tmp_path / "aggregated")
    connection = _duckdb(dataset)
    for name, sql in (("order_periods", order_periods_sql), ("order_history", order_history_sql)):
        connection.execute(f"COPY ({sql(spec, 'duckdb')}) TO '{folder / name}.parquet' (FORMAT parquet)")
    history = pl.read_parquet(folder / "order_history.parquet")
    assert history.height > 0 and history["last_purchase_before"].max() < spec.since  # type: ignore[operator]
    raw = mlmroi.score(dataset, config)
    aggregated = mlmroi.score(folder, config)
    assert run_json(raw)["segments"]["churn"].get("rate") is not None  # segments at the start were labelled
    assert aggregated.rejects.height == raw.rejects.filter(pl.col("table") != "orders").height
    _same_outputs(raw, aggregated, tmp_path)


def test_postgres_aggregates_score_like_the_raw_orders(pg_uri: str, dataset: Path, tmp_path: Path) -> None:
    """Raw orders under a company's own table and column names in PostgreSQL; the SQL made from the config's
    [source.tables] and [columns.orders] runs there; score reads the results from the database."""
    adbc = pytest.importorskip("adbc_driver_postgresql.dbapi", reason="the db extra is not installed")
    load_postgres(pg_uri, dataset, TABLES, {"orders": {"ordered_on": "order_date", "amount": "total"}})
    with adbc.connect(pg_uri) as connection, connection.cursor() as cursor:
        base = _config("months").model_dump()
        tables = {"participants": TABLES["participants"], "orders": TABLES["orders"]}
        columns = {"orders": {"order_date": "ordered_on", "total": "amount"}}
        spec = order_sql(
            parse_config(base | {"columns": columns, "source": {"uri": pg_uri, "tables": tables}}),
            _window(_config("months")),
        )
        for name, sql in (("wh_periods", order_periods_sql), ("wh_history", order_history_sql)):
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.execute(f"CREATE TABLE {name} AS {sql(spec, 'postgres')}")
        connection.commit()
    source = {
        "uri": pg_uri,
        "tables": {name: table for name, table in TABLES.items() if name != "orders"}
        | {"order_periods": "wh_periods", "order_history": "wh_history"},
    }
    aggregated = mlmroi.score(tmp_path / "nothing", parse_config(base | {"source": source}))
    raw = mlmroi.score(dataset, _config("months"))
    _same_outputs(raw, aggregated, tmp_path)


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_the_sql_rounds_each_orders_margin_half_to_even(engine: str, request: pytest.FixtureRequest) -> None:
    """Ties both ways and both signs: the margin of an order without cost is amount × rate rounded
    half-to-even, as the order pass rounds it (money.div_half_even)."""
    amounts = [125, 375, -125, -375, 1, -1, 2, -2, 3, 5, -5, 7, 0, 10**12 + 5, -(10**12) - 5]
    config = parse_config({"window": WINDOWS["months"], "money": {"margin_rate": 0.4}})
    spec = order_sql(config, _window(config), present=())
    orders = pl.DataFrame(
        {
            "participant_id": [str(i) for i in range(len(amounts))],
            "ordered_on": [dt.date(2025, 5, 1)] * len(amounts),
            "amount": pl.Series([Decimal(a).scaleb(-2) for a in amounts], dtype=pl.Decimal(18, 2)),
        }
    )
    sql = order_periods_sql(spec, "duckdb" if engine == "duckdb" else "postgres")
    if engine == "duckdb":
        connection = duckdb.connect()
        connection.register("orders_frame", orders.to_arrow())
        connection.execute("CREATE TABLE orders AS SELECT * FROM orders_frame")
        got = connection.sql(sql).pl()
    else:
        adbc = pytest.importorskip("adbc_driver_postgresql.dbapi", reason="the db extra is not installed")
        uri = request.getfixturevalue("pg_uri")
        with adbc.connect(uri) as connection, connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS orders")
            cursor.adbc_ingest("orders", orders.to_arrow(), mode="create")
            connection.commit()
            cursor.execute(sql)
            got = pl.from_arrow(cursor.fetch_arrow_table())
            cursor.execute("DROP TABLE orders")
            connection.commit()
    assert isinstance(got, pl.DataFrame)
    margin = dict(zip(got["participant_id"].to_list(), got["margin_minor"].to_list(), strict=True))
    expected = {str(i): int(div_half_even(np.int64(a) * 400_000, 1_000_000)) for i, a in enumerate(amounts)}
    assert margin == expected


def test_tables_made_for_another_run_are_refused(dataset: Path, tmp_path: Path) -> None:
    config = _config("months")
    folder = _aggregated_folder(dataset, tmp_path / "aggregated")
    connection = _duckdb(dataset)
    spec = order_sql(config, _window(config))
    connection.execute(
        f"COPY ({order_periods_sql(spec, 'duckdb')}) TO '{folder}/order_periods.parquet' (FORMAT parquet)"
    )
    other = config.model_copy(update={"money": config.money.model_copy(update={"margin_rate": 0.35})})
    with pytest.raises(InputError, match=r"made for .*margin_ppm 400000.*this run needs .*margin_ppm 350000"):
        mlmroi.score(folder, other)
    no_window = config.model_copy(update={"window": config.window.model_copy(update={"start": None})})
    with pytest.raises(ConfigError, match="order_periods were made for a window"):
        mlmroi.score(folder, no_window)
    shutil.copy(dataset / "orders.csv", folder / "orders.csv")
    with pytest.raises(InputError, match="both orders and order_periods"):
        mlmroi.score(folder, config)


def test_bad_aggregate_rows_are_rejected_with_a_reason(dataset: Path, tmp_path: Path) -> None:
    config = _config("months")
    folder = _aggregated_folder(dataset, tmp_path / "aggregated")
    spec = order_sql(config, _window(config))
    periods = _duckdb(dataset).sql(order_periods_sql(spec, "duckdb")).pl()
    assert isinstance(periods, pl.DataFrame)
    bad = pl.concat(
        [
            periods,
            periods.head(1).with_columns(pl.lit("no-such-id").alias("participant_id")),
            periods.head(1).with_columns(pl.lit(dt.date(2025, 4, 2)).alias("period_start")),
            periods.head(1),  # the same participant and period twice
        ]
    )
    bad.write_parquet(folder / "order_periods.parquet")
    rejects = mlmroi.score(folder, config).rejects.filter(pl.col("table") == "order_periods")
    reasons = sorted(rejects["reason"].to_list())
    assert len(reasons) == 3
    assert any("unknown participant_id" in r for r in reasons)
    assert any("not a period of the window" in r for r in reasons)
    assert any("repeated participant and period_start" in r for r in reasons)


@pytest.mark.parametrize("dialect", ["postgres", "duckdb", "spark", "bigquery"])
def test_the_sql_command_prints_both_tables_for_each_dialect(dialect: str, tmp_path: Path) -> None:
    config = tmp_path / "mlmroi.toml"
    config.write_text(PLAN)
    result = CliRunner().invoke(
        app, ["sql", "--dialect", dialect, "--config", str(config), "--without", "retail"]
    )
    assert result.exit_code == 0, result.output
    text = result.output
    assert "-- save as order_periods" in text and "-- save as order_history" in text
    assert "window 2025-01-01..2025-12-31 by month; margin_ppm 400000; decimals 2; fast_start_days 30" in text
    quote = '"' if dialect in ("postgres", "duckdb") else "`"
    assert f"src.{quote}volume{quote}" in text and f"src.{quote}retail{quote}" not in text  # --without retail
    days = {"postgres": " - p.", "duckdb": "date_diff('day'", "spark": "datediff(", "bigquery": "DATE_DIFF("}
    assert days[dialect] in text
    missing = CliRunner().invoke(app, ["sql", "--dialect", dialect, "--config", str(tmp_path / "none.toml")])
    assert missing.exit_code != 0


def test_the_sql_runs_on_orders_without_the_optional_columns(dataset: Path, tmp_path: Path) -> None:
    config = parse_config({"window": WINDOWS["months"]})
    folder = _aggregated_folder(dataset, tmp_path / "aggregated")
    plain = tmp_path / "plain"
    shutil.copytree(dataset, plain)
    orders = pl.read_csv(dataset / "orders.csv").select("order_id", "participant_id", "ordered_on", "amount")
    orders.write_csv(plain / "orders.csv")
    spec = order_sql(config, _window(config), present=())
    connection = _duckdb(plain)
    for name, sql in (("order_periods", order_periods_sql), ("order_history", order_history_sql)):
        connection.execute(f"COPY ({sql(spec, 'duckdb')}) TO '{folder / name}.parquet' (FORMAT parquet)")
    _same_outputs(mlmroi.score(plain, config), mlmroi.score(folder, config), tmp_path)


@pytest.mark.parametrize("dialect", ["spark", "bigquery"])
def test_spark_and_bigquery_sql_computes_what_duckdb_sql_does(dialect: str, dataset: Path) -> None:
    """No Spark or BigQuery here: their SQL is parsed as that dialect by sqlglot, translated to DuckDB and
    run on the same orders; the tables must equal those of the DuckDB SQL (a syntax error in the dialect,
    or a function with another meaning there — DIV, DATE_DIFF, datediff — would show)."""
    sqlglot = pytest.importorskip("sqlglot", reason="the test extra is not installed")
    config = _config("months")
    spec = order_sql(config, _window(config))
    connection = _duckdb(dataset)
    for make in (order_periods_sql, order_history_sql):
        native = connection.sql(make(spec, "duckdb")).pl()
        translated = sqlglot.transpile(make(spec, dialect), read=dialect, write="duckdb")[0]
        assert connection.sql(translated).pl().equals(native)
        assert native.height > 0


def test_explain_and_validate_work_on_aggregated_orders(dataset: Path, tmp_path: Path) -> None:
    """A warehouse-path run is explained from the same tables, to the cent, and validates clean."""
    from mlmroi.explain import explain

    folder = _aggregated_folder(dataset, tmp_path / "aggregated")
    (folder / "mlmroi.toml").write_text(
        PLAN.replace("start = 2025-01-01\nend = 2025-12-31", "start = 2025-04-01\nend = 2025-12-31")
    )
    config = mlmroi.load_config(dataset=folder)
    spec = order_sql(config, _window(config))
    connection = _duckdb(dataset)
    for name, sql in (("order_periods", order_periods_sql), ("order_history", order_history_sql)):
        connection.execute(f"COPY ({sql(spec, 'duckdb')}) TO '{folder / name}.parquet' (FORMAT parquet)")
    result = mlmroi.score(folder, config)
    mlmroi.write(result, tmp_path / "run")
    top = result.participants.sort("commissions", descending=True)["participant_id"][0]
    explained = explain(tmp_path / "run", str(top))
    assert str(explained.summary["received"]) == str(
        result.participants.filter(pl.col("participant_id") == top)["commissions"][0]
    )
    checked = CliRunner().invoke(app, ["validate", str(folder)])
    assert checked.exit_code == 0, checked.output
