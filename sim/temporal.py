"""Bench model of the temporal multi-precision PE: every mode word (legal and
illegal) with the operand extremes of its precisions and runs that wrap a
narrow accumulator, then per legal mode every operand pair (when ``count``
allows) or ``count`` random ones, and illegal words, shuffled so that the
mode changes between consecutive operations, with clears.

The golden is the Fusion Unit's running sum (:func:`golden.bitfusion.fusion_accumulate`)
on operands cut to one pair: pair 0 of a packed word is bits ``[0, p)``, and
with the higher bits cleared every other pair multiplies to 0.
"""

import numpy as np

from ..golden.bitfusion import MODE_BITS, decode_mode, fusion_accumulate, precisions

from .vectors import concat, exhaustive, random_bits, to_bits

__all__ = ["TemporalPEModel", "operation_cycles"]

#: Fraction of random operations that clear the accumulator.
CLEAR_RATE = 1 / 64
#: Operations per run of one extreme product.
MARCH_STEPS = 8


def operation_cycles(mode, mult_bits, max_prec=8, min_prec=2):
    """Cycles the PE spends on each operation: one per slice pair (one for an
    illegal mode)."""
    pa, pb, _, _, legal = decode_mode(mode, max_prec, min_prec)
    slices = lambda prec: np.maximum(1, -(-prec // mult_bits))      # noqa: E731
    return np.where(legal, slices(pa) * slices(pb), 1)


def _extremes(prec, is_signed):
    """The values where a slice-wise product tends to break."""
    if is_signed:
        return [-(1 << (prec - 1)), (1 << (prec - 1)) - 1, -1]
    return [(1 << prec) - 1, 1, 1 << (prec - 1)]


class TemporalPEModel:
    #: Random operations per mode word for ``nnarith sim`` without ``--vectors``:
    #: about 20 s on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.max_prec, self.min_prec, self.acc_width = p["max_prec"], p["min_prec"], p["acc_width"]
        self.widths = {"a": p["max_prec"], "w": p["max_prec"], "mode": MODE_BITS, "clear": 1}
        self.precisions = precisions(self.max_prec, self.min_prec)

    def legal_modes(self):
        pa, pb, _, _, legal = decode_mode(np.arange(1 << MODE_BITS), self.max_prec, self.min_prec)
        return np.flatnonzero(legal).astype(np.uint64)

    def directed(self, rng):
        """Each mode word with the extremes of its operands (random bits above
        them), then runs of the largest unsigned and the most negative
        signed x unsigned product at full precision."""
        a, w, mode = [], [], []
        for word in range(1 << MODE_BITS):
            pa, pb, a_signed, w_signed, legal = (np.asarray(v).item() for v in decode_mode(
                word, self.max_prec, self.min_prec))
            pa, pb = (min(p, self.max_prec) for p in (pa, pb))
            for x in _extremes(pa, a_signed):
                for y in _extremes(pb, w_signed):
                    a.append(x & ((1 << pa) - 1))
                    w.append(y & ((1 << pb) - 1))
                    mode.append(word)
        count = len(mode)
        high = lambda: random_bits(rng, self.max_prec, count).astype(object)   # noqa: E731
        a = np.array(a, dtype=object) | (high() & self._above(mode, 0))
        w = np.array(w, dtype=object) | (high() & self._above(mode, 2))
        # Runs of the largest product of each sign, which wrap a narrow accumulator.
        top, low = (1 << self.max_prec) - 1, 1 << (self.max_prec - 1)
        widest = len(self.precisions) - 1
        runs = [(top, top, widest * 5), (low, top, widest * 5 | 1 << 4)]
        for x, y, word in runs:
            a = np.concatenate([a, np.full(MARCH_STEPS, x, dtype=object)])
            w = np.concatenate([w, np.full(MARCH_STEPS, y, dtype=object)])
            mode = mode + [word] * MARCH_STEPS
        clear = np.zeros(len(mode), dtype=np.uint64)
        clear[0] = clear[count] = 1
        return {"a": a, "w": w, "mode": np.array(mode, dtype=np.uint64), "clear": clear}

    def _above(self, modes, shift):
        """Masks of the bits above each mode's operand precision."""
        prec = np.array([min(self.min_prec << ((m >> shift) & 3), self.max_prec) for m in modes])
        return np.array([((1 << self.max_prec) - 1) & ~((1 << int(p)) - 1) for p in prec],
                        dtype=object)

    def _mode_block(self, rng, count, word):
        """Every operand pair of mode ``word`` when that is at most ``count``
        vectors, else ``count`` random ones; random bits above the operands."""
        pa, pb = (int(np.asarray(v).item()) for v in decode_mode(word, self.max_prec,
                                                                 self.min_prec)[:2])
        if 1 << (pa + pb) <= count:
            grid = exhaustive({"a": pa, "w": pb})
            size = len(grid["a"])
            a = grid["a"] | (random_bits(rng, self.max_prec, size) >> pa << pa)
            w = grid["w"] | (random_bits(rng, self.max_prec, size) >> pb << pb)
        else:
            a = random_bits(rng, self.max_prec, count)
            w = random_bits(rng, self.max_prec, count)
        return a, w, np.full(len(a), word, dtype=np.uint64)

    def stimulus(self, rng, count, modes=None):
        """Directed vectors, then for each of ``modes`` (default: every legal
        mode word) :meth:`_mode_block`, plus ``count / 8`` operations under
        illegal words, all shuffled so that the mode changes between
        consecutive operations, with clears."""
        modes = self.legal_modes() if modes is None else modes
        blocks = [self._mode_block(rng, count, int(word)) for word in modes]
        illegal = np.setdiff1d(np.arange(1 << MODE_BITS, dtype=np.uint64), self.legal_modes())
        # Every code is legal at max_prec 16 with min_prec 2.
        words = illegal[rng.integers(0, len(illegal), max(1, count // 8) * (len(illegal) > 0))]
        blocks.append((random_bits(rng, self.max_prec, len(words)),
                       random_bits(rng, self.max_prec, len(words)), words))
        a, w, mode = (np.concatenate([block[i] for block in blocks]) for i in range(3))
        order = rng.permutation(len(a))
        randoms = {"a": a[order], "w": w[order], "mode": mode[order],
                   "clear": (rng.random(len(a)) < CLEAR_RATE).astype(np.uint64)}
        return concat(self.widths, self.directed(rng), randoms)

    def expected(self, inputs):
        mode = np.asarray(inputs["mode"]).astype(np.int64)
        pa, pb, _, _, _ = decode_mode(mode, self.max_prec, self.min_prec)
        # Pair 0 alone: the bits above it cleared, every other pair is 0 x 0.
        a = np.asarray(inputs["a"]).astype(np.int64) & ((1 << pa) - 1)
        w = np.asarray(inputs["w"]).astype(np.int64) & ((1 << pb) - 1)
        acc, error = fusion_accumulate(a, w, mode, np.asarray(inputs["clear"]), self.acc_width,
                                       self.max_prec, self.min_prec)
        return {"acc": to_bits(acc, self.acc_width), "mode_error": error.astype(np.uint64)}
