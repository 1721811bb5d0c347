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

Every synthesis is a point of the sweep database build/bench/bench.db (a
rerun synthesizes only what changed; the whole grid takes about 13 min on 2
workers, N = 128 P = 8 alone 10). Writes build/bench/sparse_area.{json,md}, sparse_density.{json,md}
and sparse_density.svg, and the README's tables.
Run: make bench (or python bench/sparse.py --liberty PATH).
"""

import numpy as np

from nnarith import sweep
from nnarith.golden.csr import csr_encode, merge_cycles
from nnarith.golden.sparse import bitmask_encode, join_cycles
from nnarith.hw.catalogue import get_preset

from results import (number, parse, parser, publish, publish_figure, svg_line_plot,
                     synthesized)

CHUNKS = (16, 32, 64, 128)
MATCHES = (1, 2, 4, 8)
DENSITIES = (0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)
LENGTH, TRIALS = 1024, 8
DENSE_LANES = 4

#: (key, label, preset, overrides) of the units beside the N x P grid.
OTHERS = [
    ("csr_join", "`csr_join` (1 entry per side per cycle)", "csr_join", {}),
    ("csr_join_w2", "`csr_join -p width=2`", "csr_join", {"width": 2}),
    ("sparse24_dot", "`sparse24_dot` (k = 8: 4 kept int8 weights + c)", "sparse24_dot", {}),
    ("sparse24_dot_booth", "`sparse24_dot -p arch=booth`", "sparse24_dot", {"arch": "booth"}),
    ("sparse24_fp16", "`sparse24_fp16` (k = 8, fused, fp32 c)", "sparse24_fp16", {}),
    ("dense", f"dense int8 dot product, {DENSE_LANES} lanes, running sum "
     "(`dp4a -p accumulate=true -p stages=1`)", "dp4a", {"accumulate": True, "stages": 1}),
]


def synthesize_all(liberty, out):
    """The N x P grid and the other units as synth points: ``(grid, others)``,
    each entry its metrics (cells, levels, um2)."""
    settings = {"targets": ["generic", "asic"] if liberty else ["generic"], "liberty": liberty}
    points = [point for n in CHUNKS for p in MATCHES
              for point in sweep.grid("sparse_join", {"chunk": [n], "matches": [p]}, "synth",
                                      settings)]
    points += [point for _, _, preset, overrides in OTHERS
               for point in sweep.grid(preset, {k: [v] for k, v in overrides.items()}, "synth",
                                       settings)]
    results = synthesized(points, out)
    grid = dict(zip([(n, p) for n in CHUNKS for p in MATCHES], results))
    others = {key: {"unit": label, **metrics}
              for (key, label, _, _), metrics in zip(OTHERS, results[len(grid):])}
    return grid, others


def area_table(grid, others, liberty, out):
    metric = "um2" if liberty else "cells"
    lines = ["| N \\ P | " + " | ".join(str(p) for p in MATCHES) + " |",
             "|---|" + "---|" * len(MATCHES)]
    for n in CHUNKS:
        lines.append(f"| {n} | " + " | ".join(
            f"{grid[n, p][metric]:,} ({grid[n, p]['cells']:,})" if liberty
            else f"{grid[n, p]['cells']:,}" for p in MATCHES) + " |")
    lines += ["", "| unit | generic cells | levels | NanGate45 µm² |", "|---|---|---|---|"]
    lines += [f"| {r['unit']} | {r['cells']:,} | {r['levels']} | "
              f"{number(r.get('um2'), 1)} |"
              for r in others.values()]
    publish("sparse_area", {"grid": [{"chunk": n, "matches": p, **grid[n, p]}
                                     for n, p in sorted(grid)],
                            "others": list(others.values())}, lines, out)


def _vectors(rng, density):
    """A random int8 vector pair, each element nonzero with probability ``density``."""
    def one():
        values = rng.integers(1, 128, LENGTH) * rng.choice([-1, 1], LENGTH)
        return np.where(rng.random(LENGTH) < density, values, 0)
    return one(), one()


def density_table(grid, others, liberty, out):
    metric = "um2" if liberty else "cells"
    default = get_preset("sparse_join").resolve()
    n, p = default["chunk"], default["matches"]
    budget = grid[n, p][metric]
    k24 = get_preset("sparse24_dot").resolve()["k"]
    # Per unit: its cycles for a vector pair, and its area.
    models = {
        f"`sparse_join` N={n} P={p}": (lambda a, b: join_cycles(bitmask_encode(a, n),
                                                                bitmask_encode(b, n), p).sum(),
                                       grid[n, p][metric]),
        f"`sparse_join` N={n} P=8": (lambda a, b: join_cycles(bitmask_encode(a, n),
                                                              bitmask_encode(b, n), 8).sum(),
                                     grid[n, 8][metric]),
        "`csr_join`": (lambda a, b: merge_cycles(csr_encode(a)[0], csr_encode(b)[0], 1),
                       others["csr_join"][metric]),
        "`csr_join -p width=2`": (lambda a, b: merge_cycles(csr_encode(a)[0], csr_encode(b)[0],
                                                            2),
                                  others["csr_join_w2"][metric]),
        # 2:4 weights (pruned offline), dense activations: k elements per cycle.
        "`sparse24_dot` (2:4 weights)": (lambda a, b: LENGTH / k24,
                                         others["sparse24_dot"][metric]),
        f"dense {DENSE_LANES}-lane dot product": (lambda a, b: LENGTH / DENSE_LANES,
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
    percent = [f"{100 * d:.0f} %" for d in DENSITIES]
    header = " | " + " | ".join(percent) + " |"
    rule = "|---|" + "---|" * len(DENSITIES)

    def table(key, label):
        return [f"| {label(u, area)} | " + " | ".join(
            f"{r[key]:,.3g}" if r[key] < 1000 else f"{r[key]:,.0f}"
            for r in rows if r["unit"] == u) + " |" for u, (_, area) in models.items()]
    first = next(iter(models))
    lines = ["| unit (same area)" + header, rule,
             *table("same_area_elements_per_cycle",
                    lambda u, area: u if u == first else _units(u, budget / area)),
             "", "| unit (one), useful products per cycle" + header, rule,
             *table("useful_per_cycle", lambda u, area: u)]
    publish("sparse_density", rows, lines, out)
    series = [(u, [r["same_area_elements_per_cycle"] for r in rows if r["unit"] == u])
              for u in models]
    publish_figure("sparse_density", svg_line_plot(
        "Dense-equivalent MACs per cycle in the area of one sparse_join (log) vs density",
        percent, series), out)


def _units(label, copies):
    """``label`` with how many copies of the unit fit, inside its parentheses if it has some."""
    text = f"{copies:.2g} units"
    return f"{label[:-1]}; {text})" if label.endswith(")") else f"{label} ({text})"


def main():
    args = parse(parser(__doc__))
    grid, others = synthesize_all(args.liberty, args.output)
    area_table(grid, others, args.liberty, args.output)
    density_table(grid, others, args.liberty, args.output)


if __name__ == "__main__":
    main()
