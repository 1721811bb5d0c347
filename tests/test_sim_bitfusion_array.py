"""Fusion Unit array: Amaranth-sim checks of small arrays, then cocotb on the
exported 4x4 array: random streams whose mode changes on every cycle (every
legal mode, illegal ones, weight loads, clears, accumulator wrap-around) and
an int4 x int4 and an int8 x int2 matrix product, bit-exact with the golden
and with the integer matrix product."""

import numpy as np
import pytest

from nnarith.hw.bitfusion_array import FusionArray
from nnarith.sim.bitfusion_array import FusionArrayModel, matrix_product_inputs, matrix_product_result
from nnarith.sim.pysim import pysim_mismatch, run_pysim
from nnarith.sim.runner import simulate
from nnarith.sim.vectors import concat


@pytest.mark.parametrize("params", [
    {"rows": 2, "cols": 2}, {"rows": 1, "cols": 3, "stages": 5, "acc_width": 20},
    {"rows": 3, "cols": 1, "stages": 6}, {"rows": 2, "cols": 1, "max_prec": 16, "min_prec": 4},
], ids=str)
def test_amaranth_sim(params):
    assert pysim_mismatch(FusionArray(**params), 80, 120) is None


def test_weights_switch_under_vectors_in_flight():
    """Back-to-back loads with different weights and modes: each vector uses its own."""
    unit = FusionArray(rows=2, cols=2)
    A = np.array([[3, -2, 1, 0, -4, 5, 7, -8]])                # 8 int4 k's: 4 per PE row
    Ws = [np.arange(16).reshape(8, 2) % 7 - 3, np.arange(16).reshape(8, 2) % 5 - 2]
    inputs, readouts = [], []
    for W in Ws:
        vectors, readout = matrix_product_inputs(A, W, 4, 4, True, True, rows=2, cols=2)
        inputs.append(vectors)
        readouts.append(readout + sum(len(v["mode"]) for v in inputs[:-1]))
    widths = {n: len(getattr(unit, n)) for n in inputs[0]}
    got = run_pysim(unit, concat(widths, *inputs))
    for W, readout in zip(Ws, readouts):
        assert np.array_equal(matrix_product_result(got["y"], readout, 2, cols=2), A @ W)


def _products(rng):
    """An int4 x int4 (two K-tiles, two N-tiles) and an int8 x uint2 (three K-tiles) product."""
    return [(rng.integers(-8, 8, (6, 32)), rng.integers(-8, 8, (32, 8)), 4, 4, True, True),
            (rng.integers(-128, 128, (5, 40)), rng.integers(0, 4, (40, 4)), 8, 2, True, False),
            (rng.integers(-128, 128, (4, 16)), rng.integers(-2, 2, (16, 4)), 8, 2, True, True)]


def test_cocotb_stream_and_matrix_products():
    """One build: random stream, then the products, each starting with a clear and a load."""
    unit = FusionArray()
    model = FusionArrayModel(unit)
    rng = np.random.default_rng(21)
    parts = [model.stimulus(rng, 160)]
    products, readouts = _products(rng), []
    for A, W, pa, pb, a_signed, w_signed in products:
        vectors, readout = matrix_product_inputs(A, W, pa, pb, a_signed, w_signed)
        readouts.append(readout + sum(len(p["mode"]) for p in parts))
        parts.append(vectors)
    widths = {n: len(getattr(unit, n)) for n in parts[0]}
    result = simulate("fusion_array", inputs=concat(widths, *parts), seed=21)
    assert result.ok, result.summary()
    y = result.outputs()["y"]
    for (A, W, *_), readout in zip(products, readouts):
        assert np.array_equal(matrix_product_result(y, readout, W.shape[1]), A @ W)


def test_cocotb_deeper_pipeline():
    result = simulate("fusion_array", {"rows": 2, "cols": 3, "stages": 7, "acc_width": 24},
                      count=200, seed=22)
    assert result.ok, result.summary()


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"stages": 10}], ids=str)
def test_cocotb_long_stream(params):
    result = simulate("fusion_array", params, count=40_000, seed=23)
    assert result.ok, result.summary()
