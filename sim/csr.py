"""Bench model of the CSR merge join: vector pairs streamed on ``a`` and
``b`` (each side's entries of all pairs concatenated, ``last`` on each
vector's final transfer), one ``dot``/``error`` row per pair.

Directed pairs first (the lecture notes' 12x3 + 8x2 = 52, identical and
disjoint index sets, all-zero vectors, the largest index, runs of the extreme
product that wrap a narrow accumulator, malformed vectors on either side and
at width 2 bad ``count`` fields), then random pairs at densities 0, 1, 10,
50, 90 and 100 % on each side (every combination), some placed at the top of
the index range, until each side holds about ``count`` random entries.
"""

import numpy as np

from ..golden.csr import csr_encode, csr_join, merge_cycles

from .vectors import from_bits, to_bits

__all__ = ["CSRJoinModel", "DENSITIES"]

DENSITIES = (0.0, 0.01, 0.1, 0.5, 0.9, 1.0)
#: Longest random dense vector, and how often a random vector is long.
SHORT, LONG, LONG_RATE = 48, 400, 0.1
#: Fraction of random pairs placed at the top of the index range.
TOP_RATE = 0.2
#: Fraction of random values drawn from the value range's extremes.
EXTREME_RATE = 0.25
#: Longest run of extreme products, enough to wrap an accumulator of up to
#: 2*value_width + 9 bits; wider ones get runs of RUN_SHORT.
RUN_LIMIT, RUN_SHORT = 600, 64


class CSRJoinModel:
    #: Random entries per side for ``nnarith sim`` without ``--vectors``: seconds
    #: on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.width, self.index_width = p["width"], p["index_width"]
        self.value_width, self.value_signed = p["value_width"], p["value_signed"]
        self.acc_width = p["acc_width"]
        vw, signed = self.value_width, self.value_signed
        self.value_min = -(1 << (vw - 1)) if signed else 0
        self.value_max = (1 << (vw - 1)) - 1 if signed else (1 << vw) - 1
        slots = ("",) if self.width == 1 else ("0", "1")
        self.widths = {}
        for side in "ab":
            for slot in slots:
                self.widths[f"{side}_index{slot}"] = self.index_width
                self.widths[f"{side}_value{slot}"] = vw
            if self.width == 2:
                self.widths[f"{side}_count"] = 2
            self.widths[f"{side}_last"] = 1

    # -- vector pairs -------------------------------------------------------------------

    def _fits(self, values):
        return all(self.value_min <= v <= self.value_max for v in values)

    def _random_values(self, rng, size, nonzero=True):
        values = rng.integers(self.value_min, self.value_max, size, endpoint=True)
        extremes = np.array([self.value_min, self.value_max, 1]
                            + ([-1] if self.value_signed else []))
        values = np.where(rng.random(size) < EXTREME_RATE,
                          extremes[rng.integers(0, len(extremes), size)], values)
        if nonzero:
            values = np.where(values == 0, self.value_max, values)
        return values.astype(np.int64)

    def directed(self, rng):
        """``(ai, av, bi, bv)`` pairs of the corner cases (the malformed ones
        included); a list."""
        top = (1 << self.index_width) - 1
        pairs = []
        seed_a = ([0, 3, 5, 8], [12, 77, 8, 2])
        seed_b = ([0, 1, 2, 5, 7], [3, 22, 6, 2, 9])
        if self._fits(seed_a[1] + seed_b[1]):
            pairs.append((*seed_a, *seed_b))
        zero = ([0], [0])
        one = lambda index, value: ([index], [value])      # noqa: E731
        lo, hi = self.value_min, self.value_max
        pairs += [(*zero, *zero), (*zero, *one(0, hi)), (*one(5, lo), *zero),
                  (*one(top, hi), *one(top, lo)), (*one(top, hi), *one(top - 1, hi)),
                  (*one(0, hi), *one(top, hi))]
        for n in (1, 2, 3, 7, 16):
            same = list(range(3, 3 + 2 * n, 2))
            pairs.append((same, list(self._random_values(rng, n)),
                          same, list(self._random_values(rng, n))))
            evens, odds = list(range(0, 2 * n, 2)), list(range(1, 2 * n, 2))
            pairs.append((evens, [hi] * n, odds, [hi] * n))
            pairs.append((list(range(n)), [hi] * n, list(range(n, 3 * n)), [hi] * (2 * n)))
            pairs.append((list(range(top - 2 * n + 1, top + 1)), [lo] * (2 * n),
                          list(range(top - n + 1, top + 1)), [lo] * n))
        # Runs of the extreme products: they wrap a narrow accumulator.
        for x, y in ((lo, lo), (lo, hi), (hi, hi)):
            product = abs(x * y) or 1
            run = (1 << (self.acc_width - 1)) // product + 2
            run = min(run if run <= RUN_LIMIT else RUN_SHORT, top + 1)
            pairs.append((list(range(run)), [x] * run, list(range(run)), [y] * run))
        # Malformed: repeated or decreasing indices, first, inside, last, either side.
        good = list(range(2, 12, 3))
        values = [hi] * len(good)
        for bad in ([4, 4], [7, 3], [1, 5, 5], [1, 6, 4, 9], [2, 3, 8, 8], [9, 8, 7, 6, 5],
                    [0, top, top]):
            bad_values = [hi] * len(bad)
            pairs.append((bad, bad_values, good, values))
            pairs.append((good, values, bad, bad_values))
        pairs.append(([3, 3], [hi, hi], [6, 1], [hi, hi]))
        # Narrow index ranges cannot hold every case.
        return [pair for pair in pairs if all(0 <= i <= top for i in pair[0] + pair[2])]

    def random_pairs(self, rng, count):
        """Random pairs, their densities going round every combination of
        :data:`DENSITIES` on the two sides, until each side holds about
        ``count`` entries (and every combination came at least once)."""
        combinations = [(da, db) for da in DENSITIES for db in DENSITIES]
        pairs, entries = [], [0, 0]
        while min(entries) < count or len(pairs) < len(combinations):
            length = int(rng.integers(1, LONG if rng.random() < LONG_RATE else SHORT,
                                      endpoint=True))
            length = min(length, 1 << self.index_width)
            base = (1 << self.index_width) - length if rng.random() < TOP_RATE else 0
            pair = []
            for side, density in enumerate(combinations[len(pairs) % len(combinations)]):
                dense = np.where(rng.random(length) < density,
                                 self._random_values(rng, length), 0)
                indices, values = csr_encode(dense)
                pair += [list(indices + (base if dense.any() else 0)), list(values)]
                entries[side] += len(indices)
            pairs.append(tuple(pair))
        return pairs

    # -- streams --------------------------------------------------------------------------

    def pack(self, pairs, rng, split_rate=0.0):
        """The port arrays of both streams carrying ``pairs``. At width 2 every
        transfer holds two entries but a vector's last one, except that a
        ``split_rate`` fraction holds one (still correct, only slower); the
        unused slot carries random bits."""
        out = {}
        for s, side in enumerate("ab"):
            rows = []
            for pair in pairs:
                indices, values = pair[2 * s], pair[2 * s + 1]
                k = 0
                while k < len(indices):
                    take = 1 if self.width == 1 or k + 1 == len(indices) \
                        or rng.random() < split_rate else 2
                    rows.append((indices[k:k + take], values[k:k + take],
                                 int(k + take == len(indices))))
                    k += take
            if self.width == 1:
                out[f"{side}_index"] = [r[0][0] for r in rows]
                out[f"{side}_value"] = [r[1][0] for r in rows]
            else:
                for slot in range(2):
                    junk_i = rng.integers(0, 1 << self.index_width, len(rows))
                    junk_v = rng.integers(self.value_min, self.value_max, len(rows), endpoint=True)
                    out[f"{side}_index{slot}"] = [r[0][slot] if len(r[0]) > slot else int(j)
                                                  for r, j in zip(rows, junk_i)]
                    out[f"{side}_value{slot}"] = [r[1][slot] if len(r[1]) > slot else int(j)
                                                  for r, j in zip(rows, junk_v)]
                out[f"{side}_count"] = [len(r[0]) for r in rows]
            out[f"{side}_last"] = [r[2] for r in rows]
        return {name: to_bits(np.array(values, dtype=np.int64), self.widths[name])
                for name, values in out.items()}

    def _bad_counts(self, rng, inputs):
        """Set ``count`` of a few two-entry transfers to 0 or 3 (read as 2)."""
        for side in "ab":
            count = inputs[f"{side}_count"]
            twos = np.flatnonzero(count == 2)
            for position in rng.choice(twos, min(4, len(twos)), replace=False):
                count[position] = rng.choice([0, 3])
        return inputs

    def stimulus(self, rng, count):
        pairs = self.directed(rng) + self.random_pairs(rng, count)
        inputs = self.pack(pairs, rng)
        if self.width == 2:
            inputs = self._bad_counts(rng, inputs)
        return inputs

    def unpack(self, inputs):
        """The vector pairs the streams carry: ``(ai, av, bi, bv, bad_count)``
        per pair, ``bad_count`` set when a transfer's count was not 1 or 2."""
        sides = []
        for side in "ab":
            vectors, indices, values, bad = [], [], [], False
            last = np.asarray(inputs[f"{side}_last"]).astype(np.int64)
            slots = ("",) if self.width == 1 else ("0", "1")
            fields = {slot: (np.asarray(inputs[f"{side}_index{slot}"]).astype(np.int64),
                             from_bits(inputs[f"{side}_value{slot}"], self.value_width,
                                       self.value_signed))
                      for slot in slots}
            counts = (np.ones(len(last), dtype=np.int64) if self.width == 1
                      else np.asarray(inputs[f"{side}_count"]).astype(np.int64))
            for row in range(len(last)):
                used = 1 if counts[row] == 1 else 2
                bad |= counts[row] not in (1, 2)
                for slot in slots[:used]:
                    indices.append(int(fields[slot][0][row]))
                    values.append(int(fields[slot][1][row]))
                if last[row]:
                    vectors.append((indices, values, bad))
                    indices, values, bad = [], [], False
            sides.append(vectors)
        if len(sides[0]) != len(sides[1]):
            raise ValueError(f"streams: a carries {len(sides[0])} vectors, b {len(sides[1])}")
        return [(a[0], a[1], b[0], b[1], a[2] or b[2]) for a, b in zip(*sides)]

    def expected(self, inputs):
        dots, errors = [], []
        for ai, av, bi, bv, bad_count in self.unpack(inputs):
            dot, error = csr_join(ai, av, bi, bv, acc_width=self.acc_width,
                                  acc_signed=self.value_signed)
            dots.append(0 if bad_count else dot)
            errors.append(int(error or bad_count))
        return {"dot": to_bits(np.array(dots, dtype=object), self.acc_width),
                "error": np.array(errors, dtype=np.uint64)}

    def cycles(self, inputs):
        """Cycles each pair takes with both inputs offered and no backpressure
        (packed two entries per transfer but each vector's last)."""
        return np.array([merge_cycles(ai, bi, self.width)
                         for ai, _, bi, _, _ in self.unpack(inputs)], dtype=np.int64)
