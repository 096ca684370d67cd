"""Database reading (mlmroi/io/database.py) against a real PostgreSQL server: the generated SELECT keeps money
exact (integer minor units, text for anything else), turns unreadable dates into text the row checks reject,
and never shows a password."""

from __future__ import annotations

import pytest

from mlmroi.errors import InputError
from mlmroi.io.database import fingerprint_rows, open_db_table, redact, with_password

adbc = pytest.importorskip("adbc_driver_postgresql.dbapi", reason="the db extra is not installed")


@pytest.fixture(scope="module")
def sales(pg_uri: str) -> str:
    with adbc.connect(pg_uri) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS db_sales")
        cursor.execute(
            "CREATE TABLE db_sales (pid int8, amt numeric(20,3), qty int4, day date, at timestamp)"
        )
        cursor.execute(
            "INSERT INTO db_sales VALUES (1, 1.005, 2, '2025-01-01', '2025-01-01 10:00'), "
            "(2, 12.5, 3, 'infinity', '-infinity'), (3, -12.5, 4, '2025-02-01', '2025-02-01 23:59'), "
            "(4, 7, 5, '0044-03-15 BC', '2025-02-02 00:00'), (5, 12345678901234.5, 1, '2025-03-01', null)"
        )
        connection.commit()
    return pg_uri


def test_money_is_exact_and_odd_values_come_as_text(sales: str) -> None:
    mapping = {"pid": "participant_id", "amt": "amount", "qty": "volume", "day": "ordered_on"}
    table = open_db_table("orders", "db_sales", sales, None, 2, mapping)
    assert table.rows == 5 and table.minor_units == frozenset({"amount", "volume"})
    (frame,) = list(table.batches())
    # A value with more decimals than the minor unit has (a NUMERIC(20, 3) value's own scale is 3, even for
    # 12.500) or too large comes as text, parsed exactly by the row checks like a CSV cell.
    assert frame["amount"].to_list() == ["1.005", "12.500", "-12.500", "7.000", "12345678901234.500"]
    assert frame["volume"].to_list() == [200, 300, 400, 500, 100]  # minor units: no fallback in this chunk
    assert frame["ordered_on"].to_list() == [
        "2025-01-01",
        "infinity",
        "2025-02-01",
        "0044-03-15 BC",
        "2025-03-01",
    ]
    assert frame["at"].dtype.is_temporal()  # not a contract date column: as it is


def test_only_the_wanted_columns_are_selected(sales: str) -> None:
    table = open_db_table("orders", "db_sales", sales, None, 2, {"pid": "participant_id"})
    sql = table.query(("participant_id",))
    assert sql == 'SELECT "pid" AS "participant_id" FROM db_sales'
    (frame,) = list(table.batches(("participant_id",)))
    assert frame.columns == ["participant_id"]


def test_a_query_is_a_source_and_the_fingerprint_ignores_row_order(sales: str) -> None:
    forward = open_db_table("orders", "SELECT * FROM db_sales ORDER BY pid", sales, None, 2, {})
    backward = open_db_table("orders", "SELECT * FROM db_sales ORDER BY pid DESC", sales, None, 2, {})
    assert forward.label == "orders (postgres query)"
    assert fingerprint_rows(forward.batches()) == fingerprint_rows(backward.batches())
    fewer = open_db_table("orders", "SELECT * FROM db_sales WHERE pid < 5", sales, None, 2, {})
    assert fingerprint_rows(fewer.batches())[1] != fingerprint_rows(forward.batches())[1]


def test_passwords_never_show(sales: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert redact("postgresql://ann:s3cret@db:5432/x") == "postgresql://ann:***@db:5432/x"
    monkeypatch.setenv("MLMROI_TEST_PASSWORD", "p@ss/word")
    uri = with_password("postgresql://ann@db/x", "MLMROI_TEST_PASSWORD")
    assert uri == "postgresql://ann:p%40ss%2Fword@db/x"
    with pytest.raises(InputError, match="MLMROI_TEST_NOT_SET is not set"):
        with_password("postgresql://ann@db/x", "MLMROI_TEST_NOT_SET")
    wrong = sales.replace("postgres@", "nobody:hunter2@")
    with pytest.raises(InputError) as caught:
        open_db_table("orders", "db_sales", wrong, None, 2, {})
    assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
    with pytest.raises(InputError, match="unsupported database URI scheme 'oracle'"):
        open_db_table("orders", "db_sales", "oracle://x@y/z", None, 2, {})


def test_columns_the_run_never_reads_are_not_sent(sales: str) -> None:
    from mlmroi.io.read import db_table

    mapping = {"pid": "participant_id", "amt": "amount", "day": "ordered_on"}
    raw = db_table(open_db_table("orders", "db_sales", sales, None, 2, mapping), mapping)
    assert raw.columns == ("participant_id", "amount", "ordered_on")  # qty and at are not the contract's
    assert raw.db is not None and '"at"' not in raw.db.query() and '"qty"' not in raw.db.query()


def test_a_quoted_table_name_is_a_table_and_a_query_is_a_query(sales: str) -> None:
    with adbc.connect(sales) as connection, connection.cursor() as cursor:
        cursor.execute('DROP TABLE IF EXISTS "Sales Orders"')
        cursor.execute('CREATE TABLE "Sales Orders" AS SELECT * FROM db_sales')
        connection.commit()
    quoted = open_db_table("orders", '"Sales Orders"', sales, None, 2, {})
    assert quoted.rows == 5 and quoted.label == 'orders (postgres table "Sales Orders")'
    query = open_db_table(
        "orders", "  with x as (select * from db_sales) select * from x", sales, None, 2, {}
    )
    assert query.rows == 5 and query.label == "orders (postgres query)"


def test_an_error_while_streaming_is_one_line_without_the_password(sales: str) -> None:
    secret = sales.replace("postgres@", "postgres:hunter2@")
    failing = "SELECT pid, 1 / (pid - 3) AS broken FROM db_sales"  # fails on row 3, after the schema query
    table = open_db_table("orders", failing, secret, None, 2, {})
    with pytest.raises(InputError) as caught:
        list(table.batches())
    message = str(caught.value)
    assert "division by zero" in message and "hunter2" not in message
    assert message.startswith("source postgresql://postgres:***@") and "\n" not in message
