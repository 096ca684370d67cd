"""No runaway window: an inferred window is reported, outlying order dates and over-long windows are config
errors naming them, never a giant allocation."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config
from mlmroi.errors import ConfigError
from mlmroi.periods import MAX_WINDOW_YEARS, outlying_dates
from tests.helpers import write_dataset
from tests.runjson import run_json

PEOPLE = "participant_id,sponsor_id,joined_on\n" + "\n".join(
    f"{i},{'' if i == 1 else i - 1},2024-01-01" for i in range(1, 21)
)


def _orders(odd: dict[int, str] | None = None, rows: int = 2000) -> str:
    lines = ["participant_id,ordered_on,amount"]
    for k in range(rows):
        day = (odd or {}).get(k + 1, f"2024-{k % 12 + 1:02d}-{k % 28 + 1:02d}")
        lines.append(f"{k % 20 + 1},{day},10.00")
    return "\n".join(lines)


def _config(**window: object) -> mlmroi.Config:
    return parse_config({"window": window, "value": {"model": "none"}})


def test_a_typo_date_with_no_bounds_names_the_date_and_row(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", PEOPLE, _orders({18: "1900-01-01", 40: "2099-12-31"}), config=None)
    with pytest.raises(ConfigError) as caught:
        mlmroi.score(folder, _config())
    message = str(caught.value)
    assert "1900-01-01 (orders row 18)" in message
    assert "2099-12-31 (orders row 40)" in message
    assert "[window]" in message


def test_only_the_inferred_side_matters(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", PEOPLE, _orders({18: "1900-01-01"}), config=None)
    result = mlmroi.score(folder, _config(start=dt.date(2024, 1, 1)))  # the typo is before the start
    assert run_json(result)["window"]["start"] == "2024-01-01"
    assert run_json(result)["window"]["inferred"] == ["end"]
    assert run_json(result)["rows"]["orders"]["outside_window"] == 1


def test_inferred_window_is_recorded_and_shown(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from mlmroi_cli.main import app

    folder = write_dataset(tmp_path / "d", PEOPLE, _orders(), config='[value]\nmodel = "none"\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["score", str(folder), "--out", str(out)])
    assert result.exit_code == 0, result.output
    run = json.loads((out / "run.json").read_text())
    assert run["window"]["inferred"] == ["start", "end"]
    assert (run["window"]["start"], run["window"]["end"]) == ("2024-01-01", "2024-12-28")
    assert "inferred from the orders" in " ".join(result.output.split())


def test_an_explicit_window_over_the_limit_is_refused(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "d", PEOPLE, _orders(), config=None)
    with pytest.raises(ConfigError, match=f"more than the {MAX_WINDOW_YEARS}"):
        mlmroi.score(folder, _config(start=dt.date(1990, 1, 1), end=dt.date(2024, 12, 31)))


def _counts(days: list[dt.date] | pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"ordered_on": days}).group_by("ordered_on").len("n").sort("ordered_on")


def test_a_long_even_history_is_not_outlying() -> None:
    days = pl.date_range(dt.date(2006, 1, 1), dt.date(2024, 12, 31), "3d", eager=True)
    assert outlying_dates(_counts(days)) == ([], [])
    # a few early orders a year and more before the bulk are outlying, however many dates the bulk has
    early = [dt.date(2001, 5, 1), *days.to_list()]
    assert outlying_dates(_counts(early)) == ([dt.date(2001, 5, 1)], [])
