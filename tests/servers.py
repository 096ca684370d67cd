"""Throwaway database servers for the source tests: a PostgreSQL cluster and a MariaDB server, each in a temp
folder on a free loopback port, started for the test session and removed afterwards.

initdb and pg_ctl refuse to run as root, so as root they run as the ``postgres`` user (``runuser``);
MariaDB runs as ``mysql``. Set ``MLMROI_TEST_PG_URI`` / ``MLMROI_TEST_MYSQL_URI`` to use servers of your
own instead (the MySQL tests then also need the ``mariadb`` client to load their tables).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class ServerUnavailableError(RuntimeError):
    """The server's binaries are missing or it would not start (the message says which)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user(command: list[str], user: str) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", user, "--", *command]


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    raise ServerUnavailableError("PostgreSQL server binaries not found (apt-get install postgresql)")


@contextmanager
def postgres() -> Iterator[str]:
    """A running PostgreSQL server for the duration of the block; yields its URI (user ``postgres``, no
    password, database ``postgres``)."""
    given = os.environ.get("MLMROI_TEST_PG_URI")
    if given:
        yield given
        return
    bin_dir = _postgres_bin()
    root = Path(tempfile.mkdtemp(prefix="mlmroi-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            _as_server_user([str(bin_dir / args[0]), *args[1:]], "postgres"),
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        made = run("initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        if made.returncode:
            raise ServerUnavailableError(f"initdb failed: {made.stderr.strip()[-400:]}")
        options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        started = run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start")
        if started.returncode:
            log = (root / "log").read_text() if (root / "log").exists() else started.stderr
            raise ServerUnavailableError(f"PostgreSQL did not start: {log.strip()[-400:]}")
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def mariadb() -> Iterator[tuple[str, list[str]]]:
    """A running MariaDB server for the duration of the block; yields its URI (user and password ``mlmroi``,
    database ``mlmroi``) and the ``mariadb`` client command that reaches it (as root, over the socket)."""
    given = os.environ.get("MLMROI_TEST_MYSQL_URI")
    client = shutil.which("mariadb") or shutil.which("mysql")
    if given:
        parts = given.split("@")[-1]
        yield given, [client or "mariadb", f"--host={parts.split(':')[0]}"]
        return
    server, install = shutil.which("mariadbd", path="/usr/sbin:/usr/bin"), shutil.which("mariadb-install-db")
    if not (server and install and client):
        raise ServerUnavailableError("MariaDB not found (apt-get install mariadb-server)")
    root = Path(tempfile.mkdtemp(prefix="mlmroi-maria-"))
    data, sock = root / "data", root / "mysqld.sock"
    if os.geteuid() == 0:
        shutil.chown(root, "mysql")
    user = ["--user=mysql"] if os.geteuid() == 0 else []
    port = free_port()
    process = None
    try:
        made = subprocess.run(
            [
                install,
                *user,
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
        if made.returncode:
            raise ServerUnavailableError(f"mariadb-install-db failed: {made.stderr.strip()[-400:]}")
        process = subprocess.Popen(
            [
                server,
                "--no-defaults",
                *user,
                f"--datadir={data}",
                f"--socket={sock}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                "--skip-log-bin",
                "--innodb-flush-log-at-trx-commit=0",
                f"--pid-file={root / 'mysqld.pid'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        command = [client, "--no-defaults", f"--socket={sock}", "--user=root", "--local-infile=1"]
        for _ in range(300):
            if process.poll() is not None:
                raise ServerUnavailableError("MariaDB exited while starting")
            ready = subprocess.run([*command, "-e", "SELECT 1"], capture_output=True, timeout=30)
            if ready.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise ServerUnavailableError("MariaDB did not start within 60 s")
        setup = (
            "CREATE USER 'mlmroi'@'%' IDENTIFIED BY 'mlmroi'; GRANT ALL ON *.* TO 'mlmroi'@'%'; "
            "CREATE DATABASE mlmroi; SET GLOBAL local_infile = 1;"
        )
        done = subprocess.run([*command, "-e", setup], capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise ServerUnavailableError(f"MariaDB setup failed: {done.stderr.strip()[-400:]}")
        yield f"mysql://mlmroi:mlmroi@127.0.0.1:{port}/mlmroi", [*command, "mlmroi"]
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(root, ignore_errors=True)


def load_postgres(
    uri: str, folder: Path, tables: dict[str, str], renames: dict[str, dict[str, str]] | None = None
) -> None:
    """The CSV tables of ``folder`` into PostgreSQL under the names ``tables`` gives (contract name → table),
    money as NUMERIC(14, 2) and dates as DATE; ``renames``: per table, columns under another name."""
    import adbc_driver_postgresql.dbapi as adbc
    import polars as pl

    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        for name, table in tables.items():
            frame = pl.read_csv(folder / f"{name}.csv", try_parse_dates=True, infer_schema_length=None)
            money = [c for c in ("amount", "volume", "cost") if c in frame.columns]
            frame = frame.with_columns([pl.col(c).cast(pl.Decimal(14, 2)) for c in money])
            frame = frame.rename((renames or {}).get(name, {}))
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.adbc_ingest(table, frame.to_arrow(), mode="create")
        connection.commit()
