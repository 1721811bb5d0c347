"""The shared stream drivers (sim/streams.py) on pure-Python units: stalls,
standing offers, backpressure and the latency contract, without a simulator."""

import asyncio
import random

import pytest

from nnarith.sim.streams import Monitor, Sink, Source, clock


class Edge:
    """An edge the drivers can await every cycle: ``step()`` when awaited."""

    def __init__(self, step):
        self.step = step

    def __await__(self):
        self.step()
        return
        yield


class Delay:
    """Wires of a pipeline: ``in_valid``/``a`` leave as ``out_valid``/``y``
    ``depth`` edges later."""

    def __init__(self, depth):
        self.ports = {"in_valid": 0, "a": 0, "out_valid": 0, "y": 0}
        self.ranks = [(0, 0)] * depth

    def reader(self, name):
        return lambda: self.ports[name]

    def writer(self, name):
        return lambda value: self.ports.__setitem__(name, int(value))

    def step(self):
        self.ranks = [(self.ports["in_valid"], self.ports["a"])] + self.ranks[:-1]
        self.ports["out_valid"], self.ports["y"] = self.ranks[-1]


class Wire:
    """Wires of a combinational stream: ``out`` is ``in`` (valid, payload)
    and ``in_ready`` is ``out_ready``."""

    def __init__(self):
        self.ports = {"in_valid": 0, "a": 0, "out_ready": 0}

    def reader(self, name):
        name = {"out_valid": "in_valid", "y": "a", "in_ready": "out_ready"}.get(name, name)
        return lambda: self.ports[name]

    def writer(self, name):
        return lambda value: self.ports.__setitem__(name, int(value))


def _pipeline(depth, latency, bubble_rate, count=40, limit=None):
    wires, rng = Delay(depth), random.Random(7)
    values = [3 * i + 1 for i in range(count)]
    source = Source(wires, {"a": values}, valid="in_valid", rng=rng, bubble_rate=bubble_rate)
    monitor = Monitor(wires, ["y"], valid="out_valid", count=count, latency=latency,
                      sent=source.cycles)
    limit = limit or 2 * count + depth + 16
    finished = asyncio.run(clock([source, monitor], limit=limit, edge=Edge(wires.step)))
    return values, source, monitor, finished, limit


def test_a_pipeline_with_stalls_keeps_order_and_latency():
    values, source, monitor, finished, limit = _pipeline(depth=3, latency=3, bubble_rate=0.5)
    assert finished and monitor.got["y"] == values
    assert monitor.errors(limit) == ([], None)
    gaps = [b - a for a, b in zip(source.cycles, source.cycles[1:])]
    assert max(gaps) > 1 and min(gaps) == 1          # stalls happened, and back-to-back issue
    assert [r - s for s, r in zip(source.cycles, monitor.cycles)] == [3] * len(values)


def test_results_off_the_latency_are_errors_from_the_first():
    _, _, monitor, _, limit = _pipeline(depth=3, latency=2, bubble_rate=0.0)
    errors, first = monitor.errors(limit)
    assert first == 0 and len(errors) == 40
    assert errors[0] == "vector 0: out_valid 3 cycles after in_valid, manifest says 2"


def test_missing_results_name_the_count_and_the_first():
    _, _, monitor, finished, _ = _pipeline(depth=3, latency=3, bubble_rate=0.0, limit=20)
    errors, first = monitor.errors(20)
    assert not finished and first == len(monitor.cycles) == 17
    assert errors == ["only 17 of 40 results came out within 20 cycles"]


def test_a_result_without_an_input_is_an_error():
    wires = Delay(1)
    monitor = Monitor(wires, ["y"], valid="out_valid", latency=1, sent=[])
    wires.ports["out_valid"] = 1
    assert monitor.transfer(5)
    assert monitor.errors(10) == (["result 0 came out with no input left to match it"], 0)


@pytest.mark.parametrize("bubble_rate", [0.0, 0.3, 0.7])
def test_offers_stand_under_backpressure(bubble_rate):
    """Through a combinational stream every element arrives once and in
    order, at the cycle the source let it go; an offer stays up (with its
    element) until taken."""
    wires, rng = Wire(), random.Random(3)
    values = list(range(100, 160))
    source = Source(wires, {"a": values}, valid="in_valid", ready="in_ready", rng=rng,
                    bubble_rate=bubble_rate, name="in")
    sink = Sink(wires, ["y"], valid="out_valid", ready="out_ready", rng=rng,
                bubble_rate=bubble_rate, count=len(values), name="out")
    offered = []
    edge = Edge(lambda: offered.append((wires.ports["in_valid"], wires.ports["a"])))
    finished = asyncio.run(clock([source, sink], limit=2000, edge=edge))
    assert finished and sink.got["y"] == values and source.cycles == sink.cycles
    offered = offered[1:]       # each edge saw the cycle before it: offered[c] is cycle c's
    refused = [c for c in range(len(offered) - 1) if offered[c][0] and c not in sink.cycles]
    assert bool(refused) == (bubble_rate > 0)
    for cycle in refused:                       # the same element offered again next cycle
        assert offered[cycle + 1] == offered[cycle]


def test_a_combinational_unit_takes_one_vector_a_cycle():
    wires = Wire()
    wires.ports["out_ready"] = 1
    source = Source(wires, {"a": [5, 6, 7]})
    monitor = Monitor(wires, ["y"], count=3)
    assert asyncio.run(clock([source, monitor], limit=3))
    assert monitor.got["y"] == [5, 6, 7] and monitor.cycles == [0, 1, 2]
