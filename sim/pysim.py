"""Run a unit in Amaranth's own simulator on a vector set: the quick check
before the exported Verilog goes through cocotb. Same vectors, same golden,
same valid/latency rules as :mod:`sim.cocotb_stream`."""

from amaranth.sim import Simulator
from amaranth.lib.wiring import Flow

__all__ = ["run_pysim"]


def run_pysim(unit, inputs):
    """Outputs (port name -> list of unsigned ints) for each input vector."""
    members = unit.signature.members
    control = ("in_valid", "out_valid", "in_ready", "out_ready")
    in_names = [n for n, p in members.items() if p.flow == Flow.In and n not in control]
    out_names = [n for n, p in members.items() if p.flow == Flow.Out and n not in control]
    count = len(inputs[in_names[0]])
    values = {n: [int(v) for v in inputs[n]] for n in in_names}
    got = {n: [] for n in out_names}

    def sample(ctx):
        for n in out_names:
            port = getattr(unit, n)
            got[n].append(ctx.get(port) & ((1 << len(port)) - 1))

    async def handshake(ctx):
        # Each vector is offered until taken; results are taken as they come.
        sent, limit = 0, 64 * count + 1000
        for _ in range(limit):
            if len(got[out_names[0]]) == count:
                return
            for n in in_names:
                ctx.set(getattr(unit, n), values[n][min(sent, count - 1)])
            ctx.set(unit.in_valid, sent < count)
            ctx.set(unit.out_ready, 1)
            taken = sent < count and ctx.get(unit.in_ready)
            if ctx.get(unit.out_valid):
                sample(ctx)
            await ctx.tick()
            sent += taken
        raise AssertionError(f"only {len(got[out_names[0]])} of {count} results in {limit} cycles")

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
    size = len(next(iter(inputs.values())))
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
