"""Requantizer: Amaranth-sim checks, then cocotb on the exported Verilog
against the golden (golden/quant.py): every shift code, 250,000 random (acc,
M) pairs (1,000,000 per rounding in ``make exhaustive``), every rounding tie of gemmlowp's two roundings and of TFLite's
single rounding, both signs, zero-point correction and fused activations."""

import pytest

from hw.requant import Requantizer
from sim.pysim import pysim_mismatch
from sim.runner import simulate

CONFIGS = [{}, {"rounding": "single"}, {"activation": "relu", "stages": 2},
           {"activation": "relu6", "rounding": "single", "stages": 4},
           {"out_signed": False, "activation": "relu6"}, {"out_bits": 4, "correction": False},
           {"fixed_multiplier": 1518500250, "fixed_shift": -7}]


@pytest.mark.parametrize("params", CONFIGS, ids=str)
def test_amaranth_sim(params):
    assert pysim_mismatch(Requantizer(**params), 2000, 2500) is None


def test_every_shift_with_every_tie():
    result = simulate("requant", count=250_000, seed=21)
    assert result.vectors > 250_000
    assert result.ok, result.summary()


@pytest.mark.parametrize("params", CONFIGS[1:], ids=str)
def test_variants(params):
    result = simulate("requant", params, count=50_000, seed=22)
    assert result.ok, result.summary()


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"rounding": "single"}, {"rounding": "single", "stages": 3}])
def test_a_million_pairs_over_every_shift_with_every_tie(params):
    result = simulate("requant", params, count=1_000_000, seed=23)
    assert result.ok, result.summary()
