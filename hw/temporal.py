"""Temporal multi-precision PE: the alternative to Bit Fusion's spatial
composition. One small ``mult_bits`` x ``mult_bits`` multiplier walks over the
slice pairs of its operands, one pair per cycle, shifting each slice product
into place in the accumulator: with 4-bit slices a 4-bit MAC takes one cycle
and an 8-bit MAC four. Area stays that of one small multiplier; precision
costs time instead of bricks.

Operands are cut like BitBrick slices (:mod:`hw.bitfusion`): each slice
becomes a ``(mult_bits + 1)``-bit signed number whose extra bit copies the
slice's top bit only for the top slice of a signed operand.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from .bitfusion import MODE_WIDTH, mode_doc
from .params import Derived, Param
from .unit import Unit

__all__ = ["TemporalPE"]


def _slices(prec, mult_bits):
    return max(1, prec // mult_bits)


class TemporalPE(Unit):
    """``acc <- (clear ? 0 : acc) + a * w`` for one operand pair at the
    precisions and signedness ``mode`` gives (the Fusion Unit's mode word;
    ``a`` is bits ``[0, pa)``, ``w`` bits ``[0, pb)``, higher bits ignored),
    in ``ceil(pa/mult_bits) * ceil(pb/mult_bits)`` cycles. An illegal mode
    adds 0 in one cycle and sets ``mode_error``.

    Ready/valid on both sides. The unit works on the operation offered on
    its inputs (a stream keeps them stable until taken) once its result
    register is free or being emptied, and takes it on its last cycle; the
    result stays on ``acc`` until ``out_ready``. Without backpressure an
    operation of ``n`` cycles is taken ``n`` cycles after the previous one,
    and every result leaves one cycle after it was taken: no operand
    registers, only the accumulator, two slice counters and three flags.

    For ``wiring.connect``, :meth:`~hw.unit.Unit.as_streams` gives
    ``in_stream`` (payload fields ``a``, ``w``, ``mode``, ``clear``) and
    ``out_stream`` (``acc``, ``mode_error``).
    """

    HANDSHAKE = True
    PARAMS = (
        Param("max_prec", 8, "largest operand precision (width of a and w)", choices=(8, 16)),
        Param("min_prec", Derived(lambda p: p["max_prec"] // 4, "max_prec / 4"),
              "smallest operand precision (precision code 0)", choices=(2, 4)),
        Param("mult_bits", 4, "operand slice width of the one multiplier", choices=(2, 4)),
        Param("acc_width", Derived(lambda p: max(32, 2 * p["max_prec"] + 1),
                                   "max(32, 2*max_prec + 1)"),
              "accumulator width (two's complement, wrapping)",
              lo=Derived(lambda p: 2 * p["max_prec"] + 1, "2*max_prec + 1"), hi=64),
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        self.precisions = tuple(p["min_prec"] << c for c in range(4)
                                if p["min_prec"] << c <= p["max_prec"])
        prec = p["max_prec"]
        timing = ", ".join(f"{pa}x{pb}: {self.cycles(pa, pb, p['mult_bits'])}"
                           for pa in self.precisions for pb in self.precisions if pa <= pb)
        members = {"a": In(prec), "w": In(prec), "mode": In(MODE_WIDTH), "clear": In(1),
                   "acc": Out(signed(p["acc_width"])), "mode_error": Out(1)}
        stable = "; read on every cycle of the operation, so held until taken (stream rule)"
        docs = {"a": (f"uint{prec}", "activation in bits [0, pa), signed or unsigned per mode"
                      + stable),
                "w": (f"uint{prec}", "weight in bits [0, pb), signed or unsigned per mode"
                      + stable),
                "mode": ("bitfusion_mode", mode_doc(p["max_prec"], p["min_prec"])
                         + f"; cycles per operation ceil(pa/{p['mult_bits']})"
                         f"*ceil(pb/{p['mult_bits']}) ({timing}; same for pb x pa), "
                         "illegal: 1"),
                "clear": ("control", "start a new sum with this operation's product"),
                "acc": (f"int{p['acc_width']}", "running sum of the products, wrapping"),
                "mode_error": ("flag", "the operation of this result had an illegal mode "
                               "(it added 0)")}
        super().__init__(p, members, docs)

    @staticmethod
    def cycles(pa, pb, mult_bits):
        """Cycles one ``pa`` x ``pb`` operation takes."""
        return _slices(pa, mult_bits) * _slices(pb, mult_bits)

    @property
    def latency(self):
        """A result leaves the cycle after its operation was taken."""
        return 1

    def _decode(self, m, code, value, is_signed, name):
        """``value`` cut to the precision of ``code`` and extended to the
        port width, and the index of its top slice."""
        p = self.params
        extended = Signal(p["max_prec"], name=f"{name}_extended")
        top = Signal(range(_slices(p["max_prec"], p["mult_bits"])), name=f"{name}_top_slice")
        with m.Switch(code):
            for c, prec in enumerate(self.precisions):
                with m.Case(c):
                    field = value[:prec]
                    m.d.comb += [extended.eq(Mux(is_signed, field.as_signed(), field)),
                                 top.eq(_slices(prec, p["mult_bits"]) - 1)]
        return extended, top

    def _slice(self, m, extended, index, top, is_signed, name):
        """Slice ``index`` of ``extended`` as the multiplier's signed operand."""
        bits = self.params["mult_bits"]
        piece = extended.word_select(index, bits)
        operand = Signal(signed(bits + 1), name=f"{name}_slice")
        m.d.comb += operand.eq(Cat(piece, piece[-1] & is_signed & (index == top)))
        return operand

    def elaborate(self, platform):
        p = self.params
        m = Module()
        bits, count = p["mult_bits"], _slices(p["max_prec"], p["mult_bits"])

        busy = Signal(name="seq_busy")            # past the first slice pair of an operation
        full = Signal(name="out_full")            # acc holds a result not yet taken
        i = Signal(range(count), name="seq_a_slice")
        j = Signal(range(count), name="seq_w_slice")
        acc = Signal(signed(p["acc_width"]), name="acc_value")
        error = Signal(name="acc_mode_error")

        # The operands are read while they are offered (a stream holds them
        # until taken); an operation starts once acc is free and is taken on
        # its last cycle.
        mode = self.mode
        code_a, code_b, a_signed, w_signed = mode[0:2], mode[2:4], mode[4], mode[5]
        legal = Signal(name="step_legal")
        m.d.comb += legal.eq((code_a < len(self.precisions)) & (code_b < len(self.precisions)))
        ext_a, top_a = self._decode(m, code_a, self.a, a_signed, "step_a")
        ext_w, top_w = self._decode(m, code_b, self.w, w_signed, "step_w")
        x = self._slice(m, ext_a, i, top_a, a_signed, "step_a")
        y = self._slice(m, ext_w, j, top_w, w_signed, "step_w")
        product = Signal(signed(2 * bits + 2), name="step_product")
        m.d.comb += product.eq(x * y)
        shift = Signal(range(2 * p["max_prec"]), name="step_shift")
        m.d.comb += shift.eq((i + j) * bits)
        term = Signal(signed(2 * p["max_prec"] + 2), name="step_term")
        m.d.comb += term.eq(Mux(legal, product << shift, 0))

        last = Signal(name="step_last")
        step = Signal(name="step_active")
        m.d.comb += [last.eq(~legal | ((i == top_a) & (j == top_w))),
                     step.eq(self.in_valid & (~full | self.out_ready)),
                     self.in_ready.eq((~full | self.out_ready) & last)]
        base = Mux(busy | ~self.clear, acc, 0)

        with m.If(self.out_ready):
            m.d.sync += full.eq(0)
        with m.If(step):
            m.d.sync += acc.eq(base + term)
            with m.If(last):
                m.d.sync += [busy.eq(0), full.eq(1), error.eq(~legal), i.eq(0), j.eq(0)]
            with m.Else():
                m.d.sync += busy.eq(1)
                with m.If(j == top_w):
                    m.d.sync += [j.eq(0), i.eq(i + 1)]
                with m.Else():
                    m.d.sync += j.eq(j + 1)
        m.d.comb += [self.acc.eq(acc), self.mode_error.eq(error), self.out_valid.eq(full)]
        return m
