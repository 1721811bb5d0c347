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

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from golden.formats import QFormat

from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add
from .params import Param
from .pipeline import Delay, adder, compare, logic, multiplier_delay, mux, shifter
from .unit import STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["Requantizer", "SHIFT_MIN", "SHIFT_MAX"]

SHIFT_MIN, SHIFT_MAX = -31, 30
INT32_MIN = -(1 << 31)


def _divide_by_pot(m, value, amount, name):
    """The shifts of ``value / 2**amount`` rounded half away from zero
    (RoundingDivideByPOT): ``(halves, below_half)``, floor(2·value / 2**amount)
    and the mask of the bits under the guard bit (:func:`_round_up` next)."""
    width = len(value)
    doubled = Signal(signed(width + 1), name=f"{name}_doubled")
    m.d.comb += doubled.eq(value << 1)
    halves = Signal(signed(width + 1), name=f"{name}_halves")
    m.d.comb += halves.eq(doubled >> amount)
    below_half = Signal(unsigned(width), name=f"{name}_below_half")
    m.d.comb += below_half.eq(((Const(1, width + 1) << amount) - 1) >> 1)
    return halves, below_half


def _round_up(m, value, halves, below_half, name):
    """Whether the quotient of :func:`_divide_by_pot` rounds away from zero."""
    round_up = Signal(name=f"{name}_round_up")
    m.d.comb += round_up.eq(halves[0] & (~value[-1] | (value.as_unsigned() & below_half).any()))
    return round_up


def _rounded_half_away(m, halves, round_up, name):
    result = Signal(signed(len(halves) - 1), name=name)
    m.d.comb += result.eq((halves >> 1) + round_up)
    return result


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
        optional = [getattr(self, n) for n in ("a_sum", "w_zp", "offset", "multiplier", "shift",
                                                "relu6_q") if n in self.signature.members]
        acc, out_zp, *optional = pipe.cut("in", self.acc, self.out_zp, *optional)
        ports = dict(zip([n for n in ("a_sum", "w_zp", "offset", "multiplier", "shift", "relu6_q")
                          if n in self.signature.members], optional))

        booth = p["arch"] == "booth"
        corrected = Signal(signed(32), name="corr_x")          # int32 wraparound
        if p["correction"] and booth:
            # acc + offset + (-w_zp)·a_sum mod 2**32: two more rows of the product's tree.
            negated = Signal(signed(10), name="corr_neg_zp")
            m.d.comb += negated.eq(-ports["w_zp"])
            columns = booth_partial_products(m, negated.as_unsigned(), True,
                                             ports["a_sum"].as_unsigned(), True, 32)
            for k, col in enumerate(columns):
                col.extend([acc[k], ports["offset"][k]])
            later = {n: v for n, v in ports.items() if n in ("multiplier", "shift", "relu6_q")}
            total, later = reduce_and_add(m, pipe, columns, "corr", {"out_zp": out_zp, **later},
                                          delay=adder(10) + BOOTH_DELAY)
            out_zp = later.pop("out_zp")
            ports = later
            m.d.comb += corrected.eq(total)
        elif p["correction"]:
            m.d.comb += corrected.eq(acc - ports["w_zp"] * ports["a_sum"] + ports["offset"])
        else:
            m.d.comb += corrected.eq(acc)
        if p["fixed_multiplier"]:
            multiplier = Const(p["fixed_multiplier"], signed(32))
            shift = Const(p["fixed_shift"], signed(6))
        else:
            multiplier = ports["multiplier"]
            shift = Signal(signed(6), name="corr_shift")
            m.d.comb += shift.eq(Mux(ports["shift"] > SHIFT_MAX, SHIFT_MAX,
                                     Mux(ports["shift"] < SHIFT_MIN, SHIFT_MIN, ports["shift"])))
        extra = [ports["relu6_q"]] if "relu6_q" in ports else []
        corrected, multiplier, shift, out_zp, *extra = pipe.cut(
            "corrected", corrected, multiplier, shift, out_zp, *extra,
            delay=(multiplier_delay(len(ports["w_zp"]), len(ports["a_sum"])) + adder(32) * 2
                   if p["correction"] and not booth else compare(6) + mux(2)))

        product = Signal(signed(64), name="prod_value")
        scaled = Signal(signed(32), name="prod_scaled")
        if p["rounding"] == "double":
            left = Signal(range(SHIFT_MAX + 1), name="prod_left")
            right = Signal(range(-SHIFT_MIN + 1), name="prod_right")
            shifted = Signal(signed(32), name="prod_shifted")  # x << left wraps, as in int32
            m.d.comb += [left.eq(Mux(shift[-1], 0, shift)), right.eq(Mux(shift[-1], -shift, 0)),
                         shifted.eq(corrected << left)]
            both_min = (shifted == INT32_MIN) & (multiplier == INT32_MIN)
            amount = right
            # The doubling high multiply's rounding constant is one more row.
            factor, bias, before = shifted, 1 << 30, shifter(5)
        else:
            both_min = Const(0, 1)
            amount = Signal(range(62), name="prod_half_shift")   # 30 - shift, 0..61
            m.d.comb += amount.eq(30 - shift)
            factor, bias, before = corrected, 0, Delay()
        if booth:
            factor, multiplier, both_min, amount, out_zp, *extra = pipe.cut(
                "factor", factor, multiplier, both_min, amount, out_zp, *extra,
                delay=before + Delay(luts=2))
            columns = booth_partial_products(m, factor.as_unsigned(), True,
                                             multiplier.as_unsigned(), True, 64)
            columns[30].extend([Const(1, 1)] if bias else [])
            total, (both_min, amount, out_zp, *extra) = reduce_and_add(
                m, pipe, columns, "prod", (both_min, amount, out_zp, *extra), delay=BOOTH_DELAY)
            m.d.comb += product.eq(total)
            bias = 0                                    # already in the sum
        else:
            m.d.comb += product.eq(factor * multiplier)
            product, both_min, amount, out_zp, *extra = pipe.cut(
                "product", product, both_min, amount, out_zp, *extra,
                delay=before + multiplier_delay(32, 32))

        if p["rounding"] == "double":
            # SaturatingRoundingDoublingHighMul: (t·M + 2**30) >> 31, the one
            # overflow (INT32_MIN squared) saturating to INT32_MAX.
            high = Signal(signed(33), name="round_high")
            m.d.comb += high.eq((product + bias) >> 31)
            m.d.comb += scaled.eq(Mux(both_min, (1 << 31) - 1, high))
            halves, below_half = _divide_by_pot(m, scaled, amount, "round_divided")
            scaled, halves, below_half, out_zp, *extra = pipe.cut(
                "shifted", scaled, halves, below_half, out_zp, *extra,
                delay=(adder(64) if bias else Delay()) + mux(2) + shifter(5))
            round_up = _round_up(m, scaled, halves, below_half, "round_divided")
            halves, round_up, out_zp, *extra = pipe.cut("divided", halves, round_up, out_zp,
                                                        *extra, delay=logic(32) + Delay(luts=1))
            scaled = _rounded_half_away(m, halves, round_up, "round_divided")
            delay = adder(32)
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
            delay = logic(33) + mux(4)
        scaled, out_zp, *extra = pipe.cut("rounded", scaled, out_zp, *extra, delay=delay)

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
