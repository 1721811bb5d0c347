"""The golden models' public API: value-level helpers (nnarith.golden.values)
against NumPy and ml_dtypes wherever those round exactly once, the checks on
every bit-level input (one ValueError naming the parameter), rounding modes by
name or code, and scalar inputs."""

import ml_dtypes
import numpy as np
import pytest

from nnarith.golden import bitfusion, csr, fixed, kulisch, mac, quant, sparse, sparse24, values
from nnarith.golden.float import (FP64, RDN, RMM, RNE, RTZ, RUP, decode, fma, fma_accumulate,
                                  from_float64, multiply, round_pack, to_float64)
from nnarith.golden.formats import FLAG_NX, FLOAT_FORMATS, QFormat
from nnarith.golden.mma import block_fma, gemm, mma, widen_to_fp16

BF16, E4M3, E5M2 = ml_dtypes.bfloat16, ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e5m2
UINT = {8: np.uint8, 16: np.uint16, 32: np.uint32, 64: np.uint64}


def random_floats(rng, dtype, count):
    """Uniformly random bit patterns of ``dtype``, viewed as floats."""
    width = np.dtype(dtype).itemsize * 8
    return rng.integers(0, 1 << width, count, dtype=np.uint64).astype(UINT[width]).view(dtype)


def special_floats(dtype):
    """±0, the smallest subnormals, ±1, the largest finite, ±inf, NaN (as the dtype has them)."""
    info = ml_dtypes.finfo(dtype)
    picks = [0.0, -0.0, 1.0, -1.0, float(info.smallest_subnormal), -float(info.smallest_subnormal),
             float(info.smallest_normal), float(info.max), -float(info.max), np.inf, -np.inf,
             np.nan]
    return np.array(picks, dtype=np.float64).astype(dtype)


def assert_same_floats(got, expect):
    """Bit-equal, except that NaNs are compared as NaN-ness, not payload."""
    assert got.dtype == expect.dtype and got.shape == expect.shape
    width = got.dtype.itemsize * 8
    got_nan, expect_nan = (np.isnan(x.astype(np.float64)) for x in (got, expect))
    assert np.array_equal(got_nan, expect_nan)
    got_bits, expect_bits = got.view(UINT[width]), expect.view(UINT[width])
    bad = np.flatnonzero((got_bits != expect_bits) & ~got_nan)
    assert bad.size == 0, f"{bad.size} mismatches, first at {bad[0]}: " \
        f"{got_bits[bad[0]]:#x} != {expect_bits[bad[0]]:#x}"


# ---- value helpers against NumPy / ml_dtypes -------------------------------------------------

def operand_pairs(rng, dtype, count):
    specials = special_floats(dtype)
    a, b = np.meshgrid(specials, specials)
    return (np.concatenate([a.ravel(), random_floats(rng, dtype, count)]),
            np.concatenate([b.ravel(), random_floats(rng, dtype, count)]))


def test_fp16_multiply_matches_numpy():
    """fp16 x fp16 is exact in float32, so NumPy's float32 -> float16 cast rounds once."""
    a, b = operand_pairs(np.random.default_rng(1), np.float16, 300_000)
    with np.errstate(all="ignore"):
        exact = a.astype(np.float32) * b.astype(np.float32)
    got, flags = values.multiply(a, b, flags=True)
    with np.errstate(over="ignore"):
        assert_same_floats(got, exact.astype(np.float16))
    nan = np.isnan(got)
    assert (got[nan].view(np.uint16) == FLOAT_FORMATS["fp16"].nan_bits).all()   # canonical NaN
    finite = np.isfinite(exact)
    assert np.array_equal((flags[finite] & FLAG_NX) != 0, got[finite].astype(np.float32)
                          != exact[finite])


def test_bf16_multiply_matches_ml_dtypes():
    """ml_dtypes multiplies bf16 in float32, exactly unless the product falls
    below float32's subnormal grid (float32 would round first, then bf16):
    those products are left out. Overflow rounds once either way."""
    a, b = operand_pairs(np.random.default_rng(2), BF16, 300_000)
    with np.errstate(all="ignore"):
        exact = a.astype(np.float64) * b.astype(np.float64)
        keep = (exact.astype(np.float32).astype(np.float64) == exact) | ~np.isfinite(exact) \
            | (np.abs(exact) > np.finfo(np.float32).max)
        assert keep.mean() > 0.85
        assert_same_floats(values.multiply(a[keep], b[keep]), a[keep] * b[keep])


@pytest.mark.parametrize("dtype", [E4M3, E5M2], ids=["e4m3", "e5m2"])
def test_fp8_multiply_every_pair_matches_ml_dtypes(dtype):
    every = np.arange(256, dtype=np.uint8).view(dtype)
    a, b = np.meshgrid(every, every)
    with np.errstate(all="ignore"):
        assert_same_floats(values.multiply(a, b), a * b)


@pytest.mark.parametrize("dtype", [E4M3, E5M2], ids=["e4m3", "e5m2"])
def test_widen_to_fp16_every_pattern_matches_ml_dtypes(dtype):
    """The pair split's exact FP8 -> fp16 widening (subnormals, E4M3's top binade,
    E5M2's infinities; NaN as NaN)."""
    every = np.arange(256, dtype=np.uint8)
    fmt = FLOAT_FORMATS["e4m3" if dtype is E4M3 else "e5m2"]
    got = widen_to_fp16(every.astype(np.uint64), fmt)
    assert got.dtype == np.uint64 and got.max() < 1 << 16
    assert_same_floats(got.astype(np.uint16).view(np.float16), every.view(dtype).astype(np.float16))
    assert (widen_to_fp16(got, FLOAT_FORMATS["fp16"]) == got).all()


@pytest.mark.parametrize("dtype", [np.float16, BF16, E4M3, E5M2], ids=str)
def test_convert_from_float32_matches_casts(dtype):
    rng = np.random.default_rng(3)
    x = np.concatenate([special_floats(np.float32), random_floats(rng, np.float32, 100_000),
                        (rng.standard_normal(100_000) * 10.0 ** rng.integers(-9, 5, 100_000))
                        .astype(np.float32)])
    with np.errstate(all="ignore"):
        assert_same_floats(values.convert(x, dtype), x.astype(dtype))


def directed(s, nearest, mode, p, c):
    """The float16 result of exact float64 sums ``s`` in ``mode``, from the
    round-to-nearest-even result and its neighbours."""
    down = np.where(nearest <= s, nearest, np.nextafter(nearest, np.float16(-np.inf)))
    up = np.where(nearest >= s, nearest, np.nextafter(nearest, np.float16(np.inf)))
    tie = (down.astype(np.float64) + up.astype(np.float64)) / 2 == s
    result = {RNE: nearest, RDN: down, RUP: up, RTZ: np.where(s > 0, down, up),
              RMM: np.where(tie & (down != up), np.where(s > 0, up, down), nearest)}[mode]
    # An exact zero sum is +0, in RDN -0, unless both terms are zeros of one sign.
    both_zero_same_sign = (p == 0) & (c == 0) & (np.signbit(p) == np.signbit(c))
    zero = np.where(both_zero_same_sign, nearest, np.float16(-0.0 if mode == RDN else 0.0))
    return np.where(s == 0, zero, result).astype(np.float16)


@pytest.mark.parametrize("mode", [RNE, RTZ, RDN, RUP, RMM], ids="rne rtz rdn rup rmm".split())
def test_fp16_fma_matches_exact_float64_sums(mode):
    """fp16 a*b is exact in float64; where a*b + c is too (no bits lost to the
    53-bit significand), NumPy's float64 -> float16 cast rounds it once."""
    rng = np.random.default_rng(10 + mode)
    count = 100_000
    a, b, c = (random_floats(rng, np.float16, count) for _ in range(3))
    finite = np.isfinite(a) & np.isfinite(b) & np.isfinite(c)
    a, b, c = a[finite], b[finite], c[finite]
    p = a.astype(np.float64) * b.astype(np.float64)
    s = p + c.astype(np.float64)
    exact = (s - p == c) & (s - c == p)                    # no rounding in the float64 sum
    assert exact.mean() > 0.5
    a, b, c, p, s = a[exact], b[exact], c[exact], p[exact], s[exact]
    got, flags = values.fma(a, b, c, rm=mode, flags=True)
    with np.errstate(over="ignore"):
        expect = directed(s, s.astype(np.float16), mode, p, c.astype(np.float64))
    assert_same_floats(got, expect)
    assert np.array_equal((flags & FLAG_NX) != 0, got.astype(np.float64) != s)


def test_fma_into_float32_and_specials():
    rng = np.random.default_rng(11)
    a, b = (np.concatenate([np.repeat(special_floats(np.float16), 12),
                            random_floats(rng, np.float16, 50_000)]) for _ in range(2))
    c = np.concatenate([np.tile(special_floats(np.float32), 12),
                        rng.standard_normal(50_000).astype(np.float32)])
    with np.errstate(invalid="ignore"):
        p = a.astype(np.float64) * b.astype(np.float64)
        s = p + c.astype(np.float64)
        exact = ((s - p == c) & (s - c == p)) | ~np.isfinite(s)
    got = values.fma(a[exact], b[exact], c[exact])
    assert got.dtype == np.float32
    assert_same_floats(got, s[exact].astype(np.float32))
    assert got[np.isnan(got)].view(np.uint32).tolist() == \
        [FLOAT_FORMATS["fp32"].nan_bits] * int(np.isnan(got).sum())


def test_mma_fused_matches_exact_float64():
    """Small-range operands keep A·B + C exact in float64: one rounding to float32."""
    rng = np.random.default_rng(12)
    A = (rng.choice([-1, 1], (50, 4, 8)) * rng.uniform(2.0 ** -6, 4, (50, 4, 8))).astype(np.float16)
    B = (rng.choice([-1, 1], (50, 8, 4)) * rng.uniform(2.0 ** -6, 4, (50, 8, 4))).astype(np.float16)
    C = (rng.uniform(-4, 4, (50, 4, 4))).astype(np.float32)
    exact = A.astype(np.float64) @ B.astype(np.float64) + C
    assert_same_floats(values.mma(A, B, C), exact.astype(np.float32))
    assert_same_floats(values.mma(A, B, out_dtype=np.float32),
                       (A.astype(np.float64) @ B.astype(np.float64)).astype(np.float32))


def test_mma_chain_is_a_loop_of_fmas_and_tensorcore_the_bit_level():
    rng = np.random.default_rng(13)
    A, B = random_floats(rng, np.float16, 32).reshape(2, 4, 4), \
        random_floats(rng, np.float16, 32).reshape(2, 4, 4)
    C = rng.standard_normal((2, 4, 4)).astype(np.float32)
    d = C
    for k in range(4):
        d = values.fma(A[..., :, k, None], B[..., None, k, :], d, rm="rdn")
    assert_same_floats(values.mma(A, B, C, mode="chain", rm="rdn"), d)
    got, flags = values.mma(A, B, C, mode="tensorcore", gpu="a100", flags=True)
    bits, _ = mma(values.to_bits(A), values.to_bits(B), values.to_bits(C), "fp16", "fp32",
                  "tensorcore", gpu="a100")
    assert flags is None and got.dtype == np.float32
    assert np.array_equal(got.view(np.uint32), bits.astype(np.uint32))


@pytest.mark.parametrize("dtype", [E4M3, E5M2], ids=["e4m3", "e5m2"])
def test_mma_tensorcore_fp8_is_the_bit_level_with_its_instruction(dtype):
    rng = np.random.default_rng(14)
    A = (rng.standard_normal((2, 3, 64)) * 2).astype(dtype)
    B = (rng.standard_normal((2, 64, 4)) * 2).astype(dtype)
    C = rng.standard_normal((2, 3, 4)).astype(np.float32)
    fmt = "e4m3" if dtype is E4M3 else "e5m2"
    results = {}
    for gpu, instr in (("ada", None), ("h100", None), ("h100", "wgmma"), ("h100", "mma")):
        got = values.mma(A, B, C, mode="tensorcore", gpu=gpu, instr=instr)
        bits, _ = mma(values.to_bits(A), values.to_bits(B), values.to_bits(C), fmt, "fp32",
                      "tensorcore", gpu=gpu, instr=instr)
        assert got.dtype == np.float32
        assert np.array_equal(got.view(np.uint32), bits.astype(np.uint32))
        results[gpu, instr] = bits
    assert np.array_equal(results["h100", None], results["h100", "wgmma"])     # the default
    assert not np.array_equal(results["h100", "wgmma"], results["h100", "mma"])
    half = values.mma(A, B, C.astype(np.float16), mode="tensorcore", gpu="h100")
    assert half.dtype == np.float16 and np.array_equal(
        half.view(np.uint16), mma(values.to_bits(A), values.to_bits(B),
                                  values.to_bits(C.astype(np.float16)), fmt, "fp16",
                                  "tensorcore", gpu="h100", instr="mma")[0].astype(np.uint16))


@pytest.mark.parametrize("fmt", list(values.FORMAT_DTYPES))
def test_bits_round_trip(fmt):
    dtype = values.dtype_of(fmt)
    assert values.format_of(dtype) == fmt
    width = dtype.itemsize * 8
    bits = np.random.default_rng(4).integers(0, 1 << width, 1000, dtype=np.uint64, endpoint=False)
    x = values.from_bits(bits, fmt)
    assert x.dtype == dtype and np.array_equal(values.to_bits(x), bits)
    one = values.from_bits(values.to_bits(np.ones((), dtype)), fmt)
    assert isinstance(one, np.generic) and one == 1


def test_value_results_keep_the_golden_numerics():
    """What the helpers add to NumPy: modes, saturation, flags, canonical NaN."""
    big = np.float16(60000.0)
    assert np.isinf(values.multiply(big, big))
    assert values.multiply(big, big, rm="rtz") == np.float16(65504.0)
    assert values.multiply(big, big, saturate=True) == np.float16(65504.0)
    y, flags = values.multiply(np.float16(np.inf), np.float16(0.0), flags=True)
    assert flags == 16 and values.to_bits(y) == 0x7E00
    tiny = np.float16(2.0 ** -14)
    assert values.multiply(tiny, np.float16(0.5)) == np.float16(2.0 ** -15)
    assert values.multiply(tiny, np.float16(0.5), ftz=True) == 0
    mixed = values.multiply(np.float16(3.0), BF16(1.5), out_dtype=np.float32)
    assert mixed.dtype == np.float32 and mixed == 4.5


# ---- rounding modes ----------------------------------------------------------------------------

def test_round_modes_by_name_or_code():
    rng = np.random.default_rng(5)
    a, b = (rng.integers(0, 1 << 16, 20_000, dtype=np.uint64) for _ in range(2))
    by_code = {}
    for code, name in enumerate(["rne", "RTZ", "Rdn", "rup", "rmm"]):
        by_code[code] = multiply(a, b, "fp16", rm=code)
        for rm in (name, name.upper(), name.lower(), np.int8(code)):
            y, flags = multiply(a, b, "fp16", rm=rm)
            assert np.array_equal(y, by_code[code][0]) and np.array_equal(flags, by_code[code][1])
    # the five modes really differ, so a wrong name -> code mapping would show
    assert len({by_code[code][0].tobytes() for code in by_code}) == 5
    assert values.multiply(np.float16(1.0), np.float16(1.0 + 2.0 ** -10), rm="rup") \
        == np.float16(1.0 + 2.0 ** -10)


def test_per_element_modes_and_the_reserved_port_codes():
    rng = np.random.default_rng(6)
    a, b = (rng.integers(0, 1 << 16, 5000, dtype=np.uint64) for _ in range(2))
    rm = rng.integers(0, 5, 5000)
    y, _ = multiply(a, b, "fp16", rm=rm)
    for code in range(5):
        assert np.array_equal(y[rm == code], multiply(a[rm == code], b[rm == code], "fp16",
                                                      rm=code)[0])
    # a 3-bit rm port also carries 5..7, which the units (and the model) read as RTZ
    assert np.array_equal(multiply(a, b, "fp16", rm=np.full(5000, 6))[0],
                          multiply(a, b, "fp16", rm="rtz")[0])


# ---- bad inputs: one ValueError naming the parameter ---------------------------------------------

F16 = np.array([0x3C00], dtype=np.uint64)
BAD_INPUTS = [
    # float dtype to bit level, with the pointer to the value helpers
    (lambda: multiply(np.float16([1.0]), F16, "fp16"),
     r"^a: fp16 bit patterns must be integers in 0\.\.0xffff, got float16 array "
     r"\(for float values use nnarith\.golden\.values\.multiply\)$"),
    (lambda: fma(F16, F16, np.float32([1.0]), "fp16", c_fmt="fp32"),
     r"^c: fp32 bit patterns .* got float32 array \(for float values use .*values\.fma\)"),
    (lambda: mma(np.zeros((4, 4)), np.zeros((4, 4), int), np.zeros((4, 4), int), "fp16", "fp32",
                 "fused"), r"^A: fp16 bit patterns .* got float64 array"),
    (lambda: multiply(1.5, F16, "fp16"), r"^a: .* got float 1\.5 \(for float values"),
    # out of range
    (lambda: multiply(0x10000, F16, "fp16"), r"^a: fp16 bit patterns .* got 0x10000$"),
    (lambda: multiply(F16, [1, -1], "fp16"), r"^b: fp16 .* got -0x1 at index \(1,\)$"),
    (lambda: fma(F16, F16, 1 << 32, "fp16", c_fmt="fp32"), r"^c: fp32 bit patterns .*0xffffffff"),
    (lambda: to_float64([0, 256], "e4m3"), r"^bits: e4m3 bit patterns .* got 0x100 at index"),
    # bools, objects, strings, None
    (lambda: multiply(True, F16, "fp16"), r"^a: .* got bool True$"),
    (lambda: multiply(np.array([True, False]), F16, "fp16"), r"^a: .* got bool array$"),
    (lambda: multiply(np.array([1, "x"], dtype=object), F16, "fp16"), r"^a: .* got object array$"),
    (lambda: multiply(np.array([1.5], dtype=object), F16, "fp16"), r"^a: .* got object array$"),
    (lambda: multiply(None, F16, "fp16"), r"^a: .* got NoneType None$"),
    (lambda: multiply("0x3c00", F16, "fp16"), r"^a: .* got '0x3c00'$"),
    (lambda: multiply([[1, 2], [3]], F16, "fp16"), r"^a: .* got ragged list$"),
    # rounding modes
    (lambda: multiply(F16, F16, "fp16", rm=7),
     r"^rm: must be one of rne \(0\), rtz \(1\), rdn \(2\), rup \(3\), rmm \(4\), got 7$"),
    (lambda: fma(F16, F16, F16, "fp16", rm="foo"), r"^rm: must be one of .* got 'foo'$"),
    (lambda: multiply(F16, F16, "fp16", rm=True), r"^rm: .* got bool True$"),
    (lambda: multiply(F16, F16, "fp16", rm=1.0), r"^rm: .* got float 1\.0$"),
    (lambda: multiply(F16, F16, "fp16", rm=[0, 8]), r"^rm: per-element modes .* got 8 at index"),
    (lambda: mma(np.zeros((1, 1), int), np.zeros((1, 1), int), np.zeros((1, 1), int), "fp16",
                 "fp32", "fused", rm=7), r"^rm: must be one of"),
    (lambda: kulisch.kulisch_accumulate(F16, F16, [1], rm=5), r"^rm: must be one of .* got 5$"),
    (lambda: values.multiply(np.float16(1), np.float16(1), rm="nearest"), r"^rm: must be one of"),
    # formats
    (lambda: multiply(F16, F16, "fp17"),
     r"^a_fmt: must be one of fp32, tf32, fp16, bf16, e5m2, e4m3 or eXmY"),
    (lambda: fma(F16, F16, F16, "fp16", out_fmt="half"), r"^out_fmt: must be one of fp32"),
    (lambda: decode(F16, "float16"), r"^fmt: must be one of fp32"),
    (lambda: values.from_bits([0], "tf32"), r"^fmt: must be one of fp16, .* bit-level only"),
    # options
    (lambda: multiply(F16, F16, "fp16", ftz="no"), r"^ftz: must be True or False, got 'no'$"),
    (lambda: fma_accumulate(F16, F16, [2], "fp16"), r"^clear: flags .* got 2 at index \(0,\)$"),
    # value level: the dtype names the format
    (lambda: values.multiply(np.int16(3), np.float16(1)),
     r"^a: must be NumPy floats of dtype float16, bfloat16, float32, float64, float8_e4m3fn, "
     r"float8_e5m2, got int16 3 \(for bit patterns use nnarith\.golden\.float\.multiply\)$"),
    (lambda: values.multiply(np.float16(1), 1.5), r"^b: .* got float 1\.5 \(give it a dtype"),
    (lambda: values.multiply(np.float16(1), [1.5]), r"^b: must be NumPy floats"),
    (lambda: values.fma(np.float16(1), np.float16(1), np.array([True])), r"^c: .* got bool array"),
    (lambda: values.multiply(np.array([1.0], dtype=object), np.float16(1)), r"^a: .* object array"),
    (lambda: values.multiply(np.ones(2, ml_dtypes.float8_e4m3fnuz), np.float16(1)),
     r"^a: .* got float8_e4m3fnuz array$"),
    (lambda: values.multiply(np.float16(1), np.float32(1)), r"^out_dtype: must be given when a"),
    (lambda: values.multiply(np.float16(1), np.float16(1), out_dtype=np.int8),
     r"^out_dtype: must be one of"),
    (lambda: values.mma(np.ones((2, 2), np.float16), np.ones((2, 2), BF16)),
     r"^B: must have A's dtype float16"),
    (lambda: values.mma(np.ones((2, 2), E4M3), np.ones((2, 2), E4M3), np.ones((2, 2), np.float32),
                        mode="tensorcore", gpu="h100", instr="tcgen05"),
     r"^instr: h100 e4m3->fp32 runs on wgmma or mma, got 'tcgen05'$"),
    (lambda: values.to_bits(np.arange(3)), r"^x: must be NumPy floats"),
    (lambda: from_float64(np.int64(3), "fp16"), r"^x: must be floats .* got int64 3$"),
    # the other bit-level models
    (lambda: round_pack(0, -1, 0, "fp16"), r"^sig: significands must be integers >= 0, got -1$"),
    (lambda: round_pack(2, 1, 0, "fp16"), r"^sign: signs must be integers in 0\.\.1, got 2$"),
    (lambda: block_fma(np.zeros((1, 4)), np.zeros((1, 4), int), 0, "fp16", "fp32", "v100"),
     r"^a: fp16 bit patterns .* float64 array"),
    (lambda: gemm(np.zeros((4, 4), int), np.full((4, 4), 1 << 16), np.zeros((4, 4), int), "fp16",
                  "fp32", "fused", tile_k=2), r"^B: fp16 bit patterns .* got 0x10000"),
    (lambda: kulisch.kulisch_accumulate(np.float16([1.0]), F16, [1], RNE), r"^a: fp16 bit"),
    (lambda: fixed.multiply([1.5], [1], QFormat(8), QFormat(8)),
     r"^a: stored int8 values must be integers in -128\.\.127, got list of floats$"),
    (lambda: fixed.narrow([1 << 16], QFormat(16, 8), QFormat(8)),
     r"^x: stored q8\.8 values must be integers in -32768\.\.32767, got 65536 at index"),
    (lambda: fixed.fixed_mul([1], [1], "q8.8", QFormat(8)), r"^a_fmt: must be a QFormat"),
    (lambda: mac.dot([[1.0]], [[1]], [0], a_width=8, b_width=8, acc_width=32, acc_signed=True),
     r"^a: 8-bit lanes must be integers in -128\.\.255, got list of floats$"),
    (lambda: mac.dot([[1]], [[256]], [0], a_width=8, b_width=8, acc_width=32, acc_signed=True),
     r"^b: 8-bit lanes .* got 256 at index \(0, 0\)$"),
    (lambda: mac.mac_stream([[1]], [[1]], [0.5], a_width=8, b_width=8, acc_width=32,
                            acc_signed=True), r"^clear: flags"),
    (lambda: quant.requantize(np.array([1.5]), 1 << 30, 0, 0), r"^acc: int32 values"),
    (lambda: quant.rounding_divide_by_pot([1], [32]), r"^exponent: shift counts .* 0\.\.31"),
    (lambda: quant.multiply_by_quantized_multiplier([1], [True], 0), r"^multiplier: .* bool"),
    (lambda: bitfusion.decode_mode(64), r"^mode: mode words must be integers in 0\.\.63, got 64$"),
    (lambda: bitfusion.fusion_dot([1.0], [1], 0),
     r"^a_bits: packed words must be integers >= 0, got list of floats$"),
    (lambda: bitfusion.brick_product([4], [0], [1], [0]), r"^a: 2-bit slices .* got 4 at index"),
    (lambda: bitfusion.encode_mode(3, 2, True, False), r"^pa: must be one of 2, 4, 8, 16, got 3$"),
    (lambda: sparse.bitmask_encode([0.5, 0], 4), r"^x: values must be integers within int64"),
    (lambda: sparse.chunk_dots([[1]], [[1]], [1], [[1]], [[1.5]], [1]), r"^b_slots: values"),
    (lambda: sparse24.meta_valid(16), r"^code: 4-bit metadata codes must be integers in 0\.\.15"),
    (lambda: sparse24.dot_24_fp16([0, 0], [4], [0, 0, 0, 0.0], 0), r"^x: fp16 bit patterns"),
    (lambda: sparse24.dot_24([128, 0], [4], [0] * 4, 0, w_width=7, x_width=8, acc_width=32,
                             acc_signed=True), r"^values: 7-bit lanes .* got 128"),
    (lambda: csr.csr_dot([0.0], [1], [0], [1]),
     r"^ai: indices must be integers in 0\.\.2\*\*63 - 1, got list of floats$"),
    (lambda: csr.csr_join([0, 1], [1], [0], [1]), r"^ai, av: must have one length"),
]


@pytest.mark.parametrize("call, message", BAD_INPUTS, ids=[m[1:40] for _, m in BAD_INPUTS])
def test_bad_inputs_name_the_parameter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---- scalars -----------------------------------------------------------------------------------

def test_scalars_give_scalars():
    y, flags = multiply(0x3C00, np.uint16(0x4000), "fp16")
    assert isinstance(y, np.uint64) and isinstance(flags, np.int64) and int(y) == 0x4000
    y, flags = fma(0x3C00, 0x4000, 0x3C00, "fp16", rm="rup")
    assert np.shape(y) == () and int(y) == 0x4200
    assert round_pack(0, 3, -1, "fp16")[0] == 0x3E00
    assert to_float64(0xC000, "fp16") == -2.0 and np.shape(to_float64(0xC000, "fp16")) == ()
    bits, _ = from_float64(1.5, "bf16")
    assert bits == 0x3FC0 and np.shape(bits) == ()
    assert decode(0x3C00, "fp16").sig == 1024
    assert fixed.multiply(-3, 5, QFormat(8), QFormat(8)) == -15
    assert np.shape(fixed.narrow(300, QFormat(16, 4), QFormat(8, 0))[0]) == ()
    assert sparse24.meta_code(1, 3) == 0b1101
    assert quant.wrap_int32(1 << 31) == quant.INT32_MIN
    for dtype in (np.float16, BF16, np.float32, np.float64, E4M3, E5M2):
        product = values.multiply(dtype(1.5), dtype(-2.0))
        assert isinstance(product, dtype) and product == -3.0
    assert values.fma(np.float16(2), np.float16(3), np.float32(1)) == np.float32(7.0)
    assert values.to_bits(np.float16(1.0)) == 0x3C00



def test_scalars_broadcast_against_arrays_and_lists_of_ints_work():
    y, _ = multiply([0x3C00, 0x4000, 0xC000], 0x4000, "fp16")
    assert y.tolist() == [0x4000, 0x4400, 0xC400]
    y, _ = multiply(np.array([[0x3C00], [0x4000]], dtype=np.int16), [0x3C00, 0x4000], "fp16")
    assert y.shape == (2, 2) and y.tolist() == [[0x3C00, 0x4000], [0x4000, 0x4400]]
    assert multiply([], [], "fp16")[0].shape == (0,)
    big = [0x3FF0000000000000, 0xBFF0000000000000]           # float64 patterns >= 2**63 too
    assert multiply(big, big[0], FP64)[0].tolist() == big
