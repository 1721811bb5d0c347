"""Shifters built level by level (log shifters, as HardFloat and FloPoCo
build them), so that a pipeline can put registers between any two levels:
:func:`shift_level` is one level of a right shift with a sticky bit (callers
cut after each), :func:`normalize_left` a whole radix-4 normalization with
its cut points (``pipe`` a :class:`~hw.pipeline.Pipeline`, or None for plain
combinational logic; ``carried`` values ride along).
"""

from amaranth.hdl import Array, Cat, Mux, Signal, Value

from .pipeline import Delay, drive, logic, mux, through

__all__ = ["shift_level", "shift_digit", "normalize_left", "normalize_left_steps", "shift_level_delay",
           "normalize_level_delay"]


def shift_level_delay(step, width):
    """One level of :func:`shift_level` shifting by ``step``: a 2:1 mux
    beside an OR of the ``step`` bits that fall out."""
    return max(Delay(luts=1), logic(min(step, width) + 2), key=lambda d: d.luts)


def shift_level(m, value, sticky, amount, k, name):
    """One level of a right shift by ``amount`` with a sticky bit: ``value``
    shifted right by ``2**k`` if ``amount[k]``, and ``sticky`` OR the bits
    that fell out (a signed ``value`` shifts arithmetically). Callers put a
    cut point after each level."""
    step, width = 1 << k, len(value)
    shifted = Signal(Value.cast(value).shape(), name=f"{name}_{k}_value")
    lost = Signal(name=f"{name}_{k}_sticky")
    m.d.comb += [shifted.eq(Mux(amount[k], value >> step, value)),
                 lost.eq(sticky | (amount[k] & value[:min(step, width)].any()))]
    return shifted, lost


def shift_digit(m, value, amount, k, name, left=False):
    """One radix-4 level of a shift by ``amount``: ``value`` shifted right
    (or left, truncated to its width) by ``amount[k:k + 2] << k`` places, a
    4:1 mux (delay ``mux(4)``). Callers put a cut point after each level."""
    width, digit = len(value), amount[k:k + 2]
    choices = [((value << (j << k)) if left else (value >> (j << k)))[:width]
               for j in range(1 << len(digit))]
    shifted = Signal(Value.cast(value).shape(), name=name)
    m.d.comb += shifted.eq(Array(choices)[digit])
    return shifted


def normalize_level_delay(step, width):
    """One level of :func:`normalize_left` shifting by multiples of ``step``:
    an OR of each of the top three groups of ``step`` bits, and the shift
    digit they give (one LUT for all of it when the groups are single bits)."""
    return logic(3) if step == 1 else logic(min(step, width)) + Delay(luts=1)


def normalize_left(m, values, name, *, pipe=None, carried=(), delay=Delay()):
    """:func:`normalize_left_steps` through ``pipe``'s cut points (or none)."""
    return drive(pipe, normalize_left_steps(m, values, name, carried, delay))


def normalize_left_steps(m, values, name, carried=(), delay=Delay(), cuts=None):
    """Shift each of ``values`` (one width) left until its top bit is one, in
    radix-4 levels, largest first: the level of ``step`` (a power of 4) counts
    the leading all-zero groups of ``step`` bits among the top three (one
    zero test per group) and shifts by that many groups with a 4:1 mux. A
    datapath generator (:func:`~hw.pipeline.drive`) with cut points
    ``<cuts>_<k>_test`` after the tests and ``<cuts>_<k>`` after the mux of
    the level of ``4**k`` (``cuts`` defaults to ``name``, the signals'
    prefix); ``delay`` is the logic before the first; ``carried`` (a tuple
    or dict) rides along. Returns ``(normalized, counts, carried)``: a value
    that is zero stays zero.
    """
    cuts = cuts or name
    width = len(values[0])
    levels = 1
    while 4 ** levels < width:
        levels += 1
    values = list(values)
    n = len(values)
    digits = [[] for _ in values]            # 2-bit digits, largest level first
    for k in reversed(range(levels)):
        step = 4 ** k
        shifts = []
        for i, value in enumerate(values):
            # How many of the top three groups of step bits are all zero: one
            # OR per group side by side, then a LUT of the three.
            ones = [value[max(0, width - (j + 1) * step):max(0, width - j * step)].any()
                    for j in range(3)]
            digit = Signal(2, name=f"{name}{i}_{k}_digit")
            m.d.comb += digit.eq(Mux(ones[0], 0, Mux(ones[1], 1, Mux(ones[2], 2, 3))))
            shifts.append(digit)
        def across(name, delay, values):
            """``values`` and the digits so far across cut ``name``."""
            earlier = {("old", i, j): d for i, ds in enumerate(digits) for j, d in enumerate(ds)}
            state, rest = yield from through(name, delay, {**values, **earlier}, carried)
            return state, [[state["old", i, j] for j in range(len(ds))]
                           for i, ds in enumerate(digits)], rest

        state, digits, carried = yield from across(
            f"{cuts}_{k}_test", delay + normalize_level_delay(step, width),
            {**{("value", i): v for i, v in enumerate(values)},
             **{("digit", i): d for i, d in enumerate(shifts)}})
        delay = Delay()
        stepped = {}
        for i in range(n):
            shifted = Signal(width, name=f"{name}{i}_{k}_value")
            m.d.comb += shifted.eq(Array(state["value", i] << (j * step)
                                         for j in range(4))[state["digit", i]])
            stepped["value", i] = shifted
            stepped["digit", i] = state["digit", i]
        state, digits, carried = yield from across(f"{cuts}_{k}", mux(4), stepped)
        values = [state["value", i] for i in range(n)]
        digits = [ds + [state["digit", i]] for i, ds in enumerate(digits)]
    # digits[i] runs from the largest level down: the count, least significant first.
    return values, [Cat(*reversed(ds)) for ds in digits], carried
