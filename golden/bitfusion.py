"""Bit Fusion golden (Sharma et al., ISCA 2018): run-time composable
multi-precision dot products, and the BitBrick decomposition behind them.

A Fusion Unit of parameters ``(max_prec, min_prec)`` takes two packed words
``a`` and ``w`` of ``max_prec**2 // min_prec`` bits and a 6-bit ``mode``:
bits[1:0] the precision code of ``a``, bits[3:2] that of ``w`` (precision
``min_prec << code``, illegal above ``max_prec``), bit 4 ``a`` signed, bit 5
``w`` signed. At precisions ``(pa, pb)`` pair ``i`` of the
``(max_prec // pa) * (max_prec // pb)`` pairs is ``a`` bits
``[i*pa, (i+1)*pa)`` times ``w`` bits ``[i*pb, (i+1)*pb)``; the unit sums the
pairs' products. An illegal mode contributes 0 and raises ``mode_error``.

The decomposition (:func:`decomposed_product`) is written from slices, the
way the gates compute; :func:`fusion_dot` from whole operands. Tests prove
them equal exhaustively.

Arguments are checked: packed words are integers >= 0 (bits above the
pairs are ignored, as the unit ignores them), modes and slices integers
within their widths (never floats or bools), operand values within their
precision (signed or unsigned as said), precisions legal; a ValueError names
the argument.
"""

import numpy as np
from numpy.typing import ArrayLike

from .checks import booleans, count, integers, per_step, switch

__all__ = ["MODE_BITS", "precisions", "decode_mode", "encode_mode", "packed_width", "pair_count",
           "unpack_pairs", "brick_slices", "brick_product", "decomposed_product", "fusion_dot",
           "fusion_accumulate"]

#: Width of the run-time mode word.
MODE_BITS = 6


def _config(max_prec, min_prec):
    """Checked ``(max_prec, min_prec)``: ``max_prec`` is ``min_prec`` times a power of two."""
    min_prec = count(min_prec, "min_prec", 1, 32)
    max_prec = count(max_prec, "max_prec", min_prec, 64)
    if max_prec % min_prec or (max_prec // min_prec) & (max_prec // min_prec - 1):
        raise ValueError(f"max_prec: must be min_prec ({min_prec}) times a power of two, "
                         f"got {max_prec}")
    return max_prec, min_prec


def precisions(max_prec: int = 8, min_prec: int = 2) -> tuple[int, ...]:
    """Legal precisions, by code: ``min_prec * 2**code`` up to ``max_prec``."""
    max_prec, min_prec = _config(max_prec, min_prec)
    return tuple(min_prec << code for code in range(4) if min_prec << code <= max_prec)


def _precision(p, name, min_prec):
    """A precision a mode can name: ``min_prec << code``, code 0..3."""
    allowed = [min_prec << code for code in range(4)]
    if p not in allowed or isinstance(p, (bool, np.bool_)):
        raise ValueError(f"{name}: must be one of {', '.join(map(str, allowed))}, got {p!r}")
    return int(p)


def encode_mode(pa: int, pb: int, a_signed: bool, w_signed: bool, min_prec: int = 2) -> int:
    """The mode word for precisions ``(pa, pb)`` and signedness."""
    min_prec = count(min_prec, "min_prec", 1, 32)
    code_a, code_b = (_precision(p, name, min_prec).bit_length() - min_prec.bit_length()
                      for p, name in ((pa, "pa"), (pb, "pb")))
    return (code_a | code_b << 2 | int(switch(a_signed, "a_signed")) << 4
            | int(switch(w_signed, "w_signed")) << 5)


def decode_mode(mode: ArrayLike, max_prec: int = 8, min_prec: int = 2
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(pa, pb, a_signed, w_signed, legal)`` of mode words (vectorized).

    ``pa``/``pb`` are ``min_prec << code`` even where that exceeds
    ``max_prec``; ``legal`` says whether both are at most ``max_prec``.
    ``mode``: integers in ``0..63``.
    """
    max_prec, min_prec = _config(max_prec, min_prec)
    mode = integers(mode, "mode", 0, (1 << MODE_BITS) - 1, kind="mode words")
    pa = min_prec << (mode & 3)
    pb = min_prec << ((mode >> 2) & 3)
    return pa, pb, (mode >> 4) & 1 == 1, (mode >> 5) & 1 == 1, (pa <= max_prec) & (pb <= max_prec)


def packed_width(max_prec: int = 8, min_prec: int = 2) -> int:
    """Bits of each of the packed ``a`` and ``w`` words."""
    max_prec, min_prec = _config(max_prec, min_prec)
    return max_prec * max_prec // min_prec


def pair_count(pa: int, pb: int, max_prec: int = 8) -> int:
    """Operand pairs per operation at precisions ``(pa, pb)`` (each a power-of-two
    fraction of ``max_prec``)."""
    for p, name in ((pa, "pa"), (pb, "pb")):
        _config(max_prec, count(p, name, 1, max_prec))
    return (max_prec // pa) * (max_prec // pb)


def _fields(bits, width, count, is_signed):
    """Fields ``[k*width, (k+1)*width)`` of packed words, shape ``(len, count)``."""
    bits = np.asarray(bits)
    wide = bits.dtype == object or width * count > 63
    words = bits.astype(object) if wide else bits.astype(np.int64)
    shifts = np.arange(count) * width
    if wide:
        fields = np.array([[(int(word) >> int(s)) & ((1 << width) - 1) for s in shifts]
                           for word in words.ravel()], dtype=object).reshape(len(words), count)
        fields = fields.astype(np.int64)
    else:
        fields = (words[:, None] >> shifts[None, :]) & ((1 << width) - 1)
    if is_signed:
        fields = fields - ((fields >> (width - 1)) & 1) * (1 << width)
    return fields


def unpack_pairs(a_bits: ArrayLike, w_bits: ArrayLike, pa: int, pb: int, a_signed: bool,
                 w_signed: bool, max_prec: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The ``(count, n)`` operand values of the ``n`` pairs in packed words
    (1-D integers >= 0; bits above the pairs are ignored, as the unit ignores them)."""
    n = pair_count(pa, pb, max_prec)
    a_bits, w_bits = (np.atleast_1d(integers(x, name, 0, kind="packed words"))
                      for x, name in ((a_bits, "a_bits"), (w_bits, "w_bits")))
    return _unpack_pairs(a_bits, w_bits, pa, pb, switch(a_signed, "a_signed"),
                         switch(w_signed, "w_signed"), n)


def _unpack_pairs(a_bits, w_bits, pa, pb, a_signed, w_signed, n):
    return _fields(a_bits, pa, n, a_signed), _fields(w_bits, pb, n, w_signed)


def _values(x, name, prec, is_signed):
    """Operand values of ``prec`` bits, signed or unsigned, as a 1-D array."""
    lo, hi = (-(1 << (prec - 1)), (1 << (prec - 1)) - 1) if is_signed else (0, (1 << prec) - 1)
    kind = f"{'signed' if is_signed else 'unsigned'} {prec}-bit values"
    return np.atleast_1d(integers(x, name, lo, hi, kind=kind))


def brick_slices(values: ArrayLike, prec: int, is_signed: bool,
                 min_prec: int = 2) -> np.ndarray:
    """``values`` of ``prec`` bits cut into ``prec // min_prec`` slices, low first.

    Each slice is the ``(min_prec + 1)``-bit two's complement number a
    BitBrick sees: the slice bits, plus a sign-extension bit that copies the
    slice's top bit only for the top slice of a signed operand. Returns the
    slice values, shape ``(count, prec // min_prec)``, in ``-2**(min_prec-1) ..
    2**min_prec - 1``. ``values``: 1-D, within ``prec`` bits.
    """
    prec, min_prec = _config(prec, min_prec)
    values = _values(values, "values", prec, switch(is_signed, "is_signed"))
    return _brick_slices(values, prec, is_signed, min_prec)


def _brick_slices(values, prec, is_signed, min_prec):
    count = prec // min_prec
    chunks = (values[:, None] >> (np.arange(count) * min_prec)[None, :]) & ((1 << min_prec) - 1)
    top = (chunks >> (min_prec - 1)) & 1
    extend = np.zeros(count, dtype=np.int64)
    extend[-1] = int(bool(is_signed))
    patterns = chunks | (top & extend[None, :]) << min_prec
    # The (min_prec + 1)-bit pattern read as two's complement.
    return patterns - ((patterns >> min_prec) & 1) * (1 << (min_prec + 1))


def brick_product(a: ArrayLike, a_sign_ext: ArrayLike, w: ArrayLike, w_sign_ext: ArrayLike,
                  min_prec: int = 2) -> np.ndarray:
    """One BitBrick: ``min_prec``-bit slice patterns (integers in
    ``0..2**min_prec - 1``), each extended by one bit that copies its top bit
    where its ``*_sign_ext`` (bools or 0/1) is set, multiplied signed."""
    min_prec = count(min_prec, "min_prec", 1, 32)

    def extend(bits, name, sign_ext, ext_name):
        bits = integers(bits, name, 0, (1 << min_prec) - 1, kind=f"{min_prec}-bit slices")
        top = (bits >> (min_prec - 1)) & 1 & booleans(sign_ext, ext_name).astype(np.int64)
        return bits - (top << min_prec)
    return extend(a, "a", a_sign_ext, "a_sign_ext") * extend(w, "w", w_sign_ext, "w_sign_ext")


def decomposed_product(x: ArrayLike, y: ArrayLike, px: int, py: int, x_signed: bool,
                       y_signed: bool, min_prec: int = 2) -> np.ndarray:
    """``x * y`` computed as BitBricks do: the sum over slice pairs ``(i, j)``
    of the ``(min_prec+1)``-bit signed slice product shifted by
    ``min_prec * (i + j)``. ``x``, ``y``: 1-D operand values within ``px``,
    ``py`` bits (signed or unsigned as ``x_signed``, ``y_signed`` say)."""
    xs = brick_slices(x, px, x_signed, min_prec)
    ys = brick_slices(y, py, y_signed, min_prec)
    if len(xs) != len(ys):
        raise ValueError(f"x, y: must have one length, got {len(xs)} and {len(ys)}")
    total = np.zeros(len(xs), dtype=np.int64)
    for i in range(xs.shape[1]):
        for j in range(ys.shape[1]):
            total += (xs[:, i] * ys[:, j]) << (min_prec * (i + j))
    return total


def fusion_dot(a_bits: ArrayLike, w_bits: ArrayLike, mode: ArrayLike, max_prec: int = 8,
               min_prec: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(dot, legal)``: the sum of the pair products of each operation (0 where
    the mode is illegal). ``a_bits``, ``w_bits``: 1-D packed words, integers
    >= 0 (bits above the pairs are ignored); ``mode``: one mode word or one
    per operation."""
    _config(max_prec, min_prec)
    a_bits, w_bits = (np.atleast_1d(integers(x, name, 0, kind="packed words"))
                      for x, name in ((a_bits, "a_bits"), (w_bits, "w_bits")))
    if a_bits.shape != w_bits.shape or a_bits.ndim != 1:
        raise ValueError(f"a_bits, w_bits: must be 1-D of one length, got shapes "
                         f"{a_bits.shape} and {w_bits.shape}")
    mode = per_step(integers(mode, "mode", 0, (1 << MODE_BITS) - 1, kind="mode words"), "mode",
                    len(a_bits))
    dot = np.zeros(len(a_bits), dtype=np.int64)
    legal = decode_mode(mode, max_prec, min_prec)[4]
    for code in np.unique(mode[legal]):
        pick = mode == code
        pa, pb, a_signed, w_signed, _ = (np.asarray(v).item() for v in decode_mode(code, max_prec,
                                                                                   min_prec))
        a, w = _unpack_pairs(a_bits[pick], w_bits[pick], pa, pb, a_signed, w_signed,
                             pair_count(pa, pb, max_prec))
        dot[pick] = (a * w).sum(axis=1)
    return dot, legal


def fusion_accumulate(a_bits: ArrayLike, w_bits: ArrayLike, mode: ArrayLike, clear: ArrayLike,
                      acc_width: int = 32, max_prec: int = 8,
                      min_prec: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``(acc, mode_error)`` after each operation of a stream from reset:
    ``acc <- (clear ? 0 : acc) + dot``, two's complement wrapping at
    ``acc_width`` (1..64) bits. Arguments as :func:`fusion_dot`; ``clear``
    bools or 0/1, one or one per operation."""
    acc_width = count(acc_width, "acc_width", 1, 64)
    dot, legal = fusion_dot(a_bits, w_bits, mode, max_prec, min_prec)
    clear = per_step(booleans(clear, "clear"), "clear", len(dot))
    with np.errstate(over="ignore"):
        # Sums wrap mod 2**64, which wrapping to acc_width <= 64 bits does not see.
        sums = np.concatenate([[0], np.cumsum(dot)])
        start = np.maximum.accumulate(np.where(clear, np.arange(len(dot)), 0))
        acc = sums[1:] - sums[start]
    unsigned = acc.astype(np.uint64) & np.uint64((1 << acc_width) - 1)
    sign = np.uint64(1 << (acc_width - 1))
    acc = ((unsigned ^ sign) - sign).view(np.int64) if acc_width < 64 else unsigned.view(np.int64)
    return acc, ~legal
