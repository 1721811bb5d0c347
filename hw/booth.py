"""Radix-4 Booth multiplier written as gates: recoding, a Dadda compressor tree
of full and half adders, and one final carry-propagate adder.

:func:`booth_partial_products` + :func:`dadda_reduce` give two rows whose sum
is the product; :func:`reduce_and_add` does the rest with a pipeline cut point
after the partial products, after every compressor level and inside the final
adder, so that registers can go wherever they balance the stages. The
``*_steps`` forms are datapath generators (:func:`~hw.pipeline.drive`), so
that many trees (one per output of an MMA) cross the same cut points in
:meth:`~hw.pipeline.Pipeline.lockstep`.
"""

from amaranth.hdl import Const, Signal, Cat

from .pipeline import Delay, adder, drive, logic, through

__all__ = ["booth_rows", "booth_partial_products", "dadda_reduce", "reduce_and_add",
           "reduce_and_add_steps", "split_add", "split_adds", "split_adds_steps", "BOOTH_DELAY"]

#: Recoding a digit and selecting one partial-product bit (5 inputs).
BOOTH_DELAY = logic(5)

#: One level of full adders (3-input XOR and majority: one LUT each).
LEVEL_DELAY = Delay(luts=1)

#: Final adders wider than this are split in two, with a cut point between the halves.
SPLIT_WIDTH = 24


def _dadda_heights(height):
    """Dadda's stage targets below ``height``, largest first: ..., 6, 4, 3, 2."""
    targets = [2]
    while targets[-1] < height:
        targets.append(targets[-1] * 3 // 2)
    return [d for d in reversed(targets) if d < height]


def booth_partial_products(m, x, x_signed, y, y_signed, width):
    """Radix-4 Booth partial products of ``x * y`` as bit columns mod ``2**width``.

    ``y`` is the recoded operand: each digit ``d_i = -2 y[2i+1] + y[2i] + y[2i-1]``
    in {-2..2} selects ``d_i * x``. A negative selection is formed as the
    inverted magnitude plus a ``neg`` bit in the digit's lowest column. Sign
    extension is replaced by inverting each row's sign bit and adding one
    constant for all rows. Returns a list of ``width`` columns (lists of bits).
    """
    wx = len(x) + (0 if x_signed else 1)          # x as a signed number
    wy = len(y) + (0 if y_signed else 1)          # y as a signed number
    xs = Signal(wx + 1, name="booth_x")           # x sign-extended by one bit, room for 2x
    yx = Signal(wy + (wy % 2), name="booth_y")    # y sign-extended to an even length
    m.d.comb += [
        xs.eq(x.as_signed() if x_signed else x),
        yx.eq(y.as_signed() if y_signed else y),
    ]
    ys = Cat(Const(0, 1), yx)                     # y[-1] = 0 below the first digit
    columns = [[] for _ in range(width)]
    constant = 0
    for i in range((wy + 1) // 2):
        low, mid, high = ys[2 * i], ys[2 * i + 1], ys[2 * i + 2]
        one = Signal(name=f"booth_one{i}")
        two = Signal(name=f"booth_two{i}")
        neg = Signal(name=f"booth_neg{i}")
        m.d.comb += [
            one.eq(mid ^ low),
            two.eq((high & ~mid & ~low) | (~high & mid & low)),
            neg.eq(high),
        ]
        shift = 2 * i
        # One signal per bit: simulators then re-evaluate only the adders a bit feeds.
        for j in range(min(wx + 1, width - shift)):
            bit = Signal(name=f"booth_pp{i}_{j}")
            m.d.comb += bit.eq(((one & xs[j]) | (two & (xs[j - 1] if j else 0))) ^ neg)
            columns[shift + j].append(~bit if j == wx else bit)
        if shift < width:
            columns[shift].append(neg)
        constant -= 1 << (shift + wx)
    constant %= 1 << width
    for j in range(width):
        if (constant >> j) & 1:
            columns[j].append(Const(1, 1))
    return columns


def _dadda_levels(m, columns):
    """Dadda's schedule as a generator: yields the columns after each level
    and goes on with the columns sent back (a pipeline cut's stand-ins);
    returns the two rows."""
    width = len(columns)
    columns = [list(col) for col in columns]
    count = 0
    for target in _dadda_heights(max(map(len, columns), default=0)):
        for c in range(width):
            while len(columns[c]) > target:
                bits = [columns[c].pop(0) for _ in range(3 if len(columns[c]) - target >= 2 else 2)]
                s = Signal(name=f"dadda_s{count}")
                k = Signal(name=f"dadda_c{count}")
                count += 1
                if len(bits) == 3:
                    a, b, cin = bits
                    m.d.comb += [s.eq(a ^ b ^ cin), k.eq((a & b) | (cin & (a ^ b)))]
                else:
                    a, b = bits
                    m.d.comb += [s.eq(a ^ b), k.eq(a & b)]
                columns[c].append(s)
                if c + 1 < width:
                    columns[c + 1].append(k)
        columns = yield columns
    return [Cat(*(col[r] if len(col) > r else Const(0, 1) for col in columns)) for r in range(2)]


def dadda_reduce(m, columns, level_done=None):
    """Reduce bit columns to at most two bits each with Dadda's schedule.

    Full adders take three bits of a column and leave a sum there and a carry
    in the next column; half adders take two. Carries out of the top column are
    dropped (the sum is taken mod ``2**len(columns)``). Returns two rows.
    ``level_done(columns)``, if given, sees the columns after each level and
    returns the columns to go on with (a pipeline cut).
    """
    levels = _dadda_levels(m, columns)
    try:
        columns = next(levels)
        while True:
            columns = levels.send(columns if level_done is None else level_done(columns))
    except StopIteration as stop:
        return stop.value


def booth_rows(m, x, x_signed, y, y_signed, width):
    """Two ``width``-bit rows whose sum mod ``2**width`` is ``x * y``."""
    return dadda_reduce(m, booth_partial_products(m, x, x_signed, y, y_signed, width))


def _columns_through(name, columns, carried, delay):
    """Datapath step: bit columns (and ``carried``, a tuple or a dict) through
    cut point ``name``."""
    values, carried = yield from through(name, delay,
                                         {"bits": Cat(*(bit for col in columns for bit in col))},
                                         carried)
    out, i = [], 0
    for col in columns:
        out.append([values["bits"][i + j] for j in range(len(col))])
        i += len(col)
    return out, carried


def _operand(y, subtract):
    """``y`` as the second operand of ``x + y`` or ``x - y = x + ~y + 1``:
    ``subtract`` a bool or a 1-bit signal. Returns ``(operand, carry_in)``."""
    if isinstance(subtract, bool):
        return (~y if subtract else y), int(subtract)
    return y ^ subtract.replicate(len(y)), subtract


def split_adds(m, pipe, terms, name, carried=(), delay=Delay()):
    """Sums ``x + y`` or differences ``x - y`` (``terms``: ``(x, y, subtract)``,
    ``subtract`` a bool or a 1-bit signal, all of one width, results mod
    ``2**width``), with a cut point ``<name>_low`` between the halves of wide
    adders (each carry registered there) and ``<name>`` after them; ``delay``
    is the logic before. Without a pipeline, plain adders. Returns
    ``(results, carried)``."""
    if pipe is None:
        return _adders(m, terms, name), carried
    return drive(pipe, split_adds_steps(m, terms, name, carried, delay))


def _adders(m, terms, name):
    """Plain adders for :func:`split_adds`' terms."""
    results = []
    for i, (x, y, subtract) in enumerate(terms):
        operand, carry_in = _operand(y, subtract)
        total = Signal(len(x), name=f"{name}_{i}")
        m.d.comb += total.eq(x + operand + carry_in)
        results.append(total)
    return results


def split_adds_steps(m, terms, name, carried=(), delay=Delay(), cuts=None):
    """:func:`split_adds` as a datapath generator; ``cuts`` names its cut
    points (default ``name``: datapaths in lockstep share cut names)."""
    cuts = cuts or name
    width = len(terms[0][0])
    if width <= SPLIT_WIDTH:
        sums, carried = yield from through(cuts, delay + adder(width),
                                           dict(enumerate(_adders(m, terms, name))), carried)
    else:
        half = width // 2
        lows, highs = {}, {}
        for i, (x, y, subtract) in enumerate(terms):
            operand, carry_in = _operand(y, subtract)
            low = Signal(half + 1, name=f"{name}_{i}_low")
            m.d.comb += low.eq(x[:half] + operand[:half] + carry_in)
            lows["low", i] = low
            highs |= {("x", i): x[half:], ("y", i): operand[half:]}
        values, carried = yield from through(f"{cuts}_low", delay + adder(half),
                                             {**lows, **highs}, carried)
        sums = {}
        for i in range(len(terms)):
            low = values["low", i]
            total = Signal(width, name=f"{name}_{i}")
            m.d.comb += total.eq(Cat(low[:half], values["x", i] + values["y", i] + low[half]))
            sums[i] = total
        sums, carried = yield from through(cuts, adder(width - half), sums, carried)
    return [sums[i] for i in range(len(terms))], carried


def split_add(m, pipe, x, y, name, carried=(), delay=Delay()):
    """``x + y`` mod ``2**len(x)`` through :func:`split_adds`; returns ``(sum, carried)``."""
    (total,), carried = split_adds(m, pipe, [(x, y, False)], name, carried, delay)
    return total, carried


def reduce_and_add(m, pipe, columns, name, carried=(), delay=Delay(), steps=()):
    """Sum bit ``columns`` (mod ``2**len(columns)``): a Dadda tree with a cut
    point after the partial products (``<name>_pp``, ``delay`` being the logic
    that made them) and after each level (``<name>_tree<i>``), then
    :func:`split_add` (cut point ``<name>``). ``carried`` values ride along;
    returns ``(sum, carried)``.

    ``steps``: side work on the carried values done beside the tree, one
    ``(function, delay)`` per level (``function(carried)`` returns the new
    carried values), so that a parallel path (a float's exponent) is cut as
    finely as the tree; steps left over when the tree ends get cut points of
    their own (``<name>_side<i>``) before the adder.
    """
    return drive(pipe, reduce_and_add_steps(m, columns, name, carried, delay, steps))


def reduce_and_add_steps(m, columns, name, carried=(), delay=Delay(), steps=(), cuts=None):
    """:func:`reduce_and_add` as a datapath generator; ``cuts`` names its
    cut points (default ``name``)."""
    cuts = cuts or name
    steps = list(steps)

    def side_step(carried):
        if not steps:
            return carried, Delay()
        function, step_delay = steps.pop(0)
        return function(carried), step_delay

    columns, carried = yield from _columns_through(f"{cuts}_pp", columns, carried, delay)
    levels = _dadda_levels(m, columns)
    level = 0
    try:
        columns = next(levels)
        while True:
            carried, side_delay = side_step(carried)
            columns, carried = yield from _columns_through(
                f"{cuts}_tree{level}", columns, carried, (LEVEL_DELAY, side_delay))
            level += 1
            columns = levels.send(columns)
    except StopIteration as stop:
        rows = stop.value
    row0, row1 = (Signal(len(columns), name=f"{name}_row{i}") for i in range(2))
    m.d.comb += [row0.eq(rows[0]), row1.eq(rows[1])]
    # Side steps left when the tree ends get cut points of their own.
    side = 0
    while steps:
        carried, side_delay = side_step(carried)
        rows, carried = yield from through(f"{cuts}_side{side}", side_delay,
                                           {"row0": row0, "row1": row1}, carried)
        row0, row1 = rows["row0"], rows["row1"]
        side += 1
    (total,), carried = yield from split_adds_steps(m, [(row0, row1, False)], name, carried,
                                                    cuts=cuts)
    return total, carried
