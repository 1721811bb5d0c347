"""Bench models of the BitBrick and the Fusion Unit.

The BitBrick is run exhaustively. The Fusion Unit gets, for every legal
mode (precision pair x signedness), every input of that mode when its used
input bits allow no more than ``count`` vectors (8x8 at ``count`` >= 65,536),
else ``count`` random vectors; then illegal codes, all shuffled together so
that the mode changes between consecutive cycles, with clears. A run of the
largest product of each sign then marches the accumulator across its
wrap-around boundary when ``count`` is long enough for the accumulator.
"""

import itertools

import numpy as np

from ..golden.bitfusion import (MODE_BITS, brick_product, encode_mode, fusion_accumulate,
                              packed_width, pair_count, precisions)

from .vectors import exhaustive, random_bits, to_bits

__all__ = ["BitBrickModel", "FusionUnitModel"]

#: Fraction of steps that clear the accumulator.
CLEAR_RATE = 1 / 64
#: Vectors with an illegal precision code, per ``count``.
ILLEGAL_SHARE = 1 / 8


class BitBrickModel:
    #: Always exhaustive: ``count`` is not used.
    default_count = 0

    def __init__(self, unit):
        self.width = unit.params["width"]

    def stimulus(self, rng, count):
        return exhaustive({"a": self.width, "a_sign_ext": 1, "w": self.width, "w_sign_ext": 1})

    def expected(self, inputs):
        product = brick_product(inputs["a"], inputs["a_sign_ext"], inputs["w"],
                                inputs["w_sign_ext"], self.width)
        return {"product": to_bits(product, 2 * self.width + 2)}


class FusionUnitModel:
    def __init__(self, unit):
        p = unit.params
        self.max_prec, self.min_prec, self.acc_width = p["max_prec"], p["min_prec"], p["acc_width"]
        self.width = packed_width(self.max_prec, self.min_prec)

    @property
    def default_count(self):
        """Vectors per mode for ``nnarith sim`` without ``--vectors``, about a
        minute on Icarus: 10,000 at 8 bits (some 380,000 vectors in all), half
        as many at 16, whose vectors cost twice as much."""
        return 80_000 // self.max_prec

    def _word(self, rng, count):
        bits = random_bits(rng, self.width, count)
        return bits if self.width <= 64 else bits.astype(object)

    def _mode_block(self, rng, count, pa, pb, a_signed, w_signed):
        """Every input of a mode when that is at most ``count`` vectors, else ``count`` random."""
        n = pair_count(pa, pb, self.max_prec)
        mode = encode_mode(pa, pb, a_signed, w_signed, self.min_prec)
        if n * (pa + pb) <= min(20, count.bit_length() - 1):
            grid = exhaustive({"a": n * pa, "w": n * pb})
            a, w = grid["a"], grid["w"]
        else:
            a, w = self._word(rng, count), self._word(rng, count)
        return a, w, np.full(len(a), mode, dtype=np.uint64)

    def _march(self, count):
        """``count`` steps of the largest positive product, then of the most
        negative one: 8x8 unsigned all ones, then signed -128 x 127 style."""
        top = self.max_prec
        low = (1 << top) - 1
        ones = np.full(count, low, dtype=np.uint64 if self.width <= 64 else object)
        negative_a = np.full_like(ones, 1 << (top - 1))            # -2**(top-1) signed
        positive_w = np.full_like(ones, (1 << (top - 1)) - 1)     # 2**(top-1) - 1
        up = encode_mode(top, top, False, False, self.min_prec)
        down = encode_mode(top, top, True, True, self.min_prec)
        return (np.concatenate([ones, negative_a]), np.concatenate([ones, positive_w]),
                np.concatenate([np.full(count, up), np.full(count, down)]).astype(np.uint64))

    def stimulus(self, rng, count):
        blocks = []
        for pa, pb in itertools.product(precisions(self.max_prec, self.min_prec), repeat=2):
            for a_signed, w_signed in itertools.product((False, True), repeat=2):
                blocks.append(self._mode_block(rng, count, pa, pb, a_signed, w_signed))
        illegal = max(1, int(count * ILLEGAL_SHARE))
        codes = rng.integers(0, 1 << MODE_BITS, 4 * illegal, dtype=np.uint64)
        lim = len(precisions(self.max_prec, self.min_prec))
        codes = codes[((codes & 3) >= lim) | (((codes >> 2) & 3) >= lim)][:illegal]
        blocks.append((self._word(rng, len(codes)), self._word(rng, len(codes)), codes))
        a, w, mode = (np.concatenate([block[i] for block in blocks]) for i in range(3))
        order = rng.permutation(len(a))
        a, w, mode = a[order], w[order], mode[order]
        clear = (rng.random(len(a)) < CLEAR_RATE).astype(np.uint64)
        # Long enough to wrap the accumulator when count allows it.
        ma, mw, mm = self._march(min(count, (1 << self.acc_width) // (1 << 2 * self.max_prec) + 64))
        mclear = np.zeros(len(ma), dtype=np.uint64)
        mclear[0] = 1
        return {"a": np.concatenate([a, ma]), "w": np.concatenate([w, mw]),
                "mode": np.concatenate([mode, mm]), "clear": np.concatenate([clear, mclear])}

    def expected(self, inputs):
        acc, error = fusion_accumulate(inputs["a"], inputs["w"], inputs["mode"], inputs["clear"],
                                       self.acc_width, self.max_prec, self.min_prec)
        return {"acc": to_bits(acc, self.acc_width), "mode_error": error.astype(np.uint64)}
