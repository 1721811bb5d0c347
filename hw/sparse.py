"""SparTen-style bitmask inner join (Gondimalla et al., MICRO 2019): the dot
product of two vectors streamed as chunks of a mask plus packed nonzeros.

Per cycle the unit ANDs the two masks (or takes the matches left over from
the previous cycle), finds the lowest ``matches`` set bits with a cascade of
priority encoders (each isolates the lowest bit of what the one before left
and clears it), and for each match counts the bits of each mask below it
(a prefix popcount, one Dadda counter tree per match and side): that count
is the match's slot in the side's packed values. The selected value pairs
go into the integer MAC's dot-product datapath (:class:`~hw.mac.IntMAC`)
with the running sum as its addend.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from .booth import dadda_reduce
from .mac import IntMAC
from .params import Derived, Param
from .unit import Unit

__all__ = ["SparseJoin", "popcount"]


def popcount(m, bits, name):
    """Number of set bits of ``bits``: one column of a Dadda counter tree
    and a final adder."""
    width = len(bits).bit_length()
    rows = dadda_reduce(m, [[bits[i] for i in range(len(bits))]] + [[] for _ in range(width - 1)])
    count = Signal(width, name=name)
    m.d.comb += count.eq(rows[0] + rows[1])
    return count


def _smallest_acc(p):
    return 2 * p["value_width"] + 1


class SparseJoin(Unit):
    """Dot product of two bitmask-compressed vectors, one chunk pair per
    input transfer, one result per vector pair.

    Each input transfer carries chunk ``c`` of both vectors: ``a_mask`` bit
    ``i`` says element ``c*N + i`` of a is nonzero; ``a_values`` holds the
    chunk's nonzeros packed in ascending position, value ``k`` in bits
    ``[k*w, (k+1)*w)``; ``a_count`` is how many were sent (slots from
    ``a_count`` on are ignored); the same for b; ``last`` marks the vector's
    last chunk (a partial last chunk has its mask bits beyond the vector
    clear). Once the sum of the ``last`` chunk is complete, ``dot`` (wrapping
    modulo ``2**acc_width``) and ``error`` are offered on ``out``.

    Timing: a chunk with ``k`` matches takes ``max(1, ceil(k/P))`` cycles and
    is taken on its last one; the unit reads it while it is offered (a
    stream holds its payload until taken). The result is offered on the
    cycle after the last chunk was taken (latency 1) and held until
    ``out_ready``; while it waits the unit takes no input. Without
    backpressure vectors follow each other with no idle cycle.

    Malformed input: a chunk whose ``count`` on either side differs from
    its mask's popcount sets ``error`` for its vector. The dot is then still
    the sum over the matches of the products of the values at each side's
    prefix popcount, a value whose slot is not below that side's count (not
    sent) counting as 0.
    """

    HANDSHAKE = True
    PARAMS = (
        Param("chunk", 32, "elements per chunk (N): mask bits and value slots per transfer",
              lo=8, hi=128),
        Param("matches", 2, "matches joined per cycle (P): priority encoders and multipliers",
              choices=(1, 2, 4, 8)),
        Param("value_width", 8, "width of each value", lo=2, hi=16),
        Param("value_signed", True, "values (and the accumulator) are two's complement"),
        Param("acc_width", Derived(lambda p: max(32, _smallest_acc(p)),
                                   "max(32, 2*value_width + 1)"),
              "accumulator width (wrapping)",
              lo=Derived(_smallest_acc, "2*value_width + 1"), hi=64),
        Param("arch", "infer", "products: inferred * or radix-4 Booth rows in one Dadda tree "
              "(as IntMAC)", choices=("infer", "booth")),
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        n, w, lanes = p["chunk"], p["value_width"], p["matches"]
        value_kind = f"{n}x{'int' if p['value_signed'] else 'uint'}{w}"
        acc_shape = signed(p["acc_width"]) if p["value_signed"] else unsigned(p["acc_width"])
        held = "; read on every cycle of the chunk, so held until taken (stream rule)"
        members, docs = {}, {}
        for side in ("a", "b"):
            members |= {f"{side}_mask": In(n), f"{side}_values": In(n * w),
                        f"{side}_count": In(range(n + 1))}
            docs |= {
                f"{side}_mask": ("bitmask", f"bit i: element i of this chunk of {side} is "
                                 "nonzero; bits beyond the vector's length clear" + held),
                f"{side}_values": (value_kind, f"the chunk's nonzeros of {side} packed in "
                                   f"ascending position, value k in bits [{w}*k, {w}*k+{w})"
                                   + held),
                f"{side}_count": ("count", f"number of values sent in {side}_values (0..{n}); "
                                  f"must equal popcount({side}_mask), slots from it on are "
                                  "ignored")}
        members["last"] = In(1)
        docs["last"] = ("control", "this chunk ends the vector pair: its result follows")
        members |= {"dot": Out(acc_shape), "error": Out(1)}
        docs |= {
            "dot": (f"{'int' if p['value_signed'] else 'uint'}{p['acc_width']}",
                    "sum over the vector pair of a*b at the positions where both masks are set, "
                    f"wrapping; a chunk takes max(1, ceil(k/{lanes})) cycles for "
                    "k = popcount(a_mask & b_mask) and is taken on its last one; the result is "
                    "offered on the next cycle (latency 1) and held until out_ready, no chunk "
                    "being taken meanwhile"),
            "error": ("flag", "some chunk of this vector pair had a count different from its "
                      "mask's popcount on either side (the dot then counts unsent slots as 0)")}
        super().__init__(p, members, docs)

    @property
    def latency(self):
        """A result is offered the cycle after its last chunk was taken."""
        return 1

    def _operand(self, m, side, below, found, name):
        """The value of ``side`` at the match whose lower bits are ``below``:
        the slot at the prefix popcount of its mask, 0 if not found or not sent."""
        w = self.params["value_width"]
        mask, values, count = (getattr(self, f"{side}_{part}") for part in ("mask", "values",
                                                                            "count"))
        offset = popcount(m, mask & below, f"{name}_{side}_offset")
        value = Signal(w, name=f"{name}_{side}_value")
        m.d.comb += value.eq(Mux(found & (offset < count), values.word_select(offset, w), 0))
        return value

    def elaborate(self, platform):
        p = self.params
        m = Module()
        n, lanes = p["chunk"], p["matches"]
        m.submodules.mac = mac = IntMAC(a_width=p["value_width"], a_signed=p["value_signed"],
                                        lanes=lanes, acc_width=p["acc_width"], arch=p["arch"])

        busy = Signal(name="join_busy")             # past the first cycle of the offered chunk
        pending = Signal(n, name="join_pending")    # its matches not joined yet
        fresh = Signal(init=1, name="acc_fresh")    # the next step starts a new vector pair
        full = Signal(name="out_full")              # dot/error hold a result not yet taken
        acc = Signal.like(self.dot, name="acc_value")
        error = Signal(name="acc_error")

        # Priority encoders: each isolates the lowest match left and clears it.
        left = Signal(n, name="join_matches")
        m.d.comb += left.eq(Mux(busy, pending, self.a_mask & self.b_mask))
        a_lanes, b_lanes = [], []
        for r in range(lanes):
            name = f"join_match{r}"
            less = Signal(n, name=f"{name}_less")    # left - 1: borrows through the lowest match
            below = Signal(n, name=f"{name}_below")  # the bits under that match
            rest = Signal(n, name=f"{name}_rest")
            found = Signal(name=f"{name}_found")
            m.d.comb += [less.eq(left - 1), below.eq(~left & less), rest.eq(left & less),
                         found.eq(left.any())]
            a_lanes.append(self._operand(m, "a", below, found, name))
            b_lanes.append(self._operand(m, "b", below, found, name))
            left = rest
        done = Signal(name="join_done")             # this cycle joins the chunk's last matches
        m.d.comb += done.eq(~left.any())

        malformed = Signal(name="join_malformed")
        m.d.comb += malformed.eq((popcount(m, self.a_mask, "join_a_popcount") != self.a_count)
                                 | (popcount(m, self.b_mask, "join_b_popcount") != self.b_count))

        m.d.comb += [mac.a.eq(Cat(*a_lanes)), mac.b.eq(Cat(*b_lanes)),
                     mac.c.eq(Mux(fresh, 0, acc))]

        step = Signal(name="join_step")
        m.d.comb += [step.eq(self.in_valid & (~full | self.out_ready)),
                     self.in_ready.eq((~full | self.out_ready) & done)]
        with m.If(self.out_ready):
            m.d.sync += full.eq(0)
        with m.If(step):
            # The chunk is held while it is joined, so OR-ing its flag on each cycle is harmless.
            m.d.sync += [acc.eq(mac.y), error.eq((error & ~fresh) | malformed), fresh.eq(0)]
            with m.If(done):
                m.d.sync += busy.eq(0)
                with m.If(self.last):
                    m.d.sync += [full.eq(1), fresh.eq(1)]
            with m.Else():
                m.d.sync += [busy.eq(1), pending.eq(left)]
        m.d.comb += [self.dot.eq(acc), self.error.eq(error), self.out_valid.eq(full)]
        return m
