"""The float golden models on float values: NumPy and ml_dtypes arrays in and out.

The bit-level models (:mod:`~nnarith.golden.float`, :mod:`~nnarith.golden.mma`)
take bit patterns; these helpers take floats whose dtype names the format::

    >>> import numpy as np
    >>> from nnarith.golden import values
    >>> values.multiply(np.float16(1.5), np.float16(3.0))
    np.float16(4.5)
    >>> values.fma(np.float16([0.1, 2.0]), np.float16([3.0, 3.0]), np.float16([1.0, 1.0]),
    ...            rm="rtz", flags=True)                  # fflags: NX (1) where inexact
    (array([1.3, 7. ], dtype=float16), array([1, 0]))

Each value is viewed as its bit pattern, run through the bit-level model and
the result viewed back as the output dtype, so the numbers are exactly the
golden's: one rounding, the chosen ``rm``, canonical NaNs, RISC-V ``fflags``
with ``flags=True``.

Formats and dtypes (:data:`FORMAT_DTYPES`): fp16 ``float16``, bf16
``ml_dtypes.bfloat16``, fp32 ``float32``, fp64 ``float64``, e4m3
``ml_dtypes.float8_e4m3fn``, e5m2 ``ml_dtypes.float8_e5m2``. tf32 has no
dtype of its own and is bit-level only (``nnarith.golden.float`` with
``"tf32"``). Inputs must carry one of these dtypes: Python floats are refused
(wrap them in the dtype you mean, e.g. ``np.float16(0.1)``, so that the
rounding of the literal is explicit), so are integers, bools, objects and
other float dtypes. Scalars give scalars; arrays broadcast.
"""

import ml_dtypes
import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import float as bits_float
from . import mma as bits_mma
from .checks import bit_patterns, describe, switch
from .float import FP64, Format, RoundMode
from .formats import FloatFormat, float_format

__all__ = ["FORMAT_DTYPES", "format_of", "dtype_of", "to_bits", "from_bits", "convert",
           "multiply", "fma", "mma"]

#: The NumPy dtype of each format that has one (tf32 has none).
FORMAT_DTYPES: dict[str, np.dtype] = {
    "fp16": np.dtype(np.float16),
    "bf16": np.dtype(ml_dtypes.bfloat16),
    "fp32": np.dtype(np.float32),
    "fp64": np.dtype(np.float64),
    "e4m3": np.dtype(ml_dtypes.float8_e4m3fn),
    "e5m2": np.dtype(ml_dtypes.float8_e5m2),
}

#: What a helper returns: the floats, or ``(floats, fflags)`` with ``flags=True``
#: (a NumPy scalar and an int for scalar operands).
Result = np.ndarray | np.generic | tuple[np.ndarray | np.generic, np.ndarray | np.generic | None]

_BITS_HINT = "for bit patterns use nnarith.golden.{}"

_DTYPE_FORMATS = {dtype: name for name, dtype in FORMAT_DTYPES.items()}
_DTYPE_LIST = ", ".join(str(dtype) for dtype in FORMAT_DTYPES.values())


def _format(name: str) -> FloatFormat:
    return FP64 if name == "fp64" else float_format(name)


def format_of(dtype: DTypeLike) -> str:
    """The format name of a float dtype (``np.float16`` -> ``"fp16"``)."""
    try:
        key = np.dtype(dtype)
    except TypeError:
        key = None
    if key not in _DTYPE_FORMATS:
        raise ValueError(f"dtype: must be one of {_DTYPE_LIST}, got {describe(dtype)}")
    return _DTYPE_FORMATS[key]


def dtype_of(fmt: Format) -> np.dtype:
    """The dtype of a format (``"bf16"`` -> ``ml_dtypes.bfloat16``)."""
    name = fmt.name if isinstance(fmt, FloatFormat) else fmt
    if name not in FORMAT_DTYPES or (isinstance(fmt, FloatFormat) and fmt != _format(name)):
        raise ValueError(f"fmt: must be one of {', '.join(FORMAT_DTYPES)} (tf32 and eXmY "
                         f"formats are bit-level only: nnarith.golden.float), got {fmt!r}")
    return FORMAT_DTYPES[name]


def _out_dtype(out_dtype, default: np.dtype | None, why: str = "") -> np.dtype:
    """The checked output dtype; ``default`` if None (``why`` says why there is none)."""
    if out_dtype is None and default is None:
        raise ValueError(f"out_dtype: must be given{why}: one of {_DTYPE_LIST}")
    if out_dtype is None:
        return default
    try:
        dtype = np.dtype(out_dtype)
    except TypeError:
        dtype = None
    if dtype not in _DTYPE_FORMATS:
        raise ValueError(f"out_dtype: must be one of {_DTYPE_LIST}, got {describe(out_dtype)}")
    return dtype


def _floats(x, name: str, int_hint: str) -> tuple[np.ndarray, FloatFormat]:
    """``x``'s bit patterns (uint64, same shape) and format; ``int_hint`` is
    what to do with integers instead."""
    dtype = x.dtype if isinstance(x, (np.ndarray, np.generic)) else None
    if dtype not in _DTYPE_FORMATS:
        integral = dtype.kind in "iu" if dtype is not None else \
            isinstance(x, int) and not isinstance(x, bool)
        hint = (f" (give it a dtype, e.g. np.float32({x!r}))" if isinstance(x, float) else
                f" ({int_hint})" if integral else "")
        raise ValueError(f"{name}: must be NumPy floats of dtype {_DTYPE_LIST}, "
                         f"got {describe(x)}{hint}")
    width = dtype.itemsize * 8
    patterns = np.asarray(x).view(f"uint{width}").astype(np.uint64)
    return patterns, _dtype_format(dtype)


def _dtype_format(dtype: np.dtype) -> FloatFormat:
    return _format(_DTYPE_FORMATS[dtype])


def _view(patterns: np.ndarray, dtype: np.dtype):
    """uint64 patterns as floats of ``dtype``; a scalar for a 0-d result."""
    width = dtype.itemsize * 8
    return np.asarray(patterns).astype(f"uint{width}").view(dtype)[()]


def to_bits(x: ArrayLike) -> np.ndarray | np.generic:
    """The bit patterns of floats (uint64, ``x``'s shape), ready for the
    bit-level models with ``format_of(x.dtype)``."""
    return _floats(x, "x", "to read bit patterns use from_bits")[0][()]


def from_bits(bits: ArrayLike, fmt: Format) -> np.ndarray | np.generic:
    """Bit patterns of ``fmt`` as floats of its dtype (:func:`dtype_of`)."""
    dtype = dtype_of(fmt)
    patterns = bit_patterns(bits, "bits", _dtype_format(dtype))
    return _view(patterns, dtype)


def _finish(patterns, fflags, dtype, flags):
    result = _view(patterns, dtype)
    return (result, fflags) if switch(flags, "flags") else result


def convert(x: ArrayLike, out_dtype: DTypeLike | None = None, *, rm: RoundMode = "rne",
            ftz: bool = False, saturate: bool = False, flags: bool = False) -> Result:
    """``x`` rounded once to ``out_dtype`` (default: ``x``'s own dtype, which
    only ``ftz`` changes or a signaling NaN quiets), as ``x * 1`` through the
    golden multiplier: NaNs, overflow and underflow as in :func:`multiply`.
    Returns the floats, or ``(floats, fflags)`` with ``flags``."""
    patterns, fmt = _floats(x, "x", "for bit patterns use nnarith.golden.float.multiply")
    dtype = _out_dtype(out_dtype, x.dtype)
    one = np.uint64(((1 << (fmt.exp_bits - 1)) - 1) << fmt.frac_bits)
    y, fflags = bits_float.multiply(patterns, one, fmt, fmt, _dtype_format(dtype), rm,
                                    ftz, saturate)
    return _finish(y, fflags, dtype, flags)


def multiply(a: ArrayLike, b: ArrayLike, *, rm: RoundMode = "rne",
             out_dtype: DTypeLike | None = None, ftz: bool = False, saturate: bool = False,
             flags: bool = False) -> Result:
    """``a * b`` rounded once to ``out_dtype`` by :func:`nnarith.golden.float.multiply`.

    ``a`` and ``b`` may differ in dtype; ``out_dtype`` defaults to theirs and
    must be given when they differ. ``rm``: ``"rne"``, ``"rtz"``, ``"rdn"``,
    ``"rup"``, ``"rmm"`` or a code 0..4; ``ftz``, ``saturate`` as in the
    bit-level model. Returns the products, or ``(products, fflags)`` with
    ``flags``.
    """
    a_bits, a_fmt = _floats(a, "a", _BITS_HINT.format("float.multiply"))
    b_bits, b_fmt = _floats(b, "b", _BITS_HINT.format("float.multiply"))
    dtype = _out_dtype(out_dtype, a.dtype if a.dtype == b.dtype else None,
                       f" when a and b differ in dtype ({a.dtype}, {b.dtype})")
    y, fflags = bits_float.multiply(a_bits, b_bits, a_fmt, b_fmt, _dtype_format(dtype), rm,
                                    ftz, saturate)
    return _finish(y, fflags, dtype, flags)


def fma(a: ArrayLike, b: ArrayLike, c: ArrayLike, *, rm: RoundMode = "rne",
        out_dtype: DTypeLike | None = None, ftz: bool = False, saturate: bool = False,
        flags: bool = False) -> Result:
    """Fused ``a * b + c``, rounded once to ``out_dtype`` (default: ``c``'s dtype),
    by :func:`nnarith.golden.float.fma`.

    ``a``, ``b`` and ``c`` may each have their own dtype (e.g. float16
    products into a float32 sum). Options as in :func:`multiply`.
    """
    a_bits, a_fmt = _floats(a, "a", _BITS_HINT.format("float.fma"))
    b_bits, b_fmt = _floats(b, "b", _BITS_HINT.format("float.fma"))
    c_bits, c_fmt = _floats(c, "c", _BITS_HINT.format("float.fma"))
    dtype = _out_dtype(out_dtype, c.dtype)
    y, fflags = bits_float.fma(a_bits, b_bits, c_bits, a_fmt, b_fmt, c_fmt,
                               _dtype_format(dtype), rm, ftz, saturate)
    return _finish(y, fflags, dtype, flags)


def mma(A: ArrayLike, B: ArrayLike, C: ArrayLike | None = None, *, mode: str = "fused",
        gpu: str | None = None, rm: RoundMode | None = None,
        out_dtype: DTypeLike | None = None, flags: bool = False,
        instr: str | None = None) -> Result:
    """``D = A·B + C`` in numerics ``mode`` by :func:`nnarith.golden.mma.mma`.

    ``A`` ``(..., M, K)`` and ``B`` ``(..., K, N)`` share one dtype (the input
    format); ``C`` ``(..., M, N)`` has the accumulator's, which is also
    ``D``'s. Without ``C`` the sum starts from +0 of ``out_dtype`` (default:
    ``A``'s dtype); with ``C``, ``out_dtype`` if given must be ``C``'s dtype.
    ``mode``: ``fused`` (exact sum, one rounding), ``chain`` (one rounded FMA
    per k) or ``tensorcore`` (with ``gpu``: a :data:`~nnarith.golden.formats.GPUS`
    name, and ``instr`` where h100/h200 FP8 has a choice: ``wgmma`` or ``mma``).
    ``rm`` (fused, chain; RNE by default). Returns ``D``,
    or ``(D, fflags)`` with ``flags`` (``fflags`` None in tensorcore mode).
    """
    a_bits, in_fmt = _floats(A, "A", _BITS_HINT.format("mma.mma"))
    b_bits, b_fmt = _floats(B, "B", _BITS_HINT.format("mma.mma"))
    if b_fmt != in_fmt:
        raise ValueError(f"B: must have A's dtype {A.dtype}, got {B.dtype}")
    if C is None:
        dtype = _out_dtype(out_dtype, A.dtype)
        c_bits = np.zeros(np.shape(A)[:-1] + np.shape(B)[-1:], dtype=np.uint64)
    else:
        c_bits, _ = _floats(C, "C", _BITS_HINT.format("mma.mma"))
        dtype = _out_dtype(out_dtype, C.dtype)
        if dtype != C.dtype:
            raise ValueError(f"out_dtype: must be C's dtype {C.dtype} (D and C share the "
                             f"accumulator format), got {dtype}")
    d, fflags = bits_mma.mma(a_bits, b_bits, c_bits, in_fmt, _dtype_format(dtype), mode,
                             gpu=gpu, rm=rm, instr=instr)
    return _finish(d, fflags, dtype, flags)
