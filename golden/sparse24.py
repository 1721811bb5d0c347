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
``acc_fmt`` patterns). Metadata codes are integers in 0..15 (4-bit fields);
indices 0..3. Anything else, floats where integers belong, or bools, is a
ValueError naming the argument.
"""

import numpy as np
from numpy.typing import ArrayLike

from .checks import bit_patterns, describe, float_fmt, integers, lanes, round_mode
from .float import RNE, Format, RoundMode
from .mac import dot
from .mma import mma

__all__ = ["GROUP", "KEPT", "VALID_CODES", "meta_code", "meta_indices", "meta_valid",
           "compress_24", "decompress_24", "select_24", "dot_24", "dot_24_fp16"]

#: Values per group and values kept per group.
GROUP, KEPT = 4, 2

#: Every valid 4-bit metadata code, (index0, index1) = (0,1) (0,2) (0,3) (1,2) (1,3) (2,3).
VALID_CODES = (0b0100, 0b1000, 0b1100, 0b1001, 0b1101, 0b1110)


def _codes(code, name="meta"):
    return integers(code, name, 0, 15, kind="4-bit metadata codes")


def meta_code(index0: ArrayLike, index1: ArrayLike) -> np.ndarray:
    """The metadata code of a group keeping positions ``index0`` and ``index1`` (0..3)."""
    index0, index1 = (integers(i, name, 0, GROUP - 1, kind="group positions")
                      for i, name in ((index0, "index0"), (index1, "index1")))
    return index0 | (index1 << 2)


def meta_indices(code: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(index0, index1)``: the positions a code selects (also for invalid codes)."""
    return _indices(_codes(code, "code"))


def _indices(code):
    return code & 3, (code >> 2) & 3


def meta_valid(code: ArrayLike) -> np.ndarray:
    """Whether each 4-bit code (0..15) is a valid 2:4 code (two distinct indices, in order)."""
    return _valid(_codes(code, "code"))


def _valid(code):
    index0, index1 = _indices(code)
    return index0 < index1


def _numbers(x, name):
    """``x`` as an array of integers or floats (the values a 2:4 vector holds)."""
    arr = np.asarray(x) if not isinstance(x, (str, bytes)) else None
    if arr is None or arr.dtype.kind not in "iuf" and "float" not in arr.dtype.name:
        raise ValueError(f"{name}: must be integers or floats, got {describe(x)}")
    return arr


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


def compress_24(dense: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Magnitude pruning of ``dense`` ``(..., K)`` to 2:4: ``(values, meta)``.

    Each group keeps its two largest ``|x|``, ties to the lower index (so a
    group with fewer than two nonzeros still keeps two positions, zeros among
    them), in index order. ``values`` keeps ``dense``'s dtype (integers or floats).
    """
    dense = _numbers(dense, "dense")
    if dense.ndim == 0:
        raise ValueError("dense: must be (..., K), got a scalar")
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
    values, meta = _numbers(values, "values"), _codes(meta)
    if values.ndim == 0 or meta.ndim == 0:
        raise ValueError(f"values, meta: must be (..., K/2) and (..., K/4), got shapes "
                         f"{values.shape} and {meta.shape}")
    groups = meta.shape[-1]
    if values.shape[-1] != KEPT * groups or values.shape[:-1] != meta.shape[:-1]:
        raise ValueError(f"values: must be (..., {KEPT * groups}) for meta {meta.shape}, "
                         f"got {values.shape}")
    if dense_k is not None and dense_k != GROUP * groups:
        raise ValueError(f"x: must have K = {GROUP * groups} elements for meta {meta.shape}, "
                         f"got {dense_k}")
    return values, meta, groups


def decompress_24(values: ArrayLike, meta: ArrayLike) -> np.ndarray:
    """The dense ``(..., K)`` vector: kept values at their positions, zeros
    elsewhere; a group with an invalid code is all zeros."""
    values, meta, groups = _check_shapes(values, meta)
    valid = _valid(meta)
    pairs = values.reshape(values.shape[:-1] + (groups, KEPT))
    dense = np.zeros(values.shape[:-1] + (groups, GROUP), dtype=values.dtype)
    for slot, index in enumerate(_indices(meta)):
        np.put_along_axis(dense, index[..., None], pairs[..., slot, None], axis=-1)
    # An invalid code may name one position twice: such groups are cleared afterwards.
    dense = np.where(valid[..., None], dense, 0).astype(values.dtype)
    return dense.reshape(values.shape[:-1] + (groups * GROUP,))


def select_24(values: ArrayLike, meta: ArrayLike,
              x: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the 4:1 muxes feed the dot-product tree: ``(weights, activations,
    meta_error)``. ``weights`` are ``values`` and ``activations`` the ``x``
    each one meets, ``(..., K/2)`` both, zeroed for groups with an invalid
    code; ``meta_error`` per vector says some group's code was invalid."""
    x = _numbers(x, "x")
    if x.ndim == 0:
        raise ValueError("x: must be (..., K), got a scalar")
    values, meta, groups = _check_shapes(values, meta, x.shape[-1])
    if x.shape[:-1] != meta.shape[:-1]:
        raise ValueError(f"x: must be (..., {GROUP * groups}) like meta {meta.shape}, "
                         f"got {x.shape}")
    valid = _valid(meta)
    grouped = x.reshape(x.shape[:-1] + (groups, GROUP))
    chosen = np.stack([np.take_along_axis(grouped, index[..., None], axis=-1)[..., 0]
                       for index in _indices(meta)], axis=-1)
    pairs = values.reshape(values.shape[:-1] + (groups, KEPT))
    zero = ~valid[..., None]
    weights = np.where(zero, 0, pairs).astype(values.dtype)
    activations = np.where(zero, 0, chosen).astype(x.dtype)
    flat = values.shape[:-1] + (groups * KEPT,)
    return weights.reshape(flat), activations.reshape(flat), ~valid.all(axis=-1)


def dot_24(values: ArrayLike, meta: ArrayLike, x: ArrayLike, c: ArrayLike, *, w_width: int,
           x_width: int, acc_width: int, acc_signed: bool,
           overflow: str = "wrap") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``c + Σ values_i · x[selected_i]`` per vector, exact, then wrapped or
    saturated to the ``acc_width``-bit accumulator (as :func:`golden.mac.dot`).
    ``values``, ``x``: integers of ``w_width``, ``x_width`` bits (signed or
    unsigned). Returns ``(y, overflowed, meta_error)``, one per vector."""
    values = lanes(values, "values", w_width)
    x = lanes(x, "x", x_width)
    weights, activations, error = select_24(values, meta, x)
    lead = weights.shape[:-1]
    y, ovf = dot(weights.reshape(-1, weights.shape[-1]),
                 activations.reshape(-1, activations.shape[-1]),
                 np.broadcast_to(np.asarray(c), lead).reshape(-1),
                 a_width=w_width, b_width=x_width, acc_width=acc_width,
                 acc_signed=acc_signed, overflow=overflow)
    return y.reshape(lead), ovf.reshape(lead), error


def dot_24_fp16(values: ArrayLike, meta: ArrayLike, x: ArrayLike, c: ArrayLike, *,
                acc_fmt: Format = "fp32",
                rm: RoundMode = RNE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact ``c + Σ values_i · x[selected_i]`` of fp16 patterns, rounded
    once to ``acc_fmt`` in rounding mode ``rm`` (a name or code 0..4, or one
    code per vector): the fused MMA golden (:func:`golden.mma.mma`, mode
    ``fused``) of the selected pairs, flags as it defines them. ``c``:
    ``acc_fmt`` patterns. Returns ``(bits, flags, meta_error)``, one per vector."""
    acc_fmt = float_fmt(acc_fmt, "acc_fmt")
    fp16 = float_fmt("fp16", "values")
    weights, activations, error = select_24(bit_patterns(values, "values", fp16), meta,
                                            bit_patterns(x, "x", fp16))
    lead = weights.shape[:-1]
    n = weights.shape[-1]
    a = weights.reshape(-1, 1, n)
    b = activations.reshape(-1, n, 1)
    c = bit_patterns(c, "c", acc_fmt)
    if np.ndim(c) and np.shape(c) != lead:
        raise ValueError(f"c: must be one value or one per vector {lead}, got shape {c.shape}")
    c = np.broadcast_to(c, lead).reshape(-1, 1, 1)
    rm = round_mode(rm, per_element=True)
    if np.ndim(rm) and np.shape(rm) != lead:
        raise ValueError(f"rm: must be one mode or one per vector {lead}, got shape {rm.shape}")
    modes = np.broadcast_to(rm, lead).reshape(-1)
    out = acc_fmt.name
    bits = np.zeros(len(a), dtype=np.uint64)
    flags = np.zeros(len(a), dtype=np.int64)
    for mode in np.unique(modes):
        pick = modes == mode
        d, f = mma(a[pick], b[pick], c[pick], "fp16", out, "fused", rm=int(mode))
        bits[pick], flags[pick] = d[:, 0, 0], f[:, 0, 0]
    return bits.reshape(lead), flags.reshape(lead), error
