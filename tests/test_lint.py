"""Every export is plain Verilog, ports in the fixed order, and clean under
``verilator --lint-only -Wall`` with no waivers but its own ``<top>.vlt``.

The presets as catalogued run in ``make test`` (MMA blocks as one output element);
whole MMA blocks and every arch/stages variant (:attr:`Preset.variants`, stages
1..3, the Booth tree) in ``make exhaustive``.
"""

import json
import os
import subprocess

import pytest
from amaranth.lib.wiring import Flow

from nnarith.hw.catalogue import PRESETS, build
from nnarith.hw.export import export
from nnarith.sim.runner import simulator_env


def verilator(*args, cwd):
    return subprocess.run(["verilator", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **simulator_env("verilator")})


def check_export(name, overrides, out):
    """Export the preset into ``out``; check its ports, identifiers and lint."""
    unit = build(name, overrides)
    files = export(unit, name, out, preset=name)
    members = unit.signature.members
    order = ((["clk", "rst"] if unit.latency else [])
             + [port for port, member in members.items() if member.flow == Flow.In]
             + [port for port, member in members.items() if member.flow == Flow.Out])
    assert [p["name"] for p in json.loads(files.manifest.read_text())["ports"]] == order
    text = files.verilog.read_text()
    assert f"\nmodule {name}({', '.join(order)});\n" in text
    assert "\\" not in text, "escaped identifier"
    # Named as in the export directory: the waivers' bare file pattern.
    result = verilator("--lint-only", "-Wall", "--top-module", name, files.waivers.name,
                       files.verilog.name, cwd=out)
    assert result.returncode == 0, result.stderr[-4000:]


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_exports_plain_lint_clean_verilog(tmp_path, name):
    """MMA blocks as one output element: every element has the same datapath, and a
    whole FP8 4x4x32 block takes minutes (it runs in the slow set)."""
    check_export(name, PRESETS[name].one_output(), tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("name", [name for name, preset in PRESETS.items() if preset.is_block])
def test_whole_mma_blocks_export_plain_lint_clean_verilog(tmp_path, name):
    check_export(name, {}, tmp_path)


@pytest.mark.parametrize("name", ["q8_8_mul", "fp16_mac32"])
def test_lint_clean_without_waivers_or_wall(tmp_path, name):
    """What a vendor flow runs by default needs no waiver file: only -Wall's
    style rules are waived."""
    files = export(build(name, {"stages": 2}), name, tmp_path, preset=name)
    result = verilator("--lint-only", files.verilog.name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]


def _variants():
    """Each preset's variants that differ from it: its own, stages 1..3 and,
    where the unit has one, the Booth multiplier tree (also pipelined)."""
    for name, preset in PRESETS.items():
        archs = next((p.choices for p in preset.unit.PARAMS if p.name == "arch"), None) or ()
        candidates = [*preset.variants, *({"stages": stages} for stages in (1, 2, 3))]
        if "booth" in archs:
            candidates += [{"arch": "booth"}, {"arch": "booth", "stages": 2}]
        seen = [preset.resolve()]
        for overrides in candidates:
            try:
                params = preset.resolve(overrides)
            except ValueError:
                continue                # e.g. a stages count the unit does not take
            if params not in seen:
                seen.append(params)
                yield pytest.param(name, overrides, id=f"{name}-" + "-".join(
                    f"{key}={value}" for key, value in overrides.items()))


@pytest.mark.slow
@pytest.mark.parametrize("name, overrides", list(_variants()))
def test_every_variant_exports_plain_lint_clean_verilog(tmp_path, name, overrides):
    check_export(name, overrides, tmp_path)
