"""Fixed-point golden model: exact products and narrowing with rounding and overflow.

Values are the stored integers of a :class:`~golden.formats.QFormat` (the real
number is ``q / 2**frac``). Every function is vectorized over NumPy arrays. Up
to 60-bit intermediates the work is done in int64; wider formats switch to
object arrays of Python ints, so results are exact for every width.
"""

import numpy as np

from .formats import FIXED_ROUNDING, OVERFLOW_MODES, QFormat

__all__ = ["multiply", "narrow", "fixed_mul", "from_real", "to_real"]

_INT64_SAFE_BITS = 60


def _as_ints(values, bits):
    """Array of ``values`` in a dtype that holds ``bits``-bit intermediates exactly."""
    if bits <= _INT64_SAFE_BITS:
        return np.asarray(values, dtype=np.int64)
    arr = np.asarray(values, dtype=object)
    # int64 inputs become Python ints so that later shifts and products do not wrap
    return np.vectorize(int, otypes=[object])(arr) if arr.size else arr


def _check_range(values, fmt, what):
    values = np.asarray(values)
    if values.size and (values.min() < fmt.min or values.max() > fmt.max):
        raise ValueError(f"{what}: values must be stored integers of {fmt.name} "
                         f"in {fmt.min}..{fmt.max}")


def multiply(a, b, a_fmt: QFormat, b_fmt: QFormat):
    """Exact products, as stored integers of ``a_fmt.times(b_fmt)``."""
    _check_range(a, a_fmt, "a")
    _check_range(b, b_fmt, "b")
    bits = a_fmt.width + b_fmt.width
    return _as_ints(a, bits) * _as_ints(b, bits)


def _round_shift(x, shift, rounding):
    """``x / 2**shift`` rounded to an integer by ``rounding`` (``shift`` > 0)."""
    unit = 1 << shift
    q = x // unit                       # floor, also for negative x
    r = x - q * unit                    # 0 <= r < unit
    if rounding == "trunc":
        return q
    if rounding == "zero":
        return q + ((r != 0) & (x < 0))
    if rounding == "half_up":
        return q + (2 * r >= unit)
    # half_even: above half rounds up, an exact half goes to the even neighbour
    return q + ((2 * r > unit) | ((2 * r == unit) & (q % 2 == 1)))


def narrow(x, x_fmt: QFormat, out_fmt: QFormat, rounding="half_even", overflow="saturate"):
    """Convert stored integers of ``x_fmt`` to ``out_fmt``.

    Fraction bits beyond ``out_fmt.frac`` are removed with ``rounding`` (one of
    :data:`FIXED_ROUNDING`); a rounded value outside ``out_fmt``'s range is
    clamped (``saturate``) or keeps its low bits (``wrap``). Returns
    ``(y, overflowed)``: ``overflowed`` is True where the rounded value did not fit.
    """
    if rounding not in FIXED_ROUNDING:
        raise ValueError(f"rounding: must be one of {', '.join(FIXED_ROUNDING)}, got {rounding!r}")
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"overflow: must be one of {', '.join(OVERFLOW_MODES)}, got {overflow!r}")
    shift = x_fmt.frac - out_fmt.frac
    bits = max(x_fmt.width, x_fmt.width - shift, out_fmt.width) + 2
    x = _as_ints(x, bits)
    if shift > 0:
        y = _round_shift(x, shift, rounding)
    else:
        y = x * (1 << -shift)
    over = (y < out_fmt.min) | (y > out_fmt.max)
    if overflow == "saturate":
        y = np.where(y > out_fmt.max, out_fmt.max, np.where(y < out_fmt.min, out_fmt.min, y))
    else:
        modulus = 1 << out_fmt.width
        y = (y - out_fmt.min) % modulus + out_fmt.min
    return _as_ints(y, out_fmt.width), np.asarray(over, dtype=bool)


def fixed_mul(a, b, a_fmt: QFormat, b_fmt: QFormat, out_fmt: QFormat | None = None,
              rounding="half_even", overflow="saturate"):
    """``a * b`` narrowed to ``out_fmt`` (default: the exact product format).

    Returns ``(y, overflowed)`` as :func:`narrow` does.
    """
    p_fmt = a_fmt.times(b_fmt)
    return narrow(multiply(a, b, a_fmt, b_fmt), p_fmt, out_fmt or p_fmt, rounding, overflow)


def from_real(r, fmt: QFormat, rounding="half_even", overflow="saturate"):
    """Quantize real numbers to stored integers of ``fmt``.

    Exact for float64 inputs: every finite double is a dyadic rational, scaled
    here to integers before :func:`narrow` rounds them.
    """
    r = np.asarray(r, dtype=np.float64)
    if not np.all(np.isfinite(r)):
        raise ValueError("r: values must be finite")
    # Every double is m * 2**e with |m| < 2**53: write them all over 2**lo.
    mant, exp = np.frexp(r)
    m = (mant * 2.0**53).astype(np.int64)
    e = exp.astype(np.int64) - 53
    lo = min(int(e.min()), 0) if e.size else 0
    scaled = np.array([int(mi) << (int(ei) - lo) for mi, ei in zip(m.ravel(), e.ravel())],
                      dtype=object).reshape(r.shape)
    bits = max((int(v).bit_length() for v in scaled.ravel()), default=1)
    src = QFormat(bits + 1 - lo, -lo, True)
    return narrow(scaled, src, fmt, rounding, overflow)


def to_real(q, fmt: QFormat):
    """Stored integers of ``fmt`` as float64 (exact while they fit 53 bits)."""
    return np.asarray(q, dtype=np.float64) / float(1 << fmt.frac)
