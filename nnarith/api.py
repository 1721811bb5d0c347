"""The Python API: build a unit, export its Verilog, simulate it against its
golden model, synthesize it.

Every function takes either a preset name from the catalogue (``"fp16_mul"``,
see :data:`nnarith.hw.catalogue.PRESETS`) with parameter overrides, or a unit
already built by :func:`build`. Parameters are validated before any hardware
is built, with the same rules and messages as the command line: a bad value
raises one ``ValueError`` naming the parameter and its allowed range.

>>> import nnarith
>>> mul = nnarith.build("fp16_mul", stages=2, arch="booth")
>>> mul.latency
2
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .hw.catalogue import PRESETS, UNITS, get_preset
from .hw.unit import Unit

__all__ = ["build", "export", "simulate", "simulate_gemm", "synthesize", "presets",
           "MAX_VECTORS", "MAX_GEMM_PRODUCTS"]

#: Upper bound of ``vectors``: a billion vectors would run for days on a simulator.
MAX_VECTORS = 100_000_000
#: Upper bound of M·K·N for :func:`simulate_gemm` (a 1024×1024×1024 GEMM).
MAX_GEMM_PRODUCTS = 1 << 30


def presets() -> list[str]:
    """The catalogue's preset names, in catalogue order."""
    return list(PRESETS)


def build(unit_or_preset: str | type[Unit] | Unit, /, **params: Any) -> Unit:
    """The Amaranth component of a preset or unit family.

    ``unit_or_preset`` is a preset name (``"fp16_mul"``; ``params`` override
    its parameters), a unit family's name or class (``"FloatMultiplier"``,
    :class:`nnarith.hw.float.FloatMultiplier`; ``params`` are its parameters,
    defaults for the rest), or a unit already built (returned as it is; no
    ``params`` then). Raises ``ValueError`` for an unknown name or a bad
    parameter.
    """
    if isinstance(unit_or_preset, Unit):
        if params:
            raise ValueError(f"params: a built unit takes no parameters, got {', '.join(params)}")
        return unit_or_preset
    if isinstance(unit_or_preset, type) and issubclass(unit_or_preset, Unit):
        return unit_or_preset(**unit_or_preset.resolve_params(params))
    if isinstance(unit_or_preset, str):
        if unit_or_preset in UNITS:
            family = UNITS[unit_or_preset]
            return family(**family.resolve_params(params))
        preset = get_preset(unit_or_preset)
        return preset.unit(**preset.resolve(params))
    raise ValueError(f"unit: must be a preset name, a unit family or a built unit, "
                     f"got {type(unit_or_preset).__name__}")


def _name_of(unit_or_preset: str | type[Unit] | Unit) -> str | None:
    """The preset name, if ``unit_or_preset`` is one."""
    return unit_or_preset if isinstance(unit_or_preset, str) and unit_or_preset in PRESETS else None


def export(unit_or_preset: str | type[Unit] | Unit, out_dir: str | Path, *,
           top: str | None = None, params: Mapping[str, Any] | None = None):
    """Write the unit's Verilog, JSON manifest, FuseSoC core and Verilator
    lint waivers (``.vlt``) into ``out_dir``.

    ``top`` is the Verilog module name (default: the preset name, or the unit
    family's name in lower case); it must be a plain Verilog identifier and
    not a keyword, checked before anything is built. Returns the written
    paths as :class:`nnarith.hw.export.ExportedFiles`.
    """
    from .hw.export import check_top, export as export_unit
    if top is not None:
        check_top(top)
    preset = _name_of(unit_or_preset)
    unit = build(unit_or_preset, **dict(params or {}))
    top = top if top is not None else (preset or type(unit).__name__.lower())
    return export_unit(unit, top, out_dir, preset=preset)


def _check_count(name: str, value: int | None, limit: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise ValueError(f"{name}: must be an integer in 0..{limit:,}, got {value!r}")


def _check_seed(seed: int) -> None:
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 1 << 32:
        raise ValueError(f"seed: must be an integer in 0..{(1 << 32) - 1}, got {seed!r}")


def simulate(unit_or_preset: str | type[Unit] | Unit, *,
             params: Mapping[str, Any] | None = None, simulator: str | None = None,
             vectors: int | None = None, seed: int = 1, waves: bool = False,
             progress: bool = True):
    """Simulate a unit's exported Verilog against its golden model (cocotb).

    ``vectors`` random vectors (default: the unit family's own count, about a
    minute on Icarus) are added to the unit's corner cases; ``simulator`` is
    ``"icarus"`` (default, or ``$SIM``) or ``"verilator"``; ``waves`` records
    a waveform of the whole run (a failing run records its failing window
    anyway); ``progress`` reports on stderr. Returns a
    :class:`nnarith.sim.runner.SimResult` (``.ok``, ``.summary()``,
    ``.outputs()``, and on a failure ``.failures``, ``.command``,
    ``.waveform``).
    """
    from .sim.runner import simulate as run
    _check_count("vectors", vectors, MAX_VECTORS)
    _check_seed(seed)
    options = dict(simulator=simulator, count=vectors, seed=seed, waves=waves, progress=progress)
    preset = _name_of(unit_or_preset)
    if preset is not None:
        return run(preset, dict(params or {}), **options)
    unit = build(unit_or_preset, **dict(params or {}))
    return run(type(unit).__name__.lower(), None, unit=unit, **options)


def simulate_gemm(preset: str, shape: tuple[int, int, int] | str, *,
                  params: Mapping[str, Any] | None = None, simulator: str | None = None,
                  seed: int = 1, promote_every: int | None = None, progress: bool = True):
    """A whole M×K×N GEMM of random operands through an MMA preset, tile by
    tile with D fed back as C, compared with the golden GEMM. ``shape`` is
    ``(M, K, N)`` or ``"MxKxN"``. ``promote_every``: a float MMA's partial
    sums go to an fp32 accumulator every that many products (C and D fp32).
    Returns a :class:`nnarith.sim.gemm.GemmResult`.
    """
    from .sim.gemm import parse_shape, simulate_gemm as run
    shape = parse_shape(shape if isinstance(shape, str) else "x".join(map(str, shape)))
    m, k, n = shape
    if m * k * n > MAX_GEMM_PRODUCTS:
        raise ValueError(f"gemm: M*K*N must be at most {MAX_GEMM_PRODUCTS:,}, got {m * k * n:,}")
    _check_seed(seed)
    get_preset(preset)
    return run(preset, shape, dict(params or {}), simulator=simulator, seed=seed,
               promote_every=promote_every, progress=progress)


def synthesize(unit_or_preset: str | type[Unit] | Unit, *,
               params: Mapping[str, Any] | None = None,
               targets: Iterable[str] = ("generic", "asic", "ice40", "ecp5", "xilinx"),
               liberty: str | Path | None = None, fmax: bool = True,
               out_dir: str | Path = "build/synth", progress: bool = True) -> dict:
    """Synthesize a unit with Yosys (and place and route it with nextpnr for
    Fmax on an ECP5) and return the measured figures per target.

    ``targets``: any of generic, asic, ice40, ecp5, xilinx. The ``asic``
    target needs ``liberty`` (a .lib file; ValueError without it). Work files
    go to ``out_dir/<name>``.
    """
    from .hw.synth import TARGETS, synthesize as run
    targets = list(targets)
    for target in targets:
        if target not in TARGETS:
            raise ValueError(f"target: must be one of {', '.join(TARGETS)}, got {target!r}")
    if "asic" in targets:
        if liberty is None:
            raise ValueError("liberty: the asic target needs a liberty file (.lib)")
        if not Path(liberty).is_file():
            raise ValueError(f"liberty: no such file: {liberty}")
    preset = _name_of(unit_or_preset)
    unit = build(unit_or_preset, **dict(params or {}))
    name = preset or type(unit).__name__.lower()
    return run(unit, name, Path(out_dir) / name, targets=targets,
               liberty=None if liberty is None else str(liberty), fmax=fmax, progress=progress)
