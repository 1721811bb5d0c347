"""Explicit-index (CSR) merge join: the dot product of two sparse vectors,
each streamed as its nonzeros' (index, value) entries sorted by index.

One comparison stage per cycle: the unit looks at the first ``width``
entries left of each side's vector, takes ``t = min(a[width-1], b[width-1])``
(+infinity for a missing entry: fewer than ``width`` left), consumes on each
side the window's entries whose index is ``<= t`` and multiply-accumulates the
consumed pairs with equal index. The policy and its cycle count are
:func:`golden.csr.merge_steps` / :func:`golden.csr.merge_cycles`.

With ``stages`` > 1 the comparison's outcome and the selected operands are
registered, then the gated products, before the accumulator; the comparison
stays in the first stage (the next cycle's windows depend on it). A result
waiting for ``out_ready`` with another one arriving behind it stalls every
rank at once (one pipeline enable).
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from ..golden.formats import QFormat

from .mac import adder_tree
from .params import Derived, Param
from .pipeline import Delay, adder, compare, multiplier_delay, mux
from .unit import ACCUMULATOR_STAGES_PARAM, TARGET_MHZ_PARAM, Stream, Unit

__all__ = ["CSRJoin"]


class _Entry:
    """One window slot of a side: whether it holds an entry, and the entry."""

    def __init__(self, present, index, value, last):
        self.present, self.index, self.value, self.last = present, index, value, last


class CSRJoin(Unit):
    """Dot product of two CSR vectors streamed on ``a`` and ``b``, one result
    per vector pair on ``out``.

    Each input transfer carries ``width`` entries (``width`` 2: ``count`` says
    whether 1 or 2, in slots 0 then 1) and ``last`` marks the transfer with the
    vector's last entry. Cycle ``k`` of a pair works on the first ``width``
    entries left on each side: at width 1 the stream heads themselves (a
    consumed entry is taken from its stream on that cycle), at width 2 a
    one-entry buffer per side followed by the stream head (a head whose first
    entry is consumed is taken, its second entry kept in the buffer if it is
    not consumed too). A cycle goes ahead once each side's window is complete
    (``width`` entries, or the rest of its vector) and, if it finishes the
    pair, the result register is free or being emptied; a side that has
    consumed its vector's last entry waits for the other.

    With both inputs offered on every cycle (at width 2 two entries per
    transfer except the vector's last one) and ``out_ready`` high, pair
    ``n`` takes exactly :func:`golden.csr.merge_cycles` cycles (width 1:
    ``|union of the index sets|``), pairs follow with no idle cycle and each
    result is on ``out`` ``stages`` cycles after the pair's last cycle
    (latency ``stages``, 1 by default; held until ``out_ready``). A transfer with ``count`` 1 before a vector's
    end only delays the join: with the buffer empty its entry moves there on
    a cycle of its own, and the window is complete once the next transfer
    comes.

    Malformed input, an index not above the previous one of the same vector
    (or at width 2 a ``count`` other than 1 or 2, read as 2), sets ``error``
    on that pair's result, whose ``dot`` is then 0. The vectors are still
    consumed to their ``last`` in :func:`golden.csr.merge_cycles` cycles
    (a side whose window's last entry is ``<= t`` consumes its whole window,
    so unsorted input makes progress too), and the next pair starts in step.

    State: the accumulator and error bit of the pair in progress, the result
    register, per side a done bit and the previous index (for the order
    check), and at width 2 a one-entry buffer per side.

    For ``wiring.connect``, :meth:`~hw.unit.Unit.as_streams` gives
    ``a_stream`` and ``b_stream`` (payload fields ``a_index``, ``a_value``,
    ... ``a_last``, the same for b) and ``out_stream`` (``dot``, ``error``).
    """

    HANDSHAKE = True
    PARAMS = (
        Param("width", 1, "entries per side carried per transfer and consumed per cycle "
              "(the comparator's width)", lo=1, hi=2),
        Param("index_width", 16, "bits of an index", lo=4, hi=32),
        Param("value_width", 8, "bits of a value", lo=2, hi=16),
        Param("value_signed", True, "values (and so the accumulator) are two's complement"),
        Param("acc_width", 32, "accumulator width (wrapping)",
              lo=Derived(lambda p: 2 * p["value_width"], "2*value_width"), hi=64),
        ACCUMULATOR_STAGES_PARAM,
        TARGET_MHZ_PARAM,
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        iw, vw, width = p["index_width"], p["value_width"], p["width"]
        value_shape = signed(vw) if p["value_signed"] else unsigned(vw)
        value_kind = f"{'int' if p['value_signed'] else 'uint'}{vw}"
        self.acc_fmt = QFormat(p["acc_width"], 0, p["value_signed"])
        slots = ("",) if width == 1 else ("0", "1")
        members, docs, payloads = {}, {}, {}
        for side in "ab":
            names = []
            for slot in slots:
                where = "" if width == 1 else f" of slot {slot}"
                members[f"{side}_index{slot}"] = In(iw)
                members[f"{side}_value{slot}"] = In(value_shape)
                docs[f"{side}_index{slot}"] = (f"uint{iw}", f"index{where}; strictly increasing "
                                               "within a vector (else error)")
                docs[f"{side}_value{slot}"] = (value_kind, f"value{where}")
                names += [f"{side}_index{slot}", f"{side}_value{slot}"]
            if width == 2:
                members[f"{side}_count"] = In(2)
                docs[f"{side}_count"] = ("count", "entries in this transfer, 1 (slot 0 only) or "
                                         "2; other values are malformed (error, read as 2)")
                names.append(f"{side}_count")
            members[f"{side}_last"] = In(1)
            docs[f"{side}_last"] = ("control", "this transfer ends the vector")
            payloads[side] = tuple(names) + (f"{side}_last",)
        members["dot"] = Out(signed(p["acc_width"]) if p["value_signed"]
                             else unsigned(p["acc_width"]))
        members["error"] = Out(1)
        timing = ("|union of the index sets| cycles (classic merge: the smaller head "
                  "advances, both on a match)" if width == 1 else
                  "golden.csr.merge_cycles(a, b, 2) cycles (each cycle the first 2 entries left "
                  "per side, those <= min(a[1], b[1]) consumed, a missing a[1] or b[1] counting "
                  "as +infinity; vectors sent 2 entries per transfer but the last)")
        docs["dot"] = (self.acc_fmt.name, f"sum of a.value * b.value over equal indices, "
                       f"wrapping; 0 when error; with both inputs offered and out_ready high a "
                       f"pair takes {timing}, pairs follow back to back and the result comes "
                       f"{p['stages']} cycle(s) after the pair's last one (latency = stages)")
        docs["error"] = ("flag", "a vector of this pair was malformed (an index not above the "
                         "previous one" + (", or a count other than 1 or 2" if width == 2 else "")
                         + ")")
        streams = (Stream("a", "in", payloads["a"]), Stream("b", "in", payloads["b"]),
                   Stream("out", "out", ("dot", "error")))
        super().__init__(p, members, docs, streams=streams)

    def formats(self):
        return {"dot": self.acc_fmt.describe()}

    def _head(self, side):
        """The entries of the transfer offered on stream ``side``."""
        valid, last = getattr(self, f"{side}_valid"), getattr(self, f"{side}_last")
        if self.params["width"] == 1:
            return [_Entry(valid, getattr(self, f"{side}_index"), getattr(self, f"{side}_value"),
                           last)]
        count = getattr(self, f"{side}_count")
        two = count != 1
        return [_Entry(valid, getattr(self, f"{side}_index0"), getattr(self, f"{side}_value0"),
                       last & ~two),
                _Entry(valid & two, getattr(self, f"{side}_index1"),
                       getattr(self, f"{side}_value1"), last)]

    def _window(self, m, side, done):
        """The side's window (its first ``width`` entries left) and, at width
        2, the buffer registers that hold a transfer's unconsumed second entry."""
        p = self.params
        head = self._head(side)
        usable = Signal(name=f"{side}_head_usable")
        if p["width"] == 1:
            m.d.comb += usable.eq(head[0].present & ~done)
            return [_Entry(usable, head[0].index, head[0].value, head[0].last)], head, usable, None
        value_shape = getattr(self, f"{side}_value0").shape()
        buf = _Entry(Signal(name=f"{side}_buf_full"),
                     Signal(p["index_width"], name=f"{side}_buf_index"),
                     Signal(value_shape, name=f"{side}_buf_value"), Signal(name=f"{side}_buf_last"))
        # Past a buffered last entry the head belongs to the next vector.
        m.d.comb += usable.eq(head[0].present & ~done & ~(buf.present & buf.last))
        window = []
        for k in range(2):
            slot = _Entry(Signal(name=f"{side}_slot{k}_present"),
                          Signal(p["index_width"], name=f"{side}_slot{k}_index"),
                          Signal(value_shape, name=f"{side}_slot{k}_value"),
                          Signal(name=f"{side}_slot{k}_last"))
            # Slot k is buffer-then-head entry k.
            from_buf = [buf, head[0]][k]
            from_head = head[k]
            with m.If(buf.present):
                m.d.comb += [slot.present.eq(buf.present if k == 0 else usable),
                             slot.index.eq(from_buf.index), slot.value.eq(from_buf.value),
                             slot.last.eq(from_buf.last)]
            with m.Else():
                m.d.comb += [slot.present.eq(usable & from_head.present),
                             slot.index.eq(from_head.index), slot.value.eq(from_head.value),
                             slot.last.eq(from_head.last)]
            window.append(slot)
        return window, head, usable, buf

    def elaborate(self, platform):
        p = self.params
        m = Module()
        width, iw = p["width"], p["index_width"]

        sides = {}
        for side in "ab":
            done = Signal(name=f"{side}_done")          # consumed its vector's last entry
            window, head, usable, buf = self._window(m, side, done)
            complete = Signal(name=f"{side}_window_complete")
            m.d.comb += complete.eq(done | window[-1].present
                                    | Cat(s.present & s.last for s in window).any())
            sides[side] = dict(done=done, window=window, head=head, usable=usable, buf=buf,
                               complete=complete)

        # The comparison: each slot against t = min(a bound, b bound), where a
        # side's bound is its window's last entry (+infinity if missing), as
        # two comparisons side by side (x <= min(A, B) is x <= A and x <= B)
        # rather than min then compare: the loop back to the windows is one
        # comparator deep.
        def within(slot, side, k):
            """``slot`` is <= ``side``'s bound."""
            last = sides[side]["window"][-1]
            if slot is last:
                return Const(1)
            at_most = Signal(name=f"cmp_{k}_within_{side}")
            m.d.comb += at_most.eq(~last.present | (slot.index <= last.index))
            return at_most

        for side, s in sides.items():
            window = s["window"]
            below = [slot.present & within(slot, "a", f"{side}{k}")
                     & within(slot, "b", f"{side}{k}") for k, slot in enumerate(window)]
            taken = [Signal(name=f"cmp_{side}_take{k}") for k in range(width)]
            # The whole window if its last entry is <= t (so that even unsorted
            # input makes progress), else the prefix <= t.
            m.d.comb += taken[-1].eq(below[-1])
            if width == 2:
                m.d.comb += taken[0].eq(below[0] | below[1])
            s["taken"] = taken
            s["finishes"] = Signal(name=f"cmp_{side}_finishes")
            m.d.comb += s["finishes"].eq(s["done"] | Cat(k & slot.last for k, slot
                                                         in zip(taken, window)).any())

        out_full = Signal(name="out_full")
        finish, step = Signal(name="cmp_finish"), Signal(name="cmp_step")
        complete = Signal(name="cmp_complete")     # both windows ready: a step, unless stalled
        advance = Signal(name="cmp_advance")       # no finished pair waits on a full result
        m.d.comb += [finish.eq(sides["a"]["finishes"] & sides["b"]["finishes"]),
                     complete.eq(sides["a"]["complete"] & sides["b"]["complete"]),
                     step.eq(complete & advance)]
        pipe = self.pipeline(m, own_registers=1, valid=step, enable=advance)

        # Malformed input: each consumed index must be above the one before it.
        errors = []
        for side, s in sides.items():
            prev = Signal(iw, name=f"{side}_prev_index")
            started = Signal(name=f"{side}_started")    # prev holds this vector's entry
            window, taken = s["window"], s["taken"]
            bad = Signal(name=f"err_{side}_order")
            checks = [taken[0] & started & (window[0].index <= prev)]
            if width == 2:
                checks.append(taken[1] & (window[1].index <= window[0].index))
            m.d.comb += bad.eq(Cat(checks).any())
            errors.append(bad)
            newest = window[0].index if width == 1 else Mux(taken[1], window[1].index,
                                                             window[0].index)
            with m.If(step & taken[0]):
                m.d.sync += [prev.eq(newest), started.eq(~s["finishes"])]
            take_head = Signal(name=f"{side}_take_head")
            if width == 1:
                m.d.comb += take_head.eq(step & taken[0])
            else:
                buf, head = s["buf"], s["head"]
                count = getattr(self, f"{side}_count")
                bad_count = Signal(name=f"err_{side}_count")
                # The head is taken once an entry of it is consumed; its second
                # entry waits in the buffer if it is not consumed as well. A lone
                # entry inside a vector (count 1, not last) leaves the window
                # incomplete: it moves to the empty buffer to make room.
                fill = Signal(name=f"{side}_fill")
                m.d.comb += [fill.eq(~s["complete"] & ~buf.present & s["usable"]),
                             take_head.eq(fill | (step & s["usable"]
                                                  & Mux(buf.present, taken[1], taken[0]))),
                             bad_count.eq(take_head & (count[0] == count[1]))]
                errors.append(bad_count)
                keep_second = head[1].present & Mux(buf.present, 1, ~taken[1])
                with m.If(fill):
                    m.d.sync += [buf.present.eq(1), buf.index.eq(head[0].index),
                                 buf.value.eq(head[0].value), buf.last.eq(head[0].last)]
                with m.Elif(take_head):
                    m.d.sync += [buf.present.eq(keep_second), buf.index.eq(head[1].index),
                                 buf.value.eq(head[1].value), buf.last.eq(head[1].last)]
                with m.Elif(step & taken[0]):
                    m.d.sync += buf.present.eq(0)
            m.d.comb += getattr(self, f"{side}_ready").eq(take_head)
            with m.If(step):
                m.d.sync += s["done"].eq(s["finishes"] & ~finish)

        # The products of the consumed pairs with equal index. Each a entry
        # multiplies the b entry of its slot if the indices are equal, else the
        # other one (sorted input has at most one b entry per a entry); only
        # equality picks the operand, so the multipliers work in parallel with
        # the comparison, whose outcome just gates the products. At width 1 two
        # consumed heads are both <= t = min(a, b): equal, no comparator needed.
        a_win, b_win = sides["a"]["window"], sides["b"]["window"]
        a_taken, b_taken = sides["a"]["taken"], sides["b"]["taken"]
        lanes = []
        for i, (x, xt) in enumerate(zip(a_win, a_taken)):
            other = Signal.like(x.value, name=f"mac_operand{i}")
            matched = Signal(name=f"mac_match{i}")
            if width == 1:
                m.d.comb += [other.eq(b_win[0].value), matched.eq(xt & b_taken[0])]
            else:
                (own, own_taken), (far, far_taken) = ((b_win[i], b_taken[i]),
                                                      (b_win[1 - i], b_taken[1 - i]))
                same = Signal(name=f"mac_same{i}")
                m.d.comb += [same.eq(x.index == own.index),
                             other.eq(Mux(same, own.value, far.value)),
                             matched.eq(xt & Mux(same, own_taken,
                                                 far_taken & (x.index == far.index)))]
            lanes.append({"a": x.value, "b": other, "matched": matched})
        # Carried to the accumulator: whether this step ends a pair, and its
        # malformed-input flag. ``complete & finish`` is ``step & finish``
        # wherever the registers load, and free of the stall at one stage.
        flags = {"finishing": complete & finish, "bad": Cat(errors).any()}

        # Cut after the comparison (t, each window against it, what is taken),
        # then after the gated products.
        values = pipe.cut_any("operands", {**flags, **{(i, k): v for i, lane in enumerate(lanes)
                                                     for k, v in lane.items()}},
                              delay=mux(2) + compare(iw) + Delay(luts=3))
        product_width = 2 * p["value_width"] + 1
        terms = {}
        for i in range(width):
            product = Signal(signed(product_width), name=f"mac_product{i}")
            gated = Signal(signed(product_width), name=f"mac_term{i}")
            m.d.comb += [product.eq(values[i, "a"] * values[i, "b"]),
                         gated.eq(Mux(values[i, "matched"], product, 0))]
            terms[i] = gated
        values = pipe.cut_any("terms", {**{k: values[k] for k in flags}, **terms},
                              delay=multiplier_delay(p["value_width"], p["value_width"])
                              + Delay(luts=1))

        acc_shape = self.dot.shape()
        acc = Signal(acc_shape, name="acc_value")
        acc_next = Signal(acc_shape, name="acc_next")
        error = Signal(name="acc_error")
        error_next = Signal(name="acc_error_next")
        m.d.comb += [acc_next.eq(acc + adder_tree(m, [values[i] for i in range(width)],
                                                  "mac_sum")),
                     error_next.eq(error | values["bad"])]
        # A finished pair whose result register is full and not being emptied
        # holds every rank.
        m.d.comb += advance.eq(~(values["finishing"] & out_full & ~self.out_ready))

        out_dot, out_error = Signal(acc_shape, name="out_dot"), Signal(name="out_error")
        with m.If(self.out_ready):
            m.d.sync += out_full.eq(0)
        arriving = pipe.register("acc", delay=adder(p["acc_width"]) * max(1, width - 1))
        with m.If(advance & arriving):
            with m.If(values["finishing"]):
                m.d.sync += [acc.eq(0), error.eq(0), out_full.eq(1),
                             out_dot.eq(Mux(error_next, 0, acc_next)), out_error.eq(error_next)]
            with m.Else():
                m.d.sync += [acc.eq(acc_next), error.eq(error_next)]
        pipe.finish()
        m.d.comb += [self.out_valid.eq(out_full), self.dot.eq(out_dot), self.error.eq(out_error)]
        return m
