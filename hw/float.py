"""Floating-point multiplier, structured as HardFloat structures its units:
decode (classify, normalize subnormals with a leading-zero count), raw
significand product (the fixed-point multiplier's ``infer`` or ``booth``
arch), then the shared :func:`~hw.float_round.round_float` back end."""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ..golden.formats import FLOAT_FORMATS, float_format

from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add
from .float_round import (COMPARES_DELAY, ENCODE_DELAY, GAPS_DELAY, LIMITS_DELAY, leading_zeros,
                          round_compares, round_exponent, round_float, round_gaps)
from .params import Derived, Param
from .pipeline import Delay, adder, logic, multiplier_delay
from .shift import normalize_left
from .unit import STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["FloatMultiplier", "decode", "decode_delay", "decode_operands", "normalize_decoded",
           "FORMAT_CHOICES", "ROUND_MODE_DOC",
           "FLAGS_DOC"]

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


def decode(m, bits, fmt, ftz, prefix, normalize=True, normalized=None):
    """Gates that classify ``bits`` of ``fmt`` and normalize subnormals (with
    ``normalize=False`` a subnormal keeps its leading zeros and ``emin``, as
    units that align every operand to a common exponent anyway want it).
    ``normalized``: ``(sig, zeros)``, the subnormal significand already
    normalized and its shift (:func:`normalize_fractions`), if done before
    (with pipeline cuts)."""
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
        if normalized is None:
            zeros = leading_zeros(m, frac, f"{prefix}_lz")
            normalized = (frac << (zeros + 1), zeros)
        shifted, zeros = normalized
        # emin - 1 - zeros as a table of constants: a LUT per bit, no carry chain.
        sub_exp = Array(Const(fmt.emin - 1 - z, exp.shape()) for z in range(1 << len(zeros)))
        m.d.comb += [is_zero.eq(subnormal & ~frac.any()),
                     exp.eq(Mux(subnormal, sub_exp[zeros], field - fmt.bias)),
                     sig.eq(Mux(subnormal, shifted, (1 << f) | frac))]
    return Decoded(sign, exp, sig, is_zero, is_inf, is_nan, is_snan)


def normalize_decoded(m, operands, pipe, carried=()):
    """Normalize the significands of operands decoded with ``normalize=False``,
    level by level with pipeline cuts (``unpacked``, then
    :func:`~hw.shift.normalize_left`'s ``norm_<k>_test`` and ``norm_<k>``; a normal significand passes
    unshifted), then fix a subnormal's exponent (``emin`` minus the shift, a
    table lookup) at cut point ``decoded``. ``operands``: ``(decoded, fmt)``
    pairs. Returns the new :class:`Decoded` values and ``carried``."""
    width = max(len(d.sig) for d, _ in operands)
    # Left-aligned in a common width: the zeros below do not change the count.
    sigs = [Cat(Const(0, width - len(d.sig)), d.sig) for d, _ in operands]
    others = [value for d, _ in operands for value in d.signals() if value is not d.sig]
    # The decoding (the implicit bit's OR), a cut point, then the zero tests.
    n, k = len(sigs), len(others)
    values = pipe.cut_many("unpacked", (*sigs, *others, *carried), delay=Delay(luts=1))
    sigs, others, carried = values[:n], values[n:n + k], values[n + k:]
    shifted, counts, rest = normalize_left(m, sigs, "norm", pipe=pipe, carried=(*others, *carried))
    fields = iter(rest)
    result = []
    for (d, fmt), value, count in zip(operands, shifted, counts):
        sign, exp, is_zero, is_inf, is_nan, is_snan = (next(fields) for _ in range(6))
        # A subnormal's exponent: emin minus the shift, as a table of constants.
        table = Array(Const(fmt.emin - c, exp.shape()) for c in range(1 << len(count)))
        fixed = Signal(exp.shape(), name=f"norm{len(result)}_exp")
        m.d.comb += fixed.eq(Mux(count.any(), table[count], exp))
        result.append(Decoded(sign, fixed, value[width - len(d.sig):], is_zero, is_inf, is_nan,
                              is_snan))
    carried = tuple(fields)
    flat = pipe.cut_many("decoded", (*(v for d in result for v in d.signals()), *carried),
                         delay=Delay(luts=2))
    return [Decoded(*flat[7 * i:7 * i + 7]) for i in range(len(result))], flat[7 * len(result):]


def decode_operands(m, pipe, operands, ftz, extra=()):
    """Decode ``(bits, fmt, name)`` operands through ``pipe``: subnormals
    normalized level by level (:func:`normalize_decoded`), or flushed with a
    cut point ``decoded``; ``extra`` rides along. Returns the
    :class:`Decoded` values and ``extra``."""
    decoded = [decode(m, x, fmt, ftz, name, normalize=False) for x, fmt, name in operands]
    if not ftz:
        return normalize_decoded(m, [(d, fmt) for d, (_, fmt, _) in zip(decoded, operands)], pipe,
                                 tuple(extra))
    flat = pipe.cut_many("decoded", (*(v for d in decoded for v in d.signals()), *extra),
                         delay=max((decode_delay(fmt, True) for _, fmt, _ in operands),
                                   key=pipe.ns))
    return [Decoded(*flat[7 * i:7 * i + 7]) for i in range(len(decoded))], flat[7 * len(decoded):]


def decode_delay(fmt, ftz, normalize=True):
    """Delay of :func:`decode` without the normalization of subnormals (see
    :func:`normalize_decoded`): a classification, the exponent and a mux."""
    return max(logic(fmt.exp_bits + 1), adder(fmt.exp_bits + 1), key=lambda d: (d.chains, d.luts)) \
        + Delay(luts=1)


def _format_param(name, default, doc):
    return Param(name, default, doc, parse=float_format, allowed_text=FORMAT_CHOICES)


class FloatMultiplier(Unit):
    """``y = round(a * b)``: any formats in and out, one rounding, IEEE flags.

    The product of the significands is exact; :func:`round_float` rounds it
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
        TARGET_MHZ_PARAM,
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
        pipe = self.pipeline(m)
        a, b, rm = pipe.cut("in", self.a, self.b, self.rm)
        (da, db), (rm,) = decode_operands(m, pipe, ((a, self.a_fmt, "a"), (b, self.b_fmt, "b")),
                                          p["ftz"], (rm,))

        # The exponent and the special cases, beside the significand product.
        width = len(da.sig) + len(db.sig)
        sign = Signal(name="mul_sign")
        exp = Signal(signed(max(len(da.exp), len(db.exp)) + 2), name="mul_exp")
        invalid, is_nan, is_inf = (Signal(name=f"mul_{n}") for n in ("invalid", "is_nan", "is_inf"))
        m.d.comb += [
            sign.eq(da.sign ^ db.sign),
            exp.eq(da.exp + db.exp),              # of the product's top bit: plus one
            invalid.eq(da.is_snan | db.is_snan | (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)),
            is_nan.eq(da.is_nan | db.is_nan | invalid),
            is_inf.eq(da.is_inf | db.is_inf),
        ]
        # Everything the rounder needs from the exponent, beside the product:
        # with Booth gates, in two steps beside the first two tree levels.
        if p["arch"] == "booth":
            carried = (sign, exp, invalid, is_nan, is_inf, rm)

            def gaps(values):
                sign, exp, *rest = values
                (gap0, gap1), biased = round_gaps(m, exp, self.out_fmt, offset=1)
                return (sign, exp, gap0, gap1, biased, *rest)

            def compares(values):
                sign, exp, gap0, gap1, biased, *rest = values
                return (sign, exp, gap0, gap1, biased,
                        *round_compares(m, (gap0, gap1), self.out_fmt), *rest)

            def limits(values):
                sign, exp, gap0, gap1, biased, compare0, compare1, *rest = values
                return (sign, exp, round_exponent(m, exp, self.out_fmt, gaps=((gap0, gap1), biased),
                                                  compares=(compare0, compare1)), *rest)
            columns = booth_partial_products(m, da.sig, False, db.sig, False, width)
            product, carried = reduce_and_add(m, pipe, columns, "mul", carried,
                                              delay=max(BOOTH_DELAY, adder(8), key=pipe.ns),
                                              steps=[(gaps, GAPS_DELAY),
                                                     (compares, COMPARES_DELAY),
                                                     (limits, LIMITS_DELAY)])
        else:
            prepared = round_exponent(m, exp, self.out_fmt, offset=1)
            carried = (sign, exp, prepared, invalid, is_nan, is_inf, rm)
            product = Signal(width, name="mul_product")
            m.d.comb += product.eq(da.sig * db.sig)
            product, *carried = pipe.cut("mul", product, *carried,
                                         delay=multiplier_delay(len(da.sig), len(db.sig)))
        sign, exp, prepared, invalid, is_nan, is_inf, rm = carried

        # The product of two significands in [1, 2) lies in [1, 4): the rounder
        # takes it with its leading one in either top bit (half_normalized).
        raw = {"sign": sign, "exp": exp, "prepared": prepared, "sig": product, "sticky": Const(0, 1),
               "is_nan": is_nan, "is_inf": is_inf, "invalid": invalid, "rm": rm}
        bits, flags, _ = round_float(m, raw, self.out_fmt, ftz=p["ftz"], saturate=p["saturate"],
                                     half_normalized=True, pipe=pipe)
        y, flags = pipe.cut("out", bits, flags, delay=ENCODE_DELAY)
        m.d.comb += [self.y.eq(y), self.flags.eq(flags)]
        pipe.finish()
        return m
