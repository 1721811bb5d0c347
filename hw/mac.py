"""Integer multiply-accumulate: N-way dot products (CUDA's ``__dp4a``) and
running-sum MACs, built from the fixed-point multiplier's pieces.

Products are exact; their sum with the addend (input ``c``, or the
accumulator register) is exact in a wide enough word and then fitted to the
accumulator by the fixed-point multiplier's :func:`~hw.fixed.narrow`
(wrap or saturate, with an overflow bit). With ``arch="booth"`` the Booth
partial products of every lane and the addend go into one Dadda tree and a
single carry-propagate adder, rather than a product adder per lane and a
chain of sums.
"""

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from ..golden.formats import OVERFLOW_MODES, QFormat

from .booth import BOOTH_DELAY, booth_partial_products, reduce_and_add_steps
from .fixed import narrow
from .params import Derived, Param
from .pipeline import Delay, adder, drive, multiplier_delay, through
from .unit import OPTIONAL_ACCUMULATOR_STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["IntMAC", "adder_tree", "adder_tree_steps", "sum_of_products", "sum_of_products_steps"]


def _shape(width, is_signed):
    return signed(width) if is_signed else unsigned(width)


def adder_tree(m, values, name, width=None):
    """Balanced tree summing signed ``values`` (depth log2 N, not a chain of N
    adders); each level widens by one bit unless ``width`` fixes every sum."""
    total, _ = drive(None, adder_tree_steps(m, values, name, width))
    return total


def adder_tree_steps(m, values, name, width=None, carried=(), cuts=None):
    """:func:`adder_tree` as a datapath generator: a cut point
    ``<cuts><level>`` after each level (default ``name``), ``carried``
    alongside; returns ``(sum, carried)``."""
    cuts = cuts or name
    level = 0
    while len(values) > 1:
        paired = []
        for i in range(0, len(values) - 1, 2):
            size = width or max(len(values[i]), len(values[i + 1])) + 1
            total = Signal(signed(size), name=f"{name}_l{level}_{i // 2}")
            m.d.comb += total.eq(values[i] + values[i + 1])
            paired.append(total)
        values = paired + values[len(values) & ~1:]
        sums, carried = yield from through(f"{cuts}{level}", adder(max(map(len, paired))),
                                           dict(enumerate(values)), carried)
        values = [sums[i] for i in range(len(values))]
        level += 1
    return values[0], carried


def sum_of_products(m, pipe, a_lanes, b_lanes, a_fmt, b_fmt, booth, carried, name="mac",
                    addend=None):
    """The exact ``Σ a_i·b_i`` (``+ addend`` if given) of integer lanes
    (formats ``a_fmt``, ``b_fmt``) through ``pipe``'s cut points, ``carried``
    values alongside; returns ``(sum, carried)``, the sum wide enough to be
    exact. Booth: every lane's partial products and the addend in one Dadda
    tree and one adder (:func:`~hw.booth.reduce_and_add`, cut at every tree
    level); else inferred products and a balanced adder tree, one cut after it."""
    return drive(pipe, sum_of_products_steps(m, a_lanes, b_lanes, a_fmt, b_fmt, booth, carried,
                                             name, addend=addend))


def sum_of_products_steps(m, a_lanes, b_lanes, a_fmt, b_fmt, booth, carried, name="mac",
                          cuts="mac", addend=None):
    """:func:`sum_of_products` as a datapath generator with cut points named
    after ``cuts`` (shared by datapaths in lockstep) and signals after ``name``."""
    n = len(a_lanes)
    corners = [x * y for x in (a_fmt.min, a_fmt.max) for y in (b_fmt.min, b_fmt.max)]
    lo, hi = n * min(corners), n * max(corners)
    if addend is not None:
        shape = addend.shape()
        lo += -(1 << (shape.width - 1)) if shape.signed else 0
        hi += (1 << (shape.width - (1 if shape.signed else 0))) - 1
    sum_width = max(abs(lo), hi + 1).bit_length() + 1
    products = Signal(signed(sum_width), name=f"{name}_products")
    if booth:
        columns = [[] for _ in range(sum_width)]
        for x, y in zip(a_lanes, b_lanes):
            for col, bits in zip(columns, booth_partial_products(
                    m, x.as_unsigned(), a_fmt.signed, y.as_unsigned(), b_fmt.signed, sum_width)):
                col.extend(bits)
        if addend is not None:
            # One more row, sign-extended to the width of the sum.
            for k, col in enumerate(columns):
                if k < len(addend) or addend.shape().signed:
                    col.append(addend[min(k, len(addend) - 1)])
        total, carried = yield from reduce_and_add_steps(m, columns, name, carried,
                                                         delay=BOOTH_DELAY, cuts=cuts)
        m.d.comb += products.eq(total)
        return products, carried
    terms = []
    for i, (x, y) in enumerate(zip(a_lanes, b_lanes)):
        product = Signal(signed(a_fmt.width + b_fmt.width + 1), name=f"{name}_product{i}")
        m.d.comb += product.eq(x * y)
        terms.append(product)
    # The addend joins after the products' tree, whose adders stay as narrow as the products.
    total = adder_tree(m, terms, f"{name}_sum")
    m.d.comb += products.eq(total if addend is None else total + addend)
    values, carried = yield from through(
        "products", multiplier_delay(a_fmt.width, b_fmt.width)
        + adder(sum_width) * ((n - 1).bit_length() + (addend is not None)),
        {"products": products}, carried)
    return values["products"], carried


class IntMAC(Unit):
    """``y = c + Σ a_i·b_i`` (``accumulate=False``) or ``acc <- acc + Σ a_i·b_i``
    (``accumulate=True``, ``clear`` restarts the sum), over ``lanes`` products.

    Lane ``i`` of ``a`` and ``b`` sits in bits ``[i*width, (i+1)*width)`` of the
    packed ports, as ``__dp4a`` packs four bytes in a word. The accumulator is
    signed unless both operands are unsigned. ``ovf`` says the exact sum fell
    outside the accumulator (for a running sum: sticky since the last ``clear``).
    """

    PARAMS = (
        Param("a_width", 8, "width of each lane of a", lo=2, hi=32),
        Param("a_signed", True, "lanes of a are two's complement"),
        Param("b_width", Derived(lambda p: p["a_width"], "a_width"), "width of each lane of b",
              lo=2, hi=32),
        Param("b_signed", Derived(lambda p: p["a_signed"], "a_signed"),
              "lanes of b are two's complement"),
        Param("lanes", 1, "products summed per operation (N of an N-way dot product)",
              lo=1, hi=64),
        Param("acc_width", Derived(lambda p: max(32, p["a_width"] + p["b_width"]),
                                   "max(32, a_width + b_width)"),
              "accumulator width (at least the product width)",
              lo=Derived(lambda p: p["a_width"] + p["b_width"], "a_width + b_width"), hi=128),
        Param("overflow", "wrap", "what a sum outside the accumulator becomes",
              choices=OVERFLOW_MODES),
        Param("accumulate", False, "keep a running sum in an internal register (input clear) "
              "instead of adding input c"),
        Param("arch", "infer", "products: inferred * or radix-4 Booth rows in one Dadda tree",
              choices=("infer", "booth")),
        OPTIONAL_ACCUMULATOR_STAGES_PARAM,
        TARGET_MHZ_PARAM,
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.acc_signed = p["a_signed"] or p["b_signed"]
        self.acc_fmt = QFormat(p["acc_width"], 0, self.acc_signed)
        self.a_fmt = QFormat(p["a_width"], 0, p["a_signed"])
        self.b_fmt = QFormat(p["b_width"], 0, p["b_signed"])
        n, aw, bw = p["lanes"], p["a_width"], p["b_width"]

        def lane_kind(width, is_signed):
            return f"{n}x{'int' if is_signed else 'uint'}{width}"

        members = {"a": In(n * aw), "b": In(n * bw)}
        docs = {"a": (lane_kind(aw, p["a_signed"]), f"{n} lanes of {aw} bits, lane i in bits "
                      f"[{aw}*i, {aw}*i+{aw})"),
                "b": (lane_kind(bw, p["b_signed"]), f"{n} lanes of {bw} bits, lane i in bits "
                      f"[{bw}*i, {bw}*i+{bw})")}
        if p["accumulate"]:
            members["clear"] = In(1)
            docs["clear"] = ("control", "start a new sum with this operation's products")
        else:
            members["c"] = In(_shape(p["acc_width"], self.acc_signed))
            docs["c"] = (self.acc_fmt.name, "addend")
        members["y"] = Out(_shape(p["acc_width"], self.acc_signed))
        members["ovf"] = Out(1)
        what = "running sum" if p["accumulate"] else "c + sum of products"
        docs["y"] = (self.acc_fmt.name, f"{what}, {p['overflow']} on overflow")
        docs["ovf"] = ("flag", "the exact sum was outside the accumulator"
                       + (" at some operation since the last clear" if p["accumulate"] else ""))
        super().__init__(p, members, docs)

    def formats(self):
        return {"y": self.acc_fmt.describe()}

    def _lanes(self, value, width, is_signed):
        lanes = [value.word_select(i, width) for i in range(self.params["lanes"])]
        return [lane.as_signed() if is_signed else lane for lane in lanes]

    def elaborate(self, platform):
        p = self.params
        m = Module()
        accumulate, booth = p["accumulate"], p["arch"] == "booth"
        # A running sum keeps its last rank for the accumulator register.
        pipe = self.pipeline(m, own_registers=int(accumulate))

        def a_lanes(a):
            return self._lanes(a, p["a_width"], p["a_signed"])

        def b_lanes(b):
            return self._lanes(b, p["b_width"], p["b_signed"])

        if accumulate:
            a, b, clear = pipe.cut("in", self.a, self.b, self.clear)
            products, (clear,) = sum_of_products(m, pipe, a_lanes(a), b_lanes(b), self.a_fmt,
                                                 self.b_fmt, booth, (clear,))
            total_width = max(len(products), p["acc_width"]) + 2
            total = Signal(signed(total_width), name="acc_total")
            acc = Signal(_shape(p["acc_width"], self.acc_signed), name="acc_value")
            sticky = Signal(name="acc_sticky")
            # The running sum is a loop: it joins the products after their tree.
            m.d.comb += total.eq(products + Mux(clear, 0, acc))
            fitted, outside = narrow(m, total, QFormat(total_width, 0, True), self.acc_fmt,
                                     "trunc", p["overflow"])
            with m.If(pipe.register("acc", delay=adder(total_width) + Delay(luts=2))):
                m.d.sync += [acc.eq(fitted), sticky.eq(outside | (sticky & ~clear))]
            m.d.comb += [self.y.eq(acc), self.ovf.eq(sticky)]
        else:
            a, b, c = pipe.cut("in", self.a, self.b, self.c)
            # The addend is one more row of the products' tree.
            total, _ = sum_of_products(m, pipe, a_lanes(a), b_lanes(b), self.a_fmt, self.b_fmt,
                                       booth, (), addend=c)
            fitted, outside = narrow(m, total, QFormat(len(total), 0, True), self.acc_fmt,
                                     "trunc", p["overflow"])
            y, ovf = pipe.cut("out", fitted, outside, delay=Delay(luts=2))
            m.d.comb += [self.y.eq(y), self.ovf.eq(ovf)]
        pipe.finish()
        return m

