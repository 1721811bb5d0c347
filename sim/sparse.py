"""Bench model of the bitmask inner join: vector pairs as chunk transfers.

Stimulus: the seeds' example (12*3 + 8*2 = 52), all-zero vectors and
all-zero chunks inside nonzero vectors, runs of the extreme products (which
wrap a narrow accumulator), every pair of the densities 0, 1, 10, 50, 90 and
100 % (each side drawn independently) at lengths that are and are not
multiples of N, then random pairs; random bits fill the value slots that
are not sent; some chunks of some vectors get a wrong count. The golden is
:func:`golden.sparse.chunk_dots` on the decoded transfers, summed per
vector pair and wrapped (:func:`golden.sparse.fit_accumulator`): one
expected row per vector pair, i.e. per transfer with ``last`` set.
"""

import numpy as np

from ..golden.sparse import bitmask_encode, chunk_dots, fit_accumulator, to_transfers

from .vectors import concat, random_bits, to_bits

__all__ = ["SparseJoinModel", "DENSITIES", "SEED_EXAMPLE", "random_vector", "transfer_cycles"]

DENSITIES = (0.0, 0.01, 0.1, 0.5, 0.9, 1.0)

#: The seeds' inner-product example: a . b = 12*3 + 8*2 = 52.
SEED_EXAMPLE = ([12, 0, 0, 77, 0, 8, 0, 0, 2], [3, 22, 6, 0, 0, 2, 0, 9, 0])

#: Fraction of random vector pairs with one malformed chunk.
MALFORMED_RATE = 1 / 8


def random_vector(rng, length, density, width=8, is_signed=True):
    """A ``length``-element vector with nonzero ``width``-bit values at a
    ``density`` fraction of random positions."""
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if is_signed else (1, (1 << width) - 1)
    values = rng.integers(lo, hi, size=length, endpoint=True)
    values[values == 0] = hi
    return np.where(rng.random(length) < density, values, 0)


def _bits_of(words, width):
    """Integers (bit patterns) as a ``(len(words), width)`` bit array, bit i in column i."""
    size = (width + 7) // 8
    raw = b"".join(int(word).to_bytes(size, "little") for word in words)
    bits = np.unpackbits(np.frombuffer(raw, dtype=np.uint8).reshape(len(words), size), axis=1,
                         bitorder="little")
    return bits[:, :width]


def _words_of(bits):
    """Inverse of :func:`_bits_of`: one Python int per row."""
    packed = np.packbits(np.asarray(bits, dtype=np.uint8), axis=1, bitorder="little")
    return np.array([int.from_bytes(row.tobytes(), "little") for row in packed], dtype=object)


def transfer_cycles(inputs, matches_per_cycle):
    """Cycles the unit spends on each transfer: ``max(1, ceil(k/P))`` for
    ``k`` set bits in the AND of the masks."""
    both = [int(a) & int(b) for a, b in zip(inputs["a_mask"], inputs["b_mask"])]
    return np.array([max(1, -(-x.bit_count() // matches_per_cycle)) for x in both], dtype=np.int64)


class SparseJoinModel:
    #: Random vector pairs for ``nnarith sim`` without ``--vectors``: under a
    #: minute on Icarus.
    default_count = 15_000

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.chunk, self.width, self.signed = p["chunk"], p["value_width"], p["value_signed"]
        self.acc_width = p["acc_width"]
        count_width = len(unit.a_count)
        self.widths = {}
        for side in ("a", "b"):
            self.widths |= {f"{side}_mask": self.chunk, f"{side}_values": self.chunk * self.width,
                            f"{side}_count": count_width}
        self.widths["last"] = 1

    def _side(self, rng, x):
        """Mask, value and count words of vector ``x``; slots not sent hold random bits."""
        bits, slots, counts = to_transfers(bitmask_encode(x, self.chunk))
        n, w = self.chunk, self.width
        slot_bits = (slots[:, :, None] >> np.arange(w)) & 1
        values = _words_of(slot_bits.reshape(len(slots), n * w))
        unsent = np.array([((1 << (n * w)) - 1) >> (int(c) * w) << (int(c) * w) for c in counts],
                          dtype=object)
        values = values | (random_bits(rng, n * w, len(slots)) & unsent)
        return _words_of(bits), values, counts.astype(object)

    def transfers(self, rng, pairs, malformed=()):
        """Input transfers for vector pairs ``(x, y)`` (dense integer vectors of
        one length each, at least one element); pair ``i`` in ``malformed`` has
        a wrong count in one random chunk on one random side."""
        words = {name: [] for name in self.widths}
        for i, (x, y) in enumerate(pairs):
            chunks = {}
            for side, vector in (("a", x), ("b", y)):
                chunks[f"{side}_mask"], chunks[f"{side}_values"], chunks[f"{side}_count"] = \
                    self._side(rng, vector)
            if i in malformed:
                name = f"{rng.choice(['a', 'b'])}_count"
                c = rng.integers(len(chunks[name]))
                wrong = rng.integers(0, (1 << self.widths[name]) - 1)
                chunks[name][c] = wrong + (wrong >= chunks[name][c])
            last = np.zeros(len(chunks["a_mask"]), dtype=object)
            last[-1] = 1
            chunks["last"] = last
            for name in words:
                words[name].append(chunks[name])
        return concat(self.widths, {n: np.concatenate(words[n]) for n in words})

    def _extreme(self):
        """The most negative and the largest value (both the largest if unsigned):
        their products are the extremes."""
        if self.signed:
            return -(1 << (self.width - 1)), (1 << (self.width - 1)) - 1
        return (1 << self.width) - 1, (1 << self.width) - 1

    def directed(self):
        """Vector pairs: the seed example, all zero, one side zero, zero chunks
        between full ones, runs of the extreme products."""
        n = self.chunk
        lo, hi = self._extreme()
        full = lambda value, length: np.full(length, value, dtype=np.int64)      # noqa: E731
        holes = np.concatenate([full(hi, n), full(0, 2 * n), full(lo, n - 3)])
        return [tuple(np.array(v) for v in SEED_EXAMPLE),
                (full(0, n), full(0, n)), (full(0, 3 * n + 1), full(lo, 3 * n + 1)),
                (full(hi, 1), full(hi, 1)), (holes, holes[::-1].copy()),
                (full(lo, 4 * n), full(lo, 4 * n)), (full(lo, 4 * n), full(hi, 4 * n)),
                (full(hi, 2 * n + 5), full(hi, 2 * n + 5))]

    def random_pairs(self, rng, count):
        """``count`` pairs: first every pair of densities, then random ones;
        lengths 1..4N, whole chunks for half of them."""
        n = self.chunk
        grid = [(da, db) for da in DENSITIES for db in DENSITIES]
        pairs = []
        for i in range(count):
            da, db = grid[i] if i < len(grid) else tuple(rng.choice(DENSITIES, 2))
            length = int(rng.integers(1, 5)) * n if rng.random() < 0.5 else int(
                rng.integers(1, 4 * n + 1))
            pairs.append((random_vector(rng, length, da, self.width, self.signed),
                          random_vector(rng, length, db, self.width, self.signed)))
        return pairs

    def stimulus(self, rng, count):
        """The directed pairs and ``count`` random ones (one malformed chunk
        in about one in eight), as chunk transfers."""
        directed = self.directed()
        malformed = {len(directed) + int(i)
                     for i in np.flatnonzero(rng.random(count) < MALFORMED_RATE)}
        return self.transfers(rng, directed + self.random_pairs(rng, count), malformed)

    def _decode(self, inputs, side):
        n, w = self.chunk, self.width
        bits = _bits_of(inputs[f"{side}_mask"], n).astype(bool)
        raw = _bits_of(inputs[f"{side}_values"], n * w).reshape(-1, n, w).astype(np.int64)
        slots = (raw << np.arange(w)).sum(axis=2)
        if self.signed:
            slots = slots - (raw[:, :, -1] << w)
        return bits, slots, np.array([int(c) for c in inputs[f"{side}_count"]], dtype=np.int64)

    def expected(self, inputs):
        dots, errors = chunk_dots(*self._decode(inputs, "a"), *self._decode(inputs, "b"))
        last = np.array([int(v) for v in inputs["last"]], dtype=bool)
        vector = np.concatenate([[0], np.cumsum(last)[:-1]])       # vector pair of each chunk
        pairs = int(last.sum())
        keep = vector < pairs                                        # chunks after the last 'last'
        totals = np.zeros(pairs, dtype=np.int64)
        np.add.at(totals, vector[keep], dots[keep])
        flagged = np.zeros(pairs, dtype=bool)
        np.logical_or.at(flagged, vector[keep], errors[keep])
        dot = fit_accumulator(totals, self.acc_width, self.signed)
        return {"dot": to_bits(dot, self.acc_width), "error": flagged.astype(np.uint64)}
