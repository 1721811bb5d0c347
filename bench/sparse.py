"""Sparse units: what the join hardware costs and what sparsity really buys.

1. Area (generic cells, logic levels, NanGate45 µm²) of the bitmask inner
   join (``sparse_join``) for every chunk size N x matches per cycle P, next
   to the CSR merge join (1 and 2 wide), the 2:4 structured-sparse dot
   product and a dense int8 dot product with a running sum (``dp4a``-style
   ``IntMAC``, 4 lanes).
2. Throughput against density: random int8 vector pairs, both sides at the
   same density, through the units' cycle models (the formulas their cocotb
   benches check against the RTL): dense-equivalent MACs per cycle (vector
   elements covered per cycle) for one unit, and for as many copies of each
   unit as fit in the area of one default ``sparse_join`` — the dense line is
   then a dense dot product of the same area. Also the multipliers' useful
   work: nonzero x nonzero products per cycle.
3. A plot of the same-area throughput against density (SVG).

Writes build/bench/sparse_area.{json,md}, sparse_density.{json,md} and
sparse_density.svg.
Run: make bench (or python bench/sparse.py --liberty PATH).
"""

import time

import numpy as np

from nnarith.golden.csr import csr_encode, merge_cycles
from nnarith.golden.sparse import bitmask_encode, join_cycles
from nnarith.hw.catalogue import build
from nnarith.hw.synth import synthesize

from results import parse, parser, publish, svg_line_plot, tracked

CHUNKS = (16, 32, 64, 128)
MATCHES = (1, 2, 4, 8)
DENSITIES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
LENGTH, TRIALS = 1024, 8
DENSE_LANES = 4

#: (key, label, preset, overrides) of the units beside the N x P grid.
OTHERS = [
    ("csr_join", "csr_join (1 entry per side per cycle)", "csr_join", {}),
    ("csr_join_w2", "csr_join width=2", "csr_join", {"width": 2}),
    ("sparse24_dot", "sparse24_dot (k=8: 4 kept int8 weights + c)", "sparse24_dot", {}),
    ("dense", f"dense int8 dot product, {DENSE_LANES} lanes, running sum", "dp4a",
     {"accumulate": True, "stages": 1}),
]


def _synth(key, preset, overrides, out, liberty):
    targets = ("generic", "asic") if liberty else ("generic",)
    start = time.perf_counter()
    result = synthesize(build(preset, overrides), preset, out / "synth" / f"sparse_{key}",
                        targets=targets, liberty=liberty)
    row = {"key": key, "preset": preset, "params": overrides,
           "cells": result["generic"]["cells"], "levels": result["generic"]["levels"],
           "area_um2": result.get("asic", {}).get("area_um2"),
           "seconds": round(time.perf_counter() - start, 1)}
    print(row, flush=True)
    return row


def _join(n, p, out, liberty):
    return _synth(f"join_n{n}_p{p}", "sparse_join", {"chunk": n, "matches": p}, out, liberty)


def area_table(grid, others, out, liberty):
    """The N x P table (filling in the grid points not synthesized yet) and the others."""
    missing = [(n, p) for n in CHUNKS for p in MATCHES if (n, p) not in grid]
    for n, p in tracked(missing, "sparse_join grid"):
        grid[n, p] = _join(n, p, out, liberty)
    metric = "area_um2" if liberty else "cells"
    lines = [f"`sparse_join` {'NanGate45 µm²' if liberty else 'generic cells'} "
             "(generic cells / levels), chunk N x matches per cycle P:", "",
             "| N \\ P | " + " | ".join(str(p) for p in MATCHES) + " |",
             "|---|" + "---|" * len(MATCHES)]
    for n in CHUNKS:
        lines.append(f"| {n} | " + " | ".join(
            f"{grid[n, p][metric]} ({grid[n, p]['cells']} / {grid[n, p]['levels']})"
            for p in MATCHES) + " |")
    lines += ["", "| unit | generic cells | levels | NanGate45 µm² |", "|---|---|---|---|"]
    lines += [f"| {r['unit']} | {r['cells']} | {r['levels']} | {r['area_um2'] or 'n/a'} |"
              for r in others.values()]
    publish("sparse_area", {"grid": [grid[key] for key in sorted(grid)],
                            "others": list(others.values())}, lines, out)


def _vectors(rng, density):
    """A random int8 vector pair, each element nonzero with probability ``density``."""
    def one():
        values = rng.integers(1, 128, LENGTH) * rng.choice([-1, 1], LENGTH)
        return np.where(rng.random(LENGTH) < density, values, 0)
    return one(), one()


def density_table(grid, others, metric, out):
    default = build("sparse_join").params
    n, p = default["chunk"], default["matches"]
    budget = grid[n, p][metric]
    k24 = build("sparse24_dot").params["k"]
    # Dense-equivalent elements per cycle, useful products per cycle.
    models = {
        f"sparse_join N={n} P={p}": (lambda a, b: join_cycles(bitmask_encode(a, n),
                                                              bitmask_encode(b, n), p).sum(),
                                     grid[n, p][metric]),
        f"sparse_join N={n} P=8": (lambda a, b: join_cycles(bitmask_encode(a, n),
                                                            bitmask_encode(b, n), 8).sum(),
                                   grid[n, 8][metric]),
        "csr_join": (lambda a, b: merge_cycles(csr_encode(a)[0], csr_encode(b)[0], 1),
                     others["csr_join"][metric]),
        "csr_join width=2": (lambda a, b: merge_cycles(csr_encode(a)[0], csr_encode(b)[0], 2),
                             others["csr_join_w2"][metric]),
        # 2:4 weights (pruned offline), dense activations: k elements per cycle.
        "sparse24_dot (2:4 weights)": (lambda a, b: LENGTH / k24,
                                       others["sparse24_dot"][metric]),
        f"dense dot product ({DENSE_LANES} lanes)": (lambda a, b: LENGTH / DENSE_LANES,
                                                     others["dense"][metric]),
    }
    rng = np.random.default_rng(7)
    rows = []
    for density in DENSITIES:
        pairs = [_vectors(rng, density) for _ in range(TRIALS)]
        useful = np.mean([np.count_nonzero(a * b) for a, b in pairs])
        for name, (cycles_of, area) in models.items():
            cycles = float(np.mean([cycles_of(a, b) for a, b in pairs]))
            rows.append({"density": density, "unit": name, "cycles": cycles, "area": area,
                         "elements_per_cycle": LENGTH / cycles,
                         "useful_per_cycle": useful / cycles,
                         "same_area_elements_per_cycle": LENGTH / cycles * budget / area})
        print(rows[-len(models)], flush=True)
    names = list(models)
    header = "| unit | " + " | ".join(f"{d:.0%}" for d in DENSITIES) + " |"
    rule = "|---|" + "---|" * len(DENSITIES)
    table = lambda key, fmt: [f"| {u} | " + " | ".join(                       # noqa: E731
        fmt(r[key]) for r in rows if r["unit"] == u) + " |" for u in names]
    area_word = "µm²" if metric == "area_um2" else "generic cells"
    lines = [f"Dense-equivalent MACs per cycle (vector elements per cycle; {LENGTH}-element "
             f"int8 vectors, both sides at the density, mean of {TRIALS}), one unit:", "",
             header, rule, *table("elements_per_cycle", lambda v: f"{v:.3g}"), "",
             f"In the area of one `sparse_join` (N={n}, P={p}: {budget} {area_word}), "
             "as many copies of each unit as fit:", "",
             header, rule, *table("same_area_elements_per_cycle", lambda v: f"{v:.3g}"), "",
             "Useful products (both operands nonzero) per cycle, one unit:", "",
             header, rule, *table("useful_per_cycle", lambda v: f"{v:.3g}")]
    lines.append("\nCycle models: sparse_join max(1, ceil(matches/P)) per chunk; csr_join the "
                 "merge policy of golden.csr.merge_cycles (width 1: |union of index sets|); "
                 "2:4 and dense one operation per cycle. The 2:4 row needs weights pruned to "
                 "2:4 (so at most 50 % dense) and does not depend on the activations.")
    publish("sparse_density", rows, lines, out)
    series = [(u, [r["same_area_elements_per_cycle"] for r in rows if r["unit"] == u])
              for u in names]
    (out / "sparse_density.svg").write_text(svg_line_plot(
        "Dense-equivalent MACs per cycle in the area of one sparse_join (log) vs density",
        [f"{d:.0%}" for d in DENSITIES], series))
    print(f"wrote {out / 'sparse_density.svg'}")


def main():
    args = parse(parser(__doc__))
    out, liberty = args.output, args.liberty
    metric = "area_um2" if liberty else "cells"
    # The units the density table needs first; the slow corners of the grid last.
    default = build("sparse_join").params
    grid = {(default["chunk"], p): _join(default["chunk"], p, out, liberty)
            for p in (default["matches"], 8)}
    others = {key: {"unit": label, **_synth(key, preset, overrides, out, liberty)}
              for key, label, preset, overrides in OTHERS}
    density_table(grid, others, metric, out)
    area_table(grid, others, out, liberty)


if __name__ == "__main__":
    main()
