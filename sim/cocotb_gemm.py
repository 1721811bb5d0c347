"""cocotb GEMM driver: multiplies whole matrices by streaming tiles through
an MMA unit, each tile's D going back in as the next tile's C (``out``: the
port that holds D, ``y`` for a fused multiply-add run as a 1x1x1 MMA).

For an M×K×N GEMM on an m×n×k unit there are (M/m)·(N/n) chains, one per
output tile, of K/k steps each. A chain's next step needs its previous D, so
the driver interleaves chains: a pipelined unit of latency L gets a new tile on
every cycle as long as at least L chains are open, and the driver counts the
idle cycles: those that carried no tile while tiles were left to issue (the
drain after the last tile is not idle). At the end the assembled D must equal the golden
GEMM (``NNARITH_GEMM``: operands, tile shape and expected D) bit for bit. The
count of tiles done goes to ``NNARITH_PROGRESS`` as they come out.

With promotion (``group_steps`` > 0) a chain restarts from C = +0 every
``group_steps`` steps and keeps each group's D: those partials must equal the
golden ones, and go to ``partials.npz`` beside the report for the fp32
accumulation that follows (:mod:`sim.gemm`).
"""

import json
import os
import time
from collections import deque

import cocotb
import numpy as np
from cocotb.triggers import FallingEdge, Timer

from ..progress import CountFile
from .streams import DutWires, Monitor, start_dut


def _pack(block, width):
    value = 0
    for index, element in enumerate(np.asarray(block).ravel().tolist()):
        value |= int(element) << (index * width)
    return value


def _unpack(value, shape, width):
    mask = (1 << width) - 1
    flat = [(value >> (i * width)) & mask for i in range(shape[0] * shape[1])]
    return np.array(flat, dtype=np.uint64).reshape(shape)


class Chains:
    """The open output tiles: what each one issues next, and its running D."""

    def __init__(self, data):
        self.a, self.b, self.c = data["a"], data["b"], data["c"]
        self.m, self.n, self.k = (int(x) for x in data["tile"])
        self.widths = {name: int(w) for name, w in zip(("a", "b", "c"), data["widths"])}
        rows, cols = self.c.shape[0] // self.m, self.c.shape[1] // self.n
        self.steps = self.a.shape[1] // self.k
        self.group_steps = int(data["group_steps"])
        self.d = self.c.copy()
        groups = self.steps // self.group_steps if self.group_steps else 0
        self.partials = np.zeros((groups,) + self.c.shape, dtype=np.uint64)
        self.done = {(i, j): 0 for i in range(rows) for j in range(cols)}
        self.ready = deque(self.done)

    def inputs(self, tile):
        i, j = tile
        s = self.done[tile]
        m, n, k = self.m, self.n, self.k
        restart = self.group_steps and s % self.group_steps == 0
        c = 0 if restart else _pack(self.d[i * m:(i + 1) * m, j * n:(j + 1) * n], self.widths["c"])
        return {"a": _pack(self.a[i * m:(i + 1) * m, s * k:(s + 1) * k], self.widths["a"]),
                "b": _pack(self.b[s * k:(s + 1) * k, j * n:(j + 1) * n], self.widths["b"]),
                "c": c}

    def finish(self, tile, d_value):
        i, j = tile
        m, n = self.m, self.n
        self.d[i * m:(i + 1) * m, j * n:(j + 1) * n] = _unpack(d_value, (m, n), self.widths["c"])
        self.done[tile] += 1
        if self.group_steps and self.done[tile] % self.group_steps == 0:
            group = self.done[tile] // self.group_steps - 1
            self.partials[group, i * m:(i + 1) * m, j * n:(j + 1) * n] = \
                self.d[i * m:(i + 1) * m, j * n:(j + 1) * n]
        if self.done[tile] < self.steps:
            self.ready.append(tile)

    @property
    def total(self):
        return len(self.done) * self.steps

    @property
    def finished(self):
        return all(done == self.steps for done in self.done.values())


@cocotb.test()
async def gemm(dut):
    with open(os.environ["NNARITH_MANIFEST"]) as f:
        manifest = json.load(f)
    data = dict(np.load(os.environ["NNARITH_GEMM"], allow_pickle=True))
    chains = Chains(data)
    wires = DutWires(dut)
    for name, value in zip(data["fixed_names"], data["fixed_values"]):
        wires.writer(name)(int(value))
    latency = manifest["latency"]
    out = str(data["out"])
    counter = CountFile(os.environ["NNARITH_PROGRESS"])
    start = time.perf_counter()
    issued = idle = cycles = 0
    errors = []
    operands = {name: wires.writer(name) for name in ("a", "b", "c")}
    if latency == 0:
        read_out = wires.reader(out)
        while chains.ready:
            tile = chains.ready.popleft()
            for name, value in chains.inputs(tile).items():
                operands[name](value)
            await Timer(1, unit="ns")
            chains.finish(tile, read_out())
            issued += 1
            counter.write(issued)
    else:
        # The tiles' issue follows the chains, not a fixed list: a Monitor
        # takes each D off out_valid and holds it to the manifest's latency.
        sent, in_flight = [], deque()
        monitor = Monitor(wires, [out], valid="out_valid", latency=latency, sent=sent)
        await start_dut(wires, manifest["clock"], manifest["reset"], [])
        in_valid = wires.writer("in_valid")
        in_valid(0)
        falling = FallingEdge(wires.handle(manifest["clock"]))
        while not chains.finished and cycles <= 4 * (issued + latency) + 64:
            await falling
            if monitor.transfer(cycles) and in_flight:
                chains.finish(in_flight.popleft(), monitor.got[out][-1])
                counter.write(len(monitor.cycles))
            if chains.ready:
                tile = chains.ready.popleft()
                for name, value in chains.inputs(tile).items():
                    operands[name](value)
                in_valid(1)
                in_flight.append(tile)
                sent.append(cycles)
                issued += 1
            else:
                in_valid(0)
                idle += 1 if issued < chains.total else 0
            cycles += 1
        errors, _ = monitor.errors(cycles)
    seconds = time.perf_counter() - start
    counter.write(len(monitor.cycles) if latency else issued, final=True)

    if chains.group_steps:
        # Each group's partial D against the golden's, as (group, row, col).
        expected, got = data["expected_partials"].astype(np.uint64), chains.partials
        np.savez(os.path.join(os.path.dirname(os.environ["NNARITH_REPORT"]), "partials.npz"),
                 partials=got)
    else:
        expected, got = data["expected"], chains.d
    bad = np.argwhere(got != expected)
    report = {"top": manifest["top"], "tiles_issued": issued, "cycles": cycles,
              "idle_cycles": idle, "elements": int(data["expected"].size), "mismatches": int(len(bad)),
              "errors": errors, "finished": chains.finished, "seconds": seconds, "failures": None}
    if len(bad):
        report["failures"] = os.environ["NNARITH_FAILURES"]
        with open(report["failures"], "w") as f:
            f.write(("group," if chains.group_steps else "") + "row,col,expected,got\n")
            for index in bad:
                at = tuple(index)
                f.write(",".join(map(str, at)) + f",{int(expected[at]):#x},{int(got[at]):#x}\n")
        dut._log.error("%d of %d elements of D mismatch (seed %s); failing elements in %s",
                       len(bad), expected.size, os.environ["NNARITH_SEED"], report["failures"])
    with open(os.environ["NNARITH_REPORT"], "w") as f:
        json.dump(report, f, indent=2)
    for error in errors:
        dut._log.error("%s (seed %s)", error, os.environ["NNARITH_SEED"])
    assert chains.finished and not len(bad) and not errors, \
        f"{len(bad)} mismatches, {len(errors)} timing errors"
