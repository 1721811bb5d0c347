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
    # The TF32 and FP8 sets on single output elements (m = n = 1): each output's datapath
    # is the 4x4 preset's, and none of the simulated work is thrown away. H100's TF32
    # block is 8 products (the 4-product data are padded with zeros); its FP8 fp32 sets
    # ran on wgmma, the fp16 ones on mma.sync.
    ("a100", "tf32", "fp32"): ("mma_tf32_a100", {"m": 1, "n": 1}),
    ("h100", "tf32", "fp32"): ("mma_tf32_a100", {"m": 1, "n": 1, "gpu": "h100", "k": 8}),
    ("h100", "e4m3", "fp32"): ("mma_e4m3_h100", {"m": 1, "n": 1}),
    ("h100", "e4m3", "fp16"): ("mma_e4m3_h100", {"m": 1, "n": 1, "acc_fmt": "fp16"}),
    ("h100", "e5m2", "fp32"): ("mma_e4m3_h100", {"m": 1, "n": 1, "in_fmt": "e5m2"}),
    ("h100", "e5m2", "fp16"): ("mma_e4m3_h100", {"m": 1, "n": 1, "in_fmt": "e5m2",
                                                 "acc_fmt": "fp16"}),
}
#: The sets run in CI (``make test``): one per datapath family, fp16 / bf16 / TF32 blocks,
#: native FP8 and the FP8 pair split; every set runs in ``make exhaustive``.
CI_SETS = [("v100", "fp16", "fp32"), ("a100", "bf16", "fp32"), ("a100", "tf32", "fp32"),
           ("h100", "e4m3", "fp32"), ("h100", "e5m2", "fp16")]
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
    unit = build(preset, overrides)
    model = FloatMMAModel(unit)
    m, n, k = model.shape
    assert data["a"].shape[0] == DATA_COUNT and data["a"].shape[1] <= k and m == n
    assert unit.params["instr"] == (data["instr"] or "none")
    pad = ((0, 0), (0, k - data["a"].shape[1]))
    result = simulate(preset, overrides, inputs=model.inputs(*diagonal_blocks(
        np.pad(data["a"], pad), np.pad(data["b"], pad), data["c"], m)),
        tag=f"{preset}-data-{gpu}-{in_fmt}-{out_fmt}")
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


#: SPEC_fp8_tf32.md's rules on single dot products, expected values by hand: (name,
#: preset, overrides, a, b (k-th products, the rest zero), c, d). E4M3: 0x38 = 1.0,
#: 0x7E = 448, 0x08 = 2**-6, 0x04 = 2**-7 and 0x01 = 2**-9 (subnormals), 0x7F NaN.
ADA, H100, B200 = ("mma_e4m3_ada", {}), ("mma_e4m3_h100", {}), ("mma_e5m2_b200", {})
FP8_DIRECTED = [
    # c + 0*0 keeps 13 fraction bits, truncated toward zero (§2, measured on Ada).
    ("c truncated", *ADA, {}, {}, 0x3F800FFF, 0x3F800C00),
    ("-c truncated", *ADA, {}, {}, 0xBF800FFF, 0xBF800C00),
    ("c truncated wgmma", *H100, {}, {}, 0x3F800FFF, 0x3F800C00),
    # Two chained blocks of 16: 1 + 1 + 2**-13 -> 2 (13 bits), then - 1 + 2**-13 on a
    # grid of 2**-12 -> 1. One block of 32 would give 1 + 2**-12.
    ("Ada chains blocks of 16", *ADA, {0: (0x38, 0x38), 1: (0x38, 0x38), 2: (0x08, 0x04)},
     {16: (0xB8, 0x38), 17: (0x08, 0x04)}, 0, 0x3F800000),
    ("one wgmma block of 32", *H100, {0: (0x38, 0x38), 1: (0x38, 0x38), 2: (0x08, 0x04)},
     {16: (0xB8, 0x38), 17: (0x08, 0x04)}, 0, 0x3F800800),
    # Subnormal inputs are exact: 2**-9 * 1 = 2**-9; 2**-9 * 2**-9 = 2**-18.
    ("subnormal x 1", *ADA, {3: (0x01, 0x38)}, {}, 0, 0x3B000000),
    ("subnormal x subnormal", *H100, {0: (0x01, 0x01)}, {}, 0, 0x36800000),
    # E4M3 has no infinity: 448 * 448 = 200704 is finite; 0x7F is NaN.
    ("448 x 448", *ADA, {5: (0x7E, 0x7E)}, {}, 0, 0x48440000),
    ("e4m3 NaN", *ADA, {7: (0x7F, 0x38)}, {}, 0, 0x7FFFFFFF),
    ("e4m3 NaN to fp16", "mma_e4m3_ada", {"acc_fmt": "fp16"}, {7: (0x7F, 0x38)}, {}, 0, 0x7FFF),
    # The pair split: 448**2 - 448**2 cancel in the first fp16 MMA (k = 0, 1) and
    # 2**-18 (k = 2) stays whole in the second; any grouping that puts k = 2 with the big
    # products truncates it away (window 2**-8).
    ("pair split", "mma_e5m2_b200", {"in_fmt": "e4m3", "acc_fmt": "fp32"},
     {0: (0x7E, 0x7E), 1: (0x7E, 0xFE), 2: (0x01, 0x01)}, {}, 0, 0x36800000),
    ("pair split fp16", "mma_e5m2_b200", {"in_fmt": "e4m3"},
     {0: (0x7E, 0x7E), 1: (0x7E, 0xFE), 2: (0x01, 0x01)}, {}, 0, 0x0040),
    # c is added last, rounded to nearest even even for fp32 output: 1 + 0.75 ulp
    # rounds up (inside the block, toward zero, it would stay 1.0).
    ("c added last, RNE", "mma_e5m2_b200", {"in_fmt": "e4m3", "acc_fmt": "fp32"},
     {0: (0x38, 0x38)}, {}, 0x33C00000, 0x3F800001),
    ("pair split on H100 mma", "mma_e4m3_h100", {"instr": "mma"}, {0: (0x38, 0x38)}, {},
     0x33C00000, 0x3F800001),
    # E5M2 keeps IEEE specials: inf * 1 = inf, inf * 0 = NaN (0x7C = inf, 0x3C = 1.0).
    ("e5m2 inf", *H100[:1], {"in_fmt": "e5m2"}, {0: (0x7C, 0x3C)}, {}, 0, 0x7F800000),
    ("e5m2 inf x 0", *H100[:1], {"in_fmt": "e5m2"}, {0: (0x7C, 0x00)}, {}, 0, 0x7FFFFFFF),
]


@pytest.mark.parametrize("preset, overrides", sorted(
    {(case[1], tuple(case[2].items())) for case in FP8_DIRECTED}), ids=str)
def test_fp8_directed_cases(preset, overrides):
    """Each unit's cases in one run, on a 1x1 element: d against the hand values."""
    overrides = {**dict(overrides), "m": 1, "n": 1}
    cases = [case for case in FP8_DIRECTED
             if (case[1], case[2]) == (preset, {k: v for k, v in overrides.items()
                                                if k not in "mn"})]
    model = FloatMMAModel(build(preset, overrides))
    _, _, k = model.shape
    a = np.zeros((len(cases), 1, k), dtype=np.uint64)
    b = np.zeros((len(cases), k, 1), dtype=np.uint64)
    c = np.zeros((len(cases), 1, 1), dtype=np.uint64)
    for index, (_, _, _, first, second, addend, _) in enumerate(cases):
        for kk, (x, y) in {**first, **second}.items():
            a[index, 0, kk], b[index, kk, 0] = x, y
        c[index, 0, 0] = addend
    result = simulate(preset, overrides, inputs=model.inputs(a, b, c), tag=f"{preset}-fp8")
    assert_passes(result)
    got = d_blocks(result, model)[:, 0, 0]
    assert {case[0]: hex(int(d)) for case, d in zip(cases, got)} == \
        {case[0]: hex(case[-1]) for case in cases}


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


@pytest.mark.parametrize("overrides", [{"in_fmt": "e4m3"}, {"in_fmt": "e5m2", "acc_fmt": "fp16"}],
                         ids=str)
def test_fused_fp8_mmas(overrides):
    """FP8 in the exact fused mode: every rounding mode, flags, E4M3's NaN and max."""
    overrides = {**overrides, "m": 2, "n": 2}
    result = simulate("mma_fp16", overrides, count=90, seed=26)
    assert result.vectors == blocks_run("mma_fp16", overrides, 90)
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
    ("mma_fp16", 12, {"stages": 12, "arch": "booth"}),
    ("mma_e4m3_ada", 150, {"m": 1, "n": 1, "stages": 12}),
    ("mma_e5m2_b200", 150, {"m": 1, "n": 1, "stages": 16})], ids=str)
def test_back_to_back_mmas(preset, count, overrides):
    """No bubbles: a new MMA every cycle, each result ``stages`` cycles later
    (deep pipelines; Booth significand trees cut per level; FP8's chained
    blocks and pair split)."""
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
                    instr=None if p["instr"] == "none" else p["instr"], tile_k=p["k"])
    return d, expected


def check_gemm(preset, shape, overrides=None, simulator=None, seed=31):
    result = simulate_gemm(preset, shape, overrides or {}, simulator=simulator, seed=seed)
    assert_passes(result)
    golden, expected = golden_gemm(result, overrides or {})
    assert (expected == result.expected).all()
    assert (golden == expected).all()
    assert result.elements == shape[0] * shape[2]


@pytest.mark.parametrize("preset, shape, overrides", [
    ("mma_fp16", (16, 24, 12), {}), ("mma_fp16_v100", (32, 48, 24), {}),
    ("mma_bf16_h100", (16, 32, 16), {}), ("mma_tf32_a100", (8, 16, 8), {}),
    ("mma_e4m3_ada", (4, 96, 4), {"m": 2, "n": 2})], ids=str)
def test_tiled_gemm_equals_golden(preset, shape, overrides):
    check_gemm(preset, shape, overrides)


@pytest.mark.parametrize("preset, overrides, shape, every", [
    ("mma_e4m3_h100", {"m": 2, "n": 2, "stages": 3}, (4, 128, 4), 64),
    ("mma_e5m2_b200", {"m": 1, "n": 1}, (2, 96, 2), 32)], ids=str)
def test_promoted_gemm_equals_golden(preset, overrides, shape, every):
    """Partials from C = +0 every ``every`` products, each added into fp32 by the FMA's
    Verilog (fp32 partials through fp32_fma, fp16 ones through fp16_fma32)."""
    result = simulate_gemm(preset, shape, overrides, seed=34, promote_every=every)
    assert_passes(result)
    assert "promoted to fp32 every" in result.summary()
    unit = build(preset, overrides)
    p = unit.params
    with np.load(result.workdir / "gemm.npz", allow_pickle=True) as saved:
        a, b, c = saved["a"], saved["b"], saved["c"]
    golden, _ = gemm(a, b, c, unit.in_fmt.name, unit.acc_fmt.name, "tensorcore", gpu=p["gpu"],
                     instr=None if p["instr"] == "none" else p["instr"], tile_k=p["k"],
                     promote_every=every)
    assert (golden == result.expected).all() and result.elements == shape[0] * shape[2]
    with np.load(result.workdir / "partials.npz") as saved:
        assert saved["partials"].shape == (shape[1] // every, shape[0], shape[2])


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


def test_cli_promoted_gemm():
    result = nnarith("sim", "mma_tf32_a100", "-p", "m=1", "-p", "n=1", "--gemm", "2x16x2",
                     "--promote-every", "8")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("PASS mma_tf32_a100 GEMM 2x16x2, promoted to fp32 every 8 "
                                    "products"), result.stdout


@pytest.mark.parametrize("args, message", [
    (["mma_fp16", "-p", "mode=tensorcore", "-p", "gpu=a100"], "k: must be a multiple"),
    (["mma_fp16", "-p", "mode=tensorcore", "-p", "gpu=t4"], "gpu: must be one of"),
    (["mma_fp16", "-p", "in_fmt=bf16"], "in_fmt: mode fused"),
    (["mma_fp16", "-p", "in_fmt=tf32"], "in_fmt: mode fused"),
    (["mma_fp16", "-p", "in_fmt=fp32"], "in_fmt: must be one of"),
    (["mma_fp16_v100", "-p", "in_fmt=bf16"], "in_fmt/out_fmt: v100"),
    (["mma_fp16", "--gemm", "6x8x8"], "gemm: M must be a multiple of the unit's m (4)"),
    (["mma_fp16_a100", "--gemm", "8x12x8"], "gemm: K must be a multiple of the unit's k (8)"),
    (["mma_fp16", "--gemm", "64x96"], "gemm: must be MxKxN"),
    (["dp4a", "--gemm", "4x4x4"], "preset: --gemm needs an MMA preset"),
    (["mma_e4m3_h100", "--promote-every", "32"], "--promote-every: needs --gemm"),
    (["mma_e4m3_h100", "--gemm", "4x64x4", "--promote-every", "48"],
     "promote_every: must be a multiple of the unit's k (32) that divides K (64)"),
    (["mma_int8", "--gemm", "4x8x4", "--promote-every", "4"], "promote_every: promotes float"),
    (["mma_e4m3_h100", "-p", "instr=mma", "-p", "acc_fmt=fp16", "-p", "gpu=ada"],
     "instr: applies only with"),
    (["mma_e4m3_h100", "-p", "instr=wgmma", "-p", "acc_fmt=fp16"], "instr: h100 e4m3->fp16"),
    (["mma_tf32_a100", "-p", "acc_fmt=fp16"], "in_fmt/out_fmt: a100"),
    (["mma_e4m3_ada", "-p", "gpu=a100"], "in_fmt/out_fmt: a100"),
    (["mma_e4m3_h100", "-p", "k=16"], "k: must be a multiple of the h100 e4m3 block (32)"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_cli_errors_exit_2_with_one_line(args, message):
    result = nnarith("sim", *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nnarith: error: {message}"), lines[0]
