"""Run a unit in Amaranth's own simulator on a vector set: the quick check
before the exported Verilog goes through cocotb. Same vectors, same golden,
same valid/latency rules as :mod:`sim.cocotb_stream`."""

import random

from amaranth.sim import Simulator
from amaranth.lib.wiring import Flow

__all__ = ["run_pysim"]


def run_pysim(unit, inputs, bubble_rate=0.0, seed=0):
    """Outputs (port name -> list of unsigned ints) for each input vector; for
    a handshake unit also ``_cycles_<stream>``, the cycle of each transfer,
    with stalls and backpressure on a ``bubble_rate`` fraction of cycles."""
    members = unit.signature.members
    control = {"in_valid", "out_valid"} | {p for s in unit.streams for p in (s.valid, s.ready)}
    in_names = [n for n, p in members.items() if p.flow == Flow.In and n not in control]
    out_names = [n for n, p in members.items() if p.flow == Flow.Out and n not in control]
    values = {n: [int(v) for v in inputs[n]] for n in in_names}
    count = len(values[in_names[0]])
    got = {n: [] for n in out_names}

    def sample(ctx):
        for n in out_names:
            port = getattr(unit, n)
            got[n].append(ctx.get(port) & ((1 << len(port)) - 1))

    async def handshake(ctx):
        # The cocotb driver's stream rules: each input stream offers its
        # elements in order, an offer stands until taken, and on a
        # ``bubble_rate`` fraction of cycles a stream without a standing offer
        # offers nothing and each output stream refuses its result. The run
        # ends when the inputs are used up and no result came for 64 cycles.
        rng = random.Random(seed)
        feeds = [s for s in unit.streams if s.dir == "in"]
        sinks = [s for s in unit.streams if s.dir == "out"]
        lengths = {s.name: len(values[s.payload[0]]) for s in feeds}
        offering = dict.fromkeys(lengths, False)
        for s in unit.streams:
            got[f"_cycles_{s.name}"] = []
        limit, idle = 64 * sum(lengths.values()) + 1000, 0
        for cycle in range(limit):
            for s in feeds:
                sent = len(got[f"_cycles_{s.name}"])
                offering[s.name] = sent < lengths[s.name] and (offering[s.name]
                                                               or rng.random() >= bubble_rate)
                for n in s.payload:
                    ctx.set(getattr(unit, n), values[n][min(sent, lengths[s.name] - 1)])
                ctx.set(getattr(unit, s.valid), offering[s.name])
            taking = {s.name: rng.random() >= bubble_rate for s in sinks}
            for s in sinks:
                ctx.set(getattr(unit, s.ready), taking[s.name])
            for s in feeds:
                if offering[s.name] and ctx.get(getattr(unit, s.ready)):
                    got[f"_cycles_{s.name}"].append(cycle)
                    offering[s.name] = False
            produced = False
            for s in sinks:
                if taking[s.name] and ctx.get(getattr(unit, s.valid)):
                    produced = True
                    got[f"_cycles_{s.name}"].append(cycle)
                    for n in s.payload:
                        port = getattr(unit, n)
                        got[n].append(ctx.get(port) & ((1 << len(port)) - 1))
            await ctx.tick()
            done = all(len(got[f"_cycles_{n}"]) == lengths[n] for n in lengths)
            idle = idle + 1 if done and not produced else 0
            if idle > 64:
                return
        raise AssertionError(f"inputs not consumed or unit still busy after {limit} cycles")

    async def bench(ctx):
        if unit.HANDSHAKE:
            await handshake(ctx)
            return
        if not unit.latency:
            for i in range(count):
                for n in in_names:
                    ctx.set(getattr(unit, n), values[n][i])
                sample(ctx)
            return
        for cycle in range(count + unit.latency):
            for n in in_names:
                ctx.set(getattr(unit, n), values[n][min(cycle, count - 1)])
            ctx.set(unit.in_valid, cycle < count)
            await ctx.tick()
            if ctx.get(unit.out_valid):
                issued = len(got[out_names[0]])
                if cycle - issued != unit.latency - 1:
                    raise AssertionError(f"vector {issued} came out after {cycle - issued + 1} "
                                         f"cycles, latency is {unit.latency}")
                sample(ctx)

    simulator = Simulator(unit)
    if unit.latency:
        simulator.add_clock(1e-8)
    simulator.add_testbench(bench)
    simulator.run()
    return got


def pysim_mismatch(unit, count, keep, seed=0):
    """Run up to ``keep`` of the unit's bench vectors (``count`` random ones
    before sampling) in Amaranth's simulator against the golden model.

    Returns ``None`` when every output matches, else a description of the first
    mismatch."""
    import numpy as np

    from .runner import MODELS
    model = MODELS[type(unit).__name__](unit)
    inputs = model.stimulus(np.random.default_rng(seed), count)
    sizes = {len(v) for v in inputs.values()}
    if len(sizes) == 1:         # one vector per row: keep a random subset of them
        size = sizes.pop()
        pick = np.sort(np.random.default_rng(seed + 1).choice(size, min(keep, size), replace=False))
        inputs = {n: v[pick] for n, v in inputs.items()}
    expected = model.expected(inputs)
    got = run_pysim(unit, inputs)
    for name, values in expected.items():
        if len(got[name]) != len(values):
            return f"{name}: {len(got[name])} results for {len(values)} vectors"
        for i, (e, g) in enumerate(zip(values, got[name])):
            if int(e) != g:
                operands = " ".join(f"{n}={int(v[i]):#x}" for n, v in inputs.items())
                return f"{name} wrong for {operands}: got {g:#x}, expected {int(e):#x}"
    return None
