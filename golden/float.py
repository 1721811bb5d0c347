"""Floating-point golden model: decode, exact products, one rounding, encode.

Bit patterns in and out (uint64 arrays); arithmetic on integers only, so the
model is exact for every format (int64 while significand products fit in 60
bits, Python ints beyond). Semantics: IEEE 754 applied to each format's
widths, RISC-V rounding-mode codes and ``fflags`` bits, tininess detected
after rounding, canonical NaN results, OCP FP8 E4M3 without infinities.

Inputs are checked (:mod:`~nnarith.golden.checks`): bit patterns must be
integers in ``0..2**width - 1`` (Python ints, integer NumPy scalars or arrays,
lists of ints; a float16 array is refused, use :mod:`~nnarith.golden.values`
for float values), ``rm`` a RISC-V name or code (:func:`~nnarith.golden.checks.round_mode`),
formats a known name. Operands broadcast; scalar operands give NumPy scalars.

:func:`round_pack` is the reusable half: it rounds any exact value
``(-1)**sign * sig * 2**exp`` to a format, for every unit whose golden ends
in one rounding (multipliers, fused MACs, MMA, Kulisch read-out).
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .checks import (bit_patterns, booleans, broadcast_shape, float64_values, float_fmt,
                     integers, round_mode, shaped, switch)
from .formats import FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF, ROUND_MODES, FloatFormat

__all__ = ["Decoded", "decode", "round_pack", "multiply", "fma", "fma_accumulate", "to_float64",
           "from_float64", "RNE", "RTZ", "RDN", "RUP", "RMM", "FP64"]

RNE, RTZ, RDN, RUP, RMM = (ROUND_MODES[m] for m in ("RNE", "RTZ", "RDN", "RUP", "RMM"))

#: IEEE binary64, the format of float64 values (a reference format, not a unit's:
#: it is not in ``FLOAT_FORMATS``).
FP64 = FloatFormat("fp64", 11, 52)

#: A format: a name of ``FLOAT_FORMATS``, ``eXmY``, or a :class:`FloatFormat`.
Format = str | FloatFormat

#: A rounding mode: ``rne``/``rtz``/``rdn``/``rup``/``rmm`` (any case) or code 0..4,
#: or an integer array with one code per element.
RoundMode = str | int | ArrayLike

_INT64_SAFE_BITS = 60


def _ints(values, bits):
    """Array of ``values`` in a dtype that holds ``bits``-bit integers exactly."""
    arr = np.asarray(values)
    if bits <= _INT64_SAFE_BITS:
        return arr.astype(np.int64)
    if arr.dtype == object:
        return arr
    return np.array([int(v) for v in arr.ravel()], dtype=object).reshape(arr.shape)


def _bit_length(x):
    """Vectorized ``int.bit_length`` for non-negative integers."""
    if x.dtype == object:
        return np.array([int(v).bit_length() for v in x.ravel()], dtype=np.int64).reshape(x.shape)
    # frexp is exact while the integer converts exactly to float64 (< 2**53).
    if x.size == 0 or int(x.max()) < (1 << 53):
        return np.frexp(x.astype(np.float64))[1].astype(np.int64)
    length = np.zeros(x.shape, dtype=np.int64)
    for step in (32, 16, 8, 4, 2, 1):
        big = x >= (1 << step)
        length += np.where(big, step, 0)
        x = np.where(big, x >> step, x)
    return length + (x > 0)


@dataclass
class Decoded:
    """Fields of floating-point bit patterns; finite values are
    ``(-1)**sign * sig * 2**exp`` with ``sig`` an integer (0 for zeros)."""

    sign: np.ndarray
    sig: np.ndarray
    exp: np.ndarray
    is_nan: np.ndarray
    is_snan: np.ndarray
    is_inf: np.ndarray
    is_zero: np.ndarray


def decode(bits: ArrayLike, fmt: Format, ftz: bool = False) -> Decoded:
    """Split bit patterns of ``fmt``; ``ftz`` reads subnormals as zeros of the same sign.

    The fields have the shape of ``bits`` (0-d for a scalar).
    """
    fmt = float_fmt(fmt, "fmt")
    return _decode(bit_patterns(bits, "bits", fmt, values_hint="to_bits"), fmt,
                   switch(ftz, "ftz"))


def _decode(bits, fmt, ftz):
    m, all_ones = fmt.frac_bits, (1 << fmt.exp_bits) - 1
    sign = ((bits >> np.uint64(fmt.width - 1)) & np.uint64(1)).astype(np.int64)
    field = ((bits >> np.uint64(m)) & np.uint64(all_ones)).astype(np.int64)
    frac = (bits & np.uint64((1 << m) - 1)).astype(np.int64)
    if fmt.ieee:
        special = field == all_ones
        is_nan = special & (frac != 0)
        is_inf = special & (frac == 0)
        is_snan = is_nan & ((frac >> (m - 1)) == 0)
    else:                                   # OCP E4M3: one NaN, no infinities
        is_nan = (field == all_ones) & (frac == (1 << m) - 1)
        is_inf = np.zeros_like(is_nan)
        is_snan = np.zeros_like(is_nan)
    subnormal = field == 0
    sig = np.where(subnormal, frac, frac | (1 << m))
    if ftz:
        sig = np.where(subnormal, 0, sig)
    exp = np.where(subnormal, 1, field) - fmt.bias - m
    is_zero = (sig == 0) & ~is_nan & ~is_inf
    return Decoded(sign, sig, exp, is_nan, is_snan, is_inf, is_zero)


def _round_at(sig, exp, quantum, sign, rm):
    """``sig * 2**exp`` rounded to a multiple of ``2**quantum`` by mode ``rm``.

    Returns ``(kept, inexact)`` with the result ``kept * 2**quantum``.
    """
    drop = quantum - exp
    widen = np.maximum(-drop, 0)
    if sig.dtype == object:
        shift = np.maximum(drop, 0)
        half_unit = np.array([(1 << int(s)) >> 1 for s in shift.ravel()],
                             dtype=object).reshape(shift.shape)
    else:
        # sig < 2**60 here: with 61 or more bits dropped it is all sticky, half is 0
        shift = np.clip(drop, 0, 61)
        half_unit = (1 << shift) >> 1
    kept = sig >> shift
    rest = sig - (kept << shift)
    half = rest >= np.where(shift > 0, half_unit, 1)   # never set when nothing is dropped
    sticky = rest != np.where(half, half_unit, 0)
    inexact = rest != 0
    if np.ndim(rm) == 0:
        rm = int(rm)
        increment = {RNE: half & (sticky | ((kept & 1) == 1)), RTZ: False,
                     RDN: (sign == 1) & inexact, RUP: (sign == 0) & inexact, RMM: half}[rm]
    else:
        increment = np.select(
            [rm == RNE, rm == RDN, rm == RUP, rm == RMM],
            [half & (sticky | ((kept & 1) == 1)), (sign == 1) & inexact,
             (sign == 0) & inexact, half], False)
    kept = (kept + increment) << widen
    return kept, inexact


def round_pack(sign: ArrayLike, sig: ArrayLike, exp: ArrayLike, fmt: Format,
               rm: RoundMode = RNE, ftz: bool = False,
               saturate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Round exact values ``(-1)**sign * sig * 2**exp`` once to ``fmt``.

    ``sign`` 0 or 1, ``sig`` integers >= 0 (any size), ``exp`` integers within
    ``±2**32``; all broadcast with ``rm``. ``rm``: a rounding mode
    (:func:`~nnarith.golden.checks.round_mode`), one or one per element.
    Tininess is detected after rounding; underflow is flagged when a tiny
    result is inexact. ``ftz`` flushes subnormal results to zero (flagging
    underflow and inexact). ``saturate`` turns overflow into the largest
    finite number of the sign (OCP ``satfinite``); formats without infinities
    otherwise overflow to NaN. Returns ``(bits, flags)`` (uint64, int64).
    """
    fmt = float_fmt(fmt, "fmt")
    sign = integers(sign, "sign", 0, 1, kind="signs")
    sig = integers(sig, "sig", 0, kind="significands")
    exp = integers(exp, "exp", -(1 << 32), 1 << 32, kind="exponents")
    rm = round_mode(rm, per_element=True)
    shape = broadcast_shape(sign=sign, sig=sig, exp=exp, rm=rm)
    flat = [np.broadcast_to(x, shape).ravel() for x in (sign, sig, exp, rm)]
    bits, flags = _round_pack(*flat[:3], fmt, flat[3] if np.ndim(rm) else rm,
                              switch(ftz, "ftz"), switch(saturate, "saturate"))
    return shaped(bits, shape), shaped(flags, shape)


def _round_pack(sign, sig, exp, fmt, rm, ftz, saturate):
    sign = np.asarray(sign, dtype=np.int64)
    rm = np.asarray(rm, dtype=np.int64)
    if rm.ndim:
        rm = np.broadcast_to(rm, sign.shape)
    m = fmt.frac_bits
    sig = np.asarray(sig)
    sig = sig if sig.dtype == object else sig.astype(np.int64)
    exp = np.asarray(exp, dtype=np.int64)
    top = exp + _bit_length(sig) - 1                  # value in [2**top, 2**(top+1))
    emin = fmt.emin

    quantum = np.maximum(top, emin) - m
    kept, inexact = _round_at(sig, exp, quantum, sign, rm)
    carried = kept >> (m + 1) != 0                   # rounded up to the next binade
    kept = np.where(carried, kept >> 1, kept)
    quantum = quantum + carried
    kept = _ints(kept, m + 2)                         # zero inputs stay zero from here on

    # Tininess after rounding: rounding with unbounded exponent range stays below
    # 2**emin. Only values just below 2**emin can round up to it: redo those.
    tiny = top < emin
    edge = np.nonzero(tiny & (top == emin - 1) & (sig != 0))
    if edge[0].size:
        edge_rm = rm[edge] if np.ndim(rm) else rm
        unbounded, _ = _round_at(sig[edge], exp[edge], top[edge] - m, sign[edge], edge_rm)
        tiny[edge] = (unbounded >> (m + 1)) == 0

    normal = kept >> m != 0
    field = np.where(normal, quantum + m + fmt.bias, 0)
    frac = np.where(normal, kept - (1 << m), kept)
    flags = inexact * FLAG_NX | (tiny & inexact) * FLAG_UF
    bits = (field.astype(np.uint64) << np.uint64(m)) | frac.astype(np.uint64)

    if ftz:
        flush = ~normal & (kept != 0)
        bits = np.where(flush, np.uint64(0), bits)
        flags = np.where(flush, FLAG_UF | FLAG_NX, flags)

    bits = bits | (sign.astype(np.uint64) << np.uint64(fmt.width - 1))
    overflow = (field > fmt.exp_max_field) | ((field == fmt.exp_max_field) & (frac > fmt.max_frac))
    if overflow.any():
        toward_inf = ((rm == RNE) | (rm == RMM) | ((rm == RUP) & (sign == 0))
                      | ((rm == RDN) & (sign == 1)))
        sign_bit = sign.astype(np.uint64) << np.uint64(fmt.width - 1)
        finite = sign_bit | np.uint64(fmt.max_finite_bits)
        if saturate:
            big = finite
        elif fmt.has_inf:
            big = np.where(toward_inf, sign_bit | np.uint64(fmt.inf_bits), finite)
        else:                                     # no infinity: NaN, which has no sign
            big = np.where(toward_inf, np.uint64(fmt.nan_bits), finite)
        bits = np.where(overflow, big, bits)
        flags = np.where(overflow, FLAG_OF | FLAG_NX, flags)
    return bits.astype(np.uint64), flags.astype(np.int64)


#: Elements per pass: arrays this size stay in cache, which triples throughput.
CHUNK = 1 << 15


def _format_or(fmt, name, default):
    """``fmt`` checked, or ``default`` (a checked format) where ``fmt`` is None."""
    return default if fmt is None else float_fmt(fmt, name)


def _elementwise(kernel, operands, rm, shape):
    """``kernel(*operands, rm)`` over the broadcast ``shape``, in cache-sized
    chunks of the flattened operands; ``(bits, flags)`` in ``shape``."""
    flat = [np.broadcast_to(x, shape).ravel() for x in operands]
    if np.ndim(rm):
        rm = np.broadcast_to(rm, shape).ravel()
        if rm.size and (rm == rm[0]).all():
            rm = int(rm[0])                       # one mode: the faster scalar path
    size = flat[0].size
    parts = [kernel(*(x[i:i + CHUNK] for x in flat), rm[i:i + CHUNK] if np.ndim(rm) else rm)
             for i in range(0, max(size, 1), CHUNK)]
    return (shaped(np.concatenate([p[0] for p in parts]), shape),
            shaped(np.concatenate([p[1] for p in parts]), shape))


def multiply(a: ArrayLike, b: ArrayLike, a_fmt: Format, b_fmt: Format | None = None,
             out_fmt: Format | None = None, rm: RoundMode = RNE, ftz: bool = False,
             saturate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``a * b`` on bit patterns, rounded once to ``out_fmt``; returns ``(bits, flags)``.

    ``b_fmt`` and ``out_fmt`` default to ``a_fmt``; ``rm`` is one rounding mode
    or one per element. ``ftz`` flushes subnormal inputs and outputs to zero;
    ``saturate`` see :func:`round_pack`. ``a``, ``b`` and ``rm`` broadcast;
    the results (uint64 patterns, int64 ``fflags``) have their shape, and are
    NumPy scalars for scalar operands.
    """
    a_fmt = float_fmt(a_fmt, "a_fmt")
    b_fmt, out_fmt = _format_or(b_fmt, "b_fmt", a_fmt), _format_or(out_fmt, "out_fmt", a_fmt)
    a = bit_patterns(a, "a", a_fmt, values_hint="multiply")
    b = bit_patterns(b, "b", b_fmt, values_hint="multiply")
    rm = round_mode(rm, per_element=True)
    ftz, saturate = switch(ftz, "ftz"), switch(saturate, "saturate")
    return _elementwise(
        lambda a, b, rm: _multiply(a, b, a_fmt, b_fmt, out_fmt, rm, ftz, saturate),
        (a, b), rm, broadcast_shape(a=a, b=b, rm=rm))


def _multiply(a, b, a_fmt, b_fmt, out_fmt, rm, ftz, saturate):
    da, db = _decode(a, a_fmt, ftz), _decode(b, b_fmt, ftz)
    sign = da.sign ^ db.sign
    bits = a_fmt.frac_bits + b_fmt.frac_bits + 2
    sig = _ints(da.sig, bits) * _ints(db.sig, bits)
    y, flags = _round_pack(sign, sig, da.exp + db.exp, out_fmt, rm, ftz, saturate)

    invalid = da.is_snan | db.is_snan | (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)
    nan = da.is_nan | db.is_nan | invalid
    inf = (da.is_inf | db.is_inf) & ~nan
    sign_bit = sign.astype(np.uint64) << np.uint64(out_fmt.width - 1)
    if out_fmt.has_inf:
        inf_bits = sign_bit | np.uint64(out_fmt.inf_bits)
    elif saturate:
        inf_bits = sign_bit | np.uint64(out_fmt.max_finite_bits)
    else:
        inf_bits = np.full(sign.shape, out_fmt.nan_bits, dtype=np.uint64)
    y = np.where(nan, np.uint64(out_fmt.nan_bits), np.where(inf, inf_bits, y))
    flags = np.where(nan, np.where(invalid, FLAG_NV, 0), np.where(inf, 0, flags))
    return y.astype(np.uint64), flags.astype(np.int64)


def _specials(da, db, dc, sign_p, out_fmt, saturate):
    """NaN, invalid and infinite results of ``a * b + c`` (RISC-V / SoftFloat):
    returns ``(nan, invalid, inf, inf_bits)``."""
    ab_nan = da.is_nan | db.is_nan
    inf_times_zero = (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)
    prod_inf = (da.is_inf | db.is_inf) & ~ab_nan & ~inf_times_zero
    invalid = (da.is_snan | db.is_snan | dc.is_snan | inf_times_zero
               | (prod_inf & dc.is_inf & (sign_p != dc.sign)))
    nan = ab_nan | dc.is_nan | invalid
    inf = (prod_inf | dc.is_inf) & ~nan
    inf_sign = np.where(prod_inf, sign_p, dc.sign)
    sign_bit = inf_sign.astype(np.uint64) << np.uint64(out_fmt.width - 1)
    if out_fmt.has_inf:
        inf_bits = sign_bit | np.uint64(out_fmt.inf_bits)
    elif saturate:
        inf_bits = sign_bit | np.uint64(out_fmt.max_finite_bits)
    else:
        inf_bits = np.full(inf_sign.shape, out_fmt.nan_bits, dtype=np.uint64)
    return nan, invalid, inf, inf_bits


def fma(a: ArrayLike, b: ArrayLike, c: ArrayLike, a_fmt: Format, b_fmt: Format | None = None,
        c_fmt: Format | None = None, out_fmt: Format | None = None, rm: RoundMode = RNE,
        ftz: bool = False, saturate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Fused ``a * b + c`` on bit patterns, rounded once to ``out_fmt``; returns ``(bits, flags)``.

    ``b_fmt`` and ``c_fmt`` default to ``a_fmt``, ``out_fmt`` to ``c_fmt``.
    RISC-V semantics: canonical NaN results; invalid for a signaling NaN,
    ``inf * 0`` (even with a quiet NaN addend) and ``inf - inf``; an exact zero
    sum of opposite-signed terms is +0 (-0 in RDN); tininess after rounding.
    ``a``, ``b``, ``c`` and ``rm`` broadcast as in :func:`multiply`.
    """
    a_fmt = float_fmt(a_fmt, "a_fmt")
    b_fmt, c_fmt = _format_or(b_fmt, "b_fmt", a_fmt), _format_or(c_fmt, "c_fmt", a_fmt)
    out_fmt = _format_or(out_fmt, "out_fmt", c_fmt)
    a, b, c = (bit_patterns(x, name, fmt, values_hint="fma")
               for x, name, fmt in ((a, "a", a_fmt), (b, "b", b_fmt), (c, "c", c_fmt)))
    rm = round_mode(rm, per_element=True)
    ftz, saturate = switch(ftz, "ftz"), switch(saturate, "saturate")
    return _elementwise(
        lambda a, b, c, rm: _fma(a, b, c, a_fmt, b_fmt, c_fmt, out_fmt, rm, ftz, saturate),
        (a, b, c), rm, broadcast_shape(a=a, b=b, c=c, rm=rm))


def _fma(a, b, c, a_fmt, b_fmt, c_fmt, out_fmt, rm, ftz, saturate):
    da, db, dc = _decode(a, a_fmt, ftz), _decode(b, b_fmt, ftz), _decode(c, c_fmt, ftz)
    p = out_fmt.frac_bits + 1
    product_bits = a_fmt.frac_bits + b_fmt.frac_bits + 2
    # Bound on the aligned sum's width (see the reduction below), plus carry and sign.
    wide = max(product_bits, c_fmt.frac_bits + 1)
    sum_bits = max(wide, p + 1) + wide + 3
    sig_p = _ints(da.sig, product_bits) * _ints(db.sig, product_bits)
    sig_c = _ints(dc.sig, sum_bits)
    sig_p = _ints(sig_p, sum_bits)
    sign_p = da.sign ^ db.sign
    exp_p, exp_c = da.exp + db.exp, dc.exp
    p_zero, c_zero = sig_p == 0, sig_c == 0
    exp_p = np.where(p_zero, exp_c, exp_p)            # a zero term never widens the sum
    exp_c = np.where(c_zero, exp_p, exp_c)
    top_p = exp_p + _bit_length(sig_p) - 1
    top_c = exp_c + _bit_length(sig_c) - 1

    # A term entirely below min(its partner's last bit, the partner's rounding
    # grid two places under precision p) only decides which side of the partner
    # the sum lies on: it is exactly replaced by one bit just under that bound.
    # This keeps the aligned sum within sum_bits bits and the rounding unchanged.
    grid_p = np.minimum(exp_p, top_p - p - 1)
    grid_c = np.minimum(exp_c, top_c - p - 1)
    c_small = ~p_zero & ~c_zero & (top_c < grid_p)
    p_small = ~p_zero & ~c_zero & (top_p < grid_c)
    sig_c = np.where(c_small, 1, sig_c)
    exp_c = np.where(c_small, grid_p - 1, exp_c)
    sig_p = np.where(p_small, 1, sig_p)
    exp_p = np.where(p_small, grid_c - 1, exp_p)

    exp = np.minimum(exp_p, exp_c)
    term_p = sig_p << (exp_p - exp)
    term_c = sig_c << (exp_c - exp)
    total = np.where(sign_p == 1, -term_p, term_p) + np.where(dc.sign == 1, -term_c, term_c)
    negative = total < 0
    magnitude = np.where(negative, -total, total)
    exact_zero_sign = np.where(sign_p == dc.sign, sign_p, (np.asarray(rm) == RDN).astype(np.int64))
    sign = np.where(magnitude == 0, exact_zero_sign, negative.astype(np.int64))
    y, flags = _round_pack(sign, magnitude, exp, out_fmt, rm, ftz, saturate)

    nan, invalid, inf, inf_bits = _specials(da, db, dc, sign_p, out_fmt, saturate)
    y = np.where(nan, np.uint64(out_fmt.nan_bits), np.where(inf, inf_bits, y))
    flags = np.where(nan, np.where(invalid, FLAG_NV, 0), np.where(inf, 0, flags))
    return y.astype(np.uint64), flags.astype(np.int64)


def fma_accumulate(a: ArrayLike, b: ArrayLike, clear: ArrayLike, a_fmt: Format,
                   b_fmt: Format | None = None, c_fmt: Format | None = None,
                   rm: RoundMode = RNE, ftz: bool = False,
                   saturate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The running sum ``acc <- round(a * b + acc)`` over a stream, in order.

    ``acc`` starts as +0 of ``c_fmt`` (the result format too). Where ``clear``
    (bools or 0/1) is set, the sum restarts with that product: the addend is
    a zero with the product's sign, so the result is ``round(a * b)``.
    ``a``, ``b``, ``clear`` and ``rm`` broadcast to the stream, taken in
    C order. Returns ``(bits, flags)``: the sum after each step, in the
    stream's shape.
    """
    a_fmt = float_fmt(a_fmt, "a_fmt")
    b_fmt, c_fmt = _format_or(b_fmt, "b_fmt", a_fmt), _format_or(c_fmt, "c_fmt", a_fmt)
    a = bit_patterns(a, "a", a_fmt)
    b = bit_patterns(b, "b", b_fmt)
    clear = booleans(clear, "clear")
    rm = round_mode(rm, per_element=True)
    ftz, saturate = switch(ftz, "ftz"), switch(saturate, "saturate")
    shape = broadcast_shape(a=a, b=b, clear=clear, rm=rm)
    a, b, clear, rm = (np.broadcast_to(x, shape).ravel() for x in (a, b, clear, rm))
    product_sign = (((a >> np.uint64(a_fmt.width - 1)) ^ (b >> np.uint64(b_fmt.width - 1)))
                    & np.uint64(1)) << np.uint64(c_fmt.width - 1)
    ys = np.zeros(a.shape, dtype=np.uint64)
    flags = np.zeros(a.shape, dtype=np.int64)
    acc = np.zeros(1, dtype=np.uint64)
    for i in range(a.size):
        c = product_sign[i:i + 1] if clear[i] else acc
        acc, flag = _fma(a[i:i + 1], b[i:i + 1], c, a_fmt, b_fmt, c_fmt, c_fmt, int(rm[i]),
                         ftz, saturate)
        ys[i], flags[i] = acc[0], flag[0]
    return shaped(ys, shape), shaped(flags, shape)


def to_float64(bits: ArrayLike, fmt: Format) -> np.ndarray:
    """Values of bit patterns as float64 (exact for formats up to 11/52 bits);
    a NumPy scalar for a scalar."""
    fmt = float_fmt(fmt, "fmt")
    d = _decode(bit_patterns(bits, "bits", fmt, values_hint="to_bits"), fmt, False)
    value = np.ldexp(d.sig.astype(np.float64), d.exp.astype(np.int64))
    value = np.where(d.is_inf, np.inf, value)
    value = np.where(d.sign == 1, -value, value)
    return np.where(d.is_nan, np.nan, value)[()]


def from_float64(x: ArrayLike, fmt: Format, rm: RoundMode = RNE,
                 saturate: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Round float values once to ``fmt``: ``(bits, flags)``.

    ``x``: Python floats, or NumPy / ml_dtypes float arrays or scalars (read
    exactly as float64); integers are refused (bit patterns go to
    :func:`to_float64`).
    """
    fmt = float_fmt(fmt, "fmt")
    x = float64_values(x, "x")
    return multiply(x.view(np.uint64), np.uint64(0x3FF0000000000000), FP64, FP64, fmt, rm,
                    saturate=saturate)
