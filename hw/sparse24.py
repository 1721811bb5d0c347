"""NVIDIA-style 2:4 structured-sparse dot product: a compressed weight vector
(2 kept values and one 4-bit metadata code per group of 4) against a dense
activation vector of ``k`` elements, ``y = c + Σ w_i · x[selected_i]``.

Each kept value has one 4:1 mux that picks its activation out of its group
by its 2-bit index; the ``k/2`` pairs then go into ONE dot-product tree,
reused whole: for integers :class:`~hw.mac.IntMAC` (dp4a's adder tree, or with
``arch="booth"`` every lane's Booth rows in one Dadda tree), for fp16
:class:`~hw.mma.FloatMMA` in fused mode as a 1x1 block of depth ``k/2``
(exact products in a fixed-point window, C aligned by the fused
multiply-add's two-term alignment, one :class:`~hw.float_round.FloatRound`).
So a 2:4 unit of ``k`` does the multiplies of a dense ``k/2``-lane unit plus
``k/2`` muxes: twice the effective dot-product length per multiplier.

Metadata code of a group: bits [1:0] index of the first kept value, bits
[3:2] of the second; valid exactly when index0 < index1 (codes 0b0100,
0b1000, 0b1100, 0b1001, 0b1101, 0b1110). A group with another code adds the
products ``+0 * +0`` (its weights and activations are forced to zero) and
raises ``meta_error``, which travels with the result.

Packing, low first: ``w`` value ``i`` in bits ``[i*ww, (i+1)*ww)`` (group
``i // 2``), ``meta`` group ``g``'s code in bits ``[4g, 4g+4)``, ``x`` element
``j`` in bits ``[j*xw, (j+1)*xw)`` (group ``j // 4``).

Timing: ``stages=0`` is combinational; with ``stages`` the tree is built with
that many ranks at its own cut points (products, Booth rows, result), the
muxes in front of its first one, and ``meta_error`` goes through as many
registers: latency ``stages``, one operation per cycle.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from ..golden.formats import OVERFLOW_MODES, QFormat, float_format

from .float import FLAGS_DOC, ROUND_MODE_DOC
from .mac import IntMAC
from .mma import FloatMMA
from .params import Derived, Param
from .unit import STAGES_PARAM, Unit

__all__ = ["Sparse24Dot"]

GROUP = 4
IN_FORMATS = ("int", "fp16")


def _mux4(m, values, index, name):
    """One of four ``values`` by a 2-bit ``index``: two levels of 2:1 muxes."""
    chosen = Signal(len(values[0]), name=name)
    m.d.comb += chosen.eq(Mux(index[1], Mux(index[0], values[3], values[2]),
                              Mux(index[0], values[1], values[0])))
    return chosen


_INT = Derived(lambda p: p["in_fmt"] == "int", "in_fmt=int")


class Sparse24Dot(Unit):
    """``y = c + Σ w_i · x[selected_i]`` over a 2:4-compressed ``w`` of ``k/2``
    values and a dense ``x`` of ``k``; ``in_fmt`` ``int`` (widths, signedness,
    ``acc_width``, ``overflow``, ``arch`` as :class:`~hw.mac.IntMAC`) or
    ``fp16`` (fused, one rounding into ``acc_fmt``, run-time ``rm``, flags).

    ``k`` defaults to 8: four products, the multipliers of a dp4a, covering a
    dot product of eight.
    """

    PARAMS = (
        Param("k", 8, "dense dot-product length: k/4 groups of 4, k/2 kept values and products "
              "(a multiple of 4)", lo=4, hi=64),
        Param("in_fmt", "int", "number format of w and x: int (widths below) or fp16",
              choices=IN_FORMATS),
        Param("w_width", 8, "width of each weight value", lo=2, hi=32, when=_INT),
        Param("w_signed", True, "weights are two's complement", when=_INT),
        Param("x_width", Derived(lambda p: p["w_width"], "w_width"),
              "width of each activation", lo=2, hi=32, when=_INT),
        Param("x_signed", Derived(lambda p: p["w_signed"], "w_signed"),
              "activations are two's complement", when=_INT),
        Param("acc_width", Derived(lambda p: max(32, p["w_width"] + p["x_width"]),
                                   "max(32, w_width + x_width)"),
              "width of c and y (at least the product width)",
              lo=Derived(lambda p: p["w_width"] + p["x_width"], "w_width + x_width"), hi=128,
              when=_INT),
        Param("overflow", "wrap", "what a sum outside the accumulator becomes",
              choices=OVERFLOW_MODES, when=_INT),
        Param("arch", "infer", "products by inferred * and an adder tree, or radix-4 Booth "
              "rows of every lane in one Dadda tree", choices=("infer", "booth"), when=_INT),
        Param("acc_fmt", "fp32", "format of c and y", choices=("fp32", "fp16"),
              when=Derived(lambda p: p["in_fmt"] == "fp16", "in_fmt=fp16")),
        STAGES_PARAM,
    )

    @classmethod
    def resolve_params(cls, given):
        values = super().resolve_params(given)
        if values["k"] % GROUP:
            raise ValueError(f"k: must be a multiple of {GROUP} in 4..64, got {values['k']!r}")
        return values

    def __init__(self, **params):
        p = self.resolve_params(params)
        k, half, groups = p["k"], p["k"] // 2, p["k"] // GROUP
        self.is_int = p["in_fmt"] == "int"
        if self.is_int:
            self.acc_signed = p["w_signed"] or p["x_signed"]
            self.w_fmt = QFormat(p["w_width"], 0, p["w_signed"])
            self.x_fmt = QFormat(p["x_width"], 0, p["x_signed"])
            self.acc_fmt = QFormat(p["acc_width"], 0, self.acc_signed)
            ww, xw, wa = p["w_width"], p["x_width"], p["acc_width"]
            w_kind, x_kind = self.w_fmt.name, self.x_fmt.name
        else:
            self.w_fmt = self.x_fmt = float_format("fp16")
            self.acc_fmt = float_format(p["acc_fmt"])
            ww = xw = 16
            wa = self.acc_fmt.width
            w_kind = x_kind = "fp16"
        acc_shape = (signed if self.acc_signed else unsigned)(wa) if self.is_int else unsigned(wa)
        members = {"w": In(half * ww), "meta": In(groups * 4), "x": In(k * xw), "c": In(acc_shape)}
        docs = {
            "w": (f"{half}x{w_kind}", f"kept weights, value i in bits [{ww}*i, {ww}*i+{ww}), "
                  "two per group in index order"),
            "meta": (f"{groups}x2:4meta", "group g's code in bits [4g, 4g+4): index of its "
                     "first kept value in bits [1:0], of the second in [3:2], first < second"),
            "x": (f"{k}x{x_kind}", f"dense activations, element j in bits [{xw}*j, {xw}*j+{xw})"),
            "c": (self.acc_fmt.name, "addend"),
        }
        if not self.is_int:
            members["rm"] = In(3)
            docs["rm"] = ("round_mode", ROUND_MODE_DOC)
        members["y"] = Out(acc_shape)
        if self.is_int:
            members["ovf"] = Out(1)
            docs["y"] = (self.acc_fmt.name, f"c + sum of kept products, {p['overflow']} on "
                         "overflow")
            docs["ovf"] = ("flag", "the exact sum was outside the accumulator")
        else:
            members["flags"] = Out(5)
            docs["y"] = (self.acc_fmt.name, "c + sum of kept products, exact, rounded once by rm")
            docs["flags"] = ("fflags", FLAGS_DOC)
        members["meta_error"] = Out(1)
        docs["meta_error"] = ("flag", "some group's code was invalid (index0 >= index1); "
                              "that group added +0 * +0")
        super().__init__(p, members, docs)

    def formats(self):
        if self.is_int:
            return {"y": self.acc_fmt.describe()}
        return {"w": self.w_fmt.describe(), "x": self.x_fmt.describe(),
                "c": self.acc_fmt.describe(), "y": self.acc_fmt.describe()}

    def _tree(self):
        """The dense dot product of the k/2 selected pairs, pipelined as the whole unit."""
        p = self.params
        if self.is_int:
            return IntMAC(a_width=p["w_width"], a_signed=p["w_signed"], b_width=p["x_width"],
                          b_signed=p["x_signed"], lanes=p["k"] // 2, acc_width=p["acc_width"],
                          overflow=p["overflow"], arch=p["arch"], stages=p["stages"])
        return FloatMMA(m=1, n=1, k=p["k"] // 2, in_fmt="fp16", acc_fmt=p["acc_fmt"],
                        mode="fused", stages=p["stages"])

    def elaborate(self, platform):
        p = self.params
        m = Module()
        ww, xw = self.w_fmt.width, self.x_fmt.width
        weights, activations, invalid = [], [], []
        for g in range(p["k"] // GROUP):
            code = self.meta.word_select(g, 4)
            valid = Signal(name=f"group{g}_valid")
            m.d.comb += valid.eq(code[2:4] > code[0:2])
            group = [self.x.word_select(GROUP * g + j, xw) for j in range(GROUP)]
            for slot in range(2):
                i = 2 * g + slot
                chosen = _mux4(m, group, code.word_select(slot, 2), f"select{i}")
                # An invalid group feeds +0 * +0: no inf * 0 or NaN from the lanes it names.
                weight, activation = Signal(ww, name=f"weight{i}"), Signal(xw, name=f"act{i}")
                m.d.comb += [weight.eq(Mux(valid, self.w.word_select(i, ww), 0)),
                             activation.eq(Mux(valid, chosen, 0))]
                weights.append(weight)
                activations.append(activation)
            invalid.append(~valid)

        m.submodules.dot = dot = self._tree()
        m.d.comb += [dot.a.eq(Cat(*weights)), dot.b.eq(Cat(*activations)), dot.c.eq(self.c)]
        if self.is_int:
            m.d.comb += [self.y.eq(dot.y), self.ovf.eq(dot.ovf)]
        else:
            m.d.comb += [dot.rm.eq(self.rm), self.y.eq(dot.d), self.flags.eq(dot.flags)]
        # meta_error rides along the tree's pipeline: one register per rank.
        error = Signal(name="meta_error_any")
        m.d.comb += error.eq(Cat(*invalid).any())
        for rank in range(p["stages"]):
            registered = Signal(name=f"out_{rank}_meta_error", reset_less=True)
            m.d.sync += registered.eq(error)
            error = registered
        m.d.comb += self.meta_error.eq(error)
        if self.latency:
            m.d.comb += [dot.in_valid.eq(self.in_valid), self.out_valid.eq(dot.out_valid)]
        return m
