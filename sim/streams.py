"""Stream drivers shared by every simulation of a unit: the cocotb benches on
the exported Verilog (:mod:`sim.cocotb_stream`, :mod:`sim.cocotb_gemm`) and
Amaranth's own simulator (:mod:`sim.pysim`), so that one set of rules for
stalls, backpressure and latency holds in all of them.

A :class:`Source` offers input elements, a :class:`Monitor` watches results
come out and checks their latency, a :class:`Sink` is a monitor that also
refuses results (backpressure); :func:`clock` runs them cycle by cycle. They
reach the unit's ports through *wires*: :class:`DutWires` for a cocotb DUT,
:class:`SimWires` for an Amaranth testbench, both with ``reader(name)`` (a
function that returns the port's value as an unsigned int) and
``writer(name)`` (a function that drives it), made once per port: the drivers
run every cycle of millions of vectors.
"""

import random
from functools import partial

__all__ = ["DutWires", "SimWires", "Source", "Monitor", "Sink", "clock", "start_dut"]


class DutWires:
    """A cocotb DUT's ports by name."""

    def __init__(self, dut):
        self._dut = dut

    def handle(self, name):
        return getattr(self._dut, name)

    def reader(self, name):
        handle = self.handle(name)

        def read():
            # 1-bit ports hold a ``Logic``, wider ones a ``LogicArray``.
            value = handle.value
            return value.to_unsigned() if hasattr(value, "to_unsigned") else int(value)
        return read

    def writer(self, name):
        # The ``value`` property's setter bound to the handle: no Python frame
        # of our own between the driver and cocotb.
        handle = self.handle(name)
        return partial(type(handle).value.__set__, handle)


async def start_dut(wires, clock_port, reset_port, parts):
    """cocotb: start a 10 ns clock on the DUT and hold it in reset for two
    cycles with every part quiet; returns at a falling edge."""
    from cocotb import start_soon
    from cocotb.clock import Clock
    from cocotb.triggers import FallingEdge

    clk, reset = wires.handle(clock_port), wires.writer(reset_port)
    start_soon(Clock(clk, 10, unit="ns").start())
    reset(1)
    for part in parts:
        if hasattr(part, "quiet"):          # a monitor drives nothing
            part.quiet()
    for _ in range(2):
        await FallingEdge(clk)
    reset(0)


class SimWires:
    """An Amaranth unit's ports by name, through a testbench's ``ctx``."""

    def __init__(self, unit, ctx):
        self._unit, self._ctx = unit, ctx

    def reader(self, name):
        port, ctx = getattr(self._unit, name), self._ctx
        mask = (1 << len(port)) - 1
        return lambda: ctx.get(port) & mask

    def writer(self, name):
        port, ctx = getattr(self._unit, name), self._ctx
        return lambda value: ctx.set(port, value)


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
        self.name, self.rng, self.bubble_rate = name, rng or random.Random(0), bubble_rate
        self.count = len(next(iter(payload.values()))) if payload else 0
        self.cycles, self.offering = [], False
        self._payload = [(wires.writer(port), values) for port, values in payload.items()]
        self._valid = wires.writer(valid) if valid is not None else None
        self._ready = wires.reader(ready) if ready is not None else None

    @property
    def done(self):
        return len(self.cycles) >= self.count

    def quiet(self):
        """No offer (during reset)."""
        if self._valid is not None:
            self._valid(0)

    def drive(self):
        sent = len(self.cycles)
        self.offering = sent < self.count and (self._valid is None or self.offering
                                               or self.rng.random() >= self.bubble_rate)
        # The next element is on the wires during stalls too: results must not
        # depend on data that valid does not mark.
        if self.count:
            index = sent if sent < self.count else self.count - 1
            for write, values in self._payload:
                write(values[index])
        if self._valid is not None:
            self._valid(int(self.offering))

    def transfer(self, cycle):
        """Whether the offer is taken at the coming edge (recorded if so)."""
        if not self.offering or (self._ready is not None and not self._ready()):
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
        self.count, self.latency, self.sent, self.name = count, latency, sent, name
        self.got = {port: [] for port in payload}
        self.cycles = []
        #: Whether ``count`` results came (an attribute: it is asked every cycle).
        self.done = count == 0
        self._payload = [(wires.reader(port), self.got[port]) for port in payload]
        self._valid = wires.reader(valid) if valid is not None else None

    def transfer(self, cycle):
        """Whether a result comes out at the coming edge (taken if so)."""
        if self._valid is not None and not self._valid():
            return False
        for read, values in self._payload:
            values.append(read())
        self.cycles.append(cycle)
        self.done = self.count is not None and len(self.cycles) >= self.count
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
        self.rng, self.bubble_rate = rng or random.Random(0), bubble_rate
        self.taking = False
        self._ready = wires.writer(ready)

    def quiet(self):
        """Refuse (during reset)."""
        self._ready(0)

    def drive(self):
        self.taking = self.rng.random() >= self.bubble_rate
        self._ready(int(self.taking))

    def transfer(self, cycle):
        return self.taking and super().transfer(cycle)


async def clock(parts, *, limit, until=None, edge=None, settle=None, progress=None):
    """Run ``parts`` (sources, monitors and sinks) cycle by cycle: after
    ``edge`` (None: a combinational unit) each part drives its wires in turn
    (the order in which they draw from a shared rng), the wires ``settle``
    where ready may depend on valid, and each part records the transfer the
    coming edge makes (a monitor drives nothing). ``edge`` and ``settle`` are
    awaited again every cycle (a cocotb trigger, an Amaranth ``ctx.tick()``).
    Stops before a cycle for which ``until(cycle)`` holds (by default: every
    monitor with a ``count`` is done), or after ``limit`` cycles; returns
    whether it came to hold. ``progress()`` is called every 256 cycles (a
    progress bar needs no more).

    The loop runs once per cycle of millions of vectors: the parts' methods
    are looked up once, and a monitor keeps ``done`` as an attribute."""
    drivers = [part.drive for part in parts if hasattr(part, "drive")]
    transfers = [part.transfer for part in parts]
    if until is None:
        waits = [part for part in parts if isinstance(part, Monitor) and part.count is not None]

        def until(_):           # the first monitor's flag spares a generator per cycle
            return not waits or (waits[0].done and all(monitor.done for monitor in waits))
    for cycle in range(limit):
        if until(cycle):
            return True
        if edge is not None:
            await edge
        for drive in drivers:
            drive()
        if settle is not None:
            await settle
        for transfer in transfers:
            transfer(cycle)
        if progress is not None and not cycle & 255:
            progress()
    return until(limit)
