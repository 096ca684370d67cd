"""The optional `events` and `leads` tables (SPEC §1): accepted rows, one test per reject reason, cascade,
column mapping, conservation, --strict, validate, Parquet = CSV, and messy input that never crashes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

import mlmroi
from mlmroi.errors import DataError, InputError, MlmRoiError
from mlmroi.io.dataset import Dataset
from mlmroi.io.load import load
from mlmroi_cli.main import app
from tests.helpers import write_dataset
from tests.runjson import run_json

PEOPLE = """
participant_id,sponsor_id,joined_on
1,,2024-01-01
2,1,2024-02-01
3,2,2024-03-01
"""
ORDERS = """
participant_id,ordered_on,amount
1,2025-01-05,100
2,2025-01-06,50.5
3,2025-02-07,20
"""
EVENTS = """
participant_id,occurred_on,type,value
1,2025-01-02,contact,
2,2025-01-03,event,
3,2025-01-04,newsletter_response,
1,2025-01-05,feedback,
2,2025-01-06,referral,
3,2025-01-07,invoice_paid,2
1,2025-01-08,survey,9
2,2025-01-09, Survey ,0
3,2025-01-10,webinar_attended,
1,2025-01-11T09:30:00,INVOICE_PAID,0
"""
LEADS = """
lead_id,brand,attractiveness,closeness
L1,5,4,3
L2,1,1,1
L3, 2 ,5,5
"""


def dataset(folder: Path, events: str | None = EVENTS, leads: str | None = LEADS) -> Path:
    """The three-person dataset plus ``events.csv`` and ``leads.csv`` (``None``: no such table)."""
    write_dataset(folder, PEOPLE, ORDERS)
    for name, text in (("events.csv", events), ("leads.csv", leads)):
        if text is not None:
            (folder / name).write_text(text.strip() + "\n", encoding="utf-8")
    return folder


def read(folder: Path) -> Dataset:
    return load(folder, mlmroi.load_config(dataset=folder).load_options())


def run(folder: Path, **kwargs: object) -> mlmroi.Result:
    return mlmroi.score(folder, mlmroi.load_config(dataset=folder), **kwargs)  # type: ignore[arg-type]


def reasons(data: Dataset, table: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    frame = data.rejects.frame().filter(pl.col("table") == table)
    for row, reason in frame.select("row", "reason").iter_rows():
        out.setdefault(row, []).append(reason)
    return out


def reject_lines(data: Dataset, table: str) -> list[tuple[int, str, str | None, str]]:
    frame = data.rejects.frame().filter(pl.col("table") == table)
    return [(r, c, v, why) for _, r, c, v, why in frame.iter_rows()]


def events_with(*rows: str) -> str:
    """The clean events (10 rows) followed by ``rows`` (rows 11, 12, …)."""
    return EVENTS.strip() + "\n" + "\n".join(rows) + "\n"


# --- accepted rows ------------------------------------------------------------------------------------------


def test_clean_events_and_leads_are_accepted_with_their_dtypes(tmp_path: Path) -> None:
    data = read(dataset(tmp_path))
    assert len(data.rejects) == 0
    assert data.events is not None and data.leads is not None
    assert data.events.schema == pl.Schema(
        {"node": pl.Int64, "occurred_on": pl.Date, "type": pl.String, "value": pl.Float64}
    )
    ids = data.participants.sort("node")["participant_id"].to_list()
    assert [ids[n] for n in data.events["node"]] == [1, 2, 3, 1, 2, 3, 1, 2, 3, 1]
    assert data.events["type"].to_list() == [
        "contact",
        "event",
        "newsletter_response",
        "feedback",
        "referral",
        "invoice_paid",
        "survey",
        "survey",  # " Survey " stripped and lower-cased
        "webinar_attended",  # a custom type is kept as text
        "invoice_paid",
    ]
    assert data.events["value"].to_list() == [None, None, None, None, None, 2.0, 9.0, 0.0, None, 0.0]
    assert data.events["occurred_on"][0] == dt.date(2025, 1, 2)
    assert data.events["occurred_on"][9] == dt.date(2025, 1, 11)  # the time part is dropped
    assert data.leads.schema == pl.Schema(
        {"lead_id": pl.String, "brand": pl.Int8, "attractiveness": pl.Int8, "closeness": pl.Int8}
    )
    assert data.leads.rows() == [("L1", 5, 4, 3), ("L2", 1, 1, 1), ("L3", 2, 5, 5)]
    assert data.rows()["events"] == {"in": 10, "used": 10, "rejected": 0, "joined_after_window": 0}
    assert data.rows()["leads"] == {"in": 3, "used": 3, "rejected": 0, "joined_after_window": 0}


def test_events_without_a_value_column_and_integer_lead_ids(tmp_path: Path) -> None:
    events = "participant_id,occurred_on,type\n1,2025-01-02,contact\n3,2025-01-03,referral\n"
    data = read(dataset(tmp_path, events=events, leads="lead_id,brand,attractiveness,closeness\n7,1,2,3\n"))
    assert len(data.rejects) == 0
    assert data.events is not None and data.leads is not None
    assert data.events["value"].dtype == pl.Float64
    assert data.events["value"].null_count() == 2
    assert data.leads["lead_id"].dtype == pl.Int64 and data.leads["lead_id"].to_list() == [7]


def test_tables_are_optional(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=None, leads=None))
    assert data.events is None and data.leads is None
    assert set(data.rows()) == {"participants", "orders"}


def test_score_works_with_and_without_the_new_tables(tmp_path: Path) -> None:
    without = run(dataset(tmp_path / "without", events=None, leads=None))
    with_them = run(dataset(tmp_path / "with"))
    # Events feed the loyalty profile and surveys only; every other figure is the same.
    loyalty = pl.selectors.starts_with("loyalty_")
    assert with_them.participants.drop(loyalty).equals(without.participants.drop(loyalty))
    assert with_them.commissions.equals(without.commissions)
    assert run_json(with_them)["totals"] == run_json(without)["totals"]
    assert set(with_them.outputs) == {"income_disclosure", "surveys", "leads"}
    assert set(without.outputs) == {"income_disclosure"}  # every run discloses income
    assert "surveys" in run_json(with_them)["segments"] and "surveys" not in run_json(without)["segments"]
    assert set(run_json(with_them)["inputs"]) == {"participants", "orders", "events", "leads"}
    assert set(run_json(without)["inputs"]) == {"participants", "orders"}


# --- events: one test per reject reason ---------------------------------------------------------------------


def test_event_bad_and_missing_dates(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=events_with("1,05/01/2025,contact,", "1,,contact,")))
    assert reject_lines(data, "events") == [
        (11, "occurred_on", "05/01/2025", "bad date (expected YYYY-MM-DD)"),
        (12, "occurred_on", None, "missing occurred_on"),
    ]
    assert data.events is not None and data.events.height == 10


def test_event_missing_type(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=events_with("1,2025-01-02,,", "1,2025-01-02,  ,")))
    assert reasons(data, "events") == {11: ["missing type"], 12: ["missing type"]}


def test_event_non_numeric_value(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=events_with("1,2025-01-02,contact,abc", "1,2025-01-02,survey,NaN")))
    assert reject_lines(data, "events") == [
        (11, "value", "abc", "non-numeric value"),
        (12, "value", "NaN", "non-numeric value"),  # not also "missing value": the value was given
    ]


def test_invoice_paid_with_a_negative_value(tmp_path: Path) -> None:
    data = read(
        dataset(tmp_path, events=events_with("2,2025-01-02,invoice_paid,-1", "2,2025-01-02,contact,-1"))
    )
    assert reject_lines(data, "events") == [
        (11, "value", "-1", "negative value for invoice_paid (days to pay must be ≥ 0)")
    ]
    assert data.events is not None and data.events.height == 11  # a custom number on another type is kept


def test_invoice_paid_without_a_value_is_kept(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=events_with("2,2025-01-02,invoice_paid,")))
    assert len(data.rejects) == 0
    assert data.events is not None and data.events["value"][10] is None


def test_survey_without_a_value(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=events_with("2,2025-01-02,survey,")))
    assert reject_lines(data, "events") == [
        (11, "value", None, "missing value (a survey needs a score 0–10)")
    ]
    no_column = "participant_id,occurred_on,type\n1,2025-01-02,contact\n1,2025-01-02,survey\n"
    data = read(dataset(tmp_path / "no_column", events=no_column))
    assert reasons(data, "events") == {2: ["missing value (a survey needs a score 0–10)"]}


def test_survey_score_outside_0_to_10(tmp_path: Path) -> None:
    rows = (
        "1,2025-01-02,survey,-1",
        "1,2025-01-02,survey,10.5",
        "1,2025-01-02,survey,10",
        "1,2025-01-02,survey,0",
    )
    data = read(dataset(tmp_path, events=events_with(*rows)))
    assert reject_lines(data, "events") == [
        (11, "value", "-1", "survey score outside 0–10"),
        (12, "value", "10.5", "survey score outside 0–10"),
    ]
    assert data.events is not None and data.events["value"].to_list()[-2:] == [10.0, 0.0]  # both ends valid


def test_event_unknown_or_missing_participant(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=events_with("99,2025-01-02,contact,", ",2025-01-02,contact,")))
    assert reject_lines(data, "events") == [
        (11, "participant_id", "99", "unknown participant_id (not in participants)"),
        (12, "participant_id", None, "missing participant_id"),
    ]


def test_events_follow_a_rejected_participant(tmp_path: Path) -> None:
    people = PEOPLE.strip() + "\n4,4,2024-01-01\n5,4,2024-01-01\n"
    folder = write_dataset(tmp_path, people, ORDERS)
    (folder / "events.csv").write_text(
        "participant_id,occurred_on,type,value\n1,2025-01-02,contact,\n4,2025-01-02,survey,8\n"
        "5,2025-01-03,referral,\n"
    )
    data = read(folder)
    assert reasons(data, "participants") == {
        4: ["self-sponsorship (sponsor_id equals participant_id)"],
        5: ["sponsor chain broken: 5 → 4 reaches rejected participant 4 (row 4)"],
    }
    assert reject_lines(data, "events") == [
        (2, "participant_id", "4", "participant is rejected (see participants row 4)"),
        (3, "participant_id", "5", "participant is rejected (see participants row 5)"),
    ]
    assert data.events is not None and data.events["type"].to_list() == ["contact"]


def test_a_row_with_several_problems_counts_once(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, events=events_with("99,bad,,x")))
    assert sorted(reasons(data, "events")[11]) == [
        "bad date (expected YYYY-MM-DD)",
        "missing type",
        "non-numeric value",
        "unknown participant_id (not in participants)",
    ]
    assert data.rows()["events"] == {"in": 11, "used": 10, "rejected": 1, "joined_after_window": 0}


# --- leads: one test per reject reason ----------------------------------------------------------------------


def test_lead_missing_id(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, leads=LEADS.strip() + "\n,3,3,3\n  ,3,3,3\n"))
    assert reject_lines(data, "leads") == [
        (4, "lead_id", None, "missing lead_id"),
        (5, "lead_id", "  ", "missing lead_id"),
    ]


def test_duplicate_lead_id_keeps_the_first(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, leads=LEADS.strip() + "\nL2,5,5,5\nL2,4,4,4\n"))
    assert reasons(data, "leads") == {
        4: ["duplicate lead_id (first at row 2)"],
        5: ["duplicate lead_id (first at row 2)"],
    }
    assert data.leads is not None and data.leads.filter(pl.col("lead_id") == "L2").rows() == [("L2", 1, 1, 1)]


def test_lead_scores_must_be_integers_1_to_5(tmp_path: Path) -> None:
    leads = LEADS.strip() + "\nL4,0,6,2.5\nL5,x,3,3\nL6,3,-1,5\nL7,3.0,5,1\n"
    data = read(dataset(tmp_path, leads=leads))
    assert reject_lines(data, "leads") == [
        (4, "attractiveness", "6", "bad attractiveness (expected an integer 1–5)"),
        (4, "brand", "0", "bad brand (expected an integer 1–5)"),  # one line per bad column
        (4, "closeness", "2.5", "bad closeness (expected an integer 1–5)"),
        (5, "brand", "x", "bad brand (expected an integer 1–5)"),
        (6, "attractiveness", "-1", "bad attractiveness (expected an integer 1–5)"),
    ]
    assert data.rows()["leads"] == {"in": 7, "used": 4, "rejected": 3, "joined_after_window": 0}
    assert data.leads is not None and data.leads.row(3) == ("L7", 3, 5, 1)  # 3.0 is the integer 3


def test_lead_missing_score(tmp_path: Path) -> None:
    data = read(dataset(tmp_path, leads=LEADS.strip() + "\nL4,,3,3\n"))
    assert reject_lines(data, "leads") == [(4, "brand", None, "missing brand")]


# --- structure, mapping, conservation, strict, validate, Parquet --------------------------------------------


def test_missing_required_columns_stop_the_run(tmp_path: Path) -> None:
    folder = dataset(
        tmp_path, events="participant_id,occurred_on\n1,2025-01-02\n", leads="lead_id,brand\nL1,2\n"
    )
    with pytest.raises(InputError) as info:
        read(folder)
    assert info.value.problems == ["events.csv: missing required column 'type'"]
    (folder / "events.csv").write_text(EVENTS.strip() + "\n")
    with pytest.raises(InputError) as info:
        read(folder)
    assert info.value.problems == [
        "leads.csv: missing required column 'attractiveness'",
        "leads.csv: missing required column 'closeness'",
    ]


def test_column_mapping(tmp_path: Path) -> None:
    events = "member_no,date,kind,score\n1,2025-01-02,survey,7\n2,2025-01-03,contact,\n"
    leads = "prospect,brand_score,attractiveness,closeness\nP1,4,4,4\n"
    folder = dataset(tmp_path, events=events, leads=leads)
    config = (
        '[columns.events]\nmember_no = "participant_id"\ndate = "occurred_on"\nkind = "type"\nscore = "value"\n'
        '[columns.leads]\nprospect = "lead_id"\nbrand_score = "brand"\n'
    )
    (folder / "mlmroi.toml").write_text(config)
    data = read(folder)
    assert len(data.rejects) == 0
    assert data.events is not None and data.events.select("type", "value").rows() == [
        ("survey", 7.0),
        ("contact", None),
    ]
    assert data.leads is not None and data.leads.rows() == [("P1", 4, 4, 4)]
    (folder / "mlmroi.toml").write_text(config.replace("prospect =", "prospect_no ="))
    with pytest.raises(InputError) as info:
        read(folder)
    assert info.value.problems == [
        "leads.csv: column 'prospect_no' named in [columns.leads] is not in the file"
    ]


def test_conservation_in_run_json(tmp_path: Path) -> None:
    folder = dataset(
        tmp_path / "ds",
        events=events_with("99,2025-01-02,contact,", "1,2025-01-02,survey,11"),
        leads=LEADS.strip() + "\nL1,1,1,1\n",
    )
    mlmroi.write(run(folder), tmp_path / "out")
    rows = json.loads((tmp_path / "out" / "run.json").read_text())["rows"]
    assert rows["events"] == {"in": 12, "used": 10, "rejected": 2, "joined_after_window": 0}
    assert rows["leads"] == {"in": 4, "used": 3, "rejected": 1, "joined_after_window": 0}
    for counts in rows.values():
        assert counts["in"] == counts["used"] + counts["rejected"]
    rejects = pl.read_parquet(tmp_path / "out" / "rejects.parquet")
    assert rejects["table"].to_list() == ["events", "events", "leads"]


@pytest.mark.parametrize(
    ("events", "leads", "line"),
    [
        (
            events_with("1,2025-01-02,survey,11"),
            LEADS,
            "events.csv row 11: value '11': survey score outside 0–10",
        ),
        (
            EVENTS,
            LEADS.strip() + "\nL9,9,1,1\n",
            "leads.csv row 4: brand '9': bad brand (expected an integer 1–5)",
        ),
    ],
)
def test_strict_fails_on_event_and_lead_rejects(tmp_path: Path, events: str, leads: str, line: str) -> None:
    with pytest.raises(DataError) as info:
        run(dataset(tmp_path, events=events, leads=leads), strict=True)
    assert info.value.exit_code == 1
    assert line in info.value.problems


def test_strict_passes_clean_events_and_leads(tmp_path: Path) -> None:
    result = run(dataset(tmp_path), strict=True)
    assert result.rejects.height == 0


def test_validate_lists_events_and_leads(tmp_path: Path) -> None:
    runner = CliRunner()
    clean = runner.invoke(app, ["validate", str(dataset(tmp_path / "clean"))], catch_exceptions=False)
    assert clean.exit_code == 0
    assert "events: 10 rows, 10 used, 0 rejected" in clean.output
    assert "leads: 3 rows, 3 used, 0 rejected" in clean.output
    dirty = dataset(
        tmp_path / "dirty", events=events_with("1,2025-01-02,,"), leads=LEADS.strip() + "\n,1,1,1\n"
    )
    result = runner.invoke(app, ["validate", str(dirty)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "events: 11 rows, 10 used, 1 rejected" in result.output
    assert "leads: 4 rows, 3 used, 1 rejected" in result.output
    assert "missing type" in result.output and "missing lead_id" in result.output


def test_parquet_input_matches_csv(tmp_path: Path) -> None:
    events = events_with("99,2025-01-02,contact,", "1,2025-01-02,survey,11", "2,2025-01-02,invoice_paid,-3")
    leads = "lead_id,brand,attractiveness,closeness\n10,5,4,3\n11,1,1,1\n10,2,2,2\n12,7,1,1\n"
    csv_dir = dataset(tmp_path / "csv", events=events.replace("T09:30:00", ""), leads=leads)
    pq_dir = dataset(tmp_path / "pq", events=events.replace("T09:30:00", ""), leads=leads)
    for name in ("events", "leads"):
        frame = pl.read_csv(pq_dir / f"{name}.csv", try_parse_dates=True)
        (pq_dir / f"{name}.csv").unlink()
        frame.write_parquet(pq_dir / f"{name}.parquet")
    typed = pl.read_parquet(pq_dir / "events.parquet").schema
    assert typed["occurred_on"] == pl.Date and typed["value"] == pl.Int64  # really typed input
    a, b = read(csv_dir), read(pq_dir)
    assert a.events is not None and b.events is not None and a.events.equals(b.events)
    assert a.leads is not None and b.leads is not None and a.leads.equals(b.leads)
    assert a.leads["lead_id"].dtype == pl.Int64
    assert a.rejects.frame().equals(b.rejects.frame())
    assert a.rows() == b.rows()
    assert a.rows()["events"] == {"in": 13, "used": 10, "rejected": 3, "joined_after_window": 0}
    assert a.rows()["leads"] == {"in": 4, "used": 2, "rejected": 2, "joined_after_window": 0}


# --- messy input ---------------------------------------------------------------------------------------------

IDS = st.sampled_from(["1", "2", "3", "x", "", " 2 ", "99"])
DATES = st.sampled_from(["2025-01-05", "2025-02-30", "", "junk", "2025-03-01T10:00"])
TYPES = st.sampled_from(["contact", "survey", "invoice_paid", " Survey", "", "custom"])
VALUES = st.sampled_from(["", "0", "3", "-1", "10", "11", "abc", "2.5", "NaN"])
SCORES = st.sampled_from(["1", "5", "0", "6", "", "x", "2.5", " 3 "])


def table(header: list[str], rows: list[tuple[str, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@given(
    events=st.lists(st.tuples(IDS, DATES, TYPES, VALUES), max_size=10),
    leads=st.lists(st.tuples(IDS, SCORES, SCORES, SCORES), max_size=8),
)
def test_messy_rows_are_used_or_rejected(events: list[tuple[str, ...]], leads: list[tuple[str, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = dataset(
            Path(tmp),
            events=table(["participant_id", "occurred_on", "type", "value"], events),
            leads=table(["lead_id", "brand", "attractiveness", "closeness"], leads),
        )
        try:
            data = read(folder)
        except MlmRoiError as exc:  # e.g. a column where no value parses: structural, one line each
            assert exc.problems and all(line and "\n" not in line for line in exc.problems)
            return
        rows = data.rows()
        assert data.events is not None and data.leads is not None
        assert rows["events"]["in"] == len(events) and rows["events"]["used"] == data.events.height
        assert rows["leads"]["in"] == len(leads) and rows["leads"]["used"] == data.leads.height
        assert data.leads["lead_id"].is_duplicated().sum() == 0
        assert data.leads.select(pl.all().exclude("lead_id").is_between(1, 5).all()).row(0) == (
            True,
            True,
            True,
        )
        survey = data.events.filter(pl.col("type") == "survey")["value"]
        assert survey.null_count() == 0 and bool(survey.is_between(0, 10).all())
