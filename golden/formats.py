"""Number formats shared by the golden models and the hardware generators.

Data only: widths, signedness and names. The arithmetic on these formats is
written twice, independently: as NumPy in ``golden`` and as gates in ``hw``.
"""

from dataclasses import dataclass

__all__ = ["QFormat", "FIXED_ROUNDING", "OVERFLOW_MODES"]

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
