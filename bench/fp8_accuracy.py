"""Relative error of FP8 GEMMs against K for each GPU's tensor-core numerics.

Data. For every K and trial, A (M x K) and B (K x N) are i.i.d. N(0, 1) draws
(NumPy PCG64, one seed per format-independent (seed, K, trial), so e4m3 and e5m2
quantize the same draws). Each tensor is scaled as the FP8 training recipes do,
per tensor: ``scale = fp8_max / amax`` (448 for e4m3, 57344 for e5m2; no margin),
so its largest magnitude lands on the format's largest finite value, then
rounded to the FP8 format once, RNE, saturating to the largest finite value
(``golden.float.from_float64(..., saturate=True)``). C = +0. The error is the
GEMM's own: the dequantization by ``1 / (scale_A * scale_B)`` is not modelled.

Reference. The exact product of the quantized values: the FP8 values are
integer multiples of 2**-9 (e4m3) or 2**-16 (e5m2), so they are scaled to
Python integers and multiplied and summed exactly (object-dtype matmul); each
error ``D - D_exact`` is then formed exactly (fractions) and only then rounded
to float64 for the norms. No float64 sum enters the reference.

Numerics (``golden.mma.gemm``, fp32 out unless noted; SPEC_fp8_tf32.md §2-4):
fused (exact sum, one RNE rounding to fp32); Ada native (13-bit RZ blocks of 16
products, chained); H100 wgmma native (13-bit RZ blocks of 32); H100 mma.sync and
B200 (the fp16-MMA pair split); B200 with fp16 output; the native paths with
promotion to an fp32 accumulator (one RNE fp32 add per group: H100 wgmma every
32, 128 and 512 products, Ada every 128); and, as a yardstick, a sequential fp32
FMA chain (``gemm(..., 'chain')``, a CPU ``fmaf`` loop in k order).

fp16 output cannot hold the product of two recipe-scaled tensors (|D| reaches
1e5-1e11, fp16's largest finite is 65504): that row's inputs are the same draws
quantized with each scale lowered by a power of two, 2**-t split over A and B
(ceil/floor of t/2), t the least that keeps every exact partial sum (in k order)
within 65504 / 2; its reference is the exact product of those inputs.

Metrics per numerics and K, pooled over the trials: ``||D - D_exact||_F /
||D_exact||_F`` and the median elementwise ``|D - D_exact| / |D_exact|``.

Writes build/bench/fp8_accuracy.{json,md} (every table), fp8_accuracy_e4m3.{json,md}
(the README's table) and fp8_accuracy_{e4m3,e5m2}.svg (also to bench/figures/, where
the README links them); a run with --quick or other --trials, --size or --seed
writes fp8_accuracy_e4m3_only.{json,md} and leaves the README alone.
Run: make bench (or python bench/fp8_accuracy.py [--quick]).
"""

import math
import statistics
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from nnarith.golden.float import from_float64, to_float64
from nnarith.golden.mma import gemm

from results import COLORS, parser, publish, publish_figure, svg_line_plot, tracked

FORMATS = ("e4m3", "e5m2")
#: Largest finite value and the quantum (2**-q: every value is a multiple of it).
FP8 = {"e4m3": (448.0, 9), "e5m2": (57344.0, 16)}
FP16_MAX = 65504.0
KS = tuple(64 << i for i in range(9))               # 64 .. 16384
QUICK_KS = tuple(k for k in KS if k <= 1024)
SIZE, TRIALS, SEED = 16, 4, 2024
YARDSTICK = "fp32_chain"
WITHIN = 2.0                                        # "within 2x of the yardstick"

#: key -> (label, out_fmt, gemm keywords, promotion interval or None). Order = table rows.
NUMERICS = {
    "fused": ("fused (exact sum, 1 RNE rounding)", "fp32", {"mode": "fused", "rm": "rne"}, None),
    "ada": ("Ada native (13-bit, K=16 chained)", "fp32", {"gpu": "ada"}, None),
    "ada_p128": ("Ada native, promote every 128", "fp32", {"gpu": "ada"}, 128),
    "h100_wgmma": ("H100 wgmma native (13-bit, K=32)", "fp32",
                   {"gpu": "h100", "instr": "wgmma"}, None),
    "h100_wgmma_p32": ("H100 wgmma, promote every 32", "fp32",
                       {"gpu": "h100", "instr": "wgmma"}, 32),
    "h100_wgmma_p128": ("H100 wgmma, promote every 128", "fp32",
                        {"gpu": "h100", "instr": "wgmma"}, 128),
    "h100_wgmma_p512": ("H100 wgmma, promote every 512", "fp32",
                        {"gpu": "h100", "instr": "wgmma"}, 512),
    "h100_mma": ("H100 mma.sync (pair split)", "fp32", {"gpu": "h100", "instr": "mma"}, None),
    "b200": ("B200 mma.sync (pair split)", "fp32", {"gpu": "b200"}, None),
    "b200_fp16": ("B200 pair split, fp16 out", "fp16", {"gpu": "b200"}, None),
    YARDSTICK: ("fp32 FMA chain (yardstick)", "fp32", {"mode": "chain", "rm": "rne"}, None),
}
#: The README's table: E4M3, Frobenius, every other K; key -> its label there.
README_ROWS = {
    "fused": "fused (exact sum, one RNE rounding)",
    YARDSTICK: "fp32 FMA chain (`fmaf` loop, the yardstick)",
    "h100_mma": "H100 `mma.sync` (pair split)",
    "b200": "B200 `mma.sync` (pair split)",
    "ada": "Ada native (13-bit RZ blocks of 16, chained)",
    "h100_wgmma": "H100 `wgmma` native (13-bit RZ block of 32)",
    "h100_wgmma_p512": "H100 `wgmma`, promoted to fp32 every 512",
    "h100_wgmma_p128": "H100 `wgmma`, promoted every 128",
    "h100_wgmma_p32": "H100 `wgmma`, promoted every 32",
    "ada_p128": "Ada native, promoted every 128",
    "b200_fp16": "B200 pair split, fp16 output (inputs scaled down to fit fp16)",
}
README_FMT = "e4m3"           # the README's table: fp8_accuracy_e4m3
#: The native paths and their promoted variants, for the conclusion.
NATIVE = {"ada": ("Ada native", ["ada_p128"]),
          "h100_wgmma": ("H100 wgmma native",
                         ["h100_wgmma_p32", "h100_wgmma_p128", "h100_wgmma_p512"])}


def draws(seed, k, trial, size):
    """The N(0, 1) draws of one (K, trial): A (size x K), B (K x size), float64."""
    rng = np.random.default_rng([seed, k, trial])
    return rng.standard_normal((size, k)), rng.standard_normal((k, size))


def quantize(x, fmt, shift=0):
    """Per-tensor recipe scaling (amax -> fp8_max * 2**-shift), RNE, saturating:
    the FP8 patterns and their values as exact integers in units of the quantum."""
    fmax, quantum = FP8[fmt]
    bits, _ = from_float64(x * (fmax / np.abs(x).max() * 2.0 ** -shift), fmt, "rne",
                           saturate=True)
    ints = np.ldexp(to_float64(bits, fmt), quantum)
    assert np.array_equal(ints, np.round(ints)) and np.abs(ints).max() < 2 ** 53
    return bits, ints.astype(np.int64)


def exact(a_ints, b_ints):
    """The exact product of integer matrices (Python ints, no overflow)."""
    return a_ints.astype(object) @ b_ints.astype(object)


def fp16_shift(a_ints, b_ints, fmt):
    """t of the module docstring: the least power of two that keeps every exact
    partial sum (k order) of the recipe-scaled product within FP16_MAX / 2."""
    unit = 2.0 ** (-2 * FP8[fmt][1])
    prefix = np.cumsum(a_ints[:, None, :].astype(np.float64)
                       * b_ints.T[None, :, :].astype(np.float64), axis=-1)
    peak = float(np.abs(prefix).max()) * unit * (1 + 1e-9)      # float64 cumsum: slack
    return peak, max(0, math.ceil(math.log2(peak / (FP16_MAX / 2))))


def run(A, B, fmt, key):
    """One numerics on one GEMM (2-D patterns): D as float64 values (exact)."""
    _, out_fmt, keywords, every = NUMERICS[key]
    mode = keywords.get("mode", "tensorcore")
    keywords = {name: value for name, value in keywords.items() if name != "mode"}
    zero = np.zeros((A.shape[0], B.shape[1]), np.uint64)
    # A K shorter than the promotion interval is one group.
    promote_every = None if every is None else min(every, A.shape[1])
    d, _ = gemm(A, B, zero, fmt, out_fmt, mode, promote_every=promote_every, **keywords)
    return to_float64(d, "fp32" if promote_every else out_fmt)


def errors(d, reference, quantum_bits):
    """Exact ``d - reference`` (reference: ints in units of 2**-quantum_bits), as
    float64 pairs (error, reference) per element."""
    scale = 1 << quantum_bits
    pairs = []
    for value, ref in zip(d.ravel().tolist(), reference.ravel().tolist()):
        exact_ref = Fraction(int(ref), scale)
        pairs.append((float(Fraction(value) - exact_ref), float(exact_ref)))
    return pairs


def metrics(pairs):
    """Frobenius relative error and median elementwise relative error of (error, ref) pairs."""
    num = math.sqrt(math.fsum(e * e for e, _ in pairs))
    den = math.sqrt(math.fsum(r * r for _, r in pairs))
    elementwise = [abs(e) / abs(r) for e, r in pairs if r != 0]
    return num / den, statistics.median(elementwise)


def measure(fmt, k, trials, size, seed):
    """Every numerics on ``trials`` GEMMs of one format and K: the rows of the json
    and the fp16 row's scaling (largest exact partial sum at recipe scale, t per trial)."""
    quantum = FP8[fmt][1]
    pairs = {key: [] for key in NUMERICS}
    peaks, shifts = [], []
    for trial in range(trials):
        a, b = draws(seed, k, trial, size)
        (A, a_ints), (B, b_ints) = quantize(a, fmt), quantize(b, fmt)
        reference = exact(a_ints, b_ints)
        peak, shift = fp16_shift(a_ints, b_ints, fmt)
        peaks.append(peak)
        shifts.append(shift)
        (A16, a16), (B16, b16) = quantize(a, fmt, (shift + 1) // 2), quantize(b, fmt, shift // 2)
        reference16 = exact(a16, b16)
        for key, (_, out_fmt, _, _) in NUMERICS.items():
            fp16 = out_fmt == "fp16"
            d = run(A16 if fp16 else A, B16 if fp16 else B, fmt, key)
            if not np.isfinite(d).all():
                raise ArithmeticError(f"{fmt} K={k} trial {trial} {key}: non-finite output")
            new = errors(d, reference16 if fp16 else reference, 2 * quantum)
            # The reference checks itself: one RNE rounding to fp32 is within half an ulp.
            assert key != "fused" or all(abs(e) <= 2.0 ** -24 * abs(r) for e, r in new), key
            pairs[key] += new
    rows = []
    for key, (label, out_fmt, _, every) in NUMERICS.items():
        frobenius, median = metrics(pairs[key])
        rows.append({"fmt": fmt, "K": k, "numerics": key, "label": label, "out_fmt": out_fmt,
                     "promote_every": every, "frobenius": frobenius, "median": median})
    return rows, {"fmt": fmt, "K": k, "recipe_peak_partial_sum": max(peaks),
                  "fp16_shifts": shifts}


def conclusion(rows, fmt, k):
    """Which promotion intervals bring each native path within WITHIN x of the
    yardstick's Frobenius error at K = k, computed from ``rows``."""
    value = {r["numerics"]: r["frobenius"] for r in rows
             if r["fmt"] == fmt and r["K"] == k}
    limit = WITHIN * value[YARDSTICK]
    parts = []
    for native, (label, promoted) in NATIVE.items():
        every = {NUMERICS[key][3]: value[key] for key in promoted}
        tried = ", ".join(f"every {n}: {e:.2e}" for n, e in every.items())
        ok = [n for n, e in every.items() if e <= limit]
        if ok:
            longest = max(ok)
            shorter_fail = ", ".join(str(n) for n in every if n < longest and n not in ok)
            parts.append(f"{label} ({value[native]:.2e} unpromoted) comes within {WITHIN:g}x "
                         f"with promotion every {longest} products"
                         + (" or more often" if not shorter_fail and len(ok) > 1 else "")
                         + (f" (but not every {shorter_fail})" if shorter_fail else "")
                         + f" ({tried})")
        else:
            best = min(every, key=every.get)
            parts.append(f"{label} ({value[native]:.2e} unpromoted) does not come within "
                         f"{WITHIN:g}x with any interval tried ({tried}; the best, every {best}, "
                         f"is {every[best] / value[YARDSTICK]:.0f}x the yardstick)")
    return (f"{fmt}, K = {k}: against the fp32 FMA chain's {value[YARDSTICK]:.2e} "
            f"(limit {limit:.2e}), " + "; ".join(parts) + ".")


def figure(rows, fmt, ks, config):
    """The SVG plot of one format, with axis titles and the yardstick dashed."""
    curve = {key: [next(r["frobenius"] for r in rows if r["fmt"] == fmt and r["K"] == k
                        and r["numerics"] == key) for k in ks] for key in NUMERICS}
    labels = {key: label for key, (label, *_) in NUMERICS.items()}
    if curve["h100_mma"] == curve["b200"]:         # the same pair split: one line, not two
        del curve["h100_mma"]
        labels["b200"] = "H100 mma.sync = B200 (pair split)"
    series = [(labels[key], values) for key, values in curve.items()]
    lines = svg_line_plot(f"FP8 {fmt} GEMM: relative error vs K", [str(k) for k in ks],
                          series).splitlines()
    # svg_line_plot draws no axis titles and has 9 colours: the yardstick (the last
    # series: its polyline, points and legend) is drawn black and dashed instead.
    color = COLORS[(len(series) - 1) % len(COLORS)]
    last = max(i for i, line in enumerate(lines) if line.startswith("<polyline"))
    for i in range(last, len(lines)):
        line = lines[i].replace(f'"{color}"', '"#000000"')
        if line.startswith(("<polyline", "<line")):
            line = line.replace(' stroke="', ' stroke-dasharray="6 3" stroke="', 1)
        lines[i] = line
    width, height, left, right, top, bottom = 760, 420, 70, 250, 30, 50
    middle = (top + height - bottom) / 2
    note = (f"{config['size']}x{config['size']} outputs, {config['trials']} trial(s)/K, "
            "C = 0")
    lines[-1:] = [f'<text x="{(left + width - right) / 2}" y="{height - 8}" '
                  'text-anchor="middle">K (products per output, log scale)</text>',
                  f'<text x="16" y="{middle}" text-anchor="middle" '
                  f'transform="rotate(-90 16 {middle})">'
                  '||D - D_exact||_F / ||D_exact||_F (log scale)</text>',
                  f'<text x="{width - right + 15}" y="{height - 20}" font-size="10">'
                  f'{note}</text>',
                  "</svg>"]
    return "\n".join(lines) + "\n"


def tables(rows, ks, formats, config):
    cell = lambda v: f"{v:.2e}"                                          # noqa: E731
    header = "| numerics | out | " + " | ".join(f"K={k}" for k in ks) + " |"
    rule = "|---|---|" + "---|" * len(ks)
    lines = [f"FP8 GEMM relative error against the exact product of the quantized inputs "
             f"({config['size']}x{config['size']} outputs, {config['trials']} trial(s) per K "
             f"pooled, seed {config['seed']}; per-tensor scale fp8_max/amax, RNE, saturating; "
             "C = 0).", ""]
    for fmt in formats:
        for metric, title in (("frobenius", "||D - D_exact||_F / ||D_exact||_F"),
                              ("median", "median elementwise |D - D_exact| / |D_exact|")):
            lines += [f"**{fmt}**, {title}:", "", header, rule]
            for key, (label, out_fmt, _, _) in NUMERICS.items():
                values = [next(r[metric] for r in rows if r["fmt"] == fmt and r["K"] == k
                               and r["numerics"] == key) for k in ks]
                lines.append(f"| {label} | {out_fmt} | " + " | ".join(map(cell, values)) + " |")
            lines.append("")
    return lines


def readme_lines(rows, ks, same):
    """The README's table: E4M3 Frobenius errors at every other K, H100's and
    B200's pair split on one row where they are ``same``."""
    shown = ks[::2]
    lines = ["| numerics (fp32 output unless noted) | "
             + " | ".join(f"K = {k:,}" for k in shown) + " |", "|---|" + "---|" * len(shown)]
    for key, label in README_ROWS.items():
        if same and key == "b200":
            continue
        label = "H100 / B200 `mma.sync` (pair split)" if same and key == "h100_mma" else label
        values = [next(r["frobenius"] for r in rows if r["fmt"] == README_FMT and r["K"] == k
                       and r["numerics"] == key) for k in shown]
        lines.append(f"| {label} | " + " | ".join(f"{v:.1e}" for v in values) + " |")
    return lines


def main():
    arguments = parser(__doc__)
    arguments.add_argument("--quick", action="store_true",
                           help=f"K up to {QUICK_KS[-1]}, one trial, no bench/figures copy")
    arguments.add_argument("--trials", type=int, help=f"GEMMs per K (default {TRIALS})")
    arguments.add_argument("--size", type=int, default=SIZE, help="M = N (default %(default)s)")
    arguments.add_argument("--seed", type=int, default=SEED)
    args = arguments.parse_args()          # --liberty (from results.parser) is unused here
    out = Path(args.output)
    ks = QUICK_KS if args.quick else KS
    trials = args.trials or (1 if args.quick else TRIALS)
    config = {"size": args.size, "trials": trials, "seed": args.seed, "Ks": list(ks),
              "formats": list(FORMATS),
              "scale": "per tensor: fp8_max / amax (e4m3 448, e5m2 57344), RNE, saturating",
              "reference": "exact (integer matmul of the FP8 values in units of their "
                           "quantum; errors formed exactly)",
              "fp16_scale": "scales lowered by 2**-t (ceil/floor split over A and B), t least "
                            "with every exact k-order partial sum <= 65504/2",
              "numerics": {key: {"label": label, "out_fmt": out_fmt, "promote_every": every,
                                 **keywords}
                           for key, (label, out_fmt, keywords, every) in NUMERICS.items()}}
    start = time.perf_counter()
    rows, scaling = [], []
    jobs = [(fmt, k) for fmt in FORMATS for k in ks]
    for fmt, k in tracked(jobs, "fp8_accuracy", "GEMM sets"):
        new_rows, new_scaling = measure(fmt, k, trials, args.size, args.seed)
        rows += new_rows
        scaling.append(new_scaling)
    seconds = time.perf_counter() - start
    sentences = [conclusion(rows, fmt, ks[-1]) for fmt in FORMATS]
    peaks = {fmt: [r["recipe_peak_partial_sum"] for r in scaling if r["fmt"] == fmt]
             for fmt in FORMATS}
    overflow = ", ".join(f"{fmt} {min(p):.1e} (K={ks[0]}) to {max(p):.1e} (K={ks[-1]})"
                         for fmt, p in peaks.items())
    same = all(r["frobenius"] == twin["frobenius"] and r["median"] == twin["median"]
               for r in rows if r["numerics"] == "h100_mma"
               for twin in rows if twin["numerics"] == "b200" and twin["fmt"] == r["fmt"]
               and twin["K"] == r["K"])
    lines = tables(rows, ks, FORMATS, config) + [
        "fp16 output: at recipe scale the largest exact partial sum is " + overflow +
        " (fp16's largest finite is 65504), so that row's inputs are the same draws with the "
        "scales lowered by a power of two (fp16_shifts in the json) and its own exact "
        "reference.", "",
        "H100 mma.sync and B200 (both the pair split, fp32 out) "
        + ("give identical results at every K." if same else "differ."), "",
        f"Promotion (at the largest K, Frobenius, within {WITHIN:g}x of the fp32 FMA chain):",
        ""] + [f"- {s}" for s in sentences] + ["", f"{seconds:.0f} s."]
    publish("fp8_accuracy", {"config": config, "rows": rows, "fp16_scaling": scaling,
                             "conclusion": sentences,
                             "seconds": round(seconds, 1)}, lines, out)
    # Only the default run is the README's.
    full = (ks, trials, args.size, args.seed) == (KS, TRIALS, SIZE, SEED)
    publish("fp8_accuracy_e4m3" if full else "fp8_accuracy_e4m3_only",
            [r for r in rows if r["fmt"] == README_FMT], readme_lines(rows, ks, same), out)
    for fmt in FORMATS:
        publish_figure(f"fp8_accuracy_{fmt}", figure(rows, fmt, ks, config), out, readme=full)
    print("\n".join(sentences))


if __name__ == "__main__":
    main()
