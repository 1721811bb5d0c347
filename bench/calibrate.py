"""Fit the ECP5 delay model (:data:`hw.pipeline.DELAY_MODELS`) to measured Fmax.

Reads the points of ``bench/timing.py`` (``build/bench/timing.json``, and
``timing_only.json`` when present: each pipelined point carries the
:class:`~hw.pipeline.Delay` of every stage of the placement it measured),
and searches a grid for the LUT, carry-chain, per-bit and register costs
whose slowest stage best predicts nextpnr's seed-1 period (least squares
on log Fmax, an optimistic error weighing three times a pessimistic one). Prints each point's error under the current model and the fit.

``python bench/calibrate.py [FILE.json ...]`` writes
build/bench/calibration.{json,md}; the fitted figures are then copied into
``DELAY_MODELS`` by hand (so a model change is a reviewed commit).
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import parse, parser, publish  # noqa: E402

from nnarith.hw.pipeline import DELAY_MODELS  # noqa: E402

#: Candidate costs in ns: LUT level, entering a carry chain, one chain bit,
#: register. A chain bit is what nextpnr's reports give (0.071 ns per CCU2C of
#: two bits), and entering a chain costs at least the 1 ns of routing every
#: report shows into its first cell: left free, the fit trades them against
#: the other costs.
GRID = {
    "lut_ns": np.arange(0.70, 1.61, 0.025),
    "chain_ns": np.arange(1.0, 3.01, 0.05),
    "bit_ns": np.array([0.035]),
    "register_ns": np.arange(0.3, 2.21, 0.05),
}


#: An optimistic estimate weighs this much more than a pessimistic one: a
#: ``target_mhz`` should not promise what nextpnr then does not deliver.
OPTIMISM_WEIGHT = 3.0


def load(paths):
    """Measured pipelined points with their stage delays, one per unit, params and stages."""
    points = {}
    for path in paths:
        for point in json.loads(Path(path).read_text())["points"]:
            if point.get("stage_paths") and point["fmax_mhz"] and point["stages"]:
                key = (point["unit"], tuple(sorted(point["params"].items())), point["stages"])
                points[key] = point
    return list(points.values())


def predict(point, theta):
    """Modelled Fmax in MHz of ``point`` for each row of ``theta`` (n x 4)."""
    stages = np.array([[luts, chains, carry, 1.0] for luts, carry, chains in point["stage_paths"]])
    return 1000.0 / (stages @ theta.T).max(axis=0)


def fit(points):
    """The grid point minimizing the squared log error, and that error per point."""
    axes = np.meshgrid(*GRID.values(), indexing="ij")
    theta = np.stack([a.ravel() for a in axes], axis=1)
    measured = np.array([p["fmax_mhz"] for p in points])
    loss = np.zeros(len(theta))
    for point, fmax in zip(points, measured):
        error = np.log(predict(point, theta) / fmax)
        loss += np.where(error > 0, OPTIMISM_WEIGHT, 1.0) * error ** 2
    return dict(zip(GRID, (round(float(v), 3) for v in theta[loss.argmin()])))


def errors(points, model):
    theta = np.array([[model["lut_ns"], model["chain_ns"], model["bit_ns"],
                       model["register_ns"]]])
    return [float(predict(p, theta)[0] / p["fmax_mhz"] - 1) for p in points]


def main():
    arguments = parser(__doc__)
    arguments.add_argument("files", nargs="*", help="timing JSON files (default: build/bench's)")
    args = parse(arguments)
    files = args.files or [f for f in (args.output / "timing.json", args.output / "timing_only.json")
                           if f.is_file()]
    points = load(files)
    if len(points) < 5:
        sys.exit(f"calibrate: {len(points)} pipelined points with stage delays in {files}; "
                 "run bench/timing.py first")
    current = {k: getattr(DELAY_MODELS["ecp5"], k) for k in GRID}
    fitted = fit(points)
    before, after = errors(points, current), errors(points, fitted)

    def summary(values):
        return f"mean |error| {100 * np.mean(np.abs(values)):.1f} %, worst {100 * max(values, key=abs):+.0f} %"

    lines = ["| unit | stages | Fmax seed 1 (MHz) | current model | fitted model |",
             "|---|---|---|---|---|"]
    for point, b, a in sorted(zip(points, before, after), key=lambda x: (x[0]["unit"], x[0]["stages"])):
        params = " ".join(f"{k}={v}" for k, v in point["params"].items())
        lines.append(f"| {point['unit']} {params} | {point['stages']} | {point['fmax_mhz']} "
                     f"| {100 * b:+.0f} % | {100 * a:+.0f} % |")
    lines += ["", f"{len(points)} points. Current ECP5 model {current}: {summary(before)}.",
              f"Fitted {fitted}: {summary(after)}."]
    publish("calibration", {"current": current, "fitted": fitted, "points": len(points),
                            "errors_current": before, "errors_fitted": after}, lines, args.output)


if __name__ == "__main__":
    main()
