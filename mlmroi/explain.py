"""``mlmroi explain RUN_DIR PARTICIPANT_ID``: every amount one participant received, to the source.

The run's commission rows are payee × period × component × level aggregates; the detail behind them is not
stored (at 10M participants it would be billions of lines). ``explain`` re-reads the run's inputs (checked
against the sha256 in run.json), runs the plan once with the participant *traced* — each component keeps, for
that participant only, the exact unrounded amount per source and what their own volume generated above them
— and apportions each of the run's rounded rows over its sources, so the lines add up to the cent to the
participant's totals in participants.parquet. The recomputed rows must equal the run's rows, or the run and
its inputs do not belong together and ``explain`` says so.
"""

from __future__ import annotations

import datetime as dt
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Discriminator, Tag, ValidationError

from mlmroi.compare import dtype_kind, read_run_table, run_table_schema
from mlmroi.config import Config, parse_config, with_source
from mlmroi.errors import DataError, InputError
from mlmroi.io.dataset import Dataset
from mlmroi.io.load import Orphans
from mlmroi.io.read import fingerprint
from mlmroi.money import RATE_SCALE, apportion, decimal_series, divide_half_even
from mlmroi.pipeline import aggregate, plan_volumes, read
from mlmroi.plans import early_days, run_plan
from mlmroi.plans.base import ComponentResult
from mlmroi.tables import money

DETAIL_SCHEMA = ("direction", "period", "component", "level", "participant_id", "amount")
#: commissions.parquet's columns explain compares, and their kind (participant_id: the run's id type).
COMMISSION_KINDS = {"period": "text", "component": "text", "level": "integer", "amount": "decimal"}
COMMISSION_COLUMNS = ("participant_id", *COMMISSION_KINDS)


@dataclass(frozen=True)
class Explanation:
    """One participant's commissions line by line.

    ``detail`` has one row per direction × period × component × level × other participant: ``received``
    rows name the source whose volume (or commissions, for matching) paid the participant, ``generated``
    rows name the upline their own volume paid. ``summary`` holds the totals per component.
    """

    participant_id: Any
    detail: pl.DataFrame
    summary: dict[str, Any]


class _RunPart(BaseModel):
    model_config = ConfigDict(frozen=True)  # other keys of run.json are not explain's business


class _Window(_RunPart):
    start: dt.date
    end: dt.date
    period: str


class _Input(_RunPart):
    """A file input as run.json records it: its name and sha256."""

    file: str
    sha256: str


class _DbInput(_RunPart):
    """A database table as run.json records it: the fingerprint of the rows read."""

    fingerprint: str


#: union tags, left out of the key paths in messages
_INPUT_TAGS = ("FileInput", "DbInput")
_AnyInput = Annotated[
    Annotated[_Input, Tag("FileInput")] | Annotated[_DbInput, Tag("DbInput")],
    Discriminator(lambda v: "DbInput" if isinstance(v, dict) and "fingerprint" in v else "FileInput"),
]


class _Network(_RunPart):
    orphans_made_roots: int = 0


class _RunInfo(_RunPart):
    """The parts of run.json that explain reads, validated up front."""

    config: dict[str, Any]
    window: _Window
    inputs: dict[str, _AnyInput]
    network: _Network
    dataset: str | None = None


#: pydantic error type -> what the key should hold, in JSON words.
_EXPECTED = {
    "model_type": "an object",
    "dict_type": "an object",
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "date_type": "a date (YYYY-MM-DD)",
    "date_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "a date (YYYY-MM-DD)",
}
_DAMAGED = "damaged, hand-edited or written by another mlmroi version; re-run `mlmroi score`"


def _json_kind(value: Any) -> str:
    if isinstance(value, str):
        return f"the string {value!r}" if len(value) <= 40 else "a long string"
    kinds = {dict: "an object", list: "an array", bool: "true/false", type(None): "null"}
    return kinds.get(type(value), "a number")


def _run_info(run_dir: Path) -> _RunInfo:
    """run.json's parts explain needs, or an :class:`InputError`: one line naming the file and the fault."""
    path = run_dir / "run.json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{run_dir}: no run.json (is this the output folder of `mlmroi score`?)") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start}) ({_DAMAGED})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
        raise InputError(f"{path}: not valid JSON ({where}; truncated, {_DAMAGED})") from None
    except RecursionError:
        raise InputError(f"{path}: not valid JSON (nested too deeply; {_DAMAGED})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: not a JSON object but {_json_kind(data)} ({_DAMAGED})")
    try:
        return _RunInfo.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            key = ".".join(str(part) for part in error["loc"] if part not in _INPUT_TAGS)
            if error["type"] == "missing":
                problems.append(f"missing key {key!r}")
            elif error["type"] in _EXPECTED:
                problems.append(
                    f"key {key!r} is {_json_kind(error['input'])}, not {_EXPECTED[error['type']]}"
                )
            else:
                problems.append(f"key {key!r}: {error['msg']}")
        raise InputError(f"{path}: {'; '.join(problems)} ({_DAMAGED})") from None


def _check_inputs(dataset: Path, inputs: dict[str, _Input | _DbInput]) -> None:
    """The dataset holds the very files the run read (sha256), or a one-line error per file."""
    problems = []
    files = {name: item for name, item in inputs.items() if isinstance(item, _Input)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = {name: pool.submit(fingerprint, dataset / item.file) for name, item in files.items()}
        for name, item in sorted(files.items()):
            file = item.file
            path = dataset / file
            if not path.is_file():
                problems.append(f"{path}: missing (the run read {file})")
                continue
            try:
                digest = digests[name].result()
            except OSError as exc:
                problems.append(f"{path}: cannot read ({exc.strerror or exc})")
                continue
            if digest != item.sha256:
                problems.append(
                    f"{path}: changed since the run (sha256 differs); explain needs the run's inputs"
                )
    if problems:
        raise InputError(problems)


def _dataset(run_dir: Path, info: _RunInfo, dataset: str | Path | None) -> Path:
    """The folder holding the run's inputs: ``dataset`` if given, else the one run.json records."""
    if dataset is not None:
        if not Path(dataset).is_dir():
            raise InputError(f"{dataset}: dataset folder not found (or not a folder)")
        return Path(dataset)
    if info.dataset is None:
        raise InputError(f"{run_dir / 'run.json'}: no dataset path recorded; pass --data DATASET")
    if not Path(info.dataset).is_dir():
        raise InputError(
            f"{run_dir / 'run.json'}: the run's dataset folder {info.dataset} is missing or not a folder "
            "(moved?); pass --data DATASET"
        )
    return Path(info.dataset)


def _check_commission_columns(path: Path, schema: dict[str, pl.DataType]) -> None:
    """commissions.parquet's columns have the types explain compares (participant_id: after loading)."""
    for column, kind in COMMISSION_KINDS.items():
        if dtype_kind(schema[column]) != kind:
            raise InputError(f"{path}: column {column!r} is {schema[column]}, not {kind} ({_DAMAGED})")


def run_folders(run_dir: str | Path, dataset: str | Path | None = None) -> list[Path]:
    """The folders :func:`explain` reads: the run's, and the dataset's (``dataset``, else the one run.json
    records; none for a run that read a database). ``explain --out`` may write into neither. A damaged run
    folder is an :class:`InputError`."""
    run_dir = Path(run_dir)
    info = _run_info(run_dir)
    if info.config.get("source") is not None and dataset is None:
        return [run_dir]
    return [run_dir, _dataset(run_dir, info, dataset)]


def _database_config(config: Config, run_json: Path, source: str | None) -> Config:
    """The run's config reading its database: ``source`` (``--source``) if given, else the recorded URI —
    unless its password was redacted and no ``password_env`` supplies it."""
    if source is not None:
        return with_source(config, source)
    assert config.source is not None
    if "***" in config.source.uri and config.source.password_env is None:
        raise InputError(
            f"{run_json}: the run read {config.source.uri}, whose password is not recorded; pass "
            "--source URI (or set [source] password_env)"
        )
    return config


def _check_fingerprints(data: Dataset, inputs: dict[str, _Input | _DbInput]) -> None:
    """The database tables hold the very rows the run read (fingerprint), or a one-line error per table."""
    problems = [
        f"{data.label(name)}: changed since the run (the rows' fingerprint differs); explain needs the run's "
        "inputs"
        for name, item in sorted(inputs.items())
        if isinstance(item, _DbInput)
        and (name not in data.databases or data.databases[name].fingerprint != item.fingerprint)
    ]
    if problems:
        raise InputError(problems)


def is_detail_file(path: Path) -> bool:
    """Whether ``path`` holds an earlier explain detail (CSV header or Parquet schema :data:`DETAIL_SCHEMA`),
    which ``explain --out`` may replace."""
    try:
        if path.suffix.lower() == ".parquet":
            return tuple(pl.read_parquet_schema(path)) == DETAIL_SCHEMA
        with path.open(encoding="utf-8") as handle:
            return handle.readline().rstrip("\r\n") == ",".join(DETAIL_SCHEMA)
    except (OSError, ValueError, pl.exceptions.PolarsError):
        return False


def explain(
    run_dir: str | Path, participant_id: str, dataset: str | Path | None = None, source: str | None = None
) -> Explanation:
    """Explain one participant of the run in ``run_dir`` (see the module docstring).

    A damaged, hand-edited or foreign run folder (run.json, commissions.parquet, the dataset folder) is an
    :class:`InputError` (or :class:`ConfigError` for its config) naming the file, before any data is read.
    """
    run_dir = Path(run_dir)
    info = _run_info(run_dir)
    commissions = run_dir / "commissions.parquet"
    schema = run_table_schema(commissions, COMMISSION_COLUMNS)
    _check_commission_columns(commissions, schema)
    run_json = run_dir / "run.json"
    config = parse_config(info.config, source=f"{run_json}: config")
    config = parse_config(config.model_dump() | {"window": info.window.model_dump()}, source=str(run_json))
    if config.source is None:
        dataset = _dataset(run_dir, info, dataset)
        _check_inputs(dataset, info.inputs)
    else:  # a database: its rows are checked against the run's fingerprints once read
        config = _database_config(config, run_json, source)
        dataset = Path(dataset) if dataset is not None else run_dir
    orphans: Orphans = "root" if info.network.orphans_made_roots else "reject"
    resolved, data = read(dataset, config, orphans)
    _check_fingerprints(data, info.inputs)
    node = _node_of(data.network.ids, participant_id)
    totals = aggregate(data, config, resolved, early_days(config))
    data = replace(data, orders=())
    volumes = plan_volumes(data, totals, resolved.labels, config)
    results = run_plan(data.network, volumes, config, data.id_rank, trace=node)
    ids = data.network.ids
    decimals = config.money.decimals
    if schema["participant_id"] != ids.dtype:
        raise InputError(
            f"{commissions}: participant_id is {schema['participant_id']}, but the run's ids are {ids.dtype} "
            f"({_DAMAGED})"
        )
    run_rows = read_run_table(commissions, COMMISSION_COLUMNS).filter(pl.col("participant_id") == ids[node])
    _reconcile(run_rows, results, node, resolved.labels, decimals, participant_id)
    detail = _detail(results, node, ids, resolved.labels, decimals)
    summary = _summary(detail, results, ids[node], decimals)
    return Explanation(ids[node], detail, summary)


def _node_of(ids: pl.Series, participant_id: str) -> int:
    key: Any = participant_id
    if ids.dtype == pl.Int64:
        try:
            key = int(participant_id)
        except ValueError:
            raise InputError(f"participant {participant_id!r} is not in the run (ids are integers)") from None
    found = np.flatnonzero((ids == key).to_numpy())
    if not found.size:
        raise InputError(
            f"participant {participant_id!r} is not in the run (unknown, rejected, or joined after the "
            "window end)"
        )
    return int(found[0])


def _rows_of(result: ComponentResult, node: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mine = result.payee == node
    return result.period[mine], result.level[mine], result.amount[mine]


def _reconcile(
    run_rows: pl.DataFrame,
    results: list[ComponentResult],
    node: int,
    labels: tuple[str, ...],
    decimals: int,
    participant_id: str,
) -> None:
    """The recomputed rows of the participant equal the run's commission rows, to the cent."""
    recomputed = {}
    for result in results:
        for period, level, amount in zip(*_rows_of(result, node), strict=True):
            key = (labels[int(period)], result.component, None if level < 0 else int(level))
            recomputed[key] = money(int(amount), decimals)
    stored = {
        (period, component, level): str(amount)
        for period, component, level, amount in run_rows.select(
            "period", "component", "level", "amount"
        ).iter_rows()
    }
    if recomputed != stored:
        raise DataError(
            f"participant {participant_id}: the recomputed commissions differ from the run's "
            "(the run was made with another mlmroi version or other options); re-run `mlmroi score`"
        )


def _detail(
    results: list[ComponentResult], node: int, ids: pl.Series, labels: tuple[str, ...], decimals: int
) -> pl.DataFrame:
    frames = []
    for result in results:
        trace = result.trace
        if trace is None:
            continue
        received = trace.received
        # Each of the run's rows (period × level) is apportioned over its sources by their exact amounts.
        for period, level, amount in zip(*_rows_of(result, node), strict=True):
            mine = (received.period == period) & (received.level == level)
            if not mine.any() or int(received.exact[mine].sum()) == 0:
                continue
            shares = apportion(int(amount), received.exact[mine])
            frames.append(
                _frame("received", received.other[mine], int(period), result.component, int(level), shares)
            )
        generated = trace.generated
        rounded = divide_half_even(generated.exact, RATE_SCALE)
        for period in np.unique(generated.period):
            for level in np.unique(generated.level[generated.period == period]):
                mine = (generated.period == period) & (generated.level == level)
                frames.append(
                    _frame(
                        "generated",
                        generated.other[mine],
                        int(period),
                        result.component,
                        int(level),
                        rounded[mine],
                    )
                )
    if not frames:
        return pl.DataFrame(
            schema={
                "direction": pl.String,
                "period": pl.String,
                "component": pl.String,
                "level": pl.Int16,
                "participant_id": ids.dtype,
                "amount": pl.Decimal(18, decimals),
            }
        )
    frame = pl.concat(frames).filter(pl.col("amount") != 0)
    frame = frame.group_by("direction", "period", "component", "level", "other", maintain_order=True).agg(
        pl.col("amount").sum()
    )
    # Rows by direction, period, component (plan order), level, then largest amount, then id.
    order = {r.component: k for k, r in enumerate(results)}
    frame = frame.sort(
        pl.col("direction") != "received",
        "period",
        pl.col("component").replace_strict(order, return_dtype=pl.Int64),
        "level",
        -pl.col("amount").abs(),
        "other",
        nulls_last=False,
    )
    return frame.select(
        "direction",
        pl.Series("period", labels).gather(frame["period"]),
        "component",
        pl.col("level").cast(pl.Int16).replace(-1, None),
        ids.gather(frame["other"]).alias("participant_id"),
        decimal_series("amount", frame["amount"].to_numpy(), decimals),
    )


def _frame(
    direction: str, other: np.ndarray, period: int, component: str, level: int, amount: np.ndarray
) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "direction": pl.Series([direction] * other.size, dtype=pl.String),
            "period": np.full(other.size, period, dtype=np.int64),
            "component": pl.Series([component] * other.size, dtype=pl.String),
            "level": np.full(other.size, level, dtype=np.int64),
            "other": other.astype(np.int64),
            "amount": amount.astype(np.int64),
        }
    )


def _summary(
    detail: pl.DataFrame, results: list[ComponentResult], participant_id: Any, decimals: int
) -> dict[str, Any]:
    by_component: dict[str, dict[str, str]] = {}
    for result in results:
        mine = detail.filter(pl.col("component") == result.component)
        received = mine.filter(pl.col("direction") == "received")["amount"].sum()
        generated = mine.filter(pl.col("direction") == "generated")["amount"].sum()
        by_component[result.component] = {
            "received": str(received),
            "sources": str(mine.filter(pl.col("direction") == "received")["participant_id"].n_unique()),
            "generated_for_uplines": str(generated),
        }
    received_total = detail.filter(pl.col("direction") == "received")["amount"].sum()
    generated_total = detail.filter(pl.col("direction") == "generated")["amount"].sum()
    return {
        "participant_id": participant_id,
        "received": str(received_total if received_total is not None else money(0, decimals)),
        "generated_for_uplines": str(generated_total if generated_total is not None else money(0, decimals)),
        "by_component": by_component,
    }
