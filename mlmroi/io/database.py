"""A dataset's tables read from a database: PostgreSQL through ADBC (streamed Arrow record batches), MySQL and
MariaDB through connectorx. Optional dependencies (the ``db`` extra).

Each table is a table name (``sales.orders``) or a query. mlmroi wraps it in its own ``SELECT`` that casts
what must not pass through float or crash a reader:

- **money** columns (``amount``, ``volume``, ``cost``) of a numeric or integer type arrive as integer minor
  units computed in the database (``amount × 10^decimals`` when that is a whole number below the amount
  bound), and any other value as its text, which the row checks parse (and reject, with the reason) like a
  CSV cell; float columns arrive as floats and are read from their shortest digits, as Parquet floats are;
- **date** columns arrive as dates when they are finite and within years 1–9999, otherwise as text
  (``infinity``, ``0000-00-00``), which the row checks reject as a bad date instead of a reader crashing.

A URI's password never appears in messages or outputs (:func:`redact`); it may come from the environment
(``password_env``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import queue
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import numpy as np
import polars as pl
import pyarrow as pa

from mlmroi.errors import InputError
from mlmroi.money import MAX_AMOUNT, to_decimal

#: contract columns that hold money and dates, per table (everything else is read as it is)
MONEY_COLUMNS = frozenset({"amount", "volume", "cost"})
DATE_COLUMNS = frozenset(
    {"joined_on", "left_on", "birth_date", "ordered_on", "incurred_on", "paid_on", "occurred_on"}
)
FALLBACK = "__text"  # suffix of a column's text fallback in the generated SELECT
BATCH_ROWS = 1_000_000

_SCHEMES = {"postgresql": "postgres", "postgres": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def dialect_of(uri: str) -> str:
    """``postgres`` or ``mysql`` from the URI's scheme; anything else is an InputError naming it."""
    scheme = urlsplit(uri).scheme.split("+")[0].lower()
    if scheme not in _SCHEMES:
        raise InputError(
            f"source: unsupported database URI scheme {scheme!r} (use postgresql://… or mysql://…)"
        )
    return _SCHEMES[scheme]


def redact(uri: str) -> str:
    """The URI as it may be shown: the password replaced by ``***`` (``postgresql://ann:***@host/db``)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, f"{user}:***@{host}{port}", parts.path, parts.query, parts.fragment))


def with_password(uri: str, password_env: str | None) -> str:
    """The URI to connect with: the password from ``password_env`` when named (an InputError when that
    variable is not set), else the URI's own."""
    if not password_env:
        return uri
    password = os.environ.get(password_env)
    if password is None:
        raise InputError(f"source.password_env: environment variable {password_env} is not set")
    parts = urlsplit(uri)
    user = quote(parts.username or "", safe="")
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{user}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def is_query(spec: str) -> bool:
    """A query starts with SELECT or WITH; anything else names a table (``sales.orders``, ``"Orders"``)."""
    return bool(re.match(r"^\s*\(?\s*(select|with)\b", spec, re.IGNORECASE))


def _relation(spec: str) -> str:
    """A table name as it goes into FROM, or a query wrapped as a derived table."""
    text = spec.strip().rstrip(";")
    return f"({text}) AS mlmroi_source" if is_query(text) else text


def _quote(name: str, dialect: str) -> str:
    return f"`{name.replace('`', '``')}`" if dialect == "mysql" else '"' + name.replace('"', '""') + '"'


@dataclass(frozen=True)
class DbSource:
    """Where a database dataset lives (``[source]``): the URI (its password is never shown), an environment
    variable holding the password, and per table a table name or a query (participants and orders default
    to tables of those names; the optional tables are read only when named)."""

    uri: str
    password_env: str | None = None
    tables: dict[str, str] | None = None

    def spec(self, table: str, required: bool) -> str | None:
        """The table name or query for ``table`` (None: not read)."""
        given = (self.tables or {}).get(table)
        return given if given is not None else (table if required else None)


@dataclass(frozen=True)
class DbColumn:
    """A source column: its name in the database, the contract name it maps to and its type's kind."""

    source: str
    name: str
    kind: str  # "numeric", "integer", "float", "date", "timestamp", "text", "boolean", "other"
    digits: tuple[int, int] | None = None  # a NUMERIC's declared (precision, scale), when known
    unique: bool = False  # a unique index or primary key on this column alone: no value repeats

    def fits(self, decimals: int) -> bool:
        """Whether every value is a whole number of minor units below the amount bound by its declared
        type alone (NUMERIC(14, 2) with 2 decimals; any integer below the bound), so no value needs a
        check or a text fallback."""
        if self.kind == "integer":
            return False  # BIGINT may exceed the bound
        if self.digits is None:
            return False
        precision, scale = self.digits
        return scale <= decimals and 10 ** (precision - scale) <= MAX_AMOUNT


def _kind(dtype: Any) -> str:
    """The kind of an Arrow type as ADBC or connectorx reports it."""
    if pa.types.is_integer(dtype):
        return "integer"
    if pa.types.is_floating(dtype):
        return "float"
    if pa.types.is_decimal(dtype):
        return "numeric"
    if pa.types.is_date(dtype):
        return "date"
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "text"
    if pa.types.is_boolean(dtype):
        return "boolean"
    if "numeric" in str(dtype):  # ADBC: PostgreSQL NUMERIC as an opaque extension type over text
        return "numeric"
    return "other"


def select_sql(relation: str, columns: list[DbColumn], dialect: str, decimals: int) -> str:
    """The SELECT mlmroi sends for one table (see the module docstring)."""
    scale = 10**decimals
    bound = MAX_AMOUNT
    parts = []
    for column in columns:
        c = _quote(column.source, dialect)
        out = _quote(column.name, dialect)
        fallback = _quote(column.name + FALLBACK, dialect)
        text = f"CAST({c} AS CHAR)" if dialect == "mysql" else f"CAST({c} AS TEXT)"
        if column.name in MONEY_COLUMNS and column.fits(decimals):  # exact by its type: one cast
            big = "SIGNED" if dialect == "mysql" else "BIGINT"
            parts.append(f"CAST({c} * {scale} AS {big}) AS {out}")
        elif column.name in MONEY_COLUMNS and column.kind in ("numeric", "integer"):
            big = "SIGNED" if dialect == "mysql" else "BIGINT"
            if dialect == "postgres" and column.kind == "numeric":  # the value's own scale: no arithmetic
                whole = f"scale({c}) <= {decimals} AND ABS({c}) < {bound}"
            else:
                whole = f"{c} * {scale} = FLOOR({c} * {scale}) AND ABS({c}) < {bound}"
            parts.append(f"CASE WHEN {whole} THEN CAST({c} * {scale} AS {big}) END AS {out}")
            parts.append(f"CASE WHEN NOT ({whole}) THEN {text} END AS {fallback}")
        elif column.name in DATE_COLUMNS and column.kind in ("date", "timestamp"):
            ok = valid_date(c, dialect)
            parts.append(f"CASE WHEN {ok} THEN CAST({c} AS DATE) END AS {out}")
            parts.append(f"CASE WHEN {c} IS NOT NULL AND NOT ({ok}) THEN {text} END AS {fallback}")
        elif column.kind == "other":
            parts.append(f"{text} AS {out}")
        else:
            parts.append(f"{c} AS {out}")
    return f"SELECT {', '.join(parts)} FROM {relation}"


def valid_date(c: str, dialect: str) -> str:
    """SQL true when the date or timestamp column ``c`` holds a date polars can hold (finite, years
    1–9999; MySQL: not a zero date), null when it is null."""
    if dialect == "mysql":
        # MySQL dates end at 9999; zero dates (0000-00-00) and zero parts (2024-00-00) are what to catch.
        return f"{c} IS NOT NULL AND YEAR({c}) > 0 AND MONTH({c}) > 0 AND DAY({c}) > 0"
    return f"isfinite({c}) AND {c} >= '0001-01-01' AND {c} < '10000-01-01'"


def window_filter(column: DbColumn, dialect: str, since: dt.date, end: dt.date) -> str | None:
    """A WHERE condition sending only the rows dated ``since`` … ``end`` — and every row whose date is
    missing or unreadable, so that the row checks still reject it with its reason. None when the column
    is not a date or timestamp in the database (then every row is sent)."""
    if column.kind not in ("date", "timestamp"):
        return None
    c = _quote(column.source, dialect)
    day = f"CAST({c} AS DATE)"
    outside = f"({day} < DATE '{since.isoformat()}' OR {day} > DATE '{end.isoformat()}')"
    return f"NOT COALESCE(({valid_date(c, dialect)}) AND {outside}, FALSE)"


def _merge_fallbacks(frame: pl.DataFrame, decimals: int) -> pl.DataFrame:
    """One column per contract column: where a chunk has text fallbacks, the column becomes text (typed
    values printed, fallbacks as they came) so that the row checks parse and reject them with reasons."""
    out = []
    for name in frame.columns:
        if name.endswith(FALLBACK):
            continue
        column = frame[name]
        fallback = frame.get_column(name + FALLBACK) if name + FALLBACK in frame.columns else None
        if fallback is None or fallback.null_count() == fallback.len():
            out.append(column)
            continue
        if column.dtype.is_integer():  # minor units: their exact decimal text ("12.50")
            printed = (
                column.cast(pl.Int64).to_frame(name).select(to_decimal(name, decimals))[name].cast(pl.String)
            )
        else:
            printed = column.cast(pl.String)
        out.append(printed.fill_null(fallback.cast(pl.String)).alias(name))
    return pl.DataFrame(out)


@dataclass
class DbTable:
    """One table of a database source, opened: its columns (mapped to contract names), row count and a
    stream of its rows as polars frames; money columns of numeric/integer type arrive in minor units
    (``minor_units``)."""

    name: str
    uri: str  # with the password: never shown (see ``shown``)
    spec: str  # the table name or query as configured
    dialect: str
    decimals: int
    columns: list[DbColumn]
    rows: int
    shown: str = ""  # the redacted URI
    fingerprint: str | None = None  # of the rows, once they have all been read
    where: str | None = None  # a pushed-down filter (:meth:`push_down`)
    sent: int | None = None  # rows sent by the last read of every column (with the filter: fewer than rows)

    @property
    def label(self) -> str:
        """For messages: ``orders (postgresql table sales.orders)`` or ``orders (postgresql query)``."""
        what = "query" if is_query(self.spec) else f"table {self.spec.strip()}"
        return f"{self.name} ({self.dialect} {what})"

    @property
    def minor_units(self) -> frozenset[str]:
        """Contract money columns that arrive as integer minor units."""
        return frozenset(
            c.name for c in self.columns if c.name in MONEY_COLUMNS and c.kind in ("numeric", "integer")
        )

    def query(self, wanted: tuple[str, ...] | None = None, filtered: bool = True) -> str:
        """The SQL sent for ``wanted`` contract columns (all when None), with the pushed-down filter unless
        ``filtered`` is false."""
        columns = self.columns if wanted is None else [c for c in self.columns if c.name in wanted]
        sql = select_sql(_relation(self.spec), columns, self.dialect, self.decimals)
        return sql if self.where is None or not filtered else f"{sql} WHERE {self.where}"

    def push_down(self, where: str) -> None:
        """Send only the rows ``where`` holds from now on (counted as they arrive: :attr:`sent`)."""
        self.where = where

    @property
    def not_read(self) -> int:
        """Rows the pushed-down filter kept in the database (known once the rows have been read)."""
        return 0 if self.where is None or self.sent is None else self.rows - self.sent

    def fetch(self, sql: str) -> pl.DataFrame:
        """The whole result of a query on this table's database (a count, a per-participant summary)."""
        try:
            read = _postgres_batches if self.dialect == "postgres" else _mysql_batches
            frames = list(read(self.uri, sql, BATCH_ROWS, self.decimals))
        except InputError:
            raise
        except Exception as exc:  # the drivers' own errors: one line, no password
            raise _driver_error(exc, self.uri, self.name, self.spec) from None
        return pl.concat(frames, how="vertical_relaxed")

    def batches(
        self, wanted: tuple[str, ...] | None = None, size: int | None = None
    ) -> Iterator[pl.DataFrame]:
        """The rows as polars frames of about ``size`` rows, in the order the database returns them; a read
        of every column also fingerprints them (:attr:`fingerprint`)."""
        sql = self.query(wanted)
        read = _postgres_batches if self.dialect == "postgres" else _mysql_batches
        frames = _prefetched(read(self.uri, sql, size or BATCH_ROWS, self.decimals))
        rows = RowFingerprint() if wanted is None else None
        try:
            for frame in frames:
                if rows is not None:
                    rows.update(frame)
                yield frame
        except InputError:
            raise
        except Exception as exc:  # a failure while streaming (server gone, a cast the data breaks): one line
            raise _driver_error(exc, self.uri, self.name, self.spec) from None
        if rows is not None:
            self.fingerprint, self.sent = rows.digest, rows.count

    def describe(self) -> dict[str, Any]:
        """run.json's record of this table: where it came from, the SQL sent, rows and fingerprint."""
        return {
            "source": self.shown,
            "query" if is_query(self.spec) else "table": self.spec.strip(),
            "sql": self.query(),
            "rows": self.rows if self.where is None or self.sent is None else self.sent,
            "fingerprint": self.fingerprint,
        } | ({"not_read": self.not_read} if self.where is not None else {})


def _missing_extra(exc: ImportError) -> InputError:
    return InputError(
        f"source: reading from a database needs the db extra (pip install 'mlmroi[db]'); {exc.name} is "
        "missing"
    )


def _postgres_batches(uri: str, sql: str, size: int, decimals: int) -> Iterator[pl.DataFrame]:
    try:
        import adbc_driver_postgresql.dbapi as adbc
    except ImportError as exc:
        raise _missing_extra(exc) from None
    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(64 << 20)})
        cursor.execute(sql)
        yield from _batched(cursor.fetch_record_batch(), size, decimals)


def _batched(reader: pa.RecordBatchReader, size: int, decimals: int) -> Iterator[pl.DataFrame]:
    """A driver's record batches as polars frames of at least ``size`` rows (the last one smaller), text
    fallbacks merged (:func:`_merge_fallbacks`); an empty result still yields its columns."""
    pending: list[pl.DataFrame] = []
    held, yielded = 0, False
    for batch in reader:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        pending.append(frame)
        held += frame.height
        if held >= size:
            yield _merge_fallbacks(pl.concat(pending), decimals)
            pending, held, yielded = [], 0, True
    if pending:
        yield _merge_fallbacks(pl.concat(pending), decimals)
    elif not yielded:
        empty = pl.from_arrow(reader.schema.empty_table())
        assert isinstance(empty, pl.DataFrame)
        yield _merge_fallbacks(empty, decimals)


def _prefetched(frames: Iterator[pl.DataFrame], depth: int = 2) -> Iterator[pl.DataFrame]:
    """``frames``, produced in a background thread up to ``depth`` ahead: the server streams and the driver
    decodes the next batch while the caller checks this one (measured: the reading stage otherwise waits
    on the server most of the time). The producer's errors are raised here; stopping early stops it."""
    box: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: tuple[str, Any]) -> bool:
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not put(("frame", frame)):
                    return
            put(("end", None))
        except BaseException as exc:  # handed to the consumer, which raises it
            put(("error", exc))
        finally:
            close = getattr(frames, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="mlmroi-db-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = box.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()


def _mysql_batches(uri: str, sql: str, size: int, decimals: int) -> Iterator[pl.DataFrame]:
    try:
        import connectorx as cx
    except ImportError as exc:
        raise _missing_extra(exc) from None
    yield from _batched(cx.read_sql(uri, sql, return_type="arrow_stream"), size, decimals)


class RowFingerprint:
    """A fingerprint of rows that depends neither on their order nor on how they were cut into batches:
    per-row hashes added and xor-ed, with the count (run.json records it in place of a file's sha256)."""

    def __init__(self) -> None:
        self.count, self._sum, self._xor = 0, np.uint64(0), np.uint64(0)

    def update(self, frame: pl.DataFrame) -> None:
        """Add the rows of ``frame``."""
        if not frame.height:
            return
        hashes = frame.hash_rows(seed=0).to_numpy()
        self.count += frame.height
        self._sum = np.add(self._sum, np.add.reduce(hashes, dtype=np.uint64))
        self._xor = np.bitwise_xor(self._xor, np.bitwise_xor.reduce(hashes))

    @property
    def digest(self) -> str:
        """The fingerprint as hex."""
        text = f"{self.count}:{int(self._sum):016x}:{int(self._xor):016x}"
        return hashlib.sha256(text.encode()).hexdigest()


def fingerprint_rows(frames: Iterator[pl.DataFrame]) -> tuple[int, str]:
    """Row count and :class:`RowFingerprint` of ``frames``."""
    rows = RowFingerprint()
    for frame in frames:
        rows.update(frame)
    return rows.count, rows.digest


def _digits(field: Any) -> tuple[int, int] | None:
    """A PostgreSQL NUMERIC's declared (precision, scale) from ADBC's field metadata (typmod), or None."""
    metadata = field.metadata or {}
    typmod = metadata.get(b"POSTGRESQL:typmod")
    if metadata.get(b"POSTGRESQL:type") != b"numeric" or typmod is None:
        return None
    value = int(typmod) - 4  # PostgreSQL stores (precision << 16 | scale) + 4; -1: NUMERIC without limits
    return None if value < 0 else (value >> 16, value & 0xFFFF)


def _scalar_and_schema(uri: str, dialect: str, relation: str) -> tuple[int, Any]:
    """The relation's row count and its Arrow schema (one row-less query)."""
    if dialect == "postgres":
        try:
            import adbc_driver_postgresql.dbapi as adbc
        except ImportError as exc:
            raise _missing_extra(exc) from None
        with adbc.connect(uri) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {relation} LIMIT 0")
            schema = cursor.fetch_arrow_table().schema
            cursor.execute(f"SELECT count(*) FROM {relation}")
            count = int(cursor.fetchone()[0])
        return count, schema
    try:
        import connectorx as cx
    except ImportError as exc:
        raise _missing_extra(exc) from None
    schema = cx.read_sql(uri, f"SELECT * FROM {relation} LIMIT 0", return_type="arrow").schema
    count = int(
        cx.read_sql(uri, f"SELECT count(*) AS n FROM {relation}", return_type="arrow")["n"][0].as_py()
    )
    return count, schema


def _unique_columns(uri: str, dialect: str, table: str) -> set[str]:
    """The columns of ``table`` that a unique index (or primary key) on that column alone covers: the
    database already guarantees no value repeats there."""
    if dialect == "postgres":
        quoted = table.replace("'", "''")
        sql = (
            "SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            f"AND a.attnum = i.indkey[0] WHERE i.indrelid = to_regclass('{quoted}') AND i.indisunique "
            "AND i.indisvalid AND i.indnkeyatts = 1 AND i.indpred IS NULL AND i.indexprs IS NULL"
        )
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(uri) as connection, connection.cursor() as cursor:
            cursor.execute(sql)
            return {str(row[0]) for row in cursor.fetchall()}
    import connectorx as cx

    schema, _, name = table.replace("`", "").rpartition(".")
    where = f"table_schema = '{schema}'" if schema else "table_schema = DATABASE()"
    sql = (
        "SELECT MIN(column_name) AS name FROM information_schema.statistics WHERE "
        f"{where} AND table_name = '{name.replace(chr(39), '')}' AND non_unique = 0 "
        "GROUP BY index_name HAVING COUNT(*) = 1"
    )
    found = cx.read_sql(uri, sql, return_type="arrow")
    return {str(v) for v in found.column(0).to_pylist()} if found.num_rows else set()


def _driver_error(exc: Exception, connect_uri: str, name: str, spec: str) -> InputError:
    """A driver's error as one InputError line naming the source (redacted) and table, no password."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    shown = redact(connect_uri)
    password = urlsplit(connect_uri).password
    for secret in (connect_uri, password):
        if secret:
            first = first.replace(secret, "***" if secret == password else shown)
    return InputError(f"source {shown}: table {name} ({spec.strip()[:80]}): {first}")


def open_db_table(
    name: str, spec: str, uri: str, password_env: str | None, decimals: int, mapping: dict[str, str]
) -> DbTable:
    """Open one table of a database source: its columns (``mapping``: source name → contract name, as
    ``[columns.NAME]``), kinds and row count. A connection or SQL error is one InputError line with the
    URI redacted."""
    dialect = dialect_of(uri)
    connect_uri = with_password(uri, password_env)
    relation = _relation(spec)
    try:
        rows, schema = _scalar_and_schema(connect_uri, dialect, relation)
        unique = set() if is_query(spec) else _unique_columns(connect_uri, dialect, spec.strip())
    except InputError:
        raise
    except Exception as exc:  # the drivers' own errors: one line, no password
        raise _driver_error(exc, connect_uri, name, spec) from None
    columns = [
        DbColumn(
            field.name,
            mapping.get(field.name, field.name),
            _kind(field.type),
            _digits(field),
            field.name in unique,
        )
        for field in schema
    ]
    return DbTable(name, connect_uri, spec, dialect, decimals, columns, rows, shown=redact(uri))
