"""The energy model: Horowitz's numbers, the power laws through them, the
SRAM tiers, a two-layer network worked out by hand, and the argument checks."""

import math

import pytest

from nnarith.energy import (ALPHA, BETA, SIGNIFICAND_BITS, SRAMS, TABLE, LayerWork, float_mult_pj,
                            formula, inference_energy, int_mult_pj, table_markdown)
from nnarith.golden.formats import FLOAT_FORMATS

EXACT = {"rel": 1e-12}


def work(**fields):
    """One int8 layer with no memory traffic, overridden by ``fields``."""
    base = {"layer": "fc", "mults": 1, "operands": "int", "a_bits": 8, "w_bits": 8,
            "accumulate": "int32", "weight_bits": 0, "input_bits": 0, "output_bits": 0}
    return LayerWork(**{**base, **fields})


def test_the_table_holds_the_figure():
    pj = {figure.name: figure.pj for figure in TABLE}
    assert pj == {"int8_add": 0.03, "int32_add": 0.1, "int8_mult": 0.2,
                  "int32_mult": 3.1, "fp16_add": 0.4, "fp32_add": 0.9, "fp16_mult": 1.1,
                  "fp32_mult": 3.7, "sram_8kb": 10.0, "sram_32kb": 20.0, "sram_1mb": 100.0,
                  "dram": 1300.0}
    assert [f.pj_high for f in TABLE if f.pj_high is not None] == [2600.0]
    assert all("Horowitz, ISSCC 2014, Fig. 1.1.9" in f.source for f in TABLE)
    lines = table_markdown().splitlines()
    assert lines[0] == "| name | pJ | what | source |" and len(lines) == len(TABLE) + 2
    assert "| dram | 1300-2600 |" in table_markdown()


def test_power_laws_go_through_the_table():
    assert int_mult_pj(8, 8) == pytest.approx(0.2, **EXACT)
    assert int_mult_pj(32, 32) == pytest.approx(3.1, **EXACT)
    assert float_mult_pj("fp16") == pytest.approx(1.1, **EXACT)
    assert float_mult_pj("fp32") == pytest.approx(3.7, **EXACT)
    assert ALPHA == pytest.approx(math.log(15.5) / math.log(4)) and 1.97 < ALPHA < 1.98
    assert BETA == pytest.approx(math.log(3.7 / 1.1) / math.log(24 / 11))
    # w = sqrt(n*m): 4 x 16 costs what 8 x 8 does
    assert int_mult_pj(4, 16) == pytest.approx(0.2, **EXACT)


def test_significands_are_the_formats_with_the_hidden_bit():
    assert SIGNIFICAND_BITS == {"fp16": 11, "bf16": 8, "tf32": 11, "fp32": 24, "e4m3": 4,
                                "e5m2": 3}
    assert set(SIGNIFICAND_BITS) == set(FLOAT_FORMATS)


def test_energy_grows_with_bits():
    assert int_mult_pj(2, 2) < int_mult_pj(4, 4) < int_mult_pj(8, 8)
    widths = range(1, 33)
    assert all(int_mult_pj(n, 8) < int_mult_pj(n + 1, 8) for n in widths[:-1])
    assert all(int_mult_pj(8, n) < int_mult_pj(8, n + 1) for n in widths[:-1])
    by_p = sorted(SIGNIFICAND_BITS, key=SIGNIFICAND_BITS.get)
    costs = [float_mult_pj(fmt) for fmt in by_p]
    assert costs == sorted(costs)
    assert float_mult_pj("tf32") == float_mult_pj("fp16")   # same 11-bit significand


def test_one_mac_per_recipe():
    def mac(**fields):
        return inference_energy([work(**fields)])["total"]

    assert mac() == pytest.approx(0.3)
    assert mac(a_bits=4, w_bits=4) == pytest.approx(0.2 / math.sqrt(15.5) + 0.1)
    assert mac(a_bits=2, w_bits=2) == pytest.approx(0.2 / 15.5 + 0.1)
    assert mac(operands="fp16", a_bits=16, w_bits=16, accumulate="fp32") == pytest.approx(2.0)
    assert mac(operands="fp32", a_bits=32, w_bits=32, accumulate="fp32") == pytest.approx(4.6)
    assert mac(operands="tf32", a_bits=19, w_bits=19, accumulate="fp32") == pytest.approx(2.0)
    assert mac(operands="bf16", a_bits=16, w_bits=16, accumulate="fp32") == pytest.approx(
        1.1 * (8 / 11) ** BETA + 0.9)
    assert mac(operands="e4m3", a_bits=8, w_bits=8, accumulate="fp32") == pytest.approx(
        1.1 * (4 / 11) ** BETA + 0.9)


def test_two_layers_by_hand():
    hidden = work(layer="hidden", mults=1000, weight_bits=8000, input_bits=640, output_bits=80,
                  requants=10)
    out = work(layer="out", mults=100, weight_bits=800, input_bits=80, output_bits=320)
    energy = inference_energy([hidden, out])
    # Weights: 8000 + 800 = 8800 bits <= 65536 (8 KB): 10 pJ per 64-bit access.
    assert energy["sram"] == "8 KB" and energy["weight_bits"] == 8800
    # hidden: 1000 x 0.2 = 200 multiply, 1000 x 0.1 = 100 accumulate, 10 x (3.1 + 2 x 0.1) = 33
    # requantize; accesses ceil(8000/64) + ceil(640/64) + ceil(80/64) = 125 + 10 + 2 = 137,
    # 1370 pJ.
    # out: 100 x 0.2 = 20, 100 x 0.1 = 10, no requantizer; accesses ceil(800/64) + ceil(80/64)
    # + ceil(320/64) = 13 + 2 + 5 = 20, 200 pJ.
    rows = {row["layer"]: row for row in energy["layers"]}
    assert rows["hidden"]["accesses"] == 137 and rows["out"]["accesses"] == 20
    assert rows["hidden"]["total"] == pytest.approx(200 + 100 + 33 + 1370)
    assert rows["out"]["total"] == pytest.approx(20 + 10 + 200)
    expected = {"multiply": 220, "accumulate": 110, "requantize": 33, "memory": 1570,
                "total": 1933}
    assert {part: energy[part] for part in expected} == pytest.approx(expected)
    assert [row["layer"] for row in energy["layers"]] == ["hidden", "out"]


@pytest.mark.parametrize("bits, sram", [
    (0, "8 KB"), (8 * 1024 * 8, "8 KB"), (8 * 1024 * 8 + 1, "32 KB"),
    (32 * 1024 * 8, "32 KB"), (32 * 1024 * 8 + 1, "1 MB"), (1024 * 1024 * 8, "1 MB"),
])
def test_the_smallest_sram_that_holds_the_weights(bits, sram):
    # split over two layers: the tier holds the whole network's weights
    energy = inference_energy([work(weight_bits=bits // 2), work(weight_bits=bits - bits // 2)])
    assert energy["sram"] == sram
    pj = {name: access for name, _, access in SRAMS}[sram]
    accesses = math.ceil(bits // 2 / 64) + math.ceil((bits - bits // 2) / 64)
    assert energy["memory"] == pytest.approx(accesses * pj)


def test_weights_beyond_one_megabyte_are_refused():
    with pytest.raises(ValueError, match=r"^works: .*1 MB.*DRAM"):
        inference_energy([work(weight_bits=1024 * 1024 * 8 + 1)])


def test_halving_the_multiplies_halves_their_energy():
    dense = inference_energy([work(mults=4096, weight_bits=4096 * 8)])
    sparse = inference_energy([work(mults=2048, weight_bits=4096 * 8)])
    assert sparse["multiply"] == pytest.approx(dense["multiply"] / 2, **EXACT)
    assert sparse["accumulate"] == pytest.approx(dense["accumulate"] / 2, **EXACT)
    assert sparse["memory"] == dense["memory"]


def test_formula_states_the_rules():
    text = formula()
    assert f"{ALPHA:.3f}" in text and f"{BETA:.3f}" in text
    assert all(f"{fmt} {p}" in text for fmt, p in SIGNIFICAND_BITS.items())
    for rule in ("sqrt(n*m)", "exponent adder ignored", "32x32", "ceil(W/64)", "8 KB 10 pJ",
                 "DRAM not used"):
        assert rule in text
    assert all(len(line) <= 100 for line in text.splitlines())


@pytest.mark.parametrize("field, value", [
    ("layer", ""), ("layer", 3),
    ("mults", -1), ("mults", float("nan")), ("mults", True),
    ("operands", "fp8"), ("operands", None), ("operands", ["int"]),
    ("a_bits", 0), ("a_bits", 33), ("a_bits", 8.0), ("w_bits", 0), ("w_bits", 33),
    ("accumulate", "int16"), ("accumulate", "fp16"), ("accumulate", None),
    ("weight_bits", -1), ("input_bits", -1), ("output_bits", "8"), ("requants", -1),
])
def test_bad_fields_are_refused_by_name(field, value):
    with pytest.raises(ValueError, match=rf"^{field}: "):
        work(**{field: value})


@pytest.mark.parametrize("field", ["a_bits", "w_bits"])
def test_float_operands_are_the_format_width(field):
    with pytest.raises(ValueError, match=rf"^{field}: must be 16 \(the width of fp16\), got int 8"):
        work(**{"operands": "fp16", "a_bits": 16, "w_bits": 16, "accumulate": "fp32",
                field: 8})
    assert work(operands="e4m3", a_bits=8, w_bits=8, accumulate="fp32").mult_pj < 0.3


@pytest.mark.parametrize("works", [[], (), "fc", [1], [work(), "fc"], None])
def test_works_must_be_layers(works):
    with pytest.raises(ValueError, match=r"^works: must be a non-empty sequence of LayerWork"):
        inference_energy(works)


def test_bad_widths_and_formats_are_refused_by_name():
    with pytest.raises(ValueError, match=r"^a_bits: must be an integer in 1\.\.32"):
        int_mult_pj(0, 8)
    with pytest.raises(ValueError, match=r"^w_bits: "):
        int_mult_pj(8, 64)
    with pytest.raises(ValueError, match=r"^fmt: must be one of .*e4m3"):
        float_mult_pj("fp8")
