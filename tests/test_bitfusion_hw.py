"""Bit Fusion in Amaranth's simulator against the golden: the BitBrick over
every input, the Fusion Unit over every mode with switches between cycles,
clears and illegal codes, for both brick widths and pipelined variants."""

import pytest

from nnarith.hw.bitfusion import BitBrick, FusionUnit, brick_routing
from nnarith.sim.pysim import pysim_mismatch


@pytest.mark.parametrize("width, stages, brick", [(2, 0, "adder"), (4, 0, "adder"), (2, 1, "adder"),
                                                  (2, 0, "table"), (2, 1, "table")])
def test_bitbrick_every_input(width, stages, brick):
    unit = BitBrick(width=width, stages=stages, brick=brick)
    assert pysim_mismatch(unit, 0, 1 << (2 * width + 2)) is None


@pytest.mark.parametrize("params, keep", [({}, 1500), ({"stages": 2}, 800),
                                          ({"stages": 4, "acc_width": 17}, 800),
                                          ({"max_prec": 16}, 800), ({"min_prec": 4}, 800),
                                          ({"max_prec": 16, "min_prec": 2, "acc_width": 40}, 200),
                                          ({"brick": "table", "stages": 8}, 800)],
                         ids=str)
def test_fusion_unit(params, keep):
    assert pysim_mismatch(FusionUnit(**params), 400, keep) is None


@pytest.mark.parametrize("max_prec, min_prec", [(8, 2), (16, 4), (16, 2)])
def test_every_mode_uses_every_brick_on_distinct_slice_pairs(max_prec, min_prec):
    levels = (max_prec // min_prec).bit_length() - 1
    for code_a in range(levels + 1):
        for code_b in range(levels + 1):
            routing = brick_routing(max_prec, min_prec, code_a, code_b)
            pairs = {(a, w) for a, w, _, _ in routing.values()}
            assert len(pairs) == len(routing) == (max_prec // min_prec) ** 2


def test_bench_stimulus_covers_modes_switches_and_wraps():
    import numpy as np

    from nnarith.golden.bitfusion import decode_mode, fusion_accumulate
    from nnarith.sim.bitfusion import FusionUnitModel
    model = FusionUnitModel(FusionUnit(acc_width=17))
    inputs = model.stimulus(np.random.default_rng(0), 300)
    mode = inputs["mode"].astype(np.int64)
    legal = decode_mode(mode)[4]
    assert len(set(mode[legal].tolist())) == 36 and (~legal).sum() >= 30
    shuffled = mode[:36 * 300]
    assert (shuffled[1:] != shuffled[:-1]).mean() > 0.9
    assert inputs["clear"].sum() > 100
    acc, _ = fusion_accumulate(inputs["a"], inputs["w"], inputs["mode"], inputs["clear"], 17)
    march = acc[36 * 300 + (~legal).sum():]
    assert (np.diff(march[:300]) < 0).any(), "the march must wrap a 17-bit accumulator"
    exhaustive = model.stimulus(np.random.default_rng(0), 1 << 16)
    eight = exhaustive["mode"] == 0b001010
    assert len(set(zip(exhaustive["a"][eight].tolist(), exhaustive["w"][eight].tolist()))) == 65536


@pytest.mark.parametrize("preset, args, name", [
    ("fusion_unit", ["-p", "max_prec=3"], "max_prec: must be one of 8, 16, got 3"),
    ("fusion_unit", ["-p", "min_prec=3"], "min_prec: must be one of 2, 4, got 3"),
    ("fusion_unit", ["-p", "max_prec=8", "-p", "min_prec=16"], "min_prec: must be one of 2, 4"),
    ("fusion_unit", ["-p", "acc_width=16"], "acc_width: must be 2*max_prec + 1 (17)..64"),
    ("temporal_pe", ["-p", "mult_bits=8"], "mult_bits: must be one of 2, 4, got 8"),
    ("fusion_array", ["-p", "rows=0"], "rows: must be"),
    ("bitbrick", ["-p", "width=3"], "width: must be one of 2, 4, got 3"),
    ("fusion_unit16", ["-p", "brick=table"], "brick: table needs 2-bit slices, got 4-bit"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_cli_refuses_bad_precisions_with_one_line(tmp_path, preset, args, name):
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-m", "nnarith.cli", "verilog", preset, *args,
                             "-o", str(tmp_path)], capture_output=True, text=True)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nnarith: error: {name}"), lines[0]
    assert not any(tmp_path.iterdir())
