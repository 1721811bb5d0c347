"""``nnarith model digits``: a network trained on scikit-learn's digits, run in
each precision recipe through the generated RTL, with what each precision buys
(accuracy, agreement with fp32) and costs (cycles in the RTL, unit area).

The pipeline: the seeded split and the trained float32 weights (cached in
``<out>/<net>.npz``, retrained when the training settings change); every
recipe of :mod:`nnarith.golden.recipes` on the test images (or the first
``images``); each recipe's hardware calls replayed through the units'
exported Verilog (:mod:`nnarith.sim.network`; a mismatch stops the run with
the layer and a repro); the units' area from the synthesis flow, one output
element of an MMA block synthesized and scaled by m·n as ``bench/mma.py``
does (cached per unit under ``<out>/synth``). Cycles are the RTL's: one MMA
tile or requantizer vector per clock, as the GEMM and vector drivers count
them, for one unit of each kind (divide by the units in an array).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from .golden import network, recipes
from .progress import Progress

__all__ = ["NETS", "DEFAULT_RECIPES", "run", "write_report"]

NETS = ("mlp", "cnn")
#: What ``nnarith model digits`` runs without ``--recipe``: one of each family and GPU.
DEFAULT_RECIPES = ("fp32", "fp16_fused", "fp16_v100", "bf16_a100", "tf32_a100", "e4m3_ada",
                   "e4m3_h100", "e4m3_h100_promoted", "int8_sym_tensor_minmax",
                   "int8_asym_channel_kl")


def _model(net, split, out):
    """The trained network: loaded from ``out/<net>.npz`` if it was trained on
    this split with these settings, else trained (seeded) and saved there."""
    path = Path(out) / f"{net}.npz"
    if path.is_file():
        cached = network.load(path)
        if cached.config.get("split") == split.config() and cached.kind == net:
            return cached
    model = network.train(net, split)
    network.save(model, path)
    return model


def _area(preset, overrides, out, liberty):
    """Generic cells (and µm² with a liberty) of one unit: an MMA block from one
    output element × m·n (labelled derived), cached in ``out/synth``."""
    from .hw.catalogue import get_preset
    from .hw.synth import synthesize

    one = get_preset(preset).one_output()
    params = get_preset(preset).resolve(overrides)
    scale = params["m"] * params["n"] if one else 1
    name = preset + "".join(f"_{k}{v}" for k, v in {**overrides, **one}.items())
    cache = Path(out) / "synth" / f"{name}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    targets = ("generic", "asic") if liberty else ("generic",)
    from .api import build
    result = synthesize(build(preset, **{**overrides, **one}), preset, Path(out) / "synth" / name,
                        targets=targets, liberty=liberty, fmax=False, progress=False)
    area = {"cells": result["generic"]["cells"] * scale,
            "um2": result["asic"]["area_um2"] * scale if liberty else None,
            "derived": scale > 1}
    cache.write_text(json.dumps(area))
    return area


def run(net: str = "mlp", recipe_names=None, *, images: int | None = None,
        simulator: str = "verilator", rtl: bool = True, liberty: str | None = None,
        out: str | Path = "build/model", progress: bool = True) -> list[dict]:
    """One row per recipe: accuracy, agreement with fp32, RTL = golden, cycles,
    MACs and unit area per inference. ``images``: the first N test images
    (default: the whole test split). ``rtl=False`` skips the Verilog (golden
    only). Raises ValueError for a bad net, recipe or count before any run,
    :class:`~nnarith.sim.network.RecipeMismatch` if the RTL disagrees."""
    if net not in NETS:
        raise ValueError(f"net: must be one of {', '.join(NETS)}, got {net!r}")
    names = list(DEFAULT_RECIPES if recipe_names is None else recipe_names)
    for name in names:
        recipes.get_recipe(name)
    split = network.load_digits_split()
    total = len(split.x_test)
    if images is not None and (isinstance(images, bool) or not isinstance(images, int)
                               or not 1 <= images <= total):
        raise ValueError(f"images: must be 1..{total} (the test split), got {images!r}")
    count = images or total
    x, y = split.x_test[:count], split.y_test[:count]
    Path(out).mkdir(parents=True, exist_ok=True)
    model = _model(net, split, out)
    reference = recipes.run(recipes.prepare("fp32", model, split), x)
    rows = []
    with Progress(f"model digits {net}", len(names), "recipes", enabled=progress) as bar:
        for name in names:
            bar.step(name)
            start = time.perf_counter()
            result = recipes.run(recipes.prepare(name, model, split), x)
            replayed = []
            if rtl and result.calls:
                from .sim.network import replay_all
                replayed = replay_all(result.calls, simulator=simulator)
            units = {(c.preset, tuple(sorted(c.overrides.items()))) for c in result.calls}
            areas = [_area(p, dict(o), out, liberty) for p, o in sorted(units)]
            rows.append({
                "net": net, "recipe": name, "label": recipes.get_recipe(name).label,
                "images": count, "accuracy": recipes.accuracy(result, y),
                "agreement": recipes.agreement(result, reference),
                # True: every call equal in the RTL (a mismatch raises); None: not run.
                "rtl_equal": True if replayed else None,
                "rtl_calls": len(replayed),
                "cycles_per_inference": sum(r.cycles for r in replayed) / count if replayed
                else None,
                "macs_per_inference": result.useful_macs / count,
                "units": [p for p, _ in sorted(units)],
                "cells": sum(a["cells"] for a in areas) or None,
                "um2": sum(a["um2"] for a in areas) if liberty and areas else None,
                "area_derived": any(a["derived"] for a in areas),
                "seconds": round(time.perf_counter() - start, 1)})
            bar.advance()
    return rows


def write_report(rows: list[dict], out: str | Path = "build/model") -> tuple[Path, Path]:
    """``report.json`` (the rows) and ``report.md`` (the table) under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(rows, indent=2))

    def number(value, spec):
        return "–" if value is None else format(value, spec)
    lines = ["| net | recipe | accuracy % | top-1 = fp32 % | RTL = golden | cycles / inference "
             "| MACs / inference | units | area (generic cells) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rtl = f"yes ({r['rtl_calls']} calls)" if r["rtl_equal"] else "n/a"
        area = number(r["cells"], ",.0f") + (" (derived)" if r["area_derived"] else "")
        lines.append(f"| {r['net']} | {r['label']} | {100 * r['accuracy']:.2f} | "
                     f"{100 * r['agreement']:.2f} | {rtl} | "
                     f"{number(r['cycles_per_inference'], ',.1f')} | "
                     f"{r['macs_per_inference']:,.0f} | {', '.join(r['units']) or '–'} | "
                     f"{area} |")
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return out / "report.json", out / "report.md"
