"""Fmax against pipeline stages on ECP5 (nextpnr-ecp5, 25k, CABGA381, each
unit inside the registered wrapper), without and with DSP blocks: seed 1 and
the best of ``--seeds`` seeds, next to the delay model's estimate for the
same placement, with generic cells, flops and logic levels. Berkeley
HardFloat's IEEE multipliers and FMAs are synthesized in the same run when
``--anchors DIR`` holds them (``hardfloat/``; not part of nnarith, so those
rows are skipped, saying so, without it), as Verilog points; the Bit Fusion
RTL's figures come from ANCHORS.md. Yosys's own ``$mul`` is the ``int8_mul
arch=infer`` row. Every row is a synth and an fmax point of the sweep
database build/bench/bench.db (every worker; a rerun places only what
changed, and an interrupted run resumes).

``python bench/timing.py [--anchors ../shared/anchors] [--seeds 3] [--workers 2]``
(part of ``make bench``); ``--quick`` measures a few points only (into
timing_quick.{json,md}). Writes build/bench/timing.{json,md}, the README's
table and timing.svg (Fmax against stages); ``--only PRESET,...`` measures
those presets' rows (and the anchors with ``--anchors``) into
build/bench/timing_only.{json,md}.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import (HARDFLOAT, fmax_by_seed, hardfloat_points, parse, parser,  # noqa: E402
                     publish, publish_figure, svg_line_plot, synthesized_rows)

from nnarith import sweep  # noqa: E402
from nnarith.hw.catalogue import build  # noqa: E402
from nnarith.hw.export import timing_estimate  # noqa: E402
from nnarith.hw.unit import MAX_STAGES  # noqa: E402

#: (preset, parameter overrides, stage counts)
SWEEP = [
    ("int8_mul", {"arch": "infer"}, (0, 2)),
    ("int8_mul", {"arch": "booth"}, (0, 2, 3, 4)),
    ("fp16_mul", {"arch": "booth"}, (0, 4, 8, 10, 12, 16, 18, 20)),
    ("fp16_mul", {"arch": "infer"}, (0, 8)),
    ("bf16_mul", {"arch": "booth"}, (0, 8, 10, 16, 18, 20)),
    ("fp32_mul", {"arch": "booth"}, (0, 10, 14, 20, 24)),
    ("fp16_fma32", {"arch": "booth"}, (0, 12, 16, 20, 24)),
    ("int8_mac", {"arch": "booth"}, (1, 3, 4)),
    ("requant", {}, (0, 4)),
    ("requant", {"arch": "booth"}, (8, 14, 20, 24)),
    ("fusion_unit", {}, (1, 2, 8)),
    ("fusion_unit", {"brick": "table"}, (1, 8, 10)),
    ("dp4a", {"arch": "booth"}, (0, 7)),
    ("mma_int8", {"m": 1, "n": 1}, (0, 2)),
    ("mma_int8", {"m": 1, "n": 1, "arch": "booth"}, (5, 7)),
    ("mma_fp16_v100", {"m": 1, "n": 1}, (0, 8, 12)),
    ("mma_fp16_v100", {"m": 1, "n": 1, "arch": "booth"}, (16, 20, 24)),
    ("mma_fp16", {"m": 1, "n": 1}, (0, 8, 12)),
    ("sparse_join", {}, (1, 4)),
    ("sparse_join", {"arch": "booth"}, (6,)),
    ("csr_join", {}, (1, 3)),
    ("csr_join", {"width": 2}, (3,)),
]
QUICK = [("int8_mul", {"arch": "booth"}, (0, 4)), ("fp16_mul", {"arch": "booth"}, (0, 10))]

#: ANCHORS.md: the Bit Fusion RTL's Fusion core (generic cells, levels, ECP5 MHz).
BITFUSION_RTL = {"cells": 1218, "levels": 46, "fmax_mhz": 65.7}


def _points(rows, seeds):
    """A synth (generic) and an fmax point per row and stage count."""
    points = []
    for preset, params, stages in rows:
        overrides = {k: [v] for k, v in {**params, "stages": stages}.items()}
        points += sweep.grid(preset, overrides, "synth")
        points += sweep.grid(preset, overrides, "fmax", {"seeds": list(seeds)})
    return points


def _measured(unit, params, stages, synth, fmax, seeds, unit_object=None):
    """A table row from a synth and an fmax row (the model's estimate from the unit)."""
    nodsp, dsp = (fmax_by_seed(fmax, key) for key in ("ecp5_nodsp", "ecp5"))
    estimate = timing_estimate(unit_object) if unit_object is not None else None
    pipe = getattr(unit_object, "timing", None)
    paths = [[d.luts, d.carry, d.chains] for d in pipe.stage_delays(pipe.ranks)] if pipe else None
    reached = [mhz for mhz in nodsp.values() if mhz]
    return {"unit": unit, "params": params, "stages": stages,
            "cells": synth["metrics"]["cells"], "flops": synth["metrics"]["flops"],
            "levels": synth["metrics"]["levels"], "fmax_mhz": nodsp.get(seeds[0]),
            "best_fmax_mhz": max(reached) if reached else None,
            "fmax_dsp_mhz": dsp.get(seeds[0]),
            "model_fmax_mhz": estimate["fmax_mhz"] if estimate else None,
            "registers": estimate["registers"] if estimate else None, "stage_paths": paths}


def _row(point):
    params = " ".join(f"{k}={v}" for k, v in point["params"].items())
    error = ""
    if point["model_fmax_mhz"] and point["fmax_mhz"]:
        error = f"{100 * (point['model_fmax_mhz'] / point['fmax_mhz'] - 1):+.0f} %"
    return (f"| {point['unit']} {params} | {point['stages']} | {point['cells']} | {point['flops']} "
            f"| {point['levels']} | {point['fmax_mhz']} | {point['best_fmax_mhz']} "
            f"| {point['model_fmax_mhz'] or ''} | {error} | {point['fmax_dsp_mhz'] or ''} |")


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--quick", action="store_true", help="a few points only")
    arguments.add_argument("--anchors", help="folder holding hardfloat/ (../shared/anchors)")
    arguments.add_argument("--seeds", type=int, default=3, help="nextpnr seeds for the best Fmax")
    arguments.add_argument("--workers", type=int, default=None,
                           help="local Dask workers (default: one per core)")
    arguments.add_argument("--only", help="comma-separated presets: measure their rows only")
    args = parse(arguments)
    seeds = tuple(range(1, args.seeds + 1))
    chosen = QUICK if args.quick else SWEEP
    if args.only:
        names = set(args.only.split(","))
        unknown = names - {preset for preset, _, _ in SWEEP}
        if unknown:
            arguments.error(f"--only: must name presets of the sweep, got {sorted(unknown)}")
        chosen = [row for row in chosen if row[0] in names]
    rows = [(preset, params, stages) for preset, params, stage_counts in chosen
            for stages in stage_counts]
    hardfloat = hardfloat_points(args.anchors, HARDFLOAT, "synth")
    if hardfloat:
        hardfloat += hardfloat_points(args.anchors, HARDFLOAT, "fmax", {"seeds": list(seeds)})
    anchors = ("HardFloat synthesized in this run (Verilog points)" if hardfloat
               else "HardFloat rows skipped (no --anchors)")
    found = synthesized_rows(_points(rows, seeds) + (hardfloat or []), args.output, args.workers)
    points = [_measured(preset, params, stages, synth, fmax, seeds,
                        build(preset, {**params, "stages": stages}))
              for (preset, params, stages), synth, fmax in zip(rows, found[0::2], found[1::2])]
    if hardfloat:
        tail = found[2 * len(rows):]
        points += [_measured(top, {}, 0, synth, fmax, seeds)
                   for top, synth, fmax in zip(HARDFLOAT, tail, tail[len(HARDFLOAT):])]
    lines = ["| unit | stages | generic cells | flops | levels | Fmax seed 1 (MHz) "
             f"| best of {len(seeds)} seeds | model (MHz) | model error | Fmax with DSP (MHz) |",
             "|---|---|---|---|---|---|---|---|---|---|", *map(_row, points),
             f"| Bit Fusion RTL core (ANCHORS.md) | 0 | {BITFUSION_RTL['cells']} | 0 "
             f"| {BITFUSION_RTL['levels']} | {BITFUSION_RTL['fmax_mhz']} | | | | |",
             "", f"ECP5 25k CABGA381 without DSP blocks unless stated; {anchors}."]
    if args.only or args.quick:     # a partial run: its own table, the whole sweep's kept
        publish("timing_only" if args.only else "timing_quick", {"points": points}, lines,
                args.output)
        return
    publish("timing", {"points": points, "bitfusion_rtl": BITFUSION_RTL}, lines, args.output)
    stage_axis = list(range(0, MAX_STAGES + 1))
    series = []
    for preset, params, _ in chosen:
        label = f"{preset} {' '.join(f'{k}={v}' for k, v in params.items())}".strip()
        by_stage = {p["stages"]: p["best_fmax_mhz"] or 0 for p in points
                    if p["unit"] == preset and p["params"] == params}
        series.append((label, [by_stage.get(s, 0) for s in stage_axis]))
    publish_figure("timing", svg_line_plot(
        "ECP5 Fmax in MHz (best seed, no DSP; y, log) against pipeline stages (x)",
        stage_axis, series), args.output)


if __name__ == "__main__":
    main()
