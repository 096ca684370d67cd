"""The command line: exit codes, one-line errors without tracebacks, outputs, summaries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from mlmroi_cli.main import app
from tests.helpers import ORACLE_ORDERS, ORACLE_PARTICIPANTS, write_dataset

runner = CliRunner()
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_lists_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("score", "validate", "generate"):
        assert command in result.output


def test_score_writes_outputs_and_summary(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", ORACLE_PARTICIPANTS, ORACLE_ORDERS)
    result = invoke("score", str(folder), "--out", str(tmp_path / "out"), "--format", "csv")
    assert result.exit_code == 0, result.output
    assert "commissions" in result.output and "participants rows in / used / rejected" in result.output
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {
        "participants.parquet",
        "participants.csv",
        "commissions.csv",
        "rejects.parquet",
        "run.json",
    } <= names
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["rows"]["participants"] == {"in": 6, "used": 6, "rejected": 0, "joined_after_window": 0}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # no temporary folder left behind


def test_structural_error_exits_2_with_one_line(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", ORACLE_PARTICIPANTS, "participant_id,ordered_on\nA,2025-01-01\n")
    result = invoke("score", str(folder), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "orders.csv: missing required column 'amount'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_config_error_exits_2_naming_the_key(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "ds", ORACLE_PARTICIPANTS, ORACLE_ORDERS, config="[money]\nmargin_rate = 2\n"
    )
    result = invoke("validate", str(folder))
    assert result.exit_code == 2
    assert "money.margin_rate" in result.output


def test_strict_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", ORACLE_PARTICIPANTS, ORACLE_ORDERS + "Z,2025-01-05,10\n")
    result = invoke("score", str(folder), "--out", str(tmp_path / "out"), "--strict")
    assert result.exit_code == 1
    assert "unknown participant_id" in result.output
    assert not (tmp_path / "out").exists()


def test_failed_run_keeps_the_previous_output(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", ORACLE_PARTICIPANTS, ORACLE_ORDERS)
    assert invoke("score", str(folder), "--out", str(tmp_path / "out")).exit_code == 0
    before = (tmp_path / "out" / "participants.parquet").read_bytes()
    (folder / "orders.csv").write_text("participant_id,ordered_on\n")
    assert invoke("score", str(folder), "--out", str(tmp_path / "out")).exit_code == 2
    assert (tmp_path / "out" / "participants.parquet").read_bytes() == before


def test_refuses_to_write_over_inputs(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", ORACLE_PARTICIPANTS, ORACLE_ORDERS)
    result = invoke("score", str(folder), "--out", str(folder))
    assert result.exit_code == 2
    assert "is an input of this run" in result.output
    assert (folder / "orders.csv").exists()


def test_validate_exit_codes(tmp_path: Path) -> None:
    clean = write_dataset(tmp_path / "clean", ORACLE_PARTICIPANTS, ORACLE_ORDERS)
    result = invoke("validate", str(clean))
    assert result.exit_code == 0 and "clean" in result.output
    dirty = write_dataset(
        tmp_path / "dirty", ORACLE_PARTICIPANTS + "G,G,2024-01-01,distributor\n", ORACLE_ORDERS
    )
    result = invoke("validate", str(dirty))
    assert result.exit_code == 1
    assert "self-sponsorship" in result.output


def test_orphans_root_option(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "ds", ORACLE_PARTICIPANTS + "G,NOBODY,2024-01-01,distributor\n", ORACLE_ORDERS
    )
    assert invoke("validate", str(folder)).exit_code == 1
    assert invoke("validate", str(folder), "--orphans", "root").exit_code == 0


def test_start_end_override_and_bad_date(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "ds", ORACLE_PARTICIPANTS, ORACLE_ORDERS)
    result = invoke(
        "score", str(folder), "--out", str(tmp_path / "o"), "--start", "2025-02-01", "--end", "2025-02-28"
    )
    assert result.exit_code == 0
    assert json.loads((tmp_path / "o" / "run.json").read_text())["rows"]["orders"]["outside_window"] == 5
    bad = runner.invoke(app, ["score", str(folder), "--start", "Feb 1"])
    assert bad.exit_code == 2 and "is not a date" in bad.output


def test_generate_then_score(tmp_path: Path) -> None:
    result = invoke(
        "generate", str(tmp_path / "gen"), "--participants", "300", "--months", "3", "--seed", "3"
    )
    assert result.exit_code == 0, result.output
    assert "300 participants" in result.output
    scored = invoke("score", str(tmp_path / "gen"), "--out", str(tmp_path / "out"), "--strict")
    assert scored.exit_code == 0, scored.output
    assert pl.read_parquet(tmp_path / "out" / "participants.parquet").height == 300
    assert invoke("generate", str(tmp_path / "x"), "--participants", "0").exit_code == 2


def test_sample_dataset_scores_cleanly(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "sample")
    result = invoke("score", str(tmp_path / "sample"), "--out", str(tmp_path / "out"), "--strict")
    assert result.exit_code == 0, result.output
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["rows"]["participants"]["in"] == 2000
    assert float(run["totals"]["commissions"]) > 0


def test_messages_with_brackets_are_printed_verbatim(tmp_path: Path) -> None:
    # Rich would swallow "[window]" as markup; errors and reject values must come out as written.
    folder = write_dataset(
        tmp_path / "ds", ORACLE_PARTICIPANTS, "participant_id,ordered_on,amount\n", config=None
    )
    result = invoke("score", str(folder), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "set them in [window]" in result.output
    dirty = write_dataset(
        tmp_path / "d2",
        ORACLE_PARTICIPANTS + "[x],A,2024-01-01,distributor\n",
        ORACLE_ORDERS + "[y],2025-01-05,1\n",
    )
    result = invoke("validate", str(dirty))
    assert result.exit_code == 1
    assert "[y]" in result.output


def test_empty_tables_do_not_crash(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "ds", "participant_id,sponsor_id,joined_on\n", "participant_id,ordered_on,amount\n"
    )
    result = invoke("score", str(folder), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out" / "run.json").read_text())["rows"]["participants"]["in"] == 0


def test_score_prints_the_segment_table_and_abc_health(tmp_path: Path) -> None:
    result = invoke("score", str(SAMPLE), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "segments: which pay off" in result.output
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    health = run["segments"]["abc_health"]
    line = next(x for x in result.output.splitlines() if x.startswith("ABC health:"))
    assert f"A is {health['a_share_of_buyers']:.1%} of buyers" in line
    assert (
        f"{health['participants_making_80pct_of_revenue']:.1%} of participants make 80 % of revenue" in line
    )
    assert (tmp_path / "out" / "segments.parquet").is_file()
