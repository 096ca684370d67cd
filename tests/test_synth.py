"""Tests of the synthetic dataset generator :mod:`mlmroi.synth`."""

from __future__ import annotations

import datetime as dt
import re
import time
import tomllib
from pathlib import Path
from typing import Literal

import polars as pl
import pyarrow.parquet as pq
import pytest

from mlmroi import load_config, score, synth
from mlmroi.destinations import MARKER
from mlmroi.synth import GeneratedSummary, generate
from tests.runjson import run_json

START = dt.date(2025, 1, 1)
END = dt.date(2025, 12, 31)
N = 2000

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "participants": {
        "participant_id": pl.Int64(),
        "sponsor_id": pl.Int64(),
        "joined_on": pl.Date(),
        "role": pl.String(),
        "left_on": pl.Date(),
        "region": pl.String(),
        "birth_date": pl.Date(),
        "placement_id": pl.Int64(),
        "placement_leg": pl.String(),
    },
    "orders": {
        "order_id": pl.Int64(),
        "participant_id": pl.Int64(),
        "ordered_on": pl.Date(),
        "amount": pl.Float64(),
        "volume": pl.Float64(),
        "cost": pl.Float64(),
        "retail": pl.Boolean(),
    },
    "costs": {
        "participant_id": pl.Int64(),
        "incurred_on": pl.Date(),
        "category": pl.String(),
        "amount": pl.Float64(),
        "payer": pl.String(),
        "filter_column": pl.String(),
        "filter_value": pl.String(),
    },
    "events": {
        "participant_id": pl.Int64(),
        "occurred_on": pl.Date(),
        "type": pl.String(),
        "value": pl.Int64(),
    },
    "leads": {
        "lead_id": pl.String(),
        "brand": pl.Int64(),
        "attractiveness": pl.Int64(),
        "closeness": pl.Int64(),
    },
}
EVENT_TYPES = {"contact", "event", "newsletter_response", "feedback", "referral", "invoice_paid", "survey"}
ACQUISITION = {"advertising", "signup_bonus", "starter_kit"}
RETENTION = {"loyalty", "training", "support"}


def read(folder: Path, name: str, fmt: str) -> pl.DataFrame:
    """A table as written, with the contract's dtypes (CSV parsed with an explicit schema)."""
    path = folder / f"{name}.{fmt}"
    if fmt == "csv":
        return pl.read_csv(path, schema=SCHEMAS[name])
    return pl.read_parquet(path)


@pytest.fixture(scope="module", params=["csv", "parquet"])
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    fmt: str = request.param
    folder = tmp_path_factory.mktemp(f"synth_{fmt}")
    summary = generate(folder, N, 12, seed=7, fmt="csv" if fmt == "csv" else "parquet")
    assert summary.out_dir == folder
    return folder, fmt


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> tuple[GeneratedSummary, pl.DataFrame]:
    folder = tmp_path_factory.mktemp("synth_summary")
    result = generate(folder, N, 12, seed=7, fmt="parquet")
    return result, read(folder, "participants", "parquet")


def test_files_and_columns(dataset: tuple[Path, str]) -> None:
    folder, fmt = dataset
    names = {p.name for p in folder.iterdir()}
    assert names == {f"{name}.{fmt}" for name in SCHEMAS} | {"mlmroi.toml", MARKER}
    for name, schema in SCHEMAS.items():
        frame = read(folder, name, fmt)
        assert frame.columns == list(schema), name
        if fmt == "parquet":
            assert dict(frame.schema) == schema, name


def test_summary_matches_files(summary: tuple[GeneratedSummary, pl.DataFrame]) -> None:
    result, participants = summary
    assert result.participants == N == participants.height
    assert result.files == (
        "participants.parquet",
        "orders.parquet",
        "costs.parquet",
        "events.parquet",
        "leads.parquet",
        "mlmroi.toml",
    )
    assert (
        result.orders == pl.scan_parquet(result.out_dir / "orders.parquet").select(pl.len()).collect().item()
    )
    assert result.costs == read(result.out_dir, "costs", "parquet").height
    assert result.events == read(result.out_dir, "events", "parquet").height > 0
    assert result.leads == read(result.out_dir, "leads", "parquet").height > 0


def test_participants_form_a_tree(dataset: tuple[Path, str]) -> None:
    folder, fmt = dataset
    p = read(folder, "participants", fmt)
    assert p["participant_id"].to_list() == list(range(1, N + 1))
    assert p["joined_on"].is_sorted()
    roots = p.filter(pl.col("sponsor_id").is_null())
    assert 1 <= roots.height <= 5
    assert set(roots["role"]) == {"distributor"}
    edges = p.filter(pl.col("sponsor_id").is_not_null()).join(
        p.select(
            pl.col("participant_id").alias("sponsor_id"),
            pl.col("joined_on").alias("sponsor_joined"),
            pl.col("role").alias("sponsor_role"),
        ),
        on="sponsor_id",
        how="left",
    )
    assert edges["sponsor_joined"].null_count() == 0  # every sponsor exists
    assert (edges["sponsor_id"] < edges["participant_id"]).all()  # smaller id, so no self-sponsorship
    assert (edges["sponsor_joined"] < edges["joined_on"]).all()
    assert set(edges["sponsor_role"]) == {"distributor"}  # customers never recruit
    assert set(p["role"]) == {"distributor", "customer"}
    assert 0.2 < (p["role"] == "customer").mean() < 0.4  # type: ignore[operator]
    assert set(p["region"]) == {"north", "south", "east", "west", "central"}
    assert p["region"].value_counts()["count"].n_unique() > 1  # unequal shares
    left = p.filter(pl.col("left_on").is_not_null())
    assert 0 < left.height < N // 2
    assert (left["left_on"] > left["joined_on"]).all()
    assert (left["left_on"] <= END).all()
    assert (p["birth_date"] < p["joined_on"]).all()
    assert 0.2 < (p["joined_on"] < START).mean() < 0.4  # type: ignore[operator]


def test_binary_placement_is_spillover_below_the_sponsor(dataset: tuple[Path, str]) -> None:
    folder, fmt = dataset
    p = read(folder, "participants", fmt)
    placed = p.filter(pl.col("placement_id").is_not_null())
    # Distributors recruited by distributors are placed; customers and roots are not.
    assert set(placed["role"]) == {"distributor"}
    assert (
        placed.height
        == p.filter((pl.col("role") == "distributor") & pl.col("sponsor_id").is_not_null()).height
    )
    assert set(placed["placement_leg"]) == {"L", "R"}
    assert placed.select("placement_id", "placement_leg").is_unique().all()  # one participant per leg
    # Each placement is inside the sponsor's placement subtree: walking up from the placement parent
    # reaches the sponsor.
    up = dict(zip(placed["participant_id"].to_list(), placed["placement_id"].to_list(), strict=True))
    for pid, sponsor, parent in placed.select("participant_id", "sponsor_id", "placement_id").iter_rows():
        node = parent
        while node != sponsor and node in up:  # stops at the sponsor, or at a placement root
            node = up[node]
        assert node == sponsor, pid


def test_recruiting_is_skewed_and_deep(summary: tuple[GeneratedSummary, pl.DataFrame]) -> None:
    result, p = summary
    recruits = p.group_by("sponsor_id").len().rename({"sponsor_id": "participant_id", "len": "recruits"})
    distributors = (
        p.filter(pl.col("role") == "distributor")
        .join(recruits, on="participant_id", how="left")
        .with_columns(pl.col("recruits").fill_null(0))
    )
    assert (distributors["recruits"] == 0).mean() > 0.5  # type: ignore[operator]
    assert distributors["recruits"].max() >= 10  # type: ignore[operator]
    depth: dict[int, int] = {}
    for pid, sponsor in p.select("participant_id", "sponsor_id").iter_rows():
        depth[pid] = 0 if sponsor is None else depth[sponsor] + 1
    assert result.max_depth == max(depth.values())
    assert result.max_depth >= 20


def test_orders_respect_membership_and_window(dataset: tuple[Path, str]) -> None:
    folder, fmt = dataset
    p = read(folder, "participants", fmt)
    o = read(folder, "orders", fmt)
    assert o.height > 0
    assert o["order_id"].n_unique() == o.height
    assert o.select(pl.col("ordered_on"), pl.col("participant_id")).equals(
        o.select("ordered_on", "participant_id").sort("ordered_on", "participant_id")
    )
    joined = o.join(p, on="participant_id", how="left")
    assert joined["joined_on"].null_count() == 0  # every order's participant exists
    assert (joined["ordered_on"] >= joined["joined_on"]).all()
    assert (joined["ordered_on"] >= START).all() and (joined["ordered_on"] <= END).all()
    left = joined.filter(pl.col("left_on").is_not_null())
    assert (left["ordered_on"] < left["left_on"]).all()
    assert not joined.filter(pl.col("role") == "customer")["retail"].any()
    retail_share = joined.filter(pl.col("role") == "distributor")["retail"].mean()
    assert 0.2 < retail_share < 0.3  # type: ignore[operator]
    refunds = o.filter(pl.col("amount") < 0)
    assert 0.002 < refunds.height / o.height < 0.03
    assert (refunds["volume"] < 0).all()
    assert 0.05 < o["cost"].null_count() / o.height < 0.15
    ratio = o.filter(pl.col("cost").is_not_null()).select(pl.col("cost") / pl.col("amount"))
    assert ratio.min().item() >= 0.44 and ratio.max().item() <= 0.61
    assert 40 < o["amount"].median() < 80  # type: ignore[operator]
    assert 9.0 < o.height / N < 11.0  # ~10 orders per participant over 12 months
    months = o.group_by(pl.col("ordered_on").dt.month()).len()
    assert months.height == 12


def test_costs(dataset: tuple[Path, str]) -> None:
    folder, fmt = dataset
    p = read(folder, "participants", fmt)
    o = read(folder, "orders", fmt)
    c = read(folder, "costs", fmt)
    assert (c["amount"] >= 0).all()
    assert set(c["payer"]) == {"company", "participant"}
    assert set(c["category"]) <= ACQUISITION | RETENTION | {"event_ticket"}
    assert (c["incurred_on"] >= START).all() and (c["incurred_on"] <= END).all()
    own = c.filter(pl.col("participant_id").is_not_null()).join(p, on="participant_id", how="left")
    assert own["joined_on"].null_count() == 0
    assert (own["incurred_on"] >= own["joined_on"]).all()
    signup = own.filter(pl.col("category").is_in(["signup_bonus", "starter_kit"]))
    assert signup.height > 0 and (signup["incurred_on"] == signup["joined_on"]).all()
    assert set(signup["role"]) == {"distributor"}
    paid = own.filter(pl.col("payer") == "participant")
    assert paid.height > 0 and set(paid["category"]) == {"event_ticket", "training"}
    assert own.filter(
        pl.col("category").is_in(["loyalty", "training"]) & (pl.col("payer") == "company")
    ).height

    shared = c.filter(pl.col("participant_id").is_null())
    assert set(shared["category"]) & ACQUISITION and set(shared["category"]) & RETENTION
    assert set(shared["payer"]) == {"company"}
    regional = shared.filter(pl.col("filter_column") == "region")
    assert "north" in set(regional["filter_value"])
    assert (shared["filter_column"].is_null() == shared["filter_value"].is_null()).all()
    assert_shared_allocatable(p, o, c)


def test_events_valid_and_realistic(dataset: tuple[Path, str]) -> None:
    folder, fmt = dataset
    p = read(folder, "participants", fmt)
    e = read(folder, "events", fmt)
    assert set(e["type"]) == EVENT_TYPES  # every type of the contract, nothing else
    assert e.select("occurred_on", "participant_id").equals(
        e.select("occurred_on", "participant_id").sort(pl.all())
    )
    joined = e.join(p, on="participant_id", how="left")
    assert joined["joined_on"].null_count() == 0  # every event's participant exists
    assert (joined["occurred_on"] >= joined["joined_on"]).all()
    assert (e["occurred_on"] >= START).all() and (e["occurred_on"] <= END).all()
    left = joined.filter(pl.col("left_on").is_not_null())
    assert left.height and (left["occurred_on"] < left["left_on"]).all()
    # About two events per participant over 12 months, so 10M-participant datasets stay manageable.
    assert 1.5 < e.height / N < 4.0
    counts = e["type"].value_counts()
    share = dict(zip(counts["type"], (counts["count"] / e.height).to_list(), strict=True))
    assert share["feedback"] < 0.02 and share["invoice_paid"] < 0.5 and share["contact"] > 0.15

    # Values: days to pay for every invoice, a 0-10 integer score for every survey, nothing for the rest.
    valued = pl.col("type").is_in(["invoice_paid", "survey"])
    assert e.filter(~valued)["value"].null_count() == e.filter(~valued).height
    invoices = e.filter(pl.col("type") == "invoice_paid")["value"]
    assert invoices.null_count() == 0 and (invoices >= 0).all()
    assert 0.75 < (invoices <= 3).mean() < 0.95  # type: ignore[operator]  # most paid within 3 days
    assert invoices.max() > 14  # type: ignore[operator]  # a tail of late payers
    scores = e.filter(pl.col("type") == "survey")["value"]
    assert scores.null_count() == 0 and set(scores) <= set(range(11))
    assert 0.10 <= e.filter(pl.col("type") == "survey")["participant_id"].n_unique() / N <= 0.20
    attract, detract = scores.is_between(8, 10).sum(), scores.is_between(1, 3).sum()
    nps = 100 * (scores.is_between(9, 10).mean() - scores.is_between(0, 6).mean())  # type: ignore[operator]
    assert 2.0 <= attract / detract <= 6.0  # CSI: skewed positive, with detractors
    assert 5.0 <= nps <= 40.0  # NPS positive, not extreme

    # Referrals come mostly from recruiters; distributors are touched more often than customers.
    frontline = p.group_by("sponsor_id").len().rename({"sponsor_id": "participant_id", "len": "frontline"})
    referrals = e.filter(pl.col("type") == "referral").join(frontline, on="participant_id", how="left")
    assert referrals.height > 0 and referrals["frontline"].is_not_null().mean() > 0.8  # type: ignore[operator]
    touches = (
        e.filter(pl.col("type").is_in(["contact", "event"]))
        .group_by("participant_id")
        .len()
        .join(p.select("participant_id", "role"), on="participant_id", how="right")
        .group_by("role")
        .agg(pl.col("len").fill_null(0).mean())
    )
    per_role = dict(touches.iter_rows())
    assert per_role["distributor"] > 1.5 * per_role["customer"]


def test_leads_valid(dataset: tuple[Path, str]) -> None:
    folder, fmt = dataset
    leads = read(folder, "leads", fmt)
    assert 0.10 * N <= leads.height <= 0.20 * N
    assert leads["lead_id"].is_unique().all()
    assert leads["lead_id"].str.contains(r"^L\d{6}$").all()
    assert leads["lead_id"][0] == "L000001"
    for column in ("brand", "attractiveness", "closeness"):
        assert set(leads[column]) == {1, 2, 3, 4, 5}, column
    means = leads.select(pl.col("brand", "attractiveness", "closeness").mean()).row(0)
    assert means[0] > means[1] > means[2]  # the brand is known; few leads came close to a deal


def test_generated_dataset_scores_without_rejects(dataset: tuple[Path, str]) -> None:
    folder, _fmt = dataset
    result = score(folder, load_config(dataset=folder), strict=True)
    assert result.rejects.height == 0
    rows = run_json(result)["rows"]
    for name in ("participants", "orders", "costs", "events", "leads"):
        assert rows[name]["rejected"] == 0 and rows[name]["in"] == rows[name]["used"] > 0, name
    assert set(result.outputs) >= {"surveys", "leads"}
    company = result.outputs["surveys"].filter(pl.col("scope") == "company").row(0, named=True)
    assert 2.0 <= company["csi"] <= 6.0 and 5.0 <= company["nps"] <= 40.0
    assert result.participants["loyalty_type"].n_unique() >= 5


def assert_shared_allocatable(p: pl.DataFrame, o: pl.DataFrame, c: pl.DataFrame) -> None:
    """Every shared cost falls in a month where someone (matching its filter) joined or ordered."""
    shared = c.filter(pl.col("participant_id").is_null())
    month = pl.col("incurred_on").dt.truncate("1mo")
    joins = p.select(pl.col("joined_on").dt.truncate("1mo").alias("m"), "region", "role")
    ordered = o.join(p, on="participant_id").select(
        pl.col("ordered_on").dt.truncate("1mo").alias("m"), "region", "role"
    )
    for row in shared.with_columns(month.alias("m")).iter_rows(named=True):
        pool = joins if row["category"] in ACQUISITION else ordered
        pool = pool.filter(pl.col("m") == row["m"])
        if row["filter_column"] is not None:
            pool = pool.filter(pl.col(row["filter_column"]) == row["filter_value"])
        assert pool.height > 0, row


@pytest.mark.parametrize("participants", [2, 5, 20, 60])
def test_small_networks_keep_shared_costs_allocatable(tmp_path: Path, participants: int) -> None:
    first, last = dt.date(2025, 3, 15), dt.date(2026, 3, 14)
    result = generate(tmp_path, participants, 12, seed=participants, start=first)
    p, o, c = (read(tmp_path, name, "csv") for name in ("participants", "orders", "costs"))
    assert result.orders == o.height and result.costs == c.height
    assert (o["ordered_on"] >= first).all() and (o["ordered_on"] <= last).all()
    assert (c["incurred_on"] >= first).all() and (c["incurred_on"] <= last).all()
    assert_shared_allocatable(p, o, c)


def test_config_file(dataset: tuple[Path, str]) -> None:
    config = tomllib.loads((dataset[0] / "mlmroi.toml").read_text(encoding="utf-8"))
    assert config["window"] == {"start": START, "end": END, "period": "month"}
    assert config["money"] == {"currency": "EUR", "margin_rate": 0.40}
    assert config["plan"]["components"] == [
        {
            "type": "unilevel",
            "levels": [0.10, 0.05, 0.03, 0.02, 0.01],
            "active_min_pv": 50,
            "compression": "dynamic",
        }
    ]
    assert config["costs"]["allocation"] == "count"
    assert set(config["costs"]["categories"]["acquisition"]) == ACQUISITION
    assert set(config["costs"]["categories"]["retention"]) == RETENTION


def test_csv_text_format(tmp_path: Path) -> None:
    folder = tmp_path
    generate(folder, 500, 12, seed=5, fmt="csv")
    money = re.compile(r"-?\d+\.\d{2}")
    date = re.compile(r"\d{4}-\d{2}-\d{2}")
    for name, schema in SCHEMAS.items():
        text = pl.read_csv(folder / f"{name}.csv", infer_schema=False)
        assert text.columns == list(schema)
        for column, dtype in schema.items():
            values = text[column].drop_nulls()
            if dtype == pl.Float64():
                assert values.str.contains(f"^{money.pattern}$").all(), column
            elif dtype == pl.Date():
                assert values.str.contains(f"^{date.pattern}$").all(), column
            elif dtype == pl.Boolean():
                assert set(values) == {"true", "false"}, column
    first = (folder / "participants.csv").read_text(encoding="utf-8").splitlines()[1]
    assert first.split(",")[1] == ""  # the first participant is a root: empty sponsor_id


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_deterministic(tmp_path: Path, fmt: Literal["csv", "parquet"]) -> None:
    first = generate(tmp_path / "a", 500, 12, seed=3, fmt=fmt)
    second = generate(tmp_path / "b", 500, 12, seed=3, fmt=fmt)
    other = generate(tmp_path / "c", 500, 12, seed=4, fmt=fmt)
    assert first.files == second.files
    for name in first.files:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    for name in first.files[:5]:
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name
    assert (first.orders, first.costs, first.events, first.leads, first.max_depth) == (
        second.orders,
        second.costs,
        second.events,
        second.leads,
        second.max_depth,
    )
    assert (first.orders, first.costs) != (other.orders, other.costs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"participants": 0}, "participants"),
        ({"participants": -5}, "participants"),
        ({"participants": 10, "months": 0}, "months"),
        ({"participants": 10, "orders_per_participant": -1.0}, "orders_per_participant"),
        ({"participants": 10, "fmt": "xlsx"}, "fmt"),
    ],
)
def test_invalid_arguments(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        generate(tmp_path / "x", **kwargs)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_progress_out_dir_and_orders_per_participant(tmp_path: Path) -> None:
    stages: list[str] = []
    out = tmp_path / "nested" / "folder"
    result = generate(
        out, 1000, 6, seed=1, start=dt.date(2024, 2, 1), orders_per_participant=3.0, progress=stages.append
    )
    assert stages == ["participants", "orders", "costs", "events", "writing"]
    assert out.is_dir()
    assert 2.5 < result.orders / 1000 < 3.5
    config = tomllib.loads((out / "mlmroi.toml").read_text(encoding="utf-8"))
    assert config["window"]["start"] == dt.date(2024, 2, 1)
    assert config["window"]["end"] == dt.date(2024, 7, 31)
    o = read(out, "orders", "csv")
    assert o["ordered_on"].min() >= dt.date(2024, 2, 1) and o["ordered_on"].max() <= dt.date(2024, 7, 31)  # type: ignore[operator]


def test_tiny_and_empty(tmp_path: Path) -> None:
    one = generate(tmp_path / "one", 1, 1, seed=0)
    p = read(tmp_path / "one", "participants", "csv")
    assert p.height == 1 and p["sponsor_id"].null_count() == 1
    assert one.max_depth == 0
    none = generate(tmp_path / "none", 50, 12, seed=0, fmt="parquet", orders_per_participant=0.0)
    assert none.orders == 0
    assert read(tmp_path / "none", "orders", "parquet").columns == list(SCHEMAS["orders"])
    none_csv = generate(tmp_path / "none_csv", 50, 12, seed=0, orders_per_participant=0.0)
    assert none_csv.orders == 0
    assert read(tmp_path / "none_csv", "orders", "csv").height == 0
    events = read(tmp_path / "none_csv", "events", "csv")  # no orders: no invoices, other events still
    assert events.height == none_csv.events and "invoice_paid" not in set(events["type"])
    for folder, fmt in ((tmp_path / "one", "csv"), (tmp_path / "none", "parquet")):
        for name in ("events", "leads"):
            assert read(folder, name, fmt).columns == list(SCHEMAS[name])


def test_scale_smoke(tmp_path: Path) -> None:
    began = time.perf_counter()
    result = generate(tmp_path, 200_000, 12, seed=1, fmt="parquet")
    elapsed = time.perf_counter() - began
    assert pl.scan_parquet(tmp_path / "participants.parquet").select(pl.len()).collect().item() == 200_000
    assert pl.scan_parquet(tmp_path / "orders.parquet").select(pl.len()).collect().item() == result.orders
    assert pl.scan_parquet(tmp_path / "costs.parquet").select(pl.len()).collect().item() == result.costs
    assert 1_800_000 < result.orders < 2_200_000
    assert result.max_depth > 50
    assert elapsed < 30


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_orders_written_in_slices(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: Literal["csv", "parquet"]
) -> None:
    monkeypatch.setattr(synth, "_SLICE_ORDERS", 1500)  # many slices (row groups / appended CSV chunks)
    result = generate(tmp_path, 1000, 12, seed=2, fmt=fmt)
    o = read(tmp_path, "orders", fmt)
    assert o.height == result.orders > 6 * 1500
    assert o["order_id"].to_list() == list(range(1, o.height + 1))
    assert o.select("ordered_on", "participant_id").equals(
        o.select("ordered_on", "participant_id").sort(pl.all())
    )
    if fmt == "parquet":
        assert pq.ParquetFile(tmp_path / "orders.parquet").metadata.num_row_groups > 5
    else:
        assert (tmp_path / "orders.csv").read_text(encoding="utf-8").count("order_id") == 1
