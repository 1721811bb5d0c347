"""2:4 structured-sparsity golden: the metadata codes against the list in
ANCHORS.md, pruning and round trips (every group of small values), sparse dot
== dense dot of the decompressed vector, every one of the 16 codes, integer
wrap/saturate edges, and the fp16 -> fp32 fused dot product against a plain
Fraction reference (random, specials, subnormals, cancellation, all modes)."""

import itertools
from fractions import Fraction

import numpy as np
import pytest

from nnarith.golden.float import RDN, RMM, RNE, RTZ, RUP
from nnarith.golden.formats import FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF, float_format
from nnarith.golden.sparse24 import (VALID_CODES, compress_24, decompress_24, dot_24, dot_24_fp16,
                             meta_code, meta_indices, meta_valid, select_24)

INT8 = dict(w_width=8, x_width=8, acc_width=32, acc_signed=True)
FP16, FP32 = float_format("fp16"), float_format("fp32")
ONE, NEG_ONE, INF, NINF, QNAN, SNAN = 0x3C00, 0xBC00, 0x7C00, 0xFC00, 0x7E00, 0x7C01
MIN_SUB, MAX_F16 = 0x0001, 0x7BFF


def test_valid_codes_are_the_anchors_list():
    # ../shared/ANCHORS.md: 0b0100, 0b1000, 0b1100, 0b1001, 0b1101, 0b1110
    assert sorted(VALID_CODES) == sorted([0b0100, 0b1000, 0b1100, 0b1001, 0b1101, 0b1110])
    pairs = [(i, j) for i in range(4) for j in range(4) if i < j]
    assert sorted(int(meta_code(i, j)) for i, j in pairs) == sorted(VALID_CODES)
    assert [c for c in range(16) if meta_valid(c)] == sorted(VALID_CODES)
    for outside in (-1, 16):                     # not a 4-bit code at all
        with pytest.raises(ValueError, match="^code: 4-bit metadata codes"):
            meta_valid(outside)


def test_hand_example():
    # groups [3, -7, 0, 1] [0, 0, 0, 0] [5, 5, 5, 5] [-128, 127, 1, -1]
    dense = np.array([3, -7, 0, 1, 0, 0, 0, 0, 5, 5, 5, 5, -128, 127, 1, -1], dtype=np.int8)
    values, meta = compress_24(dense)
    assert values.tolist() == [3, -7, 0, 0, 5, 5, -128, 127] and values.dtype == np.int8
    assert meta.tolist() == [0b0100] * 4
    assert decompress_24(values, meta).tolist() == [3, -7, 0, 0, 0, 0, 0, 0,
                                                    5, 5, 0, 0, -128, 127, 0, 0]
    x = np.arange(16)
    # 10 + 3*0 - 7*1 + 0 + 5*8 + 5*9 - 128*12 + 127*13 = 203
    y, ovf, error = dot_24(values, meta, x, 10, **INT8)
    assert (int(y), bool(ovf), bool(error)) == (203, False, False)
    # The first group's code made invalid: it adds nothing, 10 + 85 + 115 = 210.
    y, ovf, error = dot_24(values, [0b0000, 4, 4, 4], x, 10, **INT8)
    assert (int(y), bool(ovf), bool(error)) == (210, False, True)


def test_pruning_keeps_the_largest_magnitudes():
    values, meta = compress_24(np.array([[1, -9, 4, -4], [0, 0, 0, 7], [2, 2, -2, 2],
                                         [0, 0, 0, 0]]))
    assert values.tolist() == [[-9, 4], [0, 7], [2, 2], [0, 0]]
    assert meta.tolist() == [[0b1001], [0b1100], [0b0100], [0b0100]]
    # Floats: a NaN ranks with the infinities, ahead of every number.
    values, meta = compress_24(np.array([1.0, np.nan, -np.inf, 3.0], dtype=np.float16))
    assert np.isnan(values[0]) and values[1] == -np.inf and meta.tolist() == [0b1001]


def reference_compress(group):
    """Plain-Python pruning of one group: the two largest |x|, ties to the lower index."""
    order = sorted(range(4), key=lambda i: (-abs(group[i]), i))[:2]
    i, j = sorted(order)
    return [group[i], group[j]], i | (j << 2)


def test_every_small_group_compresses_and_round_trips():
    groups = np.array(list(itertools.product(range(-2, 3), repeat=4)), dtype=np.int64)
    values, meta = compress_24(groups)
    for group, kept, code in zip(groups.tolist(), values.tolist(), meta[:, 0].tolist()):
        assert (kept, code) == reference_compress(group), group
    assert meta_valid(meta).all()
    dense = decompress_24(values, meta)
    # Groups with at most two nonzeros survive whole; others lose their two smallest.
    few = (groups != 0).sum(axis=1) <= 2
    assert (dense[few] == groups[few]).all()
    assert (compress_24(dense)[0] == values).all()


def test_round_trip_of_random_2_4_vectors():
    rng = np.random.default_rng(1)
    codes = rng.choice(VALID_CODES, (500, 16))
    values = rng.integers(-128, 128, (500, 32))
    values[values == 0] = 1                      # nonzero kept values: positions are unique
    dense = decompress_24(values, codes)
    back_values, back_codes = compress_24(dense)
    assert (back_values == values).all() and (back_codes == codes).all()
    assert ((dense != 0).reshape(500, 16, 4).sum(-1) == 2).all()


def test_invalid_groups_decompress_to_zeros():
    values = np.array([[5, 6, 7, 8]])
    assert decompress_24(values, [[0b0000, 0b1110]]).tolist() == [[0, 0, 0, 0, 0, 0, 7, 8]]
    assert decompress_24(values, [[0b0111, 0b0001]]).tolist() == [[0] * 8]


@pytest.mark.parametrize("code", range(16))
def test_every_code_in_one_group(code):
    x = np.array([11, 13, 17, 19])
    y, ovf, error = dot_24([3, -5], [code], x, 1000, **INT8)
    i, j = meta_indices(code)
    valid = code in VALID_CODES
    assert (int(i), int(j)) == (code & 3, code >> 2)
    assert bool(error) == (not valid) and not ovf
    assert int(y) == (1000 + 3 * int(x[i]) - 5 * int(x[j]) if valid else 1000)
    weights, activations, _ = select_24([3, -5], [code], x)
    assert weights.tolist() == ([3, -5] if valid else [0, 0])
    assert activations.tolist() == ([int(x[i]), int(x[j])] if valid else [0, 0])


@pytest.mark.parametrize("signed", [True, False])
def test_sparse_dot_is_dense_dot_of_decompressed(signed):
    rng = np.random.default_rng(2)
    lo, hi = (-128, 128) if signed else (0, 256)
    k, n = 32, 2000
    values = rng.integers(lo, hi, (n, k // 2))
    codes = rng.choice(VALID_CODES, (n, k // 4))
    x = rng.integers(lo, hi, (n, k))
    c = rng.integers(-(1 << 20), 1 << 20, n) if signed else rng.integers(0, 1 << 20, n)
    shape = dict(w_width=8, x_width=8, acc_width=32, acc_signed=signed)
    y, ovf, error = dot_24(values, codes, x, c, **shape)
    dense = decompress_24(values, codes)
    assert (y == c + (dense * x).sum(axis=1)).all()
    assert not ovf.any() and not error.any()
    # The same with plain Python loops over the metadata.
    for row in range(0, n, 97):
        total = int(c[row])
        for g in range(k // 4):
            code = int(codes[row, g])
            total += int(values[row, 2 * g]) * int(x[row, 4 * g + (code & 3)])
            total += int(values[row, 2 * g + 1]) * int(x[row, 4 * g + (code >> 2)])
        assert int(y[row]) == total


@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_int_accumulator_edges(overflow):
    top, bottom = (1 << 31) - 1, -(1 << 31)
    cases = [  # c, values, x, exact sum
        (top, [1, 0], [1, 0, 0, 0], top + 1),
        (top, [0, 0], [1, 0, 0, 0], top),
        (bottom, [-1, 0], [1, 0, 0, 0], bottom - 1),
        (bottom, [-128, -128], [127, 127, 0, 0], bottom - 2 * 128 * 127),
        (top - 2 * 128 * 128 + 1, [-128, -128], [-128, -128, 0, 0], top + 1),
        (top - 2 * 128 * 128, [-128, -128], [-128, -128, 0, 0], top),
    ]
    c = [case[0] for case in cases]
    y, ovf, _ = dot_24([case[1] for case in cases], [[0b0100]] * len(cases),
                       [case[2] for case in cases], c, **INT8, overflow=overflow)
    for (_, _, _, exact), got, flag in zip(cases, y.tolist(), ovf.tolist()):
        outside = not bottom <= exact <= top
        fitted = (max(bottom, min(top, exact)) if overflow == "saturate"
                  else (exact - bottom) % (1 << 32) + bottom)
        assert (got, flag) == (fitted, outside), exact


def test_unsigned_narrow_accumulator_wraps_and_saturates():
    shape = dict(w_width=8, x_width=8, acc_width=16, acc_signed=False)
    values, x = [[255, 255]], [[255, 255, 0, 0]]
    assert dot_24(values, [[4]], x, [0], **shape)[0].tolist() == [2 * 255 * 255 - 65536]
    y, ovf, _ = dot_24(values, [[4]], x, [0], **shape, overflow="saturate")
    assert (y.tolist(), ovf.tolist()) == ([65535], [True])


def test_bad_shapes_name_the_argument():
    with pytest.raises(ValueError, match="^K: "):
        compress_24(np.zeros(6))
    with pytest.raises(ValueError, match="^values: "):
        decompress_24(np.zeros(3), [4, 4])
    with pytest.raises(ValueError, match="^x: "):
        select_24(np.zeros(4), [4, 4], np.zeros(12))


# -- fp16 -> fp32 fused -------------------------------------------------------

def fp_value(bits, fmt):
    """(kind, sign, Fraction): kind 'num', 'inf', 'nan' or 'snan'."""
    sign = bits >> (fmt.width - 1)
    field = (bits >> fmt.frac_bits) & ((1 << fmt.exp_bits) - 1)
    frac = bits & ((1 << fmt.frac_bits) - 1)
    if field == (1 << fmt.exp_bits) - 1:
        kind = "inf" if frac == 0 else "nan" if frac >> (fmt.frac_bits - 1) else "snan"
        return kind, sign, None
    scale = Fraction(2) ** (max(field, 1) - fmt.bias - fmt.frac_bits)
    return "num", sign, (frac + (1 << fmt.frac_bits if field else 0)) * scale


def round_magnitude(magnitude, fmt, rm, sign, bounded=True):
    """``magnitude`` rounded to ``fmt``'s precision (with its subnormal grid if
    ``bounded``, else with an unbounded exponent), by the mode's definition."""
    e = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    while Fraction(2) ** e > magnitude:
        e -= 1
    while Fraction(2) ** (e + 1) <= magnitude:
        e += 1
    quantum = Fraction(2) ** ((max(e, fmt.emin) if bounded else e) - fmt.frac_bits)
    kept = magnitude // quantum
    rest = magnitude / quantum - kept
    up = {RNE: rest > Fraction(1, 2) or (rest == Fraction(1, 2) and kept % 2 == 1),
          RTZ: False, RDN: sign == 1 and rest > 0, RUP: sign == 0 and rest > 0,
          RMM: rest >= Fraction(1, 2)}[rm]
    return (kept + up) * quantum


def reference_fp16_dot(values, codes, x, c, rm):
    """(bits, flags) of one fused 2:4 dot product (valid codes) by definition."""
    terms = []                                   # (kind, sign, value) of each product
    invalid = False
    for g, code in enumerate(codes):
        for slot, index in enumerate((code & 3, code >> 2)):
            w, a = fp_value(values[2 * g + slot], FP16), fp_value(x[4 * g + index], FP16)
            kinds = (w[0], a[0])
            zero_times_inf = ("inf" in kinds) and (w[2] == 0 or a[2] == 0)
            invalid |= "snan" in kinds or zero_times_inf
            if "nan" in kinds or "snan" in kinds or zero_times_inf:
                terms.append(("nan", 0, None))
            elif "inf" in kinds:
                terms.append(("inf", w[1] ^ a[1], None))
            else:
                terms.append(("num", w[1] ^ a[1], w[2] * a[2]))
    cv = fp_value(c, FP32)
    invalid |= cv[0] == "snan"
    terms.append(cv)
    kinds = {t[0] for t in terms}
    infinities = {t[1] for t in terms if t[0] == "inf"}
    if kinds & {"nan", "snan"} or len(infinities) == 2:
        invalid |= len(infinities) == 2 and not kinds & {"nan", "snan"}
        return FP32.nan_bits, FLAG_NV if invalid else 0
    if infinities:
        return (infinities.pop() << 31) | FP32.inf_bits, 0
    exact = sum((-1) ** s * v for _, s, v in terms)
    if exact == 0:
        all_zero = all(v == 0 for _, _, v in terms)
        signs = [s for _, s, _ in terms]
        negative = (all(signs) or (rm == RDN and any(signs))) if all_zero else rm == RDN
        return int(negative) << 31, 0
    sign, magnitude = int(exact < 0), abs(exact)
    rounded = round_magnitude(magnitude, FP32, rm, sign)
    flags = FLAG_NX if rounded != magnitude else 0
    largest = (2 - Fraction(2) ** -23) * Fraction(2) ** 127
    if rounded > largest:
        to_inf = rm in (RNE, RMM) or rm == (RDN if sign else RUP)
        return (sign << 31) | (FP32.inf_bits if to_inf else FP32.max_finite_bits), \
            FLAG_OF | FLAG_NX
    if flags and round_magnitude(magnitude, FP32, rm, sign, bounded=False) < Fraction(2) ** -126:
        flags |= FLAG_UF
    if rounded >= Fraction(2) ** -126:
        e = 0
        while Fraction(2) ** (e + 1) <= rounded:
            e += 1
        while Fraction(2) ** e > rounded:
            e -= 1
        fraction = rounded / Fraction(2) ** (e - 23) - (1 << 23)
        return (sign << 31) | ((e + 127) << 23) | int(fraction), flags
    return (sign << 31) | int(rounded / Fraction(2) ** -149), flags


def finite_fp16(rng, shape):
    """Finite fp16 patterns: half over the whole range, half within a few binades of 1."""
    bits = rng.integers(0, 1 << 16, shape, dtype=np.uint64)
    bits = np.where((bits >> np.uint64(10)) & np.uint64(31) == 31, bits ^ np.uint64(1 << 10), bits)
    near = (bits & np.uint64(0x83FF)) | np.uint64(14 << 10)
    return np.where(rng.random(shape) < 0.5, near, bits)


@pytest.mark.parametrize("rm", [RNE, RTZ, RDN, RUP, RMM])
def test_fp16_random_against_fractions(rm):
    rng = np.random.default_rng(10 + rm)
    n, k = 150, 16
    values, x = finite_fp16(rng, (n, k // 2)), finite_fp16(rng, (n, k))
    codes = rng.choice(VALID_CODES, (n, k // 4))
    c = rng.integers(0, 1 << 32, n, dtype=np.uint64)
    c = np.where((c >> np.uint64(23)) & np.uint64(255) == 255, c ^ np.uint64(1 << 23), c)
    c[::3] = 0
    # Every fourth vector: the second kept product cancels the first exactly.
    cancel = np.arange(0, n, 4)
    i0 = codes[cancel, 0] & 3
    i1 = codes[cancel, 0] >> 2
    values[cancel, 1] = values[cancel, 0] ^ np.uint64(0x8000)
    x[cancel, i1] = x[cancel, i0]
    bits, flags, error = dot_24_fp16(values, codes, x, c, rm=rm)
    assert not error.any()
    for row in range(n):
        expected = reference_fp16_dot(values[row].tolist(), codes[row].tolist(),
                                      x[row].tolist(), int(c[row]), rm)
        assert (int(bits[row]), int(flags[row])) == expected, (row, hex(int(bits[row])))


def test_fp16_sparse_is_dense_dot_of_decompressed_for_finite_data():
    rng = np.random.default_rng(3)
    n, k = 300, 8
    values, x = finite_fp16(rng, (n, k // 2)), finite_fp16(rng, (n, k))
    codes = rng.choice(VALID_CODES, (n, k // 4))
    c = rng.integers(0, 1 << 31, n, dtype=np.uint64) & np.uint64(0xBF7FFFFF)
    from nnarith.golden.mma import mma
    dense = decompress_24(values, codes)
    d, f = mma(dense[:, None, :], x[:, :, None], c[:, None, None], "fp16", "fp32", "fused")
    bits, flags, _ = dot_24_fp16(values, codes, x, c)
    assert (bits == d[:, 0, 0]).all() and (flags == f[:, 0, 0]).all()


def test_fp16_specials_against_fractions():
    specials = [0x0000, 0x8000, MIN_SUB, 0x8001, 0x03FF, 0x0400, MAX_F16, 0xFBFF, ONE, NEG_ONE,
                INF, NINF, QNAN, SNAN, 0x3555, 0xB555]
    c_specials = [0, 0x80000000, 1, 0x80800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
                  0x7FC00000, 0x7F800001, 0x3F800000, 0x00000001]
    rng = np.random.default_rng(4)
    n, k = 400, 8

    def mixed(table, finite, shape):
        pick = np.array(table, dtype=np.uint64)[rng.integers(0, len(table), shape)]
        return np.where(rng.random(shape) < 0.2, pick, finite)
    values = mixed(specials, finite_fp16(rng, (n, k // 2)), (n, k // 2))
    x = mixed(specials, finite_fp16(rng, (n, k)), (n, k))
    c = mixed(c_specials, rng.integers(0, 1 << 31, n, dtype=np.uint64) & np.uint64(0xBF7FFFFF), n)
    codes = rng.choice(VALID_CODES, (n, k // 4))
    for rm in (RNE, RDN, RUP):
        bits, flags, _ = dot_24_fp16(values, codes, x, c, rm=rm)
        for row in range(n):
            expected = reference_fp16_dot(values[row].tolist(), codes[row].tolist(),
                                          x[row].tolist(), int(c[row]), rm)
            assert (int(bits[row]), int(flags[row])) == expected, (row, rm)


def test_fp16_hand_cases():
    # One group keeping positions 1 and 3 (code 0b1101) of x = [inf, 1, NaN, 2].
    x = [INF, ONE, QNAN, 0x4000]
    cases = [  # values, c, rm, expected bits, flags
        ([ONE, ONE], 0x3F800000, RNE, 0x40800000, 0),             # 1 + 1 + 2 = 4
        ([ONE, NEG_ONE], 0x3F800000, RNE, 0x00000000, 0),        # 1 + 1 - 2 = +0
        ([ONE, NEG_ONE], 0x3F800000, RDN, 0x80000000, 0),        # cancellation rounding down
        ([MIN_SUB, MIN_SUB], 0, RNE, 0x34400000, 0),              # 3 * 2**-24 exactly
        ([MAX_F16, MAX_F16], 0x7F7FFFFF, RNE, 0x7F7FFFFF, FLAG_NX),  # tiny next to fp32 max
        ([MAX_F16, MAX_F16], 0x7F7FFFFF, RUP, 0x7F800000, FLAG_OF | FLAG_NX),
        ([ONE, ONE], 0x7F800000, RNE, 0x7F800000, 0),             # +inf c
        ([ONE, ONE], 0x7F800001, RNE, FP32.nan_bits, FLAG_NV),    # signaling NaN c
    ]
    for values, c, rm, expected, expected_flags in cases:
        bits, flags, error = dot_24_fp16([values], [[0b1101]], [x], [c], rm=rm)
        assert (int(bits[0]), int(flags[0]), bool(error[0])) == (expected, expected_flags, False), \
            (values, hex(c), rm)
    # Code 0b1000 selects the infinity and the NaN: NaN, quietly.
    bits, flags, _ = dot_24_fp16([[ONE, ONE]], [[0b1000]], [x], [0])
    assert (int(bits[0]), int(flags[0])) == (FP32.nan_bits, 0)
    # Code 0b0100 meets +inf and 1; a -1 weight on the inf: -inf.
    bits, _, _ = dot_24_fp16([[NEG_ONE, ONE]], [[0b0100]], [x], [0])
    assert int(bits[0]) == 0xFF800000
    # inf * 0 is invalid.
    bits, flags, _ = dot_24_fp16([[0x0000, ONE]], [[0b0100]], [x], [0])
    assert (int(bits[0]), int(flags[0])) == (FP32.nan_bits, FLAG_NV)


def test_fp16_invalid_group_adds_plus_zero():
    x = [INF, ONE, QNAN, 0x4000, ONE, ONE, ONE, ONE]
    # The invalid first group would select the inf and the NaN: it adds +0 instead.
    bits, flags, error = dot_24_fp16([[ONE, ONE, ONE, 0x4000]], [[0b0000, 0b0100]], [x],
                                     [0x3F800000])
    assert (int(bits[0]), int(flags[0]), bool(error[0])) == (0x40800000, 0, True)
    # All-negative zeros sum to -0, but the invalid group's +0 products make it +0.
    negative_zeros = [[0x8000, 0x8000, 0x8000, 0x8000]]
    bits, _, error = dot_24_fp16(negative_zeros, [[0b0100, 0b0100]], [[ONE] * 8], [0x80000000])
    assert (int(bits[0]), bool(error[0])) == (0x80000000, False)
    bits, _, error = dot_24_fp16(negative_zeros, [[0b0011, 0b0100]], [[ONE] * 8], [0x80000000])
    assert (int(bits[0]), bool(error[0])) == (0x00000000, True)


def test_fp16_per_vector_rounding_modes():
    rng = np.random.default_rng(6)
    values, x = finite_fp16(rng, (50, 4)), finite_fp16(rng, (50, 8))
    codes = rng.choice(VALID_CODES, (50, 2))
    c = np.full(50, 0x3F800001, dtype=np.uint64)
    rm = np.arange(50) % 5
    bits, flags, _ = dot_24_fp16(values, codes, x, c, rm=rm)
    for mode in range(5):
        one, one_flags, _ = dot_24_fp16(values[rm == mode], codes[rm == mode], x[rm == mode],
                                        c[rm == mode], rm=mode)
        assert (bits[rm == mode] == one).all() and (flags[rm == mode] == one_flags).all()
