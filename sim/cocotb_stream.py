"""The one generic cocotb driver: streams vectors through any exported unit.

Everything it needs comes from the unit's manifest (ports, clock, latency,
valid names) and a vector file of inputs and golden expectations written by
:mod:`sim.runner`; it knows nothing about what the unit computes. Combinational
units get one vector per nanosecond. Pipelined units get one vector per clock
with seeded random bubbles on ``in_valid``, and every result must appear on
``out_valid`` exactly ``latency`` cycles after its input. On a mismatch it
prints the seed and writes the failing vectors to a CSV file.

Configuration comes through environment variables set by the runner:
``NNARITH_MANIFEST``, ``NNARITH_VECTORS``, ``NNARITH_SEED``, ``NNARITH_REPORT``
(JSON summary written here), ``NNARITH_BUBBLE_RATE`` (the fraction of
pipelined cycles without a new input), ``NNARITH_FAILURES`` (CSV of failing vectors) and
``NNARITH_OUTPUTS`` (what the unit produced, saved so that a chain of units can
feed one unit's results to the next) and ``NNARITH_PROGRESS`` (the count of
results so far, for the parent's progress report). The report names the
first failing result (``first_failure``), where the runner's failing window
ends up.

Units that keep a running sum need nothing special: their state moves only on
``in_valid``, so the golden model replays the vectors in order.

Handshake units list their ready/valid streams in the manifest: every input
stream is fed from its own arrays (streams may carry different numbers of
transfers) with random stalls, every output stream is drained with random
backpressure, and each output stream's results are compared in order with the
golden's; the cycle of each transfer is saved as ``_cycles_<stream>``.
"""

import csv
import json
import os
import random
import time

import cocotb
from cocotb.triggers import FallingEdge, Timer

import numpy as np

from ..progress import CountFile
from ..sim.vectors import load
from .streams import DutWires, Monitor, Sink, Source, clock, start_dut


def _data_ports(manifest, direction):
    return [p["name"] for p in manifest["ports"]
            if p["dir"] == direction and p["kind"] not in ("clock", "reset", "valid", "ready")]


def _parts(wires, manifest, inputs, counts, rng, bubble_rate):
    """The unit's sources and monitors, and the cycles allowed for its vectors.

    Handshake units (``manifest["streams"]``): a source per input stream fed
    from its own arrays, a sink per output stream with backpressure, results
    counted per stream. Pipelined units: one source on ``in_valid`` with
    stalls, a monitor on ``out_valid`` holding each result to ``latency``.
    Combinational units: one vector per nanosecond."""
    if manifest.get("streams"):
        sources = [Source(wires, {n: inputs[n] for n in s["payload"]}, valid=s["valid"],
                          ready=s["ready"], rng=rng, bubble_rate=bubble_rate, name=s["name"])
                   for s in manifest["streams"] if s["dir"] == "in"]
        sinks = [Sink(wires, s["payload"], valid=s["valid"], ready=s["ready"], rng=rng,
                      bubble_rate=bubble_rate, count=counts[s["payload"][0]], name=s["name"])
                 for s in manifest["streams"] if s["dir"] == "out"]
        transfers = sum(part.count for part in sources + sinks)
        return sources, sinks, 64 * transfers + 1000
    latency = manifest["latency"]
    if not latency:
        source = Source(wires, inputs)
        return [source], [Monitor(wires, list(counts), count=source.count)], source.count
    source = Source(wires, inputs, valid=manifest["valid"]["in"], rng=rng,
                    bubble_rate=bubble_rate)
    monitor = Monitor(wires, list(counts), valid=manifest["valid"]["out"], count=source.count,
                      latency=latency, sent=source.cycles)
    return [source], [monitor], 2 * source.count + latency + 16


def _write_failures(path, bad, inputs, expected, got):
    """One row per failing result; with the inputs it came from where there is
    one input vector per result (not for units that take several transfers per
    result: their inputs are in the vector file)."""
    counts = {len(v) for v in expected.values()}
    inputs = {n: v for n, v in inputs.items() if {len(v)} == counts}
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["index", *inputs, *(f"expected_{n}" for n in expected),
                      *(f"got_{n}" for n in expected)])
        for i in bad:
            out.writerow([i, *(hex(inputs[n][i]) for n in inputs),
                          *(hex(expected[n][i]) if i < len(expected[n]) else "" for n in expected),
                          *(hex(got[n][i]) if i < len(got[n]) else
                            "missing" if i < len(expected[n]) else "" for n in expected)])


@cocotb.test()
async def stream(dut):
    with open(os.environ["NNARITH_MANIFEST"]) as f:
        manifest = json.load(f)
    seed = int(os.environ["NNARITH_SEED"])
    inputs, expected = load(os.environ["NNARITH_VECTORS"])
    inputs = {name: inputs[name] for name in _data_ports(manifest, "in")}
    outputs = _data_ports(manifest, "out")
    counts = {n: len(expected[n]) for n in outputs}

    counter = CountFile(os.environ["NNARITH_PROGRESS"])
    wires = DutWires(dut)
    sources, monitors, limit = _parts(wires, manifest, inputs, counts, random.Random(seed),
                                      float(os.environ["NNARITH_BUBBLE_RATE"]))
    parts = [*sources, *monitors]
    handshake = bool(manifest.get("streams"))
    edge = settle = None
    if handshake or manifest["latency"]:
        await start_dut(wires, manifest["clock"], manifest["reset"], parts)
        edge = FallingEdge(wires.handle(manifest["clock"]))
    if handshake or not manifest["latency"]:
        settle = Timer(1, unit="ns")    # combinational outputs; ready that depends on valid
    start = time.perf_counter()
    await clock(parts, limit=limit, edge=edge, settle=settle,
                progress=lambda: counter.write(max(len(m.cycles) for m in monitors)))
    seconds = time.perf_counter() - start
    errors, late = [], []
    for monitor in monitors:
        found, first = monitor.errors(limit)
        errors += found
        late += [] if first is None else [first]
    got = {n: values for monitor in monitors for n, values in monitor.got.items()}
    got.update({f"_cycles_{part.name}": part.cycles for part in parts if part.name})
    counter.write(max((len(got[n]) for n in outputs), default=0), final=True)

    np.savez(os.environ["NNARITH_OUTPUTS"],
             **{n: np.array(values, dtype=object if len(values) and max(values) >> 63 else np.uint64)
                for n, values in got.items()})
    # Outputs of one stream (all of them, for a unit without streams) share a count.
    results = max(counts.values(), default=0)
    bad = [i for i in range(results)
           if any(i < counts[n] and (i >= len(got[n]) or got[n][i] != expected[n][i])
                  for n in outputs)]
    failing = [*bad[:1], *late]
    report = {"top": manifest["top"], "seed": seed, "vectors": results, "mismatches": len(bad),
              "errors": errors, "seconds": seconds, "failures": None,
              "first_failure": min(failing, default=None)}
    if bad:
        report["failures"] = os.environ["NNARITH_FAILURES"]
        _write_failures(report["failures"], bad, inputs, {n: expected[n] for n in outputs}, got)
        dut._log.error("%d of %d vectors mismatch (seed %d); failing vectors in %s",
                       len(bad), results, seed, report["failures"])
    for error in errors:
        dut._log.error("%s (seed %d)", error, seed)
    with open(os.environ["NNARITH_REPORT"], "w") as f:
        json.dump(report, f, indent=2)
    assert not bad and not errors, f"{len(bad)} mismatches, {len(errors)} timing errors (seed {seed})"
