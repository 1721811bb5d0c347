"""cocotb on the exported Verilog, bit-exact against the golden model.

Every 8x8 pair for each signedness and both architectures, combinational and
pipelined; wider and odd widths by corners plus seeded random vectors."""

import itertools
import os

import pytest

import nnarith.sim.runner as runner
from nnarith.sim.fixed import FixedMultiplierModel
from nnarith.sim.runner import simulate

SIGNS = list(itertools.product([True, False], repeat=2))


def assert_passes(result):
    assert result.ok, result.summary()


@pytest.mark.parametrize("stages", [0, 6])
@pytest.mark.parametrize("arch", ["infer", "booth"])
@pytest.mark.parametrize("a_signed, b_signed", SIGNS)
def test_every_8x8_pair(arch, stages, a_signed, b_signed):
    result = simulate("int8_mul", {"arch": arch, "stages": stages, "a_signed": a_signed,
                                   "b_signed": b_signed})
    assert result.vectors == 65536
    assert_passes(result)


def run_width_case(arch, a_width, b_width, a_signed, b_signed, stages, simulator=None):
    result = simulate("int16_mul", {"a_width": a_width, "b_width": b_width, "arch": arch,
                                    "stages": stages, "a_signed": a_signed, "b_signed": b_signed},
                      simulator=simulator, count=20_000, seed=7)
    assert result.vectors >= 20_000
    assert_passes(result)


WIDTHS = [(16, 16, 0), (24, 24, 1), (32, 32, 0), (32, 32, 3), (5, 11, 2), (11, 5, 0),
          (3, 40, 0), (64, 64, 2)]


@pytest.mark.parametrize("a_width, b_width, stages", WIDTHS)
@pytest.mark.parametrize("a_signed, b_signed", SIGNS)
def test_inferred_wide_and_odd_widths(a_width, b_width, stages, a_signed, b_signed):
    run_width_case("infer", a_width, b_width, a_signed, b_signed, stages)


# Icarus evaluates a gate-level 32x32 Booth tree at ~2k vectors/s: `make test`
# runs the odd widths on Icarus and the wide Booth trees (one signedness mix
# per width, every mix at 16x16) on Verilator; `make exhaustive` runs the
# whole matrix on Icarus.
@pytest.mark.parametrize("a_width, b_width, stages, a_signed, b_signed, simulator", [
    *[(16, 16, 0, sa, sb, "verilator") for sa, sb in SIGNS],
    *[(5, 11, 2, sa, sb, None) for sa, sb in SIGNS],
    (11, 5, 0, False, True, None), (3, 40, 0, True, False, None),
    (24, 24, 1, True, True, "verilator"), (32, 32, 0, True, False, "verilator"),
    (32, 32, 3, True, True, "verilator"), (64, 64, 2, False, True, "verilator"),
])
def test_booth_wide_and_odd_widths(a_width, b_width, stages, a_signed, b_signed, simulator):
    run_width_case("booth", a_width, b_width, a_signed, b_signed, stages, simulator)


@pytest.mark.slow
@pytest.mark.parametrize("a_width, b_width, stages", WIDTHS)
@pytest.mark.parametrize("a_signed, b_signed", SIGNS)
def test_booth_wide_and_odd_widths_full_matrix(a_width, b_width, stages, a_signed, b_signed):
    run_width_case("booth", a_width, b_width, a_signed, b_signed, stages)


@pytest.mark.parametrize("rounding", ["trunc", "zero", "half_up", "half_even"])
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
def test_q8_8_narrowing(rounding, overflow):
    arch, stages = ("booth", 3) if overflow == "wrap" else ("infer", 0)
    result = simulate("q8_8_mul", {"rounding": rounding, "overflow": overflow, "arch": arch,
                                   "stages": stages}, count=20_000, seed=3)
    assert_passes(result)


def test_q8_8_preset_on_verilator():
    if os.environ.get("SIM", "icarus") != "icarus":
        pytest.skip("this test pins Verilator next to the default simulator")
    result = simulate("q8_8_mul", {"stages": 2}, simulator="verilator", count=5_000)
    assert_passes(result)


class OffByOne(FixedMultiplierModel):
    """A deliberately wrong golden: the driver must catch it."""

    def expected(self, inputs):
        out = super().expected(inputs)
        out["y"] = out["y"].copy()
        out["y"][::1000] ^= 1
        return out


@pytest.mark.parametrize("stages", [0, 2])
def test_a_mismatch_fails_with_seed_and_vector_file(monkeypatch, stages):
    monkeypatch.setitem(runner.MODELS, "FixedMultiplier", OffByOne)
    result = simulate("int8_mul", {"stages": stages}, seed=42, tag=f"wrong-golden-{stages}")
    assert not result.ok and result.mismatches == 66
    text = result.summary()
    assert "FAIL" in text and "seed 42" in text and result.failures in text
    with open(result.failures) as f:
        rows = f.read().splitlines()
    assert rows[0] == "index,a,b,expected_y,got_y" and len(rows) == 67
    assert rows[1].startswith("0,")
