"""Bench model of the 2:4 structured-sparse dot product.

Directed vectors first: every one of the 16 metadata codes in every group
(the others valid), every group holding the same code, and the value
extremes (all weights and activations at the corners of their range, c at
the accumulator's edges, so that a narrow accumulator wraps or saturates).
Then random vectors: valid codes with a few invalid ones mixed in (flagged
by ``meta_error``), integer values from the corner values a quarter of the
time; fp16 values near one, over the whole range and with specials (zeros,
subnormals, infinities, NaNs), some vectors whose second product cancels the
first, and every rounding mode.
"""

import numpy as np

from ..golden.sparse24 import VALID_CODES, dot_24, dot_24_fp16

from .float import special_values
from .mma import pack, unpack
from .vectors import concat, corner_values, from_bits, random_bits, to_bits

__all__ = ["Sparse24DotModel", "INVALID_RATE"]

#: Fraction of random groups given a uniformly random (mostly invalid) code.
INVALID_RATE = 0.02
#: Fraction of fp16 random vectors whose second kept product cancels the first.
CANCEL_RATE = 0.1


class Sparse24DotModel:
    #: Random dot products for ``nnarith sim`` without ``--vectors``: under a
    #: minute on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.k, self.half, self.groups = p["k"], p["k"] // 2, p["k"] // 4
        self.is_int = unit.is_int
        self.ww, self.xw, self.wa = unit.w_fmt.width, unit.x_fmt.width, unit.acc_fmt.width
        self.widths = {"w": self.half * self.ww, "meta": self.groups * 4, "x": self.k * self.xw,
                       "c": self.wa}
        if not self.is_int:
            self.widths["rm"] = 3

    # -- drawing --------------------------------------------------------------

    def _codes(self, rng, count):
        codes = rng.choice(VALID_CODES, (count, self.groups))
        wild = rng.random(codes.shape) < INVALID_RATE
        return np.where(wild, rng.integers(0, 16, codes.shape), codes)

    def _directed_codes(self, rng):
        """Every code in every group (the other groups valid), then every code everywhere."""
        one_group = []
        for g in range(self.groups):
            for code in range(16):
                row = rng.choice(VALID_CODES, self.groups)
                row[g] = code
                one_group.append(row)
        everywhere = np.repeat(np.arange(16)[:, None], self.groups, axis=1)
        return np.concatenate([np.array(one_group), everywhere])

    def _int_values(self, rng, shape, fmt):
        corners = np.array([from_bits(v, fmt.width, fmt.signed) for v in
                            corner_values(fmt.width, fmt.signed)], dtype=object)
        size = int(np.prod(shape))
        uniform = from_bits(random_bits(rng, fmt.width, size), fmt.width, fmt.signed)
        pick = corners[rng.integers(0, len(corners), size)]
        values = np.where(rng.random(size) < 0.25, pick, uniform.astype(object))
        return values.reshape(shape)

    def _addends(self, rng, count):
        acc = self.unit.acc_fmt
        edges = np.array([e for e in (acc.min, acc.min + 1, -1, 0, 1, acc.max - 1, acc.max)
                          if acc.min <= e <= acc.max], dtype=object)
        c = from_bits(random_bits(rng, acc.width, count), acc.width, acc.signed).astype(object)
        return np.where(rng.random(count) < 0.3, edges[rng.integers(0, len(edges), count)], c)

    def _fp_values(self, rng, shape, fmt):
        """A third near one, a third any pattern, a third near one with specials."""
        near = ((rng.integers(0, 2, shape).astype(np.uint64) << np.uint64(fmt.width - 1))
                | (rng.integers(fmt.bias - 3, fmt.bias + 3, shape).astype(np.uint64)
                   << np.uint64(fmt.frac_bits))
                | rng.integers(0, 1 << fmt.frac_bits, shape).astype(np.uint64))
        anything = rng.integers(0, 1 << fmt.width, shape, dtype=np.uint64)
        specials = np.array(special_values(fmt), dtype=np.uint64)
        special = np.where(rng.random(shape) < 0.15,
                           specials[rng.integers(0, len(specials), shape)], near)
        kind = rng.integers(0, 3, shape[:1]).reshape(shape[:1] + (1,) * (len(shape) - 1))
        return np.where(kind == 0, near, np.where(kind == 1, anything, special))

    def inputs(self, w, meta, x, c, rm=None):
        """Port values for integer (int units) or fp16-pattern (fp16 units) arrays."""
        ports = {"w": pack(to_bits(w, self.ww) if self.is_int else w, self.ww),
                 "meta": pack(np.asarray(meta, dtype=np.uint64), 4),
                 "x": pack(to_bits(x, self.xw) if self.is_int else x, self.xw),
                 "c": to_bits(c, self.wa) if self.is_int else np.asarray(c, dtype=np.uint64)}
        if rm is not None:
            ports["rm"] = np.asarray(rm, dtype=np.uint64)
        return ports

    # -- the bench interface -----------------------------------------------------

    def stimulus(self, rng, count):
        unit = self.unit
        codes = self._directed_codes(rng)
        n = len(codes)
        if self.is_int:
            directed = self.inputs(self._int_values(rng, (n, self.half), unit.w_fmt), codes,
                                   self._int_values(rng, (n, self.k), unit.x_fmt),
                                   self._addends(rng, n))
            corners = [(w, x) for w in (unit.w_fmt.min, unit.w_fmt.max)
                       for x in (unit.x_fmt.min, unit.x_fmt.max)]
            acc = unit.acc_fmt
            extremes = self.inputs(
                np.array([[w] * self.half for w, _ in corners for _ in range(3)], dtype=object),
                rng.choice(VALID_CODES, (3 * len(corners), self.groups)),
                np.array([[x] * self.k for _, x in corners for _ in range(3)], dtype=object),
                np.array([acc.max, acc.min, 0] * len(corners), dtype=object))
            randoms = self.inputs(self._int_values(rng, (count, self.half), unit.w_fmt),
                                  self._codes(rng, count),
                                  self._int_values(rng, (count, self.k), unit.x_fmt),
                                  self._addends(rng, count))
            return concat(self.widths, directed, extremes, randoms)
        fp16, acc = unit.w_fmt, unit.acc_fmt
        directed = self.inputs(self._fp_values(rng, (n, self.half), fp16), codes,
                               self._fp_values(rng, (n, self.k), fp16),
                               self._fp_values(rng, (n,), acc), np.arange(n) % 5)
        w = self._fp_values(rng, (count, self.half), fp16)
        x = self._fp_values(rng, (count, self.k), fp16)
        meta = self._codes(rng, count)
        c = self._fp_values(rng, (count,), acc)
        # Cancellation: the second kept value of group 0 is minus the first, on the same x.
        cancel = np.flatnonzero((rng.random(count) < CANCEL_RATE) & (meta[:, 0] == 0b0100))
        w[cancel, 1] = w[cancel, 0] ^ np.uint64(0x8000)
        x[cancel, 1] = x[cancel, 0]
        randoms = self.inputs(w, meta, x, c, rng.integers(0, 5, count))
        return concat(self.widths, directed, randoms)

    def _unpack(self, packed, lanes, width, is_signed=None):
        elements = unpack(packed, 1, lanes, width)[:, 0, :]
        return elements if is_signed is None else from_bits(elements, width, is_signed)

    def expected(self, inputs):
        unit, p = self.unit, self.unit.params
        meta = self._unpack(inputs["meta"], self.groups, 4).astype(np.int64)
        if self.is_int:
            w = self._unpack(inputs["w"], self.half, self.ww, p["w_signed"])
            x = self._unpack(inputs["x"], self.k, self.xw, p["x_signed"])
            c = from_bits(inputs["c"], self.wa, unit.acc_signed)
            y, ovf, error = dot_24(w, meta, x, c, w_width=self.ww, x_width=self.xw,
                                   acc_width=self.wa, acc_signed=unit.acc_signed,
                                   overflow=p["overflow"])
            return {"y": to_bits(y, self.wa), "ovf": ovf.astype(np.uint64),
                    "meta_error": error.astype(np.uint64)}
        w = self._unpack(inputs["w"], self.half, 16)
        x = self._unpack(inputs["x"], self.k, 16)
        y, flags, error = dot_24_fp16(w, meta, x, np.asarray(inputs["c"], dtype=np.uint64),
                                      acc_fmt=unit.acc_fmt.name,
                                      rm=np.asarray(inputs["rm"], dtype=np.int64))
        return {"y": y.astype(np.uint64), "flags": flags.astype(np.uint64),
                "meta_error": error.astype(np.uint64)}
