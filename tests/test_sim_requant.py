"""Requantizer: Amaranth-sim checks, then cocotb on the exported Verilog
against the golden (golden/quant.py): every shift code, 250,000 random (acc,
M) pairs (1,000,000 per rounding in ``make exhaustive``), every rounding tie of gemmlowp's two roundings and of TFLite's
single rounding, both signs, zero-point correction and fused activations."""

import pytest

from nnarith.hw.requant import Requantizer
from nnarith.sim.pysim import pysim_mismatch
from nnarith.sim.runner import simulate

CONFIGS = [{}, {"rounding": "single"}, {"activation": "relu", "stages": 2},
           {"activation": "relu6", "rounding": "single", "stages": 4},
           {"out_signed": False, "activation": "relu6"}, {"out_bits": 4, "correction": False},
           {"fixed_multiplier": 1518500250, "fixed_shift": -7},
           {"arch": "booth", "rounding": "single", "stages": 9},
           {"arch": "booth", "activation": "relu", "stages": 14}]


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_amaranth_sim(params):
    # Gate-level 32x32 Booth trees simulate slowly in Python: fewer vectors, all of them in cocotb.
    keep = 150 if params.get("arch") == "booth" else 2500
    assert pysim_mismatch(Requantizer(**params), 2000, keep) is None


def test_every_shift_with_every_tie():
    result = simulate("requant", count=250_000, seed=21)
    assert result.vectors > 250_000
    assert result.ok, result.summary()


@pytest.mark.parametrize("params", CONFIGS[1:], ids=str)
def test_variants(params):
    simulator = "verilator" if params.get("arch") == "booth" else None
    result = simulate("requant", params, count=50_000, seed=22, simulator=simulator)
    assert result.ok, result.summary()


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"rounding": "single"}, {"rounding": "single", "stages": 3},
                                    {"arch": "booth", "stages": 14}])
def test_a_million_pairs_over_every_shift_with_every_tie(params):
    result = simulate("requant", params, count=1_000_000, seed=23)
    assert result.ok, result.summary()
