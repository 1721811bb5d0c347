"""The examples run as a user runs them, and succeed only if the RTL inside
them agrees with the golden model (each exits 1 on a mismatch)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.py"))


def test_every_example_is_listed():
    assert {path.stem for path in EXAMPLES} >= {"fp16_scaler", "mma_tile_engine", "golden_numpy"}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs(example, tmp_path):
    result = subprocess.run([sys.executable, str(example), str(tmp_path)], capture_output=True,
                            text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mismatches" in result.stdout or "error" in result.stdout
    if "Verilog" in result.stdout:
        assert list(tmp_path.glob("*.v")), result.stdout
