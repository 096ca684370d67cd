"""Honest ids: an id is what was written (docs/data-contract.md, "Ids")."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import mlmroi
from mlmroi.io import parse
from mlmroi.io.dataset import Dataset
from mlmroi.io.load import LoadOptions, load
from tests.helpers import write_dataset

JAN = dt.date(2024, 1, 1)


def _reasons(data: Dataset, table: str) -> dict[int, str]:
    frame = data.rejects.frame().filter(pl.col("table") == table)
    return dict(zip(frame["row"].to_list(), frame["reason"].to_list(), strict=True))


def _ids(data: Dataset) -> list[object]:
    return data.network.ids.to_list()


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["1", "2", " 30 ", None, "-4", "0"], pl.Int64),
        (["007", "7"], pl.String),  # a leading zero is part of the id
        (["1", "+2"], pl.String),
        (["1", "2.0"], pl.String),
        (["1", "-0"], pl.String),
        (["9223372036854775807"], pl.Int64),
        (["9223372036854775808"], pl.String),  # beyond int64: text, not an error
        (["A1", "2"], pl.String),
    ],
)
def test_text_ids_are_integers_only_when_written_plainly(values: list[str | None], kind: type) -> None:
    assert parse.id_kind(pl.Series(values, dtype=pl.String)) == kind


def test_typed_id_columns() -> None:
    assert parse.id_kind(pl.Series([1.0, float("nan"), 3.0])) == pl.Int64  # pandas' NaN-promoted column
    assert parse.id_kind(pl.Series([1.0, 2.5])) == pl.String
    assert parse.id_kind(pl.Series([1, 2], dtype=pl.UInt64)) == pl.Int64
    assert parse.id_kind(pl.Series([2**63 + 1], dtype=pl.UInt64)) == pl.String


def test_parse_id_matches_only_what_was_written() -> None:
    values, bad = parse.parse_id(pl.Series(["7", "007", "", None, "x"]), pl.Int64())
    assert values.to_list() == [7, None, None, None, None]
    assert bad.to_list() == [False, True, False, False, True]
    values, bad = parse.parse_id(pl.Series([7.0, float("nan"), None, 2.5]), pl.Int64())
    assert values.to_list() == [7, None, None, None]
    assert bad.to_list() == [False, False, False, True]
    values, bad = parse.parse_id(pl.Series([7.0, 8]), pl.String())
    assert values.to_list() == ["7", "8"]
    values, _ = parse.parse_id(pl.Series([2**63 + 1], dtype=pl.UInt64), pl.String())
    assert values.to_list() == [str(2**63 + 1)]


def test_007_and_7_are_two_participants_written_as_they_came(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "d",
        "participant_id,sponsor_id,joined_on\n007,,2024-01-01\n7,007,2024-01-02\n0001,7,2024-01-03",
        "participant_id,ordered_on,amount\n007,2024-02-01,10\n7,2024-02-01,20\n0001,2024-02-02,5\n1,2024-02-02,5",
        config=None,
    )
    data = load(folder, LoadOptions())
    assert sorted(_ids(data)) == ["0001", "007", "7"]
    assert _reasons(data, "participants") == {}
    assert _reasons(data, "orders") == {4: "unknown participant_id (not in participants)"}
    result = mlmroi.score(folder, mlmroi.Config())
    out = result.participants.select("participant_id", "sponsor_id").rows()
    assert sorted(out) == [("0001", "7"), ("007", None), ("7", "007")]


def test_integer_ids_do_not_match_zero_padded_references(tmp_path: Path) -> None:
    folder = write_dataset(
        tmp_path / "d",
        "participant_id,sponsor_id,joined_on\n7,,2024-01-01\n8,07,2024-01-01",
        "participant_id,ordered_on,amount\n7,2024-02-01,10\n007,2024-02-01,20",
        config=None,
    )
    data = load(folder, LoadOptions())
    assert _reasons(data, "participants") == {
        2: "sponsor 07 does not exist (use --orphans root to make such participants roots)"
    }
    assert _reasons(data, "orders") == {2: "unknown participant_id (not in participants)"}


def test_pandas_parquet_float_sponsors_and_ids(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    people = {
        "participant_id": pa.array([1, 2, 3], pa.int64()),
        "sponsor_id": pa.array([float("nan"), 1.0, 2.0]),  # NaN: a root
        "joined_on": pa.array([JAN] * 3),
    }
    pq.write_table(pa.table(people), folder / "participants.parquet")
    orders = {
        "participant_id": pa.array([1.0, 2.0, 3.0, 4.5]),
        "ordered_on": pa.array([JAN] * 4),
        "amount": pa.array([1.0, 2.0, 3.0, 4.0]),
    }
    pq.write_table(pa.table(orders), folder / "orders.parquet")
    data = load(folder, LoadOptions())
    assert _ids(data) == [1, 2, 3]
    assert data.network.parent.tolist() == [-1, 0, 1]
    assert _reasons(data, "participants") == {}
    assert _reasons(data, "orders") == {4: "unknown participant_id (not in participants)"}


def test_uint64_ids_beyond_int64(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    big = [2**63 + 5, 2**63 + 6]
    people = {
        "participant_id": pa.array(big, pa.uint64()),
        "sponsor_id": pa.array([None, big[0]], pa.uint64()),
        "joined_on": pa.array([JAN] * 2),
    }
    pq.write_table(pa.table(people), folder / "participants.parquet")
    orders = {
        "participant_id": pa.array(big, pa.uint64()),
        "ordered_on": pa.array([JAN] * 2),
        "amount": [1, 2],
    }
    pq.write_table(pa.table(orders), folder / "orders.parquet")
    data = load(folder, LoadOptions())
    assert _ids(data) == [str(big[0]), str(big[1])]
    assert data.network.parent.tolist() == [-1, 0]
    assert data.rejects.frame().height == 0


def test_fractional_participant_id_is_rejected_with_a_reason(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    people = {
        "participant_id": pa.array([1.0, 2.5]),
        "sponsor_id": pa.array([None, 1.0]),
        "joined_on": pa.array([JAN] * 2),
    }
    pq.write_table(pa.table(people), folder / "participants.parquet")
    orders = {"participant_id": pa.array([1.0]), "ordered_on": pa.array([JAN]), "amount": [1]}
    pq.write_table(pa.table(orders), folder / "orders.parquet")
    data = load(folder, LoadOptions())
    assert _ids(data) == ["1"]
    assert _reasons(data, "participants") == {2: "bad participant_id (a fractional number)"}
