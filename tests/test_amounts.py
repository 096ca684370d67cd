"""Amounts to exact integer minor units: every dtype path, the text grammar, the bound, against ``decimal``."""

from __future__ import annotations

import decimal
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmroi.errors import InputError
from mlmroi.io.amounts import MAX_AMOUNT_DIGITS, limit_minor, out_of_range_reason, parse_amount
from mlmroi.io.parse import parse_number

LABEL = "orders.csv"
Result = tuple[int | None, bool, bool]
MISSING: Result = (None, False, False)
BAD: Result = (None, True, False)
TOO_LARGE: Result = (None, False, True)


def parsed(cells: pl.Series | Sequence[str | None], decimals: int = 2, **options: bool) -> list[Result]:
    """``(minor, bad, too_large)`` per cell."""
    raw = cells if isinstance(cells, pl.Series) else pl.Series("amount", cells, dtype=pl.String)
    minor, bad, too_large = parse_amount(LABEL, raw, decimals, **options)
    assert minor.dtype == pl.Int64 and bad.dtype == pl.Boolean and too_large.dtype == pl.Boolean
    assert minor.name == raw.name and len(minor) == len(bad) == len(too_large) == len(raw)
    assert bad.null_count() == 0 and too_large.null_count() == 0
    return list(zip(minor.to_list(), bad.to_list(), too_large.to_list(), strict=True))


def one(cell: str | None, decimals: int = 2, **options: bool) -> Result:
    # A well-formed companion cell keeps a column of one bad cell from being "not numeric".
    return parsed([cell, "0"], decimals, **options)[0]


def reference(text: str, decimals: int) -> Result:
    """What ``decimal`` says for a well-formed number: quantize half-to-even, then the bound."""
    with decimal.localcontext() as context:
        context.prec, context.Emax, context.Emin = 100, decimal.MAX_EMAX, decimal.MIN_EMIN
        value = Decimal(text)
        if value == 0:
            return (0, False, False)
        if value.adjusted() > 40:  # far beyond the bound (quantize would need too many digits)
            return TOO_LARGE
        if value.adjusted() < -40:  # far below half a minor unit
            return (0, False, False)
        minor = int(value.quantize(Decimal(10) ** -decimals, rounding=ROUND_HALF_EVEN).scaleb(decimals))
    return TOO_LARGE if abs(minor) >= limit_minor(decimals) else (minor, False, False)


# ----------------------------------------------------------------------------------------------------------
# Text: rounding on the written digits
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "decimals", "expected"),
    [
        ("1.015", 2, 102),  # float: 1.01499999… -> 1.01
        ("0.545", 2, 54),  # float: 0.54500000…1 -> 0.55
        ("-0.125", 2, -12),
        ("-0.135", 2, -14),
        ("2.5", 0, 2),
        ("3.5", 0, 4),
        ("-2.5", 0, -2),
        ("0.5", 0, 0),
        ("-0.005", 2, 0),
        ("0.0051", 2, 1),
        ("0.00500000000000000000001", 2, 1),
        ("2.675", 2, 268),
        ("12", 2, 1200),
        ("12.", 2, 1200),
        (".5", 2, 50),
        ("-.5", 0, 0),
        ("+3.5", 2, 350),
        ("12.50", 2, 1250),
        ("00012.50", 2, 1250),
        ("-0", 2, 0),
        ("0.000", 4, 0),
        ("1e3", 2, 100000),
        ("2.5E-2", 2, 2),  # 0.025 -> 0.02
        ("3.5E-2", 2, 4),
        ("1.2345e2", 2, 12345),
        ("125e-3", 2, 12),
        ("1e-999999999999999", 2, 0),
        ("0e999999999999999", 2, 0),
        ("  7.25\t", 2, 725),
        ("\u00a07.25", 2, 725),
        ("1,234,567.89", 2, 123456789),
        ("-1,234.5", 2, -123450),
        ("1.2350000000", 2, 124),  # long fractions: cut after the first dropped digit
        ("1.2450000000", 2, 124),
        ("1.24500000001", 2, 125),
        ("-1.24500000001", 2, -125),
        ("1.2449999999", 2, 124),
        ("1.2345500000", 4, 12346),
        ("1.2346500000", 4, 12346),
        ("1.234650000001", 4, 12347),
        ("1.2345650000001", 5, 123457),
        ("1.23456750", 6, 1234568),
        ("1.23456", 4, 12346),
        ("1.234565", 5, 123456),
        ("1.2345675", 6, 1234568),
        ("9999999999999.99", 2, 999999999999999),
        ("-9999999999999.99", 2, -999999999999999),
        ("9999999999999.994999", 2, 999999999999999),
        ("9999999999999", 0, 9999999999999),
        ("0000000000000000000000000000000000000000000012.345", 2, 1234),
        ("0.0000000000000000000000000000000000000000000000000000000006", 2, 0),
    ],
)
def test_text_rounds_half_even_on_the_written_digits(text: str, decimals: int, expected: int) -> None:
    assert one(text, decimals) == (expected, False, False)
    assert reference(text.strip().replace(",", ""), decimals) == (expected, False, False)


def test_half_cent_grid_matches_decimal_where_the_float_path_does_not() -> None:
    # U.CC5 for 2,000 amounts: exact half cents, the case the float path gets wrong.
    cells = [f"{units}.{cents:02d}5" for units in range(20) for cents in range(100)]
    minor, bad, too_large = parse_amount(LABEL, pl.Series("amount", cells), 2)
    expected = [reference(cell, 2)[0] for cell in cells]
    assert minor.to_list() == expected
    assert not bad.any() and not too_large.any()
    floats, _ = parse_number(LABEL, pl.Series("amount", cells))
    via_float = np.rint(floats.to_numpy() * 100).astype(np.int64).tolist()
    assert via_float != expected  # the old path: this is what the module fixes


@pytest.mark.parametrize(
    "text",
    ["abc", "1.2.3", "nan", "NaN", "inf", "-inf", "Infinity", "1,23", "0,123", "1234,567", "1,2345", "12,",
     ",5", "1_000", "0x10", "--1", "+-1", "-", "+", ".", "e5", "1e", "1e+", "1.5e2.5", "1 000", "١٢",
     "１２", "12abc", "$12", "12%", "1.5 e3"],
)  # fmt: skip
def test_bad_text(text: str) -> None:
    assert one(text) == BAD


@pytest.mark.parametrize("text", [None, "", "  ", "\t", "\u00a0"])
def test_missing_is_not_bad(text: str | None) -> None:
    assert one(text) == MISSING


# ----------------------------------------------------------------------------------------------------------
# Decimal comma and thousands separators
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1234,56", 123456),
        ("1.234.567,89", 123456789),
        ("1 234 567,89", 123456789),
        ("1\u00a0234,5", 123450),
        ("1\u202f234,5", 123450),
        ("1.234", 123400),  # the point groups thousands: 1234
        ("-0,125", -12),
        ("1,015", 102),
        (",5", 50),
        ("12,", 1200),
        ("1,5e3", 150000),
        ("12", 1200),
        (" 1.234,5 ", 123450),
    ],
)
def test_decimal_comma(text: str, expected: int) -> None:
    assert one(text, decimal_comma=True) == (expected, False, False)


@pytest.mark.parametrize(
    "text", ["1.5", "12.50", "0.123", "1.234 567,8", "1.23,4", "1,2,3", "1 23,4", "1.234.56,7", "1,234.56"]
)
def test_decimal_comma_bad(text: str) -> None:
    assert one(text, decimal_comma=True) == BAD


# ----------------------------------------------------------------------------------------------------------
# The bound
# ----------------------------------------------------------------------------------------------------------


def test_bound() -> None:
    assert MAX_AMOUNT_DIGITS == 13 and limit_minor(2) == 10**15 and limit_minor(0) == 10**13
    assert limit_minor(6) == 10**18  # capped: 10**19 does not fit int64
    cells = [
        "9999999999999.99",
        "-9999999999999.99",
        "10000000000000",
        "-10000000000000",
        "99999999999999.99",  # the float path read this as …98
        "9999999999999.995",  # rounds up to the bound
        "1E+20",
        "1e999999999999999999",
        "123456789012345678901234567890",
        "9" * 400,
        "10,000,000,000,000.00",
    ]
    assert parsed(cells) == [
        (999999999999999, False, False),
        (-999999999999999, False, False),
        *[TOO_LARGE] * 9,
    ]


def test_exponents_beyond_any_decimal_context() -> None:
    cells = [
        "1e-9999999999999999999",
        "-0e99999999999999999999",
        "1e99999999999999999999",
        "-1e+0000000000000000000002",
    ]
    assert parsed(cells) == [(0, False, False), (0, False, False), TOO_LARGE, (-10000, False, False)]


def test_out_of_range_reason() -> None:
    assert (
        out_of_range_reason("amount", 2)
        == "amount out of range (at most 9,999,999,999,999.99 in absolute value)"
    )
    assert out_of_range_reason("cost", 0) == "cost out of range (at most 9,999,999,999,999 in absolute value)"
    assert (
        out_of_range_reason("volume", 4)
        == "volume out of range (at most 9,999,999,999,999.9999 in absolute value)"
    )
    assert (
        out_of_range_reason("amount", 6)
        == "amount out of range (at most 999,999,999,999.999999 in absolute value)"
    )


@pytest.mark.parametrize("decimals", [-1, 7])
def test_decimals_out_of_range(decimals: int) -> None:
    with pytest.raises(ValueError, match="decimals"):
        parse_amount(LABEL, pl.Series("amount", ["1"]), decimals)


# ----------------------------------------------------------------------------------------------------------
# Typed columns (Parquet)
# ----------------------------------------------------------------------------------------------------------


def test_integers_times_the_unit_with_the_bound_checked_first() -> None:
    cells = [1, -2, None, 10**13 - 1, 10**13, -(10**13), 2**62, -(2**63)]
    assert parsed(pl.Series("amount", cells, dtype=pl.Int64)) == [
        (100, False, False),
        (-200, False, False),
        MISSING,
        ((10**13 - 1) * 100, False, False),
        *[TOO_LARGE] * 4,
    ]
    assert parsed(pl.Series("amount", [7, -3], dtype=pl.Int8), 4) == [
        (70000, False, False),
        (-30000, False, False),
    ]


def test_uint64_beyond_int64_is_too_large() -> None:
    cells = [5, 2**63, 2**64 - 1, None]
    assert parsed(pl.Series("amount", cells, dtype=pl.UInt64)) == [
        (500, False, False),
        TOO_LARGE,
        TOO_LARGE,
        MISSING,
    ]


def test_decimal_column_half_even() -> None:
    cells = ["1.0150", "0.5450", "-0.1250", "1.0250", "-0.0050", "-0.0150", None, "9999999999999.9949",
             "9999999999999.9950", "-1234567890123456789012345678901234.5678"]  # fmt: skip
    raw = pl.Series("amount", [None if c is None else Decimal(c) for c in cells], dtype=pl.Decimal(38, 4))
    assert parsed(raw) == [
        (102, False, False),
        (54, False, False),
        (-12, False, False),
        (102, False, False),
        (0, False, False),
        (-2, False, False),
        MISSING,
        (999999999999999, False, False),
        TOO_LARGE,
        TOO_LARGE,
    ]
    whole = pl.Series("amount", [Decimal(12), Decimal(-3)], dtype=pl.Decimal(10, 0))
    assert parsed(whole) == [(1200, False, False), (-300, False, False)]
    digits = ["1.015", "100", "0", "-0.00500001", "-0.005", "1234567890.12345678", "9999999999999.99499999"]
    fine = pl.Series("amount", [Decimal(c) for c in digits], dtype=pl.Decimal(38, 8))  # more digits than read
    assert parsed(fine) == [
        (minor, False, False) for minor in [102, 10000, 0, -1, 0, 123456789012, 999999999999999]
    ]


def test_float_column_reads_the_shortest_repr() -> None:
    cells = [1.015, 0.545, float("nan"), float("inf"), -float("inf"), 1e20, None, 0.1 + 0.2, -0.0, 1e-7, 2.675,
             99999999999999.99, 9999999999999.99, 123456789.125]  # fmt: skip
    assert parsed(pl.Series("amount", cells, dtype=pl.Float64)) == [
        (102, False, False),  # the double is 1.01499999999999990230037…, its repr 1.015
        (54, False, False),
        BAD,
        BAD,
        BAD,
        TOO_LARGE,
        MISSING,
        (30, False, False),  # 0.30000000000000004
        (0, False, False),
        (0, False, False),
        (268, False, False),
        TOO_LARGE,
        (999999999999999, False, False),
        (12345678912, False, False),
    ]


def test_typed_columns_ignore_decimal_comma() -> None:
    assert parsed(pl.Series("amount", [1.015, 1234.5]), decimal_comma=True) == [
        (102, False, False),
        (123450, False, False),
    ]
    raw = pl.Series("amount", [Decimal("1234.5650")], dtype=pl.Decimal(18, 4))
    assert parsed(raw, decimal_comma=True) == [(123456, False, False)]


def test_float32_column_reads_the_float32_shortest_repr() -> None:
    raw = pl.Series("amount", [0.1, 1.015, 0.545, 16777217.0], dtype=pl.Float32)
    assert parsed(raw) == [
        (10, False, False),
        (102, False, False),
        (54, False, False),
        (1677721600, False, False),
    ]


def test_polars_prints_floats_as_their_shortest_round_trip_repr() -> None:
    """The float path relies on this: polars' float-to-text cast gives repr's value (exponent style aside)."""
    rng = np.random.default_rng(7)
    bits = rng.integers(0, 2**63, 20_000, dtype=np.int64).view(np.float64)
    values = np.concatenate(
        [
            bits[np.isfinite(bits)],
            rng.integers(-(10**9), 10**9, 20_000) / 10.0 ** rng.integers(0, 7, 20_000),
            rng.uniform(-1, 1, 5_000) * 10.0 ** rng.integers(-30, 30, 5_000),
            [1.015, 0.1, 1e20, 123456789.125, 5e-324, 1.7976931348623157e308, -0.0, 1e16, 1e15],
        ]
    )
    printed = pl.Series(values).cast(pl.String).to_list()
    assert [Decimal(text) for text in printed] == [Decimal(repr(value)) for value in values.tolist()]
    assert pl.Series([1.015, 0.1, 1e20, 123456789.125]).cast(pl.String).to_list() == [
        "1.015", "0.1", "1e+20", "123456789.125"
    ]  # fmt: skip
    singles = rng.uniform(-1e6, 1e6, 5_000).astype(np.float32)
    printed = pl.Series(singles).cast(pl.String).to_list()
    assert [Decimal(text) for text in printed] == [Decimal(str(value)) for value in singles]


def test_null_column_and_empty_columns() -> None:
    assert parsed(pl.Series("amount", [None, None])) == [MISSING, MISSING]
    assert parsed(pl.Series("amount", [], dtype=pl.String)) == []
    assert parsed(pl.Series("amount", [], dtype=pl.Float64)) == []
    assert parsed(pl.Series("amount", ["", "  ", None])) == [MISSING] * 3


@pytest.mark.parametrize(
    "raw",
    [pl.Series("amount", [True, False]), pl.Series("amount", [1], dtype=pl.Date), pl.Series("amount", ["1"], dtype=pl.Categorical)],
)  # fmt: skip
def test_other_types_are_not_numbers(raw: pl.Series) -> None:
    with pytest.raises(InputError, match=f"column 'amount' has type {raw.dtype}, expected a number"):
        parse_amount(LABEL, raw, 2)


# ----------------------------------------------------------------------------------------------------------
# The whole column
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pl.Series("amount", ["", "abc", "x"]),
        pl.Series("amount", [None, " n/a ", "1,23"]),
        pl.Series("amount", [float("nan"), None]),
    ],
)
def test_a_column_in_which_nothing_parses_is_an_input_error(raw: pl.Series) -> None:
    with pytest.raises(InputError) as amount_error:
        parse_amount(LABEL, raw, 2)
    with pytest.raises(InputError) as number_error:
        parse_number(LABEL, raw)
    assert str(amount_error.value) == str(number_error.value)
    assert str(amount_error.value).startswith(
        "orders.csv: column 'amount' is not numeric (no value parses; first: "
    )


def test_one_bad_cell_is_not_a_column_error_nor_is_a_column_of_huge_numbers() -> None:
    assert parsed(["abc", "1"]) == [BAD, (100, False, False)]
    assert parsed(["1e30", "-1e30"]) == [TOO_LARGE, TOO_LARGE]
    assert parsed(pl.Series("amount", [2**64 - 1], dtype=pl.UInt64)) == [TOO_LARGE]
    assert parsed([None, "", " "]) == [MISSING] * 3


# ----------------------------------------------------------------------------------------------------------
# Against decimal, on random written numbers
# ----------------------------------------------------------------------------------------------------------

DIGITS = st.text(alphabet="0123456789", max_size=18)
JUNK = st.one_of(
    st.sampled_from(["abc", "1.2.3", "nan", "inf", "--5", "1e", ".", "+", "1,23", "٣", "1_0", "0x1", "5-"]),
    st.text(alphabet="0123456789.eE+-,x ", min_size=1, max_size=8).filter(
        lambda t: not t.strip(" ") or "x" in t
    ),
)


@st.composite
def written_number(draw: st.DrawFn) -> str:
    whole, fraction = draw(DIGITS), draw(st.none() | DIGITS)
    if not whole and not fraction:
        whole = "0"
    text = draw(st.sampled_from(["", "", "-", "+"])) + whole + ("" if fraction is None else "." + fraction)
    if draw(st.integers(0, 4)) == 0:
        power = draw(st.one_of(st.integers(-25, 25), st.sampled_from([-(10**12), 10**12, 300, -300])))
        text += (
            draw(st.sampled_from(["e", "E"])) + draw(st.sampled_from(["", "+"])) * (power >= 0) + str(power)
        )
    return text


CELL = st.one_of(
    written_number().map(lambda t: (t, True)),
    written_number().map(lambda t: (f" {t}\t", True)),
    JUNK.map(lambda t: (t, False)),
)


@settings(max_examples=200)
@given(st.lists(CELL, min_size=1, max_size=20), st.integers(0, 4))
def test_text_matches_decimal(cells: list[tuple[str, bool]], decimals: int) -> None:
    texts = [text for text, _ in cells] + ["0"]  # never a column in which nothing parses
    got = parsed(texts, decimals)[:-1]
    for (text, number), result in zip(cells, got, strict=True):
        if number:
            assert result == reference(text.strip(), decimals), text
        else:
            assert result == (MISSING if not text.strip() else BAD), text
    numbers = [text for text, number in cells if number]
    if numbers:  # the same numbers written with a decimal comma
        commas = [text.replace(".", ",") for text in numbers]
        assert parsed(commas, decimals, decimal_comma=True) == [
            reference(t.strip(), decimals) for t in numbers
        ]


@st.composite
def grouped_number(draw: st.DrawFn) -> tuple[str, str, str]:
    """``(plain, with point grouping, with comma grouping)`` for one number."""
    whole = draw(st.integers(0, 10**16))
    fraction = draw(st.none() | DIGITS)
    sign = draw(st.sampled_from(["", "-"]))
    separator = draw(st.sampled_from([".", " ", "\u00a0", "\u202f"]))
    plain = f"{sign}{whole}" + ("" if fraction is None else "." + fraction)
    point = f"{sign}{whole:,}" + ("" if fraction is None else "." + fraction)
    comma = f"{sign}{whole:,}".replace(",", separator) + ("" if fraction is None else "," + fraction)
    return plain, point, comma


@settings(max_examples=200)
@given(st.lists(grouped_number(), min_size=1, max_size=20), st.integers(0, 4))
def test_grouped_text_matches_decimal(numbers: list[tuple[str, str, str]], decimals: int) -> None:
    expected = [reference(plain, decimals) for plain, _, _ in numbers]
    assert parsed([point for _, point, _ in numbers], decimals) == expected
    assert parsed([comma for _, _, comma in numbers], decimals, decimal_comma=True) == expected


@settings(max_examples=200)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20), st.integers(0, 4))
def test_floats_match_decimal_of_their_repr(values: list[float], decimals: int) -> None:
    got = parsed(pl.Series("amount", values, dtype=pl.Float64), decimals)
    assert got == [reference(repr(value), decimals) for value in values]


@settings(max_examples=200)
@given(
    st.lists(st.decimals(min_value=-(10**15), max_value=10**15, places=6), min_size=1, max_size=20),
    st.integers(0, 4),
)
def test_decimal_columns_match_decimal(values: list[Decimal], decimals: int) -> None:
    got = parsed(pl.Series("amount", values, dtype=pl.Decimal(38, 6)), decimals)
    assert got == [reference(str(value), decimals) for value in values]


def test_a_large_mixed_column_matches_decimal() -> None:
    """Thousands of rows through both paths at once (the common cells and the rest), order preserved."""
    rng = np.random.default_rng(3)
    n = 20_000
    units = rng.integers(-(10**6), 10**6, n)
    fraction_digits = rng.integers(0, 6, n)
    cells = [
        f"{u}" if k == 0 else f"{u}.{rng.integers(0, 10**k):0{k}d}"
        for u, k in zip(units.tolist(), fraction_digits.tolist(), strict=True)
    ]
    for i in rng.choice(n, 500, replace=False).tolist():
        cells[i] = rng.choice([" 5.5", "+1.005", "1e2", "1,234.565", "abc", "", "1e20", "0.0049999"])
    got = parsed(cells, 2)
    for cell, result in zip(cells, got, strict=True):
        if cell == "abc":
            assert result == BAD
        elif cell == "":
            assert result == MISSING
        else:
            assert result == reference(cell.strip().replace(",", ""), 2), cell
