"""Bit Fusion in cocotb on the exported Verilog (Icarus): the BitBrick over
every input, the Fusion Unit over every mode x signedness (shuffled, so the
mode changes between consecutive cycles), illegal codes, clears and long
accumulation streams. The slow sweep gives every mode >= 100,000 vectors
(8x8 exhaustively: 65,536 per signedness) and wraps the 32-bit accumulator."""

import pytest

from nnarith.sim.runner import simulate


@pytest.mark.parametrize("width, stages, brick", [(2, 0, "adder"), (4, 2, "adder"), (2, 1, "table")])
def test_bitbrick(width, stages, brick):
    result = simulate("bitbrick", {"width": width, "stages": stages, "brick": brick})
    assert result.vectors == 1 << (2 * width + 2)
    assert result.ok, result.summary()


@pytest.mark.parametrize("preset, params", [
    ("fusion_unit", {}), ("fusion_unit", {"stages": 3, "acc_width": 18}),
    ("fusion_unit", {"brick": "table", "stages": 8}),
    ("fusion_unit16", {}),
], ids=str)
def test_fusion_unit_every_mode(preset, params):
    result = simulate(preset, params, count=600, seed=11)
    assert result.ok, result.summary()
    assert result.vectors >= 36 * 600


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["fusion_unit", "fusion_unit16"])
def test_fusion_unit_full(preset):
    result = simulate(preset, {}, simulator="verilator", count=100_000, seed=2)
    assert result.ok, result.summary()
    assert result.vectors >= 36 * 100_000
