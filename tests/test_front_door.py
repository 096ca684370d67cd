"""Issue 14's first points on the command line and the API: --version, the config's JSON Schema, a warning
when no compensation plan is configured, score() taking a config path, load_config refusing a dataset
folder that does not exist, and a Result whose repr is short."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.config import Config
from mlmroi.errors import ConfigError
from mlmroi_cli.main import app
from mlmroi_cli.terminal import out
from tests.runjson import run_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"mlmroi {mlmroi.__version__}"


def test_schema_is_the_configs_json_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema == json.loads(json.dumps(Config.model_json_schema()))
    assert {"window", "plan", "source", "input", "value"} <= set(schema["properties"])
    assert schema["$defs"]["InputConfig"]["properties"]["pushdown"]["default"] is True


@pytest.fixture(scope="module")
def sample_result() -> mlmroi.Result:
    return mlmroi.score(SAMPLE, SAMPLE / "mlmroi.toml")  # a path, not a Config


def test_score_takes_a_config_path_or_none(sample_result: mlmroi.Result, tmp_path: Path) -> None:
    assert run_json(sample_result)["totals"]["commissions"] != "0.00"
    assert not any("no compensation plan" in w for w in sample_result.warnings)
    folder = tmp_path / "no_plan"
    shutil.copytree(SAMPLE, folder)
    (folder / "mlmroi.toml").unlink()
    bare = mlmroi.score(folder)  # None: DATASET/mlmroi.toml, here absent, so defaults (no plan)
    assert run_json(bare)["totals"]["commissions"] == "0.00"
    assert bare.warnings[0].startswith("no compensation plan is configured")


def test_the_cli_warns_when_no_plan_is_configured(tmp_path: Path) -> None:
    folder = tmp_path / "no_plan"
    shutil.copytree(SAMPLE, folder)
    (folder / "mlmroi.toml").write_text("[window]\nstart = 2025-01-01\nend = 2025-12-31\n")
    result = CliRunner().invoke(app, ["score", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "warning: no compensation plan is configured" in result.output


def test_load_config_refuses_a_dataset_that_is_not_there(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dataset folder not found"):
        mlmroi.load_config(dataset=tmp_path / "data_sampel")


def test_a_results_repr_is_one_short_line(sample_result: mlmroi.Result) -> None:
    text = repr(sample_result)
    assert "\n" not in text and len(text) < 300
    assert f"{sample_result.participants.height:,} participants" in text
    assert f"revenue {run_json(sample_result)['totals']['revenue']}" in text


@pytest.mark.parametrize(
    "command", ["score", "validate", "simulate", "explain", "compare", "sql", "schema", "generate"]
)
def test_help_text_is_plain_and_complete(command: str) -> None:
    """No rich markup eats "[plan]" or "[source]"; no Python type shows through; lines fit 80 columns."""
    result = CliRunner().invoke(app, [command, "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "list[" not in text and "<bool>" not in text and "Path]" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    if command == "simulate":
        assert "[plan]" in text and "--plan FILE" in text
    if command in ("score", "validate", "simulate", "explain"):
        assert "[source] password_env" in " ".join(text.split())
    if command == "score":
        assert "report.html" in text


def test_simulate_prints_money_with_thousands_separators() -> None:
    plans = SAMPLE.parent / "plans"
    args = [
        "simulate",
        str(SAMPLE),
        "--plan",
        str(plans / "unilevel.toml"),
        "--plan",
        str(plans / "binary.toml"),
    ]
    result = CliRunner().invoke(app, args, terminal_width=120)
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.strip("│ ").startswith("commissions"))
    assert "188,604.98" in line  # the unilevel plan's total on the sample, exact


def test_progress_is_one_line_per_stage_when_piped_and_quiet_keeps_only_the_result(tmp_path: Path) -> None:
    runner = CliRunner()
    normal = runner.invoke(app, ["score", str(SAMPLE), "--out", str(tmp_path / "a")])
    assert normal.exit_code == 0, normal.output
    lines = normal.stderr.splitlines()
    stages = [line.split("s  ", 1)[1] for line in lines if "s  " in line]
    assert stages[:3] == [
        "loading mlmroi",
        "reading and validating",
        "segments on other windows (read 2,000 participants, 19,898 orders, 1,703 costs, 4,145 events, "
        "300 leads rows)",
    ]
    assert "commissions (2,000 participants, 12 periods)" in stages and "tables" in stages
    assert lines[-1].startswith("scoring took ")
    assert "payout ratio" in normal.stdout
    quiet = runner.invoke(app, ["-q", "score", str(SAMPLE), "--out", str(tmp_path / "b")])
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stderr == "" and quiet.stdout.strip() == f"wrote {tmp_path / 'b'}"
    both = runner.invoke(app, ["-q", "-v", "score", str(SAMPLE), "--out", str(tmp_path / "c")])
    assert both.exit_code == 2


def test_the_summary_fits_80_columns_when_piped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(
        app, ["score", str(SAMPLE), "--out", str(tmp_path / "out")], terminal_width=80
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines if line.startswith(("│", "┃", "┏", "└"))) <= 80
    assert not [line for line in lines if line.startswith("│") and "…" in line]  # no cell cut
    segments = mlmroi.score(SAMPLE).segments.filter(pl.col("segmentation") != "abcxyz")
    for value in segments["value"]:
        assert any(line.startswith(f"│   {value} ") for line in lines), value  # each value whole
    monkeypatch.setattr(out, "_width", 140)  # a wide terminal (restored to "ask the terminal" after)
    wide = CliRunner().invoke(app, ["score", str(SAMPLE), "--out", str(tmp_path / "w")])
    assert "┃ segment " in wide.stdout and "│ rfm_segment  │ champions " in wide.stdout
    assert "│              │ potential_loyalist │" in wide.stdout


def test_compare_lists_moves_when_the_matrix_is_too_wide(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    for name in ("a", "b"):
        assert runner.invoke(app, ["-q", "score", str(SAMPLE), "--out", str(tmp_path / name)]).exit_code == 0
    args = ["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--segmentation", "rfm_segment"]
    narrow = runner.invoke(app, [*args, "--segmentation", "abc"], terminal_width=80)
    assert narrow.exit_code == 0, narrow.output
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80
    assert not [line for line in narrow.stdout.splitlines() if line.startswith("│") and "…" in line]
    assert "rfm_segment: every move, largest first" in narrow.stdout
    assert "│ potential_loyalist │ potential_loyalist │    623 │      100% │" in narrow.stdout
    assert "┃ abc ┃   A ┃   B ┃   C ┃" in narrow.stdout  # a small matrix stays a matrix
    monkeypatch.setattr(out, "_width", 250)
    wide = runner.invoke(app, args)
    assert "every move" not in wide.stdout and "potential_loyalist" in wide.stdout


def test_network_values_are_keyed_by_id_or_refused() -> None:
    """Values in the caller's row order, not the network's: a frame keyed by participant_id gives each
    participant their own group volume; a bare list or Series is refused, not misread."""
    import numpy as np
    import polars as pl

    ids = ["d", "a", "c", "b", "e"]  # a → b → c, a → d, c → e (given in no particular order)
    sponsors = ["a", None, "b", "a", "c"]
    net = mlmroi.from_edges(ids, sponsors)
    pv = pl.DataFrame({"participant_id": ids, "pv": [25, 5, 50, 100, 20]})
    gv = net.group_volume(pv)
    assert gv["participant_id"].to_list() == ids  # the caller's order back
    assert dict(zip(ids, gv["pv"].to_list(), strict=True)) == {"a": 200, "b": 170, "c": 70, "d": 25, "e": 20}
    for ambiguous in ([25, 5, 50, 100, 20], pl.Series([25, 5, 50, 100, 20])):
        with pytest.raises(ValueError, match="no participant ids"):
            net.group_volume(ambiguous)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="every participant exactly once"):
        net.group_volume(pv.head(4))
    with pytest.raises(ValueError, match="repeats"):
        net.group_volume(pl.concat([pv, pv.head(1)]))
    # A numpy array is in node order (the engine's own layout, documented): row i is net.ids[i].
    in_node_order = np.zeros(5, dtype=np.int64)
    in_node_order[net.nodes_of(pv["participant_id"])] = pv["pv"].to_numpy()
    assert net.group_volume(in_node_order)[net.nodes_of(pv["participant_id"])].tolist() == gv["pv"].to_list()
