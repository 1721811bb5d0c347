"""Bench model of the fused multiply-add (and its accumulating form), and the
directed operand generators shared with the golden tests: alignment over the
whole window (sticky-only addends and products, both signs), massive
cancellation, results at the subnormal/normal boundary and at overflow."""

import numpy as np

from ..golden.float import fma, fma_accumulate, multiply

from .float import MODE_COUNT, pattern_values, special_values
from .vectors import concat, cross, random_bits

__all__ = ["FloatFMAModel", "alignment_triples", "cancellation_triples", "boundary_triples",
           "directed_triples"]

#: Special-class triples (of all specials^3), each in every mode.
SPECIAL_TRIPLES = 1500
#: TestFloat-style pattern triples, each in every mode.
PATTERN_TRIPLES = 1500
#: Directed triples of each generator, each in every mode.
DIRECTED_TRIPLES = 1000
#: A running sum restarts with probability 1/CLEAR_EVERY per step.
CLEAR_EVERY = 24


def pack(fmt, sign, exp, frac):
    """Bits of ``(-1)**sign * (1 + frac/2**m) * 2**exp`` in ``fmt``, made subnormal
    (truncated) below the normal range and clipped to the largest exponent."""
    m = fmt.frac_bits
    exp = np.minimum(np.asarray(exp, dtype=np.int64), fmt.emax)
    sig = (np.asarray(frac, dtype=np.int64) & ((1 << m) - 1)) | (1 << m)
    below = np.clip(fmt.emin - exp, 0, m + 1)
    field = np.where(below > 0, 0, exp + fmt.bias)
    frac = np.where(below > 0, sig >> below, sig - (1 << m))
    return ((np.asarray(sign, dtype=np.uint64) << np.uint64(fmt.width - 1))
            | (field.astype(np.uint64) << np.uint64(m)) | frac.astype(np.uint64))


def _fracs(rng, fmt, n):
    """Random fractions, a third of them with all-zero or all-one tails (ties, carries)."""
    m = fmt.frac_bits
    frac = rng.integers(0, 1 << m, n, dtype=np.int64)
    tail = (1 << rng.integers(0, m + 1, n)) - 1
    kind = rng.integers(0, 3, n)
    return np.where(kind == 0, frac & ~tail, np.where(kind == 1, frac | tail, frac))


def _product_operands(rng, a_fmt, b_fmt, exp_p):
    """a, b (normal) whose product's exponent is ``exp_p`` (or one more)."""
    lo_a, hi_a = a_fmt.emin, a_fmt.emax
    ea = np.clip(exp_p - rng.integers(b_fmt.emin, b_fmt.emax + 1, exp_p.size), lo_a, hi_a)
    eb = np.clip(exp_p - ea, b_fmt.emin, b_fmt.emax)
    n = exp_p.size
    return (pack(a_fmt, rng.integers(0, 2, n), ea, _fracs(rng, a_fmt, n)),
            pack(b_fmt, rng.integers(0, 2, n), eb, _fracs(rng, b_fmt, n)))


def _product_range(a_fmt, b_fmt):
    return a_fmt.emin + b_fmt.emin - a_fmt.frac_bits - b_fmt.frac_bits, a_fmt.emax + b_fmt.emax


def alignment_triples(rng, a_fmt, b_fmt, c_fmt, n):
    """Addend exponents at every distance from the product's, from far below
    (a sticky-only addend) to far above (a sticky-only product), both signs."""
    lo, hi = _product_range(a_fmt, b_fmt)
    exp_p = rng.integers(max(lo, c_fmt.emin - c_fmt.frac_bits - 8),
                         min(hi, c_fmt.emax + 2) + 1, n)
    a, b = _product_operands(rng, a_fmt, b_fmt, exp_p)
    reach = a_fmt.frac_bits + b_fmt.frac_bits + 2 * c_fmt.frac_bits + 12
    exp_c = exp_p + rng.integers(-reach, reach + 1, n)
    c = pack(c_fmt, rng.integers(0, 2, n), exp_c, _fracs(rng, c_fmt, n))
    return {"a": a, "b": b, "c": c}


def cancellation_triples(rng, a_fmt, b_fmt, c_fmt, n):
    """c = -round(a * b) in a random mode (exact when the product fits c_fmt),
    and its neighbours one and two units in the last place away."""
    lo, hi = _product_range(a_fmt, b_fmt)
    exp_p = rng.integers(max(lo, c_fmt.emin - 4), min(hi, c_fmt.emax) + 1, n)
    a, b = _product_operands(rng, a_fmt, b_fmt, exp_p)
    rounded, _ = multiply(a, b, a_fmt, b_fmt, c_fmt, rng.integers(0, MODE_COUNT, n))
    step = rng.integers(-2, 3, n)
    magnitude = rounded & np.uint64((1 << (c_fmt.width - 1)) - 1)
    finite = magnitude < np.uint64(c_fmt.max_finite_bits - 2)
    magnitude = np.where(finite & (magnitude > np.uint64(2)),
                         (magnitude.astype(np.int64) + step).astype(np.uint64), magnitude)
    c = magnitude | ((rounded ^ np.uint64(1 << (c_fmt.width - 1))) & np.uint64(1 << (c_fmt.width - 1)))
    return {"a": a, "b": b, "c": c}


def boundary_triples(rng, a_fmt, b_fmt, c_fmt, out_fmt, n):
    """Sums landing at the subnormal/normal boundary and at overflow of
    ``out_fmt``: c near the smallest normal or the largest finite number,
    the product a few units of its last place, either sign."""
    lo, hi = _product_range(a_fmt, b_fmt)
    top = rng.integers(0, 2, n) == 1
    exp_c = np.where(top, out_fmt.emax, out_fmt.emin - rng.integers(0, 2, n))
    frac_c = np.where(rng.integers(0, 2, n) == 1, (1 << c_fmt.frac_bits) - 1, 0)
    frac_c = frac_c ^ (rng.integers(0, 8, n) << max(c_fmt.frac_bits - out_fmt.frac_bits - 1, 0))
    c = pack(c_fmt, rng.integers(0, 2, n), exp_c, frac_c)
    exp_p = np.clip(exp_c - out_fmt.frac_bits + rng.integers(-3, 3, n), lo, hi)
    a, b = _product_operands(rng, a_fmt, b_fmt, exp_p)
    return {"a": a, "b": b, "c": c}


def directed_triples(rng, a_fmt, b_fmt, c_fmt, out_fmt, n):
    """``n`` triples of each directed generator."""
    parts = [alignment_triples(rng, a_fmt, b_fmt, c_fmt, n),
             cancellation_triples(rng, a_fmt, b_fmt, c_fmt, n),
             boundary_triples(rng, a_fmt, b_fmt, c_fmt, out_fmt, n)]
    return {k: np.concatenate([p[k] for p in parts]).astype(np.uint64) for k in "abc"}


def _every_mode(triples):
    count = len(triples["a"])
    out = {n: np.repeat(np.asarray(v, dtype=np.uint64), MODE_COUNT) for n, v in triples.items()}
    out["rm"] = np.tile(np.arange(MODE_COUNT, dtype=np.uint64), count)
    return out


def _sample(rng, vectors, keep):
    size = len(next(iter(vectors.values())))
    pick = np.sort(rng.choice(size, min(keep, size), replace=False))
    return {n: np.asarray(v)[pick] for n, v in vectors.items()}


class FloatFMAModel:
    def __init__(self, unit):
        self.unit = unit
        self.accumulate = unit.accumulate
        last = "clear" if self.accumulate else "c"
        self.widths = {"a": unit.a_fmt.width, "b": unit.b_fmt.width,
                       last: 1 if self.accumulate else unit.c_fmt.width, "rm": 3}

    @property
    def default_count(self):
        """``count`` for ``nnarith sim`` without ``--vectors``, about a minute on
        Icarus (some 2,000 vectors/s): random triples per mode after 30,300
        directed vectors, or steps of a running sum (one vector each)."""
        return 20_000 if self.accumulate else 12_000

    def stimulus(self, rng, count):
        """Special classes cubed (sampled), TestFloat-style pattern triples and
        the directed triples, each in every mode, then ``count`` random triples
        per mode; an accumulating unit gets streams instead (:meth:`streams`)."""
        if self.accumulate:
            return self.streams(rng, count)
        u = self.unit
        fmts = (u.a_fmt, u.b_fmt, u.c_fmt)
        specials = _sample(rng, cross(**{n: special_values(f) for n, f in zip("abc", fmts)}),
                           SPECIAL_TRIPLES)
        patterns = {n: rng.choice(np.array(pattern_values(f), dtype=np.uint64), PATTERN_TRIPLES)
                    for n, f in zip("abc", fmts)}
        directed = directed_triples(rng, *fmts, u.out_fmt, DIRECTED_TRIPLES)
        randoms = {n: random_bits(rng, f.width, count * MODE_COUNT) for n, f in zip("abc", fmts)}
        randoms["rm"] = np.tile(np.arange(MODE_COUNT, dtype=np.uint64), count)
        reserved = {n: random_bits(rng, f.width, 300) for n, f in zip("abc", fmts)}
        reserved["rm"] = np.repeat(np.arange(5, 8, dtype=np.uint64), 100)
        return concat(self.widths, *(_every_mode(s) for s in (specials, patterns, directed)),
                      randoms, reserved)

    def streams(self, rng, count):
        """``count`` + a few thousand steps of running sums, restarted by
        ``clear`` about every CLEAR_EVERY steps. Each sum draws its products
        around one scale: anywhere in range, at the top (sums that overflow
        when the accumulator's range allows, then meet an infinity of the other
        sign), at the bottom (subnormal sums, underflow), or random bit
        patterns; now and then a special value, and a product followed by its
        negation (exact cancellation). The mode changes every 64 steps."""
        u = self.unit
        steps = count + 4000
        clear = rng.integers(0, CLEAR_EVERY, steps) == 0
        segment = np.cumsum(clear)
        segments = segment[-1] + 1
        low = u.a_fmt.emin + u.b_fmt.emin
        high = u.a_fmt.emax + u.b_fmt.emax
        theme = rng.integers(0, 4, segments)
        centre = np.select([theme == 1, theme == 2],
                           [min(high, u.c_fmt.emax) - 1, max(low, u.c_fmt.emin - u.c_fmt.frac_bits // 2)],
                           rng.integers(low, high + 1, segments))
        exp_p = np.clip(centre[segment] + rng.integers(-4, 5, steps), low, high)
        a, b = _product_operands(rng, u.a_fmt, u.b_fmt, exp_p)
        random = theme[segment] == 3
        a = np.where(random, random_bits(rng, u.a_fmt.width, steps), a)
        b = np.where(random, random_bits(rng, u.b_fmt.width, steps), b)
        special = rng.integers(0, 64, steps) == 0
        specials_a, specials_b = (np.array(special_values(f), dtype=np.uint64) for f in (u.a_fmt, u.b_fmt))
        a = np.where(special, rng.choice(specials_a, steps), a)
        b = np.where(special, rng.choice(specials_b, steps), b)
        # now and then a step repeats the previous operands with a's sign flipped
        flip = (rng.integers(0, 8, steps) == 0) & ~clear & (np.arange(steps) > 0)
        a = np.where(flip, np.roll(a, 1) ^ np.uint64(1 << (u.a_fmt.width - 1)), a)
        b = np.where(flip, np.roll(b, 1), b)
        rm = np.repeat(rng.integers(0, MODE_COUNT, steps // 64 + 1), 64)[:steps]
        return {"a": a.astype(np.uint64), "b": b.astype(np.uint64),
                "clear": clear.astype(np.uint64), "rm": rm.astype(np.uint64)}

    def expected(self, inputs):
        u, p = self.unit, self.unit.params
        rm = np.asarray(inputs["rm"], dtype=np.int64)
        if self.accumulate:
            y, flags = fma_accumulate(inputs["a"], inputs["b"], inputs["clear"], u.a_fmt, u.b_fmt,
                                      u.c_fmt, rm, p["ftz"], p["saturate"])
        else:
            y, flags = fma(inputs["a"], inputs["b"], inputs["c"], u.a_fmt, u.b_fmt, u.c_fmt,
                           u.out_fmt, rm, p["ftz"], p["saturate"])
        return {"y": y, "flags": flags.astype(np.uint64)}
