"""Argument checks shared by every golden model.

Each check turns what a caller passed into what the models compute on, or
raises one ``ValueError`` that names the parameter, says what it accepts and
shows what it got. Bit-level inputs are integers only: Python ints, integer
NumPy scalars and arrays, lists of ints (bools, floats, strings and other
objects are refused: a float16 array is not a set of fp16 bit patterns). A
scalar argument gives a scalar-shaped result (see :func:`shaped`).
"""

import numpy as np
from numpy.typing import ArrayLike

from .formats import ROUND_MODES, FloatFormat, QFormat, float_format

__all__ = ["describe", "integers", "lanes", "bit_patterns", "float64_values", "booleans",
           "switch", "count", "float_fmt", "qformat", "round_mode", "broadcast_shape",
           "per_step", "shaped"]

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1

#: The first code a 3-bit ``rm`` port can carry beyond the five modes: RISC-V
#: reserves 5..7 (7 is ``dyn`` in an instruction); the units read them as RTZ.
_RESERVED_CODE = 5

_MODE_LIST = ", ".join(f"{name.lower()} ({code})" for name, code in ROUND_MODES.items())


def describe(x: object) -> str:
    """What ``x`` is, for an error message: ``float16 array``, ``float 1.5``, ``bool True``."""
    if isinstance(x, np.ndarray):
        return f"{x.dtype} array" if x.ndim else f"{x.dtype} 0-d array {x[()]!r}"
    if isinstance(x, np.generic):
        return f"{x.dtype} {x.item()!r}"
    if isinstance(x, (list, tuple)):
        try:
            kind = np.asarray(x).dtype
        except ValueError:
            return f"ragged {type(x).__name__}"
        return f"{type(x).__name__} of {'floats' if kind.kind == 'f' else kind}"
    text = repr(x)
    if isinstance(x, str):
        return text
    return f"{type(x).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _float_like(dtype: np.dtype) -> bool:
    # ml_dtypes floats (bfloat16, float8_*) have kind "V": recognise them by name.
    return dtype.kind == "f" or "float" in dtype.name


def _holds_floats(x) -> bool:
    if isinstance(x, (float, np.floating)):
        return True
    try:
        return _float_like(np.asarray(x).dtype)
    except (ValueError, TypeError):
        return False


def _show(value, as_hex):
    if as_hex:
        return hex(value) if value else "0"
    return {_INT64_MIN: "-2**63", _INT64_MAX: "2**63 - 1"}.get(value, str(value))


def _bounds(lo, hi, as_hex):
    if lo is None and hi is None:
        return ""
    if (lo, hi) == (_INT64_MIN, _INT64_MAX):
        return " within int64"
    if hi is None:
        return f" >= {_show(lo, as_hex)}"
    if lo is None:
        return f" <= {_show(hi, as_hex)}"
    return f" in {_show(lo, as_hex)}..{_show(hi, as_hex)}"


def _checked(x, name, lo, hi, kind, hint, as_hex):
    """``x`` as an int64, uint64 or object (Python ints) array within ``lo..hi``."""
    def refuse(got=None):
        message = (f"{name}: {kind} must be integers{_bounds(lo, hi, as_hex)}, "
                   f"got {got or describe(x)}")
        raise ValueError(message + (f" ({hint})" if hint and got is None and _holds_floats(x)
                                    else ""))

    if isinstance(x, (bool, np.bool_, str, bytes)):
        refuse()
    try:
        arr = np.asarray(x)
        if arr.dtype.kind == "f" and isinstance(x, (list, tuple)):
            arr = np.array(x, dtype=object)   # NumPy reads [] and [2**62, 2**63] as floats
    except (ValueError, TypeError):
        refuse()
    if arr.dtype.kind in "iu":
        arr = arr if arr.dtype in (np.int64, np.uint64) else arr.astype(np.int64)
    elif arr.dtype == object and all(_is_int(v) for v in arr.flat):
        arr = np.array([int(v) for v in arr.flat], dtype=object).reshape(arr.shape)
    else:
        refuse()
    if arr.size and (lo is not None or hi is not None):
        low, high = (int(arr.min()), int(arr.max()))
        if (lo is not None and low < lo) or (hi is not None and high > hi):
            outside = np.zeros(arr.shape, dtype=bool)
            if lo is not None:
                outside |= np.asarray(arr < lo, dtype=bool)
            if hi is not None:
                outside |= np.asarray(arr > hi, dtype=bool)
            index = tuple(np.argwhere(outside)[0].tolist())
            value = _show(int(arr[index]), as_hex)
            refuse(value if arr.ndim == 0 else f"{value} at index {index}")
    return arr


def integers(x: ArrayLike, name: str, lo: int | None = None, hi: int | None = None, *,
             kind: str = "values", hint: str | None = None) -> np.ndarray:
    """``x`` as an array of integers in ``lo..hi`` (a bound of None: unbounded).

    Returns int64 when every value fits, otherwise an object array of Python
    ints (exact at any width). ``kind`` names what the values are in the
    message (``a: int8 values must be integers in -128..127, got 200``);
    ``hint`` is added when ``x`` holds floats.
    """
    arr = _checked(x, name, lo, hi, kind, hint, as_hex=False)
    if arr.dtype == object:
        fits = all(_INT64_MIN <= v <= _INT64_MAX for v in arr.flat)
    else:
        fits = arr.dtype == np.int64 or not arr.size or int(arr.max()) <= _INT64_MAX
    if not fits:
        return arr.astype(object)
    return arr.astype(np.int64)


def lanes(x: ArrayLike, name: str, width: int) -> np.ndarray:
    """Integer operands of ``width`` bits, signed or unsigned: values in
    ``-2**(width-1) .. 2**width - 1``."""
    return integers(x, name, -(1 << (width - 1)), (1 << width) - 1, kind=f"{width}-bit lanes")


def bit_patterns(x: ArrayLike, name: str, fmt: FloatFormat, *,
                 values_hint: str | None = None) -> np.ndarray:
    """``x`` as uint64 bit patterns of ``fmt`` (integers in ``0..2**width - 1``).

    ``values_hint``: the :mod:`nnarith.golden.values` function to name when
    ``x`` holds floats, e.g. ``multiply``.
    """
    hint = f"for float values use nnarith.golden.values.{values_hint}" if values_hint else None
    bits = _checked(x, name, 0, (1 << fmt.width) - 1, f"{fmt.name} bit patterns", hint,
                    as_hex=True)
    return bits.astype(np.uint64)


def float64_values(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` as float64: Python floats, lists of them, or NumPy / ml_dtypes float
    scalars and arrays up to 64 bits (all convert exactly). Integers are refused:
    they would be read as values where a bit pattern may have been meant."""
    if isinstance(x, (float, np.floating)) and not isinstance(x, np.longdouble):
        return np.asarray(x, dtype=np.float64)
    try:
        arr = None if isinstance(x, (str, bytes)) else np.asarray(x)
    except (ValueError, TypeError):
        arr = None
    if arr is None or not _float_like(arr.dtype) or arr.dtype.itemsize > 8:
        raise ValueError(f"{name}: must be floats (Python floats, float16/32/64 or "
                         f"ml_dtypes float arrays), got {describe(x)}")
    return arr.astype(np.float64)


def booleans(x: ArrayLike, name: str) -> np.ndarray:
    """``x`` (bools, or integers 0 and 1) as a bool array."""
    if isinstance(x, (bool, np.bool_)) or getattr(x, "dtype", None) == bool:
        return np.asarray(x, dtype=bool)
    if isinstance(x, (list, tuple)) and all(isinstance(v, (bool, np.bool_)) for v in x):
        return np.asarray(x, dtype=bool)
    return _checked(x, name, 0, 1, "flags (bools or 0/1)", None, as_hex=False).astype(bool)


def switch(x: object, name: str) -> bool:
    """One on/off option: a bool (or the integer 0 or 1)."""
    if isinstance(x, (bool, np.bool_)) or (_is_int(x) and x in (0, 1)):
        return bool(x)
    raise ValueError(f"{name}: must be True or False, got {describe(x)}")


def count(x: object, name: str, lo: int, hi: int | None = None) -> int:
    """One integer parameter (a width, a size) in ``lo..hi``."""
    if _is_int(x) and lo <= x and (hi is None or x <= hi):
        return int(x)
    allowed = f">= {lo}" if hi is None else f"in {lo}..{hi}"
    raise ValueError(f"{name}: must be an integer {allowed}, got {describe(x)}")


def float_fmt(fmt: str | FloatFormat, name: str) -> FloatFormat:
    """A float format by name (``fp16``, ``bf16``, ``e4m3``, ``eXmY`` ...) or
    :class:`FloatFormat`; an unknown name lists the known ones."""
    try:
        return float_format(fmt)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def qformat(fmt: object, name: str) -> QFormat:
    """``fmt`` itself if it is a :class:`QFormat`."""
    if isinstance(fmt, QFormat):
        return fmt
    raise ValueError(f"{name}: must be a QFormat (e.g. QFormat(16, 8) for Q8.8), "
                     f"got {describe(fmt)}")


def round_mode(rm: str | int | ArrayLike, *, per_element: bool = False) -> int | np.ndarray:
    """A rounding mode: a RISC-V name (``rne``, ``rtz``, ``rdn``, ``rup``, ``rmm``,
    any case) or its ``frm`` code 0..4; returns the code.

    ``per_element``: ``rm`` may also be an integer array of codes, one per
    element, as a unit's 3-bit ``rm`` port sees them: there the reserved codes
    5..7 are accepted and read as RTZ (1), as the hardware does. Returns an
    int64 array of codes 0..4 then.
    """
    if isinstance(rm, str) and rm.upper() in ROUND_MODES:
        return ROUND_MODES[rm.upper()]
    if _is_int(rm) and 0 <= rm <= 4:
        return int(rm)
    if isinstance(rm, np.ndarray) and rm.ndim == 0 and _is_int(rm[()]) and 0 <= rm[()] <= 4:
        return int(rm[()])
    if per_element and not isinstance(rm, (str, bool, np.bool_)) and np.ndim(rm):
        codes = integers(rm, "rm", 0, 7, kind="per-element modes (codes 0..4; 5..7 read as rtz)")
        return np.where(codes >= _RESERVED_CODE, ROUND_MODES["RTZ"], codes)
    got = describe(rm) if not _is_int(rm) else rm
    raise ValueError(f"rm: must be one of {_MODE_LIST}, got {got}")


def broadcast_shape(**arrays: ArrayLike) -> tuple[int, ...]:
    """The common shape of the named arrays; ValueError naming them if none."""
    try:
        return np.broadcast_shapes(*(np.shape(a) for a in arrays.values()))
    except ValueError:
        shapes = ", ".join(f"{name} {np.shape(a)}" for name, a in arrays.items())
        raise ValueError(f"{', '.join(arrays)}: shapes do not broadcast: {shapes}") from None


def per_step(x: ArrayLike, name: str, steps: int) -> np.ndarray:
    """``x`` (one value, or one per step of a stream) as ``steps`` values."""
    if np.ndim(x) and np.shape(x) != (steps,):
        raise ValueError(f"{name}: must be one value or one per step ({steps}), "
                         f"got shape {np.shape(x)}")
    return np.broadcast_to(x, (steps,))


def shaped(result: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | np.generic:
    """``result`` in ``shape``; for the shape ``()`` of scalar inputs, a NumPy scalar."""
    return np.reshape(result, shape)[()]
