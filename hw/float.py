"""Floating-point multiplier, structured as HardFloat structures its units:
decode (classify, normalize subnormals with a leading-zero count), raw
significand product (the fixed-point multiplier's ``infer`` or ``booth``
arch), then the shared :class:`~hw.float_round.FloatRound` back end."""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.formats import FLOAT_FORMATS, float_format

from .booth import booth_rows
from .float_round import FloatRound, leading_zeros
from .params import Derived, Param
from .pipeline import Pipeline
from .unit import STAGES_PARAM, Unit

__all__ = ["FloatMultiplier", "decode", "FORMAT_CHOICES", "ROUND_MODE_DOC", "FLAGS_DOC"]

FORMAT_CHOICES = f"{', '.join(FLOAT_FORMATS)} or eXmY (X exponent bits 2..11, Y fraction bits 1..52)"
ROUND_MODE_DOC = "0 RNE,1 RTZ,2 RDN,3 RUP,4 RMM (5..7 act as RTZ)"
FLAGS_DOC = "NV,DZ,OF,UF,NX (bit 4..0)"


class Decoded:
    """Signals of one decoded operand: value = (-1)**sign * sig * 2**(exp - frac_bits),
    ``sig`` of ``frac_bits + 1`` bits, normalized with its leading one on top
    unless decoded with ``normalize=False`` (0 for zeros)."""

    def __init__(self, sign, exp, sig, is_zero, is_inf, is_nan, is_snan):
        self.sign, self.exp, self.sig = sign, exp, sig
        self.is_zero, self.is_inf, self.is_nan, self.is_snan = is_zero, is_inf, is_nan, is_snan

    def signals(self):
        return (self.sign, self.exp, self.sig, self.is_zero, self.is_inf, self.is_nan, self.is_snan)


def exp_width(fmt):
    """Signed width holding every normalized exponent of ``fmt``, subnormals included."""
    return max(abs(fmt.emin - fmt.frac_bits), fmt.emax + 1).bit_length() + 1


def decode(m, bits, fmt, ftz, prefix, normalize=True):
    """Gates that classify ``bits`` of ``fmt`` and normalize subnormals (with
    ``normalize=False`` a subnormal keeps its leading zeros and ``emin``, as
    units that align every operand to a common exponent anyway want it)."""
    e, f = fmt.exp_bits, fmt.frac_bits
    field, frac = bits[f:f + e], bits[:f]
    sign = Signal(name=f"{prefix}_sign")
    exp = Signal(signed(exp_width(fmt)), name=f"{prefix}_exp")
    sig = Signal(f + 1, name=f"{prefix}_sig")
    is_zero, is_inf, is_nan, is_snan = (Signal(name=f"{prefix}_{n}")
                                        for n in ("is_zero", "is_inf", "is_nan", "is_snan"))
    all_ones = field.all()
    subnormal = ~field.any()
    m.d.comb += sign.eq(bits[-1])
    if fmt.ieee:
        m.d.comb += [is_nan.eq(all_ones & frac.any()), is_inf.eq(all_ones & ~frac.any()),
                     is_snan.eq(all_ones & frac.any() & ~frac[-1])]
    else:
        m.d.comb += is_nan.eq(all_ones & frac.all())
    if ftz:
        m.d.comb += [is_zero.eq(subnormal),
                     exp.eq(field - fmt.bias),
                     sig.eq(Mux(subnormal, 0, (1 << f) | frac))]
    elif not normalize:
        m.d.comb += [is_zero.eq(subnormal & ~frac.any()),
                     exp.eq(Mux(subnormal, fmt.emin, field - fmt.bias)),
                     sig.eq(Mux(subnormal, frac, (1 << f) | frac))]
    else:
        zeros = leading_zeros(m, frac, f"{prefix}_lz")
        m.d.comb += [is_zero.eq(subnormal & ~frac.any()),
                     exp.eq(Mux(subnormal, fmt.emin - 1 - zeros, field - fmt.bias)),
                     sig.eq(Mux(subnormal, frac << (zeros + 1), (1 << f) | frac))]
    return Decoded(sign, exp, sig, is_zero, is_inf, is_nan, is_snan)


def _format_param(name, default, doc):
    return Param(name, default, doc, parse=float_format, allowed_text=FORMAT_CHOICES)


class FloatMultiplier(Unit):
    """``y = round(a * b)``: any formats in and out, one rounding, IEEE flags.

    The product of the significands is exact; :class:`FloatRound` rounds it
    once to ``out_fmt`` in the run-time mode ``rm``, with subnormals (or
    flush-to-zero), tininess after rounding, canonical NaNs, and OCP E4M3's
    no-infinity encoding.
    """

    PARAMS = (
        _format_param("a_fmt", "fp16", "multiplicand format"),
        _format_param("b_fmt", Derived(lambda p: p["a_fmt"], "a_fmt"), "multiplier format"),
        _format_param("out_fmt", Derived(lambda p: p["a_fmt"], "a_fmt"), "product format"),
        Param("ftz", False, "flush subnormal inputs and results to zero"),
        Param("saturate", False, "overflow gives the largest finite number, not inf/NaN"),
        Param("arch", "infer", "significand multiplier: inferred * or radix-4 Booth + Dadda gates",
              choices=("infer", "booth")),
        STAGES_PARAM,
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.a_fmt, self.b_fmt, self.out_fmt = (float_format(p[k]) for k in ("a_fmt", "b_fmt", "out_fmt"))
        members = {"a": In(self.a_fmt.width), "b": In(self.b_fmt.width), "rm": In(3),
                   "y": Out(self.out_fmt.width), "flags": Out(5)}
        docs = {"a": (self.a_fmt.name, "multiplicand"), "b": (self.b_fmt.name, "multiplier"),
                "rm": ("round_mode", ROUND_MODE_DOC),
                "y": (self.out_fmt.name, "product"), "flags": ("fflags", FLAGS_DOC)}
        super().__init__(p, members, docs)

    def formats(self):
        return {"a": self.a_fmt.describe(), "b": self.b_fmt.describe(),
                "y": self.out_fmt.describe()}

    def elaborate(self, platform):
        p = self.params
        m = Module()
        booth = p["arch"] == "booth"
        pipe = Pipeline(m, p["stages"], ("out", "product") + (("rows",) if booth else ())
                        + ("decoded", "in"), self.in_valid if self.latency else None)

        a, b, rm = pipe.cut("in", self.a, self.b, self.rm)
        da = decode(m, a, self.a_fmt, p["ftz"], "a")
        db = decode(m, b, self.b_fmt, p["ftz"], "b")
        *decoded, rm = pipe.cut("decoded", *da.signals(), *db.signals(), rm)
        da, db = Decoded(*decoded[:7]), Decoded(*decoded[7:])

        width = len(da.sig) + len(db.sig)
        sign = Signal(name="mul_sign")
        exp = Signal(signed(max(len(da.exp), len(db.exp)) + 1), name="mul_exp")
        invalid, is_nan, is_inf = (Signal(name=f"mul_{n}") for n in ("invalid", "is_nan", "is_inf"))
        m.d.comb += [
            sign.eq(da.sign ^ db.sign),
            exp.eq(da.exp + db.exp),
            invalid.eq(da.is_snan | db.is_snan | (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)),
            is_nan.eq(da.is_nan | db.is_nan | invalid),
            is_inf.eq(da.is_inf | db.is_inf),
        ]
        product = Signal(width, name="mul_product")
        if booth:
            rows = booth_rows(m, da.sig, False, db.sig, False, width)
            row0, row1 = (Signal(width, name=f"mul_row{i}") for i in range(2))
            m.d.comb += [row0.eq(rows[0]), row1.eq(rows[1])]
            row0, row1, sign, exp, invalid, is_nan, is_inf, rm = pipe.cut(
                "rows", row0, row1, sign, exp, invalid, is_nan, is_inf, rm)
            m.d.comb += product.eq(row0 + row1)
        else:
            m.d.comb += product.eq(da.sig * db.sig)
        product, sign, exp, invalid, is_nan, is_inf, rm = pipe.cut(
            "product", product, sign, exp, invalid, is_nan, is_inf, rm)

        # The product of two significands in [1, 2) lies in [1, 4): one normalizing step.
        raw_exp = Signal(signed(len(exp) + 1), name="mul_raw_exp")
        raw_sig = Signal(width, name="mul_raw_sig")
        m.d.comb += [raw_exp.eq(exp + product[-1]),
                     raw_sig.eq(Mux(product[-1], product, product << 1))]

        m.submodules.round = rounder = FloatRound(
            self.out_fmt, exp_width=len(raw_exp), sig_width=width,
            ftz=p["ftz"], saturate=p["saturate"])
        m.d.comb += [rounder.sign.eq(sign), rounder.exp.eq(raw_exp), rounder.sig.eq(raw_sig),
                     rounder.sticky.eq(0), rounder.is_nan.eq(is_nan), rounder.is_inf.eq(is_inf),
                     rounder.invalid.eq(invalid), rounder.rm.eq(rm)]
        y, flags = pipe.cut("out", rounder.bits, rounder.flags)
        m.d.comb += [self.y.eq(y), self.flags.eq(flags)]
        if self.latency:
            m.d.comb += self.out_valid.eq(pipe.valid)
        return m
