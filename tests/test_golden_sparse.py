"""The SparTen bitmask golden against the lecture's example, hand-worked
masks and cycle counts, plain dense dot products and every mask pair of a
small chunk."""

import itertools

import numpy as np
import pytest

from nnarith.golden.sparse import (SparseMap, bitmask_decode, bitmask_encode, chunk_dots, fit_accumulator,
                           inner_join, join_cycles, join_matches, prefix_popcount, to_transfers)
from nnarith.sim.sparse import DENSITIES, SEED_EXAMPLE, random_vector

SEED_A, SEED_B = SEED_EXAMPLE


def test_seed_example():
    a, b = bitmask_encode(SEED_A, 4), bitmask_encode(SEED_B, 4)
    # Chunks of 4: A = [12 0 0 77 | 0 8 0 0 | 2], B = [3 22 6 0 | 0 2 0 9 | 0].
    assert a.masks == [0b1001, 0b0010, 0b1] and b.masks == [0b0111, 0b1010, 0b0]
    assert [v.tolist() for v in a.values] == [[12, 77], [8], [2]]
    assert [v.tolist() for v in b.values] == [[3, 22, 6], [2, 9], []]
    assert inner_join(a, b) == 12 * 3 + 8 * 2 == 52
    assert join_matches(a, b).tolist() == [1, 1, 0]
    one = bitmask_encode(SEED_A, 9), bitmask_encode(SEED_B, 9)
    assert one[0].masks == [0b100101001] and one[1].masks == [0b010100111]
    assert inner_join(*one) == 52


def test_prefix_popcount_by_hand():
    # Mask 0b1011_0110: the set bits 1, 2, 4, 5, 7 sit at offsets 0..4.
    mask = 0b10110110
    assert [prefix_popcount(mask, i) for i in (1, 2, 4, 5, 7)] == [0, 1, 2, 3, 4]
    assert prefix_popcount(mask, 0) == 0 and prefix_popcount(mask, 8) == 5


def test_cycles_by_hand():
    # Matches per chunk of 8: 0, 1, 3, 8 and a partial last chunk with 2.
    a = SparseMap([0b1111_0000, 0b0000_0001, 0b0111_0111, 0xFF, 0b11], [], 34, 8)
    b = SparseMap([0b0000_1111, 0b1000_0001, 0b1110_0001, 0xFF, 0b11], [], 34, 8)
    assert join_matches(a, b).tolist() == [0, 1, 3, 8, 2]
    assert join_cycles(a, b, 1).tolist() == [1, 1, 3, 8, 2]
    assert join_cycles(a, b, 2).tolist() == [1, 1, 2, 4, 1]
    assert join_cycles(a, b, 4).tolist() == [1, 1, 1, 2, 1]
    assert join_cycles(a, b, 8).tolist() == [1, 1, 1, 1, 1]


@pytest.mark.parametrize("length", [0, 1, 7, 16, 31, 32, 100, 128, 129, 300])
@pytest.mark.parametrize("chunk", [8, 13, 32, 128])
def test_round_trip(length, chunk):
    rng = np.random.default_rng(length * 1000 + chunk)
    for density in DENSITIES:
        x = random_vector(rng, length, density)
        smap = bitmask_encode(x, chunk)
        assert smap.chunks == -(-length // chunk)
        assert all(m < 1 << chunk for m in smap.masks)
        assert smap.length == length and np.array_equal(bitmask_decode(smap), x)
        if length % chunk:              # mask bits beyond the vector are clear
            assert smap.masks[-1] < 1 << (length % chunk)


def test_decode_refuses_a_wrong_count():
    smap = bitmask_encode([1, 0, 3, 0], 4)
    smap.values[0] = np.array([1])
    with pytest.raises(ValueError, match="chunk 0: mask has 2 bits set but 1 values"):
        bitmask_decode(smap)


def test_join_equals_dense_dot():
    rng = np.random.default_rng(7)
    for length in (1, 5, 31, 32, 33, 64, 100, 257):
        for chunk in (8, 16, 32, 128):
            for da, db in itertools.product(DENSITIES, repeat=2):
                x, y = random_vector(rng, length, da), random_vector(rng, length, db)
                a, b = bitmask_encode(x, chunk), bitmask_encode(y, chunk)
                exact = int(np.dot(x, y))
                assert inner_join(a, b) == exact
                dots, errors = chunk_dots(*to_transfers(a), *to_transfers(b))
                assert int(dots.sum()) == exact and not errors.any()
                assert join_matches(a, b).sum() == np.count_nonzero((x != 0) & (y != 0))


def test_unequal_shapes_refused():
    with pytest.raises(ValueError, match="equal shapes"):
        inner_join(bitmask_encode([1, 2], 8), bitmask_encode([1, 2, 3], 8))


def _reference_chunk(mask_a, mask_b, chunk):
    """Plain loop over positions: the dot of two chunks whose element i is
    i + 1 on side a and 2*i - 5 on side b wherever its mask bit is set."""
    return sum((i + 1) * (2 * i - 5) for i in range(chunk) if mask_a >> i & 1 and mask_b >> i & 1)


def test_every_mask_pair_of_a_small_chunk():
    chunk = 6
    masks = range(1 << chunk)

    def smap(mask, value):
        return SparseMap([mask], [np.array([value(i) for i in range(chunk) if mask >> i & 1],
                                           dtype=np.int64)], chunk, chunk)
    maps_a = [smap(m, lambda i: i + 1) for m in masks]
    maps_b = [smap(m, lambda i: 2 * i - 5) for m in masks]
    pairs = list(itertools.product(range(1 << chunk), repeat=2))
    for ma, mb in pairs:
        assert inner_join(maps_a[ma], maps_b[mb]) == _reference_chunk(ma, mb, chunk)
    # The same in one vectorized call over all 4096 pairs.
    ta = [to_transfers(maps_a[ma]) for ma, _ in pairs]
    tb = [to_transfers(maps_b[mb]) for _, mb in pairs]
    stacked = [np.concatenate([t[k] for t in side]) for side in (ta, tb) for k in range(3)]
    dots, errors = chunk_dots(*stacked)
    assert dots.tolist() == [_reference_chunk(ma, mb, chunk) for ma, mb in pairs]
    assert not errors.any()


def test_malformed_counts():
    """A count below the popcount drops the values not sent; any mismatch is an error."""
    bits = np.array([[1, 1, 1, 0]], dtype=bool)
    slots = np.array([[5, 6, 7, 9]])
    ones = np.ones((1, 4), dtype=np.int64)
    for count, dot in ((3, 18), (2, 11), (0, 0), (4, 18)):
        dots, errors = chunk_dots(bits, slots, [count], bits, ones, [3])
        assert dots.tolist() == [dot] and errors.tolist() == [count != 3]
    # Slots beyond the count never matter, whatever they hold.
    dots, errors = chunk_dots(bits, [[5, 6, 7, 1000]], [3], bits, ones * 2, [3])
    assert dots.tolist() == [36] and not errors.any()


def test_fit_accumulator():
    assert fit_accumulator(52, 8) == 52
    assert fit_accumulator(128, 8) == -128 and fit_accumulator(-129, 8) == 127
    assert fit_accumulator(256 + 3, 8, acc_signed=False) == 3
    assert fit_accumulator(1 << 70, 64) == 0
    assert fit_accumulator([200, -200], 8, overflow="saturate").tolist() == [127, -128]
    # Wrapping after every product is wrapping the exact sum once.
    products = np.random.default_rng(3).integers(-(1 << 14), 1 << 14, 1000)
    step = 0
    for p in products:
        step = fit_accumulator(step + int(p), 17)
    assert step == fit_accumulator(int(products.sum()), 17)
    with pytest.raises(ValueError, match="^overflow:"):
        fit_accumulator(1, 8, overflow="clamp")
