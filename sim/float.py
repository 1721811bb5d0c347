"""Bench model of the floating-point multiplier, and the float stimulus shapes
(special classes, TestFloat-style patterns) shared by every float bench."""

import numpy as np

from ..golden.float import multiply

from .vectors import concat, cross, exhaustive, random_bits

__all__ = ["special_values", "pattern_values", "FloatMultiplierModel", "MODE_COUNT"]

MODE_COUNT = 5
#: Input spaces up to this many bits (without ``rm``) run exhaustively, in every mode.
EXHAUSTIVE_BITS = 16
#: TestFloat-style pattern pairs per mode (sampled from the full cross product).
PATTERN_PAIRS = 4096


def _pack(fmt, sign, field, frac):
    return (sign << (fmt.width - 1)) | (field << fmt.frac_bits) | frac


def special_values(fmt):
    """±0, ±smallest/largest subnormal, ±smallest/largest normal, ±1, ±inf,
    the quiet NaN and a signaling NaN (infinities and sNaN where the format has them)."""
    m, all_ones = fmt.frac_bits, (1 << fmt.exp_bits) - 1
    magnitudes = [0, 1, (1 << m) - 1, 1 << m, fmt.max_finite_bits, fmt.bias << m]
    values = [_pack(fmt, s, 0, 0) | v for v in magnitudes for s in (0, 1)]
    if fmt.has_inf:
        values += [fmt.inf_bits, fmt.inf_bits | (1 << (fmt.width - 1)),
                   (all_ones << m) | 1]                                   # sNaN
    values.append(fmt.nan_bits)
    return sorted(set(values))


def pattern_values(fmt):
    """TestFloat-style operands: exponents at and around the places where a
    product under- or overflows (and 0, 1, the bias, the top), times
    significand patterns (0, all ones, single bits, single zeros, ties)."""
    m, bias, top = fmt.frac_bits, fmt.bias, fmt.exp_max_field
    exps = {0, 1, 2, bias - 1, bias, bias + 1, top - 1, top}
    for centre in ((bias + 1) // 2, (bias + top) // 2, (bias - m) // 2, (bias + 1 - m) // 2):
        exps |= {centre - 1, centre, centre + 1}
    exps = sorted(e for e in exps if 0 <= e <= top)
    all_ones = (1 << m) - 1
    fracs = {0, all_ones, 1, 1 << (m - 1), (1 << (m - 1)) | 1, all_ones >> 1,
             all_ones ^ 1, int("01" * m, 2) & all_ones}
    fracs |= {1 << k for k in range(0, m, max(1, m // 6))}
    fracs |= {all_ones ^ (1 << k) for k in range(0, m, max(1, m // 6))}
    fracs = sorted(f for f in fracs if f <= all_ones)
    return [_pack(fmt, s, e, f) for s in (0, 1) for e in exps for f in fracs]


class FloatMultiplierModel:
    #: Random pairs per mode for ``nnarith sim`` without ``--vectors`` (fp8 runs
    #: exhaustively): under half a minute on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        self.unit = unit
        self.widths = {"a": unit.a_fmt.width, "b": unit.b_fmt.width, "rm": 3}

    def stimulus(self, rng, count):
        """Every pair in every mode when the operands are small; else special
        classes x special classes in every mode, TestFloat-style patterns, and
        ``count`` random pairs per mode."""
        a_fmt, b_fmt = self.unit.a_fmt, self.unit.b_fmt
        modes = list(range(MODE_COUNT))
        if a_fmt.width + b_fmt.width <= EXHAUSTIVE_BITS:
            return self._every_pair_every_mode()
        specials = cross(a=special_values(a_fmt), b=special_values(b_fmt), rm=modes)
        patterns = cross(a=pattern_values(a_fmt), b=pattern_values(b_fmt))
        pick = rng.choice(len(patterns["a"]), min(PATTERN_PAIRS, len(patterns["a"])), replace=False)
        patterns = {n: np.repeat(v[np.sort(pick)], MODE_COUNT) for n, v in patterns.items()}
        patterns["rm"] = np.tile(np.arange(MODE_COUNT), len(pick))
        randoms = {"a": random_bits(rng, a_fmt.width, count * MODE_COUNT),
                   "b": random_bits(rng, b_fmt.width, count * MODE_COUNT),
                   "rm": np.tile(np.arange(MODE_COUNT, dtype=np.uint64), count)}
        # the reserved codes 5..7 behave as RTZ; pin that down with a few vectors
        reserved = {"a": random_bits(rng, a_fmt.width, 300), "b": random_bits(rng, b_fmt.width, 300),
                    "rm": np.repeat(np.arange(5, 8, dtype=np.uint64), 100)}
        return concat(self.widths, specials, patterns, randoms, reserved)

    def _every_pair_every_mode(self):
        pairs = exhaustive({"a": self.unit.a_fmt.width, "b": self.unit.b_fmt.width})
        return {"a": np.tile(pairs["a"], MODE_COUNT), "b": np.tile(pairs["b"], MODE_COUNT),
                "rm": np.repeat(np.arange(MODE_COUNT, dtype=np.uint64), len(pairs["a"]))}

    def expected(self, inputs):
        unit, p = self.unit, self.unit.params
        rm = np.asarray(inputs["rm"], dtype=np.int64)
        y, flags = multiply(inputs["a"], inputs["b"], unit.a_fmt, unit.b_fmt, unit.out_fmt,
                            rm, p["ftz"], p["saturate"])
        return {"y": y, "flags": flags.astype(np.uint64)}
