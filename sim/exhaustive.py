"""Exhaustive batch check of a two-operand unit: every (a, b) pair.

cocotb cannot stream 2**32 vectors, so this harness compiles the exported
Verilog with Verilator and a generated C++ driver that, for each ``a`` of its
shard, evaluates every ``b`` and writes the output ports as one binary row to
a pipe. A pipelined unit (``stages`` > 0) takes one ``b`` per clock with
``in_valid`` high; the driver clocks ``latency - 1`` more cycles to drain the
row, and stops with an error if ``out_valid`` is ever low where a result is
due. Python computes the same row with the family's golden bench model
(vectorized) and compares them. Shards (``--shard I/N``) split the ``a``
range, so the same command spreads over cores, machines or a batch
scheduler; :func:`run_parallel` runs N shards on this machine. Each shard
counts the pairs it has checked in a small file; the progress report on
stderr adds them up.

    python -m nnarith.sim.exhaustive fp16_mul --rm 0 --shards 2
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from amaranth.hdl import Shape
from amaranth.lib.wiring import In

from ..errors import ToolError, children_stopped_on_interrupt, log_reason
from ..hw.cache import BUILD_ROOT, file_lock
from ..hw.catalogue import build
from ..hw.export import export
from ..progress import CountFile, Progress

from .runner import MODELS, simulator_env

__all__ = ["MAX_PAIRS", "build_driver", "check_shard", "check_unit", "fixed_ports", "run_parallel"]

_CTYPE = [(8, "uint8_t"), (16, "uint16_t"), (32, "uint32_t"), (64, "uint64_t")]


def _ctype(width):
    return next((bits, name) for bits, name in _CTYPE if width <= bits)


def _driver_source(manifest, sweep, fixed):
    """C++ that sweeps ``sweep = (outer, inner)`` ports and streams every output row."""
    outer, inner = sweep
    latency = manifest["latency"]
    widths = {p["name"]: p["width"] for p in manifest["ports"]}
    outputs = _outputs(manifest)
    lines = [
        '#include "Vtop.h"', '#include "verilated.h"',
        "#include <cstdint>", "#include <cstdio>", "#include <cstdlib>", "#include <vector>",
        "int main(int argc, char** argv) {",
        "    VerilatedContext context;",
        "    Vtop top{&context};",
        "    const uint64_t first = strtoull(argv[1], nullptr, 0);",
        "    const uint64_t last = strtoull(argv[2], nullptr, 0);",
    ]
    for i, name in enumerate(fixed):
        lines.append(f"    top.{name} = strtoull(argv[{3 + i}], nullptr, 0);")
    count = 1 << widths[inner]
    lines.append(f"    const uint64_t count = {count}ULL;")
    for port in outputs:
        bits, ctype = _ctype(widths[port])
        lines.append(f"    std::vector<{ctype}> out_{port}(count);")
    if latency:
        # Reset clears the valid pipeline; then one vector per rising edge.
        lines += ["    auto tick = [&]() { top.clk = 0; top.eval(); top.clk = 1; top.eval(); };",
                  "    top.rst = 1; tick(); tick(); top.rst = 0;",
                  "    top.in_valid = 1;"]
    lines += ["    for (uint64_t x = first; x < last; ++x) {",
              f"        top.{outer} = x;"]
    if latency:
        # After the edge that takes vector y the output shows vector y - (latency - 1).
        lines += [
            f"        for (uint64_t y = 0; y < count + {latency - 1}; ++y) {{",
            f"            top.{inner} = y < count ? y : count - 1;",
            "            tick();",
            f"            if (y < {latency - 1}) continue;",
            f"            const uint64_t at = y - {latency - 1};",
            "            if (!top.out_valid) {",
            f'                fprintf(stderr, "out_valid low for {outer}=%#llx {inner}=%#llx\\n",',
            "                        (unsigned long long)x, (unsigned long long)at);",
            "                return 3;",
            "            }",
        ]
    else:
        lines += ["        for (uint64_t y = 0; y < count; ++y) {",
                  f"            top.{inner} = y;",
                  "            top.eval();",
                  "            const uint64_t at = y;"]
    for port in outputs:
        lines.append(f"            out_{port}[at] = top.{port};")
    lines.append("        }")
    for port in outputs:
        bits, ctype = _ctype(widths[port])
        lines.append(f"        fwrite(out_{port}.data(), sizeof({ctype}), count, stdout);")
    lines += ["    }", "    fflush(stdout);", "    top.final();", "    return 0;", "}"]
    return "\n".join(lines) + "\n"


def _outputs(manifest):
    """The result ports (out_valid is the driver's to check, not the golden's)."""
    valid = (manifest["valid"] or {}).get("out")
    return [p["name"] for p in manifest["ports"] if p["dir"] == "out" and p["name"] != valid]


def _workdir(preset, overrides):
    tag = "-".join([preset] + [f"{k}{v}" for k, v in sorted((overrides or {}).items())])
    return (BUILD_ROOT / "exhaustive" / tag).resolve()


def _shard_name(fixed_values, shard, shards):
    return f"{'-'.join(map(str, fixed_values))}-{shard}of{shards}"


#: The most (a, b) pairs the harness takes on: 2**32 run in hours on a few cores.
MAX_PAIRS = 2 ** 32


def fixed_ports(ports):
    """The inputs held at one value through a run: ``rm`` where ``ports`` (port
    names: a unit's signature, or a manifest's port list) has it."""
    return tuple(name for name in ("rm",) if name in ports)


def check_unit(unit, preset, sweep=("a", "b"), fixed=("rm",)):
    """Raise ``ValueError`` unless the harness can drive ``unit``: no
    backpressure, inputs ``sweep`` and ``fixed`` only, outputs of at most 64
    bits, at most :data:`MAX_PAIRS` pairs."""
    if unit.HANDSHAKE:
        raise ValueError(f"{preset}: the exhaustive harness drives units without backpressure")
    ports = {name: Shape.cast(member.shape).width
             for name, member in unit.signature.members.items()}
    inputs = {name for name, member in unit.signature.members.items() if member.flow == In}
    others = sorted(inputs - set(sweep) - set(fixed) - {"in_valid"})
    if any(name not in inputs for name in (*sweep, *fixed)) or others:
        raise ValueError(f"{preset}: the exhaustive harness sweeps inputs {' and '.join(sweep)}"
                         f"{' with ' + ', '.join(fixed) + ' fixed' if fixed else ''}; "
                         f"the unit's inputs are {', '.join(sorted(inputs))}")
    wide = [name for name in ports if name not in inputs and ports[name] > 64]
    if wide:
        raise ValueError(f"{preset}: the exhaustive harness reads outputs of at most 64 bits, "
                         f"{wide[0]} has {ports[wide[0]]}")
    pairs = 1 << sum(ports[name] for name in sweep)
    if pairs > MAX_PAIRS:
        raise ValueError(f"{preset}: {' x '.join(sweep)} span {pairs:.3g} pairs; the exhaustive "
                         f"harness takes at most 2**{MAX_PAIRS.bit_length() - 1}")


def build_driver(unit, preset, overrides, sweep=("a", "b"), fixed=("rm",)):
    """Export ``unit`` (preset ``preset`` with ``overrides``) and compile it
    with its sweep driver; return (binary, manifest). Raises
    :class:`~nnarith.errors.ToolError` when Verilator fails."""
    check_unit(unit, preset, sweep, fixed)
    workdir = _workdir(preset, overrides)
    workdir.mkdir(parents=True, exist_ok=True)
    # Shards and parallel test workers share the build: one compiles, the others wait.
    with file_lock(workdir / ".lock"):
        exported = export(unit, "top", workdir, preset=preset)
        v_path, manifest = exported.verilog, json.loads(exported.manifest.read_text())
        driver, source = workdir / "driver.cpp", _driver_source(manifest, sweep, fixed)
        if not driver.exists() or driver.read_text() != source:
            driver.write_text(source)
        # verilated.mk's own -Os: the harness runs for hours, its build time hardly counts.
        env = {**os.environ, **simulator_env("verilator", cxx_opt=None)}
        binary = workdir / "obj" / "sweep"
        newest = max(v_path.stat().st_mtime, driver.stat().st_mtime)
        if not binary.exists() or binary.stat().st_mtime < newest:
            log_path = workdir / "build.log"
            with open(log_path, "w") as log, children_stopped_on_interrupt():
                result = subprocess.run(
                    ["verilator", "--cc", "--exe", "--build", "-O3", "-Wno-fatal",
                     "--top-module", "top", "-Mdir", str(workdir / "obj"), "-o", "sweep",
                     str(v_path), str(workdir / "driver.cpp")],
                    env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
            if result.returncode:
                raise ToolError("verilator build", result.returncode, log_path,
                                log_reason(log_path))
    return binary, manifest


def check_shard(preset, overrides, fixed_values, shard, shards, sweep=("a", "b"),
                fixed=("rm",), *, progress=True):
    """Check every ``b`` for each ``a`` in shard ``shard`` of ``shards`` (0-based).

    The pairs checked so far are counted in ``progress-<shard>`` beside the
    build and, with ``progress``, reported on stderr. Returns
    ``(pairs_checked, mismatches, failures_path)``.
    """
    outer, inner = sweep
    unit = build(preset, overrides)
    first, last, count = _shard_range(unit, sweep, shard, shards)
    with Progress(f"exhaustive {preset} shard {shard + 1}/{shards}", (last - first) * count,
                  "pairs", enabled=progress) as bar:
        bar.step("compiling with verilator")
        binary, manifest = build_driver(unit, preset, overrides, sweep, fixed)
        bar.step("checking")
        widths = {p["name"]: p["width"] for p in manifest["ports"]}
        outputs = _outputs(manifest)
        model = MODELS[type(unit).__name__](unit)
        dtypes = {n: np.dtype(f"<u{_ctype(widths[n])[0] // 8}") for n in outputs}
        row_bytes = sum(dtypes[n].itemsize * count for n in outputs)
        inner_values = np.arange(count, dtype=np.uint64)
        fixed_inputs = {n: np.full(count, v, dtype=np.uint64) for n, v in zip(fixed, fixed_values)}

        name = _shard_name(fixed_values, shard, shards)
        failures_path = binary.parent.parent / f"failures-{name}.csv"
        failures_path.unlink(missing_ok=True)
        counter = CountFile(binary.parent.parent / f"progress-{name}")
        mismatches = 0
        with children_stopped_on_interrupt():
            process = subprocess.Popen(
                [str(binary), str(first), str(last), *map(str, fixed_values)],
                stdout=subprocess.PIPE, bufsize=row_bytes)
            try:
                for x in range(first, last):
                    row = process.stdout.read(row_bytes)
                    if len(row) != row_bytes:
                        process.wait()
                        raise RuntimeError(f"{binary} stopped at {outer}={x:#x} "
                                           f"(exit {process.returncode})")
                    inputs = {outer: np.full(count, x, dtype=np.uint64), inner: inner_values,
                              **fixed_inputs}
                    expected, got, bad = _compare_row(model, inputs, row, dtypes)
                    if bad.any():
                        mismatches += int(bad.sum())
                        _write_failures(failures_path, np.nonzero(bad)[0][:100], sweep, x,
                                        dict(zip(fixed, fixed_values)), expected, got)
                    done = (x + 1 - first) * count
                    counter.write(done, final=x + 1 == last)
                    bar.update_to(done)
            except BaseException:
                process.kill()      # a sweep left running would block on its full pipe
                process.wait()
                raise
        if process.wait():
            raise RuntimeError(f"{binary} exited with {process.returncode}")
    return (last - first) * count, mismatches, failures_path if mismatches else None


def _compare_row(model, inputs, row, dtypes):
    """The golden's outputs for ``inputs``, the sweep's (``row``: each output
    port's values in turn, as ``dtypes`` says) and where they differ."""
    expected = model.expected(inputs)
    count = len(next(iter(inputs.values())))
    offset, bad, got = 0, np.zeros(count, dtype=bool), {}
    for port, dtype in dtypes.items():
        got[port] = np.frombuffer(row, dtype=dtype, count=count, offset=offset)
        offset += dtype.itemsize * count
        bad |= got[port].astype(np.uint64) != np.asarray(expected[port], dtype=np.uint64)
    return expected, got, bad


def _shard_range(unit, sweep, shard, shards):
    """``(first, last, count)``: shard ``shard``'s range of outer values, and
    the inner values per outer one."""
    outer, inner = (Shape.cast(unit.signature.members[name].shape).width for name in sweep)
    return (1 << outer) * shard // shards, (1 << outer) * (shard + 1) // shards, 1 << inner


def _write_failures(path, indices, sweep, x, fixed, expected, got):
    outer, inner = sweep
    with open(path, "a") as f:
        for i in indices:
            f.write(",".join([f"{outer}={x:#x}", f"{inner}={i:#x}",
                              *(f"{n}={v}" for n, v in fixed.items()),
                              *(f"expected_{n}={int(expected[n][i]):#x}" for n in got),
                              *(f"got_{n}={int(got[n][i]):#x}" for n in got)]) + "\n")


def run_parallel(preset, overrides, fixed_values, shards, jobs, log=print, *, progress=True):
    """Run ``shards`` shards, ``jobs`` at a time on this machine; return a
    summary dict. ``progress``: report the pairs checked over all shards on
    stderr."""
    unit = build(preset, overrides)
    _, rows, count = _shard_range(unit, ("a", "b"), 0, 1)
    workdir = _workdir(preset, overrides)
    counters = [CountFile(workdir / f"progress-{_shard_name(fixed_values, i, shards)}")
                for i in range(shards)]
    for counter in counters:
        counter.clear()
    with Progress(f"exhaustive {preset}", rows * count, "pairs", enabled=progress) as bar:
        bar.step("compiling with verilator")
        build_driver(unit, preset, overrides)    # compile once before the shards start
        bar.step(f"checking in {shards} shards, {jobs} at a time")
        bar.follow(lambda: sum(counter.read() or 0 for counter in counters))
        start = time.perf_counter()
        with children_stopped_on_interrupt(), ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(check_shard, preset, overrides, fixed_values, i, shards,
                                   progress=False) for i in range(shards)]
            try:
                results = [future.result() for future in futures]
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)    # no new shards
                raise
        seconds = time.perf_counter() - start
    summary = {"preset": preset, "params": overrides, "fixed": list(fixed_values),
               "pairs": sum(r[0] for r in results), "mismatches": sum(r[1] for r in results),
               "failures": [str(r[2]) for r in results if r[2]], "seconds": round(seconds, 1)}
    log(json.dumps(summary))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description="Exhaustive (a, b) check against the golden model")
    parser.add_argument("preset")
    parser.add_argument("-p", "--param", action="append", metavar="KEY=VALUE")
    parser.add_argument("--rm", type=int, default=0, help="rounding mode (fixed input rm)")
    parser.add_argument("--shard", help="run only shard I/N (1-based), e.g. 2/8")
    parser.add_argument("--shards", type=int, default=2, help="shards to run here in parallel")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    from ..cli import parse_overrides
    overrides = parse_overrides(args.param)
    if args.shard:
        index, total = (int(v) for v in args.shard.split("/"))
        if not 1 <= index <= total:
            raise SystemExit(f"--shard: must be I/N with 1 <= I <= N, got {args.shard}")
        start = time.perf_counter()
        pairs, mismatches, failures = check_shard(args.preset, overrides, [args.rm], index - 1,
                                                  total, progress=not args.quiet)
        print(json.dumps({"preset": args.preset, "shard": args.shard, "rm": args.rm, "pairs": pairs,
                          "mismatches": mismatches, "failures": str(failures) if failures else None,
                          "seconds": round(time.perf_counter() - start, 1)}))
    else:
        summary = run_parallel(args.preset, overrides, [args.rm], args.shards, args.jobs,
                               progress=not args.quiet)
        mismatches = summary["mismatches"]
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
