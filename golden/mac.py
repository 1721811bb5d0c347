"""Integer multiply-accumulate golden: N-way dot products (``__dp4a``) and
running sums, computed exactly and then wrapped or saturated to the
accumulator, with an overflow flag.

Operands are integers (not bit patterns): ``a`` and ``b`` have shape
``(count, lanes)``. The accumulator is signed when either operand is signed,
as with CUDA's ``__dp4a`` (unsigned only for unsigned x unsigned). An operand
of ``width`` bits may be signed or unsigned: its values are integers in
``-2**(width-1) .. 2**width - 1``; ``c`` and the results lie in the
accumulator's range. Anything else (floats, bools, values out of range) is a
ValueError naming the argument.
"""

import numpy as np
from numpy.typing import ArrayLike

from .checks import booleans, count, integers, lanes, per_step
from .formats import OVERFLOW_MODES

__all__ = ["acc_range", "fit_accumulator", "dot", "mac_stream"]

_INT64_SAFE_BITS = 62


def acc_range(acc_width: int, acc_signed: bool) -> tuple[int, int]:
    """Smallest and largest accumulator value."""
    count(acc_width, "acc_width", 1)
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


def fit_accumulator(total: ArrayLike, acc_width: int, acc_signed: bool = True,
                    overflow: str = "wrap") -> int | np.ndarray:
    """``total`` (exact: an int or an array of them) as an ``acc_width``-bit
    accumulator holds it, wrapped or saturated; an int for an int."""
    lo, hi = acc_range(acc_width, acc_signed)
    total = integers(total, "total", kind="exact sums")
    fitted, _ = _fit(total.astype(object).reshape(-1), lo, hi, acc_width, overflow)
    return int(fitted[0]) if np.ndim(total) == 0 else fitted


def dot(a: ArrayLike, b: ArrayLike, c: ArrayLike, *, a_width: int, b_width: int, acc_width: int,
        acc_signed: bool, overflow: str = "wrap") -> tuple[np.ndarray, np.ndarray]:
    """``c + Σ a_i·b_i`` per row, fitted to the accumulator; returns ``(y, overflowed)``.

    ``a``, ``b``: ``(count, lanes)`` (a 1-D or scalar operand is one row);
    ``c``: accumulator values, one or one per row.
    """
    lo, hi = acc_range(acc_width, acc_signed)
    _check_overflow(overflow)
    a = lanes(a, "a", count(a_width, "a_width", 1))
    b = lanes(b, "b", count(b_width, "b_width", 1))
    if np.atleast_2d(a).shape != np.atleast_2d(b).shape:
        raise ValueError(f"a, b: must have one shape (count, lanes), got {a.shape} and {b.shape}")
    c = integers(c, "c", lo, hi, kind="accumulator values")
    total = _lane_sums(a, b, a_width, b_width)
    wide = acc_width + 2 > _INT64_SAFE_BITS or total.dtype == object
    c = np.asarray(c, dtype=object if wide else np.int64)
    return _fit((total.astype(object) if wide else total) + c, lo, hi, acc_width, overflow)


def mac_stream(a: ArrayLike, b: ArrayLike, clear: ArrayLike, *, a_width: int, b_width: int,
               acc_width: int, acc_signed: bool,
               overflow: str = "wrap") -> tuple[np.ndarray, np.ndarray]:
    """Running sum over a stream: ``acc <- (clear ? 0 : acc) + Σ a_i·b_i``, fitted
    after every step; the accumulator starts at 0. ``a``, ``b``: ``(steps,
    lanes)``; ``clear``: bools or 0/1, one or one per step. Returns ``(y,
    sticky)`` per step, ``sticky`` set once any step since the last clear
    overflowed."""
    _check_overflow(overflow)
    lo, hi = acc_range(acc_width, acc_signed)
    a = lanes(a, "a", count(a_width, "a_width", 1))
    b = lanes(b, "b", count(b_width, "b_width", 1))
    if np.atleast_2d(a).shape != np.atleast_2d(b).shape:
        raise ValueError(f"a, b: must have one shape (steps, lanes), got {a.shape} and {b.shape}")
    sums = [int(s) for s in _lane_sums(a, b, a_width, b_width)]
    clear = per_step(booleans(clear, "clear"), "clear", len(sums))
    size = 1 << acc_width
    ys, flags = [], []
    acc, sticky = 0, False
    for step, clear_now in zip(sums, clear.tolist()):
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
