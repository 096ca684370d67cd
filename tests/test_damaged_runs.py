"""``explain`` and ``compare`` on damaged, hand-edited or foreign run folders: every fault is one
:class:`~mlmroi.errors.InputError` line (a :class:`~mlmroi.errors.ConfigError` for run.json's config) naming
the file and what is wrong — never a traceback from json, pydantic or polars."""

from __future__ import annotations

import json
import random
import shutil
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.compare import compare
from mlmroi.errors import ConfigError, InputError, MlmRoiError
from mlmroi.explain import explain
from mlmroi_cli.main import app
from tests.helpers import ORACLE_ORDERS, ORACLE_PARTICIPANTS, UNILEVEL, write_dataset

RERUN = "re-run `mlmroi score`"


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The ORACLES.md unilevel dataset scored once (text ids A..F; B earns 30.00)."""
    base = tmp_path_factory.mktemp("scored")
    folder = write_dataset(
        base / "data", ORACLE_PARTICIPANTS, ORACLE_ORDERS, config=UNILEVEL.format(compression="dynamic")
    )
    out = base / "run"
    mlmroi.write(mlmroi.score(folder, mlmroi.load_config(dataset=folder)), out)
    return out


@pytest.fixture
def run(scored: Path, tmp_path: Path) -> Path:
    """A fresh copy of the scored run, free to damage."""
    return Path(shutil.copytree(scored, tmp_path / "run"))


def one_line(error: pytest.ExceptionInfo[MlmRoiError], *fragments: str) -> str:
    """The error's single line, which holds every fragment."""
    assert len(error.value.problems) == 1, error.value.problems
    (line,) = error.value.problems
    assert "\n" not in line
    for fragment in fragments:
        assert fragment in line, line
    return line


def edit_run_json(run: Path, change: Callable[[dict[str, Any]], object]) -> None:
    info = json.loads((run / "run.json").read_text(encoding="utf-8"))
    change(info)
    (run / "run.json").write_text(json.dumps(info), encoding="utf-8")


def half_of(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def damaged_pages(path: Path) -> None:
    """Overwrite the data pages and keep the footer: the schema reads, the rows do not."""
    data = path.read_bytes()
    body_end = len(data) - 8 - struct.unpack("<I", data[-8:-4])[0]
    path.write_bytes(data[:4] + b"\x00" * (body_end - 4) + data[body_end:])


def rewrite(path: Path, change: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    change(pl.read_parquet(path)).write_parquet(path)


def test_the_scored_run_explains(run: Path) -> None:
    assert explain(run, "B").summary["received"] == "30.00"


# run.json: unreadable ---------------------------------------------------------------------------------------


def test_run_json_missing(run: Path) -> None:
    (run / "run.json").unlink()
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{run}: no run.json", "mlmroi score")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: "{not json at all", "not valid JSON"),
        (lambda text: "", "not valid JSON"),
        (lambda text: "[1, 2, 3]", "not a JSON object but an array"),
        (lambda text: '"a run"', "not a JSON object but the string 'a run'"),
        (lambda text: "null", "not a JSON object but null"),
    ],
    ids=["truncated", "garbage", "empty", "array", "string", "null"],
)
def test_run_json_unreadable(run: Path, damage: Callable[[str], str], expected: str) -> None:
    path = run / "run.json"
    path.write_text(damage(path.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{path}: {expected}", RERUN)


def test_run_json_not_utf8(run: Path) -> None:
    path = run / "run.json"
    path.write_bytes(path.read_bytes().replace(b'"mlmroi_version"', b'"mlmroi_v\xe9rsion"'))
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{path}: not UTF-8 text", RERUN)


def test_run_json_is_a_folder(run: Path) -> None:
    (run / "run.json").unlink()
    (run / "run.json").mkdir()
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{run / 'run.json'}: cannot read")


# run.json: structure ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda info: info.pop("config"), "missing key 'config'"),
        (lambda info: info.pop("window"), "missing key 'window'"),
        (lambda info: info.pop("inputs"), "missing key 'inputs'"),
        (lambda info: info.pop("network"), "missing key 'network'"),
        (lambda info: info["window"].pop("start"), "missing key 'window.start'"),
        (lambda info: info["inputs"]["orders"].pop("file"), "missing key 'inputs.orders.file'"),
        (lambda info: info.update(inputs=[]), "key 'inputs' is an array, not an object"),
        (lambda info: info.update(window="2025-01"), "key 'window' is the string '2025-01', not an object"),
        (lambda info: info.update(config=[1]), "key 'config' is an array, not an object"),
        (lambda info: info.update(network=3), "key 'network' is a number, not an object"),
        (lambda info: info.update(dataset=5), "key 'dataset' is a number, not a string"),
        (
            lambda info: info["window"].update(start="soon"),
            "key 'window.start' is the string 'soon', not a date (YYYY-MM-DD)",
        ),
        (
            lambda info: info["inputs"]["orders"].update(sha256=None),
            "key 'inputs.orders.sha256' is null, not a string",
        ),
        (
            lambda info: info["inputs"].update(orders="orders.csv"),
            "key 'inputs.orders' is the string 'orders.csv', not an object",
        ),
    ],
    ids=[
        "no-config",
        "no-window",
        "no-inputs",
        "no-network",
        "no-window.start",
        "no-inputs.orders.file",
        "inputs-list",
        "window-string",
        "config-list",
        "network-number",
        "dataset-number",
        "start-not-a-date",
        "sha256-null",
        "input-string",
    ],
)
def test_run_json_keys(run: Path, change: Callable[[dict[str, Any]], object], expected: str) -> None:
    edit_run_json(run, change)
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{run / 'run.json'}: {expected} (damaged, hand-edited", RERUN)


def test_run_json_several_faults_in_one_line(run: Path) -> None:
    edit_run_json(run, lambda info: [info.pop("window"), info.update(inputs=[])])
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, "missing key 'window'; key 'inputs' is an array, not an object")


def test_run_json_config_faults_are_one_line_each(run: Path) -> None:
    def change(info: dict[str, Any]) -> None:
        info["config"]["money"]["decimals"] = "two"
        info["config"]["plan"]["components"][0]["levels"] = "many"

    edit_run_json(run, change)
    with pytest.raises(ConfigError) as error:
        explain(run, "B")
    assert len(error.value.problems) == 2
    for line, key in zip(error.value.problems, ("money.decimals", "plan.components[0].levels"), strict=True):
        assert line.startswith(f"{run / 'run.json'}: config: {key}: ") and "\n" not in line


def test_run_json_window_period_is_checked(run: Path) -> None:
    edit_run_json(run, lambda info: info["window"].update(period="fortnight"))
    with pytest.raises(ConfigError) as error:
        explain(run, "B")
    one_line(error, f"{run / 'run.json'}: window.period: ")


def test_run_json_window_start_after_end(run: Path) -> None:
    edit_run_json(run, lambda info: info["window"].update(start="2026-01-01"))
    with pytest.raises(ConfigError) as error:
        explain(run, "B")
    one_line(error, f"{run / 'run.json'}: window: start 2026-01-01 is after end")


# the dataset folder -----------------------------------------------------------------------------------------


def test_recorded_dataset_folder_missing(run: Path, tmp_path: Path) -> None:
    gone = tmp_path / "moved-away"
    edit_run_json(run, lambda info: info.update(dataset=str(gone)))
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{run / 'run.json'}: the run's dataset folder {gone} is missing", "--data")


def test_recorded_dataset_is_a_file(run: Path) -> None:
    edit_run_json(run, lambda info: info.update(dataset=str(run / "run.json")))
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, "is missing or not a folder", "--data")


def test_given_dataset_folder_missing(run: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as error:
        explain(run, "B", tmp_path / "nothing")
    one_line(error, f"{tmp_path / 'nothing'}: dataset folder not found")


def test_recorded_input_file_not_a_file(run: Path, scored: Path, tmp_path: Path) -> None:
    dataset = Path(shutil.copytree(scored.parent / "data", tmp_path / "data"))
    (dataset / "orders.csv").unlink()
    (dataset / "orders.csv").mkdir()  # not a file: reported like a missing one, per file
    with pytest.raises(InputError) as error:
        explain(run, "B", dataset)
    one_line(error, f"{dataset / 'orders.csv'}: missing")


# commissions.parquet (explain) ------------------------------------------------------------------------------


def test_commissions_missing(run: Path) -> None:
    (run / "commissions.parquet").unlink()
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{run}: no commissions.parquet")


@pytest.mark.parametrize(
    "damage",
    [half_of, lambda path: path.write_bytes(b"not parquet " * 50), lambda path: path.write_bytes(b"")],
    ids=["truncated", "garbage", "empty"],
)
def test_commissions_unreadable(run: Path, damage: Callable[[Path], object]) -> None:
    path = run / "commissions.parquet"
    damage(path)
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{path}: not a readable parquet file", RERUN)


def test_commissions_pages_damaged(run: Path) -> None:
    path = run / "commissions.parquet"
    damaged_pages(path)
    pl.read_parquet_schema(path)  # the footer is intact: the damage shows only when rows are read
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{path}: not a readable parquet file")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda frame: frame.drop("amount"), "no column(s) amount"),
        (lambda frame: frame.drop("participant_id", "level"), "no column(s) participant_id, level"),
        (lambda frame: frame.with_columns(pl.col("level").cast(pl.String)), "column 'level' is String"),
        (lambda frame: frame.with_columns(pl.col("amount").cast(pl.Float64)), "column 'amount' is Float64"),
        (
            lambda frame: frame.with_columns(pl.int_range(pl.len()).alias("participant_id")),
            "participant_id is Int64, but the run's ids are String",
        ),
    ],
    ids=["no-amount", "no-id-and-level", "level-text", "amount-float", "ids-integer"],
)
def test_commissions_columns(
    run: Path, change: Callable[[pl.DataFrame], pl.DataFrame], expected: str
) -> None:
    path = run / "commissions.parquet"
    rewrite(path, change)
    with pytest.raises(InputError) as error:
        explain(run, "B")
    one_line(error, f"{path}: {expected}", RERUN)


def test_explain_does_not_need_participants_parquet(run: Path) -> None:
    (run / "participants.parquet").unlink()
    assert explain(run, "B").summary["received"] == "30.00"


# participants.parquet (compare) -----------------------------------------------------------------------------


@pytest.mark.parametrize("side", ["a", "b"])
@pytest.mark.parametrize(
    "damage",
    [half_of, lambda path: path.write_bytes(b"\x00\xff" * 300), damaged_pages],
    ids=["truncated", "garbage", "pages"],
)
def test_participants_unreadable(
    run: Path, scored: Path, damage: Callable[[Path], object], side: str
) -> None:
    path = run / "participants.parquet"
    damage(path)
    with pytest.raises(InputError) as error:
        compare(run, scored) if side == "a" else compare(scored, run)
    one_line(error, f"{path}: not a readable parquet file", RERUN)


def test_participants_missing(run: Path, scored: Path) -> None:
    (run / "participants.parquet").unlink()
    with pytest.raises(InputError) as error:
        compare(scored, run)
    one_line(error, f"{run}: no participants.parquet")


def test_participants_without_ids(run: Path, scored: Path) -> None:
    path = run / "participants.parquet"
    rewrite(path, lambda frame: frame.drop("participant_id"))
    with pytest.raises(InputError) as error:
        compare(scored, run)
    one_line(error, f"{path}: no column(s) participant_id", RERUN)


def test_participants_without_a_default_segmentation(run: Path, scored: Path) -> None:
    path = run / "participants.parquet"
    rewrite(path, lambda frame: frame.drop("lifecycle"))
    with pytest.raises(InputError) as error:
        compare(scored, run)
    line = one_line(error, f"{path}: no column 'lifecycle'", RERUN, "available segmentations: role, abc")
    assert "lifecycle" not in line.split("available segmentations:")[1]


# segmentations ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("segmentation", "expected"),
    [
        ("participant_id", "'participant_id' is an id, not a segmentation"),
        ("sponsor_id", "'sponsor_id' is an id, not a segmentation"),
        ("revenue", "'revenue' is a Decimal(precision=18, scale=2) column, not a segmentation"),
        ("depth", "'depth' is a Int32 column, not a segmentation"),
        ("joined_on", "'joined_on' is a Date column, not a segmentation"),
        ("tier", "no column 'tier'"),
    ],
)
def test_not_a_segmentation(scored: Path, segmentation: str, expected: str) -> None:
    with pytest.raises(InputError) as error:
        compare(scored, scored, ("abc", segmentation))
    line = one_line(error, f"{scored / 'participants.parquet'}: {expected}; available segmentations: ")
    available = line.split("available segmentations: ")[1].split(", ")
    assert {"role", "abc", "xyz", "rfm_r", "rfm_segment", "lifecycle"} <= set(available)
    assert not {"participant_id", "sponsor_id", "revenue", "depth"} & set(available)


def test_no_segmentation(scored: Path) -> None:
    with pytest.raises(InputError) as error:
        compare(scored, scored, ())
    one_line(error, "no segmentation to compare", "abc")


def test_text_and_small_integer_segmentations(scored: Path) -> None:
    result = compare(scored, scored, ("role", "rfm_r", "abc", "abc"))  # a repeat is compared once
    assert list(result.orders) == ["role", "rfm_r", "abc"]
    diagonal = result.migrations.filter(pl.col("from") == pl.col("to"))
    stayed = diagonal.group_by("segmentation").agg(pl.col("participants").sum()).sort("segmentation")
    assert stayed.rows() == [("abc", 6), ("rfm_r", 5), ("role", 6)]
    # rfm_r is null for C (no purchase): counted from (new) to (gone), as before.
    assert result.members.filter(pl.col("segmentation") == "rfm_r", pl.col("from") == "(new)").height == 1


def test_segmentation_of_another_type(run: Path, scored: Path) -> None:
    path = run / "participants.parquet"
    rewrite(path, lambda frame: frame.with_columns(pl.col("rfm_r").cast(pl.String)))
    with pytest.raises(InputError) as error:
        compare(scored, run, ("abc", "rfm_r"))
    one_line(error, f"{path}: 'rfm_r' is text but integer in {scored / 'participants.parquet'}", RERUN)


def test_segmentation_text_of_another_kind_is_comparable(run: Path, scored: Path) -> None:
    # An Enum in one run and plain text in the other (another version) hold the same values: compared.
    rewrite(run / "participants.parquet", lambda frame: frame.with_columns(pl.col("abc").cast(pl.String)))
    assert compare(scored, run, ("abc",)).migrations.equals(compare(scored, scored, ("abc",)).migrations)


def test_different_id_types(run: Path, scored: Path) -> None:
    rewrite(
        run / "participants.parquet",
        lambda frame: frame.with_columns(pl.int_range(pl.len()).alias("participant_id")),
    )
    with pytest.raises(InputError) as error:
        compare(scored, run)
    one_line(error, "different participant id types")


# random damage and the command line -------------------------------------------------------------------------


@pytest.mark.parametrize("table", ["commissions", "participants"])
def test_random_damage_is_an_mlmroi_error(run: Path, scored: Path, table: str) -> None:
    path = run / f"{table}.parquet"
    original = path.read_bytes()
    rng = random.Random(table)
    for _ in range(25):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data[: rng.choice([len(data), rng.randrange(len(data))])]))
        try:
            explain(run, "B") if table == "commissions" else compare(scored, run)
        except MlmRoiError as exc:
            assert all("\n" not in line for line in exc.problems)


def test_cli_prints_one_error_line(run: Path, scored: Path) -> None:
    runner = CliRunner()
    edit_run_json(run, lambda info: info.pop("window"))
    explained = runner.invoke(app, ["explain", str(run), "B"])
    assert explained.exit_code == 2
    assert explained.output.strip().splitlines() == [
        f"error: {run / 'run.json'}: missing key 'window' (damaged, hand-edited or written by another mlmroi "
        "version; re-run `mlmroi score`)"
    ]
    compared = runner.invoke(app, ["compare", str(scored), str(scored), "--segmentation", "participant_id"])
    assert compared.exit_code == 2
    (line,) = compared.output.strip().splitlines()
    assert line.startswith("error: ") and "'participant_id' is an id, not a segmentation" in line
