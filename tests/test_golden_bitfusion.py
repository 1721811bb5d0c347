"""Bit Fusion golden: the BitBrick decomposition equals the integer product,
exhaustively for every precision pair and signedness up to 8x8; the packed
dot product and the running sum against a plain Python reference."""

import itertools

import numpy as np
import pytest

from nnarith.golden.bitfusion import (brick_slices, decode_mode, decomposed_product, encode_mode,
                              fusion_accumulate, fusion_dot, packed_width, precisions,
                              unpack_pairs)

SIGNS = list(itertools.product((False, True), repeat=2))


def _all_values(prec, is_signed):
    lo = -(1 << (prec - 1)) if is_signed else 0
    return np.arange(lo, lo + (1 << prec), dtype=np.int64)


@pytest.mark.parametrize("min_prec, px, py", [(2, 2, 2), (2, 2, 4), (2, 4, 2), (2, 4, 4),
                                              (2, 2, 8), (2, 8, 2), (2, 4, 8), (2, 8, 4),
                                              (2, 8, 8), (4, 4, 4), (4, 4, 8), (4, 8, 8)])
@pytest.mark.parametrize("x_signed, y_signed", SIGNS)
def test_decomposition_is_exact_for_every_pair(min_prec, px, py, x_signed, y_signed):
    grid = np.meshgrid(_all_values(px, x_signed), _all_values(py, y_signed), indexing="ij")
    x, y = (g.ravel() for g in grid)
    assert np.array_equal(decomposed_product(x, y, px, py, x_signed, y_signed, min_prec), x * y)


def test_seed_example_6_times_11():
    # 0110 x 1011: slices 6 = (01, 10), 11 = (10, 11), unsigned: no sign bit.
    assert brick_slices([6], 4, False).tolist() == [[2, 1]]
    assert brick_slices([11], 4, False).tolist() == [[3, 2]]
    products = {(i, j): [2, 1][i] * [3, 2][j] << 2 * (i + j) for i in (0, 1) for j in (0, 1)}
    assert products == {(0, 0): 6, (0, 1): 16, (1, 0): 12, (1, 1): 32}
    assert sum(products.values()) == 66
    assert decomposed_product([6], [11], 4, 4, False, False).tolist() == [66]


def test_sign_extension_only_on_the_top_slice():
    # -7 = 1001: slices 01 (low, unsigned: 1) and 10 (top, signed: -2); -2*4 + 1 = -7.
    assert brick_slices([-7], 4, True).tolist() == [[1, -2]]
    assert brick_slices([9], 4, False).tolist() == [[1, 2]]
    assert brick_slices([-128], 8, True).tolist() == [[0, 0, 0, -2]]


def _reference_dot(a, w, mode, max_prec, min_prec):
    """One operation, Python ints, straight from the packing rules."""
    code_a, code_b = mode & 3, (mode >> 2) & 3
    pa, pb = min_prec << code_a, min_prec << code_b
    if pa > max_prec or pb > max_prec:
        return 0, False

    def field(word, i, width, is_signed):
        value = (word >> (i * width)) & ((1 << width) - 1)
        return value - (1 << width) if is_signed and value >> (width - 1) else value
    n = (max_prec // pa) * (max_prec // pb)
    return sum(field(a, i, pa, mode >> 4 & 1) * field(w, i, pb, mode >> 5 & 1)
               for i in range(n)), True


@pytest.mark.parametrize("max_prec, min_prec", [(8, 2), (16, 4), (8, 4), (16, 2)])
def test_fusion_dot_against_python_reference(max_prec, min_prec):
    rng = np.random.default_rng(3)
    count = 4000
    width = packed_width(max_prec, min_prec)
    a = [int(x) for x in rng.integers(0, 1 << 62, count)] if width <= 62 else \
        [int.from_bytes(rng.bytes(width // 8), "little") for _ in range(count)]
    w = [int.from_bytes(rng.bytes(width // 8), "little") for _ in range(count)]
    mode = rng.integers(0, 64, count)
    a_arr = np.array(a, dtype=object if width > 63 else np.uint64)
    w_arr = np.array(w, dtype=object if width > 63 else np.uint64)
    dot, legal = fusion_dot(a_arr, w_arr, mode, max_prec, min_prec)
    for i in range(count):
        assert (int(dot[i]), bool(legal[i])) == _reference_dot(a[i], w[i], int(mode[i]),
                                                              max_prec, min_prec)


def test_every_mode_pairs_and_unpacking():
    for pa, pb in itertools.product(precisions(), repeat=2):
        for a_signed, w_signed in SIGNS:
            mode = encode_mode(pa, pb, a_signed, w_signed)
            decoded = [np.asarray(v).item() for v in decode_mode(mode)]
            assert decoded == [pa, pb, a_signed, w_signed, True]
    a, w = unpack_pairs(np.array([0xFF_FE_01_80], dtype=np.uint64), np.array([0x8040], np.uint64),
                        8, 4, True, False)
    assert a.tolist() == [[-128, 1]] and w.tolist() == [[0, 4]]   # higher bits ignored


def test_illegal_codes_contribute_zero_and_flag():
    assert decode_mode(3)[4].item() is False and decode_mode(0b1100)[4].item() is False
    assert decode_mode(3, 16, 2)[4].item() is True
    assert decode_mode(0b10, 8, 4)[4].item() is False
    ones = np.array([0xFFFFFFFF] * 3, dtype=np.uint64)
    dot, legal = fusion_dot(ones, ones, np.array([3, 0b1100, 0]))
    assert dot.tolist() == [0, 0, 16 * 9] and legal.tolist() == [False, False, True]


def test_accumulate_matches_a_python_loop():
    rng = np.random.default_rng(5)
    count = 5000
    a = rng.integers(0, 1 << 32, count, dtype=np.uint64)
    w = rng.integers(0, 1 << 32, count, dtype=np.uint64)
    mode = rng.choice([0, 3, 10, 26, 58, 63], count)     # 63 has illegal codes
    clear = rng.random(count) < 0.01
    for acc_width in (17, 32, 64):
        acc, error = fusion_accumulate(a, w, mode, clear, acc_width)
        expect, state = [], 0
        for i in range(count):
            dot, legal = _reference_dot(int(a[i]), int(w[i]), int(mode[i]), 8, 2)
            state = (0 if clear[i] else state) + dot
            state = (state + (1 << (acc_width - 1))) % (1 << acc_width) - (1 << (acc_width - 1))
            expect.append((state, not legal))
        assert list(zip(acc.tolist(), error.tolist())) == expect


def test_accumulate_wraps_long_streams():
    count = 70_000
    ones = np.full(count, 0xFF, dtype=np.uint64)          # 255 * 255 in unsigned 8x8 mode
    acc, _ = fusion_accumulate(ones, ones, np.full(count, encode_mode(8, 8, False, False)),
                               np.zeros(count, bool), 32)
    total = count * 255 * 255
    assert acc[-1] == (total + 2**31) % 2**32 - 2**31 and total >= 2**32
