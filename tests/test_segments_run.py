"""Segments in a scoring run: columns, the effectiveness table, determinism under shuffled inputs."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import polars as pl
import pytest

import mlmroi
from mlmroi.config import parse_config
from mlmroi.errors import ConfigError
from tests.runjson import run_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
SEGMENT_COLUMNS = [
    "abc",
    "abcd",
    "xyz",
    "abcxyz",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_segment",
    "bcg",
    "lifecycle",
]


def test_sample_run_has_every_segmentation_and_the_table_reconciles() -> None:
    config = mlmroi.load_config(dataset=SAMPLE)
    result = mlmroi.score(SAMPLE, config)
    people = result.participants
    assert set(SEGMENT_COLUMNS) <= set(people.columns)
    for name in ("abc", "abcd", "xyz", "abcxyz", "rfm_segment", "bcg", "lifecycle"):
        assert people[name].null_count() == 0, name  # exactly one value each
        table = result.segments.filter(pl.col("segmentation") == name)
        counts = dict(people[name].cast(pl.String).value_counts().iter_rows())
        assert {v: n for v, n in table.select("value", "participants").iter_rows() if n} == counts
        assert table["revenue"].sum() == people["revenue"].sum()  # to the cent
        assert table["profit"].sum() == people["profit"].sum()
    empty = result.segments.filter(pl.col("participants") == 0)
    assert (
        empty.height and empty["average_check"].null_count() == empty["mean_clv"].null_count() == empty.height
    )
    health = run_json(result)["segments"]["abc_health"]
    a_share = (people["abc"] == "A").mean()
    assert health["a_share_of_participants"] == pytest.approx(a_share)
    buyers = people.filter(pl.col("revenue") > 0)
    assert health["buyers"] == buyers.height
    assert health["a_share_of_buyers"] == pytest.approx((buyers["abc"] == "A").mean(), abs=1e-6)


def shuffled_copy(tmp_path: Path, seed: int) -> Path:
    folder = tmp_path / f"shuffled{seed}"
    shutil.copytree(SAMPLE, folder)
    for path in sorted(folder.glob("*.csv")):  # every input table
        frame = pl.read_csv(path, infer_schema=False)
        frame.sample(fraction=1.0, shuffle=True, seed=seed).write_csv(path)
    return folder


def test_outputs_do_not_depend_on_input_row_order(tmp_path: Path) -> None:
    runs = []
    for folder in (SAMPLE, shuffled_copy(tmp_path, 1), shuffled_copy(tmp_path, 2)):
        config = mlmroi.load_config(dataset=folder)
        runs.append(mlmroi.score(folder, config))
    first = runs[0]
    for other in runs[1:]:
        assert other.participants.equals(first.participants)
        assert other.segments.equals(first.segments)
        assert other.commissions.equals(first.commissions)
        assert set(other.outputs) == set(first.outputs) == {"income_disclosure", "surveys", "leads"}
        for name, frame in first.outputs.items():
            assert other.outputs[name].equals(frame), name


def test_attribute_segments_and_a_missing_column(tmp_path: Path) -> None:
    base = mlmroi.load_config(dataset=SAMPLE).model_dump()
    config = parse_config(base | {"segments": {"by": ["region", "age_band"]}})
    result = mlmroi.score(SAMPLE, config)
    regions = result.segments.filter(pl.col("segmentation") == "region")["value"].to_list()
    assert regions == ["central", "east", "north", "south", "west"]
    assert result.participants["age_band"].null_count() == 0
    bad = parse_config(base | {"segments": {"by": ["channel"]}})
    with pytest.raises(ConfigError, match=r"segments.by: 'channel' needs a participants column 'channel'"):
        mlmroi.score(SAMPLE, bad)


def test_events_and_leads_give_loyalty_surveys_and_renew_index(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    shutil.copytree(SAMPLE, folder)
    # ORACLES.md 7 (seeds/003): survey scores [10, 9, 8, 8, 7, 5, 3, 2] -> CSI 2.0, NPS -12.5.
    scores = [10, 9, 8, 8, 7, 5, 3, 2]
    lines = ["participant_id,occurred_on,type,value"]
    lines += [f"{k + 1},2025-03-0{k + 1},survey,{v}" for k, v in enumerate(scores)]
    lines += ["1,2025-04-01,referral,", "2,2025-04-01,feedback,", "3,2025-04-02,invoice_paid,2"]
    (folder / "events.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "leads.csv").write_text(
        "lead_id,brand,attractiveness,closeness\nL1,5,4,5\nL2,1,1,1\n", encoding="utf-8"
    )
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    out = mlmroi.write(result, tmp_path / "out")
    surveys = pl.read_parquet(out / "surveys.parquet")
    company = surveys.filter(pl.col("scope") == "company").row(0, named=True)
    assert (company["attract"], company["detract"], company["csi"], company["nps"]) == (4, 2, 2.0, -12.5)
    assert run_json(result)["segments"]["surveys"]["csi"] == 2.0
    leads = pl.read_parquet(out / "leads.parquet")
    assert leads.select("lead_id", "renew_index", "rank").rows() == [("L1", 14, 1), ("L2", 3, 2)]
    people = pl.read_parquet(out / "participants.parquet")
    assert people["loyalty_type"].null_count() == 0
    first = people.filter(pl.col("participant_id") == 2).row(0, named=True)
    assert first["loyalty_evaluation"] > 0  # participant 2's feedback
    table = pl.read_parquet(out / "segments.parquet")
    assert table.filter(pl.col("segmentation") == "loyalty_type")["participants"].sum() == people.height


def test_rfm_recency_and_the_lapse_are_in_days(tmp_path: Path) -> None:
    """Recency is days since the last purchase as of the window end, not rounded to the end of a week: a
    more recent buyer never scores below a less recent one, and a purchase 91 days before the end is a
    91-day lapse (churned with churn_days = 91) although its week ended 85 days before."""
    from tests.helpers import write_dataset

    people = "participant_id,sponsor_id,joined_on\n" + "\n".join(
        f"{i},{'' if i == 1 else 1},2024-01-01" for i in range(1, 11)
    )
    # window 2025-01-01 .. 2025-12-31; participant k last bought on these days (all bought once in Jan too)
    last = {1: "2025-12-31", 2: "2025-12-25", 3: "2025-12-20", 4: "2025-11-30", 5: "2025-10-01"}
    last |= {6: "2025-09-01", 7: "2025-08-01", 8: "2025-07-01", 9: "2025-06-01", 10: "2025-10-01"}
    orders = ["participant_id,ordered_on,amount"]
    orders += [f"{k},2025-01-0{1 + k % 9},50" for k in last] + [f"{k},{d},50" for k, d in last.items()]
    folder = write_dataset(
        tmp_path / "d",
        people,
        "\n".join(orders),
        config='[window]\nstart = 2025-01-01\nend = 2025-12-31\n[value]\nmodel = "none"\n'
        "[segments.lifecycle]\nchurn_days = 91\n",
    )
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    r = dict(result.participants.select("participant_id", "rfm_r").iter_rows())
    days = {k: (dt.date(2025, 12, 31) - dt.date.fromisoformat(d)).days for k, d in last.items()}
    for a in last:
        for b in last:
            if days[a] < days[b]:
                assert r[a] >= r[b], (a, b)
    life = dict(result.participants.select("participant_id", "lifecycle").iter_rows())
    assert life[5] == "churned" and life[10] == "churned"  # 91 days, however the weeks fall
    assert life[4] != "churned"
