"""``score`` from a PostgreSQL source equals the run on the same tables as CSV files, byte for byte
(participants, commissions, segments), with other table and column names mapped by the config."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config

adbc = pytest.importorskip("adbc_driver_postgresql.dbapi", reason="the db extra is not installed")

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
MONEY = {"amount", "volume", "cost"}
#: the sample's tables under a company's own names, with one column renamed
TABLES = {
    "participants": "crm_members",
    "orders": "shop_orders",
    "costs": "marketing_costs",
    "events": "crm_events",
    "leads": "crm_leads",
}


def _load(uri: str) -> None:
    """The sample's CSV tables into PostgreSQL: money as NUMERIC(14, 2), dates as DATE."""
    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        for name, table in TABLES.items():
            frame = pl.read_csv(SAMPLE / f"{name}.csv", try_parse_dates=True, infer_schema_length=None)
            frame = frame.with_columns(
                [pl.col(c).cast(pl.Decimal(14, 2)) for c in frame.columns if c in MONEY]
            )
            if name == "orders":
                frame = frame.rename({"ordered_on": "order_date"})
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.adbc_ingest(table, frame.to_arrow(), mode="create")
        connection.commit()


@pytest.fixture(scope="module")
def both(pg_uri: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[mlmroi.Result, mlmroi.Result]:
    _load(pg_uri)
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    from_files = mlmroi.score(SAMPLE, parse_config(base))
    source = {"uri": pg_uri, "tables": TABLES}
    columns = {"orders": {"order_date": "ordered_on"}}
    config = parse_config(base | {"source": source, "columns": columns})
    from_db = mlmroi.score(tmp_path_factory.mktemp("no_files"), config)
    return from_files, from_db


def test_the_database_run_equals_the_file_run(
    both: tuple[mlmroi.Result, mlmroi.Result], tmp_path: Path
) -> None:
    from_files, from_db = both
    assert from_db.rejects.height == 0
    mlmroi.write(from_files, tmp_path / "files")
    mlmroi.write(from_db, tmp_path / "db")
    for name in ("participants.parquet", "commissions.parquet", "segments.parquet"):
        assert (tmp_path / "files" / name).read_bytes() == (tmp_path / "db" / name).read_bytes(), name
    run = json.loads((tmp_path / "db" / "run.json").read_text())
    assert run["totals"] == json.loads((tmp_path / "files" / "run.json").read_text())["totals"]
    orders = run["inputs"]["orders"]
    assert orders["table"] == "shop_orders" and orders["rows"] == run["rows"]["orders"]["in"]
    assert len(orders["fingerprint"]) == 64 and "CAST(" in orders["sql"]


def test_the_password_is_never_written(pg_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLMROI_TEST_PG_PASSWORD", "not-needed-by-trust-auth")
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    secret_uri = pg_uri.replace("postgres@", "postgres:hunter2@")
    config = parse_config(
        base
        | {
            "source": {"uri": secret_uri, "tables": TABLES},
            "columns": {"orders": {"order_date": "ordered_on"}},
        }
    )
    result = mlmroi.score(tmp_path / "none", config)
    mlmroi.write(result, tmp_path / "out")
    for path in (tmp_path / "out").iterdir():
        assert b"hunter2" not in path.read_bytes(), path.name
    assert "***" in json.loads((tmp_path / "out" / "run.json").read_text())["dataset"]
