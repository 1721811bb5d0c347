"""Number formats shared by the golden models and the hardware generators.

Data only: widths, signedness and names. The arithmetic on these formats is
written twice, independently: as NumPy in ``golden`` and as gates in ``hw``.
"""

import re
from dataclasses import dataclass

__all__ = ["QFormat", "FIXED_ROUNDING", "OVERFLOW_MODES", "FloatFormat", "FLOAT_FORMATS",
           "TensorCoreParams", "GPUS",
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



@dataclass(frozen=True)
class TensorCoreParams:
    """One GPU generation's tensor-core block FMA (``tensorcore/SPEC.md`` §1, §4):
    blocks of ``block`` exact products, aligned with their addend to the largest
    exponent in a window of ``F = 23 + extra_bits`` fraction bits (magnitudes
    truncated), summed exactly, normalized and rounded once.

    ``rounding``: ``(out_fmt, rm)`` pairs, the final rounding per output format.
    ``e_floor``: ``((in_fmt, out_fmt), floor)`` pairs, one per supported mode,
    the floor of the alignment exponent an int or None. Tuples keep the
    parameters hashable.
    """

    name: str
    block: int
    extra_bits: int
    rounding: tuple = (("fp32", ROUND_MODES["RTZ"]), ("fp16", ROUND_MODES["RNE"]))
    e_floor: tuple = ()

    def __post_init__(self):
        # Bounds that keep every window value and sum within int64.
        if not isinstance(self.block, int) or not 1 <= self.block <= 1024:
            raise ValueError(f"block: must be an integer 1..1024, got {self.block!r}")
        if not isinstance(self.extra_bits, int) or not -3 <= self.extra_bits <= 24:
            raise ValueError(f"extra_bits: must be an integer -3..24, got {self.extra_bits!r}")

    @property
    def frac_bits(self):
        """F: fraction bits of the alignment window."""
        return 23 + self.extra_bits

    def modes(self):
        """The supported ``(in_fmt, out_fmt)`` pairs."""
        return tuple(pair for pair, _ in self.e_floor)

    def mode(self, in_fmt, out_fmt):
        """``(rm, e_floor)`` of one mode; ValueError if the GPU lacks it."""
        floors = dict(self.e_floor)
        if (in_fmt, out_fmt) not in floors:
            supported = ", ".join(f"{i}->{o}" for i, o in floors)
            raise ValueError(f"in_fmt/out_fmt: {self.name} tensor cores support {supported}, "
                             f"got {in_fmt}->{out_fmt}")
        return dict(self.rounding)[out_fmt], floors[(in_fmt, out_fmt)]


def _tensor_core(name, block, extra_bits, fp16_fp32, fp16_fp16, bf16_fp32):
    floors = [(("fp16", "fp32"), fp16_fp32), (("fp16", "fp16"), fp16_fp16)]
    if bf16_fp32 != "n/a":
        floors.append((("bf16", "fp32"), bf16_fp32))
    return TensorCoreParams(name, block, extra_bits, e_floor=tuple(floors))


#: SPEC.md §4: block K, n_e and the E_floor of fp16->fp32, fp16->fp16, bf16->fp32.
#: Ada and B200 use the published model's parameters; the shared data do not test them.
GPUS = {p.name: p for p in (
    _tensor_core("v100", 4, 0, None, -19, "n/a"),
    _tensor_core("a100", 8, 1, -132, -20, -132),
    _tensor_core("ada", 8, 1, -132, -20, -132),
    _tensor_core("h100", 16, 2, -133, -21, -133),
    _tensor_core("b200", 16, 2, -133, -21, -133),
)}
