"""Cell parsing: each typed column becomes values plus a mask of the rows whose cell is bad.

Every parser takes the raw column (text from CSV, typed from Parquet) and returns ``(values, bad)``. A column
in which no non-empty cell parses is a structural problem (the whole column has the wrong type) and raises
:class:`~mlmroi.errors.InputError`; single bad cells become rejects.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import polars as pl

from mlmroi.errors import InputError

_TIME_TEXT = r"([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d+)?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?"
_DATE_TEXT = rf"^\d{{4}}-\d{{2}}-\d{{2}}([ T]{_TIME_TEXT})?$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def _text(column: pl.Series) -> pl.Series:
    text = column.cast(pl.String).str.strip_chars()
    return text.set(text == "", None) if text.len() else text


def _fallback(raw: pl.Series, values: pl.Series, slow: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``values`` from a fast parse of the text as written, with the cells it could not read (blanks
    around them, other spellings, bad cells) parsed by ``slow``: the text work is done only where needed."""
    failed = values.is_null() & raw.is_not_null()
    if not bool(failed.any()):
        return values
    where = failed.arg_true()
    return values.scatter(where, slow(raw.gather(where)))


def _whole_column_check(label: str, name: str, raw: pl.Series, values: pl.Series, kind: str) -> None:
    if values.null_count() < values.len():  # something parsed
        return
    present = raw.is_not_null()
    if raw.dtype == pl.String:
        present = present & (raw.str.strip_chars() != "")
    if int(present.sum()) > 0 and int((present & values.is_not_null()).sum()) == 0:
        raise InputError(
            f"{label}: column {name!r} is not {kind} (no value parses; first: {raw.filter(present)[0]!r})"
        )


def parse_date(label: str, raw: pl.Series, date_format: str | None = None) -> tuple[pl.Series, pl.Series]:
    """Dates: ``YYYY-MM-DD`` with an optional time part (``T`` or a space, ``HH:MM[:SS[.fff]]``, then ``Z``
    or an offset ``±HH:MM``; checked and dropped: the date is the one written), or exactly ``date_format``
    (strftime) when given; Parquet Date/Datetime pass through. Impossible dates (``2024-02-30``) and times
    (``T99:99``) are bad."""
    if raw.dtype == pl.Date:
        values = raw
    elif isinstance(raw.dtype, pl.Datetime):
        values = raw.dt.date()
    elif raw.dtype == pl.String or raw.dtype == pl.Null:
        text = raw.cast(pl.String)
        fmt = date_format or "%Y-%m-%d"
        values = _fallback(
            text, text.str.to_date(fmt, strict=False, exact=True), partial(_slow_date, fmt=fmt)
        )
    else:
        raise InputError(f"{label}: column {raw.name!r} has type {raw.dtype}, expected a date")
    values = values.alias(raw.name)
    _whole_column_check(label, raw.name, raw, values, "a date")
    return values, raw.is_not_null() & values.is_null()


def _slow_date(raw: pl.Series, fmt: str) -> pl.Series:
    text = _text(raw)
    if fmt != "%Y-%m-%d":
        return text.str.to_date(fmt, strict=False, exact=True)
    well_formed = text.str.contains(_DATE_TEXT).fill_null(False)
    parsed = text.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False)
    return parsed.set(~well_formed, None) if parsed.len() else parsed


def parse_number(label: str, raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Finite numbers as Float64; text like ``12.50`` or ``-3``; NaN and infinities are bad."""
    if raw.dtype.is_numeric():
        values = raw.cast(pl.Float64)
    elif raw.dtype == pl.String or raw.dtype == pl.Null:
        text = raw.cast(pl.String)
        values = _fallback(
            text, text.cast(pl.Float64, strict=False), lambda t: _text(t).cast(pl.Float64, strict=False)
        )
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
    elif raw.dtype.is_integer():  # 1/0 (MySQL's BOOLEAN is TINYINT); any other number is bad
        values = pl.select(pl.when(raw.is_in([0, 1])).then(raw == 1)).to_series()
    elif raw.dtype == pl.String or raw.dtype == pl.Null:
        text = raw.cast(pl.String)
        fast = text.replace_strict({"true": True, "false": False}, default=None, return_dtype=pl.Boolean)
        values = _fallback(text, fast, _slow_bool)
    else:
        raise InputError(f"{label}: column {raw.name!r} has type {raw.dtype}, expected true/false")
    values = values.alias(raw.name)
    _whole_column_check(label, raw.name, raw, values, "true/false")
    return values, raw.is_not_null() & values.is_null()


def _slow_bool(raw: pl.Series) -> pl.Series:
    lower = _text(raw).str.to_lowercase()
    truth = pl.DataFrame({"v": lower}).select(
        pl.when(pl.col("v").is_in(_TRUE))
        .then(True)
        .when(pl.col("v").is_in(_FALSE))
        .then(False)
        .otherwise(None)
    )
    return truth.to_series().cast(pl.Boolean)


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


_PLAIN_INTEGER = r"^(0|-?[1-9][0-9]*)$"  # how an integer is written when nothing else was meant
_INT64_LIMIT = 2.0**63  # floats at or beyond it are not int64 values


def _integral(values: pl.Series) -> pl.Series:
    """Per float: finite, a whole number and within int64 (null stays null; NaN counts as missing)."""
    return values.is_finite() & (values == values.floor()) & (values.abs() < _INT64_LIMIT)


def id_kind(raw: pl.Series) -> pl.DataType:
    """Int64 when every id is an integer as written, else String: an id is what was written.

    Text ids are integers only when every one is written plainly (``7``, ``-12``, no leading zeros, signs or
    decimals, within int64): ``007`` makes the column text, so ``007`` and ``7`` stay two people and are
    written out as they came in. Integer columns are integers (UInt64 beyond int64 become text); float
    columns (pandas writes an id column with a missing value as float64) are integers when every value is
    a whole number, NaN meaning missing.
    """
    if raw.dtype.is_integer():
        if raw.dtype == pl.UInt64 and bool((raw > np.iinfo(np.int64).max).fill_null(False).any()):
            return pl.String()
        return pl.Int64()
    if raw.dtype.is_float():
        present = raw.fill_nan(None).drop_nulls()
        return pl.Int64() if bool(_integral(present).all()) else pl.String()
    if raw.dtype == pl.String:
        text = _text(raw).drop_nulls()
        plain = text.len() > 0 and bool(text.str.contains(_PLAIN_INTEGER).all())
        if plain and text.cast(pl.Int64, strict=False).null_count() == 0:
            return pl.Int64()
    return pl.String()


def parse_id(raw: pl.Series, kind: pl.DataType) -> tuple[pl.Series, pl.Series]:
    """Ids in the dataset's id type (:func:`id_kind`); a present value that cannot be an id of that type
    (``007`` or ``1.5`` among integer ids) is returned as null + bad, so it matches no one."""
    if raw.dtype.is_float():  # whole numbers are integers; NaN is missing
        floats = raw.fill_nan(None)
        whole = _integral(floats).fill_null(False)
        values = floats.set(~whole, None).cast(pl.Int64) if floats.len() else floats.cast(pl.Int64)
        values = values if kind == pl.Int64 else values.cast(pl.String)
        return values.alias(raw.name), floats.is_not_null() & ~whole
    if raw.dtype.is_integer():
        values = raw.cast(pl.Int64, strict=False) if kind == pl.Int64 else raw.cast(pl.String)
        return values.alias(raw.name), raw.is_not_null() & values.is_null()
    if kind == pl.Int64:
        text = raw.cast(pl.String)
        values = _fallback(text, plain_integers(text), lambda t: plain_integers(_text(t)))
        bad = values.is_null() & text.is_not_null()
        if bool(bad.any()):  # a blank cell is missing, not bad
            where = bad.arg_true()
            bad = bad.scatter(where, _text(text.gather(where)).is_not_null())
        return values.alias(raw.name), bad
    values = _text(raw.cast(pl.String))
    return values.alias(raw.name), pl.Series([False]).new_from_index(0, values.len())


def plain_integers(text: pl.Series) -> pl.Series:
    """Text that is a plain integer (:data:`_PLAIN_INTEGER`) as Int64, anything else null. Casting reads
    ``007`` and ``+7`` too: those are found by their first characters rather than a regex over every cell."""
    values = text.cast(pl.Int64, strict=False)
    padded = (text.str.starts_with("0") & (text.str.len_bytes() > 1)) | text.str.starts_with("+")
    padded = padded | text.str.starts_with("-0")
    return values.set(padded.fill_null(False), None) if bool(padded.any()) else values
