"""report.html: written by `mlmroi score`, figures equal to run.json and the tables, byte-identical, escaped,
self-contained, well-formed, and without the sections a run has no data for."""

from __future__ import annotations

import dataclasses
import json
import re
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

import mlmroi
from mlmroi.report.figures import ranked
from mlmroi.report.page import render
from mlmroi_cli.main import app
from tests.helpers import DEFAULT_CONFIG, ORACLE_ORDERS, ORACLE_PARTICIPANTS, UNILEVEL, write_dataset
from tests.runjson import run_json

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr", "col", "area", "base", "source"}


class Page(HTMLParser):
    """The report parsed: every table's rows (class, cell texts) by section id, the tags left open or closed
    without being open, and the SVG rectangles."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.unbalanced: list[str] = []
        self.section = ""
        self.tables: dict[str, list[list[tuple[str, list[str]]]]] = {}
        self.row: tuple[str, list[str]] | None = None
        self.cell: list[str] | None = None
        self.rects = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        self.stack.append(tag)
        attr = dict(attrs)
        if tag == "section":
            self.section = attr.get("id") or ""
        elif tag == "table":
            self.tables.setdefault(self.section, []).append([])
        elif tag == "tr":
            self.row = (attr.get("class") or "", [])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "rect":
            self.rects += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "rect":
            self.rects += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.unbalanced.append(tag)
        else:
            self.stack.pop()
        if tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.row[1].append("".join(self.cell).replace("\xa0", " ").strip())
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.tables[self.section][-1].append(self.row)
            self.row = None
        elif tag == "section":
            self.section = ""

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def table(self, section: str, index: int = 0) -> list[tuple[str, list[str]]]:
        return self.tables[section][index]


def money(text: str) -> str:
    """A run.json money string as the report shows it."""
    return format(Decimal(text), ",f")


def section_ids(text: str) -> list[str]:
    return re.findall(r'<section id="([a-z]+)">', text)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, dict[str, Any]]:
    """The sample scored once through the command line: (output folder, report.html, run.json)."""
    out = tmp_path_factory.mktemp("sample") / "out"
    result = CliRunner().invoke(app, ["score", str(SAMPLE), "--out", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = (out / "report.html").read_bytes().decode("utf-8")
    return out, text, json.loads((out / "run.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample_page(sample: tuple[Path, str, dict[str, Any]]) -> Page:
    return Page(sample[1])


SECTIONS = ["totals", "periods", "money", "segments", "network", "disclosure", "value", "rows"]


def test_score_writes_a_self_contained_report(sample: tuple[Path, str, dict[str, Any]]) -> None:
    _, text, run = sample
    assert text.startswith("<!DOCTYPE html>\n") and text.endswith("</html>\n")
    assert section_ids(text) == SECTIONS
    lowered = text.lower()
    for banned in ("http://", "https://", "<script", "<link", "<img", "<iframe", "src=", "@import"):
        assert banned not in lowered, banned
    # The charts refer only to their own parts (clip paths, glyphs): no address, no other file.
    assert re.findall(r"url\((?!#)", lowered) == [] and re.findall(r'href="(?!#)', lowered) == []
    ids = re.findall(r' id="([^"]+)"', text)
    assert len(ids) > 100 and len(ids) == len(set(ids))  # every id on the page is unique
    for ref in re.findall(r'(?:url\(#|href="#)([^")]+)', text):
        assert ref in ids, ref  # and every reference finds its target
    assert lowered.count("<svg") >= 7 and "<style>" in lowered  # inline charts and CSS only
    assert "<dd>sample</dd>" in text and run["dataset"] not in text  # the folder's name, not its path
    assert "2025-01-01 – 2025-12-31, by month (12 periods)" in text
    assert f"<dd>{run['mlmroi_version']}</dd>" in text and "<dd>EUR</dd>" in text
    assert "levels 0.1, 0.05, 0.03, 0.02, 0.01; active_min_pv 50; compression dynamic" in text


def test_report_is_well_formed(sample_page: Page) -> None:
    assert sample_page.unbalanced == [] and sample_page.stack == []
    for section, tables in sample_page.tables.items():
        for table in tables:
            widths = {len(cells) for css, cells in table if css != "group"}
            assert len(widths) == 1, (section, widths)  # every row has the heading's number of cells


def test_rows_section_matches_run_json(sample: tuple[Path, str, dict[str, Any]], sample_page: Page) -> None:
    rows = {cells[0]: cells[1:4] for _, cells in sample_page.table("rows")[1:]}
    assert rows == {
        name: [f"{r['in']:,}", f"{r['used']:,}", f"{r['rejected']:,}"]
        for name, r in sample[2]["rows"].items()
    }


def test_totals_are_run_json_strings(sample: tuple[Path, str, dict[str, Any]], sample_page: Page) -> None:
    totals = sample[2]["totals"]
    shown = {cells[0].strip(): cells[1] for _, cells in sample_page.table("totals")[1:]}
    assert shown["revenue"] == money(totals["revenue"]) == "1,333,783.70"
    assert shown["margin (what the orders earn the company)"] == money(totals["margin"])
    assert shown["acquisition costs"] == money(totals["acquisition_cost"])
    assert shown["retention costs"] == money(totals["retention_cost"])
    assert shown["commissions"] == money(totals["commissions"])
    assert shown["unilevel"] == money(totals["commissions_by_component"]["unilevel"])
    assert shown["costs (acquisition + retention + commissions)"] == money(totals["costs"])
    assert shown["profit (margin − costs)"] == money(totals["profit"])
    assert shown["ROI % (profit / costs × 100)"] == f"{totals['roi_pct']:,.2f}"
    assert shown["payout ratio % (commissions / volume)"] == f"{totals['payout_ratio'] * 100:.2f}"
    exact = Decimal(totals["commissions"]) * 100 / Decimal(totals["revenue"])
    assert shown["commissions / revenue %"] == f"{exact:.2f}" == "14.14"
    assert "The network pays off" in sample[1]


def test_periods_show_revenue_commissions_and_payout_ratio(
    sample: tuple[Path, str, dict[str, Any]], sample_page: Page
) -> None:
    out, text, run = sample
    table = sample_page.table("periods")
    assert table[0][1] == ["period", "revenue", "volume", "commissions", "payout ratio", "of revenue"]
    paid = pl.read_parquet(out / "commissions.parquet").group_by("period").agg(pl.col("amount").sum())
    paid_by_period = dict(paid.iter_rows())
    body = [cells for _, cells in table[1:]]
    assert [cells[0] for cells in body] == run["window"]["periods"]
    revenue = Decimal(0)
    for cells, figures in zip(body, run["by_period"], strict=True):
        assert cells[1] == money(figures["revenue"]) and cells[2] == money(figures["volume"])
        assert cells[3] == money(figures["commissions"]) == format(paid_by_period[cells[0]], ",f")
        exact = Decimal(figures["commissions"]) / Decimal(figures["volume"])
        assert figures["payout_ratio"] == round(float(exact), 6)
        assert cells[4] == f"{figures['payout_ratio'] * 100:.1f} %"
        revenue += Decimal(figures["revenue"])
    assert revenue == Decimal(run["totals"]["revenue"])  # the periods add up to the window
    # The drift the analyst must see: 14.3 % in January, 18.3 % in December (sales grew ×4.70).
    assert "The payout ratio drifts up: 14.3 % in 2025-01 → 18.3 % in 2025-12" in text
    section = text[text.index('<section id="periods">') :].split("</section>")[0]
    assert "<svg" in section and "payout ratio" in section


def test_every_segment_row_in_order_with_losses_highlighted(
    sample: tuple[Path, str, dict[str, Any]], sample_page: Page
) -> None:
    out, text, run = sample
    segments = pl.read_parquet(out / "segments.parquet")
    table = sample_page.table("segments")
    heads = table[0][1]
    assert heads[-3:] == ["profit", "ROI %", "flags"]  # no churn column: all null on the sample
    shown: list[tuple[str, str, str, str]] = []
    group = ""
    for css, cells in table[1:]:
        if css == "group":
            group = cells[0]
        else:
            shown.append((group, cells[0], css, cells[heads.index("profit")]))
    expected = [
        (
            row["segmentation"],
            row["value"],
            "loss" if (row["roi_pct"] is not None and row["roi_pct"] < 0) or row["profit"] < 0 else "",
            format(row["profit"], ",f"),
        )
        for row in segments.iter_rows(named=True)
    ]
    assert shown == expected
    assert any(css == "loss" for _, _, css, _ in shown) and any(css == "" for _, _, css, _ in shown)
    losing = sum(1 for _, _, css, _ in shown if css == "loss")
    assert f"{losing:,} of {segments.height:,} segment values lose money" in text
    health = run["segments"]["abc_health"]
    assert f"{health['a_share_of_buyers'] * 100:.1f} % (inside the healthy 20–30 %)" in text
    assert f"<dd>{health['participants_making_80pct_of_revenue'] * 100:.1f} %</dd>" in text
    section = text[text.index('<section id="segments">') :].split("</section>")[0]
    assert section.count("<svg") == 2  # profit and ROI per segment value; the Pareto curve


def test_value_section_has_model_and_total_clv(sample: tuple[Path, str, dict[str, Any]]) -> None:
    _, text, run = sample
    value = text[text.index('<section id="value">') :].split("</section>")[0]
    assert money(run["totals"]["clv_predicted"]) + " EUR" in value
    assert f"r {run['value']['model']['bgnbd']['r']:.4f}" in value
    assert "fitted" in value and "p_alive by frequency" in value and value.count("<svg") == 1


def test_alive_matrix_means_match_the_participants(
    sample: tuple[Path, str, dict[str, Any]], sample_page: Page
) -> None:
    people = pl.read_parquet(sample[0] / "participants.parquet").filter(pl.col("p_alive").is_not_nan())
    matrix = next(t for t in sample_page.tables["value"] if t[0][1][0].startswith("repeat purchases"))
    counted = 0
    for _, cells in matrix[1:]:
        for text in cells[1:]:
            if text != "—":
                counted += int(text.split("(")[1].rstrip(")").replace(",", ""))
    assert counted == people.height  # every scored customer sits in exactly one cell
    # Frequent buyers who bought lately are the most alive: row 11+, column < 4 weeks
    top = next(cells for _, cells in matrix[1:] if cells[0] == "11+")
    recent = people.filter((pl.col("frequency") >= 11) & (pl.col("T_weeks") - pl.col("recency_weeks") < 4))
    assert top[1].startswith(f"{recent['p_alive'].mean() * 100:.0f} %")


def test_biggest_gains_and_losses_in_money(
    sample: tuple[Path, str, dict[str, Any]], sample_page: Page
) -> None:
    people = pl.read_parquet(sample[0] / "participants.parquet")
    losses, gains = sample_page.tables["money"][:2]
    expected_losses = people.filter(pl.col("profit") < 0).sort(["profit", "participant_id"]).head(10)
    assert [cells[0] for _, cells in losses[1:]] == [str(i) for i in expected_losses["participant_id"]]
    assert [cells[6] for _, cells in losses[1:]] == [format(v, ",f") for v in expected_losses["profit"]]
    assert all(css == "loss" for css, _ in losses[1:])
    expected_gains = people.sort(["profit", "participant_id"], descending=[True, False]).head(10)
    assert [cells[0] for _, cells in gains[1:]] == [str(i) for i in expected_gains["participant_id"]]
    assert losses[0][1] == [
        "participant",
        "depth",
        "downline",
        "revenue",
        "commissions",
        "costs",
        "profit",
        "ROI %",
    ]
    # The sample's biggest loss is a leader's: far bigger than any of the lowest ROIs' losses.
    assert Decimal(losses[1][1][6].replace(",", "")) < -10_000


def test_top_branches_are_separate_and_follow_a_full_sort(
    sample: tuple[Path, str, dict[str, Any]], sample_page: Page
) -> None:
    import networkx as nx

    people = pl.read_parquet(sample[0] / "participants.parquet")
    tree = nx.DiGraph(
        [(s, p) for p, s in people.select("participant_id", "sponsor_id").iter_rows() if s is not None]
    )
    strongest = sample_page.tables["money"][2]
    chosen = [int(cells[0]) for _, cells in strongest[1:]]
    # Greedy reference: by branch profit (ties by id), below the roots (a root's branch is the whole
    # network), skip a branch inside or above one already chosen.
    expected: list[int] = []
    below_roots = people.filter(pl.col("sponsor_id").is_not_null())
    for pid in below_roots.sort(["branch_profit", "participant_id"], descending=[True, False])[
        "participant_id"
    ]:
        related = nx.ancestors(tree, pid) | nx.descendants(tree, pid) if pid in tree else set()
        if not related & set(expected):
            expected.append(pid)
        if len(expected) == 10:
            break
    assert chosen == expected and len(chosen) == 10
    for a in chosen:
        assert not (nx.descendants(tree, a) if a in tree else set()) & set(chosen)  # none inside another


def test_income_disclosure_is_written_and_shown(
    sample: tuple[Path, str, dict[str, Any]], sample_page: Page
) -> None:
    out, text, _ = sample
    table = pl.read_parquet(out / "income_disclosure.parquet")
    people = pl.read_parquet(out / "participants.parquet")
    distributors = people.filter(pl.col("role") != "customer")
    everyone = table.row(0, named=True)
    assert everyone["by"] == "all" and everyone["participants"] == distributors.height == 1400
    incomes = sorted(distributors["distributor_income"])
    middle = (incomes[699] + incomes[700]) / 2  # an even count: the mean of the two middle incomes
    assert everyone["income_median"] == middle.quantize(Decimal("0.01"))
    assert f"the median distributor earned {money(str(everyone['income_median']))} EUR" in text
    brackets = table.filter(pl.col("by") == "income_bracket")
    assert brackets["participants"].sum() == distributors.height
    shown = [cells for _, cells in sample_page.tables["disclosure"][1][1:]]  # by gross income
    assert [cells[0] for cells in shown] == brackets["group"].to_list()
    assert [cells[1] for cells in shown] == [f"{n:,}" for n in brackets["participants"]]
    assert "600 customers are not" in text and "not annualised" in text
    assert "No rank is known" in text


def test_network_breakdowns_add_up(sample: tuple[Path, str, dict[str, Any]], sample_page: Page) -> None:
    run = sample[2]
    tables = sample_page.tables["network"]
    assert [t[0][1][0] for t in tables] == ["depth", "join cohort"]  # no rank column in the sample
    for table in tables:
        people = sum(int(cells[1].replace(",", "")) for _, cells in table[1:])
        profit = sum(Decimal(cells[5].replace(",", "")) for _, cells in table[1:])
        assert people == run["network"]["participants"] and profit == Decimal(run["totals"]["profit"])
    cohorts = [cells[0] for _, cells in tables[1][1:]]
    assert cohorts == sorted(cohorts) and cohorts[0] == "2022"


def test_same_inputs_give_the_same_bytes(sample: tuple[Path, str, dict[str, Any]]) -> None:
    again = mlmroi.score(SAMPLE, mlmroi.load_config(dataset=SAMPLE))
    assert render(again).encode("utf-8") == sample[1].encode("utf-8")
    # Timings never reach the report.
    assert render(dataclasses.replace(again, timings={"tables": 99.0})) == sample[1]


def test_data_text_is_escaped(tmp_path: Path) -> None:
    bad = "<script>alert(1)</script>"
    people = f"""
participant_id,sponsor_id,joined_on,region
{bad},,2024-01-01,<b>north</b>
B,{bad},2024-01-01,south & 'east'
C,B,2024-01-01,south
"""
    orders = f"""
participant_id,ordered_on,amount
{bad},2025-01-05,150
B,2025-01-06,120
C,2025-02-07,200
C,2025-03-07,100
"""
    folder = write_dataset(
        tmp_path / "ds <i>&", people, orders, config=DEFAULT_CONFIG + '[segments]\nby = ["region"]\n'
    )
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    text = render(result)
    assert "<script" not in text.lower() and "<b>north" not in text and "<i>&" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the id, in the participant tables
    assert "&lt;b&gt;north&lt;/b&gt;" in text and "south &amp; &#39;east&#39;" in text  # segment values
    assert "ds &lt;i&gt;&amp;" in text  # the dataset path
    page = Page(text)
    assert page.unbalanced == [] and page.stack == []
    assert bad in [cells[0] for table in page.tables["money"] for _, cells in table[1:]]


def test_sections_without_data_are_left_out(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "plain", ORACLE_PARTICIPANTS, ORACLE_ORDERS)  # no costs, no rejects
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    text = render(result)
    assert "audit" not in section_ids(text) and "Top reject reasons" not in text
    assert "acquisition costs" not in text and "retention costs" not in text
    assert "the only costs are commissions" in text
    assert "costs (commissions)" in text

    no_plan = write_dataset(tmp_path / "noplan", ORACLE_PARTICIPANTS, ORACLE_ORDERS, config="")
    text = render(mlmroi.score(no_plan, mlmroi.load_config(dataset=no_plan)))
    assert "no components: nothing is paid" in text and "Compensation plan" not in text
    assert "warning: no compensation plan" in text.lower()


def test_audit_and_rejects_appear_when_the_run_has_them(tmp_path: Path) -> None:
    config = UNILEVEL.format(compression="dynamic") + "[audit]\ntolerance = 0.50\n"
    folder = write_dataset(tmp_path, ORACLE_PARTICIPANTS, ORACLE_ORDERS, config=config)
    (folder / "commissions.csv").write_text(
        "participant_id,paid_on,amount,component\n"
        "D,2025-01-31,10.00,unilevel\nB,2025-01-31,29.80,unilevel\nA,2025-01-31,1030.00,unilevel\n"
        "E,2025-01-15,,unilevel\nZ,2025-01-15,5,unilevel\nY,2025-01-16,5,unilevel\n"
    )
    result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
    text = render(result)
    assert section_ids(text) == [
        "totals",
        "periods",
        "money",
        "segments",
        "network",
        "disclosure",
        "value",
        "audit",
        "rows",
    ]
    page = Page(text)
    audit = {cells[0]: cells[1] for _, cells in page.table("audit")[1:]}
    figures = run_json(result)["totals"]["audit"]
    assert audit["paid (the commissions table)"] == money(figures["paid"]) == "1,069.80"
    assert audit["computed by the plan"] == money(figures["computed"])
    assert audit["difference (paid − computed)"] == money(figures["difference"])
    assert audit["participants with a difference above the tolerance"] == str(figures["participants_flagged"])
    reasons = page.table("rows", 1)
    assert reasons[0][1] == ["table", "reason", "rows"]
    counts = (
        result.rejects.group_by("table", "reason")
        .len()
        .sort(["len", "table", "reason"], descending=[True, False, False])
    )
    assert [cells for _, cells in reasons[1:]] == [
        [t, r, f"{n:,}"] for t, r, n in counts.head(10).iter_rows()
    ]
    shown = {cells[0]: cells[1] for _, cells in page.table("totals")[1:]}
    assert shown["commissions paid"] == money(run_json(result)["totals"]["commissions"])
    assert "plan-computed: unilevel" in shown


def test_ranked_breaks_ties_by_id_and_skips_undefined_roi() -> None:
    frame = pl.DataFrame(
        {
            "participant_id": ["d", "b", "a", "c", "e", "f"],
            "branch_profit": pl.Series(["5.00", "7.00", "5.00", "5.00", "1.00", "-2.00"]).cast(
                pl.Decimal(18, 2)
            ),
            "roi_pct": [None, -10.0, 3.0, -10.0, float("nan"), 0.0],
        }
    )
    top = ranked(frame, "branch_profit", ["participant_id"], lowest=False, k=3)
    assert top["participant_id"].to_list() == ["b", "a", "c"]
    low = ranked(frame, "roi_pct", ["participant_id"], lowest=True, k=10)
    assert low["participant_id"].to_list() == ["b", "c", "f", "a"]  # null and NaN ROI are not ranked
