"""Bad input (SPEC §1): one test per case. Row problems go to rejects with a reason; structural problems raise."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import mlmroi
from mlmroi.errors import ConfigError, DataError, InputError
from tests.helpers import write_dataset
from tests.runjson import run_json

PEOPLE = """
participant_id,sponsor_id,joined_on
1,,2024-01-01
2,1,2024-02-01
3,2,2024-03-01
"""
ORDERS = """
participant_id,ordered_on,amount
1,2025-01-05,100
2,2025-01-06,50.5
3,2025-02-07,20
"""


def run(folder: Path, **kwargs: object) -> mlmroi.Result:
    return mlmroi.score(folder, mlmroi.load_config(dataset=folder), **kwargs)  # type: ignore[arg-type]


def reasons(result: mlmroi.Result, table: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for row, reason in result.rejects.filter(pl.col("table") == table).select("row", "reason").iter_rows():
        out.setdefault(row, []).append(reason)
    return out


def assert_conserved(result: mlmroi.Result) -> None:
    for rows in run_json(result)["rows"].values():
        assert rows["in"] == rows["used"] + rows["rejected"]


def test_clean_dataset_has_no_rejects(tmp_path: Path) -> None:
    result = run(write_dataset(tmp_path, PEOPLE, ORDERS))
    assert result.rejects.height == 0
    assert run_json(result)["rows"]["orders"] == {
        "in": 3,
        "used": 3,
        "rejected": 0,
        "joined_after_window": 0,
        "outside_window": 0,
    }


def test_bad_dates_are_rejected(tmp_path: Path) -> None:
    people = PEOPLE + "4,1,2024-13-01\n5,1,\n"
    orders = ORDERS + "1,05/01/2025,10\n1,2025-01-05T10:30:00,10\n"
    result = run(write_dataset(tmp_path, people, orders))
    p = reasons(result, "participants")
    assert p[4] == ["bad date (expected YYYY-MM-DD)"]
    assert p[5] == ["missing joined_on"]
    o = reasons(result, "orders")
    assert o == {4: ["bad date (expected YYYY-MM-DD)"]}  # a time part is accepted (row 5)
    assert_conserved(result)


def test_non_numeric_and_missing_amounts(tmp_path: Path) -> None:
    orders = ORDERS + "1,2025-01-05,abc\n1,2025-01-05,\n1,2025-01-05,NaN\n"
    result = run(write_dataset(tmp_path, PEOPLE, orders))
    o = reasons(result, "orders")
    assert o[4] == ["non-numeric amount"] and o[5] == ["missing amount"] and o[6] == ["non-numeric amount"]
    row = result.rejects.filter(pl.col("row") == 4).row(0, named=True)
    assert row == {
        "table": "orders",
        "row": 4,
        "column": "amount",
        "value": "abc",
        "reason": "non-numeric amount",
    }


def test_duplicate_participant_id_keeps_the_first(tmp_path: Path) -> None:
    result = run(write_dataset(tmp_path, PEOPLE + "2,1,2024-05-01\n", ORDERS))
    assert reasons(result, "participants") == {4: ["duplicate participant_id (first at row 2)"]}
    assert result.participants.height == 3


def test_unknown_participant_in_orders_and_costs(tmp_path: Path) -> None:
    costs = "participant_id,incurred_on,category,amount\n99,2025-01-01,training,5\n1,2025-01-01,training,5\n"
    result = run(write_dataset(tmp_path, PEOPLE, ORDERS + "99,2025-01-05,10\n", costs))
    assert reasons(result, "orders") == {4: ["unknown participant_id (not in participants)"]}
    assert reasons(result, "costs") == {1: ["unknown participant_id (not in participants)"]}
    assert_conserved(result)


def test_self_sponsorship_rejects_the_participant_and_their_rows(tmp_path: Path) -> None:
    people = PEOPLE + "4,4,2024-01-01\n5,4,2024-01-01\n"
    result = run(write_dataset(tmp_path, people, ORDERS + "4,2025-01-05,10\n5,2025-01-05,10\n"))
    p = reasons(result, "participants")
    assert p[4] == ["self-sponsorship (sponsor_id equals participant_id)"]
    assert p[5] == ["sponsor chain broken: 5 → 4 reaches rejected participant 4 (row 4)"]
    o = reasons(result, "orders")
    assert o == {
        4: ["participant is rejected (see participants row 4)"],
        5: ["participant is rejected (see participants row 5)"],
    }
    assert_conserved(result)


def test_sponsor_cycle_and_its_descendants(tmp_path: Path) -> None:
    people = PEOPLE + "10,12,2024-01-01\n11,10,2024-01-01\n12,11,2024-01-01\n13,12,2024-01-01\n"
    result = run(write_dataset(tmp_path, people, ORDERS))
    p = reasons(result, "participants")
    assert p[4] == ["sponsor cycle: 10 → 12 → 11 → 10"]
    assert p[5][0].startswith("sponsor cycle: 11 →")
    assert p[7] == ["sponsor chain broken: 13 → 12 reaches sponsor cycle 12 → 11 → 10 → 12"]
    assert result.participants.height == 3


def test_missing_sponsor_rejected_or_made_root(tmp_path: Path) -> None:
    people = PEOPLE + "4,77,2024-01-01\n5,4,2024-01-01\n"
    folder = write_dataset(tmp_path, people, ORDERS)
    result = run(folder)
    p = reasons(result, "participants")
    assert p[4][0].startswith("sponsor 77 does not exist")
    assert p[5] == ["sponsor chain broken: 5 → 4 reaches rejected participant 4 (row 4)"]
    rooted = run(folder, orphans="root")
    assert rooted.rejects.height == 0
    assert run_json(rooted)["network"]["orphans_made_roots"] == 1
    assert run_json(rooted)["network"]["roots"] == 2


def test_orders_outside_window_are_used_and_counted(tmp_path: Path) -> None:
    result = run(write_dataset(tmp_path, PEOPLE, ORDERS + "1,2024-12-31,10\n"))
    assert run_json(result)["rows"]["orders"] == {
        "in": 4,
        "used": 4,
        "rejected": 0,
        "joined_after_window": 0,
        "outside_window": 1,
    }
    assert run_json(result)["totals"]["revenue"] == "170.50"


def test_order_field_problems(tmp_path: Path) -> None:
    orders = (
        "order_id,participant_id,ordered_on,amount,volume,cost,retail\n"
        "a,1,2025-01-05,10,10,5,false\n"
        "a,1,2025-01-05,10,10,5,false\n"
        "b,1,2025-01-05,10,x,5,false\n"
        "c,1,2025-01-05,10,10,y,false\n"
        "d,1,2025-01-05,10,10,5,maybe\n"
        "e,,2025-01-05,10,10,5,true\n"
    )
    result = run(write_dataset(tmp_path, PEOPLE, orders))
    assert reasons(result, "orders") == {
        2: ["duplicate order_id"],
        3: ["non-numeric volume"],
        4: ["non-numeric cost"],
        5: ["bad retail flag (expected true or false)"],
        6: ["missing participant_id"],
    }


def test_cost_field_problems(tmp_path: Path) -> None:
    costs = (
        "participant_id,incurred_on,category,amount,payer,filter_column,filter_value\n"
        "1,2025-01-03,training,-5,company,,\n"
        "1,2025-01-03,fireworks,5,company,,\n"
        ",2025-01-03,training,5,participant,,\n"
        ",2025-01-03,advertising,5,company,region,\n"
        ",2025-01-03,advertising,5,company,shoe_size,42\n"
        ",2025-06-03,advertising,5,company,,\n"
        ",2025-02-03,advertising,5,company,,\n"
    )
    people = "participant_id,sponsor_id,joined_on,region\n1,,2024-01-01,north\n2,1,2024-02-01,south\n"
    result = run(
        write_dataset(tmp_path, people, "participant_id,ordered_on,amount\n1,2025-01-05,100\n", costs)
    )
    r = reasons(result, "costs")
    assert r[1] == ["negative cost amount (costs must be ≥ 0)"]
    assert r[2] == ["category not mapped in [costs.categories] (add it to acquisition or retention)"]
    assert r[3] == ["a cost paid by a participant needs participant_id"]
    assert r[4] == ["filter_column and filter_value must be given together"]
    assert r[5] == ["filter_column is not a participants column"]
    assert 6 not in r  # outside the window: used, counted, not allocated
    assert r[7] == ["shared acquisition cost selects no participant (nobody joined in 2025-02)"]
    assert run_json(result)["rows"]["costs"]["outside_window"] == 1
    assert_conserved(result)


def test_strict_fails_when_anything_is_rejected(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path, PEOPLE, ORDERS + "1,2025-01-05,abc\n")
    with pytest.raises(DataError) as info:
        run(folder, strict=True)
    assert info.value.exit_code == 1
    assert "orders.csv row 4: amount 'abc': non-numeric amount" in info.value.problems


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: (d / "orders.csv").unlink(), "missing required table orders"),
        (
            lambda d: (d / "orders.csv").write_text("participant_id,ordered_on\n1,2025-01-01\n"),
            "orders.csv: missing required column 'amount'",
        ),
        (
            lambda d: (d / "orders.csv").write_text("participant_id,ordered_on,amount\n1,x,1\n2,y,2\n"),
            "orders.csv: column 'ordered_on' is not a date",
        ),
        (
            lambda d: ((d / "orders.csv").unlink(), (d / "orders.parquet").write_bytes(b"not parquet")),
            "orders.parquet: cannot read file",
        ),
        (lambda d: (d / "orders.parquet").write_bytes(b"x"), "both orders.parquet and orders.csv exist"),
    ],
)
def test_structural_problems_raise_one_line_each(tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    folder = write_dataset(tmp_path, PEOPLE, ORDERS)
    mutate(folder)
    with pytest.raises(InputError) as info:
        run(folder)
    assert info.value.exit_code == 2
    assert any(message in line for line in info.value.problems), info.value.problems
    assert all("\n" not in line for line in info.value.problems)


def test_column_mapping(tmp_path: Path) -> None:
    people = "member_no,upline,since\n1,,2024-01-01\n2,1,2024-01-01\n"
    config = (
        '[window]\nstart = 2025-01-01\nend = 2025-01-31\n[columns.participants]\nmember_no = "participant_id"\n'
        'upline = "sponsor_id"\nsince = "joined_on"\n'
    )
    result = run(
        write_dataset(tmp_path, people, "participant_id,ordered_on,amount\n2,2025-01-02,10\n", config=config)
    )
    assert result.participants["participant_id"].to_list() == [1, 2]
    assert result.participants["depth"].to_list() == [0, 1]


def test_config_errors_name_their_key(tmp_path: Path) -> None:
    config = (
        '[[plan.components]]\ntype = "unilevel"\nlevels = [0.1, 2.0]\n[[plan.components]]\ntype = "forced_matrix"\n'
        '[window]\nperiod = "day"\n'
    )
    folder = write_dataset(tmp_path, PEOPLE, ORDERS, config=config)
    with pytest.raises(ConfigError) as info:
        mlmroi.load_config(dataset=folder)
    text = "\n".join(info.value.problems)
    assert "mlmroi.toml: window.period:" in text
    assert "plan.components: unknown component type 'forced_matrix'" in text


def test_config_error_path_inside_a_component(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path, PEOPLE, ORDERS, config='[[plan.components]]\ntype = "unilevel"\nlevels = [0.1, 2.0]\n'
    )
    with pytest.raises(ConfigError) as info:
        mlmroi.load_config(dataset=folder)
    assert info.value.problems == [
        "mlmroi.toml: plan.components[0].levels: level 2 rate 2.0 is not between 0 and 1"
    ]


def test_parquet_input_matches_csv(tmp_path: Path) -> None:
    csv_dir = write_dataset(tmp_path / "csv", PEOPLE, ORDERS)
    pq_dir = write_dataset(tmp_path / "pq", PEOPLE, ORDERS)
    for name in ("participants", "orders"):
        frame = pl.read_csv(pq_dir / f"{name}.csv", try_parse_dates=True)
        (pq_dir / f"{name}.csv").unlink()
        frame.write_parquet(pq_dir / f"{name}.parquet")
    a, b = run(csv_dir), run(pq_dir)
    assert a.participants.equals(b.participants)
    assert run_json(a)["totals"] == run_json(b)["totals"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_orders_streamed_in_chunks_match_one_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    orders = "order_id,participant_id,ordered_on,amount,cost\n" + "".join(
        f"{i},{1 + i % 3},2025-0{1 + i % 3}-1{i % 9},{10 + i}.25,{'' if i % 4 else 3}\n" for i in range(1, 40)
    )
    orders += "7,1,2025-01-02,5,\n"  # row 40: repeats order 7 (in an earlier chunk)
    orders += (
        "41,9,2025-01-02,5,\n41,1,2025-01-02,x,\n"  # rows 41, 42: unknown participant; bad amount + repeat
    )
    folder = write_dataset(tmp_path / "ds", PEOPLE, orders)
    if fmt == "parquet":
        frame = pl.read_csv(folder / "orders.csv", schema_overrides={"amount": pl.String})
        (folder / "orders.csv").unlink()
        frame.write_parquet(folder / "orders.parquet", row_group_size=5)
    whole = run(folder)
    monkeypatch.setattr("mlmroi.io.read.CHUNK_ROWS", 7)
    chunked = run(folder)
    assert chunked.rejects.equals(whole.rejects)
    assert chunked.participants.equals(whole.participants)
    assert run_json(chunked)["totals"] == run_json(whole)["totals"]
    assert reasons(chunked, "orders") == {
        40: ["duplicate order_id"],
        41: ["unknown participant_id (not in participants)"],
        42: ["non-numeric amount", "duplicate order_id"],
    }
    assert run_json(chunked)["rows"]["orders"] == {
        "in": 42,
        "used": 39,
        "rejected": 3,
        "joined_after_window": 0,
        "outside_window": 0,
    }


def test_integer_flags_read_as_booleans() -> None:
    """A 0/1 integer column (MySQL's BOOLEAN, a Parquet int) is a flag; any other number is a bad cell."""
    import polars as pl

    from mlmroi.io.parse import parse_bool

    values, bad = parse_bool("orders", pl.Series("retail", [0, 1, 2, None], dtype=pl.Int8))
    assert values.to_list() == [False, True, None, None]
    assert bad.to_list() == [False, False, True, False]
