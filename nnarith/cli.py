"""``nnarith``: list the catalogue, export Verilog, simulate, synthesize.

Exit status: 0 success; 1 a failed check (a simulation mismatch), a failing
tool (which tool, and where its log is) or a file that cannot be written;
2 bad usage or a bad parameter (one line naming the parameter and its allowed
values); 130 interrupted (Ctrl-C); 141 the output pipe was closed. Errors are
one line on stderr; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
from pathlib import Path

from . import __version__, api
from .errors import ToolError, descendants, terminate
from .hw.catalogue import PRESETS, UNITS, get_preset
from .hw.params import parse_value

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_PIPE = 0, 1, 2, 130, 141


class UsageError(ValueError):
    """Bad command-line usage: exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line (and exits 2 as argparse does)."""

    def error(self, message):
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def parse_overrides(pairs: list[str] | None) -> dict:
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"-p: expected KEY=VALUE, got {pair!r}")
        overrides[key] = parse_value(value)
    return overrides


def _resolve(args) -> dict:
    """The preset's validated parameters, so that bad input fails before any work."""
    overrides = parse_overrides(args.param)
    get_preset(args.preset).resolve(overrides)
    return overrides


def _output_dir(path: str) -> Path:
    """``-o``: a directory that exists or can be made; refused before any work."""
    out = Path(path)
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"-o: {probe} is a file, not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"-o: {probe} is not writable")
    return out


def cmd_list(args) -> int:
    if args.json:
        print(json.dumps({
            "presets": [preset.describe() for preset in PRESETS.values()],
            "units": {name: [p.describe() for p in unit.PARAMS] for name, unit in UNITS.items()},
        }, indent=2))
        return EXIT_OK
    print("Presets:")
    for preset in PRESETS.values():
        params = " ".join(f"{k}={str(v).lower() if isinstance(v, bool) else v}"
                          for k, v in preset.params.items())
        print(f"  {preset.name:<14} {preset.unit.__name__:<16} {preset.doc}")
        if params:
            print(f"  {'':<12} {'':<18} {params}")
    for name, unit in UNITS.items():
        print(f"\n{name} parameters (-p KEY=VALUE):")
        for p in unit.PARAMS:
            default = str(p.default).lower() if isinstance(p.default, bool) else str(p.default)
            when = f" (only with {p.when})" if p.when else ""
            print(f"  {p.name:<12} default {default:<22} {p.allowed():<38} {p.doc}{when}")
    return EXIT_OK


def cmd_verilog(args) -> int:
    overrides = _resolve(args)
    out = _output_dir(args.output)
    for path in api.export(args.preset, out, top=args.top, params=overrides):
        if path is not None:
            print(path)
    return EXIT_OK


def cmd_sim(args) -> int:
    overrides = _resolve(args)
    if args.promote_every is not None and not args.gemm:
        raise UsageError("--promote-every: needs --gemm MxKxN")
    if args.gemm:
        result = api.simulate_gemm(args.preset, args.gemm, params=overrides, simulator=args.sim,
                                   seed=args.seed, promote_every=args.promote_every,
                                   progress=not args.quiet)
    else:
        result = api.simulate(args.preset, params=overrides, simulator=args.sim,
                              vectors=args.vectors, seed=args.seed, waves=args.waves,
                              progress=not args.quiet)
    print(result.summary())
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_synth(args) -> int:
    from .hw.synth import TARGETS
    overrides = _resolve(args)
    requested = args.target or ["all"]
    if "asic" in requested and not args.liberty:
        raise UsageError("--target asic needs --liberty PATH (a .lib file)")
    # "all" takes the asic target only where a liberty is given
    every = [target for target in TARGETS if target != "asic" or args.liberty]
    targets = list(dict.fromkeys(t for r in requested for t in (every if r == "all" else [r])))
    out = _output_dir(args.output)
    result = api.synthesize(args.preset, params=overrides, targets=targets, liberty=args.liberty,
                            fmax=not args.no_fmax, out_dir=out, progress=not args.quiet)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if isinstance(value, dict) and key != "params":
                print(f"{key:<12} " + ", ".join(f"{k}={v}" for k, v in value.items()))
    return EXIT_OK


def cmd_report(args) -> int:
    from .hw.report import synth_report
    for name in args.presets:
        get_preset(name)
    if args.liberty and not Path(args.liberty).is_file():
        raise UsageError(f"--liberty: no such file: {args.liberty}")
    _check_scheduler(args.scheduler)
    out = _output_dir(args.output)
    synth_report(out, liberty=args.liberty, presets=args.presets or None,
                 workers=args.workers, scheduler=args.scheduler, timeout=args.timeout,
                 progress=not args.quiet)
    print(out / "report.md")
    return EXIT_OK


def cmd_model(args) -> int:
    from . import model
    if args.liberty and not Path(args.liberty).is_file():
        raise UsageError(f"--liberty: no such file: {args.liberty}")
    out = _output_dir(args.output)
    rows = model.run(args.net, args.recipe, images=args.images, simulator=args.sim or "verilator",
                     rtl=not args.no_rtl, area=not args.no_area, liberty=args.liberty,
                     out=out, jobs=args.jobs, progress=not args.quiet)
    paths = model.write_report(rows, out)
    print(paths["json" if args.json else "md"].read_text(), end="")
    return EXIT_OK


def _values(pairs: list[str] | None) -> dict:
    """``-p KEY=VALUES`` of a sweep: the text of each key's values, once per key."""
    params = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"-p: expected KEY=VALUES (A..B or x,y,z), got {pair!r}")
        if key in params:
            raise UsageError(f"-p {key}: given twice (list its values once: {key}=x,y)")
        params[key] = value
    return params


def _integers(option: str, text: str | None) -> list[int] | None:
    """``--seeds``/``--rm``/``--modes`` values: integers separated by commas, or A..B."""
    if text is None:
        return None
    from .sweep import parse_values
    try:
        values = parse_values(option, text)
    except ValueError:
        values = None
    if not values or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise UsageError(f"--{option}: must be integers separated by commas, or A..B, "
                         f"got {text!r}")
    return values


def _check_scheduler(address: str | None):
    if address and not re.match(r"^(tcp|tls|ws|wss|inproc|ucx)://\S+$", address):
        raise UsageError(f"--scheduler: must be an address such as tcp://HOST:PORT, "
                         f"got {address!r}")


def cmd_sweep(args) -> int:
    from . import sweep
    if args.report:
        if args.presets or args.param or args.file or args.verilog:
            raise UsageError("--report: takes the database only (and -o)")
        paths = sweep.report(args.report, _output_dir(args.output or "build/sweep/report"))
        print(paths["md"])
        return EXIT_OK
    _check_scheduler(args.scheduler)
    options = {}
    if (args.top or args.include) and not args.verilog:
        raise UsageError(f"--{'top' if args.top else 'include'}: goes with --verilog FILE")
    if args.file:
        if args.presets or args.param or args.verilog:
            raise UsageError("--file: the file names the points (no presets, -p or --verilog "
                             "beside it)")
        points, options = sweep.load_file(args.file)
    else:
        if args.verilog and (args.presets or args.param):
            raise UsageError("--verilog: its --top modules are the points (no presets or -p "
                             "beside it)")
        settings = {"targets": args.target, "liberty": args.liberty,
                    "synth_options": args.synth_options, "split": args.split or None,
                    "seeds": _integers("seeds", args.seeds),
                    "vectors": args.vectors, "seed": args.seed, "simulator": args.sim,
                    "rm": _integers("rm", args.rm), "shards": args.shards,
                    "modes": _integers("modes", args.modes), "timeout": args.timeout}
        settings = {k: v for k, v in settings.items() if v is not None}
        points = (sweep.verilog_grid(args.top or [], args.verilog, args.include or [],
                                     args.job, settings) if args.verilog
                  else sweep.grid(args.presets, _values(args.param), args.job, settings))
    db = args.db or options.get("db") or "build/sweep/sweep.db"
    _output_dir(str(Path(db).parent))
    workers = args.workers if args.workers is not None else options.get("workers")
    counts = sweep.run(points, db, workers=workers,
                       scheduler=args.scheduler, retries=args.retries, progress=not args.quiet)
    print(f"sweep: {counts['tasks']} points ({counts['points']} asked), {counts['skipped']} "
          f"already in {db}, {counts['ran']} run: {counts['done']} done, "
          f"{counts['mismatch']} mismatch, {counts['failed']} failed")
    return EXIT_OK if counts["failed"] == counts["mismatch"] == 0 else EXIT_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="nnarith", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"nnarith {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def preset_args(p):
        p.add_argument("preset", help="catalogue name (see `nnarith list`)")
        p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                       help="override a unit parameter (int, true/false or string)")

    def quiet_arg(p):
        p.add_argument("-q", "--quiet", action="store_true", help="no progress output")

    p = sub.add_parser("list", help="print the catalogue: presets, parameters, ranges")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("verilog", help="write <top>.v, <top>.json and <top>.core")
    preset_args(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--top", help="Verilog module name (default: the preset name)")
    p.set_defaults(func=cmd_verilog)

    p = sub.add_parser("sim", help="simulate the exported Verilog against the golden model")
    preset_args(p)
    p.add_argument("--sim", choices=("icarus", "verilator"), default=None,
                   help="simulator (default: $SIM or icarus)")
    p.add_argument("--vectors", type=int, default=None,
                   help="random vectors beyond the corner cases (per rounding mode for float "
                        "units; default: the unit's own count, about a minute on Icarus)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--waves", action="store_true",
                   help="record an FST waveform of the whole run (a failure records its window)")
    p.add_argument("--gemm", metavar="MxKxN",
                   help="MMA presets: multiply random MxK and KxN matrices tile by tile "
                        "(C fed back along K) and compare D with the golden GEMM")
    p.add_argument("--promote-every", type=int, default=None, metavar="N",
                   help="with --gemm on a float MMA: restart the tensor-core sum every N "
                        "products and add each partial into an fp32 accumulator (one RNE "
                        "fp32 add, through nnarith's FMA), as FP8 training recipes do")
    quiet_arg(p)
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("synth", help="synthesize one preset and report area and Fmax")
    preset_args(p)
    p.add_argument("--target", action="append", default=None,
                   choices=("all", "generic", "asic", "ice40", "ecp5", "xilinx"),
                   help="repeatable; default all (asic only with --liberty)")
    p.add_argument("--liberty", help="liberty (.lib) for ASIC area (target asic)")
    p.add_argument("--no-fmax", action="store_true", help="skip nextpnr place and route")
    p.add_argument("--json", action="store_true")
    p.add_argument("-o", "--output", default="build/synth")
    quiet_arg(p)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("report", help="synthesize every preset into build/synth/report.{json,md}")
    p.add_argument("presets", nargs="*", help="presets (default: all)")
    p.add_argument("--liberty", help="liberty (.lib) for ASIC area")
    p.add_argument("-o", "--output", default="build/synth")
    p.add_argument("--workers", type=int, default=None,
                   help="local Dask worker processes (default: one per core); the points land "
                   "in <output>/synth.db, which a rerun reuses")
    p.add_argument("--scheduler", help="an existing Dask scheduler, tcp://HOST:PORT, instead")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds a point may run; then its tools stop and its row says so (a "
                   "rerun tries it again; default none)")
    quiet_arg(p)
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("sweep", help="design-space points as tasks on Dask, results in SQLite")
    p.add_argument("presets", nargs="*", help="presets to sweep (see `nnarith list`)")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUES",
                   help="a parameter's values: A..B (integers) or x,y,z (repeatable)")
    p.add_argument("--job", choices=["synth", "fmax", "sim", "exhaustive", "formal"],
                   default="synth")
    p.add_argument("--target", action="append", default=None,
                   choices=["generic", "asic", "ice40", "ecp5", "xilinx"],
                   help="synth: Yosys target (repeatable; default generic)")
    p.add_argument("--liberty", help="synth: liberty (.lib) for the asic target")
    p.add_argument("--synth-options", default=None,
                   help="synth: flags for Yosys's synth, e.g. -booth (Yosys's own Booth mapping)")
    p.add_argument("--split", action="store_true",
                   help="synth: a whole block from its parts, each distinct submodule "
                   "synthesized once, then stitched (generic and asic targets)")
    p.add_argument("--seeds", help="fmax: nextpnr placement seeds, e.g. 1,2,3 (default 1)")
    p.add_argument("--vectors", type=int, default=None, help="sim: vectors per point")
    p.add_argument("--seed", type=int, default=None, help="sim: random seed (default 1)")
    p.add_argument("--sim", choices=["icarus", "verilator"], default=None,
                   help="sim: simulator (default icarus)")
    p.add_argument("--rm", help="exhaustive: rounding modes, e.g. 0,2 (default 0)")
    p.add_argument("--shards", type=int, default=None,
                   help="exhaustive: points per rm, each a slice of the a range (default 1)")
    p.add_argument("--modes", help="formal: mode words, e.g. 0..63 or 5,21 (default all 64)")
    p.add_argument("--timeout", type=float, default=None,
                   help="synth, fmax, formal: seconds a point may run; then its tools stop and it "
                   "is a failed row that a rerun tries again (default none)")
    p.add_argument("--verilog", action="append", metavar="FILE",
                   help="hand-written Verilog (an anchor such as HardFloat) instead of presets: "
                   "the files Yosys reads (repeatable); synth and fmax jobs")
    p.add_argument("--include", action="append", metavar="DIR",
                   help="--verilog: a folder its `include files come from (repeatable)")
    p.add_argument("--top", action="append", metavar="TOP[=PRESET]",
                   help="--verilog: a top module to synthesize, and the preset the report "
                   "compares it with (repeatable)")
    p.add_argument("--file", help="a sweep file (TOML): [[points]] tables instead of presets")
    p.add_argument("--db", help="the SQLite results (default build/sweep/sweep.db)")
    p.add_argument("--workers", type=int, default=None,
                   help="local Dask worker processes (default: one per core)")
    p.add_argument("--scheduler", help="an existing Dask scheduler, tcp://HOST:PORT")
    p.add_argument("--retries", type=int, default=2, help="reruns of a failing task (default 2)")
    p.add_argument("--report", metavar="DB", help="write the report of a database and stop")
    p.add_argument("-o", "--output", default=None,
                   help="--report's folder (default build/sweep/report)")
    quiet_arg(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("model", help="a network on scikit-learn's digits in each precision, "
                       "through the RTL: accuracy, cycles, area, energy")
    p.add_argument("dataset", choices=["digits"])
    p.add_argument("--net", choices=["mlp", "cnn"], default="mlp")
    p.add_argument("--recipe", action="append", metavar="NAME",
                   help="a precision recipe (repeatable; 'all': every recipe; default: one of "
                   "each family and precision step)")
    p.add_argument("--images", type=int, default=None, help="the first N test images")
    p.add_argument("--sim", choices=["icarus", "verilator"], default=None,
                   help="simulator (default: verilator)")
    p.add_argument("--no-rtl", action="store_true", help="golden only, no Verilog")
    p.add_argument("--no-area", action="store_true",
                   help="no synthesis: the area columns stay empty")
    p.add_argument("--jobs", type=int, default=1, help="recipes run at once (default 1)")
    p.add_argument("--liberty", help="liberty (.lib) for ASIC area")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("-o", "--output", default="build/model")
    quiet_arg(p)
    p.set_defaults(func=cmd_model)
    return parser


def _stop_children() -> None:
    """Simulators and synthesis tools end with us, not after us."""
    terminate(descendants(os.getpid()))


def _interrupt(signum, frame):
    # Stop the children while they are still ours: once a child dies, its own
    # children (a simulator under make, say) are re-parented and out of reach.
    _stop_children()
    raise KeyboardInterrupt


def _fail(message: str, code: int) -> int:
    print(f"nnarith: error: {message}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    previous = signal.signal(signal.SIGINT, _interrupt)
    try:
        try:
            args = _parser().parse_args(argv)
            return args.func(args)
        except BaseException:
            if debug:
                import traceback
                traceback.print_exc()
            raise
        finally:
            signal.signal(signal.SIGINT, previous)
    except (UsageError, ValueError) as error:
        return _fail(str(error), EXIT_USAGE)
    except ToolError as error:
        return _fail(str(error), EXIT_FAILED)
    except BrokenPipeError:
        # `nnarith list | head`: the reader left; stay quiet like any Unix tool.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}", EXIT_FAILED)
    except KeyboardInterrupt:
        print("nnarith: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError:
        return _fail("out of memory (try fewer vectors or a smaller size)", EXIT_FAILED)
    except Exception as error:    # a bug of ours: still one line, the traceback with --debug
        return _fail(f"internal error: {type(error).__name__}: {error} "
                     f"(run with --debug for the traceback)", EXIT_FAILED)


def run() -> None:
    """Console entry point."""
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_PIPE
    sys.exit(code)


if __name__ == "__main__":
    run()
