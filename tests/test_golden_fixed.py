"""The fixed-point golden model against hand calculations and an exact
rational reference written independently with ``fractions.Fraction``."""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from nnarith.golden.fixed import fixed_mul, from_real, multiply, narrow, to_real
from nnarith.golden.formats import FIXED_ROUNDING, OVERFLOW_MODES, QFormat

Q8_8 = QFormat(16, 8, True)


def ref_narrow(x, x_fmt, out_fmt, rounding, overflow):
    """One value, by rational arithmetic: the definition, not the algorithm."""
    r = Fraction(x, 1 << x_fmt.frac) * (1 << out_fmt.frac)
    y = {"trunc": math.floor(r),
         "zero": math.trunc(r),
         "half_up": math.floor(r + Fraction(1, 2)),
         "half_even": round(r)}[rounding]          # Fraction.__round__ ties to even
    over = not out_fmt.min <= y <= out_fmt.max
    if overflow == "saturate":
        y = min(max(y, out_fmt.min), out_fmt.max)
    else:
        y = (y - out_fmt.min) % (1 << out_fmt.width) + out_fmt.min
    return y, over


def q88(x):
    return int(x * 256)


@pytest.mark.parametrize("a, b, expected", [
    (1.5, 2.25, 3.375),
    (-1.5, 2.25, -3.375),
    (-1.5, -2.25, 3.375),
    (0.5, 0.00390625, 0.0),            # 0.5 LSB: tie, even neighbour is 0
    (1.5, 0.00390625, 0.0078125),      # 1.5 LSB: tie, rounds up to 2 LSB
    (2.5, 0.00390625, 0.0078125),      # 2.5 LSB: tie, rounds down to 2 LSB
    (-0.5, 0.00390625, 0.0),
    (-1.5, 0.00390625, -0.0078125),
    (127.0, 2.0, 32767 / 256),         # saturates at the largest Q8.8
    (-128.0, -128.0, 32767 / 256),
    (-128.0, 1.0, -128.0),
])
def test_q8_8_by_hand(a, b, expected):
    y, _ = fixed_mul([q88(a)], [q88(b)], Q8_8, Q8_8, Q8_8, "half_even", "saturate")
    assert y[0] == q88(expected)


def test_integer_extremes():
    i8, u8 = QFormat(8), QFormat(8, 0, False)
    assert fixed_mul([-128], [-128], i8, i8)[0][0] == 16384
    assert fixed_mul([255], [255], u8, u8)[0][0] == 65025
    assert fixed_mul([-128], [255], i8, u8)[0][0] == -32640
    i64, u64 = QFormat(64), QFormat(64, 0, False)
    assert fixed_mul([-(2**63)], [-(2**63)], i64, i64)[0][0] == 2**126
    assert fixed_mul([2**64 - 1], [2**64 - 1], u64, u64)[0][0] == (2**64 - 1) ** 2


def test_overflow_flag_and_wrap():
    i4 = QFormat(4)
    y, over = narrow(np.array([7, 8, -8, -9, 23]), QFormat(8), i4, "trunc", "wrap")
    assert list(y) == [7, -8, -8, 7, 7] and list(over) == [False, True, False, True, True]
    y, over = narrow(np.array([7, 8, -8, -9]), QFormat(8), i4, "trunc", "saturate")
    assert list(y) == [7, 7, -8, -8] and list(over) == [False, True, False, True]


def test_rounding_modes_on_negative_ties():
    src, out = QFormat(8, 2), QFormat(8, 0)
    x = np.array([-6, -5, -3, -2, 2, 3, 5, 6])          # -1.5 -1.25 -0.75 -0.5 0.5 0.75 1.25 1.5
    expect = {"trunc": [-2, -2, -1, -1, 0, 0, 1, 1],
              "zero": [-1, -1, 0, 0, 0, 0, 1, 1],
              "half_up": [-1, -1, -1, 0, 1, 1, 1, 2],
              "half_even": [-2, -1, -1, 0, 0, 1, 1, 2]}
    for rounding, values in expect.items():
        assert list(narrow(x, src, out, rounding, "wrap")[0]) == values, rounding


@pytest.mark.parametrize("a_signed, b_signed, out_signed",
                         list(itertools.product([True, False], repeat=3)))
@pytest.mark.parametrize("rounding", FIXED_ROUNDING)
@pytest.mark.parametrize("overflow", OVERFLOW_MODES)
def test_exhaustive_small_formats_against_rationals(a_signed, b_signed, out_signed,
                                                    rounding, overflow):
    a_fmt, b_fmt = QFormat(5, 3, a_signed), QFormat(4, 2, b_signed)
    p_fmt = a_fmt.times(b_fmt)
    for out_fmt in (QFormat(5, 2, out_signed), QFormat(4, 0, out_signed),
                    QFormat(9, 7, out_signed), QFormat(6, 6, out_signed)):
        a, b = np.meshgrid(np.arange(a_fmt.min, a_fmt.max + 1),
                           np.arange(b_fmt.min, b_fmt.max + 1))
        a, b = a.ravel(), b.ravel()
        y, over = fixed_mul(a, b, a_fmt, b_fmt, out_fmt, rounding, overflow)
        for i in range(a.size):
            ref = ref_narrow(int(a[i]) * int(b[i]), p_fmt, out_fmt, rounding, overflow)
            assert (int(y[i]), bool(over[i])) == ref, (a[i], b[i], out_fmt)


formats = st.builds(lambda w, f, s: QFormat(w, min(f, w), s),
                    st.integers(2, 64), st.integers(0, 64), st.booleans())


@settings(max_examples=300, deadline=None)
@given(data=st.data(), a_fmt=formats, b_fmt=formats, out_w=st.integers(2, 128),
       out_f=st.integers(0, 128), out_s=st.booleans(),
       rounding=st.sampled_from(FIXED_ROUNDING), overflow=st.sampled_from(OVERFLOW_MODES))
def test_any_width_against_rationals(data, a_fmt, b_fmt, out_w, out_f, out_s, rounding, overflow):
    out_fmt = QFormat(out_w, min(out_f, out_w), out_s)
    a = data.draw(st.lists(st.integers(a_fmt.min, a_fmt.max), min_size=1, max_size=8))
    b = data.draw(st.lists(st.integers(b_fmt.min, b_fmt.max), min_size=len(a), max_size=len(a)))
    y, over = fixed_mul(a, b, a_fmt, b_fmt, out_fmt, rounding, overflow)
    for i, (x1, x2) in enumerate(zip(a, b)):
        assert (int(y[i]), bool(over[i])) == ref_narrow(x1 * x2, a_fmt.times(b_fmt), out_fmt,
                                                        rounding, overflow)


def test_int64_and_python_int_paths_agree():
    rng = np.random.default_rng(5)
    a_fmt, b_fmt, out_fmt = QFormat(30, 10), QFormat(30, 20), QFormat(24, 12)
    a = rng.integers(a_fmt.min, a_fmt.max, 5000, endpoint=True)
    b = rng.integers(b_fmt.min, b_fmt.max, 5000, endpoint=True)
    fast, _ = fixed_mul(a, b, a_fmt, b_fmt, out_fmt, "half_even", "saturate")
    assert fast.dtype == np.int64
    exact = multiply(a.astype(object), b.astype(object), a_fmt, b_fmt)
    slow, _ = narrow(exact.astype(object), QFormat(100, 30), out_fmt, "half_even", "saturate")
    assert list(fast) == [int(v) for v in slow]


def test_inputs_out_of_range_are_rejected():
    with pytest.raises(ValueError, match=r"a: stored int8 values must be integers in -128\.\.127, got 128"):
        multiply([128], [1], QFormat(8), QFormat(8))
    with pytest.raises(ValueError, match="rounding"):
        narrow([1], QFormat(8), QFormat(4), "nearest", "wrap")


def test_real_conversion_is_exact():
    r = np.array([1.5, -1.5, 0.5 / 256, 1.5 / 256, 127.998, 1e300, -1e-300, 0.0])
    q, over = from_real(r, Q8_8, "half_even", "saturate")
    assert list(q) == [384, -384, 0, 2, 32767, 32767, 0, 0]
    assert list(over) == [False, False, False, False, False, True, False, False]
    assert list(to_real(q[:2], Q8_8)) == [1.5, -1.5]


def test_golden_speed_is_vectorized():
    """Millions of int8 products: one NumPy pass, no Python loop per element."""
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 127, 1_000_000, endpoint=True)
    y, _ = fixed_mul(a, a[::-1], QFormat(8), QFormat(8))
    assert y.dtype == np.int64 and y.shape == a.shape and int(y[0]) == int(a[0]) * int(a[-1])
