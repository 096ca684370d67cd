"""Config values are finite and in range before any data is read: every float key refuses inf, nan and
absurd magnitudes with an error naming the key (issue: values that passed validation crashed later)."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from mlmroi.config import Config, parse_config
from mlmroi.errors import ConfigError
from mlmroi.plans.registry import KINDS
from tests.helpers import write_dataset

# A minimal valid table for each component type (the registry lists them all: a new one must be added).
MINIMAL: dict[str, dict[str, Any]] = {
    "unilevel": {"levels": [0.1]},
    "matching": {"rates": [0.1]},
    "fast_start": {"rate": 0.1},
    "stairstep": {"ranks": [{"name": "a", "rate": 0.05}]},
    "binary": {"rate": 0.1},
}


def _float_keys(model: type[BaseModel]) -> list[str]:
    """Keys of ``model`` that take a float (alone, optional or in a list)."""
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        parts = typing.get_args(annotation) or (annotation,)
        flat = [a for p in parts for a in (typing.get_args(p) or (p,))]
        if float in flat:
            keys.append(name)
    return keys


def _sections() -> list[tuple[str, type[BaseModel]]]:
    """Every config section that has defaults for all its keys, by dotted path."""
    out: list[tuple[str, type[BaseModel]]] = []

    def walk(path: str, model: type[BaseModel]) -> None:
        out.append((path, model))
        for name, field in model.model_fields.items():
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel) and field.default is not None:
                walk(f"{path}.{name}" if path else name, sub)

    walk("", Config)
    return [(p, m) for p, m in out if p]


def _set(data: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node = data
    parts = path.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
    return data


def test_every_component_type_has_a_minimal_table() -> None:
    assert {kind.type for kind in KINDS} == set(MINIMAL)
    for kind, table in MINIMAL.items():
        parse_config({"plan": {"components": [{"type": kind, **table}]}})


@pytest.mark.parametrize("bad", [float("inf"), float("-inf"), float("nan"), 1e300])
def test_every_float_key_refuses_non_finite_and_huge_values(bad: float) -> None:
    checked = 0
    for path, model in _sections():
        for key in _float_keys(model):
            data = _set({}, f"{path}.{key}", bad)
            if bad == 1e300 and key in ("x_split", "y_split"):  # thresholds on any scale: finite suffices
                parse_config(data)
                continue
            with pytest.raises(ConfigError, match=key):
                parse_config(data)
            checked += 1
    for kind in KINDS:
        for key in _float_keys(kind.model):
            value: Any = [bad] if key in ("levels", "rates", "generation_rates") else bad
            table = {"type": kind.type, **MINIMAL[kind.type], key: value}
            if key == "pair_amount":
                table.pop("rate")
            if key == "generation_rates":
                table["breakaway_rank"] = "a"
            with pytest.raises(ConfigError, match=r"plan\.components\[0\]"):
                parse_config({"plan": {"components": [table]}})
            checked += 1
        if kind.type == "stairstep":
            for key in ("rate", "min_pv", "min_gv"):
                ranks = [{"name": "a", "rate": 0.05, key: bad}]
                with pytest.raises(ConfigError, match=rf"ranks\[0\]\.{key}"):
                    parse_config({"plan": {"components": [{"type": "stairstep", "ranks": ranks}]}})
    assert checked > 20


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[distributor]\nretail_markup = inf", "distributor.retail_markup"),
        ("[distributor]\nretail_markup = 1e300", "distributor.retail_markup"),
        ("[plan.caps]\ncap_per_participant_period = 1e300", "plan.caps.cap_per_participant_period"),
        ("[value]\nlifetime_months = 1e300", "value.lifetime_months"),
        ("[segments.lifecycle]\nchurn_days = 100000000000000000000", "segments.lifecycle.churn_days"),
        (
            '[[plan.components]]\ntype = "unilevel"\nlevels = [0.1]\nactive_min_pv = inf',
            "plan.components[0].active_min_pv",
        ),
        (
            '[[plan.components]]\ntype = "unilevel"\nlevels = [0.1]\nunlock = [100000000000]',
            "plan.components[0]",
        ),
    ],
)
def test_out_of_range_config_is_exit_2_before_reading_data(tmp_path: Path, toml: str, key: str) -> None:
    from typer.testing import CliRunner

    from mlmroi_cli.main import app

    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "mlmroi.toml").write_text(toml + "\n")
    # participants.csv is not even valid: the config error must come first
    (folder / "participants.csv").write_text("nonsense\n")
    result = CliRunner().invoke(app, ["score", str(folder), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert key in result.output
    assert not (tmp_path / "out").exists()


def test_largest_allowed_values_run(tmp_path: Path) -> None:
    """At the bounds the run completes (no overflow deeper in)."""
    import mlmroi

    folder = write_dataset(
        tmp_path / "d",
        "participant_id,sponsor_id,joined_on\n1,,2025-01-01\n2,1,2025-01-01",
        "participant_id,ordered_on,amount,retail\n1,2025-01-05,100,true\n2,2025-01-06,50,false",
        config=None,
    )
    config = parse_config(
        {
            "distributor": {"retail_markup": 100.0},
            "value": {"lifetime_months": 1200.0},
            "plan": {
                "components": [{"type": "unilevel", "levels": [0.1], "active_min_pv": 9.99e12}],
                "caps": {"cap_per_participant_period": 9.99e12},
            },
        }
    )
    result = mlmroi.score(folder, config)
    assert result.participants.height == 2


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (
            {"plan": {"components": [{"type": "unilevel", "levels": [0.1], "active_min_pv": 50.005}]}},
            "active_min_pv",
        ),
        ({"plan": {"components": [{"type": "binary", "rate": 0.1, "unit": 0.001}]}}, "unit"),
        ({"plan": {"components": [{"type": "binary", "rate": 0.1, "max_carry": 10.005}]}}, "max_carry"),
        ({"plan": {"components": [{"type": "binary", "pair_amount": 0.125}]}}, "pair_amount"),
        (
            {
                "plan": {
                    "components": [
                        {"type": "stairstep", "ranks": [{"name": "a", "rate": 0.05, "min_gv": 1.001}]}
                    ]
                }
            },
            "ranks[0].min_gv",
        ),
        ({"plan": {"caps": {"cap_per_participant_period": 10.001}}}, "cap_per_participant_period"),
        ({"audit": {"tolerance": 0.001}}, "audit.tolerance"),
    ],
)
def test_money_settings_finer_than_the_minor_unit_are_refused(data: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError, match=rf"{re.escape(key)}: .* is finer than the money unit"):
        parse_config(data)


def test_money_settings_follow_the_configured_decimals() -> None:
    component = {"type": "unilevel", "levels": [0.1], "active_min_pv": 50.005}
    config = parse_config({"money": {"decimals": 3}, "plan": {"components": [component]}})
    assert config.plan.components[0].active_min_pv == 50.005  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match="at most 0 decimals"):
        parse_config(
            {"money": {"decimals": 0}, "plan": {"components": [{**component, "active_min_pv": 1.5}]}}
        )
