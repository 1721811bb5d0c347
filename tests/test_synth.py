"""Synthesis flow: every preset passes Yosys's checks; numbers come from stat -json."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nnarith.hw.catalogue import PRESETS, build
from nnarith.hw.export import timing_estimate
from nnarith.hw.synth import SynthesisError, lint, lint_verilog, synthesize

LIBERTY = Path(__file__).resolve().parents[2] / "shared" / "pdk" / "nangate45_typical.lib"


def synth_dir(name):
    return Path("build", "test-synth", name)


#: MMA blocks are checked one output element at a time in ``make test`` (every element
#: has the same datapath, and a whole FP8 4x4x32 block takes minutes), whole in the slow set.
MMA_BLOCKS = sorted(name for name, preset in PRESETS.items() if preset.is_block)


def check_latches_and_loops(name, shape):
    preset = PRESETS[name]
    stages_param = next((p for p in preset.unit.PARAMS if p.name == "stages"), None)
    # The preset at its fewest ranks and pipelined; its variants pipelined only.
    for overrides in ({}, *preset.variants):
        runs = [{**overrides, **shape}]
        if stages_param is not None:
            fewest = stages_param.bound(stages_param.lo, preset.resolve(runs[0]))
            stages = sorted({fewest, max(fewest, 2)}) if not overrides else [max(fewest, 2)]
            runs = [{**runs[0], "stages": n} for n in stages]
        for params in runs:
            variant = "-".join(f"{k}-{v}" for k, v in params.items()) or "default"
            lint(build(name, params), name, synth_dir(f"{name}-{variant}"))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_free_of_latches_and_loops(name):
    check_latches_and_loops(name, PRESETS[name].one_output())


@pytest.mark.slow
@pytest.mark.parametrize("name", MMA_BLOCKS)
def test_whole_mma_blocks_are_free_of_latches_and_loops(name):
    check_latches_and_loops(name, {})


@pytest.mark.parametrize("verilog, problem", [
    ("module bad(input e, input d, output reg q); always @* if (e) q = d; endmodule", "latch"),
    ("module bad(input a, output y); wire w; assign w = a ^ y; assign y = w; endmodule", "loop"),
])
def test_lint_catches_latches_and_loops(verilog, problem):
    workdir = synth_dir(f"bad-{problem}")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bad.v").write_text(verilog + "\n")
    with pytest.raises(SynthesisError, match=problem):
        lint_verilog("bad", workdir)


def test_pipelined_unit_has_its_registers():
    unit = build("int8_mul", {"stages": 2, "arch": "booth"})
    result = synthesize(unit, "int8_mul", synth_dir("int8_mul-s2"), targets=("generic",))
    # the register bits the delay model placed (less any Yosys finds constant), 2 valid bits
    placed = timing_estimate(unit)["registers"]
    assert 2 * 16 < placed and placed // 2 < result["generic"]["flops"] - 2 <= placed
    assert result["generic"]["transistors_exclude_flops"]


def test_cli_synth_json_has_the_whole_story():
    out = synth_dir("cli")
    result = subprocess.run([sys.executable, "-m", "nnarith.cli", "synth", "int8_mul", "--json",
                             "-o", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout)
    assert r["generic"]["cells"] == r["generic"]["logic_cells"] > 100
    assert r["generic"]["transistors"] > r["generic"]["cells"]
    assert r["generic"]["levels"] > 5
    assert r["ice40"]["dsp"] == 1 and r["ecp5"]["dsp"] == 1 and r["xilinx"]["dsp"] == 1
    assert r["ecp5_nodsp"]["dsp"] == 0 and r["ecp5_nodsp"]["lut4"] > 100
    assert r["xilinx_nodsp"]["lut"] > 50
    assert 20 < r["ecp5"]["fmax_mhz"] < 1000 and 20 < r["ecp5_nodsp"]["fmax_mhz"] < 1000
    assert "asic" not in r


@pytest.mark.skipif(not LIBERTY.is_file(), reason=f"no liberty at {LIBERTY} (shared/ absent)")
def test_liberty_area():
    unit = build("int8_mul", {"arch": "booth"})
    result = synthesize(unit, "int8_mul", synth_dir("int8_mul-asic"), targets=("asic",),
                        liberty=LIBERTY)
    assert 100 < result["asic"]["area_um2"] < 2000
    assert result["asic"]["liberty"] == LIBERTY.name


def test_bad_target_and_liberty_are_refused():
    with pytest.raises(ValueError, match="^target: must be one of"):
        synthesize(build("int8_mul"), "x", synth_dir("bad"), targets=("asic40",))
    with pytest.raises(ValueError, match="^liberty: no such file"):
        synthesize(build("int8_mul"), "x", synth_dir("bad"), liberty="/nonexistent.lib")


def test_make_synth_report_is_sweep_points_a_rerun_reuses(here):
    """``nnarith report`` (make synth): a synth and an fmax point per preset
    and variant in <output>/synth.db; the second run synthesizes nothing."""
    from nnarith.hw.report import synth_report
    from nnarith.sweep import Results
    out = here / "report"
    # bitbrick: small enough to synthesize and place in seconds.
    rows = synth_report(out, presets=["bitbrick"], workers=1, progress=False)
    assert [(r["preset"], r["variant"]) for r in rows] == [("bitbrick", "")]
    row, = rows
    assert row["generic"]["cells"] > 20 and row["ice40"]["lut4"] > 5
    assert row["xilinx"]["lut"] > 5 and row["ecp5_nodsp"]["lut4"] > 5
    assert row["ecp5_nodsp"]["fmax_mhz"] > 50
    assert "| bitbrick | - |" in (out / "report.md").read_text()
    store = Results(out / "synth.db")
    finished = [row["finished"] for row in store.rows()]
    store.close()
    assert len(finished) == 2                      # a synth and an fmax point
    again = synth_report(out, presets=["bitbrick"], workers=1, progress=False)
    assert again == json.loads((out / "report.json").read_text()) == rows
    store = Results(out / "synth.db")
    assert [row["finished"] for row in store.rows()] == finished      # nothing rerun
    store.close()


def test_make_synth_takes_a_block_whole_for_area_and_one_element_for_fpgas():
    """A block's row: generic (and asic) from the whole block synthesized from
    its parts, the FPGA columns from one output element, marked so."""
    from nnarith.hw.report import ELEMENT, _row, markdown, report_points
    settings = {"targets": ["generic", "ice40", "xilinx"], "liberty": None}
    whole, fpga, timed = report_points("mma_int8", {}, settings)
    assert (whole.job, whole.params, whole.settings["targets"], whole.settings["split"]) == \
        ("synth", {}, ["generic"], True)
    assert (fpga.job, fpga.params, fpga.settings["targets"]) == \
        ("synth", {"m": 1, "n": 1}, ["ice40", "xilinx"])
    assert (timed.job, timed.params) == ("fmax", {"m": 1, "n": 1})
    assert [p.job for p in report_points("int8_mul", {"arch": "booth"}, settings)] == \
        ["synth", "fmax"]

    def done(result, metrics=None, seconds=1.0):
        return {"status": "done", "result": result, "metrics": metrics or {}, "seconds": seconds}
    ecp5 = {"ecp5": {"lut4": 90, "dsp": 4}, "ecp5_nodsp": {"lut4": 700, "dsp": 0}}
    row = _row("mma_int8", {}, [
        done({"generic": {"cells": 30000, "levels": 40, "top_cells": 10}}, seconds=20),
        done({"ice40": {"lut4": 800, "carry": 50, "dsp": 0},
              "xilinx": {"lut": 500, "dsp": 4}, "xilinx_nodsp": {"lut": 600, "dsp": 0}}),
        done(ecp5, {"fmax_mhz": 80.5, "fmax_nodsp_mhz": 70.25}, seconds=100)])
    assert row["generic"]["cells"] == 30000 and row["fpga_element"] and row["seconds"] == 121
    table = markdown([row])
    assert f"| mma_int8 | - | 30000 | 40 | n/a | n/a | 800/50/0{ELEMENT} | 90/4{ELEMENT} |" in table
    assert f"| 80.5 / 70.25{ELEMENT} | 121 |" in table and "one output element" in table
    failed = _row("mma_int8", {}, [done({}), {"status": "failed", "error": "abc: out of memory"},
                                   None])
    assert failed == {"preset": "mma_int8", "variant": "", "error": "abc: out of memory"}
    # The table names the failure; the log's path (this machine's) stays in report.json.
    timed_out = {"preset": "requant", "variant": "rounding=single", "error":
                 "timeout: no result within 3600 s; yosys generic failed (exit -9): 3.24.2. "
                 "Extracting gate netlist; log: /work/build/runs/3c46/generic.log"}
    assert ("| requant | rounding=single | failed: timeout: no result within 3600 s; yosys "
            "generic failed (exit -9): 3.24.2. Extracting gate netlist |") in markdown([timed_out])
    # A timeout is a setting of both of a row's points (and, a budget, in neither key).
    assert {p.settings["timeout"] for p in report_points(
        "int8_mul", {}, {**settings, "timeout": 3600})} == {3600.0}
