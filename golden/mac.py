"""Integer multiply-accumulate golden: N-way dot products (``__dp4a``) and
running sums, computed exactly and then wrapped or saturated to the
accumulator, with an overflow flag.

Operands are integers (not bit patterns): ``a`` and ``b`` have shape
``(count, lanes)``. The accumulator is signed when either operand is signed,
as with CUDA's ``__dp4a`` (unsigned only for unsigned x unsigned).
"""

import numpy as np

from .formats import OVERFLOW_MODES

__all__ = ["acc_range", "fit_accumulator", "dot", "mac_stream"]

_INT64_SAFE_BITS = 62


def acc_range(acc_width, acc_signed):
    """Smallest and largest accumulator value."""
    if acc_signed:
        return -(1 << (acc_width - 1)), (1 << (acc_width - 1)) - 1
    return 0, (1 << acc_width) - 1


def _lane_sums(a, b, a_width, b_width):
    """Exact Σ a_i·b_i per row: int64 where the sum fits, else Python ints."""
    a, b = np.atleast_2d(a), np.atleast_2d(b)
    lanes = a.shape[1]
    if a_width + b_width + lanes.bit_length() <= _INT64_SAFE_BITS:
        return (a.astype(np.int64) * b.astype(np.int64)).sum(axis=1)
    a, b = a.astype(object), b.astype(object)
    return np.array([sum(int(x) * int(y) for x, y in zip(ra, rb)) for ra, rb in zip(a, b)],
                    dtype=object)


def _check_overflow(overflow):
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"overflow: must be one of {', '.join(OVERFLOW_MODES)}, got {overflow!r}")


def _fit(total, lo, hi, acc_width, overflow):
    """``total`` wrapped or saturated into ``lo..hi``; whether it was outside."""
    _check_overflow(overflow)
    outside = (total < lo) | (total > hi)
    if overflow == "saturate":
        return np.where(total < lo, lo, np.where(total > hi, hi, total)), outside
    return (total - lo) % (1 << acc_width) + lo, outside


def fit_accumulator(total, acc_width, acc_signed=True, overflow="wrap"):
    """``total`` (exact: an int or an array of them) as an ``acc_width``-bit
    accumulator holds it, wrapped or saturated; an int for an int."""
    lo, hi = acc_range(acc_width, acc_signed)
    fitted, _ = _fit(np.asarray(total, dtype=object).reshape(-1), lo, hi, acc_width, overflow)
    return int(fitted[0]) if np.ndim(total) == 0 else fitted


def dot(a, b, c, *, a_width, b_width, acc_width, acc_signed, overflow="wrap"):
    """``c + Σ a_i·b_i`` per row, fitted to the accumulator; returns ``(y, overflowed)``."""
    lo, hi = acc_range(acc_width, acc_signed)
    total = _lane_sums(a, b, a_width, b_width)
    wide = acc_width + 2 > _INT64_SAFE_BITS or total.dtype == object
    c = np.asarray(c, dtype=object if wide else np.int64)
    return _fit((total.astype(object) if wide else total) + c, lo, hi, acc_width, overflow)


def mac_stream(a, b, clear, *, a_width, b_width, acc_width, acc_signed, overflow="wrap"):
    """Running sum over a stream: ``acc <- (clear ? 0 : acc) + Σ a_i·b_i``, fitted
    after every step; the accumulator starts at 0. Returns ``(y, sticky)`` per
    step, ``sticky`` set once any step since the last clear overflowed."""
    _check_overflow(overflow)
    lo, hi = acc_range(acc_width, acc_signed)
    sums = [int(s) for s in _lane_sums(a, b, a_width, b_width)]
    size = 1 << acc_width
    ys, flags = [], []
    acc, sticky = 0, False
    for step, clear_now in zip(sums, np.asarray(clear).tolist()):
        if clear_now:
            acc, sticky = 0, False
        total = acc + step
        outside = total < lo or total > hi
        if overflow == "saturate":
            acc = min(max(total, lo), hi)
        else:
            acc = (total - lo) % size + lo
        sticky = sticky or outside
        ys.append(acc)
        flags.append(sticky)
    dtype = np.int64 if acc_width <= _INT64_SAFE_BITS else object
    return np.array(ys, dtype=dtype), np.array(flags, dtype=bool)
