"""What a failing simulation leaves behind, for real: a wrong golden
expectation is injected, the run fails, and the summary names the seed, the
failing vectors, a command line that reproduces the run, and a waveform of
the failing window, rerun alone. A simulator that cannot build the unit
raises the one-line ToolError."""

import shlex
import subprocess
import sys

import numpy as np
import pytest

import nnarith.sim.runner as runner
from nnarith.errors import ToolError
from nnarith.progress import Progress
from nnarith.sim.fixed import FixedMultiplierModel
from nnarith.sim.temporal import TemporalPEModel
from nnarith.sim.runner import run_cocotb, simulate


class WrongOnOnePair(FixedMultiplierModel):
    """Expects the wrong product for a = 0x7f, b = 0x80 only: a failure that
    depends on the data, like a real one, so that the window reproduces it."""

    def expected(self, inputs):
        out = super().expected(inputs)
        pick = (np.asarray(inputs["a"]) == 0x7F) & (np.asarray(inputs["b"]) == 0x80)
        out["y"] = np.where(pick, out["y"] ^ np.uint64(1), out["y"])
        return out


def test_a_mismatch_leaves_a_command_a_vector_file_and_a_waveform(monkeypatch, capfd):
    monkeypatch.setitem(runner.MODELS, "FixedMultiplier", WrongOnOnePair)
    result = simulate("int8_mul", {"stages": 2}, seed=3, tag="failure-window")
    assert not result.ok and result.mismatches == 1
    first = 0x7F * 256 + 0x80                       # the exhaustive sweep's order
    assert result.window == (first - 2 - runner.WINDOW_BEFORE, first + runner.WINDOW_AFTER)
    assert result.window_failures == 1
    assert result.waveform.suffix == ".fst" and result.waveform.stat().st_size > 0
    rows = open(result.failures).read().splitlines()
    assert rows[1].startswith(f"{first},0x7f,0x80,")
    assert result.command == ("nnarith sim int8_mul -p stages=2 --seed 3 --vectors "
                              f"{FixedMultiplierModel.default_count} --sim icarus --waves")
    text = result.summary()
    for line in ("seed 3", f"failing vectors: {result.failures}", f"reproduce: {result.command}",
                 f"waveform of vectors {first - 10}..{first + 23} (1 failures there when rerun "
                 f"alone): {result.waveform}"):
        assert line in text
    stderr = capfd.readouterr().err
    assert "sim int8_mul: 65,536/65,536 vectors, done in" in stderr
    assert "sim int8_mul failing window: 34/34 vectors, done in" in stderr

    # The command itself runs (with the true golden: it passes) and records the whole run.
    command = shlex.split(result.command)
    run = subprocess.run([sys.executable, "-m", "nnarith.cli", *command[1:], "--quiet"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "PASS int8_mul" in run.stdout and "waveform: " in run.stdout


class WrongResult30(TemporalPEModel):
    def expected(self, inputs):
        out = super().expected(inputs)
        out["acc"] = np.array(out["acc"], copy=True)
        out["acc"][30] ^= 1
        return out


def test_a_stream_unit_reruns_from_the_start_to_the_window(monkeypatch):
    monkeypatch.setitem(runner.MODELS, "TemporalPE", WrongResult30)
    result = simulate("temporal_pe", count=48, seed=5, tag="failure-window", progress=False)
    assert result.mismatches == 1 and result.command is not None
    assert result.window == (0, 30 + runner.WINDOW_AFTER) and result.window_failures == 1
    assert result.waveform.stat().st_size > 0


def test_vectors_from_the_caller_have_no_command_line(monkeypatch):
    monkeypatch.setitem(runner.MODELS, "FixedMultiplier", WrongOnOnePair)
    inputs = {"a": np.array([1, 0x7F, 3], dtype=np.uint64),
              "b": np.array([2, 0x80, 4], dtype=np.uint64)}
    result = simulate("int8_mul", inputs=inputs, tag="failure-window", progress=False)
    assert result.mismatches == 1 and result.command is None
    assert result.window == (0, 3) and "reproduce" not in result.summary()


def test_a_simulator_that_cannot_build_raises_one_line():
    workdir = runner.BUILD_ROOT.resolve() / "sim" / "failure-build"
    workdir.mkdir(parents=True, exist_ok=True)
    broken = workdir / "broken.v"
    broken.write_text("module broken(input a, output y);\n  assign y = ;\nendmodule\n")
    with pytest.raises(ToolError) as caught:
        run_cocotb("nnarith.sim.cocotb_stream", "broken", broken, workdir / "none.json", workdir,
                   "icarus", 1, {}, progress=Progress("", 1, "", enabled=False))
    error = caught.value
    assert error.tool == "icarus build" and error.returncode and error.log_path.exists()
    assert "\n" not in str(error) and str(error.log_path) in str(error)
