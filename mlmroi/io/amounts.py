"""Money cells to exact integer minor units (cents), never through a float.

:func:`parse_amount` reads an amount column (orders ``amount``/``volume``/``cost``, costs ``amount``,
commissions ``amount``) and returns ``(minor, bad, too_large)``: the value in integer minor units (Int64;
null where the cell is missing, bad or out of range), the cells that are present but not a number, and the
numbers whose magnitude is at or beyond the bound. Like every parser in :mod:`mlmroi.io.parse`, a column
with present cells of which none parses raises :class:`~mlmroi.errors.InputError`.

Rules
-----

**Text cells** (CSV; a String or all-null column): surrounding blanks are stripped and an empty cell is
missing (null, not bad). A number is an optional sign ``+``/``-``, then digits with an optional decimal
point and fraction (``12``, ``12.``, ``.5``, ``12.50``), then an optional exponent (``1e3``, ``2.5E-2``).
Only the ASCII digits 0-9 count as digits.

- Without ``decimal_comma`` the decimal mark is ``.`` and the integer part may be grouped by thousands
  with ``,`` (``1,234,567.89``): groups of exactly three digits after a first group of one to three digits
  that does not start with 0 (``0,123`` and ``12,34`` are bad: they are most likely decimal commas).
- With ``decimal_comma`` the decimal mark is ``,`` (``1234,56``) and the integer part may be grouped with
  ``.``, a space, a no-break space (U+00A0) or a narrow no-break space (U+202F, what French formatting
  writes), the same separator throughout one number (``1.234.567,89``, ``1 234 567,89``). ``.`` is then
  never a decimal mark: ``1.5`` is bad and ``1.234`` is 1234.

Anything else is bad: ``abc``, ``1.2.3``, ``nan``, ``inf``, ``1_000``, ``1,23`` without ``decimal_comma``.

**Rounding**: the written value is rounded to ``decimals`` places (0-6) half-to-even *on the written
digits*, exactly what ``Decimal(text).quantize(Decimal(10) ** -decimals, rounding=ROUND_HALF_EVEN)`` gives:
``1.015`` -> 102, ``0.545`` -> 54, ``-0.125`` -> -12, ``2.5`` with 0 decimals -> 2. No value passes through
a float, so no binary representation error can move a cent.

**Typed columns** (Parquet):

- integers: the value times ``10**decimals``, exactly (the bound is checked before multiplying; a UInt64
  beyond the int64 range is too large);
- decimals (``pl.Decimal(p, s)``, Parquet decimal128): exact, through the column's text form (``1.0150``),
  with the text rule above;
- floats (Float32/Float64, as pandas writes them): each value is read from its *shortest decimal
  representation*, the digits that round-trip, which for Float64 is what Python's ``repr(float)`` prints
  (for Float32 the shortest digits that round-trip as a float32, what numpy prints: ``0.1``, not
  ``0.10000000149011612``); then the text rule applies, so the float 1.015 gives 102 although the double
  nearest 1.015 is slightly below it. The decimal form comes from polars' own float-to-text cast, which
  prints exactly these shortest round-trip digits (checked in ``tests/test_amounts.py`` against ``repr``
  on random doubles); it is vectorised, with no Python work per value. NaN and infinities are bad;
- any other type (booleans, dates, text categories) is not a number: :class:`~mlmroi.errors.InputError`.

**Bound**: an amount's absolute value must be below ``10**MAX_AMOUNT_DIGITS`` currency units (10 trillion,
so at most 9,999,999,999,999.99 with 2 decimals), checked after rounding; at or beyond it the cell is
``too_large`` (:func:`out_of_range_reason` gives the reject reason). With 2 decimals every accepted value
is then below 10¹⁵ cents, far inside int64 (9.2 × 10¹⁸), so sums of millions of amounts can be checked for
overflow. With 6 decimals the bound is capped at 10¹⁸ minor units (int64 cannot hold 10¹⁹), that is below
10¹² currency units.

How it runs (polars expressions over whole columns, no Python work per cell): the usual cells
(``-?digits[.digits]``, with ``decimal_comma`` ``-?digits[,digits]``, at most five fraction digits, six
with 6 decimals) are checked with one regular expression and read with polars' text-to-decimal cast at that
fixed scale, which is exact because no cell it reads has more fraction digits (no rounding is left to
polars), then rounded half-to-even in int64 arithmetic. The other cells take slower paths on their own
rows. They are stripped, checked against the full grammar and their separators removed; ``+``, ``.5`` and
``12.`` are rewritten into the usual form, and a longer fraction is cut after ``decimals`` + 1 digits, the
last of which becomes a 6 when it is a 5 followed by any non-zero digit (the same rounding); then they
take the usual path. What is left (exponents, huge or heavily zero-padded numbers) is split into
significand and exponent with string operations and rounded from the first dropped digit, whether any
later dropped digit is non-zero and the parity of the last kept digit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import polars as pl

from mlmroi.errors import InputError
from mlmroi.io.parse import _whole_column_check
from mlmroi.money import MAX_AMOUNT, half_even_expr

MAX_AMOUNT_DIGITS = len(str(MAX_AMOUNT)) - 1  # money.MAX_AMOUNT = 10**13 currency units (10 trillion)
MAX_DECIMALS = 6
_INT64_DIGITS = 18  # 10**18 < 2**63: minor-unit values up to 18 digits fit int64
_EXPONENT_DIGITS = 9  # longer exponents are clamped (the value is then far out of range, or rounds to 0)

# [0-9], never \d: Rust's \d matches every Unicode digit.
_EXPONENT = r"(?:[eE][+-]?[0-9]+)?"
# The decimal-comma grouping separators: full stop, space, no-break space, narrow no-break space.
_COMMA_SEPARATORS = (r"\.", " ", "\u00a0", "\u202f")
_POINT_TEXT = r"^[+-]?(?:(?:[1-9][0-9]{0,2}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)" + _EXPONENT + "$"
_COMMA_TEXT = (
    r"^[+-]?(?:(?:"
    + "|".join(rf"[1-9][0-9]{{0,2}}(?:{sep}[0-9]{{3}})+" for sep in _COMMA_SEPARATORS)
    + r"|[0-9]+)(?:,[0-9]*)?|,[0-9]+)"
    + _EXPONENT
    + "$"
)
# The canonical form after separators are removed and the decimal mark is a point.
_CANONICAL = (
    r"^(?P<sign>[+-]?)(?P<whole>[0-9]*)(?:\.(?P<fraction>[0-9]*))?(?:[eE](?P<exponent>[+-]?[0-9]+))?$"
)


def _falses(length: int) -> pl.Series:
    return pl.Series([False]).new_from_index(0, length)


def _check_decimals(decimals: int) -> None:
    if not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"decimals must be 0..{MAX_DECIMALS}, not {decimals}")


def _limit_digits(decimals: int) -> int:
    return min(MAX_AMOUNT_DIGITS + decimals, _INT64_DIGITS)


def limit_minor(decimals: int) -> int:
    """The smallest magnitude in minor units that is too large (10**15 with 2 decimals)."""
    _check_decimals(decimals)
    return int(10 ** _limit_digits(decimals))


def out_of_range_reason(column: str, decimals: int) -> str:
    """The reject reason for a too-large amount: ``amount out of range (at most 9,999,999,999,999.99 …)``."""
    largest = Decimal(limit_minor(decimals) - 1).scaleb(-decimals)
    return f"{column} out of range (at most {largest:,.{decimals}f} in absolute value)"


def _common_scale(decimals: int) -> int:
    """Fraction digits read by the common path: |in-range value| × 10**scale < 10**18 fits int64."""
    return max(decimals, _INT64_DIGITS - (_limit_digits(decimals) - decimals))


def _common(text: pl.Series, decimals: int, mark: str = ".") -> tuple[pl.Series, pl.Series, pl.Series]:
    """The usual cells, ``-?digits[<mark>digits]``: ``(handled, minor, too_large)``; the others are null.

    Read with polars' exact text-to-decimal cast at ``scale`` fraction digits (never fewer than the cell
    has, so the cast does not round), then rounded half-to-even to ``decimals`` in int64.
    """
    limit = _limit_digits(decimals)
    scale = _common_scale(decimals)
    divisor = 10 ** (scale - decimals)
    pattern = rf"^-?[0-9]+(?:{re.escape(mark)}[0-9]{{1,{scale}}})?$"
    point = pl.col("t") if mark == "." else pl.col("t").str.replace(mark, ".", literal=True)
    scaled = pl.col("scaled")
    rounded = half_even_expr(scaled, divisor) if divisor > 1 else scaled
    in_range = (pl.col("rounded") < 10**limit) & (pl.col("rounded") > -(10**limit))
    out = (
        pl.LazyFrame({"t": text})
        .select(  # the two passes over the text run in parallel
            matched=pl.col("t").str.contains(pattern).fill_null(False),
            scaled=point.cast(pl.Decimal(38, scale), strict=False).to_physical().cast(pl.Int64, strict=False),
        )
        .select(handled=pl.col("matched") & scaled.is_not_null(), rounded=rounded)
        .select(
            "handled",
            minor=pl.when(pl.col("handled") & in_range).then(pl.col("rounded")),
            too_large=pl.col("handled") & ~in_range.fill_null(True),
        )
        .collect()
    )
    return out["handled"], out["minor"], out["too_large"]


def _significand(text: pl.Series, decimals: int) -> tuple[pl.Series, pl.Series]:
    """Canonical numbers of any form: ``(minor, too_large)``, from the written digits.

    ``digits`` is the significand without leading zeros and ``point`` the position of the decimal point,
    in ``digits``, after scaling by ``10**decimals`` (it may be negative or beyond the end).
    """
    limit = _limit_digits(decimals)
    exponent = pl.col("exponent").fill_null("0")
    exponent_digits = exponent.str.strip_chars_start("+-").str.strip_chars_start("0")
    exponent_size = (
        pl.when(exponent_digits.str.len_bytes() > _EXPONENT_DIGITS)
        .then(10**_EXPONENT_DIGITS)
        .otherwise(exponent_digits.cast(pl.Int64, strict=False).fill_null(0))
    )
    all_digits = pl.concat_str(pl.col("whole").fill_null(""), pl.col("fraction").fill_null(""))
    point = pl.col("point")
    kept_length = point.clip(0, limit)  # never longer than 18 digits: int64, and no huge padding
    kept = (
        pl.col("digits")
        .str.pad_end(kept_length, "0")
        .str.slice(0, kept_length)
        .cast(pl.Int64, strict=False)
        .fill_null(0)  # no kept digit (the value is below one minor unit)
    )
    first_dropped = pl.when(point >= 0).then(pl.col("digits").str.slice(kept_length, 1)).otherwise(pl.lit(""))
    later_nonzero = pl.col("digits").str.slice(kept_length + 1).str.contains("[1-9]")
    up = (pl.col("first") > "5") | ((pl.col("first") == "5") & (pl.col("later") | (pl.col("kept") % 2 != 0)))
    magnitude = pl.col("magnitude")
    out = (
        pl.LazyFrame({"parts": text.str.extract_groups(_CANONICAL)})
        .select(pl.col("parts").struct.unnest())
        .select(
            negative=pl.col("sign") == "-",
            whole_length=pl.col("whole").str.len_bytes().fill_null(0).cast(pl.Int64),
            shift=pl.when(exponent.str.starts_with("-")).then(-exponent_size).otherwise(exponent_size),
            all=all_digits,
        )
        .with_columns(digits=pl.col("all").str.strip_chars_start("0"))
        .select(
            "negative",
            "digits",
            point=pl.col("whole_length")
            + pl.col("shift")
            + decimals
            - (
                pl.col("all").str.len_bytes().cast(pl.Int64) - pl.col("digits").str.len_bytes().cast(pl.Int64)
            ),
        )
        .select("negative", "digits", "point", kept=kept, first=first_dropped, later=later_nonzero)
        .select("negative", "digits", "point", magnitude=pl.col("kept") + up.cast(pl.Int64))
        .select(
            too_large=(pl.col("digits") != "") & ((point > limit) | (magnitude >= 10**limit)),
            minor=pl.when(pl.col("negative")).then(-magnitude).otherwise(magnitude),
        )
        .select(pl.when(~pl.col("too_large")).then(pl.col("minor")).alias("minor"), "too_large")
        .collect()
    )
    return out["minor"], out["too_large"]


def _normalised(text: pl.Series, decimal_comma: bool) -> tuple[pl.Series, pl.Series, pl.Series]:
    """``(canonical, valid, empty)``: the valid cells stripped, without separators and with a point as
    decimal mark (null for the others); which cells are numbers; which are blank (missing, not bad)."""
    stripped = pl.col("s")
    if decimal_comma:
        canonical = stripped.str.replace_all("[. \u00a0\u202f]", "").str.replace(",", ".", literal=True)
    else:
        canonical = stripped.str.replace_all(",", "", literal=True)
    valid = stripped.str.contains(_COMMA_TEXT if decimal_comma else _POINT_TEXT).fill_null(False)
    out = (
        pl.LazyFrame({"s": text})
        .select(stripped.str.strip_chars())
        .select(
            canonical=pl.when(valid).then(canonical), valid=valid, empty=(stripped == "").fill_null(False)
        )
        .collect()
    )
    return out["canonical"], out["valid"], out["empty"]


def _rewrite(text: pl.Series, where: pl.Series, rewrite: Callable[[pl.Series], pl.Series]) -> pl.Series:
    """``text`` with the cells ``where`` is true replaced by ``rewrite`` of them (string work on few rows)."""
    if not bool(where.any()):
        return text
    if bool(where.all()):
        return rewrite(text)
    rows = where.arg_true()
    return text.clone().scatter(rows, rewrite(text.gather(rows)))  # scatter works in place: not on ``text``


def _shorten(text: pl.Series, decimals: int) -> pl.Series:
    """Fractions longer than the common path reads, cut after the first dropped digit, same rounding.

    The first dropped digit is kept and becomes a 6 when it is a 5 followed by any non-zero digit (more
    than half: rounds up either way), so ``1.2350001`` reads as ``1.236`` and ``1.2350000`` as ``1.235``
    (an exact half, to even). Cells with an exponent are left as they are.
    """
    scale = _common_scale(decimals)
    if decimals + 1 > scale:  # 5 or 6 decimals: the cut would still be too long
        return text
    point = pl.col("t").str.find(".", literal=True)
    fraction_length = pl.col("t").str.len_bytes().cast(pl.Int64) - point - 1
    long_fraction = (fraction_length > scale) & ~pl.col("t").str.contains("[eE]")
    long = pl.LazyFrame({"t": text}).select(long_fraction.fill_null(False)).collect().to_series()
    if not bool(long.any()):
        return text

    def cut(cells: pl.Series) -> pl.Series:
        return pl.LazyFrame({"t": cells}).select(pl.col("t").str.head(point + decimals + 2)).collect()["t"]

    kept = _rewrite(text, long, cut)
    fives = long & kept.str.ends_with("5").fill_null(False)
    if not bool(fives.any()):
        return kept
    rows = fives.arg_true()
    half = kept.gather(rows)
    above = text.gather(rows).str.strip_chars_end("0").str.len_bytes() > half.str.len_bytes()
    return kept.scatter(rows, half.zip_with(~above, half.str.head(-1) + "6"))


def _tidy(text: pl.Series, decimals: int) -> pl.Series:
    """Canonical numbers rewritten, where that is possible, into the common path's form, same rounding.

    ``+`` is dropped, ``.5`` becomes ``0.5`` and ``12.`` ``12``; long fractions are cut (:func:`_shorten`).
    Exponents are left to :func:`_significand`.
    """
    odd = (
        text.str.starts_with("+")
        | text.str.starts_with(".")
        | text.str.starts_with("-.")
        | text.str.ends_with(".")
    ).fill_null(False)
    text = _rewrite(
        text,
        odd,
        lambda cells: cells.str.strip_prefix("+").str.replace(r"^(-?)\.", "${1}0.").str.strip_suffix("."),
    )
    return _shorten(text, decimals)


def _from_text(
    text: pl.Series, decimals: int, decimal_comma: bool, printed: bool = False
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """Text cells (not stripped yet): ``(minor, bad, too_large)``.

    ``printed``: the text is polars' own print of a float or decimal column (no blanks, separators or
    ``+``; often long fractions, as in ``59.970000000000006``), so it is tidied before the common path.
    """
    if printed:
        text = _shorten(text, decimals)
    handled, minor, too_large = _common(text, decimals, "," if decimal_comma else ".")
    bad = _falses(text.len())
    rest = text.is_not_null() & ~handled
    if not bool(rest.any()):
        return minor, bad, too_large
    rows = rest.arg_true()
    canonical, valid, empty = _normalised(text.gather(rows), decimal_comma)
    canonical = _tidy(canonical, decimals)
    rest_handled, rest_minor, rest_large = _common(canonical, decimals)
    left = valid & ~rest_handled
    if bool(left.any()):
        left_rows = left.arg_true()
        general_minor, general_large = _significand(canonical.gather(left_rows), decimals)
        rest_minor = rest_minor.scatter(left_rows, general_minor)
        rest_large = rest_large.scatter(left_rows, general_large)
    return (
        minor.scatter(rows, rest_minor),
        bad.scatter(rows, ~valid & ~empty),
        too_large.scatter(rows, rest_large),
    )


def _from_integers(raw: pl.Series, decimals: int) -> tuple[pl.Series, pl.Series, pl.Series]:
    values = raw.cast(pl.Int64, strict=False)  # null for a UInt64 beyond int64: too large
    bound = 10 ** (_limit_digits(decimals) - decimals)  # checked before multiplying: no overflow
    too_large = (raw.is_not_null() & values.is_null()) | (values >= bound).fill_null(False)
    too_large = too_large | (values <= -bound).fill_null(False)
    minor = values.set(too_large, None) if values.len() else values
    return minor * 10**decimals, _falses(raw.len()), too_large


def parse_amount(
    label: str, raw: pl.Series, decimals: int, decimal_comma: bool = False
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """An amount column as exact integer minor units, rounded half-to-even on the written digits.

    Returns ``(minor, bad, too_large)``: ``minor`` Int64 minor units, null where the cell is missing, bad
    or out of range; ``bad`` a present cell that is not a number; ``too_large`` a number whose magnitude
    is at or beyond ``10**MAX_AMOUNT_DIGITS`` units after rounding. The rules are in the module docstring.
    Raises :class:`~mlmroi.errors.InputError` when the column is not a number type or text, or when it
    has present cells and none of them is a number.
    """
    _check_decimals(decimals)
    if raw.dtype.is_integer():
        minor, bad, too_large = _from_integers(raw, decimals)
    elif raw.dtype == pl.String or raw.dtype == pl.Null:
        minor, bad, too_large = _from_text(raw.cast(pl.String), decimals, decimal_comma)
    elif raw.dtype.is_float():
        # The shortest round-trip digits ("1.015", "1e+20", "NaN"); no separators, no decimal comma.
        minor, bad, too_large = _from_text(raw.cast(pl.String), decimals, decimal_comma=False, printed=True)
    elif isinstance(raw.dtype, pl.Decimal):
        text = raw.cast(pl.String)  # the exact digits at the column's scale: "1.0150", "-3.0000"
        printed = (raw.dtype.scale or 0) > _common_scale(decimals)  # more digits than the common path reads
        if printed:  # there is always a point: 12.000 -> 12, 1.01500 -> 1.015
            text = text.str.strip_chars_end("0").str.strip_chars_end(".")
        minor, bad, too_large = _from_text(text, decimals, decimal_comma=False, printed=printed)
    else:
        raise InputError(f"{label}: column {raw.name!r} has type {raw.dtype}, expected a number")
    minor = minor.alias(raw.name)
    if minor.null_count() == minor.len() and not bool(too_large.any()):
        _whole_column_check(label, raw.name, raw, minor, "numeric")
    return minor, bad.alias(raw.name), too_large.alias(raw.name)
