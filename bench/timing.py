"""Fmax against pipeline stages: nextpnr-ecp5 (25k, CABGA381, seed 1, no DSP)
on each unit inside the registered wrapper, next to the delay model's
estimate for the same placement, generic cells and flops.

``python bench/timing.py`` (part of ``make bench``); ``--quick`` measures a
few points only. Figures go to build/bench/timing.{json,md}.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import parse, parser, publish  # noqa: E402

from hw.catalogue import build  # noqa: E402
from hw.synth import synthesize  # noqa: E402

#: (preset, parameter overrides, stage counts)
SWEEP = [
    ("int8_mul", {"arch": "booth"}, (0, 2, 4)),
    ("fp16_mul", {"arch": "booth"}, (0, 3, 6, 8, 10)),
    ("bf16_mul", {"arch": "booth"}, (0, 8)),
    ("fp32_mul", {"arch": "booth"}, (0, 10)),
    ("fp16_fma32", {"arch": "booth"}, (0, 8)),
    ("int8_mac", {"arch": "booth"}, (1, 3)),
    ("requant", {}, (0, 4)),
]
QUICK = [("int8_mul", {"arch": "booth"}, (0, 4)), ("fp16_mul", {"arch": "booth"}, (0, 8))]


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--quick", action="store_true", help="a few points only")
    args = parse(arguments)
    rows, data = [], []
    for preset, params, stage_counts in (QUICK if args.quick else SWEEP):
        for stages in stage_counts:
            unit = build(preset, {**params, "stages": stages})
            workdir = Path("build/bench/timing") / f"{preset}_s{stages}"
            result = synthesize(unit, preset, workdir, targets=("generic", "ecp5"))
            nodsp = result["ecp5_nodsp"]
            point = {"preset": preset, "params": params, "stages": stages,
                     "cells": result["generic"]["cells"], "flops": result["generic"]["flops"],
                     "lut4": nodsp["lut4"], "ff": nodsp["ff"],
                     "fmax_mhz": nodsp["fmax_mhz"], "model_fmax_mhz": nodsp.get("model_fmax_mhz"),
                     "fmax_dsp_mhz": result["ecp5"]["fmax_mhz"]}
            data.append(point)
            error = (f"{100 * (point['model_fmax_mhz'] / point['fmax_mhz'] - 1):+.0f} %"
                     if point["model_fmax_mhz"] and point["fmax_mhz"] else "")
            rows.append(f"| {preset} {' '.join(f'{k}={v}' for k, v in params.items())} | {stages} "
                        f"| {point['cells']} | {point['flops']} | {point['lut4']} "
                        f"| {point['fmax_mhz']} | {point['model_fmax_mhz']} | {error} "
                        f"| {point['fmax_dsp_mhz']} |")
            print(rows[-1], flush=True)
    lines = ["| unit | stages | generic cells | flops | ECP5 LUT4 | Fmax no DSP (MHz) "
             "| model (MHz) | model error | Fmax with DSP (MHz) |",
             "|---|---|---|---|---|---|---|---|---|", *rows]
    publish("timing", data, lines, args.output)


if __name__ == "__main__":
    main()
