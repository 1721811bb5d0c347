"""Export contract: <top>.v + <top>.json, byte-identical for identical parameters,
and a manifest that describes the ports well enough to drive the unit."""

import json
import subprocess
import sys

import pytest

from nnarith.hw.catalogue import PRESETS, build
from nnarith.hw.export import export, export_preset


def nnarith(*args):
    return subprocess.run([sys.executable, "-m", "nnarith.cli", *args], capture_output=True, text=True)


def test_cli_export_is_byte_identical(tmp_path):
    for out in ("one", "two"):
        result = nnarith("verilog", "int8_mul", "-o", str(tmp_path / out))
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [str(tmp_path / out / "int8_mul.v"),
                                         str(tmp_path / out / "int8_mul.json")]
    for name in ("int8_mul.v", "int8_mul.json"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    verilog = (tmp_path / "one" / "int8_mul.v").read_text()
    assert "module int8_mul(" in verilog and str(tmp_path) not in verilog


def test_manifest_of_a_combinational_unit(tmp_path):
    _, path = export_preset("int8_mul", tmp_path)
    m = json.loads(path.read_text())
    assert (m["preset"], m["unit"], m["top"]) == ("int8_mul", "FixedMultiplier", "int8_mul")
    assert m["clock"] is None and m["reset"] is None and m["valid"] is None
    assert m["latency"] == 0 and m["initiation_interval"] == 1
    ports = {p["name"]: p for p in m["ports"]}
    assert ports["a"] == {"name": "a", "dir": "in", "width": 8, "signed": True,
                          "kind": "int8", "doc": "multiplicand"}
    assert ports["y"]["dir"] == "out" and ports["y"]["width"] == 16 and ports["y"]["signed"]
    assert set(ports) == {"a", "b", "y"}
    assert m["formats"]["y"] == {"name": "int16", "width": 16, "frac": 0, "signed": True}
    assert m["params"]["arch"] == "infer"


def test_manifest_of_a_pipeline(tmp_path):
    _, path = export_preset("q8_8_mul", tmp_path, {"stages": 3, "arch": "booth"}, top="qmul")
    m = json.loads(path.read_text())
    assert m["top"] == "qmul" and (tmp_path / "qmul.v").exists()
    assert (m["clock"], m["reset"], m["latency"]) == ("clk", "rst", 3)
    assert m["valid"] == {"in": "in_valid", "out": "out_valid"}
    ports = {p["name"]: p for p in m["ports"]}
    assert {"clk", "rst", "in_valid", "out_valid", "a", "b", "y", "ovf"} == set(ports)
    assert ports["a"]["kind"] == "q8.8" and ports["ovf"]["kind"] == "flag"
    verilog = (tmp_path / "qmul.v").read_text()
    for port in ports.values():
        assert f"{port['dir']}put " in verilog and port["name"] in verilog


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_exports_its_ports(tmp_path, name):
    unit = build(name)
    v, j = export(unit, name, tmp_path)
    m = json.loads(j.read_text())
    declared = [p["name"] for p in m["ports"]]
    clocked = ["clk", "rst"] if unit.latency else []
    assert declared == clocked + list(unit.signature.members)
    assert m["latency"] == unit.latency and (m["clock"] == "clk") == bool(unit.latency)
    assert all(p["doc"] and p["kind"] for p in m["ports"])
    assert f"module {name}(" in v.read_text()
