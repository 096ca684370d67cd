"""Exact money through the loader: amounts are parsed from their written digits, never through float
(docs/data-contract.md, "Money"); out-of-range amounts are rejects, overflowing totals one clear error."""

from __future__ import annotations

import datetime as dt
import random
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlmroi.errors import InputError
from mlmroi.io.dataset import Dataset
from mlmroi.io.load import LoadOptions, load

PEOPLE = "participant_id,sponsor_id,joined_on\n1,,2024-01-01\n2,1,2024-01-01\n"


def _folder(tmp_path: Path, orders: str, people: str = PEOPLE) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "participants.csv").write_text(people)
    (tmp_path / "orders.csv").write_text(orders)
    return tmp_path


def _column(data: Dataset, name: str = "amount") -> list[int]:
    return pl.concat(data.orders)[name].to_list()


def _reasons(data: Dataset) -> dict[int, str]:
    frame = data.rejects.frame()
    return dict(zip(frame["row"].to_list(), frame["reason"].to_list(), strict=True))


def _exact(text: str) -> int:
    return int(Decimal(text).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN).scaleb(2))


def test_half_to_even_on_the_written_digits(tmp_path: Path) -> None:
    amounts = ["1.015", "0.545", "1.025", "-0.125", "99999999.995", "9999999999999.99", "2.675"]
    rows = "".join(f"1,2024-02-01,{a}\n" for a in amounts)
    data = load(_folder(tmp_path, "participant_id,ordered_on,amount\n" + rows), LoadOptions())
    assert _column(data) == [102, 54, 102, -12, 10_000_000_000, 999_999_999_999_999, 268]


def test_random_three_decimal_amounts_match_decimal(tmp_path: Path) -> None:
    rng = random.Random(7)
    amounts = [f"{rng.randint(0, 99)}.{rng.randint(0, 99):02d}5" for _ in range(2000)]
    rows = "".join(f"1,2024-02-01,{a}\n" for a in amounts)
    data = load(_folder(tmp_path, "participant_id,ordered_on,amount\n" + rows), LoadOptions())
    assert _column(data) == [_exact(a) for a in amounts]  # float64 got 136 of these wrong


def test_out_of_range_amounts_are_rejects(tmp_path: Path) -> None:
    orders = (
        "participant_id,ordered_on,amount,volume\n"
        "1,2024-02-01,99999999999999.99,1\n"
        "1,2024-02-01,9223372036854775.81,1\n"
        "1,2024-02-01,5,1e300\n"
        "1,2024-02-01,10000000000000,1\n"
        "1,2024-02-01,3.00,3\n"
    )
    data = load(_folder(tmp_path, orders), LoadOptions())
    reasons = _reasons(data)
    assert reasons[1].startswith("amount out of range")
    assert reasons[2].startswith("amount out of range")
    assert reasons[3].startswith("volume out of range")
    assert reasons[4].startswith("amount out of range")
    assert _column(data) == [300]


def test_totals_that_would_overflow_are_one_clear_error(tmp_path: Path) -> None:
    rows = "".join("1,2024-02-01,9999999999999.99\n" for _ in range(1001))
    with pytest.raises(InputError, match=r"orders.csv: the amount column adds up to more than"):
        load(_folder(tmp_path, "participant_id,ordered_on,amount\n" + rows), LoadOptions())


def test_decimal_comma_in_a_semicolon_file(tmp_path: Path) -> None:
    people = PEOPLE.replace(",", ";")
    orders = "participant_id;ordered_on;amount;cost\n1;2024-02-01;1.234,565;10,5\n2;2024-02-01;-0,125;\n"
    data = load(_folder(tmp_path, orders, people), LoadOptions())
    assert _column(data) == [123456, -12]
    assert _column(data, "cost") == [1050, None]


def test_a_semicolon_file_with_points_keeps_points(tmp_path: Path) -> None:
    people = PEOPLE.replace(",", ";")
    orders = "participant_id;ordered_on;amount\n1;2024-02-01;12.50\n2;2024-02-01;7\n"
    assert _column(load(_folder(tmp_path, orders, people), LoadOptions())) == [1250, 700]


def test_parquet_decimals_and_floats_convert_exactly(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "participants.csv").write_text(PEOPLE)
    jan = dt.date(2024, 2, 1)
    table = pa.table(
        {
            "participant_id": pa.array([1, 1, 2], pa.int64()),
            "ordered_on": pa.array([jan] * 3),
            "amount": pa.array(
                [Decimal("1.0150"), Decimal("0.5450"), Decimal("-2.0050")], pa.decimal128(18, 4)
            ),
            "volume": pa.array([1.015, 0.545, 99999999999999.99]),  # float64 as pandas writes it
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    data = load(tmp_path, LoadOptions())
    assert _column(data) == [102, 54]  # -2.0050's row is rejected for its volume
    assert _column(data, "volume") == [102, 54]
    assert _reasons(data)[3].startswith("volume out of range")


def test_costs_and_commissions_are_exact_too(tmp_path: Path) -> None:
    folder = _folder(tmp_path, "participant_id,ordered_on,amount\n1,2024-02-01,1\n")
    (folder / "costs.csv").write_text(
        "participant_id,incurred_on,category,amount\n1,2024-02-01,training,0.545\n,2024-02-01,advertising,1.015\n"
    )
    (folder / "commissions.csv").write_text("participant_id,paid_on,amount\n2,2024-02-01,-1.005\n")
    options = LoadOptions(cost_kinds={"training": "retention", "advertising": "acquisition"})
    data = load(folder, options)
    assert data.costs is not None and data.paid is not None
    assert sorted(data.costs["amount"].to_list()) == [54, 102]
    assert data.paid["amount"].to_list() == [-100]


def test_float_amounts_fast_path_agrees_with_their_shortest_text() -> None:
    from mlmroi.io.amounts import parse_amount
    from mlmroi.money import minor_from_float_amounts

    rng = random.Random(11)
    values = [round(rng.uniform(-1e7, 1e7), rng.randint(0, 5)) for _ in range(5000)]
    values += [1.015, 0.545, 2.675, 0.1, -0.0, 9999999999999.99, 1e13, float("nan"), float("inf"), 5e-324]
    series = pl.Series(values)
    for decimals in (0, 2, 4):
        fast, done = minor_from_float_amounts(series, decimals)
        text, _, _ = parse_amount("x", series, decimals)
        assert bool(done.any()) and not bool(done.all())
        assert fast.filter(done).to_list() == text.filter(done).to_list()


def test_parquet_float_amounts_mixing_exact_rounded_and_bad(tmp_path: Path) -> None:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "participants.csv").write_text(PEOPLE)
    day = dt.date(2024, 2, 1)
    amounts = [12.5, 1.015, float("nan"), 1e13, 3.0]
    table = pa.table(
        {
            "participant_id": pa.array([1] * 5, pa.int64()),
            "ordered_on": pa.array([day] * 5),
            "amount": amounts,
        }
    )
    pq.write_table(table, tmp_path / "orders.parquet")
    data = load(tmp_path, LoadOptions())
    assert _column(data) == [1250, 102, 300]
    reasons = _reasons(data)
    assert reasons[3] == "non-numeric amount"
    assert reasons[4].startswith("amount out of range")
