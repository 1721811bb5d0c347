"""Precision recipes: a network's inference as a pipeline of golden functions,
every hardware step recorded so that the exported Verilog can replay it bit for bit.

A recipe says how each layer of a :mod:`~nnarith.golden.network` network
(every layer one GEMM, see :class:`~nnarith.golden.network.Layer`) runs:

* ``fp32``: the NumPy float32 reference (:func:`~nnarith.golden.network.float_gemm`);
  no hardware calls.
* float MMA recipes (family ``"float"``): per layer, the activations and the
  weights are converted, each value rounded once to nearest even, to the
  unit's input format; the bias is C, in the accumulator format (fp32); the
  unit's D is converted (exactly) to float32 for ReLU, max-pool and the next
  layer. ``fp16_fused`` runs on ``mma_fp16`` (exact sum, one rounding; its
  ``rm`` port is RNE), the others on each GPU's tensor-core numerics.
* FP8 E4M3 (``e4m3_*``) adds per-tensor scales: ``s_x = 448 / amax_x``, with
  ``amax_x`` the largest ``|x|`` of the layer's input over the calibration
  split (run through the fp32 model), and ``s_w = 448 / max|w|`` per weight
  tensor, both float32 (1 for an all-zero tensor). The unit computes on scaled values:
  ``A = e4m3(x * s_x)``, ``B = e4m3(w * s_w)`` (the float64 product of two
  float32 values is exact; one RNE rounding, saturating to +-448 since E4M3
  has no infinity: test activations may exceed the calibration's amax),
  ``C = fp32(bias * s_x * s_w)`` (float64, one rounding to fp32). The
  dequantization is outside the unit: ``float32(D) / float32(s_x * s_w)``, a
  float32 division. ``e4m3_h100_promoted`` restarts the tensor core's chain
  every ``promote_every`` (128) products from C = +0 and adds each group's
  result into an fp32 accumulator that starts at C (one RNE fp32 addition per
  group, :func:`nnarith.golden.mma.gemm`'s ``promote_every``); its calls
  carry ``promote_every`` and fp32 C and D. A layer whose K, padded to the
  unit's k, is at most 128 is one group: its call's ``promote_every`` is that
  padded K (the same D as zero-padding K to 128: zero blocks leave a 13-bit
  result unchanged, at a quarter of the work). On these networks every K is
  at most 72, so every layer is one group: promotion then only moves the
  bias from the 13-bit truncating block into an RNE fp32 addition.
* int8 recipes (family ``"int8"``) on ``mma_int8`` (int8 x int8 + int32 C ->
  int32, wrapping) and ``requant``. Activations are quantized per tensor,
  per layer, with ranges calibrated (min/max, percentile, MSE or KL) on the
  fp32 model's activations over the calibration split; weights by their
  min/max, per tensor or per output channel; ``symmetric`` recipes use
  zero point 0 (narrow -127..127) for activations and weights, ``asymmetric``
  ones the full -128..127 with zero points. The first layer's input is
  quantized in software (no unit). Zero points in the hardware calls:

  - C folds every constant term: ``C[i, j] = offset[j] = bias_q[j] +
    K*Z_x*Z_w[j] - Z_x * sum_k q_w[k, j]`` (int32, wrapping), the same for
    every row (:func:`nnarith.golden.quant.linear_terms`);
  - with asymmetric weights B gets one more column of ones, so that D's last
    column is the row sum ``a_sum[i] = sum_k q_x[i, k]``;
  - ``requant`` then takes ``acc = D[i, j]``, ``a_sum[i]``, ``w_zp = Z_w[j]``,
    ``offset = 0``: its ``acc - w_zp*a_sum + offset`` is
    ``sum_k (q_x - Z_x)(q_w - Z_w) + bias_q`` (modulo 2**32), scaled by
    ``quantize_multiplier(S_x * S_w[j] / S_out)`` and offset by the next
    layer's zero point, with the ReLU fused (``{"activation": "relu"}``).
    With symmetric weights there is no ones column and ``a_sum = w_zp = 0``.

  The hidden layers' outputs stay int8 (max-pool on the integers: it
  commutes with the monotone requantizer). **The last layer is not
  requantized**: its int32 D is dequantized in software to float32 logits,
  ``(D[:, j] - Z_w[j] * a_sum) * S_x * S_w[j]`` (float64, then float32), as an
  int8 classifier's logits usually are; the argmax needs no requantizer.
  Convolutions im2col the int8 activations with the zero point as padding
  (which is real 0: the float model's zero padding); the float recipes pad
  with the pattern +0.0. ``int8_dp4a`` runs the same pipeline on ``dp4a``
  with symmetric activations (KL) and per-channel weights, all zero points 0:
  each output element is a chain of K/4 dot products, C the bias.
* Bit Fusion (family ``"bitfusion"``) on the 4x4 ``fusion_array``: every
  layer's operands at ``bits`` (``mixed``: the first and the last layer at 8,
  as the Bit Fusion paper keeps them), activations unsigned (every layer's
  input is >= 0: pixels, then ReLU outputs; zero point 0), weights signed
  symmetric per channel, both calibrated by MSE at their bits. The array has
  no C: the bias goes to the requantizer's ``offset``, whose output is the
  next layer's uint of its bits (``out_bits``/``out_signed`` overrides).
* sparse (family ``"sparse"``), quantized as ``int8_dp4a``: the float weights
  are first pruned (:mod:`~nnarith.golden.prune`: 2:4 along K, or
  unstructured to ``density`` per tensor, every layer) and fine-tuned or
  not. ``sparse24*`` run on ``sparse24_dot`` (chains of K/8 dot products of
  8 on 4 multipliers, C the bias), ``sparten*`` on the SparTen join (one
  vector pair per output element, the ReLU zeros of the activations and the
  pruned weights skipped; no C: the bias in the requantizer).

**Records.** :func:`run` returns every call in execution order:
:class:`GemmCall` (an MMA unit: A (M, K), B (K, N), C (M, N) as element bit
patterns, uint64, and the expected D), :class:`IntGemmCall` (an integer GEMM
on another unit, unpadded integer values; the simulation maps it onto the
unit's vectors) and :class:`VectorCall` (an elementwise unit, ``requant``:
one array of integer values per input port and per output port); their
arrays are read-only. **For a GemmCall, M, K and N are
padded with zeros** up to multiples of the unit's m, k and n (K of the call's
``promote_every`` when set): A, B and C
are 0 outside the layer's ``shape``, which the call keeps; the recipe reads D
back as ``D[:M, :N]``, and D is 0 in the padding (zero rows and columns give
+0 / 0). D is what the unit produces when K is streamed in tiles of the
unit's k, each tile's D fed back as the next tile's C: exactly
``nnarith.golden.mma.gemm(A, B, C, ..., tile_k=k)`` for a FloatMMA (the
unit's ``rm`` for the fused one; ``promote_every`` as said), the int32
wrapping ``A @ B + C`` for an IntMMA.

Use: ``prepare(recipe, model, split)`` calibrates and quantizes the weights
once (:class:`Prepared`); ``run(prepared, x)`` gives a :class:`RecipeResult`
(float32 logits, predictions, calls). ``RECIPES`` lists the recipes by name.
Arguments are checked: a ValueError names the parameter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .checks import describe
from .float import RNE, from_float64, to_float64
from .formats import FLOAT_FORMATS
from .mma import gemm as mma_gemm
from .mma import tensorcore_params, validate
from .network import CLASSES, DigitsSplit, Layer, Network, _features, float_gemm, im2col
from .quant import QParams, calibrate, quantize, quantize_bias, quantize_multiplier, requantize

__all__ = [
    "FAMILIES", "UNIT_PRESETS", "GemmCall", "VectorCall", "IntGemmCall", "Recipe", "RECIPES",
    "get_recipe", "unit_params", "Prepared", "RecipeResult", "prepare", "run", "accuracy",
    "agreement", "E4M3_MAX", "PROMOTE_EVERY",
]

#: Recipe families.
FAMILIES = ("fp32", "float", "int8", "bitfusion", "sparse")
_INTEGER_FAMILIES = ("int8", "bitfusion", "sparse")
#: The largest E4M3 magnitude: per-tensor FP8 scales map amax to it.
E4M3_MAX = 448.0
#: Products per promotion of ``e4m3_h100_promoted``.
PROMOTE_EVERY = 128
#: Elements (rows x columns x K) per golden GEMM piece: bounds the memory the
#: bit-level model uses; pieces are whole rows, so D does not depend on it.
_CHUNK = 1 << 20

#: The parameters of each hardware preset a recipe uses, as ``hw.catalogue``
#: resolves them (the golden does not import the hardware; tests check that the
#: two agree). Overrides apply on top.
UNIT_PRESETS: dict[str, dict[str, Any]] = {
    "mma_fp16": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 4, "in_fmt": "fp16",
                 "acc_fmt": "fp32", "mode": "fused", "gpu": None, "instr": None},
    "mma_fp16_v100": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 4, "in_fmt": "fp16",
                      "acc_fmt": "fp32", "mode": "tensorcore", "gpu": "v100", "instr": None},
    "mma_fp16_a100": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 8, "in_fmt": "fp16",
                      "acc_fmt": "fp32", "mode": "tensorcore", "gpu": "a100", "instr": None},
    "mma_bf16": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 8, "in_fmt": "bf16",
                 "acc_fmt": "fp32", "mode": "tensorcore", "gpu": "a100", "instr": None},
    "mma_bf16_h100": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 16, "in_fmt": "bf16",
                      "acc_fmt": "fp32", "mode": "tensorcore", "gpu": "h100", "instr": None},
    "mma_tf32_a100": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 4, "in_fmt": "tf32",
                      "acc_fmt": "fp32", "mode": "tensorcore", "gpu": "a100", "instr": None},
    "mma_e4m3_ada": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 32, "in_fmt": "e4m3",
                     "acc_fmt": "fp32", "mode": "tensorcore", "gpu": "ada", "instr": None},
    "mma_e4m3_h100": {"unit": "FloatMMA", "m": 4, "n": 4, "k": 32, "in_fmt": "e4m3",
                      "acc_fmt": "fp32", "mode": "tensorcore", "gpu": "h100", "instr": None},
    "mma_int8": {"unit": "IntMMA", "m": 4, "n": 4, "k": 4, "in_bits": 8, "a_signed": True,
                 "b_signed": True, "acc_width": 32, "overflow": "wrap"},
    "dp4a": {"unit": "IntMAC", "lanes": 4, "a_width": 8, "a_signed": True, "b_width": 8,
             "b_signed": True, "acc_width": 32, "overflow": "wrap", "accumulate": False},
    "sparse24_dot": {"unit": "Sparse24Dot", "k": 8, "in_fmt": "int", "w_width": 8,
                     "w_signed": True, "x_width": 8, "x_signed": True, "acc_width": 32,
                     "overflow": "wrap"},
    "fusion_array": {"unit": "FusionArray", "rows": 4, "cols": 4, "max_prec": 8, "min_prec": 2,
                     "acc_width": 32},
    "sparse_join": {"unit": "SparseJoin", "chunk": 32, "matches": 2, "value_width": 8,
                    "value_signed": True, "acc_width": 32},
    "requant": {"unit": "Requantizer", "out_bits": 8, "out_signed": True,
                "rounding": "double", "activation": "none", "correction": True,
                "fixed_multiplier": 0},
}

#: Integer GEMM units other than the MMA block: those with a ``c`` input start
#: each row's accumulation from the layer's offset (the bias); the others from 0.
_HAS_C = {"IntMMA": True, "IntMAC": True, "Sparse24Dot": True, "FusionArray": False,
          "SparseJoin": False}


# --------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------

def _ceil_to(x: int, step: int) -> int:
    return -(-x // step) * step


@dataclass(frozen=True, eq=False)
class GemmCall:
    """One GEMM through an MMA unit: ``D = A·B + C``, K streamed in tiles of the unit's k.

    ``a`` (M', K'), ``b`` (K', N'), ``c`` and ``d`` (M', N'): uint64 element
    bit patterns of the unit's formats (FloatMMA: ``in_fmt`` for A and B,
    ``acc_fmt`` -- fp32 with ``promote_every`` -- for C and D; IntMMA: int8
    two's complement for A and B, int32 for C and D). M', K', N' are the
    layer's ``shape`` (M, K, N) padded with zeros up to multiples of the unit's
    m, k, n (K of ``promote_every`` when set); the layer's result is
    ``d[:M, :N]``. ``rm``: the rounding-mode port of a fused float unit (RNE,
    0), else None. ``promote_every``: products per promotion to the fp32
    accumulator (None: D is the unit's own chain).
    """
    layer: str
    preset: str
    overrides: dict
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    d: np.ndarray
    shape: tuple[int, int, int]
    tile: tuple[int, int, int]
    rm: int | None = None
    promote_every: int | None = None

    def __post_init__(self):
        _frozen(self.a, self.b, self.c, self.d)

    @property
    def padded_shape(self) -> tuple[int, int, int]:
        """``(M', K', N')``: the GEMM the unit runs."""
        return (self.a.shape[0], self.a.shape[1], self.b.shape[1])

    @property
    def macs(self) -> int:
        """Multiply-accumulates the unit performs, padding included (``M'·K'·N'``)."""
        m, k, n = self.padded_shape
        return m * k * n

    @property
    def useful_macs(self) -> int:
        """Multiply-accumulates of the unpadded GEMM (``M·K·N``)."""
        m, k, n = self.shape
        return m * k * n

    @property
    def mmas(self) -> int:
        """Unit operations (tiles): ``(M'/m)·(N'/n)·(K'/k)``."""
        (m, k, n), (tm, tk, tn) = self.padded_shape, self.tile
        return (m // tm) * (n // tn) * (k // tk)

    def result(self) -> np.ndarray:
        """``d`` without the padding: the layer's ``(M, N)``."""
        return self.d[:self.shape[0], :self.shape[2]]


@dataclass(frozen=True, eq=False)
class VectorCall:
    """Vectors through an elementwise unit (``requant``): ``inputs`` and the
    expected ``outputs`` by port, each an int64 array of the port's signed or
    unsigned integer values (the simulation turns them into bit patterns of
    the unit's own port widths), one entry per vector, in the order of the
    layer's ``(M, N)`` outputs, row-major."""
    layer: str
    preset: str
    overrides: dict
    inputs: dict
    outputs: dict

    def __post_init__(self):
        _frozen(*self.inputs.values(), *self.outputs.values())

    @property
    def vectors(self) -> int:
        """Vectors (one per output element) sent through the unit."""
        return len(next(iter(self.outputs.values())))


@dataclass(frozen=True, eq=False)
class IntGemmCall:
    """An integer GEMM on a unit that is not an MMA block (``dp4a``,
    ``sparse24_dot``, ``fusion_array``, ``sparse_join``): ``D = A·B (+ C)``,
    int32 wrapping; the simulation maps it onto the unit's vectors.

    ``a`` (M, K) and ``b`` (K, N) are the integer operands (int64 values of
    ``a_bits`` / ``b_bits``, signed as said), unpadded; ``c`` the (N,) value
    every row's accumulation starts from (units with a ``c`` input; None: the
    unit starts from 0 and the bias goes to the requantizer's ``offset``);
    ``d`` (M, N) the expected int32 values. ``mults``: the multiplications the
    unit performs on real data (zero-skipping units: only matched nonzero
    pairs; 2:4: the kept half).
    """
    layer: str
    preset: str
    overrides: dict
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray | None
    d: np.ndarray
    a_bits: int
    a_signed: bool
    b_bits: int
    b_signed: bool
    mults: int

    def __post_init__(self):
        _frozen(*(x for x in (self.a, self.b, self.c, self.d) if x is not None))

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.a.shape[0], self.a.shape[1], self.b.shape[1])

    @property
    def macs(self) -> int:
        m, k, n = self.shape
        return m * k * n

    useful_macs = macs

    def result(self) -> np.ndarray:
        return self.d


def _frozen(*arrays: np.ndarray) -> None:
    """Make record arrays read-only (B is shared by every run of a prepared recipe)."""
    for arr in arrays:
        arr.setflags(write=False)


def _to_bits(values: np.ndarray, width: int) -> np.ndarray:
    """Signed integers as ``width``-bit two's complement patterns (uint64)."""
    return (np.asarray(values, dtype=np.int64) & ((1 << width) - 1)).astype(np.uint64)


# --------------------------------------------------------------------------
# units
# --------------------------------------------------------------------------

def unit_params(preset: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A preset's parameters (:data:`UNIT_PRESETS`) with ``overrides``, checked
    as far as the golden models can (formats, GPU modes, k a multiple of the block)."""
    if not isinstance(preset, str) or preset not in UNIT_PRESETS:
        raise ValueError(f"preset: must be one of {', '.join(UNIT_PRESETS)}, "
                         f"got {describe(preset)}")
    base = UNIT_PRESETS[preset]
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - (set(base) - {"unit"}))
    if unknown:
        raise ValueError(f"overrides: {preset} takes {sorted(set(base) - {'unit'})}, "
                         f"got {unknown}")
    p = {**base, **overrides}
    if p["unit"] == "FloatMMA":
        if p["mode"] == "fused":
            p["gpu"] = None
        instr = None if p["instr"] in (None, "none") else p["instr"]
        p["instr"] = instr
        for name in ("m", "n", "k"):
            if not isinstance(p[name], int) or p[name] < 1:
                raise ValueError(f"overrides: {name} must be a positive integer, "
                                 f"got {describe(p[name])}")
        _, _, core, _ = validate(p["in_fmt"], p["acc_fmt"], p["mode"], p["gpu"], None,
                                 instr=instr)
        if core is not None:        # the default datapath named (h100 FP8 -> fp32: wgmma)
            p["instr"] = tensorcore_params(p["gpu"]).key(p["in_fmt"], p["acc_fmt"], instr)[2]
        if core is not None and p["k"] % core.block:
            raise ValueError(f"overrides: k must be a multiple of the {p['gpu']} "
                             f"{p['in_fmt']} block ({core.block}), got {p['k']}")
    elif p["unit"] == "IntMMA":
        if (p["in_bits"], p["a_signed"], p["b_signed"], p["acc_width"], p["overflow"]) != (
                8, True, True, 32, "wrap"):
            raise ValueError("overrides: the int8 recipes need signed 8-bit A and B and a "
                             "wrapping 32-bit accumulator")
    elif p["unit"] == "Requantizer":
        if p["activation"] not in ("none", "relu") or not p["correction"] \
                or p["fixed_multiplier"] or not 2 <= p["out_bits"] <= 16:
            raise ValueError("overrides: the integer recipes need requant's correction "
                             "inputs, run-time multipliers and activation none or relu")
    elif p["acc_width"] != 32 or p.get("overflow", "wrap") != "wrap" \
            or p.get("in_fmt", "int") != "int" or p.get("accumulate"):
        raise ValueError(f"overrides: the integer recipes need {preset}'s integer operands "
                         f"and a wrapping 32-bit accumulator")
    return p


def _pad(x: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """``x`` (R, C) in the top-left corner of zeros (rows, cols)."""
    out = np.zeros((rows, cols), dtype=x.dtype)
    out[:x.shape[0], :x.shape[1]] = x
    return out


def _float_mma(p: dict, a: np.ndarray, b: np.ndarray, c: np.ndarray, rm: int | None,
               promote_every: int | None) -> np.ndarray:
    """D of the tiled GEMM by golden.mma.gemm (``tile_k`` = the unit's k), in row pieces."""
    keywords = {"gpu": p["gpu"], "rm": rm, "tile_k": p["k"], "instr": p["instr"],
                "promote_every": promote_every}
    step = max(p["m"], _CHUNK // max(1, b.shape[0] * b.shape[1]) // p["m"] * p["m"])
    pieces = [mma_gemm(a[lo:lo + step], b, c[lo:lo + step], p["in_fmt"], p["acc_fmt"],
                       p["mode"], **keywords)[0] for lo in range(0, a.shape[0], step)]
    return np.concatenate(pieces).astype(np.uint64)


def _wrap32(x: np.ndarray) -> np.ndarray:
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


# --------------------------------------------------------------------------
# recipes
# --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Recipe:
    """A precision recipe: its ``name``, a short ``label``, ``family`` (one of
    :data:`FAMILIES`), a ``description`` and its settings:

    - ``preset``, ``overrides``: the GEMM unit (``hw.catalogue`` name and
      parameter overrides); ``rm``: the fused unit's rounding-mode port;
    - ``fp8_scaling``: per-tensor FP8 scales (``448 / amax``);
      ``promote_every``: promotion to fp32 every that many products;
    - integer recipes: ``scheme`` (``symmetric``/``asymmetric``) of the
      activations and ``weight_scheme`` of the weights (None: the same),
      ``act_signed`` (activations int or uint), ``weights``
      (``tensor``/``channel``), ``method`` (the activations' calibration),
      ``weight_method`` (the weights'), ``bits`` (operand bits of every layer;
      with ``mixed`` only of the layers between the first and the last, which
      stay at 8 bits as in Bit Fusion), ``requant_preset`` and ``last_layer``
      (``dequantize``: int32 to float32 logits in software);
    - ``pruning`` (``"2:4"`` or ``"unstructured"`` at ``density``) of the
      float weights before quantization, then ``fine_tune`` or not
      (:mod:`~nnarith.golden.prune`).
    """
    name: str
    label: str
    family: str
    description: str
    preset: str | None = None
    overrides: dict = field(default_factory=dict)
    rm: int | None = None
    fp8_scaling: bool = False
    promote_every: int | None = None
    scheme: str | None = None
    weight_scheme: str | None = None
    act_signed: bool = True
    weights: str | None = None
    method: str | None = None
    weight_method: str = "minmax"
    bits: int = 8
    mixed: bool = False
    requant_preset: str | None = None
    last_layer: str | None = None
    pruning: str | None = None
    density: float | None = None
    fine_tune: bool = False

    def settings(self) -> dict[str, Any]:
        """The settings, JSON-able (None where they do not apply)."""
        integer = self.family in _INTEGER_FAMILIES
        return {"preset": self.preset, "overrides": dict(self.overrides), "rm": self.rm,
                "fp8_scaling": self.fp8_scaling, "promote_every": self.promote_every,
                "scheme": self.scheme, "weight_scheme": self.weight_scheme or self.scheme,
                "act_signed": self.act_signed if integer else None, "weights": self.weights,
                "method": self.method, "weight_method": self.weight_method if integer else None,
                "bits": self.bits if integer else None, "mixed": self.mixed,
                "requant_preset": self.requant_preset, "last_layer": self.last_layer,
                "pruning": self.pruning, "density": self.density, "fine_tune": self.fine_tune}

    def layer_bits(self, index: int, layers: int) -> int:
        """Operand bits (activations and weights) of layer ``index`` of ``layers``."""
        if self.mixed and index in (0, layers - 1):
            return 8
        return self.bits


# name, label, preset, overrides, what the numerics are
_FLOAT_TABLE = (
    ("fp16_fused", "fp16 fused", "mma_fp16", {},
     "fp16 inputs, exact sum and one RNE rounding to fp32 per 4-product tile"),
    ("fp16_v100", "fp16 V100", "mma_fp16_v100", {},
     "fp16 inputs, V100 tensor-core numerics (blocks of 4, truncating, RZ)"),
    ("fp16_a100", "fp16 A100", "mma_fp16_a100", {},
     "fp16 inputs, A100 tensor-core numerics (blocks of 8)"),
    ("fp16_h100", "fp16 H100", "mma_bf16_h100", {"in_fmt": "fp16"},
     "fp16 inputs, H100 tensor-core numerics (blocks of 16)"),
    ("bf16_a100", "bf16 A100", "mma_bf16", {},
     "bf16 inputs, A100 tensor-core numerics (blocks of 8)"),
    ("bf16_h100", "bf16 H100", "mma_bf16_h100", {},
     "bf16 inputs, H100 tensor-core numerics (blocks of 16)"),
    ("tf32_a100", "tf32 A100", "mma_tf32_a100", {},
     "tf32 inputs, A100 tensor-core numerics (blocks of 4)"),
    ("e4m3_fused", "E4M3 fused", "mma_fp16", {"in_fmt": "e4m3"},
     "FP8 E4M3 with per-tensor scales, exact sum and one RNE rounding to fp32 per tile: "
     "the yardstick for the GPUs' 13-bit FP8 accumulation"),
    ("e4m3_ada", "E4M3 Ada", "mma_e4m3_ada", {},
     "FP8 E4M3 with per-tensor scales, Ada tensor cores (two blocks of 16, 13-bit results)"),
    ("e4m3_h100", "E4M3 H100", "mma_e4m3_h100", {},
     "FP8 E4M3 with per-tensor scales, H100 wgmma (one block of 32, 13-bit result)"),
    ("e4m3_h100_promoted", "E4M3 H100 +promote", "mma_e4m3_h100", {},
     f"FP8 E4M3 with per-tensor scales, H100 wgmma, promoted to fp32 every "
     f"{PROMOTE_EVERY} products"),
)

# name, scheme, weights, activation calibration
_INT8_TABLE = (
    ("int8_sym_tensor_minmax", "symmetric", "tensor", "minmax"),
    ("int8_asym_channel_minmax", "asymmetric", "channel", "minmax"),
    ("int8_asym_channel_percentile", "asymmetric", "channel", "percentile"),
    ("int8_asym_channel_mse", "asymmetric", "channel", "mse"),
    ("int8_asym_channel_kl", "asymmetric", "channel", "kl"),
)

#: Bit Fusion recipes: (bits, mixed). Activations are unsigned (every layer's
#: input is >= 0: pixels, then ReLU outputs), weights signed; both calibrated by MSE.
_BITFUSION_TABLE = ((8, False), (4, False), (2, False), (4, True), (2, True))

#: Fine-tuning after pruning: Adam epochs and learning rate.
FINE_TUNE = {"epochs": 10, "lr": 1e-3}

# name, label, preset, pruning, density, fine-tune, what
_SPARSE_TABLE = (
    ("sparse24", "int8 2:4", "sparse24_dot", "2:4", None, False,
     "2:4 magnitude pruning (no fine-tune) on sparse24_dot: 4 multipliers do a dot of 8"),
    ("sparse24_ft", "int8 2:4 +ft", "sparse24_dot", "2:4", None, True,
     "2:4 magnitude pruning, fine-tuned, on sparse24_dot"),
    ("sparten_d50", "SparTen 50%", "sparse_join", "unstructured", 0.5, False,
     "unstructured magnitude pruning to 50% density (no fine-tune), ReLU-sparse "
     "activations, on the SparTen join"),
    ("sparten_d50_ft", "SparTen 50% +ft", "sparse_join", "unstructured", 0.5, True,
     "unstructured pruning to 50% density, fine-tuned, on the SparTen join"),
    ("sparten_d25_ft", "SparTen 25% +ft", "sparse_join", "unstructured", 0.25, True,
     "unstructured pruning to 25% density, fine-tuned, on the SparTen join"),
    ("sparten_d10_ft", "SparTen 10% +ft", "sparse_join", "unstructured", 0.1, True,
     "unstructured pruning to 10% density, fine-tuned, on the SparTen join"),
)


def _build_recipes() -> dict[str, Recipe]:
    recipes = [Recipe("fp32", "fp32", "fp32", "NumPy float32 reference (sgemm)")]
    for name, label, preset, overrides, what in _FLOAT_TABLE:
        fused = UNIT_PRESETS[preset]["mode"] == "fused"
        recipes.append(Recipe(
            name, label, "float", what, preset=preset, overrides=dict(overrides),
            rm=RNE if fused else None, fp8_scaling=name.startswith("e4m3"),
            promote_every=PROMOTE_EVERY if name.endswith("_promoted") else None))
    for name, scheme, weights, method in _INT8_TABLE:
        label = f"int8 {scheme[:4]} {weights} {method}"
        what = (f"int8 on mma_int8 + requant (fused ReLU): {scheme} activations per tensor "
                f"calibrated by {method}, {scheme} weights per {weights} by min/max; "
                f"last layer dequantized from int32")
        recipes.append(Recipe(name, label, "int8", what, preset="mma_int8", scheme=scheme,
                              weights=weights, method=method, requant_preset="requant",
                              last_layer="dequantize"))
    # The dense baseline of the sparse recipes: the same quantization, zero points 0.
    dense = dict(scheme="symmetric", weights="channel", method="kl", requant_preset="requant",
                 last_layer="dequantize")
    recipes.append(Recipe("int8_dp4a", "int8 dp4a", "int8",
                          "int8 on dp4a (4 multipliers) + requant: symmetric activations (KL) "
                          "and per-channel weights, the sparse recipes' dense baseline",
                          preset="dp4a", **dense))
    for bits, mixed in _BITFUSION_TABLE:
        name = f"bitfusion_{'mixed_' if mixed else ''}{bits}"
        label = f"Bit Fusion 8-{bits}-8" if mixed else f"Bit Fusion {bits}-bit"
        what = (f"{bits}-bit unsigned activations and signed weights"
                + (" between a first and a last layer at 8 bits" if mixed else " in every layer")
                + " on the 4x4 Fusion Unit array + requant (uint output, fused ReLU); "
                  "MSE calibration, weights per channel")
        recipes.append(Recipe(name, label, "bitfusion", what, preset="fusion_array",
                              scheme="asymmetric", weight_scheme="symmetric", act_signed=False,
                              weights="channel", method="mse", weight_method="mse", bits=bits,
                              mixed=mixed, requant_preset="requant", last_layer="dequantize"))
    for name, label, preset, pruning, density, tune, what in _SPARSE_TABLE:
        recipes.append(Recipe(name, label, "sparse", what + "; int8 as int8_dp4a", preset=preset,
                              pruning=pruning, density=density, fine_tune=tune, **dense))
    return {r.name: r for r in recipes}


#: Every recipe by name, in table order.
RECIPES: dict[str, Recipe] = _build_recipes()


def get_recipe(recipe: str | Recipe) -> Recipe:
    """A recipe by name (or the :class:`Recipe` itself)."""
    if isinstance(recipe, Recipe):
        return recipe
    if isinstance(recipe, str) and recipe in RECIPES:
        return RECIPES[recipe]
    raise ValueError(f"recipe: must be one of {', '.join(RECIPES)}, got {describe(recipe)}")


# --------------------------------------------------------------------------
# preparation
# --------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class _FloatPlan:
    layer: Layer
    b: np.ndarray                 # (K', N') in_fmt patterns
    c_row: np.ndarray             # (N',) C patterns of every real row
    x_scale: np.float32 | None
    w_scale: np.float32 | None
    dequant: np.float32 | None    # float32(s_x * s_w)
    promote_every: int | None     # this layer's products per promotion


@dataclass(frozen=True, eq=False)
class _IntPlan:
    layer: Layer
    bits: int                     # operand bits of A and B
    x_qp: QParams
    w_qp: QParams
    q_w: np.ndarray               # (K, N) integer values
    bias_q: np.ndarray            # (N,) int32
    offset: np.ndarray            # (N,) int32: bias + zero-point terms of the channel
    ones: bool                    # B has a column of ones (asymmetric weights, MMA only)
    b: np.ndarray                 # MMA: (K', N') values (int64), padded; else q_w
    c_row: np.ndarray | None      # the accumulation's start per column (None: from 0)
    w_zp: np.ndarray              # (N,)
    w_scale: np.ndarray           # (N,)
    out_qp: QParams | None        # None: the last layer, dequantized
    multiplier: np.ndarray | None
    shift: np.ndarray | None


@dataclass(frozen=True, eq=False)
class Prepared:
    """A recipe bound to a model: calibration done, weights converted/quantized.

    ``unit``: the GEMM unit's resolved parameters (None for fp32); ``plans``:
    one per layer; ``calibration``: the number of calibration images used;
    ``activation_qparams``: the integer recipes' per-layer input quantization
    (an extra last entry: none), ``activation_amax``: FP8's per-layer amax;
    ``network``: what the recipe runs, ``model`` itself or, for a pruning
    recipe, the pruned (and fine-tuned) copy.
    """
    recipe: Recipe
    model: Network
    unit: dict | None
    plans: tuple
    calibration: int
    activation_qparams: tuple = ()
    activation_amax: tuple = ()
    network: Network | None = None


def _layer_inputs(model: Network, x: np.ndarray) -> list[np.ndarray]:
    """Each layer's input (float32, ``(N, *in_shape)``) in the fp32 model."""
    h, n, inputs = x, len(x), []
    for layer in model.layers():
        inputs.append(np.asarray(h, dtype=np.float32).reshape((n,) + layer.in_shape))
        h = layer.finish(float_gemm(layer, layer.lower(h)), n)
    return inputs


def _calibration_images(split: object) -> np.ndarray:
    if isinstance(split, DigitsSplit):
        return _features(split.x_calib, "split.x_calib")
    try:
        return _features(split, "split")
    except ValueError:
        raise ValueError(f"split: must be a DigitsSplit (its x_calib is used) or calibration "
                         f"images (N, 64), got {describe(split)}") from None


def prepare(recipe: str | Recipe, model: Network, split: DigitsSplit | ArrayLike) -> Prepared:
    """Calibrate ``recipe`` for ``model`` on ``split.x_calib`` (or on calibration
    images given directly) and convert or quantize its weights; a pruning
    recipe first prunes (and fine-tunes on ``split.x_train``: it needs the split)."""
    recipe = get_recipe(recipe)
    if not isinstance(model, Network):
        raise ValueError(f"model: must be an MLP or a CNN, got {describe(model)}")
    calib = _calibration_images(split)
    needs = recipe.fp8_scaling or recipe.family in _INTEGER_FAMILIES
    if needs and not len(calib):
        raise ValueError(f"split: recipe {recipe.name} calibrates on images, the split has none")
    if recipe.fine_tune and not isinstance(split, DigitsSplit):
        raise ValueError(f"split: recipe {recipe.name} fine-tunes on the training images, "
                         f"it needs a DigitsSplit, got {describe(split)}")
    if recipe.family == "fp32":
        return Prepared(recipe, model, None, tuple(), len(calib), network=model)
    p = unit_params(recipe.preset, recipe.overrides)
    network = _pruned(recipe, model, split)
    inputs = _layer_inputs(network, calib) if needs else None
    if recipe.family == "float":
        return _prepare_float(recipe, network, p, inputs, len(calib), model)
    return _prepare_int(recipe, network, p, inputs, len(calib), model)


def _pruned(recipe: Recipe, model: Network, split: object) -> Network:
    """The network a recipe runs: ``model``, or its pruned (fine-tuned) copy."""
    if recipe.pruning is None:
        return model
    from .prune import fine_tune, prune
    pruned, masks = prune(model, structure=recipe.pruning, density=recipe.density)
    if recipe.fine_tune:
        pruned = fine_tune(pruned, split, masks, **FINE_TUNE)
    return pruned


def _scale(amax: float) -> np.float32:
    return np.float32(E4M3_MAX / amax) if amax > 0 else np.float32(1.0)


def _promotion(every: int | None, k: int, unit_k: int) -> int | None:
    """A layer's products per promotion: ``every``, or all of its K (padded to the
    unit's k) when that is shorter -- one group, the same D as padding K to ``every``."""
    if every is None:
        return None
    if every % unit_k:
        raise ValueError(f"promote_every: must be a multiple of the unit's k ({unit_k}), "
                         f"got {every}")
    return min(every, _ceil_to(k, unit_k))


def _prepare_float(recipe, model, p, inputs, n_calib, original):
    acc_fmt = "fp32" if recipe.promote_every else p["acc_fmt"]
    plans, amaxes = [], []
    for i, layer in enumerate(model.layers()):
        k, n = layer.weight.shape
        weight = layer.weight.astype(np.float64)
        bias = layer.bias.astype(np.float64)
        x_scale = w_scale = dequant = None
        if recipe.fp8_scaling:
            amax = float(np.max(np.abs(inputs[i]))) if inputs[i].size else 0.0
            amaxes.append(amax)
            x_scale, w_scale = _scale(amax), _scale(float(np.max(np.abs(layer.weight))))
            weight = weight * np.float64(w_scale)
            bias = bias * np.float64(x_scale) * np.float64(w_scale)
            dequant = np.float32(np.float64(x_scale) * np.float64(w_scale))
        b_bits = from_float64(weight, p["in_fmt"], RNE, saturate=recipe.fp8_scaling)[0]
        c_bits = from_float64(bias, acc_fmt, RNE)[0]
        promote = _promotion(recipe.promote_every, k, p["k"])
        plans.append(_FloatPlan(layer, _pad(b_bits, _ceil_to(k, promote or p["k"]),
                                            _ceil_to(n, p["n"])),
                                _pad(c_bits[None, :], 1, _ceil_to(n, p["n"]))[0],
                                x_scale, w_scale, dequant, promote))
    return Prepared(recipe, original, p, tuple(plans), n_calib, activation_amax=tuple(amaxes),
                    network=model)


def _prepare_int(recipe, model, p, inputs, n_calib, original):
    layers = model.layers()
    bits = [recipe.layer_bits(i, len(layers)) for i in range(len(layers))]
    qps = tuple(calibrate(h, method=recipe.method, scheme=recipe.scheme, bits=bits[i],
                          signed=recipe.act_signed) for i, h in enumerate(inputs))
    mma = p["unit"] == "IntMMA"
    has_c = _HAS_C[p["unit"]]
    if not mma and any(int(qp.zero_point) for qp in qps):
        raise ValueError(f"recipe: {recipe.name}'s activations need zero point 0 on "
                         f"{recipe.preset} (its unit takes no zero-point correction)")
    w_scheme = recipe.weight_scheme or recipe.scheme
    plans = []
    for i, layer in enumerate(layers):
        k, n = layer.weight.shape
        x_qp = qps[i]
        out_qp = qps[i + 1] if i + 1 < len(layers) else None
        w_qp = calibrate(layer.weight, method=recipe.weight_method, scheme=w_scheme,
                         bits=bits[i], axis=1 if recipe.weights == "channel" else None)
        q_w = quantize(layer.weight, w_qp)
        w_zp = np.broadcast_to(w_qp.zero_point, (n,)).astype(np.int64)
        if not mma and np.any(w_zp):
            raise ValueError(f"recipe: {recipe.name}'s weights need zero point 0 on "
                             f"{recipe.preset}")
        w_scale = np.broadcast_to(w_qp.scale, (n,)).astype(np.float64)
        x_zp = int(x_qp.zero_point)
        bias_q = quantize_bias(layer.bias, x_qp.scale, w_scale)
        offset = _wrap32(bias_q + k * x_zp * w_zp - x_zp * q_w.sum(axis=0))
        ones = bool(np.any(w_zp != 0))
        if mma:
            cols = n + ones
            b = np.zeros((_ceil_to(k, p["k"]), _ceil_to(cols, p["n"])), dtype=np.int64)
            b[:k, :n] = q_w
            if ones:
                b[:k, n] = 1
            c_row = np.zeros(b.shape[1], dtype=np.int64)
            c_row[:n] = offset
        else:
            b, c_row = q_w, offset if has_c else None
        multiplier = shift = None
        if out_qp is not None:
            multiplier, shift = quantize_multiplier(x_qp.scale * w_scale / out_qp.scale)
        plans.append(_IntPlan(layer, bits[i], x_qp, w_qp, q_w, bias_q, offset, ones, b, c_row,
                              w_zp, w_scale, out_qp, multiplier, shift))
    return Prepared(recipe, original, p, tuple(plans), n_calib, activation_qparams=qps,
                    network=model)


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------

#: Bits a value of each float format occupies in memory (tf32 is stored as fp32).
_STORED_BITS = {"fp32": 32, "tf32": 32, "fp16": 16, "bf16": 16, "e4m3": 8, "e5m2": 8}


@dataclass(frozen=True, eq=False)
class RecipeResult:
    """``logits`` float32 (N, 10), ``predictions`` (argmax, ties to the lower
    class), the hardware ``calls`` in execution order and the ``work`` of each
    layer per inference (averaged over the images where it depends on the
    data), for an energy estimate (``nnarith.energy.LayerWork``'s fields):
    ``mults`` multiplications the unit performs on real data (padding
    excluded; zero-skipping units only matched nonzero pairs, 2:4 the kept
    half), ``operands`` (``"int"`` or the float format), ``a_bits``,
    ``w_bits``, ``accumulate`` (``"int32"``/``"fp32"``), ``weight_bits``
    (stored weights incl. sparse metadata: 2:4 a 4-bit code per group,
    SparTen a mask bit per element), ``input_bits`` (the layer's input as
    stored: a mask bit per element and the nonzeros for the SparTen join),
    ``output_bits`` (what the unit writes, before pooling: the next layer's
    operand format, int32 or fp32 logits), ``requants`` (outputs through the
    requantizer)."""
    recipe: str
    logits: np.ndarray
    predictions: np.ndarray
    calls: list
    work: list = field(default_factory=list)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of every GEMM call, padding included."""
        return sum(c.macs for c in self.calls if isinstance(c, (GemmCall, IntGemmCall)))

    @property
    def useful_macs(self) -> int:
        return sum(c.useful_macs for c in self.calls if isinstance(c, (GemmCall, IntGemmCall)))

    @property
    def vectors(self) -> int:
        """Vectors of every elementwise call."""
        return sum(c.vectors for c in self.calls if isinstance(c, VectorCall))


def run(prepared: Prepared, x: ArrayLike) -> RecipeResult:
    """Inference of digits ``x`` (``(N, 64)`` or ``(N, 8, 8)``, floats in [0, 1])
    through the prepared recipe: logits, predictions and every hardware call."""
    if not isinstance(prepared, Prepared):
        raise ValueError(f"prepared: must come from prepare(), got {describe(prepared)}")
    x = _features(x)
    if not len(x):
        raise ValueError("x: must hold at least one image")
    family = prepared.recipe.family
    calls: list = []
    work: list = []
    if family == "fp32":
        logits = prepared.model.forward(x).astype(np.float32)
        work = _float_work(prepared.model.layers(), "fp32")
    elif family == "float":
        logits = _run_float(prepared, x, calls)
        work = _float_work([plan.layer for plan in prepared.plans], prepared.unit["in_fmt"])
    else:
        logits = _run_int(prepared, x, calls, work)
    logits = np.asarray(logits, dtype=np.float32).reshape(len(x), CLASSES)
    return RecipeResult(prepared.recipe.name, logits, np.argmax(logits, axis=1), calls, work)


def _float_work(layers: list[Layer], fmt: str) -> list[dict]:
    """Per-inference work of a float network: every operand in ``fmt``, fp32 sums."""
    stored, width = _STORED_BITS[fmt], FLOAT_FORMATS[fmt].width
    work = []
    for i, layer in enumerate(layers):
        k, n = layer.weight.shape
        last = i == len(layers) - 1
        work.append({"layer": layer.name, "mults": layer.macs(), "operands": fmt,
                     "a_bits": width, "w_bits": width, "accumulate": "fp32",
                     "weight_bits": k * n * stored,
                     "input_bits": int(np.prod(layer.in_shape)) * stored,
                     "output_bits": layer.rows_per_image * n * (32 if last else stored),
                     "requants": 0})
    return work


def _run_float(prep: Prepared, x: np.ndarray, calls: list) -> np.ndarray:
    recipe, p = prep.recipe, prep.unit
    acc_fmt = "fp32" if recipe.promote_every else p["acc_fmt"]
    h, n = x, len(x)
    for plan in prep.plans:
        layer = plan.layer
        values = np.asarray(h, dtype=np.float64).reshape((n,) + layer.in_shape)
        if plan.x_scale is not None:
            values = values * np.float64(plan.x_scale)      # exact: float32 x float32
        bits = from_float64(values, p["in_fmt"], RNE, saturate=recipe.fp8_scaling)[0]
        rows = layer.lower(bits)                  # im2col pads with +0.0 (pattern 0)
        m, k = rows.shape
        n_out = layer.weight.shape[1]
        a = _pad(rows.astype(np.uint64), _ceil_to(m, p["m"]), plan.b.shape[0])
        c = np.zeros((a.shape[0], plan.b.shape[1]), dtype=np.uint64)
        c[:m] = plan.c_row
        d = _float_mma(p, a, plan.b, c, recipe.rm, plan.promote_every)
        calls.append(GemmCall(layer.name, recipe.preset, dict(recipe.overrides), a, plan.b, c,
                              d, (m, k, n_out), (p["m"], p["k"], p["n"]), recipe.rm,
                              plan.promote_every))
        pre = to_float64(d[:m, :n_out], acc_fmt).astype(np.float32)
        if plan.dequant is not None:
            pre = pre / plan.dequant
        h = layer.finish(pre, n)
    return h


def _mults(unit: str, a: np.ndarray, b: np.ndarray) -> int:
    """Multiplications ``unit`` performs for ``a @ b`` on real data: the SparTen
    join only matched nonzero pairs, 2:4 the kept values (two per group of 4,
    fewer in a short last group), the dense units every product."""
    (m, k), n = a.shape, b.shape[1]
    if unit == "SparseJoin":
        return int(((a != 0).astype(np.int64) @ (b != 0).astype(np.int64)).sum())
    if unit == "Sparse24Dot":
        kept = 2 * (k // 4) + min(2, k % 4)
        return m * kept * n
    return m * k * n


def _weight_bits(unit: str, q_w: np.ndarray, bits: int) -> int:
    """Stored bits of a layer's weights: dense values; 2:4 the kept values and a
    4-bit code per group; SparTen a mask bit per element and the nonzero values."""
    k, n = q_w.shape
    if unit == "Sparse24Dot":
        groups = -(-k // 4)
        return n * (2 * (k // 4) + min(2, k % 4)) * bits + n * groups * 4
    if unit == "SparseJoin":
        return k * n + int(np.count_nonzero(q_w)) * bits
    return k * n * bits


def _stored_bits(unit: str, q: np.ndarray, bits: int, n_images: int) -> float:
    """Stored bits per image of activations ``q``: SparTen a mask bit per element
    and the nonzeros, other units every value."""
    if unit == "SparseJoin":
        return (q.size + np.count_nonzero(q) * bits) / n_images
    return q.size * bits / n_images


def _run_int(prep: Prepared, x: np.ndarray, calls: list, work: list) -> np.ndarray:
    recipe, p = prep.recipe, prep.unit
    unit = p["unit"]
    n = len(x)
    q = quantize(x, prep.plans[0].x_qp)
    for i, plan in enumerate(prep.plans):
        layer = plan.layer
        x_zp = int(plan.x_qp.zero_point)
        qh = q.reshape((n,) + layer.in_shape)
        rows = (qh.reshape(n, -1) if layer.kind == "dense"
                else im2col(qh, layer.kernel, layer.padding, pad_value=x_zp))
        m, k = rows.shape
        n_out = layer.weight.shape[1]
        if unit == "IntMMA":
            a = _pad(rows.astype(np.int64), _ceil_to(m, p["m"]), plan.b.shape[0])
            c = np.zeros((a.shape[0], plan.b.shape[1]), dtype=np.int64)
            c[:m] = plan.c_row
            d = _wrap32(a @ plan.b + c)           # exact in int64, then int32 wrapping
            calls.append(GemmCall(layer.name, recipe.preset, dict(recipe.overrides),
                                  _to_bits(a, 8), _to_bits(plan.b, 8), _to_bits(c, 32),
                                  _to_bits(d, 32), (m, k, n_out + plan.ones),
                                  (p["m"], p["k"], p["n"])))
            acc = d[:m, :n_out]
            a_sum = d[:m, n_out] if plan.ones else np.zeros(m, dtype=np.int64)
            bias_in_acc = True
        else:
            a = rows.astype(np.int64)
            start = np.zeros(n_out, np.int64) if plan.c_row is None else plan.c_row
            acc = _wrap32(a @ plan.b + start[None, :])
            calls.append(IntGemmCall(layer.name, recipe.preset, dict(recipe.overrides), a,
                                     plan.b, plan.c_row, acc, plan.bits, recipe.act_signed,
                                     plan.bits, True, _mults(unit, a, plan.b)))
            a_sum = np.zeros(m, dtype=np.int64)
            bias_in_acc = plan.c_row is not None
        last = plan.out_qp is None
        mults = m * k * n_out if unit == "IntMMA" else calls[-1].mults
        work.append({"layer": layer.name, "mults": mults / n if mults % n else mults // n,
                     "operands": "int", "a_bits": plan.bits,
                     "w_bits": plan.bits, "accumulate": "int32",
                     "weight_bits": _weight_bits(unit, plan.q_w, plan.bits),
                     "input_bits": _stored_bits(unit, q, plan.bits, n),
                     "output_bits": layer.rows_per_image * n_out * (
                         32 if last else prep.plans[i + 1].bits),
                     "requants": 0 if last else layer.rows_per_image * n_out})
        offset = 0 if bias_in_acc else plan.offset
        if last:                                  # the logits: int32 -> float32, no requant
            exact = _wrap32(acc - plan.w_zp[None, :] * a_sum[:, None] + offset)
            return (exact * (float(plan.x_qp.scale) * plan.w_scale)[None, :]).astype(np.float32)
        activation = "relu" if layer.relu else "none"
        out_bits, out_signed = plan.out_qp.bits, plan.out_qp.signed
        overrides = {key: value for key, value in (("activation", activation),
                                                   ("out_bits", out_bits),
                                                   ("out_signed", out_signed))
                     if UNIT_PRESETS[recipe.requant_preset][key] != value}
        out_zp = int(plan.out_qp.zero_point)
        offsets = np.broadcast_to(offset, (n_out,)).astype(np.int64)
        q_out = requantize(acc, plan.multiplier[None, :], plan.shift[None, :], out_zp,
                           a_sum=a_sum[:, None], w_zp=plan.w_zp[None, :],
                           offset=offsets[None, :], out_bits=out_bits, out_signed=out_signed,
                           rounding=UNIT_PRESETS[recipe.requant_preset]["rounding"],
                           activation=activation)
        values = {"acc": acc.ravel(), "a_sum": np.repeat(a_sum, n_out),
                  "w_zp": np.tile(plan.w_zp, m), "offset": np.tile(offsets, m),
                  "multiplier": np.tile(plan.multiplier, m), "shift": np.tile(plan.shift, m),
                  "out_zp": np.full(m * n_out, out_zp, dtype=np.int64)}
        calls.append(VectorCall(layer.name, recipe.requant_preset, overrides,
                                {name: np.asarray(v, dtype=np.int64)
                                 for name, v in values.items()},
                                {"q": np.asarray(q_out, dtype=np.int64).ravel()}))
        # ReLU and pooling on q - Z_out (>= 0 after a fused ReLU), then back to q.
        q = layer.finish(q_out - out_zp, n) + out_zp
    raise AssertionError("the last layer returns")           # pragma: no cover


# --------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------

def _predictions(result: RecipeResult | ArrayLike, name: str) -> np.ndarray:
    if isinstance(result, RecipeResult):
        return result.predictions
    arr = np.asarray(result)
    if arr.ndim == 2 and arr.shape[1] == CLASSES:
        return np.argmax(arr, axis=1)
    if arr.ndim == 1 and arr.dtype.kind in "iu":
        return arr
    raise ValueError(f"{name}: must be a RecipeResult, logits (N, {CLASSES}) or predictions "
                     f"(N,), got {describe(result)}")


def accuracy(result: RecipeResult | ArrayLike, y: ArrayLike) -> float:
    """The fraction of images whose prediction (of a result, logits or
    predictions) is the label ``y``."""
    pred = _predictions(result, "result")
    y = np.asarray(y)
    if y.shape != pred.shape or y.dtype.kind not in "iu" or not len(y):
        raise ValueError(f"y: must be {len(pred)} integer labels, got {describe(y)} "
                         f"of shape {y.shape}")
    return float(np.mean(pred == y))


def agreement(a: RecipeResult | ArrayLike, b: RecipeResult | ArrayLike) -> float:
    """The fraction of images on which two results predict the same digit."""
    pa, pb = _predictions(a, "a"), _predictions(b, "b")
    if pa.shape != pb.shape or not len(pa):
        raise ValueError(f"b: must have as many images as a ({len(pa)}), got {len(pb)}")
    return float(np.mean(pa == pb))
