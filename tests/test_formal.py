"""Formal equivalence of the Fusion Unit's dot product with Yosys ``$mul``
per mode word (hw.formal): in CI signed 8x8, unsigned 2x2 (16 pairs) and an
illegal code; every mode word under ``-m slow`` (``make formal``)."""

import pytest

from hw.formal import prove, reference_verilog


@pytest.mark.parametrize("mode", [0b111010, 0b000000, 0b111111], ids=["s8xs8", "u2xu2", "illegal"])
def test_fusion_core_equals_mul(mode):
    status, seconds = prove(mode, workdir="build/formal/ci", timeout=240)
    assert status == "proved", f"mode {mode}: {status} after {seconds:.0f} s"


def test_a_wrong_reference_is_caught(monkeypatch):
    import hw.formal as formal
    # Claim unsigned operands for a signed mode: the proof must find a counterexample.
    monkeypatch.setattr(formal, "reference_verilog",
                        lambda name, mode, *rest: reference_verilog(name, mode & 0b1111, *rest))
    assert formal.prove(0b110000, workdir="build/formal/ci", timeout=240)[0] == "failed"


@pytest.mark.slow
@pytest.mark.parametrize("mode", range(64))
def test_every_mode_word(mode):
    status, seconds = prove(mode, workdir="build/formal/slow", timeout=1800)
    assert status == "proved", f"mode {mode}: {status} after {seconds:.0f} s"
