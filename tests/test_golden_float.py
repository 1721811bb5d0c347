"""The float golden model against SoftFloat 3e (fp16, fp32: every mode, with
flags), an exact rational reference (every fp8 pair, bf16 and mixed formats
on every class of input), ml_dtypes' single-rounding casts, and hand cases."""

import numpy as np
import pytest
import softfloatpy as sf

import float_reference as ref
from nnarith.golden.float import RDN, RMM, RNE, RTZ, RUP, decode, from_float64, multiply, to_float64
from nnarith.golden.formats import FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF, FLOAT_FORMATS, float_format
from nnarith.sim.float import pattern_values, special_values
from nnarith.sim.vectors import cross

MODES = [RNE, RTZ, RDN, RUP, RMM]
SOFTFLOAT = {"fp16": (sf.Float16, sf.f16_mul, 2), "fp32": (sf.Float32, sf.f32_mul, 4)}


def softfloat_mul(fmt, a, b, rm):
    cls, mul, size = SOFTFLOAT[fmt]
    sf.set_rounding_mode(sf.RoundingMode(rm))
    sf.set_tininess_mode(sf.TininessMode.AFTER_ROUNDING)
    ys, flags = [], []
    for x, y in zip(a.tolist(), b.tolist()):
        sf.set_exception_flags(0)
        r = mul(cls.from_bytes(x.to_bytes(size, "big")), cls.from_bytes(y.to_bytes(size, "big")))
        ys.append(int.from_bytes(r.to_bytes(), "big"))
        flags.append(sf.get_exception_flags())
    return np.array(ys, dtype=np.uint64), np.array(flags)


def operands(fmt, rng, random_pairs, pattern_pairs):
    """Special classes x special classes, sampled pattern pairs, random pairs."""
    f = float_format(fmt)
    sets = [cross(a=special_values(f), b=special_values(f))]
    patterns = cross(a=pattern_values(f), b=pattern_values(f))
    pick = rng.choice(len(patterns["a"]), min(pattern_pairs, len(patterns["a"])), replace=False)
    sets.append({n: v[pick] for n, v in patterns.items()})
    sets.append({n: rng.integers(0, 1 << f.width, random_pairs, dtype=np.uint64) for n in "ab"})
    return (np.concatenate([s["a"] for s in sets]).astype(np.uint64),
            np.concatenate([s["b"] for s in sets]).astype(np.uint64))


def same_result(y, flags, ry, rflags, fmt):
    """SoftFloat propagates NaN payloads; ours are canonical: compare NaN-ness there."""
    d = decode(ry, fmt)
    nan_ok = d.is_nan & (y == np.uint64(float_format(fmt).nan_bits))
    return ((y == ry) | nan_ok) & (flags == rflags)


@pytest.mark.parametrize("fmt", ["fp16", "fp32"])
@pytest.mark.parametrize("rm", MODES)
def test_against_softfloat(fmt, rm):
    a, b = operands(fmt, np.random.default_rng(rm), 20_000, 20_000)
    y, flags = multiply(a, b, fmt, rm=rm)
    ry, rflags = softfloat_mul(fmt, a, b, rm)
    ok = same_result(y, flags, ry, rflags, fmt)
    bad = np.nonzero(~ok)[0]
    assert bad.size == 0, [(hex(a[i]), hex(b[i]), hex(y[i]), flags[i], hex(ry[i]), rflags[i])
                           for i in bad[:5]]


def check_reference(a, b, a_fmt, b_fmt, out_fmt, rm, saturate=False):
    y, flags = multiply(a, b, a_fmt, b_fmt, out_fmt, rm, saturate=saturate)
    for i in range(a.size):
        expect = ref.multiply(int(a[i]), int(b[i]), a_fmt, b_fmt, out_fmt, rm, saturate)
        assert (int(y[i]), int(flags[i])) == expect, (hex(a[i]), hex(b[i]), rm)


def every_pair(width_a, width_b):
    a, b = np.meshgrid(np.arange(1 << width_a, dtype=np.uint64),
                       np.arange(1 << width_b, dtype=np.uint64), indexing="ij")
    return a.ravel(), b.ravel()


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
@pytest.mark.parametrize("rm", MODES)
def test_every_fp8_pair_against_rationals(fmt, rm):
    check_reference(*every_pair(8, 8), fmt, fmt, fmt, rm)


@pytest.mark.parametrize("rm", [RNE, RTZ, RUP])
def test_e4m3_saturating_against_rationals(rm):
    check_reference(*every_pair(8, 8), "e4m3", "e4m3", "e4m3", rm, saturate=True)


@pytest.mark.parametrize("a_fmt, b_fmt, out_fmt", [("e4m3", "e5m2", "fp16"),
                                                   ("e5m2", "e5m2", "e4m3"),
                                                   ("fp16", "fp16", "e5m2")])
@pytest.mark.parametrize("rm", MODES)
def test_mixed_formats_against_rationals(a_fmt, b_fmt, out_fmt, rm):
    rng = np.random.default_rng(rm)
    if float_format(a_fmt).width == 8:
        a, b = every_pair(8, 8)
    else:
        a, b = operands(a_fmt, rng, 1000, 2000)
    check_reference(a, b, a_fmt, b_fmt, out_fmt, rm)


@pytest.mark.parametrize("rm", MODES)
def test_bf16_every_class_against_rationals(rm):
    a, b = operands("bf16", np.random.default_rng(10 + rm), 2000, 4000)
    check_reference(a, b, "bf16", "bf16", "bf16", rm)


def test_widening_products_are_exact():
    """fp16/fp8 products always fit fp32; bf16 products do within fp32's normal range."""
    rng = np.random.default_rng(3)
    for fmt in ("fp16", "bf16", "e4m3", "e5m2"):
        f = float_format(fmt)
        a, b = (rng.integers(0, 1 << f.width, 50_000, dtype=np.uint64) for _ in range(2))
        y, flags = multiply(a, b, fmt, fmt, "fp32")
        with np.errstate(invalid="ignore"):
            exact = to_float64(a, fmt) * to_float64(b, fmt)
        keep = np.isfinite(exact)
        if fmt == "bf16":
            keep &= (np.abs(exact) >= 2.0**-126) & (np.abs(exact) < 2.0**128) | (exact == 0)
        assert not flags[keep].any()
        assert np.array_equal(to_float64(y[keep], "fp32"), exact[keep])


@pytest.mark.parametrize("dtype, fmt", [("bfloat16", "bf16"), ("float8_e5m2", "e5m2"),
                                        ("float8_e4m3fn", "e4m3"), ("float16", "fp16")])
def test_single_rounding_matches_ml_dtypes_from_float32(dtype, fmt):
    """ml_dtypes rounds float32 once (float64 casts round twice: not used)."""
    import ml_dtypes
    rng = np.random.default_rng(4)
    f = float_format(fmt)
    limit = to_float64(np.array([f.max_finite_bits]), fmt)[0]
    x = (rng.standard_normal(100_000) * rng.choice([1e-6, 1e-3, 1, 1e2], 100_000)).astype(np.float32)
    x = x[np.abs(x) <= limit]
    y, _ = multiply(x.view(np.uint32).astype(np.uint64), np.full(x.size, 0x3F800000, np.uint64),
                    "fp32", "fp32", fmt, RNE)
    expect = x.astype(getattr(ml_dtypes, dtype) if dtype != "float16" else np.float16)
    assert np.array_equal(y, expect.view(f"uint{f.width}").astype(np.uint64))


def test_hand_cases():
    fp16 = FLOAT_FORMATS["fp16"]
    one, two, max16, min_sub = 0x3C00, 0x4000, 0x7BFF, 0x0001
    assert_mul = lambda a, b, fmt, rm, y, flags, **kw: (
        _check(multiply(np.array([a], np.uint64), np.array([b], np.uint64), fmt, rm=rm, **kw),
               y, flags))
    assert_mul(one, one, "fp16", RNE, one, 0)
    assert_mul(max16, two, "fp16", RNE, fp16.inf_bits, FLAG_OF | FLAG_NX)
    assert_mul(max16, two, "fp16", RTZ, max16, FLAG_OF | FLAG_NX)
    assert_mul(max16 | 0x8000, two, "fp16", RUP, max16 | 0x8000, FLAG_OF | FLAG_NX)
    assert_mul(min_sub, 0x3800, "fp16", RNE, 0x0000, FLAG_UF | FLAG_NX)      # 0.5 ulp: tie to even 0
    assert_mul(min_sub, 0x3800, "fp16", RUP, 0x0001, FLAG_UF | FLAG_NX)
    assert_mul(min_sub | 0x8000, 0x3800, "fp16", RDN, 0x8001, FLAG_UF | FLAG_NX)
    assert_mul(min_sub, 0x3800, "fp16", RTZ, 0x0000, FLAG_UF | FLAG_NX)
    assert_mul(0x8000, 0x3C00, "fp16", RDN, 0x8000, 0)                       # -0 * 1 = -0
    assert_mul(0x7C00, 0x0000, "fp16", RNE, fp16.nan_bits, FLAG_NV)          # inf * 0
    assert_mul(0x7C01, one, "fp16", RNE, fp16.nan_bits, FLAG_NV)             # sNaN
    assert_mul(0x7E00, one, "fp16", RNE, fp16.nan_bits, 0)                   # qNaN
    assert_mul(0x0400, 0x3BFF, "fp16", RNE, 0x0400, FLAG_UF | FLAG_NX)       # tiny after rounding?
    # 448 * 2 in E4M3: NaN without saturation, 448 with it; NaN * 0 is quiet
    assert_mul(0x7E, 0x40, "e4m3", RNE, 0x7F, FLAG_OF | FLAG_NX)
    assert_mul(0x7E, 0x40, "e4m3", RNE, 0x7E, FLAG_OF | FLAG_NX, saturate=True)
    assert_mul(0x7F, 0x00, "e4m3", RNE, 0x7F, 0)
    # flush to zero: subnormal inputs read as zero, subnormal results become zero
    assert_mul(0x0200, 0x3C00, "fp16", RNE, 0x0000, 0, ftz=True)
    assert_mul(0x0400, 0x3800, "fp16", RNE, 0x0000, FLAG_UF | FLAG_NX, ftz=True)


def _check(result, y, flags):
    got_y, got_flags = result
    assert (int(got_y[0]), int(got_flags[0])) == (y, flags), (hex(got_y[0]), got_flags[0])


@pytest.mark.parametrize("rm", MODES)
def test_underflow_at_the_subnormal_normal_boundary(rm):
    """Products just below 2**-14, the smallest fp16 normal: tiny only if they
    stay below it when rounded with unbounded exponent (CVFPU's TestFloat bug).
    Both outcomes must occur for a result of 0x0400, and agree with SoftFloat."""
    a, b = np.meshgrid(np.arange(0x3BE0, 0x3C01, dtype=np.uint64),
                       np.arange(0x03E0, 0x0411, dtype=np.uint64))
    a, b = np.concatenate([a.ravel(), a.ravel()]), np.concatenate([b.ravel(), b.ravel() | 0x8000])
    y, flags = multiply(a, b, "fp16", rm=rm)
    ry, rflags = softfloat_mul("fp16", a, b, rm)
    assert same_result(y, flags, ry, rflags, "fp16").all()
    if rm in (RNE, RMM):
        rounded_up = ((y & np.uint64(0x7FFF)) == np.uint64(0x0400)) & ((flags & FLAG_NX) != 0)
        assert ((flags & FLAG_UF) != 0)[rounded_up].any()
        assert ((flags & FLAG_UF) == 0)[rounded_up].any()


def test_float64_round_trip():
    x = np.array([1.0, -2.5, 65504.0, 2.0**-24, 0.0, np.inf, -np.inf])
    bits, flags = from_float64(x, "fp16")
    assert np.array_equal(to_float64(bits, "fp16"), x) and not flags.any()
    assert np.isnan(to_float64(np.array([0x7E00]), "fp16")[0])


def test_custom_formats_and_errors():
    f = float_format("e6m9")
    assert (f.width, f.bias, f.ieee) == (16, 31, True)
    with pytest.raises(ValueError, match="exp_bits: must be 2..11"):
        float_format("e1m4")
    with pytest.raises(ValueError, match="frac_bits: must be 1..52"):
        float_format("e5m53")
    with pytest.raises(ValueError, match="must be one of fp32"):
        float_format("fp17")
