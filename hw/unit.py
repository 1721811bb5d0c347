"""What every nnarith unit has in common: its parameter table, its timing
ports and the facts its manifest publishes."""

from dataclasses import dataclass

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from amaranth.hdl import Fragment

from .params import Derived, Param, resolve
from .pipeline import Pipeline

__all__ = ["Unit", "Stream", "STAGES_PARAM", "ACCUMULATOR_STAGES_PARAM",
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
    """One ready/valid stream of a handshake unit: flat ports ``<name>_valid``
    and ``<name>_ready`` (the flat-port form of an Amaranth ``lib.stream``
    interface) and the data ports it carries, all moving together: a transfer
    happens on a cycle where valid and ready are both high, and valid never
    waits for ready."""

    name: str
    dir: str                 # "in": the unit consumes it, "out": the unit produces it
    payload: tuple

    @property
    def valid(self):
        return f"{self.name}_valid"

    @property
    def ready(self):
        return f"{self.name}_ready"

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
            for stream in self.streams:
                into = stream.dir == "in"
                members[stream.valid] = In(1) if into else Out(1)
                members[stream.ready] = Out(1) if into else In(1)
                carried = ", ".join(stream.payload)
                self.port_docs[stream.valid] = ("valid", f"{carried} hold a transfer"
                                                + (", taken when ready is high too" if into
                                                   else ", kept until ready"))
                self.port_docs[stream.ready] = ("ready", "the unit takes the transfer on this cycle"
                                                if into else "the consumer takes the transfer "
                                                "on this cycle")
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
            self.port_docs["out_valid"] = ("valid", f"outputs hold the result issued {self.latency} cycles earlier")
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
