"""Shifters built level by level (log shifters, as HardFloat and FloPoCo
build them), so that a pipeline can put registers between any two levels:
:func:`shift_level` is one level of a right shift with a sticky bit (callers
cut after each), :func:`normalize_left` a whole radix-4 normalization with
its cut points (``pipe`` a :class:`~hw.pipeline.Pipeline`, or None for plain
combinational logic; ``carried`` values ride along).
"""

from amaranth.hdl import Array, Cat, Mux, Signal

from .pipeline import Delay, flatten, logic, unflatten

__all__ = ["shift_level", "normalize_left", "shift_level_delay", "normalize_level_delay"]


def _cut(pipe, name, values, delay):
    return tuple(values) if pipe is None else pipe.cut_many(name, tuple(values), delay=delay)


def shift_level_delay(step, width):
    """One level of :func:`shift_level` shifting by ``step``: a 2:1 mux
    beside an OR of the ``step`` bits that fall out."""
    return max(Delay(luts=1), logic(min(step, width) + 2), key=lambda d: d.luts)


def shift_level(m, value, sticky, amount, k, name):
    """One level of a right shift by ``amount`` with a sticky bit: ``value``
    shifted right by ``2**k`` if ``amount[k]``, and ``sticky`` OR the bits
    that fell out. Callers put a cut point after each level."""
    step, width = 1 << k, len(value)
    shifted = Signal(width, name=f"{name}_{k}_value")
    lost = Signal(name=f"{name}_{k}_sticky")
    m.d.comb += [shifted.eq(Mux(amount[k], value >> step, value)),
                 lost.eq(sticky | (amount[k] & value[:min(step, width)].any()))]
    return shifted, lost


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
