"""Throwaway database servers for the source tests: a PostgreSQL cluster in a temp folder on a free loopback
port, started for the test session and removed afterwards.

initdb and pg_ctl refuse to run as root, so as root they run as the ``postgres`` user (``runuser``). Set
``MLMROI_TEST_PG_URI`` to use a server of your own instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
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
