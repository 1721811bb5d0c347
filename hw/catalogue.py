"""The catalogue: every unit family and the named presets built from them."""

from dataclasses import dataclass, field

from .fixed import FixedMultiplier
from .float import FloatMultiplier
from .mac import IntMAC

__all__ = ["Preset", "PRESETS", "UNITS", "get_preset", "build"]

UNITS = {cls.__name__: cls for cls in (FixedMultiplier, FloatMultiplier, IntMAC)}


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
    Preset("int8_mac", IntMAC, {"accumulate": True},
           "int8 x int8 running sum in a 32-bit accumulator, wrapping, sticky overflow", _BOOTH),
    Preset("dp4a", IntMAC, {"lanes": 4},
           "CUDA __dp4a: c + 4-way int8 dot product, 32-bit, wrapping", _BOOTH),
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
