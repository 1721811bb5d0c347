"""Bench model of the fixed-point multiplier: stimulus and golden expectations."""

import numpy as np

from ..golden.fixed import fixed_mul

from .vectors import concat, corner_values, cross, exhaustive, from_bits, random_bits, to_bits

__all__ = ["FixedMultiplierModel"]

#: Input spaces up to this many bits are simulated exhaustively (every 8x8 pair).
EXHAUSTIVE_BITS = 16
#: Corner cross products larger than this are sampled.
MAX_CORNER_PAIRS = 8192


class FixedMultiplierModel:
    #: Random pairs for ``nnarith sim`` without ``--vectors`` (8x8 and smaller run
    #: exhaustively): seconds on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        self.widths = {"a": unit.a_fmt.width, "b": unit.b_fmt.width}

    def stimulus(self, rng, count):
        """Every pair when the space is small; else corners x corners and ``count`` random pairs."""
        a_fmt, b_fmt = self.unit.a_fmt, self.unit.b_fmt
        if a_fmt.width + b_fmt.width <= EXHAUSTIVE_BITS:
            return exhaustive(self.widths)
        corners = cross(a=corner_values(a_fmt.width, a_fmt.signed),
                        b=corner_values(b_fmt.width, b_fmt.signed))
        pairs = len(corners["a"])
        if pairs > MAX_CORNER_PAIRS:
            keep = np.sort(rng.choice(pairs, MAX_CORNER_PAIRS, replace=False))
            corners = {n: v[keep] for n, v in corners.items()}
        randoms = {n: random_bits(rng, w, count) for n, w in self.widths.items()}
        return concat(self.widths, corners, randoms)

    def expected(self, inputs):
        unit, p = self.unit, self.unit.params
        a = from_bits(inputs["a"], unit.a_fmt.width, unit.a_fmt.signed)
        b = from_bits(inputs["b"], unit.b_fmt.width, unit.b_fmt.signed)
        y, overflowed = fixed_mul(a, b, unit.a_fmt, unit.b_fmt, unit.out_fmt,
                                  p["rounding"], p["overflow"])
        out = {"y": to_bits(y, unit.out_fmt.width)}
        if "ovf" in unit.signature.members:
            out["ovf"] = overflowed.astype(np.uint64)
        return out
