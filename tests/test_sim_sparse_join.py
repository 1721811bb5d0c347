"""Bitmask inner join: Amaranth-sim checks, then cocotb on the exported
Verilog against the SparTen golden, bit-exact in ``dot`` and ``error``, at
every pair of densities with and without backpressure; without it the
cycles each chunk takes, measured from the input transfers, equal
:func:`golden.sparse.join_cycles` and results follow back to back."""

import subprocess
import sys

import numpy as np
import pytest

from nnarith.golden.sparse import bitmask_encode, join_cycles
from nnarith.hw.sparse import SparseJoin
from nnarith.sim.pysim import pysim_mismatch, run_pysim
from nnarith.sim.runner import simulate
from nnarith.sim.sparse import DENSITIES, SEED_EXAMPLE, SparseJoinModel, transfer_cycles


@pytest.mark.parametrize("params", [
    {}, {"matches": 1}, {"matches": 8}, {"chunk": 8, "matches": 4, "acc_width": 17},
    {"chunk": 13, "matches": 4, "value_width": 5, "value_signed": False},
    {"chunk": 16, "arch": "booth", "value_width": 16, "acc_width": 40},
    {"stages": 3}, {"chunk": 16, "matches": 4, "arch": "booth", "stages": 7},
    pytest.param({"chunk": 128, "matches": 8, "value_width": 2, "acc_width": 5},
                 marks=pytest.mark.slow),
], ids=str)
def test_amaranth_sim(params):
    assert pysim_mismatch(SparseJoin(**params), 24, 1 << 20) is None


def _join(unit, pairs, malformed=(), seed=0):
    """What the unit gives for vector pairs in Amaranth's simulator, and the golden."""
    model = SparseJoinModel(unit)
    inputs = model.transfers(np.random.default_rng(seed), pairs, malformed)
    expected = {n: [int(v) for v in values] for n, values in model.expected(inputs).items()}
    got = run_pysim(unit, inputs)
    return inputs, {n: got[n] for n in expected}, expected


@pytest.mark.parametrize("chunk", [8, 9, 16])
def test_seed_example(chunk):
    """12*3 + 8*2 = 52, in one chunk or across two."""
    unit = SparseJoin(chunk=chunk)
    inputs, got, expected = _join(unit, [SEED_EXAMPLE, SEED_EXAMPLE[::-1]])
    assert got == expected == {"dot": [52, 52], "error": [0, 0]}
    assert len(inputs["last"]) == 2 * -(-9 // chunk)


def test_malformed_count_is_flagged_for_its_vector_only():
    """A count of 1 for a chunk with three nonzeros: the two matches past it
    read 0, the vector is flagged, the next one is clean again."""
    unit = SparseJoin(chunk=8, value_width=8)
    model = SparseJoinModel(unit)
    x = np.array([2, 0, 3, 5, 0, 0, 0, 0, 1])
    y = np.array([7, 1, 1, 1, 0, 0, 0, 0, 1])
    inputs = model.transfers(np.random.default_rng(1), [(x, y), (x, y)])
    assert inputs["a_count"][0] == 3
    inputs["a_count"][0] = 1
    got = run_pysim(unit, inputs)
    assert got["dot"] == [2 * 7 + 1, 2 * 7 + 3 + 5 + 1] and got["error"] == [1, 0]
    assert {n: [int(v) for v in got_values] for n, got_values in model.expected(inputs).items()} \
        == {"dot": got["dot"], "error": got["error"]}


def test_wrapping_accumulator():
    """(-128)^2 = 2**14, 256 times = 2**22: 0 in 22 bits (wrapped many times in
    17), the most negative value in 23 bits."""
    x = np.full(256, -128)
    for acc_width, dot in ((17, 0), (22, 0), (23, 1 << 22), (32, 1 << 22)):
        _, got, expected = _join(SparseJoin(chunk=16, matches=4, acc_width=acc_width), [(x, x)])
        assert got == expected and got["dot"] == [dot]


def _measured_cycles(result, inputs):
    """Cycles each input transfer took (from when the previous one was taken)
    and how many cycles after its last chunk each result came."""
    out = result.outputs()
    taken, done = out["_cycles_in"].astype(np.int64), out["_cycles_out"].astype(np.int64)
    cycles = np.diff(np.concatenate([[-1], taken]))
    last_taken = taken[np.asarray(inputs["last"]).astype(bool)]
    return cycles, done - last_taken


@pytest.mark.parametrize("params", [
    {}, {"chunk": 8, "matches": 1, "acc_width": 17}, {"chunk": 24, "matches": 8},
    {"stages": 4}, {"chunk": 16, "matches": 4, "arch": "booth", "stages": 8},
    pytest.param({"chunk": 128, "matches": 8}, marks=pytest.mark.slow),
    pytest.param({"chunk": 64, "matches": 4, "arch": "booth"}, marks=pytest.mark.slow),
], ids=str)
@pytest.mark.parametrize("bubble_rate", [0.0, 0.25])
def test_cocotb_every_density(params, bubble_rate):
    """Every pair of densities (whole and partial last chunks, malformed
    chunks, the directed pairs), bit-exact; without stalls each chunk takes
    max(1, ceil(matches/P)) cycles and each result leaves one cycle after its
    last chunk, so vectors follow each other with no idle cycle."""
    unit = SparseJoin(**params)
    model = SparseJoinModel(unit)
    rng = np.random.default_rng(17)
    pairs = model.directed() + model.random_pairs(rng, len(DENSITIES) ** 2)
    inputs = model.transfers(rng, pairs, malformed={3, 9, 20, 31})
    golden = np.concatenate([join_cycles(bitmask_encode(x, unit.params["chunk"]),
                                         bitmask_encode(y, unit.params["chunk"]),
                                         unit.params["matches"]) for x, y in pairs])
    assert np.array_equal(transfer_cycles(inputs, unit.params["matches"]), golden)
    assert model.expected(inputs)["error"].sum() == 4

    result = simulate("sparse_join", params, seed=5, inputs=inputs, bubble_rate=bubble_rate)
    assert result.ok and result.vectors == len(pairs), result.summary()
    cycles, after = _measured_cycles(result, inputs)
    if bubble_rate:
        assert np.all(cycles >= golden) and np.all(after >= unit.latency)
        assert np.any(cycles > golden)
    else:
        assert np.array_equal(cycles, golden) and np.all(after == unit.latency)
    assert set(golden.tolist()) >= {1, 2}


def test_cocotb_seed_example():
    """The seeds' 52 as a directed test: chunks of 8 with one match per cycle,
    so the first chunk (matches at 0 and 5) takes 2 cycles and the second 1."""
    params = {"chunk": 8, "matches": 1}
    model = SparseJoinModel(SparseJoin(**params))
    inputs = model.transfers(np.random.default_rng(0), [SEED_EXAMPLE])
    result = simulate("sparse_join", params, seed=2, inputs=inputs, bubble_rate=0.0)
    assert result.ok, result.summary()
    assert result.outputs()["dot"].tolist() == [52]
    cycles, after = _measured_cycles(result, inputs)
    assert cycles.tolist() == [2, 1] and after.tolist() == [1]


def test_cocotb_random_stimulus():
    """The bench model's own stimulus (random pairs, malformed chunks) under backpressure."""
    result = simulate("sparse_join", {"matches": 4, "value_width": 4, "value_signed": False},
                      count=80, seed=9, bubble_rate=0.25)
    assert result.ok, result.summary()


@pytest.mark.parametrize("params, name", [
    ({"matches": 3}, "matches"), ({"chunk": 7}, "chunk"), ({"chunk": 129}, "chunk"),
    ({"value_width": 17}, "value_width"), ({"value_width": 1}, "value_width"),
    ({"acc_width": 16}, "acc_width"), ({"value_width": 16, "acc_width": 32}, "acc_width"),
    ({"acc_width": 65}, "acc_width"), ({"value_signed": 1}, "value_signed"),
    ({"arch": "wallace"}, "arch"), ({"stages": 0}, "stages"), ({"stages": 25}, "stages"),
])
def test_bad_parameters_are_refused(params, name):
    with pytest.raises(ValueError, match=rf"^{name}: must be .*got") as error:
        SparseJoin(**params)
    assert "\n" not in str(error.value)


def test_cli_bad_matches_exits_2_with_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nnarith.cli", "verilog", "sparse_join",
                             "-p", "matches=3", "-o", str(tmp_path / "x")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["nnarith: error: matches: must be one of 1, 2, 4, 8, got 3"], result.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("stages", [2, 5])
def test_pipelined_join_under_backpressure(stages):
    """A result refused for several cycles holds the chunks in flight behind
    it (one enable for every rank): nothing is lost or counted twice."""
    unit = SparseJoin(chunk=8, matches=1, stages=stages)
    model = SparseJoinModel(unit)
    rng = np.random.default_rng(stages)
    pairs = model.random_pairs(rng, 40)
    inputs = model.transfers(rng, pairs, malformed={4, 11})
    expected = {n: [int(v) for v in values] for n, values in model.expected(inputs).items()}
    got = run_pysim(unit, inputs, bubble_rate=0.6, seed=stages)
    assert {n: got[n] for n in expected} == expected
