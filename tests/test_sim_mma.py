"""The MMA units' exported Verilog in cocotb: every real-GPU data set's dot
products on the diagonals of 4×4 blocks (5,000 / 5,000 bit-exact), SPEC.md §5's
directed cases against the SPEC table itself, random MMAs over the whole
exponent range in both numerics, back-to-back MMAs at one per clock, tiled
GEMMs against golden.mma.gemm, int8 wrap and saturation, and the CLI's one-line
errors. The slow set runs 20,000 random MMAs per preset on Verilator and the
64×96×48 GEMMs that take too long on Icarus."""

import subprocess
import sys

import numpy as np
import pytest

from nnarith.golden.float import RNE
from nnarith.golden.mma import gemm
from nnarith.hw.catalogue import build
from nnarith.sim.gemm import simulate_gemm
from nnarith.sim.mma import FloatMMAModel, diagonal_blocks, diagonal_results, unpack
from nnarith.sim.runner import simulate
from nnarith.sim.tensorcore import ENV_VAR, SPEC_DIRECTED, available_sets, data_root, load_set
from nnarith.sim.vectors import from_bits, to_bits

DATA_COUNT = 5000

# Data set -> the preset (and overrides) whose block it fits.
DATA_UNITS = {
    ("v100", "fp16", "fp32"): ("mma_fp16_v100", {}),
    ("v100", "fp16", "fp16"): ("mma_fp16_v100", {"acc_fmt": "fp16"}),
    ("a100", "fp16", "fp32"): ("mma_fp16_a100", {}),
    ("a100", "bf16", "fp32"): ("mma_bf16", {}),
    ("h100", "fp16", "fp32"): ("mma_bf16_h100", {"in_fmt": "fp16"}),
    ("h100", "bf16", "fp32"): ("mma_bf16_h100", {}),
    ("a100", "fp16", "fp16"): ("mma_fp16_a100", {"acc_fmt": "fp16"}),
    ("h100", "fp16", "fp16"): ("mma_bf16_h100", {"in_fmt": "fp16", "acc_fmt": "fp16"}),
}
#: The sets issue 5 names run in CI; the other two run in the slow set.
#: Run by ``make test``; every set runs in ``make exhaustive``.
CI_SETS = [("v100", "fp16", "fp32"), ("a100", "bf16", "fp32")]
SLOW_SETS = [s for s in DATA_UNITS if s not in CI_SETS]

DIRECTED = [
    *SPEC_DIRECTED,
    # SPEC §5's lines from the data (measured d), in the column of their GPU.
    ("D1", "fp16", "fp32", "ba56 ac8e bda8 3cb3", "39df 1cdb ba19 ba2e", "3e8b883d",
     "be0e0edc - -"),
    ("D2", "fp16", "fp32", "aff2 b475 3d83 3739", "3eab c0aa bcab 3f61", "3eaa91cb",
     "3a088800 - -"),
    ("D3", "fp16", "fp32", "bc3b ba56 3e4b 3e9e 2e68 a8a9 40f7 2c6b",
     "a99c c143 bb05 b86e 34cd 2be7 a493 b715", "3ecb2841", "- 3e3b9a30 -"),
]
GPU_COLUMN = {"v100": 0, "a100": 1, "h100": 2}
DIRECTED_UNITS = [("mma_fp16_v100", {}), ("mma_fp16_v100", {"acc_fmt": "fp16"}),
                  ("mma_fp16_a100", {}), ("mma_fp16_a100", {"acc_fmt": "fp16"}),
                  ("mma_bf16", {}), ("mma_bf16_h100", {}), ("mma_bf16_h100", {"in_fmt": "fp16"}),
                  ("mma_bf16_h100", {"in_fmt": "fp16", "acc_fmt": "fp16"})]

FLOAT_PRESETS = ["mma_fp16", "mma_bf16", "mma_fp16_v100", "mma_fp16_a100", "mma_bf16_h100"]


def hexes(text):
    return [int(word, 16) for word in text.split()]


def assert_passes(result):
    assert result.ok, result.summary()


def d_blocks(result, model):
    m, n, _ = model.shape
    return unpack(result.outputs()["d"], m, n, model.element_widths["c"])


# -- real-GPU data ----------------------------------------------------------

def data_or_skip(gpu, in_fmt, out_fmt):
    if (gpu, in_fmt, out_fmt) not in available_sets():
        pytest.skip(f"no {gpu} {in_fmt}->{out_fmt} tensor-core data under {data_root()}: "
                    f"set {ENV_VAR} to a copy of shared/tensorcore")
    return load_set(gpu, in_fmt, out_fmt)


def check_data_set(gpu, in_fmt, out_fmt):
    data = data_or_skip(gpu, in_fmt, out_fmt)
    preset, overrides = DATA_UNITS[gpu, in_fmt, out_fmt]
    model = FloatMMAModel(build(preset, overrides))
    m, n, k = model.shape
    assert data["a"].shape == (DATA_COUNT, k) and m == n
    result = simulate(preset, overrides, inputs=model.inputs(*diagonal_blocks(
        data["a"], data["b"], data["c"], m)), tag=f"{preset}-data-{gpu}-{in_fmt}-{out_fmt}")
    assert_passes(result)           # the whole of every D against the golden
    got = diagonal_results(d_blocks(result, model), DATA_COUNT)
    wrong = np.flatnonzero(got != data["d"])
    assert result.vectors == DATA_COUNT // m and not len(wrong), (
        f"{len(wrong)} of {DATA_COUNT} measured d differ, first at line {wrong[:1] + 1}")


@pytest.mark.parametrize("gpu, in_fmt, out_fmt", CI_SETS, ids=["-".join(s) for s in CI_SETS])
def test_gpu_data_bit_exact(gpu, in_fmt, out_fmt):
    check_data_set(gpu, in_fmt, out_fmt)


@pytest.mark.slow
@pytest.mark.parametrize("gpu, in_fmt, out_fmt", SLOW_SETS, ids=["-".join(s) for s in SLOW_SETS])
def test_gpu_data_bit_exact_every_set(gpu, in_fmt, out_fmt):
    check_data_set(gpu, in_fmt, out_fmt)


# -- SPEC §5 directed cases ---------------------------------------------------

@pytest.mark.parametrize("preset, overrides", DIRECTED_UNITS, ids=str)
def test_spec_directed_cases(preset, overrides):
    unit = build(preset, overrides)
    model = FloatMMAModel(unit)
    m, n, k = model.shape
    column = GPU_COLUMN[unit.params["gpu"]]
    cases = [(name, hexes(a), hexes(b), hexes(c)[0], expected.split()[column])
             for name, in_fmt, out_fmt, a, b, c, expected in DIRECTED
             if (in_fmt, out_fmt) == (unit.in_fmt.name, unit.acc_fmt.name)
             and expected.split()[column] not in ("n/a", "-")]
    assert len(cases) >= 2
    a = np.zeros((len(cases), m, k), dtype=np.uint64)
    b = np.zeros((len(cases), k, n), dtype=np.uint64)
    c = np.zeros((len(cases), m, n), dtype=np.uint64)
    for index, (_, row, col, addend, _) in enumerate(cases):
        a[index, 0, :len(row)], b[index, :len(col), 0], c[index, 0, 0] = row, col, addend
    result = simulate(preset, overrides, inputs=model.inputs(a, b, c), tag=f"{preset}-directed")
    assert_passes(result)
    got = d_blocks(result, model)[:, 0, 0]
    digits = unit.acc_fmt.width // 4
    assert {name: f"{int(d):0{digits}x}" for (name, *_), d in zip(cases, got)} == \
        {name: expected for name, *_, expected in cases}


# -- random MMAs --------------------------------------------------------------

def blocks_run(preset, overrides, count):
    """MMAs the result holds: a fused unit replays every block in each rounding mode."""
    return count // 3 * 3 * (5 if build(preset, overrides).params["mode"] == "fused" else 1)


@pytest.mark.parametrize("preset, count", [("mma_fp16", 60), ("mma_bf16", 450),
                                           ("mma_fp16_v100", 600), ("mma_fp16_a100", 450),
                                           ("mma_bf16_h100", 300)])
def test_random_mmas(preset, count):
    result = simulate(preset, {}, count=count, seed=21)
    assert result.vectors == blocks_run(preset, {}, count)
    assert_passes(result)


@pytest.mark.slow
@pytest.mark.parametrize("preset, overrides", [(p, {}) for p in FLOAT_PRESETS] + [
    ("mma_fp16", {"acc_fmt": "fp16"}), ("mma_fp16_v100", {"acc_fmt": "fp16"}),
    ("mma_bf16_h100", {"in_fmt": "fp16", "acc_fmt": "fp16"})], ids=str)
def test_20k_random_mmas_on_verilator(preset, overrides):
    result = simulate(preset, overrides, simulator="verilator", count=20_001, seed=22)
    assert result.vectors == blocks_run(preset, overrides, 20_001) >= 20_000
    assert_passes(result)


# -- one MMA per clock --------------------------------------------------------

@pytest.mark.parametrize("preset, count, overrides", [
    ("mma_fp16_v100", 600, {"stages": 12}), ("mma_fp16_a100", 150, {"stages": 14}),
    ("mma_fp16_v100", 150, {"stages": 10, "arch": "booth"}),
    ("mma_fp16", 12, {"stages": 12, "arch": "booth"})], ids=str)
def test_back_to_back_mmas(preset, count, overrides):
    """No bubbles: a new MMA every cycle, each result ``stages`` cycles later
    (deep pipelines; Booth significand trees cut per level)."""
    result = simulate(preset, overrides, count=count, seed=23, bubble_rate=0)
    assert result.vectors == blocks_run(preset, {}, count)
    assert_passes(result)


def test_gemm_issues_one_tile_per_clock():
    """16 chains on a 3-stage unit: a tile every cycle, only the drain after it."""
    result = simulate_gemm("mma_fp16_v100", (16, 32, 16), {"stages": 3}, seed=24)
    assert_passes(result)
    assert result.tiles_issued == 16 * 8
    assert result.idle_cycles == 0 and result.cycles == result.tiles_issued + 3


def test_gemm_single_chain_waits_for_each_step():
    """One chain of 8 steps: every step waits the latency for the previous D."""
    result = simulate_gemm("mma_fp16_v100", (4, 32, 4), {"stages": 3}, seed=25)
    assert_passes(result)
    assert result.tiles_issued == 8 and result.idle_cycles == 7 * 2


# -- tiled GEMMs --------------------------------------------------------------

def golden_gemm(result, overrides):
    """The driver's operands through golden.mma.gemm, tiled like the unit."""
    unit = build(result.preset, overrides)
    p = unit.params
    with np.load(result.workdir / "gemm.npz", allow_pickle=True) as saved:
        a, b, c, expected = saved["a"], saved["b"], saved["c"], saved["expected"]
    if p["mode"] == "fused":
        d, _ = gemm(a, b, c, unit.in_fmt.name, unit.acc_fmt.name, "fused", rm=RNE, tile_k=p["k"])
    else:
        d, _ = gemm(a, b, c, unit.in_fmt.name, unit.acc_fmt.name, "tensorcore", gpu=p["gpu"],
                    tile_k=p["k"])
    return d, expected


def check_gemm(preset, shape, overrides=None, simulator=None, seed=31):
    result = simulate_gemm(preset, shape, overrides or {}, simulator=simulator, seed=seed)
    assert_passes(result)
    golden, expected = golden_gemm(result, overrides or {})
    assert (expected == result.expected).all()
    assert (golden == expected).all()
    assert result.elements == shape[0] * shape[2]


@pytest.mark.parametrize("preset, shape", [("mma_fp16", (16, 24, 12)),
                                           ("mma_fp16_v100", (32, 48, 24)),
                                           ("mma_bf16_h100", (16, 32, 16))], ids=str)
def test_tiled_gemm_equals_golden(preset, shape):
    check_gemm(preset, shape)


@pytest.mark.slow
@pytest.mark.parametrize("preset", ["mma_fp16", "mma_fp16_v100", "mma_fp16_a100",
                                    "mma_bf16_h100"])
def test_64x96x48_gemm_on_verilator(preset):
    check_gemm(preset, (64, 96, 48), simulator="verilator")


@pytest.mark.parametrize("overrides", [{}, {"stages": 2}], ids=str)
def test_int8_gemm(overrides):
    """Wrapping sums do not depend on the tiling: D = A·B + C mod 2**32."""
    result = simulate_gemm("mma_int8", (64, 96, 48), overrides, seed=32)
    assert_passes(result)
    with np.load(result.workdir / "gemm.npz", allow_pickle=True) as saved:
        a, b, c = (from_bits(saved[x], w, True) for x, w in zip("abc", (8, 8, 32)))
    assert (to_bits(a @ b + c, 32) == result.expected).all()


# -- int8 -----------------------------------------------------------------------

@pytest.mark.parametrize("overrides, count", [
    ({}, 5000), ({"overflow": "saturate"}, 5000), ({"a_signed": False, "stages": 2}, 5000),
    # Booth trees are gate-level adders: slow on Icarus.
    ({"b_signed": False, "overflow": "saturate", "arch": "booth"}, 400),
    ({"a_signed": False, "b_signed": False, "arch": "booth", "stages": 7}, 300)], ids=str)
def test_int8_mmas(overrides, count):
    result = simulate("mma_int8", overrides, count=count, seed=33)
    assert result.vectors == count
    assert_passes(result)
    overflowed = sum(bin(int(bits)).count("1") for bits in result.outputs()["ovf"])
    assert overflowed > count // 5           # C at the edges: many sums wrap or saturate


# -- command line ---------------------------------------------------------------

def nnarith(*args):
    return subprocess.run([sys.executable, "-m", "nnarith.cli", *args], capture_output=True, text=True)


def test_cli_gemm():
    result = nnarith("sim", "mma_int8", "--gemm", "8x12x16")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PASS mma_int8 GEMM 8x12x16"), result.stdout


@pytest.mark.parametrize("args, message", [
    (["mma_fp16", "-p", "mode=tensorcore", "-p", "gpu=a100"], "k: must be a multiple"),
    (["mma_fp16", "-p", "mode=tensorcore", "-p", "gpu=t4"], "gpu: must be one of"),
    (["mma_fp16", "-p", "in_fmt=bf16"], "in_fmt: mode fused"),
    (["mma_fp16", "-p", "in_fmt=e4m3"], "in_fmt: must be one of"),
    (["mma_fp16_v100", "-p", "in_fmt=bf16"], "in_fmt/out_fmt: v100"),
    (["mma_fp16", "--gemm", "6x8x8"], "gemm: M must be a multiple of the unit's m (4)"),
    (["mma_fp16_a100", "--gemm", "8x12x8"], "gemm: K must be a multiple of the unit's k (8)"),
    (["mma_fp16", "--gemm", "64x96"], "gemm: must be MxKxN"),
    (["dp4a", "--gemm", "4x4x4"], "preset: --gemm needs an MMA preset"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_cli_errors_exit_2_with_one_line(args, message):
    result = nnarith("sim", *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nnarith: error: {message}"), lines[0]
