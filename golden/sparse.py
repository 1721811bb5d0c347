"""SparTen bitmask sparsity golden (Gondimalla et al., MICRO 2019): the
SparseMap format and the inner join of two SparseMaps.

A vector of ``length`` elements is cut into chunks of ``chunk`` elements
(the last one may be partial). Chunk ``c`` is kept as a mask, bit ``i`` set
iff element ``c*chunk + i`` is nonzero, and the chunk's nonzeros packed in
ascending position. The inner join of two such vectors ANDs their masks;
each set bit of the AND is a match, found one after the other by a priority
encoder, and the popcount of each mask below the match (its *prefix
popcount*) is the match's offset into that side's packed values.

:func:`inner_join` does exactly that, match by match, on Python ints;
:func:`chunk_dots` does the same for many chunks at once on NumPy arrays, on
the form the hardware receives (:func:`to_transfers`: mask bits, ``chunk``
packed value slots and a count per chunk), where a count that disagrees
with the mask's popcount is an error.

Arguments are checked: vectors and values are integers (int64; never floats
or bools), masks and positions integers >= 0, chunk sizes positive; a
ValueError names the argument.
"""

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .checks import booleans, count, describe, integers
from .mac import fit_accumulator

__all__ = ["SparseMap", "bitmask_encode", "bitmask_decode", "prefix_popcount", "inner_join",
           "join_matches", "join_cycles", "to_transfers", "chunk_dots", "fit_accumulator"]


@dataclass(eq=False)
class SparseMap:
    """A vector in SparTen's bitmask format: per chunk a mask (Python int)
    and the packed nonzeros (1-D int64 array, ascending position)."""

    masks: list
    values: list
    length: int
    chunk: int

    @property
    def chunks(self):
        return len(self.masks)


def _mask_bits(masks, chunk):
    """Masks (Python ints) as a ``(len(masks), chunk)`` bool array, bit i in column i."""
    size = (chunk + 7) // 8
    raw = np.frombuffer(b"".join(int(m).to_bytes(size, "little") for m in masks), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(masks), size), axis=1, bitorder="little")
    return bits[:, :chunk].astype(bool)


def _chunk_grid(x, chunk):
    """``x`` zero-padded to whole chunks, one chunk per row."""
    x = x.ravel()
    grid = np.zeros(-(-len(x) // chunk) * chunk, dtype=np.int64)
    grid[:len(x)] = x
    return grid.reshape(-1, chunk)


def bitmask_encode(x: ArrayLike, chunk: int) -> SparseMap:
    """The SparseMap of integer vector ``x`` (int64 values) in chunks of ``chunk`` elements."""
    chunk = count(chunk, "chunk", 1)
    x = integers(x, "x", -(1 << 63), (1 << 63) - 1, kind="values")
    grid = _chunk_grid(x, chunk)
    nonzero = grid != 0
    packed = np.packbits(nonzero, axis=1, bitorder="little")
    masks = [int.from_bytes(row.tobytes(), "little") for row in packed]
    values = [row[keep] for row, keep in zip(grid, nonzero)]
    return SparseMap(masks, values, int(x.size), chunk)


def _sparse_map(smap, name):
    if not isinstance(smap, SparseMap):
        raise ValueError(f"{name}: must be a SparseMap (see bitmask_encode), got {describe(smap)}")
    return smap


def bitmask_decode(smap: SparseMap) -> np.ndarray:
    """The dense vector of a SparseMap; ``ValueError`` if a chunk's value
    count disagrees with its mask."""
    _sparse_map(smap, "smap")
    bits = _mask_bits(smap.masks, smap.chunk)
    for c, (row, values) in enumerate(zip(bits, smap.values)):
        if row.sum() != len(values):
            raise ValueError(f"chunk {c}: mask has {row.sum()} bits set but {len(values)} values")
    dense = np.zeros(bits.shape, dtype=np.int64)
    dense[bits] = np.concatenate([np.zeros(0, dtype=np.int64), *smap.values])
    return dense.ravel()[:smap.length]


def prefix_popcount(mask: int, position: int) -> int:
    """Set bits of ``mask`` (an integer >= 0) below bit ``position``: the offset
    of element ``position`` in the chunk's packed values."""
    mask, position = count(mask, "mask", 0), count(position, "position", 0)
    return _prefix_popcount(mask, position)


def _prefix_popcount(mask, position):
    return (mask & ((1 << position) - 1)).bit_count()


def _check_pair(a, b):
    _sparse_map(a, "a")
    _sparse_map(b, "b")
    if a.chunk != b.chunk or a.length != b.length:
        raise ValueError(f"inner join needs equal shapes, got length {a.length} chunk {a.chunk} "
                         f"and length {b.length} chunk {b.chunk}")


def inner_join(a: SparseMap, b: SparseMap) -> int:
    """Dot product of two SparseMaps the SparTen way, as an exact Python int."""
    _check_pair(a, b)
    total = 0
    for mask_a, mask_b, values_a, values_b in zip(a.masks, b.masks, a.values, b.values):
        match = mask_a & mask_b
        while match:
            position = (match & -match).bit_length() - 1        # priority encoder
            total += (int(values_a[_prefix_popcount(mask_a, position)])
                      * int(values_b[_prefix_popcount(mask_b, position)]))
            match &= match - 1                                   # clear the found bit
    return total


def join_matches(a: SparseMap, b: SparseMap) -> np.ndarray:
    """Matches per chunk: the popcount of the AND of the masks."""
    _check_pair(a, b)
    return np.array([(x & y).bit_count() for x, y in zip(a.masks, b.masks)], dtype=np.int64)


def join_cycles(a: SparseMap, b: SparseMap, matches_per_cycle: int) -> np.ndarray:
    """Cycles the join unit spends on each chunk with ``matches_per_cycle``
    priority encoders: ``max(1, ceil(matches / P))``."""
    count(matches_per_cycle, "matches_per_cycle", 1)
    return np.maximum(1, -(-join_matches(a, b) // matches_per_cycle))


def to_transfers(smap: SparseMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A SparseMap in the unit's transfer form: ``(bits, slots, counts)``, one
    row per chunk: mask bits ``(chunks, chunk)`` bool, the packed values in
    ``chunk`` slots (unused slots 0) and the number of values."""
    _sparse_map(smap, "smap")
    bits = _mask_bits(smap.masks, smap.chunk)
    slots = np.zeros(bits.shape, dtype=np.int64)
    counts = np.array([len(v) for v in smap.values], dtype=np.int64)
    slots[np.arange(smap.chunk) < counts[:, None]] = np.concatenate(
        [np.zeros(0, dtype=np.int64), *smap.values])
    return bits, slots, counts


def chunk_dots(a_bits: ArrayLike, a_slots: ArrayLike, a_counts: ArrayLike, b_bits: ArrayLike,
               b_slots: ArrayLike, b_counts: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """The join of many chunks in transfer form at once: ``(dots, errors)``.

    Per side: mask bits ``(chunks, chunk)`` (bools or 0/1), value slots
    ``(chunks, chunk)`` (int64 values) and counts ``(chunks,)`` (integers
    >= 0). ``dots[c]`` is the exact sum, over the matches of chunk ``c``, of
    the products of the values at each side's prefix popcount; a value at an
    offset not below that side's count (not sent) counts as 0. ``errors[c]``
    says a count disagrees with its mask's popcount (malformed input, which
    the unit survives).
    """
    sides = []
    for side, bits, slots, counts in (("a", a_bits, a_slots, a_counts),
                                      ("b", b_bits, b_slots, b_counts)):
        bits = booleans(bits, f"{side}_bits")
        if bits.ndim != 2:
            raise ValueError(f"{side}_bits: must be (chunks, chunk), got shape {bits.shape}")
        slots = integers(slots, f"{side}_slots", -(1 << 63), (1 << 63) - 1, kind="values")
        counts = integers(counts, f"{side}_counts", 0, (1 << 63) - 1, kind="value counts")
        if slots.shape != bits.shape or counts.shape != bits.shape[:1]:
            raise ValueError(f"{side}_slots, {side}_counts: must be {bits.shape} and "
                             f"{bits.shape[:1]} like {side}_bits, got {slots.shape} and "
                             f"{counts.shape}")
        sides.append((bits, slots, counts))
    (a_bits, a_slots, a_counts), (b_bits, b_slots, b_counts) = sides
    if a_bits.shape != b_bits.shape:
        raise ValueError(f"a_bits, b_bits: must have one shape, got {a_bits.shape} and "
                         f"{b_bits.shape}")
    match = a_bits & b_bits

    def operand(bits, slots, counts):
        offsets = np.cumsum(bits, axis=1) - bits                  # prefix popcounts
        value = np.take_along_axis(slots, np.minimum(offsets, slots.shape[1] - 1), axis=1)
        return np.where(offsets < counts[:, None], value, 0)

    products = operand(a_bits, a_slots, a_counts) * operand(b_bits, b_slots, b_counts)
    dots = np.where(match, products, 0).sum(axis=1)
    errors = (a_bits.sum(axis=1) != a_counts) | (b_bits.sum(axis=1) != b_counts)
    return dots, errors
