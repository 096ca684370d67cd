"""``score`` from a PostgreSQL source equals the run on the same tables as CSV files, byte for byte
(participants, commissions, segments), with other table and column names mapped by the config."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config
from tests.runjson import run_json
from tests.servers import load_postgres

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
    load_postgres(uri, SAMPLE, TABLES, {"orders": {"ordered_on": "order_date"}})


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


def test_score_and_validate_take_source_on_the_command_line(pg_uri: str, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mlmroi_cli.main import app

    _load(pg_uri)
    folder = tmp_path / "config_only"
    folder.mkdir()
    text = (SAMPLE / "mlmroi.toml").read_text()
    tables = "".join(f'{name} = "{table}"\n' for name, table in TABLES.items())
    text += f'\n[source]\nuri = "mysql://placeholder@nowhere/x"\n[source.tables]\n{tables}'
    text += '\n[columns.orders]\norder_date = "ordered_on"\n'
    (folder / "mlmroi.toml").write_text(text)
    runner = CliRunner()
    scored = runner.invoke(app, ["score", str(folder), "--source", pg_uri, "--out", str(tmp_path / "out")])
    assert scored.exit_code == 0, scored.output
    assert "19,898 / 19,898 / 0" in scored.output  # orders rows in / used / rejected, as from the files
    checked = runner.invoke(app, ["validate", str(folder), "--source", pg_uri])
    assert checked.exit_code == 0, checked.output
    assert "clean" in checked.output


def test_infinite_and_impossible_dates_are_rejects_not_crashes(pg_uri: str, tmp_path: Path) -> None:
    with adbc.connect(pg_uri) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS odd_people")
        cursor.execute("DROP TABLE IF EXISTS odd_orders")
        cursor.execute("CREATE TABLE odd_people (participant_id int8, sponsor_id int8, joined_on date)")
        cursor.execute(
            "INSERT INTO odd_people VALUES (1, null, '2024-01-01'), (2, 1, '-infinity'), (3, 1, '2024-02-01')"
        )
        cursor.execute("CREATE TABLE odd_orders (participant_id int8, ordered_on timestamp, amount numeric)")
        cursor.execute(
            "INSERT INTO odd_orders VALUES (1, '2025-01-05 10:00', 10.5), (3, 'infinity', 20), "
            "(3, '2025-01-06', 1.005), (1, '2025-01-07', 'NaN')"
        )
        connection.commit()
    source = {"uri": pg_uri, "tables": {"participants": "odd_people", "orders": "odd_orders"}}
    config = parse_config(
        {"window": {"start": "2025-01-01", "end": "2025-01-31"}, "source": source, "value": {"model": "none"}}
    )
    result = mlmroi.score(tmp_path, config)
    reasons = result.rejects.select("table", "row", "value", "reason").rows()
    assert ("participants", 2, "-infinity", "bad date (expected YYYY-MM-DD)") in reasons
    assert ("orders", 2, "infinity", "bad date (expected YYYY-MM-DD)") in reasons
    assert ("orders", 4, "NaN", "non-numeric amount") in reasons
    # 1.005 is read from its digits and rounded half-to-even once: 1.00; 10.50 stays exact.
    assert run_json(result)["totals"]["revenue"] == "11.50"


def test_repeated_order_ids_in_database_order_are_found_in_one_read(pg_uri: str, tmp_path: Path) -> None:
    """Ids that do not increase through the stream are checked from the one read (a database is not queried
    twice), and a repeat is rejected where it comes."""
    with adbc.connect(pg_uri) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS dup_people")
        cursor.execute("DROP TABLE IF EXISTS dup_orders")
        cursor.execute("CREATE TABLE dup_people (participant_id int8, sponsor_id int8, joined_on date)")
        cursor.execute("INSERT INTO dup_people VALUES (1, null, '2024-01-01'), (2, 1, '2024-02-01')")
        cursor.execute(
            "CREATE TABLE dup_orders (order_id int8, participant_id int8, ordered_on date, amount numeric(12, 2))"
        )
        cursor.execute(
            "INSERT INTO dup_orders VALUES (30, 1, '2025-01-05', 10), (10, 2, '2025-01-06', 20), "
            "(20, 1, '2025-01-07', 5), (10, 1, '2025-01-08', 7)"
        )
        connection.commit()
    source = {"uri": pg_uri, "tables": {"participants": "dup_people", "orders": "dup_orders"}}
    config = parse_config(
        {"window": {"start": "2025-01-01", "end": "2025-01-31"}, "source": source, "value": {"model": "none"}}
    )
    result = mlmroi.score(tmp_path, config)
    assert result.rejects.select("table", "row", "reason").rows() == [("orders", 4, "duplicate order_id")]
    assert run_json(result)["totals"]["revenue"] == "35.00"


def test_a_primary_key_on_order_id_spares_sending_it(
    pg_uri: str, both: tuple[mlmroi.Result, mlmroi.Result], tmp_path: Path
) -> None:
    """The database guarantees unique order ids: they are not sent (nothing to check), the figures are
    the same."""
    with adbc.connect(pg_uri) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS keyed_orders")
        cursor.execute(f"CREATE TABLE keyed_orders AS SELECT * FROM {TABLES['orders']}")
        cursor.execute("ALTER TABLE keyed_orders ADD PRIMARY KEY (order_id)")
        connection.commit()
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    source = {"uri": pg_uri, "tables": TABLES | {"orders": "keyed_orders"}}
    config = parse_config(base | {"source": source, "columns": {"orders": {"order_date": "ordered_on"}}})
    keyed = mlmroi.score(tmp_path / "none", config)
    assert '"order_id"' not in run_json(keyed)["inputs"]["orders"]["sql"]
    assert (
        '"order_id"' in run_json(both[1])["inputs"]["orders"]["sql"]
    )  # without the key it is sent and checked
    mlmroi.write(keyed, tmp_path / "keyed")
    mlmroi.write(both[1], tmp_path / "plain")
    for name in ("participants.parquet", "commissions.parquet", "segments.parquet"):
        assert (tmp_path / "keyed" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes(), name


def test_without_the_db_extra_one_line_says_which_to_install(
    pg_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "adbc_driver_postgresql.dbapi", None)  # import fails
    config = parse_config({"source": {"uri": pg_uri}})
    with pytest.raises(mlmroi.InputError, match=r"needs the db extra \(pip install 'mlmroi\[db\]'\)"):
        mlmroi.score(tmp_path, config)


def test_explain_rereads_the_database_and_refuses_changed_rows(pg_uri: str, tmp_path: Path) -> None:
    from mlmroi.explain import explain

    _load(pg_uri)
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    secret = pg_uri.replace("postgres@", "postgres:pw@")  # trust auth: any password works
    source = {"uri": secret, "tables": TABLES}
    config = parse_config(base | {"source": source, "columns": {"orders": {"order_date": "ordered_on"}}})
    result = mlmroi.score(tmp_path / "none", config)
    mlmroi.write(result, tmp_path / "run")
    top = result.participants.sort("commissions", descending=True)["participant_id"][0]
    # The recorded URI has its password redacted: explain says how to give it.
    with pytest.raises(mlmroi.InputError, match="pass --source URI"):
        explain(tmp_path / "run", str(top))
    explained = explain(tmp_path / "run", str(top), source=secret)
    assert str(explained.summary["received"]) == str(
        result.participants.filter(pl.col("participant_id") == top)["commissions"][0]
    )
    with adbc.connect(pg_uri) as connection, connection.cursor() as cursor:
        cursor.execute(
            "UPDATE shop_orders SET amount = amount + 1 WHERE order_id = (SELECT min(order_id) FROM shop_orders)"
        )
        connection.commit()
    with pytest.raises(mlmroi.InputError, match="shop_orders\\): changed since the run"):
        explain(tmp_path / "run", str(top), source=secret)
