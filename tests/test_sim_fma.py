"""cocotb on the exported fused multiply-adds, bit-exact (result and flags)
against the golden model: every FMA preset combinational on Icarus (special
classes cubed, patterns and directed triples in every mode, random triples),
a pipelined Booth variant, and the accumulating fp16_mac32 on streams of
more than 10,000 steps with clears, at 1 and 3 stages. The slow sweep runs
200,000 random triples per mode per preset on Verilator."""

import pytest

from nnarith.sim.runner import simulate


def assert_passes(result):
    assert result.ok, result.summary()


@pytest.mark.parametrize("preset", ["fp16_fma32", "bf16_fma32", "fp32_fma", "fp16_fma16"])
def test_presets_combinational(preset):
    result = simulate(preset, {}, count=1000, seed=7)
    assert result.vectors > 30_000
    assert_passes(result)


def test_pipelined_booth_variant():
    assert_passes(simulate("fp16_fma32", {"arch": "booth", "stages": 3}, count=1000, seed=8))


@pytest.mark.parametrize("stages", [1, 3])
def test_running_sum_streams(stages):
    result = simulate("fp16_mac32", {"stages": stages}, count=6500, seed=9)
    assert result.vectors >= 10_000
    assert_passes(result)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["fp16_fma32", "bf16_fma32", "fp32_fma", "fp16_fma16"])
def test_200k_random_per_mode_on_verilator(preset):
    result = simulate(preset, {"arch": "booth", "stages": 2}, simulator="verilator",
                      count=200_000, seed=13)
    assert result.vectors > 5 * 200_000
    assert_passes(result)


@pytest.mark.slow
def test_long_running_sum_on_verilator():
    result = simulate("fp16_mac32", {"stages": 2}, simulator="verilator", count=200_000, seed=14)
    assert_passes(result)
