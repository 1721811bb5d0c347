"""Temporal multi-precision PE: Amaranth-sim checks, then cocotb on the exported
Verilog against the Bit Fusion golden, bit-exact in ``acc`` and
``mode_error``, under random backpressure; the cycles per operation measured
from the handshake equal ceil(pa/m) * ceil(pb/m)."""

import numpy as np
import pytest

from nnarith.golden.bitfusion import encode_mode
from nnarith.hw.temporal import TemporalPE
from nnarith.sim.pysim import pysim_mismatch, run_pysim
from nnarith.sim.runner import simulate
from nnarith.sim.temporal import TemporalPEModel, operation_cycles


@pytest.mark.parametrize("params", [
    {}, {"mult_bits": 2}, {"acc_width": 17}, {"min_prec": 4},
    {"max_prec": 16}, {"max_prec": 16, "min_prec": 2, "mult_bits": 2, "acc_width": 40},
], ids=str)
def test_amaranth_sim(params):
    assert pysim_mismatch(TemporalPE(**params), 64, 1200) is None


@pytest.mark.parametrize("a_signed, w_signed", [(False, False), (False, True), (True, False),
                                                (True, True)])
def test_each_signedness(a_signed, w_signed):
    """The nine precision pairs of one signedness, small ones exhaustively."""
    unit = TemporalPE()
    model = TemporalPEModel(unit)
    words = [encode_mode(pa, pb, a_signed, w_signed) for pa in (2, 4, 8) for pb in (2, 4, 8)]
    inputs = model.stimulus(np.random.default_rng(len(words)), 64, modes=words)
    expected, got = model.expected(inputs), run_pysim(unit, inputs)
    for name in expected:
        assert [int(v) for v in expected[name]] == got[name], name


def test_illegal_code_adds_nothing():
    """Codes above max_prec add 0 and flag the result, clear still clears."""
    unit = TemporalPE()
    good = encode_mode(8, 8, True, True)
    ops = [(0xFD, 5, good, 1),             # -3 * 5
           (0xFF, 0xFF, 3, 0),             # a code 3: illegal
           (0xFF, 0xFF, 3 << 2 | 1 << 4, 0),
           (7, 7, good, 0),                # -15 + 49
           (7, 7, 0xF, 1)]                 # illegal with clear: back to 0
    inputs = {name: np.array([op[i] for op in ops], dtype=np.uint64)
              for i, name in enumerate(("a", "w", "mode", "clear"))}
    got = run_pysim(unit, inputs)
    assert got["acc"] == [(-15) & 0xFFFFFFFF, (-15) & 0xFFFFFFFF, (-15) & 0xFFFFFFFF, 34, 0]
    assert got["mode_error"] == [0, 1, 1, 0, 1]


@pytest.mark.parametrize("params", [{}, {"mult_bits": 2, "acc_width": 17}], ids=str)
def test_cycles_per_operation(params):
    """Without backpressure operations follow each other back to back: each is
    taken on its last cycle and its result leaves on the next."""
    result = simulate("temporal_pe", params, count=48, seed=5, bubble_rate=0.0)
    assert result.ok, result.summary()
    out = result.outputs()
    taken, done = out["_cycles_in"].astype(np.int64), out["_cycles_out"].astype(np.int64)
    inputs = np.load(result.workdir / "vectors.npz")
    cycles = operation_cycles(inputs["in_mode"], params.get("mult_bits", 4))
    assert np.array_equal(taken, np.cumsum(cycles) - 1)
    assert np.array_equal(done, taken + 1)
    assert {1, 2, 4} <= set(cycles.tolist())


@pytest.mark.parametrize("params, bubbles", [({}, 0.3), ({"mult_bits": 2, "acc_width": 17}, 0.125),
                                             ({"max_prec": 16}, 0.125)], ids=str)
def test_cocotb(params, bubbles):
    result = simulate("temporal_pe", params, count=256, seed=11, bubble_rate=bubbles)
    assert result.ok, result.summary()
    out = result.outputs()
    taken, done = out["_cycles_in"].astype(np.int64), out["_cycles_out"].astype(np.int64)
    inputs = np.load(result.workdir / "vectors.npz")
    p = TemporalPE(**params).params
    cycles = operation_cycles(inputs["in_mode"], p["mult_bits"], p["max_prec"], p["min_prec"])
    assert np.all(np.diff(taken) >= cycles[1:]) and np.all(done > taken)


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"mult_bits": 2}], ids=str)
def test_cocotb_every_pair_of_every_mode(params):
    """All 2**(pa+pb) operand pairs of all 36 legal modes, shuffled, with backpressure."""
    result = simulate("temporal_pe", params, count=1 << 16, seed=13)
    assert result.vectors > 4 * sum(1 << (pa + pb) for pa in (2, 4, 8) for pb in (2, 4, 8))
    assert result.ok, result.summary()
