"""Units behind Amaranth ``lib.stream`` interfaces (:class:`hw.unit.StreamAdapter`):
a design of FIFOs and registers joined to the unit with ``wiring.connect``,
run in Amaranth's simulator with stalls and backpressure and checked against
the golden models; the unit's own Verilog keeps its flat ports, unchanged."""

import random
import re

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Module, Shape
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from nnarith.hw.catalogue import build
from nnarith.hw.csr import CSRJoin
from nnarith.hw.mac import IntMAC
from nnarith.hw.sparse import SparseJoin
from nnarith.hw.temporal import TemporalPE
from nnarith.sim.csr import CSRJoinModel
from nnarith.sim.mac import IntMACModel
from nnarith.sim.sparse import SparseJoinModel
from nnarith.sim.temporal import TemporalPEModel


def _pack(layout, inputs, row):
    """Row ``row`` of the port arrays as one word of the payload ``layout``."""
    return sum((int(inputs[name][row]) & ((1 << field.width) - 1)) << field.offset
               for name, field in layout)


def _unpack(layout, word):
    return {name: (word >> field.offset) & ((1 << field.width) - 1) for name, field in layout}


def _layouts(adapter):
    """Member name -> (flow, payload layout) of each stream interface."""
    return {name: (member.flow, getattr(adapter, name).payload.shape())
            for name, member in adapter.signature.members.items()}


def run_through_fifos(adapter, inputs, results, *, seed, offer_rate=0.6, take_rate=0.4):
    """The adapter between a FIFO per input stream, written by the testbench
    on an ``offer_rate`` fraction of cycles, and a two-entry FIFO per output
    stream, read on a ``take_rate`` fraction (so it fills: backpressure),
    until ``results`` transfers came out. Returns the results per output
    port and the number of cycles a result waited on a full output FIFO."""
    m = Module()
    m.submodules.unit = adapter
    sources, sinks = {}, {}
    for name, (flow, layout) in _layouts(adapter).items():
        fifo = SyncFIFOBuffered(width=Shape.cast(layout).width, depth=4 if flow == In else 2)
        m.submodules[f"{name}_fifo"] = fifo
        if flow == In:
            wiring.connect(m, fifo.r_stream, getattr(adapter, name))
            rows = len(inputs[next(field for field, _ in layout)])
            sources[name] = (fifo, [_pack(layout, inputs, row) for row in range(rows)])
        else:
            wiring.connect(m, getattr(adapter, name), fifo.w_stream)
            sinks[name] = (fifo, layout)
    got = {field: [] for _, layout in sinks.values() for field, _ in layout}
    counts = {"results": 0, "backpressure": 0}

    async def bench(ctx):
        rng = random.Random(seed)
        sent = dict.fromkeys(sources, 0)
        limit = 20 * sum(len(words) for _, words in sources.values()) + 1000
        for _ in range(limit):
            for name, (fifo, words) in sources.items():
                offer = sent[name] < len(words) and rng.random() < offer_rate
                ctx.set(fifo.w_en, offer)
                if offer:
                    ctx.set(fifo.w_data, words[sent[name]])
                    sent[name] += ctx.get(fifo.w_rdy)
            for name, (fifo, layout) in sinks.items():
                take = rng.random() < take_rate
                ctx.set(fifo.r_en, take)
                if take and ctx.get(fifo.r_rdy):
                    for field, value in _unpack(layout, ctx.get(fifo.r_data)).items():
                        got[field].append(value)
                    counts["results"] += 1
                out = getattr(adapter, name)
                counts["backpressure"] += ctx.get(out.valid) and not ctx.get(out.ready)
            await ctx.tick()
            if counts["results"] == results:
                return
        raise AssertionError(f"{counts['results']} of {results} results after {limit} cycles")

    simulator = Simulator(m)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    return got, counts["backpressure"]


def check(adapter, model, inputs, *, seed):
    expected = model.expected(inputs)
    results = len(next(iter(expected.values())))
    got, backpressure = run_through_fifos(adapter, inputs, results, seed=seed)
    assert backpressure > 0, "the output FIFO never filled: backpressure untested"
    for name, values in expected.items():
        assert got[name] == [int(v) for v in values], name


def test_sparse_join():
    unit = SparseJoin(chunk=8, matches=2, value_width=4)
    model = SparseJoinModel(unit)
    rng = np.random.default_rng(1)
    check(unit.as_streams(), model, model.stimulus(rng, 48), seed=1)


@pytest.mark.parametrize("width", [1, 2])
def test_csr_join(width):
    """Two input streams carrying different numbers of transfers."""
    unit = CSRJoin(width=width, index_width=8, value_width=6, acc_width=16)
    model = CSRJoinModel(unit)
    rng = np.random.default_rng(width)
    inputs = model.pack(model.directed(rng) + model.random_pairs(rng, 100), rng, split_rate=0.2)
    assert len(inputs["a_last"]) != len(inputs["b_last"])
    check(unit.as_streams(), model, inputs, seed=width)


def test_temporal_pe():
    unit = TemporalPE()
    model = TemporalPEModel(unit)
    rng = np.random.default_rng(3)
    inputs = model.stimulus(rng, 4)
    keep = np.sort(rng.choice(len(inputs["a"]), 600, replace=False))
    check(unit.as_streams(), model, {n: v[keep] for n, v in inputs.items()}, seed=3)


class Capture(wiring.Component):
    """A consumer of an always-ready stream: registers each transfer's payload."""

    def __init__(self, signature):
        super().__init__({"sink": In(signature),
                          "word": Out(Shape.cast(signature.members["payload"].shape).width),
                          "seen": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.seen.eq(self.sink.valid)
        with m.If(self.sink.valid):
            m.d.sync += self.word.eq(self.sink.payload)
        return m


def test_pipelined_unit():
    """A pipelined unit's streams are always ready: the producer FIFO is read
    whenever it holds a word (in_valid has the gaps of the writes), the
    consumer takes every result, and one with a ready signal is refused."""
    unit = IntMAC(stages=2)
    model = IntMACModel(unit)
    inputs = model.stimulus(np.random.default_rng(4), 300)
    expected = model.expected(inputs)

    m = Module()
    m.submodules.unit = adapter = unit.as_streams()
    with pytest.raises(wiring.ConnectionError, match="constant value"):
        wiring.connect(m, adapter.out_stream,
                       stream.Signature(adapter.out_stream.payload.shape()).flip().create())
    in_layout, out_layout = adapter.in_stream.payload.shape(), adapter.out_stream.payload.shape()
    m.submodules.source = source = SyncFIFOBuffered(width=Shape.cast(in_layout).width, depth=4)
    m.submodules.sink = sink = Capture(adapter.out_stream.signature)
    wiring.connect(m, source.r_stream, adapter.in_stream)
    wiring.connect(m, adapter.out_stream, sink.sink)
    words = [_pack(in_layout, inputs, row) for row in range(len(inputs["a"]))]
    got = {name: [] for name in expected}

    async def bench(ctx):
        rng = random.Random(4)
        sent = 0
        for _ in range(4 * len(words)):
            offer = sent < len(words) and rng.random() < 0.7
            ctx.set(source.w_en, offer)
            if offer:
                ctx.set(source.w_data, words[sent])
                sent += ctx.get(source.w_rdy)
            if ctx.get(sink.seen):
                for name, value in _unpack(out_layout, ctx.get(sink.word)).items():
                    got[name].append(value)
            await ctx.tick()

    simulator = Simulator(m)
    simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    for name, values in expected.items():
        assert got[name] == [int(v) for v in values], name


def test_combinational_unit_has_no_streams():
    with pytest.raises(TypeError, match="combinational"):
        build("int8_mul").as_streams()


#: The flat ports of each handshake preset's Verilog module.
FLAT_PORTS = {
    "temporal_pe": "a w mode clear acc mode_error in_valid out_valid in_ready out_ready",
    "sparse_join": "a_mask a_values a_count b_mask b_values b_count last dot error "
                   "in_valid out_valid in_ready out_ready",
    "csr_join": "a_index a_value a_last b_index b_value b_last dot error "
                "a_valid a_ready b_valid b_ready out_valid out_ready",
}


@pytest.mark.parametrize("preset", sorted(FLAT_PORTS))
def test_verilog_keeps_flat_ports(preset):
    """The unit's module has its flat ports, and wrapping it changes no byte."""
    text = verilog.convert(build(preset), name=preset, emit_src=False)
    header = re.search(rf"^module {preset}\((.*?)\);", text, re.M | re.S)
    assert set(header.group(1).split(", ")) == {"clk", "rst", *FLAT_PORTS[preset].split()}
    unit = build(preset)
    verilog.convert(unit.as_streams(), name="wrapped", emit_src=False)
    assert verilog.convert(unit, name=preset, emit_src=False) == text
