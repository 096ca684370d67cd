"""`simulate`: plans side by side on the same data agree with separate score runs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.errors import ConfigError
from mlmroi.simulate import load_plan, simulate
from mlmroi_cli.main import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
PLANS = ROOT / "data" / "plans"


@pytest.fixture(scope="module")
def side_by_side() -> tuple[dict[str, mlmroi.Config], mlmroi.simulate.Simulation]:
    base = mlmroi.load_config(dataset=SAMPLE)
    configs = {name: load_plan(PLANS / f"{name}.toml", base) for name in ("unilevel", "hybrid")}
    return configs, simulate(SAMPLE, configs, top=5)


def test_each_plan_matches_a_separate_score_run(side_by_side) -> None:  # type: ignore[no-untyped-def]
    configs, result = side_by_side
    for name, config in configs.items():
        scored = mlmroi.score(SAMPLE, config)
        assert result.plans[name]["commissions"] == scored.run["totals"]["commissions"]
        assert result.plans[name]["by_component"] == scored.run["totals"]["commissions_by_component"]
        assert result.plans[name]["payout_ratio"] == scored.run["totals"]["payout_ratio"]
        bands = sum(Decimal(v) for v in result.plans[name]["by_depth_band"].values())
        assert bands == Decimal(scored.run["totals"]["commissions"])


def test_biggest_changes_are_ordered_and_consistent(side_by_side) -> None:  # type: ignore[no-untyped-def]
    configs, result = side_by_side
    changes = result.changes
    assert 0 < changes.height <= 5
    assert (changes["commissions"] - changes["baseline"] == changes["delta"]).all()
    deltas = [abs(d) for d in changes["delta"].to_list()]
    assert deltas == sorted(deltas, reverse=True)
    hybrid = mlmroi.score(SAMPLE, configs["hybrid"]).participants
    first = changes.row(0, named=True)
    assert (
        hybrid.filter(hybrid["participant_id"] == first["participant_id"])["commissions"].item()
        == first["commissions"]
    )
    assert (
        result.plans["hybrid"]["roi_turns_negative"] >= 0
        and "roi_turns_negative" not in result.plans["unilevel"]
    )


def test_plan_file_needs_a_plan(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("[money]\ncurrency = 'EUR'\n")
    with pytest.raises(ConfigError, match=r"no \[plan\] section"):
        load_plan(tmp_path / "empty.toml", mlmroi.Config())
    (tmp_path / "bad.toml").write_text("[[plan.components]]\ntype = 'unilevel'\nlevels = [3]\n")
    with pytest.raises(ConfigError, match=r"plan\.components\[0\]\.levels"):
        load_plan(tmp_path / "bad.toml", mlmroi.Config())


def test_simulate_cli(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    args = [
        "simulate",
        str(SAMPLE),
        "--plan",
        str(PLANS / "unilevel.toml"),
        "--plan",
        str(PLANS / "hybrid.toml"),
        "--json",
        str(out),
    ]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "payout ratio" in result.output and "hybrid" in result.output
    data = json.loads(out.read_text())
    assert set(data["plans"]) == {"unilevel", "hybrid"}
    assert data["biggest_changes"][0]["plan"] == "hybrid"
    missing = CliRunner().invoke(app, ["simulate", str(SAMPLE), "--plan", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "plan file not found" in missing.output
