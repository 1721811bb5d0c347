"""Integer MAC and dot product: Amaranth-sim checks, then cocotb on the exported
Verilog against the golden, bit-exact in ``y`` and ``ovf``. Running sums
stream >= 10,000 steps with clears, with narrow accumulators so that the
streams cross the wrap/saturation boundary, and the INT32_MIN * INT32_MIN edge."""

import pytest

from nnarith.hw.mac import IntMAC
from nnarith.sim.pysim import pysim_mismatch
from nnarith.sim.runner import simulate

CONFIGS = [
    {"lanes": 4}, {"lanes": 4, "arch": "booth", "stages": 2},
    {"lanes": 4, "a_signed": False}, {"lanes": 4, "b_signed": False, "overflow": "saturate"},
    {"lanes": 3, "a_signed": False, "b_signed": False, "arch": "booth"},
    {"lanes": 4, "a_signed": False, "b_signed": False, "arch": "booth", "stages": 5},
    {"lanes": 4, "arch": "booth", "stages": 7, "overflow": "saturate"},
    {"lanes": 4, "a_width": 4, "b_width": 8, "acc_width": 16, "overflow": "saturate"},
    {"accumulate": True}, {"accumulate": True, "arch": "booth", "stages": 3},
    {"accumulate": True, "acc_width": 18, "overflow": "saturate"},
    {"accumulate": True, "acc_width": 17, "lanes": 2},
    {"accumulate": True, "a_width": 32, "acc_width": 64, "overflow": "saturate"},
]


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_amaranth_sim(params):
    assert pysim_mismatch(IntMAC(**params), 1500, 2000) is None


@pytest.mark.parametrize("preset, params", [
    ("int8_mac", {}), ("int8_mac", {"arch": "booth", "stages": 3}),
    ("int8_mac", {"acc_width": 20, "overflow": "saturate", "stages": 2}),
    ("int8_mac", {"acc_width": 16}),
    ("int8_mac", {"a_width": 32, "acc_width": 64}),
    ("int8_mac", {"a_width": 32, "acc_width": 64, "overflow": "saturate"}),
    ("dp4a", {}), ("dp4a", {"overflow": "saturate", "stages": 1}),
    ("dp4a", {"a_signed": False}), ("dp4a", {"a_signed": False, "b_signed": False}),
    ("dp4a", {"arch": "booth", "stages": 2}), ("dp4a", {"arch": "booth", "stages": 7}),
], ids=str)
def test_cocotb(preset, params):
    result = simulate(preset, params, count=10_000, seed=7)
    assert result.vectors >= 10_000
    assert result.ok, result.summary()
