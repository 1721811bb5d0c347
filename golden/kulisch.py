"""Exact (Kulisch) accumulator golden: every product of two floats is added
exactly into a wide two's-complement fixed-point register, and the register
is read out with one rounding.

The register has ``width = msb - lsb + carry_bits + 1`` bits and stands for
``R * 2**lsb`` (``R`` a signed ``width``-bit integer):

* ``lsb``: weight of the last bit. The default, :func:`exact_range`'s
  ``2 * (emin - frac_bits)``, is the last bit of the smallest subnormal
  product (fp16: 2**-48), so every product is exact. With a larger ``lsb``
  a product's magnitude is truncated toward zero at ``2**lsb`` (then signed),
  and a sticky *inexact-in* condition makes the read-out flag NX.
* ``msb``: products must be below ``2**msb`` in magnitude. The default,
  ``2 * (emax + 1)``, covers the largest product (fp16: < 2**32).
* ``carry_bits`` more bits above ``msb`` (and a sign bit): ``2**carry_bits``
  products of the largest magnitude cannot overflow the register.

A product at or above ``2**msb``, or a step that takes the exact sum outside
the register's range, sets the sticky ``overflow`` output; the register keeps
the sum modulo ``2**width`` (two's-complement wrap). All stickies start over
on ``clear``.

Read-out at every step: the register value rounded to ``out_fmt`` by
:func:`~golden.float.round_pack` in mode ``rm`` (a name or code 0..4 for
every step, or one code per step where the reserved 5..7 act as RTZ, as the
unit's 3-bit port reads them), with its ``fflags``; an exact zero sum reads out as +0 in every mode.
Infinities and NaNs never enter the register; since the last clear they
decide the result instead: a NaN input or an invalid product (inf * 0) gives
the canonical NaN, +inf and -inf products both give the NaN with NV, one
kind of infinity gives that infinity (the canonical NaN for formats without
infinities). NV (sNaN input, inf * 0, or both infinities) is sticky; the
flags of a NaN or infinity result are NV or nothing.
"""

import numpy as np
from numpy.typing import ArrayLike

from .checks import bit_patterns, booleans, count, float_fmt, per_step, round_mode, switch
from .float import Format, RoundMode, _decode, _round_pack
from .formats import FLAG_NV, FLAG_NX

__all__ = ["exact_range", "register_width", "kulisch_accumulate"]


def exact_range(in_fmt: Format) -> tuple[int, int]:
    """``(lsb, msb)`` of the register that holds every product of ``in_fmt`` exactly."""
    fmt = float_fmt(in_fmt, "in_fmt")
    return 2 * (fmt.emin - fmt.frac_bits), 2 * (fmt.emax + 1)


def register_width(lsb: int, msb: int, carry_bits: int) -> int:
    """Bits of the register: magnitudes below ``2**msb``, carries, and a sign bit."""
    return msb - lsb + carry_bits + 1


def _segments(clear):
    """Index of the step that started each step's sum (0 for the sum since reset)."""
    steps = np.arange(len(clear))
    return np.maximum.accumulate(np.where(clear, steps, 0))


def _since(values, start):
    """Running sum of ``values`` within each sum (object or int64 arrays)."""
    total = np.cumsum(values)
    before = total[np.maximum(start - 1, 0)]
    return total - np.where(start > 0, before, 0 * before)


def kulisch_accumulate(a: ArrayLike, b: ArrayLike, clear: ArrayLike, rm: RoundMode,
                       in_fmt: Format = "fp16", out_fmt: Format = "fp32", *,
                       lsb: int | None = None, msb: int | None = None, carry_bits: int = 16,
                       ftz: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stream ``a * b`` products into the register; read it out after every step.

    ``a``, ``b``: bit patterns of ``in_fmt``, shape ``(steps, lanes)`` (the
    ``lanes`` products of a step are added together) or ``(steps,)`` for one
    lane. ``clear`` (per step, bools or 0/1): start a new sum with this step's
    products; the sum after reset is 0. ``rm``: mode of the read-outs, one or
    one per step (module docs). ``ftz`` reads
    subnormal inputs as zeros and flushes subnormal results. ``lsb``, ``msb``,
    ``carry_bits``: the register (module docs).

    Returns ``(y, flags, overflow)`` per step: ``out_fmt`` bit patterns, fflags,
    and the sticky register overflow.
    """
    in_fmt, out_fmt = float_fmt(in_fmt, "in_fmt"), float_fmt(out_fmt, "out_fmt")
    exact_lsb, exact_msb = exact_range(in_fmt)
    lsb = exact_lsb if lsb is None else count(lsb, "lsb", -(1 << 16), 1 << 16)
    msb = exact_msb if msb is None else count(msb, "msb", lsb + 1, 1 << 16)
    width = register_width(lsb, msb, count(carry_bits, "carry_bits", 0, 1 << 16))
    ftz = switch(ftz, "ftz")
    a, b = (bit_patterns(x, name, in_fmt) for x, name in ((a, "a"), (b, "b")))
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"a, b: must both be (steps, lanes) or (steps,), got shapes "
                         f"{a.shape} and {b.shape}")
    if a.ndim == 1:
        a, b = a[:, None], b[:, None]
    steps = a.shape[0]
    clear = per_step(booleans(clear, "clear"), "clear", steps)
    rm = per_step(round_mode(rm, per_element=True), "rm", steps)

    da, db = _decode(a, in_fmt, ftz), _decode(b, in_fmt, ftz)
    invalid = da.is_snan | db.is_snan | (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)
    nan = da.is_nan | db.is_nan | invalid
    inf = (da.is_inf | db.is_inf) & ~nan
    sign = da.sign ^ db.sign
    finite = ~(nan | inf)
    sig = [int(x) * int(y) if f else 0
           for x, y, f in zip(da.sig.ravel().tolist(), db.sig.ravel().tolist(), finite.ravel())]
    shift = (da.exp + db.exp - lsb).ravel().tolist()
    inexact, too_big, products = [], [], []
    for s, q, negative in zip(sig, shift, sign.ravel().tolist()):
        magnitude = s << q if q >= 0 else s >> -q
        inexact.append(q < 0 and magnitude << -q != s)
        too_big.append(s != 0 and s.bit_length() + q + lsb > msb)   # top bit >= 2**msb
        products.append(-magnitude if negative else magnitude)
    lanes_of = a.shape
    products = np.array(products, dtype=object).reshape(lanes_of).sum(axis=1)
    inexact = np.array(inexact, dtype=bool).reshape(lanes_of).any(axis=1)
    too_big = np.array(too_big, dtype=bool).reshape(lanes_of).any(axis=1)

    start = _segments(clear)
    exact = _since(products, start)                 # the sum without wrapping
    half = 1 << (width - 1)
    outside = np.array([not -half <= int(v) < half for v in exact], dtype=bool)
    register = (exact + half) % (1 << width) - half

    def seen(event):
        return _since(np.asarray(event, dtype=np.int64), start) > 0

    overflow = seen(too_big | outside)
    inexact_in = seen(inexact)
    nan_seen = seen(nan.any(axis=1))
    pos_inf = seen((inf & (sign == 0)).any(axis=1))
    neg_inf = seen((inf & (sign == 1)).any(axis=1))
    invalid_seen = seen(invalid.any(axis=1)) | (pos_inf & neg_inf)

    negative = np.array([v < 0 for v in register], dtype=np.int64)
    y, flags = _round_pack(negative, np.abs(register), np.full(steps, lsb), out_fmt, rm, ftz,
                           False)
    flags = flags | np.where(inexact_in, FLAG_NX, 0)

    is_nan = nan_seen | (pos_inf & neg_inf)
    is_inf = (pos_inf | neg_inf) & ~is_nan
    if out_fmt.has_inf:
        inf_bits = np.where(neg_inf, np.uint64(1 << (out_fmt.width - 1)), np.uint64(0)) \
            | np.uint64(out_fmt.inf_bits)
    else:
        inf_bits = np.full(steps, out_fmt.nan_bits, dtype=np.uint64)
    y = np.where(is_nan, np.uint64(out_fmt.nan_bits), np.where(is_inf, inf_bits, y))
    flags = np.where(is_nan, np.where(invalid_seen, FLAG_NV, 0), np.where(is_inf, 0, flags))
    return y.astype(np.uint64), flags.astype(np.int64), overflow
