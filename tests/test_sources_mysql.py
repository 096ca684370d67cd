"""``score`` from a MySQL/MariaDB source (connectorx) equals the run on the same tables as CSV files, byte for
byte; MySQL's zero dates are rejects, not a reader that aborts."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config
from tests.runjson import run_json

pytest.importorskip("connectorx", reason="the db extra is not installed")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
MONEY = {"amount", "volume", "cost"}


def _literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'"
    return "'" + str(value).replace("\\\\", "\\\\\\\\").replace("'", "''") + "'"


def _sql_type(name: str, dtype: pl.DataType) -> str:
    if name in MONEY:
        return "DECIMAL(14,2)"
    if dtype.is_integer():
        return "BIGINT"
    if dtype == pl.Date:
        return "DATE"
    if dtype == pl.Boolean:
        return "BOOLEAN"
    return "VARCHAR(255)"


def load(client: list[str], frame: pl.DataFrame, table: str) -> None:
    """``frame`` into a new MySQL table through the ``mariadb`` client (money as DECIMAL)."""
    frame = frame.with_columns([pl.col(c).cast(pl.Decimal(14, 2)) for c in frame.columns if c in MONEY])
    columns = ", ".join(f"`{c}` {_sql_type(c, frame[c].dtype)}" for c in frame.columns)
    statements = [f"DROP TABLE IF EXISTS `{table}`;", f"CREATE TABLE `{table}` ({columns});"]
    for start in range(0, frame.height, 2000):
        rows = ",".join(
            "(" + ",".join(_literal(v) for v in row) + ")" for row in frame.slice(start, 2000).iter_rows()
        )
        if rows:
            statements.append(f"INSERT INTO `{table}` VALUES {rows};")
    sql = "SET SESSION sql_mode = '';\n" + "\n".join(statements)
    subprocess.run(client, input=sql, text=True, check=True, capture_output=True, timeout=300)


def test_the_mysql_run_equals_the_file_run(mysql_server: tuple[str, list[str]], tmp_path: Path) -> None:
    uri, client = mysql_server
    tables = {}
    for name in ("participants", "orders", "costs", "events", "leads"):
        frame = pl.read_csv(SAMPLE / f"{name}.csv", try_parse_dates=True, infer_schema_length=None)
        load(client, frame, f"shop_{name}")
        tables[name] = f"shop_{name}"
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    from_files = mlmroi.score(SAMPLE, parse_config(base))
    from_db = mlmroi.score(tmp_path / "none", parse_config(base | {"source": {"uri": uri, "tables": tables}}))
    assert from_db.rejects.height == 0
    mlmroi.write(from_files, tmp_path / "files")
    mlmroi.write(from_db, tmp_path / "db")
    for name in ("participants.parquet", "commissions.parquet", "segments.parquet"):
        assert (tmp_path / "files" / name).read_bytes() == (tmp_path / "db" / name).read_bytes(), name
    assert "mlmroi:***@" in run_json(from_db)["dataset"]


def test_zero_dates_are_rejects(mysql_server: tuple[str, list[str]], tmp_path: Path) -> None:
    uri, client = mysql_server
    sql = (
        "SET SESSION sql_mode = '';\n"
        "DROP TABLE IF EXISTS z_people; DROP TABLE IF EXISTS z_orders;\n"
        "CREATE TABLE z_people (participant_id BIGINT, sponsor_id BIGINT, joined_on DATE);\n"
        "INSERT INTO z_people VALUES (1, NULL, '2024-01-01'), (2, 1, '0000-00-00'), (3, 1, '2024-02-01');\n"
        "CREATE TABLE z_orders (participant_id BIGINT, ordered_on DATETIME, amount DECIMAL(12,3));\n"
        "INSERT INTO z_orders VALUES (1, '2025-01-05 10:00:00', 10.5), (3, '0000-00-00 00:00:00', 20), "
        "(3, '2025-01-06 00:00:00', 1.005);\n"
    )
    subprocess.run(client, input=sql, text=True, check=True, capture_output=True, timeout=60)
    source = {"uri": uri, "tables": {"participants": "z_people", "orders": "z_orders"}}
    config = parse_config(
        {"window": {"start": "2025-01-01", "end": "2025-01-31"}, "source": source, "value": {"model": "none"}}
    )
    result = mlmroi.score(tmp_path, config)
    reasons = result.rejects.select("table", "row", "reason").rows()
    assert ("participants", 2, "bad date (expected YYYY-MM-DD)") in reasons
    assert ("orders", 2, "bad date (expected YYYY-MM-DD)") in reasons
    assert run_json(result)["totals"]["revenue"] == "11.50"  # 10.50 exact, 1.005 rounded half-to-even once


def test_mysql_rows_stream_in_batches(mysql_server: tuple[str, list[str]]) -> None:
    """connectorx's Arrow stream: a table arrives in several frames, not one whole result."""
    from mlmroi.io.database import open_db_table

    uri, client = mysql_server
    frame = pl.read_csv(SAMPLE / "orders.csv", try_parse_dates=True, infer_schema_length=None)
    load(client, frame, "stream_orders")
    table = open_db_table("orders", "stream_orders", uri, None, 2, {})
    sizes = [f.height for f in table.batches(size=1000)]
    assert len(sizes) >= 2 and sum(sizes) == frame.height == table.rows  # the driver sends ~10,000 a batch
    assert all(size >= 1000 for size in sizes[:-1])


def test_a_unique_key_on_order_id_spares_sending_it(
    mysql_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    uri, client = mysql_server
    people = pl.read_csv(SAMPLE / "participants.csv", try_parse_dates=True, infer_schema_length=None)
    orders = pl.read_csv(SAMPLE / "orders.csv", try_parse_dates=True, infer_schema_length=None)
    load(client, people, "key_people")
    load(client, orders, "key_orders")
    sql = "ALTER TABLE key_orders ADD UNIQUE KEY by_id (order_id);"
    subprocess.run(client, input=sql, text=True, check=True, capture_output=True, timeout=60)
    source = {"uri": uri, "tables": {"participants": "key_people", "orders": "key_orders"}}
    config = parse_config({"source": source, "value": {"model": "none"}})
    result = mlmroi.score(tmp_path / "none", config)
    assert "`order_id`" not in run_json(result)["inputs"]["orders"]["sql"]
    assert run_json(result)["rows"]["orders"]["in"] == orders.height
