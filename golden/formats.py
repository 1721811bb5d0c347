"""Number formats shared by the golden models and the hardware generators.

Data only: widths, signedness and names. The arithmetic on these formats is
written twice, independently: as NumPy in ``golden`` and as gates in ``hw``.
"""

import re
from dataclasses import dataclass

__all__ = ["QFormat", "FIXED_ROUNDING", "OVERFLOW_MODES", "FloatFormat", "FLOAT_FORMATS",
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


def float_format(name):
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
