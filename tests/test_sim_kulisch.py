"""cocotb on the exported Kulisch accumulators: streams of over 10,000 steps
(random products, cancellations, subnormal sums, overflow marches, specials,
clears mid-stream, a random read-out mode per step), bit-exact in y, flags
and ovf against the golden model, with random bubbles on in_valid."""

import pytest

from nnarith.sim.runner import simulate


def assert_passes(result, steps=10_000):
    assert result.vectors >= steps
    assert result.ok, result.summary()


@pytest.mark.parametrize("preset", ["kulisch_fp16", "kulisch_fp16x4", "kulisch_bf16"])
@pytest.mark.parametrize("stages", [1, 3])
def test_presets(preset, stages):
    assert_passes(simulate(preset, {"stages": stages}, count=6000, seed=stages))


@pytest.mark.parametrize("params", [
    {"lsb": -20, "msb": 8, "carry_bits": 3, "out_fmt": "fp16", "lanes": 2, "stages": 2},
    {"ftz": True, "out_fmt": "fp16", "carry_bits": 2},
])
def test_clamped_and_narrow_registers(params):
    assert_passes(simulate("kulisch_fp16", params, count=6000, seed=4))


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["kulisch_fp16", "kulisch_fp16x4", "kulisch_bf16"])
def test_presets_long_streams(preset):
    assert_passes(simulate(preset, {"stages": 2}, count=200_000, seed=9), steps=200_000)
