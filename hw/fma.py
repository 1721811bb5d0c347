"""Fused floating-point multiply-add ``y = round(a * b + c)``, structured as
HardFloat's ``MulAddRecFN``: decode the three operands, form the exact
significand product, align the addend against it in a window, add or
subtract, normalize with a leading-zero count, and round once in the shared
:class:`~hw.float_round.FloatRound`. With ``accumulate`` the addend is the
unit's own previous result: a running sum with one rounding per step.

The alignment window (positions counted from 0 at the bottom; p = precision
of ``out_fmt``, pc of ``c_fmt``, wp = width of the significand product):

* the product sits at positions ``Q .. Q + wp - 1`` and is never shifted;
* the addend enters with its leading one at the top, position ``W - 1``, and
  is shifted right by ``(W + 1 - wp - Q) - (exp_c - exp_product)``; bits that
  fall out at the bottom are OR-ed ("jammed") into position 0, which nothing
  else occupies below ``Q >= 1``;
* an addend whose leading one would sit above the top (a shift below zero)
  stays at the top: the product then lies wholly under the addend's last bit
  and under its rounding grid two places below precision p (``W >= Q + wp +
  max(pc, p + 2)``), so it can move the sum only within one open interval
  between two candidates of the rounding (and the tininess check): any
  nonzero product of the same sign there rounds the same, and the window's
  exponent is taken from the addend;
* an addend with bits below position 0 has its leading one at or below
  ``pc - 1``; with ``Q >= max(1, pc + 3 - wp, p + 5 - wp)`` the product is
  then at least two binades larger, so the sum keeps its leading one at or
  above position ``p + 2``: every rounding candidate near it is a multiple
  of 2 and the jammed bit (worth 1, of the addend's sign, so that a
  subtraction borrows through it) rounds exactly as the bits it stands for.

Everything above position 0 is exact, so rounding after any cancellation is
exact. Widths: fp16 x fp16 + fp32 (wp 22, p = pc = 24): Q 7, W 55; bf16 +
fp32: Q 13, W 55; fp32 FMA: Q 1, W 75 (the classic 3p + 3); fp16 FMA: Q 1,
W 36.
"""

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from golden.formats import float_format

from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add
from .float import FLAGS_DOC, ROUND_MODE_DOC, Decoded, _format_param, decode, decode_delay
from .float_round import ENCODE_DELAY, ROUND_DELAY, FloatRound, leading_zeros, lzc_delay, round_float
from .params import Derived, Param
from .pipeline import Delay, adder, multiplier_delay, shifter
from .unit import OPTIONAL_ACCUMULATOR_STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["FloatFMA", "fma_window", "align_addend", "add_aligned", "round_raw",
           "align_delay", "sum_delay"]


def _full_decode_delay(fmt, ftz):
    """:func:`~hw.float.decode` with its leading-zero count."""
    return decode_delay(fmt, ftz) + (Delay() if ftz else lzc_delay(fmt.frac_bits))


def align_delay(window):
    """:func:`align_addend`: the exponent difference, then a shift across the window."""
    return adder(10) + shifter(window.bit_length()) + Delay(luts=1)


def sum_delay(window):
    """:func:`add_aligned`: the add, the magnitude, the leading-zero count and the shift."""
    return adder(window + 2) * 2 + lzc_delay(window) + shifter(window.bit_length())


def fma_window(wp, c_fmt, out_fmt):
    """``(Q, W)`` for a ``wp``-bit exact product: the product's lowest window
    position and the window width that keep the aligned sum exact up to one
    jammed bit (see module docs)."""
    pc, p = c_fmt.frac_bits + 1, out_fmt.frac_bits + 1
    q = max(1, pc + 3 - wp, p + 5 - wp)
    return q, q + wp + max(pc, p + 2)


def _cut(pipe, name, signals, delay):
    """Pass a dict of signals through cut point ``name``."""
    return dict(zip(signals, pipe.cut_many(name, tuple(signals.values()), delay=delay)))


def _named(m, prefix, **values):
    """Comb signals named ``prefix_key`` driven by ``values``, as a dict."""
    out = {}
    for key, (shape, value) in values.items():
        out[key] = Signal(shape, name=f"{prefix}_{key}")
        m.d.comb += out[key].eq(value)
    return out


def align_addend(m, prod, dc, c_fmt, out_fmt, prefix="align"):
    """Place the decoded addend ``dc`` against the exact product ``prod`` in the
    window (module docs). ``prod``: a dict of signals ``sign``, ``exp`` (the
    exponent of ``sig``'s second bit from the top), ``sig`` (the product has its
    leading one in the top two bits), ``zero``, ``nan``, ``inf``, ``invalid``."""
    wp = len(prod["sig"])
    q, w = fma_window(wp, c_fmt, out_fmt)
    pc = len(dc.sig)
    d_width = max(len(dc.exp), len(prod["exp"])) + 1
    k = w + 1 - wp - q
    # A zero product puts the addend at the top (its exponent rules);
    # a zero addend leaves the window to the product.
    shift_shape = signed(max(d_width, k.bit_length() + 1) + 2)
    diff = _named(m, prefix, shift=(shift_shape, k - (dc.exp - prod["exp"])))
    top = Signal(name=f"{prefix}_top")
    m.d.comb += top.eq(prod["zero"] | (~dc.is_zero & (diff["shift"] < 0)))
    amount = Signal(range(w + 1), name=f"{prefix}_amount")
    m.d.comb += amount.eq(Mux(top, 0, Mux(diff["shift"] > w, w, diff["shift"])))
    spread = Signal(2 * w, name=f"{prefix}_spread")
    m.d.comb += spread.eq((dc.sig << (2 * w - pc)) >> amount)
    base_shape = signed(max(len(dc.exp), len(prod["exp"])) + w.bit_length() + 2)
    return _named(
        m, prefix,
        addend=(w, spread[w:] | spread[:w].any()),
        product=(w, prod["sig"] << q),
        base=(base_shape, Mux(top, dc.exp - (w - 1), prod["exp"] - (wp - 2) - q)),
        sub=(1, prod["sign"] ^ dc.sign),
        sign=(1, prod["sign"]),
        c_sign=(1, dc.sign),
        nan=(1, prod["nan"] | dc.is_nan | prod["invalid"] | dc.is_snan
             | (prod["inf"] & dc.is_inf & (prod["sign"] ^ dc.sign))),
        invalid=(1, prod["invalid"] | dc.is_snan
                 | (prod["inf"] & dc.is_inf & (prod["sign"] ^ dc.sign))),
        inf=(1, prod["inf"] | dc.is_inf),
        inf_sign=(1, Mux(prod["inf"], prod["sign"], dc.sign)))


def add_aligned(m, al, rm, prefix="sum"):
    """Add or subtract the aligned terms by the effective operation, take the
    magnitude, normalize: the raw float for :class:`FloatRound`."""
    w = len(al["product"])
    total = Signal(signed(w + 2), name=f"{prefix}_total")
    m.d.comb += total.eq(Mux(al["sub"], al["product"] - al["addend"],
                             al["product"] + al["addend"]))
    negative = total[-1]
    magnitude = Signal(w + 1, name=f"{prefix}_magnitude")
    m.d.comb += magnitude.eq(Mux(negative, -total, total))
    zeros = leading_zeros(m, magnitude, f"{prefix}_lz")
    zero_sign = Mux(al["sub"], rm == 2, al["sign"])     # exact zero: +0, or -0 rounding down
    return _named(
        m, prefix,
        sign=(1, Mux(al["inf"], al["inf_sign"],
                     Mux(magnitude.any(), al["sign"] ^ negative, zero_sign))),
        exp=(signed(len(al["base"]) + 2), al["base"] + w - zeros),
        sig=(w + 1, magnitude << zeros),
        nan=(1, al["nan"]), invalid=(1, al["invalid"]), inf=(1, al["inf"]))


def round_raw(m, raw, rm, out_fmt, *, ftz=False, saturate=False, name="round"):
    """The shared :class:`FloatRound` on the raw float from :func:`add_aligned`."""
    m.submodules[name] = rounder = FloatRound(
        out_fmt, exp_width=len(raw["exp"]), sig_width=len(raw["sig"]), ftz=ftz, saturate=saturate)
    m.d.comb += [rounder.sign.eq(raw["sign"]), rounder.exp.eq(raw["exp"]),
                 rounder.sig.eq(raw["sig"]), rounder.sticky.eq(0),
                 rounder.is_nan.eq(raw["nan"]), rounder.is_inf.eq(raw["inf"] & ~raw["nan"]),
                 rounder.invalid.eq(raw["invalid"]), rounder.rm.eq(rm)]
    return rounder


class FloatFMA(Unit):
    """``y = round(a * b + c)`` with one rounding; with ``accumulate``,
    ``y <- round(a * b + y)`` and ``clear`` restarting the sum at ``round(a * b)``.

    RISC-V semantics: canonical NaN results; NV for a signaling NaN, ``inf *
    0`` (even with a quiet NaN addend) and ``inf - inf``; an exact zero sum of
    opposite-signed terms is +0 (-0 when rounding down); tininess after
    rounding. The product is exact; the addend is aligned against it in a
    window (module docs) where a far smaller term becomes one sticky bit.
    """

    PARAMS = (
        _format_param("a_fmt", "fp16", "multiplicand format"),
        _format_param("b_fmt", Derived(lambda p: p["a_fmt"], "a_fmt"), "multiplier format"),
        _format_param("c_fmt", "fp32", "addend (accumulator) format"),
        _format_param("out_fmt", Derived(lambda p: p["c_fmt"], "c_fmt"), "result format"),
        Param("ftz", False, "flush subnormal inputs and results to zero"),
        Param("saturate", False, "overflow gives the largest finite number, not inf/NaN"),
        Param("accumulate", False, "the addend is the previous result (a running sum with a "
              "clear input) instead of the c port"),
        Param("arch", "infer", "significand multiplier: inferred * or radix-4 Booth + Dadda gates",
              choices=("infer", "booth")),
        OPTIONAL_ACCUMULATOR_STAGES_PARAM,
        TARGET_MHZ_PARAM,
    )

    @classmethod
    def resolve_params(cls, given):
        """An accumulating unit's result is its next addend: ``out_fmt`` must be ``c_fmt``."""
        values = super().resolve_params(given)
        out_fmt, c_fmt = float_format(values["out_fmt"]), float_format(values["c_fmt"])
        if values["accumulate"] and (out_fmt.exp_bits, out_fmt.frac_bits, out_fmt.ieee) != (
                c_fmt.exp_bits, c_fmt.frac_bits, c_fmt.ieee):
            raise ValueError(f"out_fmt: must equal c_fmt ({values['c_fmt']}) when accumulate is "
                             f"true, got {values['out_fmt']!r}")
        return values

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.accumulate = p["accumulate"]
        self.a_fmt, self.b_fmt, self.c_fmt, self.out_fmt = (
            float_format(p[k]) for k in ("a_fmt", "b_fmt", "c_fmt", "out_fmt"))
        members = {"a": In(self.a_fmt.width), "b": In(self.b_fmt.width)}
        docs = {"a": (self.a_fmt.name, "multiplicand"), "b": (self.b_fmt.name, "multiplier")}
        if self.accumulate:
            members["clear"] = In(1)
            docs["clear"] = ("flag", "start a new sum with this product (the addend reads as zero)")
        else:
            members["c"] = In(self.c_fmt.width)
            docs["c"] = (self.c_fmt.name, "addend")
        members |= {"rm": In(3), "y": Out(self.out_fmt.width), "flags": Out(5)}
        docs |= {"rm": ("round_mode", ROUND_MODE_DOC),
                 "y": (self.out_fmt.name, "running sum, including the product issued "
                       "stages cycles earlier" if self.accumulate else "a * b + c, rounded once"),
                 "flags": ("fflags", FLAGS_DOC)}
        super().__init__(p, members, docs)

    def formats(self):
        ports = {"a": self.a_fmt, "b": self.b_fmt, "y": self.out_fmt}
        if not self.accumulate:
            ports["c"] = self.c_fmt
        return {name: fmt.describe() for name, fmt in ports.items()}

    # -- datapath pieces -------------------------------------------------

    def _product(self, m, pipe, da, db, rm, extra):
        """Exact significand product and the product's special cases; passes
        through the multiplier's cut points (ending with ``mul``) with ``extra``."""
        wp = len(da.sig) + len(db.sig)
        ab_nan = da.is_nan | db.is_nan
        inf_times_zero = (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)
        prod = _named(
            m, "mul",
            sign=(1, da.sign ^ db.sign),
            exp=(signed(max(len(da.exp), len(db.exp)) + 1), da.exp + db.exp),
            zero=(1, da.is_zero | db.is_zero),
            nan=(1, ab_nan),
            invalid=(1, da.is_snan | db.is_snan | inf_times_zero),
            inf=(1, (da.is_inf | db.is_inf) & ~ab_nan & ~inf_times_zero))
        carried = prod | extra
        if self.params["arch"] == "booth":
            columns = booth_partial_products(m, da.sig, False, db.sig, False, wp)
            sig, values = reduce_and_add(m, pipe, columns, "mul", tuple(carried.values()),
                                         delay=BOOTH_DELAY)
        else:
            sig = Signal(wp, name="mul_sig")
            m.d.comb += sig.eq(da.sig * db.sig)
            sig, *values = pipe.cut("mul", sig, *carried.values(),
                                    delay=multiplier_delay(len(da.sig), len(db.sig)))
        passed = dict(zip(carried, values))
        prod = {k: passed[k] for k in prod}
        extra = {k: passed[k] for k in extra}
        prod["sig"] = sig
        return prod, extra

    def _round(self, m, raw, rm):
        p = self.params
        return round_raw(m, raw, rm, self.out_fmt, ftz=p["ftz"], saturate=p["saturate"])

    def elaborate(self, platform):
        if self.accumulate:
            return self._elaborate_accumulator()
        p = self.params
        m = Module()
        pipe = self.pipeline(m)

        a, b, c, rm = pipe.cut("in", self.a, self.b, self.c, self.rm)
        formats = ((a, self.a_fmt, "a"), (b, self.b_fmt, "b"), (c, self.c_fmt, "c"))
        decoded = [decode(m, x, fmt, p["ftz"], name) for x, fmt, name in formats]
        *fields, rm = pipe.cut("decoded", *(s for d in decoded for s in d.signals()), rm,
                               delay=max((_full_decode_delay(fmt, p["ftz"]) for _, fmt, _ in formats),
                                         key=pipe.ns))
        da, db, dc = (Decoded(*fields[7 * i:7 * i + 7]) for i in range(3))

        prod, extra = self._product(m, pipe, da, db, rm, {"rm": rm, **dict(
            zip(("c_sign", "c_exp", "c_sig", "c_zero", "c_inf", "c_nan", "c_snan"), dc.signals()))})
        dc = Decoded(*(extra[k] for k in ("c_sign", "c_exp", "c_sig", "c_zero", "c_inf",
                                           "c_nan", "c_snan")))
        aligned = align_addend(m, prod, dc, self.c_fmt, self.out_fmt) | {"rm": extra["rm"]}
        window = len(aligned["product"])
        aligned = _cut(pipe, "aligned", aligned, delay=align_delay(window))
        raw = _cut(pipe, "sum", add_aligned(m, aligned, aligned["rm"]) | {"rm": aligned["rm"]},
                   delay=sum_delay(window))
        raw = {"sign": raw["sign"], "exp": raw["exp"], "sig": raw["sig"], "sticky": Const(0, 1),
               "is_nan": raw["nan"], "is_inf": raw["inf"] & ~raw["nan"],
               "invalid": raw["invalid"], "rm": raw["rm"]}
        bits, flags, _ = round_float(m, raw, self.out_fmt, ftz=p["ftz"], saturate=p["saturate"],
                                     pipe=pipe)
        y, flags = pipe.cut("out", bits, flags, delay=ENCODE_DELAY)
        m.d.comb += [self.y.eq(y), self.flags.eq(flags)]
        pipe.finish()
        return m

    def _elaborate_accumulator(self):
        """The add, normalize and round sit in the loop through the accumulator
        register (the last rank); the other ranks go on the product path."""
        p = self.params
        m = Module()
        pipe = self.pipeline(m, own_registers=1)

        a, b, clear, rm = pipe.cut("in", self.a, self.b, self.clear, self.rm)
        da = decode(m, a, self.a_fmt, p["ftz"], "a")
        db = decode(m, b, self.b_fmt, p["ftz"], "b")
        *fields, clear, rm = pipe.cut("decoded", *da.signals(), *db.signals(), clear, rm,
                                      delay=max(_full_decode_delay(self.a_fmt, p["ftz"]),
                                                _full_decode_delay(self.b_fmt, p["ftz"]),
                                                key=pipe.ns))
        da, db = Decoded(*fields[:7]), Decoded(*fields[7:])
        prod, extra = self._product(m, pipe, da, db, rm, {"clear": clear, "rm": rm})
        clear, rm = extra["clear"], extra["rm"]

        acc = Signal(self.out_fmt.width, name="acc_y")
        acc_flags = Signal(5, name="acc_flags")
        # Clearing reads the addend as a zero with the product's sign: round(a * b).
        dc = self._cleared(m, decode(m, acc, self.c_fmt, p["ftz"], "acc"), clear, prod["sign"])
        aligned = align_addend(m, prod, dc, self.c_fmt, self.out_fmt)
        rounder = self._round(m, add_aligned(m, aligned, rm), rm)
        window = len(aligned["product"])
        loop = (_full_decode_delay(self.c_fmt, p["ftz"]) + align_delay(window) + sum_delay(window)
                + ROUND_DELAY)
        with m.If(pipe.register("acc", delay=loop)):
            m.d.sync += [acc.eq(rounder.bits), acc_flags.eq(rounder.flags)]
        m.d.comb += [self.y.eq(acc), self.flags.eq(acc_flags)]
        pipe.finish()
        return m

    @staticmethod
    def _cleared(m, dc, clear, product_sign):
        names = ("sign", "exp", "sig", "is_zero", "is_inf", "is_nan", "is_snan")
        sig = dict(zip(names, dc.signals()))
        out = _named(m, "addend",
                     sign=(1, Mux(clear, product_sign, sig["sign"])),
                     exp=(sig["exp"].shape(), sig["exp"]),
                     sig=(len(sig["sig"]), Mux(clear, 0, sig["sig"])),
                     is_zero=(1, clear | sig["is_zero"]),
                     is_inf=(1, ~clear & sig["is_inf"]),
                     is_nan=(1, ~clear & sig["is_nan"]),
                     is_snan=(1, ~clear & sig["is_snan"]))
        return Decoded(*(out[n] for n in names))
