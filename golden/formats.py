"""Number formats shared by the golden models and the hardware generators.

Data only: widths, signedness and names. The arithmetic on these formats is
written twice, independently: as NumPy in ``golden`` and as gates in ``hw``.
"""

import re
from dataclasses import dataclass, replace

__all__ = ["QFormat", "FIXED_ROUNDING", "OVERFLOW_MODES", "FloatFormat", "FLOAT_FORMATS",
           "TensorCoreMode", "TensorCoreParams", "GPUS", "TENSORCORE_PATHS", "FP8",
           "float_format", "ROUND_MODES", "FLAG_NX", "FLAG_UF", "FLAG_OF", "FLAG_DZ", "FLAG_NV"]

#: Rounding modes for narrowing a fixed-point value (dropping fraction bits):
#: ``trunc`` floor (toward -inf, plain bit dropping), ``zero`` toward zero,
#: ``half_up`` nearest with ties toward +inf, ``half_even`` nearest with ties to even.
FIXED_ROUNDING = ("trunc", "zero", "half_up", "half_even")

#: What happens to a value outside the output range.
OVERFLOW_MODES = ("wrap", "saturate")


@dataclass(frozen=True)
class QFormat:
    """A two's-complement (or unsigned) fixed-point format.

    ``width`` bits in all, of which ``frac`` are fraction bits; the stored
    integer ``q`` stands for the real number ``q / 2**frac``. Following the
    ARM convention, ``Qm.n`` names a format with ``m`` integer bits *including*
    the sign bit: Q8.8 is a 16-bit signed format, ``uQ8.8`` its unsigned twin.
    """

    width: int
    frac: int = 0
    signed: bool = True

    def __post_init__(self):
        if not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"width: must be a positive integer, got {self.width!r}")
        if not isinstance(self.frac, int) or not 0 <= self.frac <= self.width:
            raise ValueError(f"frac: must be in 0..width ({self.width}), got {self.frac!r}")

    @property
    def int_bits(self):
        return self.width - self.frac

    @property
    def min(self):
        """Smallest stored integer."""
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max(self):
        """Largest stored integer."""
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def name(self):
        """``int8``/``uint8`` for integers, ``q8.8``/``uq8.8`` for fractional formats."""
        if self.frac == 0:
            return f"{'' if self.signed else 'u'}int{self.width}"
        return f"{'' if self.signed else 'u'}q{self.int_bits}.{self.frac}"

    def times(self, other):
        """The format that holds every product of this format and ``other`` exactly."""
        return QFormat(self.width + other.width, self.frac + other.frac,
                       self.signed or other.signed)

    def describe(self):
        return {"name": self.name, "width": self.width, "frac": self.frac, "signed": self.signed}


#: RISC-V ``frm`` codes of the five IEEE rounding modes.
ROUND_MODES = {"RNE": 0, "RTZ": 1, "RDN": 2, "RUP": 3, "RMM": 4}

#: RISC-V ``fflags`` bits.
FLAG_NX, FLAG_UF, FLAG_OF, FLAG_DZ, FLAG_NV = 1, 2, 4, 8, 16


@dataclass(frozen=True)
class FloatFormat:
    """A binary floating-point format: sign, ``exp_bits`` exponent bits, ``frac_bits``
    fraction bits (the significand has one more, implicit, bit).

    ``ieee`` formats reserve the all-ones exponent for infinities and NaNs. The
    OCP FP8 E4M3 encoding (``ieee=False``) has no infinities: only
    S.1111.111 is NaN, so the all-ones exponent holds ordinary numbers.
    """

    name: str
    exp_bits: int
    frac_bits: int
    ieee: bool = True

    def __post_init__(self):
        if not isinstance(self.exp_bits, int) or not 2 <= self.exp_bits <= 11:
            raise ValueError(f"exp_bits: must be 2..11, got {self.exp_bits!r}")
        if not isinstance(self.frac_bits, int) or not 1 <= self.frac_bits <= 52:
            raise ValueError(f"frac_bits: must be 1..52, got {self.frac_bits!r}")

    @property
    def width(self):
        return 1 + self.exp_bits + self.frac_bits

    @property
    def bias(self):
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def has_inf(self):
        return self.ieee

    @property
    def exp_max_field(self):
        """The largest exponent field of a finite number."""
        return (1 << self.exp_bits) - (2 if self.ieee else 1)

    @property
    def emax(self):
        """Unbiased exponent of the largest finite number."""
        return self.exp_max_field - self.bias

    @property
    def emin(self):
        """Unbiased exponent of the smallest normal number."""
        return 1 - self.bias

    @property
    def max_frac(self):
        """Fraction field of the largest finite number."""
        return (1 << self.frac_bits) - (1 if self.ieee else 2)

    @property
    def max_finite_bits(self):
        return (self.exp_max_field << self.frac_bits) | self.max_frac

    @property
    def inf_bits(self):
        return ((1 << self.exp_bits) - 1) << self.frac_bits if self.ieee else None

    @property
    def nan_bits(self):
        """Canonical quiet NaN: sign 0, exponent all ones, top fraction bit set
        (for E4M3 the only NaN, S.1111.111)."""
        all_ones = (1 << self.exp_bits) - 1
        if not self.ieee:
            return (all_ones << self.frac_bits) | ((1 << self.frac_bits) - 1)
        return (all_ones << self.frac_bits) | (1 << (self.frac_bits - 1))

    def describe(self):
        return {"name": self.name, "width": self.width, "exp_bits": self.exp_bits,
                "frac_bits": self.frac_bits, "bias": self.bias, "ieee": self.ieee}


FLOAT_FORMATS = {f.name: f for f in (
    FloatFormat("fp32", 8, 23),
    FloatFormat("tf32", 8, 10),
    FloatFormat("fp16", 5, 10),
    FloatFormat("bf16", 8, 7),
    FloatFormat("e5m2", 5, 2),
    FloatFormat("e4m3", 4, 3, ieee=False),
)}


def float_format(name: str | FloatFormat) -> FloatFormat:
    """A named format (``fp16``, ``bf16``, ...) or a custom IEEE-style ``eXmY``
    (X exponent bits 2..11, Y fraction bits 1..52)."""
    if isinstance(name, FloatFormat):
        return name
    if name in FLOAT_FORMATS:
        return FLOAT_FORMATS[name]
    match = re.fullmatch(r"e(\d+)m(\d+)", str(name))
    if not match:
        raise ValueError(f"must be one of {', '.join(FLOAT_FORMATS)} or eXmY "
                         f"(X exponent bits 2..11, Y fraction bits 1..52), got {name!r}")
    try:
        return FloatFormat(name, int(match.group(1)), int(match.group(2)))
    except ValueError as error:
        raise ValueError(f"{error} (in {name!r})") from None



#: The two datapaths of ``tensorcore/SPEC_fp8_tf32.md`` §3: ``block`` (SPEC.md's block
#: FMA, TF32 and native FP8 included) and ``pair_split`` (mma.sync FP8 on Hopper and
#: Blackwell: two fp16 block FMAs on interleaved pairs of products, then c added apart).
TENSORCORE_PATHS = ("block", "pair_split")


@dataclass(frozen=True)
class TensorCoreMode:
    """One tensor-core datapath for one input/output format pair (SPEC.md §3,
    SPEC_fp8_tf32.md §2-4).

    ``path="block"``: blocks of ``block`` exact products, aligned with their
    addend to the largest exponent in a window of ``F = 23 + extra_bits``
    fraction bits (magnitudes truncated), summed exactly, normalized and rounded
    once in ``rm`` to ``result_bits`` fraction bits (None: the output format's;
    13 on the native FP8 paths, stored as fp32 with the low bits zero) with the
    output format's exponent range; each block's result is the next block's c.
    ``e_floor``: the floor of the alignment exponent, or None.

    ``path="pair_split"``: per ``block`` (32) products, the products with
    ``k mod 4`` in {0, 1} go through ``inner`` (the GPU's fp16 block FMA) with
    c = +0, the others through ``inner`` again with the first result as c,
    then c is added by one IEEE addition rounded to nearest even.
    """

    block: int
    extra_bits: int
    rm: int
    e_floor: int | None = None
    result_bits: int | None = None
    path: str = "block"
    inner: "TensorCoreMode | None" = None

    def __post_init__(self):
        # Bounds that keep every window value and sum within int64.
        if not isinstance(self.block, int) or isinstance(self.block, bool) \
                or not 1 <= self.block <= 1024:
            raise ValueError(f"block: must be an integer 1..1024, got {self.block!r}")
        if not isinstance(self.extra_bits, int) or not -12 <= self.extra_bits <= 24:
            raise ValueError(f"extra_bits: must be an integer -12..24, got {self.extra_bits!r}")
        if self.rm not in ROUND_MODES.values() or isinstance(self.rm, bool):
            raise ValueError(f"rm: must be a rounding-mode code 0..4, got {self.rm!r}")
        if self.e_floor is not None and (not isinstance(self.e_floor, int)
                                         or isinstance(self.e_floor, bool)):
            raise ValueError(f"e_floor: must be an integer or None, got {self.e_floor!r}")
        if self.result_bits is not None and (not isinstance(self.result_bits, int)
                                             or isinstance(self.result_bits, bool)
                                             or not 1 <= self.result_bits <= 23):
            raise ValueError(f"result_bits: must be an integer 1..23 (at most the output "
                             f"format's fraction bits) or None, got {self.result_bits!r}")
        if self.path not in TENSORCORE_PATHS:
            raise ValueError(f"path: must be one of {', '.join(TENSORCORE_PATHS)}, "
                             f"got {self.path!r}")
        if (self.path == "pair_split") != (self.inner is not None):
            raise ValueError("inner: the pair_split path needs its fp16 block FMA, and only it")
        if self.path == "pair_split" and self.block % 4:
            raise ValueError(f"block: a pair split takes groups of 4 products, got {self.block}")

    @property
    def frac_bits(self):
        """F: fraction bits of the alignment window."""
        return 23 + self.extra_bits


@dataclass(frozen=True)
class TensorCoreParams:
    """One GPU generation's tensor cores: a :class:`TensorCoreMode` per
    ``(in_fmt, out_fmt, instr)``. ``instr`` is None where the GPU has one
    datapath for the pair; Hopper's FP8 has two (``wgmma``, the native 13-bit
    path, and ``mma``, mma.sync's pair split), the first listed being the
    default. Tuples keep the parameters hashable.
    """

    name: str
    modes_: tuple

    def modes(self):
        """The supported ``(in_fmt, out_fmt)`` pairs, in table order."""
        return tuple(dict.fromkeys((i, o) for (i, o, _), _ in self.modes_))

    def instructions(self, in_fmt, out_fmt):
        """The ``instr`` choices of one pair: ``(None,)`` where there is no choice."""
        return tuple(instr for (i, o, instr), _ in self.modes_ if (i, o) == (in_fmt, out_fmt))

    def key(self, in_fmt, out_fmt, instr=None):
        """``(in_fmt, out_fmt, instr)`` of the mode asked for, ``instr`` resolved to
        the default where the GPU has a choice; ValueError if it lacks the mode."""
        choices = self.instructions(in_fmt, out_fmt)
        if not choices:
            supported = ", ".join(f"{i}->{o}" for i, o in self.modes())
            raise ValueError(f"in_fmt/out_fmt: {self.name} tensor cores support {supported}, "
                             f"got {in_fmt}->{out_fmt}")
        if choices == (None,):
            if instr is not None:
                raise ValueError(f"instr: {self.name} has one {in_fmt}->{out_fmt} datapath; "
                                 f"instr only chooses on h100/h200 FP8, got {instr!r}")
        elif instr is None:
            instr = choices[0]
        elif instr not in choices:
            raise ValueError(f"instr: {self.name} {in_fmt}->{out_fmt} runs on "
                             f"{' or '.join(choices)}, got {instr!r}")
        return in_fmt, out_fmt, instr

    def mode(self, in_fmt, out_fmt, instr=None):
        """The :class:`TensorCoreMode` of one pair; ValueError if the GPU lacks it."""
        return dict(self.modes_)[self.key(in_fmt, out_fmt, instr)]

    def with_mode(self, in_fmt, out_fmt, instr=None, **changes):
        """A copy with one mode's fields changed (the alternatives the data reject)."""
        key = self.key(in_fmt, out_fmt, instr)
        return TensorCoreParams(self.name, tuple(
            (k, replace(m, **changes) if k == key else m) for k, m in self.modes_))


_RZ, _RN = ROUND_MODES["RTZ"], ROUND_MODES["RNE"]
FP8 = ("e4m3", "e5m2")


def _tensor_core(name, block, extra_bits, floors, *, tf32=None, fp8_native=None, fp8_split=False):
    """One GPU of the spec tables. ``floors``: E_floor of fp16->fp32, fp16->fp16,
    bf16->fp32 ("n/a": no bf16). ``tf32``: (block, extra_bits, floor). ``fp8_native``:
    the native FP8 block (16 or 32). ``fp8_split``: mma.sync FP8 is the pair split."""
    fp16_fp32, fp16_fp16, bf16_fp32 = floors
    modes = [(("fp16", "fp32", None), TensorCoreMode(block, extra_bits, _RZ, fp16_fp32)),
             (("fp16", "fp16", None), TensorCoreMode(block, extra_bits, _RN, fp16_fp16))]
    if bf16_fp32 != "n/a":
        modes.append((("bf16", "fp32", None), TensorCoreMode(block, extra_bits, _RZ, bf16_fp32)))
    if tf32:
        modes.append((("tf32", "fp32", None), TensorCoreMode(tf32[0], tf32[1], _RZ, tf32[2])))
    # Hopper has both FP8 datapaths: wgmma (native) and mma.sync (pair split).
    both = fp8_native and fp8_split
    for fmt in FP8 if (fp8_native or fp8_split) else ():
        for out, rm, result_bits in (("fp32", _RZ, 13), ("fp16", _RN, None)):
            if fp8_native and not (both and out == "fp16"):    # wgmma -> fp16: not measured
                modes.append(((fmt, out, "wgmma" if both else None),
                              TensorCoreMode(fp8_native, -10, rm, None, result_bits)))
            if fp8_split:
                inner = dict(modes)[("fp16", out, None)]
                modes.append(((fmt, out, "mma" if both else None),
                              TensorCoreMode(32, inner.extra_bits, _RN, None, path="pair_split",
                                             inner=inner)))
    return TensorCoreParams(name, tuple(modes))


_AMPERE = dict(block=8, extra_bits=1, floors=(-132, -20, -132), tf32=(4, 1, -132))
_HOPPER = dict(block=16, extra_bits=2, floors=(-133, -21, -133), tf32=(8, 2, -133))

#: SPEC.md §4 and SPEC_fp8_tf32.md §4, one entry per GPU with measured data: block K,
#: n_e and E_floor of every mode, the native FP8 block and which GPUs split FP8 in pairs.
GPUS = {p.name: p for p in (
    _tensor_core("v100", 4, 0, (None, -19, "n/a")),
    _tensor_core("a100", **_AMPERE),
    _tensor_core("a2", **_AMPERE),
    _tensor_core("ada", **_AMPERE, fp8_native=16),
    _tensor_core("l40s", **_AMPERE, fp8_native=16),
    _tensor_core("h100", **_HOPPER, fp8_native=32, fp8_split=True),
    _tensor_core("h200", **_HOPPER, fp8_native=32, fp8_split=True),
    _tensor_core("b200", **_HOPPER, fp8_split=True),
)}
