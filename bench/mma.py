"""Matrix multiply-accumulate blocks: what fusing saves and how fast they run.

1. Area (generic cells, NanGate45 µm²) of whole MMA blocks, each synthesized
   from its parts (``nnarith sweep --split``: the output element once, the
   top with its shared decoders, stitched), beside the figure derived from
   one output element (m = n = 1, the full K, with its own decoders) x m·n,
   and against m·n·k of our fp16 x fp16 + fp32 FMAs (one ``fp16_fma32``
   synthesized): the gain from one exact dot-product tree per output. Every
   synthesis is a point of the sweep database build/bench/bench.db (a rerun
   synthesizes only what changed).
2. ECP5 LUTs with and without DSP blocks, Fmax (nextpnr seed 1, 25k device)
   and effective GOPS = 2·m·n·k operations per cycle x Fmax, at 2 and 8
   pipeline stages: fmax points of the same database. A whole 4x4 float
   block does not fit the 25k device, so by default this part places one
   output element (m = n = 1, the full K) and labels the block's LUTs and
   GOPS as derived (x m·n).

Writes build/bench/mma_area.{json,md} and mma_fpga.{json,md} and the README's
tables (mma_fpga_only.{json,md} instead when ``--fpga-presets``,
``--stages`` or ``--fpga-block`` narrow or change the placements).
Run: make bench (or python bench/mma.py --liberty PATH; --help for the parts).
"""

from nnarith import sweep
from nnarith.hw.catalogue import get_preset

from results import (fmax_by_seed, number, parse, parser, publish, synthesized,
                     synthesized_rows)

#: (label, preset) of the blocks compared in the area tables.
MMAS = [
    ("fp16 4x4x4 fused (exact sum, one rounding)", "mma_fp16"),
    ("fp16 4x4x4 V100 tensor-core numerics", "mma_fp16_v100"),
    ("bf16 4x4x8 A100 tensor-core numerics", "mma_bf16"),
    ("int8 4x4x4 -> int32", "mma_int8"),
    ("tf32 4x4x4 A100 tensor-core numerics", "mma_tf32_a100"),
    ("e4m3 4x4x32 Ada native (13-bit blocks of 16)", "mma_e4m3_ada"),
    ("e4m3 4x4x32 H100 wgmma (13-bit block of 32)", "mma_e4m3_h100"),
    ("e5m2 4x4x32 -> fp16 B200 pair split", "mma_e5m2_b200"),
]
FMA = "fp16_fma32"


def _macs(params):
    return params.get("m", 1) * params.get("n", 1) * params.get("k", 1)


def _shape_overrides(preset, per_output):
    """One output element (m = n = 1, the full K) or the preset's own block."""
    return get_preset(preset).one_output() if per_output else {}


def area_tables(out, liberty, presets, workers=None):
    """The whole blocks (split), one output element each and the FMA, as sweep points."""
    settings = {"targets": ["generic", "asic"] if liberty else ["generic"], "liberty": liberty}
    chosen = [(label, preset) for label, preset in MMAS if preset in presets]
    points = sweep.grid(FMA, {}, "synth", settings)
    for _, preset in chosen:
        points += sweep.grid(preset, {}, "synth", {**settings, "split": True})
        points += sweep.grid(preset, {k: [v] for k, v in get_preset(preset).one_output().items()},
                             "synth", settings)
    fma, *results = synthesized(points, out, workers)
    rows = []
    for (label, preset), block, element in zip(chosen, results[0::2], results[1::2]):
        params = get_preset(preset).resolve()
        macs, outputs = _macs(params), params["m"] * params["n"]
        rows.append({"label": label, "preset": preset, "macs": macs, "block": block,
                     "element": element, "derived_cells": element["cells"] * outputs,
                     "derived_um2": element.get("um2") and element["um2"] * outputs})
    lines = ["| block | preset | MACs | whole block: cells | levels | NanGate45 µm² | µm² per MAC "
             "| vs MACs x FMA (µm²) | derived (element x m·n): cells | µm² | whole / derived "
             "(µm²) | synthesis s (parts + stitch) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        block = r["block"]
        um2 = block.get("um2")
        ratio = f"{um2 / (r['macs'] * fma['um2']):.2f}" if um2 and fma.get("um2") else "n/a"
        versus = (f"{um2 / r['derived_um2']:.2f}" if um2 and r["derived_um2"]
                  else f"{block['cells'] / r['derived_cells']:.2f} (cells)")
        lines.append(f"| {r['label']} | `{r['preset']}` | {r['macs']} | {block['cells']:,} | "
                     f"{block['levels']} | {number(um2)} | {number(um2 and um2 / r['macs'], 1)} | "
                     f"{ratio} | {r['derived_cells']:,} | {number(r['derived_um2'])} | {versus} | "
                     f"{block['part_seconds']:.0f} + {block['seconds']:.0f} |")
    lines.append(f"\nReference: `{FMA}` (fp16 x fp16 + fp32 FMA) {fma['cells']:,} generic cells, "
                 f"{number(fma.get('um2'))} µm², {fma['levels']} levels. Whole block: "
                 "`nnarith sweep --split` synthesizes the output element once (a part: every output is the "
                 "same module), then the top (inputs, the shared A and B decoders, outputs) with "
                 "the part as a black box, and stitches and counts the netlists; levels are the "
                 "stitched netlist's. Derived: one output element (m = n = 1, the block's K, its "
                 "own decoders) synthesized and multiplied by m·n, the figure the tables gave "
                 "before whole blocks were synthesized. Seconds: the part's synthesis + the "
                 "top's and the stitch's, one Yosys run each.")
    publish("mma_area", rows, lines, out)


#: MMA presets placed on the ECP5 by default, each at these pipeline depths.
FPGA_PRESETS = ["mma_fp16", "mma_fp16_v100", "mma_tf32_a100", "mma_int8", "mma_e4m3_ada",
                "mma_e4m3_h100", "mma_e5m2_b200"]
FPGA_STAGES = [2, 8]


def fpga_table(out, presets, per_output, stage_list, workers=None):
    """One fmax point (seed 1, with and without DSP blocks) per preset and depth;
    the README's table only when every default preset and depth is placed."""
    chosen = [(preset, {**_shape_overrides(preset, per_output), "stages": stages})
              for preset in presets for stages in stage_list]
    points = [point for preset, overrides in chosen
              for point in sweep.grid(preset, {k: [v] for k, v in overrides.items()}, "fmax")]
    rows = []
    for (preset, overrides), found in zip(chosen, synthesized_rows(points, out, workers)):
        block = get_preset(preset).resolve()
        placed = get_preset(preset).resolve(overrides)
        m, n, k = (placed[key] for key in "mnk")
        row = {"preset": preset, "m": m, "n": n, "k": k, "stages": overrides["stages"],
               "scale": block["m"] * block["n"] / (m * n), "seconds": round(found["seconds"])}
        for target in ("ecp5", "ecp5_nodsp"):
            fmax = fmax_by_seed(found, target).get(1)
            row[target] = {**found["result"][target], "fmax_mhz": fmax,
                           "gops_full": 2 * _macs(block) * fmax / 1000 if fmax else None}
        rows.append(row)
    whole = (sorted(presets) == sorted(FPGA_PRESETS) and sorted(stage_list) == FPGA_STAGES
             and per_output)
    publish("mma_fpga" if whole else "mma_fpga_only", rows, _fpga_lines(rows), out)


def _fpga_lines(rows):
    lines = ["| preset | placed shape | stages | ECP5 LUT4 / MULT18 | Fmax MHz | "
             "LUT4 no DSP | Fmax MHz no DSP | block LUT4 no DSP | block GOPS "
             "(DSP / no DSP) | synthesis + place s |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        dsp, lut = r["ecp5"], r["ecp5_nodsp"]
        derived = "" if r["scale"] == 1 else " (derived)"
        gops = " / ".join("n/a" if g is None else f"{g:.1f}"
                          for g in (dsp["gops_full"], lut["gops_full"]))
        dsp_fmax = ("does not fit: more MULT18 than the 25k's 28" if dsp.get("does_not_fit")
                    else dsp["fmax_mhz"])
        lines.append(f"| `{r['preset']}` | {r['m']}x{r['n']}x{r['k']} | {r['stages']} | "
                     f"{dsp['lut4']:,} / {dsp['dsp']} | {dsp_fmax} | {lut['lut4']:,} | "
                     f"{lut['fmax_mhz']} | {lut['lut4'] * r['scale']:,.0f}{derived} | "
                     f"{gops}{derived} | {r['seconds']} |")
    lines.append("\nECP5 25k (CABGA381), nextpnr seed 1, the unit between shift-register pins "
                 "(hw/wrapper.py); each row an fmax point of the bench database. Block GOPS = "
                 "2·m·n·k of the preset's full block x Fmax (one MMA per cycle); for a placed "
                 "shape smaller than the block it assumes the block keeps the placed element's "
                 "Fmax and m·n times its LUTs (decoders shared along a row or column make the "
                 "LUT figure an upper bound).")
    return lines


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--skip-area", action="store_true", help="no area tables")
    arguments.add_argument("--skip-fpga", action="store_true", help="no ECP5 LUT/Fmax table")
    arguments.add_argument("--area-presets", nargs="+", default=[p for _, p in MMAS],
                        help="MMA presets in the area tables (default: all)")
    arguments.add_argument("--fpga-presets", nargs="+", default=FPGA_PRESETS,
                        help="MMA presets placed on the ECP5 (default: the README table's)")
    arguments.add_argument("--fpga-block", action="store_true",
                        help="place the whole block (default: one output element, 1x1xK)")
    arguments.add_argument("--stages", type=int, nargs="+", default=FPGA_STAGES,
                        help="pipeline depths to place (default: 2 8)")
    arguments.add_argument("--workers", type=int, default=None,
                        help="local Dask workers (default: one per core)")
    args = parse(arguments)
    out = args.output
    if not args.skip_area:
        area_tables(out, args.liberty, args.area_presets, args.workers)
    if not args.skip_fpga:
        fpga_table(out, args.fpga_presets, not args.fpga_block, args.stages, args.workers)


if __name__ == "__main__":
    main()
