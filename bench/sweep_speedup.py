"""Sweep speed-up: the same `nnarith sweep` on 1 and 2 (or --workers) Dask
workers of this machine, each into a fresh database: wall time and ratio.
Writes build/bench/sweep_speedup.{json,md}.
Run: python bench/sweep_speedup.py (part of make bench).

The wall time is the whole sweep as a user sees it: the client's export of
every point, the LocalCluster's start and the tasks.
"""

import argparse
import shutil
import time

from nnarith import sweep

from results import OUT, publish

PRESETS = ["int8_mul", "int16_mul", "fp16_mul", "bf16_mul"]
PARAMS = {"arch": "infer,booth", "stages": "0..2"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2", help="worker counts to compare (default 1,2)")
    counts = [int(n) for n in parser.parse_args().workers.split(",")]
    points = sweep.grid(PRESETS, PARAMS, "synth")
    rows = []
    for workers in counts:
        folder = OUT / "sweep_speedup" / f"workers{workers}"
        shutil.rmtree(folder, ignore_errors=True)
        start = time.perf_counter()
        result = sweep.run(points, folder / "sweep.db", workers=workers, root=folder)
        seconds = time.perf_counter() - start
        assert result["done"] == len(points), result
        rows.append({"workers": workers, "points": len(points), "seconds": round(seconds, 1)})
        print(rows[-1], flush=True)
    base = rows[0]["seconds"]
    lines = ["| workers | points | wall time (s) | speed-up |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['workers']} | {r['points']} | {r['seconds']} | {base / r['seconds']:.2f}× |"
              for r in rows]
    publish("sweep_speedup", rows, lines)


if __name__ == "__main__":
    main()
