"""``nnarith model digits``: the report's rows from a short run through the RTL,
the cached network, and one-line errors before anything runs."""

import json
import subprocess
import sys

import pytest


def nnarith(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "nnarith.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_model_report_through_the_rtl(tmp_path):
    # --no-area: a fresh machine's synthesis of the MMA element and the requantizer takes
    # minutes; the area rows are checked below with _area itself.
    out = tmp_path / "model"
    args = ["model", "digits", "--recipe", "fp32", "--recipe", "int8_sym_tensor_minmax",
            "--images", "6", "--sim", "icarus", "--no-area", "-q", "-o", str(out)]
    result = nnarith(*args, "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((out / "report.json").read_text())
    assert [r["recipe"] for r in rows] == ["fp32", "int8_sym_tensor_minmax"]
    fp32, int8 = rows
    assert fp32["agreement"] == 1 and fp32["rtl_equal"] is None and fp32["cells"] is None
    assert int8["rtl_equal"] is True and int8["rtl_calls"] == 3          # fc1, its requant, fc2
    assert int8["units"] == ["mma_int8", "requant"] and int8["cells"] is None
    # One tile per clock: fc1 and fc2 on a 4x4x4 unit, 64 requantized outputs per image.
    assert int8["cycles_per_inference"] >= int8["macs_per_inference"] / 64
    report = (out / "report.md").read_text()
    int8_line = next(line for line in report.splitlines() if line.startswith("| mlp | int8"))
    assert "| 4x4x4 MMA: 64 MACs/clk + requant: 1 output/clk | – |" in int8_line
    assert (out / "mlp.npz").is_file()                                   # the cached network
    # Energy: int8 MACs and bytes are cheaper than fp32's; the formula and its table beside.
    assert 0 < int8["energy_pj"] < fp32["energy_pj"]
    assert int8["energy"]["requantize"] > 0 == fp32["energy"]["requantize"]
    assert "Energy per inference (pJ)" in report and "Horowitz" in report
    assert int8["array"] == "4x4x4 MMA: 64 MACs/clk + requant: 1 output/clk"
    assert int8["cycles_per_inference"] == (int8["gemm_cycles_per_inference"]
                                            + int8["requant_cycles_per_inference"])
    png, svg = out / "pareto_mlp.png", out / "pareto_mlp.svg"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in svg.read_bytes()


@pytest.mark.parametrize("args, message", [
    (["--recipe", "int3"], "recipe: must be one of"),
    (["--images", "0"], "images: must be 1..360"),
    (["--images", "361"], "images: must be 1..360"),
    (["--liberty", "/nonexistent.lib"], "--liberty: no such file"),
    (["--jobs", "0"], "jobs: must be 1..64"),
    (["--recipe", "all", "--recipe", "fp32"], "recipe: must be one of"),
    (["--no-area", "--liberty", __file__], "liberty: gives µm² of the area"),
], ids=str)
def test_bad_model_arguments_exit_2_with_one_line(tmp_path, args, message):
    result = nnarith("model", "digits", *args, "-o", str(tmp_path / "m"))
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"nnarith: error: {message}"), lines[0]


def test_a_recipes_area_is_the_sum_of_its_units(tmp_path, monkeypatch):
    from nnarith import model
    areas = {"mma_int8": {"cells": 1600, "um2": 2000.0, "derived": True},
             "requant": {"cells": 300, "um2": 400.0, "derived": False}}
    asked = []

    def area(preset, overrides, out, liberty):
        asked.append((preset, liberty))
        return areas[preset]
    monkeypatch.setattr(model, "_area", area)
    args = dict(images=2, rtl=False, out=tmp_path, progress=False)
    fp32, int8 = model.run("mlp", ["fp32", "int8_sym_tensor_minmax"], liberty="x.lib", **args)
    assert asked == [("mma_int8", "x.lib"), ("requant", "x.lib")]
    assert (int8["cells"], int8["um2"], int8["area_derived"]) == (1900, 2400.0, True)
    assert (fp32["cells"], fp32["um2"], fp32["area_derived"]) == (None, None, False)
    assert "| 1,900 (derived) |" in model.write_report([int8], tmp_path)["md"].read_text()
    int8 = model.run("mlp", ["int8_sym_tensor_minmax"], area=False, **args)[0]
    assert (int8["cells"], int8["um2"], int8["area_derived"]) == (None, None, False)
    assert len(asked) == 2
    assert "+ requant: 1 output/clk | – |" in model.write_report([int8], tmp_path)["md"].read_text()


def test_a_units_area_is_synthesized_once_for_every_output_folder(tmp_path, monkeypatch):
    from nnarith import model
    from nnarith.hw import cache, synth
    monkeypatch.setattr(cache, "BUILD_ROOT", tmp_path / "build")
    synthesized = []
    real = synth.synthesize

    def counting(unit, top, *args, **kwargs):
        synthesized.append(top)
        return real(unit, top, *args, **kwargs)
    monkeypatch.setattr(synth, "synthesize", counting)
    first = model._area("int8_mul", {}, tmp_path / "one", None)
    assert model._area("int8_mul", {}, tmp_path / "two", None) == first
    assert synthesized == ["int8_mul"] and first["cells"] > 0 and not first["derived"]
    # One element x m*n (k = 1 keeps the element one product: the scaling is the point).
    block = model._area("mma_int8", {"k": 1}, tmp_path / "two", None)
    assert block["derived"] and block["cells"] % 16 == 0
    assert model._area("int8_mul", {"stages": 1}, tmp_path / "one", None) != first
    assert synthesized == ["int8_mul", "mma_int8", "int8_mul"]
