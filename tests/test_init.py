"""`mlmroi init DIR` (issue 14, point 5): a commented mlmroi.toml guessed from the columns of a dataset's
files, which loads as written, maps a company's own column names, asks (TODO) where a guess would be a
coin toss, and never overwrites a file."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.config import TABLES, load_config
from mlmroi.errors import InputError, OutputError
from mlmroi.io.read import OPTIONAL, REQUIRED
from mlmroi.starter import SYNONYMS, guess_columns, starter, write_starter
from mlmroi_cli.main import app

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
#: the sample's columns as another company might name them (file → {contract name: their name})
RENAMED = {
    "participants.csv": {"participant_id": "Member ID", "sponsor_id": "upline_id", "joined_on": "join_date"},
    "orders.csv": {
        "order_id": "id",
        "participant_id": "member_id",
        "ordered_on": "order_date",
        "amount": "total",
        "volume": "PV",
    },
    "costs.csv": {
        "participant_id": "customer_id",
        "incurred_on": "date",
        "category": "type",
        "amount": "cost",
    },
    "events.csv": {"participant_id": "member_id", "occurred_on": "event_date", "type": "event_type"},
    "leads.csv": {"lead_id": "id"},
}


def sample_copy(folder: Path) -> Path:
    """data/sample's tables, without its mlmroi.toml."""
    folder.mkdir()
    for table in SAMPLE.glob("*.csv"):
        shutil.copy(table, folder / table.name)
    return folder


def renamed_copy(folder: Path) -> Path:
    """data/sample's tables with the headers renamed as in RENAMED (the rows untouched)."""
    sample_copy(folder)
    for file, names in RENAMED.items():
        header, rows = (folder / file).read_text(encoding="utf-8").split("\n", 1)
        fields = [names.get(name, name) for name in header.split(",")]
        (folder / file).write_text(",".join(fields) + "\n" + rows, encoding="utf-8")
    return folder


def with_plan_and_window(text: str) -> str:
    """The written config with its example plan uncommented and data/sample's window set."""
    lines, in_plan = [], False
    for line in text.splitlines():
        in_plan = line.startswith("# [[plan.components]]") or (in_plan and line.startswith("# "))
        if in_plan:
            line = line.removeprefix("# ")
        line = re.sub(r"^# (start = |end = )", r"\1", line)
        lines.append(line)
    window = tomllib.loads((SAMPLE / "mlmroi.toml").read_text())["window"]
    text = "\n".join(lines) + "\n"
    text = re.sub(r"^start = \S+", f"start = {window['start']}", text, flags=re.M)
    return re.sub(r"^end = \S+", f"end = {window['end']}", text, flags=re.M)


def test_the_sample_gets_a_config_that_validates_unmodified(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path / "sample")
    result = CliRunner().invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"wrote {folder / 'mlmroi.toml'}" in result.output
    text = (folder / "mlmroi.toml").read_text(encoding="utf-8")
    config = load_config(dataset=folder)
    assert config.columns == {} and not re.search(
        r"^\[columns", text, re.M
    )  # every column has the contract's name
    assert config.plan.components == [] and "# [[plan.components]]" in text  # the example, commented
    assert config.window.start is None and config.window.end is None  # inferred from the orders
    assert {"[window]", "[input]", "[money]", "[costs]"} <= set(text.splitlines())
    # the only question left open is the currency, which no header tells
    assert [line for line in text.splitlines() if "TODO" in line] == [
        'currency = "EUR"            # TODO: the currency of your amounts (ISO code)'
    ]
    assert result.output.count("warning:") == 1 and "currency" in result.output
    validated = CliRunner().invoke(app, ["validate", str(folder)])
    assert validated.exit_code == 0, validated.output
    assert "clean: no problems found" in validated.output


def test_a_company_s_own_column_names_are_mapped_and_score_like_the_sample(tmp_path: Path) -> None:
    """The renamed dataset gets every [columns.*] mapping right: with the example plan and the sample's
    window uncommented it scores exactly as data/sample with its own mlmroi.toml."""
    folder = renamed_copy(tmp_path / "renamed")
    path, todo = write_starter(folder)
    assert path == folder / "mlmroi.toml" and len(todo) == 1  # the currency only
    expected = {
        file.removesuffix(".csv"): {theirs: ours for ours, theirs in names.items()}
        for file, names in RENAMED.items()
    }
    assert load_config(dataset=folder).columns == expected
    path.write_text(with_plan_and_window(path.read_text(encoding="utf-8")), encoding="utf-8")
    ours, sample = mlmroi.score(folder), mlmroi.score(SAMPLE)
    assert float(ours.commissions["amount"].sum()) > 0  # the example plan ran
    assert ours.participants.equals(sample.participants)
    assert ours.commissions.equals(sample.commissions)
    assert ours.rejects.equals(sample.rejects) and ours.segments.equals(sample.segments)
    assert sorted(ours.outputs) == sorted(sample.outputs)
    assert all(ours.outputs[name].equals(sample.outputs[name]) for name in ours.outputs)
    assert repr(ours) == repr(sample)


def test_a_renamed_dataset_validates_with_the_config_as_written(tmp_path: Path) -> None:
    folder = renamed_copy(tmp_path / "renamed")
    write_starter(folder)
    validated = CliRunner().invoke(app, ["validate", str(folder)])
    assert validated.exit_code == 0, validated.output


def test_a_guess_that_is_not_clear_is_a_todo_naming_the_column_and_what_was_found(tmp_path: Path) -> None:
    folder = tmp_path / "acme"
    folder.mkdir()
    (folder / "participants.csv").write_text("code,upline_code,join_date\n1,,2025-01-01\n2,1,2025-02-01\n")
    (folder / "orders.csv").write_text("customer_id,member_id,date,total\n1,1,2025-03-01,10.00\n")
    made = starter(folder)
    assert made.todo[1:] == [
        "participants.csv: which column is participant_id (required)? None has a name mlmroi knows; found: "
        '"code", "upline_code"',
        "participants.csv: which column is sponsor_id (required)? None has a name mlmroi knows; found: "
        '"code", "upline_code"',
        'orders.csv: which column is participant_id (required): "customer_id" or "member_id"?',
    ]
    for question in made.todo[1:]:
        assert f"# TODO {question}" in made.text
    assert '#   then: customer_id = "participant_id"' in made.text
    result = CliRunner().invoke(app, ["init", str(folder)])
    assert result.exit_code == 0 and result.output.count("warning:") == 4, result.output
    config = load_config(dataset=folder)  # the questions are comments: it loads
    assert config.columns == {
        "participants": {"join_date": "joined_on"},
        "orders": {"date": "ordered_on", "total": "amount"},
    }
    validated = CliRunner().invoke(app, ["validate", str(folder)])
    assert validated.exit_code == 2
    assert "participants.csv: missing required column 'participant_id'" in validated.output


def test_guesses_are_made_only_when_one_column_fits() -> None:
    assert guess_columns("orders", ["Participant ID", "Ordered On", "amount"]).mapping == {
        "Participant ID": "participant_id",
        "Ordered On": "ordered_on",
    }
    both = guess_columns("orders", ["participant id", "PARTICIPANT_ID", "order_date", "Total"])
    assert both.mapping == {"order_date": "ordered_on", "Total": "amount"}
    assert both.todo == [("participant_id", ["participant id", "PARTICIPANT_ID"], True)]
    # an optional column with two candidates is a question too; one with none is simply absent
    volume = guess_columns("orders", ["participant_id", "ordered_on", "amount", "pv", "bv"])
    assert volume.mapping == {} and volume.todo == [("volume", ["pv", "bv"], False)]
    # a contract name is never taken for another contract column (orders' cost is not an amount)
    assert guess_columns("orders", ["participant_id", "ordered_on", "cost"]).todo == [("amount", [], True)]
    assert guess_columns("costs", ["participant_id", "incurred_on", "category", "cost"]).mapping == {
        "cost": "amount"
    }


def test_mappings_follow_the_file_and_odd_names_are_quoted(tmp_path: Path) -> None:
    assert list(guess_columns("orders", ["Total", "note", "member_id", "order_date"]).mapping) == [
        "Total",
        "member_id",
        "order_date",
    ]
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "participants.csv").write_text('"Mem""ber\\ ID",Upline,joined_on\n1,,2025-01-01\n')
    (folder / "orders.csv").write_text("participant_id,ordered_on,amount\n1,2025-01-02,5\n")
    write_starter(folder)
    assert load_config(dataset=folder).columns == {
        "participants": {'Mem"ber\\ ID': "participant_id", "Upline": "sponsor_id"}
    }


def test_every_contract_column_is_known() -> None:
    for table in TABLES:
        contract = list(SYNONYMS[table])
        assert contract[: len(REQUIRED[table])] == list(REQUIRED[table])
        assert set(OPTIONAL.get(table, ())) <= set(contract)


def test_parquet_semicolons_and_a_windows_encoding(tmp_path: Path) -> None:
    """A Parquet file's schema is read; a CSV's separator (Excel's sep= line included) is detected; a file
    that is not UTF-8 gets [input] encoding, and the dataset then validates as written."""
    folder = tmp_path / "mixed"
    folder.mkdir()
    pl.DataFrame(
        {"member_id": [1, 2], "sponsor": [None, 1], "joined_on": ["2025-01-01", "2025-01-02"]}
    ).write_parquet(folder / "participants.parquet")
    orders = (
        "sep=;\nparticipant_id;ordered_on;amount;Région\n1;2025-01-05;10,50;Île\n2;2025-01-06;3,00;Nord\n"
    )
    (folder / "orders.csv").write_bytes(orders.encode("cp1252"))
    result = CliRunner().invoke(app, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    text = (folder / "mlmroi.toml").read_text(encoding="utf-8")
    assert '# separator = ";"           # detected: ";" in orders.csv' in text
    assert 'encoding = "cp1252"' in text.splitlines()[text.splitlines().index("[input]") + 2]
    config = load_config(dataset=folder)
    assert config.input.encoding == "cp1252"
    assert config.columns == {"participants": {"member_id": "participant_id", "sponsor": "sponsor_id"}}
    validated = CliRunner().invoke(app, ["validate", str(folder)])
    assert validated.exit_code == 0, validated.output


def test_nothing_is_ever_overwritten(tmp_path: Path) -> None:
    folder = sample_copy(tmp_path / "sample")
    mine = folder / "mlmroi.toml"
    mine.write_text("# my own config\n")
    runner = CliRunner()
    refused = runner.invoke(app, ["init", str(folder)])
    assert refused.exit_code == 2
    assert refused.output.strip().splitlines() == [
        f"error: {mine}: already exists; mlmroi init never overwrites a file: remove it, or write "
        "elsewhere with --out FILE"
    ]
    assert mine.read_text() == "# my own config\n"
    elsewhere = tmp_path / "acme.toml"
    assert runner.invoke(app, ["init", str(folder), "--out", str(elsewhere)]).exit_code == 0
    assert load_config(elsewhere).plan.components == []
    again = runner.invoke(app, ["init", str(folder), "--out", str(elsewhere)])
    assert again.exit_code == 2 and "already exists" in again.output
    dangling = tmp_path / "link.toml"
    dangling.symlink_to(tmp_path / "nowhere.toml")
    with pytest.raises(OutputError, match="already exists"):
        write_starter(folder, dangling)
    assert not (tmp_path / "nowhere.toml").exists()
    with pytest.raises(OutputError, match=r"must end in \.toml"):
        write_starter(folder, tmp_path / "acme.txt")


def test_a_missing_folder_or_participants_table_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["init", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert missing.output.strip() == f"error: {tmp_path / 'nope'}: dataset folder not found"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "orders.csv").write_text("participant_id,ordered_on,amount\n")
    bare = runner.invoke(app, ["init", str(tmp_path / "empty")])
    assert bare.exit_code == 2 and len(bare.output.strip().splitlines()) == 1
    assert "missing required table participants" in bare.output
    assert not (tmp_path / "empty" / "mlmroi.toml").exists()
    (tmp_path / "empty" / "participants.csv").write_text("")
    with pytest.raises(InputError, match=r"participants\.csv: the file is empty"):
        starter(tmp_path / "empty")


def test_init_help_is_plain_and_fits_80_columns() -> None:
    result = CliRunner().invoke(app, ["init", "--help"], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "--out FILE" in result.output and "never overwritten" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
