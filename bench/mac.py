"""Accumulation: what its width costs and what its precision buys.

1. Area of the int8 MAC (running sum, one register rank) against accumulator
   width 16/24/32/48: generic cells and NanGate45 µm².
2. int8 MAC vs dp4a vs fp16->fp32 fused MAC vs Kulisch accumulator vs the
   requantizer, next to Horowitz's 45 nm add/multiply areas (ANCHORS.md).
3. Accuracy of long fp16 dot products, in ulps of the result against the
   exact sum: a chain of fp16 FMAs (fp16 accumulator), a chain of fp16->fp32
   FMAs, and the Kulisch accumulator read out once to fp32 and to fp16.

The areas are synth points of the sweep database build/bench/bench.db.
Writes build/bench/mac_acc_width.{json,md}, mac_units.{json,md} and
mac_accuracy.{json,md}, and the README's tables.
Run: make bench (or python bench/mac.py --liberty PATH).
"""

from fractions import Fraction

import numpy as np

from nnarith.golden.float import RNE, decode, fma_accumulate, to_float64
from nnarith.golden.formats import float_format
from nnarith.golden.kulisch import kulisch_accumulate
from nnarith import sweep

from results import parse, parser, publish, synthesized

#: Horowitz, ISSCC 2014, 45 nm: µm² of the operations each unit contains.
HOROWITZ = {"8b mult + 32b add": 282 + 137, "16b FP mult + 32b FP add": 1640 + 4184}

UNITS = [
    ("int8 MAC, 32-bit acc", "int8_mac", {}, "8b mult + 32b add"),
    ("dp4a (4 int8 products + c)", "dp4a", {}, None),
    ("fp16 × fp16 + fp32 fused MAC", "fp16_mac32", {}, "16b FP mult + 32b FP add"),
    ("fp16 Kulisch, fp32 read-out", "kulisch_fp16", {}, None),
    ("requantizer int32 → int8", "requant", {}, None),
]
ACC_WIDTHS = (16, 24, 32, 48)
LENGTHS = (64, 1024, 16384)
TRIALS = 20


def area_tables(out, liberty):
    settings = {"targets": ["generic", "asic"] if liberty else ["generic"], "liberty": liberty}
    runs = [("int8_mac", {"acc_width": width}) for width in ACC_WIDTHS]
    runs += [(preset, overrides) for _, preset, overrides, _ in UNITS]
    points = [sweep.grid(preset, {k: [v] for k, v in overrides.items()}, "synth", settings)[0]
              for preset, overrides in runs]
    areas = [{"cells": m["cells"], "levels": m["levels"], "area_um2": m.get("um2")}
             for m in synthesized(points, out)]
    widths = [{"acc_width": width, **area} for width, area in zip(ACC_WIDTHS, areas)]
    units = [{"unit": label, "preset": preset, "horowitz_um2": HOROWITZ.get(horowitz),
              "horowitz_ops": horowitz, **area}
             for (label, preset, _, horowitz), area in zip(UNITS, areas[len(ACC_WIDTHS):])]
    lines = ["| int8 MAC accumulator | generic cells | levels | NanGate45 µm² |", "|---|---|---|---|"]
    lines += [f"| {r['acc_width']} bits | {r['cells']} | {r['levels']} | {r['area_um2'] or 'n/a'} |"
              for r in widths]
    publish("mac_acc_width", widths, lines, out)
    lines = ["| unit | preset | generic cells | levels | NanGate45 µm² | Horowitz 45 nm µm² |",
             "|---|---|---|---|---|---|"]
    for r in units:
        horowitz = f"{r['horowitz_um2']:,} ({r['horowitz_ops']})" if r["horowitz_um2"] else "–"
        lines.append(f"| {r['unit']} | `{r['preset']}` | {r['cells']} | {r['levels']} | "
                     f"{r['area_um2'] or 'n/a'} | {horowitz} |")
    publish("mac_units", units, lines, out)


def _exact(bits, fmt):
    d = decode(bits, fmt)
    return [Fraction(int(s) * -2 + 1) * int(m) * Fraction(2) ** int(e)
            for s, m, e in zip(d.sign, d.sig, d.exp)]


def _floor_log2(x):
    """floor(log2(x)) of a positive Fraction."""
    e = x.numerator.bit_length() - x.denominator.bit_length()
    return e if Fraction(2) ** e <= x else e - 1


def _ulps(result_bits, exact, fmt):
    """|result - exact| in units in the last place of ``fmt`` at the exact value."""
    value = Fraction(float(to_float64(np.array([result_bits], dtype=np.uint64), fmt)[0]))
    exponent = _floor_log2(abs(exact)) if exact else fmt.emin
    ulp = Fraction(2) ** (max(exponent, fmt.emin) - fmt.frac_bits)
    return float(abs(value - exact) / ulp)


def accuracy_table(out):
    fp16, fp32 = float_format("fp16"), float_format("fp32")
    rng = np.random.default_rng(4)
    rows = []
    for length in LENGTHS:
        errors = {k: [] for k in ("fma16", "fma32", "kulisch32", "kulisch16")}
        for _ in range(TRIALS):
            # Products of N(0, 1) fp16 values: a zero-mean sum, so cancellation matters.
            a = np.frombuffer(rng.standard_normal(length).astype(np.float16).tobytes(),
                              dtype=np.uint16).astype(np.uint64)
            b = np.frombuffer(rng.standard_normal(length).astype(np.float16).tobytes(),
                              dtype=np.uint16).astype(np.uint64)
            clear = np.zeros(length, dtype=bool)
            clear[0] = True
            exact = sum(x * y for x, y in zip(_exact(a, fp16), _exact(b, fp16)))
            y16, _ = fma_accumulate(a, b, clear, "fp16", c_fmt="fp16", rm=RNE)
            y32, _ = fma_accumulate(a, b, clear, "fp16", c_fmt="fp32", rm=RNE)
            rm = np.full(length, RNE)
            k32, _, _ = kulisch_accumulate(a, b, clear, rm, "fp16", "fp32")
            k16, _, _ = kulisch_accumulate(a, b, clear, rm, "fp16", "fp16")
            errors["fma16"].append(_ulps(int(y16[-1]), exact, fp16))
            errors["fma32"].append(_ulps(int(y32[-1]), exact, fp32))
            errors["kulisch32"].append(_ulps(int(k32[-1]), exact, fp32))
            errors["kulisch16"].append(_ulps(int(k16[-1]), exact, fp16))
        rows.append({"length": length, "trials": TRIALS,
                     **{f"{k}_median": float(np.median(v)) for k, v in errors.items()},
                     **{f"{k}_max": float(np.max(v)) for k, v in errors.items()}})
        print(rows[-1], flush=True)
    # Median / max over TRIALS random dot products of N(0,1) fp16 values, RNE,
    # error of the final result against the exact sum (the README says so above).
    lines = ["| dot length | fp16 FMA chain (fp16 ulps) | fp16 → fp32 FMA chain (fp32 ulps) | "
             "Kulisch → fp32 (fp32 ulps) | Kulisch → fp16 (fp16 ulps) |", "|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[k + '_median']:.3g} / {r[k + '_max']:.3g}"
                 for k in ("fma16", "fma32", "kulisch32", "kulisch16")]
        lines.append(f"| {r['length']:,} | " + " | ".join(cells) + " |")
    publish("mac_accuracy", rows, lines, out)


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--skip-area", action="store_true", help="accuracy table only")
    args = parse(arguments)
    out = args.output
    accuracy_table(out)
    if not args.skip_area:
        area_tables(out, args.liberty)


if __name__ == "__main__":
    main()
