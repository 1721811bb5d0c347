"""Run a unit in Amaranth's own simulator on a vector set: the quick check
before the exported Verilog goes through cocotb. Same vectors, same golden,
and the same stream drivers (:mod:`sim.streams`) as :mod:`sim.cocotb_stream`."""

import random

from amaranth.sim import Simulator
from amaranth.lib.wiring import Flow

from .streams import Monitor, SimWires, Sink, Source, clock

__all__ = ["run_pysim"]


def run_pysim(unit, inputs, bubble_rate=0.0, seed=0):
    """Outputs (port name -> list of unsigned ints) for each input vector; for
    a handshake unit also ``_cycles_<stream>``, the cycle of each transfer.
    Stalls (and, on handshake units, backpressure) on a ``bubble_rate``
    fraction of cycles. A handshake run ends when the inputs are used up and
    no result came for 64 cycles."""
    members = unit.signature.members
    control = {"in_valid", "out_valid"} | {p for s in unit.streams for p in (s.valid, s.ready)}
    in_names = [n for n, p in members.items() if p.flow == Flow.In and n not in control]
    out_names = [n for n, p in members.items() if p.flow == Flow.Out and n not in control]
    values = {n: [int(v) for v in inputs[n]] for n in in_names}
    got = {}

    async def bench(ctx):
        wires, rng = SimWires(unit, ctx), random.Random(seed)
        if unit.HANDSHAKE:
            sources = [Source(wires, {n: values[n] for n in s.payload}, valid=s.valid,
                              ready=s.ready, rng=rng, bubble_rate=bubble_rate, name=s.name)
                       for s in unit.streams if s.dir == "in"]
            monitors = [Sink(wires, s.payload, valid=s.valid, ready=s.ready, rng=rng,
                             bubble_rate=bubble_rate, name=s.name)
                        for s in unit.streams if s.dir == "out"]
            limit = 64 * sum(source.count for source in sources) + 1000

            def until(cycle):           # 64 cycles with no transfer after the last input
                last = max((part.cycles[-1] for part in sources + monitors if part.cycles),
                           default=-1)
                return all(source.done for source in sources) and cycle - last > 64
        else:
            source = Source(wires, {n: values[n] for n in in_names},
                            valid="in_valid" if unit.latency else None, rng=rng,
                            bubble_rate=bubble_rate)
            sources = [source]
            monitors = [Monitor(wires, out_names, valid="out_valid" if unit.latency else None,
                                count=source.count, latency=unit.latency or None,
                                sent=source.cycles)]
            limit = 2 * source.count + unit.latency + 16 if unit.latency else source.count
            until = None                # the monitor's count
        finished = await clock([*sources, *monitors], limit=limit, until=until,
                               edge=ctx.tick() if unit.latency else None)
        if not finished and unit.HANDSHAKE:
            raise AssertionError(f"inputs not consumed or unit still busy after {limit} cycles")
        for monitor in monitors:
            errors, _ = monitor.errors(limit)
            if errors:
                raise AssertionError("; ".join(errors))
            got.update(monitor.got)
        got.update({f"_cycles_{part.name}": part.cycles for part in sources + monitors
                    if part.name})

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
