"""Formal equivalence of the Fusion Unit's dot product with Yosys ``$mul``
per mode word (hw.formal): in CI signed 8x8 (with adder and table bricks), unsigned 2x2
(16 pairs), an illegal code, and a wrong reference refuted in a plain and in a split proof
(a whole split proof takes minutes); every mode word under ``-m slow``
(``make formal``)."""

from pathlib import Path

import pytest

from nnarith.hw.formal import prove, reference_verilog, split_bits


def test_split_only_full_width_activations_with_several_pairs():
    split = {mode: split_bits(mode) for mode in range(64) if split_bits(mode)}
    # a at 8 bits (code 2) and w at 2 or 4 bits, every signedness.
    assert split == {code_b << 2 | 2 | signs << 4: 8 for code_b in (0, 1) for signs in range(4)}
    assert split_bits(0b000101, max_prec=16, min_prec=4) == 0      # 8 x 8 of a 16-bit unit
    assert split_bits(0b000010, max_prec=16, min_prec=4) == 8      # 16 x 4: 16 weight bits, 8 split


@pytest.mark.parametrize("mode, brick", [(0b111010, "adder"), (0b000000, "adder"),
                                         (0b111111, "adder"), (0b111010, "table")],
                         ids=["s8xs8", "u2xu2", "illegal", "s8xs8 table"])
def test_fusion_core_equals_mul(mode, brick):
    status, seconds = prove(mode, workdir="build/formal/ci", timeout=600, brick=brick)
    assert status == "proved", f"mode {mode}: {status} after {seconds:.0f} s"


def test_a_wrong_reference_is_caught(monkeypatch):
    import nnarith.hw.formal as formal
    # Claim unsigned operands for a signed mode: the proof must find a counterexample.
    monkeypatch.setattr(formal, "reference_verilog",
                        lambda name, mode, *rest: reference_verilog(name, mode & 0b1111, *rest))
    assert formal.prove(0b110000, workdir="build/formal/ci", timeout=240)[0] == "failed"


def test_a_wrong_reference_is_caught_in_a_split_proof(monkeypatch):
    import nnarith.hw.formal as formal
    monkeypatch.setattr(formal, "reference_verilog",
                        lambda name, mode, *rest: reference_verilog(name, mode & 0b1111, *rest))
    mode = 0b110110                                       # s8 x s4, split on 8 weight bits
    assert formal.prove(mode, workdir="build/formal/ci", timeout=600)[0] == "failed"
    # The first case with a nonzero weight already refutes it, and the log names it.
    log = Path("build/formal/ci/prove_8_2_54.log").read_text()
    assert "case w[7:0] = 1" in log and "model found: FAIL" in log


@pytest.mark.slow
@pytest.mark.parametrize("mode", range(64))
def test_every_mode_word(mode):
    status, seconds = prove(mode, workdir="build/formal/slow", timeout=3600)
    assert status == "proved", f"mode {mode}: {status} after {seconds:.0f} s"
