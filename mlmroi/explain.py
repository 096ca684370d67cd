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

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlmroi.config import Config, parse_config
from mlmroi.errors import DataError, InputError
from mlmroi.io.load import Orphans, load
from mlmroi.io.read import fingerprint
from mlmroi.money import RATE_SCALE, apportion, decimal_series, divide_half_even
from mlmroi.pipeline import aggregate, plan_volumes
from mlmroi.plans import early_days, run_plan
from mlmroi.plans.base import ComponentResult
from mlmroi.tables import money

DETAIL_SCHEMA = ("direction", "period", "component", "level", "participant_id", "amount")


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


def _run_info(run_dir: Path) -> dict[str, Any]:
    try:
        info: dict[str, Any] = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{run_dir}: no run.json (is this the output folder of `mlmroi score`?)") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{run_dir / 'run.json'}: cannot read ({exc})") from None
    return info


def _check_inputs(dataset: Path, inputs: dict[str, dict[str, str]]) -> None:
    """The dataset holds the very files the run read (sha256), or a one-line error per file."""
    problems = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = {name: pool.submit(fingerprint, dataset / item["file"]) for name, item in inputs.items()}
        for name, item in sorted(inputs.items()):
            path = dataset / item["file"]
            if not path.is_file():
                problems.append(f"{path}: missing (the run read {item['file']})")
            elif digests[name].result() != item["sha256"]:
                problems.append(
                    f"{path}: changed since the run (sha256 differs); explain needs the run's inputs"
                )
    if problems:
        raise InputError(problems)


def explain(run_dir: str | Path, participant_id: str, dataset: str | Path | None = None) -> Explanation:
    """Explain one participant of the run in ``run_dir`` (see the module docstring)."""
    run_dir = Path(run_dir)
    info = _run_info(run_dir)
    if dataset is None:
        if "dataset" not in info:
            raise InputError(f"{run_dir / 'run.json'}: no dataset path recorded; pass --data DATASET")
        dataset = info["dataset"]
    dataset = Path(dataset)
    config = parse_config(info["config"], source=f"{run_dir.name}/run.json")
    window = info["window"]
    config = Config.model_validate(
        config.model_dump()
        | {"window": {"start": window["start"], "end": window["end"], "period": window["period"]}}
    )
    _check_inputs(dataset, info["inputs"])
    orphans: Orphans = "root" if info["network"].get("orphans_made_roots") else "reject"
    data = load(dataset, config, orphans=orphans)
    node = _node_of(data.network.ids, participant_id)
    resolved, totals = aggregate(data, config, early_days(config))
    data = replace(data, orders=())
    volumes = plan_volumes(data, totals, resolved.labels, config)
    results = run_plan(data.network, volumes, config, data.id_rank, trace=node)
    ids = data.network.ids
    decimals = config.money.decimals
    run_rows = pl.read_parquet(run_dir / "commissions.parquet").filter(pl.col("participant_id") == ids[node])
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
        raise InputError(f"participant {participant_id!r} is not in the run (unknown or rejected)")
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
