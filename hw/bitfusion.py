"""Bit Fusion (Sharma et al., ISCA 2018): BitBricks composed at run time into
multi-precision multipliers whose products are summed into one dot product.

A Fusion Unit has ``k * k`` BitBricks, ``k = max_prec // min_prec``, on a
grid of rows ``r`` (activation side) and columns ``c`` (weight side). At
precisions ``(pa, pb)`` brick ``(r, c)`` multiplies activation slice
``ja = r mod (pa/min_prec)`` by weight slice ``jw = c mod (pb/min_prec)`` of
pair ``i = r div (pa/min_prec) + (max_prec/pa) * (c div (pb/min_prec))``;
the sign-extension bit of a slice is set only when it is the top slice of a
signed operand. The brick's product weighs ``2**(min_prec*(ja + jw))``, so
the shift-add tree needs one choice per level and operand: a level first
pairs columns ``c`` differing in bit ``l`` (the right one shifted by
``min_prec << l`` if the weights are wider than ``min_prec << l``, "wide",
else added unshifted, "narrow"), then rows likewise for the activations.
Products of different pairs thereby add unshifted into the dot product.
Levels alternate axes (columns then rows at level 0, then at level 1, ...),
so the partial sums grow evenly and the tree's adders stay narrow.

With this numbering the activation slice of a brick depends only on the
weight precision (``r + k * (c div (pb/min_prec))``), which keeps the input
multiplexers small; each is a tree of 2:1 multiplexers on the precision code
bits that treats illegal codes as don't-cares (an illegal mode's dot product
is forced to 0 at the end anyway).

A brick's product is computed as an unsigned slice product plus sign
corrections (:func:`_brick_product`, shared with :class:`BitBrick`), which
synthesizes smaller than a signed multiplier of the extended slices; or, with
``brick=table`` for 2-bit slices, as a table of its six inputs (one LUT6 per
bit on an FPGA: fewer LUTs and no carry chain, more ASIC gates). The core
inlines it rather than instantiating a :class:`BitBrick` per brick.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import Derived, Param
from .pipeline import Delay, Pipeline, adder, logic, lookup, mux
from .unit import ACCUMULATOR_STAGES_PARAM, STAGES_PARAM, TARGET_MHZ_PARAM, Unit

#: A brick's slice selection (a mux and its sign extension bit).
SLICE_DELAY = mux(4) + Delay(luts=1)


BRICK_PARAM = Param("brick", "adder", "brick products: sign-corrected slice product (fewest "
                    "ASIC gates) or, for 2-bit slices, a table of the six inputs (fewer FPGA "
                    "LUTs, no carry chain)", choices=("adder", "table"))


def check_brick(brick, width):
    """Refuse a table brick for slices wider than 2 bits (before any hardware)."""
    if brick == "table" and width != 2:
        raise ValueError(f"brick: table needs 2-bit slices, got {width}-bit ones; use adder")


def brick_delay(width, brick):
    """A brick's product (:func:`_brick_product`) of ``width``-bit slices."""
    if brick == "table":
        return logic(2 * width + 2)
    return logic(2 * width + 2) + adder(2 * width + 2)

__all__ = ["BitBrick", "FusionCore", "FusionUnit", "brick_routing", "mode_doc", "packing_doc"]

MODE_WIDTH = 6


def _signed_width(lo, hi):
    """Bits of the smallest two's complement word holding ``lo..hi``."""
    return max((-lo - 1).bit_length(), hi.bit_length()) + 1


def brick_routing(max_prec, min_prec, code_a, code_b):
    """For legal precision codes: ``{(r, c): (a_slice, w_slice, a_top, w_top)}``,
    the packed slice indices brick ``(r, c)`` reads and whether each is the top
    slice of its operand."""
    k = max_prec // min_prec
    ha, hb = 1 << code_a, 1 << code_b                      # slices per operand
    pairs_per_column = k // ha
    routing = {}
    for r in range(k):
        for c in range(k):
            pair = r // ha + pairs_per_column * (c // hb)
            routing[r, c] = (pair * ha + r % ha, pair * hb + c % hb,
                             r % ha == ha - 1, c % hb == hb - 1)
    return routing


def packing_doc(max_prec, side):
    return (f"{side} operands packed low first: at this side's precision p (mode) pair i is "
            f"bits [i*p, (i+1)*p), signed or unsigned per mode; "
            f"(max_prec/pa)*(max_prec/pb) pairs, max_prec = {max_prec}; higher bits ignored")


def mode_doc(max_prec, min_prec):
    codes = ", ".join(f"{c}: {min_prec << c}" for c in range(4) if min_prec << c <= max_prec)
    return (f"bits[1:0] a precision code, bits[3:2] w precision code ({codes}; others "
            f"illegal: the operation adds 0 and sets mode_error), bit 4 a signed, bit 5 w signed")


class BitBrick(Unit):
    """``min_prec`` x ``min_prec`` slice multiplier: each slice becomes a
    ``(min_prec + 1)``-bit signed number whose extra top bit copies the slice's
    sign bit when ``*_sign_ext`` is set (top slice of a signed operand), else 0."""

    PARAMS = (Param("width", 2, "slice width (the Fusion Unit's min_prec)", choices=(2, 4)),
              BRICK_PARAM, STAGES_PARAM, TARGET_MHZ_PARAM)

    def __init__(self, **params):
        p = self.resolve_params(params)
        width = p["width"]
        check_brick(p["brick"], width)
        members = {"a": In(width), "a_sign_ext": In(1), "w": In(width), "w_sign_ext": In(1),
                   "product": Out(signed(2 * width + 2))}
        docs = {"a": (f"uint{width}", "activation slice"),
                "a_sign_ext": ("control", "extend a with its top bit (top slice of a signed "
                               "operand) instead of 0"),
                "w": (f"uint{width}", "weight slice"),
                "w_sign_ext": ("control", "extend w with its top bit instead of 0"),
                "product": (f"int{2 * width + 2}", "signed product of the extended slices")}
        super().__init__(p, members, docs)

    def elaborate(self, platform):
        m = Module()
        brick = self.params["brick"]
        product = _brick_product(m, self.a, self.a_sign_ext, self.w, self.w_sign_ext, "brick",
                                 table=brick == "table")
        pipe = self.pipeline(m)
        m.d.comb += self.product.eq(pipe.cut("out", product, delay=brick_delay(len(self.a), brick)))
        pipe.finish()
        return m


class _Mode:
    """Fields of the mode word, and which precision codes are legal."""

    def __init__(self, m, mode, levels, name):
        self.code_a, self.code_b = mode[0:2], mode[2:4]
        self.a_signed, self.w_signed = mode[4], mode[5]
        self.legal = Signal(name=f"{name}_legal")
        m.d.comb += self.legal.eq((self.code_a <= levels) & (self.code_b <= levels))
        # Level l of the tree shifts when the operand spans more than 2**l slices.
        self.wide_a = Signal(max(levels, 1), name=f"{name}_wide_a")
        self.wide_w = Signal(max(levels, 1), name=f"{name}_wide_w")
        m.d.comb += [self.wide_a[l].eq(self.code_a > l) for l in range(levels)]
        m.d.comb += [self.wide_w[l].eq(self.code_b > l) for l in range(levels)]


def _mux_plan(choices, values, bits):
    """Cheapest tree of 2:1 multiplexers picking ``choices[v]`` for each of
    ``values``, splitting on the select ``bits``: ``(muxes, plan)``, plan a
    slice index or ``(bit, plan_if_0, plan_if_1)``. Select values outside
    ``values`` are don't-cares."""
    indices = {choices[v] for v in values}
    if len(indices) == 1:
        return 0, indices.pop()
    best = None
    for bit in bits:
        rest = [other for other in bits if other != bit]
        low = [v for v in values if not (v >> bit) & 1]
        high = [v for v in values if (v >> bit) & 1]
        if not low or not high:
            continue
        low_cost, low_plan = _mux_plan(choices, low, rest)
        high_cost, high_plan = _mux_plan(choices, high, rest)
        candidate = (low_cost + high_cost + 1, (bit, low_plan, high_plan))
        if best is None or candidate[0] < best[0]:
            best = candidate
    return best


def _slice_mux(m, word, width, choices, select, name):
    """``width``-bit slice of ``word`` chosen by ``select`` among ``choices``
    (select value -> slice index); other select values are don't-cares."""
    def build(plan):
        if isinstance(plan, int):
            return word.word_select(plan, width)
        bit, low, high = plan
        return Mux(select[bit], build(high), build(low))
    out = Signal(width, name=name)
    m.d.comb += out.eq(build(_mux_plan(choices, list(choices), list(range(len(select))))[1]))
    return out


def _brick_product(m, a, a_sign_ext, w, w_sign_ext, name, table=False):
    """What :class:`BitBrick` computes. With ``sa = a[-1] & a_sign_ext`` the
    extended activation is ``a - 2**b * sa`` (likewise ``sw`` for the
    weight). The product is the unsigned slice product plus sign
    corrections, ``a*w - 2**b * (sa*w + sw*a) + 2**(2b) * sa*sw``, which
    Yosys adds in one carry-save sum; or, with ``table``, a table of the
    inputs (a mux tree of constants: one 6-input LUT per bit for 2-bit slices)."""
    b = len(a)
    product = Signal(signed(2 * b + 2), name=f"{name}_product")
    if table:
        def value(index):
            x, y = index & ((1 << b) - 1), (index >> b) & ((1 << b) - 1)
            x -= ((x >> (b - 1)) & (index >> 2 * b) & 1) << b
            y -= ((y >> (b - 1)) & (index >> (2 * b + 1)) & 1) << b
            return x * y
        index = Cat(a, w, a_sign_ext, w_sign_ext)
        m.d.comb += product.eq(lookup(index, [value(i) for i in range(1 << len(index))],
                                      product.shape()))
        return product
    a_sign, w_sign = Signal(name=f"{name}_a_sign"), Signal(name=f"{name}_w_sign")
    m.d.comb += [a_sign.eq(a[-1] & a_sign_ext), w_sign.eq(w[-1] & w_sign_ext),
                 product.eq(a * w - (Mux(a_sign, w, 0) << b) - (Mux(w_sign, a, 0) << b)
                            + ((a_sign & w_sign) << (2 * b)))]
    return product


def fusion_datapath(m, a, w, mode, max_prec, min_prec, pipe, carried=(), brick="adder"):
    """Bricks (products as ``brick`` says) and shift-add tree for packed
    ``a``, ``w`` and ``mode``.

    ``pipe`` has cut points after the slice selection (``"slices"``), after
    the brick products (``"bricks"``) and after each tree level
    (``"tree_<w|a><level>"``); ``carried`` signals pass through them.
    Returns ``(dot, legal, carried)``: the exact dot product (0 for an
    illegal mode, one LUT after the last cut) and whether the mode was legal.
    """
    k = max_prec // min_prec
    levels = k.bit_length() - 1
    b = min_prec
    fields = _Mode(m, mode, levels, "mode")
    codes = range(levels + 1)
    routes = {(ca, cb): brick_routing(max_prec, min_prec, ca, cb) for ca in codes for cb in codes}
    control = (fields.wide_a, fields.wide_w, fields.legal, *carried)

    def cut(name, values, delay):
        """``values`` (a dict) and the control signals across cut point ``name``."""
        nonlocal control
        out = pipe.cut_many(name, (*values.values(), *control), delay=delay)
        control = out[len(values):]
        return dict(zip(values, out))

    slices = {}
    for r in range(k):
        for c in range(k):
            a_choice = {cb: routes[0, cb][r, c][0] for cb in codes}
            w_choice = {ca | cb << 2: routes[ca, cb][r, c][1] for ca in codes for cb in codes}
            a_top = [ca for ca in codes if routes[ca, 0][r, c][2]]
            w_top = [cb for cb in codes if routes[0, cb][r, c][3]]
            slices[r, c, "a"] = _slice_mux(m, a, b, a_choice, fields.code_b, f"brick_{r}_{c}_a")
            slices[r, c, "a_ext"] = fields.a_signed & _any_of(fields.code_a, a_top, levels)
            slices[r, c, "w"] = _slice_mux(m, w, b, w_choice, mode[0:4], f"brick_{r}_{c}_w")
            slices[r, c, "w_ext"] = fields.w_signed & _any_of(fields.code_b, w_top, levels)
    slices = cut("slices", slices, SLICE_DELAY)
    # Products fit 2b+1 bits: slices are in -2**(b-1) .. 2**b - 1.
    lo, hi = (1 - (1 << b)) << (b - 1), ((1 << b) - 1) ** 2
    products = {}
    for r in range(k):
        for c in range(k):
            node = Signal(signed(_signed_width(lo, hi)), name=f"bricks_p{r}_{c}")
            m.d.comb += node.eq(_brick_product(m, slices[r, c, "a"], slices[r, c, "a_ext"],
                                               slices[r, c, "w"], slices[r, c, "w_ext"],
                                               f"brick_{r}_{c}", table=brick == "table"))
            products[r, c] = node
    values = cut("bricks", products, brick_delay(b, brick))
    nodes = {key: (value, lo, hi) for key, value in values.items()}

    # Each level pairs columns (weight slices), then rows (activation slices).
    for level in range(levels):
        for axis, tag in ((1, "w"), (0, "a")):
            wide = control[0] if axis == 0 else control[1]
            shift = b << level
            merged = {}
            for key, (left, llo, lhi) in nodes.items():
                if (key[axis] >> level) & 1:
                    continue
                partner = list(key)
                partner[axis] |= 1 << level
                right, rlo, rhi = nodes[tuple(partner)]
                nlo = min(llo + rlo, llo + (rlo << shift))
                nhi = max(lhi + rhi, lhi + (rhi << shift))
                node = Signal(signed(_signed_width(nlo, nhi)),
                              name=f"tree_{tag}{level}_{key[0]}_{key[1]}")
                m.d.comb += node.eq(left + Mux(wide[level], right << shift, right))
                merged[key] = (node, nlo, nhi)
            width = max(len(node) for node, _, _ in merged.values())
            values = cut(f"tree_{tag}{level}", {key: v[0] for key, v in merged.items()},
                         Delay(luts=1) + adder(width))
            nodes = {key: (values[key], *merged[key][1:]) for key in merged}
    total, tlo, thi = nodes[0, 0]
    legal, carried = control[2], control[3:]
    dot = Signal(signed(_signed_width(tlo, thi)), name="tree_dot")
    m.d.comb += dot.eq(Mux(legal, total, 0))
    return dot, legal, carried


def _any_of(code, values, levels):
    """1 where ``code`` is one of the legal ``values`` (constant when trivial)."""
    if set(values) >= set(range(levels + 1)):
        return Const(1)
    if not values:
        return Const(0)
    result = code == values[0]
    for value in values[1:]:
        result = result | (code == value)
    return result


_PREC_PARAMS = (
    Param("max_prec", 8, "largest operand precision", choices=(8, 16)),
    Param("min_prec", Derived(lambda p: p["max_prec"] // 4, "max_prec / 4"),
          "smallest operand precision: the BitBrick slice width", choices=(2, 4)),
)


def _packed_width(p):
    return p["max_prec"] * p["max_prec"] // p["min_prec"]


class FusionCore(wiring.Component):
    """The Fusion Unit's combinational dot product, without the accumulator:
    what the formal proof checks against ``$mul``."""

    def __init__(self, max_prec=8, min_prec=2, brick="adder"):
        check_brick(brick, min_prec)
        self.max_prec, self.min_prec, self.brick = max_prec, min_prec, brick
        width = max_prec * max_prec // min_prec
        super().__init__({"a": In(width), "w": In(width), "mode": In(MODE_WIDTH),
                          "dot": Out(signed(2 * max_prec + 2)), "mode_error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        pipe = Pipeline(m, 0)
        dot, legal, _ = fusion_datapath(m, self.a, self.w, self.mode, self.max_prec,
                                        self.min_prec, pipe, brick=self.brick)
        pipe.finish()
        m.d.comb += [self.dot.eq(dot), self.mode_error.eq(~legal)]
        return m


class FusionUnit(Unit):
    """Run-time composable multi-precision dot product into an accumulator:
    ``acc <- (clear ? 0 : acc) + sum_i a_i * w_i`` over the pairs packed in
    ``a`` and ``w`` at the precisions and signedness ``mode`` gives, one
    operation per cycle, mode free to change on every cycle."""

    PARAMS = _PREC_PARAMS + (
        Param("acc_width", Derived(lambda p: max(32, 2 * p["max_prec"] + 1),
                                   "max(32, 2*max_prec + 1)"),
              "accumulator width (two's complement, wrapping); at least one unsigned "
              "max_prec x max_prec product", lo=Derived(lambda p: 2 * p["max_prec"] + 1,
                                                        "2*max_prec + 1"), hi=64),
        BRICK_PARAM,
        ACCUMULATOR_STAGES_PARAM,
        TARGET_MHZ_PARAM,
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        check_brick(p["brick"], p["min_prec"])
        width = _packed_width(p)
        members = {"a": In(width), "w": In(width), "mode": In(MODE_WIDTH), "clear": In(1),
                   "acc": Out(signed(p["acc_width"])), "mode_error": Out(1)}
        docs = {"a": ("bitfusion_packed", packing_doc(p["max_prec"], "activation")),
                "w": ("bitfusion_packed", packing_doc(p["max_prec"], "weight")),
                "mode": ("bitfusion_mode", mode_doc(p["max_prec"], p["min_prec"])),
                "clear": ("control", "start a new sum with this operation's products"),
                "acc": (f"int{p['acc_width']}", "running sum of the pair products, wrapping"),
                "mode_error": ("flag", "the operation of this result had an illegal mode "
                               "(it added 0)")}
        super().__init__(p, members, docs)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        # The accumulator register is the last rank; the others go on the way to it.
        pipe = self.pipeline(m, own_registers=1)
        a, w, mode, clear = pipe.cut("in", self.a, self.w, self.mode, self.clear)
        dot, legal, (clear,) = fusion_datapath(m, a, w, mode, p["max_prec"], p["min_prec"],
                                               pipe, (clear,), p["brick"])
        dot, legal, clear = pipe.cut("dot", dot, legal, clear, delay=Delay(luts=1))
        acc = Signal(signed(p["acc_width"]), name="acc_value")
        error = Signal(name="acc_mode_error")
        with m.If(pipe.register("acc", delay=adder(p["acc_width"]) + Delay(luts=1))):
            m.d.sync += [acc.eq(Mux(clear, 0, acc) + dot), error.eq(~legal)]
        m.d.comb += [self.acc.eq(acc), self.mode_error.eq(error)]
        pipe.finish()
        return m
