"""Messy input never crashes: every row is used or rejected, or the run stops with a one-line MlmRoiError."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

import mlmroi
from mlmroi.errors import MlmRoiError
from tests.runjson import run_json

IDS = st.sampled_from(["1", "2", "3", "4", "5", "x", "", " 3 ", "-1", "1.5"])
DATES = st.sampled_from(
    ["2025-01-05", "2025-02-30", "2025-03-01T10:00", "", "05/01/2025", "2024-12-31", "junk"]
)
AMOUNTS = st.sampled_from(["10", "-5.25", "0", "", "abc", "1e3", "NaN", "inf", "12.345"])
ROLES = st.sampled_from(["distributor", "customer", "", "Customer", "boss"])
CATEGORIES = st.sampled_from(["training", "advertising", "support", "", "fireworks"])
PAYERS = st.sampled_from(["company", "participant", "", "bank"])


def table(header: list[str], rows: list[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@given(
    people=st.lists(st.tuples(IDS, IDS, DATES, ROLES), min_size=1, max_size=8),
    orders=st.lists(st.tuples(IDS, DATES, AMOUNTS, AMOUNTS), max_size=10),
    costs=st.lists(st.tuples(IDS, DATES, CATEGORIES, AMOUNTS, PAYERS), max_size=6),
)
def test_messy_rows_are_used_or_rejected(people, orders, costs) -> None:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "participants.csv").write_text(
            table(["participant_id", "sponsor_id", "joined_on", "role"], [list(r) for r in people])
        )
        (folder / "orders.csv").write_text(
            table(["participant_id", "ordered_on", "amount", "volume"], [list(r) for r in orders])
        )
        (folder / "costs.csv").write_text(
            table(["participant_id", "incurred_on", "category", "amount", "payer"], [list(r) for r in costs])
        )
        (folder / "mlmroi.toml").write_text(
            '[window]\nstart = 2025-01-01\nend = 2025-03-31\n[[plan.components]]\ntype = "unilevel"\n'
            "levels = [0.1, 0.05]\nactive_min_pv = 1\n"
        )
        try:
            result = mlmroi.score(folder, mlmroi.load_config(dataset=folder))
        except MlmRoiError as exc:
            assert exc.problems and all(line and "\n" not in line for line in exc.problems)
            return
        for name, rows in run_json(result)["rows"].items():
            assert rows["in"] == rows["used"] + rows["rejected"], name
        assert result.participants.height == run_json(result)["rows"]["participants"]["used"]
        assert result.participants["commissions"].sum() == result.commissions["amount"].sum()
        rejected = result.rejects
        assert rejected["reason"].null_count() == 0
        assert rejected.height == 0 or rejected["row"].min() >= 1
