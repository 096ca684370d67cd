"""`simulate`: plans side by side on the same data agree with separate score runs."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.errors import ConfigError
from mlmroi.simulate import load_plan, simulate
from mlmroi_cli.main import app
from tests.helpers import write_dataset
from tests.runjson import run_json

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
        assert result.plans[name]["commissions"] == run_json(scored)["totals"]["commissions"]
        assert result.plans[name]["by_component"] == run_json(scored)["totals"]["commissions_by_component"]
        assert result.plans[name]["payout_ratio"] == run_json(scored)["totals"]["payout_ratio"]
        bands = sum(Decimal(v) for v in result.plans[name]["by_depth_band"].values())
        assert bands == Decimal(run_json(scored)["totals"]["commissions"])


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
    assert "hybrid: no commissions by rank" in result.output
    assert (
        data["plans"]["hybrid"]["rank_source"] is None
        and data["plans"]["hybrid"]["commissions_by_rank"] is None
    )
    missing = CliRunner().invoke(app, ["simulate", str(SAMPLE), "--plan", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2 and "plan file not found" in missing.output


# Commissions by rank. The ORACLES.md stairstep example (A root; B and D under A; C under B; PV A 800,
# B 400, C 600, D 200) plus E under A with PV 501, and a `rank` column of the company's own. Participants
# are listed out of tree order, one rank has spaces around it, one is blank, and X is rejected (unknown
# sponsor), so its rank "zzz" must not show.
RANK_PARTICIPANTS = """
participant_id,sponsor_id,joined_on,rank
C,B,2024-01-01,associate
A,,2024-01-01,manager
E,A,2024-01-01,
B,A,2024-01-01, associate
D,A,2024-01-01,"  "
X,ZZ,2024-01-01,zzz
"""
RANK_ORDERS = """
participant_id,ordered_on,amount
A,2025-01-05,800
B,2025-01-05,400
C,2025-01-05,600
D,2025-01-05,200
E,2025-01-05,501
"""
RANK_WINDOW = """
[window]
start = 2025-01-01
end = 2025-01-31
"""
LADDER = """
[[plan.components]]
type = "stairstep"
name = "ladder"
personal_rebate = true
[[plan.components.ranks]]
name = "bronze"
rate = 0.05
min_gv = 500
[[plan.components.ranks]]
name = "silver"
rate = 0.10
min_gv = 1000
[[plan.components.ranks]]
name = "gold"
rate = 0.15
min_gv = 2000
[[plan.components.ranks]]
name = "platinum"
rate = 0.20
min_gv = 100000
"""
FLAT = """
[[plan.components]]
type = "unilevel"
levels = [0.10, 0.05, 0.02]
active_min_pv = 100
compression = "none"
"""


@pytest.fixture
def ranked(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The rank dataset and its two plan files (stairstep ``ladder``, unilevel ``flat``)."""
    dataset = write_dataset(tmp_path / "ranked", RANK_PARTICIPANTS, RANK_ORDERS, config=RANK_WINDOW)
    (tmp_path / "ladder.toml").write_text(LADDER, encoding="utf-8")
    (tmp_path / "flat.toml").write_text(FLAT, encoding="utf-8")
    return dataset, tmp_path / "ladder.toml", tmp_path / "flat.toml"


def _ranked_simulation(ranked: tuple[Path, Path, Path]) -> mlmroi.simulate.Simulation:
    dataset, ladder, flat = ranked
    base = mlmroi.load_config(dataset=dataset)
    return simulate(dataset, {"ladder": load_plan(ladder, base), "flat": load_plan(flat, base)})


def _rank_total(by_rank: list[dict[str, object]]) -> Decimal:
    return sum((Decimal(str(r["commissions"])) for r in by_rank), Decimal(0))


def test_commissions_by_stairstep_rank_by_hand(ranked: tuple[Path, Path, Path]) -> None:
    # GV: A 2,501 (gold 15%), B 1,000 (silver 10%), C 600 and E 501 (bronze 5%), D 200 (no rank).
    # Paid: C 30.00 (5% of own 600); E 25.05 (5% of own 501); B 70.00 (10% of own 400 + 5% of C's 600);
    # A 250.10 (15% of 800 + 5% of 400 + 5% of 600 + 15% of D's 200 + 10% of E's 501); D 0.
    # Total 375.15. Every plan rank is listed in plan order, platinum with nobody; "(no rank)" last.
    ladder = _ranked_simulation(ranked).plans["ladder"]
    assert ladder["commissions"] == "375.15"
    assert ladder["rank_source"] == "stairstep:ladder"
    assert ladder["commissions_by_rank"] == [
        {"rank": "bronze", "participants": 2, "commissions": "55.05", "share": 0.146741, "mean": "27.52"},
        {"rank": "silver", "participants": 1, "commissions": "70.00", "share": 0.186592, "mean": "70.00"},
        {"rank": "gold", "participants": 1, "commissions": "250.10", "share": 0.666667, "mean": "250.10"},
        {"rank": "platinum", "participants": 0, "commissions": "0.00", "share": 0.0, "mean": None},
        {"rank": "(no rank)", "participants": 1, "commissions": "0.00", "share": 0.0, "mean": "0.00"},
    ]  # bronze's mean 27.525 rounds half-to-even to 27.52
    assert _rank_total(ladder["commissions_by_rank"]) == Decimal(ladder["commissions"])


def test_commissions_by_dataset_rank_without_a_stairstep(ranked: tuple[Path, Path, Path]) -> None:
    # Unilevel 10/5/2 %, no compression, everyone active: A earns 40.00 (B) + 30.00 (C, level 2) + 20.00 (D)
    # + 50.10 (E) = 140.10; B earns 60.00 (C). The dataset's ranks: A manager, B and C associate (B's with
    # spaces), D blank and E empty -> no rank; X's "zzz" left with X. Alphabetical, "(no rank)" last.
    flat = _ranked_simulation(ranked).plans["flat"]
    assert flat["commissions"] == "200.10"
    assert flat["rank_source"] == "dataset:rank"
    assert flat["commissions_by_rank"] == [
        {"rank": "associate", "participants": 2, "commissions": "60.00", "share": 0.29985, "mean": "30.00"},
        {"rank": "manager", "participants": 1, "commissions": "140.10", "share": 0.70015, "mean": "140.10"},
        {"rank": "(no rank)", "participants": 2, "commissions": "0.00", "share": 0.0, "mean": "0.00"},
    ]


def test_no_rank_breakdown_without_stairstep_or_rank_column(side_by_side) -> None:  # type: ignore[no-untyped-def]
    # The sample has no rank column, and neither plan has a stairstep.
    _, result = side_by_side
    for name in ("unilevel", "hybrid"):
        assert result.plans[name]["rank_source"] is None
        assert result.plans[name]["commissions_by_rank"] is None
        assert result.as_json()["plans"][name]["commissions_by_rank"] is None


def test_commissions_by_rank_reconcile_with_score_to_the_cent(tmp_path: Path) -> None:
    # Stairstep on the sample, uncapped and with caps that bind: the rank totals add up exactly to the plan's
    # commissions, and each equals a separate score run's commissions grouped by its rank_stairstep column.
    capped = tmp_path / "capped.toml"
    capped.write_text(
        (PLANS / "stairstep.toml").read_text(encoding="utf-8")
        + "\n[plan.caps]\ncap_per_participant_period = 300\nmax_payout_ratio = 0.05\n",
        encoding="utf-8",
    )
    base = mlmroi.load_config(dataset=SAMPLE)
    configs = {"stairstep": load_plan(PLANS / "stairstep.toml", base), "capped": load_plan(capped, base)}
    result = simulate(SAMPLE, configs)
    assert Decimal(result.plans["capped"]["commissions"]) < Decimal(result.plans["stairstep"]["commissions"])
    for name, config in configs.items():
        plan = result.plans[name]
        by_rank = plan["commissions_by_rank"]
        assert plan["rank_source"] == "stairstep:stairstep"
        assert [r["rank"] for r in by_rank][:5] == ["member", "bronze", "silver", "gold", "diamond"]
        assert _rank_total(by_rank) == Decimal(plan["commissions"])
        assert sum(r["participants"] for r in by_rank) == 2000
        scored = mlmroi.score(SAMPLE, config).participants
        grouped = scored.group_by(pl.col("rank_stairstep").cast(pl.String).fill_null("(no rank)")).agg(
            pl.len().alias("participants"), pl.col("commissions").sum()
        )
        expected = {
            row["rank_stairstep"]: (row["participants"], str(row["commissions"]))
            for row in grouped.iter_rows(named=True)
        }
        shown = {r["rank"]: (r["participants"], r["commissions"]) for r in by_rank if r["participants"]}
        assert shown == expected
        assert by_rank[1]["share"] == round(
            float(Decimal(by_rank[1]["commissions"]) / Decimal(plan["commissions"])), 6
        )


def test_simulate_cli_shows_commissions_by_rank(ranked: tuple[Path, Path, Path], tmp_path: Path) -> None:
    dataset, ladder, flat = ranked
    out = tmp_path / "sim.json"
    args = ["simulate", str(dataset), "--plan", str(ladder), "--plan", str(flat), "--json", str(out)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "ladder: commissions by rank (stairstep:ladder)" in result.output
    assert "flat: commissions by rank (dataset:rank)" in result.output
    lines = result.output.splitlines()
    bronze = [cell for cell in next(line for line in lines if "bronze" in line).split() if cell != "│"]
    assert bronze == ["bronze", "2", "55.05", "14.67%", "27.52"]
    assert any("(no rank)" in line and "0.00" in line for line in lines)
    data = json.loads(out.read_text())
    assert data["plans"]["ladder"]["rank_source"] == "stairstep:ladder"
    assert data["plans"]["flat"]["commissions_by_rank"][1]["commissions"] == "140.10"
