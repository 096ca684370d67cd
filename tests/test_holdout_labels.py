"""The holdout check per segment labels participants on the calibration part only: the segments an
independent run over the calibration window gives, not labels that already include the holdout purchases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config, with_overrides

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def runs() -> tuple[mlmroi.Result, mlmroi.Result]:
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    checked = mlmroi.score(SAMPLE, parse_config(base | {"value": base["value"] | {"holdout_periods": 3}}))
    calibration = with_overrides(mlmroi.load_config(dataset=SAMPLE), None, dt.date(2025, 9, 30))
    return checked, mlmroi.score(SAMPLE, calibration)


def test_holdout_rows_use_the_calibration_windows_labels(runs: tuple[mlmroi.Result, mlmroi.Result]) -> None:
    checked, calibration = runs
    holdout = checked.outputs["holdout"]
    people = checked.participants.select("participant_id", "holdout_expected", "holdout_actual")
    for name in ("abc", "xyz", "rfm_segment", "lifecycle"):
        labels = calibration.participants.select(
            "participant_id", pl.col(name).cast(pl.String).alias("value")
        )
        expected = (
            people.join(labels, on="participant_id", how="left")
            .group_by("value")
            .agg(pl.sum("holdout_expected").alias("e"), pl.sum("holdout_actual").alias("a"))
        )
        rows = holdout.filter(pl.col("segmentation") == name).join(expected, on="value", how="left")
        assert rows["value"].len() > 0
        for value, got_e, got_a, e, a in rows.select("value", "expected", "actual", "e", "a").iter_rows():
            assert got_a == (a or 0), (name, value)
            assert got_e == pytest.approx(e or 0.0, abs=0.01), (name, value)
    # Labelled by the calibration part, the lapsed RFM segments are not empty of holdout purchases by
    # construction (with labels that include the holdout they showed 0 actual purchases).
    lost = holdout.filter((pl.col("segmentation") == "rfm_segment") & (pl.col("value") == "lost"))
    assert lost["actual"][0] > 0


def test_the_cli_and_report_show_both_models_holdout_fit(tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from mlmroi_cli.main import app

    config = tmp_path / "holdout.toml"
    text = (SAMPLE / "mlmroi.toml").read_text()
    config.write_text(text + "\n[value]\nholdout_periods = 3\n" if "[value]" not in text else text)
    result = CliRunner().invoke(
        app, ["score", str(SAMPLE), "--config", str(config), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert "holdout purchase days expected / actual" in " ".join(result.output.split())
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["value"]["holdout"]["fit"].startswith("calibration part")
    assert run["value"]["model"]["fit"].startswith("whole window")
    page = (tmp_path / "r" / "report.html").read_text()
    value = page[page.index('<section id="value">') :].split("</section>")[0]
    assert "Holdout check: the last 3 periods" in value
    for name, model in (("BG/NBD", "bgnbd"), ("MBG/NBD", "mbgnbd")):
        fit = run["value"]["holdout"]["models"][model]
        selected = " (selected)" if run["value"]["holdout"]["model"] == model else ""
        assert f"<td>{name}{selected}</td><td class=\"num\">{fit['expected']:,.1f}</td>" in value
