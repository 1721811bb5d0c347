"""The shared pipeline mechanism: balanced register placement under the delay
model, units' own registers, and ``target_mhz``."""

import json

import pytest
from amaranth.hdl import Fragment

from nnarith.hw.catalogue import build
from nnarith.hw.export import manifest
from nnarith.hw.pipeline import DELAY_MODELS, Delay, adder, balance


def test_balance_splits_equal_segments_evenly():
    ranks, delays = balance([0, 3, 3, 3, 0], [8, 8, 8, 8], 2)
    assert ranks == [0, 1, 1, 0]
    assert delays == [3, 3, 3]


def test_balance_prefers_fewer_register_bits_among_equal_placements():
    # cuts 1 and 2 give the same largest stage (4); cut 2 is narrower
    ranks, delays = balance([1, 3, 0, 0, 4], [8, 32, 4, 8], 1)
    assert ranks == [0, 0, 1, 0]
    assert max(delays) == 4


def test_balance_keeps_a_units_own_register_and_stacks_extra_ranks_on_the_narrowest_cut():
    ranks, delays = balance([0, 3, 3, 3, 0], [8, 8, 8, 4], 1, [False, False, True, False])
    assert ranks[2] == 0 and sum(ranks) == 1
    assert max(delays) == 3
    ranks, delays = balance([0, 3, 0], [16, 4], 5)
    assert ranks == [1, 4]
    assert len(delays) == 6


def test_more_stages_never_model_slower():
    unit = build("fp16_mul", {"arch": "booth"})
    Fragment.get(unit, None)
    fmax = [unit.timing.plan(stages)["fmax_mhz"] for stages in range(0, 17)]
    assert fmax == sorted(fmax)
    assert fmax[8] > 3 * fmax[0]


@pytest.mark.parametrize("preset, params", [
    ("fp16_mul", {"arch": "booth", "stages": 10}),
    ("fp16_mul", {"arch": "booth", "stages": 24}),     # ranks stacked on one cut
    ("int8_mac", {"arch": "booth", "stages": 3}),      # the accumulator's own rank
])
def test_stage_delays_are_the_modelled_stages(preset, params):
    unit = build(preset, params)
    Fragment.get(unit, None)
    pipe = unit.timing
    delays = pipe.stage_delays(pipe.ranks)
    assert len(delays) == params["stages"] + 1
    assert [pipe.ns(d) for d in delays] == pytest.approx(pipe.estimate["stage_ns"], abs=0.006)


def test_delay_model_adds_in_series():
    model = DELAY_MODELS["ecp5"]
    assert model.ns(adder(8) + Delay(luts=2)) == pytest.approx(model.ns(adder(8)) + 2 * model.lut_ns)


@pytest.mark.parametrize("preset, target", [("fp16_mul", 120), ("int8_mul", 250), ("bf16_mul", 100)])
def test_target_mhz_picks_the_fewest_stages_that_meet_it(preset, target):
    unit = build(preset, {"arch": "booth", "target_mhz": target})
    stages = unit.params["stages"]
    estimate = json.loads(json.dumps(manifest(unit, preset)["timing"]))
    assert estimate["stages"] == stages == unit.latency
    assert estimate["fmax_mhz"] >= target
    assert unit.timing.plan(stages - 1)["fmax_mhz"] < target


def test_target_mhz_refuses_an_unreachable_target_and_a_conflicting_stages():
    with pytest.raises(ValueError, match=r"^target_mhz: must be 1\.\.\d+"):
        build("fp16_mul", {"target_mhz": 900})
    chosen = build("fp16_mul", {"arch": "booth", "target_mhz": 120}).params["stages"]
    with pytest.raises(ValueError, match="^stages: with target_mhz=120"):
        build("fp16_mul", {"arch": "booth", "target_mhz": 120, "stages": chosen + 1})
    # a unit's resolved parameters can be passed back
    build("fp16_mul", {"arch": "booth", "target_mhz": 120, "stages": chosen})


def test_target_mhz_takes_the_booth_tree_only_when_needed_and_no_arch_is_given():
    chosen = build("fp16_mul", {"target_mhz": 250})
    assert chosen.params["arch"] == "booth"
    assert manifest(chosen, "fp16_mul")["params"]["arch"] == "booth"
    assert build("fp16_mul", {"target_mhz": 60}).params["arch"] == "infer"
    with pytest.raises(ValueError, match="arch=booth cuts the multiplier finer"):
        build("fp16_mul", {"target_mhz": 250, "arch": "infer"})


def test_accumulator_units_keep_their_register_as_the_last_rank():
    unit = build("int8_mac", {"arch": "booth", "stages": 4})
    estimate = manifest(unit, "int8_mac")["timing"]
    assert estimate["stages"] == 4
    assert sum(estimate["cuts"].values()) == 3      # the accumulator is the fourth rank


def test_lockstep_datapaths_cross_each_cut_together_and_must_stay_in_step():
    from amaranth.hdl import Module, Signal
    from nnarith.hw.pipeline import Pipeline, drive

    def datapath(value, name):
        doubled = Signal(8, name=f"{name}_doubled")
        state = yield ("first", Delay(luts=1), {"x": value})
        m.d.comb += doubled.eq(state["x"] << 1)
        state = yield ("second", Delay(luts=1), {"x": doubled})
        return state["x"]

    m = Module()
    pipe = Pipeline(m, 1, Signal(name="valid_in"))
    a, b = Signal(8, name="a"), Signal(8, name="b")
    results = pipe.lockstep([datapath(a, "a"), datapath(b, "b")])
    estimate = pipe.finish()
    assert len(results) == 2 and sum(estimate["cuts"].values()) == 1
    assert [name for name, *_ in pipe._cuts] == ["first", "second"]
    # without a pipeline a datapath runs straight through
    assert drive(None, datapath(a, "c")).name == "c_doubled"

    def lagging(value):
        yield ("first", Delay(), {"x": value})
        yield ("other", Delay(), {"x": value})

    with pytest.raises(RuntimeError, match="out of step"):
        Pipeline(Module(), 0).lockstep([datapath(a, "d"), lagging(b)])


def test_an_enable_holds_every_rank_and_its_valid_bit():
    """A handshake unit stalls its pipeline with one enable: while it is low
    nothing moves (data and valid), then the values come out in order."""
    from amaranth.hdl import Module, Signal
    from amaranth.sim import Simulator
    from nnarith.hw.pipeline import Pipeline

    m = Module()
    x, y = Signal(8, name="x"), Signal(8, name="y")
    valid, out_valid, enable = Signal(name="valid"), Signal(name="out_valid"), Signal(name="enable")
    pipe = Pipeline(m, 3, valid, out_valid=out_valid, enable=enable)
    first = pipe.cut("first", x, delay=Delay(luts=1))
    second = pipe.cut("second", first + 1, delay=Delay(luts=1))
    m.d.comb += y.eq(second)
    assert sum(pipe.finish(Delay(luts=1))["cuts"].values()) == 3
    seen = []

    async def bench(ctx):
        for cycle, (value, go) in enumerate([(10, 1), (20, 1), (30, 0), (40, 0), (50, 1),
                                             (60, 1), (0, 1), (0, 1), (0, 1)]):
            ctx.set(x, value)
            ctx.set(valid, value != 0)
            ctx.set(enable, go)
            await ctx.tick()
            if ctx.get(out_valid):
                seen.append((cycle, ctx.get(y)))

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # 10 and 20 entered, the pipeline held for two cycles (30 and 40 never
    # entered), then 50 and 60 followed: each result 3 enabled edges later.
    assert seen == [(4, 11), (5, 21), (6, 51), (7, 61)]
