"""Pipeline register placement shared by every unit, driven by a delay model.

A unit passes its datapath through *cut points* in datapath order, declaring
with each the logic delay since the previous cut (:class:`Delay`: LUT levels
and carry-chain bits, from the helpers below). :meth:`Pipeline.cut` returns
stand-in signals at once; :meth:`Pipeline.finish` then knows the whole chain
of segment delays and places the ``stages`` register ranks where they split it
into stages of about equal delay under a target's :class:`DelayModel` (fewest
register bits among equally fast placements), drives the stand-ins through
those registers and drives ``out_valid``. Ranks beyond the number of cut
points stack on the narrowest cut. The placement and the model's Fmax
estimate stay on the pipeline (:attr:`Pipeline.estimate`) for the manifest.
"""

import math
from dataclasses import dataclass

from amaranth.hdl import Const, Module, Mux, Signal, Value
from amaranth.lib import data

__all__ = ["Delay", "DelayModel", "DELAY_MODELS", "Pipeline", "alongside", "balance", "drive",
           "flatten", "lane", "lane_output", "side_by_side", "through", "unflatten",
           "logic", "lookup", "adder", "mux", "shifter", "compare", "multiplier_delay"]


@dataclass(frozen=True)
class Delay:
    """Logic delay of one path: ``luts`` LUT4 levels in series and ``chains``
    carry chains of ``carry`` bits in all. Delays in series add."""

    luts: float = 0
    carry: int = 0
    chains: int = 0

    def __add__(self, other):
        return Delay(self.luts + other.luts, self.carry + other.carry, self.chains + other.chains)

    def __mul__(self, times):
        return Delay(self.luts * times, self.carry * times, self.chains * times)


def logic(inputs):
    """Any function of ``inputs`` bits as a tree of 4-input LUTs."""
    return Delay(luts=max(1, math.ceil(math.log(max(inputs, 2), 4))))


def adder(width):
    """A ``width``-bit carry-propagate adder, subtractor or increment (one carry chain)."""
    return Delay(luts=0, carry=width, chains=1)


def compare(width):
    """``a < b`` or ``a == const`` on ``width`` bits: a carry chain or an AND tree."""
    return adder(width)


def lookup(index, values, shape):
    """``values[index]`` for a table of ``2**len(index)`` integer constants of
    ``shape``, as a tree of muxes on the index bits that Yosys folds into
    LUTs (a case statement would become a ROM); its delay is ``logic(len(index))``."""
    index = Value.cast(index)

    def tree(bit, base):
        if bit < 0:
            return Const(values[base], shape)
        return Mux(index[bit], tree(bit - 1, base | 1 << bit), tree(bit - 1, base))
    return tree(len(index) - 1, 0)


def mux(ways):
    """A ``ways``:1 multiplexer: a LUT4 for 2:1, and half a LUT level more for
    each doubling (the ECP5 PFU muxes after the LUTs, with their routing)."""
    return Delay(luts=0.5 + 0.5 * math.ceil(math.log2(max(ways, 2))))


def multiplier_delay(x_width, y_width):
    """An inferred ``x * y`` in LUTs: about a level of partial products, the
    adder tree of ``y_width`` rows, and the final carry chain."""
    return Delay(luts=1 + max(1, (y_width - 1).bit_length()), carry=x_width + y_width,
                 chains=max(1, (y_width - 1).bit_length()))


def shifter(amount_bits):
    """A barrel shifter steered by ``amount_bits`` bits (a 4:1 mux per level)."""
    return mux(4) * math.ceil(max(amount_bits, 1) / 2)


@dataclass(frozen=True)
class DelayModel:
    """Nanoseconds for a :class:`Delay` on one target (routing included), and
    the register overhead (clock to out, setup, clock skew) of a stage."""

    name: str
    lut_ns: float
    chain_ns: float          # entering and leaving one carry chain
    bit_ns: float            # per bit of carry chain
    register_ns: float

    def ns(self, delay):
        return delay.luts * self.lut_ns + delay.chains * self.chain_ns + delay.carry * self.bit_ns

    def fmax_mhz(self, stage_ns):
        return 1000.0 / (stage_ns + self.register_ns)


#: Calibrated against nextpnr-ecp5 (25k, CABGA381, speed 6) on the units'
#: registered wrappers by ``bench/calibrate.py`` (its least-squares fit over
#: the timing bench, optimism weighing triple): see the README's timing section.
DELAY_MODELS = {
    "ecp5": DelayModel("ecp5", lut_ns=1.15, chain_ns=1.0, bit_ns=0.035, register_ns=1.5),
}


def balance(segments, widths, stages, fixed=None):
    """Ranks per cut point for ``stages`` free registers.

    ``segments``: ``len(widths) + 1`` delays in ns (before the first cut,
    between cuts, after the last); ``widths``: bits crossing each cut;
    ``fixed``: per cut, whether the unit registers there itself (always a
    stage boundary, not counted in ``stages``). Minimizes the largest stage
    delay, then the register bits; returns ``(ranks, stage_delays)`` with
    ``ranks`` the free registers per cut.
    """
    n = len(widths)
    fixed = fixed or [False] * n
    prefix = [0.0]
    for d in segments:
        prefix.append(prefix[-1] + d)
    total = prefix[-1]

    def span(i, j):               # delay from just after cut i to cut j (i = -1: the inputs)
        return prefix[j + 1] - prefix[i + 1]

    def key(option):
        return (round(option[0], 6), option[1])

    def skips_fixed(i, j):        # a path from cut i to cut j may not pass a fixed cut
        return any(fixed[i + 1:j])

    free_cuts = n - sum(fixed)
    distinct = min(stages, free_cuts)
    # best[k][j]: (largest stage so far, bits, previous cut) with k free registers
    # chosen, the last boundary at cut j.
    best = [[None] * n for _ in range(distinct + 1)]
    for j in range(n):
        k = 0 if fixed[j] else 1
        if k <= distinct and not any(fixed[:j]):
            best[k][j] = (span(-1, j), 0 if fixed[j] else widths[j], -1)
    for k in range(distinct + 1):
        for j in range(n):
            previous = k if fixed[j] else k - 1
            if previous < 0:
                continue
            options = [(max(best[previous][i][0], span(i, j)),
                        best[previous][i][1] + (0 if fixed[j] else widths[j]), i)
                       for i in range(j) if best[previous][i] is not None
                       and not skips_fixed(i, j)]
            if best[k][j] is not None:
                options.append(best[k][j])
            if options:
                best[k][j] = min(options, key=key)
    ranks = [0] * n
    ends = [(max(b[0], total - prefix[j + 1]), b[1], j)
            for j, b in enumerate(best[distinct]) if b is not None and not any(fixed[j + 1:])]
    if not ends:                  # no boundary at all
        return ranks, [total]
    _, _, j = min(ends, key=key)
    chosen, k = [], distinct
    while j >= 0:
        chosen.append(j)
        previous = best[k][j][2]
        k -= 0 if fixed[j] else 1
        j = previous
    chosen.reverse()
    for j in chosen:
        ranks[j] = 0 if fixed[j] else 1
    bounds = [-1] + chosen
    delays = [span(a, b) for a, b in zip(bounds, chosen)] + [total - prefix[chosen[-1] + 1]]
    extra = stages - distinct
    if extra:
        free = [c for c in range(n) if not fixed[c]]
        narrowest = min(free, key=lambda c: (widths[c], -c))
        ranks[narrowest] += extra
        delays += [0.0] * extra
    return ranks, delays


def drive(pipe, datapath, owner=None):
    """Run a datapath generator (it yields ``(name, delay, values)`` at each
    cut point, ``values`` a dict, and is sent the values back) through
    ``pipe``'s cut points, or straight through without a pipeline; returns
    what it returns. ``owner``: the module that registers each value, by its
    key (see :meth:`Pipeline.cut_many`). :func:`side_by_side` runs several
    datapaths as one."""
    try:
        request = next(datapath)
        while True:
            name, delay, values = request
            request = datapath.send(values if pipe is None
                                    else pipe.cut_any(name, values, delay, owner=owner))
    except StopIteration as stop:
        return stop.value


def side_by_side(datapaths):
    """Several identical datapath generators (one per output of a unit, or per
    product of an output) as one: all of them cross each cut point together,
    their values keyed ``(i, key)`` and their delays side by side. Returns
    what each datapath returns."""
    datapaths = list(datapaths)
    results = [None] * len(datapaths)
    pending = {}
    for i, datapath in enumerate(datapaths):
        try:
            pending[i] = next(datapath)
        except StopIteration as stop:
            results[i] = stop.value
    while pending:
        names = {name for name, _, _ in pending.values()}
        if len(names) != 1:
            raise RuntimeError(f"datapaths out of step at cut points {sorted(names)}")
        back = yield (names.pop(), tuple(d for _, d, _ in pending.values()),
                      {(i, key): value for i, (_, _, values) in pending.items()
                       for key, value in values.items()})
        for i in list(pending):
            try:
                pending[i] = datapaths[i].send({key: back[i, key] for key in pending[i][2]})
            except StopIteration as stop:
                results[i] = stop.value
                del pending[i]
    return results


def through(name, delay, values, carried=()):
    """One datapath step (``yield from`` it in a generator for :func:`drive`):
    ``values`` (a dict) and ``carried`` (a tuple or a dict) across cut point
    ``name``, ``delay`` after the previous one; returns both as they come out."""
    carried_in = flatten(carried)
    back = yield (name, delay, {**{("value", k): v for k, v in values.items()},
                                **{("carried", i): v for i, v in enumerate(carried_in)}})
    return ({k: back["value", k] for k in values},
            unflatten(carried, [back["carried", i] for i in range(len(carried_in))]))


def alongside(datapath, carried):
    """``datapath`` (a generator, as for :func:`drive`) with ``carried``
    values (a tuple or a dict) crossing each of its cut points too; returns
    ``(its result, carried)``. For values shared by datapaths in lockstep."""
    packed = dict(enumerate(flatten(carried)))
    try:
        name, delay, values = next(datapath)
        while True:
            back = yield (name, delay, {**{("own", k): v for k, v in values.items()},
                                        **{("with", k): v for k, v in packed.items()}})
            packed = {k: back["with", k] for k in packed}
            name, delay, values = datapath.send({k: back["own", k] for k in values})
    except StopIteration as stop:
        return stop.value, unflatten(carried, list(packed.values()))


def flatten(carried):
    """The values of ``carried`` (a tuple, or a dict of values) as a tuple."""
    return tuple(carried.values()) if isinstance(carried, dict) else tuple(carried)


def unflatten(template, values):
    """``values`` in the form of ``template`` (see :func:`flatten`)."""
    return dict(zip(template, values)) if isinstance(template, dict) else tuple(values)


def lane(m, name, inputs):
    """A submodule ``name`` of ``m`` for one datapath of :meth:`Pipeline.lockstep`
    and its inputs: a signal per ``inputs`` entry (name -> value), driven in
    ``m``. Inside the lane only these names appear, so identical lanes export
    as identical modules (synthesized once, :mod:`hw.blocks`)."""
    module = Module()
    m.submodules[name] = module
    local = {}
    for key, value in inputs.items():
        value = Value.cast(value)
        local[key] = Signal(value.shape(), name=key)
        m.d.comb += local[key].eq(value)
    return module, local


def lane_output(module, name, value):
    """``value`` (logic of a lane) as the lane's output port ``name``."""
    port = Signal(Value.cast(value).shape(), name=name)
    module.d.comb += port.eq(value)
    return port


def _name(value):
    return getattr(Value.cast(value), "name", "value")


def _like(value, name):
    """A register-less signal of ``value``'s shape (a view for a ``lib.data`` view)."""
    if isinstance(value, data.View):
        return Signal(value.shape(), name=name, reset_less=True)
    return Signal.like(value, name=name, reset_less=True)


class Pipeline:
    """Cut points of one datapath and the registers placed on them (module docs).

    ``stages``: free register ranks to place; ``in_valid``: the unit's valid
    input (None for a combinational unit); ``out_valid``: driven by
    :meth:`finish` from ``in_valid`` through every rank; ``enable``: when
    given, every rank (valid bits included) holds while it is low, so a
    handshake unit stalls its whole pipeline in one place.
    """

    def __init__(self, m, stages, in_valid=None, *, out_valid=None, enable=None, model="ecp5"):
        self._m = m
        self._stages = stages
        self._out_valid = out_valid
        self._enable = enable
        self._model = DELAY_MODELS[model]
        self._cuts = []                    # (name, values, stand-ins, valid stand-in or None)
        self._owners = []                  # per cut, the module registering each value (None: m)
        self._bases = {}                   # id of a stand-in -> the name of what it stands for
        self._segments = []                # Delay before each cut
        self._in_valid = in_valid
        self.estimate = None

    def ns(self, delay):
        """``delay`` in nanoseconds under this pipeline's model."""
        return self._model.ns(delay)

    def cut(self, name, *values, delay=Delay()):
        """Pass ``values`` through cut point ``name``, ``delay`` after the
        previous one. Returns stand-ins for the values (one per argument),
        registered as :meth:`finish` decides."""
        stand_ins = self.cut_many(name, values, delay=delay)
        return stand_ins if len(stand_ins) != 1 else stand_ins[0]

    def longest(self, delay):
        """``delay``, or the longest under this pipeline's model of a tuple of
        delays (paths side by side)."""
        if isinstance(delay, Delay):
            return delay
        return max((self.longest(d) for d in delay), key=self.ns)

    def cut_many(self, name, values, delay=Delay(), owners=None):
        """:meth:`cut` for a sequence of values; always returns a tuple.
        ``delay``: a :class:`Delay`, or a tuple of them for paths side by side;
        ``owners``: per value, the module its registers go in (None: the
        pipeline's own)."""
        self._check(name)
        delay = self.longest(delay)
        bases = [self._bases.get(id(value), _name(value)) for value in values]
        stand_ins = tuple(_like(value, f"{name}_{base}") for value, base in zip(values, bases))
        # A value crossing several cuts keeps its own name after each cut's.
        self._bases.update((id(stand_in), base) for stand_in, base in zip(stand_ins, bases))
        self._cuts.append((name, tuple(values), stand_ins, None))
        self._owners.append(tuple(owners) if owners is not None else (None,) * len(values))
        self._segments.append(delay)
        return stand_ins

    def cut_any(self, name, values, delay=Delay(), owner=None):
        """:meth:`cut_many` for a tuple, or for a dict of values (returns a
        dict); ``owner``: the module of each value, by its key (a dict's) or
        index."""
        keys = tuple(values) if isinstance(values, dict) else range(len(values))
        owners = None if owner is None else [owner(key) for key in keys]
        if isinstance(values, dict):
            return dict(zip(values, self.cut_many(name, tuple(values.values()), delay=delay,
                                                  owners=owners)))
        return self.cut_many(name, tuple(values), delay=delay, owners=owners)

    def steps(self, name, steps, carried):
        """Apply side ``steps`` (``(function, delay)`` pairs, as for
        :func:`~hw.booth.reduce_and_add`) to ``carried`` one after another,
        with a cut point ``<name><i>`` after each."""
        for i, (function, delay) in enumerate(steps):
            carried = self.cut_any(f"{name}{i}", function(carried), delay=delay)
        return carried

    def lockstep(self, datapaths, modules=None):
        """Run several identical datapaths (generators, one per output of a
        unit) through shared cut points (:func:`side_by_side`); returns what
        each datapath returns. ``modules``: one per datapath, the submodule
        that holds its registers (its logic is the generator's to put there),
        so that each output is a module of its own in the Verilog."""
        owner = None if modules is None else (lambda key: modules[key[0]])
        return drive(self, side_by_side(datapaths), owner=owner)

    def register(self, name, delay=Delay()):
        """A rank the unit builds itself (an accumulator), ``delay`` after the
        previous cut: a fixed stage boundary, counted in the unit's stages.
        Returns the valid bit arriving there (the enable for that register)."""
        self._check(name)
        if self._in_valid is None:
            raise ValueError("a pipeline with its own registers needs in_valid")
        arriving = Signal(name=f"{name}_in_valid")
        self._cuts.append((name, (), (), arriving))
        self._owners.append(())
        self._segments.append(delay)
        return arriving

    def _check(self, name):
        if self.estimate is not None:
            raise RuntimeError("cut after finish")
        if any(name == c[0] for c in self._cuts):
            raise ValueError(f"cut point {name!r} is already used")

    @property
    def fixed_ranks(self):
        return sum(valid is not None for *_, valid in self._cuts)

    def plan(self, stages):
        """The model's placement and estimate for ``stages`` in all (the
        unit's own registers included), once the chain is finished."""
        model = self._model
        fixed = [valid is not None for *_, valid in self._cuts]
        ranks, stage_ns = balance(self._segments_ns, self._widths, stages - sum(fixed), fixed)
        return {"model": model.name, "stages": stages, "stage_ns": [round(d, 2) for d in stage_ns],
                "fmax_mhz": round(model.fmax_mhz(max(stage_ns)), 1),
                "registers": sum(r * w for r, w in zip(ranks, self._widths)),
                "cuts": {name: r for (name, *_), r in zip(self._cuts, ranks) if r},
                "ranks": ranks}

    def stage_delays(self, ranks):
        """The :class:`Delay` of each stage for registers ``ranks`` per cut
        (a rank the unit builds itself counts as one), in the order of
        :meth:`plan`'s ``stage_ns``: for fitting a :class:`DelayModel`."""
        stages, current = [], Delay()
        for delay, count, (*_, arriving) in zip(self._segments, ranks, self._cuts):
            current += delay
            count = 1 if arriving is not None else count
            if count:
                stages.append(current)
                current = Delay()
        stages.append(current + self._final)
        empty = sum(ranks) + self.fixed_ranks - len(stages) + 1
        return stages + [Delay()] * empty

    def finish(self, delay=Delay()):
        """Place the registers, ``delay`` being the logic after the last cut,
        and drive ``out_valid``."""
        if self._stages and not any(valid is None for *_, valid in self._cuts):
            raise ValueError("a pipeline with stages needs at least one cut point")
        model = self._model
        self._final = delay
        self._segments_ns = [model.ns(d) for d in self._segments + [delay]]
        self._widths = [sum(len(Value.cast(v)) for v in values) for _, values, _, _ in self._cuts]
        self.estimate = self.plan(self._stages + self.fixed_ranks)
        ranks = self.ranks = self.estimate.pop("ranks")
        m = self._m
        valid = self._in_valid
        registered = {}                    # per module, every rank's assignments
        for (name, values, stand_ins, arriving), owners, count in zip(self._cuts, self._owners,
                                                                      ranks):
            for value, stand_in, owner in zip(values, stand_ins, owners):
                owner = m if owner is None else owner
                for rank in range(count - 1):
                    reg = _like(value, f"{name}_{rank}_{self._bases.get(id(value), _name(value))}")
                    registered.setdefault(owner, []).append(reg.eq(value))
                    value = reg
                if count:
                    registered.setdefault(owner, []).append(stand_in.eq(value))
                else:
                    owner.d.comb += stand_in.eq(value)
            if valid is None:
                continue
            if arriving is not None:
                m.d.comb += arriving.eq(valid)
                count = 1
            for rank in range(count):
                reg = Signal(name=f"{name}_{rank}_valid")
                registered.setdefault(m, []).append(reg.eq(valid))
                valid = reg
        for owner, statements in registered.items():
            if self._enable is None:
                owner.d.sync += statements
            else:
                with owner.If(self._enable):
                    owner.d.sync += statements
        if self._out_valid is not None:
            m.d.comb += self._out_valid.eq(valid)
        return self.estimate
