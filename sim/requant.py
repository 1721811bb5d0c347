"""Bench model of the requantizer: every shift code (the two out-of-range ones
included) with random and edge (acc, M) pairs, and constructed rounding ties
for each of the three roundings gemmlowp and TFLite do (SRDHM's half, the
half of RoundingDivideByPOT at every right shift, single rounding's half at
every total shift), on both signs."""

import numpy as np

from ..golden.quant import requantize

from .vectors import concat, from_bits, random_bits, to_bits

__all__ = ["RequantizerModel"]

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
SHIFT_CODES = np.arange(-32, 32)


def _edges(rng, count, width):
    """Random ``width``-bit signed values, a third of them at or next to the extremes."""
    lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
    edges = np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi], dtype=np.int64)
    values = from_bits(random_bits(rng, width, count), width, True)
    return np.where(rng.random(count) < 1 / 3, edges[rng.integers(0, len(edges), count)], values)


class RequantizerModel:
    #: Random accumulators for ``nnarith sim`` without ``--vectors``: seconds on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        self.widths = {n: len(getattr(unit, n)) for n, port in unit.signature.members.items()
                       if port.flow.name == "In" and n != "in_valid"}

    def _fill(self, rng, values, count):
        """Complete a partial vector set with random values for the other inputs."""
        p = self.unit.params
        out = dict(values)
        zp_lo = -(1 << (p["out_bits"] - 1)) if p["out_signed"] else 0
        zp_hi = zp_lo + (1 << p["out_bits"]) - 1
        defaults = {"acc": lambda: _edges(rng, count, 32),
                    "a_sum": lambda: _edges(rng, count, 32) >> rng.integers(0, 32, count),
                    "w_zp": lambda: rng.integers(-128, 256, count),
                    "offset": lambda: _edges(rng, count, 32),
                    "multiplier": lambda: np.where(rng.random(count) < 0.8,
                                                   rng.integers(1 << 30, 1 << 31, count),
                                                   _edges(rng, count, 32)),
                    "shift": lambda: rng.integers(-32, 32, count),
                    "out_zp": lambda: rng.integers(zp_lo, zp_hi + 1, count),
                    "relu6_q": lambda: rng.integers(zp_lo, zp_hi + 1, count)}
        out = {n: out[n] if n in out else defaults[n]() for n in self.widths}
        return {n: to_bits(np.asarray(out[n], dtype=np.int64), self.widths[n]) for n in self.widths}

    def _ties(self, rng):
        """Scaled values exactly halfway between two integers, both signs,
        at every shift, with no correction so that ``x = acc``."""
        p, sets = self.unit.params, []
        if p["fixed_multiplier"]:
            return []
        odd = 2 * rng.integers(-(1 << 29), 1 << 29, 40) + 1
        if p["rounding"] == "double":
            for right in range(1, 32):                      # RoundingDivideByPOT halves
                sets.append((((odd >> right) | 1) << (right - 1), INT32_MAX, -right))
            sets.append((odd, 1 << 30, rng.integers(-31, 1, len(odd))))  # SRDHM's own halves
        else:
            for shift in range(-31, 31):                    # x·M = odd · 2**(t-1), t = 31 - shift
                t = 31 - shift
                m_bits = min(30, t - 1)
                x_bits = t - 1 - m_bits
                sets.append((np.append((odd >> x_bits) | 1, [1, -1]) << x_bits, 1 << m_bits, shift))
        vectors = []
        for acc, multiplier, shift in sets:
            acc = acc[(acc >= INT32_MIN) & (acc <= INT32_MAX)]
            size = len(acc)
            vectors.append(self._fill(rng, {"acc": acc, "a_sum": np.zeros(size, np.int64),
                                            "offset": np.zeros(size, np.int64),
                                            "multiplier": np.broadcast_to(multiplier, size),
                                            "shift": np.broadcast_to(shift, size)}, size))
        return vectors

    def stimulus(self, rng, count):
        """``count`` random vectors spread over every shift code, the ties, and edges."""
        per_shift = max(1, count // len(SHIFT_CODES))
        randoms = [self._fill(rng, {"shift": np.repeat(SHIFT_CODES, per_shift)},
                              per_shift * len(SHIFT_CODES))]
        edges = self._fill(rng, {"acc": np.repeat([INT32_MIN, INT32_MAX, -1, 0], 64),
                                 "multiplier": np.tile(np.repeat([INT32_MIN, INT32_MAX, 0, 1 << 30],
                                                                 16), 4),
                                 "shift": np.tile(np.arange(-32, 32, 4), 16)}, 256)
        return concat(self.widths, *randoms, edges, *self._ties(rng))

    def expected(self, inputs):
        p = self.unit.params
        value = {n: from_bits(inputs[n], w, True) for n, w in self.widths.items()}
        if p["fixed_multiplier"]:
            multiplier, shift = p["fixed_multiplier"], p["fixed_shift"]
        else:
            multiplier, shift = value["multiplier"], np.clip(value["shift"], -31, 30)
        q = requantize(value["acc"], multiplier, shift, value["out_zp"],
                       a_sum=value.get("a_sum", 0), w_zp=value.get("w_zp", 0),
                       offset=value.get("offset", 0), out_signed=p["out_signed"],
                       out_bits=p["out_bits"], rounding=p["rounding"],
                       activation=p["activation"], relu6_q=value.get("relu6_q"))
        return {"q": to_bits(q, p["out_bits"])}
