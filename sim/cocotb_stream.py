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
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, Timer

import numpy as np

from ..progress import CountFile
from ..sim.vectors import load


def _read(handle):
    """A port's value as an unsigned int (1-bit ports are ``Logic``, wider ``LogicArray``)."""
    value = handle.value
    return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)


def _data_ports(manifest, direction):
    return [p["name"] for p in manifest["ports"]
            if p["dir"] == direction and p["kind"] not in ("clock", "reset", "valid", "ready")]


async def _run_combinational(dut, inputs, outputs, count, counter):
    got = {name: [] for name in outputs}
    drive = [(getattr(dut, name), inputs[name]) for name in inputs]
    sample = [(getattr(dut, name), got[name]) for name in outputs]
    for i in range(count):
        for handle, values in drive:
            handle.value = values[i]
        await Timer(1, unit="ns")
        for handle, values in sample:
            values.append(_read(handle))
        counter.write(i + 1)
    return got, [], None


async def _run_pipelined(dut, manifest, inputs, outputs, count, rng, bubble_rate, counter):
    latency = manifest["latency"]
    clock, reset = getattr(dut, manifest["clock"]), getattr(dut, manifest["reset"])
    in_valid = getattr(dut, manifest["valid"]["in"])
    out_valid = getattr(dut, manifest["valid"]["out"])
    drive = [(getattr(dut, name), inputs[name]) for name in inputs]
    got = {name: [] for name in outputs}
    sample = [(getattr(dut, name), got[name]) for name in outputs]

    cocotb.start_soon(Clock(clock, 10, unit="ns").start())
    reset.value, in_valid.value = 1, 0
    for _ in range(2):
        await FallingEdge(clock)
    reset.value = 0

    issued_at, errors, first_late = [], [], None
    collected, cycle, sent = 0, 0, 0
    limit = 2 * count + latency + 16
    while collected < count and cycle < limit:
        await FallingEdge(clock)
        if _read(out_valid):
            if collected < len(issued_at) and cycle - issued_at[collected] != latency:
                errors.append(f"vector {collected}: out_valid {cycle - issued_at[collected]} "
                              f"cycles after in_valid, manifest says {latency}")
                first_late = collected if first_late is None else first_late
            for handle, values in sample:
                values.append(_read(handle))
            collected += 1
            counter.write(collected)
        # The inputs of the vector about to be sent also go on the wires during
        # bubbles, so that results cannot depend on data without in_valid.
        index = min(sent, count - 1)
        for handle, values in drive:
            handle.value = values[index]
        if sent < count and rng.random() >= bubble_rate:
            in_valid.value = 1
            issued_at.append(cycle)
            sent += 1
        else:
            in_valid.value = 0
        cycle += 1
    if collected != count:
        errors.append(f"only {collected} of {count} results came out within {limit} cycles")
        first_late = collected if first_late is None else first_late
    return got, errors, first_late


async def _run_streams(dut, manifest, inputs, result_counts, rng, bubble_rate, counter):
    """A unit with ready/valid streams (``manifest["streams"]``): each input
    stream is fed from its own arrays, one transfer per element, and an offer
    stands until taken; on a ``bubble_rate`` fraction of cycles a stream
    without a standing offer offers nothing, and each output stream refuses
    its result (backpressure). Results are collected in order per output
    stream; the cycle of every transfer is recorded as ``_cycles_<stream>``.
    The count of results so far (the longest stream's) goes to ``counter``."""
    clock, reset = getattr(dut, manifest["clock"]), getattr(dut, manifest["reset"])
    feeds, sinks = [], []
    for stream in manifest["streams"]:
        entry = {"name": stream["name"], "valid": getattr(dut, stream["valid"]),
                 "ready": getattr(dut, stream["ready"]), "cycles": [], "busy": False}
        if stream["dir"] == "in":
            entry["drive"] = [(getattr(dut, n), inputs[n]) for n in stream["payload"]]
            entry["count"] = len(inputs[stream["payload"][0]]) if stream["payload"] else 0
            feeds.append(entry)
        else:
            entry["sample"] = {n: (getattr(dut, n), []) for n in stream["payload"]}
            entry["count"] = result_counts[stream["payload"][0]]
            sinks.append(entry)
    cocotb.start_soon(Clock(clock, 10, unit="ns").start())
    reset.value = 1
    for entry in feeds + sinks:
        entry["valid" if entry in feeds else "ready"].value = 0
    for _ in range(2):
        await FallingEdge(clock)
    reset.value = 0

    transfers = sum(e["count"] for e in feeds + sinks)
    limit, cycle = 64 * transfers + 1000, 0
    while any(len(s["cycles"]) < s["count"] for s in sinks) and cycle < limit:
        await FallingEdge(clock)
        for feed in feeds:
            sent = len(feed["cycles"])
            # An offer stands until taken (valid never depends on ready).
            feed["busy"] = sent < feed["count"] and (feed["busy"] or rng.random() >= bubble_rate)
            if feed["count"]:
                for handle, values in feed["drive"]:
                    handle.value = values[min(sent, feed["count"] - 1)]
            feed["valid"].value = int(feed["busy"])
        for sink in sinks:
            sink["busy"] = rng.random() >= bubble_rate
            sink["ready"].value = int(sink["busy"])
        await Timer(1, unit="ns")           # ready may depend on valid: let it settle
        for feed in feeds:                  # both sides agree: transfers at the next edge
            if feed["busy"] and _read(feed["ready"]):
                feed["cycles"].append(cycle)
                feed["busy"] = False
        for sink in sinks:
            if sink["busy"] and _read(sink["valid"]):
                for handle, values in sink["sample"].values():
                    values.append(_read(handle))
                sink["cycles"].append(cycle)
        counter.write(max(len(s["cycles"]) for s in sinks))
        cycle += 1
    short = [s for s in sinks if len(s["cycles"]) != s["count"]]
    errors = [f"stream {s['name']}: only {len(s['cycles'])} of {s['count']} results came out "
              f"within {limit} cycles" for s in short]
    got = {n: values for sink in sinks for n, (_, values) in sink["sample"].items()}
    for entry in feeds + sinks:
        got[f"_cycles_{entry['name']}"] = entry["cycles"]
    return got, errors, min((len(s["cycles"]) for s in short), default=None)


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
    start = time.perf_counter()
    if manifest.get("streams"):
        got, errors, first_late = await _run_streams(
            dut, manifest, inputs, counts, random.Random(seed),
            float(os.environ["NNARITH_BUBBLE_RATE"]), counter)
    elif manifest["latency"] == 0:
        count = len(next(iter(inputs.values())))
        got, errors, first_late = await _run_combinational(dut, inputs, outputs, count, counter)
    else:
        count = len(next(iter(inputs.values())))
        got, errors, first_late = await _run_pipelined(
            dut, manifest, inputs, outputs, count, random.Random(seed),
            float(os.environ["NNARITH_BUBBLE_RATE"]), counter)
    seconds = time.perf_counter() - start
    counter.write(max((len(got[n]) for n in outputs), default=0), final=True)

    np.savez(os.environ["NNARITH_OUTPUTS"],
             **{n: np.array(values, dtype=object if len(values) and max(values) >> 63 else np.uint64)
                for n, values in got.items()})
    # Outputs of one stream (all of them, for a unit without streams) share a count.
    results = max(counts.values(), default=0)
    bad = [i for i in range(results)
           if any(i < counts[n] and (i >= len(got[n]) or got[n][i] != expected[n][i])
                  for n in outputs)]
    failing = [i for i in (*bad[:1], first_late) if i is not None]
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
