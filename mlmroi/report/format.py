"""How the report and the command line write numbers: exact money with thousands separators, fixed-point
figures that never read "-0.0", and a dash for a figure that does not exist."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

DASH = "—"

# C0 and C1 controls, DEL, the line/paragraph separators and the bidirectional overrides and isolates
# (which can make text display in another order than it is stored).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\x1b": "\\x1b"}


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def shown(value: object) -> str:
    """``value`` as text with every control character written as an escape (``\\x1b``, ``\\n``): how data
    text reaches a terminal or a chart, where a control character would act instead of show."""
    return _CONTROL.sub(_escaped, "" if value is None else str(value))


def dec(value: object) -> Decimal:
    """An exact decimal from a Decimal, an int or a money string (never from a float's binary value)."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def money(value: object) -> str:
    """Money with thousands separators and its exact digits ("1234567.80" -> "1,234,567.80")."""
    if value is None:
        return DASH
    return format(dec(value), ",f")


def integer(value: object) -> str:
    if value is None:
        return DASH
    return f"{int(str(value)):,}"


def fixed(value: float | int | None, digits: int) -> str:
    """A fixed-point number with thousands separators; never "-0.0"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    text = f"{value:,.{digits}f}"
    if text.startswith("-") and not text.strip("-0.,"):
        text = text[1:]
    return text


def pct(share: float | None, digits: int = 1) -> str:
    """A share (0.1234) as a percentage ("12.3 %")."""
    return DASH if share is None else fixed(share * 100, digits) + " %"


def share_pct(part: Decimal, whole: Decimal) -> str:
    """``part / whole`` in %, exact to two decimals, half-to-even."""
    if whole <= 0:
        return DASH
    return format((part * 100 / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), ",f")


def cell(value: object, kind: str) -> str:
    """A table cell's text by the column's kind: money, int, pct (a share), float (one decimal) or text."""
    if value is None:
        return DASH
    if kind == "money":
        return money(value)
    if kind == "int":
        return integer(value)
    if kind == "pct":
        return pct(float(str(value)))
    if kind == "float":
        return fixed(float(str(value)), 1)
    return str(value)


def settings(values: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    """A config mapping in one line: ``levels 0.1, 0.05; active_min_pv 50; compression dynamic``."""
    skipped = set(skip)
    parts = []
    for key, value in values.items():
        if key in skipped or value is None or value == [] or value == {}:
            continue
        parts.append(f"{key} {_setting(value)}")
    return "; ".join(parts)


def _setting(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else format(value, "g")
    if isinstance(value, Mapping):
        return "(" + ", ".join(f"{k} {_setting(v)}" for k, v in value.items() if v is not None) + ")"
    if isinstance(value, list | tuple):
        return ", ".join(_setting(v) for v in value)
    return str(value)
