"""The MMA golden: the tensor-core mode against SPEC.md's and SPEC_fp8_tf32.md's directed
tests and every real-GPU data set (and the alternatives the data reject failing on that
data), the fused mode against golden.float.fma and an exact Fraction reference, the chain
mode against successive FMAs, block chaining along K, promotion to fp32, and parameter
errors."""

from fractions import Fraction

import ml_dtypes
import numpy as np
import pytest

from nnarith.golden.float import RDN, RMM, RNE, RTZ, RUP, decode, fma
from nnarith.golden.formats import TensorCoreMode, float_format
from nnarith.golden.mma import (GPUS, TensorCoreParams, block_fma, gemm, mma, promote,
                                validate)
from nnarith.sim.tensorcore import ENV_VAR, SPEC_DIRECTED, available_sets, data_root, load_set

MODES = [RNE, RTZ, RDN, RUP, RMM]
COLUMNS = (("v100",), ("a100", "a2", "ada", "l40s"), ("h100", "h200", "b200"))

CASES = [(row[0], gpu, *row[1:6], expected) for row in SPEC_DIRECTED
         for column, expected in zip(COLUMNS, row[6].split()) for gpu in column]

# SPEC §5 lines from the data (fp16 -> fp32): measured d, then (alternative, its d).
D_LINES = [
    ("D1", "v100", 2178, "ba56 ac8e bda8 3cb3", "39df 1cdb ba19 ba2e", "3e8b883d", "be0e0edc",
     [("exact", "be0e0edb"), ("F=24", "be0e0eda")]),
    ("D2", "v100", 65, "aff2 b475 3d83 3739", "3eab c0aa bcab 3f61", "3eaa91cb", "3a088800",
     [("exact", "3a088e00")]),
    ("D3", "a100", 566, "bc3b ba56 3e4b 3e9e 2e68 a8a9 40f7 2c6b",
     "a99c c143 bb05 b86e 34cd 2be7 a493 b715", "3ecb2841", "3e3b9a30",
     [("exact", "3e3b9a29"), ("F=23", "3e3b9a38"), ("F=25", "3e3b9a2c")]),
]


def hexes(text):
    return np.array([int(word, 16) for word in text.split()], dtype=np.uint64)


def dot(a, b, c, in_fmt, out_fmt, mode, **kw):
    """Dot products of rows: A (n, 1, K), B (n, K, 1), C (n, 1, 1)."""
    a, b, c = (np.asarray(x, dtype=np.uint64) for x in (a, b, c))
    d, flags = mma(a[..., None, :], b[..., :, None], c[..., None, None], in_fmt, out_fmt, mode,
                   **kw)
    return d[..., 0, 0], None if flags is None else flags[..., 0, 0]


def with_mode(gpu, in_fmt, out_fmt, instr=None, **changes):
    """GPUS[gpu] with one mode changed: an alternative the data reject."""
    return GPUS[gpu].with_mode(in_fmt, out_fmt, instr, **changes)


@pytest.mark.parametrize("name, gpu, in_fmt, out_fmt, a, b, c, expected", CASES,
                         ids=[f"{case[0]}-{case[1]}" for case in CASES])
def test_directed(name, gpu, in_fmt, out_fmt, a, b, c, expected):
    if expected == "n/a":
        with pytest.raises(ValueError, match="in_fmt/out_fmt: v100"):
            dot(hexes(a), hexes(b), hexes(c)[0], in_fmt, out_fmt, "tensorcore", gpu=gpu)
        return
    d, flags = dot(hexes(a), hexes(b), hexes(c)[0], in_fmt, out_fmt, "tensorcore", gpu=gpu)
    assert f"{int(d):0{len(expected)}x}" == expected
    assert flags is None


def alternative(gpu, name):
    """A SPEC §5 alternative: ``(mode, keywords)`` for :func:`mma`."""
    if name == "exact":
        return "fused", {"rm": RTZ}
    return "tensorcore", {"gpu": with_mode(gpu, "fp16", "fp32", extra_bits=int(name[2:]) - 23)}


@pytest.mark.parametrize("line", D_LINES, ids=[line[0] for line in D_LINES])
def test_data_lines(line):
    _, gpu, number, a, b, c, measured, alternatives = line
    a, b, c = hexes(a), hexes(b), hexes(c)[0]
    assert f"{int(dot(a, b, c, 'fp16', 'fp32', 'tensorcore', gpu=gpu)[0]):08x}" == measured
    for name, expected in alternatives:
        mode, kw = alternative(gpu, name)
        assert f"{int(dot(a, b, c, 'fp16', 'fp32', mode, **kw)[0]):08x}" == expected, name
    if (gpu, "fp16", "fp32") in available_sets():
        data = load_set(gpu, "fp16", "fp32")
        row = number - 1
        assert (data["a"][row] == a).all() and (data["b"][row] == b).all()
        assert data["c"][row] == c and f"{int(data['d'][row]):08x}" == measured


def data_or_skip(gpu, in_fmt, out_fmt):
    if (gpu, in_fmt, out_fmt) not in available_sets():
        pytest.skip(f"no {gpu} {in_fmt}->{out_fmt} tensor-core data under {data_root()}: "
                    f"set {ENV_VAR} to a copy of shared/tensorcore")
    return load_set(gpu, in_fmt, out_fmt)


def run(data, gpu, mode="tensorcore", c=None, **kw):
    """The model on every line of a data set (its own instr where ``gpu`` has a choice)."""
    in_fmt, out_fmt = data["in_fmt"], data["out_fmt"]
    if mode == "tensorcore":
        params = gpu if isinstance(gpu, TensorCoreParams) else GPUS[gpu]
        if params.instructions(in_fmt, out_fmt) != (None,):
            kw["instr"] = data["instr"]
        kw["gpu"] = gpu
    c = data["c"] if c is None else c
    return dot(data["a"], data["b"], c, in_fmt, out_fmt, mode, **kw)[0]


def wrong(d, data):
    return int((d != data["d"]).sum())


# SPEC_fp8_tf32.md §5: every shared set, its vector length K and its instruction; the
# presets that share the measured row (§4; wgmma exists on h100/h200 only).
DATA_SETS = [("v100", "fp16", "fp32", 4, None), ("v100", "fp16", "fp16", 4, None),
             ("a100", "fp16", "fp32", 8, None), ("a100", "fp16", "fp16", 8, None),
             ("a100", "bf16", "fp32", 8, None), ("a100", "tf32", "fp32", 4, None),
             ("h100", "fp16", "fp32", 16, None), ("h100", "fp16", "fp16", 16, None),
             ("h100", "bf16", "fp32", 16, None), ("h100", "tf32", "fp32", 4, None),
             ("h100", "e4m3", "fp32", 32, "wgmma"), ("h100", "e4m3", "fp16", 32, "mma"),
             ("h100", "e5m2", "fp32", 32, "wgmma"), ("h100", "e5m2", "fp16", 32, "mma")]
TWINS = {"v100": ("v100",), "a100": ("a100", "a2", "ada", "l40s"),
         "h100": ("h100", "h200", "b200")}


@pytest.mark.parametrize("gpu, in_fmt, out_fmt, k, instr", DATA_SETS,
                         ids=["-".join(s[:3]) for s in DATA_SETS])
def test_real_gpu_data(gpu, in_fmt, out_fmt, k, instr):
    data = data_or_skip(gpu, in_fmt, out_fmt)
    assert data["a"].shape == (5000, k) and data["d"].shape == (5000,)
    assert data["instr"] == instr
    presets = [p for p in TWINS[gpu] if instr != "wgmma" or p != "b200"]
    for preset in presets:
        d = run(data, preset)
        bad = np.nonzero(d != data["d"])[0]
        assert bad.size == 0, f"{preset}: {5000 - bad.size}/5000, first bad lines {bad[:5] + 1}"
    if instr == "wgmma":
        # measured with a zero accumulator: the c file matches at most 2 lines (§5)
        assert (data["c"] == 0).all() and wrong(run(data, gpu, c=data["c_fp32"]), data) >= 4990


def test_fp16_c_is_rounded_to_fp16():
    data = data_or_skip("v100", "fp16", "fp16")
    c = data["c"].astype(np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    nearest = data["c_fp32"].astype(np.uint32).view(np.float32).astype(np.float16)
    assert (c == nearest.astype(np.float32)).all() and data["c"].max() < 1 << 16


def assert_all_rejected(data, variants):
    """Each alternative (name: ``(gpu or params, mode, keywords)``) fails >= 100 lines."""
    assert wrong(run(data, data["gpu"]), data) == 0
    for name, (gpu, mode, kw) in variants.items():
        failures = wrong(run(data, gpu, mode, **kw), data)
        assert failures >= 100, f"{name} fails only {failures} vectors"


@pytest.mark.parametrize("gpu, in_fmt", [("v100", "fp16"), ("a100", "fp16"), ("a100", "bf16"),
                                         ("h100", "fp16"), ("h100", "bf16"), ("a100", "tf32"),
                                         ("h100", "tf32")])
def test_rejected_alternatives_fail_on_the_data(gpu, in_fmt):
    """SPEC §7: each alternative fails 146-1782 vectors of an fp32-output set;
    SPEC_fp8_tf32 §5 for TF32 (F ± 1, K = 2, RNE, exact: 168-1502 of 5000)."""
    data = data_or_skip(gpu, in_fmt, "fp32")
    core = GPUS[gpu].mode(in_fmt, "fp32")
    assert_all_rejected(data, {
        "extra_bits+1": (with_mode(gpu, in_fmt, "fp32", extra_bits=core.extra_bits + 1),
                         "tensorcore", {}),
        "extra_bits-1": (with_mode(gpu, in_fmt, "fp32", extra_bits=core.extra_bits - 1),
                         "tensorcore", {}),
        "exact": (None, "fused", {"rm": RTZ}),
        "RNE": (with_mode(gpu, in_fmt, "fp32", rm=RNE), "tensorcore", {}),
        "smaller block": (with_mode(gpu, in_fmt, "fp32",
                                    block=2 if in_fmt == "tf32" else core.block // 2),
                          "tensorcore", {}),
    })


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_native_fp8_alternatives_fail_on_the_data(fmt):
    """SPEC_fp8_tf32 §5 on the H100 wgmma sets: F = 12 or 14, M_blk = 12, 14 or 23,
    K = 16 (2294-4622 of 5000 match)."""
    data = data_or_skip("h100", fmt, "fp32")
    variants = {"F=12": {"extra_bits": -11}, "F=14": {"extra_bits": -9},
                "M_blk=12": {"result_bits": 12}, "M_blk=14": {"result_bits": 14},
                "M_blk=23": {"result_bits": None}, "K=16": {"block": 16}}
    assert_all_rejected(data, {name: (with_mode("h100", fmt, "fp32", "wgmma", **changes),
                                      "tensorcore", {}) for name, changes in variants.items()})


FP8_DTYPES = {"e4m3": ml_dtypes.float8_e4m3fn, "e5m2": ml_dtypes.float8_e5m2}
OUT_DTYPES = {"fp32": (np.float32, np.uint32), "fp16": (np.float16, np.uint16)}


def as_floats(bits, fmt):
    """Bit patterns (uint64) as NumPy floats of ``fmt`` (fp32, fp16, e4m3, e5m2)."""
    dtype, uint = OUT_DTYPES.get(fmt, (FP8_DTYPES.get(fmt), np.uint8))
    return np.asarray(bits).astype(uint).view(dtype)


def as_bits(x):
    uint = {4: np.uint32, 2: np.uint16}[x.dtype.itemsize]
    return np.asarray(x).view(uint).astype(np.uint64)


def pair_split(a, b, c, fmt, out_fmt, first, c_inside=False, gpu="h100"):
    """SPEC_fp8_tf32 §3(c) rebuilt from its parts: FP8 widened to fp16 by ml_dtypes,
    the GPU's fp16 block FMA on the products ``first`` selects (c = +0), then on the
    others (c = x1), then c added by one NumPy (IEEE RNE) addition; ``c_inside``: c
    enters the first block FMA instead. ``first``: a mask over k < 32."""
    a16, b16 = (as_bits(as_floats(x, fmt).astype(np.float16)) for x in (a, b))
    x1 = block_fma(a16[..., first], b16[..., first], c if c_inside else np.zeros_like(c),
                   "fp16", out_fmt, gpu)
    x2 = block_fma(a16[..., ~first], b16[..., ~first], x1, "fp16", out_fmt, gpu)
    if c_inside:
        return x2
    # numpy's fp16 add rounds the exact sum once to float32 and then to fp16; with
    # 24 >= 2*11 + 2 bits that double rounding is innocuous (correctly rounded).
    return as_bits(as_floats(x2, out_fmt) + as_floats(c, out_fmt))


K32 = np.arange(32)
INTERLEAVED = K32 % 4 < 2


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_pair_split_alternatives_fail_on_the_data(fmt):
    """SPEC_fp8_tf32 §5 on the H100 mma.sync fp16 sets: the pair split rebuilt here
    matches every line; c inside the first MMA, an ordinary block path, halves,
    even/odd, the pairs in the opposite order, and one rounding of the exact sum
    (RN(Σ + c)) each fail >= 100 lines (they match 2756-3827 of 5000)."""
    data = data_or_skip("h100", fmt, "fp16")
    a, b, c = data["a"], data["b"], data["c"]
    assert wrong(pair_split(a, b, c, fmt, "fp16", INTERLEAVED), data) == 0
    orders = {"halves": K32 < 16, "even/odd": K32 % 2 == 0, "opposite pairs": ~INTERLEAVED}
    for name, first in orders.items():
        failures = wrong(pair_split(a, b, c, fmt, "fp16", first), data)
        assert failures >= 100, f"{name} fails only {failures} vectors"
    failures = wrong(pair_split(a, b, c, fmt, "fp16", INTERLEAVED, c_inside=True), data)
    assert failures >= 100, f"c inside the first MMA fails only {failures} vectors"
    fp16_mode = GPUS["h100"].mode("fp16", "fp16")
    block_path = with_mode("h100", fmt, "fp16", "mma", path="block", inner=None,
                           block=fp16_mode.block, extra_bits=fp16_mode.extra_bits,
                           rm=fp16_mode.rm, e_floor=fp16_mode.e_floor)
    assert_all_rejected(data, {"ordinary block path": (block_path, "tensorcore", {}),
                               "one rounding": (None, "fused", {"rm": RNE})})


def test_h100_fp8_fp32_data_have_13_fraction_bits():
    """Model-free (SPEC_fp8_tf32 §5): every H100 FP8 -> fp32 result has its low 10
    fraction bits 0."""
    for fmt in ("e4m3", "e5m2"):
        d = data_or_skip("h100", fmt, "fp32")["d"]
        assert (d & np.uint64(0x3FF) == 0).all() and (d & np.uint64(0x7FF) != 0).any()


def moderate_bits(rng, fmt, shape):
    """Random finite patterns: normals within 2^-4..2^4 (either sign), one in 8 a
    subnormal."""
    fmt = float_format(fmt)
    exp = rng.integers(fmt.bias - 4, fmt.bias + 4, shape, dtype=np.uint64)
    bits = (exp << np.uint64(fmt.frac_bits)) | rng.integers(0, 1 << fmt.frac_bits, shape,
                                                            dtype=np.uint64)
    bits = np.where(rng.integers(0, 8, shape) == 0, bits & np.uint64((1 << fmt.frac_bits) - 1),
                    bits)
    return bits | (rng.integers(0, 2, shape, dtype=np.uint64) << np.uint64(fmt.width - 1))


@pytest.mark.parametrize("fmt", ["e4m3", "e5m2"])
def test_native_fp8_results_have_13_fraction_bits(fmt):
    """The golden's native paths (Ada, H100 wgmma) give 13-bit fp32 results whatever
    c is; the pair split (B200, H100 mma.sync) keeps all 23."""
    rng = np.random.default_rng(21)
    a, b = moderate_bits(rng, fmt, (3000, 32)), moderate_bits(rng, fmt, (3000, 32))
    c = as_bits(rng.standard_normal(3000).astype(np.float32) * np.float32(4))
    for gpu, instr in (("ada", None), ("l40s", None), ("h100", "wgmma"), ("h200", "wgmma")):
        d, _ = dot(a, b, c, fmt, "fp32", "tensorcore", gpu=gpu, instr=instr)
        assert (d & np.uint64(0x3FF) == 0).all(), gpu
    for gpu, instr in (("b200", None), ("h100", "mma")):
        d, _ = dot(a, b, c, fmt, "fp32", "tensorcore", gpu=gpu, instr=instr)
        assert (d & np.uint64(0x3FF) != 0).mean() > 0.9, gpu


# ---- TF32 and FP8 directed cases (SPEC_fp8_tf32.md), expected values by hand ---------------

def f32(x):
    return int(np.float32(x).view(np.uint32))


def f16(x):
    return int(np.float16(x).view(np.uint16))


def tf(x):
    """A tf32 pattern: the fp32 pattern of a tf32-exact value shifted right by 13 (§1)."""
    return f32(x) >> 13


# (e) Ada: k = 32 is two chained blocks of 16. 1.875² = 3.515625 (e4m3 0x3F) at k = 0 and
# 2^-13 = 2^-4·2^-9 (0x18·0x01) at k = 1 and k = 16. Block 1 sums exactly to
# 3.515625 + 2^-13, RZ to 13 fraction bits (ulp 2^-12 at 2^1) drops the 2^-13; block 2
# aligns 2^-13 to c's exponent 1 on the 13-bit grid, where it truncates to 0.
# One block of 32 keeps 3.515625 + 2^-12 exactly.
CHAIN_A = [0x3F, 0x18] + [0] * 14 + [0x18] + [0] * 15
CHAIN_B = [0x3F, 0x01] + [0] * 14 + [0x01] + [0] * 15

FP8_DIRECTED = [  # id, gpu, instr, in_fmt, out_fmt, a, b, c, expected d
    # TF32 is the bf16 path with M = 10: 1 - 2^-25 keeps its tail only with F = 25
    ("tf32-F24", "a100", None, "tf32", "fp32", [tf(1), tf(2 ** -12)], [tf(1), tf(-2 ** -13)], 0,
     f32(1.0)),
    ("tf32-F25", "h100", None, "tf32", "fp32", [tf(1), tf(2 ** -12)], [tf(1), tf(-2 ** -13)], 0,
     f32(1 - 2 ** -24)),
    # (a) native paths: d = c + 0·0 is c truncated to 13 fraction bits (low 10 bits cleared)
    ("c13", "ada", None, "e4m3", "fp32", [0], [0], 0x3F800FFF, 0x3F800C00),
    ("c13-negative", "l40s", None, "e5m2", "fp32", [0], [0], 0xBF800FFF, 0xBF800C00),
    ("c13-wgmma", "h100", "wgmma", "e4m3", "fp32", [0], [0], 0x3F800FFF, 0x3F800C00),
    ("c13-subnormal", "ada", None, "e4m3", "fp32", [0], [0], 0x00000FFF, 0x00000C00),  # 3·2^-139
    ("c-fp16-fits", "ada", None, "e4m3", "fp16", [0], [0], 0x3FFF, 0x3FFF),
    ("c13-in-block", "ada", None, "e4m3", "fp32", [0x38], [0x38], f32(1.5 * 2 ** -24), f32(1.0)),
    # (b) pair split: c is added last and exactly rounded (RNE, even for fp32 output) ...
    ("c-apart-mma", "h100", "mma", "e4m3", "fp32", [0], [0], 0x3F800FFF, 0x3F800FFF),
    ("c-apart-b200", "b200", None, "e5m2", "fp32", [0], [0], 0xBF800FFF, 0xBF800FFF),
    ("c-last-rne", "b200", None, "e4m3", "fp32", [0x38], [0x38], f32(1.5 * 2 ** -24),
     f32(1 + 2 ** -23)),                                        # 1 + 0.75 ulp rounds up
    ("c-last-rne-mma", "h100", "mma", "e5m2", "fp32", [0x3C], [0x3C], f32(1.5 * 2 ** -24),
     f32(1 + 2 ** -23)),
    # 2^8 + 3·2^-17: the products (2^-8·2^-9 at k = 0, 1, 4) make x2 = 3·2^-17 exactly, and
    # 0.75 ulp of 2^8 rounds up; inside the 2^8-aligned window each would truncate to 2^-17
    ("c-last-small-products", "b200", None, "e4m3", "fp32", [0x02, 0x02, 0, 0, 0x02],
     [0x01, 0x01, 0, 0, 0x01], f32(2 ** 8), f32(2 ** 8 + 2 ** -15)),
    # the same sum inside one MMA (2^8 = 0x58², 3·2^-17 = 0x03·0x02) is truncated (RZ)
    ("rz-inside", "b200", None, "e4m3", "fp32", [0x58, 0x03], [0x58, 0x02], 0, f32(2 ** 8)),
    ("rz-inside-mma", "h100", "mma", "e4m3", "fp32", [0x58, 0x03], [0x58, 0x02], 0, f32(2 ** 8)),
    # ... and k mod 4 in {0, 1} go first: 2^8 (16·16) at k = 0 with 2^-16 (0x02²) at k = 1
    # rounds (RZ) to 2^8 in the first MMA, the second 2^-16 is lost again in the second;
    # with both small products at k = 2, 3 the second MMA sees 2^8 + 2^-15, exact.
    ("pairs-first", "b200", None, "e4m3", "fp32", [0x58, 0x02, 0x02], [0x58, 0x02, 0x02], 0,
     f32(2 ** 8)),
    ("pairs-second", "b200", None, "e4m3", "fp32", [0x58, 0, 0x02, 0x02], [0x58, 0, 0x02, 0x02], 0,
     f32(2 ** 8 + 2 ** -15)),
    # fp16 output: 1 + 2^-11 (2^-2·2^-9) is a tie, RNE to 1 in each MMA; 1 + 2^-10 is exact
    ("pairs-first-fp16", "h100", "mma", "e4m3", "fp16", [0x38, 0x28, 0x28], [0x38, 0x01, 0x01],
     0, f16(1.0)),
    ("pairs-second-fp16", "h100", "mma", "e4m3", "fp16", [0x38, 0, 0x28, 0x28],
     [0x38, 0, 0x01, 0x01], 0, f16(1 + 2 ** -10)),
    # (c) subnormal FP8 inputs multiply exactly: e4m3 0x01 = 2^-9, e5m2 0x01 = 2^-16
    ("e4m3-subnormal", "ada", None, "e4m3", "fp32", [0x01], [0x38], 0, f32(2 ** -9)),
    ("e5m2-subnormal", "ada", None, "e5m2", "fp32", [0x01], [0x3C], 0, f32(2 ** -16)),
    ("e5m2-subnormal-squared", "l40s", None, "e5m2", "fp32", [0x01], [0x01], 0, f32(2 ** -32)),
    ("e5m2-subnormal-split", "b200", None, "e5m2", "fp32", [0x01], [0x01], 0, f32(2 ** -32)),
    ("e4m3-subnormal-squared", "h100", "wgmma", "e4m3", "fp32", [0x07], [0x07], 0,
     f32(49 * 2 ** -18)),
    ("e4m3-subnormal-fp16", "h100", "mma", "e4m3", "fp16", [0x01, 0x01], [0x38, 0x01], 0,
     f16(2 ** -9 + 2 ** -18)),
    # (d) E4M3 has NaN 0x7F/0xFF and no infinity; 0x7E = 448; E5M2 has IEEE specials
    ("e4m3-nan", "ada", None, "e4m3", "fp32", [0x7F, 0x38], [0x38, 0x38], 0, 0x7FFFFFFF),
    ("e4m3-nan-fp16", "ada", None, "e4m3", "fp16", [0xFF], [0x38], 0, 0x7FFF),
    ("e4m3-nan-wgmma", "h100", "wgmma", "e4m3", "fp32", [0x38], [0xFF], 0, 0x7FFFFFFF),
    ("e4m3-nan-split", "b200", None, "e4m3", "fp16", [0x7F], [0x00], 0, 0x7FFF),
    ("e4m3-448²", "ada", None, "e4m3", "fp32", [0x7E], [0x7E], 0, f32(448.0 ** 2)),  # 0x48440000
    ("e4m3-448²-split", "b200", None, "e4m3", "fp32", [0x7E], [0xFE], 0, f32(-200704.0)),
    ("e4m3-448²-fp16", "ada", None, "e4m3", "fp16", [0x7E], [0x7E], 0, f16(np.inf)),  # §6
    ("e5m2-inf·0", "ada", None, "e5m2", "fp32", [0x7C], [0x00], 0, 0x7FFFFFFF),
    ("e5m2-inf-inf", "l40s", None, "e5m2", "fp32", [0x7C, 0xFC], [0x3C, 0x3C], 0, 0x7FFFFFFF),
    ("e5m2-inf", "h100", "wgmma", "e5m2", "fp32", [0x7C, 0x3C], [0x3C, 0x3C], 0, f32(np.inf)),
    ("e5m2-inf-split", "h100", "mma", "e5m2", "fp16", [0xFC], [0x3C], 0, f16(-np.inf)),
    ("e5m2-inf·0-split", "b200", None, "e5m2", "fp32", [0x7C], [0x00], 0, 0x7FFFFFFF),
    ("e5m2-inf-c-split", "b200", None, "e5m2", "fp32", [0x7C], [0x3C], f32(-np.inf), 0x7FFFFFFF),
    # (e) chained Ada blocks against one 32-block (wgmma) and the pair split
    ("ada-two-blocks", "ada", None, "e4m3", "fp32", CHAIN_A, CHAIN_B, 0, f32(3.515625)),
    ("wgmma-one-block", "h100", "wgmma", "e4m3", "fp32", CHAIN_A, CHAIN_B, 0,
     f32(3.515625 + 2 ** -12)),
    ("split-one-mma", "b200", None, "e4m3", "fp32", CHAIN_A, CHAIN_B, 0, f32(3.515625 + 2 ** -12)),
]


@pytest.mark.parametrize("name, gpu, instr, in_fmt, out_fmt, a, b, c, expected", FP8_DIRECTED,
                         ids=[case[0] for case in FP8_DIRECTED])
def test_fp8_tf32_directed(name, gpu, instr, in_fmt, out_fmt, a, b, c, expected):
    d, flags = dot([a], [b], [c], in_fmt, out_fmt, "tensorcore", gpu=gpu, instr=instr)
    assert f"{int(d[0]):x}" == f"{expected:x}" and flags is None


def test_ada_chaining_differs_from_one_block():
    """(e): the same vector with Ada's block made 32, and the exact sum, keep 2^-12."""
    one_block = with_mode("ada", "e4m3", "fp32", block=32)
    for mode, kw in (("tensorcore", {"gpu": one_block}), ("fused", {"rm": RTZ})):
        d, _ = dot([CHAIN_A], [CHAIN_B], [0], "e4m3", "fp32", mode, **kw)
        assert int(d[0]) == f32(3.515625 + 2 ** -12), mode


def test_e4m3_top_binade_holds_ordinary_numbers():
    """0x78..0x7E are 256..448 (ml_dtypes' values), exact in both outputs; no infinity."""
    top = np.arange(0x78, 0x7F, dtype=np.uint64)
    top = np.concatenate([top, top | np.uint64(0x80)])
    values = as_floats(top, "e4m3").astype(np.float64)
    assert (np.abs(values) >= 256).all() and np.isfinite(values).all()
    ones = np.full((top.size, 1), 0x38, np.uint64)
    for gpu, out_fmt in (("ada", "fp32"), ("l40s", "fp16"), ("b200", "fp32")):
        d, _ = dot(top[:, None], ones, np.zeros(top.size), "e4m3", out_fmt, "tensorcore", gpu=gpu)
        assert (as_floats(d, out_fmt).astype(np.float64) == values).all(), gpu


# ---- fused and chain modes ------------------------------------------------------------

FORMAT_PAIRS = [("fp16", "fp32"), ("bf16", "fp32"), ("fp16", "fp16"), ("e4m3", "fp16"),
                ("fp32", "fp32")]


def random_bits(rng, fmt, shape):
    return rng.integers(0, 1 << float_format(fmt).width, shape, dtype=np.uint64)


@pytest.mark.parametrize("in_fmt, out_fmt", FORMAT_PAIRS)
def test_fused_single_product_is_fma(in_fmt, out_fmt):
    rng = np.random.default_rng(5)
    a, b = random_bits(rng, in_fmt, (4000, 1)), random_bits(rng, in_fmt, (4000, 1))
    c = random_bits(rng, out_fmt, 4000)
    for rm in MODES:
        d, flags = dot(a, b, c, in_fmt, out_fmt, "fused", rm=rm)
        ref, ref_flags = fma(a[:, 0], b[:, 0], c, in_fmt, in_fmt, out_fmt, out_fmt, rm)
        assert (d == ref).all() and (flags == ref_flags).all(), rm


def finite_bits(rng, fmt, shape):
    """Random finite patterns: half over the whole range, half within a few binades."""
    fmt = float_format(fmt)
    bits = random_bits(rng, fmt, shape)
    special = (bits >> np.uint64(fmt.frac_bits)) & np.uint64((1 << fmt.exp_bits) - 1) \
        == np.uint64((1 << fmt.exp_bits) - 1)
    bits = np.where(special, bits ^ np.uint64(1 << fmt.frac_bits), bits)
    near = (bits & np.uint64(((1 << fmt.frac_bits + 2) - 1) | (1 << fmt.width - 1))) \
        | np.uint64((fmt.bias - 2) << fmt.frac_bits)
    return np.where(rng.integers(0, 2, shape) == 1, near, bits)


def fraction(bits, fmt):
    d = decode(np.array([bits], dtype=np.uint64), fmt)
    return (-1) ** int(d.sign[0]) * Fraction(int(d.sig[0])) * Fraction(2) ** int(d.exp[0])


def round_fraction(value, fmt, rm):
    """Bits of a nonzero exact value rounded by definition (RISC-V modes, IEEE overflow)."""
    fmt = float_format(fmt)
    sign, magnitude, m = int(value < 0), abs(value), fmt.frac_bits
    e = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    e += 1 if magnitude >= Fraction(2) ** (e + 1) else 0
    e -= 1 if magnitude < Fraction(2) ** e else 0
    q = max(e, fmt.emin) - m
    scaled = magnitude / Fraction(2) ** q
    kept = scaled.numerator // scaled.denominator
    rest = scaled - kept
    up = {RNE: rest > Fraction(1, 2) or (rest == Fraction(1, 2) and kept & 1),
          RTZ: False, RDN: sign and rest > 0, RUP: not sign and rest > 0,
          RMM: rest >= Fraction(1, 2)}[rm]
    kept += int(bool(up))
    if kept >> (m + 1):
        kept, q = kept >> 1, q + 1
    sign_bit = sign << (fmt.width - 1)
    if kept >> m and q + m + fmt.bias > fmt.exp_max_field:
        toward_inf = rm in (RNE, RMM) or rm == (RDN if sign else RUP)
        return sign_bit | (fmt.inf_bits if toward_inf else fmt.max_finite_bits)
    if kept >> m:
        return sign_bit | ((q + m + fmt.bias) << m) | (kept - (1 << m))
    return sign_bit | kept


@pytest.mark.parametrize("in_fmt, out_fmt", [("fp16", "fp32"), ("bf16", "fp32"),
                                             ("fp16", "fp16"), ("tf32", "fp32"),
                                             ("e4m3", "fp32"), ("e5m2", "fp16")])
@pytest.mark.parametrize("rm", MODES)
def test_fused_against_fractions(in_fmt, out_fmt, rm):
    rng = np.random.default_rng(rm)
    n = 300 if in_fmt in ("fp16", "bf16") else 100
    a, b = finite_bits(rng, in_fmt, (n, 4)), finite_bits(rng, in_fmt, (n, 4))
    c = finite_bits(rng, out_fmt, n)
    cancel = rng.integers(0, 4, n) == 0                        # a0·b0 + a1·b1 = 0
    a[cancel, 1] = a[cancel, 0] ^ np.uint64(1 << float_format(in_fmt).width - 1)
    b[cancel, 1] = b[cancel, 0]
    c[cancel] = 0
    d, _ = dot(a, b, c, in_fmt, out_fmt, "fused", rm=rm)
    out = float_format(out_fmt)
    for i in range(n):
        exact = fraction(c[i], out_fmt) + sum(fraction(a[i, k], in_fmt) * fraction(b[i, k], in_fmt)
                                              for k in range(4))
        expected = round_fraction(exact, out_fmt, rm) if exact else (rm == RDN) << out.width - 1
        assert int(d[i]) == expected, (i, hex(int(d[i])), hex(expected))


def test_fused_specials_and_zero_signs():
    one, neg_one, inf, ninf, zero, nzero = 0x3C00, 0xBC00, 0x7C00, 0xFC00, 0x0000, 0x8000
    qnan = float_format("fp32").nan_bits
    cases = [  # a, b, c (fp32), rm, expected bits, expected NV
        ([inf, one], [one, one], 0, RNE, 0x7F800000, 0),
        ([inf, one], [one, ninf], 0, RNE, qnan, 1),                 # +inf - inf
        ([inf, zero], [zero, one], 0x7FC00000, RNE, qnan, 1),       # inf*0 with a NaN c
        ([0x7C01, one], [one, one], 0, RNE, qnan, 1),               # signaling NaN
        ([0x7E00, one], [one, one], 0, RNE, qnan, 0),
        ([nzero, zero], [one, neg_one], 0x80000000, RNE, 0x80000000, 0),  # all -0: -0
        ([nzero, zero], [one, one], 0x80000000, RNE, 0, 0),
        ([nzero, zero], [one, one], 0x80000000, RDN, 0x80000000, 0),
        ([one, one], [one, neg_one], 0x80000000, RNE, 0, 0),        # cancellation: +0
        ([one, one], [one, neg_one], 0, RDN, 0x80000000, 0),
    ]
    for a, b, c, rm, expected, nv in cases:
        d, flags = dot([a], [b], [c], "fp16", "fp32", "fused", rm=rm)
        assert (int(d[0]), int(flags[0]) >> 4) == (expected, nv), (a, b, c, rm)


def test_fused_wide_exponent_range_uses_exact_integers():
    # 2^254 - 2^254 + 2^-232: only the tiny product is left, far below the int64 window
    a = np.array([[0x7F00, 0x7F00, 0x0580]], np.uint64)
    b = np.array([[0x7F00, 0xFF00, 0x0580]], np.uint64)
    d, flags = dot(a, b, [0], "bf16", "fp32", "fused", rm=RUP)
    assert int(d[0]) == 0x00000001 and int(flags[0]) == 3       # 2^-266 -> min subnormal, UF NX


@pytest.mark.parametrize("in_fmt, out_fmt", [("fp16", "fp32"), ("bf16", "fp16")])
def test_chain_is_successive_fmas(in_fmt, out_fmt):
    rng = np.random.default_rng(11)
    A, B = random_bits(rng, in_fmt, (3, 5)), random_bits(rng, in_fmt, (5, 2))
    C = random_bits(rng, out_fmt, (3, 2))
    for rm in (RNE, RDN):
        D, flags = mma(A, B, C, in_fmt, out_fmt, "chain", rm=rm)
        for i in range(3):
            for j in range(2):
                acc, seen = C[i, j:j + 1], 0
                for k in range(5):
                    acc, step = fma(A[i, k:k + 1], B[k, j:j + 1], acc, in_fmt, in_fmt, out_fmt,
                                    out_fmt, rm)
                    seen |= int(step[0])
                assert (D[i, j], flags[i, j]) == (acc[0], seen), (i, j, rm)


# ---- tensorcore chaining ----------------------------------------------------------------

@pytest.mark.parametrize("gpu, in_fmt, out_fmt, instr", [
    ("v100", "fp16", "fp16", None), ("a100", "bf16", "fp32", None), ("h100", "fp16", "fp32", None),
    ("ada", "e4m3", "fp16", None), ("h100", "e5m2", "fp32", "wgmma"),
    ("h100", "e4m3", "fp32", "mma"), ("b200", "e5m2", "fp16", None)])
def test_tensorcore_gemm_chains_blocks(gpu, in_fmt, out_fmt, instr):
    rng = np.random.default_rng(3)
    block = GPUS[gpu].mode(in_fmt, out_fmt, instr).block
    A = finite_bits(rng, in_fmt, (2, 4, 3 * block))             # a batch of 2
    B = finite_bits(rng, in_fmt, (3 * block, 3))
    C = finite_bits(rng, out_fmt, (2, 4, 3))
    kw = {"gpu": gpu, "instr": instr}
    D, flags = gemm(A, B, C, in_fmt, out_fmt, "tensorcore", **kw)
    assert flags is None
    rows = np.broadcast_to(A[:, :, None, :], (2, 4, 3, 3 * block))
    cols = np.broadcast_to(B.T[None, None], (2, 4, 3, 3 * block))
    manual = C
    for j in range(3):
        part = slice(j * block, (j + 1) * block)
        manual = block_fma(rows[..., part], cols[..., part], manual, in_fmt, out_fmt, gpu,
                           instr=instr)
    assert (D == manual).all()
    tiled, _ = gemm(A, B, C, in_fmt, out_fmt, "tensorcore", tile_k=block, **kw)
    assert (tiled == D).all()
    # K one short of 3 blocks: zero padding changes nothing
    short, _ = mma(A[..., :-1], B[:-1], C, in_fmt, out_fmt, "tensorcore", **kw)
    padded_A, padded_B = A.copy(), B.copy()
    padded_A[..., -1] = 0
    assert (short == mma(padded_A, padded_B, C, in_fmt, out_fmt, "tensorcore", **kw)[0]).all()


def test_fused_tiles_round_per_tile():
    rng = np.random.default_rng(8)
    A, B = finite_bits(rng, "fp16", (4, 12)), finite_bits(rng, "fp16", (12, 4))
    C = finite_bits(rng, "fp32", (4, 4))
    tiled, _ = gemm(A, B, C, "fp16", "fp32", "fused", tile_k=4)
    manual = C
    for start in (0, 4, 8):
        manual, _ = mma(A[:, start:start + 4], B[start:start + 4], manual, "fp16", "fp32", "fused")
    assert (tiled == manual).all()
    whole, _ = gemm(A, B, C, "fp16", "fp32", "fused")
    assert (whole == mma(A, B, C, "fp16", "fp32", "fused")[0]).all()


def test_infinity_stays_through_later_blocks():
    big = np.array([[0x7BFF] * 4 + [0x3C00] * 8], np.uint64)    # 4·65504² overflows fp16
    ones = np.full((12, 1), 0x3C00, np.uint64)
    d, _ = mma(big, ones, np.zeros((1, 1), np.uint64), "fp16", "fp16", "tensorcore", gpu="v100")
    assert int(d[0, 0]) == 0x7C00
    big[0, 5] = 0x7E00                                          # a NaN later gives NaN
    d, _ = mma(big, ones, np.zeros((1, 1), np.uint64), "fp16", "fp16", "tensorcore", gpu="v100")
    assert int(d[0, 0]) == 0x7FFF


def test_rz_overflow_gives_infinity_not_max_finite():
    a = np.array([[0x7F7F, 0x7F7F]], np.uint64)                # bf16 max² twice, far beyond fp32
    b = np.array([[0x3F80], [0x3F80]], np.uint64)
    d, _ = mma(a, b, np.array([[0x7F7FFFFF]], np.uint64), "bf16", "fp32", "tensorcore",
               gpu="h100")
    assert int(d[0, 0]) == 0x7F800000
    d, _ = mma(a ^ np.uint64(0x8000), b, np.zeros((1, 1), np.uint64), "bf16", "fp32",
               "tensorcore", gpu="a100")
    assert int(d[0, 0]) == 0xFF800000


# ---- promotion to an fp32 accumulator --------------------------------------------------------

PROMOTIONS = [  # mode, gpu, instr, in_fmt, out_fmt, K, promote_every, tile_k
    ("tensorcore", "ada", None, "e4m3", "fp32", 96, 32, None),
    ("tensorcore", "l40s", None, "e5m2", "fp16", 64, 32, None),
    ("tensorcore", "h100", "wgmma", "e5m2", "fp32", 128, 64, None),
    ("tensorcore", "h100", "mma", "e4m3", "fp16", 64, 32, None),
    ("tensorcore", "b200", None, "e4m3", "fp32", 128, 64, 32),
    ("tensorcore", "h100", None, "tf32", "fp32", 32, 16, None),
    ("fused", None, None, "e4m3", "fp16", 24, 8, None),
    ("fused", None, None, "e5m2", "fp32", 24, 6, 3),
]


@pytest.mark.parametrize("mode, gpu, instr, in_fmt, out_fmt, k, every, tile_k", PROMOTIONS)
def test_promotion_adds_group_results_in_fp32(mode, gpu, instr, in_fmt, out_fmt, k, every,
                                              tile_k):
    """gemm(promote_every=N): each group of N products from C = +0 (tiled as asked), its
    result added to an fp32 accumulator by one IEEE RNE addition (NumPy's float32 +)."""
    rng = np.random.default_rng(k + every)
    A, B = moderate_bits(rng, in_fmt, (5, k)), moderate_bits(rng, in_fmt, (k, 3))
    C = as_bits(rng.standard_normal((5, 3)).astype(np.float32) * np.float32(16))
    kw = {"gpu": gpu, "instr": instr} if mode == "tensorcore" else {}
    D, flags = gemm(A, B, C, in_fmt, out_fmt, mode, promote_every=every, tile_k=tile_k, **kw)
    acc, inexact = as_floats(C, "fp32"), np.zeros((5, 3), bool)
    for start in range(0, k, every):
        part, _ = gemm(A[:, start:start + every], B[start:start + every], np.zeros((5, 3), int),
                       in_fmt, out_fmt, mode, tile_k=tile_k, **kw)
        part = as_floats(part, out_fmt).astype(np.float32)
        total = acc + part
        inexact |= total.astype(np.float64) != acc.astype(np.float64) + part.astype(np.float64)
        acc = total
    assert (D == as_bits(acc)).all()
    assert inexact.any() and ((flags & 1 != 0) == inexact).all() and (flags & ~1 == 0).all()
    # a batch of A against one B and C
    batched, _ = gemm(np.stack([A[::-1], A]), B, C, in_fmt, out_fmt, mode, promote_every=every,
                      tile_k=tile_k, **kw)
    assert batched.shape == (2, 5, 3) and (batched[1] == D).all()
    # promotion every K: one group from +0, then one addition (golden.mma.promote)
    D, _ = gemm(A, B, C, in_fmt, out_fmt, mode, promote_every=k, **kw)
    whole, _ = mma(A, B, np.zeros((5, 3), int), in_fmt, out_fmt, mode, **kw)
    assert (D == as_bits(as_floats(C, "fp32") + as_floats(whole, out_fmt).astype(np.float32))).all()
    assert (D == promote(C, whole, out_fmt)[0]).all()


def test_promote_step_is_one_ieee_fp32_addition():
    """golden.mma.promote: RNE_fp32(acc + partial) with IEEE flags; the tensor-core NaN
    becomes fp32's canonical NaN."""
    cases = [  # acc (fp32), partial, its format, expected bits, flags (NX 1, OF 4)
        (f32(1.0), 0x7FFF, "fp16", 0x7FC00000, 0),
        (f32(1.0), 0x7FFFFFFF, "fp32", 0x7FC00000, 0),
        (f32(1.0), 0x0001, "fp16", f32(1.0), 1),                 # + 2^-24: below half an ulp
        (f32(1.0), f16(1.5 * 2 ** -23), "fp16", f32(1 + 2 ** -22), 1),   # 1.5 ulp: tie, even
        (f32(-1.0), f16(1.0), "fp16", 0, 0),                     # exact zero: +0
        (0x80000000, 0x8000, "fp16", 0x80000000, 0),             # -0 + -0 = -0
        (0x7F7FFFFF, 0x7F7FFFFF, "fp32", 0x7F800000, 5),         # overflow
        (f32(3.0), f16(-np.inf), "fp16", f32(-np.inf), 0),
    ]
    for acc, partial, fmt, expected, flags in cases:
        d, got = promote(np.array([acc], np.uint64), np.array([partial], np.uint64), fmt)
        assert (int(d[0]), int(got[0])) == (expected, flags), (hex(acc), hex(partial))


# ---- parameters -------------------------------------------------------------------------

def spec_table():
    """SPEC.md §4 and SPEC_fp8_tf32.md §4, row by row: ``{gpu: {(in, out, instr): (path,
    K, F, M_blk, rounding, floor)}}``; on the pair split K, F, M_blk, rounding and floor
    are the fp16 MMA's (K = 16 of the 32) and c is added by an RNE addition."""
    fp16_bf16 = {  # K, F, floors of fp16->fp32, fp16->fp16, bf16->fp32
        "v100": (4, 23, None, -19, "n/a"),
        **dict.fromkeys(("a100", "a2", "ada", "l40s"), (8, 24, -132, -20, -132)),
        **dict.fromkeys(("h100", "h200", "b200"), (16, 25, -133, -21, -133))}
    tf32 = {**dict.fromkeys(("a100", "a2", "ada", "l40s"), (4, 24, -132)),
            **dict.fromkeys(("h100", "h200", "b200"), (8, 25, -133))}
    native = {"fp32": lambda k: ("block", k, 13, 13, "RZ", None),
              "fp16": lambda k: ("block", k, 13, 10, "RNE", None)}
    split = {"fp32": ("pair_split", 16, 25, 23, "RZ", -133),
             "fp16": ("pair_split", 16, 25, 10, "RNE", -21)}
    table = {}
    for gpu, (k, f, fp32_floor, fp16_floor, bf16_floor) in fp16_bf16.items():
        rows = {("fp16", "fp32", None): ("block", k, f, 23, "RZ", fp32_floor),
                ("fp16", "fp16", None): ("block", k, f, 10, "RNE", fp16_floor)}
        if bf16_floor != "n/a":
            rows[("bf16", "fp32", None)] = ("block", k, f, 23, "RZ", bf16_floor)
        if gpu in tf32:
            rows[("tf32", "fp32", None)] = ("block", tf32[gpu][0], tf32[gpu][1], 23, "RZ",
                                            tf32[gpu][2])
        for fmt in ("e4m3", "e5m2"):
            for out in ("fp32", "fp16"):
                if gpu in ("ada", "l40s"):
                    rows[(fmt, out, None)] = native[out](16)
                elif gpu in ("h100", "h200"):
                    if out == "fp32":
                        rows[(fmt, out, "wgmma")] = native[out](32)
                    rows[(fmt, out, "mma")] = split[out]
                elif gpu == "b200":
                    rows[(fmt, out, None)] = split[out]
        table[gpu] = rows
    return table


def summary(core, out_fmt):
    """A mode as a row of :func:`spec_table`."""
    names = {RTZ: "RZ", RNE: "RNE"}
    if core.path == "pair_split":
        inner = core.inner
        assert (core.block, core.rm, inner.path, inner.result_bits) == (32, RNE, "block", None)
        return ("pair_split", inner.block, inner.frac_bits, float_format(out_fmt).frac_bits,
                names[inner.rm], inner.e_floor)
    bits = core.result_bits or float_format(out_fmt).frac_bits
    return ("block", core.block, core.frac_bits, bits, names[core.rm], core.e_floor)


def test_presets_follow_the_spec_table():
    table = spec_table()
    assert set(GPUS) == set(table)
    for name, params in GPUS.items():
        got = {key: summary(core, key[1]) for key, core in params.modes_}
        assert got == table[name], name
        assert set(params.modes()) == {(i, o) for i, o, _ in table[name]}
        for (in_fmt, out_fmt, instr), row in table[name].items():
            assert summary(params.mode(in_fmt, out_fmt, instr), out_fmt) == row
    # Hopper's FP8 -> fp32 has two instructions, wgmma (the default) first
    for gpu in ("h100", "h200"):
        assert GPUS[gpu].instructions("e4m3", "fp32") == ("wgmma", "mma")
        assert GPUS[gpu].instructions("e5m2", "fp16") == ("mma",)
        assert GPUS[gpu].key("e5m2", "fp32") == ("e5m2", "fp32", "wgmma")
        assert GPUS[gpu].mode("e4m3", "fp16") == GPUS[gpu].mode("e4m3", "fp16", "mma")
    assert GPUS["b200"].instructions("e4m3", "fp32") == (None,)
    assert GPUS["v100"].modes() == (("fp16", "fp32"), ("fp16", "fp16"))
    # the pair split's inner MMA is the GPU's own fp16 mode
    assert GPUS["b200"].mode("e4m3", "fp16").inner == GPUS["b200"].mode("fp16", "fp16")
    assert isinstance(GPUS["ada"], TensorCoreParams) and hash(GPUS["ada"])
    # with_mode changes one mode of a copy
    changed = GPUS["ada"].with_mode("e4m3", "fp32", block=32)
    assert changed.mode("e4m3", "fp32").block == 32 and changed.mode("e5m2", "fp32").block == 16
    assert GPUS["ada"].mode("e4m3", "fp32").block == 16


def zeros(shape):
    """+0 bit patterns (the models take integers only)."""
    return np.zeros(shape, dtype=np.uint64)


@pytest.mark.parametrize("call, message", [
    (lambda: validate("fp16", "fp32", "tensorcore", gpu="t4"), "gpu: must be one of"),
    (lambda: GPUS["a100"].with_mode("fp16", "fp32", block=0), "block: must be an integer"),
    (lambda: GPUS["a100"].with_mode("fp16", "fp32", extra_bits=40),
     "extra_bits: must be an integer"),
    (lambda: TensorCoreMode(8, 1, RTZ, path="x"), "path: must be one of block, pair_split"),
    (lambda: GPUS["ada"].with_mode("e4m3", "fp32", rm=7), "rm: must be a rounding-mode code"),
    (lambda: GPUS["ada"].with_mode("e4m3", "fp32", e_floor="x"), "e_floor: must be an integer"),
    (lambda: GPUS["ada"].with_mode("e4m3", "fp32", result_bits=30), "result_bits: must be"),
    (lambda: GPUS["ada"].with_mode("e4m3", "fp32", result_bits=True), "result_bits: must be"),
    (lambda: GPUS["ada"].with_mode("e4m3", "fp32", block=True), "block: must be an integer"),
    (lambda: mma(np.zeros((1, 16), np.uint64), np.zeros((16, 1), np.uint64),
                 np.zeros((1, 1), np.uint64), "e4m3", "fp16", "tensorcore",
                 gpu=GPUS["ada"].with_mode("e4m3", "fp16", result_bits=13)),
     "result_bits: at most fp16's 10"),
    (lambda: TensorCoreMode(32, 2, RNE, path="pair_split"), "inner: the pair_split path"),
    (lambda: TensorCoreMode(8, 1, RTZ, inner=GPUS["h100"].mode("fp16", "fp16")),
     "inner: the pair_split path"),
    (lambda: GPUS["b200"].with_mode("e4m3", "fp16", block=30), "block: a pair split takes"),
    (lambda: GPUS["v100"].with_mode("e4m3", "fp32", block=4), "in_fmt/out_fmt: v100"),
    (lambda: validate("fp16", "fp32", "tensorcore"), "gpu: mode tensorcore needs"),
    (lambda: validate("fp32", "fp32", "tensorcore", gpu="h100"),
     "in_fmt: mode tensorcore supports fp16, bf16, tf32, e4m3, e5m2, got fp32"),
    (lambda: validate("tf32", "fp16", "tensorcore", gpu="a100"),
     r"in_fmt/out_fmt: a100 tensor cores support .*tf32->fp32, got tf32->fp16"),
    (lambda: validate("e4m3", "fp32", "tensorcore", gpu="v100"), "in_fmt/out_fmt: v100"),
    (lambda: validate("e5m2", "fp16", "tensorcore", gpu="a100"), "in_fmt/out_fmt: a100"),
    (lambda: validate("tf32", "fp32", "tensorcore", gpu="a100", instr="mma"),
     "instr: a100 has one tf32->fp32 datapath"),
    (lambda: validate("e4m3", "fp32", "tensorcore", gpu="ada", instr="wgmma"),
     "instr: ada has one e4m3->fp32 datapath"),
    (lambda: validate("e4m3", "fp32", "tensorcore", gpu="b200", instr="mma"), "instr: b200"),
    (lambda: validate("e4m3", "fp32", "tensorcore", gpu="h100", instr="tcgen05"),
     "instr: h100 e4m3->fp32 runs on wgmma or mma, got 'tcgen05'"),
    (lambda: validate("e5m2", "fp16", "tensorcore", gpu="h200", instr="wgmma"),
     "instr: h200 e5m2->fp16 runs on mma, got 'wgmma'"),
    (lambda: validate("e4m3", "fp32", "fused", instr="mma"), "instr: only used in mode tensorcore"),
    (lambda: mma(zeros((1, 4)), zeros((4, 1)), zeros((1, 1)), "e4m3", "fp32", "chain",
                 instr="wgmma"), "instr: only used"),
    (lambda: validate("fp16", "bf16", "tensorcore", gpu="h100"), "out_fmt: mode tensorcore"),
    (lambda: validate("bf16", "fp16", "tensorcore", gpu="a100"), "in_fmt/out_fmt: a100"),
    (lambda: validate("bf16", "fp32", "tensorcore", gpu="v100"), "in_fmt/out_fmt: v100"),
    (lambda: validate("fp16", "fp32", "tensorcore", gpu="a100", rm=RNE), "rm: mode tensorcore"),
    (lambda: validate("fp16", "fp32", "fused", gpu="a100"), "gpu: only used"),
    (lambda: validate("fp16", "fp32", "fused", rm=7), "rm: must be"),
    (lambda: validate("fp16", "fp32", "exact"), "mode: must be one of"),
    (lambda: validate("fp17", "fp32", "fused"), "in_fmt: must be one of"),
    (lambda: validate("fp16", "fp32", "tensorcore", gpu="a100", k=12, require_block=True),
     r"K: must be a multiple of the a100 block \(8\), got 12"),
    (lambda: mma(zeros((4, 8)), zeros((8, 4)), zeros((4, 4)), "fp16", "fp32",
                 "tensorcore", gpu="h100", require_block=True), "K: must be a multiple"),
    (lambda: mma(zeros((4, 4)), zeros((5, 4)), zeros((4, 4)), "fp16", "fp32", "fused"),
     "B: must have K = 4 rows"),
    (lambda: mma(zeros((4, 4)), zeros((4, 4)), zeros((4, 3)), "fp16", "fp32", "fused"),
     "C: must be 4x4"),
    (lambda: mma(zeros(4), zeros((4, 4)), zeros((4, 4)), "fp16", "fp32", "fused"),
     "A, B, C: must be"),
    (lambda: mma(zeros((2, 4, 4)), zeros((3, 4, 4)), zeros((4, 4)), "fp16", "fp32",
                 "fused"), "batch dimensions"),
    (lambda: gemm(zeros((4, 12)), zeros((12, 4)), zeros((4, 4)), "fp16", "fp32",
                  "tensorcore", gpu="h100", tile_k=8),
     r"tile_k: must be a multiple of the h100 block \(16\)"),
    (lambda: gemm(zeros((4, 6)), zeros((6, 4)), zeros((4, 4)), "fp16", "fp32", "fused",
                  tile_k=4), r"K: must be a multiple of tile_k \(4\), got 6"),
    (lambda: block_fma(zeros((1, 8)), zeros((1, 8)), zeros(1), "fp16", "fp32", "v100"),
     "K: a block holds at most 4"),
    (lambda: block_fma(zeros((1, 64)), zeros((1, 64)), zeros(1), "e4m3", "fp32", "h100",
                       instr="mma"), "K: a block holds at most 32"),
    (lambda: gemm(zeros((2, 64)), zeros((64, 2)), zeros((2, 2)), "e4m3", "fp32", "tensorcore",
                  gpu="ada", promote_every=24),
     r"promote_every: must be a multiple of the ada block \(16\), got 24"),
    (lambda: gemm(zeros((2, 48)), zeros((48, 2)), zeros((2, 2)), "e4m3", "fp32", "tensorcore",
                  gpu="h100", promote_every=32), r"K: must be a multiple of promote_every \(32\), "
     r"got 48"),
    (lambda: gemm(zeros((2, 96)), zeros((96, 2)), zeros((2, 2)), "e4m3", "fp32", "tensorcore",
                  gpu="h100", tile_k=64, promote_every=96),
     r"promote_every: must be a multiple of tile_k \(64\), got 96"),
    (lambda: gemm(zeros((2, 8)), zeros((8, 2)), zeros((2, 2)), "e4m3", "fp32", "fused",
                  promote_every=0), "promote_every: must be an integer >= 1, got int 0"),
    (lambda: gemm(zeros((2, 8)), zeros((8, 2)), zeros((2, 2)), "e4m3", "fp16", "fused",
                  promote_every=3), r"K: must be a multiple of promote_every \(3\), got 8"),
])
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()
