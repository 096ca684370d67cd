"""``mlmroi init``: a commented mlmroi.toml for a dataset folder, guessed from the column names of its files.

The tables are found as a run finds them (:func:`mlmroi.io.read.find_table`) and only their headers are
read: a CSV file's first lines (encoding and separator detected as a run detects them), a Parquet file's
schema. A column named differently from the contract (docs/data-contract.md) is mapped in
``[columns.TABLE]`` when exactly one column has a name known for it (``member_id`` → ``participant_id``,
``order_date`` → ``ordered_on``, ``total`` → ``amount``, …) and that column is no other column's
candidate; otherwise the config holds a ``# TODO`` line naming the column needed and the columns found.
Everything else is a default, shown with what each section does, and the compensation plan an example to
uncomment (a run without one warns).

:func:`starter` is pure (a folder in, the text out); :func:`write_starter` writes it, never over a file.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import pyarrow as pa
import pyarrow.parquet as pq

from mlmroi.config import CONFIG_FILE, TABLES, Config, WindowConfig
from mlmroi.destinations import claim_file, os_reason
from mlmroi.errors import InputError, OutputError
from mlmroi.io import csv
from mlmroi.io.read import MANDATORY_TABLES, REQUIRED, find_table, first_line

#: names a participant reference goes by (besides ``participant_id`` in any case or spacing)
_PERSON = (
    "participant", "member", "member_id", "member_no", "member_number", "distributor", "distributor_id",
    "distributor_no", "consultant_id", "associate_id", "rep_id", "partner_id", "customer_id", "customer_no",
    "client_id", "user_id", "account_id",
)  # fmt: skip
#: per table, each contract column (required first, as in REQUIRED) and the other names it is known by.
#: Columns whose values follow a fixed vocabulary the file may not share (``role``, ``payer``) are not
#: guessed; nor is a name that means different things in different companies (``parent_id``: sponsor or
#: binary placement).
SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "participants": {
        "participant_id": (*_PERSON, "id"),
        "sponsor_id": (
            "sponsor", "sponsor_no", "sponsor_number", "sponsor_member_id", "upline", "upline_id",
            "upline_no", "enroller", "enroller_id", "enroller_no", "recruiter", "recruiter_id", "referrer",
            "referrer_id", "referred_by", "sponsored_by",
        ),
        "joined_on": (
            "joined", "join_date", "joined_date", "joined_at", "date_joined", "signup_date", "signup_on",
            "signed_up_on", "sign_up_date", "enrolled_on", "enrollment_date", "enrolment_date",
            "registered_on", "registered_at", "registration_date", "start_date", "created_at", "created_on",
        ),
        "role": (),
        "left_on": (
            "left", "left_date", "left_at", "date_left", "terminated_on", "termination_date", "cancelled_on",
            "canceled_on", "cancellation_date", "churned_on", "exit_date", "end_date",
        ),
        "placement_id": (
            "placement", "placement_parent", "placement_parent_id", "placement_upline", "placement_upline_id",
            "binary_parent", "binary_parent_id", "binary_upline", "binary_upline_id",
        ),
        "placement_leg": ("leg", "side", "placement_side", "binary_leg", "binary_side"),
    },
    "orders": {
        "participant_id": (*_PERSON, "buyer_id", "purchaser_id"),
        "ordered_on": (
            "date", "order_date", "ordered", "ordered_at", "order_day", "order_time", "order_datetime",
            "order_timestamp", "purchase_date", "purchased_on", "purchased_at", "transaction_date",
            "sale_date", "sales_date", "invoice_date", "created_at", "created_on",
        ),
        "amount": (
            "total", "order_total", "total_amount", "order_amount", "amount_total", "sale_amount",
            "sales_amount", "net_amount", "net_total", "grand_total", "revenue", "order_value", "sales",
        ),
        "order_id": (
            "id", "order", "order_no", "order_number", "invoice_id", "invoice_no", "invoice_number",
            "transaction_id",
        ),
        "volume": (
            "pv", "bv", "cv", "qv", "points", "personal_volume", "business_volume", "commissionable_volume",
            "volume_points", "order_volume",
        ),
        "cost": (
            "cogs", "cost_of_goods", "cost_of_goods_sold", "product_cost", "order_cost", "cost_amount",
            "total_cost",
        ),
        "retail": ("is_retail", "retail_order", "retail_sale", "retail_flag"),
    },
    "costs": {
        "participant_id": _PERSON,
        "incurred_on": (
            "date", "cost_date", "incurred", "incurred_at", "spent_on", "expense_date", "booked_on",
            "booking_date", "posted_on", "posting_date", "transaction_date",
        ),
        "category": ("cost_category", "cost_type", "type", "kind", "expense_category", "expense_type"),
        "amount": (
            "total", "cost", "costs", "cost_amount", "spend", "spent", "expense", "expense_amount",
            "total_amount",
        ),
        "payer": (),
        "filter_column": (),
        "filter_value": (),
    },
    "commissions": {
        "participant_id": (*_PERSON, "payee", "payee_id", "earner_id", "recipient_id"),
        "paid_on": (
            "date", "paid_at", "paid_date", "pay_date", "payment_date", "payout_date", "commission_date",
        ),
        "amount": (
            "total", "commission", "commissions", "commission_amount", "payout", "payout_amount", "paid",
            "paid_amount", "total_amount",
        ),
        "component": ("plan_component", "commission_type", "bonus_type", "bonus", "type", "kind"),
    },
    "events": {
        "participant_id": _PERSON,
        "occurred_on": (
            "date", "event_date", "occurred_at", "happened_on", "activity_date", "created_at", "created_on",
            "timestamp",
        ),
        "type": (
            "event_type", "event", "kind", "activity", "activity_type", "interaction", "interaction_type",
        ),
        "value": ("score", "rating", "event_value", "survey_score", "nps_score"),
    },
    "leads": {
        "lead_id": ("id", "lead", "lead_no", "lead_number", "prospect_id", "contact_id"),
        "brand": ("brand_score", "brand_awareness", "brand_rating", "awareness"),
        "attractiveness": ("attractiveness_score", "attractive", "appeal"),
        "closeness": ("closeness_score", "close", "relationship", "proximity"),
    },
}  # fmt: skip
#: the example plan, commented in the config (the shape of data/plans/unilevel.toml)
EXAMPLE_PLAN = (
    ("[[plan.components]]", ""),
    ('type = "unilevel"', "pays a share of each downline member's volume, level by level"),
    ("levels = [0.10, 0.05, 0.03, 0.02, 0.01]", "rate for level 1 (frontline), 2, 3, …"),
    ("active_min_pv = 50", "a payee needs this personal volume in the period"),
    ('compression = "dynamic"', "none | dynamic: inactive uplines are skipped"),
)
_COMMENT_AT = 28  # the column where a line's comment starts
_LISTED = 12  # columns named in a TODO line, at most


@dataclass(frozen=True)
class Table:
    """One table file of the dataset: its name, file, column names, and how its CSV text is written."""

    name: str
    path: Path
    columns: tuple[str, ...]
    separator: str | None = None  # CSV: detected
    encoding: str | None = None  # CSV that is not UTF-8: the encoding its header was read with


@dataclass(frozen=True)
class Guess:
    """A table's ``[columns.TABLE]``: file column → contract column, and the questions left open."""

    mapping: dict[str, str] = field(default_factory=dict)
    todo: list[tuple[str, list[str], bool]] = field(default_factory=list)  # (column, candidates, required)


@dataclass(frozen=True)
class Starter:
    """The config text, and one line per question it leaves open (each a ``# TODO`` in the text)."""

    text: str
    todo: list[str]


def _compact(name: str) -> str:
    """A column name as compared: lower case, letters and digits only (``Member ID`` → ``memberid``)."""
    return re.sub(r"[^0-9a-z]+", "", name.strip().lower())


def guess_columns(table: str, columns: tuple[str, ...] | list[str]) -> Guess:
    """``[columns.TABLE]`` for a file with ``columns``: a contract column the file lacks is mapped from the
    one column known by one of its names (:data:`SYNONYMS`, or its own name in another case or spacing);
    several candidates, a candidate of two contract columns, or none for a required column is a question."""
    contract = SYNONYMS[table]
    wanted = [c for c in contract if c not in columns]
    candidates = {
        c: [
            col
            for col in columns
            if col not in contract and _compact(col) in {_compact(n) for n in (c, *contract[c])}
        ]
        for c in wanted
    }
    claims = Counter(col for found in candidates.values() for col in found)
    mapping, todo = {}, []
    for c in wanted:
        found = candidates[c]
        if len(found) == 1 and claims[found[0]] == 1:
            mapping[found[0]] = c
        elif found or c in REQUIRED[table]:
            todo.append((c, found, c in REQUIRED[table]))
    in_file_order = sorted(mapping.items(), key=lambda item: list(columns).index(item[0]))
    return Guess(dict(in_file_order), todo)


def read_tables(folder: str | Path) -> dict[str, Table]:
    """The dataset's tables as a run finds them, with their column names (headers only)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: dataset folder not found")
    found = {}
    for name in (*TABLES, "order_periods"):
        path = find_table(folder, name)
        if path is not None:
            found[name] = _csv_header(name, path) if path.suffix == ".csv" else _parquet_header(name, path)
    if "participants" not in found:
        raise InputError(
            f"{folder}: missing required table participants (participants.csv or participants.parquet)"
        )
    return found


def _parquet_header(name: str, path: Path) -> Table:
    try:
        return Table(name, path, tuple(pq.read_schema(path).names))
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(f"{path.name}: cannot read file ({first_line(exc)})") from None


def _csv_header(name: str, path: Path) -> Table:
    """A CSV file's column names from its first lines, detected as a run detects them; a file that is not
    UTF-8 is read as Windows-1252 (or Latin-1, which reads any byte), the encoding it will need."""
    label, encoding = path.name, None
    try:
        lines = csv.sample_lines(csv.decoded(path, label), label)  # UTF-8: the path, not read
    except InputError:  # not UTF-8: the two encodings a run can be told to use instead
        with path.open("rb") as handle:
            raw = handle.read(1 << 16)
        try:
            text, encoding = raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, encoding = raw.decode("latin-1"), "latin-1"
        lines = text.splitlines()[:21]
    except OSError as exc:
        raise InputError(f"{label}: cannot read file ({os_reason(exc)})") from None
    header = csv.header_of(lines, label)
    names, separator = header.names, header.separator
    return Table(name, path, tuple(names), separator, encoding)


def _quote(text: str) -> str:
    """``text`` as a TOML basic string (also safe inside a comment: no raw control character)."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _key(text: str) -> str:
    """``text`` as a TOML key: bare when it can be, quoted otherwise."""
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else _quote(text)


def _value(value: object) -> str:
    """A default as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _line(code: str, comment: str = "") -> str:
    """``code`` with ``comment`` beside it, comments aligned."""
    if not comment:
        return code
    return (
        f"{code.ljust(_COMMENT_AT - 1)} # {comment}"
        if len(code) < _COMMENT_AT - 1
        else f"{code}  # {comment}"
    )


def _names(columns: list[str] | tuple[str, ...]) -> str:
    shown = ", ".join(_quote(c) for c in columns[:_LISTED])
    return shown + (f", … ({len(columns) - _LISTED} more)" if len(columns) > _LISTED else "")


def _columns_section(table: Table, guess: Guess) -> tuple[list[str], list[str]]:
    """The ``[columns.TABLE]`` lines and the TODO questions."""
    file = table.path.name
    lines = [f"[columns.{table.name}]"]
    lines += [f"{_key(src)} = {_quote(dst)}" for src, dst in guess.mapping.items()]
    todo = []
    for column, found, required in guess.todo:
        what = f"{column} ({'required' if required else 'optional'})"
        if found:
            question = f"{file}: which column is {what}: {' or '.join(_quote(c) for c in found)}?"
            example = found[0]
        else:
            unmapped = [c for c in table.columns if c not in guess.mapping and c not in SYNONYMS[table.name]]
            question = (
                f"{file}: which column is {what}? None has a name mlmroi knows; found: {_names(unmapped)}"
            )
            example = "your_column"
        lines += [f"# TODO {question}", f"#   then: {_key(example)} = {_quote(column)}"]
        todo.append(question)
    return lines, todo


def starter(folder: str | Path) -> Starter:
    """A commented mlmroi.toml for the dataset in ``folder``, from its files' column names (module
    docstring); a missing folder or participants table is an InputError."""
    tables = read_tables(folder)
    defaults = Config()
    guesses = {name: guess_columns(name, table.columns) for name, table in tables.items() if name in TABLES}
    out, todo = _header(tables)
    out += ["", *_window_section(defaults, "order_periods" in tables, todo)]
    out += _input_section(list(tables.values()))
    orders = tables.get("orders")
    has_cost = orders is not None and "cost" in {guesses["orders"].mapping.get(c, c) for c in orders.columns}
    out += ["", *_money_section(defaults, has_cost, todo)]
    out += ["", "# [columns.TABLE] Columns your files name their own way: their name = mlmroi's name."]
    as_named = [
        tables[name].path.name for name, guess in guesses.items() if not (guess.mapping or guess.todo)
    ]
    if as_named:
        out.append(f"# {', '.join(as_named)}: every column mlmroi reads has its name; nothing to map.")
    for name, guess in guesses.items():
        if guess.mapping or guess.todo:
            lines, questions = _columns_section(tables[name], guess)
            out += lines
            todo += questions
    own = guesses["participants"].mapping
    attributes = [
        c for c in tables["participants"].columns if c not in SYNONYMS["participants"] and c not in own
    ]
    out += ["", *_plan_section(), "", *_costs_section(defaults, "costs" in tables)]
    out += ["", *_more_sections(defaults, attributes, "commissions" in tables)]
    return Starter("\n".join(out) + "\n", todo)


def _header(tables: dict[str, Table]) -> tuple[list[str], list[str]]:
    files = ", ".join(t.path.name for t in tables.values())
    absent = [n for n in TABLES if n not in tables and n not in MANDATORY_TABLES]
    out = [
        "# mlmroi.toml for the dataset in this folder, written by `mlmroi init` from the column names of",
        f"# {files}.",
        "# Lines starting with # are comments: remove the # to set a key; a key left unset takes the",
        "# default shown. Check the config with `mlmroi validate DIR`, then run `mlmroi score DIR`.",
        "# Every key: `mlmroi schema`. The tables and their columns: docs/data-contract.md.",
    ]
    if absent:
        out.append(f"# Optional tables not found (docs/data-contract.md): {', '.join(absent)}.")
    todo = []
    if "orders" not in tables and "order_periods" not in tables:
        todo.append("no orders table (orders.csv or orders.parquet): a run needs one")
        out.append(f"# TODO {todo[-1]}")
    return out, todo


def _window_section(defaults: Config, aggregated: bool, todo: list[str]) -> list[str]:
    periods = " | ".join(get_args(WindowConfig.model_fields["period"].annotation))
    out = [
        "# [window] The period analysed. end is the as-of date: the run describes the company on that",
        "# day, and who joined later is left out. Unset, start and end are the first and last order dates",
        "# of the orders file (the summary says so); far-off typos such as 1900-01-01 are refused.",
        "[window]",
        _line("# start = 2025-01-01", "inclusive"),
        _line("# end = 2025-12-31", "inclusive: the as-of date"),
        _line(f"period = {_value(defaults.window.period)}", f"commission and segment periods: {periods}"),
    ]
    if aggregated:
        todo.append("order_periods are made for one window: set [window] start and end to that of their SQL")
        out.append(f"# TODO {todo[-1]} (docs/sources.md)")
    return out


def _input_section(tables: list[Table]) -> list[str]:
    separators = {t.path.name: t.separator for t in tables if t.separator is not None}
    if not separators:
        return []
    by_separator: dict[str, list[str]] = {}
    for file, separator in separators.items():
        by_separator.setdefault(separator, []).append(file)
    found = "; ".join(f"{_quote(s)} in {', '.join(files)}" for s, files in by_separator.items())
    common = max(by_separator, key=lambda s: len(by_separator[s]))
    out = [
        "",
        "# [input] How the CSV files are written; each key unset is detected.",
        "[input]",
        _line(f"# separator = {_quote(common)}", f"detected: {found}"),
    ]
    foreign = [t for t in tables if t.encoding is not None]
    if foreign:
        encoding = "latin-1" if any(t.encoding == "latin-1" for t in foreign) else "cp1252"
        names = ", ".join(t.path.name for t in foreign)
        out.append(_line(f"encoding = {_quote(encoding)}", f"{names}: not UTF-8; latin-1 or cp1252?"))
    else:
        out.append(_line('# encoding = "utf-8"', "utf-8 | utf-16 | latin-1 | cp1252"))
    return [
        *out,
        _line('# decimal = ","', "decimal mark of amounts; unset: see docs/data-contract.md"),
        _line('# date_format = "%d.%m.%Y"', "strftime format of every date; unset: YYYY-MM-DD"),
    ]


def _money_section(defaults: Config, has_cost: bool, todo: list[str]) -> list[str]:
    money = defaults.money
    margin = (
        "orders without a cost: margin = amount × this (others: amount − cost)"
        if has_cost
        else "orders have no cost column: margin = amount × this"
    )
    todo.append(f"[money] currency: {money.currency} assumed; set it to the currency of your amounts")
    return [
        "# [money] The currency of every amount in the files, its minor unit, and the margin of orders.",
        "[money]",
        _line(f"currency = {_quote(money.currency)}", "TODO: the currency of your amounts (ISO code)"),
        _line(f"decimals = {money.decimals}", "digits of the minor unit (2 = cents)"),
        _line(f"margin_rate = {_value(money.margin_rate)}", margin),
    ]


def _plan_section() -> list[str]:
    return [
        "# [plan] The compensation plan whose commissions the run computes. None is set yet, so commissions",
        "# are 0 and the run warns. An example to adapt and uncomment (more, and every component: stairstep,",
        "# binary, matching, fast start, caps: docs/plans.md and the project's data/plans/):",
        *[_line(f"# {code}", comment) for code, comment in EXAMPLE_PLAN],
    ]


def _costs_section(defaults: Config, has_costs: bool) -> list[str]:
    costs = defaults.costs
    lines = [
        "# [costs] Which cost categories are acquisition and which retention (a category in neither list is",
        "# rejected), and how shared costs (no participant_id) are split among participants.",
    ]
    body = [
        _line(f"allocation = {_quote(costs.allocation)}", "split shared costs by count or by revenue"),
        "[costs.categories]",
        *[f"{kind} = {_value(names)}" for kind, names in costs.categories.items()],
    ]
    if has_costs:
        return [*lines, "[costs]", *body]
    return [*lines, "# (no costs table: these are the defaults)", "# [costs]", *[f"# {b}" for b in body]]


def _more_sections(defaults: Config, attributes: list[str], audited: bool) -> list[str]:
    d, v = defaults.distributor, defaults.value
    lines = [
        "# [distributor] The distributor's own view (income, expenses, net).",
        "# [distributor]",
        _line(f"# retail_markup = {_value(d.retail_markup)}", "retail profit = retail order amount × this"),
        _line(
            f"# own_purchases_are_expenses = {_value(d.own_purchases_are_expenses)}",
            "their own orders count as their expenses",
        ),
    ]
    if audited:
        lines += [
            "",
            "# [audit] The commissions table says what was paid: the run compares it with what it computes.",
            "[audit]",
            _line(f"tolerance = {_value(defaults.audit.tolerance)}", "flag |paid − computed| above this"),
        ]
    lines += [
        "",
        "# [value] Customer lifetime value (docs/value.md).",
        "# [value]",
        _line(f"# model = {_quote(v.model)}", "bgnbd | mbgnbd | none"),
        _line(f"# horizon_months = {v.horizon_months}", "clv_predicted looks this far ahead"),
        _line(f"# holdout_periods = {v.holdout_periods}", "last periods kept out to check the predictions"),
        "",
        "# [segments] ABC, XYZ, RFM, BCG, lifecycle and loyalty run by default (docs/segments.md); `by`",
        "# adds a segmentation per participants column.",
        "# [segments]",
    ]
    example = [c for c in attributes if c != "birth_date"][:2] + (
        ["age_band"] if "birth_date" in attributes else []
    )
    lines.append(
        _line(f"# by = {_value(example or ['region'])}", "participants columns (age_band from birth_date)")
    )
    return lines


def write_starter(folder: str | Path, out: str | Path | None = None) -> tuple[Path, list[str]]:
    """Write :func:`starter`'s config to ``out`` (default ``FOLDER/mlmroi.toml``), a new ``.toml`` file:
    an existing file is never replaced (OutputError naming it). Returns the path and the open questions."""
    made = starter(folder)
    target = Path(folder) / CONFIG_FILE if out is None else Path(out)
    label = str(target) if out is None else f"--out {out}"
    if target.exists() or target.is_symlink():
        advice = "remove it, or write elsewhere with --out FILE"
        raise OutputError(f"{label}: already exists; mlmroi init never overwrites a file: {advice}")
    if out is not None:
        target = claim_file(out, (".toml",), (), lambda _: False, "config", "--out")
    created = False
    try:
        with open(target, "x", encoding="utf-8") as handle:  # exclusive: fails if the file appeared since
            created = True
            handle.write(made.text)
    except FileExistsError:
        raise OutputError(f"{label}: already exists; mlmroi init never overwrites a file") from None
    except OSError as exc:
        if created:
            os.unlink(target)  # ours, half written
        raise OutputError(f"{label}: cannot write there ({os_reason(exc)})") from None
    return target, made.todo
