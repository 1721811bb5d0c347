"""Area of our Booth/Dadda multiplier against Yosys's own `$mul` mapping.

For signed 8x8, 16x16 and 32x32: generic gate cells (synth + abc -g) and
NanGate45 µm² (abc -liberty) of
  * nnarith arch=booth   (our radix-4 Booth + Dadda tree, as gates)
  * Yosys synth -booth   (Yosys's Booth pass on the inferred `$mul`)
  * Yosys synth          (Yosys's default `$mul` mapping)
Writes build/bench/multipliers.{json,md}. Run: make bench (or python bench/multipliers.py).
"""


from nnarith.hw.catalogue import build
from nnarith.hw.synth import synthesize

from results import parse, parser, publish, tracked

FLOWS = [("nnarith booth", {"arch": "booth"}, ""),
         ("yosys synth -booth", {"arch": "infer"}, "-booth"),
         ("yosys synth", {"arch": "infer"}, "")]


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--widths", type=int, nargs="*", default=[8, 16, 32])
    args = parse(arguments)
    targets = ("generic", "asic") if args.liberty else ("generic",)
    out = args.output
    rows = []
    for width, (flow, overrides, options) in tracked(
            [(width, flow) for width in args.widths for flow in FLOWS], "multipliers"):
        unit = build("int8_mul", {"a_width": width, "b_width": width, **overrides})
        name = f"mul{width}_{flow.replace(' ', '_').replace('-', '')}"
        result = synthesize(unit, "mul", out / name, targets=targets, liberty=args.liberty,
                            synth_options=options)
        rows.append({"width": width, "flow": flow, "cells": result["generic"]["cells"],
                     "levels": result["generic"]["levels"],
                     "area_um2": result.get("asic", {}).get("area_um2")})
        print(rows[-1], flush=True)
    lines = ["| signed | flow | generic cells | levels | NanGate45 µm² | µm² vs synth -booth | µm² vs synth |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        same = {r["flow"]: r for r in rows if r["width"] == row["width"]}

        def ratio(flow):
            ref = same[flow]["area_um2"]
            return f"{row['area_um2'] / ref:.3f}" if row["area_um2"] and ref else "n/a"
        lines.append(f"| {row['width']}x{row['width']} | {row['flow']} | {row['cells']} | "
                     f"{row['levels']} | {row['area_um2'] or 'n/a'} | "
                     f"{ratio('yosys synth -booth')} | {ratio('yosys synth')} |")
    publish("multipliers", rows, lines, out)


if __name__ == "__main__":
    main()
