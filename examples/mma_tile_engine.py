"""A V100-exact tensor-core MMA inside one's own Amaranth design.

`TileEngine` queues 4x4x4 tiles (fp16 A and B, fp32 C) in a FIFO and feeds
them to nnarith's `mma_fp16_v100` unit, joined with `wiring.connect` through
the unit's `lib.stream` interfaces; D comes out with a valid. The engine is
simulated in Amaranth's simulator against the golden tensor-core model (the
FIFO runs empty now and then, so the pipeline sees bubbles) and exported to
Verilog.

Run: python examples/mma_tile_engine.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

import nnarith
from nnarith.golden import values
from nnarith.golden.mma import mma as golden_mma

M = N = K = 4
TILE = data.StructLayout({
    "a": data.ArrayLayout(data.ArrayLayout(16, K), M),    # fp16 bit patterns, row-major
    "b": data.ArrayLayout(data.ArrayLayout(16, N), K),
    "c": data.ArrayLayout(data.ArrayLayout(32, N), M),    # fp32
})


class TileEngine(wiring.Component):
    """Tiles in (a stream with backpressure), D = A*B + C out (with a valid)."""

    tiles: In(stream.Signature(TILE))
    d: Out(data.ArrayLayout(data.ArrayLayout(32, N), M))
    d_valid: Out(1)

    def __init__(self, *, stages: int = 3, depth: int = 4):
        super().__init__()
        self.mma = nnarith.build("mma_fp16_v100", stages=stages).as_streams()
        self.depth = depth

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = SyncFIFOBuffered(width=TILE.size, depth=self.depth)
        m.submodules.mma = mma = self.mma
        wiring.connect(m, wiring.flipped(self.tiles), queue.w_stream)
        # The unit's input payload is {a, b, c} in that order: the tile's own layout.
        wiring.connect(m, queue.r_stream, mma.in_stream)
        m.d.comb += [self.d.eq(mma.out_stream.payload.d), self.d_valid.eq(mma.out_stream.valid)]
        return m


def random_tiles(rng, count):
    """fp16 A, B near one (so that the sums keep their low bits) and fp32 C."""
    a = rng.normal(size=(count, M, K)).astype(np.float16)
    b = rng.normal(size=(count, K, N)).astype(np.float16)
    c = rng.normal(size=(count, M, N)).astype(np.float32)
    return a, b, c


def tile_word(a, b, c):
    """One tile as the integer the FIFO holds (TILE's layout, bit 0 up)."""
    word, offset = 0, 0
    for matrix in (a, b, c):
        bits = values.to_bits(matrix).reshape(-1)
        width = matrix.dtype.itemsize * 8
        for element in bits:
            word |= int(element) << offset
            offset += width
    return word


def simulate(engine, a, b, c):
    """D of every tile from the engine, in order (uint32 fp32 bit patterns)."""
    got = []

    async def feed(ctx):
        for index in range(len(a)):
            ctx.set(engine.tiles.payload.as_value(), tile_word(a[index], b[index], c[index]))
            ctx.set(engine.tiles.valid, 1)
            await ctx.tick().until(engine.tiles.ready)
            ctx.set(engine.tiles.valid, 0)
            if index % 3 == 2:
                await ctx.tick().repeat(2)             # the queue runs dry: bubbles

    async def collect(ctx):
        while len(got) < len(a):
            await ctx.tick()
            if ctx.get(engine.d_valid):
                word = ctx.get(engine.d.as_value())
                got.append([(word >> (32 * i)) & 0xFFFF_FFFF for i in range(M * N)])

    sim = Simulator(engine)
    sim.add_clock(1e-8)
    sim.add_testbench(feed)
    sim.add_testbench(collect, background=True)
    sim.run_until(1e-8 * (4 * len(a) + 50))
    return np.array(got, dtype=np.uint32).reshape(-1, M, N)


def main(out_dir):
    rng = np.random.default_rng(7)
    a, b, c = random_tiles(rng, 12)
    engine = TileEngine()
    got = simulate(engine, a, b, c)
    expected, _ = golden_mma(values.to_bits(a), values.to_bits(b), values.to_bits(c),
                             "fp16", "fp32", "tensorcore", gpu="v100")
    assert got.shape == expected.shape, (got.shape, expected.shape)
    mismatches = int(np.count_nonzero(got != expected))
    exact = np.matmul(a.astype(np.float64), b.astype(np.float64)) + c
    error = np.max(np.abs(got.view(np.float32) - exact))
    print(f"{len(a)} tiles through TileEngine (mma_fp16_v100, {engine.mma.unit.latency} stages): "
          f"{mismatches} mismatches with the V100 golden; max |D - exact| = {error:.3g}")

    path = Path(out_dir) / "tile_engine.v"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(verilog.convert(TileEngine(), name="tile_engine", emit_src=False))
    print(f"Verilog: {path}")
    return mismatches


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1] if len(sys.argv) > 1 else "build/examples") else 0)
