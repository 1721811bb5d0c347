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

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed
from amaranth.lib.wiring import In, Out

from ..golden.formats import float_format

from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add, split_adds
from .float import (FLAGS_DOC, ROUND_MODE_DOC, Decoded, _format_param, decode, decode_delay,
                    decode_operands)
from .float_round import (ENCODE_DELAY, ROUND_DELAY, FloatRound, above, lzc_delay, prepare_exponent,
                          round_float)
from .params import Derived, Param
from .pipeline import Delay, adder, logic, multiplier_delay, shifter
from .shift import normalize_left, shift_level, shift_level_delay
from .unit import OPTIONAL_ACCUMULATOR_STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["FloatFMA", "fma_window", "align_steps", "aligned_terms", "align_addend", "add_aligned",
           "round_raw", "align_delay", "sum_delay"]


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


def _named(m, prefix, **values):
    """Comb signals named ``prefix_key`` driven by ``values``, as a dict."""
    out = {}
    for key, (shape, value) in values.items():
        out[key] = Signal(shape, name=f"{prefix}_{key}")
        m.d.comb += out[key].eq(value)
    return out


def align_steps(m, wp, c_fmt, out_fmt, prefix="align"):
    """The addend's alignment (module docs) as side steps (``(function,
    delay)`` pairs on a dict) that can run beside the significand product,
    one pipeline cut each: the exponent difference, the comparisons, the
    shift amount and window exponent, then one step per level of the shift.
    The dict holds ``exp`` and ``zero`` of the product (``exp`` of the
    product's second bit from the top), ``c_exp``, ``c_sig`` and ``c_zero`` of
    the addend; the steps add ``top``, ``base``, ``shifted`` and ``lost``."""
    q, w = fma_window(wp, c_fmt, out_fmt)
    pc = c_fmt.frac_bits + 1
    k = w + 1 - wp - q

    def named(shape, value, key):
        signal = Signal(shape, name=f"{prefix}_{key}")
        m.d.comb += signal.eq(value)
        return signal

    def differences(state):
        width = max(len(state["c_exp"]), len(state["exp"])) + w.bit_length() + 3
        return {**state,
                "k_minus_c": named(signed(width), k - state["c_exp"], "k_minus_c"),
                "base_top": named(signed(width), state["c_exp"] - (w - 1), "base_top"),
                "base_product": named(signed(width), state["exp"] - ((wp - 2) + q), "base_product")}

    def difference(state):
        state = dict(state)
        k_minus_c = state.pop("k_minus_c")
        return {**state, "diff": named(signed(len(k_minus_c) + 1), k_minus_c + state["exp"], "diff")}

    def compares(state):
        diff = state["diff"]
        # A zero product puts the addend at the top (its exponent rules); a zero
        # addend leaves the window to the product.
        return {**state,
                "top": named(1, state["zero"] | (~state["c_zero"] & diff[-1]), "top"),
                "beyond": named(1, above(diff, w), "beyond")}

    def amount(state):
        state = dict(state)
        diff, top, beyond = state.pop("diff"), state["top"], state.pop("beyond")
        base_top, base_product = state.pop("base_top"), state.pop("base_product")
        return {**state,
                "amount": named(range(w + 1), Mux(top, 0, Mux(beyond, w, diff)), "amount"),
                "base": named(base_top.shape(), Mux(top, base_top, base_product), "base"),
                "shifted": named(w, state["c_sig"] << (w - pc), "placed"),
                "lost": Const(0, 1)}

    def shift_level_step(k):
        def step(state):
            shifted, lost = shift_level(m, state["shifted"], state["lost"], state["amount"], k,
                                        f"{prefix}_shift")
            return {**state, "shifted": shifted, "lost": lost}
        return step, shift_level_delay(1 << k, w)

    return [(differences, adder(10)), (difference, adder(10)), (compares, logic(10)),
            (amount, Delay(luts=1))] + [shift_level_step(k) for k in range(w.bit_length())]


def aligned_terms(m, prod, state, c_sign, c_fmt, out_fmt, prefix="align"):
    """The window's two terms after :func:`align_steps` (``state``) and the
    product (``prod``: ``sign``, ``sig``, ``nan``, ``inf``, ``invalid``)."""
    q, w = fma_window(len(prod["sig"]), c_fmt, out_fmt)
    c_nan, c_snan, c_inf = state["c_nan"], state["c_snan"], state["c_inf"]
    inf_minus_inf = prod["inf"] & c_inf & (prod["sign"] ^ c_sign)
    return _named(
        m, prefix,
        addend=(w, state["shifted"] | state["lost"]),
        product=(w, prod["sig"] << q),
        base=(state["base"].shape(), state["base"]),
        sub=(1, prod["sign"] ^ c_sign),
        sign=(1, prod["sign"]),
        c_sign=(1, c_sign),
        nan=(1, prod["nan"] | c_nan | prod["invalid"] | c_snan | inf_minus_inf),
        invalid=(1, prod["invalid"] | c_snan | inf_minus_inf),
        inf=(1, prod["inf"] | c_inf),
        inf_sign=(1, Mux(prod["inf"], prod["sign"], c_sign)))


def align_addend(m, prod, dc, c_fmt, out_fmt, prefix="align"):
    """Place the decoded addend ``dc`` against the exact product ``prod`` in the
    window (module docs), all combinational. ``prod``: a dict of signals
    ``sign``, ``exp`` (the exponent of ``sig``'s second bit from the top),
    ``sig`` (the product has its leading one in the top two bits), ``zero``,
    ``nan``, ``inf``, ``invalid``."""
    state = {"exp": prod["exp"], "zero": prod["zero"], "c_exp": dc.exp, "c_sig": dc.sig,
             "c_zero": dc.is_zero, "c_nan": dc.is_nan, "c_snan": dc.is_snan, "c_inf": dc.is_inf}
    for function, _ in align_steps(m, len(prod["sig"]), c_fmt, out_fmt, prefix):
        state = function(state)
    return aligned_terms(m, prod, state, dc.sign, c_fmt, out_fmt, prefix)


def add_aligned(m, al, rm, prefix="sum", *, pipe=None, carried=None):
    """Add or subtract the aligned terms by the effective operation (beside
    the reverse difference, chosen when the difference is negative), then
    normalize (:func:`~hw.shift.normalize_left`): the raw float for
    :func:`~hw.float_round.round_float`. With a pipeline: cut points inside
    the adders (``<prefix>_low``, ``<prefix>``), after the magnitude
    (``<prefix>_magnitude``), in the normalization
    (``<prefix>_norm_*``) and after the exponent (``<prefix>_exp``), with
    ``carried`` (a dict) riding along. Returns the raw dict (and ``carried``
    with a pipeline)."""
    w = len(al["product"])
    ext = w + 2
    product, addend = al["product"].as_unsigned(), al["addend"]
    # product +/- addend and, for a subtraction that goes negative, addend - product.
    terms = [(Cat(product, Const(0, 2)), Cat(addend, Const(0, 2)), al["sub"]),
             (Cat(addend, Const(0, 2)), Cat(product, Const(0, 2)), True)]
    keep = {"sub": al["sub"], "sign": al["sign"], "inf": al["inf"], "inf_sign": al["inf_sign"],
            "nan": al["nan"], "invalid": al["invalid"], "rm": rm,
            "base_w": al["base"] + w, **(carried or {})}
    (total, reverse), keep = split_adds(m, pipe, terms, prefix, keep)
    negative = keep["sub"] & total[ext - 1]
    magnitude = Signal(w + 1, name=f"{prefix}_magnitude")
    m.d.comb += magnitude.eq(Mux(negative, reverse, total))
    keep["nonzero_sign"] = keep["sign"] ^ negative
    keep["zero_sign"] = Mux(keep["sub"], keep["rm"] == 2, keep["sign"])
    # exact zero: +0, or -0 rounding down
    if pipe is not None:          # the mux's select fans out to every bit: a cut of its own
        keep = pipe.cut_any(f"{prefix}_magnitude", {**keep, "magnitude": magnitude},
                            delay=Delay(luts=1))
        magnitude = keep.pop("magnitude")
    (normalized,), (count,), keep = normalize_left(m, [magnitude], f"{prefix}_norm", pipe=pipe,
                                                   carried=keep)
    exp = Signal(signed(len(keep["base_w"]) + 2), name=f"{prefix}_exp")
    m.d.comb += exp.eq(keep["base_w"] - count)
    raw = {"sign": Mux(keep["inf"], keep["inf_sign"],
                       Mux(normalized[-1], keep["nonzero_sign"], keep["zero_sign"])),
           "exp": exp, "sig": normalized, "nan": keep["nan"], "invalid": keep["invalid"],
           "inf": keep["inf"], "rm": keep["rm"]}
    rest = {k: v for k, v in keep.items() if k not in ("sub", "sign", "inf", "inf_sign", "nan",
                                                      "invalid", "rm", "base_w",
                                                      "nonzero_sign", "zero_sign")}
    if pipe is None:
        return _named(m, prefix, **{k: (Value.cast(v).shape(), v) for k, v in raw.items()
                                    if k != "rm"})
    cut = pipe.cut_any(f"{prefix}_exp", {**raw, **rest}, delay=adder(len(exp)) + Delay(luts=1))
    return {k: cut[k] for k in raw}, {k: cut[k] for k in rest}


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

    def _product(self, m, pipe, da, db, extra, steps=()):
        """Exact significand product and the product's special cases; passes
        through the multiplier's cut points (ending with ``mul``) with
        ``extra`` (a dict) and the side ``steps`` applied to it on the way."""
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
            sig, carried = reduce_and_add(m, pipe, columns, "mul", carried,
                                          delay=max(BOOTH_DELAY, adder(10), key=pipe.ns),
                                          steps=steps)
        else:
            sig = Signal(wp, name="mul_sig")
            m.d.comb += sig.eq(da.sig * db.sig)
            carried = pipe.cut_any("mul", {**carried, "product_sig": sig},
                                   delay=multiplier_delay(len(da.sig), len(db.sig)))
            carried = pipe.steps("mul_side", steps, carried)
            sig = carried.pop("product_sig")
        prod = {k: carried[k] for k in prod}
        prod["sig"] = sig
        return prod, {k: v for k, v in carried.items() if k not in prod}

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
        (da, db, dc), (rm,) = decode_operands(
            m, pipe, ((a, self.a_fmt, "a"), (b, self.b_fmt, "b"), (c, self.c_fmt, "c")), p["ftz"],
            (rm,))
        wp = len(da.sig) + len(db.sig)
        addend = {"c_exp": dc.exp, "c_sig": dc.sig, "c_zero": dc.is_zero, "c_sign": dc.sign,
                  "c_nan": dc.is_nan, "c_snan": dc.is_snan, "c_inf": dc.is_inf, "rm": rm}
        # The addend is aligned beside the product (side steps of the tree).
        steps = align_steps(m, wp, self.c_fmt, self.out_fmt)
        prod, state = self._product(m, pipe, da, db, addend, steps)
        state = {**state, "exp": prod["exp"], "zero": prod["zero"]}
        aligned = aligned_terms(m, prod, state, state["c_sign"], self.c_fmt, self.out_fmt)
        raw, _ = add_aligned(m, aligned, state["rm"], pipe=pipe, carried={})
        raw = {"sign": raw["sign"], "exp": raw["exp"], "sig": raw["sig"], "sticky": Const(0, 1),
               "is_nan": raw["nan"], "is_inf": raw["inf"] & ~raw["nan"],
               "invalid": raw["invalid"], "rm": raw["rm"]}
        raw, _ = prepare_exponent(m, raw, self.out_fmt, pipe)
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
        (da, db), (clear, rm) = decode_operands(
            m, pipe, ((a, self.a_fmt, "a"), (b, self.b_fmt, "b")), p["ftz"], (clear, rm))
        prod, extra = self._product(m, pipe, da, db, {"clear": clear, "rm": rm})
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
