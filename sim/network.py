"""A network's inference through the exported Verilog: every hardware call of a
precision recipe (:mod:`nnarith.golden.recipes`) replayed bit for bit.

A :class:`~nnarith.golden.recipes.GemmCall` runs through its MMA unit with the
GEMM chain driver (:func:`~nnarith.sim.gemm.simulate_gemm` on the call's own
operands: tiles streamed at one per clock, each D fed back as the next C,
promotion through the FMA where the call has it); a
:class:`~nnarith.golden.recipes.VectorCall` through its elementwise unit with
the vector runner (:func:`~nnarith.sim.runner.simulate`). Each must equal the
recipe's recorded output, which is also the unit's own golden model: a
mismatch stops the run with the layer and a command that reproduces it.
"""

import json
from dataclasses import dataclass

import numpy as np

from ..golden.recipes import GemmCall, VectorCall

from .gemm import simulate_gemm
from .runner import simulate

__all__ = ["CallResult", "RecipeMismatch", "replay", "replay_all"]


@dataclass(frozen=True)
class CallResult:
    """One replayed call: the unit, its work, and the cycles it took in the
    RTL (a GEMM's tiles at one per clock plus its drain; a vector unit's
    vectors at its initiation interval)."""
    layer: str
    preset: str
    overrides: dict
    kind: str
    work: int                  # unit operations: MMAs (tiles) or vectors
    cycles: int
    seconds: float
    workdir: str


class RecipeMismatch(AssertionError):
    """The RTL disagreed with the recipe's golden output."""


def _repro(call, simulator):
    return (f"nnarith sim {call.preset}"
            + "".join(f" -p {key}={value}" for key, value in call.overrides.items())
            + f" --sim {simulator} (layer {call.layer}; operands in the work folder)")


def replay(call, *, simulator="verilator", progress=False) -> CallResult:
    """Run one recorded call through its unit's Verilog; :class:`RecipeMismatch`
    (naming the layer, the unit and a repro) unless every output matches."""
    if isinstance(call, GemmCall):
        fixed_rm = 0 if call.rm is None else call.rm
        result = simulate_gemm(call.preset, None, call.overrides, simulator=simulator,
                               rm=fixed_rm, operands=(call.a, call.b, call.c),
                               promote_every=call.promote_every, tag=f"{call.preset}-layer",
                               progress=progress)
        if not result.ok or not np.array_equal(result.expected, call.d):
            raise RecipeMismatch(
                f"layer {call.layer} on {call.preset}: {result.mismatches} of "
                f"{result.elements} elements of D differ from the recipe "
                f"({result.failures or 'unit model and recipe disagree'}); "
                f"reproduce: {_repro(call, simulator)}, {result.workdir}")
        # A combinational unit takes one tile per clock too (the driver counts no cycles).
        return CallResult(call.layer, call.preset, dict(call.overrides), "gemm",
                          result.tiles_issued, result.cycles or result.tiles_issued,
                          result.seconds, str(result.workdir))
    if isinstance(call, VectorCall):
        result = simulate(call.preset, call.overrides, simulator=simulator,
                          inputs=dict(call.inputs), tag=f"{call.preset}-layer",
                          progress=progress)
        outputs = result.outputs() if result.ok else {}
        wrong = [port for port, expected in call.outputs.items()
                 if port not in outputs or not np.array_equal(
                     np.asarray(outputs[port], dtype=np.uint64), expected)]
        if not result.ok or wrong:
            raise RecipeMismatch(
                f"layer {call.layer} on {call.preset}: "
                f"{result.summary().splitlines()[0] if not result.ok else 'ports ' + ', '.join(wrong)}"
                f" differ from the recipe; reproduce: {_repro(call, simulator)}, "
                f"{result.workdir}")
        manifest = json.loads((result.workdir / f"{call.preset}.json").read_text())
        # One vector per initiation interval, then the pipeline drains.
        cycles = result.vectors * manifest["initiation_interval"] + manifest["latency"]
        return CallResult(call.layer, call.preset, dict(call.overrides), "vectors",
                          result.vectors, cycles, result.seconds, str(result.workdir))
    raise ValueError(f"call: must be a GemmCall or VectorCall, got {type(call).__name__}")


def replay_all(calls, *, simulator="verilator", progress=False) -> list[CallResult]:
    """:func:`replay` every call in order (the first mismatch raises)."""
    return [replay(call, simulator=simulator, progress=progress) for call in calls]
