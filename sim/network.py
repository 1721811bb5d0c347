"""A network's inference through the exported Verilog: every hardware call of a
precision recipe (:mod:`nnarith.golden.recipes`) replayed bit for bit.

A :class:`~nnarith.golden.recipes.GemmCall` runs through its MMA unit with the
GEMM chain driver (:func:`~nnarith.sim.gemm.simulate_gemm` on the call's own
operands: tiles streamed at one per clock, each D fed back as the next C,
promotion through the FMA where the call has it); a
:class:`~nnarith.golden.recipes.VectorCall` through its elementwise unit with
the vector runner (:func:`~nnarith.sim.runner.simulate`), its integer values
turned into the unit's port widths here. An
:class:`~nnarith.golden.recipes.IntGemmCall` is mapped onto its unit's vectors
(:data:`GEMM_MAPPINGS`: a chain of dot products per output element for
``dp4a`` and ``sparse24_dot``, each starting from the previous one's ``y``;
the weight-stationary schedule of :func:`~nnarith.sim.bitfusion_array.matrix_product_inputs`
for the Fusion array; one vector pair per output element, in chunk transfers,
for the SparTen join) and run by the vector runner, back to back. Each unit
checks every vector against its own golden model, and the GEMM read back from
its outputs must equal the recipe's: a mismatch stops the run with the layer
and a command that reproduces it.

Cycles are the simulation's: the GEMM driver's count of tiles and drain; a
pipelined unit's vectors at one per clock plus its latency (the driver checks
every result arrives exactly then); a handshake unit's cycles from its first
input transfer to its last result, as the driver recorded them.
"""

import json
from dataclasses import dataclass

import numpy as np

from ..golden.recipes import GemmCall, IntGemmCall, VectorCall
from ..golden.sparse24 import compress_24, decompress_24
from ..hw.catalogue import build

from .bitfusion_array import matrix_product_inputs, matrix_product_result
from .gemm import simulate_gemm
from .runner import simulate
from .vectors import from_bits, to_bits

__all__ = ["CallResult", "RecipeMismatch", "GEMM_MAPPINGS", "replay", "replay_all"]


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


def _wrap32(x):
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def _pack(lanes, width):
    """``(..., L)`` integers -> one ``L * width``-bit word per row, lane l in
    bits ``[l*width, (l+1)*width)`` (uint64 up to 64 bits, else Python ints)."""
    lanes = np.asarray(lanes)
    count = lanes.shape[-1]
    bits = to_bits(lanes.reshape(-1), width).reshape(lanes.shape)
    if count * width > 64:
        bits = bits.astype(object)
    shift = (lambda l: l * width) if bits.dtype == object else (lambda l: np.uint64(l * width))
    word = bits[..., 0]
    for lane in range(1, count):
        word = word | (bits[..., lane] << shift(lane))
    return word


def _dot_chain(call, step):
    """A GEMM as chains of dot products of ``step`` along K, one chain per output
    element (row-major, each chain's links consecutive): ``(x, w, c)`` with x
    ``(M, T, step)`` activations, w ``(N, T, step)`` weights (K zero-padded to
    T·step) and c ``(M, N, T)`` the value each link starts from (the call's C,
    then the previous link's result, int32 wrapping)."""
    (m, k), n = call.a.shape, call.b.shape[1]
    t = -(-k // step)
    a = np.zeros((m, t * step), np.int64)
    a[:, :k] = call.a
    b = np.zeros((t * step, n), np.int64)
    b[:k] = call.b
    x, w = a.reshape(m, t, step), b.T.reshape(n, t, step)
    partial = np.einsum("mts,nts->mnt", x, w)
    start = np.zeros(n, np.int64) if call.c is None else np.asarray(call.c, np.int64)
    before = np.cumsum(partial, axis=2) - partial
    c = _wrap32(start[None, :, None] + before)
    return x, w, c


def _dp4a(call, unit):
    """dp4a (``c + a·b`` of ``lanes``): one chain of K/lanes dot products per output."""
    p = unit.params
    x, w, c = _dot_chain(call, p["lanes"])
    m, n, t, lanes = x.shape[0], w.shape[0], x.shape[1], p["lanes"]
    inputs = {"a": _pack(np.broadcast_to(x[:, None], (m, n, t, lanes)), p["a_width"]).ravel(),
              "b": _pack(np.broadcast_to(w[None], (m, n, t, lanes)), p["b_width"]).ravel(),
              "c": to_bits(c.ravel(), p["acc_width"])}
    return inputs, lambda out: from_bits(out["y"], p["acc_width"], True).reshape(m, n, t)[..., -1]


def _sparse24(call, unit):
    """sparse24_dot: each weight column compressed to 2:4 (it must be 2:4
    already: at most 2 nonzeros per group of 4 along K), a chain of dot
    products of ``k`` dense activations per output."""
    p = unit.params
    step = p["k"]
    x, w, c = _dot_chain(call, step)
    m, n, t = x.shape[0], w.shape[0], x.shape[1]
    values, meta = compress_24(w)                     # (N, T, step/2), (N, T, step/4)
    if not np.array_equal(decompress_24(values, meta), w):
        raise ValueError(f"call: layer {call.layer}'s weights are not 2:4 sparse along K")
    shape = (m, n, t)
    inputs = {"w": _pack(np.broadcast_to(values[None], shape + values.shape[-1:]),
                         p["w_width"]).ravel(),
              "meta": _pack(np.broadcast_to(meta[None], shape + meta.shape[-1:]), 4).ravel(),
              "x": _pack(np.broadcast_to(x[:, None], shape + (step,)), p["x_width"]).ravel(),
              "c": to_bits(c.ravel(), p["acc_width"])}
    return inputs, lambda out: from_bits(out["y"], p["acc_width"], True).reshape(shape)[..., -1]


def _fusion_array(call, unit):
    """The Fusion array: weights held, one activation row per vector (the
    schedule of :func:`~nnarith.sim.bitfusion_array.matrix_product_inputs`)."""
    p = unit.params
    if call.c is not None:
        raise ValueError(f"call: the Fusion array has no C input, layer {call.layer} has one")
    inputs, readout = matrix_product_inputs(call.a, call.b, call.a_bits, call.b_bits,
                                            call.a_signed, call.b_signed, rows=p["rows"],
                                            cols=p["cols"], max_prec=p["max_prec"],
                                            min_prec=p["min_prec"])
    n = call.b.shape[1]
    return inputs, lambda out: matrix_product_result(out["y"], readout, n, p["cols"],
                                                     p["acc_width"])


def _sparse_side(vectors, chunk, width):
    """Bitmask chunks of the rows of ``vectors`` (R, K): mask words, packed
    nonzeros (value k of a chunk in bits [k*width, (k+1)*width)) and counts,
    each (R, chunks), as Python ints."""
    r, k = vectors.shape
    chunks = -(-k // chunk)
    grid = np.zeros((r, chunks * chunk), np.int64)
    grid[:, :k] = vectors
    grid = grid.reshape(r, chunks, chunk)
    nonzero = grid != 0
    counts = nonzero.sum(axis=2)
    # Nonzeros first, in position order (a stable sort of the zero flags).
    order = np.argsort(~nonzero, axis=2, kind="stable")
    packed = np.where(np.arange(chunk) < counts[..., None],
                      np.take_along_axis(grid, order, axis=2), 0)
    return (_pack(nonzero.astype(np.int64), 1).astype(object),
            _pack(packed, width).astype(object), counts.astype(object))


def _sparse_join(call, unit):
    """The SparTen join: one vector pair (row of A, column of B) per output
    element, row-major, each as chunk transfers (the last one flagged)."""
    p = unit.params
    a, b = call.a, call.b
    m, n = a.shape[0], b.shape[1]
    a_mask, a_values, a_count = _sparse_side(a, p["chunk"], p["value_width"])
    b_mask, b_values, b_count = _sparse_side(b.T, p["chunk"], p["value_width"])
    chunks = a_mask.shape[1]
    rows = np.repeat(np.arange(m), n * chunks)
    cols = np.tile(np.repeat(np.arange(n), chunks), m)
    part = np.tile(np.arange(chunks), m * n)
    inputs = {"a_mask": a_mask[rows, part], "a_values": a_values[rows, part],
              "a_count": a_count[rows, part], "b_mask": b_mask[cols, part],
              "b_values": b_values[cols, part], "b_count": b_count[cols, part],
              "last": (part == chunks - 1).astype(np.uint64)}
    return inputs, lambda out: from_bits(out["dot"], p["acc_width"], True).reshape(m, n)


#: How an :class:`~nnarith.golden.recipes.IntGemmCall` runs on each unit:
#: ``(call, unit) -> (inputs, read)``, ``read(outputs)`` the (M, N) int32 result.
GEMM_MAPPINGS = {"IntMAC": _dp4a, "Sparse24Dot": _sparse24, "FusionArray": _fusion_array,
                 "SparseJoin": _sparse_join}


def _cycles(result, manifest):
    """The simulation's cycles: a handshake unit's from its first input transfer
    to its last result, as recorded; a pipelined unit's vectors at one per clock
    plus its latency (back to back: the driver checks that timing)."""
    outputs = result.outputs()
    recorded = [np.asarray(v, dtype=np.int64) for name, v in outputs.items()
                if name.startswith("_cycles_") and len(v)]
    if recorded:
        return int(max(v.max() for v in recorded) - min(v.min() for v in recorded) + 1)
    return result.vectors * manifest["initiation_interval"] + manifest["latency"]


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
    if not isinstance(call, (VectorCall, IntGemmCall)):
        raise ValueError(f"call: must be a GemmCall, IntGemmCall or VectorCall, "
                         f"got {type(call).__name__}")
    unit = build(call.preset, call.overrides)
    if isinstance(call, IntGemmCall):
        inputs, read = GEMM_MAPPINGS[type(unit).__name__](call, unit)
        kind, expected = "gemm", None
    else:
        inputs = {port: to_bits(values, len(getattr(unit, port)))
                  for port, values in call.inputs.items()}
        kind = "vectors"
        expected = {port: to_bits(values, len(getattr(unit, port)))
                    for port, values in call.outputs.items()}
    # Back to back, so that the cycles are the unit's own; the unit built above
    # is the one simulated.
    result = simulate(call.preset, simulator=simulator, inputs=inputs, bubble_rate=0,
                      unit=unit, tag=f"{call.preset}-layer", progress=progress)
    if not result.ok:
        raise RecipeMismatch(f"layer {call.layer} on {call.preset}: "
                             f"{result.summary().splitlines()[0]}; reproduce: "
                             f"{_repro(call, simulator)}, {result.workdir}")
    outputs = result.outputs()
    if expected is None:
        wrong = [] if np.array_equal(np.asarray(read(outputs), dtype=np.int64), call.d) \
            else ["D"]
    else:
        wrong = [port for port, bits in expected.items()
                 if not np.array_equal(np.asarray(outputs[port], dtype=np.uint64), bits)]
    if wrong:
        raise RecipeMismatch(f"layer {call.layer} on {call.preset}: {', '.join(wrong)} "
                             f"differ from the recipe (the unit matched its own model); "
                             f"reproduce: {_repro(call, simulator)}, {result.workdir}")
    manifest = json.loads((result.workdir / f"{call.preset}.json").read_text())
    return CallResult(call.layer, call.preset, dict(call.overrides), kind, result.vectors,
                      _cycles(result, manifest), result.seconds, str(result.workdir))


def replay_all(calls, *, simulator="verilator", progress=False) -> list[CallResult]:
    """:func:`replay` every call in order (the first mismatch raises)."""
    return [replay(call, simulator=simulator, progress=progress) for call in calls]
