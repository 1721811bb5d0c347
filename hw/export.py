"""Verilog export and the JSON manifest that lets any harness drive a unit."""

import json
from pathlib import Path

from amaranth.back import verilog
from amaranth.hdl import Fragment, Shape
from amaranth.lib.wiring import Flow

from .catalogue import build, get_preset

__all__ = ["manifest", "export", "export_preset", "timing_estimate"]


def manifest(unit, top, preset=None):
    """Everything an outside harness needs: ports, clock, reset, timing, formats."""
    ports = []
    if unit.latency:
        ports += [
            {"name": "clk", "dir": "in", "width": 1, "signed": False, "kind": "clock",
             "doc": "rising-edge clock"},
            {"name": "rst", "dir": "in", "width": 1, "signed": False, "kind": "reset",
             "doc": "synchronous active-high reset (clears the valid pipeline)"},
        ]
    for name, member in unit.signature.members.items():
        shape = Shape.cast(member.shape)
        kind, doc = unit.port_docs[name]
        ports.append({"name": name, "dir": "in" if member.flow == Flow.In else "out",
                      "width": shape.width, "signed": shape.signed, "kind": kind, "doc": doc})
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
        "ports": ports,
    }


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


def export(unit, top, out_dir, preset=None):
    """Write ``out_dir/<top>.v`` and ``out_dir/<top>.json``; return both paths.

    The output depends only on the unit's parameters and ``top``: no source
    locations, no time stamps, so identical parameters give identical bytes.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    v_path, json_path = out_dir / f"{top}.v", out_dir / f"{top}.json"
    _write_if_changed(v_path, verilog.convert(unit, name=top, emit_src=False))
    _write_if_changed(json_path, json.dumps(manifest(unit, top, preset), indent=2) + "\n")
    return v_path, json_path


def _write_if_changed(path, text):
    """Leave identical files alone, so that build steps keyed on mtimes stay valid."""
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def export_preset(name, out_dir, overrides=None, top=None):
    """Export preset ``name`` (with parameter ``overrides``) under ``top`` (default: the preset name)."""
    get_preset(name)
    return export(build(name, overrides), top or name, out_dir, preset=name)
