"""FixedMultiplier in Amaranth's simulator: quick checks on the bench model's
own vectors before the exported Verilog goes through cocotb."""

import itertools

import pytest

from nnarith.hw.booth import _dadda_heights
from nnarith.hw.fixed import FixedMultiplier
from nnarith.sim.pysim import pysim_mismatch


def check(count=300, seed=0, keep_at_most=600, **params):
    mismatch = pysim_mismatch(FixedMultiplier(**params), count, keep_at_most, seed)
    assert mismatch is None, f"{params}: {mismatch}"


@pytest.mark.parametrize("arch", ["infer", "booth"])
@pytest.mark.parametrize("a_signed, b_signed", list(itertools.product([True, False], repeat=2)))
@pytest.mark.parametrize("a_width, b_width", [(2, 2), (3, 2), (8, 8), (5, 11), (11, 5), (16, 16),
                                              (24, 24), (33, 7)])
def test_products(arch, a_signed, b_signed, a_width, b_width):
    check(arch=arch, a_signed=a_signed, b_signed=b_signed, a_width=a_width, b_width=b_width)


@pytest.mark.parametrize("arch", ["infer", "booth"])
def test_widest_products(arch):
    # 64x64 Booth is ~10k gates in Python simulation: fewer vectors here, all of them in cocotb.
    check(count=30, keep_at_most=50, arch=arch, a_width=64, b_width=64, a_signed=True, b_signed=False)


@pytest.mark.parametrize("rounding", ["trunc", "zero", "half_up", "half_even"])
@pytest.mark.parametrize("overflow", ["wrap", "saturate"])
@pytest.mark.parametrize("out_signed", [True, False])
def test_narrowing(rounding, overflow, out_signed):
    check(a_width=12, a_frac=5, b_width=9, b_frac=7, b_signed=False, out_width=10, out_frac=4,
          out_signed=out_signed, rounding=rounding, overflow=overflow, arch="booth")
    check(a_width=8, a_frac=2, b_width=8, b_frac=1, out_width=20, out_frac=6,
          out_signed=out_signed, rounding=rounding, overflow=overflow)


@pytest.mark.parametrize("stages", [1, 2, 3, 4, 6])
@pytest.mark.parametrize("arch", ["infer", "booth"])
def test_pipelines_keep_latency(stages, arch):
    check(a_width=16, a_frac=8, b_width=16, b_frac=8, out_width=16, out_frac=8,
          arch=arch, stages=stages)


def test_ovf_port_only_where_overflow_is_possible():
    assert "ovf" not in FixedMultiplier().signature.members
    assert "ovf" in FixedMultiplier(out_width=15).signature.members
    assert "ovf" in FixedMultiplier(a_signed=True, out_signed=False).signature.members
    # Dropping fraction bits of a full-width product cannot overflow.
    assert "ovf" not in FixedMultiplier(a_frac=4, b_frac=4, out_width=12, out_frac=4).signature.members


def test_dadda_schedule():
    assert _dadda_heights(9) == [6, 4, 3, 2]
    assert _dadda_heights(3) == [2]
    assert _dadda_heights(2) == []
