"""The shared floating-point back end: round an exact (or sticky) raw value
once to a format and encode it, with special values and flags.

Every unit whose result ends in one IEEE rounding (multiplier, fused MAC,
MMA, Kulisch read-out) computes a *raw float* and hands it to
:class:`FloatRound`, the way HardFloat's units end in ``roundRawFNToRecFN``:

* ``sign``; ``exp``: signed, unbiased exponent of the significand's leading one;
* ``sig``: ``sig_width`` bits, normalized (leading one in the top bit) or all
  zeros for a zero; ``sticky``: nonzero bits below ``sig``, if any;
* ``is_nan``, ``is_inf``, ``invalid``: special results decided by the unit.

With ``half_normalized`` the leading one of ``sig`` may also sit one place
lower (a product of two significands in [1, 2)); ``exp`` is then the exponent
of ``sig``'s top bit, and every exponent-dependent quantity is computed for
both cases in parallel and chosen by that top bit, so no adder follows the
significand path.

Rounding follows the RISC-V ``rm`` input (0 RNE, 1 RTZ, 2 RDN, 3 RUP,
4 RMM); tininess is detected after rounding; ``flags`` are ``fflags`` bits
NV, DZ (always 0), OF, UF, NX from bit 4 down to bit 0.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .pipeline import Delay, adder, compare, logic, mux, shifter

__all__ = ["FloatRound", "round_float", "round_exponent", "round_gaps", "exponent_layout",
           "EXPONENT_DELAY", "GAPS_DELAY", "LIMITS_DELAY",
           "ENCODE_DELAY", "ROUND_DELAY", "leading_zeros", "round_increment", "lzc_delay"]


def leading_zeros(m, value, name):
    """Gates counting the leading zeros of ``value`` (a tree of priority
    encoders: log-depth, unlike a chain of muxes). Returns a signal; an
    all-zero input counts ``len(value)``."""
    width = len(value)
    count = Signal(range(width + 1), name=name)

    def tree(lo, hi):
        # bits hi-1 down to lo: returns (all zero, leading zeros when not all zero)
        if hi - lo == 1:
            return ~value[lo], Const(0, 1)
        half = 1 << ((hi - lo - 1).bit_length() - 1)        # size of the upper part
        upper_zero, upper_count = tree(hi - half, hi)
        lower_zero, lower_count = tree(lo, hi - half)
        combined = Signal((hi - lo).bit_length(), name=f"{name}_{hi - 1}_{lo}")
        m.d.comb += combined.eq(Mux(upper_zero, half + lower_count, upper_count))
        return upper_zero & lower_zero, combined

    all_zero, partial = tree(0, width)
    m.d.comb += count.eq(Mux(all_zero, width, partial))
    return count


def lzc_delay(width):
    """Delay of :func:`leading_zeros` on ``width`` bits: one 2:1 mux per tree level."""
    return Delay(luts=max(1, (width - 1).bit_length()))


def round_increment(rm, sign, lsb, guard, sticky):
    """Whether rounding adds one unit in the last place, for RISC-V mode ``rm``."""
    inexact = guard | sticky
    return Mux(rm == 0, guard & (sticky | lsb),
           Mux(rm == 2, sign & inexact,
           Mux(rm == 3, ~sign & inexact,
           Mux(rm == 4, guard, 0))))


def exponent_layout(exp_width, fmt):
    """The exponent-side quantities of :func:`round_float` for a raw exponent
    of ``exp_width`` bits, each for a leading one one place below the top
    (index 0) and in the top bit (index 1)."""
    p = fmt.frac_bits + 1
    return data.StructLayout({
        "below": data.ArrayLayout(1, 2),                     # subnormal before rounding
        "distance": data.ArrayLayout(range(p + 3), 2),       # denormalizing shift
        "base": data.ArrayLayout(signed(exp_width + 2), 2),  # exponent field before carries
        "far": data.ArrayLayout(1, 2),                       # gap > 1: tiny whatever rounds
        "edge": data.ArrayLayout(1, 2),                      # gap == 1: tiny unless it carries
    })


def round_gaps(m, exp, fmt, name="round"):
    """First half of :func:`round_exponent`: ``emin`` minus the exponent of a
    leading one one place below ``exp`` and at it, and the biased exponent."""
    gaps = []
    for t in (0, 1):
        gap = Signal(signed(len(exp) + 2), name=f"{name}_gap{t}")
        m.d.comb += gap.eq(fmt.emin - (exp - 1 + t))
        gaps.append(gap)
    biased = Signal(signed(len(exp) + 2), name=f"{name}_biased")
    m.d.comb += biased.eq(exp - 1 + fmt.bias - 1)
    return gaps, biased


def round_exponent(m, exp, fmt, name="round", gaps=None):
    """:func:`exponent_layout` values for the raw exponent ``exp`` (of the
    significand's top bit): a view, to be computed as soon as the exponent is
    known and carried beside the significand to :func:`round_float`.
    ``gaps``: :func:`round_gaps` of ``exp`` if already computed (a pipeline
    may cut between the two halves)."""
    p = fmt.frac_bits + 1
    gaps, biased = round_gaps(m, exp, fmt, name) if gaps is None else gaps
    prepared = Signal(exponent_layout(len(biased) - 2, fmt), name=f"{name}_exponent")
    for t, gap in zip((0, 1), gaps):
        m.d.comb += [
            prepared.below[t].eq(gap > 0),
            prepared.distance[t].eq(Mux(gap > 0, Mux(gap > p + 2, p + 2, gap), 0)),
            prepared.base[t].eq(Mux(gap > 0, 0, biased + t)),
            prepared.far[t].eq(gap > 1),
            prepared.edge[t].eq(gap == 1),
        ]
    return prepared


#: Delays of :func:`round_gaps` (a subtraction) and of the rest of
#: :func:`round_exponent` (comparisons, then clamping muxes).
GAPS_DELAY = adder(10)
LIMITS_DELAY = compare(10) + Delay(luts=1)
EXPONENT_DELAY = GAPS_DELAY + LIMITS_DELAY


def round_float(m, raw, fmt, *, ftz=False, saturate=False, half_normalized=False,
                pipe=None, carried=(), name="round"):
    """Gates that round the raw float ``raw`` (a dict: ``sign``, ``exp``,
    ``sig``, ``sticky``, ``is_nan``, ``is_inf``, ``invalid``, ``rm``; module
    docs, and optionally ``prepared``, :func:`round_exponent` of ``exp``) to
    ``fmt``. With a :class:`~hw.pipeline.Pipeline` the work passes
    two cut points, ``<name>_aligned`` (after the denormalizing shift) and
    ``<name>_rounded`` (after the increment), with ``carried`` values riding
    along. Returns ``(bits, flags, carried)``."""
    def cut(point, delay, values):
        if pipe is None:
            return values
        return pipe.cut_many(f"{name}_{point}", values, delay=delay)

    def named(shape, value, suffix):
        signal = Signal(shape, name=f"{name}_{suffix}")
        m.d.comb += signal.eq(value)
        return signal

    p = fmt.frac_bits + 1                       # precision of the result
    sig_in, exp = raw["sig"], raw["exp"]
    sig_width, exp_width = len(sig_in), len(exp)
    # Work on p + 2 bits: p kept, one guard, and one more so that a one-bit
    # denormalization shift never drops straight into the sticky bit.
    width = max(sig_width, p + 2)
    top = sig_in[-1] if half_normalized else Const(1, 1)
    sig = named(width, Mux(top, sig_in, sig_in << 1) << (width - sig_width), "sig")
    is_zero = named(1, ~sig_in.any() & ~raw["sticky"], "is_zero")

    # Exponent-side quantities for a leading one in the top bit or one below
    # it, chosen by ``top`` (computed beside the significand if prepared).
    prepared = raw.get("prepared")
    if prepared is None:
        prepared = round_exponent(m, exp, fmt, name)
    below = named(1, prepared.below[top], "subnormal")
    distance = named(range(p + 3), prepared.distance[top], "distance")
    base = named(signed(exp_width + 2), prepared.base[top], "base")
    # Tininess after rounding: below 2**emin unless a value just below it
    # rounds up to it with unbounded exponent range (precision p from sig's top).
    carries_unbounded = named(1, sig[width - p:].all() & round_increment(
        raw["rm"], raw["sign"], sig[width - p], sig[width - p - 1],
        sig[:width - p - 1].any() | raw["sticky"]), "carries_unbounded")
    tiny = named(1, ~is_zero & (prepared.far[top] | (prepared.edge[top] & ~carries_unbounded)),
                 "tiny")

    shifted = named(width, sig >> distance, "shifted")
    # Everything below the guard bit after the shift, read off sig with a mask
    # beside the shifter rather than after it.
    below_guard = (Const(1, 2 * width + 1) << (distance + (width - p - 1))) - 1
    kept = shifted[width - p:]
    guard = shifted[width - p - 1]
    sticky = named(1, (sig & below_guard[:width]).any() | raw["sticky"], "sticky")
    specials = (raw["sign"], raw["rm"], raw["is_nan"], raw["is_inf"], raw["invalid"])
    aligned_delay = mux(2) + max(shifter((p + 2).bit_length()), Delay(luts=1) + logic(width),
                                 key=lambda d: d.luts)
    kept, guard, sticky, base, below, tiny, is_zero, *rest = cut(
        "aligned", aligned_delay,
        (named(p, kept, "kept"), guard, sticky, base, below, tiny, is_zero, *specials, *carried))
    (sign, rm, is_nan, is_inf, invalid), carried = rest[:5], tuple(rest[5:])

    inexact = named(1, guard | sticky, "inexact")
    increment = named(1, round_increment(rm, sign, kept[0], guard, sticky), "increment")
    rounded = named(p + 1, kept + increment, "rounded")
    # Exponent field: the base, plus one for a leading one kept in place, plus
    # one more when rounding carries into a new binade (or out of the
    # subnormal range): both sums formed beside the increment, then chosen.
    fields = [named(signed(exp_width + 2), base + kept[p - 1] + c, f"field{c}") for c in (0, 1)]
    carry = named(1, increment & kept[:p - 1].all(), "carry")
    field = named(signed(exp_width + 2), Mux(carry, fields[1], fields[0]), "field")
    frac = rounded[:fmt.frac_bits]
    huges = [(f > fmt.exp_max_field) | ((f == fmt.exp_max_field) & (frac > fmt.max_frac))
             for f in fields]
    huge = named(1, Mux(carry, huges[1], huges[0]), "overflow")
    toward_inf = named(1, (rm == 0) | (rm == 4) | ((rm == 3) & ~sign) | ((rm == 2) & sign),
                       "toward_inf")
    flush = named(1, Const(int(ftz), 1) & ~is_zero & (field == 0), "flush")
    rounded_delay = logic(5) + adder(p + 1) + mux(2)
    frac, field, huge, flush, toward_inf, inexact, tiny, is_zero, sign, is_nan, is_inf, invalid, \
        *carried = cut("rounded", rounded_delay,
                       (named(fmt.frac_bits, frac, "frac"), field, huge, flush, toward_inf,
                        inexact, tiny, is_zero, sign, is_nan, is_inf, invalid, *carried))

    sign_bit = sign << (fmt.width - 1)
    finite = Signal(fmt.width, name=f"{name}_finite")
    m.d.comb += finite.eq(sign_bit | (field[:fmt.exp_bits] << fmt.frac_bits) | frac)
    largest = sign_bit | fmt.max_finite_bits
    if saturate:
        overflowed = largest
    elif fmt.has_inf:
        overflowed = Mux(toward_inf, sign_bit | fmt.inf_bits, largest)
    else:
        overflowed = Mux(toward_inf, fmt.nan_bits, largest)
    if fmt.has_inf:
        infinite = sign_bit | fmt.inf_bits
    else:
        infinite = largest if saturate else Const(fmt.nan_bits, fmt.width)

    bits = Signal(fmt.width, name=f"{name}_bits")
    flags = Signal(5, name=f"{name}_flags")
    with m.If(is_nan):
        m.d.comb += [bits.eq(fmt.nan_bits), flags.eq(invalid << 4)]
    with m.Elif(is_inf):
        m.d.comb += [bits.eq(infinite), flags.eq(0)]
    with m.Elif(is_zero):
        m.d.comb += [bits.eq(sign_bit), flags.eq(0)]
    with m.Elif(huge):
        m.d.comb += [bits.eq(overflowed), flags.eq(0b00101)]
    with m.Elif(flush):
        m.d.comb += [bits.eq(sign_bit), flags.eq(0b00011)]
    with m.Else():
        m.d.comb += [bits.eq(finite), flags.eq(Cat(inexact, tiny & inexact, 0, 0, 0))]
    return bits, flags, tuple(carried)


#: Delay of the encoding after :func:`round_float`'s last cut point.
ENCODE_DELAY = mux(6)

#: Delay of all of :func:`round_float` (no cut points), for a normalized 48-bit
#: significand: the exponent side, the shift and sticky, the increment, the encoding.
ROUND_DELAY = (EXPONENT_DELAY + mux(2) + shifter(5) + logic(48) + logic(5) + adder(25)
               + mux(2) + ENCODE_DELAY)


class FloatRound(wiring.Component):
    """:func:`round_float` as a combinational component, for units that
    round several results side by side without cut points inside.

    ``exp_width``: width of the signed ``exp`` input; ``sig_width``: width of
    ``sig``. ``ftz`` flushes subnormal results to zero (flagging UF and NX);
    ``saturate`` sends overflow to the largest finite number.
    """

    def __init__(self, fmt, *, exp_width, sig_width, ftz=False, saturate=False):
        self.fmt, self.ftz, self.saturate = fmt, ftz, saturate
        super().__init__({
            "sign": In(1), "exp": In(signed(exp_width)), "sig": In(sig_width),
            "sticky": In(1), "is_nan": In(1), "is_inf": In(1), "invalid": In(1),
            "rm": In(3),
            "bits": Out(fmt.width), "flags": Out(5),
        })

    def elaborate(self, platform):
        m = Module()
        raw = {key: getattr(self, key)
               for key in ("sign", "exp", "sig", "sticky", "is_nan", "is_inf", "invalid", "rm")}
        bits, flags, _ = round_float(m, raw, self.fmt, ftz=self.ftz, saturate=self.saturate)
        m.d.comb += [self.bits.eq(bits), self.flags.eq(flags)]
        return m
