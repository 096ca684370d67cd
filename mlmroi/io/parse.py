"""Cell parsing: each typed column becomes values plus a mask of the rows whose cell is bad.

Every parser takes the raw column (text from CSV, typed from Parquet) and returns ``(values, bad)``. A column
in which no non-empty cell parses is a structural problem (the whole column has the wrong type) and raises
:class:`~mlmroi.errors.InputError`; single bad cells become rejects.
"""

from __future__ import annotations

import polars as pl

from mlmroi.errors import InputError

_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def _text(column: pl.Series) -> pl.Series:
    text = column.cast(pl.String).str.strip_chars()
    return text.set(text == "", None) if text.len() else text


def _whole_column_check(label: str, name: str, raw: pl.Series, values: pl.Series, kind: str) -> None:
    present = raw.is_not_null()
    if raw.dtype == pl.String:
        present = present & (raw.str.strip_chars() != "")
    if int(present.sum()) > 0 and int((present & values.is_not_null()).sum()) == 0:
        raise InputError(
            f"{label}: column {name!r} is not {kind} (no value parses; first: {raw.filter(present)[0]!r})"
        )


def parse_date(label: str, raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Dates (``YYYY-MM-DD``, a time part allowed and dropped); Parquet Date/Datetime pass through."""
    if raw.dtype == pl.Date:
        values = raw
    elif isinstance(raw.dtype, pl.Datetime):
        values = raw.dt.date()
    elif raw.dtype == pl.String or raw.dtype == pl.Null:
        text = _text(raw)
        well_formed = text.str.contains(_DATE_TEXT).fill_null(False)
        parsed = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
        values = parsed.set(~well_formed, None) if parsed.len() else parsed
    else:
        raise InputError(f"{label}: column {raw.name!r} has type {raw.dtype}, expected a date")
    values = values.alias(raw.name)
    _whole_column_check(label, raw.name, raw, values, "a date")
    return values, raw.is_not_null() & values.is_null()


def parse_number(label: str, raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Finite numbers as Float64; text like ``12.50`` or ``-3``; NaN and infinities are bad."""
    if raw.dtype.is_numeric():
        values = raw.cast(pl.Float64)
    elif raw.dtype == pl.String or raw.dtype == pl.Null:
        values = _text(raw).cast(pl.Float64, strict=False)
    else:
        raise InputError(f"{label}: column {raw.name!r} has type {raw.dtype}, expected a number")
    not_finite = ~values.is_finite().fill_null(True)
    if bool(not_finite.any()):
        values = values.set(not_finite, None)
    values = values.alias(raw.name)
    _whole_column_check(label, raw.name, raw, values, "numeric")
    return values, raw.is_not_null() & values.is_null()


def parse_bool(label: str, raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Booleans; text true/false, yes/no, 1/0 (any case)."""
    if raw.dtype == pl.Boolean:
        values = raw
    elif raw.dtype.is_integer():
        values = pl.Series(raw.name, [None] * raw.len(), dtype=pl.Boolean).set(
            raw.is_in([0, 1]).fill_null(False), raw == 1
        )
    elif raw.dtype == pl.String or raw.dtype == pl.Null:
        lower = _text(raw).str.to_lowercase()
        values = (
            pl.DataFrame({"v": lower})
            .select(
                pl.when(pl.col("v").is_in(_TRUE))
                .then(True)
                .when(pl.col("v").is_in(_FALSE))
                .then(False)
                .otherwise(None)
            )
            .to_series()
        )
    else:
        raise InputError(f"{label}: column {raw.name!r} has type {raw.dtype}, expected true/false")
    values = values.alias(raw.name)
    _whole_column_check(label, raw.name, raw, values, "true/false")
    return values, raw.is_not_null() & values.is_null()


def parse_choice(raw: pl.Series, choices: tuple[str, ...], default: str) -> tuple[pl.Series, pl.Series]:
    """One of ``choices`` (any case); empty means ``default``."""
    if (
        raw.dtype == pl.String and raw.null_count() == 0 and bool(raw.is_in(list(choices)).all())
    ):  # the usual case, no text work
        return raw, pl.Series([False]).new_from_index(0, raw.len())
    text = _text(raw.cast(pl.String)).str.to_lowercase()
    values = text.fill_null(default)
    bad = ~values.is_in(list(choices))
    return values.set(bad, None) if values.len() else values, bad


def parse_text(raw: pl.Series) -> pl.Series:
    """Text, stripped; empty means null."""
    return _text(raw)


_LEGS = {"l": 0, "left": 0, "r": 1, "right": 1}
# The spellings taken as they are (no strip, no lowercasing): the common case reads at hash speed.
_LEGS_EXACT = {form: leg for word, leg in _LEGS.items() for form in (word, word.upper(), word.capitalize())}


def parse_leg(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """A placement leg as Int8 (0 = L, 1 = R; null when missing or bad) and which rows gave one.

    L/R/left/right in any case, surrounding blanks ignored; an empty text is missing.
    """
    text = raw.cast(pl.String)
    leg = text.replace_strict(_LEGS_EXACT, default=None, return_dtype=pl.Int8)
    if not bool((leg.is_null() & text.is_not_null()).any()):
        return leg, text.is_not_null()
    text = _text(text).str.to_lowercase()
    return text.replace_strict(_LEGS, default=None, return_dtype=pl.Int8), text.is_not_null()


def id_kind(raw: pl.Series) -> pl.DataType:
    """Int64 when every id is an integer (fast lookups), else String."""
    if raw.dtype.is_integer():
        return pl.Int64()
    if raw.dtype == pl.String:
        text = _text(raw).drop_nulls()
        if text.len() and bool(text.str.contains(r"^-?\d{1,18}$").all()):
            return pl.Int64()
    return pl.String()


def parse_id(raw: pl.Series, kind: pl.DataType) -> tuple[pl.Series, pl.Series]:
    """Ids in the dataset's id type; a value that cannot be of that type is returned as null + bad."""
    if kind == pl.Int64:
        values = (
            raw.cast(pl.Int64, strict=False)
            if raw.dtype.is_integer()
            else _text(raw).cast(pl.Int64, strict=False)
        )
    else:
        values = _text(raw.cast(pl.String))
    present = raw.is_not_null() if raw.dtype.is_integer() else _text(raw.cast(pl.String)).is_not_null()
    return values.alias(raw.name), present & values.is_null()
