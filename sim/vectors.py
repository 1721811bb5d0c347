"""Test vectors as port bit patterns, and the stimulus shapes every bench uses.

A vector set maps port names to arrays of raw bit patterns (what goes on the
wires): uint64 arrays for ports up to 64 bits, object arrays of Python ints
beyond. Models convert to and from numbers with :func:`to_bits` and
:func:`from_bits`.
"""

import itertools

import numpy as np

__all__ = ["to_bits", "from_bits", "random_bits", "exhaustive", "cross", "corner_values",
           "concat", "save", "load"]


def _objects(values):
    arr = np.asarray(values)
    if arr.dtype == object:
        return arr
    return np.array([int(v) for v in arr.ravel()], dtype=object).reshape(arr.shape)


def to_bits(values, width):
    """Two's-complement bit patterns of integers (any sign) on a ``width``-bit port."""
    arr = np.asarray(values)
    if width <= 63 and arr.dtype != object:
        return (arr.astype(np.int64) & ((1 << width) - 1)).astype(np.uint64)
    mask = (1 << width) - 1
    bits = _objects(arr) & mask
    return bits.astype(np.uint64) if width <= 64 else bits


def from_bits(bits, width, signed):
    """Integers that the bit patterns of a ``width``-bit port stand for."""
    arr = np.asarray(bits)
    if width <= 62 and arr.dtype != object:
        values = arr.astype(np.int64)
        if signed:
            values = values - ((values >> (width - 1)) & 1) * (1 << width)
        return values
    values = _objects(arr)
    if signed:
        values = values - ((values >> (width - 1)) & 1) * (1 << width)
    return values


def random_bits(rng, width, count):
    """``count`` uniformly random ``width``-bit patterns."""
    if width <= 64:
        return rng.integers(0, (1 << width) - 1, size=count, dtype=np.uint64, endpoint=True)
    words = [rng.integers(0, 2**64 - 1, size=count, dtype=np.uint64, endpoint=True)
             for _ in range((width + 63) // 64)]
    total = np.zeros(count, dtype=object)
    for i, word in enumerate(words):
        total = total + (_objects(word) << (64 * i))
    return total & ((1 << width) - 1)


def exhaustive(widths):
    """Every combination of bit patterns of the given ports, as a vector set."""
    names = list(widths)
    grids = np.meshgrid(*(np.arange(1 << widths[n], dtype=np.uint64) for n in names),
                        indexing="ij")
    return {n: g.ravel() for n, g in zip(names, grids)}


def cross(**lists):
    """The cross product of per-port value lists (bit patterns), as a vector set."""
    names = list(lists)
    rows = list(itertools.product(*(lists[n] for n in names)))
    return {n: np.array([row[i] for row in rows], dtype=object) for i, n in enumerate(names)}


def corner_values(width, signed):
    """Bit patterns of the values where arithmetic tends to break: 0, ±1, the
    extremes and their neighbours, powers of two and their neighbours."""
    lo = -(1 << (width - 1)) if signed else 0
    hi = (1 << (width - 1)) - 1 if signed else (1 << width) - 1
    values = {0, 1, hi, hi - 1, lo, lo + 1, hi // 2, hi // 2 + 1}
    if signed:
        values |= {-1, lo // 2}
    for k in range(width):
        for v in (1 << k, (1 << k) - 1, (1 << k) + 1):
            values |= {v, -v} if signed else {v}
    values = sorted(v for v in values if lo <= v <= hi)
    return [v & ((1 << width) - 1) for v in values]


def concat(widths, *sets):
    """Join vector sets over the same ports into one, in order."""
    out = {}
    for name, width in widths.items():
        parts = [np.asarray(s[name], dtype=object) for s in sets]
        joined = np.concatenate(parts) if parts else np.array([], dtype=object)
        out[name] = joined.astype(np.uint64) if width <= 64 else joined
    return out


def save(path, inputs, expected):
    """Write inputs and expected outputs for the cocotb driver."""
    arrays = {f"in_{n}": np.asarray(v) for n, v in inputs.items()}
    arrays |= {f"exp_{n}": np.asarray(v) for n, v in expected.items()}
    np.savez(path, **arrays)


def load(path):
    """Inverse of :func:`save`: ``(inputs, expected)``, as lists of Python ints."""
    data = np.load(path, allow_pickle=True)
    inputs, expected = {}, {}
    for key in data.files:
        kind, name = key.split("_", 1)
        (inputs if kind == "in" else expected)[name] = [int(v) for v in data[key].tolist()]
    return inputs, expected
