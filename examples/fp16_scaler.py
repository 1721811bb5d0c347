"""An fp16 multiplier from nnarith inside one's own Amaranth design.

`Scaler` multiplies a stream of fp16 samples by a gain held in a register,
with nnarith's 2-stage Booth fp16 multiplier doing the arithmetic and the
rounding mode chosen at run time. It is simulated in Amaranth's simulator
against the golden model on NumPy float16 arrays (round to nearest even and
toward zero), then exported to Verilog; nnarith.export writes the multiplier
alone with its manifest and FuseSoC core.

Run: python examples/fp16_scaler.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

import nnarith
from nnarith.golden import values


class Scaler(wiring.Component):
    """``scaled = sample * gain`` in fp16, ``latency`` cycles later."""

    sample: In(16)
    sample_valid: In(1)
    gain: In(16)
    load_gain: In(1)
    round_toward_zero: In(1)
    scaled: Out(16)
    scaled_valid: Out(1)

    def __init__(self, *, stages: int = 2):
        super().__init__()
        self.mul = nnarith.build("fp16_mul", stages=stages, arch="booth")
        self.latency = self.mul.latency

    def elaborate(self, platform):
        m = Module()
        m.submodules.mul = mul = self.mul
        gain = Signal(16)
        with m.If(self.load_gain):
            m.d.sync += gain.eq(self.gain)
        m.d.comb += [
            mul.a.eq(self.sample), mul.b.eq(gain), mul.in_valid.eq(self.sample_valid),
            mul.rm.eq(self.round_toward_zero),        # RISC-V rm: 0 RNE, 1 RTZ
            self.scaled.eq(mul.y), self.scaled_valid.eq(mul.out_valid),
        ]
        return m


def simulate(scaler, samples, gain, *, toward_zero):
    got = []

    async def drive(ctx):
        ctx.set(scaler.gain, int(values.to_bits(gain)))
        ctx.set(scaler.load_gain, 1)
        await ctx.tick()
        ctx.set(scaler.load_gain, 0)
        ctx.set(scaler.round_toward_zero, int(toward_zero))
        for index, bits in enumerate(values.to_bits(samples)):
            if index % 5 == 4:                          # a bubble before every fifth sample
                ctx.set(scaler.sample_valid, 0)
                await ctx.tick()
            ctx.set(scaler.sample, int(bits))
            ctx.set(scaler.sample_valid, 1)
            await ctx.tick()
        ctx.set(scaler.sample_valid, 0)
        await ctx.tick().repeat(scaler.latency + 1)

    async def collect(ctx):
        async for _, _, valid, value in ctx.tick().sample(scaler.scaled_valid, scaler.scaled):
            if valid:
                got.append(value)

    sim = Simulator(scaler)
    sim.add_clock(1e-8)
    sim.add_testbench(drive)
    sim.add_testbench(collect, background=True)
    sim.run()
    return values.from_bits(np.array(got, dtype=np.uint16), "fp16")


def main(out_dir):
    rng = np.random.default_rng(3)
    samples = np.concatenate([rng.normal(scale=100.0, size=400),
                              [0.0, -0.0, np.inf, -np.inf, np.nan, 6e-8, 65504.0]]).astype(np.float16)
    gain = np.float16(0.3)
    failures = 0
    for toward_zero in (False, True):
        got = simulate(Scaler(), samples, gain, toward_zero=toward_zero)
        expected = values.multiply(samples, np.full_like(samples, gain),
                                   rm="rtz" if toward_zero else "rne")
        same = (values.to_bits(got) == values.to_bits(expected)) | (np.isnan(got) & np.isnan(expected))
        failures += int(np.count_nonzero(~same)) + abs(len(got) - len(samples))
        print(f"{len(got)} samples x {gain} ({'RTZ' if toward_zero else 'RNE'}): "
              f"{np.count_nonzero(~same)} mismatches with the golden model")

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaler.v").write_text(verilog.convert(Scaler(), name="scaler", emit_src=False))
    print(f"Verilog of the whole design: {out / 'scaler.v'}")
    files = nnarith.export("fp16_mul", out, params={"stages": 2, "arch": "booth"}, top="fp16_mul_s2")
    print(f"the multiplier alone, for a vendor flow: {', '.join(str(p) for p in files if p)}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1] if len(sys.argv) > 1 else "build/examples") else 0)
