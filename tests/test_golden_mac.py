"""The integer MAC golden against hand calculations and a plain Python loop."""

import numpy as np
import pytest

from nnarith.golden.mac import acc_range, dot, mac_stream

INT32 = dict(acc_width=32, acc_signed=True)


def test_dp4a_by_hand():
    # __dp4a(0x01020304, 0xFFFEFD04, 10) with signed bytes: 4*4 + 3*-3 + 2*-2 + 1*-1 + 10
    a = np.array([[4, 3, 2, 1]])
    b = np.array([[4, -3, -2, -1]])
    y, ovf = dot(a, b, [10], a_width=8, b_width=8, **INT32)
    assert y.tolist() == [16 - 9 - 4 - 1 + 10] and not ovf[0]


def test_unsigned_accumulator_and_mixed_signedness():
    a = np.array([[255, 255, 255, 255]])
    y, ovf = dot(a, a, [0], a_width=8, b_width=8, acc_width=32, acc_signed=False)
    assert y.tolist() == [4 * 255 * 255] and not ovf[0]
    y, _ = dot(a, np.array([[-128] * 4]), [0], a_width=8, b_width=8, **INT32)
    assert y.tolist() == [-4 * 255 * 128]


@pytest.mark.parametrize("overflow, expected", [("wrap", -(1 << 31)), ("saturate", (1 << 31) - 1)])
def test_int32_edges(overflow, expected):
    y, ovf = dot(np.array([[0]]), np.array([[0]]), [(1 << 31) - 1], a_width=8, b_width=8, **INT32,
                 overflow=overflow)
    assert y.tolist() == [(1 << 31) - 1] and not ovf[0]
    y, ovf = dot(np.array([[1]]), np.array([[1]]), [(1 << 31) - 1], a_width=8, b_width=8, **INT32,
                 overflow=overflow)
    assert y.tolist() == [expected] and ovf[0]


def test_int32_min_squared_needs_a_64_bit_accumulator():
    lo, _ = acc_range(32, True)
    y, ovf = mac_stream(np.array([[lo]] * 3), np.array([[lo]] * 3), [1, 0, 0], a_width=32,
                        b_width=32, acc_width=64, acc_signed=True, overflow="wrap")
    # 2**62, 2**63 wraps to -2**63, then back to -2**63 + 2**62
    assert y.tolist() == [1 << 62, -(1 << 63), -(1 << 62)]
    assert ovf.tolist() == [False, True, True]
    y, ovf = mac_stream(np.array([[lo]] * 3), np.array([[lo]] * 3), [1, 0, 0], a_width=32,
                        b_width=32, acc_width=64, acc_signed=True, overflow="saturate")
    assert y.tolist() == [1 << 62, (1 << 63) - 1, (1 << 63) - 1]


def test_stream_matches_a_python_loop_with_clears():
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 128, (5000, 2))
    b = rng.integers(-128, 128, (5000, 2))
    clear = rng.random(5000) < 0.01
    for overflow in ("wrap", "saturate"):
        y, sticky = mac_stream(a, b, clear, a_width=8, b_width=8, acc_width=18, acc_signed=True,
                               overflow=overflow)
        acc, flag = 0, False
        for i in range(5000):
            if clear[i]:
                acc, flag = 0, False
            total = acc + int(a[i] @ b[i])
            flag |= not -(1 << 17) <= total < (1 << 17)
            acc = (max(min(total, (1 << 17) - 1), -(1 << 17)) if overflow == "saturate"
                   else (total + (1 << 17)) % (1 << 18) - (1 << 17))
            assert (y[i], sticky[i]) == (acc, flag), i


def test_bad_overflow_mode_is_named():
    with pytest.raises(ValueError, match="overflow"):
        dot([[1]], [[1]], [0], a_width=8, b_width=8, **INT32, overflow="clamp")
