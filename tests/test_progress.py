"""Feedback on long work: the progress lines, the count shared between
processes, the one-line tool errors and the guard that stops a tool's
processes on an interrupt."""

import io
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from nnarith import progress
from nnarith.errors import ToolError, children_stopped_on_interrupt, log_reason
from nnarith.hw.catalogue import build
from nnarith.hw.synth import NO_LATCHES, lint_verilog, synthesize
from nnarith.progress import CountFile, Progress, duration
from nnarith.sim.gemm import simulate_gemm


def test_durations_read_like_a_clock():
    assert [duration(s) for s in (0, 42, 61, 3723)] == ["0:00", "0:42", "1:01", "1:02:03"]


def test_plain_lines_in_a_log(monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL", 0.0)       # a line on every count
    log = io.StringIO()
    with Progress("sim fp16_mul", 40_000, "vectors", stream=log) as bar:
        bar.step("building for icarus")
        bar.step("simulating")
        bar.update_to(12_000)
        time.sleep(0.05)
        bar.update_to(24_000)
    lines = log.getvalue().splitlines()
    assert lines[0] == "sim fp16_mul: 0/40,000 vectors, 0 %, building for icarus, 0:00 elapsed"
    assert lines[-2].startswith("sim fp16_mul: 24,000/40,000 vectors, 60 %, simulating, ETA 0:")
    assert lines[-1] == "sim fp16_mul: 24,000/40,000 vectors, done in 0:00"


def test_steps_show_elapsed_time_and_a_failure_says_stopped():
    log = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with Progress("synth int8_mul", 9, "steps", eta=False, stream=log) as bar:
            bar.step("yosys generic")
            bar.advance()
            bar.step("yosys ice40")
            raise KeyboardInterrupt
    assert log.getvalue().splitlines() == [
        "synth int8_mul: 0/9 steps, yosys generic, 0:00 elapsed",
        "synth int8_mul: 1/9 steps, yosys ice40, 0:00 elapsed",
        "synth int8_mul: 1/9 steps, stopped after 0:00"]


def test_silent_when_disabled():
    log = io.StringIO()
    with Progress("report", 3, "units", enabled=False, stream=log) as bar:
        bar.step("int8_mul")
        bar.advance(3)
    assert log.getvalue() == ""


def test_a_count_from_another_process_is_followed(tmp_path):
    counter = CountFile(tmp_path / "progress")
    assert counter.read() is None
    counter.write(5, final=True)
    counter.write(6)                    # within the interval: not written
    assert counter.read() == 5
    log = io.StringIO()
    with Progress("sim x", 10, "vectors", stream=log) as bar:
        bar.follow(counter.read)
        counter.write(10, final=True)
    assert log.getvalue().splitlines()[-1] == "sim x: 10/10 vectors, done in 0:00"


def test_a_tool_error_is_one_line_with_its_log(tmp_path):
    log = tmp_path / "lint.log"
    log.write_text("6. Executing CHECK pass (checking for obvious problems).\n"
                   "Warning: found logic loop in module bad:\n"
                   "    cell $xor\n"
                   "ERROR: Found 1 problems in 'check -assert'.\n")
    error = ToolError("yosys lint", 1, log, log_reason(log))
    assert str(error) == ("yosys lint failed (exit 1): Found 1 problems in 'check -assert'. "
                          f"(found logic loop in module bad); log: {log}")
    assert error.tool == "yosys lint" and error.returncode == 1 and error.log_path == log
    assert log_reason(tmp_path / "missing.log") is None


def _running(pid):
    """Alive and not a zombie, after a moment to die in."""
    for _ in range(50):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except FileNotFoundError:
            return False
        time.sleep(0.1)
    return True


def test_an_interrupt_stops_the_processes_started_inside():
    with pytest.raises(KeyboardInterrupt):
        with children_stopped_on_interrupt():
            # A shell with a child of its own: both must go, not only the direct child.
            shell = subprocess.Popen(["sh", "-c", "sleep 60 & wait"])
            time.sleep(0.3)
            sleeper = int(subprocess.run(["pgrep", "-P", str(shell.pid)], capture_output=True,
                                         text=True).stdout.split()[0])
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)                       # the handler raises inside the sleep
    assert shell.wait(timeout=5) == -signal.SIGTERM
    assert not _running(sleeper)



def test_synthesis_reports_each_tool_run_and_fails_in_one_line(capfd):
    synthesize(build("int8_mul"), "int8_mul", Path("build", "test-progress", "int8_mul"),
               targets=("generic",))
    lines = capfd.readouterr().err.splitlines()
    assert lines[0] == "synth int8_mul: 0/1 steps, yosys generic, 0:00 elapsed"
    assert lines[-1].startswith("synth int8_mul: 1/1 steps, done in ")

    workdir = Path("build", "test-progress", "latch")
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "bad.v").write_text("module bad(input e, input d, output reg q);\n"
                                   "  always @* if (e) q = d;\nendmodule\n")
    with pytest.raises(ToolError) as caught:
        lint_verilog("bad", workdir)
    selection = NO_LATCHES.removeprefix("select -assert-none ")
    assert str(caught.value) == (f"yosys lint failed (exit 1): Assertion failed: selection is "
                                 f"not empty: {selection}; log: {workdir / 'lint.log'}")


def test_a_gemm_reports_its_tiles(capfd):
    result = simulate_gemm("mma_int8", (4, 8, 4), seed=3, tag="progress-gemm")
    assert result.ok
    assert "sim mma_int8 GEMM 4x8x4: 2/2 tiles, done in " in capfd.readouterr().err


def test_bad_input_leaves_the_one_line_to_its_error():
    """A ValueError (bad input, reported by the caller in one line) closes the
    bar without a "stopped after" line of its own."""
    log = io.StringIO()
    with pytest.raises(ValueError):
        with Progress("sweep: exporting", 3, "points", stream=log):
            raise ValueError("split: int8_mul exports one module")
    assert "stopped after" not in log.getvalue()
