"""FloatFMA in Amaranth's simulator on the bench model's vectors (specials,
patterns, directed alignment/cancellation/boundary triples, random; running
sums with clears): every preset, mixed formats, flush-to-zero, saturation,
both significand multipliers, pipelines and the accumulator at 1 and 3 stages."""

import numpy as np
import pytest

from nnarith.golden.formats import float_format
from nnarith.hw.catalogue import build
from nnarith.hw.fma import FloatFMA, fma_window
from nnarith.hw.unit import MAX_STAGES
from nnarith.sim.fma import FloatFMAModel
from nnarith.sim.pysim import pysim_mismatch, run_pysim


def check(unit, keep=1000, seed=0):
    mismatch = pysim_mismatch(unit, 300, keep, seed)
    assert mismatch is None, f"{unit.params}: {mismatch}"


@pytest.mark.parametrize("preset", ["fp16_fma32", "bf16_fma32", "fp32_fma", "fp16_fma16"])
@pytest.mark.parametrize("arch", ["infer", "booth"])
def test_presets(preset, arch):
    check(build(preset, {"arch": arch}), keep=100 if preset == "fp32_fma" else 200)


@pytest.mark.parametrize("params", [
    {"a_fmt": "e4m3", "b_fmt": "e5m2", "c_fmt": "fp16"},
    {"a_fmt": "fp16", "c_fmt": "fp32", "out_fmt": "bf16"},
    {"a_fmt": "bf16", "b_fmt": "fp16", "c_fmt": "fp16", "out_fmt": "e4m3", "saturate": True},
    {"a_fmt": "fp16", "c_fmt": "fp16", "ftz": True},
    {"a_fmt": "e5m2", "c_fmt": "e4m3", "saturate": True},
    {"a_fmt": "fp32", "c_fmt": "fp16", "out_fmt": "fp32"},
])
def test_mixed_formats_and_options(params):
    check(FloatFMA(**params), keep=200)


@pytest.mark.parametrize("stages, arch", [(1, "infer"), (3, "infer"), (12, "booth")])
def test_pipelines(stages, arch):
    check(FloatFMA(stages=stages, arch=arch), keep=150)


@pytest.mark.parametrize("stages, arch", [(1, "infer"), (3, "booth")])
@pytest.mark.parametrize("c_fmt", ["fp32", "fp16"])
def test_running_sums(stages, arch, c_fmt):
    """Streams with clears, overflow and exact cancellation, in order: 800 steps."""
    unit = FloatFMA(c_fmt=c_fmt, accumulate=True, stages=stages, arch=arch)
    model = FloatFMAModel(unit)
    inputs = {n: v[:800] for n, v in model.streams(np.random.default_rng(3), 0).items()}
    expected = model.expected(inputs)
    got = run_pysim(unit, inputs)
    for name in ("y", "flags"):
        bad = [i for i, (e, g) in enumerate(zip(expected[name], got[name])) if int(e) != g]
        assert not bad and len(got[name]) == 800, (name, bad[:5])


def test_accumulating_unit_needs_its_result_format_as_addend():
    with pytest.raises(ValueError, match=r"^out_fmt: must equal c_fmt \(fp32\) when accumulate"):
        FloatFMA(accumulate=True, out_fmt="fp16")
    with pytest.raises(ValueError, match=rf"^stages: must be 1 if accumulate else 0 \(1\)\.\.{MAX_STAGES}, "
                                         "got 0"):
        FloatFMA(accumulate=True, stages=0)


def test_ports_follow_the_mode():
    assert {"a", "b", "c", "rm", "y", "flags"} == set(FloatFMA().signature.members)
    assert {"a", "b", "clear", "rm", "y", "flags", "in_valid", "out_valid"} == \
        set(FloatFMA(accumulate=True).signature.members)


@pytest.mark.parametrize("a_fmt, c_fmt, window", [("fp16", "fp32", (7, 55)), ("bf16", "fp32", (13, 55)),
                                                  ("fp32", "fp32", (1, 75)), ("fp16", "fp16", (1, 36))])
def test_window_widths(a_fmt, c_fmt, window):
    fa, fc = float_format(a_fmt), float_format(c_fmt)
    assert fma_window(2 * (fa.frac_bits + 1), fc, fc) == window
