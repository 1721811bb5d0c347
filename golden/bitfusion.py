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
"""

import numpy as np

__all__ = ["MODE_BITS", "precisions", "decode_mode", "encode_mode", "packed_width", "pair_count",
           "unpack_pairs", "brick_slices", "brick_product", "decomposed_product", "fusion_dot",
           "fusion_accumulate"]

#: Width of the run-time mode word.
MODE_BITS = 6


def precisions(max_prec=8, min_prec=2):
    """Legal precisions, by code: ``min_prec * 2**code`` up to ``max_prec``."""
    return tuple(min_prec << code for code in range(4) if min_prec << code <= max_prec)


def encode_mode(pa, pb, a_signed, w_signed, min_prec=2):
    """The mode word for precisions ``(pa, pb)`` and signedness."""
    code_a, code_b = (int(p // min_prec).bit_length() - 1 for p in (pa, pb))
    return code_a | code_b << 2 | int(a_signed) << 4 | int(w_signed) << 5


def decode_mode(mode, max_prec=8, min_prec=2):
    """``(pa, pb, a_signed, w_signed, legal)`` of mode words (vectorized).

    ``pa``/``pb`` are ``min_prec << code`` even where that exceeds
    ``max_prec``; ``legal`` says whether both are at most ``max_prec``.
    """
    mode = np.asarray(mode).astype(np.int64)
    pa = min_prec << (mode & 3)
    pb = min_prec << ((mode >> 2) & 3)
    return pa, pb, (mode >> 4) & 1 == 1, (mode >> 5) & 1 == 1, (pa <= max_prec) & (pb <= max_prec)


def packed_width(max_prec=8, min_prec=2):
    """Bits of each of the packed ``a`` and ``w`` words."""
    return max_prec * max_prec // min_prec


def pair_count(pa, pb, max_prec=8):
    """Operand pairs per operation at precisions ``(pa, pb)``."""
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


def unpack_pairs(a_bits, w_bits, pa, pb, a_signed, w_signed, max_prec=8):
    """The ``(count, n)`` operand values of the ``n`` pairs in packed words."""
    n = pair_count(pa, pb, max_prec)
    return (_fields(a_bits, pa, n, bool(a_signed)), _fields(w_bits, pb, n, bool(w_signed)))


def brick_slices(values, prec, is_signed, min_prec=2):
    """``values`` of ``prec`` bits cut into ``prec // min_prec`` slices, low first.

    Each slice is the ``(min_prec + 1)``-bit two's complement number a
    BitBrick sees: the slice bits, plus a sign-extension bit that copies the
    slice's top bit only for the top slice of a signed operand. Returns the
    slice values, shape ``(count, prec // min_prec)``, in ``-2**(min_prec-1) ..
    2**min_prec - 1``.
    """
    values = np.asarray(values).astype(np.int64)
    count = prec // min_prec
    chunks = (values[:, None] >> (np.arange(count) * min_prec)[None, :]) & ((1 << min_prec) - 1)
    top = (chunks >> (min_prec - 1)) & 1
    extend = np.zeros(count, dtype=np.int64)
    extend[-1] = int(bool(is_signed))
    patterns = chunks | (top & extend[None, :]) << min_prec
    # The (min_prec + 1)-bit pattern read as two's complement.
    return patterns - ((patterns >> min_prec) & 1) * (1 << (min_prec + 1))


def brick_product(a, a_sign_ext, w, w_sign_ext, min_prec=2):
    """One BitBrick: ``min_prec``-bit slice patterns, each extended by one bit
    that copies its top bit where its ``*_sign_ext`` is set, multiplied signed."""
    def extend(bits, sign_ext):
        bits = np.asarray(bits).astype(np.int64)
        top = (bits >> (min_prec - 1)) & 1 & np.asarray(sign_ext).astype(np.int64)
        return bits - (top << min_prec)
    return extend(a, a_sign_ext) * extend(w, w_sign_ext)


def decomposed_product(x, y, px, py, x_signed, y_signed, min_prec=2):
    """``x * y`` computed as BitBricks do: the sum over slice pairs ``(i, j)``
    of the ``(min_prec+1)``-bit signed slice product shifted by
    ``min_prec * (i + j)``. ``x``, ``y``: operand values (any integers that fit)."""
    xs = brick_slices(x, px, x_signed, min_prec)
    ys = brick_slices(y, py, y_signed, min_prec)
    total = np.zeros(len(xs), dtype=np.int64)
    for i in range(xs.shape[1]):
        for j in range(ys.shape[1]):
            total += (xs[:, i] * ys[:, j]) << (min_prec * (i + j))
    return total


def fusion_dot(a_bits, w_bits, mode, max_prec=8, min_prec=2):
    """``(dot, legal)``: the sum of the pair products of each operation (0 where
    the mode is illegal). All three arguments are arrays of one length."""
    a_bits, w_bits = np.asarray(a_bits), np.asarray(w_bits)
    mode = np.broadcast_to(np.asarray(mode).astype(np.int64), a_bits.shape)
    dot = np.zeros(len(a_bits), dtype=np.int64)
    legal = decode_mode(mode, max_prec, min_prec)[4]
    for code in np.unique(mode[legal]):
        pick = mode == code
        pa, pb, a_signed, w_signed, _ = (np.asarray(v).item() for v in decode_mode(code, max_prec,
                                                                                   min_prec))
        a, w = unpack_pairs(a_bits[pick], w_bits[pick], pa, pb, a_signed, w_signed, max_prec)
        dot[pick] = (a * w).sum(axis=1)
    return dot, legal


def fusion_accumulate(a_bits, w_bits, mode, clear, acc_width=32, max_prec=8, min_prec=2):
    """``(acc, mode_error)`` after each operation of a stream from reset:
    ``acc <- (clear ? 0 : acc) + dot``, two's complement wrapping at
    ``acc_width`` (<= 64) bits."""
    dot, legal = fusion_dot(a_bits, w_bits, mode, max_prec, min_prec)
    clear = np.asarray(clear).astype(bool)
    with np.errstate(over="ignore"):
        # Sums wrap mod 2**64, which wrapping to acc_width <= 64 bits does not see.
        sums = np.concatenate([[0], np.cumsum(dot)])
        start = np.maximum.accumulate(np.where(clear, np.arange(len(dot)), 0))
        acc = sums[1:] - sums[start]
    unsigned = acc.astype(np.uint64) & np.uint64((1 << acc_width) - 1)
    sign = np.uint64(1 << (acc_width - 1))
    acc = ((unsigned ^ sign) - sign).view(np.int64) if acc_width < 64 else unsigned.view(np.int64)
    return acc, ~legal
