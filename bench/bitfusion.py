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

from nnarith import sweep
from nnarith.golden.bitfusion import pair_count
from nnarith.hw.formal import core_verilog
from nnarith.hw.temporal import TemporalPE

from results import (number, parse, parser, publish, publish_figure, svg_line_plot,
                     synthesized)

#: Precision pairs (activation x weight) of the throughput table and plot.
PAIRS = [(2, 2), (4, 2), (4, 4), (8, 2), (8, 4), (8, 8)]

#: (key, label, preset, overrides). Area ratios use the keys. The Fusion core
#: (its dot product without the accumulator) is not a preset: a Verilog point
#: of the module the formal proofs check.
UNITS = [
    ("int8_mul", "`int8_mul` (signed 8×8, inferred `*`)", "int8_mul", {}),
    ("int8_mul_booth", "`int8_mul -p arch=booth`", "int8_mul", {"arch": "booth"}),
    ("fusion_core", "Fusion core (16 bricks + shift-add tree, no accumulator)", None, {}),
    ("int8_mac", "`int8_mac` (8×8 PE: product + 32-bit running sum)", "int8_mac", {}),
    ("int8_mac_booth", "`int8_mac -p arch=booth`", "int8_mac", {"arch": "booth"}),
    ("fusion_unit", "`fusion_unit` (core + 32-bit running sum)", "fusion_unit", {}),
    ("temporal_pe", "`temporal_pe` (one 4×4 multiplier, 1–4 cycles)", "temporal_pe", {}),
    ("temporal_pe_m2", "`temporal_pe -p mult_bits=2` (one 2×2 multiplier, 1–16 cycles)",
     "temporal_pe", {"mult_bits": 2}),
    ("fp16_mul", "`fp16_mul`", "fp16_mul", {}),
    ("fusion_array", "`fusion_array` (4×4 Fusion Units, systolic, skew/deskew)", "fusion_array",
     {}),
]
#: Area ratios reported: (numerator, denominator, label, Bit Fusion's own figure).
RATIOS = [
    ("fusion_unit", "int8_mac", "`fusion_unit` / `int8_mac` (PE against PE, both with "
     "accumulator)", "2.5× µm² (paper's 45 nm table: 1,733 vs 687.6 µm²)"),
    ("fusion_core", "int8_mul", "Fusion core / `int8_mul` (no accumulators)",
     "2.9× generic cells (published RTL, 1,200 cells, same flow)"),
    ("fusion_unit", "int8_mac_booth", "`fusion_unit` / `int8_mac -p arch=booth`", "–"),
    ("temporal_pe", "int8_mac", "`temporal_pe` / `int8_mac`", "–"),
    ("fusion_array", "fusion_unit", "`fusion_array` / `fusion_unit` (16 PEs and the delay "
     "lines)", "–"),
]


def area_table(out, liberty):
    """Every unit a synth point of the bench database (flat: the array too)."""
    settings = {"targets": ["generic", "asic"] if liberty else ["generic"], "liberty": liberty}
    core = out / "verilog" / "fusion_core.v"
    core.parent.mkdir(parents=True, exist_ok=True)
    core.write_text(core_verilog(8, 2, "adder"))
    points = []
    for _, _, preset, overrides in UNITS:
        points += (sweep.grid(preset, {k: [v] for k, v in overrides.items()}, "synth", settings)
                   if preset else sweep.verilog_grid(["fusion_core"], [core], (), "synth",
                                                     settings))
    rows = {}
    for (key, label, _, _), metrics in zip(UNITS, synthesized(points, out)):
        rows[key] = {"key": key, "unit": label, "cells": metrics["cells"],
                     "flops": metrics["flops"], "levels": metrics["levels"],
                     "area_um2": metrics.get("um2"), "seconds": metrics["seconds"]}
    lines = ["| unit | generic cells | flops | levels | NanGate45 µm² |", "|---|---|---|---|---|"]
    lines += [f"| {r['unit']} | {r['cells']:,} | {r['flops']:,} | {r['levels']} | "
              f"{number(r['area_um2'], 1)} |" for r in rows.values()]
    lines += ["", "| ratio | generic cells | NanGate45 µm² | Bit Fusion's own |",
              "|---|---|---|---|"]
    ratios = []
    for num, den, label, theirs in RATIOS:
        cells = rows[num]["cells"] / rows[den]["cells"]
        um2 = (rows[num]["area_um2"] / rows[den]["area_um2"]
               if rows[num]["area_um2"] and rows[den]["area_um2"] else None)
        ratios.append({"of": num, "to": den, "cells": round(cells, 2),
                       "area_um2": round(um2, 2) if um2 else None})
        lines.append(f"| {label} | {cells:.2f}× | {f'{um2:.2f}×' if um2 else 'n/a'} | "
                     f"{theirs} |")
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


#: The throughput table's units: (key, label); the fixed units complete one
#: product per cycle at every precision, so their counts share a row.
THROUGHPUT_UNITS = [("fusion_unit", "`fusion_unit`"), ("fusion_array", "`fusion_array`"),
                    ("temporal_pe", "`temporal_pe`"),
                    ("temporal_pe_m2", "`temporal_pe -p mult_bits=2`"),
                    ("int8_mul", "`int8_mul` (no accumulator)"), ("int8_mac", "`int8_mac`"),
                    ("fp16_mul", "`fp16_mul` (no accumulator)")]
FIXED = ("int8_mul", "int8_mac", "fp16_mul")


def throughput_table(rows, out):
    data = []
    keys = [key for key, _ in THROUGHPUT_UNITS]
    area_key = "area_um2" if all(rows[k]["area_um2"] for k in keys) else "cells"
    per = "1000 µm²" if area_key == "area_um2" else "1000 generic cells"
    lines = ["| unit | " + " | ".join(f"{pa}×{pb}" for pa, pb in PAIRS) + " |",
             "|---|" + "---|" * len(PAIRS)]
    dense_lines = []
    for key, label in THROUGHPUT_UNITS:
        counts = [products_per_cycle(key, pa, pb) for pa, pb in PAIRS]
        dense = [1000 * c / rows[key][area_key] for c in counts]
        data.append({"unit": key, "area": rows[key][area_key], "area_unit": area_key,
                     "pairs": [f"{pa}x{pb}" for pa, pb in PAIRS],
                     "products_per_cycle": counts, "per_1000_area": dense})
        if key not in FIXED:
            lines.append(f"| {label} | " + " | ".join(f"{c:g}" for c in counts) + " |")
        elif key == FIXED[0]:
            lines.append("| " + ", ".join(f"`{k}`" for k in FIXED) + " | "
                         + " | ".join(f"{c:g}" for c in counts) + " |")
        prefix = f"per {per}: " if not dense_lines else ""
        dense_lines.append(f"| {prefix}{label} | " + " | ".join(f"{d:.3g}" for d in dense)
                           + " |")
    publish("bitfusion_throughput", data, lines + dense_lines, out)
    series = [(row["unit"], row["per_1000_area"]) for row in data]
    publish_figure("bitfusion_throughput", svg_line_plot(
        f"Products per cycle per {per} (log scale) vs precision (a x w bits)",
        [f"{pa}x{pb}" for pa, pb in PAIRS], series), out)


def main():
    arguments = parser(__doc__)
    args = parse(arguments)
    out = args.output
    rows = area_table(out, args.liberty)
    throughput_table(rows, out)


if __name__ == "__main__":
    main()
