"""Bit Fusion: what run-time precision costs in area and what it buys in throughput.

1. Area (generic cells, logic levels, NanGate45 µm²) of the Fusion Unit's
   combinational dot product against our plain signed 8x8 multiplier
   (``int8_mul``, inferred ``*`` and Booth), and of the Fusion Unit with its
   accumulator against the int8 MAC, as ratios. Bit Fusion's own RTL is 2.9x
   a Yosys 8x8 ``$mul`` in generic cells and 2.5x a fixed 8x8 PE in µm²
   (ANCHORS.md); the goal is <= 2.3x. Also the temporal PE (one 4x4 or 2x2
   multiplier iterating over slices) and the 4x4 Fusion array.
2. Throughput per precision pair: products per cycle and per cycle per
   1000 µm², for the Fusion Unit, the 4x4 array, the temporal PE, int8_mul,
   int8_mac and fp16_mul (fixed units: one product per cycle whenever the
   operands fit them).
3. A plot of area-normalized throughput against precision (SVG).

Writes build/bench/bitfusion_area.{json,md}, bitfusion_throughput.{json,md}
and bitfusion_throughput.svg.
Run: make bench (or python bench/bitfusion.py --liberty PATH).
"""

import time

from amaranth.hdl import Module, signed
from amaranth.lib.wiring import In, Out

from nnarith.golden.bitfusion import pair_count
from nnarith.hw.bitfusion import FusionCore
from nnarith.hw.catalogue import build
from nnarith.hw.synth import synthesize
from nnarith.hw.temporal import TemporalPE
from nnarith.hw.unit import Unit

from results import parse, parser, publish, svg_line_plot, tracked

#: Precision pairs (activation x weight) of the throughput table and plot.
PAIRS = [(2, 2), (4, 2), (4, 4), (8, 2), (8, 4), (8, 8)]


class FusionCoreUnit(Unit):
    """The Fusion Unit's dot product without accumulator, as a combinational
    unit, so that it synthesizes like ``int8_mul``."""

    def __init__(self):
        core = FusionCore()
        self.core = core
        members = {name: (In if name in ("a", "w", "mode") else Out)(len(getattr(core, name)))
                   for name in ("a", "w", "mode", "mode_error")}
        members["dot"] = Out(signed(len(core.dot)))
        docs = {name: ("data", name) for name in members}
        super().__init__({}, members, docs)

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        m.d.comb += [self.core.a.eq(self.a), self.core.w.eq(self.w),
                     self.core.mode.eq(self.mode), self.dot.eq(self.core.dot),
                     self.mode_error.eq(self.core.mode_error)]
        return m


#: (key, label, unit factory). Area ratios use the keys.
UNITS = [
    ("int8_mul", "int8_mul (signed 8x8, inferred *)", lambda: build("int8_mul")),
    ("int8_mul_booth", "int8_mul (signed 8x8, Booth)",
     lambda: build("int8_mul", {"arch": "booth"})),
    ("fusion_core", "Fusion core (16 BitBricks + shift-add tree, no accumulator)", FusionCoreUnit),
    ("int8_mac", "int8_mac (8x8, 32-bit running sum)", lambda: build("int8_mac")),
    ("int8_mac_booth", "int8_mac (Booth)", lambda: build("int8_mac", {"arch": "booth"})),
    ("fusion_unit", "fusion_unit (core + 32-bit running sum)", lambda: build("fusion_unit")),
    ("temporal_pe", "temporal_pe (4x4 multiplier, 1-4 cycles)", lambda: build("temporal_pe")),
    ("temporal_pe_m2", "temporal_pe mult_bits=2 (2x2 multiplier, 1-16 cycles)",
     lambda: build("temporal_pe", {"mult_bits": 2})),
    ("fp16_mul", "fp16_mul (IEEE binary16)", lambda: build("fp16_mul")),
    ("fusion_array", "fusion_array (4x4 Fusion Units, systolic)", lambda: build("fusion_array")),
]
#: Area ratios reported: (numerator, denominator).
RATIOS = [("fusion_core", "int8_mul"), ("fusion_core", "int8_mul_booth"),
          ("fusion_unit", "int8_mac"), ("fusion_unit", "int8_mac_booth"),
          ("temporal_pe", "int8_mac"), ("temporal_pe", "int8_mac_booth"),
          ("fusion_array", "fusion_unit")]


def area_table(out, liberty):
    targets = ("generic", "asic") if liberty else ("generic",)
    rows = {}
    for key, label, factory in tracked(UNITS, "bitfusion area"):
        start = time.perf_counter()
        result = synthesize(factory(), key, out / "synth" / f"bitfusion_{key}", targets=targets,
                            liberty=liberty)
        rows[key] = {"key": key, "unit": label, "cells": result["generic"]["cells"],
                     "flops": result["generic"]["flops"], "levels": result["generic"]["levels"],
                     "area_um2": result.get("asic", {}).get("area_um2"),
                     "seconds": round(time.perf_counter() - start, 1)}
        print(rows[key], flush=True)
    lines = ["| unit | generic cells | flops | levels | NanGate45 µm² |", "|---|---|---|---|---|"]
    lines += [f"| {r['unit']} | {r['cells']} | {r['flops']} | {r['levels']} | "
              f"{r['area_um2'] or 'n/a'} |" for r in rows.values()]
    lines += ["", "| ratio | generic cells | NanGate45 µm² |", "|---|---|---|"]
    ratios = []
    for num, den in RATIOS:
        cells = rows[num]["cells"] / rows[den]["cells"]
        um2 = (rows[num]["area_um2"] / rows[den]["area_um2"]
               if rows[num]["area_um2"] and rows[den]["area_um2"] else None)
        ratios.append({"of": num, "to": den, "cells": round(cells, 2),
                       "area_um2": round(um2, 2) if um2 else None})
        lines.append(f"| {num} / {den} | {cells:.2f}x | "
                     f"{f'{um2:.2f}x' if um2 else 'n/a'} |")
    lines.append("\nBit Fusion's published RTL: 2.9x a Yosys 8x8 `$mul` in generic cells, 2.5x "
                 "a fixed 8x8 PE in µm² (its 45 nm table); goal <= 2.3x.")
    publish("bitfusion_area", {"units": list(rows.values()), "ratios": ratios}, lines, out)
    return rows


def products_per_cycle(key, pa, pb):
    """Products of ``pa``-bit by ``pb``-bit operands each unit completes per cycle."""
    if key == "fusion_unit":
        return pair_count(pa, pb)
    if key == "fusion_array":
        return 16 * pair_count(pa, pb)
    if key.startswith("temporal_pe"):
        return 1 / TemporalPE.cycles(pa, pb, 2 if key.endswith("m2") else 4)
    return 1          # fixed 8x8 integer units, and fp16 (exact while the product fits 11 bits)


THROUGHPUT_UNITS = ["fusion_unit", "fusion_array", "temporal_pe", "temporal_pe_m2", "int8_mul",
                    "int8_mac", "fp16_mul"]


def throughput_table(rows, out):
    data, lines = [], []
    area_key = "area_um2" if all(rows[k]["area_um2"] for k in THROUGHPUT_UNITS) else "cells"
    per = "1000 µm²" if area_key == "area_um2" else "1000 generic cells"
    header = "| unit | " + " | ".join(f"{pa}x{pb}" for pa, pb in PAIRS) + " |"
    rule = "|---|" + "---|" * len(PAIRS)
    counts_lines, dense_lines = [], []
    for key in THROUGHPUT_UNITS:
        counts = [products_per_cycle(key, pa, pb) for pa, pb in PAIRS]
        dense = [1000 * c / rows[key][area_key] for c in counts]
        data.append({"unit": key, "area": rows[key][area_key], "area_unit": area_key,
                     "pairs": [f"{pa}x{pb}" for pa, pb in PAIRS],
                     "products_per_cycle": counts, "per_1000_area": dense})
        counts_lines.append(f"| {key} | " + " | ".join(f"{c:g}" for c in counts) + " |")
        dense_lines.append(f"| {key} | " + " | ".join(f"{d:.3g}" for d in dense) + " |")
    lines += ["Products per cycle (a x w bits):", "", header, rule, *counts_lines, "",
              f"Products per cycle per {per}:", "", header, rule, *dense_lines]
    lines.append("\nint8_mul/int8_mac/fp16_mul: one product per cycle at any of these "
                 "precisions (fp16 exact only while the product fits 11 significant bits: "
                 "up to 4x4 and 8x2); int8_mul and fp16_mul have no accumulator, so compare "
                 "fusion_unit and temporal_pe with int8_mac. temporal_pe: 1/(ceil(pa/m)*"
                 "ceil(pb/m)). Signedness does not change any of these.")
    publish("bitfusion_throughput", data, lines, out)
    series = [(row["unit"], row["per_1000_area"]) for row in data]
    (out / "bitfusion_throughput.svg").write_text(svg_line_plot(
        f"Products per cycle per {per} (log scale) vs precision (a x w bits)",
        [f"{pa}x{pb}" for pa, pb in PAIRS], series))
    print(f"wrote {out / 'bitfusion_throughput.svg'}")


def main():
    arguments = parser(__doc__)
    args = parse(arguments)
    out = args.output
    rows = area_table(out, args.liberty)
    throughput_table(rows, out)


if __name__ == "__main__":
    main()
