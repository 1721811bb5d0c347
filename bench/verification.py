"""The README's verification tables from the sweep databases: ``formal`` (the
Fusion Unit's mode words of sweeps/formal.toml, summed per operand widths)
and ``exhaustive`` (the 2**32-pair shards of sweeps/exhaustive.toml, summed
per unit and rounding mode). Runs nothing: ``make formal`` and ``make
exhaustive`` run the sweeps, then this.

``python bench/verification.py formal|exhaustive``: writes
build/bench/<name>.{json,md} and the README's table.
"""

import argparse
from pathlib import Path

from nnarith import sweep

from results import OUT, publish

ROOT = Path(__file__).resolve().parent.parent
SWEEPS = {"formal": ROOT / "sweeps" / "formal.toml",
          "exhaustive": ROOT / "sweeps" / "exhaustive.toml"}


def main():
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("name", choices=sorted(SWEEPS))
    arguments.add_argument("-o", "--output", default=str(OUT))
    args = arguments.parse_args()
    points, options = sweep.load_file(SWEEPS[args.name])
    db = Path(options["db"])
    if not db.is_file():
        raise SystemExit(f"verification: no database {db}: run `make {args.name}` first")
    found = sweep.collect(points, db)
    rows = [row for row in found if row is not None]
    missing = len(found) - len(rows)
    lines = sweep.totals(points[0].job, rows)[1:]
    lines.append(f"\n{len(rows)} of {len(found)} points of `{SWEEPS[args.name].relative_to(ROOT)}` "
                 f"in `{db}`" + (f"; {missing} not run yet." if missing else "."))
    publish(args.name, [{key: row[key] for key in ("preset", "params", "settings", "status",
                                                    "metrics", "seconds")} for row in rows],
            lines, Path(args.output))


if __name__ == "__main__":
    main()
