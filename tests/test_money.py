"""Exact money arithmetic against Python's Decimal (ROUND_HALF_EVEN) and Fraction."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlmroi.money import RATE_SCALE, apply_rate, divide_half_even, rate_ppm, split_largest_remainder
from tests import naive

INT64_MAX = np.iinfo(np.int64).max
PPM = st.one_of(
    st.integers(0, RATE_SCALE), st.sampled_from([1, 100_000, 500_000, 250_000, 50_000, RATE_SCALE])
)


# ----------------------------------------------------------------------------------------------------------
# apply_rate
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "ppm", "expected"),
    [
        (5, 100_000, 0),  # 0.5 -> 0
        (15, 100_000, 2),  # 1.5 -> 2
        (25, 100_000, 2),  # 2.5 -> 2
        (35, 100_000, 4),  # 3.5 -> 4
        (-5, 100_000, 0),  # -0.5 -> 0
        (-15, 100_000, -2),  # -1.5 -> -2
        (-25, 100_000, -2),  # -2.5 -> -2
        (1, 500_000, 0),  # 0.5 -> 0
        (3, 500_000, 2),  # 1.5 -> 2
        (12345, 100_000, 1234),  # 1234.5 -> 1234
        (12355, 100_000, 1236),  # 1235.5 -> 1236
        (1, 500_001, 1),  # just above half
        (1, 499_999, 0),  # just below half
        (7, 0, 0),
        (123_456_789, RATE_SCALE, 123_456_789),
    ],
)
def test_apply_rate_known_values(minor: int, ppm: int, expected: int) -> None:
    assert apply_rate(np.array([minor], dtype=np.int64), ppm).tolist() == [expected]
    assert naive.apply_rate(minor, ppm) == expected


@given(st.lists(st.integers(-(10**12), 10**12), min_size=1, max_size=20), PPM)
def test_apply_rate_matches_decimal(minors: list[int], ppm: int) -> None:
    out = apply_rate(np.array(minors, dtype=np.int64), ppm)
    assert out.dtype == np.int64
    assert out.tolist() == [naive.apply_rate(m, ppm) for m in minors]


@given(st.integers(1, RATE_SCALE), st.integers(0, 50), st.booleans())
def test_apply_rate_at_the_int64_guard(ppm: int, below: int, negative: bool) -> None:
    # The largest magnitudes that still take the int64 path: |minor| <= INT64_MAX // ppm.
    minor = INT64_MAX // ppm - below
    if negative:
        minor = -minor
    out = apply_rate(np.array([minor, 1, -1], dtype=np.int64), ppm)
    assert out.tolist() == [naive.apply_rate(minor, ppm), naive.apply_rate(1, ppm), naive.apply_rate(-1, ppm)]


def test_apply_rate_empty_and_shape() -> None:
    assert apply_rate(np.zeros(0, dtype=np.int64), 100_000).shape == (0,)
    out = apply_rate(np.array([[15, 25], [-15, 35]], dtype=np.int64), 100_000)
    assert out.tolist() == [[2, 2], [-2, 4]]


@pytest.mark.parametrize(("minor", "ppm"), [(2**62, 3), (INT64_MAX // 100_000 + 1, 100_000), (-(2**62), 7)])
def test_apply_rate_beyond_int64_guard(minor: int, ppm: int) -> None:
    # minor x ppm overflows int64: the result must still be exact (regression: the Python-integer branch
    # used to call np.divmod on an object array and raise TypeError).
    out = apply_rate(np.array([minor, 15, -25], dtype=np.int64), ppm)
    assert out.tolist() == [
        naive.apply_rate(minor, ppm),
        naive.apply_rate(15, ppm),
        naive.apply_rate(-25, ppm),
    ]


@given(st.lists(st.integers(-INT64_MAX, INT64_MAX), min_size=1, max_size=8), st.integers(2, RATE_SCALE))
def test_apply_rate_big_values_match_decimal(minors: list[int], ppm: int) -> None:
    out = apply_rate(np.array(minors, dtype=np.int64), ppm)
    assert out.tolist() == [naive.apply_rate(m, ppm) for m in minors]


@pytest.mark.parametrize("ppm", [3, RATE_SCALE])
def test_apply_rate_int64_min(ppm: int) -> None:
    minor = -(2**63)
    assert apply_rate(np.array([minor], dtype=np.int64), ppm).tolist() == [naive.apply_rate(minor, ppm)]


@given(st.integers(0, 10_000))
def test_rate_ppm_of_four_decimal_rates(k: int) -> None:
    assert rate_ppm(k / 10_000) == k * 100


# ----------------------------------------------------------------------------------------------------------
# divide_half_even
# ----------------------------------------------------------------------------------------------------------


def test_divide_half_even_negatives() -> None:
    num = np.array([-5, -15, -25, -35, -4, -6, -14, -16, 5, 15, 0], dtype=np.int64)
    assert divide_half_even(num, 10).tolist() == [0, -2, -2, -4, 0, -1, -1, -2, 0, 2, 0]
    assert divide_half_even(np.array([-1, -3, -2_500_000], dtype=np.int64), 2).tolist() == [0, -2, -1_250_000]
    assert divide_half_even(np.array([-7], dtype=np.int64), 1).tolist() == [-7]


@given(st.lists(st.integers(-(10**15), 10**15), min_size=1, max_size=20), st.integers(1, 10**7))
def test_divide_half_even_matches_decimal(numerators: list[int], denominator: int) -> None:
    out = divide_half_even(np.array(numerators, dtype=np.int64), denominator)
    assert out.tolist() == [naive.round_half_even(Fraction(x, denominator)) for x in numerators]


@given(st.integers(-(10**6), 10**6), st.sampled_from([2, 10, 1_000_000]))
def test_divide_half_even_exact_ties(k: int, denominator: int) -> None:
    # (2k + 1) / 2 is an exact tie: it goes to whichever neighbour is even.
    numerator = (2 * k + 1) * (denominator // 2)
    got = int(divide_half_even(np.array([numerator], dtype=np.int64), denominator)[0])
    assert got in (k, k + 1)
    assert got % 2 == 0


# ----------------------------------------------------------------------------------------------------------
# split_largest_remainder
# ----------------------------------------------------------------------------------------------------------


def test_split_oracle_payout_cap() -> None:
    # ORACLES.md, Compensation plans, Payout-ratio cap: payouts 166.67 + 166.67 + 166.66 scaled to 400.00
    # -> 133.34, 133.33, 133.33 (rounded down, remaining cents to the largest remainders, ties to the
    # earlier).
    weights = np.array([16667, 16667, 16666], dtype=np.int64)
    assert split_largest_remainder(40000, weights).tolist() == [13334, 13333, 13333]
    assert naive.split_largest_remainder(40000, [16667, 16667, 16666]) == [13334, 13333, 13333]


def test_split_ties_go_to_the_earlier_position() -> None:
    assert split_largest_remainder(2, np.array([1, 1, 1])).tolist() == [1, 1, 0]
    assert split_largest_remainder(4, np.array([1, 1, 1])).tolist() == [2, 1, 1]
    assert split_largest_remainder(1, np.array([0, 3, 3])).tolist() == [0, 1, 0]
    assert split_largest_remainder(1, np.array([2, 1, 1])).tolist() == [1, 0, 0]  # .5 beats .25
    assert split_largest_remainder(3, np.array([1, 2, 2, 1])).tolist() == [
        1,
        1,
        1,
        0,
    ]  # .5, 1, 1, .5: tie -> first
    assert split_largest_remainder(0, np.array([5, 7])).tolist() == [0, 0]


def test_split_rejects_zero_weights() -> None:
    with pytest.raises(ValueError):
        split_largest_remainder(10, np.array([0, 0]))


@given(
    st.integers(-(10**9), 10**12),
    st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(lambda w: sum(w) > 0),
)
def test_split_matches_fraction(total: int, weights: list[int]) -> None:
    shares = split_largest_remainder(total, np.array(weights, dtype=np.int64))
    assert shares.dtype == np.int64
    assert int(shares.sum()) == total
    w_sum = sum(weights)
    for share, w in zip(shares.tolist(), weights, strict=True):
        exact = Fraction(w * total, w_sum)
        assert abs(share - exact) < 1
        if w == 0:
            assert share == 0
    assert shares.tolist() == naive.split_largest_remainder(total, weights)


@given(st.integers(1, 10**4), st.integers(1, 20), st.integers(1, 1000))
def test_split_equal_weights_front_loaded(total: int, n: int, w: int) -> None:
    shares = split_largest_remainder(total, np.full(n, w, dtype=np.int64)).tolist()
    base, extra = divmod(total, n)
    assert shares == [base + 1] * extra + [base] * (n - extra)


@given(st.integers(1, 10**6), st.lists(st.integers(2**61, 2**62), min_size=1, max_size=1))
def test_split_big_weights_single(total: int, weights: list[int]) -> None:
    # One participant takes everything, whatever the path.
    assert split_largest_remainder(total, np.array(weights, dtype=np.int64)).tolist() == [total]


def test_split_big_weights_largest_remainder_exact() -> None:
    # Regression: the big-int branch used to order remainders as float64, so these two (differing by 1 at
    # ~1.4e18) tied and the unit went to the earlier position instead of the larger remainder.
    weights = [1516238718151112442, 198559083434656153, 591141559168029911]
    # remainders (w x 7 mod Σw): 1389913584042593070 < 1389913584042593071 -> the second gets the unit.
    assert naive.split_largest_remainder(7, weights) == [4, 1, 2]
    assert split_largest_remainder(7, np.array(weights, dtype=np.int64)).tolist() == [4, 1, 2]


def test_split_weight_sum_beyond_int64() -> None:
    # Regression: Σ weights used to be taken in int64 and wrapped to -2**63 ("weights must have a positive
    # sum").
    assert split_largest_remainder(3, np.array([2**62, 2**62], dtype=np.int64)).tolist() == [2, 1]
    assert split_largest_remainder(-3, np.array([2**62, 2**62], dtype=np.int64)).tolist() == [-1, -2]


@given(
    st.integers(-(10**12), 10**12),
    st.lists(st.integers(0, 2**62), min_size=1, max_size=6).filter(lambda w: sum(w) > 0),
)
def test_split_big_weights_match_fraction(total: int, weights: list[int]) -> None:
    shares = split_largest_remainder(total, np.array(weights, dtype=np.int64))
    assert int(shares.sum()) == total
    assert shares.tolist() == naive.split_largest_remainder(total, weights)


def test_the_rounding_rule_has_one_meaning_in_kernels_and_tables() -> None:
    """money.half_even_expr (polars, used by the amount parser) and money.div_half_even (numba, used by the
    plans) round every value alike."""
    import polars as pl

    from mlmroi.money import divide_half_even, half_even_expr

    values = np.arange(-20_000, 20_001, dtype=np.int64) * 7
    for denominator in (2, 10, 1000, 1_000_000):
        table = pl.DataFrame({"v": values}).select(half_even_expr(pl.col("v"), denominator))["v"].to_numpy()
        assert (table == divide_half_even(values, denominator)).all()
