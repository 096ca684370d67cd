"""Any CSV a company exports: separators, encodings, header problems, ragged rows, date formats
(docs/data-contract.md, "CSV files")."""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl
import pytest

from mlmroi.config import parse_config
from mlmroi.errors import InputError
from mlmroi.io.dataset import Dataset
from mlmroi.io.load import LoadOptions, load

PEOPLE = [["participant_id", "sponsor_id", "joined_on"], ["1", "", "2024-01-01"], ["2", "1", "2024-01-02"]]
ORDERS = [["participant_id", "ordered_on", "amount"], ["1", "2024-02-01", "10.50"], ["2", "2024-02-03", "4"]]


def _write(folder: Path, name: str, rows: list[list[str]], sep: str = ",", encoding: str = "utf-8") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = "\n".join(sep.join(row) for row in rows) + "\n"
    (folder / f"{name}.csv").write_bytes(text.encode(encoding))


def _load(folder: Path, **input_keys: object) -> Dataset:
    return load(folder, parse_config({"input": input_keys}).load_options())


def _reasons(data: Dataset, table: str) -> dict[int, str]:
    frame = data.rejects.frame().filter(pl.col("table") == table)
    return dict(zip(frame["row"].to_list(), frame["reason"].to_list(), strict=True))


def _amounts(data: Dataset) -> list[int]:
    return sorted(pl.concat(data.orders)["amount"].to_list())


@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_the_separator_is_detected(tmp_path: Path, sep: str) -> None:
    _write(tmp_path, "participants", PEOPLE, sep)
    _write(tmp_path, "orders", ORDERS, sep)
    data = _load(tmp_path)
    assert data.network.size == 2
    assert _amounts(data) == [400, 1050]
    assert len(data.rejects) == 0


def test_a_named_separator_wins_and_a_wrong_one_gets_a_hint(tmp_path: Path) -> None:
    _write(tmp_path, "participants", PEOPLE, ";")
    _write(tmp_path, "orders", ORDERS, ";")
    assert _load(tmp_path, separator=";").network.size == 2
    with pytest.raises(
        InputError, match=r"one column .* containing a semicolon .*set in \[input\] separator"
    ):
        _load(tmp_path, separator=",")


def test_a_quoted_one_column_header_gets_a_hint(tmp_path: Path) -> None:
    _write(tmp_path, "participants", [['"participant_id;sponsor_id;joined_on"'], ["1;;2024-01-01"]])
    _write(tmp_path, "orders", ORDERS)
    with pytest.raises(InputError, match="is the whole header quoted"):
        _load(tmp_path)


@pytest.mark.parametrize(
    ("encoding", "bom", "keys"),
    [
        ("utf-8", codecs.BOM_UTF8, {}),
        ("utf-16-le", codecs.BOM_UTF16_LE, {}),
        ("utf-16-be", codecs.BOM_UTF16_BE, {}),
        ("latin-1", b"", {"encoding": "latin-1"}),
        ("cp1252", b"", {"encoding": "cp1252"}),
    ],
)
def test_encodings(tmp_path: Path, encoding: str, bom: bytes, keys: dict[str, str]) -> None:
    people = [[*PEOPLE[0], "region"], [*PEOPLE[1], "Zürich"], [*PEOPLE[2], "Köln"]]
    text = "\n".join(",".join(row) for row in people) + "\n"
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "participants.csv").write_bytes(bom + text.encode(encoding))
    _write(tmp_path, "orders", ORDERS)
    data = _load(tmp_path, **keys)
    assert data.network.ids.to_list() == [1, 2]
    assert sorted(data.attributes.frame["region"].to_list()) == ["Köln", "Zürich"]
    assert "participant_id" in data.attributes.names  # no BOM glued to the first name


def test_text_that_is_not_utf8_names_the_setting(tmp_path: Path) -> None:
    people = [[*PEOPLE[0], "region"], [*PEOPLE[1], "Zürich"], [*PEOPLE[2], "Köln"]]
    _write(tmp_path, "participants", people, encoding="latin-1")
    _write(tmp_path, "orders", ORDERS)
    with pytest.raises(InputError, match=r"participants.csv: not valid UTF-8 .*\[input\] encoding"):
        _load(tmp_path)


def test_a_duplicated_column_is_a_structural_error(tmp_path: Path) -> None:
    _write(tmp_path, "participants", PEOPLE)
    _write(tmp_path, "orders", [[*ORDERS[0], "amount"], [*ORDERS[1], "3"], [*ORDERS[2], "5"]])
    with pytest.raises(InputError, match=r"orders\.csv: column .amount. appears 2 times in the header"):
        _load(tmp_path)


def test_ragged_rows_are_rejects_with_their_row_numbers(tmp_path: Path) -> None:
    _write(tmp_path, "participants", PEOPLE)
    orders = [
        *ORDERS,
        ["1", "2024-02-05"],
        ["2", "2024-02-06", "7", "extra"],
        ["", "", ""],
        ["1", "2024-03-01", "2"],
    ]
    _write(tmp_path, "orders", orders)
    data = _load(tmp_path)
    reasons = _reasons(data, "orders")
    assert reasons[3] == "ragged row: 2 fields, the header has 3"
    assert reasons[4] == "ragged row: 4 fields, the header has 3"
    assert 5 in reasons and "missing" in reasons[5]  # an empty row is a row with empty cells
    assert _amounts(data) == [200, 400, 1050]
    assert data.rows()["orders"] == {"in": 6, "used": 3, "rejected": 3, "joined_after_window": 0}


def test_quoted_fields_keep_their_separators_and_line_breaks(tmp_path: Path) -> None:
    people = [[*PEOPLE[0], "note"], [*PEOPLE[1], '"a, b"'], [*PEOPLE[2], '"two\nlines"']]
    _write(tmp_path, "participants", people)
    _write(tmp_path, "orders", [*ORDERS, ["2", "2024-02-07"]])
    data = _load(tmp_path)
    assert sorted(data.attributes.frame["note"].to_list()) == ["a, b", "two\nlines"]
    assert _reasons(data, "orders") == {3: "ragged row: 2 fields, the header has 3"}


def test_a_date_format(tmp_path: Path) -> None:
    people = [PEOPLE[0], ["1", "", "01.01.2024"], ["2", "1", "31.02.2024"]]
    _write(tmp_path, "participants", people, ";")
    _write(tmp_path, "orders", [ORDERS[0], ["1", "01.02.2024", "10"]], ";")
    data = _load(tmp_path, date_format="%d.%m.%Y")
    assert _reasons(data, "participants") == {2: "bad date (expected %d.%m.%Y)"}
    assert pl.concat(data.orders)["ordered_on"].cast(pl.String).to_list() == ["2024-02-01"]


@pytest.mark.parametrize(
    ("day", "good"),
    [
        ("2024-02-01T10:30:00", True),
        ("2024-02-01 23:59", True),
        ("2024-02-01T10:30:00.123", True),
        ("2024-02-01T10:30:00Z", True),
        ("2024-02-01T10:30:00+01:00", True),
        ("2024-02-01T10:30:00+25:00", False),
        ("2024-02-01T99:99:99", False),
        ("2024-02-01T24:00", False),
        ("2024-02-01 10:60", False),
        ("2024-02-30", False),
    ],
)
def test_impossible_dates_and_times_are_rejected(tmp_path: Path, day: str, good: bool) -> None:
    _write(tmp_path, "participants", PEOPLE)
    _write(tmp_path, "orders", [ORDERS[0], ["1", day, "10"], ORDERS[2]])
    data = _load(tmp_path)
    assert _reasons(data, "orders") == ({} if good else {1: "bad date (expected YYYY-MM-DD)"})


def test_the_default_options_are_detection(tmp_path: Path) -> None:
    _write(tmp_path, "participants", PEOPLE, "|")
    _write(tmp_path, "orders", ORDERS, "\t")
    assert load(tmp_path, LoadOptions()).network.size == 2


def test_trailing_separators_and_crlf(tmp_path: Path) -> None:
    """Exports that end every line with a separator (unnamed empty columns) or with CR LF read as usual."""
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "participants.csv").write_bytes(
        b"participant_id,sponsor_id,joined_on,\r\n1,,2024-01-01,\r\n2,1,2024-01-02,\r\n"
    )
    (tmp_path / "orders.csv").write_bytes(
        b"participant_id,ordered_on,amount,,\r\n1,2024-02-01,5,,\r\n2,2024-02-01\r\n"
    )
    data = _load(tmp_path)
    assert data.network.size == 2
    assert _amounts(data) == [500]
    assert _reasons(data, "orders") == {2: "ragged row: 2 fields, the header has 5"}


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark(tmp_path: Path, encoding: str) -> None:
    _write(tmp_path, "participants", PEOPLE, encoding=encoding)
    _write(tmp_path, "orders", ORDERS, ";", encoding=encoding)
    data = _load(tmp_path)
    assert data.network.size == 2
    assert _amounts(data) == [400, 1050]


def test_excel_sep_line_names_the_separator(tmp_path: Path) -> None:
    _write(tmp_path, "participants", [["sep=;"], *PEOPLE], ";")
    _write(tmp_path, "orders", [["sep=|"], *ORDERS, ["1", "2024-02-09"]], "|")
    data = _load(tmp_path)
    assert data.network.size == 2
    assert _amounts(data) == [400, 1050]
    assert _reasons(data, "orders") == {3: "ragged row: 2 fields, the header has 3"}
