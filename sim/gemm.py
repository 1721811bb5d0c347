"""Whole-matrix GEMMs through an MMA unit's exported Verilog.

:func:`simulate_gemm` draws random M×K×N operands, computes the expected D by
chaining the unit's golden model tile by tile along K (each tile's rounded D
is the next tile's C, exactly what the hardware is fed), and runs
:mod:`sim.cocotb_gemm`, which streams the tiles through the RTL with the RTL's
own D fed back as C.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..hw.catalogue import build
from ..hw.export import export

from ..progress import Progress

from .mma import unpack
from .runner import MODELS, check_simulator, command_line, run_cocotb, workdir_for

__all__ = ["GemmResult", "parse_shape", "simulate_gemm", "tile_chain"]

MMA_UNITS = ("FloatMMA", "IntMMA")


@dataclass
class GemmResult:
    preset: str
    shape: tuple
    simulator: str
    seed: int
    elements: int
    mismatches: int
    tiles_issued: int
    cycles: int
    idle_cycles: int
    seconds: float
    failures: str | None
    workdir: Path
    expected: np.ndarray
    finished: bool
    #: One command line that reproduces the run (None for a rounding mode other than RNE).
    command: str | None = None

    @property
    def ok(self):
        return self.finished and self.mismatches == 0 and self.elements > 0

    def summary(self):
        m, k, n = self.shape
        status = "PASS" if self.ok else "FAIL"
        timing = (f"in {self.cycles} cycles ({self.idle_cycles} idle)" if self.cycles
                  else "(combinational)")
        text = (f"{status} {self.preset} GEMM {m}x{k}x{n} on {self.simulator}: "
                f"{self.elements} elements of D, {self.mismatches} mismatches, seed {self.seed}, "
                f"{self.tiles_issued} tiles {timing}")
        if self.failures:
            text += f"\n  failing elements: {self.failures}"
        if self.command and not self.ok:
            text += f"\n  reproduce: {self.command}"
        return text


def parse_shape(text):
    """``"64x96x48"`` -> (64, 96, 48): M, K, N."""
    match = re.fullmatch(r"(\d+)x(\d+)x(\d+)", str(text))
    if not match or 0 in (shape := tuple(int(g) for g in match.groups())):
        raise ValueError(f"gemm: must be MxKxN with positive integers, got {text!r}")
    return shape


def _check_shape(unit, shape):
    p = unit.params
    for name, size, tile in zip("MKN", shape, (p["m"], p["k"], p["n"])):
        if size % tile:
            raise ValueError(f"gemm: {name} must be a multiple of the unit's "
                             f"{name.lower()} ({tile}), got {size}")


def _tiles(matrix, rows, cols):
    """(R, C) -> (R/rows * C/cols, rows, cols), row-major over the tiles."""
    r, c = matrix.shape
    return matrix.reshape(r // rows, rows, c // cols, cols).transpose(0, 2, 1, 3).reshape(
        -1, rows, cols)


def tile_chain(model, a, b, c, fixed):
    """D of the tiled GEMM by the unit's golden model: K/k steps, each tile's D
    the next step's C. ``fixed``: the other input ports (e.g. ``rm``)."""
    p = model.unit.params
    m, n, k = p["m"], p["n"], p["k"]
    rows, cols = c.shape[0] // m, c.shape[1] // n
    d = _tiles(c, m, n)
    for step in range(a.shape[1] // k):
        a_tiles = np.repeat(_tiles(a[:, step * k:(step + 1) * k], m, k), cols, axis=0)
        b_tiles = np.tile(_tiles(b[step * k:(step + 1) * k, :], k, n), (rows, 1, 1))
        inputs = model.inputs(a_tiles, b_tiles, d)
        inputs.update({name: np.full(len(d), value, dtype=np.uint64) for name, value in fixed.items()})
        d = unpack(model.expected(inputs)["d"], m, n, model.element_widths["c"])
    return d.reshape(rows, cols, m, n).transpose(0, 2, 1, 3).reshape(c.shape)


def simulate_gemm(preset, shape, overrides=None, simulator=None, seed=1, rm=0, tag=None, *,
                  progress=True):
    """An M×K×N GEMM (``shape``) of random operands through preset ``preset``.

    ``rm``: the rounding mode of a fused float unit. ``progress``: report the
    tiles done on stderr. Returns a :class:`GemmResult`; raises ``ValueError``
    for a unit that is not an MMA or a shape that is not a multiple of its
    tile, :class:`~nnarith.errors.ToolError` when the simulator cannot build it.
    """
    simulator = check_simulator(simulator)
    unit = build(preset, overrides)
    if type(unit).__name__ not in MMA_UNITS:
        raise ValueError(f"preset: --gemm needs an MMA preset, {preset} is a "
                         f"{type(unit).__name__}")
    _check_shape(unit, shape)
    model = MODELS[type(unit).__name__](unit)
    a, b, c = model.matrices(np.random.default_rng(seed), *shape)
    fixed = {"rm": rm} if "rm" in unit.signature.members else {}
    expected = tile_chain(model, a, b, c, fixed)

    workdir = workdir_for(preset, unit.params, simulator, seed, ["gemm", shape, rm],
                          tag or f"{preset}-gemm")
    workdir.mkdir(parents=True, exist_ok=True)
    v_path, manifest_path = export(unit, preset, workdir, preset=preset)[:2]
    p = unit.params
    np.savez(workdir / "gemm.npz", a=a, b=b, c=c, expected=expected,
             tile=np.array([p["m"], p["n"], p["k"]]),
             widths=np.array([model.element_widths[x] for x in "abc"]),
             fixed_names=np.array(list(fixed), dtype=object),
             fixed_values=np.array(list(fixed.values()), dtype=object))
    m, k, n = shape
    tiles = (m // p["m"]) * (n // p["n"]) * (k // p["k"])
    with Progress(f"sim {preset} GEMM {m}x{k}x{n}", tiles, "tiles", enabled=progress) as bar:
        run_cocotb("nnarith.sim.cocotb_gemm", preset, v_path, manifest_path, workdir, simulator,
                   seed, {"NNARITH_GEMM": str(workdir / "gemm.npz"),
                          "NNARITH_FAILURES": str(workdir / "failures.csv")}, progress=bar)
    report_path = workdir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    # The command line has no rounding mode: it reproduces RNE runs.
    command = (command_line(preset, overrides, simulator, seed, "--gemm", f"{m}x{k}x{n}")
               if rm == 0 else None)
    return GemmResult(preset, tuple(shape), simulator, seed, report.get("elements", 0),
                      report.get("mismatches", 0), report.get("tiles_issued", 0),
                      report.get("cycles", 0), report.get("idle_cycles", 0),
                      report.get("seconds", 0.0), report.get("failures"), workdir, expected,
                      report.get("finished", False), command)
