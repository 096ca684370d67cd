"""``mlmroi compare``: segment migration matrices between two runs, and who is behind each cell."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from typer.testing import CliRunner

import mlmroi
from mlmroi.compare import compare
from mlmroi.config import with_overrides
from mlmroi_cli.main import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def run(tmp_path: Path, name: str, end: str | None = None) -> Path:
    import datetime as dt

    config = mlmroi.load_config(dataset=SAMPLE)
    if end is not None:
        config = with_overrides(config, None, dt.date.fromisoformat(end))
    out = tmp_path / name
    mlmroi.write(mlmroi.score(SAMPLE, config), out)
    return out


def test_migrations_follow_each_participant(tmp_path: Path) -> None:
    half, year = run(tmp_path, "h1", "2025-06-30"), run(tmp_path, "year")
    result = compare(half, year)
    a = pl.read_parquet(half / "participants.parquet")
    b = pl.read_parquet(year / "participants.parquet")
    # As of 30 June the run holds only those who had joined by then; the rest come from (new).
    joiners = b.filter(pl.col("joined_on") > pl.date(2025, 6, 30))
    assert a.height == b.height - joiners.height and joiners.height > 0
    assert a.join(joiners, on="participant_id").height == 0
    for name in ("abc", "xyz", "rfm_segment", "lifecycle"):
        cells = result.migrations.filter(pl.col("segmentation") == name)
        assert cells["participants"].sum() == b.height
        new = cells.filter(pl.col("from") == "(new)")
        assert new["participants"].sum() == joiners.height
        assert cells.filter(pl.col("to") == "(gone)").height == 0
        # Every cell count is the number of participants with that (from, to) pair, and members lists them.
        pairs = a.select("participant_id", pl.col(name).cast(pl.String).alias("from")).join(
            b.select("participant_id", pl.col(name).cast(pl.String).alias("to")), on="participant_id"
        )
        expected = pairs.group_by("from", "to").agg(pl.len().alias("n"))
        got = {
            (f, t): c
            for f, t, c in cells.filter(pl.col("from") != "(new)")
            .select("from", "to", "participants")
            .iter_rows()
        }
        assert got == {(f, t): c for f, t, c in expected.iter_rows()}
        members = result.members.filter(pl.col("segmentation") == name)
        assert members.height == b.height
        joined = members.filter(pl.col("from") == "(new)")["participant_id"].sort()
        assert joined.to_list() == joiners["participant_id"].sort().to_list()
    moved = result.migrations.filter((pl.col("from") != pl.col("to")) & (pl.col("segmentation") == "abc"))
    assert moved["participants"].sum() > 0  # half a year against a year: some participants change class
    matrix = result.matrix("abc")
    assert matrix.columns == ["from", "A", "B", "C"]
    assert matrix["from"].to_list() == ["(new)", "A", "B", "C"]
    assert matrix.select(pl.exclude("from")).sum_horizontal().sum() == b.height


def test_new_and_gone_participants(tmp_path: Path) -> None:
    year = run(tmp_path, "year")
    trimmed = tmp_path / "trimmed"
    trimmed.mkdir()
    people = pl.read_parquet(year / "participants.parquet")
    people.filter(pl.col("participant_id") > 5).write_parquet(trimmed / "participants.parquet")
    result = compare(trimmed, year, ("abc",))
    new = result.migrations.filter(pl.col("from") == "(new)")
    assert new["participants"].sum() == 5
    back = compare(year, trimmed, ("abc",))
    assert back.migrations.filter(pl.col("to") == "(gone)")["participants"].sum() == 5


def test_compare_cli(tmp_path: Path) -> None:
    half, year = run(tmp_path, "h1", "2025-06-30"), run(tmp_path, "year")
    runner = CliRunner()
    result = runner.invoke(app, ["compare", str(half), str(year), "--out", str(tmp_path / "cmp")])
    assert result.exit_code == 0, result.output
    assert "abc: h1 (rows, before) → year (columns, after)" in result.output
    assert pl.read_parquet(tmp_path / "cmp" / "members.parquet").height == 4 * 2000
    assert "(new)" in result.output
    missing = runner.invoke(app, ["compare", str(tmp_path / "nothing"), str(year)])
    assert missing.exit_code == 2
    assert "no participants.parquet" in missing.output and "Traceback" not in missing.output
