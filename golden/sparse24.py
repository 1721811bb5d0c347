"""NVIDIA-style 2:4 structured sparsity golden: compression, decompression and
the compressed-times-dense dot product, integer and fp16 -> fp32 fused.

Format: a vector of ``K`` values (``K`` a multiple of 4) is cut into groups of
4; each group keeps 2 values (``values``, ``K/2`` per vector, in group order,
lower index first) and one 4-bit metadata code (``meta``, ``K/4`` per vector):
bits [1:0] hold the index of the first kept value inside its group, bits [3:2]
the index of the second, with ``index0 < index1``. The valid codes are
therefore exactly 0b0100, 0b1000, 0b1100, 0b1001, 0b1101 and 0b1110.

Invalid metadata (any other code) is not an error of the model but data the
hardware must survive: such a group contributes the two products ``+0 * +0``
(its kept values and the activations it would select both read as zero) and
the dot product reports ``meta_error``; :func:`decompress_24` turns such a
group into four zeros.

Arrays: ``values`` ``(..., K/2)``, ``meta`` ``(..., K/4)``, dense vectors
``(..., K)``, one result per leading index. Integer dot products take
integers; the fp16 one takes fp16 bit patterns (and C, the result in
``acc_fmt`` patterns).
"""

import numpy as np

from .float import RNE
from .formats import float_format
from .mac import dot
from .mma import mma

__all__ = ["GROUP", "KEPT", "VALID_CODES", "meta_code", "meta_indices", "meta_valid",
           "compress_24", "decompress_24", "select_24", "dot_24", "dot_24_fp16"]

#: Values per group and values kept per group.
GROUP, KEPT = 4, 2

#: Every valid 4-bit metadata code, (index0, index1) = (0,1) (0,2) (0,3) (1,2) (1,3) (2,3).
VALID_CODES = (0b0100, 0b1000, 0b1100, 0b1001, 0b1101, 0b1110)


def meta_code(index0, index1):
    """The metadata code of a group keeping positions ``index0`` and ``index1``."""
    index0, index1 = np.asarray(index0, dtype=np.int64), np.asarray(index1, dtype=np.int64)
    return (index0 & 3) | ((index1 & 3) << 2)


def meta_indices(code):
    """``(index0, index1)``: the positions a code selects (also for invalid codes)."""
    code = np.asarray(code, dtype=np.int64)
    return code & 3, (code >> 2) & 3


def meta_valid(code):
    """Whether each 4-bit code is a valid 2:4 code (two distinct indices, in order)."""
    code = np.asarray(code, dtype=np.int64)
    index0, index1 = meta_indices(code)
    return (code >= 0) & (code < 16) & (index0 < index1)


def _length(dense_k, what):
    if dense_k % GROUP:
        raise ValueError(f"K: {what} must have a multiple of {GROUP} elements, got {dense_k}")
    return dense_k // GROUP


def _magnitude(dense):
    """Pruning key: |x| exactly for integers; a NaN ranks with the infinities."""
    if dense.dtype == object:
        return np.abs(dense)
    if np.issubdtype(dense.dtype, np.integer):
        return np.abs(dense.astype(np.int64))
    magnitude = np.abs(dense.astype(np.float64))
    return np.where(np.isnan(magnitude), np.inf, magnitude)


def compress_24(dense):
    """Magnitude pruning of ``dense`` ``(..., K)`` to 2:4: ``(values, meta)``.

    Each group keeps its two largest ``|x|``, ties to the lower index (so a
    group with fewer than two nonzeros still keeps two positions, zeros among
    them), in index order. ``values`` keeps ``dense``'s dtype.
    """
    dense = np.asarray(dense)
    groups = _length(dense.shape[-1], "dense")
    grouped = dense.reshape(dense.shape[:-1] + (groups, GROUP))
    key = _magnitude(grouped)
    # Stable sort of -|x|: equal magnitudes keep index order, the lower index first.
    order = np.argsort(-key, axis=-1, kind="stable")[..., :KEPT]
    kept = np.sort(order, axis=-1)
    values = np.take_along_axis(grouped, kept, axis=-1)
    meta = meta_code(kept[..., 0], kept[..., 1])
    return values.reshape(dense.shape[:-1] + (groups * KEPT,)), meta


def _check_shapes(values, meta, dense_k=None):
    values, meta = np.asarray(values), np.asarray(meta, dtype=np.int64)
    groups = meta.shape[-1]
    if values.shape[-1] != KEPT * groups or values.shape[:-1] != meta.shape[:-1]:
        raise ValueError(f"values: must be (..., {KEPT * groups}) for meta {meta.shape}, "
                         f"got {values.shape}")
    if dense_k is not None and dense_k != GROUP * groups:
        raise ValueError(f"x: must have K = {GROUP * groups} elements for meta {meta.shape}, "
                         f"got {dense_k}")
    return values, meta, groups


def decompress_24(values, meta):
    """The dense ``(..., K)`` vector: kept values at their positions, zeros
    elsewhere; a group with an invalid code is all zeros."""
    values, meta, groups = _check_shapes(values, meta)
    valid = meta_valid(meta)
    pairs = values.reshape(values.shape[:-1] + (groups, KEPT))
    dense = np.zeros(values.shape[:-1] + (groups, GROUP), dtype=values.dtype)
    for slot, index in enumerate(meta_indices(meta)):
        np.put_along_axis(dense, index[..., None], pairs[..., slot, None], axis=-1)
    # An invalid code may name one position twice: such groups are cleared afterwards.
    dense = np.where(valid[..., None], dense, 0).astype(values.dtype)
    return dense.reshape(values.shape[:-1] + (groups * GROUP,))


def select_24(values, meta, x):
    """What the 4:1 muxes feed the dot-product tree: ``(weights, activations,
    meta_error)``. ``weights`` are ``values`` and ``activations`` the ``x``
    each one meets, ``(..., K/2)`` both, zeroed for groups with an invalid
    code; ``meta_error`` per vector says some group's code was invalid."""
    x = np.asarray(x)
    values, meta, groups = _check_shapes(values, meta, x.shape[-1])
    if x.shape[:-1] != meta.shape[:-1]:
        raise ValueError(f"x: must be (..., {GROUP * groups}) like meta {meta.shape}, "
                         f"got {x.shape}")
    valid = meta_valid(meta)
    grouped = x.reshape(x.shape[:-1] + (groups, GROUP))
    chosen = np.stack([np.take_along_axis(grouped, index[..., None], axis=-1)[..., 0]
                       for index in meta_indices(meta)], axis=-1)
    pairs = values.reshape(values.shape[:-1] + (groups, KEPT))
    zero = ~valid[..., None]
    weights = np.where(zero, 0, pairs).astype(values.dtype)
    activations = np.where(zero, 0, chosen).astype(x.dtype)
    flat = values.shape[:-1] + (groups * KEPT,)
    return weights.reshape(flat), activations.reshape(flat), ~valid.all(axis=-1)


def dot_24(values, meta, x, c, *, w_width, x_width, acc_width, acc_signed, overflow="wrap"):
    """``c + Σ values_i · x[selected_i]`` per vector, exact, then wrapped or
    saturated to the ``acc_width``-bit accumulator (as :func:`golden.mac.dot`).
    Returns ``(y, overflowed, meta_error)``, one per vector."""
    weights, activations, error = select_24(values, meta, x)
    lead = weights.shape[:-1]
    y, ovf = dot(weights.reshape(-1, weights.shape[-1]),
                 activations.reshape(-1, activations.shape[-1]),
                 np.broadcast_to(np.asarray(c), lead).reshape(-1),
                 a_width=w_width, b_width=x_width, acc_width=acc_width,
                 acc_signed=acc_signed, overflow=overflow)
    return y.reshape(lead), ovf.reshape(lead), error


def dot_24_fp16(values, meta, x, c, *, acc_fmt="fp32", rm=RNE):
    """The exact ``c + Σ values_i · x[selected_i]`` of fp16 patterns, rounded
    once to ``acc_fmt`` in RISC-V rounding mode ``rm`` (a code 0..4, one for
    all vectors or one per vector): the fused MMA golden
    (:func:`golden.mma.mma`, mode ``fused``) of the selected pairs, flags as it
    defines them. Returns ``(bits, flags, meta_error)``, one per vector."""
    weights, activations, error = select_24(np.asarray(values, dtype=np.uint64), meta,
                                            np.asarray(x, dtype=np.uint64))
    lead = weights.shape[:-1]
    n = weights.shape[-1]
    a = weights.reshape(-1, 1, n)
    b = activations.reshape(-1, n, 1)
    c = np.broadcast_to(np.asarray(c, dtype=np.uint64), lead).reshape(-1, 1, 1)
    modes = np.broadcast_to(np.asarray(rm), lead).reshape(-1)
    out = float_format(acc_fmt).name
    bits = np.zeros(len(a), dtype=np.uint64)
    flags = np.zeros(len(a), dtype=np.int64)
    for mode in np.unique(modes):
        pick = modes == mode
        d, f = mma(a[pick], b[pick], c[pick], "fp16", out, "fused", rm=int(mode))
        bits[pick], flags[pick] = d[:, 0, 0], f[:, 0, 0]
    return bits.reshape(lead), flags.reshape(lead), error
