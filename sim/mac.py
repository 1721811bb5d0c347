"""Bench model of the integer MAC and dot-product unit: lanes of corner and
random operands, addends at the accumulator's edges, and for running sums
long streams with clears, runs that march into the overflow boundary, and
the extreme products (``INT_MIN * INT_MIN``)."""

import numpy as np

from ..golden.mac import dot, mac_stream

from .vectors import concat, corner_values, from_bits, random_bits, to_bits

__all__ = ["IntMACModel"]

#: Fraction of running-sum steps that clear the accumulator.
CLEAR_RATE = 1 / 400
#: Steps per run that adds the largest product of one sign over and over.
MARCH_STEPS = 600


class IntMACModel:
    #: Random vectors for ``nnarith sim`` without ``--vectors``: seconds on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        p = unit.params
        self.lanes = p["lanes"]
        self.widths = {"a": p["lanes"] * p["a_width"], "b": p["lanes"] * p["b_width"]}
        self.widths["clear" if p["accumulate"] else "c"] = 1 if p["accumulate"] else p["acc_width"]

    def _pack(self, lanes, width):
        """(count, lanes) integers -> packed port bit patterns."""
        bits = to_bits(lanes, width).astype(object)
        packed = np.zeros(len(lanes), dtype=object)
        for i in range(self.lanes):
            packed = packed + (bits[:, i] << (i * width))
        return packed.astype(np.uint64) if self.lanes * width <= 64 else packed

    def _unpack(self, packed, width, is_signed):
        packed = np.asarray(packed, dtype=object)
        return np.stack([from_bits((packed >> (i * width)) & ((1 << width) - 1), width, is_signed)
                         for i in range(self.lanes)], axis=1)

    def _operands(self, rng, count, fmt):
        """Lanes drawn from the corner values a quarter of the time, else uniform."""
        corners = np.array(corner_values(fmt.width, fmt.signed), dtype=object)
        uniform = from_bits(random_bits(rng, fmt.width, count * self.lanes), fmt.width, fmt.signed)
        pick = corners[rng.integers(0, len(corners), count * self.lanes)]
        values = np.where(rng.random(count * self.lanes) < 0.25, pick, uniform.astype(object))
        return values.reshape(count, self.lanes)

    def _extreme(self, count, fmt_a, fmt_b, sign):
        """Operands whose every product is the largest one of ``sign`` (the
        largest positive one when no product has that sign)."""
        pairs = [(x, y) for x in (fmt_a.min, fmt_a.max) for y in (fmt_b.min, fmt_b.max)]
        a, b = max(pairs, key=lambda xy: (xy[0] * xy[1] * sign > 0, abs(xy[0] * xy[1])))
        return (np.full((count, self.lanes), a, dtype=object),
                np.full((count, self.lanes), b, dtype=object))

    def stimulus(self, rng, count):
        unit, p = self.unit, self.unit.params
        a_fmt, b_fmt, acc_fmt = unit.a_fmt, unit.b_fmt, unit.acc_fmt
        a, b = self._operands(rng, count, a_fmt), self._operands(rng, count, b_fmt)
        if p["accumulate"]:
            # Random steps, then runs of the extreme products of each sign that
            # reach the boundary when the accumulator is narrow enough.
            runs = [(a, b)]
            for sign in (1, -1, 1):
                runs.append(self._extreme(MARCH_STEPS, a_fmt, b_fmt, sign))
            a = np.concatenate([r[0] for r in runs])
            b = np.concatenate([r[1] for r in runs])
            clear = (rng.random(len(a)) < CLEAR_RATE).astype(np.uint64)
            clear[count] = clear[count + MARCH_STEPS] = 1
            return {"a": self._pack(a, p["a_width"]), "b": self._pack(b, p["b_width"]),
                    "clear": clear}
        edges = [acc_fmt.min, acc_fmt.min + 1, -1, 0, 1, acc_fmt.max - 1, acc_fmt.max]
        edges = np.array([e for e in edges if acc_fmt.min <= e <= acc_fmt.max], dtype=object)
        c = from_bits(random_bits(rng, p["acc_width"], count), p["acc_width"], acc_fmt.signed)
        c = np.where(rng.random(count) < 0.3, edges[rng.integers(0, len(edges), count)],
                     c.astype(object))
        ea, eb = self._extreme(2, a_fmt, b_fmt, 1)
        na, nb = self._extreme(2, a_fmt, b_fmt, -1)
        extremes = {"a": self._pack(np.concatenate([ea, na]), p["a_width"]),
                    "b": self._pack(np.concatenate([eb, nb]), p["b_width"]),
                    "c": to_bits(np.array([acc_fmt.max, 0, acc_fmt.min, 0], dtype=object),
                                 p["acc_width"])}
        randoms = {"a": self._pack(a, p["a_width"]), "b": self._pack(b, p["b_width"]),
                   "c": to_bits(c, p["acc_width"])}
        return concat(self.widths, extremes, randoms)

    def expected(self, inputs):
        unit, p = self.unit, self.unit.params
        a = self._unpack(inputs["a"], p["a_width"], p["a_signed"])
        b = self._unpack(inputs["b"], p["b_width"], p["b_signed"])
        shape = dict(a_width=p["a_width"], b_width=p["b_width"], acc_width=p["acc_width"],
                     acc_signed=unit.acc_signed, overflow=p["overflow"])
        if p["accumulate"]:
            y, ovf = mac_stream(a, b, np.asarray(inputs["clear"]), **shape)
        else:
            c = from_bits(inputs["c"], p["acc_width"], unit.acc_signed)
            y, ovf = dot(a, b, c, **shape)
        return {"y": to_bits(y, p["acc_width"]), "ovf": np.asarray(ovf).astype(np.uint64)}
