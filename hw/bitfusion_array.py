"""Weight-stationary systolic array of Fusion Units (Bit Fusion's PE array).

PE ``(r, c)`` holds a packed weight word. Activation word ``r`` enters row
``r`` and moves one column to the right per cycle; partial sums move one row
down per cycle and end in one accumulator per column. Skew registers on the
way in (row ``r`` waits ``r`` cycles) and deskew registers on the way out
(column ``c`` waits ``cols - 1 - c``) make the array look like one pipelined
unit from outside: a vector in, one set of column sums out ``stages`` cycles
later, one vector per cycle.

Everything a vector needs travels with it: its mode and load bit along its
row, and its weight words through delay lines that reach PE ``(r, c)`` after
``r + c`` cycles, so that mode and weights may change on any cycle without
disturbing the vectors still in the array.
"""

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib.wiring import In, Out

from .bitfusion import MODE_WIDTH, FusionCore, mode_doc
from .params import Derived, Param
from .unit import Unit

__all__ = ["FusionArray"]


def _min_stages(p):
    return p["rows"] + p["cols"]


def _taps(m, value, length, name, reset_less=True):
    """``[value, value one cycle ago, ..., value length cycles ago]``, from a
    chain of ``length`` registers."""
    taps = [value]
    for k in range(length):
        reg = Signal.like(value, name=f"{name}_d{k + 1}", reset_less=reset_less)
        m.d.sync += reg.eq(taps[-1])
        taps.append(reg)
    return taps


def _delay(m, value, cycles, name, reset_less=True):
    """``value`` seen ``cycles`` clock cycles later."""
    return _taps(m, value, cycles, name, reset_less)[-1]


class FusionArray(Unit):
    """``y[c] <- (clear ? 0 : y[c]) + sum_r fusion_dot(a_r, weight[r][c], mode)``
    for each vector; with ``w_load`` the weights become ``w`` first (used by
    that same vector). The latency is ``rows + cols`` (skew, one partial-sum
    register per row, deskew, accumulator) plus the optional ranks: a
    register after every PE's Fusion core, then one on the inputs."""

    PARAMS = (
        Param("rows", 4, "PE rows: activation words per vector", lo=1, hi=8),
        Param("cols", 4, "PE columns: accumulators (outputs) per vector", lo=1, hi=8),
        Param("max_prec", 8, "largest operand precision", choices=(8, 16)),
        Param("min_prec", Derived(lambda p: p["max_prec"] // 4, "max_prec / 4"),
              "smallest operand precision: the BitBrick slice width", choices=(2, 4)),
        Param("acc_width", Derived(lambda p: max(32, 2 * p["max_prec"] + 1),
                                   "max(32, 2*max_prec + 1)"),
              "width of each column accumulator (two's complement, wrapping)",
              lo=Derived(lambda p: 2 * p["max_prec"] + 1, "2*max_prec + 1"), hi=64),
        Param("stages", Derived(_min_stages, "rows + cols"),
              "register ranks (latency = stages, initiation interval 1): rows + cols systolic "
              "ranks, +1 registers each PE's dot product, +2 also the inputs",
              lo=Derived(_min_stages, "rows + cols"),
              hi=Derived(lambda p: _min_stages(p) + 2, "rows + cols + 2")),
    )

    def __init__(self, **params):
        p = self.resolve_params(params)
        rows, cols = p["rows"], p["cols"]
        self.word = p["max_prec"] * p["max_prec"] // p["min_prec"]
        word, acc = self.word, p["acc_width"]
        members = {"a": In(rows * word), "w": In(rows * cols * word),
                   "w_load": In(1), "mode": In(MODE_WIDTH), "clear": In(1),
                   "y": Out(cols * acc), "mode_error": Out(1)}
        docs = {
            "a": ("bitfusion_packed", f"{rows} activation words of {word} bits, row r in bits "
                  f"[{word}*r, {word}*r+{word}), each packed as the Fusion Unit's a (pair i "
                  "in bits [i*pa, (i+1)*pa))"),
            "w": ("bitfusion_packed", f"{rows * cols} weight words of {word} bits, PE (r, c) in "
                  f"word r*{cols}+c, each packed as the Fusion Unit's w (pair i in bits "
                  "[i*pb, (i+1)*pb)); taken only with w_load"),
            "w_load": ("control", "the PEs take w as their weights, for this vector and the "
                       "following ones"),
            "mode": ("bitfusion_mode", mode_doc(p["max_prec"], p["min_prec"])),
            "clear": ("control", "start new column sums with this vector's products"),
            "y": (f"{cols}xint{acc}", f"column c's running sum in bits [{acc}*c, {acc}*c+{acc}), "
                  "wrapping"),
            "mode_error": ("flag", "the vector of this result had an illegal mode (it added 0)"),
        }
        super().__init__(p, members, docs)

    def elaborate(self, platform):
        p = self.params
        m = Module()
        rows, cols, word = p["rows"], p["cols"], self.word
        extra = p["stages"] - _min_stages(p)
        dot_rank, in_rank = extra >= 1, extra >= 2
        levels = len([c for c in range(4) if p["min_prec"] << c <= p["max_prec"]])

        a, w, mode = self.a, self.w, self.mode
        load = Signal(name="in_load")
        legal = Signal(name="in_legal")
        m.d.comb += [load.eq(self.in_valid & self.w_load),
                     legal.eq((mode[0:2] < levels) & (mode[2:4] < levels))]
        valid, clear = self.in_valid, self.clear
        if in_rank:
            a, w, mode = (_delay(m, v, 1, f"in_{n}") for n, v in (("a", a), ("w", w),
                                                                  ("mode", mode)))
            load, valid, legal, clear = (_delay(m, v, 1, f"in_{n}", reset_less=False)
                                         for n, v in (("load", load), ("valid", valid),
                                                      ("legal", legal), ("clear", clear)))

        dot_width = 2 * p["max_prec"] + 2
        psum_width = min(p["acc_width"], dot_width + (rows - 1).bit_length())
        # Row r's activation reaches column c after r + c cycles; so do the
        # vector's mode and load bit, which are the same for every row.
        span = rows + cols - 1
        mode_at = _taps(m, mode, span - 1, "mode")
        load_at = _taps(m, load, span - 1, "load", reset_less=False)
        a_at = {r: _taps(m, a.word_select(r, word), r + cols - 1, f"row_{r}_a")
                for r in range(rows)}
        column_sums = []
        for c in range(cols):
            psum = None
            for r in range(rows):
                at = r + c
                w_rc = _delay(m, w.word_select(r * cols + c, word), at, f"pe_{r}_{c}_w")
                weight = Signal(word, name=f"pe_{r}_{c}_weight")
                with m.If(load_at[at]):
                    m.d.sync += weight.eq(w_rc)
                core = FusionCore(p["max_prec"], p["min_prec"])
                m.submodules[f"pe_{r}_{c}"] = core
                m.d.comb += [core.a.eq(a_at[r][at]), core.w.eq(Mux(load_at[at], w_rc, weight)),
                             core.mode.eq(mode_at[at])]
                dot = _delay(m, core.dot, int(dot_rank), f"pe_{r}_{c}_dot")
                total = Signal(signed(psum_width), name=f"pe_{r}_{c}_psum")
                m.d.sync += total.eq(dot if psum is None else psum + dot)
                psum = total
            column_sums.append(_delay(m, psum, cols - 1 - c, f"out_{c}_sum"))

        # The vector's own control bits reach the accumulators with its sums.
        reach = span + int(dot_rank)
        valid, clear, legal = (_delay(m, v, reach, f"acc_{n}", reset_less=False)
                               for n, v in (("valid", valid), ("clear", clear), ("legal", legal)))
        error = Signal(name="acc_mode_error")
        out_valid = Signal(name="acc_valid")
        m.d.sync += out_valid.eq(valid)
        for c, colsum in enumerate(column_sums):
            acc = Signal(signed(p["acc_width"]), name=f"acc_{c}")
            with m.If(valid):
                m.d.sync += acc.eq(Mux(clear, 0, acc) + colsum)
            m.d.comb += self.y.word_select(c, p["acc_width"]).eq(acc)
        with m.If(valid):
            m.d.sync += error.eq(~legal)
        m.d.comb += [self.mode_error.eq(error), self.out_valid.eq(out_valid)]
        return m
