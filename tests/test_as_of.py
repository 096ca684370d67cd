"""A run describes the company as of its window end: who joined later is not in its tables (counted in
run.json as ``joined_after_window``, not rejected), and every network figure is as of that date."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import networkx as nx
import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config, with_overrides
from mlmroi.errors import InputError
from mlmroi.explain import explain
from tests.helpers import write_dataset
from tests.runjson import run_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
END = dt.date(2025, 6, 30)


@pytest.fixture(scope="module")
def half_year(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, mlmroi.Result]:
    config = with_overrides(mlmroi.load_config(dataset=SAMPLE), None, END)
    result = mlmroi.score(SAMPLE, config)
    out = tmp_path_factory.mktemp("asof") / "run"
    mlmroi.write(result, out)
    return out, result


def test_joiners_after_the_end_are_left_out_and_counted(half_year: tuple[Path, mlmroi.Result]) -> None:
    out, result = half_year
    people = pl.read_csv(SAMPLE / "participants.csv", try_parse_dates=True)
    later = people.filter(pl.col("joined_on") > END)
    table = pl.read_parquet(out / "participants.parquet")
    assert later.height > 0
    assert table.height == people.height - later.height
    assert table["joined_on"].max() <= END  # type: ignore[operator]
    assert table.join(later, on="participant_id").height == 0
    run = json.loads((out / "run.json").read_text())
    rows = run["rows"]["participants"]
    assert rows == {
        "in": people.height,
        "used": table.height,
        "rejected": 0,
        "joined_after_window": later.height,
    }
    assert run["network"]["participants"] == table.height
    assert run["network"]["joined_after_window"] == later.height
    assert result.rejects.height == 0  # nothing is wrong with those rows
    # Their orders are not in the run: every order row is used, rejected or counted with its participant.
    orders = pl.read_csv(SAMPLE / "orders.csv", try_parse_dates=True)
    theirs = orders.join(later.select("participant_id"), on="participant_id")
    o = run["rows"]["orders"]
    assert o["joined_after_window"] == theirs.height
    assert o["in"] == o["used"] + o["rejected"] + o["joined_after_window"]
    mine = orders.join(table.select("participant_id"), on="participant_id")
    assert o["outside_window"] == mine.filter(pl.col("ordered_on") > END).height


def test_network_figures_are_as_of_the_end(half_year: tuple[Path, mlmroi.Result]) -> None:
    out, _ = half_year
    people = pl.read_csv(SAMPLE / "participants.csv", try_parse_dates=True).filter(pl.col("joined_on") <= END)
    tree = nx.DiGraph()
    tree.add_nodes_from(people["participant_id"].to_list())
    tree.add_edges_from(
        (s, p) for p, s in people.select("participant_id", "sponsor_id").iter_rows() if s is not None
    )
    table = pl.read_parquet(out / "participants.parquet")
    for pid, frontline, downline in table.select("participant_id", "frontline", "downline_size").iter_rows():
        assert frontline == tree.out_degree(pid)
        assert downline == len(nx.descendants(tree, pid))


def test_explain_reads_the_same_as_of_network(half_year: tuple[Path, mlmroi.Result]) -> None:
    out, result = half_year
    table = result.participants.sort("commissions", descending=True)
    top = str(table["participant_id"][0])
    assert explain(out, top).participant_id == table["participant_id"][0]
    people = pl.read_csv(SAMPLE / "participants.csv", try_parse_dates=True)
    later = str(people.filter(pl.col("joined_on") > END)["participant_id"][0])
    with pytest.raises(InputError, match="not in the run"):
        explain(out, later)


CONFIG = """
[window]
start = 2025-01-01
end = 2025-03-31
[value]
model = "none"
[costs.categories]
acquisition = ["ads"]
[[plan.components]]
type = "unilevel"
levels = [0.10, 0.05]
"""


def _score(folder: Path, config: str | None = CONFIG) -> mlmroi.Result:
    return mlmroi.score(folder, mlmroi.load_config(dataset=folder) if config else _no_window())


def _no_window() -> mlmroi.Config:
    return parse_config({"value": {"model": "none"}})


def test_rows_of_a_later_joiner_are_counted_not_used(tmp_path: Path) -> None:
    people = """participant_id,sponsor_id,joined_on,role
1,,2024-01-01,distributor
2,1,2025-02-01,distributor
3,1,2025-05-01,distributor
4,1,2025-05-01,boss
"""
    # 3 bought before joining (inside the window) and after the end; 4 joined late but its role is bad.
    orders = """participant_id,ordered_on,amount
2,2025-02-10,100.00
3,2025-03-10,70.00
3,2025-05-10,30.00
3,2025-05-11,oops
"""
    costs = """participant_id,incurred_on,category,amount
3,2025-03-01,ads,40.00
,2025-02-01,ads,9.00
"""
    folder = write_dataset(tmp_path / "d", people, orders, costs, CONFIG)
    result = _score(folder)
    rows = run_json(result)["rows"]
    assert rows["participants"] == {"in": 4, "used": 2, "rejected": 1, "joined_after_window": 1}
    # A bad row is a reject whoever it belongs to; the good ones of the later joiner are counted.
    assert rows["orders"] == {
        "in": 4,
        "used": 1,
        "rejected": 1,
        "joined_after_window": 2,
        "outside_window": 0,
    }
    assert rows["costs"]["joined_after_window"] == 1 and rows["costs"]["used"] == 1
    assert run_json(result)["totals"]["revenue"] == "100.00"
    # 3's own cost is not shared out: the shared 9.00 is all the acquisition cost there is.
    assert run_json(result)["totals"]["acquisition_cost"] == "9.00"
    assert result.participants["participant_id"].to_list() == [1, 2]
    assert result.participants["frontline"].to_list() == [1, 0]
    assert result.rejects["reason"].to_list() == [
        "bad role (expected distributor or customer)",
        "non-numeric amount",
    ]


def test_a_recruit_dated_before_a_later_sponsor_is_rejected_with_the_reason(tmp_path: Path) -> None:
    people = """participant_id,sponsor_id,joined_on
1,,2024-01-01
2,1,2025-06-01
3,2,2025-01-15
4,3,2025-04-01
"""
    orders = """participant_id,ordered_on,amount
1,2025-01-10,10.00
3,2025-01-20,20.00
"""
    result = _score(write_dataset(tmp_path / "d", people, orders, None, CONFIG))
    reasons = dict(
        result.rejects.filter(pl.col("table") == "participants").select("row", "reason").iter_rows()
    )
    assert reasons == {
        3: "sponsor chain broken: 3 → 2 reaches participant 2 (row 2), who joined after the window end",
    }
    assert run_json(result)["rows"]["participants"] == {
        "in": 4,
        "used": 1,
        "rejected": 1,
        "joined_after_window": 2,
    }
    # 3's order follows 3 into the rejects; 4 joined after the end too and is only counted.
    order_reasons = result.rejects.filter(pl.col("table") == "orders")["reason"].to_list()
    assert order_reasons == ["participant is rejected (see participants row 3)"]


def test_an_inferred_end_leaves_out_who_joined_after_the_last_order(tmp_path: Path) -> None:
    people = """participant_id,sponsor_id,joined_on
1,,2024-01-01
2,1,2025-03-01
3,1,2025-03-20
"""
    orders = """participant_id,ordered_on,amount
1,2025-01-10,10.00
2,2025-03-15,20.00
"""
    folder = write_dataset(tmp_path / "d", people, orders, None, None)
    result = mlmroi.score(folder, _no_window())
    assert run_json(result)["window"]["end"] == "2025-03-15"
    assert run_json(result)["rows"]["participants"]["joined_after_window"] == 1
    assert result.participants["participant_id"].to_list() == [1, 2]


def test_binary_placement_of_a_later_joiner_takes_no_leg(tmp_path: Path) -> None:
    people = """participant_id,sponsor_id,joined_on,placement_id,placement_leg
1,,2024-01-01,,
2,1,2025-05-01,1,L
3,1,2025-02-01,1,R
"""
    orders = "participant_id,ordered_on,amount\n3,2025-02-10,100.00\n"
    config = CONFIG.replace(
        'type = "unilevel"\nlevels = [0.10, 0.05]', 'type = "binary"\nrate = 0.10\nunit = 1'
    )
    result = _score(write_dataset(tmp_path / "d", people, orders, None, config))
    assert result.rejects.height == 0
    assert run_json(result)["rows"]["participants"]["joined_after_window"] == 1
    assert result.participants["participant_id"].to_list() == [1, 3]
