"""Fmax against pipeline stages on ECP5 (nextpnr-ecp5, 25k, CABGA381, each
unit inside the registered wrapper), without and with DSP blocks: seed 1 and
the best of ``--seeds`` seeds, next to the delay model's estimate for the
same placement, with generic cells, flops and logic levels. Berkeley
HardFloat's IEEE multipliers and FMAs are synthesized in the same run when
``--anchors DIR`` holds them (``hardfloat/``; not part of nnarith, so those
rows are skipped, saying so, without it); the Bit Fusion RTL's figures come
from ANCHORS.md. Yosys's own ``$mul`` is the ``int8_mul arch=infer`` row.

``python bench/timing.py [--anchors ../shared/anchors] [--seeds 3] [--jobs 2]``
(part of ``make bench``); ``--quick`` measures a few points only. Writes
build/bench/timing.{json,md} and timing.svg (Fmax against stages); ``--only
PRESET,...`` measures those presets' rows (and the anchors with ``--anchors``)
into build/bench/timing_only.{json,md}; ``--no-dsp`` skips the DSP column
(a quicker run for ``bench/calibrate.py``).
"""

import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from amaranth.hdl import Instance, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import parse, parser, publish, svg_line_plot, tracked  # noqa: E402

from nnarith.hw.catalogue import build  # noqa: E402
from nnarith.hw.export import export, timing_estimate  # noqa: E402
from nnarith.hw.synth import fmax, generic  # noqa: E402
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

#: HardFloat tops (anchors/hardfloat/hardfloat_wrappers.v) and their ports.
HARDFLOAT = {
    "hf_mul_fp16": (16, 2), "hf_mul_bf16": (16, 2), "hf_mul_fp32": (32, 2),
    "hf_fma_fp16": (16, 3), "hf_fma_fp32": (32, 3),
}

#: ANCHORS.md: the Bit Fusion RTL's Fusion core (generic cells, levels, ECP5 MHz).
BITFUSION_RTL = {"cells": 1218, "levels": 46, "fmax_mhz": 65.7}


class VerilogAnchor(wiring.Component):
    """A Verilog module as a component, for the registered wrapper."""

    def __init__(self, top, width, operands):
        self.top, self.operands = top, "abc"[:operands]
        super().__init__({**{n: In(width) for n in self.operands}, "roundingMode": In(3),
                          "out": Out(width), "exceptionFlags": Out(5)})

    def elaborate(self, platform):
        m = Module()
        ports = {f"i_{n}": getattr(self, n) for n in (*self.operands, "roundingMode")}
        m.submodules.anchor = Instance(self.top, **ports, o_out=self.out,
                                       o_exceptionFlags=self.exceptionFlags)
        return m


def _best(results):
    values = [v for v in results.values() if v]
    return max(values) if values else None


def measure_unit(preset, params, stages, seeds, out, dsp=True):
    unit = build(preset, {**params, "stages": stages})
    workdir = (out / "timing" / f"{preset}_{'_'.join(f'{k}{v}' for k, v in params.items())}"
               f"_s{stages}").resolve()
    export(unit, preset, workdir)
    gates = generic(preset, workdir)
    nodsp = fmax(unit, workdir, dsp=False, seeds=seeds)
    dsp = fmax(unit, workdir, dsp=True, seeds=(1,)) if dsp else {1: None}
    estimate = timing_estimate(unit)
    pipe = getattr(unit, "timing", None)
    paths = [[d.luts, d.carry, d.chains] for d in pipe.stage_delays(pipe.ranks)] if pipe else None
    return {"unit": preset, "params": params, "stages": stages, "cells": gates["cells"],
            "flops": gates["flops"], "levels": gates["levels"],
            "fmax_mhz": nodsp[1], "best_fmax_mhz": _best(nodsp), "fmax_dsp_mhz": dsp[1],
            "model_fmax_mhz": estimate["fmax_mhz"] if estimate else None,
            "registers": estimate["registers"] if estimate else None, "stage_paths": paths}


def measure_anchor(top, width, operands, anchors, seeds, out):
    workdir = (out / "timing" / top).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    root = Path(anchors).resolve() / "hardfloat"
    reads = (f"read_verilog -I {Path(root, 'source').as_posix()} "
             f"{Path(root, 'hardfloat_wrappers.v').as_posix()}\n")
    gates = generic(top, workdir, reads=reads + f"hierarchy -check -top {top}\n")
    nodsp = fmax(VerilogAnchor(top, width, operands), workdir, dsp=False, seeds=seeds, reads=reads)
    return {"unit": top, "params": {}, "stages": 0, "cells": gates["cells"], "flops": 0,
            "levels": gates["levels"], "fmax_mhz": nodsp[1], "best_fmax_mhz": _best(nodsp),
            "fmax_dsp_mhz": None, "model_fmax_mhz": None, "registers": None}


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
    arguments.add_argument("--jobs", type=int, default=2, help="points measured at once")
    arguments.add_argument("--only", help="comma-separated presets: measure their rows only")
    arguments.add_argument("--no-dsp", action="store_true", help="skip the runs with DSP blocks")
    args = parse(arguments)
    seeds = tuple(range(1, args.seeds + 1))
    sweep = QUICK if args.quick else SWEEP
    if args.only:
        chosen = set(args.only.split(","))
        unknown = chosen - {preset for preset, _, _ in SWEEP}
        if unknown:
            arguments.error(f"--only: must name presets of the sweep, got {sorted(unknown)}")
        sweep = [row for row in sweep if row[0] in chosen]
    jobs = [(measure_unit, (preset, params, stages, seeds, args.output, not args.no_dsp))
            for preset, params, stage_counts in sweep for stages in stage_counts]
    if args.anchors and Path(args.anchors, "hardfloat").is_dir():
        jobs += [(measure_anchor, (top, width, operands, args.anchors, seeds, args.output))
                 for top, (width, operands) in HARDFLOAT.items()]
        anchors = "HardFloat synthesized in this run"
    else:
        print(f"no HardFloat under {args.anchors}: its rows are skipped")
        anchors = "HardFloat rows skipped (no --anchors)"
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(function, *job) for function, job in jobs]
        for future in tracked(as_completed(futures), "timing", "points", total=len(futures)):
            print(_row(future.result()), flush=True)
        points = [future.result() for future in futures]
    lines = ["| unit | stages | generic cells | flops | levels | Fmax seed 1 (MHz) "
             f"| best of {len(seeds)} seeds | model (MHz) | model error | Fmax with DSP (MHz) |",
             "|---|---|---|---|---|---|---|---|---|---|", *map(_row, points),
             f"| Bit Fusion RTL core (ANCHORS.md) | 0 | {BITFUSION_RTL['cells']} | 0 "
             f"| {BITFUSION_RTL['levels']} | {BITFUSION_RTL['fmax_mhz']} | | | | |",
             "", f"ECP5 25k CABGA381 without DSP blocks unless stated; {anchors}."]
    if args.only:           # a partial rerun: its own table, the plot of the whole sweep kept
        publish("timing_only", {"points": points}, lines, args.output)
        return
    publish("timing", {"points": points, "bitfusion_rtl": BITFUSION_RTL}, lines, args.output)
    stage_axis = list(range(0, MAX_STAGES + 1))
    series = []
    for preset, params, _ in sweep:
        label = f"{preset} {' '.join(f'{k}={v}' for k, v in params.items())}".strip()
        by_stage = {p["stages"]: p["best_fmax_mhz"] or 0 for p in points
                    if p["unit"] == preset and p["params"] == params}
        series.append((label, [by_stage.get(s, 0) for s in stage_axis]))
    (args.output / "timing.svg").write_text(svg_line_plot(
        "ECP5 Fmax in MHz (best seed, no DSP; y, log) against pipeline stages (x)",
        stage_axis, series))


if __name__ == "__main__":
    main()
