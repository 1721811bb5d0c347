"""How long each preset's default `nnarith sim PRESET` takes, end to end.
Writes build/bench/sim_defaults_<simulator>.{json,md} and, for a run of every
preset, the README's table (a run of some writes sim_defaults_<simulator>_only).
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
    # Only a run of every preset is the README's (its table is Icarus's).
    name = "sim_defaults_icarus" if args.sim == "icarus" else "sim_defaults_verilator"
    every = sorted(row["preset"] for row in rows) == sorted(PRESETS)
    publish(name if every else f"{name}_only", rows, table(rows, args.sim), args.output)


def table(rows, sim, columns=3):
    """The presets down ``columns`` side-by-side columns, then their total."""
    height = -(-len(rows) // columns)
    lines = ["| " + " | ".join(["preset | vectors | s"] * columns) + " |",
             "|" + "---|" * 3 * columns]
    for line in range(height):
        cells = []
        for row in rows[line::height]:
            cells += [row["preset"], f"{row['vectors']:,}", f"{row['seconds']:.1f}"]
        cells += [""] * (3 * columns - len(cells))
        lines.append("| " + " | ".join(cells) + " |")
    longest = max(rows, key=lambda row: row["seconds"])
    total = sum(row["seconds"] for row in rows) / 60
    return lines + ["", f"All {len(rows)} one after another on {sim}: {total:.1f} min; the "
                        f"longest, `{longest['preset']}`, {longest['seconds']:.0f} s."]


if __name__ == "__main__":
    main()
