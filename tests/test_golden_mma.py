"""The MMA golden: the tensor-core mode against SPEC.md's directed tests and every
real-GPU data set (and SPEC §7's rejected alternatives failing on that data), the
fused mode against golden.float.fma and an exact Fraction reference, the chain mode
against successive FMAs, block chaining along K, and parameter errors."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest

from nnarith.golden.float import RDN, RMM, RNE, RTZ, RUP, decode, fma
from nnarith.golden.formats import float_format
from nnarith.golden.mma import GPUS, TensorCoreParams, block_fma, gemm, mma, validate
from nnarith.sim.tensorcore import ENV_VAR, SPEC_DIRECTED, available_sets, data_root, load_set

MODES = [RNE, RTZ, RDN, RUP, RMM]
COLUMNS = (("v100",), ("a100", "ada"), ("h100", "b200"))

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


def with_extra_bits(gpu, extra_bits):
    return dataclasses.replace(GPUS[gpu], extra_bits=extra_bits)


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
    return "tensorcore", {"gpu": with_extra_bits(gpu, int(name[2:]) - 23)}


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


DATA_SETS = [("v100", "fp16", "fp32"), ("v100", "fp16", "fp16"), ("a100", "fp16", "fp32"),
             ("a100", "fp16", "fp16"), ("a100", "bf16", "fp32"), ("h100", "fp16", "fp32"),
             ("h100", "fp16", "fp16"), ("h100", "bf16", "fp32")]


@pytest.mark.parametrize("gpu, in_fmt, out_fmt", DATA_SETS)
def test_real_gpu_data(gpu, in_fmt, out_fmt):
    data = data_or_skip(gpu, in_fmt, out_fmt)
    assert data["a"].shape == (5000, GPUS[gpu].block) and data["d"].shape == (5000,)
    twins = {"a100": "ada", "h100": "b200"}
    for preset in (gpu, twins.get(gpu, gpu)):
        d, _ = dot(data["a"], data["b"], data["c"], in_fmt, out_fmt, "tensorcore", gpu=preset)
        bad = np.nonzero(d != data["d"])[0]
        assert bad.size == 0, f"{preset}: {5000 - bad.size}/5000, first bad lines {bad[:5] + 1}"


def test_fp16_c_is_rounded_to_fp16():
    data = data_or_skip("v100", "fp16", "fp16")
    c = data["c"].astype(np.uint32).astype(np.uint16).view(np.float16).astype(np.float32)
    nearest = data["c_fp32"].astype(np.uint32).view(np.float32).astype(np.float16)
    assert (c == nearest.astype(np.float32)).all() and data["c"].max() < 1 << 16


ALTERNATIVES = ["extra_bits+1", "extra_bits-1", "exact", "RNE", "half block"]


@pytest.mark.parametrize("gpu, in_fmt", [("v100", "fp16"), ("a100", "fp16"), ("a100", "bf16"),
                                         ("h100", "fp16"), ("h100", "bf16")])
def test_rejected_alternatives_fail_on_the_data(gpu, in_fmt):
    """SPEC §7: each alternative fails 146-1782 vectors of an fp32-output set."""
    data = data_or_skip(gpu, in_fmt, "fp32")
    params = GPUS[gpu]
    variants = {
        "extra_bits+1": ("tensorcore", {"gpu": with_extra_bits(gpu, params.extra_bits + 1)}),
        "extra_bits-1": ("tensorcore", {"gpu": with_extra_bits(gpu, params.extra_bits - 1)}),
        "exact": ("fused", {"rm": RTZ}),
        "RNE": ("tensorcore", {"gpu": dataclasses.replace(params, rounding=(("fp32", RNE),))}),
        "half block": ("tensorcore", {"gpu": dataclasses.replace(params,
                                                                 block=params.block // 2)}),
    }
    for name in ALTERNATIVES:
        mode, kw = variants[name]
        d, _ = dot(data["a"], data["b"], data["c"], in_fmt, "fp32", mode, **kw)
        wrong = int((d != data["d"]).sum())
        assert wrong >= 100, f"{name} fails only {wrong} vectors"


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
                                             ("fp16", "fp16")])
@pytest.mark.parametrize("rm", MODES)
def test_fused_against_fractions(in_fmt, out_fmt, rm):
    rng = np.random.default_rng(rm)
    n = 300
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

@pytest.mark.parametrize("gpu, in_fmt, out_fmt", [
    ("v100", "fp16", "fp16"), ("a100", "bf16", "fp32"), ("h100", "fp16", "fp32")])
def test_tensorcore_gemm_chains_blocks(gpu, in_fmt, out_fmt):
    rng = np.random.default_rng(3)
    block = GPUS[gpu].block
    A = finite_bits(rng, in_fmt, (2, 4, 3 * block))             # a batch of 2
    B = finite_bits(rng, in_fmt, (3 * block, 3))
    C = finite_bits(rng, out_fmt, (2, 4, 3))
    D, flags = gemm(A, B, C, in_fmt, out_fmt, "tensorcore", gpu=gpu)
    assert flags is None
    rows = np.broadcast_to(A[:, :, None, :], (2, 4, 3, 3 * block))
    cols = np.broadcast_to(B.T[None, None], (2, 4, 3, 3 * block))
    manual = C
    for j in range(3):
        part = slice(j * block, (j + 1) * block)
        manual = block_fma(rows[..., part], cols[..., part], manual, in_fmt, out_fmt, gpu)
    assert (D == manual).all()
    tiled, _ = gemm(A, B, C, in_fmt, out_fmt, "tensorcore", gpu=gpu, tile_k=block)
    assert (tiled == D).all()
    # K one short of 3 blocks: zero padding changes nothing
    short, _ = mma(A[..., :-1], B[:-1], C, in_fmt, out_fmt, "tensorcore", gpu=gpu)
    padded_A, padded_B = A.copy(), B.copy()
    padded_A[..., -1] = 0
    assert (short == mma(padded_A, padded_B, C, in_fmt, out_fmt, "tensorcore", gpu=gpu)[0]).all()


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


# ---- parameters -------------------------------------------------------------------------

def test_presets_follow_the_spec_table():
    assert {name: (p.block, p.frac_bits) for name, p in GPUS.items()} == {
        "v100": (4, 23), "a100": (8, 24), "ada": (8, 24), "h100": (16, 25), "b200": (16, 25)}
    assert GPUS["v100"].modes() == (("fp16", "fp32"), ("fp16", "fp16"))
    assert GPUS["h100"].mode("bf16", "fp32") == (RTZ, -133)
    assert GPUS["a100"].mode("fp16", "fp16") == (RNE, -20)
    assert isinstance(GPUS["ada"], TensorCoreParams) and hash(GPUS["ada"])


def zeros(shape):
    """+0 bit patterns (the models take integers only)."""
    return np.zeros(shape, dtype=np.uint64)


@pytest.mark.parametrize("call, message", [
    (lambda: validate("fp16", "fp32", "tensorcore", gpu="t4"), "gpu: must be one of"),
    (lambda: dataclasses.replace(GPUS["a100"], block=0), "block: must be an integer"),
    (lambda: dataclasses.replace(GPUS["a100"], extra_bits=40), "extra_bits: must be an integer"),
    (lambda: validate("fp16", "fp32", "tensorcore"), "gpu: mode tensorcore needs"),
    (lambda: validate("e4m3", "fp32", "tensorcore", gpu="h100"), "in_fmt: mode tensorcore"),
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
])
def test_bad_parameters(call, message):
    with pytest.raises(ValueError, match=message):
        call()
