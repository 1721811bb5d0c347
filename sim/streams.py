"""Stream drivers shared by every simulation of a unit: the cocotb benches on
the exported Verilog (:mod:`sim.cocotb_stream`, :mod:`sim.cocotb_gemm`) and
Amaranth's own simulator (:mod:`sim.pysim`), so that one set of rules for
stalls, backpressure and latency holds in all of them.

A :class:`Source` offers input elements, a :class:`Monitor` watches results
come out and checks their latency, a :class:`Sink` is a monitor that also
refuses results (backpressure); :func:`clock` runs them cycle by cycle. They
reach the unit's ports through *wires*: :class:`DutWires` for a cocotb DUT,
:class:`SimWires` for an Amaranth testbench, both with ``get(name)`` (the
port's value as an unsigned int) and ``set(name, value)``.
"""

import random

__all__ = ["DutWires", "SimWires", "Source", "Monitor", "Sink", "clock", "start_dut"]


class DutWires:
    """A cocotb DUT's ports by name."""

    def __init__(self, dut):
        self._dut, self._handles = dut, {}

    def handle(self, name):
        if name not in self._handles:
            self._handles[name] = getattr(self._dut, name)
        return self._handles[name]

    def get(self, name):
        # 1-bit ports hold a ``Logic``, wider ones a ``LogicArray``.
        value = self.handle(name).value
        return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)

    def set(self, name, value):
        self.handle(name).value = value


async def start_dut(wires, clock_port, reset_port, parts):
    """cocotb: start a 10 ns clock on the DUT and hold it in reset for two
    cycles with every part quiet; returns at a falling edge."""
    from cocotb import start_soon
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge

    clk = wires.handle(clock_port)
    start_soon(Clock(clk, 10, unit="ns").start())
    wires.set(reset_port, 1)
    for part in parts:
        part.quiet()
    for _ in range(2):
        await FallingEdge(clk)
    wires.set(reset_port, 0)


class SimWires:
    """An Amaranth unit's ports by name, through a testbench's ``ctx``."""

    def __init__(self, unit, ctx):
        self._unit, self._ctx = unit, ctx

    def get(self, name):
        port = getattr(self._unit, name)
        return self._ctx.get(port) & ((1 << len(port)) - 1)

    def set(self, name, value):
        self._ctx.set(getattr(self._unit, name), value)


class Source:
    """Offers ``payload`` (port name -> values, one element per transfer) in
    order. With a ``valid`` port an offer stands until taken (at the coming
    edge when ``ready`` is high; at once for a stream without ``ready``), and
    on a ``bubble_rate`` fraction of the cycles without a standing offer the
    source offers nothing (a stall, drawn from ``rng``). Without ``valid`` (a
    combinational unit) every cycle carries the next element. ``cycles``: the
    cycle of each transfer; ``name``: the stream's, if it has one."""

    def __init__(self, wires, payload, *, valid=None, ready=None, rng=None, bubble_rate=0.0,
                 name=None):
        self.wires, self.payload, self.valid, self.ready = wires, payload, valid, ready
        self.name = name
        self.rng, self.bubble_rate = rng or random.Random(0), bubble_rate
        self.count = len(next(iter(payload.values()))) if payload else 0
        self.cycles, self.offering = [], False

    @property
    def done(self):
        return len(self.cycles) >= self.count

    def quiet(self):
        """No offer (during reset)."""
        if self.valid is not None:
            self.wires.set(self.valid, 0)

    def drive(self):
        sent = len(self.cycles)
        self.offering = sent < self.count and (self.valid is None or self.offering
                                               or self.rng.random() >= self.bubble_rate)
        # The next element is on the wires during stalls too: results must not
        # depend on data that valid does not mark.
        if self.count:
            for name, values in self.payload.items():
                self.wires.set(name, values[min(sent, self.count - 1)])
        if self.valid is not None:
            self.wires.set(self.valid, int(self.offering))

    def transfer(self, cycle):
        """Whether the offer is taken at the coming edge (recorded if so)."""
        if not (self.offering and (self.ready is None or self.wires.get(self.ready))):
            return False
        self.cycles.append(cycle)
        self.offering = False
        return True


class Monitor:
    """Takes the ``payload`` ports' values (``got``: port name -> values) each
    cycle ``valid`` is high, every cycle without ``valid``; ``cycles``: the
    cycle of each. ``count``: the results expected (None when unknown). With
    ``latency``, result i must leave exactly that many cycles after input i
    was taken, the ``sent`` cycles (a source's ``cycles``). ``name``: the
    stream's, if it has one."""

    def __init__(self, wires, payload, *, valid=None, count=None, latency=None, sent=None,
                 name=None):
        self.wires, self.valid, self.count, self.name = wires, valid, count, name
        self.latency, self.sent = latency, sent
        self.got = {port: [] for port in payload}
        self.cycles = []

    @property
    def done(self):
        return self.count is not None and len(self.cycles) >= self.count

    def quiet(self):
        pass

    def drive(self):
        pass

    def transfer(self, cycle):
        """Whether a result comes out at the coming edge (taken if so)."""
        if not (self.valid is None or self.wires.get(self.valid)):
            return False
        for port, values in self.got.items():
            values.append(self.wires.get(port))
        self.cycles.append(cycle)
        return True

    def errors(self, limit):
        """What broke the contract, and the index of the first result it
        concerns (None when nothing did): results late, early or without an
        input, and results missing after ``limit`` cycles."""
        errors, first = [], None
        if self.latency is not None:
            for index, taken in enumerate(self.cycles):
                if index >= len(self.sent):
                    errors.append(f"result {index} came out with no input left to match it")
                elif taken - self.sent[index] != self.latency:
                    errors.append(f"vector {index}: out_valid {taken - self.sent[index]} cycles "
                                  f"after in_valid, manifest says {self.latency}")
                else:
                    continue
                first = index if first is None else first
        if self.count is not None and len(self.cycles) < self.count:
            stream = f"stream {self.name}: " if self.name else ""
            errors.append(f"{stream}only {len(self.cycles)} of {self.count} results came out "
                          f"within {limit} cycles")
            first = len(self.cycles) if first is None else min(first, len(self.cycles))
        return errors, first


class Sink(Monitor):
    """A monitor with a ``ready`` port that refuses results on a
    ``bubble_rate`` fraction of cycles (backpressure, drawn from ``rng``)."""

    def __init__(self, wires, payload, *, valid, ready, rng=None, bubble_rate=0.0, **monitor):
        super().__init__(wires, payload, valid=valid, **monitor)
        self.ready, self.rng, self.bubble_rate = ready, rng or random.Random(0), bubble_rate
        self.taking = False

    def quiet(self):
        self.wires.set(self.ready, 0)

    def drive(self):
        self.taking = self.rng.random() >= self.bubble_rate
        self.wires.set(self.ready, int(self.taking))

    def transfer(self, cycle):
        return self.taking and super().transfer(cycle)


async def clock(parts, *, limit, until, edge=None, settle=None, progress=None):
    """Run ``parts`` (sources, monitors and sinks) cycle by cycle: after
    ``edge`` (None: a combinational unit) each part drives its wires in turn
    (the order in which they draw from a shared rng), the wires ``settle``
    where ready may depend on valid, and each part records the transfer the
    coming edge makes. Stops before a cycle for which ``until(cycle)`` holds,
    or after ``limit`` cycles; returns whether ``until`` came to hold.
    ``progress()`` is called after each cycle."""
    for cycle in range(limit):
        if until(cycle):
            return True
        if edge is not None:
            await edge()
        for part in parts:
            part.drive()
        if settle is not None:
            await settle()
        for part in parts:
            part.transfer(cycle)
        if progress is not None:
            progress()
    return until(limit)
