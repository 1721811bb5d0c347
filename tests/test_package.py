"""The distribution as a user gets it: one import package in the wheel, installed
into a fresh virtual environment outside the repository, CLI and API run from there."""

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import nnarith

ROOT = Path(__file__).resolve().parents[1]

# What a user does first: the API on a preset and on a unit family, the golden
# model on NumPy floats, and the Verilog of their own configuration.
API_SCRIPT = """
import sys
import numpy as np
import nnarith
from nnarith.golden import values
from nnarith.hw.float import FloatMultiplier

mul = nnarith.build("fp16_mul", stages=2, arch="booth")
assert mul.latency == 2, mul.latency
own = nnarith.build(FloatMultiplier, a_fmt="bf16", stages=1)
files = nnarith.export(own, sys.argv[1], top="my_bf16_mul")
text = files.verilog.read_text()
assert "module my_bf16_mul" in text, text[:400]
product = values.multiply(np.float16([1.5, -2.0]), np.float16([2.0, 0.25]))
assert product.dtype == np.float16 and product.tolist() == [3.0, -0.5], product
try:
    nnarith.build("fp16_mul", stages=-1)
except ValueError as error:
    assert "stages" in str(error), error
else:
    raise AssertionError("stages=-1 accepted")
assert not any(name.split(".")[0] in ("hw", "sim", "golden") for name in sys.modules)
print(nnarith.__version__)
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and, built from it as pip would, the wheel."""
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "-q", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    wheels = list(out.glob("nnarith-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_holds_only_nnarith_and_license(dist):
    names = zipfile.ZipFile(dist).namelist()
    tops = {name.split("/")[0] for name in names}
    info = f"nnarith-{nnarith.__version__}.dist-info"
    assert tops == {"nnarith", info}, tops
    assert f"{info}/licenses/LICENSE" in names
    assert "nnarith/py.typed" in names
    for package in ("golden", "hw", "sim"):
        assert f"nnarith/{package}/__init__.py" in names
    assert "BSD" in zipfile.ZipFile(dist).read(f"{info}/licenses/LICENSE").decode()


def test_fresh_venv_runs_cli_and_api(dist, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run([venv / "bin" / "python", "-m", "pip", "install", "-q", str(dist)],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr[-2000:]
    work = tmp_path / "work"               # neither the repository nor its folders on the path
    work.mkdir()

    def run(*args):
        return subprocess.run([*args], cwd=work, capture_output=True, text=True, timeout=600,
                              env={"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path)})

    version = run(venv / "bin" / "nnarith", "--version")
    assert version.returncode == 0 and version.stdout.strip() == f"nnarith {nnarith.__version__}"
    listed = run(venv / "bin" / "nnarith", "list", "--json")
    assert listed.returncode == 0 and '"fp16_mul"' in listed.stdout
    exported = run(venv / "bin" / "nnarith", "verilog", "int8_mul", "-p", "stages=2", "-o", "v")
    assert exported.returncode == 0, exported.stderr
    assert "module int8_mul" in (work / "v" / "int8_mul.v").read_text()
    bad = run(venv / "bin" / "nnarith", "verilog", "int8_mul", "-p", "stages=99", "-o", "v")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "stages" in bad.stderr
    api = run(venv / "bin" / "python", "-c", API_SCRIPT, "api_out")
    assert api.returncode == 0, api.stderr[-3000:]
    assert api.stdout.strip() == nnarith.__version__
    for stray in ("hw", "sim", "golden"):
        assert run(venv / "bin" / "python", "-c", f"import {stray}").returncode != 0


def test_hw_never_imports_sim():
    """hw is the generator; only the package top (CLI, API) wires hw and sim together."""
    for path in (ROOT / "hw").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                target = "." * node.level + (node.module or "")
                assert not (target.startswith("..sim") or target.startswith("nnarith.sim")), \
                    f"{path.name} imports {target}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("nnarith.sim") for a in node.names), path.name
