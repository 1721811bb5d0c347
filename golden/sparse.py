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
"""

from dataclasses import dataclass

import numpy as np

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
    x = np.asarray(x, dtype=np.int64).ravel()
    grid = np.zeros(-(-len(x) // chunk) * chunk, dtype=np.int64)
    grid[:len(x)] = x
    return grid.reshape(-1, chunk)


def bitmask_encode(x, chunk):
    """The SparseMap of integer vector ``x`` in chunks of ``chunk`` elements."""
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk: must be a positive integer, got {chunk!r}")
    grid = _chunk_grid(x, chunk)
    nonzero = grid != 0
    packed = np.packbits(nonzero, axis=1, bitorder="little")
    masks = [int.from_bytes(row.tobytes(), "little") for row in packed]
    values = [row[keep] for row, keep in zip(grid, nonzero)]
    return SparseMap(masks, values, int(np.asarray(x).size), chunk)


def bitmask_decode(smap):
    """The dense vector of a SparseMap; ``ValueError`` if a chunk's value
    count disagrees with its mask."""
    bits = _mask_bits(smap.masks, smap.chunk)
    for c, (row, values) in enumerate(zip(bits, smap.values)):
        if row.sum() != len(values):
            raise ValueError(f"chunk {c}: mask has {row.sum()} bits set but {len(values)} values")
    dense = np.zeros(bits.shape, dtype=np.int64)
    dense[bits] = np.concatenate([np.zeros(0, dtype=np.int64), *smap.values])
    return dense.ravel()[:smap.length]


def prefix_popcount(mask, position):
    """Set bits of ``mask`` below bit ``position``: the offset of element
    ``position`` in the chunk's packed values."""
    return (mask & ((1 << position) - 1)).bit_count()


def _check_pair(a, b):
    if a.chunk != b.chunk or a.length != b.length:
        raise ValueError(f"inner join needs equal shapes, got length {a.length} chunk {a.chunk} "
                         f"and length {b.length} chunk {b.chunk}")


def inner_join(a, b):
    """Dot product of two SparseMaps the SparTen way, as an exact Python int."""
    _check_pair(a, b)
    total = 0
    for mask_a, mask_b, values_a, values_b in zip(a.masks, b.masks, a.values, b.values):
        match = mask_a & mask_b
        while match:
            position = (match & -match).bit_length() - 1        # priority encoder
            total += (int(values_a[prefix_popcount(mask_a, position)])
                      * int(values_b[prefix_popcount(mask_b, position)]))
            match &= match - 1                                   # clear the found bit
    return total


def join_matches(a, b):
    """Matches per chunk: the popcount of the AND of the masks."""
    _check_pair(a, b)
    return np.array([(x & y).bit_count() for x, y in zip(a.masks, b.masks)], dtype=np.int64)


def join_cycles(a, b, matches_per_cycle):
    """Cycles the join unit spends on each chunk with ``matches_per_cycle``
    priority encoders: ``max(1, ceil(matches / P))``."""
    return np.maximum(1, -(-join_matches(a, b) // matches_per_cycle))


def to_transfers(smap):
    """A SparseMap in the unit's transfer form: ``(bits, slots, counts)``, one
    row per chunk: mask bits ``(chunks, chunk)`` bool, the packed values in
    ``chunk`` slots (unused slots 0) and the number of values."""
    bits = _mask_bits(smap.masks, smap.chunk)
    slots = np.zeros(bits.shape, dtype=np.int64)
    counts = np.array([len(v) for v in smap.values], dtype=np.int64)
    slots[np.arange(smap.chunk) < counts[:, None]] = np.concatenate(
        [np.zeros(0, dtype=np.int64), *smap.values])
    return bits, slots, counts


def chunk_dots(a_bits, a_slots, a_counts, b_bits, b_slots, b_counts):
    """The join of many chunks in transfer form at once: ``(dots, errors)``.

    ``dots[c]`` is the exact sum, over the matches of chunk ``c``, of the
    products of the values at each side's prefix popcount; a value at an
    offset not below that side's count (not sent) counts as 0. ``errors[c]``
    says a count disagrees with its mask's popcount (malformed input).
    """
    a_bits, b_bits = np.asarray(a_bits, dtype=bool), np.asarray(b_bits, dtype=bool)
    match = a_bits & b_bits

    def operand(bits, slots, counts):
        offsets = np.cumsum(bits, axis=1) - bits                  # prefix popcounts
        slots = np.asarray(slots, dtype=np.int64)
        value = np.take_along_axis(slots, np.minimum(offsets, slots.shape[1] - 1), axis=1)
        return np.where(offsets < np.asarray(counts)[:, None], value, 0)

    products = operand(a_bits, a_slots, a_counts) * operand(b_bits, b_slots, b_counts)
    dots = np.where(match, products, 0).sum(axis=1)
    errors = ((a_bits.sum(axis=1) != np.asarray(a_counts))
              | (b_bits.sum(axis=1) != np.asarray(b_counts)))
    return dots, errors
