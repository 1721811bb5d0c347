"""The shared floating-point back end: round an exact (or sticky) raw value
once to a format and encode it, with special values and flags.

Every unit whose result ends in one IEEE rounding (multiplier, fused MAC,
MMA, Kulisch read-out) computes a *raw float* and hands it to
:class:`FloatRound`, the way HardFloat's units end in ``roundRawFNToRecFN``:

* ``sign``; ``exp``: signed, unbiased exponent of the significand's leading one;
* ``sig``: ``sig_width`` bits, normalized (leading one in the top bit) or all
  zeros for a zero; ``sticky``: nonzero bits below ``sig``, if any;
* ``is_nan``, ``is_inf``, ``invalid``: special results decided by the unit.

Rounding follows the RISC-V ``rm`` input (0 RNE, 1 RTZ, 2 RDN, 3 RUP,
4 RMM); tininess is detected after rounding; ``flags`` are ``fflags`` bits
NV, DZ (always 0), OF, UF, NX from bit 4 down to bit 0.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FloatRound", "leading_zeros", "round_increment"]


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


def round_increment(rm, sign, lsb, guard, sticky):
    """Whether rounding adds one unit in the last place, for RISC-V mode ``rm``."""
    inexact = guard | sticky
    return Mux(rm == 0, guard & (sticky | lsb),
           Mux(rm == 2, sign & inexact,
           Mux(rm == 3, ~sign & inexact,
           Mux(rm == 4, guard, 0))))


class FloatRound(wiring.Component):
    """Round a raw float (see module docs) to ``fmt`` and encode it.

    ``exp_width``: width of the signed ``exp`` input; ``sig_width``: width of
    ``sig``. ``ftz`` flushes subnormal results to zero (flagging UF and NX);
    ``saturate`` sends overflow to the largest finite number.
    """

    def __init__(self, fmt, *, exp_width, sig_width, ftz=False, saturate=False):
        self.fmt, self.ftz, self.saturate = fmt, ftz, saturate
        self.exp_width, self.sig_width = exp_width, sig_width
        super().__init__({
            "sign": In(1), "exp": In(signed(exp_width)), "sig": In(sig_width),
            "sticky": In(1), "is_nan": In(1), "is_inf": In(1), "invalid": In(1),
            "rm": In(3),
            "bits": Out(fmt.width), "flags": Out(5),
        })

    def elaborate(self, platform):
        m = Module()
        fmt = self.fmt
        p = fmt.frac_bits + 1                       # precision of the result
        # Work on p + 2 bits: p kept, one guard, and one more so that a one-bit
        # denormalization shift never drops straight into the sticky bit.
        width = max(self.sig_width, p + 2)
        sig = Signal(width, name="round_sig")
        m.d.comb += sig.eq(self.sig << (width - self.sig_width))
        sticky_in = self.sticky

        is_zero = Signal(name="round_is_zero")
        m.d.comb += is_zero.eq(~self.sig.any() & ~self.sticky)

        # Denormalize: values below the normal range lose (emin - exp) more bits.
        emin = fmt.emin
        below = Signal(name="round_subnormal")
        distance = Signal(range(p + 3), name="round_distance")
        gap = Signal(signed(self.exp_width + 2), name="round_gap")
        m.d.comb += [
            gap.eq(emin - self.exp),
            below.eq(gap > 0),
            distance.eq(Mux(below, Mux(gap > p + 2, p + 2, gap), 0)),
        ]
        shifted = Signal(width, name="round_shifted")
        lost = Signal(name="round_lost")
        m.d.comb += [
            shifted.eq(sig >> distance),
            # bits shifted out: nonzero iff sig has a one below the shift amount
            lost.eq((sig & ((Const(1, width + 1) << distance) - 1)[:width]).any()),
        ]
        kept = shifted[width - p:]
        guard = shifted[width - p - 1]
        sticky = Signal(name="round_sticky")
        m.d.comb += sticky.eq(shifted[:width - p - 1].any() | lost | sticky_in)
        inexact = Signal(name="round_inexact")
        m.d.comb += inexact.eq(guard | sticky)

        increment = Signal(name="round_increment")
        m.d.comb += increment.eq(round_increment(self.rm, self.sign, kept[0], guard, sticky))
        rounded = Signal(p + 1, name="round_rounded")
        m.d.comb += rounded.eq(kept + increment)

        # Exponent field: the normal field, plus one when rounding carried into a
        # new binade (or out of the subnormal range into the normal one).
        field = Signal(signed(self.exp_width + 2), name="round_field")
        m.d.comb += field.eq(Mux(below, 0, self.exp + fmt.bias - 1) + rounded[p - 1:])
        frac = rounded[:fmt.frac_bits]
        huge = Signal(name="round_overflow")
        m.d.comb += huge.eq((field > fmt.exp_max_field) |
                            ((field == fmt.exp_max_field) & (frac > fmt.max_frac)))

        # Tininess after rounding: below 2**emin unless a value just below it
        # rounds up to it with unbounded exponent range (precision p from sig's top).
        top_p = sig[width - p:]
        carries_unbounded = top_p.all() & round_increment(
            self.rm, self.sign, sig[width - p], sig[width - p - 1],
            sig[:width - p - 1].any() | sticky_in)
        tiny = Signal(name="round_tiny")
        m.d.comb += tiny.eq(~is_zero & ((gap > 1) | ((gap == 1) & ~carries_unbounded)))

        sign_bit = self.sign << (fmt.width - 1)
        finite = Signal(fmt.width, name="round_finite")
        m.d.comb += finite.eq(sign_bit | (field[:fmt.exp_bits] << fmt.frac_bits) | frac)
        toward_inf = Signal(name="round_toward_inf")
        m.d.comb += toward_inf.eq((self.rm == 0) | (self.rm == 4) |
                                  ((self.rm == 3) & ~self.sign) | ((self.rm == 2) & self.sign))
        largest = sign_bit | fmt.max_finite_bits
        if self.saturate:
            overflowed = largest
        elif fmt.has_inf:
            overflowed = Mux(toward_inf, sign_bit | fmt.inf_bits, largest)
        else:
            overflowed = Mux(toward_inf, fmt.nan_bits, largest)
        if fmt.has_inf:
            infinite = sign_bit | fmt.inf_bits
        else:
            infinite = largest if self.saturate else Const(fmt.nan_bits, fmt.width)

        flush = Signal(name="round_flush")
        m.d.comb += flush.eq(Const(int(self.ftz), 1) & ~is_zero & (field == 0))

        with m.If(self.is_nan):
            m.d.comb += [self.bits.eq(fmt.nan_bits), self.flags.eq(self.invalid << 4)]
        with m.Elif(self.is_inf):
            m.d.comb += [self.bits.eq(infinite), self.flags.eq(0)]
        with m.Elif(is_zero):
            m.d.comb += [self.bits.eq(sign_bit), self.flags.eq(0)]
        with m.Elif(huge):
            m.d.comb += [self.bits.eq(overflowed), self.flags.eq(0b00101)]
        with m.Elif(flush):
            m.d.comb += [self.bits.eq(sign_bit), self.flags.eq(0b00011)]
        with m.Else():
            m.d.comb += [self.bits.eq(finite),
                         self.flags.eq(Cat(inexact, tiny & inexact, 0, 0, 0))]
        return m
