"""Precision recipes through the exported Verilog: every GEMM and requantizer
call of a few images' inference equals the recipe's golden output bit for bit,
and a wrong expectation stops the replay naming the layer and the unit."""

import dataclasses

import numpy as np
import pytest

from nnarith.golden import network, recipes
from nnarith.sim.network import RecipeMismatch, replay, replay_all


@pytest.fixture(scope="module")
def mlp(split):
    return network.train("mlp", split), split


@pytest.mark.parametrize("recipe", [
    "fp16_a100", "int8_asym_channel_kl",
    # A 4x4x32 FP8 unit takes most of a minute to build on Icarus.
    pytest.param("e4m3_h100_promoted", marks=pytest.mark.slow)])
def test_recipe_calls_replay_bit_exact(mlp, recipe):
    model, split = mlp
    result = recipes.run(recipes.prepare(recipe, model, split), split.x_test[:4])
    replayed = replay_all(result.calls, simulator="icarus")
    assert [r.layer for r in replayed] == [call.layer for call in result.calls]
    # One unit operation per clock: at least as many cycles as tiles or vectors.
    assert all(r.cycles >= r.work > 0 for r in replayed)


def test_a_wrong_expectation_names_the_layer(mlp):
    model, split = mlp
    call = recipes.run(recipes.prepare("fp16_v100", model, split), split.x_test[:4]).calls[-1]
    d = call.d.copy()
    d[0, 0] ^= np.uint64(1)
    with pytest.raises(RecipeMismatch, match=r"layer fc2 on mma_fp16_v100: .*reproduce: nnarith sim"):
        replay(dataclasses.replace(call, d=d), simulator="icarus")
