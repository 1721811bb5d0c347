"""Matrix multiply-accumulate ``D = A·B + C`` on small blocks (4×4×4 by
default), one whole MMA per cycle: a dot-product tree per output element,
not M·N·K separate FMAs.

Every element of A and B is decoded once and shared by the N (or M) dot
products that use it. Each output then forms its K exact products and, in
``tensorcore`` mode, reproduces the measured NVIDIA numerics
(``tensorcore/SPEC.md``): the products and C are aligned to the largest
exponent in a window of ``23 + n_e`` fraction bits, magnitudes truncated,
summed exactly, normalized once and rounded by the shared
:class:`~hw.float_round.FloatRound` (toward zero to fp32, to nearest even to
fp16). A K longer than the GPU's block chains blocks inside the unit: each
block's rounded result is the next block's C. TF32 and FP8 follow
``tensorcore/SPEC_fp8_tf32.md``: TF32 is the bf16 datapath with 10-bit
fractions; native FP8 (Ada, Hopper ``wgmma``) is a block on a 13-bit grid
whose result is rounded to 13 fraction bits; ``mma.sync`` FP8 on Hopper and
Blackwell is the pair split, two passes of the GPU's fp16 block (products
with ``k mod 4`` in {0, 1} first, from c = +0) and c added last by the fused
multiply-add's adder, RNE. ``fused`` mode sums the products exactly, adds C
with the fused multiply-add's two-term alignment and rounds once in the
run-time mode ``rm``.

Ports are packed row-major: element ``(i, j)`` of an R×C operand sits at
index ``i*C + j``, bits ``[index*w, index*w + w)``.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from ..golden.formats import FP8, GPUS, OVERFLOW_MODES, QFormat, float_format
from ..golden.formats import ROUND_MODES
from ..golden.mma import FIRST_PAIR, TENSORCORE_INPUTS, result_format

from .float import FLAGS_DOC, ROUND_MODE_DOC, Decoded, decode, decode_delay
from .float_round import (ENCODE_DELAY, leading_zeros, lzc_delay, prepare_exponent_steps,
                          round_float_steps)
from .fma import add_aligned, align_addend, align_steps, sum_delay
from .fixed import narrow
from .mac import adder_tree, adder_tree_steps, sum_of_products_steps
from .params import Derived, Param
from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add_steps
from .pipeline import (Delay, adder, alongside, compare, lane, lane_output, logic,
                       multiplier_delay, mux, shifter, side_by_side, through)
from .shift import normalize_left_steps, shift_digit
from .unit import STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["FloatMMA", "IntMMA"]

MODES = ("fused", "tensorcore")
ROUND_RNE = ROUND_MODES["RNE"]


def _shape_params():
    return (Param("m", 4, "rows of A, C and D", lo=1, hi=16),
            Param("n", 4, "columns of B, C and D", lo=1, hi=16),
            Param("k", 4, "columns of A, rows of B (the dot-product length)", lo=1, hi=64))


def _element(value, index, width):
    return value.word_select(index, width)


def _max_tree_steps(m, values, name, carried, cuts):
    """Largest of signed ``values``: a tree of comparators, log depth, as a
    datapath generator with a cut point ``<cuts><level>`` after each level and
    ``carried`` alongside; returns ``(largest, carried)``."""
    level = 0
    while len(values) > 1:
        paired = []
        for i in range(0, len(values) - 1, 2):
            bigger = Signal(values[i].shape(), name=f"{name}_l{level}_{i // 2}")
            m.d.comb += bigger.eq(Mux(values[i] > values[i + 1], values[i], values[i + 1]))
            paired.append(bigger)
        values = paired + values[len(values) & ~1:]
        kept, carried = yield from through(f"{cuts}{level}", compare(len(values[0])) + mux(2),
                                           dict(enumerate(values)), carried)
        values = [kept[i] for i in range(len(values))]
        level += 1
    return values[0], carried


def _instr_applies(p):
    return p["mode"] == "tensorcore" and p["gpu"] in ("h100", "h200") and p["in_fmt"] in FP8


def _default_instr(p):
    if not _instr_applies(p):
        return "none"
    return "wgmma" if p["acc_fmt"] == "fp32" else "mma"


def _core(p):
    """The :class:`~nnarith.golden.formats.TensorCoreMode` of resolved parameters."""
    return GPUS[p["gpu"]].mode(p["in_fmt"], p["acc_fmt"],
                               None if p["instr"] == "none" else p["instr"])


_DECODED = ("sign", "exp", "sig", "is_zero", "is_inf", "is_nan", "is_snan")
_PRODUCT = ("sign", "exp", "sig", "nan", "inf", "invalid")


class _Product:
    """One exact product of two decoded operands: value = ±sig·2**(exp - 2M).
    ``multiply=False`` leaves ``sig`` to a Booth tree (:meth:`booth_steps`)."""

    def __init__(self, m, da, db, name, multiply=True):
        self.name, self.x, self.y = name, da.sig, db.sig
        self.sign = Signal(name=f"{name}_sign")
        self.exp = Signal(signed(len(da.exp) + 1), name=f"{name}_exp")
        self.sig = Signal(len(da.sig) + len(db.sig), name=f"{name}_sig")
        self.nan = Signal(name=f"{name}_nan")            # NaN operand or inf * 0
        self.inf = Signal(name=f"{name}_inf")
        self.invalid = Signal(name=f"{name}_invalid")    # sNaN operand or inf * 0
        inf_times_zero = (da.is_inf & db.is_zero) | (da.is_zero & db.is_inf)
        m.d.comb += [self.sign.eq(da.sign ^ db.sign), self.exp.eq(da.exp + db.exp),
                     self.nan.eq(da.is_nan | db.is_nan | inf_times_zero),
                     self.inf.eq((da.is_inf | db.is_inf) & ~self.nan),
                     self.invalid.eq(da.is_snan | db.is_snan | inf_times_zero)]
        if multiply:
            m.d.comb += self.sig.eq(da.sig * db.sig)

    @classmethod
    def of(cls, fields):
        """A product made of ``fields`` (a dict over ``_PRODUCT``) that came through cuts."""
        product = cls.__new__(cls)
        for k in _PRODUCT:
            setattr(product, k, fields[k])
        return product

    def booth_steps(self, m, delay):
        """Datapath generator: the significands' Booth tree (cut points
        ``products_pp``, ``products_tree<i>``, ``products``), the other
        fields alongside (``delay``: their logic beside the partial
        products); returns the product as it comes out."""
        columns = booth_partial_products(m, self.x, False, self.y, False, len(self.sig))
        fields = {k: getattr(self, k) for k in _PRODUCT if k != "sig"}
        sig, fields = yield from reduce_and_add_steps(m, columns, f"{self.name}_sig", fields,
                                                      delay=(delay, BOOTH_DELAY),
                                                      cuts="products")
        return _Product.of({**fields, "sig": sig})

    def signals(self):
        return [self.sign, self.exp, self.sig, self.nan, self.inf, self.invalid]


class FloatMMA(Unit):
    """``D = A·B + C``: fp16, bf16, tf32, e4m3 or e5m2 A (M×K) and B (K×N), fp32
    or fp16 C and D (M×N).

    ``mode="tensorcore"`` is bit-compatible with the ``gpu``'s tensor cores
    (K a multiple of its block; ``instr`` picks Hopper's FP8 datapath);
    ``mode="fused"`` (fp16, e4m3, e5m2) rounds the exact ``C + Σ A·B`` once, in
    the run-time mode ``rm``, with IEEE flags.
    """

    PARAMS = (*_shape_params(),
              Param("in_fmt", "fp16", "format of A and B", choices=TENSORCORE_INPUTS),
              Param("acc_fmt", "fp32", "format of C and D", choices=("fp32", "fp16")),
              Param("mode", "fused", "numerics: fused (exact, one rounding) or tensorcore "
                    "(the gpu's measured tensor-core arithmetic)", choices=MODES),
              Param("gpu", "v100", "tensor-core generation", choices=tuple(GPUS),
                    when=Derived(lambda p: p["mode"] == "tensorcore", "mode=tensorcore")),
              Param("instr", Derived(_default_instr, "wgmma for fp32 output, else mma"),
                    "FP8 on h100/h200: wgmma (native, 13-bit block results) or mma "
                    "(mma.sync: two fp16 MMAs on interleaved pairs, then c added)",
                    choices=("none", "wgmma", "mma"),
                    when=Derived(_instr_applies, "mode=tensorcore, gpu h100 or h200 and FP8 "
                                 "in_fmt")),
              Param("arch", "infer", "significand products: inferred * (one segment) or "
                    "radix-4 Booth trees cut per level", choices=("infer", "booth")),
              STAGES_PARAM, TARGET_MHZ_PARAM)

    @classmethod
    def resolve_params(cls, given):
        values = super().resolve_params(given)
        if values["mode"] == "tensorcore":
            core = _core(values)
            if values["k"] % core.block:
                raise ValueError(f"k: must be a multiple of the {values['gpu']} "
                                 f"{values['in_fmt']} block ({core.block}), got {values['k']}")
        elif values["in_fmt"] in ("bf16", "tf32"):
            raise ValueError(f"in_fmt: mode fused sums the products exactly, in a window of "
                             f"530 bits for an 8-bit exponent: use mode=tensorcore, got "
                             f"{values['in_fmt']!r}")
        return values

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.in_fmt, self.acc_fmt = float_format(p["in_fmt"]), float_format(p["acc_fmt"])
        self.core = _core(p) if p["mode"] == "tensorcore" else None
        m_, n, k = p["m"], p["n"], p["k"]
        wi, wa = self.in_fmt.width, self.acc_fmt.width
        members = {"a": In(m_ * k * wi), "b": In(k * n * wi), "c": In(m_ * n * wa)}
        docs = {"a": (f"{m_}x{k}x{self.in_fmt.name}", f"A, row-major: A[i][j] in bits "
                      f"[{wi}*({k}*i+j), +{wi})"),
                "b": (f"{k}x{n}x{self.in_fmt.name}", f"B, row-major: B[i][j] in bits "
                      f"[{wi}*({n}*i+j), +{wi})"),
                "c": (f"{m_}x{n}x{self.acc_fmt.name}", f"C, row-major: C[i][j] in bits "
                      f"[{wa}*({n}*i+j), +{wa})")}
        if self.core is None:
            members["rm"] = In(3)
            docs["rm"] = ("round_mode", ROUND_MODE_DOC)
        members["d"] = Out(m_ * n * wa)
        docs["d"] = (f"{m_}x{n}x{self.acc_fmt.name}", "D = A*B + C, row-major like C")
        if self.core is None:
            members["flags"] = Out(m_ * n * 5)
            docs["flags"] = ("fflags", f"per element of D, 5 bits each at 5*({n}*i+j): "
                             + FLAGS_DOC)
        super().__init__(p, members, docs)

    def formats(self):
        return {"a": self.in_fmt.describe(), "b": self.in_fmt.describe(),
                "c": self.acc_fmt.describe(), "d": self.acc_fmt.describe()}

    # -- tensorcore -------------------------------------------------------

    def _tensorcore_block(self, m, core, products, two_m, c, name, phase):
        """One block FMA (SPEC.md §2-3) of ``core`` (a TensorCoreMode) on
        ``products`` (``two_m`` fraction bits) and the decoded addend ``c``
        (fp32 layout: 24-bit significand): the packed result bits. A
        generator for :meth:`Pipeline.lockstep`, cut after the terms' zero
        tests and present exponents, each level of the largest-exponent tree
        (``<phase>_emax<i>``), the anchor, the alignment distances, each
        alignment shift level (``<phase>_aligned<i>``), the signed terms, each
        level of the adder tree (``<phase>_sum<i>``), the absolute value, each
        normalization level (``<phase>_norm_*``) and the exponent
        (``<phase>_exp``), then inside the rounding."""
        f, rounding, floor = core.frac_bits, core.rm, core.e_floor
        exp_shape = signed(max(len(c.exp), *(len(p.exp) for p in products)) + 2)
        absent = -(1 << (exp_shape.width - 2))           # below every real exponent
        # On a grid narrower than c's 23 fraction bits (native FP8: 13) c loses
        # its low bits before the alignment; truncating twice truncates once.
        terms_in = [(p.sign, p.exp, p.sig << (f - two_m)) for p in products] \
            + [(c.sign, c.exp, c.sig << (f - 23) if f >= 23 else c.sig >> (23 - f))]
        nan, inf, inf_negative = self._tensorcore_specials(m, products, c, name)
        specials = {"nan": nan, "inf": inf, "inf_negative": inf_negative}
        terms = {f"t{i}_{k}": v for i, term in enumerate(terms_in)
                 for k, v in zip(("sign", "exp", "sig"), term)}

        # An absent term (zero significand) must not set the anchor: which
        # terms are present, then their exponents or one below every real one.
        nonzero = {("nz", i): sig.any() for i, (_, _, sig) in enumerate(terms_in)}
        state = yield (f"{phase}_nonzero", logic(len(terms_in[0][2])),
                       {**specials, **terms, **nonzero})
        specials, terms = {k: state[k] for k in specials}, {k: state[k] for k in terms}
        exps = []
        for i in range(len(terms_in)):
            present = Signal(exp_shape, name=f"{name}_e{i}")
            m.d.comb += present.eq(Mux(state["nz", i], terms[f"t{i}_exp"], absent))
            exps.append(present)
        state = yield (f"{phase}_present", mux(2),
                       {**specials, **terms, **{("e", i): e for i, e in enumerate(exps)}})
        exps = [state["e", i] for i in range(len(exps))]
        specials, terms = {k: state[k] for k in specials}, {k: state[k] for k in terms}

        # The largest exponent: a comparator tree, a cut point after each level.
        top, rest = yield from _max_tree_steps(m, exps, f"{name}_emax", {**specials, **terms},
                                               f"{phase}_emax")
        specials, terms = {k: rest[k] for k in specials}, {k: rest[k] for k in terms}
        anchor = Signal(exp_shape, name=f"{name}_anchor")
        m.d.comb += anchor.eq(top if floor is None else Mux(top < floor, floor, top))
        state = yield (f"{phase}_anchor", compare(exp_shape.width) + mux(2) if floor is not None
                       else Delay(), {**specials, **terms, "anchor": anchor})
        specials, terms = {k: state[k] for k in specials}, {k: state[k] for k in terms}

        # Each term aligned to the anchor: distance, shift (truncating), sign.
        anchor, count = state["anchor"], len(terms_in)
        distances = {}
        for i in range(count):
            distance = Signal(exp_shape, name=f"{name}_d{i}")
            m.d.comb += distance.eq(anchor - terms[f"t{i}_exp"])
            distances[f"d{i}"] = distance
        sigs = {k: v for k, v in terms.items() if not k.endswith("_exp")}
        state = yield (f"{phase}_distance", adder(exp_shape.width),
                       {**specials, "anchor": anchor, **sigs, **distances})
        keep = {k: state[k] for k in ("anchor", *specials)}
        sigs = {k: state[k] for k in sigs}
        sum_width = f + (4 * core.block + 2 - 1).bit_length() + 1
        # Truncate the magnitudes (f + 2 bits at most: any distance from f + 2
        # on shifts everything out) toward zero: a 4:1 mux per two low bits of
        # the distance, a cut point after each, and zero when a higher bit is
        # set; the sign comes next.
        amount_bits = (f + 2).bit_length()
        state = {**keep, **{f"mag{i}": sigs[f"t{i}_sig"] for i in range(count)},
                 **{f"sign{i}": sigs[f"t{i}_sign"] for i in range(count)},
                 **{f"a{i}": state[f"d{i}"][:amount_bits] for i in range(count)},
                 **{f"far{i}": state[f"d{i}"][amount_bits:].any() for i in range(count)}}
        far_delay = logic(exp_shape.width - amount_bits)
        for level, k in enumerate(range(0, amount_bits, 2)):
            last = k + 2 >= amount_bits
            for i in range(count):
                magnitude = shift_digit(m, state[f"mag{i}"], state[f"a{i}"], k,
                                        f"{name}_mag{i}_{level}")
                state[f"mag{i}"] = Mux(state[f"far{i}"], 0, magnitude) if last else magnitude
            if last:                             # the distances are used up
                state = {key: v for key, v in state.items()
                         if key not in {f"{x}{i}" for x in ("a", "far") for i in range(count)}}
            state = yield (f"{phase}_aligned{level}", (mux(4), far_delay) if level == 0
                           else mux(4), state)
        keep = {k: state[k] for k in keep}
        signed_terms = {}
        for i in range(count):
            term = Signal(signed(sum_width), name=f"{name}_term{i}")
            m.d.comb += term.eq(Mux(state[f"sign{i}"], -state[f"mag{i}"], state[f"mag{i}"]))
            signed_terms[i] = term
        state = yield (f"{phase}_terms", adder(f + 2) + mux(2), {**keep, **signed_terms})
        keep = {k: state[k] for k in keep}

        # The sum: an adder tree, a cut point after each level.
        total, keep = yield from adder_tree_steps(m, [state[i] for i in range(count)],
                                                  f"{name}_sum", sum_width, carried=keep,
                                                  cuts=f"{phase}_sum")

        magnitude = Signal(sum_width, name=f"{name}_abs")
        m.d.comb += magnitude.eq(Mux(total[-1], -total, total))
        state = yield (f"{phase}_abs", adder(sum_width),
                       {**keep, "magnitude": magnitude, "negative": total[-1]})
        keep = {k: state[k] for k in (*keep, "negative")}
        (sig,), (zeros,), keep = yield from normalize_left_steps(
            m, [state["magnitude"]], f"{name}_norm", keep, cuts=f"{phase}_norm")
        exp = Signal(signed(len(anchor) + 2), name=f"{name}_exp")
        m.d.comb += exp.eq(keep["anchor"] - f + (sum_width - 1) - zeros)
        keep = {k: keep[k] for k in ("nan", "inf", "inf_negative", "negative")}
        state = yield (f"{phase}_exp", adder(len(exp)), {**keep, "exp": exp, "sig": sig})

        raw = {"sign": state["negative"], "exp": state["exp"], "sig": state["sig"],
               "sticky": Const(0, 1), "is_nan": Const(0, 1), "is_inf": Const(0, 1),
               "invalid": Const(0, 1), "rm": Const(rounding, 3)}
        keep = {k: state[k] for k in ("nan", "inf", "inf_negative")}
        # Native FP8 rounds to 13 fraction bits in fp32's range; the low bits stay 0.
        acc = self.acc_fmt
        result = result_format(acc, core)
        raw, keep = yield from prepare_exponent_steps(m, raw, result, keep, f"{name}_round",
                                                      f"{phase}_round")
        rounded, flags, (negative, *specials) = yield from round_float_steps(
            m, raw, result, carried=(raw["sign"], *keep.values()), name=f"{name}_round",
            point=f"{phase}_round")
        rounded = Cat(Const(0, acc.frac_bits - result.frac_bits), rounded)
        nan, inf, inf_negative = specials
        # Overflow gives infinity even when rounding toward zero (SPEC.md §3.9);
        # NaN is 0x7FFFFFFF / 0x7FFF (§2.4).
        bits = Signal(acc.width, name=f"{name}_bits")
        m.d.comb += bits.eq(
            Mux(nan, (1 << (acc.width - 1)) - 1,
                Mux(inf, Cat(Const(acc.inf_bits, acc.width - 1), inf_negative),
                    Mux(flags[2], Cat(Const(acc.inf_bits, acc.width - 1), negative), rounded))))
        return bits

    def _tensorcore_specials(self, m, products, c, name):
        """NaN and infinity over the whole dot product (SPEC.md §2)."""
        nan = Signal(name=f"{name}_nan")
        pos_inf, neg_inf = Signal(name=f"{name}_pinf"), Signal(name=f"{name}_ninf")
        m.d.comb += [nan.eq(c.is_nan | Cat(*(p.nan for p in products)).any()),
                     pos_inf.eq((c.is_inf & ~c.sign) | Cat(*(p.inf & ~p.sign for p in products)).any()),
                     neg_inf.eq((c.is_inf & c.sign) | Cat(*(p.inf & p.sign for p in products)).any())]
        return nan | (pos_inf & neg_inf), pos_inf | neg_inf, neg_inf

    def _c_layout(self, m, bits, name):
        """C as SPEC.md §3.3 wants it: fp32 raw; fp16 as an exact normal fp32
        (true exponent, significand left-justified to 24 bits)."""
        if self.acc_fmt.name == "fp32":
            return decode(m, bits, self.acc_fmt, False, name, normalize=False)
        dc = decode(m, bits, self.acc_fmt, False, name)
        wide = Signal(24, name=f"{name}_sig24")
        m.d.comb += wide.eq(dc.sig << (24 - len(dc.sig)))
        return Decoded(dc.sign, dc.exp, wide, dc.is_zero, dc.is_inf, dc.is_nan, dc.is_snan)

    def _tensorcore_output(self, m, products, c_bits, name):
        """A whole dot product, a generator for :meth:`Pipeline.lockstep`: ``k /
        block`` chained block FMAs (each block's result, an infinity or NaN
        included, the next one's C) or pair-split groups. Later blocks'
        products ride along through the earlier blocks' cut points."""
        core, bits = self.core, c_bits
        for j in range(len(products) // core.block):
            group = products[j * core.block:(j + 1) * core.block]
            later = products[(j + 1) * core.block:]
            if core.path == "pair_split":
                steps = self._pair_split_group(m, group, bits, f"{name}_g{j}", f"tc{j}")
            else:
                steps = self._tensorcore_block(m, core, group, 2 * self.in_fmt.frac_bits,
                                               self._c_layout(m, bits, f"{name}_b{j}_c"),
                                               f"{name}_b{j}", f"tc{j}")
            bits, later = yield from alongside(
                steps, {(i, k): getattr(prod, k) for i, prod in enumerate(later) for k in _PRODUCT})
            later = [_Product.of({k: later[i, k] for k in _PRODUCT})
                     for i in range(len(products) - (j + 1) * core.block)]
            products = products[:(j + 1) * core.block] + later
        return bits

    def _pair_split_group(self, m, products, c_bits, name, phase):
        """SPEC_fp8_tf32.md §3(c) on one group of 32 products (FP8 read as the
        fp16 values they widen to): the GPU's fp16 block FMA on the pairs with
        ``k mod 4`` in {0, 1} from c = +0, again on the others from that
        result, then ``RNE(x2 + c)`` by the fused multiply-add's addition, a
        NaN as the tensor core's. A generator: the first block's cut points
        ``<phase>a_*``, the second's ``<phase>b_*``, then ``<phase>_add_*``."""
        inner, two_m = self.core.inner, 2 * self.in_fmt.frac_bits
        first = [p for i, p in enumerate(products) if i % 4 in FIRST_PAIR]
        second = [p for i, p in enumerate(products) if i % 4 not in FIRST_PAIR]
        acc = self.acc_fmt
        zero = self._c_layout(m, Const(0, acc.width), f"{name}_zero")
        carried = {**{(i, k): getattr(p, k) for i, p in enumerate(second) for k in _PRODUCT},
                   "c": c_bits}
        x1, carried = yield from alongside(
            self._tensorcore_block(m, inner, first, two_m, zero, f"{name}_x1", f"{phase}a"),
            carried)
        second = [_Product.of({k: carried[i, k] for k in _PRODUCT}) for i in range(len(second))]
        x2, (c_bits,) = yield from alongside(
            self._tensorcore_block(m, inner, second, two_m, self._c_layout(m, x1, f"{name}_x1c"),
                                   f"{name}_x2", f"{phase}b"), (carried["c"],))
        # x2 + c: x2 as the fused multiply-add's product record (leading one on top).
        dx = decode(m, x2, acc, False, f"{name}_x2d")
        dc = decode(m, c_bits, acc, False, f"{name}_cd")
        state = yield (f"{phase}_add_decode", lzc_delay(acc.frac_bits),
                       {**{f"x_{k}": v for k, v in zip(_DECODED, dx.signals())},
                        **{f"c_{k}": v for k, v in zip(_DECODED, dc.signals())}})
        x = Decoded(*(state[f"x_{k}"] for k in _DECODED))
        addend = {"sign": x.sign, "exp": x.exp - 1, "sig": x.sig, "zero": x.is_zero,
                  "nan": x.is_nan, "inf": x.is_inf, "invalid": Const(0, 1)}
        bits, _ = yield from self._add_round_steps(
            m, addend, Decoded(*(state[f"c_{k}"] for k in _DECODED)), Const(ROUND_RNE, 3),
            f"{name}_add", f"{phase}_add")
        is_nan = bits[acc.frac_bits:-1].all() & bits[:acc.frac_bits].any()
        result = Signal(acc.width, name=f"{name}_bits")
        m.d.comb += result.eq(Mux(is_nan, (1 << (acc.width - 1)) - 1, bits))
        return result

    # -- fused --------------------------------------------------------------

    def _fused_output(self, m, products, c_bits, rm, name):
        """Exact ``c + Σ products`` rounded once: the products summed in a
        fixed-point window that holds every one of them exactly (84 bits for
        4 fp16 products), normalized, then added to C by the fused
        multiply-add's two-term alignment, whose far-away operand shrinks to
        a sticky bit, and rounded by :class:`FloatRound`. A generator for
        :meth:`Pipeline.lockstep`: cut points ``fused_terms``, ``fused_sum``,
        ``fused_norm``, ``fused_aligned`` and ``fused_added``."""
        fmt, acc = self.in_fmt, self.acc_fmt
        lowest = 2 * fmt.emin                    # exponent of the smallest product's units
        sig_width = len(products[0].sig)
        width = sig_width + 2 * (fmt.emax - fmt.emin) + len(products).bit_length() + 1
        terms = []
        for i, prod in enumerate(products):
            offset = Signal(range(2 * (fmt.emax - fmt.emin) + 3), name=f"{name}_offset{i}")
            placed = Signal(width - 1, name=f"{name}_placed{i}")
            term = Signal(signed(width), name=f"{name}_term{i}")
            m.d.comb += [offset.eq(prod.exp - lowest), placed.eq(prod.sig << offset),
                         term.eq(Mux(prod.sign, -placed, placed))]
            terms.append(term)
        pos_inf = Cat(*(p.inf & ~p.sign for p in products)).any()
        neg_inf = Cat(*(p.inf & p.sign for p in products)).any()
        product_nan = Cat(*(p.nan for p in products)).any()
        dc = decode(m, c_bits, acc, False, f"{name}_c")
        rounding_down = rm == 2
        # An exact zero keeps the sign common to zero products (IEEE sum rules);
        # a cancelled sum is +0, or -0 rounding down.
        nonzero = Cat(*(p.sig.any() & ~p.nan & ~p.inf for p in products)).any()
        all_negative = Cat(*(p.sign for p in products)).all()
        any_negative = Cat(*(p.sign for p in products)).any()
        keep = {"zero_sign": Mux(nonzero, rounding_down,
                                 all_negative | (rounding_down & any_negative)),
                "pos_inf": pos_inf, "neg_inf": neg_inf, "product_nan": product_nan,
                "invalid_any": Cat(*(p.invalid for p in products)).any(), "rm": rm,
                **{f"c_{k}": v for k, v in zip(_DECODED, dc.signals())}}
        offset_bits = (2 * (fmt.emax - fmt.emin) + 3).bit_length()
        state = yield ("fused_terms", adder(offset_bits) + shifter(offset_bits) + adder(width),
                       {**keep, **{f"term{i}": t for i, t in enumerate(terms)}})

        levels = max(1, (len(products) - 1).bit_length())
        total = adder_tree(m, [state[f"term{i}"] for i in range(len(terms))], f"{name}_sum", width)
        keep = {k: state[k] for k in keep}
        state = yield ("fused_sum", adder(width) * levels, {**keep, "total": total})

        total = state["total"]
        magnitude = Signal(width, name=f"{name}_abs")
        m.d.comb += magnitude.eq(Mux(total[-1], -total, total))
        zeros = leading_zeros(m, magnitude, f"{name}_lz")
        pos_inf, neg_inf = state["pos_inf"], state["neg_inf"]
        both_inf = pos_inf & neg_inf
        nan = state["product_nan"] | both_inf
        exp_shape = signed((abs(lowest - 2 * fmt.frac_bits) + width).bit_length() + 1)
        product = {
            "sign": Mux(pos_inf | neg_inf, neg_inf,
                        Mux(magnitude.any(), total[-1], state["zero_sign"])),
            # the exponent of the second bit from the top of the normalized sum
            "exp": (lowest - 2 * fmt.frac_bits) + (width - 2) - zeros,
            "sig": magnitude << zeros,
            "zero": ~magnitude.any(),
            "nan": nan,
            "inf": (pos_inf | neg_inf) & ~nan,
            # +inf + -inf is invalid unless a NaN operand already makes the result NaN.
            "invalid": state["invalid_any"] | (both_inf & ~state["product_nan"] & ~state["c_is_nan"]),
        }
        shapes = {"sign": 1, "exp": exp_shape, "sig": width, "zero": 1, "nan": 1, "inf": 1,
                  "invalid": 1}
        named = {}
        for key, value in product.items():
            named[key] = Signal(shapes[key], name=f"{name}_prod_{key}")
            m.d.comb += named[key].eq(value)
        keep = {"rm": state["rm"], **{f"c_{k}": state[f"c_{k}"] for k in _DECODED}}
        state = yield ("fused_norm", adder(width) + lzc_delay(width) + shifter(width.bit_length()),
                       {**keep, **{f"prod_{k}": v for k, v in named.items()}})

        named = {k: state[f"prod_{k}"] for k in named}
        dc = Decoded(*(state[f"c_{k}"] for k in _DECODED))
        return (yield from self._add_round_steps(m, named, dc, state["rm"], name, "fused"))

    def _add_round_steps(self, m, prod, dc, rm, name, phase):
        """``round(prod + c)`` in the accumulator format by the fused
        multiply-add's two-term alignment, whose far-away operand shrinks to a
        sticky bit, and :class:`FloatRound`: ``(bits, flags)``. ``prod``: the
        record :func:`~hw.fma.align_addend` takes (leading one in the top two
        bits of ``sig``, ``exp`` that of the second bit from the top). A
        generator: cut points ``<phase>_aligned``, ``<phase>_added`` and
        ``<phase>_round*``."""
        acc = self.acc_fmt
        aligned = align_addend(m, prod, dc, acc, acc, prefix=f"{name}_align")
        align = sum((d for _, d in align_steps(m, len(prod["sig"]), acc, acc, f"{name}_unused")),
                    Delay())
        state = yield (f"{phase}_aligned", align, {**aligned, "rm": rm})

        raw = add_aligned(m, state, state["rm"], prefix=f"{name}_add")
        window = len(state["product"])
        raw = yield (f"{phase}_added", sum_delay(window), {**raw, "rm": state["rm"]})
        raw = {"sign": raw["sign"], "exp": raw["exp"], "sig": raw["sig"], "sticky": Const(0, 1),
               "is_nan": raw["nan"], "is_inf": raw["inf"] & ~raw["nan"],
               "invalid": raw["invalid"], "rm": raw["rm"]}
        raw, _ = yield from prepare_exponent_steps(m, raw, acc, None, f"{name}_round",
                                                   f"{phase}_round")
        bits, flags, _ = yield from round_float_steps(m, raw, acc, name=f"{name}_round",
                                                      point=f"{phase}_round")
        return bits, flags

    def _output(self, m, da, db, local):
        """Datapath generator of one output in its lane ``m``: the K products
        of row ``da`` and column ``db`` (inferred and cut at ``products``, or
        Booth trees), C (and ``rm``) alongside, then the tensor-core or fused
        dot product; returns the lane's output ports."""
        booth = self.params["arch"] == "booth"
        products = [_Product(m, x, y, f"p{kk}", multiply=not booth)
                    for kk, (x, y) in enumerate(zip(da, db))]
        carried = {key: local[key] for key in ("c", "rm") if key in local}
        exp_sum = adder(self.in_fmt.exp_bits + 2)
        if booth:
            products, carried = yield from alongside(
                side_by_side([prod.booth_steps(m, exp_sum) for prod in products]), carried)
        else:
            sig_bits = self.in_fmt.frac_bits + 1
            state = yield ("products", (exp_sum, multiplier_delay(sig_bits, sig_bits)),
                           {**{(kk, key): getattr(prod, key) for kk, prod in enumerate(products)
                               for key in _PRODUCT}, **carried})
            products = [_Product.of({key: state[kk, key] for key in _PRODUCT})
                        for kk in range(len(products))]
            carried = {key: state[key] for key in carried}
        if self.core is not None:
            bits = yield from self._tensorcore_output(m, products, carried["c"], "o")
            return lane_output(m, "d", bits)
        bits, flags = yield from self._fused_output(m, products, carried["c"], carried["rm"], "o")
        return lane_output(m, "d", bits), lane_output(m, "flags", flags)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        rows, cols, depth = p["m"], p["n"], p["k"]
        wi, wa = self.in_fmt.width, self.acc_fmt.width
        pipe = self.pipeline(m)
        rm = self.rm if self.core is None else Const(0, 3)
        a, b, c, rm = pipe.cut("in", self.a, self.b, self.c, rm)

        # Operands keep subnormal leading zeros (the window aligns them anyway),
        # except where the pair split reads E4M3 as the fp16 normals it widens to.
        normalize = (self.core is not None and self.core.path == "pair_split"
                     and self.in_fmt.name == "e4m3")

        def decoded(value, index, name):
            return decode(m, _element(value, index, wi), self.in_fmt, False, name,
                          normalize=normalize)
        da = [decoded(a, i * depth + kk, f"a{i}_{kk}") for i in range(rows) for kk in range(depth)]
        db = [decoded(b, kk * cols + j, f"b{kk}_{j}") for kk in range(depth) for j in range(cols)]
        flat = pipe.cut("decoded", *(v for d in da + db for v in d.signals()), c, rm,
                        delay=decode_delay(self.in_fmt, False, normalize=normalize)
                        + (lzc_delay(self.in_fmt.frac_bits) if normalize else Delay()))
        *flat, c, rm = flat
        operands = [Decoded(*flat[7 * i:7 * i + 7]) for i in range(len(da) + len(db))]
        da = [operands[i * depth:(i + 1) * depth] for i in range(rows)]
        db = [operands[len(da) * depth + kk * cols:len(da) * depth + (kk + 1) * cols]
              for kk in range(depth)]

        # Every output in a submodule of its own (identical ones: synthesized
        # once), all through the same cut points.
        lanes, datapaths = [], []
        for i in range(rows):
            for j in range(cols):
                inputs = {"c": _element(c, i * cols + j, wa)}
                if self.core is None:
                    inputs["rm"] = rm
                for kk in range(depth):
                    for side, operand in (("a", da[i][kk]), ("b", db[kk][j])):
                        inputs.update({f"{side}{kk}_{field}": value for field, value
                                       in zip(_DECODED, operand.signals())})
                module, local = lane(m, f"o{i}_{j}", inputs)
                row, column = ([Decoded(*(local[f"{side}{kk}_{field}"] for field in _DECODED))
                                for kk in range(depth)] for side in "ab")
                lanes.append(module)
                datapaths.append(self._output(module, row, column, local))
        results = pipe.lockstep(datapaths, lanes)
        if self.core is None:
            d, flag_bits = pipe.cut("out", Cat(*(bits for bits, _ in results)),
                                    Cat(*(fl for _, fl in results)), delay=ENCODE_DELAY)
            m.d.comb += self.flags.eq(flag_bits)
        else:
            d = pipe.cut("out", Cat(*results), delay=ENCODE_DELAY + Delay(luts=1))
        m.d.comb += self.d.eq(d)
        pipe.finish()
        return m


class IntMMA(Unit):
    """``D = A·B + C`` on integers: int8/uint8 A and B, int32 C and D, each
    output an N-way dot product (:class:`~hw.mac.IntMAC`'s one-tree dp4a)."""

    PARAMS = (*_shape_params(),
              Param("in_bits", 8, "width of the elements of A and B", lo=2, hi=16),
              Param("a_signed", True, "A is two's complement"),
              Param("b_signed", True, "B is two's complement"),
              Param("acc_width", 32, "width of C and D", lo=16, hi=64),
              Param("overflow", "wrap", "what a sum outside the accumulator becomes",
                    choices=OVERFLOW_MODES),
              Param("arch", "infer", "products: inferred * or radix-4 Booth rows in one "
                    "Dadda tree per output", choices=("infer", "booth")),
              STAGES_PARAM, TARGET_MHZ_PARAM)

    @classmethod
    def resolve_params(cls, given):
        values = super().resolve_params(given)
        need = 2 * values["in_bits"]
        if values["acc_width"] < need:
            raise ValueError(f"acc_width: must be in_bits * 2 ({need})..64, "
                             f"got {values['acc_width']}")
        return values

    def __init__(self, **params):
        p = self.resolve_params(params)
        m_, n, k, w, wa = p["m"], p["n"], p["k"], p["in_bits"], p["acc_width"]
        self.acc_signed = p["a_signed"] or p["b_signed"]

        def kind(is_signed, bits):
            return f"{'int' if is_signed else 'uint'}{bits}"
        members = {"a": In(m_ * k * w), "b": In(k * n * w), "c": In(m_ * n * wa),
                   "d": Out(m_ * n * wa), "ovf": Out(m_ * n)}
        docs = {"a": (f"{m_}x{k}x{kind(p['a_signed'], w)}", f"A, row-major: A[i][j] in bits "
                      f"[{w}*({k}*i+j), +{w})"),
                "b": (f"{k}x{n}x{kind(p['b_signed'], w)}", f"B, row-major: B[i][j] in bits "
                      f"[{w}*({n}*i+j), +{w})"),
                "c": (f"{m_}x{n}x{kind(self.acc_signed, wa)}", "C, row-major: C[i][j] in bits "
                      f"[{wa}*({n}*i+j), +{wa})"),
                "d": (f"{m_}x{n}x{kind(self.acc_signed, wa)}",
                      f"D = A*B + C, row-major like C, {p['overflow']} on overflow"),
                "ovf": ("flag", f"bit {n}*i+j: D[i][j]'s exact sum was outside the accumulator")}
        super().__init__(p, members, docs)

    def _output(self, m, local):
        """Datapath generator of one output in its lane ``m`` (inputs ``local``:
        ``a<k>``, ``b<k>``, ``c``): the dot product and C in one tree (cut like
        IntMAC's), then the fit to the accumulator; returns the lane's output
        ports."""
        p = self.params
        w, wa = p["in_bits"], p["acc_width"]
        a_fmt, b_fmt = QFormat(w, 0, p["a_signed"]), QFormat(w, 0, p["b_signed"])
        acc_fmt = QFormat(wa, 0, self.acc_signed)

        def lane_value(value, is_signed):
            return value.as_signed() if is_signed else value
        a_lanes = [lane_value(local[f"a{kk}"], p["a_signed"]) for kk in range(p["k"])]
        b_lanes = [lane_value(local[f"b{kk}"], p["b_signed"]) for kk in range(p["k"])]
        # C[i][j] is one more row of the tree.
        total, _ = yield from sum_of_products_steps(m, a_lanes, b_lanes, a_fmt, b_fmt,
                                                    p["arch"] == "booth", (), name="o",
                                                    addend=lane_value(local["c"], self.acc_signed))
        fitted, outside = narrow(m, total, QFormat(len(total), 0, True), acc_fmt, "trunc",
                                 p["overflow"])
        values = yield ("out", Delay(luts=2), {"y": fitted, "ovf": outside})
        return lane_output(m, "d", values["y"]), lane_output(m, "ovf", values["ovf"])

    def elaborate(self, platform):
        p = self.params
        m = Module()
        rows, cols, depth, w, wa = p["m"], p["n"], p["k"], p["in_bits"], p["acc_width"]
        pipe = self.pipeline(m)
        a, b, c = pipe.cut("in", self.a, self.b, self.c)
        # Every output's tree in a submodule of its own (identical ones:
        # synthesized once), all through the same cut points.
        lanes, datapaths = [], []
        for i in range(rows):
            for j in range(cols):
                module, local = lane(m, f"o{i}_{j}", {
                    "c": _element(c, i * cols + j, wa),
                    **{f"a{kk}": _element(a, i * depth + kk, w) for kk in range(depth)},
                    **{f"b{kk}": _element(b, kk * cols + j, w) for kk in range(depth)}})
                lanes.append(module)
                datapaths.append(self._output(module, local))
        results = pipe.lockstep(datapaths, lanes)
        m.d.comb += [self.d.eq(Cat(*(y for y, _ in results))),
                     self.ovf.eq(Cat(*(ovf for _, ovf in results)))]
        pipe.finish()
        return m
