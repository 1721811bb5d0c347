"""The fused multiply-add golden model against SoftFloat 3e in all five modes,
flags included: fp32 FMA (f32_mul_add), fp16 and bf16 products into fp32
(operands widened to fp32 bit-exactly first, then f32_mul_add), all-fp16
(f16_mul_add); special classes cubed, TestFloat-style patterns, the bench's
directed triples (alignment, cancellation, boundaries) and random triples;
the running sum against a chain of SoftFloat FMAs; hand cases."""

import time

import numpy as np
import pytest
import softfloatpy as sf

from nnarith.golden.float import RDN, RMM, RNE, RTZ, RUP, decode, fma, fma_accumulate
from nnarith.golden.formats import FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF, float_format
from nnarith.sim.fma import directed_triples
from nnarith.sim.float import pattern_values, special_values
from nnarith.sim.vectors import cross

MODES = [RNE, RTZ, RDN, RUP, RMM]
SOFTFLOAT = {"fp16": (sf.Float16, sf.f16_mul_add, 2), "fp32": (sf.Float32, sf.f32_mul_add, 4)}


def widen_to_fp32(bits, fmt):
    """fp16/bf16 bit patterns as fp32 with the same value, bit for bit: NaN
    payloads move up unchanged, so a signaling NaN stays signaling."""
    f = float_format(fmt)
    bits = np.asarray(bits, dtype=np.uint64)
    if f.name in ("fp32", "bf16"):
        return bits << np.uint64(32 - f.width)
    d = decode(bits, f)
    values = np.where(d.is_nan, 0, bits).astype(np.uint16).view(np.float16)
    widened = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    nan = (d.sign.astype(np.uint64) << np.uint64(31)) | np.uint64(0x7F800000) \
        | ((bits & np.uint64(0x3FF)) << np.uint64(13))
    return np.where(d.is_nan, nan, widened)


def softfloat_fma(fmt, a, b, c, rm):
    cls, mul_add, size = SOFTFLOAT[fmt]
    sf.set_rounding_mode(sf.RoundingMode(rm))
    sf.set_tininess_mode(sf.TininessMode.AFTER_ROUNDING)
    ys, flags = [], []
    for x, y, z in zip(a.tolist(), b.tolist(), c.tolist()):
        sf.set_exception_flags(0)
        r = mul_add(*(cls.from_bytes(v.to_bytes(size, "big")) for v in (x, y, z)))
        ys.append(int.from_bytes(r.to_bytes(), "big"))
        flags.append(sf.get_exception_flags())
    return np.array(ys, dtype=np.uint64), np.array(flags)


def triples(a_fmt, c_fmt, rng, count):
    """Special classes cubed, sampled pattern triples, directed and random triples."""
    fa, fc = float_format(a_fmt), float_format(c_fmt)
    fmts = (fa, fa, fc)
    sets = [cross(a=special_values(fa), b=special_values(fa), c=special_values(fc))]
    sets.append({n: rng.choice(np.array(pattern_values(f), dtype=np.uint64), count)
                 for n, f in zip("abc", fmts)})
    sets.append(directed_triples(rng, fa, fa, fc, fc, count))
    sets.append({n: rng.integers(0, 1 << f.width, count, dtype=np.uint64) for n, f in zip("abc", fmts)})
    return tuple(np.concatenate([np.asarray(s[n]) for s in sets]).astype(np.uint64) for n in "abc")


def same_result(y, flags, ry, rflags, fmt):
    """SoftFloat propagates NaN payloads; ours are canonical: compare NaN-ness there."""
    nan_ok = decode(ry, fmt).is_nan & (y == np.uint64(float_format(fmt).nan_bits))
    return ((y == ry) | nan_ok) & (flags == rflags)


@pytest.mark.parametrize("a_fmt, c_fmt", [("fp32", "fp32"), ("fp16", "fp32"), ("bf16", "fp32"),
                                          ("fp16", "fp16")])
@pytest.mark.parametrize("rm", MODES)
def test_against_softfloat(a_fmt, c_fmt, rm):
    a, b, c = triples(a_fmt, c_fmt, np.random.default_rng(rm), 1500)
    y, flags = fma(a, b, c, a_fmt, c_fmt=c_fmt, rm=rm)
    if a_fmt == c_fmt:
        ry, rflags = softfloat_fma(c_fmt, a, b, c, rm)
    else:
        ry, rflags = softfloat_fma("fp32", widen_to_fp32(a, a_fmt), widen_to_fp32(b, a_fmt), c, rm)
    bad = np.nonzero(~same_result(y, flags, ry, rflags, c_fmt))[0]
    assert bad.size == 0, [(hex(a[i]), hex(b[i]), hex(c[i]), hex(y[i]), flags[i], hex(ry[i]),
                            rflags[i]) for i in bad[:5]]


def test_widening_keeps_signaling_nans():
    sNaN16, qNaN16 = 0x7C01, 0x7E00
    wide = widen_to_fp32(np.array([sNaN16, qNaN16, 0x0001, 0xFBFF], np.uint64), "fp16")
    assert [hex(v) for v in wide] == ["0x7f802000", "0x7fc00000", "0x33800000", "0xc77fe000"]


@pytest.mark.parametrize("rm", [RNE, RDN])
def test_running_sum_against_a_chain_of_softfloat_fmas(rm):
    rng = np.random.default_rng(20 + rm)
    steps = 3000
    a = rng.integers(0, 1 << 16, steps, dtype=np.uint64)
    b = rng.integers(0, 1 << 16, steps, dtype=np.uint64)
    tame = rng.integers(0, 4, steps) > 0          # mostly moderate exponents: long finite sums
    a = np.where(tame, (a & np.uint64(0x83FF)) | np.uint64(0x3800), a)
    b = np.where(tame, (b & np.uint64(0x83FF)) | np.uint64(0x4000), b)
    clear = rng.integers(0, 40, steps) == 0
    y, flags = fma_accumulate(a, b, clear, "fp16", c_fmt="fp32", rm=rm)
    wa, wb = widen_to_fp32(a, "fp16"), widen_to_fp32(b, "fp16")
    acc, expect_y, expect_flags = 0, [], []
    for i in range(steps):
        product_sign = ((int(a[i]) ^ int(b[i])) >> 15) << 31
        c = np.array([product_sign if clear[i] else acc], np.uint64)
        ry, rf = softfloat_fma("fp32", wa[i:i + 1], wb[i:i + 1], c, rm)
        acc = int(ry[0])
        expect_y.append(acc)
        expect_flags.append(int(rf[0]))
    ok = same_result(y, flags, np.array(expect_y, np.uint64), np.array(expect_flags), "fp32")
    # SoftFloat carries a NaN's payload along the sum; ours is canonical, so
    # later steps agree in NaN-ness only: same_result already allows that.
    assert ok.all(), np.nonzero(~ok)[0][:5]
    assert clear.sum() > 30 and (flags & FLAG_NX).any()


def _one(a, b, c, fmt="fp16", rm=RNE, **kw):
    y, flags = fma(np.array([a], np.uint64), np.array([b], np.uint64), np.array([c], np.uint64),
                   fmt, rm=rm, **kw)
    return int(y[0]), int(flags[0])


def test_hand_cases():
    one, inf, ninf, qnan, snan, zero, nzero = 0x3C00, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0x0000, 0x8000
    nan = float_format("fp16").nan_bits
    assert _one(inf, zero, qnan) == (nan, FLAG_NV)                 # inf*0 is invalid even + qNaN
    assert _one(inf, one, ninf) == (nan, FLAG_NV)                  # inf - inf
    assert _one(inf, one, inf) == (inf, 0)
    assert _one(qnan, one, one) == (nan, 0)
    assert _one(one, one, snan) == (nan, FLAG_NV)
    assert _one(one, ninf, qnan) == (nan, 0)                       # inf product + qNaN: quiet
    for rm in MODES:                                               # x - x: +0, or -0 rounding down
        assert _one(one, one, one | 0x8000, rm=rm) == (nzero if rm == RDN else zero, 0)
        assert _one(nzero, one, nzero, rm=rm) == (nzero, 0)        # (-0) + (-0) = -0
        assert _one(zero, one, nzero, rm=rm) == (nzero if rm == RDN else zero, 0)
    # 65504 + 15.99 stays below the halfway point 65520 to the overflow; the tie rounds up
    assert _one(0x7BFF, one, 0x4BFF) == (0x7BFF, FLAG_NX)
    assert _one(0x7BFF, one, 0x4C00) == (inf, FLAG_OF | FLAG_NX)
    assert _one(0x7BFF, one, 0x4C00, rm=RTZ) == (0x7BFF, FLAG_NX)          # no overflow in RTZ
    # the smallest normal minus the smallest subnormal: tiny, exact, so no underflow flag
    assert _one(0x0400, one, 0x8001) == (0x03FF, 0)
    # a sticky-only addend: 1 + 2**-30 rounds to 1 (RNE) or up to 1 + ulp (RUP); 1 - 2**-30 down
    tiny = 0x0100                                                   # 2**-16
    assert _one(one, one, tiny, rm=RUP) == (0x3C01, FLAG_NX)
    assert _one(one, one, tiny | 0x8000, rm=RTZ) == (0x3BFF, FLAG_NX)
    assert _one(one, one, tiny | 0x8000, rm=RNE) == (one, FLAG_NX)
    assert _one(0x0200, one, 0x0200, ftz=True) == (zero, 0)        # subnormal inputs read as 0
    assert _one(0x0400, 0x3800, zero, ftz=True) == (zero, FLAG_UF | FLAG_NX)


def test_throughput_of_mixed_precision_fma():
    """fp16 products into fp32: at least a million FMAs a second on one core."""
    rng = np.random.default_rng(1)
    a, b = (rng.integers(0, 1 << 16, 1 << 20, dtype=np.uint64) for _ in range(2))
    c = rng.integers(0, 1 << 32, 1 << 20, dtype=np.uint64)
    best = min(_timed(fma, a, b, c, "fp16", c_fmt="fp32") for _ in range(3))
    assert a.size / best > 1e6, f"{a.size / best:,.0f} FMAs/s"


def _timed(fn, *args, **kw):
    start = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - start
