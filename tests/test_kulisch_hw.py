"""KulischAccumulator in Amaranth's simulator against the golden model, on
samples of the bench model's streams (clears, cancellations, subnormal sums,
specials, random read-out modes), and its parameter limits."""

import pytest

from nnarith.hw.kulisch import KulischAccumulator
from nnarith.sim.pysim import pysim_mismatch


def check(keep=1500, **params):
    mismatch = pysim_mismatch(KulischAccumulator(**params), 3000, keep, seed=2)
    assert mismatch is None, f"{params}: {mismatch}"


@pytest.mark.parametrize("lanes", [1, 4])
@pytest.mark.parametrize("stages", [1, 3])
def test_fp16_exact(lanes, stages):
    check(lanes=lanes, stages=stages)


@pytest.mark.parametrize("params", [
    # truncation below 2**-20, products from 2**8 overflow, sums wrap after 8 of them
    {"lsb": -20, "msb": 8, "carry_bits": 3, "out_fmt": "fp16", "lanes": 2, "stages": 2},
    {"in_fmt": "bf16", "lsb": -64, "msb": 64, "stages": 5},
    {"ftz": True, "out_fmt": "fp16", "carry_bits": 2},
    {"in_fmt": "e4m3", "out_fmt": "e5m2", "lanes": 3},
])
def test_clamped_registers_and_other_formats(params):
    check(**params)


def test_register_width_follows_the_format():
    assert KulischAccumulator().register_width == 97                     # 2**-48..2**32, 16 carries
    assert KulischAccumulator(in_fmt="bf16", lsb=-64, msb=64).register_width == 145
    assert KulischAccumulator(in_fmt="fp32").register_width == 571


@pytest.mark.parametrize("params, name", [
    ({"in_fmt": "e11m52"}, "msb"),                    # would need 4213 bits
    ({"in_fmt": "bf16", "lsb": -300}, "lsb"),         # below the smallest product
    ({"lsb": -10, "msb": -10}, "msb"),
    ({"lanes": 17}, "lanes"),
    ({"stages": 0}, "stages"),
])
def test_bad_registers_are_refused_by_name(params, name):
    with pytest.raises(ValueError, match=f"^{name}: must be"):
        KulischAccumulator(**params)
