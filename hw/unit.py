"""What every nnarith unit has in common: its parameter table, its timing
ports and the facts its manifest publishes."""

from dataclasses import KW_ONLY, dataclass

from amaranth.hdl import Cat, Fragment, Module
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .params import Derived, Param, resolve
from .pipeline import Pipeline

__all__ = ["Unit", "Stream", "StreamAdapter", "STAGES_PARAM", "ACCUMULATOR_STAGES_PARAM",
           "OPTIONAL_ACCUMULATOR_STAGES_PARAM", "TARGET_MHZ_PARAM", "MAX_STAGES"]

MAX_STAGES = 24

#: The shared ``stages`` parameter: 0 is combinational, k a pipeline of latency k.
STAGES_PARAM = Param("stages", 0, "pipeline register ranks (0 = combinational; "
                     "latency = stages, initiation interval 1)", lo=0, hi=MAX_STAGES)

#: Pick ``stages`` from a clock target: the fewest ranks whose stages all meet
#: it under the ECP5 delay model (:mod:`hw.pipeline`).
TARGET_MHZ_PARAM = Param("target_mhz", 0, "clock target in MHz: choose the fewest stages whose "
                         "modelled ECP5 delay meets it, and arch=booth when the inferred "
                         "multiplier cannot and no arch is given (0 = use stages as given)",
                         lo=0, hi=1000)

#: ``stages`` of a unit that keeps a running sum: the accumulator register is
#: the last rank, so there is at least one. State changes only on ``in_valid``;
#: ``clear`` starts a new sum with the operation it comes with; the result
#: output holds the sum including that operation, ``stages`` cycles later.
ACCUMULATOR_STAGES_PARAM = Param("stages", 1, "register ranks, the accumulator included "
                                 "(latency = stages, initiation interval 1)", lo=1,
                                 hi=MAX_STAGES)


def _fewest_stages(p):
    return 1 if p["accumulate"] else 0


#: ``stages`` of a unit whose ``accumulate`` parameter chooses between an
#: addend input (combinational allowed) and a running sum (at least one rank).
OPTIONAL_ACCUMULATOR_STAGES_PARAM = Param(
    "stages", Derived(_fewest_stages, "1 if accumulate else 0"),
    "register ranks (latency = stages, initiation interval 1); a running sum needs at least "
    "its accumulator register", lo=Derived(_fewest_stages, "1 if accumulate else 0"),
    hi=MAX_STAGES)


@dataclass(frozen=True)
class Stream:
    """One stream of a unit: flat ports ``<name>_valid`` and ``<name>_ready``
    (the flat-port form of an Amaranth ``lib.stream`` interface) and the data
    ports it carries, all moving together: a transfer happens on a cycle where
    valid and ready are both high, and valid never waits for ready. An
    ``always_ready`` stream (a pipelined unit's ``in_valid``/``out_valid``)
    has no ready port: every valid cycle is a transfer."""

    name: str
    dir: str                 # "in": the unit consumes it, "out": the unit produces it
    payload: tuple
    _: KW_ONLY
    always_ready: bool = False

    @property
    def valid(self):
        return f"{self.name}_valid"

    @property
    def ready(self):
        """The ready port's name; None for an ``always_ready`` stream."""
        return None if self.always_ready else f"{self.name}_ready"

    def describe(self):
        return {"name": self.name, "dir": self.dir, "valid": self.valid, "ready": self.ready,
                "payload": list(self.payload)}


class Unit(wiring.Component):
    """Base of every generated unit.

    A subclass declares ``PARAMS`` (a tuple of :class:`~hw.params.Param`),
    validates its keyword parameters with :meth:`resolve_params` before building
    anything, and passes its data ports to ``super().__init__``; the base adds
    ``in_valid``/``out_valid`` when the unit is pipelined. ``port_docs`` maps
    each port name to ``(kind, doc)`` for the manifest.

    A unit that takes a varying number of cycles per operation sets
    ``HANDSHAKE``: it then also has ``in_ready`` (it accepts the inputs on a
    cycle where ``in_valid`` and ``in_ready`` are both high) and ``out_ready``
    (a result leaves on a cycle where ``out_valid`` and ``out_ready`` are both
    high), the flat-port form of an Amaranth ``lib.stream`` pair; ``latency``
    is then its smallest latency.

    A handshake unit with several streams (say two operand streams consumed
    at data-dependent rates) passes ``streams``, a tuple of :class:`Stream`;
    the default is one ``in`` stream carrying every data input and one
    ``out`` stream carrying every data output. Streams need not carry the
    same number of transfers: a unit may take many input transfers per
    result.

    Connecting with Amaranth streams: :meth:`as_streams` wraps the unit in a
    :class:`StreamAdapter`, a component with one ``amaranth.lib.stream``
    interface per stream, member ``<name>_stream`` (``in_stream``,
    ``out_stream``; ``a_stream``, ``b_stream`` for :class:`~hw.csr.CSRJoin`),
    whose payload is a ``data.StructLayout`` of the stream's data ports, so
    ``wiring.connect`` joins it to any producer or consumer of that layout's
    width. A pipelined unit (``stages`` >= 1, no ready ports) gets the same
    two interfaces, ``always_ready``. The unit itself keeps its flat ports:
    the adapter only wires them up, so the unit's exported Verilog does not
    change.
    """

    PARAMS: tuple = ()
    HANDSHAKE = False
    #: The :class:`~hw.pipeline.Pipeline` of the last elaboration (None: no modelled pipeline).
    timing = None

    @classmethod
    def resolve_params(cls, given):
        values = resolve(cls.PARAMS, given)
        if values.get("target_mhz"):
            try:
                chosen = cls._stages_for(values)
            except ValueError:
                # Unless the arch was given, a target the inferred multiplier
                # cannot meet picks the Booth tree, which cuts finer.
                arch = next((param for param in cls.PARAMS if param.name == "arch"), None)
                if ("arch" in given or values.get("arch") != "infer"
                        or "booth" not in (arch.choices or ())):
                    raise
                values = resolve(cls.PARAMS, {**given, "arch": "booth"})
                chosen = cls._stages_for(values)
            if "stages" in given and given["stages"] != chosen:
                raise ValueError(f"stages: with target_mhz={values['target_mhz']} the delay model "
                                 f"chooses {chosen}; give stages or target_mhz, not both")
            values["stages"] = chosen
        return values

    @classmethod
    def _stages_for(cls, values):
        """The fewest stages whose modelled Fmax meets ``values["target_mhz"]``."""
        probe = cls(**{**values, "target_mhz": 0})
        Fragment.get(probe, None)
        target = values["target_mhz"]
        stages_param = next(param for param in cls.PARAMS if param.name == "stages")
        lo, hi = stages_param.bound(stages_param.lo, values), stages_param.bound(stages_param.hi, values)
        best = None
        for stages in range(lo, hi + 1):
            estimate = probe.timing.plan(stages)
            if estimate["fmax_mhz"] >= target:
                return stages
            best = estimate
        hint = "; arch=booth cuts the multiplier finer" if values.get("arch") == "infer" else ""
        raise ValueError(f"target_mhz: must be 1..{int(best['fmax_mhz'])} for this unit (the delay "
                         f"model's estimate at stages={hi}{hint}), got {target}")

    def __init__(self, params, members, port_docs, streams=None):
        self.params = params
        self.port_docs = dict(port_docs)
        members = dict(members)
        if streams is not None:
            if not self.HANDSHAKE:
                raise TypeError("streams need HANDSHAKE = True")
            self.streams = tuple(streams)
            for described in self.streams:
                into = described.dir == "in"
                members[described.valid] = In(1) if into else Out(1)
                members[described.ready] = Out(1) if into else In(1)
                carried = ", ".join(described.payload)
                self.port_docs[described.valid] = (
                    "valid", f"{carried} hold a transfer"
                    + (", taken when ready is high too" if into else ", kept until ready"))
                self.port_docs[described.ready] = (
                    "ready", "the unit takes the transfer on this cycle" if into
                    else "the consumer takes the transfer on this cycle")
            super().__init__(members)
            return
        if self.HANDSHAKE:
            self.streams = (
                Stream("in", "in", tuple(n for n, m in members.items() if m.flow == wiring.In)),
                Stream("out", "out", tuple(n for n, m in members.items() if m.flow == wiring.Out)))
        else:
            self.streams = ()
        if self.latency:
            members["in_valid"] = In(1)
            members["out_valid"] = Out(1)
            self.port_docs["in_valid"] = ("valid", "inputs on this cycle are a new operation")
            self.port_docs["out_valid"] = ("valid", "outputs hold the result issued "
                                          f"{self.latency} cycle{'s' if self.latency > 1 else ''} earlier")
        if self.HANDSHAKE:
            members["in_ready"] = Out(1)
            members["out_ready"] = In(1)
            self.port_docs["in_valid"] = ("valid", "inputs on this cycle are a new operation, "
                                          "taken when in_ready is high too")
            self.port_docs["in_ready"] = ("ready", "the unit takes the inputs on this cycle "
                                          "if in_valid is high")
            self.port_docs["out_valid"] = ("valid", "outputs hold a result, kept until out_ready")
            self.port_docs["out_ready"] = ("ready", "the consumer takes the result on this cycle")
        super().__init__(members)

    def as_streams(self):
        """This unit behind one ``amaranth.lib.stream`` interface per stream:
        a :class:`StreamAdapter`, to add as a submodule in place of the unit."""
        return StreamAdapter(self)

    def pipeline(self, m, own_registers=0, *, valid=None, enable=None):
        """The unit's :class:`~hw.pipeline.Pipeline`: ``stages`` ranks, of which
        ``own_registers`` the unit builds itself (:meth:`Pipeline.register`).
        It carries ``in_valid`` and drives ``out_valid``; a handshake unit
        passes the ``valid`` of its own steps instead (and drives
        ``out_valid`` itself) and the ``enable`` that stalls every rank. Kept
        as :attr:`timing` for the manifest and ``target_mhz``."""
        if valid is None and self.latency:
            valid = self.in_valid
        own_valid = self.out_valid if self.latency and not self.HANDSHAKE else None
        self.timing = Pipeline(m, self.latency - own_registers, valid if self.latency else None,
                               out_valid=own_valid, enable=enable)
        return self.timing

    @property
    def latency(self):
        """Cycles from an input to its result (0: combinational)."""
        return self.params.get("stages", 0)

    @property
    def initiation_interval(self):
        """Cycles between operations; None where it depends on the data (``HANDSHAKE``)."""
        return None if self.HANDSHAKE else 1

    def formats(self):
        """Number formats of the ports, for the manifest (port name -> description)."""
        return {}

    def not_elaborated(self):
        """Say that this unit is not elaborated on purpose (built for its ports,
        or its Verilog taken from a cache): no "created but never used" warning
        from Amaranth (0.5's MustUse flag)."""
        self._MustUse__used = True
        return self


def _transfer_streams(unit):
    """The unit's streams: the handshake ones, or for a pipelined unit ``in``
    (every data input, valid ``in_valid``) and ``out`` (every data output,
    valid ``out_valid``), both always ready (no backpressure)."""
    if unit.HANDSHAKE:
        return unit.streams
    if not unit.latency:
        raise TypeError(f"{type(unit).__name__} is combinational (stages=0): it has no valid "
                        "to carry; drive its ports directly or build it with stages >= 1")
    data_ports = {flow: tuple(name for name, member in unit.signature.members.items()
                              if member.flow == flow and name not in ("in_valid", "out_valid"))
                  for flow in (wiring.In, wiring.Out)}
    return (Stream("in", "in", data_ports[wiring.In], always_ready=True),
            Stream("out", "out", data_ports[wiring.Out], always_ready=True))


class StreamAdapter(wiring.Component):
    """A unit with each of its streams as one ``amaranth.lib.stream``
    interface, for ``wiring.connect``.

    Member ``<name>_stream`` per :class:`Stream` of the unit, ``In`` for a
    stream the unit consumes and ``Out`` for one it produces, of signature
    ``stream.Signature(StructLayout({port: shape, ...}))`` over the stream's
    data ports in order (``always_ready=True`` for a pipelined unit's). The
    payload's fields are the unit's port names, so ``a_stream.payload.a_index``
    is the unit's ``a_index``; ``connect`` checks only the payload's width,
    so a plain ``stream.Signature(width)`` producer (an ``amaranth.lib.fifo``
    ``r_stream``, say) fits too, its word holding the fields from bit 0 up.

    Add the adapter as a submodule instead of the unit (it instantiates the
    unit as its submodule ``unit``), then connect:

        m.submodules.join = join = SparseJoin(chunk=8).as_streams()
        wiring.connect(m, producer.out_stream, join.in_stream)
        wiring.connect(m, join.out_stream, consumer.in_stream)

    A producer or consumer of your own declares the flipped signature of the
    member it meets: ``Out(join.in_stream.signature.flip())``,
    ``In(join.out_stream.signature)``. The consumer of an ``always_ready``
    stream must be always ready too (``connect`` refuses a ready signal
    there): a pipelined unit cannot wait.
    """

    def __init__(self, unit):
        self.unit = unit
        self._streams = _transfer_streams(unit)
        ports = unit.signature.members
        members = {}
        for s in self._streams:
            layout = data.StructLayout({name: ports[name].shape for name in s.payload})
            signature = stream.Signature(layout, always_ready=s.always_ready)
            members[f"{s.name}_stream"] = In(signature) if s.dir == "in" else Out(signature)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.unit = unit = self.unit
        for s in self._streams:
            outside = getattr(self, f"{s.name}_stream")
            ports = Cat(getattr(unit, name) for name in s.payload)
            if s.dir == "in":
                m.d.comb += [ports.eq(outside.payload), getattr(unit, s.valid).eq(outside.valid)]
                if not s.always_ready:
                    m.d.comb += outside.ready.eq(getattr(unit, s.ready))
            else:
                m.d.comb += [outside.payload.eq(ports), outside.valid.eq(getattr(unit, s.valid))]
                if not s.always_ready:
                    m.d.comb += getattr(unit, s.ready).eq(outside.ready)
        return m
