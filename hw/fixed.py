"""Fixed-point multiplier: exact product (inferred ``*`` or our own Booth/Dadda
gates), then narrowing to a Qm.n output with rounding and overflow handling."""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from ..golden.formats import FIXED_ROUNDING, OVERFLOW_MODES, QFormat

from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add
from .params import Derived, Param
from .pipeline import Delay, adder, logic, multiplier_delay
from .unit import STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["FixedMultiplier", "narrow", "narrow_delay"]


def _shape(fmt):
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


def _product_range(a_fmt, b_fmt):
    corners = [x * y for x in (a_fmt.min, a_fmt.max) for y in (b_fmt.min, b_fmt.max)]
    return min(corners), max(corners)


def narrow_can_overflow(value_range, in_fmt, out_fmt):
    """Whether narrowing values in ``value_range`` to ``out_fmt`` can leave its range."""
    lo, hi = value_range
    shift = in_fmt.frac - out_fmt.frac
    if shift > 0:
        lo, hi = lo >> shift, -(-hi >> shift)   # any rounding stays within floor..ceiling
    else:
        lo, hi = lo << -shift, hi << -shift
    return lo < out_fmt.min or hi > out_fmt.max


def narrow(m, value, in_fmt, out_fmt, rounding, overflow, can_overflow=True):
    """Gates that round ``value`` (stored in ``in_fmt``) to ``out_fmt``.

    Returns ``(y, overflowed)``: ``y`` a signal of ``out_fmt``'s shape,
    ``overflowed`` a 1-bit signal (constant 0 when ``can_overflow`` is False).
    """
    shift = in_fmt.frac - out_fmt.frac
    if shift > 0:
        kept = value >> shift                      # floor (arithmetic shift when signed)
        half = value[shift - 1]
        sticky = value[:shift - 1].any() if shift > 1 else 0
        negative = value[-1] if in_fmt.signed else 0
        increment = {
            "trunc": 0,
            "zero": negative & (half | sticky),
            "half_up": half,
            "half_even": half & (sticky | kept[0]),
        }[rounding]
        rounded = Signal(signed(len(kept) + 1) if in_fmt.signed else unsigned(len(kept) + 1),
                         name="narrow_rounded")
        m.d.comb += rounded.eq(kept + increment)
    elif shift < 0:
        rounded = value << -shift
    else:
        rounded = value
    y = Signal(_shape(out_fmt), name="narrow_y")
    overflowed = Signal(name="narrow_overflow")
    if not can_overflow:
        m.d.comb += y.eq(rounded)
        return y, overflowed
    # Out of range iff the bits above the output's width disagree with its sign:
    # a bit test, far cheaper than two wide comparisons against constants.
    negative = rounded[-1] if rounded.shape().signed else 0
    if out_fmt.signed:
        high = rounded[out_fmt.width - 1:]
        outside = ~(high.all() | ~high.any()) if len(high) > 1 else 0
        above, below = outside & ~negative, outside & negative
    else:
        above, below = ~negative & rounded[out_fmt.width:].any(), negative
    m.d.comb += overflowed.eq(above | below)
    if overflow == "saturate":
        m.d.comb += y.eq(Mux(above, out_fmt.max, Mux(below, out_fmt.min, rounded)))
    else:
        m.d.comb += y.eq(rounded)                  # keeps the low out_fmt.width bits
    return y, overflowed


def narrow_delay(in_fmt, out_fmt, rounding, can_overflow):
    """Delay of :func:`narrow`: the rounding increment, then the range check and saturation."""
    delay = adder(in_fmt.width) if in_fmt.frac > out_fmt.frac and rounding != "trunc" else Delay()
    if can_overflow:
        delay = delay + logic(in_fmt.width - out_fmt.width + 1) + Delay(luts=1)
    return delay


def _fmt(p, port):
    return QFormat(p[f"{port}_width"], p[f"{port}_frac"], p[f"{port}_signed"])


class FixedMultiplier(Unit):
    """``y = narrow(a * b)``: Qm.n × Qm.n → Qm.n with rounding and saturation.

    The product is exact (``a_width + b_width`` bits); narrowing to the output
    format drops fraction bits with ``rounding`` and handles values outside the
    output range by ``overflow``. ``arch="infer"`` leaves the multiplication to
    the synthesis tool (and so to FPGA DSP blocks); ``arch="booth"`` builds
    radix-4 Booth recoding, a Dadda tree and a final adder as gates. An ``ovf``
    output exists when the output format can overflow.
    """

    PARAMS = (
        Param("a_width", 8, "multiplicand width in bits", lo=2, hi=64),
        Param("a_signed", True, "multiplicand is two's complement"),
        Param("a_frac", 0, "multiplicand fraction bits", lo=0, hi="a_width"),
        Param("b_width", 8, "multiplier width in bits", lo=2, hi=64),
        Param("b_signed", True, "multiplier is two's complement"),
        Param("b_frac", 0, "multiplier fraction bits", lo=0, hi="b_width"),
        Param("out_width", Derived(lambda p: p["a_width"] + p["b_width"], "a_width + b_width"),
              "product width in bits", lo=2, hi=128),
        Param("out_signed", Derived(lambda p: p["a_signed"] or p["b_signed"], "a_signed or b_signed"),
              "product is two's complement"),
        Param("out_frac", Derived(lambda p: min(p["a_frac"] + p["b_frac"], p["out_width"]),
                                  "a_frac + b_frac"),
              "product fraction bits", lo=0, hi="out_width"),
        Param("rounding", "half_even", "how dropped fraction bits round", choices=FIXED_ROUNDING),
        Param("overflow", "saturate", "what an out-of-range product becomes", choices=OVERFLOW_MODES),
        Param("arch", "infer", "multiplier architecture: inferred * or radix-4 Booth + Dadda gates",
              choices=("infer", "booth")),
        STAGES_PARAM,
        TARGET_MHZ_PARAM,
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.a_fmt, self.b_fmt, self.out_fmt = _fmt(p, "a"), _fmt(p, "b"), _fmt(p, "out")
        self.product_fmt = self.a_fmt.times(self.b_fmt)
        self.can_overflow = narrow_can_overflow(_product_range(self.a_fmt, self.b_fmt),
                                                self.product_fmt, self.out_fmt)
        members = {"a": In(_shape(self.a_fmt)), "b": In(_shape(self.b_fmt)),
                   "y": Out(_shape(self.out_fmt))}
        docs = {"a": (self.a_fmt.name, "multiplicand"),
                "b": (self.b_fmt.name, "multiplier"),
                "y": (self.out_fmt.name, f"product, rounded {p['rounding']}, {p['overflow']} on overflow")}
        if self.can_overflow:
            members["ovf"] = Out(1)
            docs["ovf"] = ("flag", "the rounded product was outside the output range "
                           f"({'saturated' if p['overflow'] == 'saturate' else 'wrapped'})")
        super().__init__(p, members, docs)

    def formats(self):
        return {"a": self.a_fmt.describe(), "b": self.b_fmt.describe(), "y": self.out_fmt.describe()}

    def elaborate(self, platform):
        p = self.params
        m = Module()
        pipe = self.pipeline(m)
        a, b = pipe.cut("in", self.a, self.b)
        width = self.product_fmt.width
        if p["arch"] == "infer":
            product = Signal(_shape(self.product_fmt), name="mul_product")
            m.d.comb += product.eq(a * b)
            product = pipe.cut("mul", product, delay=multiplier_delay(len(a), len(b)))
        else:
            # Recode the narrower operand: fewer Booth digits, fewer rows.
            (x, x_fmt), (y, y_fmt) = sorted([(a, self.a_fmt), (b, self.b_fmt)],
                                            key=lambda op: -op[1].width)
            columns = booth_partial_products(m, x, x_fmt.signed, y, y_fmt.signed, width)
            product, _ = reduce_and_add(m, pipe, columns, "mul", delay=BOOTH_DELAY)
            product = product.as_signed() if self.product_fmt.signed else product

        result, overflowed = product, None
        if self.out_fmt != self.product_fmt:
            result, overflowed = narrow(m, product, self.product_fmt, self.out_fmt,
                                        p["rounding"], p["overflow"], self.can_overflow)
            result, overflowed = pipe.cut("out", result, overflowed, delay=narrow_delay(
                self.product_fmt, self.out_fmt, p["rounding"], self.can_overflow))
        m.d.comb += self.y.eq(result)
        if self.can_overflow:
            m.d.comb += self.ovf.eq(overflowed)
        pipe.finish()
        return m
