"""SparTen-style bitmask inner join (Gondimalla et al., MICRO 2019): the dot
product of two vectors streamed as chunks of a mask plus packed nonzeros.

Per cycle the unit ANDs the two masks (or takes the matches left over from
the previous cycle), finds the lowest ``matches`` set bits with a cascade of
priority encoders (each isolates the lowest bit of what the one before left
and clears it), and for each match counts the bits of each mask below it
(a prefix popcount, one Dadda counter tree per match and side): that count
is the match's slot in the side's packed values. The selected value pairs
go into the integer MAC's sum of products (:func:`~hw.mac.sum_of_products`),
which the accumulator register adds to the running sum.

With ``stages`` > 1 the selected operands are registered and the products'
tree is cut like the MAC's; the priority encoders stay in the first stage,
since the matches left over feed the next cycle's encoders. A result waiting
for ``out_ready`` stalls every rank at once (one pipeline enable), so the
chunks in flight behind it keep their place.
"""

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib.wiring import In, Out

from ..golden.formats import QFormat

from .booth import reduce_and_add
from .mac import sum_of_products
from .params import Derived, Param
from .pipeline import Delay, adder, compare, mux
from .unit import ACCUMULATOR_STAGES_PARAM, TARGET_MHZ_PARAM, Unit

__all__ = ["SparseJoin", "popcounts"]


def popcounts(m, pipe, vectors, name, carried=()):
    """Number of set bits of each of ``vectors`` (all of one width), side by
    side in one Dadda counter tree: vector ``k`` owns a group of columns one
    wider than its count, so no carry crosses into the next group (every
    bit is positive: a carry out of a group would mean a count beyond its
    width). Cut like any tree (:func:`~hw.booth.reduce_and_add`), with
    ``carried`` alongside; returns ``(counts, carried)``."""
    width = len(vectors[0]).bit_length()
    columns = []
    for bits in vectors:
        columns += [[bits[i] for i in range(len(bits))]] + [[] for _ in range(width)]
    total, carried = reduce_and_add(m, pipe, columns, name, carried, delay=Delay(luts=1))
    counts = []
    for k in range(len(vectors)):
        count = Signal(width, name=f"{name}{k}")
        m.d.comb += count.eq(total[k * (width + 1):][:width])
        counts.append(count)
    return counts, carried


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
    stream holds its payload until taken). The result is offered ``stages``
    cycles after the last chunk was taken (latency ``stages``, 1 by default)
    and held until ``out_ready``; while it waits the unit takes no input
    and the chunks in flight wait too. Without backpressure vectors follow
    each other with no idle cycle.

    Malformed input: a chunk whose ``count`` on either side differs from
    its mask's popcount sets ``error`` for its vector. The dot is then still
    the sum over the matches of the products of the values at each side's
    prefix popcount, a value whose slot is not below that side's count (not
    sent) counting as 0.

    For ``wiring.connect``, :meth:`~hw.unit.Unit.as_streams` gives
    ``in_stream`` (payload fields ``a_mask`` ... ``last``, one chunk pair per
    transfer) and ``out_stream`` (``dot``, ``error``).
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
        ACCUMULATOR_STAGES_PARAM,
        TARGET_MHZ_PARAM,
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
                    f"offered {p['stages']} cycle(s) later (latency = stages) and held until "
                    "out_ready, no chunk being taken meanwhile"),
            "error": ("flag", "some chunk of this vector pair had a count different from its "
                      "mask's popcount on either side (the dot then counts unsent slots as 0)")}
        super().__init__(p, members, docs)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        n, lanes, w = p["chunk"], p["matches"], p["value_width"]

        busy = Signal(name="join_busy")             # past the first cycle of the offered chunk
        pending = Signal(n, name="join_pending")    # its matches not joined yet
        fresh = Signal(init=1, name="join_fresh")   # the next step starts a new vector pair
        full = Signal(name="out_full")              # dot/error hold a result not yet taken
        acc = Signal.like(self.dot, name="acc_value")
        error = Signal(name="acc_error")

        # A result waiting to be taken holds every rank; otherwise all move.
        advance = Signal(name="join_advance")
        step = Signal(name="join_step")
        m.d.comb += [advance.eq(~full | self.out_ready), step.eq(self.in_valid & advance)]
        pipe = self.pipeline(m, own_registers=1, valid=step, enable=advance)

        # Priority encoders: each isolates the lowest match left and clears it.
        left = Signal(n, name="join_matches")
        m.d.comb += left.eq(Mux(busy, pending, self.a_mask & self.b_mask))
        belows, founds = [], []
        for r in range(lanes):
            name = f"join_match{r}"
            less = Signal(n, name=f"{name}_less")    # left - 1: borrows through the lowest match
            below = Signal(n, name=f"{name}_below")  # the bits under that match
            rest = Signal(n, name=f"{name}_rest")
            found = Signal(name=f"{name}_found")
            m.d.comb += [less.eq(left - 1), below.eq(~left & less), rest.eq(left & less),
                         found.eq(left.any())]
            belows.append(below)
            founds.append(found)
            left = rest
        done = Signal(name="join_done")             # this cycle joins the chunk's last matches
        m.d.comb += done.eq(~left.any())

        m.d.comb += self.in_ready.eq(advance & done)
        with m.If(step):
            m.d.sync += fresh.eq(done & self.last)
            with m.If(done):
                m.d.sync += busy.eq(0)
            with m.Else():
                m.d.sync += [busy.eq(1), pending.eq(left)]

        # The encoders are the only loop (the matches left feed the next
        # cycle's): the rest of the selection works on a copy of the chunk.
        chunk = {f"{side}_{part}": getattr(self, f"{side}_{part}")
                 for side in "ab" for part in ("mask", "values", "count")}
        chunk = pipe.cut_any("matches", {**chunk, "belows": Cat(*belows), "founds": Cat(*founds),
                                         "clear": fresh, "ends": done & self.last},
                             delay=(adder(n) + Delay(luts=1)) * lanes)
        # Each match's slot on each side is the prefix popcount of that side's
        # mask below it; the masks' own popcounts check the counts sent.
        sides = [(r, side) for r in range(lanes) for side in "ab"]
        counts, chunk = popcounts(
            m, pipe, [chunk[f"{side}_mask"] & chunk["belows"].word_select(r, n)
                      for r, side in sides] + [chunk["a_mask"], chunk["b_mask"]],
            "join_popcount", chunk)
        *offsets, a_total, b_total = counts
        operands = {"a": [], "b": []}
        for (r, side), offset in zip(sides, offsets):
            # A slot not found or not sent reads 0.
            value = Signal(w, name=f"join_match{r}_{side}_value")
            m.d.comb += value.eq(Mux(chunk["founds"][r] & (offset < chunk[f"{side}_count"]),
                                     chunk[f"{side}_values"].word_select(offset, w), 0))
            operands[side].append(value)
        # The chunk is held while it is joined, so flagging it on each of its cycles is harmless.
        malformed = Signal(name="join_malformed")
        m.d.comb += malformed.eq((a_total != chunk["a_count"]) | (b_total != chunk["b_count"]))
        a_all, b_all, *carried = pipe.cut(
            "operands", Cat(*operands["a"]), Cat(*operands["b"]), chunk["clear"], chunk["ends"],
            malformed, delay=compare(n.bit_length()) + mux(n) + Delay(luts=1))
        fmt = QFormat(w, 0, p["value_signed"])
        lane = (lambda v: v.as_signed()) if p["value_signed"] else (lambda v: v)
        products, (clear, ends, bad) = sum_of_products(
            m, pipe, [lane(a_all.word_select(i, w)) for i in range(lanes)],
            [lane(b_all.word_select(i, w)) for i in range(lanes)], fmt, fmt,
            p["arch"] == "booth", tuple(carried))

        with m.If(self.out_ready):
            m.d.sync += full.eq(0)
        with m.If(advance & pipe.register("acc", delay=adder(p["acc_width"]))):
            m.d.sync += [acc.eq(products + Mux(clear, 0, acc)), error.eq((error & ~clear) | bad)]
            with m.If(ends):
                m.d.sync += full.eq(1)
        pipe.finish()
        m.d.comb += [self.dot.eq(acc), self.error.eq(error), self.out_valid.eq(full)]
        return m
