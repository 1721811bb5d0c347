"""The shared floating-point back end: round an exact (or sticky) raw value
once to a format and encode it, with special values and flags.

Every unit whose result ends in one IEEE rounding (multiplier, fused MAC,
MMA, Kulisch read-out) computes a *raw float* and hands it to
:func:`round_float` (or its combinational component :class:`FloatRound`),
the way HardFloat's units end in ``roundRawFNToRecFN``:

* ``sign``; ``exp``: signed, unbiased exponent of the significand's leading one;
* ``sig``: ``sig_width`` bits, normalized (leading one in the top bit) or all
  zeros for a zero; ``sticky``: nonzero bits below ``sig``, if any;
* ``is_nan``, ``is_inf``, ``invalid``: special results decided by the unit.

With ``half_normalized`` the leading one of ``sig`` may also sit one place
lower (a product of two significands in [1, 2)); ``exp`` is then the exponent
of ``sig``'s top bit, and every exponent-dependent quantity is computed for
both cases in parallel and chosen by that top bit, so no adder follows the
significand path. The exponent side (:func:`round_exponent`: the
denormalizing distance, the field before rounding carries, the tininess
bounds) can be computed beside the significand and passed in as
``prepared``, in steps with cut points of their own.

Rounding follows the RISC-V ``rm`` input (0 RNE, 1 RTZ, 2 RDN, 3 RUP,
4 RMM); tininess is detected after rounding; ``flags`` are ``fflags`` bits
NV, DZ (always 0), OF, UF, NX from bit 4 down to bit 0.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .pipeline import Delay, adder, drive, logic, mux, shifter
from .shift import shift_level, shift_level_delay

__all__ = ["FloatRound", "round_float", "round_float_steps", "prepare_exponent",
           "prepare_exponent_steps", "round_exponent", "round_gaps", "round_compares",
           "exponent_layout", "above", "EXPONENT_DELAY", "GAPS_DELAY", "COMPARES_DELAY",
           "LIMITS_DELAY",
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


def round_gaps(m, exp, fmt, name="round", offset=0):
    """First step of :func:`round_exponent`: ``emin`` minus the exponent of a
    leading one one place below the top and at it, and the biased exponent,
    the top's exponent being ``exp + offset``. Each is one operation on
    ``exp`` with the constants folded (one carry chain each, side by side)."""
    gaps = []
    for t in (0, 1):
        gap = Signal(signed(len(exp) + 2), name=f"{name}_gap{t}")
        m.d.comb += gap.eq(Const(fmt.emin + 1 - t - offset, signed(len(exp) + 2)) - exp)
        gaps.append(gap)
    biased = Signal(signed(len(exp) + 2), name=f"{name}_biased")
    m.d.comb += biased.eq(exp + (offset - 1 + fmt.bias - 1))
    return gaps, biased


def above(value, bound):
    """``value > bound`` for a signed ``value`` and a constant ``bound >= 0``,
    as plain logic (Yosys would build a carry chain for ``>``): non-negative,
    and a one above ``bound``'s width or the low bits one of the few values
    above it."""
    width = max(1, bound.bit_length())
    magnitude = value[:-1]
    low = magnitude[:width]
    high = magnitude[width:].any() if len(magnitude) > width else Const(0, 1)
    larger = [low == v for v in range(bound + 1, 1 << len(low))]
    return ~value[-1] & (high | (Cat(*larger).any() if larger else Const(0, 1)))


def round_compares(m, gaps, fmt, name="round"):
    """Second step of :func:`round_exponent`: for each gap, ``gap > 0``,
    ``gap > p + 2``, ``gap > 1`` and ``gap == 1``, each a LUT tree."""
    p = fmt.frac_bits + 1
    out = []
    for t, gap in enumerate(gaps):
        bits = Signal(4, name=f"{name}_compare{t}")
        m.d.comb += bits.eq(Cat(above(gap, 0), above(gap, p + 2), above(gap, 1), gap == 1))
        out.append(bits)
    return out


def round_exponent(m, exp, fmt, name="round", gaps=None, compares=None, offset=0):
    """:func:`exponent_layout` values for the raw exponent ``exp`` (of the
    significand's top bit): a view, to be computed as soon as the exponent is
    known and carried beside the significand to :func:`round_float`.
    ``gaps`` (:func:`round_gaps`) and ``compares`` (:func:`round_compares`):
    the first steps if already computed (a pipeline may cut between them)."""
    p = fmt.frac_bits + 1
    gaps, biased = round_gaps(m, exp, fmt, name, offset) if gaps is None else gaps
    compares = round_compares(m, gaps, fmt, name) if compares is None else compares
    prepared = Signal(exponent_layout(len(biased) - 2, fmt), name=f"{name}_exponent")
    for t, (gap, (positive, big, far, edge)) in enumerate(zip(gaps, compares)):
        m.d.comb += [
            prepared.below[t].eq(positive),
            prepared.distance[t].eq(Mux(positive, Mux(big, p + 2, gap), 0)),
            prepared.base[t].eq(Mux(positive, 0, biased + t)),
            prepared.far[t].eq(far),
            prepared.edge[t].eq(edge),
        ]
    return prepared


#: Delays of the steps of :func:`round_exponent`: :func:`round_gaps` (a
#: subtraction), :func:`round_compares` (LUT trees), the clamping muxes.
GAPS_DELAY = adder(10)
COMPARES_DELAY = logic(10)
LIMITS_DELAY = Delay(luts=1)
EXPONENT_DELAY = GAPS_DELAY + COMPARES_DELAY + LIMITS_DELAY


def prepare_exponent_steps(m, raw, fmt, carried=None, name="round", point=None):
    """:func:`round_exponent` of ``raw["exp"]`` in steps with cut points
    ``<point>_gaps`` and ``<point>_compares``, for a unit whose exponent is
    known only with its significand: a datapath generator (see
    :func:`~hw.pipeline.drive`). Returns ``raw`` with ``prepared``, and
    ``carried`` (a dict) that rode along."""
    point = point or name
    carried = carried or {}
    (gap0, gap1), biased = round_gaps(m, raw["exp"], fmt, name)
    state = yield (f"{point}_gaps", GAPS_DELAY,
                   {**raw, **carried, "gap0": gap0, "gap1": gap1, "biased": biased})
    compare0, compare1 = round_compares(m, (state["gap0"], state["gap1"]), fmt, name)
    state = yield (f"{point}_compares", COMPARES_DELAY,
                   {**state, "compare0": compare0, "compare1": compare1})
    prepared = round_exponent(m, state["exp"], fmt, name,
                              gaps=((state["gap0"], state["gap1"]), state["biased"]),
                              compares=(state["compare0"], state["compare1"]))
    return {**{k: state[k] for k in raw}, "prepared": prepared}, {k: state[k] for k in carried}


def prepare_exponent(m, raw, fmt, pipe, carried=None, name="round"):
    """:func:`prepare_exponent_steps` through ``pipe``'s cut points."""
    return drive(pipe, prepare_exponent_steps(m, raw, fmt, carried, name))


def _numbered(values):
    return {str(i): value for i, value in enumerate(values)}


def _in_order(values):
    return tuple(values[str(i)] for i in range(len(values)))


def round_float(m, raw, fmt, *, ftz=False, saturate=False, half_normalized=False,
                pipe=None, carried=(), name="round"):
    """:func:`round_float_steps` through ``pipe``'s cut points (or none)."""
    return drive(pipe, round_float_steps(m, raw, fmt, ftz=ftz, saturate=saturate,
                                         half_normalized=half_normalized, carried=carried,
                                         name=name))


def round_float_steps(m, raw, fmt, *, ftz=False, saturate=False, half_normalized=False,
                      carried=(), name="round", point=None):
    """Gates that round the raw float ``raw`` (a dict: ``sign``, ``exp``,
    ``sig``, ``sticky``, ``is_nan``, ``is_inf``, ``invalid``, ``rm``; module
    docs, and optionally ``prepared``, :func:`round_exponent` of ``exp``) to
    ``fmt``: a datapath generator (:func:`~hw.pipeline.drive`) with cut
    points ``<point>_norm`` (leading one placed), ``<point>_shift_<k>`` (each
    level of the denormalizing shift), ``<point>_sticky``,
    ``<point>_increment`` and ``<point>_rounded`` (``point`` defaults to
    ``name``, the prefix of the signals), with ``carried`` values riding
    along. Returns ``(bits, flags, carried)``."""
    point = point or name

    def cut(stage, delay, values):
        return (f"{point}_{stage}", delay, _numbered(values))

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
    # sig is normalized or zero: its top bit (or two) tells a zero.
    leading = sig_in[-2:] if half_normalized else sig_in[-1]
    is_zero = named(1, ~leading.any() & ~raw["sticky"], "is_zero")

    # Exponent-side quantities for a leading one in the top bit or one below
    # it, chosen by ``top`` (computed beside the significand if prepared).
    prepared = raw.get("prepared")
    if prepared is None:
        prepared = round_exponent(m, exp, fmt, name)
    distance = named(range(p + 3), prepared.distance[top], "distance")
    base = named(signed(exp_width + 2), prepared.base[top], "base")
    far = named(1, prepared.far[top], "far")
    edge = named(1, prepared.edge[top], "edge")
    specials = (raw["sign"], raw["rm"], raw["sticky"], raw["is_nan"], raw["is_inf"],
                raw["invalid"], is_zero, base, far, edge)
    # With half_normalized the select is the significand's top bit, late out
    # of the adder that made it and steering every bit: a hop of routing more.
    norm_delay = mux(2) + Delay(luts=1) if half_normalized else mux(2)
    sig, distance, *rest = _in_order((yield cut("norm", norm_delay, (sig, distance, *specials,
                                                                  *carried))))

    # Rounding sig at precision p with an unbounded exponent, for tininess
    # after rounding: the bits it needs, read beside the shift levels (its
    # all-ones and any-one tests a LUT level per shift level).
    top_ones, low_any = sig[width - p:], sig[:width - p - 1]
    shifted, lost, amount = sig, Const(0, 1), distance
    rest = (sig[width - p], sig[width - p - 1], *rest)
    for k in range(len(amount)):
        shifted, lost = shift_level(m, shifted, lost, amount, k, f"{name}_shift")
        top_ones = named(-(-len(top_ones) // 4), Cat(*(top_ones[i:i + 4].all()
                                                       for i in range(0, len(top_ones), 4))),
                         f"top_ones_{k}")
        low_any = named(-(-len(low_any) // 4), Cat(*(low_any[i:i + 4].any()
                                                     for i in range(0, len(low_any), 4))),
                        f"low_any_{k}")
        shifted, lost, amount, top_ones, low_any, *rest = _in_order((yield cut(
            f"shift_{k}", shift_level_delay(1 << k, width),
            (shifted, lost, amount, top_ones, low_any, *rest))))
    top_ones, low_any = top_ones.all(), low_any.any()       # a LUT at most: one to four bits
    top_lsb, top_guard, sign, rm, sticky_in, is_nan, is_inf, invalid, \
        is_zero, base, far, edge, *carried = rest

    kept = named(p, shifted[width - p:], "kept")
    guard = shifted[width - p - 1]
    sticky = named(1, shifted[:width - p - 1].any() | lost | sticky_in, "sticky")
    kept_ones = named(1, kept[:p - 1].all(), "kept_ones")
    # Tiny: below 2**emin unless a value just below it rounds up to it.
    carries_unbounded = top_ones & round_increment(rm, sign, top_lsb, top_guard,
                                                   low_any | sticky_in)
    tiny = named(1, ~is_zero & (far | (edge & ~carries_unbounded)), "tiny")
    # The exponent field is base, plus one for a leading one kept in place,
    # plus one more when rounding carries into a new binade (or out of the
    # subnormal range): its three candidates formed beside the sticky bit.
    bases = (base, named(signed(exp_width + 2), base + 1, "base1"),
             named(signed(exp_width + 2), base + 2, "base2"))
    kept, guard, sticky, kept_ones, tiny, *rest = _in_order((yield cut(
        "sticky", (logic(width - p + 2), adder(exp_width + 2)),
        (kept, guard, sticky, kept_ones, tiny, sign, rm, is_nan, is_inf, invalid, is_zero, *bases,
         *carried))))
    sign, rm, is_nan, is_inf, invalid, is_zero, *rest = rest
    bases, carried = rest[:3], rest[3:]

    inexact = named(1, guard | sticky, "inexact")
    increment = named(1, round_increment(rm, sign, kept[0], guard, sticky), "increment")
    # Compound rounding: the incremented fraction formed beside the decision
    # to increment, so that rounding is a mux; each candidate field's
    # overflow and flush tests likewise.
    frac_up = named(fmt.frac_bits, kept[:fmt.frac_bits] + 1, "frac_up")
    tests = [named(3, Cat(above(b, fmt.exp_max_field), b == fmt.exp_max_field, b == 0),
                   f"tests{c}") for c, b in enumerate(bases)]
    toward_inf = named(1, (rm == 0) | (rm == 4) | ((rm == 3) & ~sign) | ((rm == 2) & sign),
                       "toward_inf")
    values = _in_order((yield cut(
        "increment", (logic(7), adder(fmt.frac_bits), logic(exp_width + 2)),
        (kept, frac_up, increment, kept_ones, *bases, *tests, inexact, tiny, toward_inf, sign,
         is_nan, is_inf, invalid, is_zero, *carried))))
    kept, frac_up, increment, kept_ones, *rest = values
    bases, tests = rest[:3], rest[3:6]
    inexact, tiny, toward_inf, sign, is_nan, is_inf, invalid, is_zero, *carried = rest[6:]

    frac = named(fmt.frac_bits, Mux(increment, frac_up, kept[:fmt.frac_bits]), "frac")
    carry = named(1, increment & kept_ones, "carry")

    def chosen(candidates):               # the candidate for kept's top bit plus carry
        return Mux(carry, Mux(kept[p - 1], candidates[2], candidates[1]),
                   Mux(kept[p - 1], candidates[1], candidates[0]))
    field = named(signed(exp_width + 2), chosen(bases), "field")
    over, at_max, zero = (chosen([t[i] for t in tests]) for i in range(3))
    # Only a format that keeps fractions back at its top exponent (e4m3) can
    # exceed max_frac there; elsewhere the test would be constant.
    beyond_max = frac > fmt.max_frac if fmt.max_frac < (1 << fmt.frac_bits) - 1 else Const(0, 1)
    huge = named(1, over | (at_max & beyond_max), "overflow")
    flush = named(1, Const(int(ftz), 1) & ~is_zero & zero, "flush")
    frac, field, huge, flush, toward_inf, inexact, tiny, is_zero, sign, is_nan, is_inf, invalid, \
        *carried = _in_order((yield cut(
            "rounded", Delay(luts=2), (frac, field, huge, flush, toward_inf, inexact, tiny,
                                       is_zero, sign, is_nan, is_inf, invalid, *carried))))

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
ROUND_DELAY = (EXPONENT_DELAY + mux(2) + shifter(5) + logic(48) + adder(24) + Delay(luts=2)
               + ENCODE_DELAY)


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
