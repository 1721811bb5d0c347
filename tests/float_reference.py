"""A slow, exact floating-point reference, written without the golden model's
integer rounding: values are Fractions, and a result is chosen among the
format's representable neighbours of the exact value (found by bisection in
a table of every representable value), by the definition of each mode."""

import bisect
import functools
from fractions import Fraction

from nnarith.golden.formats import FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF, float_format

RNE, RTZ, RDN, RUP, RMM = range(5)


def value(bits, fmt):
    """('nan' | 'snan' | 'inf', sign) or (Fraction magnitude, sign)."""
    fmt = float_format(fmt)
    sign = bits >> (fmt.width - 1)
    field = (bits >> fmt.frac_bits) & ((1 << fmt.exp_bits) - 1)
    frac = bits & ((1 << fmt.frac_bits) - 1)
    all_ones = (1 << fmt.exp_bits) - 1
    if fmt.ieee and field == all_ones:
        if frac == 0:
            return "inf", sign
        return ("nan" if frac >> (fmt.frac_bits - 1) else "snan"), sign
    if not fmt.ieee and field == all_ones and frac == (1 << fmt.frac_bits) - 1:
        return "nan", sign
    if field == 0:
        return Fraction(frac) * Fraction(2) ** (fmt.emin - fmt.frac_bits), sign
    return (Fraction((1 << fmt.frac_bits) | frac) * Fraction(2) ** (field - fmt.bias - fmt.frac_bits),
            sign)


@functools.lru_cache(maxsize=None)
def _grid(fmt, unbounded):
    """Sorted values and tags of every non-negative finite number of ``fmt`` (tags:
    bit patterns, whose last bit tells even from odd), plus the next value above
    the largest, tagged "overflow". ``unbounded`` replaces the subnormals by
    normal numbers continuing below the normal range (tags: their fractions)."""
    fmt = float_format(fmt)
    entries = []
    for bits in range(1 << (fmt.width - 1)):
        v, _ = value(bits, fmt)
        if isinstance(v, str) or bits > fmt.max_finite_bits:
            continue
        if unbounded and (bits >> fmt.frac_bits) == 0 and bits:
            continue
        entries.append((v, bits))
    if unbounded:
        m = fmt.frac_bits
        for e in range(fmt.emin - m - 4, fmt.emin):
            for frac in range(1 << m):
                entries.append((Fraction((1 << m) | frac) * Fraction(2) ** (e - m), frac))
    top = max(v for v, _ in entries)
    ulp = Fraction(2) ** (fmt.emax - fmt.frac_bits)
    entries.append((top + ulp, "overflow"))
    entries.sort(key=lambda entry: entry[0])
    return [v for v, _ in entries], [b for _, b in entries]


def _pick(magnitude, sign, rm, values, tags):
    """Index in ``values`` of the rounded magnitude (the last stands for overflow)."""
    i = bisect.bisect_left(values, magnitude)
    if i < len(values) and values[i] == magnitude:
        return i
    if i >= len(values):
        return len(values) - 1
    lo, hi = i - 1, i
    if rm == RTZ or (rm == RDN and sign == 0) or (rm == RUP and sign == 1):
        return lo
    if rm in (RDN, RUP):
        return hi
    below, above = magnitude - values[lo], values[hi] - magnitude
    if below != above:
        return lo if below < above else hi
    if rm == RMM:
        return hi
    # ties to even: the neighbour whose last significand bit is 0 (the overflow
    # value and 2**e both continue an even pattern)
    lo_bits = tags[lo]
    return hi if isinstance(lo_bits, int) and lo_bits & 1 else lo


def round_exact(magnitude, sign, fmt, rm, saturate=False):
    """(bits, flags) of the exact value ``(-1)**sign * magnitude`` rounded to ``fmt``."""
    fmt = float_format(fmt)
    sign_bit = sign << (fmt.width - 1)
    if magnitude == 0:
        return sign_bit, 0
    values, tags = _grid(fmt, False)
    i = _pick(magnitude, sign, rm, values, tags)
    flags = FLAG_NX if values[i] != magnitude else 0
    if tags[i] == "overflow":
        toward_inf = rm in (RNE, RMM) or (rm == RUP and sign == 0) or (rm == RDN and sign == 1)
        if saturate or not toward_inf:
            return sign_bit | fmt.max_finite_bits, FLAG_OF | FLAG_NX
        if fmt.has_inf:
            return sign_bit | fmt.inf_bits, FLAG_OF | FLAG_NX
        return fmt.nan_bits, FLAG_OF | FLAG_NX
    u_values, u_tags = _grid(fmt, True)
    tiny = u_values[_pick(magnitude, sign, rm, u_values, u_tags)] < Fraction(2) ** fmt.emin
    if tiny and flags:
        flags |= FLAG_UF
    return sign_bit | tags[i], flags


def multiply(a, b, a_fmt, b_fmt, out_fmt, rm, saturate=False):
    """(bits, flags) of one product by the reference."""
    out_fmt = float_format(out_fmt)
    (va, sa), (vb, sb) = value(a, a_fmt), value(b, b_fmt)
    sign = sa ^ sb
    if "snan" in (va, vb) or (va == "inf" and vb == 0) or (va == 0 and vb == "inf"):
        return out_fmt.nan_bits, FLAG_NV
    if "nan" in (va, vb):
        return out_fmt.nan_bits, 0
    if "inf" in (va, vb):
        if out_fmt.has_inf:
            return (sign << (out_fmt.width - 1)) | out_fmt.inf_bits, 0
        if saturate:
            return (sign << (out_fmt.width - 1)) | out_fmt.max_finite_bits, 0
        return out_fmt.nan_bits, 0
    return round_exact(va * vb, sign, out_fmt, rm, saturate)
