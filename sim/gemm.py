"""Whole-matrix GEMMs through an MMA unit's exported Verilog.

:func:`simulate_gemm` draws random M×K×N operands, computes the expected D by
chaining the unit's golden model tile by tile along K (each tile's rounded D
is the next tile's C, exactly what the hardware is fed), and runs
:mod:`sim.cocotb_gemm`, which streams the tiles through the RTL with the RTL's
own D fed back as C.

With ``promote_every`` (FP8 training recipes on Hopper) the chains restart
from C = +0 every that many products, and each group's partial D is added to
an fp32 accumulator outside the MMA: one RNE fp32 addition per group, run
through nnarith's own fused multiply-add (``fp32_fma``, or ``fp16_fma32`` for
fp16 partials, with b = 1) in its exported Verilog, round after round.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..golden.mma import promote
from ..hw.catalogue import build
from ..hw.export import export

from ..progress import Progress

from .mma import draw_values, unpack
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
    #: Products per promotion to the fp32 accumulator (None: no promotion).
    promote_every: int | None = None
    #: Broken timing contracts: a D that left out_valid off its latency.
    errors: tuple = ()

    @property
    def ok(self):
        return self.finished and self.mismatches == 0 and self.elements > 0 and not self.errors

    def summary(self):
        m, k, n = self.shape
        status = "PASS" if self.ok else "FAIL"
        timing = (f"in {self.cycles} cycles ({self.idle_cycles} idle)" if self.cycles
                  else "(combinational)")
        promoted = (f", promoted to fp32 every {self.promote_every} products"
                    if self.promote_every else "")
        text = (f"{status} {self.preset} GEMM {m}x{k}x{n}{promoted} on {self.simulator}: "
                f"{self.elements} elements of D, {self.mismatches} mismatches, seed {self.seed}, "
                f"{self.tiles_issued} tiles {timing}")
        if self.failures:
            text += f"\n  failing elements: {self.failures}"
        text += "".join(f"\n  {error}" for error in self.errors[:5])
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


def check_promotion(unit, shape, promote_every):
    """``promote_every`` is None, or a multiple of the unit's k that divides K
    (a float MMA only)."""
    if promote_every is None:
        return
    if type(unit).__name__ != "FloatMMA":
        raise ValueError(f"promote_every: promotes float partial sums to fp32, "
                         f"{type(unit).__name__} has none")
    k = unit.params["k"]
    if (not isinstance(promote_every, int) or isinstance(promote_every, bool)
            or promote_every < 1 or promote_every % k or shape[1] % promote_every):
        raise ValueError(f"promote_every: must be a multiple of the unit's k ({k}) that "
                         f"divides K ({shape[1]}), got {promote_every!r}")


#: The fused multiply-add preset that adds a partial of each format into fp32.
PROMOTION_ADDERS = {"fp32": "fp32_fma", "fp16": "fp16_fma32"}


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


def _run_chains(unit, name, workdir, operands, expected, simulator, seed, progress, *,
                fixed=None, partials=None, group_steps=0, out="d", shared=False):
    """Export ``unit`` into ``workdir`` and stream ``operands`` (A, B, C element
    arrays) through it with :mod:`sim.cocotb_gemm`, each tile's ``out`` fed
    back as the next C; returns the driver's report (empty if it wrote none)."""
    workdir.mkdir(parents=True, exist_ok=True)
    v_path, manifest_path = export(unit, name, workdir, preset=name, cache=True)[:2]
    a, b, c = operands
    p = unit.params
    tile = [p.get("m", 1), p.get("n", 1), p.get("k", 1)]
    fixed = fixed or {}
    np.savez(workdir / "gemm.npz", a=a, b=b, c=c, expected=expected, out=np.array(out),
             group_steps=np.array(group_steps),
             expected_partials=np.zeros((0,) + c.shape) if partials is None else partials,
             tile=np.array(tile), widths=np.array([_element_width(unit, x) for x in "abc"]),
             fixed_names=np.array(list(fixed), dtype=object),
             fixed_values=np.array(list(fixed.values()), dtype=object))
    (m, k), n = a.shape, b.shape[1]
    tiles = (m // tile[0]) * (n // tile[1]) * (k // tile[2])
    with Progress(f"sim {name} GEMM {m}x{k}x{n}", tiles, "tiles", enabled=progress) as bar:
        run_cocotb("nnarith.sim.cocotb_gemm", name, v_path, manifest_path, workdir, simulator,
                   seed, {"NNARITH_GEMM": str(workdir / "gemm.npz"),
                          "NNARITH_FAILURES": str(workdir / "failures.csv")}, progress=bar,
                   shared=shared)
    report_path = workdir / "report.json"
    return json.loads(report_path.read_text()) if report_path.exists() else {}


def _element_width(unit, port):
    """Bits of one element of port ``port`` (the whole port for a 1x1x1 unit)."""
    p = unit.params
    count = {"a": p.get("m", 1) * p.get("k", 1), "b": p.get("k", 1) * p.get("n", 1),
             "c": p.get("m", 1) * p.get("n", 1)}[port]
    return len(getattr(unit, port)) // count


def simulate_gemm(preset, shape, overrides=None, simulator=None, seed=1, rm=0, tag=None, *,
                  promote_every=None, operands=None, progress=True):
    """An M×K×N GEMM (``shape``) of random operands through preset ``preset``.

    ``operands``: ``(A, B, C)`` element bit patterns to multiply instead of
    random ones (``shape`` then None or theirs; a network's layers).
    ``rm``: the rounding mode of a fused float unit. ``promote_every``:
    promote partial sums to an fp32 accumulator every that many products (C
    and D are fp32 then; see the module docs). ``progress``: report the tiles
    done on stderr. Returns a :class:`GemmResult`; raises ``ValueError`` for a
    unit that is not an MMA, a shape that is not a multiple of its tile or a
    bad ``promote_every``, :class:`~nnarith.errors.ToolError` when the
    simulator cannot build it.
    """
    simulator = check_simulator(simulator)
    unit = build(preset, overrides)
    if type(unit).__name__ not in MMA_UNITS:
        raise ValueError(f"preset: --gemm needs an MMA preset, {preset} is a "
                         f"{type(unit).__name__}")
    if operands is not None:
        a, b, c = (np.asarray(x, dtype=np.uint64) for x in operands)
        given = (a.shape[0], a.shape[1], b.shape[1])
        if shape is not None and tuple(shape) != given or b.shape[0] != a.shape[1] \
                or c.shape != (a.shape[0], b.shape[1]):
            raise ValueError(f"operands: must be MxK, KxN and MxN (shape {shape}), got "
                             f"{a.shape}, {b.shape}, {c.shape}")
        shape = given
    _check_shape(unit, shape)
    check_promotion(unit, shape, promote_every)
    model = MODELS[type(unit).__name__](unit)
    rng = np.random.default_rng(seed)
    if operands is None:
        a, b, c = model.matrices(rng, *shape)
    fixed = {"rm": rm} if "rm" in unit.signature.members else {}
    # Given operands (a network's layers): every run of the unit shares one build.
    shared = operands is not None
    m, k, n = shape
    key = ["gemm", shape, rm] + ([promote_every] if promote_every else [])
    if operands is not None:
        key.append(hashlib.sha1(b"".join(x.tobytes() for x in (a, b, c))).hexdigest())
    workdir = workdir_for(preset, unit.params, simulator, seed, key, tag or f"{preset}-gemm")
    # The command line has no rounding mode: it reproduces RNE runs.
    extra = ["--promote-every", str(promote_every)] if promote_every else []
    command = (command_line(preset, overrides, simulator, seed, "--gemm", f"{m}x{k}x{n}", *extra)
               if rm == 0 and operands is None else None)
    if promote_every is None:
        expected = tile_chain(model, a, b, c, fixed)
        report = _run_chains(unit, preset, workdir, (a, b, c), expected, simulator, seed,
                             progress, fixed=fixed, shared=shared)
    else:
        if operands is None:
            c = draw_values(rng, c.shape, "fp32")   # the fp32 accumulator's start
        zero = np.zeros(c.shape, dtype=np.uint64)
        partials = np.stack([tile_chain(model, a[:, s:s + promote_every],
                                        b[s:s + promote_every], zero, fixed)
                             for s in range(0, k, promote_every)])
        expected = c
        for partial in partials:
            expected, _ = promote(expected, partial, unit.acc_fmt)
        report = _run_chains(unit, preset, workdir, (a, b, c), expected, simulator, seed,
                             progress, fixed=fixed, partials=partials,
                             group_steps=promote_every // unit.params["k"], shared=shared)
        if report.get("finished") and not report.get("mismatches"):
            report = _promote_in_rtl(workdir, unit.acc_fmt, c, expected, simulator, seed,
                                     progress, report)
    return GemmResult(preset, tuple(shape), simulator, seed, report.get("elements", 0),
                      report.get("mismatches", 0), report.get("tiles_issued", 0),
                      report.get("cycles", 0), report.get("idle_cycles", 0),
                      report.get("seconds", 0.0), report.get("failures"), workdir, expected,
                      report.get("finished", False), command, promote_every,
                      tuple(report.get("errors", ())))


def _promote_in_rtl(workdir, partial_fmt, acc, expected, simulator, seed, progress, report):
    """The promotion: the RTL's partials (groups, M, N) added into the fp32
    accumulator ``acc`` by the promotion adder's Verilog, one chain per element
    of D: a K = groups "GEMM" through the fused multiply-add, A the partials,
    B ones. Returns the MMA run's report with the adder's mismatches added."""
    with np.load(workdir / "partials.npz") as saved:
        partials = saved["partials"]
    groups, rows, cols = partials.shape
    preset = PROMOTION_ADDERS[partial_fmt.name]
    adder = build(preset)
    one = partial_fmt.bias << partial_fmt.frac_bits
    operands = (partials.reshape(groups, -1).T, np.full((groups, 1), one, dtype=np.uint64),
                acc.reshape(-1, 1))
    added = _run_chains(adder, preset, workdir / "promotion", operands, expected.reshape(-1, 1),
                        simulator, seed, progress, fixed={"rm": 0}, out="y")
    failures = added.get("failures")
    return {**report, "mismatches": added.get("mismatches", 0),
            "finished": added.get("finished", False),
            "failures": failures and f"{failures} (element = row * {cols} + col of D)",
            "seconds": report.get("seconds", 0.0) + added.get("seconds", 0.0)}
