"""Radix-4 Booth multiplier written as gates: recoding, a Dadda compressor tree
of full and half adders, and one final carry-propagate adder.

Built in two halves so that a pipeline register can sit between them:
:func:`booth_partial_products` + :func:`dadda_reduce` give two rows whose sum
is the product, and the caller adds them.
"""

from amaranth.hdl import Const, Signal, Cat

__all__ = ["booth_rows"]


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


def dadda_reduce(m, columns):
    """Reduce bit columns to at most two bits each with Dadda's schedule.

    Full adders take three bits of a column and leave a sum there and a carry
    in the next column; half adders take two. Carries out of the top column are
    dropped (the sum is taken mod ``2**len(columns)``). Returns two rows.
    """
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
    rows = []
    for r in range(2):
        rows.append(Cat(*(col[r] if len(col) > r else Const(0, 1) for col in columns)))
    return rows


def booth_rows(m, x, x_signed, y, y_signed, width):
    """Two ``width``-bit rows whose sum mod ``2**width`` is ``x * y``."""
    return dadda_reduce(m, booth_partial_products(m, x, x_signed, y, y_signed, width))
