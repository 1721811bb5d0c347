"""``nnarith``: list the catalogue, export Verilog, simulate, synthesize.

Exit status: 0 success, 1 a failed check (simulation mismatch), 2 bad usage or
bad parameters (one line naming the parameter and its allowed values).
"""

import argparse
import json
import sys
from pathlib import Path

from .hw.catalogue import PRESETS, UNITS, get_preset

__all__ = ["main"]


def parse_value(text):
    """``-p`` values: int, bool (true/false) or string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text, 0)
    except ValueError:
        return text


def parse_overrides(pairs):
    overrides = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"-p: expected KEY=VALUE, got {pair!r}")
        overrides[key] = parse_value(value)
    return overrides


def _resolve(args):
    """The preset's validated parameters, so that bad input fails before any work."""
    overrides = parse_overrides(args.param)
    get_preset(args.preset).resolve(overrides)
    return overrides


def cmd_list(args):
    if args.json:
        print(json.dumps({
            "presets": [preset.describe() for preset in PRESETS.values()],
            "units": {name: [p.describe() for p in unit.PARAMS] for name, unit in UNITS.items()},
        }, indent=2))
        return 0
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
    return 0


def cmd_verilog(args):
    from .hw.export import export_preset
    overrides = _resolve(args)
    for path in export_preset(args.preset, args.output, overrides, args.top):
        print(path)
    return 0


def cmd_sim(args):
    overrides = _resolve(args)
    if args.gemm:
        from .sim.gemm import parse_shape, simulate_gemm
        result = simulate_gemm(args.preset, parse_shape(args.gemm), overrides,
                               simulator=args.sim, seed=args.seed)
    else:
        from .sim.runner import simulate
        result = simulate(args.preset, overrides, simulator=args.sim, count=args.vectors,
                          seed=args.seed)
    print(result.summary())
    return 0 if result.ok else 1


def cmd_synth(args):
    from .hw.catalogue import build
    from .hw.synth import TARGETS, synthesize
    overrides = _resolve(args)
    targets = TARGETS if "all" in args.target else args.target
    workdir = Path(args.output) / args.preset
    result = synthesize(build(args.preset, overrides), args.preset, workdir, targets=targets,
                        liberty=args.liberty, fmax=not args.no_fmax)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            if isinstance(value, dict) and key != "params":
                print(f"{key:<12} " + ", ".join(f"{k}={v}" for k, v in value.items()))
    return 0


def cmd_report(args):
    from .hw.report import synth_report
    synth_report(args.output, liberty=args.liberty, presets=args.presets or None)
    print(Path(args.output) / "report.md")
    return 0


def _parser():
    parser = argparse.ArgumentParser(prog="nnarith", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def preset_args(p):
        p.add_argument("preset", help="catalogue name (see `nnarith list`)")
        p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE",
                       help="override a unit parameter (int, true/false or string)")

    p = sub.add_parser("list", help="print the catalogue: presets, parameters, ranges")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("verilog", help="write <top>.v and <top>.json")
    preset_args(p)
    p.add_argument("-o", "--output", required=True, help="output directory")
    p.add_argument("--top", help="Verilog module name (default: the preset name)")
    p.set_defaults(func=cmd_verilog)

    p = sub.add_parser("sim", help="simulate the exported Verilog against the golden model")
    preset_args(p)
    p.add_argument("--sim", choices=("icarus", "verilator"), default=None,
                   help="simulator (default: $SIM or icarus)")
    p.add_argument("--vectors", type=int, default=20_000,
                   help="random vectors beyond the corner cases (per rounding mode for float units)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--gemm", metavar="MxKxN",
                   help="MMA presets: multiply random MxK and KxN matrices tile by tile "
                        "(C fed back along K) and compare D with the golden GEMM")
    p.set_defaults(func=cmd_sim)

    p = sub.add_parser("synth", help="synthesize one preset and report area and Fmax")
    preset_args(p)
    p.add_argument("--target", action="append", default=None,
                   choices=("all", "generic", "asic", "ice40", "ecp5", "xilinx"),
                   help="repeatable; default all")
    p.add_argument("--liberty", help="liberty (.lib) for ASIC area (target asic)")
    p.add_argument("--no-fmax", action="store_true", help="skip nextpnr place and route")
    p.add_argument("--json", action="store_true")
    p.add_argument("-o", "--output", default="build/synth")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("report", help="synthesize every preset into build/synth/report.{json,md}")
    p.add_argument("presets", nargs="*", help="presets (default: all)")
    p.add_argument("--liberty", help="liberty (.lib) for ASIC area")
    p.add_argument("-o", "--output", default="build/synth")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    if getattr(args, "target", None) is None and args.command == "synth":
        args.target = ["all"]
    try:
        return args.func(args)
    except ValueError as error:
        print(f"nnarith: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
