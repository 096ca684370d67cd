"""``mlmroi explain``: traced per-source detail adds up to what the production kernels computed, per
participant and component; the command's lines add up to the cent to participants.parquet."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

import mlmroi
from mlmroi.config import parse_config
from mlmroi.explain import explain
from mlmroi.network import from_edges, with_placement
from mlmroi.periods import EarlyVolume
from mlmroi.plans import run_plan
from mlmroi.plans.base import PeriodVolumes
from mlmroi_cli.main import app
from tests.helpers import ORACLE_ORDERS, ORACLE_PARTICIPANTS, UNILEVEL, write_dataset
from tests.test_network import random_forests

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"

STAIRSTEP = {
    "type": "stairstep",
    "ranks": [
        {"name": "member", "rate": 0.0},
        {"name": "manager", "rate": 0.05, "min_gv": 50},
        {"name": "director", "rate": 0.10, "min_gv": 120},
    ],
}


def plans() -> st.SearchStrategy[list[dict[str, Any]]]:
    unilevel = st.builds(
        lambda dynamic, unlock: {
            "type": "unilevel",
            "levels": [0.1, 0.05, 0.02],
            "active_min_pv": 20,
            "compression": "dynamic" if dynamic else "none",
            "unlock": [0, 1, 2] if unlock else None,
        },
        st.booleans(),
        st.booleans(),
    )
    stairstep = st.builds(
        lambda rebate, breakaway: (
            STAIRSTEP
            | {"personal_rebate": rebate}
            | ({"breakaway_rank": "director", "generation_rates": [0.04, 0.02]} if breakaway else {})
        ),
        st.booleans(),
        st.booleans(),
    )
    matching = st.just({"type": "matching", "rates": [0.2, 0.1], "active_min_pv": 10})
    fast_start = st.just({"type": "fast_start", "rate": 0.2, "days": 30})
    return st.lists(st.one_of(unilevel, stairstep, matching, fast_start), min_size=1, max_size=3).map(
        lambda items: [item | {"name": f"c{k}"} for k, item in enumerate(items)]
    )


@given(random_forests(max_size=16), plans(), st.randoms(use_true_random=False))
def test_traced_detail_adds_up_to_the_kernels(
    edges: tuple[list[Any], list[Any]], components: list[dict[str, Any]], rng: Any
) -> None:
    pids, sids = edges
    net = from_edges(pids, sids)
    n, periods = net.size, 2
    personal = np.array(
        [[rng.choice([0, 0, 1500, 3000, 7000, -500]) for _ in range(n)] for _ in range(periods)]
    )
    early = np.array([[rng.choice([0, 1000, 2500]) for _ in range(n)] for _ in range(periods)])
    volumes = PeriodVolumes(
        personal.astype(np.int64),
        ("2025-01", "2025-02"),
        {30: EarlyVolume.from_dense(30, early.astype(np.int64))},
    )
    config = parse_config({"plan": {"components": components}})
    plain = run_plan(net, volumes, config)
    for node in range(n):
        for base, traced in zip(plain, run_plan(net, volumes, config, trace=node), strict=True):
            trace = traced.trace
            assert trace is not None and trace.node == node
            assert int(trace.received.exact.sum()) == int(base.received_exact[node]), (traced.component, node)
            assert int(trace.generated.exact.sum()) == int(base.generated_exact[node]), (
                traced.component,
                node,
            )
            # Rows of the traced run are the plain run's rows: tracing never changes a result.
            assert np.array_equal(traced.amount, base.amount) and np.array_equal(traced.payee, base.payee)
            for level, exact in zip(trace.received.level, trace.received.exact, strict=True):
                assert exact != 0 and level != 0


def test_binary_trace_apportions_each_period_exactly() -> None:
    net = with_placement(
        from_edges(["X", "A", "B", "C"], [None, "X", "X", "A"]),
        {"A": ("X", "L"), "B": ("X", "R"), "C": ("A", "L")},
    )
    ids = net.ids.to_list()
    pv = {"X": 0, "A": 300, "B": 400, "C": 200}
    volumes = PeriodVolumes(np.array([[pv[v] * 100 for v in ids]], dtype=np.int64), ("2025-01",))
    config = parse_config({"plan": {"components": [{"type": "binary", "rate": 0.1}]}})
    x = ids.index("X")
    (result,) = run_plan(net, volumes, config, trace=x)
    assert result.trace is not None
    # X's legs: 500 / 400 -> 40.00, shared by A, B and C in proportion to 300 / 400 / 200.
    received = dict(
        zip([ids[s] for s in result.trace.received.other], result.trace.received.exact, strict=True)
    )
    assert received == {"A": 1_333_333_333, "B": 1_777_777_778, "C": 888_888_889}
    assert sum(received.values()) == int(result.received_exact[x])
    (from_c,) = run_plan(net, volumes, config, trace=ids.index("C"))
    assert from_c.trace is not None
    assert [ids[p] for p in from_c.trace.generated.other] == ["X"]  # A has only one leg filled: no pay


def score_to(tmp_path: Path, dataset: Path, plan: Path | None = None) -> Path:
    config = mlmroi.load_config(plan, dataset)
    out = tmp_path / "run"
    mlmroi.write(mlmroi.score(dataset, config), out)
    return out


def test_oracle_unilevel_line_by_line(tmp_path: Path) -> None:
    # ORACLES.md unilevel, dynamic compression: B (active) earns 10% of D's 200 (level 1: C is skipped),
    # 5% of E's 100 (level 2) and 10% of F's 50 -> 20 + 5 + 5 = 30.00; B's own 100 pays A 10%.
    folder = write_dataset(
        tmp_path / "d", ORACLE_PARTICIPANTS, ORACLE_ORDERS, config=UNILEVEL.format(compression="dynamic")
    )
    run_dir = score_to(tmp_path, folder)
    result = explain(run_dir, "B", folder)
    lines = {
        (direction, other, level): str(amount)
        for direction, other, level, amount in result.detail.select(
            "direction", "participant_id", "level", "amount"
        ).iter_rows()
    }
    assert lines == {
        ("received", "D", 1): "20.00",
        ("received", "F", 1): "5.00",
        ("received", "E", 2): "5.00",
        ("generated", "A", 1): "10.00",
    }
    assert result.summary["received"] == "30.00"


@pytest.mark.parametrize("plan", ["hybrid", "stairstep", "binary"])
def test_lines_add_up_to_the_participants_totals(tmp_path: Path, plan: str) -> None:
    run_dir = score_to(tmp_path, SAMPLE, ROOT / "data" / "plans" / f"{plan}.toml")
    people = pl.read_parquet(run_dir / "participants.parquet")
    top = people.sort("commissions", "participant_id", descending=[True, False])["participant_id"][0]
    for pid in (top, people["participant_id"][777]):
        result = explain(run_dir, str(pid), SAMPLE)
        mine = people.filter(pl.col("participant_id") == pid).row(0, named=True)
        received = result.detail.filter(pl.col("direction") == "received")
        assert Decimal(result.summary["received"]) == mine["commissions"]
        for component in result.summary["by_component"]:
            part = received.filter(pl.col("component") == component)["amount"].sum()
            assert Decimal(str(part or 0)) == mine[f"commissions_{component}"], (plan, pid, component)
        assert received.height > 0 or mine["commissions"] == 0


def test_explain_cli_and_its_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    dataset = tmp_path / "data"
    shutil.copytree(SAMPLE, dataset)
    run_dir = score_to(tmp_path, dataset, ROOT / "data" / "plans" / "hybrid.toml")
    runner = CliRunner()
    ok = runner.invoke(app, ["explain", str(run_dir), "1", "--top", "3", "--out", str(tmp_path / "d.csv")])
    assert ok.exit_code == 0, ok.output
    assert "commissions by component" in ok.output and "largest amounts received" in ok.output
    written = pl.read_csv(tmp_path / "d.csv")
    assert written.columns == ["direction", "period", "component", "level", "participant_id", "amount"]
    unknown = runner.invoke(app, ["explain", str(run_dir), "99999999"])
    assert unknown.exit_code == 2
    assert unknown.output.strip().splitlines() == [
        "error: participant '99999999' is not in the run (unknown, rejected, or joined after the window end)"
    ]
    with (dataset / "orders.csv").open("a", encoding="utf-8") as handle:
        handle.write("1,2025-03-01,10.00,10.00,,false\n")
    changed = runner.invoke(app, ["explain", str(run_dir), "1"])
    assert changed.exit_code == 2
    assert "changed since the run (sha256 differs)" in changed.output
    assert "Traceback" not in changed.output
