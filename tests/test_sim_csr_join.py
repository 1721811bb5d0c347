"""CSR merge join: Amaranth-sim checks (results, cycles per vector pair,
backpressure, uneven packing), then cocotb on the exported Verilog against
the golden at every density with backpressure, and with none where the cycles
per pair must equal ``golden.csr.merge_cycles``; the lecture notes' 52, malformed
vectors, and bad parameters."""

import json
import subprocess
import sys

import numpy as np
import pytest

from nnarith.golden.csr import csr_encode
from nnarith.golden.mac import fit_accumulator
from nnarith.hw.csr import CSRJoin
from nnarith.hw.export import manifest
from nnarith.sim.csr import CSRJoinModel
from nnarith.sim.pysim import pysim_mismatch, run_pysim
from nnarith.sim.runner import simulate

SEED_A = [12, 0, 0, 77, 0, 8, 0, 0, 2]
SEED_B = [3, 22, 6, 0, 0, 2, 0, 9, 0]


def _joined(unit, inputs, bubble_rate=0.0, seed=0):
    """Amaranth sim with stalls and backpressure: ``(dot, error, result cycles)``."""
    got = run_pysim(unit, inputs, bubble_rate, seed)
    return got["dot"], got["error"], np.array(got["_cycles_out"], dtype=np.int64)


def check(unit, inputs, bubble_rate=0.0, seed=0, exact_cycles=True):
    model = CSRJoinModel(unit)
    expected = model.expected(inputs)
    dots, errors, cycles = _joined(unit, inputs, bubble_rate, seed)
    assert dots == [int(v) for v in expected["dot"]]
    assert errors == [int(v) for v in expected["error"]]
    if bubble_rate == 0:
        golden = np.cumsum(model.cycles(inputs)) + unit.latency - 1
        assert np.array_equal(cycles, golden) if exact_cycles else np.all(cycles >= golden)
    return expected


PARAMS = [{}, {"width": 2}, {"index_width": 4, "value_width": 2, "acc_width": 4},
          {"width": 2, "index_width": 4, "value_width": 3, "acc_width": 6},
          {"value_signed": False, "value_width": 16, "acc_width": 40},
          {"width": 2, "value_signed": False, "acc_width": 17, "index_width": 32},
          {"stages": 3}, {"width": 2, "stages": 4, "acc_width": 20}]


@pytest.mark.parametrize("params", PARAMS, ids=str)
@pytest.mark.parametrize("bubble_rate", [0.0, 0.3])
def test_amaranth_sim(params, bubble_rate):
    """Directed pairs and every density combination; without stalls the result
    of pair n comes exactly after the golden's cycles of pairs 0..n."""
    unit = CSRJoin(**params)
    inputs = CSRJoinModel(unit).stimulus(np.random.default_rng(len(str(params))), 300)
    expected = check(unit, inputs, bubble_rate, seed=3)
    assert expected["error"].any() and not expected["error"].all()


@pytest.mark.parametrize("width", [1, 2])
def test_shared_pysim_runner(width):
    assert pysim_mismatch(CSRJoin(width=width), 200, 10**6) is None


def test_width_two_with_one_entry_transfers():
    """Transfers of one entry inside a vector are joined correctly (the window
    waits for the next transfer), never faster than the golden's cycles."""
    unit = CSRJoin(width=2)
    model = CSRJoinModel(unit)
    rng = np.random.default_rng(9)
    pairs = model.directed(rng) + model.random_pairs(rng, 150)
    inputs = model.pack(pairs, rng, split_rate=0.4)
    assert (inputs["a_count"][inputs["a_last"] == 0] == 1).any()
    check(unit, inputs, exact_cycles=False)
    check(unit, inputs, bubble_rate=0.25, seed=2)


def _pairs_inputs(unit, pairs):
    return CSRJoinModel(unit).pack(pairs, np.random.default_rng(0))


def _every_index_set_pair(length):
    """Every pair of nonempty index sets of ``range(length)``; a's values are
    powers of two so that each match shows in the sum."""
    sets = [[k for k in range(length) if mask >> k & 1] for mask in range(1, 1 << length)]
    return [(a, [1 << k for k in a], b, [-(k + 1) for k in b]) for a in sets for b in sets]


@pytest.mark.parametrize("stages", [1, 3])
@pytest.mark.parametrize("width", [1, 2])
def test_every_index_set_pair(width, stages):
    """All 31 x 31 pairs of index sets of a 5-element vector, back to back:
    every result and every pair's cycle count as the golden's, the results
    ``stages - 1`` cycles later through the pipeline."""
    unit = CSRJoin(width=width, stages=stages)
    check(unit, _pairs_inputs(unit, _every_index_set_pair(5)))


@pytest.mark.parametrize("width", [1, 2])
def test_seed_example(width):
    """12x3 + 8x2 = 52 in |union| = 7 cycles at width 1, 3 at width 2."""
    unit = CSRJoin(width=width)
    pair = (*csr_encode(SEED_A), *csr_encode(SEED_B))
    dots, errors, cycles = _joined(unit, _pairs_inputs(unit, [pair, pair]))
    assert dots == [52, 52] and errors == [0, 0]
    assert cycles.tolist() == ([7, 14] if width == 1 else [3, 6])


@pytest.mark.parametrize("width", [1, 2])
def test_malformed_vectors_are_flagged(width):
    """Repeated and decreasing indices on either side: error set, dot 0, and
    the good pairs around them are unaffected."""
    unit = CSRJoin(width=width)
    good = ([1, 4, 6], [2, 3, 4], [4, 6, 9], [5, 6, 7])        # 3*5 + 4*6 = 39
    pairs = [good, ([1, 4, 4], [9, 9, 9], [4], [1]), good, ([1, 2], [1, 1], [7, 3], [1, 1]),
             good, ([5, 2, 8, 9], [1] * 4, [2, 5, 8, 9], [1] * 4), good]
    dots, errors, _ = _joined(unit, _pairs_inputs(unit, pairs), 0.2, seed=1)
    assert errors == [0, 1, 0, 1, 0, 1, 0]
    assert dots == [39, 0, 39, 0, 39, 0, 39]


def test_bad_count_is_flagged():
    unit = CSRJoin(width=2)
    pair = ([1, 2, 3, 4], [1, 1, 1, 1], [2, 4], [5, 7])
    inputs = _pairs_inputs(unit, [pair, pair, pair])
    inputs["a_count"][2] = 3                    # second pair, first transfer: read as 2
    inputs["b_count"][2] = 0                    # third pair (one transfer per pair)
    dots, errors, _ = _joined(unit, inputs)
    assert dots == [12, 0, 0] and errors == [0, 1, 1]


def test_narrow_accumulator_wraps():
    unit = CSRJoin(acc_width=16)
    pair = ([0, 1, 2], [-128] * 3, [0, 1, 2], [-128] * 3)
    dots, _, _ = _joined(unit, _pairs_inputs(unit, [pair]))
    assert dots == [fit_accumulator(3 * 128 * 128, 16) & 0xFFFF]


def test_manifest():
    unit = CSRJoin(width=2)
    m = manifest(unit, "csr_join")
    assert m["clock"] == "clk" and m["latency"] == 1 and m["initiation_interval"] is None
    assert [s["name"] for s in m["streams"]] == ["a", "b", "out"]
    assert m["streams"][0]["payload"] == ["a_index0", "a_value0", "a_index1", "a_value1",
                                          "a_count", "a_last"]
    ports = {p["name"]: p for p in m["ports"]}
    assert ports["dot"]["width"] == 32 and ports["dot"]["signed"]
    assert "merge_cycles" in ports["dot"]["doc"]
    json.dumps(m)


@pytest.mark.parametrize("params, name", [
    ({"width": 3}, "width"), ({"width": 0}, "width"), ({"index_width": 3}, "index_width"),
    ({"index_width": 33}, "index_width"), ({"value_width": 1}, "value_width"),
    ({"value_width": 17}, "value_width"), ({"acc_width": 15}, "acc_width"),
    ({"value_width": 16, "acc_width": 31}, "acc_width"), ({"acc_width": 65}, "acc_width"),
    ({"value_signed": 1}, "value_signed"), ({"widht": 2}, "widht"), ({"stages": 0}, "stages"),
    ({"stages": 25}, "stages"), ({"target_mhz": 1001}, "target_mhz"),
])
def test_bad_parameters(params, name):
    with pytest.raises(ValueError, match=f"^{name}: ") as error:
        CSRJoin(**params)
    assert "\n" not in str(error.value)


def test_cli_refuses_bad_width(tmp_path):
    result = subprocess.run([sys.executable, "-m", "nnarith.cli", "verilog", "csr_join", "-p",
                             "width=3", "-o", str(tmp_path / "x")], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == ["nnarith: error: width: must be 1..2, got 3"], result.stderr
    assert not (tmp_path / "x").exists()


def _cycles_of(result):
    out = result.outputs()
    return {name: out[f"_cycles_{name}"].astype(np.int64) for name in ("a", "b", "out")}


@pytest.mark.parametrize("params", [{}, {"width": 2}, {"width": 2, "index_width": 5,
                                                        "value_width": 4, "acc_width": 9},
                                    {"width": 2, "stages": 5}], ids=str)
def test_cocotb_backpressure(params):
    """Every density combination with stalls on both inputs and backpressure on out."""
    result = simulate("csr_join", params, count=600, seed=21, bubble_rate=0.25)
    assert result.ok, result.summary()
    inputs = {k[3:]: v for k, v in np.load(result.workdir / "vectors.npz").items()
              if k.startswith("in_")}
    assert result.vectors == len(CSRJoinModel(CSRJoin(**params)).unpack(inputs))


@pytest.mark.parametrize("params", [{}, {"width": 2}, {"stages": 3}, {"width": 2, "stages": 6}],
                         ids=str)
def test_cocotb_cycles(params):
    """No stalls: each result leaves exactly merge_cycles after the previous
    one, the first ``stages`` cycles after its pair's last comparison."""
    result = simulate("csr_join", params, count=400, seed=5, bubble_rate=0.0)
    assert result.ok, result.summary()
    cycles = _cycles_of(result)
    inputs = {k[3:]: v for k, v in np.load(result.workdir / "vectors.npz").items()
              if k.startswith("in_")}
    unit = CSRJoin(**params)
    golden = CSRJoinModel(unit).cycles(inputs)
    start = min(cycles["a"][0], cycles["b"][0])
    assert np.array_equal(cycles["out"], start + np.cumsum(golden) + unit.latency - 1)


@pytest.mark.parametrize("width", [1, 2])
def test_cocotb_seed_example(width):
    unit = CSRJoin(width=width)
    pair = (*csr_encode(SEED_A), *csr_encode(SEED_B))
    result = simulate("csr_join", {"width": width}, inputs=_pairs_inputs(unit, [pair] * 3),
                      bubble_rate=0.0)
    assert result.ok, result.summary()
    out = result.outputs()
    assert out["dot"].tolist() == [52] * 3 and out["error"].tolist() == [0] * 3
    assert np.diff(_cycles_of(result)["out"]).tolist() == [7 if width == 1 else 3] * 2


@pytest.mark.slow
@pytest.mark.parametrize("width", [1, 2])
def test_cocotb_every_index_set_pair(width):
    """All 127 x 127 pairs of index sets of a 7-element vector on the Verilog,
    back to back: results and the cycles of every pair."""
    unit = CSRJoin(width=width)
    inputs = _pairs_inputs(unit, _every_index_set_pair(7))
    result = simulate("csr_join", {"width": width}, inputs=inputs, bubble_rate=0.0)
    assert result.ok and result.vectors == 127 * 127, result.summary()
    cycles = _cycles_of(result)
    golden = CSRJoinModel(unit).cycles(inputs)
    assert np.array_equal(cycles["out"], min(cycles["a"][0], cycles["b"][0]) + np.cumsum(golden))


@pytest.mark.slow
@pytest.mark.parametrize("params", [{}, {"width": 2}, {"width": 2, "value_signed": False,
                                                        "acc_width": 16, "index_width": 8}],
                         ids=str)
def test_cocotb_long(params):
    result = simulate("csr_join", params, count=200_000, seed=8, bubble_rate=0.125)
    assert result.ok, result.summary()
