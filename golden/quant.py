"""Quantization golden model: affine quantization, calibration, and the
gemmlowp / TFLite integer requantization pipeline, bit for bit.

Real values map to integers by ``r = S * (q - Z)`` (scale ``S``, zero point
``Z``). An integer-only layer accumulates in int32 and the requantizer scales
the accumulator by a Q0.31 multiplier ``M`` and a power-of-two ``shift``
(``S_x * S_w / S_out ~= M * 2**(shift - 31)``), adds the output zero point and
clamps. The integer functions reproduce gemmlowp's ``fixedpoint.h`` and
TFLite's ``MultiplyByQuantizedMultiplier`` exactly (int32 wraparound where the
C code wraps), vectorized over NumPy int64 arrays; every int32 * int32 product
and every rounding constant used here fits in int64 without overflow.

Integer arguments are checked: integers only (Python ints, integer NumPy
arrays, lists of ints; never floats or bools), in the documented range
(int32 values unless said otherwise); a ValueError names the argument.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .checks import integers

__all__ = [
    "INT32_MIN", "INT32_MAX", "wrap_int32", "round_half_away",
    "saturating_rounding_doubling_high_mul", "rounding_divide_by_pot",
    "multiply_by_quantized_multiplier", "requantize", "quantize_multiplier",
    "QParams", "quantize", "dequantize", "fake_quantize", "choose_qparams", "calibrate",
    "kl_threshold", "linear_terms", "quantize_bias", "quantized_linear", "linear_float",
]

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1
ROUNDINGS = ("double", "single")
ACTIVATIONS = ("none", "relu", "relu6")
SCHEMES = ("asymmetric", "symmetric", "power_of_two")
METHODS = ("minmax", "percentile", "mse", "kl")
MSE_CANDIDATES = 100
KL_SMOOTHING = 1e-4


# --------------------------------------------------------------------------
# int32 helpers
# --------------------------------------------------------------------------

def wrap_int32(x: ArrayLike) -> np.ndarray:
    """Two's complement wrap of integers (int64 values) to int32, as 32-bit hardware does."""
    return _wrap_int32(integers(x, "x", -(1 << 63), (1 << 63) - 1, kind="values"))


def _wrap_int32(x):
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _int32_values(x, name):
    return integers(x, name, INT32_MIN, INT32_MAX, kind="int32 values")


def round_half_away(v: ArrayLike) -> np.ndarray:
    """Round to nearest, ties away from zero (C ``std::round``, TFLite's ``TfLiteRound``).

    Done as truncation plus an exact fraction test, so values just below one
    half (0.49999999999999994) do not round up as ``floor(v + 0.5)`` would.
    """
    v = np.asarray(v, dtype=np.float64)
    whole = np.trunc(v)
    return whole + np.sign(v) * (np.abs(v - whole) >= 0.5)


# --------------------------------------------------------------------------
# gemmlowp / TFLite integer requantization
# --------------------------------------------------------------------------

def saturating_rounding_doubling_high_mul(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """gemmlowp ``SaturatingRoundingDoublingHighMul`` (ARM ``VQRDMULH``) on int32 values.

    Transcribes gemmlowp's scalar code: ``nudge = a*b >= 0 ? 2**30 : 1 - 2**30``,
    then ``(a*b + nudge) / 2**31`` with C division truncating toward zero, and
    ``a == b == INT32_MIN`` saturating to ``INT32_MAX``. That is exactly
    ``floor((a*b + 2**30) / 2**31)`` -- round to nearest with ties toward
    +infinity for both signs (a negative tie such as a*b = -2**30 gives 0, not
    -1) -- so the ANCHORS formula ``(a*b + 2**30) >> 31`` describes the same
    function; it is NOT ties-away-from-zero despite the sign-dependent nudge.
    """
    a = _int32_values(a, "a")
    b = _int32_values(b, "b")
    product = a * b                                   # |a*b| <= 2**62: exact in int64
    nudge = np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    numerator = product + nudge
    truncated = np.sign(numerator) * (np.abs(numerator) >> 31)
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, truncated)


def rounding_divide_by_pot(x: ArrayLike, exponent: ArrayLike) -> np.ndarray:
    """gemmlowp ``RoundingDivideByPOT``: ``x / 2**exponent``, ties away from zero.

    ``(x >> e) + ((x & mask) > (mask >> 1) + (x < 0))`` with ``mask = 2**e - 1``;
    ``exponent`` is 0..31, a scalar or an array broadcast against ``x``.
    """
    x = _int32_values(x, "x")
    exponent = integers(exponent, "exponent", 0, 31, kind="shift counts")
    mask = (np.int64(1) << exponent) - 1
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + ((x & mask) > threshold)


def _check_shift(shift):
    return integers(shift, "shift", -31, 30, kind="shifts")


def multiply_by_quantized_multiplier(x: ArrayLike, multiplier: ArrayLike, shift: ArrayLike,
                                     rounding: str = "double") -> np.ndarray:
    """TFLite ``MultiplyByQuantizedMultiplier``: ``x * multiplier * 2**(shift - 31)`` rounded.

    ``"double"`` (TFLite's default build): ``x`` is shifted left by
    ``max(shift, 0)`` with int32 wraparound, multiplied with
    :func:`saturating_rounding_doubling_high_mul` (first rounding, ties toward
    +inf) and shifted right by ``max(-shift, 0)`` with
    :func:`rounding_divide_by_pot` (second rounding, ties away from zero).
    ``"single"`` (``TFLITE_SINGLE_ROUNDING``): one rounding of the exact product,
    ``(x*M + 2**(30 - shift)) >> (31 - shift)`` (ties toward +inf), saturated to
    int32. ``x`` and ``multiplier`` are int32 values (negative multipliers are
    allowed), ``shift`` is in -31..30; all three broadcast.
    """
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding: must be one of {ROUNDINGS}, got {rounding!r}")
    x = _int32_values(x, "x")
    multiplier = _int32_values(multiplier, "multiplier")
    shift = _check_shift(shift)
    if rounding == "single":
        total = 31 - shift                           # 1..62
        # |x*M| <= 2**62 and the rounding constant <= 2**61: no int64 overflow
        result = (x * multiplier + (np.int64(1) << (total - 1))) >> total
        return np.clip(result, INT32_MIN, INT32_MAX)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    high = saturating_rounding_doubling_high_mul(_wrap_int32(x << left), multiplier)
    return rounding_divide_by_pot(high, right)


def _output_range(out_bits, out_signed):
    if not 1 <= out_bits <= 32 or (out_signed and out_bits < 2):
        raise ValueError(f"out_bits: must be in {2 if out_signed else 1}..32, got {out_bits}")
    if out_signed:
        return -(1 << (out_bits - 1)), (1 << (out_bits - 1)) - 1
    return 0, (1 << out_bits) - 1


def requantize(acc: ArrayLike, multiplier: ArrayLike, shift: ArrayLike, out_zp: ArrayLike, *,
               a_sum: ArrayLike = 0, w_zp: ArrayLike = 0, offset: ArrayLike = 0,
               out_signed: bool = True, out_bits: int = 8, rounding: str = "double",
               activation: str = "none", relu6_q: ArrayLike | None = None) -> np.ndarray:
    """int32 accumulator to a narrow output integer, as an int8/uint8 layer epilogue.

    1. ``x = wrap_int32(acc - w_zp * a_sum + offset)`` (all mod 2**32): folds the
       weight zero point and the per-channel offset of :func:`linear_terms`;
    2. ``y = multiply_by_quantized_multiplier(x, multiplier, shift, rounding)``;
    3. output range ``lo..hi`` from ``out_bits`` / ``out_signed``; ``"relu"``
       raises ``lo`` to ``out_zp``, ``"relu6"`` also lowers ``hi`` to ``relu6_q``
       (the quantized 6.0);
    4. ``clamp(y + out_zp, lo, hi)`` with an exact (non-wrapping) add.

    Every argument broadcasts: scalars per tensor, arrays per channel.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: must be one of {ACTIVATIONS}, got {activation!r}")
    if activation == "relu6" and relu6_q is None:
        raise ValueError("relu6_q: must be given for activation 'relu6'")
    lo, hi = _output_range(out_bits, out_signed)
    acc, a_sum, w_zp, offset, out_zp = (_int32_values(v, name) for v, name in (
        (acc, "acc"), (a_sum, "a_sum"), (w_zp, "w_zp"), (offset, "offset"), (out_zp, "out_zp")))
    x = _wrap_int32(acc - w_zp * a_sum + offset)
    y = multiply_by_quantized_multiplier(x, multiplier, shift, rounding)
    if activation != "none":
        lo = np.maximum(lo, out_zp)
    if activation == "relu6":
        hi = np.minimum(hi, _int32_values(relu6_q, "relu6_q"))
    return np.minimum(np.maximum(y + out_zp, lo), hi)


def quantize_multiplier(real: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """TFLite ``QuantizeMultiplier``: ``real >= 0`` to ``(M, shift)``, real ~= M * 2**(shift-31).

    ``frexp`` splits ``real = frac * 2**shift`` with ``frac`` in [0.5, 1);
    ``M = round_half_away(frac * 2**31)`` lies in [2**30, 2**31), and when it
    rounds up to 2**31 it is halved and ``shift`` incremented. ``real == 0`` and
    reals so small that ``shift < -31`` give ``(0, 0)`` (TFLite flushes them to
    zero). ``shift > 30`` (real >= 2**30) is a ValueError. Vectorized.
    """
    real = np.asarray(real, dtype=np.float64)
    if np.any(~np.isfinite(real)) or np.any(real < 0):
        raise ValueError("real: must be finite and >= 0")
    frac, shift = np.frexp(real)
    shift = shift.astype(np.int64)
    m = round_half_away(frac * 2.0 ** 31).astype(np.int64)   # exact: frac has 53 bits
    carry = m == (1 << 31)
    m = np.where(carry, m // 2, m)
    shift = shift + carry
    flush = (real == 0) | (shift < -31)
    m = np.where(flush, 0, m)
    shift = np.where(flush, 0, shift)
    if np.any(shift > 30):
        raise ValueError("real: must be < 2**30 (shift would exceed 30)")
    return m, shift


# --------------------------------------------------------------------------
# affine quantization parameters
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class QParams:
    """Affine quantization ``r = scale * (q - zero_point)`` with ``q`` in ``qmin..qmax``.

    ``scale`` (float64) and ``zero_point`` (int64) are 0-d arrays per tensor or
    1-d arrays with one entry per slice along ``axis`` (per channel).
    """
    scale: np.ndarray
    zero_point: np.ndarray
    qmin: int
    qmax: int
    axis: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "qmin", int(self.qmin))
        object.__setattr__(self, "qmax", int(self.qmax))
        object.__setattr__(self, "scale", np.asarray(self.scale, dtype=np.float64))
        object.__setattr__(self, "zero_point", np.asarray(self.zero_point, dtype=np.int64))
        if self.qmin >= self.qmax:
            raise ValueError(f"qmin: must be < qmax, got {self.qmin}..{self.qmax}")
        if np.any(~(self.scale > 0)) or np.any(~np.isfinite(self.scale)):
            raise ValueError("scale: must be finite and > 0")
        if np.any(self.zero_point < self.qmin) or np.any(self.zero_point > self.qmax):
            raise ValueError("zero_point: must lie in qmin..qmax")
        per_channel = self.axis is not None
        for name in ("scale", "zero_point"):
            ndim = getattr(self, name).ndim
            if ndim != (1 if per_channel else 0):
                expected = "1-d with axis" if per_channel else "0-d without axis"
                raise ValueError(f"{name}: must be {expected}, got {ndim}-d")

    @property
    def signed(self):
        return self.qmin < 0

    @property
    def bits(self):
        """Storage width: 8 for int8 -128..127, narrow int8 -127..127 and uint8."""
        return max(self.qmax.bit_length(), (-self.qmin - 1).bit_length()) + self.signed

    def broadcast(self, ndim):
        """``(scale, zero_point)`` shaped to broadcast against an ``ndim``-d tensor."""
        if self.axis is None:
            return self.scale, self.zero_point
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"axis: {self.axis} out of range for a {ndim}-d tensor")
        shape = [1] * ndim
        shape[self.axis] = -1
        return self.scale.reshape(shape), self.zero_point.reshape(shape)


def quantize(r: ArrayLike, qp: QParams) -> np.ndarray:
    """``clamp(round_half_away(r / scale) + zero_point, qmin, qmax)`` as int64.

    The rounding is TFLite's (``TfLiteRound`` = ``std::round``, ties away from
    zero); the division is done in float64 (TFLite divides in float32).
    """
    r = np.asarray(r, dtype=np.float64)
    if np.any(np.isnan(r)):
        raise ValueError("r: must not contain NaN")
    scale, zp = qp.broadcast(r.ndim)
    # clip first so that infinities and huge values convert to int64 safely
    steps = np.clip(r / scale, qp.qmin - zp - 1.0, qp.qmax - zp + 1.0)
    return np.clip(round_half_away(steps).astype(np.int64) + zp, qp.qmin, qp.qmax)


def dequantize(q: ArrayLike, qp: QParams) -> np.ndarray:
    """``scale * (q - zero_point)`` in float64; ``q`` integers in ``qmin..qmax``."""
    q = integers(q, "q", qp.qmin, qp.qmax, kind="quantized values")
    scale, zp = qp.broadcast(q.ndim)
    return scale * (q - zp)


def fake_quantize(r: ArrayLike, qp: QParams) -> np.ndarray:
    """Quantize then dequantize: the values a quantized tensor actually represents."""
    return dequantize(quantize(r, qp), qp)


def _scheme_range(bits, signed, scheme):
    if not 2 <= bits <= 16:
        raise ValueError(f"bits: must be in 2..16, got {bits}")
    if scheme not in SCHEMES:
        raise ValueError(f"scheme: must be one of {SCHEMES}, got {scheme!r}")
    half = 1 << (bits - 1)
    if scheme == "asymmetric":
        return (-half, half - 1) if signed else (0, 2 * half - 1)
    # symmetric grids are narrow: as many levels above zero as below
    return (-(half - 1), half - 1) if signed else (1, 2 * half - 1)


def choose_qparams(rmin: ArrayLike, rmax: ArrayLike, *, bits: int = 8, signed: bool = True,
                   scheme: str = "asymmetric", axis: int | None = None) -> QParams:
    """Quantization parameters covering ``[rmin, rmax]`` (arrays per channel with ``axis``).

    The range is first widened to include 0, so that real zero (padding, ReLU
    zeros) is exactly representable.

    - ``"asymmetric"``: ``scale = (rmax - rmin) / (qmax - qmin)`` over the full
      range (int8 -128..127, uint8 0..255); the zero point
      ``qmin - rmin / scale`` is rounded (half away) and kept inside
      ``qmin..qmax``.
    - ``"symmetric"``: zero point in the middle of a narrow range,
      ``scale = max(|rmin|, |rmax|) / (2**(bits-1) - 1)``: signed gives
      ``Z = 0`` on -127..127 (TFLite's int8 weights), unsigned gives ``Z = 128``
      on 1..255.
    - ``"power_of_two"``: as symmetric with ``scale`` rounded up to a power of
      two, so that rescaling is a shift.

    A zero-width range gets ``scale = 1``.
    """
    qmin, qmax = _scheme_range(bits, signed, scheme)
    rmin = np.minimum(np.asarray(rmin, dtype=np.float64), 0.0)
    rmax = np.maximum(np.asarray(rmax, dtype=np.float64), 0.0)
    if np.any(~np.isfinite(rmin)) or np.any(~np.isfinite(rmax)):
        raise ValueError("rmin, rmax: must be finite")
    if (rmin.ndim != 0 or rmax.ndim != 0) and axis is None:
        raise ValueError("axis: must be given for per-channel ranges")
    if axis is not None:
        rmin, rmax = np.broadcast_arrays(np.atleast_1d(rmin), np.atleast_1d(rmax))
    if scheme == "asymmetric":
        scale = (rmax - rmin) / (qmax - qmin)
        scale = np.where(scale > 0, scale, 1.0)
        zero_point = np.clip(round_half_away(qmin - rmin / scale), qmin, qmax).astype(np.int64)
    else:
        levels = (1 << (bits - 1)) - 1
        scale = np.maximum(-rmin, rmax) / levels
        scale = np.where(scale > 0, scale, 1.0)
        if scheme == "power_of_two":
            frac, exp = np.frexp(scale)
            scale = np.ldexp(1.0, np.where(frac == 0.5, exp - 1, exp))
        zero_point = np.full(scale.shape, 0 if signed else 1 << (bits - 1), dtype=np.int64)
    return QParams(scale, zero_point, qmin, qmax, axis)


# --------------------------------------------------------------------------
# calibration
# --------------------------------------------------------------------------

def kl_threshold(x: ArrayLike, *, bins: int = 2048, levels: int = 128) -> float:
    """TensorRT entropy calibration: the clipping threshold for ``|x|``.

    Histogram ``|x|`` into ``bins`` bins over ``[0, max|x|]``. For each
    candidate ``i`` in ``levels..bins-1``: the reference ``P`` is ``hist[:i]``
    with all outliers ``hist[i:]`` added to its last bin; the candidate ``Q``
    merges ``hist[:i]`` (without outliers) into ``levels`` groups (bin ``j`` to
    group ``j * levels // i``) and spreads each group's count evenly over its
    nonzero bins (empty bins stay empty). Both are normalized; ``Q``'s empty
    bins get ``KL_SMOOTHING`` so ``KL(P || Q)`` stays finite. The threshold is
    the upper edge ``i * width`` of the best candidate (the first minimum).
    """
    magnitude = np.abs(np.asarray(x, dtype=np.float64)).ravel()
    if bins <= levels:
        raise ValueError(f"bins: must be > levels ({levels}), got {bins}")
    top = magnitude.max() if magnitude.size else 0.0
    if top == 0:
        return 0.0
    hist = np.histogram(magnitude, bins=bins, range=(0.0, top))[0].astype(np.float64)
    outliers = np.concatenate([np.cumsum(hist[::-1])[::-1], [0.0]])   # [i] = hist[i:].sum()
    best_i, best_kl = bins, np.inf
    for i in range(levels, bins):
        kept = hist[:i]
        p = kept.copy()
        p[-1] += outliers[i]
        group = np.arange(i) * levels // i
        nonzero = kept > 0
        group_sum = np.bincount(group, weights=kept, minlength=levels)
        group_nonzero = np.bincount(group, weights=nonzero, minlength=levels)
        if group_sum.sum() == 0:
            continue
        q = np.where(nonzero, group_sum[group] / np.maximum(group_nonzero[group], 1), 0.0)
        p /= p.sum()
        q /= q.sum()
        q = np.where(q > 0, q, KL_SMOOTHING)
        q /= q.sum()
        support = p > 0
        kl = float(np.sum(p[support] * np.log(p[support] / q[support])))
        if kl < best_kl:
            best_i, best_kl = i, kl
    return best_i * top / bins


def _mse_range(values, rmin, rmax, bits, signed, scheme):
    """The range ``alpha * (rmin, rmax)``, alpha in (0, 1], whose quantization error is least."""
    best, best_err = (rmin, rmax), np.inf
    for alpha in np.arange(MSE_CANDIDATES, 0, -1) / MSE_CANDIDATES:
        qp = choose_qparams(alpha * rmin, alpha * rmax, bits=bits, signed=signed, scheme=scheme)
        err = np.mean((fake_quantize(values, qp) - values) ** 2)
        if err < best_err:
            best, best_err = (alpha * rmin, alpha * rmax), err
    return best


def _channel_range(values, method, bits, signed, scheme, percentile, bins):
    symmetric = scheme != "asymmetric"
    if values.size == 0:
        return 0.0, 0.0
    lo, hi = float(values.min()), float(values.max())
    if method == "minmax":
        return lo, hi
    if method == "percentile":
        if symmetric:
            t = float(np.percentile(np.abs(values), percentile))
            return -t, t
        low, high = np.percentile(values, [100 - percentile, percentile])
        return float(low), float(high)
    if method == "mse":
        if symmetric:
            t = max(-lo, hi)
            return _mse_range(values, -t, t, bits, signed, scheme)
        return _mse_range(values, min(lo, 0.0), max(hi, 0.0), bits, signed, scheme)
    t = kl_threshold(values, bins=bins, levels=1 << (bits - 1))
    if symmetric:
        return -t, t
    return max(lo, -t), min(hi, t)


def calibrate(x: ArrayLike, *, method: str = "minmax", bits: int = 8, signed: bool = True,
              scheme: str = "asymmetric", axis: int | None = None, percentile: float = 99.99,
              bins: int = 2048) -> QParams:
    """Quantization parameters for data ``x``, per tensor or per channel along ``axis``.

    Each method picks a clipping range, then :func:`choose_qparams` applies the
    scheme:

    - ``"minmax"``: the data's min and max;
    - ``"percentile"``: the ``percentile`` / ``100 - percentile`` percentiles
      (of ``|x|`` for symmetric schemes);
    - ``"mse"``: the range ``alpha * (min, max)`` (``alpha * max|x|`` symmetric),
      alpha = 0.01..1 in steps of 0.01, that minimizes the mean squared
      quantize/dequantize error on ``x``;
    - ``"kl"``: the TensorRT entropy threshold ``T`` of :func:`kl_threshold`
      with ``2**(bits-1)`` levels (128 for 8 bits). Symmetric schemes use
      ``[-T, T]``; asymmetric uses the data range clipped to it,
      ``[max(min, -T), min(max, T)]``.
    """
    if method not in METHODS:
        raise ValueError(f"method: must be one of {METHODS}, got {method!r}")
    if not 50 < percentile <= 100:
        raise ValueError(f"percentile: must be in (50, 100], got {percentile}")
    _scheme_range(bits, signed, scheme)
    x = np.asarray(x, dtype=np.float64)
    if np.any(~np.isfinite(x)):
        raise ValueError("x: must be finite")
    if axis is None:
        rows = x.reshape(1, -1)
    else:
        if not -x.ndim <= axis < x.ndim:
            raise ValueError(f"axis: {axis} out of range for a {x.ndim}-d tensor")
        rows = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    ranges = np.array([_channel_range(row, method, bits, signed, scheme, percentile, bins)
                       for row in rows])
    if axis is None:
        return choose_qparams(ranges[0, 0], ranges[0, 1], bits=bits, signed=signed, scheme=scheme)
    return choose_qparams(ranges[:, 0], ranges[:, 1], bits=bits, signed=signed, scheme=scheme,
                          axis=axis)


# --------------------------------------------------------------------------
# integer-only linear layer
# --------------------------------------------------------------------------

def linear_terms(q_x: ArrayLike, q_w: ArrayLike, x_zp: ArrayLike, w_zp: ArrayLike,
                 bias_q: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three requantizer inputs of an integer linear layer ``q_x @ q_w``.

    ``q_x`` is (rows, K), ``q_w`` is (K, out). Returns int32-wrapped
    ``acc = q_x @ q_w`` (rows, out), ``a_sum = q_x.sum(axis=1)`` (rows,) and
    ``offset = bias_q + K*x_zp*w_zp - x_zp * q_w.sum(axis=0)`` (out,), so that
    ``acc - w_zp * a_sum[:, None] + offset`` equals
    ``sum_k (q_x - x_zp) * (q_w - w_zp) + bias_q`` modulo 2**32: the weight
    zero point stays a run-time term, everything else folds into ``offset``.
    ``w_zp`` is a scalar or per output channel.
    """
    q_x, q_w = _int32_values(q_x, "q_x"), _int32_values(q_w, "q_w")
    if q_x.ndim != 2 or q_w.ndim != 2 or q_x.shape[1] != q_w.shape[0]:
        raise ValueError(f"q_x, q_w: must be (rows, K) and (K, out), "
                         f"got {q_x.shape} and {q_w.shape}")
    k = q_x.shape[1]
    x_zp, w_zp = _int32_values(x_zp, "x_zp"), _int32_values(w_zp, "w_zp")
    acc = _wrap_int32(q_x @ q_w)
    a_sum = _wrap_int32(q_x.sum(axis=1))
    bias_q = _int32_values(bias_q, "bias_q")
    offset = _wrap_int32(bias_q + k * x_zp * w_zp - x_zp * q_w.sum(axis=0))
    return acc, a_sum, offset


def quantize_bias(bias: ArrayLike, x_scale: ArrayLike, w_scale: ArrayLike) -> np.ndarray:
    """int32 bias with scale ``x_scale * w_scale`` and zero point 0 (saturating)."""
    steps = np.asarray(bias, dtype=np.float64) / (np.asarray(x_scale) * np.asarray(w_scale))
    return round_half_away(np.clip(steps, INT32_MIN, INT32_MAX)).astype(np.int64)


def quantized_linear(q_x: ArrayLike, q_w: ArrayLike, x_qp: QParams, w_qp: QParams,
                     bias_q: ArrayLike, out_qp: QParams, *, rounding: str = "double",
                     activation: str = "none") -> np.ndarray:
    """Integer-only ``q_x @ q_w + bias`` requantized to ``out_qp``, as the hardware computes it.

    ``x_qp`` and ``out_qp`` are per tensor; ``w_qp`` is per tensor or per output
    channel (``axis`` 1 of the (K, out) weights). Per channel,
    ``(M, shift) = quantize_multiplier(S_x * S_w / S_out)``; the quantized
    6.0 for ``"relu6"`` is ``Z_out + round_half_away(6 / S_out)``. Outputs are
    clamped to ``out_qp``'s ``qmin..qmax``.
    """
    if x_qp.axis is not None or out_qp.axis is not None:
        raise ValueError("x_qp, out_qp: must be per tensor (axis None)")
    if w_qp.axis not in (None, 1, -1):
        raise ValueError(f"w_qp: per-channel axis must be 1 (output channels), got {w_qp.axis}")
    q_x = integers(q_x, "q_x", x_qp.qmin, x_qp.qmax, kind="quantized values")
    q_w = integers(q_w, "q_w", w_qp.qmin, w_qp.qmax, kind="quantized values")
    acc, a_sum, offset = linear_terms(q_x, q_w, x_qp.zero_point, w_qp.zero_point, bias_q)
    multiplier, shift = quantize_multiplier(x_qp.scale * w_qp.scale / out_qp.scale)
    relu6_q = None
    if activation == "relu6":
        six = round_half_away(min(6.0 / out_qp.scale, INT32_MAX)).astype(np.int64)
        relu6_q = out_qp.zero_point + six
    q = requantize(acc, multiplier, shift, out_qp.zero_point, a_sum=a_sum[:, None],
                   w_zp=w_qp.zero_point, offset=offset, out_signed=out_qp.signed,
                   out_bits=out_qp.bits, rounding=rounding, activation=activation,
                   relu6_q=relu6_q)
    return np.clip(q, out_qp.qmin, out_qp.qmax)


def linear_float(x: ArrayLike, w: ArrayLike, b: ArrayLike) -> np.ndarray:
    """The float layer the quantized one approximates: ``x @ w + b``."""
    x, w, b = (np.asarray(v, dtype=np.float64) for v in (x, w, b))
    return x @ w + b
