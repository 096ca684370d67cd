"""Plans side by side on the same data: ``mlmroi simulate DATASET --plan A.toml --plan B.toml``.

The dataset is read, validated and aggregated once; shared costs are allocated once (they do not depend on
the plan); then each plan runs on the same volumes. The first plan is the baseline the others are compared
with: payout ratio per period, commissions per component, by rank and by depth band, how many participants'
personal ROI changes sign, and the biggest winners and losers in commissions.

A participant's rank under a plan is the highest rank reached in the window in the plan's first stairstep
component; a plan without a stairstep falls back on the dataset's own ``rank`` column; with neither, the plan
has no rank breakdown.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlmroi.config import Config, parse_config
from mlmroi.economics import allocate_costs, compute
from mlmroi.errors import ConfigError, DataError
from mlmroi.io.dataset import Attributes
from mlmroi.io.load import Orphans
from mlmroi.io.parse import parse_text
from mlmroi.money import IntArray, divide_half_even, sum_by_index, to_decimal
from mlmroi.pipeline import aggregate, plan_volumes, read
from mlmroi.plans import ComponentResult, StairstepConfig, early_days, run_plan
from mlmroi.plans.registry import kind_of
from mlmroi.tables import money

JSON_KEYS = ("plans", "biggest_changes")  # what --json writes (and recognises)

DEPTH_BANDS = ((0, 0), (1, 1), (2, 2), (3, 5), (6, 10), (11, 1_000_000))
NO_RANK = "(no rank)"  # the group of participants without a rank


@dataclass(frozen=True, eq=False)
class Ranks:
    """Each node's rank under a plan: ``code[node]`` indexes ``names``, ``-1`` = no rank."""

    source: str  # "stairstep:<label>" or "dataset:rank"
    names: list[str]  # in listing order: the plan's rank order, or alphabetical for the dataset column
    code: IntArray
    every_name: bool  # list every name even without participants (a plan's ranks), else only those present


def plan_ranks(config: Config, results: list[ComponentResult], attributes: Attributes) -> Ranks | None:
    """The rank of every node under a plan, or None when the plan has no rank source.

    The plan's first stairstep component gives its ``rank_<label>`` (highest rank reached in the window);
    otherwise the dataset's ``rank`` participants column (text, stripped; empty = no rank).
    """
    for component in config.plan.components:
        if isinstance(component, StairstepConfig):
            label = component.label
            column = next(r.columns[f"rank_{label}"] for r in results if f"rank_{label}" in r.columns)
            physical = column.to_physical().cast(pl.Int64).fill_null(-1).to_numpy()
            return Ranks(f"stairstep:{label}", [r.name for r in component.ranks], physical, every_name=True)
    if "rank" not in attributes.names:
        return None
    text = parse_text(attributes.frame["rank"]).gather(pl.Series(attributes.rows_by_node))
    names = sorted(text.drop_nulls().unique().to_list())
    positions = pl.Series(np.arange(len(names), dtype=np.int64))
    code = text.replace_strict(names, positions, default=-1, return_dtype=pl.Int64).fill_null(-1)
    return Ranks("dataset:rank", names, code.to_numpy().astype(np.int64), every_name=False)


def commissions_by_rank(ranks: Ranks, commissions: IntArray, decimals: int) -> list[dict[str, Any]]:
    """Per rank (then ``(no rank)``): participants, total commissions, share of the plan's total, mean.

    Totals are exact sums of the participants' commissions, so they add up to the plan's total to the cent;
    the mean is rounded half-to-even to the minor unit.
    """
    k = len(ranks.names)
    group = np.where(ranks.code >= 0, ranks.code, k)
    count = np.bincount(group, minlength=k + 1)
    paid = sum_by_index(group, commissions, k + 1)
    total = int(commissions.sum())
    out = []
    for g, name in enumerate([*ranks.names, NO_RANK]):
        people, amount = int(count[g]), int(paid[g])
        if people == 0 and (g == k or not ranks.every_name):
            continue
        mean = int(divide_half_even(np.array([amount], dtype=np.int64), people)[0]) if people else None
        out.append(
            {
                "rank": name,
                "participants": people,
                "commissions": money(amount, decimals),
                "share": round(amount / total, 6) if total else None,
                "mean": None if mean is None else money(mean, decimals),
            }
        )
    return out


@dataclass(frozen=True)
class Simulation:
    """The comparison: one summary dict per plan, plus the winners/losers table against the first plan."""

    plans: dict[str, dict[str, Any]]
    changes: pl.DataFrame  # participant_id, plan, commissions (baseline and plan), delta

    def as_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {  # the keys of JSON_KEYS
            "plans": self.plans,
            "biggest_changes": self.changes.with_columns(pl.selectors.decimal().cast(pl.String)).to_dicts(),
        }


def is_comparison_json(path: Path) -> bool:
    """Whether ``path`` holds an earlier :meth:`Simulation.as_json` comparison (its keys), which
    ``simulate --json`` may replace."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and set(data) == set(JSON_KEYS)


def load_plan(path: str | Path, base: Config) -> Config:
    """``base`` with its ``[plan]`` replaced by the ``[plan]`` of the TOML file at ``path``."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: plan file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read plan ({exc})") from None
    if "plan" not in data:
        raise ConfigError(f"{path.name}: no [plan] section (a plan file needs [[plan.components]])")
    merged = base.model_dump()
    merged["plan"] = data["plan"]
    return parse_config(merged, source=path.name)


def simulate(
    dataset: str | Path,
    configs: dict[str, Config],
    orphans: Orphans = "reject",
    strict: bool = False,
    top: int = 10,
) -> Simulation:
    """Run every plan in ``configs`` (name -> config; they differ in ``plan`` only) on the same data."""
    names = list(configs)
    if len(names) < 1:
        raise ConfigError("simulate: give at least one --plan")
    base = configs[names[0]]
    binary = any(kind_of(c).needs_placement for config in configs.values() for c in config.plan.components)
    window, data = read(dataset, base, orphans, placement=binary)
    days = sorted({d for c in configs.values() for d in early_days(c)})
    totals = aggregate(data, base, window, days)
    labels = window.labels
    allocation = allocate_costs(data, window, totals, base, plan_volumes(data, totals, labels, base).personal)
    if strict and len(data.rejects):
        raise DataError(f"--strict: {len(data.rejects)} problem(s) found; run `mlmroi validate` to list them")
    decimals = base.money.decimals
    depth = data.network.depth
    summaries: dict[str, dict[str, Any]] = {}
    commissions: dict[str, IntArray] = {}
    roi_sign: dict[str, np.ndarray] = {}
    for name, config in configs.items():
        volumes = plan_volumes(data, totals, labels, config)
        results = run_plan(data.network, volumes, config, data.id_rank)
        econ = compute(data.network, data.participants, totals, results, allocation, config)
        commissions[name] = econ.commissions
        roi_sign[name] = np.sign(np.nan_to_num(econ.roi_pct, nan=0.0))
        paid_by_period = np.zeros(len(labels), dtype=np.int64)
        for result in results:
            paid_by_period += sum_by_index(result.period, result.amount, len(labels))
        volume_by_period = volumes.personal.sum(axis=1)
        total_volume = int(volume_by_period.sum())
        summaries[name] = {
            "commissions": money(int(econ.commissions.sum()), decimals),
            "by_component": {r.component: money(int(r.amount.sum()), decimals) for r in results},
            "payout_ratio": round(int(econ.commissions.sum()) / total_volume, 6) if total_volume else None,
            "payout_ratio_by_period": {
                label: (round(int(paid) / int(vol), 6) if vol else None)
                for label, paid, vol in zip(labels, paid_by_period, volume_by_period, strict=True)
            },
            "by_depth_band": {
                (f"{lo}" if lo == hi else f"{lo}+" if hi >= 1_000_000 else f"{lo}-{hi}"): money(
                    int(econ.commissions[(depth >= lo) & (depth <= hi)].sum()), decimals
                )
                for lo, hi in DEPTH_BANDS
            },
            "profit": money(int(econ.profit.sum()), decimals),
        }
        ranks = plan_ranks(config, results, data.attributes)
        summaries[name]["rank_source"] = None if ranks is None else ranks.source
        summaries[name]["commissions_by_rank"] = (
            None if ranks is None else commissions_by_rank(ranks, econ.commissions, decimals)
        )
    baseline = names[0]
    ids = data.network.ids
    frames = []
    for name in names[1:]:
        summaries[name]["roi_turns_negative"] = int(((roi_sign[baseline] >= 0) & (roi_sign[name] < 0)).sum())
        summaries[name]["roi_turns_positive"] = int(((roi_sign[baseline] < 0) & (roi_sign[name] >= 0)).sum())
        delta = commissions[name] - commissions[baseline]
        order = np.lexsort((np.arange(delta.size), -np.abs(delta)))[:top]
        order = order[delta[order] != 0]
        frames.append(
            pl.DataFrame(
                {
                    "participant_id": ids.gather(pl.Series(order)),
                    "plan": pl.Series([name] * order.size, dtype=pl.String),
                    "baseline": pl.Series(commissions[baseline][order]),
                    "commissions": pl.Series(commissions[name][order]),
                    "delta": pl.Series(delta[order]),
                }
            )
        )
    changes = (
        pl.concat(frames)
        if frames
        else pl.DataFrame(
            schema={
                "participant_id": ids.dtype,
                "plan": pl.String,
                "baseline": pl.Int64,
                "commissions": pl.Int64,
                "delta": pl.Int64,
            }
        )
    )
    changes = changes.with_columns([to_decimal(c, decimals) for c in ("baseline", "commissions", "delta")])
    return Simulation(summaries, changes)
