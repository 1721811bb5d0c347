"""The command line under bad and hostile input: one line on stderr, the right
exit status, no traceback, no partial file. Exit status: 0 success, 1 failed
check / failing tool / filesystem, 2 bad usage, 130 Ctrl-C, 141 closed pipe."""

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnarith.errors import descendants

NNARITH = [sys.executable, "-m", "nnarith.cli"]


def nnarith(*args, cwd=None, env=None, timeout=300):
    return subprocess.run([*NNARITH, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)


def assert_one_line(result, code, *words):
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("nnarith: "), lines[0]
    for word in words:
        assert word in lines[0], (word, lines[0])


def files_under(path):
    return sorted(p.relative_to(path) for p in Path(path).rglob("*") if p.is_file())


@pytest.mark.parametrize("args, code, words", [
    (["verilog", "no_such_preset", "-o", "{out}"], 2, ["preset", "no_such_preset"]),
    (["verilog", "int8_mul", "-p", "stages", "-o", "{out}"], 2, ["-p", "KEY=VALUE"]),
    (["verilog", "int8_mul", "-p", "warp=9", "-o", "{out}"], 2, ["warp", "unknown parameter"]),
    (["verilog", "int8_mul", "-o", "{out}", "--top", "../escape"], 2, ["top", "../escape"]),
    (["verilog", "int8_mul", "-o", "{out}", "--top", "1abc"], 2, ["top", "1abc"]),
    (["verilog", "int8_mul", "-o", "{out}", "--top", "module"], 2, ["top", "module"]),
    (["verilog", "int8_mul", "-o", "{out}", "--top", "a b"], 2, ["top"]),
    (["verilog", "int8_mul"], 2, ["-o"]),
    (["frobnicate"], 2, ["frobnicate"]),
    (["sim", "int8_mul", "--vectors", "many"], 2, ["--vectors", "many"]),
    (["sim", "int8_mul", "--vectors", str(10 ** 12)], 2, ["vectors", "100,000,000"]),
    (["sim", "int8_mul", "--seed", "-5"], 2, ["seed", "-5"]),
    (["sim", "int8_mul", "--sim", "modelsim"], 2, ["modelsim"]),
    (["sim", "mma_fp16", "--gemm", "100000x100000x100000"], 2, ["gemm", "M*K*N"]),
    (["sim", "mma_fp16", "--gemm", "4x0x4"], 2, ["gemm"]),
    (["sim", "int8_mul", "--gemm", "4x4x4"], 2, ["MMA"]),
    (["verilog", "int8_mul", "-p", f"a_width={10 ** 30}", "-o", "{out}"], 2, ["a_width"]),
    (["verilog", "fp16_mul", "-p", f"stages={2 ** 64}", "-o", "{out}"], 2, ["stages"]),
    (["verilog", "fp16_mul", "-p", "target_mhz=100000", "-o", "{out}"], 2, ["target_mhz"]),
    (["synth", "int8_mul", "--target", "asic", "-o", "{out}"], 2, ["asic", "--liberty"]),
    (["synth", "int8_mul", "--target", "asic", "--liberty", "{out}/none.lib", "-o", "{out}"], 2,
     ["liberty", "none.lib"]),
    (["report", "int8_mul", "no_such_preset", "-o", "{out}"], 2, ["preset", "no_such_preset"]),
    (["report", "int8_mul", "--scheduler", "localhost", "-o", "{out}"], 2,
     ["--scheduler", "tcp://HOST:PORT"]),
])
def test_bad_usage_is_one_line_and_writes_nothing(tmp_path, args, code, words):
    out = tmp_path / "out"
    result = nnarith(*(a.format(out=out) for a in args))
    assert_one_line(result, code, *words)
    assert not out.exists() or files_under(out) == []


def test_output_path_that_is_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("keep me")
    assert_one_line(nnarith("verilog", "int8_mul", "-o", blocker), 2, str(blocker), "not a directory")
    assert_one_line(nnarith("verilog", "int8_mul", "-o", blocker / "sub"), 2, "not a directory")
    assert blocker.read_text() == "keep me"


def test_filesystem_refusal_leaves_no_partial_file(tmp_path):
    # The Verilog's own name is taken by a directory: the write fails after the
    # work; the one line names the path and nothing half-written is left.
    out = tmp_path / "out"
    (out / "int8_mul.v").mkdir(parents=True)
    result = nnarith("verilog", "int8_mul", "-o", out)
    assert_one_line(result, 1, "int8_mul.v")
    assert files_under(out) == []


def test_failing_tool_names_it_and_its_log(tmp_path):
    liberty = tmp_path / "broken.lib"
    liberty.write_text("library (broken) { cell (x) { area : ; } \n")
    out = Path("build/test_cli") / tmp_path.name    # yowasp tools cannot see /tmp
    result = nnarith("synth", "int8_mul", "--target", "asic", "--liberty", liberty.resolve(),
                     "--no-fmax", "-q", "-o", out)
    assert_one_line(result, 1, "yosys", "log")
    log = result.stderr.rsplit("log: ", 1)[1].strip()
    assert Path(log).is_file(), log


def test_closed_pipe_is_quiet():
    read_end, write_end = os.pipe()
    # A one-page pipe: the catalogue (~47 kB) cannot fit before the reader
    # closes it, whatever the scheduling, so the write really meets EPIPE.
    fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, 4096)
    reader = subprocess.Popen([*NNARITH, "list", "--json"], stdout=write_end,
                              stderr=subprocess.PIPE)
    os.close(write_end)
    assert len(os.read(read_end, 10)) > 0
    os.close(read_end)                     # like `nnarith list --json | head -c 10`
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 141
    assert stderr == ""


def test_debug_shows_the_traceback(tmp_path):
    result = nnarith("--debug", "verilog", "int8_mul", "-p", "a_width=0", "-o", tmp_path)
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "a_width" in result.stderr.splitlines()[-1]


def test_version():
    import nnarith as package
    result = nnarith("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"nnarith {package.__version__}"


def test_ctrl_c_stops_the_simulator_and_exits_130(tmp_path):
    env = {**os.environ, "NNARITH_BUILD": str(tmp_path / "build")}
    run = subprocess.Popen([*NNARITH, "sim", "fp16_mul", "--vectors", "5000000", "-q"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 240
    simulator = []
    while time.monotonic() < deadline and not simulator:
        time.sleep(0.5)
        simulator = [pid for pid in descendants(run.pid)
                     if Path(f"/proc/{pid}/comm").read_text().strip() in ("vvp", "iverilog")]
        assert run.poll() is None, run.communicate()
    assert simulator, "the simulator never started"
    time.sleep(1.0)
    run.send_signal(signal.SIGINT)         # only nnarith: it must take its children along
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 130, stderr
    assert stderr.strip().splitlines() == ["nnarith: interrupted"], stderr
    time.sleep(0.5)
    alive = [pid for pid in simulator if Path(f"/proc/{pid}").exists()
             and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]]
    assert alive == [], alive
