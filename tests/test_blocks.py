"""Whole blocks from their parts (hw/blocks.py, ``synthesize_split``): an
MMA's output elements are one part however many, the top instantiates that
part's module with its ports mapped by position, and the stitched netlist is
formally equal to the block's RTL and counted as top + instances x part."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nnarith.hw.blocks import modules, split
from nnarith.hw.catalogue import build
from nnarith.hw.export import export
from nnarith.hw.synth import synthesize_exported, synthesize_split

LIBERTY = Path(__file__).resolve().parents[1].parent / "shared" / "pdk" / "nangate45_typical.lib"


def exported(preset, overrides, here):
    unit = build(preset, overrides)
    return export(unit, preset, here / "rtl").verilog.read_text()


@pytest.mark.parametrize("preset, overrides", [
    ("mma_int8", {"m": 2, "n": 3, "k": 2}),
    ("mma_fp16", {"m": 2, "n": 2, "k": 2, "stages": 2}),
    ("mma_fp16_v100", {"m": 2, "n": 1, "k": 4, "arch": "booth", "stages": 3}),
])
def test_identical_outputs_are_one_part(preset, overrides, here):
    text = exported(preset, overrides, here)
    block = split(text, preset)
    outputs = overrides["m"] * overrides["n"]
    assert [(part.module, part.count) for part in block.parts] == [(f"{preset}__o0_0", outputs)]
    # Every instance names the part's module; its ports are the part's own.
    header = re.search(r"module \w+\(([^)]*)\)", block.parts[0].text)[1]
    ports = re.sub(r"\s", "", header).split(",")
    instances = re.findall(rf"(?ms)^  {preset}__o0_0 (o\d+_\d+) \((.*?)\);", block.text)
    assert sorted(name for name, _ in instances) == sorted(
        f"o{i}_{j}" for i in range(overrides["m"]) for j in range(overrides["n"]))
    for _, connections in instances:
        assert sorted(re.findall(r"\.(\w+)\(", connections)) == sorted(ports)
    assert set(modules(block.text)) == {preset}


def test_different_and_nested_submodules():
    """Parts are told apart by content, their own submodules' included."""
    def module(name, body, ports="a, y"):
        return f"module {name}({ports});\n  input a;\n  output y;\n{body}endmodule\n"
    text = (module("t", "  t__x x (\n    .a(a),\n    .y(y0)\n  );\n"
                        "  t__z z (\n    .a(a),\n    .y(y1)\n  );\n"
                        "  t__w w (\n    .a(a),\n    .y(y2)\n  );\n")
            + module("t__x", "  t__x__leaf l (\n    .a(a),\n    .y(y)\n  );\n")
            + module("t__x__leaf", "  assign y = ~a;\n")
            + module("t__z", "  t__z__leaf l (\n    .a(a),\n    .y(y)\n  );\n")
            + module("t__z__leaf", "  assign y = ~a;\n")
            + module("t__w", "  t__w__leaf l (\n    .a(a),\n    .y(y)\n  );\n")
            + module("t__w__leaf", "  assign y = a;\n"))
    block = split(text, "t")
    assert [(p.module, p.count) for p in block.parts] == [("t__x", 2), ("t__w", 1)]
    assert set(modules(block.parts[0].text)) == {"t__x", "t__x__leaf"}
    assert "t__z" not in block.text and block.text.count("t__x x") == 1
    with pytest.raises(ValueError, match="split: t__w__leaf exports one module"):
        split(text, "t__w__leaf")
    with pytest.raises(ValueError, match="top: no module nope"):
        split(text, "nope")


def stitched(preset, overrides, here, targets=("generic",), liberty=None):
    text = exported(preset, overrides, here)
    block = split(text, preset)
    work = here / "block"
    work.mkdir()
    (work / f"{preset}.v").write_text(block.text)
    parts = []
    for part in block.parts:
        folder = here / part.module
        folder.mkdir()
        top, alone = part.alone
        (folder / f"{top}.v").write_text(alone)
        parts.append(synthesize_exported(top, folder, targets, liberty, netlist=part.module))
        (work / f"{part.module}.v").write_text(part.text)
        for target in targets:
            shutil.copy(folder / f"{target}_netlist.json", work / f"{part.module}_{target}.json")
    result = synthesize_split(preset, work, [(p.module, p.count) for p in block.parts], targets,
                              liberty)
    return text, block, parts, result, work


def test_stitched_block_equals_its_rtl(here):
    """A combinational 2x2x2 int4 MMA: the stitched gates against the RTL on
    4,000 random vectors (Icarus; a SAT miter of the multipliers takes minutes)."""
    preset, overrides = "mma_int8", {"m": 2, "n": 2, "k": 2, "in_bits": 4}
    text, block, parts, result, work = stitched(preset, overrides, here)
    generic = result["generic"]
    assert generic["cells"] == generic["top_cells"] + 4 * parts[0]["generic"]["cells"]
    assert generic["levels"] >= parts[0]["generic"]["levels"]
    gates = (work / "generic_stitched.v").read_text().replace(f"module {preset}(",
                                                               "module gates(", 1)
    (work / "both.v").write_text(text + gates + f"""
module bench;
  reg [15:0] a, b;
  reg [127:0] c;
  wire [127:0] d_rtl, d_gates;
  wire [3:0] ovf_rtl, ovf_gates;
  integer i, seed = 1, errors = 0, checked = 0;
  {preset} rtl(.a(a), .b(b), .c(c), .d(d_rtl), .ovf(ovf_rtl));
  gates stitched(.a(a), .b(b), .c(c), .d(d_gates), .ovf(ovf_gates));
  initial begin
    for (i = 0; i < 4000; i = i + 1) begin
      a = $random(seed); b = $random(seed);
      c = {{$random(seed), $random(seed), $random(seed), $random(seed)}};
      if (i % 4 == 0) c = {{4{{16'h7ff0 ^ $random(seed)}}}};       // near overflow
      #1 checked = checked + 1;
      if (d_rtl !== d_gates || ovf_rtl !== ovf_gates) errors = errors + 1;
    end
    $display("checked=%0d errors=%0d", checked, errors);
    $finish;
  end
endmodule
""")
    subprocess.run(["iverilog", "-g2012", "-o", "both", "-s", "bench", "both.v"], cwd=work,
                   check=True)
    run = subprocess.run(["vvp", "-n", "both"], cwd=work, capture_output=True, text=True,
                         check=True)
    assert "checked=4000 errors=0" in run.stdout, run.stdout


def test_pipelined_block_keeps_its_registers(here):
    """Registers live in the parts: the stitched flops are the flat design's."""
    preset, overrides = "mma_int8", {"m": 2, "n": 2, "k": 2, "in_bits": 4, "acc_width": 16,
                                     "stages": 2}
    text, block, parts, result, work = stitched(preset, overrides, here)
    flat = here / "flat"
    flat.mkdir()
    (flat / f"{preset}.v").write_text(text)
    whole = synthesize_exported(preset, flat, ["generic"])["generic"]
    assert parts[0]["generic"]["flops"] > 0
    assert result["generic"]["flops"] == whole["flops"]


@pytest.mark.skipif(not LIBERTY.is_file(), reason="no liberty at ../shared/pdk")
def test_stitched_area_is_top_plus_parts(here):
    preset, overrides = "mma_int8", {"m": 1, "n": 2, "k": 2, "in_bits": 4, "acc_width": 16}
    _, _, parts, result, _ = stitched(preset, overrides, here, ("generic", "asic"), LIBERTY)
    assert result["asic"]["liberty"] == LIBERTY.name
    assert result["asic"]["area_um2"] >= 2 * parts[0]["asic"]["area_um2"] - 0.2
    assert result["asic"]["cells"] == result["asic"]["top_cells"] + 2 * parts[0]["asic"]["cells"]
