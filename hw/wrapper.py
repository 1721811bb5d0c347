"""Register wrapper for timing a unit on an FPGA with four pins.

Every data input of the unit comes from one long shift register fed by a
serial pin; every data output is captured in a register on every cycle and
copied, when ``load`` is high, into a register that shifts out through
another pin. So the measured path is register -> unit -> register with no
wrapper logic on it, and a design with hundreds of ports fits any package.
"""

from amaranth.hdl import Cat, ClockSignal, Instance, Module, Mux, ResetSignal, Shape, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import Flow, In, Out

__all__ = ["ShiftWrapper", "VerilogTop"]


class ShiftWrapper(wiring.Component):
    sin: In(1)
    load: In(1)
    sout: Out(1)

    def __init__(self, unit):
        self.unit = unit
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self.unit
        ins = [getattr(unit, n) for n, p in unit.signature.members.items() if p.flow == Flow.In]
        outs = [getattr(unit, n) for n, p in unit.signature.members.items() if p.flow == Flow.Out]
        in_width = sum(Shape.cast(s.shape()).width for s in ins)
        out_width = sum(Shape.cast(s.shape()).width for s in outs)

        chain = Signal(in_width, name="wrap_in")
        m.d.sync += chain.eq(Cat(self.sin, chain[:-1]))
        offset = 0
        for port in ins:
            width = len(port)
            m.d.comb += port.eq(chain[offset:offset + width])
            offset += width

        captured = Signal(out_width, name="wrap_captured")
        m.d.sync += captured.eq(Cat(*outs))
        capture = Signal(out_width, name="wrap_out")
        m.d.sync += capture.eq(Mux(self.load, captured, capture >> 1))
        m.d.comb += self.sout.eq(capture[0])
        return m


class VerilogTop(wiring.Component):
    """A Verilog module (not ours: an anchor such as HardFloat) as a component
    to wrap: ``ports`` maps each port's name, in order, to ``("input" |
    "output", width)``; an input named ``clk`` or ``rst`` is the clock or
    the reset, the others data."""

    CONTROL = {"clk": ClockSignal, "rst": ResetSignal}

    def __init__(self, top, ports):
        for name, (direction, _) in ports.items():
            if direction not in ("input", "output"):
                raise ValueError(f"top: port {name} of {top} is {direction}: only inputs and "
                                 "outputs can be wrapped")
        self.top = top
        self.control = [name for name, (direction, _) in ports.items()
                        if direction == "input" and name in self.CONTROL]
        super().__init__({name: (In if direction == "input" else Out)(width)
                          for name, (direction, width) in ports.items()
                          if name not in self.control})

    def elaborate(self, platform):
        m = Module()
        ports = {f"{'i' if member.flow == Flow.In else 'o'}_{name}": getattr(self, name)
                 for name, member in self.signature.members.items()}
        ports.update({f"i_{name}": self.CONTROL[name]() for name in self.control})
        m.submodules.top = Instance(self.top, **ports)
        return m
