"""Requantizer: an int32 accumulator of a quantized GEMM back to int8/uint8,
bit-exact with TFLite's ``MultiplyByQuantizedMultiplier``.

Stages, in datapath order:

1. zero-point correction, in int32 wraparound arithmetic as TFLite does it:
   ``x = acc - w_zp * a_sum + offset``, where ``acc = Σ q_x·q_w``, ``a_sum =
   Σ q_x`` of the row and ``offset = bias + K·Z_x·Z_w - Z_x·Σ q_w`` of the
   output channel (folded offline), so that ``x = Σ (q_x - Z_x)(q_w - Z_w) + bias``;
2. scaling by ``M · 2**(shift - 31)``, ``M`` a Q0.31 multiplier:
   ``double`` rounding (TFLite's default) is gemmlowp's
   SaturatingRoundingDoublingHighMul of ``x << max(shift, 0)`` followed by
   RoundingDivideByPOT by ``max(-shift, 0)``; ``single`` rounding
   (``TFLITE_SINGLE_ROUNDING``) rounds ``x·M / 2**(31 - shift)`` once, half up,
   and saturates to int32;
3. ``+ out_zp``, then clamp to the output range, raised to ``out_zp`` for a
   fused ReLU and lowered to ``relu6_q`` (the quantized 6.0) for ReLU6.

``shift`` is a 6-bit input: the codes -32 and 31, outside TFLite's -31..30,
act as -31 and 30.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from ..golden.formats import QFormat

from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add
from .params import Param
from .pipeline import Delay, adder, compare, logic, multiplier_delay, mux, shifter
from .shift import shift_digit, shift_level, shift_level_delay
from .unit import STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["Requantizer", "SHIFT_MIN", "SHIFT_MAX"]

SHIFT_MIN, SHIFT_MAX = -31, 30
INT32_MIN = -(1 << 31)


def _shift_left_levels(m, pipe, value, amount, carried, name):
    """``value << amount`` in int32 wraparound, a 4:1 mux per two bits of
    ``amount`` with a cut point ``<name>_<k>`` after each; returns
    ``(shifted, carried)``."""
    for k in range(0, len(amount), 2):
        shifted = shift_digit(m, value, amount, k, f"{name}_{k // 2}_value", left=True)
        value, amount, *carried = pipe.cut_many(f"{name}_{k // 2}", (shifted, amount, *carried),
                                                delay=mux(4))
    return value, carried


def _divide_by_pot(m, pipe, value, amount, carried, name, before=Delay()):
    """RoundingDivideByPOT, ``value / 2**amount`` rounded half away from
    zero: ``2·value`` shifted right level by level (cut points
    ``<name>_shift_<k>``) with a sticky bit of what falls out, then the
    rounding increment (cut point ``<name>``, one adder); ``before``: the
    logic ahead of the first level. Returns ``(quotient, carried)``."""
    halves = Signal(signed(len(value) + 1), name=f"{name}_doubled")
    m.d.comb += halves.eq(value << 1)
    lost = Const(0, 1)
    for k in range(len(amount)):
        halves, lost = shift_level(m, halves, lost, amount, k, f"{name}_shift")
        halves, lost, amount, *carried = pipe.cut_many(
            f"{name}_shift_{k}", (halves, lost, amount, *carried),
            delay=before + shift_level_delay(1 << k, len(halves)))
        before = Delay()
    # Below one half exactly, a negative value's tie rounds toward zero.
    round_up = halves[0] & (~halves[-1] | lost)
    quotient = Signal(signed(len(value)), name=name)
    m.d.comb += quotient.eq((halves >> 1) + round_up)
    quotient, *carried = pipe.cut_many(name, (quotient, *carried),
                                       delay=Delay(luts=1) + adder(len(value)))
    return quotient, carried


def _shift_terms(shift, rounding):
    """From the 6-bit ``shift`` input, clamped to SHIFT_MIN..SHIFT_MAX: the
    left and right shifts of ``double`` rounding, or the single rounding's
    ``30 - shift``, in a dict (the delay: :data:`SHIFT_TERMS_DELAY`)."""
    clamped = Mux(shift > SHIFT_MAX, SHIFT_MAX, Mux(shift < SHIFT_MIN, SHIFT_MIN, shift))
    if rounding == "double":
        return {"left": Mux(clamped[-1], 0, clamped)[:5],
                "right": Mux(clamped[-1], -clamped, 0)[:5]}
    return {"amount": (30 - clamped)[:6]}


SHIFT_TERMS_DELAY = logic(6) + adder(6)


class Requantizer(Unit):
    """``q = clamp(out_zp + MultiplyByQuantizedMultiplier(acc - w_zp·a_sum + offset, M, shift))``.

    Per-tensor or per-channel scaling both come in as ``multiplier``/``shift``
    inputs per vector, unless ``fixed_multiplier`` bakes one scale into the gates.
    """

    PARAMS = (
        Param("out_bits", 8, "output width", lo=2, hi=16),
        Param("out_signed", True, "output is int (else uint)"),
        Param("rounding", "double", "double: gemmlowp's two roundings (TFLite default); "
              "single: TFLITE_SINGLE_ROUNDING", choices=("double", "single")),
        Param("activation", "none", "fused clamp: relu raises the floor to out_zp, relu6 also "
              "lowers the ceiling to input relu6_q", choices=("none", "relu", "relu6")),
        Param("correction", True, "zero-point correction inputs a_sum, w_zp, offset"),
        Param("fixed_multiplier", 0, "Q0.31 multiplier M built into the gates "
              "(0: M and shift are inputs)", lo=0, hi=(1 << 31) - 1),
        Param("fixed_shift", 0, "shift built into the gates with fixed_multiplier",
              lo=SHIFT_MIN, hi=SHIFT_MAX),
        Param("arch", "infer", "products: inferred * (one segment each) or radix-4 Booth trees "
              "with the addends as rows, cut per level", choices=("infer", "booth")),
        STAGES_PARAM,
        TARGET_MHZ_PARAM,
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.out_fmt = QFormat(p["out_bits"], 0, p["out_signed"])
        zp_shape = signed(p["out_bits"] + 1)
        members = {"acc": In(signed(32))}
        docs = {"acc": ("int32", "accumulator, sum of q_x*q_w")}
        if p["correction"]:
            members.update({"a_sum": In(signed(32)), "w_zp": In(signed(9)),
                            "offset": In(signed(32))})
            docs.update({"a_sum": ("int32", "sum of the row's activations q_x"),
                         "w_zp": ("int9", "weight zero point Z_w (int8 or uint8 range)"),
                         "offset": ("int32", "bias + K*Z_x*Z_w - Z_x*sum(q_w) of the channel")})
        if not p["fixed_multiplier"]:
            members.update({"multiplier": In(signed(32)), "shift": In(signed(6))})
            docs.update({"multiplier": ("q0.31", "M: scale = M * 2**(shift - 31)"),
                         "shift": ("int6", f"{SHIFT_MIN}..{SHIFT_MAX}; -32 and 31 act as "
                                   f"{SHIFT_MIN} and {SHIFT_MAX}")})
        members["out_zp"] = In(zp_shape)
        docs["out_zp"] = (f"int{p['out_bits'] + 1}", "output zero point Z_out")
        if p["activation"] == "relu6":
            members["relu6_q"] = In(zp_shape)
            docs["relu6_q"] = (f"int{p['out_bits'] + 1}", "quantized 6.0: Z_out + round(6/S_out)")
        members["q"] = Out(signed(p["out_bits"]) if p["out_signed"] else unsigned(p["out_bits"]))
        docs["q"] = (self.out_fmt.name, "requantized output")
        super().__init__(p, members, docs)

    def formats(self):
        return {"q": self.out_fmt.describe()}

    def elaborate(self, platform):
        p = self.params
        m = Module()
        pipe = self.pipeline(m)
        names = [n for n in ("a_sum", "w_zp", "offset", "multiplier", "shift", "relu6_q")
                 if n in self.signature.members]
        ports = {n: getattr(self, n) for n in names}
        booth = p["arch"] == "booth"
        before_in = Delay()
        if p["correction"] and booth:
            # -w_zp ahead of the input cut, so the Booth rows start from register bits.
            negated = Signal(signed(10), name="in_neg_zp")
            m.d.comb += negated.eq(-ports["w_zp"])
            ports["w_zp"], before_in = negated, adder(10)
        acc, out_zp, *values = pipe.cut("in", self.acc, self.out_zp, *ports.values(),
                                        delay=before_in)
        ports = dict(zip(names, values))
        later = {n: ports[n] for n in ("multiplier", "relu6_q") if n in ports}
        if "shift" in ports:
            shift_step = (lambda values: {**{k: v for k, v in values.items() if k != "shift"},
                                          **_shift_terms(values["shift"], p["rounding"])},
                          SHIFT_TERMS_DELAY)
            later["shift"] = ports["shift"]

        corrected = Signal(signed(32), name="corr_x")          # int32 wraparound
        if p["correction"] and booth:
            # acc + offset + (-w_zp)·a_sum mod 2**32: two more rows of the product's tree,
            # the shift terms formed beside its first level.
            columns = booth_partial_products(m, ports["w_zp"].as_unsigned(), True,
                                             ports["a_sum"].as_unsigned(), True, 32)
            for k, col in enumerate(columns):
                col.extend([acc[k], ports["offset"][k]])
            total, later = reduce_and_add(m, pipe, columns, "corr", {"out_zp": out_zp, **later},
                                          delay=BOOTH_DELAY,
                                          steps=[shift_step] if "shift" in later else ())
            out_zp = later.pop("out_zp")
            m.d.comb += corrected.eq(total)
            delay = Delay()
        else:
            if p["correction"]:
                m.d.comb += corrected.eq(acc - ports["w_zp"] * ports["a_sum"] + ports["offset"])
                delay = multiplier_delay(len(ports["w_zp"]), len(ports["a_sum"])) + adder(32) * 2
            else:
                m.d.comb += corrected.eq(acc)
                delay = Delay()
            if "shift" in later:
                later = shift_step[0](later)
                delay = (delay, SHIFT_TERMS_DELAY)
        if p["fixed_multiplier"]:
            later.update(_shift_terms(Const(p["fixed_shift"], signed(6)), p["rounding"]))
        keys = list(later)
        corrected, out_zp, *values = pipe.cut("corrected", corrected, out_zp, *later.values(),
                                              delay=delay)
        later = dict(zip(keys, values))
        multiplier = (Const(p["fixed_multiplier"], signed(32)) if p["fixed_multiplier"]
                      else later["multiplier"])
        extra = [later["relu6_q"]] if "relu6_q" in later else []

        product = Signal(signed(64), name="prod_value")
        scaled = Signal(signed(32), name="prod_scaled")
        if p["rounding"] == "double":
            # x << left wraps, as in int32; INT32_MIN squared is the one overflow of the
            # doubling high multiply: its tests, a LUT per 4 bits, formed beside the last level.
            factor, (right, multiplier, out_zp, *extra) = _shift_left_levels(
                m, pipe, corrected, later["left"], (later["right"], multiplier, out_zp, *extra),
                "factor")
            nibbles = Signal(16, name="factor_min_nibbles")
            m.d.comb += nibbles.eq(Cat(*(x[4 * i:4 * i + 4] == (8 if i == 7 else 0)
                                         for x in (factor, multiplier) for i in range(8))))
            factor, nibbles, right, multiplier, out_zp, *extra = pipe.cut(
                "factor_min", factor, nibbles, right, multiplier, out_zp, *extra,
                delay=Delay(luts=1))
            both_min = nibbles.all()
            amount = right
            bias = 1 << 30                  # the doubling high multiply's rounding constant
        else:
            both_min = Const(0, 1)
            amount, factor, bias = later["amount"], corrected, 0
        if booth:
            columns = booth_partial_products(m, factor.as_unsigned(), True,
                                             multiplier.as_unsigned(), True, 64)
            columns[30].extend([Const(1, 1)] if bias else [])     # one more row
            total, (both_min, amount, out_zp, *extra) = reduce_and_add(
                m, pipe, columns, "prod", (both_min, amount, out_zp, *extra),
                delay=(BOOTH_DELAY, logic(16)))
            m.d.comb += product.eq(total)
        else:
            m.d.comb += product.eq(factor * multiplier + bias)
            product, both_min, amount, out_zp, *extra = pipe.cut(
                "product", product, both_min, amount, out_zp, *extra,
                delay=multiplier_delay(32, 32) + (adder(64) if bias else Delay()))

        if p["rounding"] == "double":
            # SaturatingRoundingDoublingHighMul: (t·M + 2**30) >> 31, the one
            # overflow (INT32_MIN squared) saturating to INT32_MAX.
            m.d.comb += scaled.eq(Mux(both_min, (1 << 31) - 1, product >> 31))
            scaled, (out_zp, *extra) = _divide_by_pot(m, pipe, scaled, amount, (out_zp, *extra),
                                                      "rounded", before=Delay(luts=1))
        else:
            # floor((x·M + 2**(s-1)) / 2**s) = floor((floor(x·M / 2**(s-1)) + 1) / 2),
            # s = 31 - shift
            halves = Signal(signed(64), name="round_halves")
            m.d.comb += halves.eq(product >> amount)
            halves, out_zp, *extra = pipe.cut("divided", halves, out_zp, *extra,
                                              delay=shifter(6))
            rounded = Signal(signed(64), name="round_single")
            m.d.comb += rounded.eq((halves + 1) >> 1)
            rounded, out_zp, *extra = pipe.cut("incremented", rounded, out_zp, *extra,
                                               delay=adder(64))
            m.d.comb += scaled.eq(Mux(rounded > (1 << 31) - 1, (1 << 31) - 1,
                                      Mux(rounded < INT32_MIN, INT32_MIN, rounded)))
            scaled, out_zp, *extra = pipe.cut("rounded", scaled, out_zp, *extra,
                                              delay=logic(33) + mux(4))

        shifted_zp = Signal(signed(34), name="out_sum")
        m.d.comb += shifted_zp.eq(scaled + out_zp)
        lo, hi = self.out_fmt.min, self.out_fmt.max
        floor, ceiling = Signal(signed(len(out_zp) + 1), name="out_floor"), \
            Signal(signed(len(out_zp) + 1), name="out_ceiling")
        m.d.comb += floor.eq(lo if p["activation"] == "none" else Mux(out_zp > lo, out_zp, lo))
        m.d.comb += ceiling.eq(Mux(extra[0] < hi, extra[0], hi) if p["activation"] == "relu6" else hi)
        shifted_zp, floor, ceiling = pipe.cut("out_sum", shifted_zp, floor, ceiling,
                                              delay=adder(34))
        # min(max(x, floor), ceiling), in TFLite's order: the ceiling wins if they cross
        raised = Signal(signed(34), name="out_raised")
        m.d.comb += raised.eq(Mux(shifted_zp < floor, floor, shifted_zp))
        raised, ceiling = pipe.cut("out_raised", raised, ceiling, delay=compare(34) + mux(2))
        q = Signal.like(self.q, name="out_q")
        m.d.comb += q.eq(Mux(raised > ceiling, ceiling, raised))
        q = pipe.cut("out", q, delay=compare(34) + mux(2))
        m.d.comb += self.q.eq(q)
        pipe.finish()
        return m
