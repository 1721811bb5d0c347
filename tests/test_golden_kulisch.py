"""The Kulisch accumulator golden against a step-by-step rational reference:
every product a Fraction, truncated at the register's last bit, summed in a
wrapping register, the sum rounded by definition (tests/float_reference.py
for fp16 read-outs; for fp32, whose table of values would be too big, a
direct rational rounding checked against that reference on fp16)."""

import math
from fractions import Fraction

import numpy as np
import pytest

import float_reference as ref
from nnarith.golden.formats import FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF, float_format
from nnarith.golden.kulisch import exact_range, kulisch_accumulate, register_width
from nnarith.sim.float import special_values

MODES = range(8)             # 5..7 read out as RTZ


def round_rational(magnitude, sign, fmt, rm):
    """(bits, flags) of ``(-1)**sign * magnitude`` rounded to ``fmt`` by each mode's definition."""
    fmt = float_format(fmt)
    sign_bit = sign << (fmt.width - 1)
    if magnitude == 0:
        return sign_bit, 0
    top = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** top > magnitude:
        top -= 1

    def rounded(quantum_exp):
        q = magnitude / Fraction(2) ** quantum_exp
        lo = math.floor(q)
        rest = q - lo
        up = {ref.RNE: rest > Fraction(1, 2) or (rest == Fraction(1, 2) and lo % 2 == 1),
              ref.RTZ: False, ref.RDN: sign == 1 and rest > 0, ref.RUP: sign == 0 and rest > 0,
              ref.RMM: rest >= Fraction(1, 2)}[rm]
        return (lo + up) * Fraction(2) ** quantum_exp, rest != 0

    value, inexact = rounded(max(top, fmt.emin) - fmt.frac_bits)
    flags = FLAG_NX if inexact else 0
    largest = Fraction(2) ** fmt.emax * (2 - Fraction(1, 2 ** fmt.frac_bits))
    if value > largest:
        toward_inf = rm in (ref.RNE, ref.RMM) or rm == (ref.RUP if sign == 0 else ref.RDN)
        return sign_bit | (fmt.inf_bits if toward_inf else fmt.max_finite_bits), FLAG_OF | FLAG_NX
    if inexact and rounded(top - fmt.frac_bits)[0] < Fraction(2) ** fmt.emin:
        flags |= FLAG_UF
    if value < Fraction(2) ** fmt.emin:
        field, frac = 0, value / Fraction(2) ** (fmt.emin - fmt.frac_bits)
    else:
        exp = value.numerator.bit_length() - value.denominator.bit_length()
        exp -= Fraction(2) ** exp > value
        field, frac = exp + fmt.bias, value / Fraction(2) ** (exp - fmt.frac_bits) - (1 << fmt.frac_bits)
    return sign_bit | (field << fmt.frac_bits) | int(frac), flags


def reference_stream(a, b, clear, rm, in_fmt, out_fmt, lsb=None, msb=None, carry_bits=16):
    """Step by step: (y, flags, ovf) lists."""
    exact_lsb, exact_msb = exact_range(in_fmt)
    lsb = exact_lsb if lsb is None else lsb
    msb = exact_msb if msb is None else msb
    width = register_width(lsb, msb, carry_bits)
    unit, out = Fraction(2) ** lsb, float_format(out_fmt)
    rounder = ref.round_exact if out.width <= 16 else round_rational
    results = []
    register = 0
    for step in range(len(a)):
        if step == 0 or clear[step]:
            register, inexact, ovf, nan, nv, infs = 0, False, False, False, False, set()
        total = register
        for x, y in zip(a[step], b[step]):
            (vx, sx), (vy, sy) = ref.value(int(x), in_fmt), ref.value(int(y), in_fmt)
            if "snan" in (vx, vy) or {vx, vy} == {"inf", 0}:
                nan = nv = True
            elif "nan" in (vx, vy):
                nan = True
            elif "inf" in (vx, vy):
                infs.add(sx ^ sy)
            else:
                product = vx * vy
                ovf |= product >= Fraction(2) ** msb
                count = math.floor(product / unit)
                inexact |= count * unit != product
                total += -count if sx ^ sy else count
        ovf |= not -(1 << (width - 1)) <= total < 1 << (width - 1)
        register = (total + (1 << (width - 1))) % (1 << width) - (1 << (width - 1))
        if nan or len(infs) == 2:
            results.append((out.nan_bits, FLAG_NV if nv or len(infs) == 2 else 0, ovf))
        elif infs:
            results.append(((min(infs) << (out.width - 1)) | out.inf_bits, 0, ovf))
        else:
            mode = int(rm[step]) if rm[step] < 5 else ref.RTZ
            bits, flags = rounder(abs(register) * unit, int(register < 0), out, mode)
            results.append((bits, flags | (FLAG_NX if inexact else 0), ovf))
    return [np.array(column) for column in zip(*results)]


def check(a, b, clear, rm, in_fmt="fp16", out_fmt="fp32", **register):
    a, b = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    y, flags, ovf = kulisch_accumulate(a, b, clear, rm, in_fmt, out_fmt, **register)
    ry, rflags, rovf = reference_stream(a, b, clear, rm, in_fmt, out_fmt, **register)
    bad = np.nonzero((y != ry.astype(np.uint64)) | (flags != rflags) | (ovf != rovf))[0]
    assert bad.size == 0, [(i, hex(y[i]), flags[i], ovf[i], hex(ry[i]), rflags[i], rovf[i])
                           for i in bad[:5]]
    return y, flags, ovf


def finite_operands(rng, shape, fmt="fp16", exps=None):
    fmt = float_format(fmt)
    field = rng.integers(0, fmt.exp_max_field + 1, shape) if exps is None else exps + fmt.bias
    return ((rng.integers(0, 2, shape) << (fmt.width - 1)) | (field << fmt.frac_bits)
            | rng.integers(0, 1 << fmt.frac_bits, shape)).astype(np.uint64)


def test_rational_rounding_agrees_with_the_table_reference():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        magnitude = Fraction(int(rng.integers(1, 1 << 40)), 1 << int(rng.integers(0, 70)))
        sign, rm = int(rng.integers(0, 2)), int(rng.integers(0, 5))
        assert round_rational(magnitude, sign, "fp16", rm) == ref.round_exact(magnitude, sign, "fp16", rm)


@pytest.mark.parametrize("out_fmt", ["fp32", "fp16"])
@pytest.mark.parametrize("lanes", [1, 3])
def test_random_streams(out_fmt, lanes):
    rng = np.random.default_rng(lanes)
    steps = 1500
    a, b = finite_operands(rng, (steps, lanes)), finite_operands(rng, (steps, lanes))
    check(a, b, rng.random(steps) < 0.02, rng.integers(0, 8, steps), out_fmt=out_fmt)


@pytest.mark.parametrize("out_fmt", ["fp32", "fp16"])
def test_cancellation_extremes_and_tiny_sums_in_every_mode(out_fmt):
    fmt = float_format("fp16")
    neg, largest = 1 << 15, fmt.max_finite_bits
    rng = np.random.default_rng(3)
    tiny = rng.integers(1, 1 << 10, 400)                      # subnormal x subnormal
    x, y = finite_operands(rng, 30), finite_operands(rng, 30)
    streams = [
        ([largest, 1, largest | neg], [largest, 1, largest]),         # max^2 + min^2 - max^2
        ([largest, 1, largest | neg], [largest, largest, largest]),
        (list(x) + [0x3C00] + [v ^ neg for v in x[::-1]], list(y) + [0x0001] + list(y[::-1])),
        (list(tiny), list(tiny[::-1])),
        (list(tiny) + [v | neg for v in tiny], list(tiny) * 2),      # back to exactly 0
        ([0x7000, 0x7000 | neg] * 50 + [0x0400], [0x7000] * 100 + [0x0400]),
    ]
    for rm in MODES:
        for a, b in streams:
            clear = np.zeros(len(a), dtype=bool)
            y, flags, _ = check(a, b, clear, np.full(len(a), rm), out_fmt=out_fmt)
    # the last stream leaves 2**-28 under 100 products of 2**26 (last mode: RTZ)
    assert (y[-1], flags[-1]) == ((0x31800000, 0) if out_fmt == "fp32" else (0, FLAG_UF | FLAG_NX))


def test_zero_sum_is_plus_zero_in_every_mode():
    a, b = [0x3C00, 0xBC00, 0x8000], [0x3C00, 0x3C00, 0x3C00]
    for rm in MODES:
        y, flags, _ = check(a, b, [1, 0, 0], [rm] * 3)
        assert y[1] == y[2] == 0 and flags[1] == flags[2] == 0


def test_specials_are_tracked_since_the_last_clear():
    values = special_values(float_format("fp16"))
    rng = np.random.default_rng(4)
    steps = 3000
    a = np.array(values, dtype=np.uint64)[rng.integers(0, len(values), (steps, 2))]
    b = np.array(values, dtype=np.uint64)[rng.integers(0, len(values), (steps, 2))]
    y, flags, _ = check(a, b, rng.random(steps) < 0.3, rng.integers(0, 5, steps))
    assert {0x7FC00000, 0x7F800000, 0xFF800000} <= set(y.tolist())
    assert (flags == FLAG_NV).any()
    # +inf then -inf: NaN with NV, sticky until the next clear
    y, flags, _ = check([0x7C00, 0x3C00, 0xFC00, 0x3C00, 0x3C00], [0x3C00] * 5, [1, 0, 0, 0, 1],
                        [0] * 5)
    assert y.tolist() == [0x7F800000, 0x7F800000, 0x7FC00000, 0x7FC00000, 0x3F800000]
    assert flags.tolist() == [0, 0, FLAG_NV, FLAG_NV, 0]


@pytest.mark.parametrize("lsb, msb", [(-20, 20), (-48, 8), (-10, 4)])
def test_clamped_register_truncates_and_overflows(lsb, msb):
    rng = np.random.default_rng(msb - lsb)
    steps = 2000
    exps = rng.integers(-14, 16, (steps, 2))
    a, b = finite_operands(rng, (steps, 2), exps=exps), finite_operands(rng, (steps, 2))
    y, flags, ovf = check(a, b, rng.random(steps) < 0.05, rng.integers(0, 5, steps),
                          lsb=lsb, msb=msb, carry_bits=3)
    assert ovf.any() and not ovf.all()
    assert (flags & FLAG_NX).any()


def test_carry_bits_bound_the_run_of_largest_products():
    """2**carry_bits products just below 2**msb fit; one more overflows and wraps."""
    largest = float_format("fp16").max_finite_bits
    count = 1 << 4
    _, _, ovf = check([largest] * (count + 1), [largest] * (count + 1), [0] * (count + 1),
                      [0] * (count + 1), carry_bits=4)
    assert not ovf[:count].any() and ovf[count]


def test_bf16_clamped_like_the_preset():
    rng = np.random.default_rng(5)
    steps = 2000
    exps = rng.integers(-40, 40, (steps, 1))
    a = finite_operands(rng, (steps, 1), "bf16", exps)
    b = finite_operands(rng, (steps, 1), "bf16", rng.integers(-40, 40, (steps, 1)))
    check(a, b, rng.random(steps) < 0.01, rng.integers(0, 5, steps), "bf16", lsb=-64, msb=64)


def test_flushed_subnormal_inputs_read_as_zeros():
    rng = np.random.default_rng(6)
    steps = 2000
    a, b = finite_operands(rng, steps), finite_operands(rng, steps)
    clear, rm = rng.random(steps) < 0.02, rng.integers(0, 5, steps)
    zeroed = [np.where((x & 0x7C00) == 0, x & 0x8000, x) for x in (a, b)]
    flushed = kulisch_accumulate(a, b, clear, rm, ftz=True)
    plain = kulisch_accumulate(*zeroed, clear, rm)
    assert all((f == p).all() for f, p in zip(flushed, plain))


def test_long_stream_is_fast():
    import time
    rng = np.random.default_rng(7)
    steps = 100_000
    a, b = finite_operands(rng, (steps, 4)), finite_operands(rng, (steps, 4))
    start = time.perf_counter()
    kulisch_accumulate(a, b, rng.random(steps) < 0.001, rng.integers(0, 5, steps))
    assert time.perf_counter() - start < 3
