"""Small float networks on scikit-learn's digits, lowered to GEMMs.

The float side of running a quantized network through the generated RTL:
the data (:func:`load_digits_split`: scikit-learn's 1,797 8x8 digits, which
ship with the package, so nothing is downloaded), two networks trained in
plain NumPy with a fixed seed (:class:`MLP`, :class:`CNN`, :func:`train`),
and their inference written as a chain of GEMMs, so that a precision recipe
can run every GEMM its own way -- through a golden model, or the Verilog of
an MMA unit.

**The contract.** Every layer of both networks is one GEMM plus bias followed
by elementwise work::

    rows = layer.lower(h)              # dense: h flattened to (N, K); conv: im2col(h)
    pre  = gemm(layer, rows)           # (rows, N_out): rows @ layer.weight + layer.bias
    h    = layer.finish(pre, n_images) # ReLU, 2x2 max-pool, reshape to the next layer's input

:meth:`Network.layers` lists the layers in order (:class:`Layer`: the weight
as a ``(K, N)`` float32 matrix, the bias, whether ReLU and pooling follow,
the shapes); :meth:`Network.forward` runs them with a pluggable ``gemm``
callback. **The callback returns the pre-activation including the bias**, so
that a recipe decides how the bias is quantized (int32 at ``S_x * S_w``,
added in fp32, or folded into the accumulator ``C`` of ``D = A.B + C``); the
default, :func:`float_gemm`, is float32 ``rows @ weight + bias``. ReLU and
max-pool are applied by :meth:`Layer.finish` on whatever the callback
returned; both are monotone, so they commute with any dequantization by a
positive scale, and a ReLU fused into a requantizer is harmless here (ReLU is
idempotent).

**Layouts.** Activations are NHWC (``(N, 8, 8, 1)`` for the CNN's input).
:func:`im2col` rows are the output pixels in ``(n, y, x)`` row-major order
and its columns ``(ky, kx, c_in)`` row-major, so a conv weight is the HWIO
kernel ``(3, 3, C_in, C_out)`` reshaped to ``(9 * C_in, C_out)``. Padding is
real zero. A dense layer after a conv flattens NHWC row-major
(``(2, 2, 16)`` -> 64 as ``(y, x, c)``). Dense weights are ``(in, out)``: a
layer is ``x @ w + b``.

Training is mini-batch Adam on the softmax cross-entropy with He-normal
initialization, zero biases and a fixed number of epochs; everything random
(split, initialization, batch order) comes from one NumPy
``default_rng(seed)``, so a seed gives the same weights on a machine
whatever its thread count (BLAS runs on one thread while training) and,
since training runs in float64 and stores float32, almost surely on another.
:func:`save` and :func:`load` keep the float32 weights and a JSON-able
config in one ``.npz``.

Arguments are checked: a ValueError names the parameter,
says what it accepts and shows what it got.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from .checks import count, describe

__all__ = [
    "NET_KINDS", "DIGITS_IMAGES", "CLASSES", "DigitsSplit", "load_digits_split", "images",
    "im2col", "max_pool2", "Layer", "Network", "MLP", "CNN", "float_gemm", "train",
    "train_from", "accuracy", "save", "load",
]

#: The network kinds :func:`train` builds.
NET_KINDS = ("mlp", "cnn")
#: Images in scikit-learn's digits data set.
DIGITS_IMAGES = 1797
#: Classes (the digits 0..9).
CLASSES = 10
SEED_MAX = (1 << 32) - 1
#: The allowed range of ``test_fraction``.
TEST_FRACTION_RANGE = (0.05, 0.5)
#: Per-kind training defaults: epochs, Adam learning rate, batch size.
TRAIN_DEFAULTS = {
    "mlp": {"epochs": 30, "lr": 3e-3, "batch_size": 32},
    "cnn": {"epochs": 30, "lr": 3e-3, "batch_size": 32},
}
FORMAT = "nnarith.golden.network"
FORMAT_VERSION = 1

#: ``gemm(layer, rows) -> pre-activation (rows.shape[0], layer.weight.shape[1])``, bias included.
Gemm = Callable[["Layer", np.ndarray], ArrayLike]


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------

def _real(x: object, name: str, lo: float, hi: float, *, lo_open: bool = False) -> float:
    """One real number (int or float, not bool) in ``lo..hi`` (``(lo, hi]`` with lo_open)."""
    ok = (isinstance(x, (int, float, np.integer, np.floating))
          and not isinstance(x, (bool, np.bool_)) and math.isfinite(float(x))
          and (lo < float(x) if lo_open else lo <= float(x)) and float(x) <= hi)
    if not ok:
        bounds = f"in ({lo}, {hi}]" if lo_open else f"in {lo}..{hi}"
        raise ValueError(f"{name}: must be a number {bounds}, got {describe(x)}")
    return float(x)


def _seed(seed: object) -> int:
    return count(seed, "seed", 0, SEED_MAX)


def _net_kind(kind: object) -> str:
    if isinstance(kind, str) and kind in NET_KINDS:
        return kind
    raise ValueError(f"net_kind: must be one of {NET_KINDS}, got {describe(kind)}")


def _float_array(x: object, name: str) -> np.ndarray:
    """``x`` as a float array (any float dtype kept; integers and others refused)."""
    try:
        arr = None if isinstance(x, (str, bytes)) else np.asarray(x)
    except (ValueError, TypeError):
        arr = None
    if arr is None or not (arr.dtype.kind == "f" or "float" in arr.dtype.name):
        raise ValueError(f"{name}: must be a float array, got {describe(x)}")
    return arr


def _features(x: object, name: str = "x") -> np.ndarray:
    """Digit features, ``(N, 64)`` or ``(N, 8, 8)``, as float32 ``(N, 64)``."""
    arr = _float_array(x, name)
    if arr.ndim not in (2, 3) or arr.shape[1:] not in ((64,), (8, 8)):
        raise ValueError(f"{name}: must have shape (N, 64) or (N, 8, 8), got {arr.shape}")
    arr = arr.astype(np.float32).reshape(len(arr), 64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: must be finite")
    return arr


def _labels(y: object, n: int, name: str = "y") -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind not in "iu" or arr.shape != (n,):
        raise ValueError(f"{name}: must be {n} integer labels (shape ({n},)), "
                         f"got {describe(y)} of shape {arr.shape}")
    if n and (arr.min() < 0 or arr.max() >= CLASSES):
        raise ValueError(f"{name}: labels must be in 0..{CLASSES - 1}")
    return arr.astype(np.int64)


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr = np.array(arr)            # a private copy, then read-only
    arr.setflags(write=False)
    return arr


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class DigitsSplit:
    """scikit-learn's digits in three disjoint splits, features in [0, 1].

    ``x_*`` are float32 ``(N, 64)`` (pixel intensities 0..16 divided by 16;
    :func:`images` gives ``(N, 8, 8)``), ``y_*`` int64 labels 0..9. The
    arrays are read-only. ``seed``, ``test_fraction`` and ``calibration`` are
    the arguments of :func:`load_digits_split` that made it.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_calib: np.ndarray
    y_calib: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    seed: int
    test_fraction: float
    calibration: int

    def config(self) -> dict[str, Any]:
        """The arguments that rebuild this split, JSON-able."""
        return {"seed": self.seed, "test_fraction": self.test_fraction,
                "calibration": self.calibration}


def _apportion(counts: np.ndarray, total: int) -> np.ndarray:
    """``total`` split over classes in proportion to ``counts``: largest remainders,
    ties to the lower class."""
    quota = total * counts / counts.sum()
    base = np.floor(quota).astype(np.int64)
    extra = total - int(base.sum())
    order = np.argsort(-(quota - base), kind="stable")
    base[order[:extra]] += 1
    return base


def load_digits_split(*, seed: int = 0, test_fraction: float = 0.2,
                      calibration: int = 200) -> DigitsSplit:
    """scikit-learn's digits (offline: the data ships with the package) split by ``seed``.

    Stratified: every split holds each digit in proportion to the whole set.
    ``ceil(test_fraction * 1797)`` images go to the test split (360 at 0.2, as
    scikit-learn's ``train_test_split`` counts), ``calibration`` images of the
    rest to the calibration split (for quantization ranges; never trained
    on), and the remainder to the training split (1,237 with the defaults).
    Within each class the images are taken in an order drawn from
    ``numpy.random.default_rng(seed)``, and each split is then shuffled by the
    same generator, so the first images of ``x_test`` are a mixed subset.

    ``seed``: 0..2**32 - 1; ``test_fraction``: 0.05..0.5; ``calibration``: 0
    up to half the images left after the test split (718 at 0.2).
    """
    seed = _seed(seed)
    test_fraction = _real(test_fraction, "test_fraction", *TEST_FRACTION_RANGE)
    n_test = math.ceil(test_fraction * DIGITS_IMAGES)
    pool = DIGITS_IMAGES - n_test
    calibration = count(calibration, "calibration", 0, pool // 2)

    try:        # imported here: `import nnarith` needs no scikit-learn
        from sklearn.datasets import load_digits
    except ImportError:
        raise ModuleNotFoundError("scikit-learn: the digits data ship with it; install "
                                  "nnarith[model] (make setup does)") from None

    data = load_digits()
    x_all = (np.asarray(data.data, dtype=np.float64) / 16.0).astype(np.float32)
    y_all = np.asarray(data.target, dtype=np.int64)
    if x_all.shape != (DIGITS_IMAGES, 64):
        raise RuntimeError(f"scikit-learn's digits have shape {x_all.shape}, "
                           f"expected ({DIGITS_IMAGES}, 64)")
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(y_all == c)) for c in range(CLASSES)]
    counts = np.array([len(idx) for idx in per_class])
    test_take = _apportion(counts, n_test)
    calib_take = _apportion(counts - test_take, calibration)
    parts: dict[str, list[np.ndarray]] = {"test": [], "calib": [], "train": []}
    for idx, t, c in zip(per_class, test_take, calib_take):
        parts["test"].append(idx[:t])
        parts["calib"].append(idx[t:t + c])
        parts["train"].append(idx[t + c:])
    arrays = {}
    for name in ("train", "calib", "test"):
        idx = rng.permutation(np.concatenate(parts[name]))
        arrays[f"x_{name}"] = _frozen(x_all[idx].reshape(len(idx), 64))
        arrays[f"y_{name}"] = _frozen(y_all[idx])
    return DigitsSplit(**arrays, seed=seed, test_fraction=test_fraction,
                       calibration=calibration)


def images(x: ArrayLike) -> np.ndarray:
    """Digit features ``(N, 64)`` (or already ``(N, 8, 8)``) as float32 images ``(N, 8, 8)``."""
    return _features(x).reshape(-1, 8, 8)


# --------------------------------------------------------------------------
# lowering to GEMM
# --------------------------------------------------------------------------

def im2col(x: ArrayLike, kernel: int = 3, padding: int = 1, *,
           pad_value: float = 0) -> np.ndarray:
    """The patches of a stride-1 convolution as rows: ``im2col(x) @ w`` is the convolution.

    ``x`` is NHWC ``(N, H, W, C)`` (any real dtype, kept). The result has one
    row per output pixel, ``N * H_out * W_out`` rows in ``(n, y, x)``
    row-major order (``H_out = H + 2*padding - kernel + 1``), and
    ``kernel * kernel * C`` columns in ``(ky, kx, c)`` row-major order::

        rows[(n*H_out + y)*W_out + x, (ky*kernel + kx)*C + c]
            = xp[n, y + ky, x + kx, c]

    where ``xp`` is ``x`` padded by ``padding`` pixels of ``pad_value`` (real
    zero by default; a recipe that im2cols quantized integers pads with the
    zero point) on each side. A conv weight for it is the HWIO kernel
    ``(kernel, kernel, C, C_out)`` reshaped to ``(kernel*kernel*C, C_out)``;
    the output reshapes to NHWC ``(N, H_out, W_out, C_out)``.

    ``kernel``: 1..15; ``padding``: 0..kernel - 1; the padded image must be
    at least ``kernel`` pixels wide and high.
    """
    arr = np.asarray(x)
    if arr.ndim != 4 or arr.dtype.kind not in "iuf":
        raise ValueError(f"x: must be a real NHWC array (N, H, W, C), got {describe(x)} "
                         f"of shape {np.shape(arr)}")
    kernel = count(kernel, "kernel", 1, 15)
    padding = count(padding, "padding", 0, kernel - 1)
    n, h, w, c = arr.shape
    h_out, w_out = h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1
    if h_out < 1 or w_out < 1:
        raise ValueError(f"x: {h}x{w} images padded by {padding} are smaller than the "
                         f"{kernel}x{kernel} kernel")
    xp = np.pad(arr, ((0, 0), (padding, padding), (padding, padding), (0, 0)),
                constant_values=np.asarray(pad_value).astype(arr.dtype))
    patches = np.stack([xp[:, ky:ky + h_out, kx:kx + w_out, :]
                        for ky in range(kernel) for kx in range(kernel)], axis=3)
    return patches.reshape(n * h_out * w_out, kernel * kernel * c)


def _col2im(cols: np.ndarray, shape: tuple[int, int, int, int], kernel: int,
            padding: int) -> np.ndarray:
    """The adjoint of :func:`im2col` (for training): sums each patch entry back."""
    n, h, w, c = shape
    h_out, w_out = h + 2 * padding - kernel + 1, w + 2 * padding - kernel + 1
    patches = cols.reshape(n, h_out, w_out, kernel * kernel, c)
    xp = np.zeros((n, h + 2 * padding, w + 2 * padding, c), dtype=cols.dtype)
    for k in range(kernel * kernel):
        ky, kx = divmod(k, kernel)
        xp[:, ky:ky + h_out, kx:kx + w_out, :] += patches[:, :, :, k, :]
    return xp[:, padding:padding + h, padding:padding + w, :]


def max_pool2(x: ArrayLike) -> np.ndarray:
    """2x2 max-pool, stride 2, of an NHWC array with even H and W."""
    arr = np.asarray(x)
    if arr.ndim != 4 or arr.shape[1] % 2 or arr.shape[2] % 2:
        raise ValueError(f"x: must be NHWC with even H and W, got shape {arr.shape}")
    n, h, w, c = arr.shape
    return arr.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


@dataclass(frozen=True, eq=False)
class Layer:
    """One GEMM of a network and the elementwise work after it.

    - ``name``: ``fc1``, ``conv2``, ...; ``kind``: ``"dense"`` or ``"conv"``;
    - ``weight``: float32 ``(K, N)`` (dense: ``(in, out)``; conv: the HWIO
      kernel as ``(kernel*kernel*C_in, C_out)``, see :func:`im2col`), read-only;
    - ``bias``: float32 ``(N,)``, read-only; added by the ``gemm`` callback;
    - ``relu``: ReLU after the GEMM; ``pool``: 2x2 max-pool after that (conv only);
    - ``in_shape``: one image's input (dense ``(K,)``, conv NHWC ``(H, W, C_in)``);
      a dense layer flattens whatever it is given (NHWC row-major);
    - ``out_shape``: one image's output after ReLU and pooling;
    - ``kernel``, ``padding``: the convolution's (1 and 0 for dense).
    """
    name: str
    kind: str
    weight: np.ndarray
    bias: np.ndarray
    relu: bool
    pool: bool
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    kernel: int = 1
    padding: int = 0

    @property
    def rows_per_image(self) -> int:
        """GEMM rows per image: 1 for dense, the output pixels for conv."""
        if self.kind == "dense":
            return 1
        h, w, _ = self.in_shape
        return (h + 2 * self.padding - self.kernel + 1) * (w + 2 * self.padding - self.kernel + 1)

    def gemm_shape(self, n_images: int = 1) -> tuple[int, int, int]:
        """``(M, K, N)`` of this layer's GEMM for ``n_images`` images."""
        k, n = self.weight.shape
        return (n_images * self.rows_per_image, k, n)

    def macs(self, n_images: int = 1) -> int:
        """Multiply-accumulates of the GEMM (``M * K * N``)."""
        m, k, n = self.gemm_shape(n_images)
        return m * k * n

    def lower(self, h: np.ndarray) -> np.ndarray:
        """The GEMM's left operand from this layer's input ``(N, *in_shape)``:
        dense flattens to ``(N, K)``, conv is :func:`im2col`."""
        h = np.asarray(h)
        if self.kind == "dense":
            return h.reshape(len(h), -1)
        return im2col(h.reshape((len(h),) + self.in_shape), self.kernel, self.padding)

    def finish(self, pre: np.ndarray, n_images: int) -> np.ndarray:
        """ReLU and pooling on the GEMM's output; returns ``(n_images, *out_shape)``."""
        out = np.maximum(pre, 0) if self.relu else pre
        if self.kind == "conv":
            h, w, _ = self.in_shape
            side = (h + 2 * self.padding - self.kernel + 1, w + 2 * self.padding - self.kernel + 1)
            out = out.reshape((n_images,) + side + (out.shape[-1],))
            if self.pool:
                out = max_pool2(out)
        return out.reshape((n_images,) + self.out_shape)


def float_gemm(layer: Layer, rows: np.ndarray) -> np.ndarray:
    """The default ``gemm``: float32 ``rows @ weight + bias`` (NumPy's BLAS sgemm)."""
    return np.asarray(rows, dtype=np.float32) @ layer.weight + layer.bias


# --------------------------------------------------------------------------
# networks
# --------------------------------------------------------------------------

class Network(ABC):
    """A trained (or given) network: float32 parameters, its :class:`Layer` list,
    and inference through a pluggable GEMM. Subclasses: :class:`MLP`, :class:`CNN`.

    Parameters are read-only float32 attributes named as in ``SHAPES``;
    ``config`` is a JSON-able dict (the training run's settings, empty if
    none). :meth:`replace` makes a copy with some parameters changed (pruned,
    fine-tuned, ...).
    """
    kind: ClassVar[str]
    #: parameter name -> shape
    SHAPES: ClassVar[dict[str, tuple[int, ...]]]

    def __init__(self, params: Mapping[str, ArrayLike], config: Mapping[str, Any] | None = None):
        names = set(params)
        if names != set(self.SHAPES):
            raise ValueError(f"params: {type(self).__name__} needs exactly "
                             f"{sorted(self.SHAPES)}, got {sorted(names)}")
        for name, shape in self.SHAPES.items():
            arr = _float_array(params[name], name)
            if arr.shape != shape:
                raise ValueError(f"{name}: must have shape {shape}, got {arr.shape}")
            arr = arr.astype(np.float32)
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{name}: must be finite")
            setattr(self, name, _frozen(arr))
        self.config: dict[str, Any] = json.loads(json.dumps(dict(config or {})))

    @property
    def params(self) -> dict[str, np.ndarray]:
        """The parameters by name, in ``SHAPES`` order."""
        return {name: getattr(self, name) for name in self.SHAPES}

    def replace(self, **params: ArrayLike) -> Network:
        """A copy with the named parameters replaced (same shapes); config kept."""
        unknown = sorted(set(params) - set(self.SHAPES))
        if unknown:
            raise ValueError(f"params: {type(self).__name__} has no {unknown}; "
                             f"its parameters are {list(self.SHAPES)}")
        return type(self)(**{**self.params, **params}, config=self.config)

    @abstractmethod
    def layers(self) -> list[Layer]:
        """The GEMMs in order, each with the elementwise work that follows it."""

    def forward(self, x: ArrayLike, gemm: Gemm | None = None) -> np.ndarray:
        """Logits ``(N, 10)`` of digits ``x`` (``(N, 64)`` or ``(N, 8, 8)``, floats in [0, 1]).

        Each layer is ``layer.finish(gemm(layer, layer.lower(h)), N)``. The
        input is cast to float32; later layers see the dtype the callback
        returned, after ReLU / pooling. ``gemm(layer, rows)`` must return the
        pre-activation, bias included, of shape ``(rows.shape[0], N_out)``;
        ``None`` is :func:`float_gemm`.
        """
        h = _features(x)
        n = len(h)
        call = float_gemm if gemm is None else gemm
        for layer in self.layers():
            rows = layer.lower(h)
            pre = np.asarray(call(layer, rows))
            expected = (rows.shape[0], layer.weight.shape[1])
            if pre.shape != expected:
                raise ValueError(f"gemm: must return shape {expected} for layer "
                                 f"{layer.name!r}, got {pre.shape}")
            h = layer.finish(pre, n)
        return h

    def predict(self, x: ArrayLike, gemm: Gemm | None = None) -> np.ndarray:
        """The predicted digit (argmax of the logits; ties to the lower class) per image."""
        return np.argmax(self.forward(x, gemm), axis=1)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{name} {shape}" for name, shape in self.SHAPES.items())
        return f"{type(self).__name__}({shapes})"


class MLP(Network):
    """64 -> 64 (ReLU) -> 10: ``relu(x @ w1 + b1) @ w2 + b2``; layers ``fc1``, ``fc2``."""
    kind = "mlp"
    SHAPES = {"w1": (64, 64), "b1": (64,), "w2": (64, CLASSES), "b2": (CLASSES,)}
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __init__(self, w1: ArrayLike, b1: ArrayLike, w2: ArrayLike, b2: ArrayLike, *,
                 config: Mapping[str, Any] | None = None):
        super().__init__({"w1": w1, "b1": b1, "w2": w2, "b2": b2}, config)

    def layers(self) -> list[Layer]:
        return [Layer("fc1", "dense", self.w1, self.b1, relu=True, pool=False,
                      in_shape=(64,), out_shape=(64,)),
                Layer("fc2", "dense", self.w2, self.b2, relu=False, pool=False,
                      in_shape=(64,), out_shape=(CLASSES,))]


class CNN(Network):
    """8x8x1 -> conv 3x3x8 (pad 1) ReLU, max-pool -> 4x4x8 -> conv 3x3x16 (pad 1) ReLU,
    max-pool -> 2x2x16 -> flatten 64 -> dense 10; layers ``conv1``, ``conv2``, ``fc``.

    ``w1`` ``(9, 8)`` and ``w2`` ``(72, 16)`` are the HWIO kernels as im2col
    matrices (:func:`im2col`), ``w3`` ``(64, 10)`` the dense weight on the
    NHWC-flattened ``(2, 2, 16)`` features.
    """
    kind = "cnn"
    SHAPES = {"w1": (9, 8), "b1": (8,), "w2": (72, 16), "b2": (16,),
              "w3": (64, CLASSES), "b3": (CLASSES,)}
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    w3: np.ndarray
    b3: np.ndarray

    def __init__(self, w1: ArrayLike, b1: ArrayLike, w2: ArrayLike, b2: ArrayLike,
                 w3: ArrayLike, b3: ArrayLike, *, config: Mapping[str, Any] | None = None):
        super().__init__({"w1": w1, "b1": b1, "w2": w2, "b2": b2, "w3": w3, "b3": b3}, config)

    def layers(self) -> list[Layer]:
        return [Layer("conv1", "conv", self.w1, self.b1, relu=True, pool=True,
                      in_shape=(8, 8, 1), out_shape=(4, 4, 8), kernel=3, padding=1),
                Layer("conv2", "conv", self.w2, self.b2, relu=True, pool=True,
                      in_shape=(4, 4, 8), out_shape=(2, 2, 16), kernel=3, padding=1),
                Layer("fc", "dense", self.w3, self.b3, relu=False, pool=False,
                      in_shape=(64,), out_shape=(CLASSES,))]


_CLASSES_BY_KIND: dict[str, type[Network]] = {"mlp": MLP, "cnn": CNN}


def accuracy(model: Network, x: ArrayLike, y: ArrayLike, *, gemm: Gemm | None = None) -> float:
    """The fraction of images in ``x`` whose predicted digit is ``y``."""
    if not isinstance(model, Network):
        raise ValueError(f"model: must be an MLP or a CNN, got {describe(model)}")
    feats = _features(x)
    labels = _labels(y, len(feats))
    if not len(feats):
        raise ValueError("x: must hold at least one image")
    return float(np.mean(model.predict(feats, gemm) == labels))


# --------------------------------------------------------------------------
# training (float64 NumPy backprop, Adam)
# --------------------------------------------------------------------------

def _he(rng: np.random.Generator, fan_in: int, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in)


def _softmax_grad(logits: np.ndarray, y: np.ndarray) -> np.ndarray:
    """d(mean cross-entropy)/d(logits)."""
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z)
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return p / len(y)


def _pool_forward(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max-pool and the one-hot of each window's (first) maximum."""
    n, h, w, c = a.shape
    win = a.reshape(n, h // 2, 2, w // 2, 2, c).transpose(0, 1, 3, 5, 2, 4).reshape(
        n, h // 2, w // 2, c, 4)
    arg = win.argmax(axis=-1)
    mask = np.arange(4) == arg[..., None]
    return np.take_along_axis(win, arg[..., None], axis=-1)[..., 0], mask


def _pool_backward(d: np.ndarray, mask: np.ndarray) -> np.ndarray:
    n, h2, w2, c, _ = mask.shape
    g = (mask * d[..., None]).reshape(n, h2, w2, c, 2, 2).transpose(0, 1, 4, 2, 5, 3)
    return g.reshape(n, 2 * h2, 2 * w2, c)


def _mlp_grads(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    z1 = x @ p["w1"] + p["b1"]
    a1 = np.maximum(z1, 0.0)
    d2 = _softmax_grad(a1 @ p["w2"] + p["b2"], y)
    d1 = (d2 @ p["w2"].T) * (z1 > 0)
    return {"w1": x.T @ d1, "b1": d1.sum(0), "w2": a1.T @ d2, "b2": d2.sum(0)}


def _cnn_grads(p: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    n = len(x)
    x0 = x.reshape(n, 8, 8, 1)
    c1 = im2col(x0)
    z1 = (c1 @ p["w1"] + p["b1"]).reshape(n, 8, 8, 8)
    p1, m1 = _pool_forward(np.maximum(z1, 0.0))
    c2 = im2col(p1)
    z2 = (c2 @ p["w2"] + p["b2"]).reshape(n, 4, 4, 16)
    p2, m2 = _pool_forward(np.maximum(z2, 0.0))
    f = p2.reshape(n, 64)
    d3 = _softmax_grad(f @ p["w3"] + p["b3"], y)
    dz2 = _pool_backward((d3 @ p["w3"].T).reshape(n, 2, 2, 16), m2) * (z2 > 0)
    dz2 = dz2.reshape(-1, 16)
    dp1 = _col2im(dz2 @ p["w2"].T, (n, 4, 4, 8), 3, 1)
    dz1 = (_pool_backward(dp1, m1) * (z1 > 0)).reshape(-1, 8)
    return {"w1": c1.T @ dz1, "b1": dz1.sum(0), "w2": c2.T @ dz2, "b2": dz2.sum(0),
            "w3": f.T @ d3, "b3": d3.sum(0)}


_GRADS = {"mlp": _mlp_grads, "cnn": _cnn_grads}
_FAN_IN = {"mlp": {"w1": 64, "w2": 64}, "cnn": {"w1": 9, "w2": 72, "w3": 64}}


def _training_split(split: object) -> DigitsSplit:
    if not isinstance(split, DigitsSplit):
        raise ValueError(f"split: must be a DigitsSplit (load_digits_split()), "
                         f"got {describe(split)}")
    return split


def _training_set(split: DigitsSplit, batch_size: object) -> tuple[np.ndarray, np.ndarray, int]:
    """The training images as float64, their labels, and ``batch_size`` checked."""
    x = np.asarray(split.x_train, dtype=np.float64)
    y = _labels(split.y_train, len(x), "split.y_train")
    batch_size = count(batch_size, "batch_size", 1, max(1, len(x)))
    if not len(x):
        raise ValueError("split: has no training images")
    return x, y, batch_size


def _weight_masks(model: Network, masks: object) -> dict[str, np.ndarray]:
    """``masks`` (weight name -> keep flags of that weight's shape) as bool arrays."""
    if not isinstance(masks, Mapping):
        raise ValueError(f"masks: must be a mapping of weight names to bool arrays, "
                         f"got {describe(masks)}")
    weights = [name for name in model.SHAPES if name.startswith("w")]
    unknown = [name for name in masks if name not in weights]
    if unknown:
        raise ValueError(f"masks: {type(model).__name__} has no weights {unknown!r}; "
                         f"its weights are {weights}")
    checked = {}
    for name in weights:
        if name not in masks:
            continue
        keep = masks[name]
        try:
            arr = None if isinstance(keep, (str, bytes)) else np.asarray(keep)
        except (ValueError, TypeError):
            arr = None
        if arr is None or arr.dtype != bool or arr.shape != model.SHAPES[name]:
            shape = None if arr is None else arr.shape
            raise ValueError(f"masks: {name!r} must be a bool array of shape "
                             f"{model.SHAPES[name]}, got {describe(keep)} of shape {shape}")
        checked[name] = arr.copy()
    return checked


@contextmanager
def _one_blas_thread():
    from threadpoolctl import threadpool_limits   # a scikit-learn dependency

    # One BLAS thread: the GEMMs are tiny, and threads waiting on a busy machine
    # made training 25x slower; the weights then cannot depend on the thread count.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def train(net_kind: str, split: DigitsSplit, *, seed: int = 0, epochs: int | None = None,
          lr: float | None = None, batch_size: int | None = None) -> Network:
    """A network of ``net_kind`` (``"mlp"`` or ``"cnn"``) trained on ``split.x_train``.

    He-normal weights (``N(0, 2 / fan_in)``), zero biases, then ``epochs``
    passes of Adam (beta 0.9 / 0.999, eps 1e-8, no weight decay) on the mean
    softmax cross-entropy over mini-batches of ``batch_size`` in an order
    reshuffled every epoch (the last batch of an epoch may be smaller). All
    randomness is drawn from ``numpy.random.default_rng(seed)``; training runs
    in float64 with BLAS on one thread (``threadpoolctl``) and the result is
    rounded to float32. Defaults per kind are in
    ``TRAIN_DEFAULTS`` (30 epochs, lr 3e-3, batches of 32 for both).

    ``seed``: 0..2**32 - 1; ``epochs``: 1..1000; ``lr``: (0, 1];
    ``batch_size``: 1..the training images. The model's ``config`` records
    the settings, the split's arguments and the training time in seconds.
    :func:`train_from` trains a given model further (pruning's fine-tune).
    """
    net_kind = _net_kind(net_kind)
    split = _training_split(split)
    seed = _seed(seed)
    defaults = TRAIN_DEFAULTS[net_kind]
    epochs = count(defaults["epochs"] if epochs is None else epochs, "epochs", 1, 1000)
    lr = _real(defaults["lr"] if lr is None else lr, "lr", 0.0, 1.0, lo_open=True)
    x, y, batch_size = _training_set(
        split, defaults["batch_size"] if batch_size is None else batch_size)

    with _one_blas_thread():
        start = time.perf_counter()
        rng = np.random.default_rng(seed)
        params = _adam(net_kind, _he_init(net_kind, rng), x, y, rng, epochs, lr, batch_size)
        seconds = time.perf_counter() - start
    config = {"kind": net_kind, "seed": seed, "epochs": epochs, "lr": lr,
              "batch_size": batch_size, "optimizer": "adam", "split": split.config(),
              "train_seconds": round(seconds, 3)}
    cls = _CLASSES_BY_KIND[net_kind]
    return cls(**{name: p.astype(np.float32) for name, p in params.items()}, config=config)


def train_from(model: Network, split: DigitsSplit, *, epochs: int, lr: float, seed: int = 0,
               batch_size: int | None = None,
               masks: Mapping[str, ArrayLike] | None = None) -> dict[str, np.ndarray]:
    """``model``'s parameters after ``epochs`` more passes of :func:`train`'s Adam.

    The hook under fine-tuning (:func:`nnarith.golden.prune.fine_tune`): the
    loop of :func:`train` (same loss, Adam constants, batch shuffling drawn
    from ``default_rng(seed)``, float64 with BLAS on one thread), started from
    the model's float32 parameters as float64 with fresh Adam moments.

    ``masks``: ``None`` or weight name (``w1``, ...) -> bool array of that
    weight's shape; a weight not named is not masked. The entries a mask
    marks False are held at exactly 0.0: zeroed before the first step, their
    gradient zeroed and the weight multiplied by its mask after every step.

    ``epochs``: 1..1000; ``lr``: (0, 1]; ``seed``: 0..2**32 - 1;
    ``batch_size``: 1..the training images (default ``TRAIN_DEFAULTS``).
    Returns the float32 parameters by name (build a model with
    ``type(model)(**params, config=...)`` or ``model.replace(**params)``).
    """
    if not isinstance(model, Network):
        raise ValueError(f"model: must be an MLP or a CNN, got {describe(model)}")
    split = _training_split(split)
    seed = _seed(seed)
    epochs = count(epochs, "epochs", 1, 1000)
    lr = _real(lr, "lr", 0.0, 1.0, lo_open=True)
    defaults = TRAIN_DEFAULTS[model.kind]
    x, y, batch_size = _training_set(
        split, defaults["batch_size"] if batch_size is None else batch_size)
    checked = {} if masks is None else _weight_masks(model, masks)

    params = {name: np.array(p, dtype=np.float64) for name, p in model.params.items()}
    with _one_blas_thread():
        rng = np.random.default_rng(seed)
        params = _adam(model.kind, params, x, y, rng, epochs, lr, batch_size, checked)
    return {name: p.astype(np.float32) for name, p in params.items()}


def _he_init(net_kind: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """He-normal weights and zero biases, drawn in ``SHAPES`` order."""
    params: dict[str, np.ndarray] = {}
    for name, shape in _CLASSES_BY_KIND[net_kind].SHAPES.items():
        params[name] = (np.zeros(shape) if name.startswith("b")
                        else _he(rng, _FAN_IN[net_kind][name], shape))
    return params


def _adam(net_kind: str, params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
          rng: np.random.Generator, epochs: int, lr: float, batch_size: int,
          masks: Mapping[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Adam from ``params`` (float64, updated in place and returned), batches drawn
    from ``rng``; a weight in ``masks`` keeps exactly 0.0 where its mask is False."""
    masks = masks or {}
    for name, keep in masks.items():
        params[name] = np.where(keep, params[name], 0.0)
    m = {name: np.zeros_like(p) for name, p in params.items()}
    v = {name: np.zeros_like(p) for name, p in params.items()}
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    grads_of = _GRADS[net_kind]
    step = 0
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for lo in range(0, len(x), batch_size):
            batch = order[lo:lo + batch_size]
            grads = grads_of(params, x[batch], y[batch])
            step += 1
            correction = math.sqrt(1 - beta2 ** step) / (1 - beta1 ** step)
            for name, g in grads.items():
                keep = masks.get(name)
                if keep is not None:
                    g = np.where(keep, g, 0.0)
                m[name] = beta1 * m[name] + (1 - beta1) * g
                v[name] = beta2 * v[name] + (1 - beta2) * g * g
                params[name] -= lr * correction * m[name] / (np.sqrt(v[name]) + eps)
                if keep is not None:
                    params[name] = np.where(keep, params[name], 0.0)
    return params


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------

def save(model: Network, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` to ``path`` (an ``.npz``; the suffix is added if missing).

    The file holds the float32 parameters by name and ``config``, a JSON
    string (``{"format": "nnarith.golden.network", "version": 1, "kind":
    ..., "config": {...}}``); it loads with ``allow_pickle=False``. Parent
    folders are made; the file is written to a temporary name and renamed,
    so a failed write leaves no partial file. Returns the path written.
    """
    if not isinstance(model, Network):
        raise ValueError(f"model: must be an MLP or a CNN, got {describe(model)}")
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"format": FORMAT, "version": FORMAT_VERSION, "kind": model.kind,
              "config": model.config}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            np.savez(out, config=np.array(json.dumps(header, sort_keys=True)), **model.params)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | os.PathLike[str]) -> Network:
    """The model :func:`save` wrote to ``path`` (an :class:`MLP` or a :class:`CNN`).

    A missing file raises FileNotFoundError; a file that is not such a model,
    ValueError naming ``path``.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"path: {path} is not a saved network ({error})") from None
    try:
        header = json.loads(str(arrays.pop("config")[()]))
        if header.get("format") != FORMAT or header.get("version") != FORMAT_VERSION:
            raise ValueError(f"format {header.get('format')!r} version {header.get('version')!r}")
        cls = _CLASSES_BY_KIND[_net_kind(header.get("kind"))]
        return cls(**arrays, config=header.get("config") or {})
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ValueError(f"path: {path} is not a saved {FORMAT} "
                         f"version {FORMAT_VERSION} network ({error})") from None
