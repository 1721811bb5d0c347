"""The CSR merge-join golden against hand calculations, dense NumPy dot
products, a plain two-pointer merge and an exhaustive enumeration of every
pair of index sets of a short vector."""

import itertools

import numpy as np
import pytest

from nnarith.golden.csr import (csr_decode, csr_dot, csr_encode, csr_join, csr_sorted, merge_cycles,
                        merge_join, merge_steps)
from nnarith.golden.mac import fit_accumulator

#: The lecture notes' example (seed 003): A^T x B = 12 x 3 + 8 x 2 = 52.
SEED_A = [12, 0, 0, 77, 0, 8, 0, 0, 2]
SEED_B = [3, 22, 6, 0, 0, 2, 0, 9, 0]
DENSITIES = (0.0, 0.01, 0.1, 0.5, 0.9, 1.0)


def classic_merge(ai, av, bi, bv):
    """Textbook two-pointer merge: advance the smaller head, both on a match,
    then drain the longer side; ``(total, cycles)``."""
    i = j = total = cycles = 0
    while i < len(ai) or j < len(bi):
        cycles += 1
        if j == len(bi) or (i < len(ai) and ai[i] < bi[j]):
            i += 1
        elif i == len(ai) or bi[j] < ai[i]:
            j += 1
        else:
            total += int(av[i]) * int(bv[j])
            i, j = i + 1, j + 1
    return total, cycles


def test_seed_example_encodes_as_in_the_notes():
    ai, av = csr_encode(SEED_A)
    bi, bv = csr_encode(SEED_B)
    assert ai.tolist() == [0, 3, 5, 8] and av.tolist() == [12, 77, 8, 2]
    assert bi.tolist() == [0, 1, 2, 5, 7] and bv.tolist() == [3, 22, 6, 2, 9]
    assert csr_dot(ai, av, bi, bv) == 12 * 3 + 8 * 2 == 52


def test_seed_example_cycles_by_hand():
    ai, av = csr_encode(SEED_A)
    bi, bv = csr_encode(SEED_B)
    # Width 1: one cycle per index of the union {0, 1, 2, 3, 5, 7, 8}.
    assert merge_join(ai, av, bi, bv, 1) == (52, 7)
    # Width 2, windows (A | B) and t = min of the second entries:
    #   0 3 | 0 1  t=1: A takes 0, B takes 0 1 (match 0)
    #   3 5 | 2 5  t=5: A takes 3 5, B takes 2 5 (match 5)
    #   8   | 7    t=inf: A takes 8, B takes 7
    assert merge_steps(ai, bi, 2) == [(range(0, 1), range(0, 2)), (range(1, 3), range(2, 4)),
                                      (range(3, 4), range(4, 5))]
    assert merge_join(ai, av, bi, bv, 2) == (52, 3)
    assert csr_join(ai, av, bi, bv) == (52, False)


def test_encode_all_zero_and_decode():
    indices, values = csr_encode(np.zeros(7, dtype=np.int64))
    assert indices.tolist() == [0] and values.tolist() == [0]
    assert csr_decode(indices, values, 7).tolist() == [0] * 7
    assert csr_decode([1, 4], [5, -2], 6).tolist() == [0, 5, 0, 0, -2, 0]


def test_hand_cases():
    # Identical index sets: every entry matches, one cycle per entry (two at width 2).
    assert merge_join([1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 1, 1, -1], 1) == (2, 4)
    assert merge_join([1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 3, 4], [1, 1, 1, -1], 2) == (2, 2)
    # Disjoint, interleaved: nothing matches, the union is walked.
    assert merge_join([0, 2, 4], [9, 9, 9], [1, 3, 5], [9, 9, 9], 1) == (0, 6)
    # Width 2: 0 2 | 1 3 (t=2) takes 0 2 | 1, then 4 | 3 5 (t=5) takes the rest.
    assert merge_join([0, 2, 4], [9, 9, 9], [1, 3, 5], [9, 9, 9], 2) == (0, 2)
    # Disjoint, all of A first: width 2 drains B two per cycle once A is done.
    assert merge_join([0, 1], [1, 1], [5, 6, 7, 8, 9], [1] * 5, 2) == (0, 4)
    # One match on the second entry of one side against the first of the other.
    assert merge_join([3, 7], [5, 6], [7, 9], [-2, 4], 2) == (-12, 2)


def test_wrap_and_error():
    assert fit_accumulator(1 << 31, 32) == -(1 << 31)
    assert fit_accumulator(-1, 32, False) == (1 << 32) - 1
    assert fit_accumulator(2 * 128 * 128, 16) == -(1 << 15)
    assert csr_join([0, 1], [-128, -128], [0, 1], [-128, -128], acc_width=16) == (-(1 << 15), False)
    assert csr_join([0, 1], [-128, -128], [0, 1], [-128, -128], acc_width=17) == (1 << 15, False)
    assert csr_sorted([0]) and csr_sorted([1, 5, 9]) and not csr_sorted([1, 1]) \
        and not csr_sorted([3, 2])
    # A malformed vector on either side: flagged, dot 0.
    assert csr_join([2, 2], [1, 1], [2], [1]) == (0, True)
    assert csr_join([2], [1], [5, 4], [1, 1]) == (0, True)


@pytest.mark.parametrize("width", [1, 2])
def test_malformed_walk_ends(width):
    """Unsorted lists still consume every entry once, in order, at least one per cycle."""
    rng = np.random.default_rng(width)
    for _ in range(500):
        ai = rng.integers(0, 6, rng.integers(1, 8))
        bi = rng.integers(0, 6, rng.integers(1, 8))
        steps = merge_steps(ai, bi, width)
        for side, size in ((0, len(ai)), (1, len(bi))):
            assert [p for step in steps for p in step[side]] == list(range(size))
        assert all(1 <= len(a) + len(b) and len(a) <= width and len(b) <= width
                   for a, b in steps)


def _random_vector(rng, length, density, lo=-128, hi=127):
    dense = np.where(rng.random(length) < density, rng.integers(lo, hi, length, endpoint=True), 0)
    return dense


@pytest.mark.parametrize("da", DENSITIES)
@pytest.mark.parametrize("db", DENSITIES)
def test_dot_equals_dense_dot(da, db):
    rng = np.random.default_rng(int(100 * da) * 1000 + int(100 * db))
    for _ in range(40):
        length = int(rng.integers(1, 300))
        x, y = _random_vector(rng, length, da), _random_vector(rng, length, db)
        ai, av = csr_encode(x)
        bi, bv = csr_encode(y)
        assert np.array_equal(csr_decode(ai, av, length), x)
        exact = int(np.dot(x, y))
        assert csr_dot(ai, av, bi, bv) == exact
        union = len(np.union1d(ai, bi))
        assert merge_join(ai, av, bi, bv, 1) == (exact, union)
        total, cycles = merge_join(ai, av, bi, bv, 2)
        assert total == exact and -(-max(len(ai), len(bi)) // 2) <= cycles <= union
        assert csr_join(ai, av, bi, bv) == (fit_accumulator(exact, 32), False)


def _index_sets(length):
    """Every nonempty subset of range(length), as sorted lists."""
    return [list(s) for r in range(1, length + 1) for s in itertools.combinations(range(length), r)]


def _reference_window_cycles(ai, bi, width):
    """The policy written out once more as a plain loop over positions."""
    i = j = cycles = 0
    inf = float("inf")
    while i < len(ai) or j < len(bi):
        ta = ai[i + width - 1] if i + width <= len(ai) else inf
        tb = bi[j + width - 1] if j + width <= len(bi) else inf
        t = min(ta, tb)
        i += sum(1 for x in ai[i:i + width] if x <= t)
        j += sum(1 for x in bi[j:j + width] if x <= t)
        cycles += 1
    return cycles


@pytest.mark.parametrize("width", [1, 2])
def test_exhaustive_index_set_pairs(width):
    """Every pair of nonempty index sets of an 8-element vector, with values
    that make each match's product distinct: the merge finds every match and
    takes the documented cycles."""
    sets = _index_sets(8)
    weights = [1 << (2 * k) for k in range(8)]
    for ai in sets:
        av = [weights[k] for k in ai]
        for bi in sets:
            bv = [1] * len(bi)
            total, cycles = merge_join(ai, av, bi, bv, width)
            assert total == sum(weights[k] for k in set(ai) & set(bi))
            assert cycles == _reference_window_cycles(ai, bi, width)
            if width == 1:
                assert (total, cycles) == classic_merge(ai, av, bi, bv)
                assert cycles == len(set(ai) | set(bi))


def test_width_two_never_slower():
    """At most as many cycles as width 1, at least half the longer side."""
    sets = _index_sets(7)
    for ai in sets[::3]:
        for bi in sets:
            two = merge_cycles(ai, bi, 2)
            assert -(-max(len(ai), len(bi)) // 2) <= two <= merge_cycles(ai, bi, 1)


def test_round_trip_keeps_extremes():
    rng = np.random.default_rng(7)
    x = np.zeros(1 << 16, dtype=np.int64)
    x[[0, 1, (1 << 16) - 1]] = [-32768, 32767, -1]
    x[rng.integers(0, 1 << 16, 50)] = 5
    ai, av = csr_encode(x)
    assert csr_sorted(ai) and ai[-1] == (1 << 16) - 1 and av[0] == -32768
    assert np.array_equal(csr_decode(ai, av, len(x)), x)
