"""The 2**32 batch harness, on a space small enough for CI: every E4M3 pair
through Verilator, combinational and through a deep pipeline, compared row by
row with the golden; and proof that a wrong golden is caught and its failing
pairs written down (on the right pairs: a pipeline read one cycle off would
fail everywhere)."""

import pytest

import nnarith.sim.runner as runner
from nnarith.sim.exhaustive import check_shard, run_parallel
from nnarith.sim.float import FloatMultiplierModel


@pytest.mark.parametrize("overrides", [{}, {"stages": 9, "arch": "booth"}],
                         ids=["combinational", "booth-9"])
def test_every_e4m3_pair_over_two_shards(overrides):
    summary = run_parallel("e4m3_mul", overrides, [3], shards=2, jobs=2, log=lambda _: None)
    assert summary["pairs"] == 65536 and summary["mismatches"] == 0


class FlagsOffByOne(FloatMultiplierModel):
    def expected(self, inputs):
        out = super().expected(inputs)
        out["flags"] = out["flags"] ^ (inputs["b"] == 0x38).astype(out["flags"].dtype)
        return out


@pytest.mark.parametrize("overrides", [{}, {"stages": 4}], ids=["combinational", "stages-4"])
def test_a_wrong_golden_is_caught(monkeypatch, overrides):
    monkeypatch.setitem(runner.MODELS, "FloatMultiplier", FlagsOffByOne)
    pairs, mismatches, failures = check_shard("e4m3_mul", overrides, [0], 1, 4)
    assert pairs == 64 * 256 and mismatches == 64          # one b per a in the shard
    rows = failures.read_text().splitlines()
    assert len(rows) == 64 and all("b=0x38" in row and "rm=0" in row for row in rows)
