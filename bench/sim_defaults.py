"""How long each preset's default `nnarith sim PRESET` takes, end to end.
Writes build/bench/sim_defaults.{json,md}.
Run: make bench (or python bench/sim_defaults.py [--sim verilator] [PRESET ...]).

Wall time of the command as a user runs it (export, simulator build, corner
cases plus the unit's default number of random vectors, check), one preset
at a time, each from an empty build folder so that no cached simulator build
helps.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from nnarith.hw.catalogue import PRESETS

from results import OUT, publish, tracked


def main():
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--sim", default="icarus", choices=["icarus", "verilator"])
    arguments.add_argument("-o", "--output", default=str(OUT))
    arguments.add_argument("presets", nargs="*", help="default: every preset")
    args = arguments.parse_args()
    rows = []
    for name in tracked(args.presets or PRESETS, f"sim_defaults {args.sim}", "presets"):
        # yowasp tools cannot use /tmp: keep the scratch folder under build/
        os.makedirs("build", exist_ok=True)
        with tempfile.TemporaryDirectory(dir="build", prefix="sim-defaults-") as scratch:
            env = {**os.environ, "NNARITH_BUILD": scratch}
            start = time.perf_counter()
            run = subprocess.run([sys.executable, "-m", "nnarith.cli", "sim", name,
                                  "--sim", args.sim, "--quiet"],
                                 env=env, capture_output=True, text=True)
            seconds = time.perf_counter() - start
        if run.returncode:
            sys.exit(f"{name}: nnarith sim failed (exit status {run.returncode}): "
                     f"{(run.stderr or run.stdout).strip()}")
        vectors = re.search(r"([\d,]+) vectors", run.stdout)
        rows.append({"preset": name, "simulator": args.sim,
                     "vectors": int(vectors[1].replace(",", "")),
                     "seconds": round(seconds, 1), "load": round(os.getloadavg()[0], 2)})
        print(rows[-1], flush=True)
    total = sum(row["seconds"] for row in rows)
    lines = [f"| preset | vectors | seconds ({args.sim}) |", "|---|---|---|"]
    lines += [f"| {row['preset']} | {row['vectors']:,} | {row['seconds']:.1f} |" for row in rows]
    lines.append(f"| **all {len(rows)}** | | **{total / 60:.1f} min** |")
    publish(f"sim_defaults_{args.sim}", rows, lines, args.output)


if __name__ == "__main__":
    main()
