"""Exact (Kulisch) accumulator: products of two floats added without rounding
into a wide two's-complement fixed-point register, read out with one rounding.

Per lane: :func:`~hw.float.decode` both operands, multiply the significands
(inferred ``*``), shift the product into place by its exponent (a barrel
shift across the register) and negate it by its sign; the lanes and the
register meet in one adder tree. The read-out turns the register into sign
and magnitude, normalizes it with :func:`~hw.float_round.leading_zeros` and a
shift, and hands the top bits (plus a sticky bit) to the shared
:class:`~hw.float_round.FloatRound`.

Register layout (``W = msb - lsb + carry_bits + 1`` bits, value ``R * 2**lsb``):
bit 0 weighs ``2**lsb``; bits up to ``msb - lsb - 1`` hold any product below
``2**msb``; ``carry_bits`` more absorb ``2**carry_bits`` of the largest
products; the top bit is the sign. The defaults make every product exact
(fp16: lsb -48, msb 32, 97 bits with 16 carry bits). Semantics, overflow and
NaN/inf tracking as in :mod:`golden.kulisch`.

Register ranks: the accumulator is the last rank of the accumulation;
``stages - 1`` more go, in this order, to the read-out (between the
normalizing shift and the rounder), after the significand products, after
the alignment shift, and on the inputs; ranks beyond four stack on the
read-out, for retiming. Latency is ``stages`` either way.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ..golden.formats import float_format

from .float import FLAGS_DOC, FORMAT_CHOICES, ROUND_MODE_DOC, decode, decode_delay
from .float_round import ROUND_DELAY, FloatRound, leading_zeros, lzc_delay
from .mac import adder_tree
from .params import Derived, Param
from .pipeline import Delay, adder, multiplier_delay, shifter
from .unit import ACCUMULATOR_STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["KulischAccumulator", "MAX_REGISTER_BITS"]

#: Widest register the generator builds (bf16 or fp32 products need ~540-570 bits).
MAX_REGISTER_BITS = 600


def _exact_lsb(p):
    fmt = float_format(p["in_fmt"])
    return 2 * (fmt.emin - fmt.frac_bits)


def _exact_msb(p):
    return 2 * (float_format(p["in_fmt"]).emax + 1)


def _widest_msb(p):
    return min(_exact_msb(p), p["lsb"] + MAX_REGISTER_BITS - 1 - p["carry_bits"])


class KulischAccumulator(Unit):
    """``acc <- (clear ? 0 : acc) + Σ a_i·b_i`` exactly; ``y`` = ``acc`` rounded once.

    Lane ``i`` of ``a`` and ``b`` sits in bits ``[i*w, (i+1)*w)`` of the packed
    ports (``w`` the width of ``in_fmt``). ``ovf`` is sticky since the last
    clear: a product at or above ``2**msb`` or a sum outside the register
    (which then wraps). Products truncated at ``2**lsb`` make the read-out
    flag NX.
    """

    PARAMS = (
        Param("in_fmt", "fp16", "format of the factors", parse=float_format,
              allowed_text=FORMAT_CHOICES),
        Param("out_fmt", "fp32", "format of the read-out", parse=float_format,
              allowed_text=FORMAT_CHOICES),
        Param("lanes", 1, "products added per operation", lo=1, hi=16),
        Param("carry_bits", 16, "register bits above msb: 2**carry_bits products of the "
              "largest magnitude cannot overflow", lo=1, hi=64),
        Param("lsb", Derived(_exact_lsb, "2*(emin - frac_bits) of in_fmt: every product exact"),
              "exponent of the register's last bit; products are truncated below it",
              lo=Derived(_exact_lsb, "2*(emin - frac_bits) of in_fmt"),
              hi=Derived(lambda p: _exact_msb(p) - 1, "2*(emax + 1) - 1 of in_fmt")),
        Param("msb", Derived(_exact_msb, "2*(emax + 1) of in_fmt: every product fits"),
              "products must be below 2**msb (else ovf); register bits = msb - lsb + "
              f"carry_bits + 1 <= {MAX_REGISTER_BITS}",
              lo=Derived(lambda p: p["lsb"] + 1, "lsb + 1"),
              hi=Derived(_widest_msb, f"min(2*(emax + 1) of in_fmt, "
                         f"lsb + {MAX_REGISTER_BITS - 1} - carry_bits)")),
        Param("ftz", False, "flush subnormal inputs and read-outs to zero"),
        ACCUMULATOR_STAGES_PARAM,
        TARGET_MHZ_PARAM,
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.in_fmt, self.out_fmt = float_format(p["in_fmt"]), float_format(p["out_fmt"])
        self.register_width = p["msb"] - p["lsb"] + p["carry_bits"] + 1
        n, w = p["lanes"], self.in_fmt.width
        lanes_doc = f"{n} lanes of {self.in_fmt.name}, lane i in bits [{w}*i, {w}*i+{w})"
        kind = self.in_fmt.name if n == 1 else f"{n}x{self.in_fmt.name}"
        members = {"a": In(n * w), "b": In(n * w), "clear": In(1), "rm": In(3),
                   "y": Out(self.out_fmt.width), "flags": Out(5), "ovf": Out(1)}
        docs = {"a": (kind, f"multiplicands: {lanes_doc}"),
                "b": (kind, f"multipliers: {lanes_doc}"),
                "clear": ("control", "start a new sum with this operation's products"),
                "rm": ("round_mode", f"read-out rounding of this operation's sum: {ROUND_MODE_DOC}"),
                "y": (self.out_fmt.name, f"the exact sum rounded once ({self.register_width}-bit "
                      f"register, last bit 2**{p['lsb']}); +0 for a zero sum"),
                "flags": ("fflags", f"{FLAGS_DOC} of the read-out; NX also when a product was "
                          "truncated since the last clear"),
                "ovf": ("flag", f"since the last clear a product reached 2**{p['msb']} or the sum "
                        "left the register (which wraps)")}
        super().__init__(p, members, docs)

    def formats(self):
        fmt = self.in_fmt.describe() | {"lanes": self.params["lanes"]}
        return {"a": fmt, "b": fmt, "y": self.out_fmt.describe()}

    def _lane(self, m, a, b, index):
        """Decoded product of one lane: sign, exponent, significand product, classes."""
        p, fmt = self.params, self.in_fmt
        da = decode(m, a, fmt, p["ftz"], f"a{index}")
        db = decode(m, b, fmt, p["ftz"], f"b{index}")
        sign, exp = Signal(name=f"mul{index}_sign"), Signal(signed(len(da.exp) + 1),
                                                            name=f"mul{index}_exp")
        product = Signal(2 * len(da.sig), name=f"mul{index}_product")
        invalid, nan, inf = (Signal(name=f"mul{index}_{n}") for n in ("invalid", "nan", "inf"))
        m.d.comb += [
            sign.eq(da.sign ^ db.sign),
            exp.eq(da.exp + db.exp),
            product.eq(da.sig * db.sig),
            invalid.eq(da.is_snan | db.is_snan | (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)),
            nan.eq(da.is_nan | db.is_nan | invalid),
            inf.eq((da.is_inf | db.is_inf) & ~nan),
        ]
        return sign, exp, product, invalid, nan, inf

    def _align(self, m, sign, exp, product, nan, inf, index):
        """The product as a signed register-aligned integer (wrapped to the register),
        whether bits fell below ``2**lsb``, and whether it reaches ``2**msb``."""
        p, width = self.params, self.register_width
        size, frac = len(product), self.in_fmt.frac_bits
        finite = Signal(name=f"align{index}_finite")
        m.d.comb += finite.eq(~nan & ~inf & product.any())
        # product * 2**(exp - 2*frac) = (product << shift) >> size, shift = exp - 2*frac - lsb + size
        shift = Signal(signed(max(len(exp), (size + width).bit_length()) + 2),
                       name=f"align{index}_shift")
        amount = Signal(range(size + width + 1), name=f"align{index}_amount")
        wide = Signal(size + width, name=f"align{index}_wide")
        m.d.comb += [
            shift.eq(exp - 2 * frac - p["lsb"] + size),
            amount.eq(Mux(shift < 0, 0, Mux(shift > size + width, size + width, shift))),
            wide.eq(product << amount),
        ]
        magnitude = Signal(width, name=f"align{index}_magnitude")
        value = Signal(signed(width + 1), name=f"align{index}_value")
        inexact, too_big = Signal(name=f"align{index}_inexact"), Signal(name=f"align{index}_too_big")
        m.d.comb += [
            magnitude.eq(Mux(finite & (shift >= 0), wide[size:], 0)),
            value.eq(Mux(sign, -magnitude, magnitude)),
            inexact.eq(finite & Mux(shift < 0, 1, wide[:size].any())),
            too_big.eq(finite & (exp + product[-1] >= p["msb"])),
        ]
        return value, inexact, too_big

    def elaborate(self, platform):
        p = self.params
        m = Module()
        n, w, width = p["lanes"], self.in_fmt.width, self.register_width
        pipe = self.pipeline(m, own_registers=1)

        a, b, clear, rm = pipe.cut("in", self.a, self.b, self.clear, self.rm)
        lanes = [self._lane(m, a.word_select(i, w), b.word_select(i, w), i) for i in range(n)]
        *flat, clear, rm = pipe.cut("products", *(s for lane in lanes for s in lane), clear, rm,
                                    delay=decode_delay(self.in_fmt, False, normalize=False)
                                    + multiplier_delay(self.in_fmt.frac_bits + 1,
                                                       self.in_fmt.frac_bits + 1))
        lanes = [flat[6 * i:6 * i + 6] for i in range(n)]

        values, any_inexact, any_too_big = [], [], []
        any_invalid, any_nan, any_pos_inf, any_neg_inf = [], [], [], []
        for i, (sign, exp, product, invalid, nan, inf) in enumerate(lanes):
            value, inexact, too_big = self._align(m, sign, exp, product, nan, inf, i)
            values.append(value)
            any_inexact.append(inexact)
            any_too_big.append(too_big)
            any_invalid.append(invalid)
            any_nan.append(nan)
            any_pos_inf.append(inf & ~sign)
            any_neg_inf.append(inf & sign)
        step = [Signal(name=f"step_{n}") for n in
                ("inexact", "too_big", "invalid", "nan", "pos_inf", "neg_inf")]
        for signal, terms in zip(step, (any_inexact, any_too_big, any_invalid, any_nan,
                                        any_pos_inf, any_neg_inf)):
            m.d.comb += signal.eq(Cat(*terms).any())
        products = adder_tree(m, values, "tree")
        products, *step, clear, rm = pipe.cut(
            "aligned", products, *step, clear, rm,
            delay=shifter(6) + adder(len(products)) * max(1, (n - 1).bit_length()))
        inexact, too_big, invalid, nan, pos_inf, neg_inf = step

        # The accumulator rank: the register and what is sticky since the last clear.
        acc = Signal(signed(width), name="acc_value")
        sticky = [Signal(name=f"acc_{n}") for n in
                  ("inexact", "ovf", "invalid", "nan", "pos_inf", "neg_inf")]
        acc_rm = Signal(3, name="acc_rm")
        total = Signal(signed(len(products) + 1), name="acc_total")
        outside = Signal(name="acc_outside")
        m.d.comb += [
            total.eq(products + Mux(clear, 0, acc)),
            # outside the register: the bits above its sign bit differ from it
            outside.eq(total[width - 1:].any() & ~total[width - 1:].all()),
        ]
        events = (inexact, too_big | outside, invalid, nan, pos_inf, neg_inf)
        with m.If(pipe.register("acc", delay=adder(width) + Delay(luts=2))):
            m.d.sync += [acc.eq(total[:width]), acc_rm.eq(rm)]
            m.d.sync += [s.eq(event | (s & ~clear)) for s, event in zip(sticky, events)]
        inexact, ovf, invalid, nan, pos_inf, neg_inf = sticky

        # Read-out: sign and magnitude, normalized, top bits and a sticky bit.
        precision = self.out_fmt.frac_bits + 1
        sig_width = min(width, precision + 2)
        magnitude = Signal(width, name="out_magnitude")
        m.d.comb += magnitude.eq(Mux(acc[-1], -acc, acc))
        zeros = leading_zeros(m, magnitude, "out_lz")
        normalized = Signal(width, name="out_normalized")
        exp_width = max(abs(p["lsb"]), abs(p["lsb"] + width)).bit_length() + 2
        exp = Signal(signed(exp_width), name="out_exp")
        sig, low = Signal(sig_width, name="out_sig"), Signal(name="out_low")
        is_nan, is_inf, nv = (Signal(name=f"out_{n}") for n in ("is_nan", "is_inf", "invalid"))
        sign = Signal(name="out_sign")
        m.d.comb += [
            normalized.eq(magnitude << zeros),
            exp.eq(p["lsb"] + width - 1 - zeros),
            sig.eq(normalized[width - sig_width:]),
            low.eq(normalized[:width - sig_width].any() if width > sig_width else 0),
            is_nan.eq(nan | (pos_inf & neg_inf)),
            is_inf.eq(pos_inf | neg_inf),
            nv.eq(invalid | (pos_inf & neg_inf)),
            sign.eq(Mux(is_inf, neg_inf, acc[-1])),
        ]
        sign, exp, sig, low, is_nan, is_inf, nv, inexact, ovf, rm = pipe.cut(
            "readout", sign, exp, sig, low, is_nan, is_inf, nv, inexact, ovf, acc_rm,
            delay=adder(width) + lzc_delay(width) + shifter(width.bit_length()))

        m.submodules.round = rounder = FloatRound(self.out_fmt, exp_width=exp_width,
                                                  sig_width=sig_width, ftz=p["ftz"])
        m.d.comb += [rounder.sign.eq(sign), rounder.exp.eq(exp), rounder.sig.eq(sig),
                     rounder.sticky.eq(low), rounder.is_nan.eq(is_nan),
                     rounder.is_inf.eq(is_inf), rounder.invalid.eq(nv), rounder.rm.eq(rm),
                     self.y.eq(rounder.bits),
                     self.flags.eq(rounder.flags | (inexact & ~is_nan & ~is_inf)),
                     self.ovf.eq(ovf)]
        pipe.finish(delay=ROUND_DELAY)
        return m
