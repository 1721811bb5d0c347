"""FloatMultiplier in Amaranth's simulator on the bench model's vectors: a quick
check of decode, product and the shared rounding module before cocotb."""

import numpy as np
import pytest

from nnarith.hw.float import FloatMultiplier
from nnarith.hw.float_round import leading_zeros
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator
from nnarith.sim.pysim import pysim_mismatch


def check(keep=1500, seed=0, **params):
    mismatch = pysim_mismatch(FloatMultiplier(**params), 200, keep, seed)
    assert mismatch is None, f"{params}: {mismatch}"


@pytest.mark.parametrize("fmt", ["fp16", "bf16", "fp32", "tf32", "e4m3", "e5m2", "e6m9", "e3m2"])
@pytest.mark.parametrize("arch", ["infer", "booth"])
def test_same_format(fmt, arch):
    check(keep=250 if fmt == "fp32" else 600, a_fmt=fmt, arch=arch)


@pytest.mark.parametrize("a_fmt, b_fmt, out_fmt", [
    ("fp16", "fp16", "fp32"), ("bf16", "bf16", "fp32"), ("e4m3", "e5m2", "fp16"),
    ("fp32", "fp32", "fp16"), ("bf16", "fp16", "e4m3"), ("e5m2", "e5m2", "e4m3")])
def test_mixed_formats(a_fmt, b_fmt, out_fmt):
    check(a_fmt=a_fmt, b_fmt=b_fmt, out_fmt=out_fmt)


@pytest.mark.parametrize("ftz, saturate", [(True, False), (False, True), (True, True)])
@pytest.mark.parametrize("fmt", ["fp16", "e4m3"])
def test_flush_to_zero_and_saturation(fmt, ftz, saturate):
    check(a_fmt=fmt, ftz=ftz, saturate=saturate)


@pytest.mark.parametrize("stages", [1, 2, 3, 5, 12])
@pytest.mark.parametrize("arch", ["infer", "booth"])
def test_pipelines(stages, arch):
    check(keep=400, a_fmt="fp16", arch=arch, stages=stages)


@pytest.mark.parametrize("width", [1, 2, 3, 5, 8, 10, 23, 52])
def test_leading_zero_count(width):
    m = Module()
    value = Signal(width)
    count = leading_zeros(m, value, "lz")
    values = sorted({0, 1, (1 << width) - 1, *(1 << k for k in range(width)),
                     *np.random.default_rng(width).integers(0, 1 << min(width, 62), 40).tolist()})

    async def bench(ctx):
        for v in values:
            ctx.set(value, v)
            assert ctx.get(count) == width - int(v).bit_length(), v

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
