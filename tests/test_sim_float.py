"""cocotb on the exported float multipliers, bit-exact (result and flags)
against the golden model: every fp8 pair in every rounding mode; for the
16- and 32-bit formats every special-class pair in every mode, TestFloat-style
patterns and 50,000 random pairs per mode (200,000 in ``make exhaustive``),
combinational and 3-stage."""

import pytest

from nnarith.sim.runner import simulate


def assert_passes(result):
    assert result.ok, result.summary()


@pytest.mark.parametrize("preset", ["e4m3_mul", "e5m2_mul"])
@pytest.mark.parametrize("arch, stages", [("infer", 0), ("booth", 3)])
def test_every_fp8_pair_in_every_mode(preset, arch, stages):
    result = simulate(preset, {"arch": arch, "stages": stages})
    assert result.vectors == 5 * 65536
    assert_passes(result)


# The 3-stage runs go to Verilator, ~5x faster than Icarus on these pipelines
# once compiled. make test: 20,000 random pairs per mode; make exhaustive: 200,000.
@pytest.mark.parametrize("count", [20_000, pytest.param(200_000, marks=pytest.mark.slow)])
@pytest.mark.parametrize("preset", ["fp16_mul", "bf16_mul", "fp32_mul", "tf32_mul"])
@pytest.mark.parametrize("arch, stages, simulator", [("infer", 0, "icarus"),
                                                     ("booth", 10, "verilator")])
def test_specials_patterns_and_random_pairs_per_mode(preset, arch, stages, simulator, count):
    result = simulate(preset, {"arch": arch, "stages": stages}, simulator=simulator,
                      count=count, seed=11)
    assert result.vectors > 5 * count
    assert_passes(result)


@pytest.mark.parametrize("preset, params", [
    ("fp16_mul_fp32", {}), ("bf16_mul_fp32", {"stages": 2}),
    ("fp16_mul", {"ftz": True}), ("e4m3_mul", {"saturate": True, "stages": 1}),
    ("e4m3_mul", {"b_fmt": "e5m2", "out_fmt": "fp16"}),
    ("bf16_mul", {"out_fmt": "e4m3", "saturate": True}),
    ("fp16_mul", {"a_fmt": "e6m9", "arch": "booth"}),
])
def test_mixed_formats_and_options(preset, params):
    assert_passes(simulate(preset, params, count=20_000, seed=5))
