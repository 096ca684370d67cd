"""Plans side by side on the same data: ``mlmroi simulate DATASET --plan A.toml --plan B.toml``.

The dataset is read, validated and aggregated once; shared costs are allocated once (they do not depend on
the plan); then each plan runs on the same volumes. The first plan is the baseline the others are compared
with: payout ratio per period, commissions per component and by depth band, how many participants' personal
ROI changes sign, and the biggest winners and losers in commissions.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mlmroi.config import Config, parse_config
from mlmroi.economics import allocate_costs, compute
from mlmroi.errors import ConfigError, DataError
from mlmroi.io.load import Orphans, load
from mlmroi.money import IntArray, sum_by_index
from mlmroi.periods import aggregate_orders
from mlmroi.pipeline import plan_volumes, resolve_window
from mlmroi.plans import early_days, run_plan
from mlmroi.tables import money

DEPTH_BANDS = ((0, 0), (1, 1), (2, 2), (3, 5), (6, 10), (11, 1_000_000))


@dataclass(frozen=True)
class Simulation:
    """The comparison: one summary dict per plan, plus the winners/losers table against the first plan."""

    plans: dict[str, dict[str, Any]]
    changes: pl.DataFrame  # participant_id, plan, commissions (baseline and plan), delta

    def as_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "plans": self.plans,
            "biggest_changes": self.changes.with_columns(pl.selectors.decimal().cast(pl.String)).to_dicts(),
        }


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
    data = load(dataset, base, orphans=orphans)
    window = resolve_window(base, data.orders)
    labels = window.labels
    joined_day = data.participants["joined_on"].cast(pl.Int32).to_numpy().astype(np.int64)
    days = sorted({d for c in configs.values() for d in early_days(c)})
    totals = aggregate_orders(
        data.orders, data.network.size, window, base.money.margin_rate, joined_day, days
    )
    allocation = allocate_costs(
        data.costs, data.participants, data.attributes, window, totals, base, data.rejects
    )
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
    scale = 10**decimals
    changes = changes.with_columns(
        [
            (pl.col(c).cast(pl.Decimal(38, decimals)) / scale).cast(pl.Decimal(18, decimals))
            for c in ("baseline", "commissions", "delta")
        ]
    )
    return Simulation(summaries, changes)
