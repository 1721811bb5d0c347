"""2:4 structured-sparse dot product: Amaranth-sim checks of several shapes,
then cocotb on the exported Verilog of both presets, combinational and
pipelined, bit-exact in y, ovf/flags and meta_error; all 16 metadata codes
in each group against a hand loop; pipelines with and without bubbles; the CLI's
one-line error for a k that is not a multiple of 4. The slow set runs 100,000
random vectors per configuration."""

import json
import subprocess
import sys

import numpy as np
import pytest

from nnarith.golden.sparse24 import meta_valid
from nnarith.hw.catalogue import build
from nnarith.hw.export import manifest
from nnarith.hw.sparse24 import Sparse24Dot
from nnarith.sim.pysim import pysim_mismatch
from nnarith.sim.runner import simulate
from nnarith.sim.sparse24 import Sparse24DotModel
from nnarith.sim.vectors import from_bits

#: The valid codes as ../shared/ANCHORS.md lists them.
ANCHOR_CODES = {0b0100, 0b1000, 0b1100, 0b1001, 0b1101, 0b1110}

PYSIM_CONFIGS = [
    ({}, 400), ({"arch": "booth", "stages": 2}, 300), ({"k": 4, "stages": 1}, 300),
    ({"k": 16, "w_signed": False, "acc_width": 20, "overflow": "saturate"}, 300),
    ({"w_width": 4, "x_width": 8, "x_signed": False, "acc_width": 12}, 300),
    # Python simulation of the pipelined fp16 datapath is slow (2,500 vectors of it
    # run through the Verilog below).
    ({"in_fmt": "fp16", "stages": 2}, 80),
    ({"in_fmt": "fp16", "acc_fmt": "fp16", "stages": 1}, 200),
    ({"in_fmt": "fp16", "k": 4}, 100),
]


@pytest.mark.parametrize("params, keep", PYSIM_CONFIGS, ids=lambda v: str(v))
def test_amaranth_sim(params, keep):
    assert pysim_mismatch(Sparse24Dot(**params), keep, keep) is None


#: (preset, overrides, random vectors, bubble rate): the fp16 pipeline runs back to back.
CI_RUNS = [
    ("sparse24_dot", {}, 6000, 0.125),
    ("sparse24_dot", {"arch": "booth", "stages": 2}, 3000, 0.125),
    ("sparse24_dot", {"w_signed": False, "acc_width": 18, "overflow": "saturate", "stages": 1},
     3000, 0.0),
    ("sparse24_fp16", {}, 2500, 0.125), ("sparse24_fp16", {"stages": 2}, 2500, 0.0),
]


@pytest.mark.parametrize("preset, params, count, bubble_rate", CI_RUNS, ids=str)
def test_cocotb(preset, params, count, bubble_rate):
    result = simulate(preset, params, count=count, seed=11, bubble_rate=bubble_rate)
    assert result.vectors >= count
    assert result.ok, result.summary()


@pytest.mark.slow
@pytest.mark.parametrize("preset, params", [
    ("sparse24_dot", {}), ("sparse24_dot", {"arch": "booth", "stages": 2}),
    ("sparse24_dot", {"k": 32, "overflow": "saturate", "acc_width": 24}),
    ("sparse24_fp16", {}), ("sparse24_fp16", {"stages": 3}),
    ("sparse24_fp16", {"k": 16, "acc_fmt": "fp16", "stages": 1}),
], ids=str)
def test_cocotb_long(preset, params):
    result = simulate(preset, params, count=100_000, seed=12)
    assert result.vectors >= 100_000
    assert result.ok, result.summary()


def every_code_vectors(model, groups):
    """Each of the 16 codes in each group, the other groups 0b1110; weights and
    activations distinct small numbers (fp16: their patterns)."""
    rng = np.random.default_rng(5)
    rows = []
    for g in range(groups):
        for code in range(16):
            codes = [0b1110] * groups
            codes[g] = code
            rows.append(codes)
    meta = np.array(rows)
    n = len(meta)
    if model.is_int:
        w = rng.integers(-100, 100, (n, 2 * groups))
        x = rng.integers(-100, 100, (n, 4 * groups))
        c = rng.integers(-1000, 1000, n)
        return w, meta, x, c, None
    # fp16 patterns of 1, 2, 3, 4, 5, 6, 7, 8: every sum is exact.
    small = np.array([0x3C00, 0x4000, 0x4200, 0x4400, 0x4500, 0x4600, 0x4700, 0x4800],
                     dtype=np.uint64)
    w = small[rng.integers(0, 8, (n, 2 * groups))]
    x = small[rng.integers(0, 8, (n, 4 * groups))]
    # an inf among the unselected activations must not leak into the sum
    x[:, 0] = np.where(meta[:, 0] & 3, 0x7C00, x[:, 0])
    return w, meta, x, np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)


@pytest.mark.parametrize("preset, params", [("sparse24_dot", {}), ("sparse24_fp16", {}),
                                            ("sparse24_dot", {"k": 12, "stages": 1})], ids=str)
def test_every_metadata_code(preset, params):
    unit = build(preset, params)
    model = Sparse24DotModel(unit)
    groups = unit.params["k"] // 4
    w, meta, x, c, rm = every_code_vectors(model, groups)
    result = simulate(preset, params, inputs=model.inputs(w, meta, x, c, rm),
                      tag=f"{preset}-codes")
    assert result.ok, result.summary()
    out = result.outputs()
    invalid = [any(int(code) not in ANCHOR_CODES for code in row) for row in meta]
    assert out["meta_error"].astype(bool).tolist() == invalid
    assert invalid == (~meta_valid(meta).all(axis=1)).tolist()
    for row in range(len(meta)):
        total = 0
        for g in range(groups):
            code = int(meta[row, g])
            if code not in ANCHOR_CODES:
                continue
            for slot, index in enumerate((code & 3, code >> 2)):
                weight, act = int(w[row, 2 * g + slot]), int(x[row, 4 * g + index])
                if not model.is_int:       # small fp16 integers: value from the pattern
                    weight, act = (float(np.array(v, np.uint16).view(np.float16))
                                   for v in (weight, act))
                total += weight * act
        if model.is_int:
            got = int(from_bits(int(out["y"][row]), 32, True))
            assert got == int(c[row]) + total, row
        else:
            got = float(np.array(int(out["y"][row]), np.uint32).view(np.float32))
            assert got == total, row


def test_manifest_ports():
    unit = build("sparse24_dot")
    ports = {p["name"]: p for p in manifest(unit, "top")["ports"]}
    assert {n: ports[n]["width"] for n in ("w", "meta", "x", "c", "y", "ovf", "meta_error")} == \
        {"w": 32, "meta": 8, "x": 64, "c": 32, "y": 32, "ovf": 1, "meta_error": 1}
    unit = build("sparse24_fp16", {"k": 16, "stages": 2})
    info = manifest(unit, "top")
    ports = {p["name"]: p["width"] for p in info["ports"]}
    assert (ports["w"], ports["meta"], ports["x"], ports["c"], ports["rm"], ports["flags"]) == \
        (128, 16, 256, 32, 3, 5)
    assert info["latency"] == 2 and info["valid"] == {"in": "in_valid", "out": "out_valid"}
    json.dumps(info)


@pytest.mark.parametrize("k", [6, 2, 66])
def test_cli_rejects_bad_k_with_one_line(tmp_path, k):
    result = subprocess.run([sys.executable, "-m", "nnarith.cli", "verilog", "sparse24_dot", "-p",
                             f"k={k}", "-o", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnarith: error: k:"), result.stderr
    assert not any(tmp_path.iterdir())


def test_bad_k_is_refused_before_hardware():
    with pytest.raises(ValueError, match=r"^k: must be a multiple of 4 in 4\.\.64, got 10$"):
        Sparse24Dot(k=10)
