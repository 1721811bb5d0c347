"""Fixed-point golden model: exact products and narrowing with rounding and overflow.

Values are the stored integers of a :class:`~golden.formats.QFormat` (the real
number is ``q / 2**frac``). Every function is vectorized over NumPy arrays. Up
to 60-bit intermediates the work is done in int64; wider formats switch to
object arrays of Python ints, so results are exact for every width.

Stored integers are checked: integers only (Python ints, integer NumPy arrays,
lists of ints), within the format's ``min..max``; operands broadcast, and
scalars give scalars.
"""

import numpy as np
from numpy.typing import ArrayLike

from .checks import broadcast_shape, float64_values, integers, qformat, shaped
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


def _stored(x, name, fmt):
    """``x`` checked as stored integers of ``fmt``."""
    return integers(x, name, fmt.min, fmt.max, kind=f"stored {fmt.name} values")


def multiply(a: ArrayLike, b: ArrayLike, a_fmt: QFormat, b_fmt: QFormat) -> np.ndarray:
    """Exact products, as stored integers of ``a_fmt.times(b_fmt)``."""
    a_fmt, b_fmt = qformat(a_fmt, "a_fmt"), qformat(b_fmt, "b_fmt")
    a, b = _stored(a, "a", a_fmt), _stored(b, "b", b_fmt)
    return shaped(_multiply(a, b, a_fmt, b_fmt), broadcast_shape(a=a, b=b))


def _multiply(a, b, a_fmt, b_fmt):
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


def _check_modes(rounding, overflow):
    if rounding not in FIXED_ROUNDING:
        raise ValueError(f"rounding: must be one of {', '.join(FIXED_ROUNDING)}, got {rounding!r}")
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"overflow: must be one of {', '.join(OVERFLOW_MODES)}, got {overflow!r}")


def narrow(x: ArrayLike, x_fmt: QFormat, out_fmt: QFormat, rounding: str = "half_even",
           overflow: str = "saturate") -> tuple[np.ndarray, np.ndarray]:
    """Convert stored integers of ``x_fmt`` to ``out_fmt``.

    Fraction bits beyond ``out_fmt.frac`` are removed with ``rounding`` (one of
    :data:`FIXED_ROUNDING`); a rounded value outside ``out_fmt``'s range is
    clamped (``saturate``) or keeps its low bits (``wrap``). Returns
    ``(y, overflowed)``: ``overflowed`` is True where the rounded value did not fit.
    """
    x_fmt, out_fmt = qformat(x_fmt, "x_fmt"), qformat(out_fmt, "out_fmt")
    _check_modes(rounding, overflow)
    x = _stored(x, "x", x_fmt)
    y, over = _narrow(x, x_fmt, out_fmt, rounding, overflow)
    return shaped(y, x.shape), shaped(over, x.shape)


def _narrow(x, x_fmt, out_fmt, rounding, overflow):
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


def fixed_mul(a: ArrayLike, b: ArrayLike, a_fmt: QFormat, b_fmt: QFormat,
              out_fmt: QFormat | None = None, rounding: str = "half_even",
              overflow: str = "saturate") -> tuple[np.ndarray, np.ndarray]:
    """``a * b`` narrowed to ``out_fmt`` (default: the exact product format).

    Returns ``(y, overflowed)`` as :func:`narrow` does.
    """
    a_fmt, b_fmt = qformat(a_fmt, "a_fmt"), qformat(b_fmt, "b_fmt")
    p_fmt = a_fmt.times(b_fmt)
    out_fmt = p_fmt if out_fmt is None else qformat(out_fmt, "out_fmt")
    _check_modes(rounding, overflow)
    a, b = _stored(a, "a", a_fmt), _stored(b, "b", b_fmt)
    shape = broadcast_shape(a=a, b=b)
    y, over = _narrow(_multiply(a, b, a_fmt, b_fmt), p_fmt, out_fmt, rounding, overflow)
    return shaped(y, shape), shaped(over, shape)


def from_real(r: ArrayLike, fmt: QFormat, rounding: str = "half_even",
              overflow: str = "saturate") -> tuple[np.ndarray, np.ndarray]:
    """Quantize real numbers (floats: Python, NumPy or ml_dtypes) to stored
    integers of ``fmt``; returns ``(q, overflowed)`` as :func:`narrow`.

    Exact for float64 inputs: every finite double is a dyadic rational, scaled
    here to integers before :func:`narrow` rounds them.
    """
    fmt = qformat(fmt, "fmt")
    _check_modes(rounding, overflow)
    r = float64_values(r, "r")
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
    y, over = _narrow(scaled, src, fmt, rounding, overflow)
    return shaped(y, r.shape), shaped(over, r.shape)


def to_real(q: ArrayLike, fmt: QFormat) -> np.ndarray:
    """Stored integers of ``fmt`` as float64 (exact while they fit 53 bits)."""
    fmt = qformat(fmt, "fmt")
    return (_stored(q, "q", fmt).astype(np.float64) / float(1 << fmt.frac))[()]
