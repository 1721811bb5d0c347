"""Bench models of the MMA units, and the packing of matrices into their ports.

Float MMAs get random blocks from three distributions (values near 1 as in
the GPU measurements; the whole exponent range; a mix with specials: zeros,
subnormals, infinities, NaNs) and blocks whose C cancels the first product
(SPEC.md's directed cases run in tests/test_sim_mma.py). Integer MMAs get
corner and random elements with C at the accumulator's edges.
:func:`diagonal_blocks` places single dot products (the real-GPU data) on the
diagonals of blocks.
"""

import numpy as np

from ..golden.float import RNE, multiply
from ..golden.formats import float_format
from ..golden.mac import dot
from ..golden.mma import mma

from .float import special_values
from .vectors import from_bits, to_bits

__all__ = ["pack", "unpack", "diagonal_blocks", "diagonal_results", "draw_values", "FloatMMAModel",
           "IntMMAModel", "MODE_COUNT"]

MODE_COUNT = 5


def pack(matrices, width):
    """(count, R, C) element bit patterns -> packed port values, row-major."""
    matrices = np.asarray(matrices)
    count = matrices.shape[0]
    flat = matrices.reshape(count, -1).astype(object)
    packed = np.zeros(count, dtype=object)
    for index in range(flat.shape[1]):
        packed = packed | (flat[:, index] << (index * width))
    return packed.astype(np.uint64) if flat.shape[1] * width <= 64 else packed


def unpack(packed, rows, cols, width):
    """Inverse of :func:`pack`: (count, rows, cols) uint64 element bit patterns."""
    packed = np.asarray(packed, dtype=object)
    mask = (1 << width) - 1
    out = np.empty((len(packed), rows * cols), dtype=np.uint64)
    for index in range(rows * cols):
        out[:, index] = ((packed >> (index * width)) & mask).astype(np.uint64)
    return out.reshape(len(packed), rows, cols)


def diagonal_blocks(a, b, c, m):
    """Single dot products into m×K·K×m blocks, ``m`` per block: dot product t is
    row t%m of block t//m's A, column t%m of its B and C[t%m][t%m]; every other
    element is zero. ``a``, ``b``: (count, K) bit patterns; ``c``: (count,).
    Returns A, B, C element arrays; the last block is padded with zero rows."""
    a, b, c = (np.asarray(x, dtype=np.uint64) for x in (a, b, c))
    count, k = a.shape
    blocks = -(-count // m)
    slot = np.arange(count) % m
    block = np.arange(count) // m
    A = np.zeros((blocks, m, k), dtype=np.uint64)
    B = np.zeros((blocks, k, m), dtype=np.uint64)
    C = np.zeros((blocks, m, m), dtype=np.uint64)
    A[block, slot, :] = a
    B[block, :, slot] = b
    C[block, slot, slot] = c
    return A, B, C


def diagonal_results(d, count):
    """The ``count`` dot products placed by :func:`diagonal_blocks`, read back
    from D blocks ``(blocks, m, m)`` in their original order."""
    return np.diagonal(np.asarray(d), axis1=1, axis2=2).reshape(-1)[:count]


def _near_one(rng, shape, fmt):
    """Values of both signs in [2**-3, 2**3): many exponents alike, as in the GPU data."""
    fmt = float_format(fmt)
    exps = rng.integers(fmt.bias - 3, fmt.bias + 3, shape).astype(np.uint64)
    fracs = rng.integers(0, 1 << fmt.frac_bits, shape).astype(np.uint64)
    signs = rng.integers(0, 2, shape).astype(np.uint64)
    return (signs << np.uint64(fmt.width - 1)) | (exps << np.uint64(fmt.frac_bits)) | fracs


def _any_bits(rng, shape, fmt):
    return rng.integers(0, 1 << float_format(fmt).width, shape, dtype=np.uint64)


def _with_specials(rng, shape, fmt):
    values = _near_one(rng, shape, fmt)
    specials = np.array(special_values(float_format(fmt)), dtype=np.uint64)
    pick = rng.random(shape) < 0.15
    return np.where(pick, specials[rng.integers(0, len(specials), shape)], values)


def draw_values(rng, shape, fmt):
    """Random ``fmt`` bit patterns for GEMM operands: values near 1, one element
    in eight from the whole encoding space (specials included)."""
    wide = rng.random(shape) < 0.125
    return np.where(wide, _any_bits(rng, shape, fmt), _near_one(rng, shape, fmt))


class FloatMMAModel:
    #: Icarus seconds per product of an MMA (m·n·k of them), measured with
    #: ``nnarith sim PRESET --vectors 300``: fused 4x4x4 fp16; tensor-core blocks
    #: (V100 4x4x4, A100 TF32, Ada's chained FP8 blocks; H100's single block of 32
    #: runs at half this); the FP8 pair split (two fp16 blocks and an adder per 32).
    SECONDS_PER_PRODUCT = {"fused": 4.4e-4, "block": 1.2e-4, "pair_split": 1.6e-4}
    DEFAULT_SECONDS = 50

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.shape = (p["m"], p["n"], p["k"])
        self.in_fmt, self.acc_fmt = unit.in_fmt, unit.acc_fmt
        self.element_widths = {"a": unit.in_fmt.width, "b": unit.in_fmt.width,
                               "c": unit.acc_fmt.width}
        self.widths = {"a": p["m"] * p["k"] * unit.in_fmt.width,
                       "b": p["k"] * p["n"] * unit.in_fmt.width,
                       "c": p["m"] * p["n"] * unit.acc_fmt.width}
        if "rm" in unit.signature.members:
            self.widths["rm"] = 3

    @property
    def default_count(self):
        """Random blocks (per rounding mode where the unit takes one) for
        ``DEFAULT_SECONDS`` on Icarus."""
        path = "fused" if self.unit.core is None else self.unit.core.path
        m, n, k = self.shape
        mmas = int(self.DEFAULT_SECONDS / (self.SECONDS_PER_PRODUCT[path] * m * n * k))
        return mmas // (MODE_COUNT if "rm" in self.widths else 1)

    def blocks(self, rng, count):
        """``count`` random (A, B, C) element arrays, a third from each distribution."""
        m, n, k = self.shape
        parts = []
        for draw in (_near_one, _any_bits, _with_specials):
            size = max(1, count // 3)
            parts.append((draw(rng, (size, m, k), self.in_fmt), draw(rng, (size, k, n), self.in_fmt),
                          draw(rng, (size, m, n), self.acc_fmt)))
        a, b, c = (np.concatenate([part[i] for part in parts]) for i in range(3))
        # Every fifth block: C cancels the rounded first product, a deep cancellation.
        pick = np.arange(0, len(a), 5)
        first_a = np.broadcast_to(a[pick, :, :1], (len(pick), m, n)).reshape(-1)
        first_b = np.broadcast_to(b[pick, :1, :], (len(pick), m, n)).reshape(-1)
        product, _ = multiply(first_a, first_b, self.in_fmt, out_fmt=self.acc_fmt, rm=RNE)
        c[pick] = (product ^ np.uint64(1 << (self.acc_fmt.width - 1))).reshape(len(pick), m, n)
        return a, b, c

    def matrices(self, rng, rows, depth, cols):
        """Random GEMM operands A, B, C (element bit patterns, :func:`draw_values`)."""
        return (draw_values(rng, (rows, depth), self.in_fmt),
                draw_values(rng, (depth, cols), self.in_fmt),
                draw_values(rng, (rows, cols), self.acc_fmt))

    def inputs(self, a, b, c, rm=None):
        """Port values for element arrays (and per-MMA rounding modes)."""
        values = {"a": pack(a, self.in_fmt.width), "b": pack(b, self.in_fmt.width),
                  "c": pack(c, self.acc_fmt.width)}
        if "rm" in self.widths:
            values["rm"] = np.asarray(rm if rm is not None else np.zeros(len(a)), dtype=np.uint64)
        return values

    def stimulus(self, rng, count):
        a, b, c = self.blocks(rng, count)
        if "rm" in self.widths:
            a, b, c = (np.tile(x, (MODE_COUNT, 1, 1)) for x in (a, b, c))
            rm = np.repeat(np.arange(MODE_COUNT), len(a) // MODE_COUNT)
            return self.inputs(a, b, c, rm)
        return self.inputs(a, b, c)

    def expected(self, inputs):
        p = self.unit.params
        m, n, k = self.shape
        a = unpack(inputs["a"], m, k, self.in_fmt.width)
        b = unpack(inputs["b"], k, n, self.in_fmt.width)
        c = unpack(inputs["c"], m, n, self.acc_fmt.width)
        if p["mode"] == "tensorcore":
            d, _ = mma(a, b, c, self.in_fmt.name, self.acc_fmt.name, "tensorcore", gpu=p["gpu"],
                       instr=None if p["instr"] == "none" else p["instr"])
            return {"d": pack(d, self.acc_fmt.width)}
        rm = np.asarray(inputs["rm"], dtype=np.int64)
        d, flags = np.zeros(c.shape, dtype=np.uint64), np.zeros(c.shape, dtype=np.int64)
        for mode in np.unique(rm):
            pick = rm == mode
            d[pick], flags[pick] = mma(a[pick], b[pick], c[pick], self.in_fmt.name,
                                       self.acc_fmt.name, "fused", rm=int(mode))
        return {"d": pack(d, self.acc_fmt.width), "flags": pack(flags.astype(np.uint64), 5)}


class IntMMAModel:
    #: Random MMAs for ``nnarith sim`` without ``--vectors``: about 20 s on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.shape = (p["m"], p["n"], p["k"])
        self.widths = {"a": p["m"] * p["k"] * p["in_bits"], "b": p["k"] * p["n"] * p["in_bits"],
                       "c": p["m"] * p["n"] * p["acc_width"]}
        self.element_widths = {"a": p["in_bits"], "b": p["in_bits"], "c": p["acc_width"]}

    def inputs(self, a, b, c):
        """Port values for element bit-pattern arrays (count, rows, cols)."""
        return {name: pack(x, self.element_widths[name]) for name, x in zip("abc", (a, b, c))}

    def matrices(self, rng, rows, depth, cols):
        """Random GEMM operands A, B, C as element bit patterns."""
        w, wa = self.element_widths["a"], self.element_widths["c"]
        return (rng.integers(0, 1 << w, (rows, depth), dtype=np.uint64),
                rng.integers(0, 1 << w, (depth, cols), dtype=np.uint64),
                to_bits(rng.integers(-(1 << 20), 1 << 20, (rows, cols)), wa))

    def stimulus(self, rng, count):
        p = self.unit.params
        m, n, k = self.shape
        w, wa = p["in_bits"], p["acc_width"]

        def elements(shape, is_signed):
            lo = -(1 << (w - 1)) if is_signed else 0
            values = rng.integers(lo, lo + (1 << w), shape)
            edge = rng.random(shape) < 0.2
            return np.where(edge, np.where(rng.random(shape) < 0.5, lo, lo + (1 << w) - 1), values)
        a, b = elements((count, m, k), p["a_signed"]), elements((count, k, n), p["b_signed"])
        lo = -(1 << (wa - 1)) if self.unit.acc_signed else 0
        c = rng.integers(lo, lo + (1 << wa), (count, m, n), dtype=np.int64) if wa < 64 else \
            from_bits(rng.integers(0, 1 << 63, (count, m, n), dtype=np.uint64) * 2, 64, True)
        edge = rng.random(c.shape) < 0.3
        c = np.where(edge, np.where(rng.random(c.shape) < 0.5, lo, lo + (1 << wa) - 1), c)
        return {"a": pack(to_bits(a, w), w), "b": pack(to_bits(b, w), w),
                "c": pack(to_bits(c, wa), wa)}

    def expected(self, inputs):
        p = self.unit.params
        m, n, k = self.shape
        w, wa = p["in_bits"], p["acc_width"]
        a = from_bits(unpack(inputs["a"], m, k, w), w, p["a_signed"])
        b = from_bits(unpack(inputs["b"], k, n, w), w, p["b_signed"])
        c = from_bits(unpack(inputs["c"], m, n, wa), wa, self.unit.acc_signed)
        count = len(a)
        rows = a[:, :, None, :].repeat(n, axis=2).reshape(-1, k)           # (count*m*n, k)
        cols = b.transpose(0, 2, 1)[:, None, :, :].repeat(m, axis=1).reshape(-1, k)
        y, ovf = dot(rows, cols, c.reshape(-1), a_width=w, b_width=w, acc_width=wa,
                     acc_signed=self.unit.acc_signed, overflow=p["overflow"])
        return {"d": pack(to_bits(y, wa).reshape(count, m, n), wa),
                "ovf": pack(np.asarray(ovf, dtype=np.uint64).reshape(count, m, n), 1)}
