"""Precision recipes through the exported Verilog: every GEMM and requantizer
call of a few images' inference equals the recipe's golden output bit for bit
(MMA blocks, dp4a and 2:4 dot-product chains, the Fusion array's schedule, the
SparTen join's vector pairs), the cycles the simulation measures say what each
unit's parallelism promises, and a wrong expectation stops the replay naming
the layer and the unit."""

import dataclasses

import numpy as np
import pytest

from nnarith.golden import network, recipes
from nnarith.sim.network import RecipeMismatch, replay, replay_all


@pytest.fixture(scope="module")
def mlp(split):
    return network.train("mlp", split), split


IMAGES = 4
_REPLAYED = {}


def replayed(mlp, recipe):
    """A recipe's calls on the first images and their replays (once per module)."""
    if recipe not in _REPLAYED:
        model, split = mlp
        result = recipes.run(recipes.prepare(recipe, model, split), split.x_test[:IMAGES])
        _REPLAYED[recipe] = result, replay_all(result.calls, simulator="icarus")
    return _REPLAYED[recipe]


@pytest.mark.parametrize("recipe", [
    "fp16_v100", "int8_asym_channel_kl", "sparten_d50_ft",
    # A 4x4x32 FP8 unit takes most of a minute to build on Icarus, the Fusion
    # array half of one (its mapping is checked against its model in CI).
    pytest.param("e4m3_h100_promoted", marks=pytest.mark.slow),
    pytest.param("bitfusion_4", marks=pytest.mark.slow),
    pytest.param("bitfusion_2", marks=pytest.mark.slow)])
def test_recipe_calls_replay_bit_exact(mlp, recipe):
    result, runs = replayed(mlp, recipe)
    assert [r.layer for r in runs] == [call.layer for call in result.calls]
    # One unit operation per clock: at least as many cycles as tiles or vectors.
    assert all(r.cycles >= r.work > 0 for r in runs)


def test_sparse_join_cycles_follow_the_matches(mlp):
    """The SparTen join takes max(1, ceil(matches/P)) cycles per chunk: its
    measured cycles lie between the matched pairs / P and the chunks plus that."""
    result, runs = replayed(mlp, "sparten_d50_ft")
    for call, run in zip(result.calls, runs):
        if isinstance(call, recipes.IntGemmCall):
            pairs = call.shape[0] * call.shape[2]
            chunks = pairs * -(-call.shape[1] // 32)
            assert call.mults / 2 <= run.cycles <= chunks + call.mults / 2 + 8
            assert run.work == pairs


def test_two_four_halves_the_cycles_of_the_same_multipliers(mlp):
    """sparse24_dot and dp4a both have 4 multipliers; 2:4 covers 8 of K per
    clock, so each layer takes half of dp4a's cycles, and both RTLs agree with
    their recipes."""
    dense = {r.layer: r for r in replayed(mlp, "int8_dp4a")[1] if r.preset == "dp4a"}
    sparse = {r.layer: r for r in replayed(mlp, "sparse24_ft")[1] if r.preset == "sparse24_dot"}
    assert set(dense) == set(sparse) == {"fc1", "fc2"}
    for layer in dense:
        assert 2 * sparse[layer].cycles == dense[layer].cycles


@pytest.mark.slow
def test_fusion_array_speeds_up_with_fewer_bits(mlp):
    """At 4 bits each Fusion Unit does 4 products per clock: the 4x4 array's
    GEMM cycles (its latency aside) are a quarter of the 8-bit recipe's."""
    def gemm_cycles(recipe):
        return {r.layer: r.cycles - 8 for r in replayed(mlp, recipe)[1]
                if r.preset == "fusion_array"}
    eight, four = gemm_cycles("bitfusion_8"), gemm_cycles("bitfusion_4")
    assert {layer: 4 * c for layer, c in four.items()} == eight


def test_a_wrong_expectation_names_the_layer(mlp):
    model, split = mlp
    call = recipes.run(recipes.prepare("fp16_v100", model, split), split.x_test[:4]).calls[-1]
    d = call.d.copy()
    d[0, 0] ^= np.uint64(1)
    with pytest.raises(RecipeMismatch, match=r"layer fc2 on mma_fp16_v100: .*reproduce: nnarith sim"):
        replay(dataclasses.replace(call, d=d), simulator="icarus")


def test_a_wrong_integer_gemm_names_the_layer(mlp):
    model, split = mlp
    call = recipes.run(recipes.prepare("sparse24", model, split), split.x_test[:2]).calls[0]
    d = call.d.copy()
    d[1, 3] += 1
    with pytest.raises(RecipeMismatch, match=r"layer fc1 on sparse24_dot: D differ"):
        replay(dataclasses.replace(call, d=d), simulator="icarus")
