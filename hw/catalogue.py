"""The catalogue: every unit family and the named presets built from them."""

from dataclasses import dataclass, field

from .bitfusion import BitBrick, FusionUnit
from .bitfusion_array import FusionArray
from .csr import CSRJoin
from .fixed import FixedMultiplier
from .float import FloatMultiplier
from .fma import FloatFMA
from .kulisch import KulischAccumulator
from .mac import IntMAC
from .mma import FloatMMA, IntMMA
from .requant import Requantizer
from .sparse import SparseJoin
from .sparse24 import Sparse24Dot
from .temporal import TemporalPE

__all__ = ["Preset", "PRESETS", "UNITS", "get_preset", "build"]

UNITS = {cls.__name__: cls for cls in (FixedMultiplier, FloatMultiplier, IntMAC, Requantizer,
                                          KulischAccumulator, FloatFMA, FloatMMA, IntMMA,
                                          BitBrick, FusionUnit, TemporalPE, FusionArray,
                                          SparseJoin, CSRJoin, Sparse24Dot)}


@dataclass(frozen=True)
class Preset:
    name: str
    unit: type
    params: dict
    doc: str
    #: Parameter overrides that ``make synth`` tabulates next to the preset itself.
    variants: tuple = field(default=())

    def resolve(self, overrides=None):
        """The preset's parameters with ``overrides`` applied, validated and complete."""
        return self.unit.resolve_params({**self.params, **(overrides or {})})

    def describe(self):
        return {"name": self.name, "unit": self.unit.__name__, "doc": self.doc,
                "params": self.resolve()}

    @property
    def is_block(self):
        """An m×n block of outputs (the MMAs), each with the same datapath."""
        return {"m", "n"} <= {param.name for param in self.unit.PARAMS}

    def one_output(self):
        """Overrides that keep one output element of a block (m = n = 1, the whole
        K): what quick checks and per-element area figures build; {} otherwise."""
        return {"m": 1, "n": 1} if self.is_block else {}


_BOOTH = ({"arch": "booth"},)

PRESETS = {preset.name: preset for preset in (
    Preset("int8_mul", FixedMultiplier, {}, "signed 8x8 -> 16-bit integer multiplier", _BOOTH),
    Preset("uint8_mul", FixedMultiplier, {"a_signed": False, "b_signed": False},
           "unsigned 8x8 -> 16-bit integer multiplier", _BOOTH),
    Preset("int16_mul", FixedMultiplier, {"a_width": 16, "b_width": 16},
           "signed 16x16 -> 32-bit integer multiplier", _BOOTH),
    Preset("int32_mul", FixedMultiplier, {"a_width": 32, "b_width": 32},
           "signed 32x32 -> 64-bit integer multiplier", _BOOTH),
    Preset("q8_8_mul", FixedMultiplier,
           {"a_width": 16, "a_frac": 8, "b_width": 16, "b_frac": 8,
            "out_width": 16, "out_frac": 8, "rounding": "half_even", "overflow": "saturate"},
           "Q8.8 x Q8.8 -> Q8.8, rounded half-even, saturating", _BOOTH),
    Preset("fp16_mul", FloatMultiplier, {"a_fmt": "fp16"}, "IEEE binary16 multiplier", _BOOTH),
    Preset("bf16_mul", FloatMultiplier, {"a_fmt": "bf16"}, "bfloat16 multiplier", _BOOTH),
    Preset("fp32_mul", FloatMultiplier, {"a_fmt": "fp32"}, "IEEE binary32 multiplier", _BOOTH),
    Preset("tf32_mul", FloatMultiplier, {"a_fmt": "tf32"}, "TensorFloat-32 (e8m10) multiplier",
           _BOOTH),
    Preset("e4m3_mul", FloatMultiplier, {"a_fmt": "e4m3"},
           "OCP FP8 E4M3 multiplier (no infinities, max 448)", _BOOTH),
    Preset("e5m2_mul", FloatMultiplier, {"a_fmt": "e5m2"}, "OCP FP8 E5M2 (IEEE-like) multiplier",
           _BOOTH),
    Preset("fp16_mul_fp32", FloatMultiplier, {"a_fmt": "fp16", "out_fmt": "fp32"},
           "fp16 x fp16 -> fp32, exact widening", _BOOTH),
    Preset("bf16_mul_fp32", FloatMultiplier, {"a_fmt": "bf16", "out_fmt": "fp32"},
           "bf16 x bf16 -> fp32, exact widening", _BOOTH),
    Preset("fp16_fma32", FloatFMA, {"a_fmt": "fp16", "c_fmt": "fp32"},
           "fused fp16 x fp16 + fp32 -> fp32, one rounding", _BOOTH),
    Preset("bf16_fma32", FloatFMA, {"a_fmt": "bf16", "c_fmt": "fp32"},
           "fused bf16 x bf16 + fp32 -> fp32, one rounding", _BOOTH),
    Preset("fp32_fma", FloatFMA, {"a_fmt": "fp32", "c_fmt": "fp32"},
           "fused fp32 multiply-add (fmaf)", _BOOTH),
    Preset("fp16_fma16", FloatFMA, {"a_fmt": "fp16", "c_fmt": "fp16"},
           "fused fp16 multiply-add, all fp16", _BOOTH),
    Preset("fp16_mac32", FloatFMA, {"a_fmt": "fp16", "c_fmt": "fp32", "accumulate": True,
                                    "stages": 1},
           "fp16 x fp16 running sum in fp32, one rounding per step, clear input", _BOOTH),
    Preset("int8_mac", IntMAC, {"accumulate": True},
           "int8 x int8 running sum in a 32-bit accumulator, wrapping, sticky overflow", _BOOTH),
    Preset("dp4a", IntMAC, {"lanes": 4},
           "CUDA __dp4a: c + 4-way int8 dot product, 32-bit, wrapping", _BOOTH),
    Preset("mma_fp16", FloatMMA, {},
           "4x4x4 fp16 -> fp32 MMA, fused: exact sum, one rounding in any mode, flags"),
    Preset("mma_bf16", FloatMMA, {"in_fmt": "bf16", "mode": "tensorcore", "gpu": "a100", "k": 8},
           "4x4x8 bf16 -> fp32 MMA with A100 tensor-core numerics (an exact fused bf16 "
           "sum would need a 530-bit window)"),
    Preset("mma_fp16_v100", FloatMMA, {"mode": "tensorcore", "gpu": "v100"},
           "4x4x4 fp16 -> fp32 MMA, bit-compatible with V100 tensor cores"),
    Preset("mma_fp16_a100", FloatMMA, {"mode": "tensorcore", "gpu": "a100", "k": 8},
           "4x4x8 fp16 -> fp32 MMA, bit-compatible with A100 tensor cores"),
    Preset("mma_bf16_h100", FloatMMA, {"mode": "tensorcore", "gpu": "h100", "in_fmt": "bf16",
                                       "k": 16},
           "4x4x16 bf16 -> fp32 MMA, bit-compatible with H100 tensor cores"),
    Preset("mma_tf32_a100", FloatMMA, {"mode": "tensorcore", "gpu": "a100", "in_fmt": "tf32"},
           "4x4x4 tf32 -> fp32 MMA, bit-compatible with A100 tensor cores (blocks of 4, "
           "24-bit window, RZ)"),
    Preset("mma_e4m3_ada", FloatMMA, {"mode": "tensorcore", "gpu": "ada", "in_fmt": "e4m3",
                                      "k": 32},
           "4x4x32 FP8 E4M3 -> fp32 MMA, bit-compatible with Ada (RTX 4000, L40S) tensor "
           "cores: two chained blocks of 16, 13-bit block results"),
    Preset("mma_e4m3_h100", FloatMMA, {"mode": "tensorcore", "gpu": "h100", "in_fmt": "e4m3",
                                       "k": 32},
           "4x4x32 FP8 E4M3 -> fp32 MMA, bit-compatible with H100 wgmma: one block of 32, "
           "13-bit result"),
    Preset("mma_e5m2_b200", FloatMMA, {"mode": "tensorcore", "gpu": "b200", "in_fmt": "e5m2",
                                       "acc_fmt": "fp16", "k": 32},
           "4x4x32 FP8 E5M2 -> fp16 MMA, bit-compatible with B200 mma.sync: two fp16 MMAs on "
           "interleaved pairs of products, then c added with RNE"),
    Preset("mma_int8", IntMMA, {}, "4x4x4 int8 -> int32 MMA, one dp4a tree per output, wrapping",
           ({"arch": "booth"},)),
    Preset("requant", Requantizer, {},
           "int32 -> int8 with zero-point correction, TFLite/gemmlowp double rounding",
           ({"rounding": "single"}, {"activation": "relu6"})),
    Preset("kulisch_fp16", KulischAccumulator, {},
           "exact fp16 x fp16 sum in a 97-bit register (2**-48..2**48), read out to fp32"),
    Preset("kulisch_fp16x4", KulischAccumulator, {"lanes": 4},
           "exact fp16 sum, 4 products per cycle, read out to fp32"),
    Preset("kulisch_bf16", KulischAccumulator, {"in_fmt": "bf16", "lsb": -64, "msb": 64},
           "bf16 x bf16 sum in a 145-bit register: products in [2**-49, 2**64) exact, "
           "smaller ones truncated (NX), larger ones ovf; read out to fp32"),
    Preset("bitbrick", BitBrick, {}, "Bit Fusion BitBrick: 2-bit x 2-bit slices, each with a "
           "sign-extension input, 6-bit signed product"),
    Preset("fusion_unit", FusionUnit, {},
           "Bit Fusion Unit: 16 BitBricks fused at run time into 1 8x8, 2 8x4, 4 4x4/8x2, 8 4x2 "
           "or 16 2x2 products (each side signed or unsigned) per cycle, 32-bit running sum"),
    Preset("fusion_unit16", FusionUnit, {"max_prec": 16},
           "Bit Fusion Unit of 16 4-bit BitBricks: 16x16 down to 4x4 products, 33-bit running sum"),
    Preset("temporal_pe", TemporalPE, {},
           "temporal multi-precision MAC: one 4x4 multiplier over operand slices, 2/4-bit MACs "
           "in 1 cycle, 8x4 in 2, 8x8 in 4; Bit Fusion's mode word; ready/valid",
           ({"mult_bits": 2},)),
    Preset("fusion_array", FusionArray, {},
           "4x4 weight-stationary systolic array of Fusion Units, per-column 32-bit running "
           "sums; mode and weights may change on any cycle; latency 8", ({"stages": 9},)),
    Preset("sparse_join", SparseJoin, {},
           "SparTen bitmask inner join: chunks of 32 (mask + packed int8 values) per side, "
           "2 matches per cycle, 32-bit wrapping dot product and a malformed-input flag; "
           "ready/valid", ({"matches": 1}, {"matches": 8}, {"chunk": 128, "matches": 4})),
    Preset("csr_join", CSRJoin, {},
           "CSR merge join: two streams of (16-bit index, int8 value) sorted by index, one "
           "comparison per cycle, 32-bit wrapping dot product per vector pair, malformed-input "
           "flag; ready/valid", ({"width": 2},)),
    Preset("sparse24_dot", Sparse24Dot, {},
           "NVIDIA 2:4 structured-sparse dot product: 4 kept int8 weights (2 per group of 4, "
           "2-bit indices) against 8 dense int8 activations, 4:1 mux per weight, dp4a tree, "
           "int32 wrapping, invalid-metadata flag", ({"arch": "booth"}, {"stages": 2})),
    Preset("sparse24_fp16", Sparse24Dot, {"in_fmt": "fp16"},
           "2:4 structured-sparse fp16 dot product of 8 (4 kept weights) + fp32 c -> fp32, "
           "fused: exact sum, one rounding in any mode, flags, invalid-metadata flag",
           ({"stages": 2},)),
)}


def get_preset(name):
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"preset: must be one of {', '.join(PRESETS)}, got {name!r}") from None


def build(name, overrides=None):
    """The unit of preset ``name`` with parameter ``overrides`` applied."""
    preset = get_preset(name)
    return preset.unit(**preset.resolve(overrides))
