"""Shifters built one level per shift-amount bit, with a pipeline cut point
after each level (log shifters, as HardFloat and FloPoCo build them), so that
a pipeline can put registers between any two levels.

Both take ``pipe`` (a :class:`~hw.pipeline.Pipeline`, or None for plain
combinational logic) and ``carried``, values that ride along through the
cuts; both return the carried values too.
"""

from amaranth.hdl import Array, Cat, Const, Mux, Signal

from .pipeline import Delay, flatten, logic, unflatten

__all__ = ["shift_right_sticky", "shift_level", "shift_steps", "normalize_left",
           "shift_level_delay", "normalize_level_delay"]


def _cut(pipe, name, values, delay):
    return tuple(values) if pipe is None else pipe.cut_many(name, tuple(values), delay=delay)


def shift_level_delay(step, width):
    """One level of :func:`shift_right_sticky` shifting by ``step``: a 2:1 mux
    beside an OR of the ``step`` bits that fall out."""
    return max(Delay(luts=1), logic(min(step, width) + 2), key=lambda d: d.luts)


def shift_level(m, value, sticky, amount, k, name):
    """One level of :func:`shift_right_sticky`: ``value`` shifted right by
    ``2**k`` if ``amount[k]``, and ``sticky`` OR the bits that fell out."""
    step, width = 1 << k, len(value)
    shifted = Signal(width, name=f"{name}_{k}_value")
    lost = Signal(name=f"{name}_{k}_sticky")
    m.d.comb += [shifted.eq(Mux(amount[k], value >> step, value)),
                 lost.eq(sticky | (amount[k] & value[:min(step, width)].any()))]
    return shifted, lost


def shift_right_sticky(m, value, amount, name, *, pipe=None, carried=(), delay=Delay()):
    """``value >> amount`` and whether any one bit was shifted out.

    Levels go from the least significant bit of ``amount``; cut points
    ``<name>_<k>`` after the level shifting by ``2**k``; ``delay`` is the logic
    before the first level. Returns ``(shifted, sticky, carried)``.
    """
    width = len(value)
    sticky = Const(0, 1)
    template, carried = carried, flatten(carried)
    for k in range(len(amount)):
        shifted, lost = shift_level(m, value, sticky, amount, k, name)
        value, sticky, amount, *carried = _cut(pipe, f"{name}_{k}", (shifted, lost, amount, *carried),
                                               delay + shift_level_delay(1 << k, width))
        delay = Delay()
    return value, sticky, unflatten(template, carried)


def shift_steps(m, index, width, levels, name):
    """:func:`shift_right_sticky`'s levels as side steps for
    :func:`~hw.booth.reduce_and_add`: each ``(function, delay)`` shifts the
    value at ``carried[index]`` one level, with its sticky bit at
    ``index + 1`` and the amount at ``index + 2``."""
    def level(k):
        def step(values):
            values = list(values)
            values[index], values[index + 1] = shift_level(m, values[index], values[index + 1],
                                                           values[index + 2], k, name)
            return tuple(values)
        return step, shift_level_delay(1 << k, width)
    return [level(k) for k in range(levels)]


def normalize_level_delay(step, width):
    """One level of :func:`normalize_left` shifting by multiples of ``step``:
    the zero tests of the top ``step``, ``2 * step`` and ``3 * step`` bits."""
    return logic(min(3 * step, width))


def normalize_left(m, values, name, *, pipe=None, carried=(), delay=Delay()):
    """Shift each of ``values`` (one width) left until its top bit is one, in
    radix-4 levels, largest first: the level of ``step`` (a power of 4) counts
    the leading all-zero groups of ``step`` bits among the top three (one
    zero test per group) and shifts by that many groups with a 4:1 mux. Cut
    points ``<name>_<k>_test`` after the tests and ``<name>_<k>`` after the
    mux of the level of ``4**k``; ``delay`` is the logic before the first.
    Returns ``(normalized, counts, carried)``: a value that is zero stays zero.
    """
    width = len(values[0])
    levels = 1
    while 4 ** levels < width:
        levels += 1
    template, carried = carried, flatten(carried)
    values = list(values)
    digits = [[] for _ in values]            # 2-bit digits, largest level first
    n = len(values)
    for k in reversed(range(levels)):
        step = 4 ** k
        tests = []
        for i, value in enumerate(values):
            zero = Signal(3, name=f"{name}{i}_{k}_zero")       # top step, 2 step, 3 step bits
            m.d.comb += zero.eq(Cat(*(~value[max(0, width - j * step):].any() for j in (1, 2, 3))))
            tests.append(zero)
        flat_digits = [d for ds in digits for d in ds]
        out = _cut(pipe, f"{name}_{k}_test", (*values, *tests, *flat_digits, *carried),
                   delay + normalize_level_delay(step, width))
        delay = Delay()
        values, tests = list(out[:n]), out[n:2 * n]
        flat_digits, carried = out[2 * n:2 * n + len(flat_digits)], out[2 * n + len(flat_digits):]
        stepped = []
        for i, (value, zero) in enumerate(zip(values, tests)):
            digit = Signal(2, name=f"{name}{i}_{k}_digit")
            shifted = Signal(width, name=f"{name}{i}_{k}_value")
            m.d.comb += [digit.eq(Cat((zero[0] & ~zero[1]) | zero[2], zero[1])),
                         shifted.eq(Array(value << (j * step) for j in range(4))[digit])]
            stepped.append((shifted, digit))
        out = _cut(pipe, f"{name}_{k}", (*(v for v, _ in stepped), *(d for _, d in stepped),
                                         *flat_digits, *carried), Delay(luts=1))
        values, new_digits = list(out[:n]), out[n:2 * n]
        old, carried = out[2 * n:2 * n + len(flat_digits)], tuple(out[2 * n + len(flat_digits):])
        per = len(digits[0])
        digits = [list(old[i * per:(i + 1) * per]) + [new_digits[i]] for i in range(n)]
    # digits[i] runs from the largest level down: the count, least significant first.
    return values, [Cat(*reversed(ds)) for ds in digits], unflatten(template, carried)
