"""Shared test settings: a small, fast hypothesis profile by default (HYPOTHESIS_PROFILE=thorough for more)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "fast", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture(scope="session")
def pg_uri() -> Iterator[str]:
    """A throwaway PostgreSQL server for the session (tests/servers.py); its URI."""
    from tests.servers import postgres

    with postgres() as uri:
        yield uri


@pytest.fixture(scope="session")
def mysql_server() -> Iterator[tuple[str, list[str]]]:
    """A throwaway MariaDB server for the session (tests/servers.py): its URI and client command. Skips the
    MySQL tests, saying why, when MariaDB is not installed or will not start."""
    from tests.servers import ServerUnavailableError, mariadb

    try:
        with mariadb() as server:
            yield server
    except ServerUnavailableError as exc:
        pytest.skip(f"MySQL tests need MariaDB: {exc}")


@pytest.fixture(scope="session")
def two_years(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated dataset with two years of orders (2024–2025) for 1,500 participants (CSV), for runs whose
    window starts after the orders do. Tests copy it before changing anything."""
    from mlmroi.synth import generate

    folder = tmp_path_factory.mktemp("two_years")
    generate(folder, 1500, months=24, seed=11, start=dt.date(2024, 1, 1))
    return folder


@pytest.fixture(scope="module")
def scored_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """data/sample scored with its own config and written (``mlmroi.write``), once per test module: the
    output folder (report.html, run.json and the tables)."""
    import mlmroi

    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    result = mlmroi.score(sample, mlmroi.load_config(dataset=sample))
    return mlmroi.write(result, tmp_path_factory.mktemp("scored_sample") / "out")
