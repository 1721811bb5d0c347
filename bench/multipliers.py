"""Area of our Booth/Dadda multiplier against Yosys's own `$mul` mapping.

For signed 8x8, 16x16 and 32x32: generic gate cells (synth + abc -g) and
NanGate45 µm² (abc -liberty) of
  * nnarith arch=booth   (our radix-4 Booth + Dadda tree, as gates)
  * Yosys synth -booth   (Yosys's Booth pass on the inferred `$mul`)
  * Yosys synth          (Yosys's default `$mul` mapping)
Each is a synth point of the sweep database build/bench/bench.db (a rerun
synthesizes only what changed); writes build/bench/multipliers.{json,md} and
the README's table. Run: make bench (or python bench/multipliers.py).
"""

from nnarith import sweep

from results import parse, parser, publish, synthesized

FLOWS = [("nnarith booth", "booth", ""),
         ("yosys synth -booth", "infer", "-booth"),
         ("yosys synth", "infer", "")]


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--widths", type=int, nargs="*", default=[8, 16, 32])
    args = parse(arguments)
    targets = ["generic", "asic"] if args.liberty else ["generic"]
    runs = [(width, flow) for width in args.widths for flow in FLOWS]
    points = [point for width, (_, arch, options) in runs
              for point in sweep.grid("int8_mul", {"a_width": [width], "b_width": [width],
                                                   "arch": [arch]}, "synth",
                                      {"targets": targets, "liberty": args.liberty,
                                       "synth_options": options})]
    rows = [{"width": width, "flow": flow, "cells": metrics["cells"], "levels": metrics["levels"],
             "area_um2": metrics.get("um2")}
            for (width, (flow, _, _)), metrics in zip(runs, synthesized(points, args.output))]
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
    publish("multipliers", rows, lines, args.output)


if __name__ == "__main__":
    main()
