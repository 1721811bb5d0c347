"""Energy per inference, from M. Horowitz, "Computing's energy problem (and what
we can do about it)", ISSCC 2014, pp. 10-14, Fig. 1.1.9 ("rough energy costs",
45 nm, 0.9 V).

:data:`TABLE` holds the figure's numbers as printed. What the figure lacks is
estimated by these rules (:func:`formula` prints them):

* **Integer multiply** of ``n`` x ``m`` bits: the power law through the
  figure's 8 b (0.2 pJ) and 32 b (3.1 pJ) multipliers,
  ``E = 0.2 pJ * (w/8)**ALPHA``, ``w = sqrt(n*m)``,
  ``ALPHA = ln(3.1/0.2) / ln(32/8)`` (about 1.98: energy grows as bits
  squared, as an array multiplier's partial products do). Widths 1..32.
* **Float multiply** by the significand width ``p`` (hidden bit included):
  the power law through fp16 (``p`` = 11, 1.1 pJ) and fp32 (``p`` = 24, 3.7 pJ),
  ``E = 1.1 pJ * (p/11)**BETA``, ``BETA = ln(3.7/1.1) / ln(24/11)``; ``p``:
  fp16 11, bf16 8, tf32 11, fp32 24, e4m3 4, e5m2 3 (:data:`SIGNIFICAND_BITS`).
  The exponent adder is ignored: it is a few bits wide next to the
  significand array.
* **Accumulation**: one adder per multiply-accumulate, a 32-bit integer add
  (0.1 pJ) into ``int32``, an fp32 add (0.9 pJ) into ``fp32``.
* **Requantizer**: per output, one 32 x 32 multiply and two 32-bit adds
  (3.3 pJ).
* **Memory**: every weight bit, input-activation bit and output bit of a
  layer moves once per inference through one on-chip SRAM, at that SRAM's
  energy per 64-bit access, ``ceil(bits / 64)`` accesses per layer and per
  direction (weights, inputs, outputs). The SRAM is the smallest of 8 KB,
  32 KB and 1 MB (KB = 1024 bytes) that holds the stored weight bits of all
  layers (sparse metadata and masks included). DRAM is listed in the table
  but not used: these networks' weights fit on chip; weights above 1 MB are
  refused.

A layer's work is a :class:`LayerWork`; :func:`inference_energy` sums the
rules over a network's layers. Arguments are checked: a ValueError names the
parameter and what it accepts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .golden.checks import count, describe
from .golden.formats import FLOAT_FORMATS

__all__ = ["Figure", "TABLE", "SOURCE", "SIGNIFICAND_BITS", "ALPHA", "BETA", "ADD_PJ",
           "REQUANT_PJ", "SRAMS", "int_mult_pj", "float_mult_pj", "LayerWork",
           "inference_energy", "formula", "table_markdown"]

SOURCE = "Horowitz, ISSCC 2014, Fig. 1.1.9 (45 nm, 0.9 V)"


@dataclass(frozen=True)
class Figure:
    """One number of the figure: ``pj`` picojoules for ``what``; a range
    (DRAM) has its upper end in ``pj_high``."""
    name: str
    pj: float
    what: str
    source: str = SOURCE
    pj_high: float | None = None


#: The figure's numbers, as printed.
TABLE: tuple[Figure, ...] = (
    Figure("int8_add", 0.03, "8-bit integer add"),
    Figure("int32_add", 0.1, "32-bit integer add"),
    Figure("int8_mult", 0.2, "8-bit integer multiply"),
    Figure("int32_mult", 3.1, "32-bit integer multiply"),
    Figure("fp16_add", 0.4, "16-bit float add"),
    Figure("fp32_add", 0.9, "32-bit float add"),
    Figure("fp16_mult", 1.1, "16-bit float multiply"),
    Figure("fp32_mult", 3.7, "32-bit float multiply"),
    Figure("sram_8kb", 10.0, "64-bit access, 8 KB SRAM"),
    Figure("sram_32kb", 20.0, "64-bit access, 32 KB SRAM"),
    Figure("sram_1mb", 100.0, "64-bit access, 1 MB SRAM"),
    Figure("dram", 1300.0, "64-bit DRAM access (listed, not used: the weights fit on chip)",
           pj_high=2600.0),
)

_PJ = {figure.name: figure.pj for figure in TABLE}

#: Significand bits (hidden bit included) of each float format.
SIGNIFICAND_BITS: dict[str, int] = {name: fmt.frac_bits + 1 for name, fmt in FLOAT_FORMATS.items()}

ALPHA = math.log(_PJ["int32_mult"] / _PJ["int8_mult"]) / math.log(32 / 8)
BETA = math.log(_PJ["fp32_mult"] / _PJ["fp16_mult"]) / math.log(24 / 11)

#: Energy of one accumulation, by accumulator.
ADD_PJ = {"int32": _PJ["int32_add"], "fp32": _PJ["fp32_add"]}

#: One requantized output: a 32 x 32 multiply and two 32-bit adds.
REQUANT_PJ = _PJ["int32_mult"] + 2 * _PJ["int32_add"]

#: The SRAM tiers: (name, capacity in bits, pJ per 64-bit access), smallest first.
SRAMS: tuple[tuple[str, int, float], ...] = (
    ("8 KB", 8 * 1024 * 8, _PJ["sram_8kb"]),
    ("32 KB", 32 * 1024 * 8, _PJ["sram_32kb"]),
    ("1 MB", 1024 * 1024 * 8, _PJ["sram_1mb"]),
)

_INT_BITS = 32        # the figure's widest integer multiplier: wider would be extrapolation
_ACCESS_BITS = 64     # the figure's SRAM numbers are per 64-bit access
_OPERANDS = ("int", *SIGNIFICAND_BITS)


def int_mult_pj(a_bits: int, w_bits: int) -> float:
    """pJ of one ``a_bits`` x ``w_bits`` integer multiply (widths 1..32)."""
    a_bits = count(a_bits, "a_bits", 1, _INT_BITS)
    w_bits = count(w_bits, "w_bits", 1, _INT_BITS)
    w = math.sqrt(a_bits * w_bits)
    return _PJ["int8_mult"] * (w / 8) ** ALPHA


def float_mult_pj(fmt: str) -> float:
    """pJ of one float multiply in ``fmt`` (a name of :data:`SIGNIFICAND_BITS`)."""
    if not isinstance(fmt, str) or fmt not in SIGNIFICAND_BITS:
        raise ValueError(f"fmt: must be one of {', '.join(SIGNIFICAND_BITS)}, got {describe(fmt)}")
    return _PJ["fp16_mult"] * (SIGNIFICAND_BITS[fmt] / 11) ** BETA


@dataclass(frozen=True)
class LayerWork:
    """What one layer does per inference.

    ``mults``: multiplications performed (a zero-skipping unit counts only
    the pairs it multiplies); each is also one accumulation into
    ``accumulate`` (``int32`` or ``fp32``). ``operands``: ``int`` (then
    ``a_bits`` x ``w_bits``, each 1..32) or a float format of
    :data:`SIGNIFICAND_BITS` (then ``a_bits`` and ``w_bits`` are its width).
    ``weight_bits``: stored weight bits read per inference, sparse metadata
    or masks included; ``input_bits``, ``output_bits``: activation bits read
    and written; ``requants``: outputs through a requantizer. Counts that
    depend on the data (a zero-skipping unit's ``mults``, compressed
    activations) are averages over the images: any real number >= 0.
    """
    layer: str
    mults: float
    operands: str
    a_bits: int
    w_bits: int
    accumulate: str
    weight_bits: int
    input_bits: float
    output_bits: float
    requants: float = 0

    def __post_init__(self):
        if not isinstance(self.layer, str) or not self.layer:
            raise ValueError(f"layer: must be a non-empty string, got {describe(self.layer)}")
        _amount(self.mults, "mults")
        if not isinstance(self.operands, str) or self.operands not in _OPERANDS:
            raise ValueError(f"operands: must be one of {', '.join(_OPERANDS)}, "
                             f"got {describe(self.operands)}")
        for name in ("a_bits", "w_bits"):
            value = getattr(self, name)
            if self.operands == "int":
                count(value, name, 1, _INT_BITS)
            elif count(value, name, 1) != (width := FLOAT_FORMATS[self.operands].width):
                raise ValueError(f"{name}: must be {width} (the width of {self.operands}), "
                                 f"got {describe(value)}")
        if not isinstance(self.accumulate, str) or self.accumulate not in ADD_PJ:
            raise ValueError(f"accumulate: must be one of {', '.join(ADD_PJ)}, "
                             f"got {describe(self.accumulate)}")
        count(self.weight_bits, "weight_bits", 0)
        for name in ("input_bits", "output_bits", "requants"):
            _amount(getattr(self, name), name)

    @property
    def mult_pj(self) -> float:
        """pJ of one of this layer's multiplies."""
        if self.operands == "int":
            return int_mult_pj(self.a_bits, self.w_bits)
        return float_mult_pj(self.operands)


def _amount(value: object, name: str) -> float:
    """A count per inference: an integer or an average, finite and >= 0."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer,
                                                                     np.floating)) \
            or not math.isfinite(value) or value < 0:
        raise ValueError(f"{name}: must be a finite number >= 0, got {describe(value)}")
    return float(value)


def _accesses(bits: float) -> int:
    """64-bit accesses that move ``bits`` (a fraction of an access is a whole one)."""
    return math.ceil(bits / _ACCESS_BITS)


def inference_energy(works: Sequence[LayerWork]) -> dict:
    """Energy of one inference through the layers ``works`` (in pJ).

    Returns ``multiply``, ``accumulate``, ``requantize``, ``memory`` and
    ``total``; ``sram``: the SRAM tier's name (``8 KB``, ``32 KB``, ``1 MB``);
    ``weight_bits``: the stored weight bits that chose it; ``layers``: one row
    per layer, in order, with the same four parts, ``total`` and
    ``accesses`` (64-bit SRAM accesses).
    """
    if (isinstance(works, (str, bytes)) or not isinstance(works, Sequence) or not works
            or not all(isinstance(work, LayerWork) for work in works)):
        raise ValueError(f"works: must be a non-empty sequence of LayerWork, got {describe(works)}")
    weight_bits = sum(work.weight_bits for work in works)
    tier = next((t for t in SRAMS if weight_bits <= t[1]), None)
    if tier is None:
        raise ValueError(f"works: the weights ({weight_bits} bits) must fit the largest SRAM "
                         f"({SRAMS[-1][0]}, {SRAMS[-1][1]} bits): DRAM is not modelled")
    sram, _, access_pj = tier
    parts = ("multiply", "accumulate", "requantize", "memory")
    layers = []
    for work in works:
        accesses = (_accesses(work.weight_bits) + _accesses(work.input_bits)
                    + _accesses(work.output_bits))
        row = {"layer": work.layer,
               "multiply": work.mults * work.mult_pj,
               "accumulate": work.mults * ADD_PJ[work.accumulate],
               "requantize": work.requants * REQUANT_PJ,
               "memory": accesses * access_pj,
               "accesses": accesses}
        row["total"] = sum(row[part] for part in parts)
        layers.append(row)
    result = {part: sum(row[part] for row in layers) for part in parts}
    result["total"] = sum(result[part] for part in parts)
    return {**result, "sram": sram, "weight_bits": weight_bits, "layers": layers}


def formula() -> str:
    """The estimate's formula and rules, in plain text."""
    formats = ", ".join(f"{name} {p}" for name, p in SIGNIFICAND_BITS.items())
    tiers = ", ".join(f"{name} {pj:g} pJ" for name, _, pj in SRAMS)
    return "\n".join([
        f"Energy per inference (pJ), {SOURCE}:",
        "  E = sum_layers mults*(E_mult+E_add) + requants*E_rq"
        " + E_sram*(ceil(W/64)+ceil(I/64)+ceil(O/64))",
        f"  int n x m: E_mult = 0.2*(sqrt(n*m)/8)^a, a = ln(3.1/0.2)/ln(32/8) = {ALPHA:.3f}",
        f"  float: E_mult = 1.1*(p/11)^b, b = ln(3.7/1.1)/ln(24/11) = {BETA:.3f},"
        " p significand bits",
        f"    with the hidden bit: {formats} (exponent adder ignored)",
        f"  E_add per MAC: int32 {ADD_PJ['int32']:g} pJ, fp32 {ADD_PJ['fp32']:g} pJ;"
        f" E_rq per output: 32x32 mult + two 32-bit adds = {REQUANT_PJ:g} pJ",
        "  W, I, O: a layer's stored weight bits (sparse metadata included), input and"
        " output bits,",
        "    each moved once through the smallest SRAM that holds all weights, per 64-bit access:",
        f"    {tiers} (DRAM not used: the weights fit on chip)",
    ])


def table_markdown() -> str:
    """:data:`TABLE` as a Markdown table."""
    lines = ["| name | pJ | what | source |", "|---|---:|---|---|"]
    for figure in TABLE:
        pj = f"{figure.pj:g}" if figure.pj_high is None else f"{figure.pj:g}-{figure.pj_high:g}"
        lines.append(f"| {figure.name} | {pj} | {figure.what} | {figure.source} |")
    return "\n".join(lines)
