"""Bench model of the exact (Kulisch) accumulator: one long stream of steps in
blocks that each start a new sum, with random clears inside them and a random
read-out mode per step.

Blocks: random products with exponents spread over the register's range (and
a little beyond it), sprinkled with zeros, subnormals, extremes and rare
NaNs and infinities; cancellations (products, a small one, then the
negations of the first ones: only the small one remains); sums of thousands
of subnormal products; alternating signs; a march of the largest product
that overflows narrow registers; and short sums of special values.
"""

import numpy as np

from ..golden.kulisch import kulisch_accumulate

from .float import special_values
from .vectors import concat

__all__ = ["KulischAccumulatorModel"]

#: Chance that a step inside a block clears the sum.
CLEAR_RATE = 1 / 300
#: Steps of the tiny-product, alternating and march blocks.
TINY_STEPS, ALTERNATING_STEPS, MARCH_STEPS = 1500, 600, 400
CANCEL_BLOCKS, SPECIAL_STEPS = 300, 500
#: Operands that are NaN or infinite (per lane), products anywhere in the
#: format's range rather than the register's (they overflow clamped registers).
NONFINITE_RATE, ANYWHERE_RATE = 1 / 6000, 1 / 200
#: Sums of special values are short.
SPECIAL_CLEAR_RATE = 0.3


class KulischAccumulatorModel:
    #: Random steps for ``nnarith sim`` without ``--vectors``: seconds on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.fmt, self.lanes = unit.in_fmt, p["lanes"]
        width = p["lanes"] * self.fmt.width
        self.widths = {"a": width, "b": width, "clear": 1, "rm": 3}

    # -- operands, as (steps, lanes) bit patterns ------------------------------------
    def _pack(self, lanes):
        w = self.fmt.width
        packed = np.zeros(len(lanes), dtype=object)
        for i in range(self.lanes):
            packed = packed + (lanes[:, i].astype(object) << (i * w))
        return packed

    def _unpack(self, packed):
        w, packed = self.fmt.width, np.asarray(packed, dtype=object)
        return np.stack([((packed >> (i * w)) & ((1 << w) - 1)).astype(np.uint64)
                         for i in range(self.lanes)], axis=1)

    def _finite(self, rng, exps):
        """Random finite operands with unbiased exponents ``exps`` (clipped to the
        format; below the normal range they become subnormals)."""
        fmt = self.fmt
        field = np.clip(exps + fmt.bias, 0, fmt.exp_max_field)
        frac = rng.integers(0, 1 << fmt.frac_bits, exps.shape)
        frac = np.where(field == fmt.exp_max_field, np.minimum(frac, fmt.max_frac), frac)
        sign = rng.integers(0, 2, exps.shape)
        return ((sign << (fmt.width - 1)) | (field << fmt.frac_bits) | frac).astype(np.uint64)

    def _products(self, rng, steps, top=None, anywhere=ANYWHERE_RATE):
        """Pairs whose products have exponents spread over the register's range
        (or its ``top`` binades), a few (``anywhere``) over the format's whole range."""
        p, fmt = self.unit.params, self.fmt
        shape = (steps, self.lanes)
        hi = p["msb"] + 2
        lo = hi - top if top else p["lsb"] + 2 * fmt.frac_bits - 6
        target = rng.integers(lo, hi, shape)
        wide = rng.integers(2 * (fmt.emin - fmt.frac_bits), 2 * fmt.emax + 2, shape)
        target = np.where(rng.random(shape) < anywhere, wide, target)
        ea = target // 2 + rng.integers(-3, 4, shape)
        return self._finite(rng, ea), self._finite(rng, target - ea)

    def _edges(self, rng, a, b, rate, classes):
        """Replace operands by values of ``classes`` at ``rate``."""
        for x in (a, b):
            pick = rng.random(x.shape) < rate
            x[pick] = rng.choice(classes, int(pick.sum()))
        return a, b

    def _negate(self, a):
        return a ^ np.uint64(1 << (self.fmt.width - 1))

    # -- blocks ---------------------------------------------------------------------
    def _random_block(self, rng, steps):
        a, b = self._products(rng, steps)
        specials = np.array(special_values(self.fmt), dtype=np.uint64)
        finite = specials[[v not in self._nonfinite() for v in specials.tolist()]]
        a, b = self._edges(rng, a, b, 0.05, finite)
        # NaNs and infinities end a sum's information: keep them rare per step
        nonfinite = np.array(self._nonfinite(), dtype=np.uint64)
        return self._edges(rng, a, b, NONFINITE_RATE / self.lanes, nonfinite)

    def _nonfinite(self):
        fmt = self.fmt
        values = [fmt.nan_bits]
        if fmt.has_inf:
            values += [fmt.inf_bits, fmt.inf_bits | (1 << (fmt.width - 1)),
                       fmt.inf_bits | 1]                              # sNaN
        return values

    def _cancel_blocks(self, rng):
        """Big products, a small one, the big ones negated in another order."""
        blocks = []
        for _ in range(CANCEL_BLOCKS):
            k = int(rng.integers(1, 6))
            big_a, big_b = self._products(rng, k, top=12, anywhere=0)
            small_a, small_b = self._products(rng, 1, anywhere=0.2)
            order = rng.permutation(k)
            a = np.concatenate([big_a, small_a, self._negate(big_a[order])])
            b = np.concatenate([big_b, small_b, big_b[order]])
            blocks.append((a, b))
        fmt = self.fmt
        largest = fmt.max_finite_bits
        smallest = 1 << fmt.frac_bits if self.unit.params["ftz"] else 1
        for x, y in ((largest, smallest), (smallest, largest), (largest, largest)):
            a = np.array([[largest], [x], [largest | (1 << (fmt.width - 1))]], dtype=np.uint64)
            b = np.array([[largest], [y], [largest]], dtype=np.uint64)
            blocks.append((np.repeat(a, self.lanes, axis=1), np.repeat(b, self.lanes, axis=1)))
        return blocks

    def _tiny_block(self, rng):
        """Subnormal times subnormal: every product at the bottom of the register."""
        fmt, shape = self.fmt, (TINY_STEPS, self.lanes)
        a = rng.integers(1, 1 << fmt.frac_bits, shape).astype(np.uint64)
        b = rng.integers(1, 1 << fmt.frac_bits, shape).astype(np.uint64)
        signs = rng.integers(0, 2, shape).astype(np.uint64) << np.uint64(fmt.width - 1)
        signs[:TINY_STEPS // 2] = 0                        # all positive, then mixed signs
        return a | signs, b

    def _alternating_block(self, rng):
        a, b = self._products(rng, 1, anywhere=0)
        a, b = np.repeat(a, ALTERNATING_STEPS, axis=0), np.repeat(b, ALTERNATING_STEPS, axis=0)
        a[1::2] = self._negate(a[1::2])
        odd = rng.random(ALTERNATING_STEPS) < 0.02
        a[odd] = self._products(rng, int(odd.sum()))[0]
        return a, b

    def _march_block(self):
        a = np.full((MARCH_STEPS, self.lanes), self.fmt.max_finite_bits, dtype=np.uint64)
        return a, a.copy()

    def _special_block(self, rng):
        values = np.array(special_values(self.fmt), dtype=np.uint64)
        shape = (SPECIAL_STEPS, self.lanes)
        return tuple(values[rng.integers(0, len(values), shape)] for _ in "ab")

    def stimulus(self, rng, count):
        """``count`` random steps, then the directed blocks, as one stream."""
        blocks = [(*self._random_block(rng, count), CLEAR_RATE)]
        blocks += [(a, b, 0) for a, b in self._cancel_blocks(rng)]      # one sum each
        blocks += [(*block, CLEAR_RATE) for block in (
            self._tiny_block(rng), self._alternating_block(rng), self._march_block())]
        blocks.append((*self._special_block(rng), SPECIAL_CLEAR_RATE))
        sets = []
        for a, b, clear_rate in blocks:
            steps = len(a)
            clear = (rng.random(steps) < clear_rate).astype(np.uint64)
            clear[0] = 1
            rm = np.where(rng.random(steps) < 0.05, rng.integers(5, 8, steps),
                          rng.integers(0, 5, steps)).astype(np.uint64)
            sets.append({"a": self._pack(a), "b": self._pack(b), "clear": clear, "rm": rm})
        return concat(self.widths, *sets)

    def expected(self, inputs):
        p = self.unit.params
        y, flags, ovf = kulisch_accumulate(
            self._unpack(inputs["a"]), self._unpack(inputs["b"]), np.asarray(inputs["clear"]),
            np.asarray(inputs["rm"], dtype=np.int64), self.fmt, self.unit.out_fmt,
            lsb=p["lsb"], msb=p["msb"], carry_bits=p["carry_bits"], ftz=p["ftz"])
        return {"y": y, "flags": flags.astype(np.uint64), "ovf": ovf.astype(np.uint64)}
