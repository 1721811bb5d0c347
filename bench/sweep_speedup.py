"""Sweep speed-up: the same `nnarith sweep` on 1 and 2 (or --workers) Dask
workers of this machine, each into a fresh database: wall time and ratio, for
short tasks (24 synth points of a second or two each) and long ones (8 fmax
points: two nextpnr placements each, tens of seconds).
Writes build/bench/sweep_speedup.{json,md}.
Run: python bench/sweep_speedup.py (part of make bench).

The wall time is the whole sweep as a user sees it: the client's preparation
of every point, the LocalCluster's start and the tasks. The points are
prepared once before the timed runs, so that every run finds the same warm
caches (the exported Verilog, the tools' versions) and the first is not
charged for them.
"""

import argparse
import shutil
import time

from nnarith import sweep

from results import OUT, publish

#: (name, points): the short synth sweep and the long fmax one.
SWEEPS = [
    ("synth, generic gates", lambda: sweep.grid(
        ["int8_mul", "int16_mul", "fp16_mul", "bf16_mul"],
        {"arch": "infer,booth", "stages": "0..2"}, "synth")),
    ("fmax, ECP5 seed 1", lambda: sweep.grid(
        ["fp16_mul", "bf16_mul"], {"arch": "infer,booth", "stages": "0,4"}, "fmax")),
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    counts = [int(n) for n in parser.parse_args().workers.split(",")]
    rows = []
    for n, (name, make_points) in enumerate(SWEEPS):
        points = make_points()
        sweep.prepare(points, OUT / "sweep_speedup" / "warm")
        for workers in counts:
            folder = OUT / "sweep_speedup" / f"sweep{n}_workers{workers}"
            shutil.rmtree(folder, ignore_errors=True)
            start = time.perf_counter()
            result = sweep.run(points, folder / "sweep.db", workers=workers, root=folder)
            seconds = time.perf_counter() - start
            assert result["done"] == len(points), result
            rows.append({"sweep": name, "workers": workers, "points": len(points),
                         "seconds": round(seconds, 1)})
            print(rows[-1], flush=True)
    lines = ["| sweep | workers | points | wall time (s) | speed-up |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        base = next(b["seconds"] for b in rows if b["sweep"] == r["sweep"])
        lines.append(f"| {r['sweep']} | {r['workers']} | {r['points']} | {r['seconds']} | "
                     f"{base / r['seconds']:.2f}× |")
    publish("sweep_speedup", rows, lines)


if __name__ == "__main__":
    main()
