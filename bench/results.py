"""What every benchmark shares: its command line (a liberty for µm², an output
folder), where it leaves its figures (build/bench/<name>.json and .md), the
sweep database its synthesis points land in (build/bench/bench.db), the
README table it regenerates (between ``<!-- bench:<name> -->`` and
``<!-- /bench:<name> -->``) and the plots the README links (bench/figures/)."""

import argparse
import json
import math
import re
from pathlib import Path

from nnarith.progress import Progress

OUT = Path("build/bench")
README = Path(__file__).resolve().parent.parent / "README.md"
FIGURES = Path(__file__).resolve().parent / "figures"


def publish(name, data, lines, out=OUT):
    """Write ``data`` as JSON and the Markdown table ``lines``, print the
    table, and put it in the README where markers for ``name`` hold its place."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if readme_table(name, lines):
        print(f"README.md: table {name} regenerated")


def publish_figure(name, svg, out=OUT, readme=True):
    """Write the SVG text ``svg`` as ``out/<name>.svg`` and, for a run whose
    tables the README shows (``readme``), as bench/figures/<name>.svg, the
    copy the README links."""
    for folder in [Path(out)] + ([FIGURES] if readme else []):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.svg").write_text(svg)
        print(f"wrote {folder / f'{name}.svg'}")


def readme_table(name, lines, readme=README):
    """Replace what stands between the lines ``<!-- bench:name -->`` and
    ``<!-- /bench:name -->`` in ``readme`` with ``lines``; False without them."""
    text = readme.read_text(encoding="utf-8")
    region = re.compile(rf"(?ms)^(<!-- bench:{name} -->\n).*?^(<!-- /bench:{name} -->)$")
    if not region.search(text):
        return False
    table = "\n".join(lines)
    readme.write_text(region.sub(lambda m: f"{m[1]}{table}\n{m[2]}", text, count=1),
                      encoding="utf-8")
    return True


def synthesized(points, out=OUT, workers=None):
    """Run the synth (or fmax) ``points`` (:mod:`nnarith.sweep`) into ``out/bench.db``,
    skipping those it already holds, and return each point's metrics (with
    its ``seconds``)."""
    return [{**row["metrics"], "seconds": row["seconds"]}
            for row in synthesized_rows(points, out, workers)]


def synthesized_rows(points, out=OUT, workers=None):
    """:func:`synthesized`, each point's whole database row (its tool
    ``result`` too: an fmax point's Fmax per seed)."""
    from nnarith import sweep
    db = Path(out) / "bench.db"
    sweep.run(points, db, workers=workers, root=Path(out) / "sweep")
    rows = sweep.collect(points, db, root=Path(out) / "sweep")
    failed = [point.label() for point, row in zip(points, rows)
              if row is None or row["status"] != "done"]
    if failed:
        raise SystemExit(f"bench: not synthesized: {', '.join(failed)} (see {db})")
    return rows


def fmax_by_seed(row, target):
    """An fmax point's Fmax (MHz, None where it did not fit) per nextpnr seed for
    ``target`` (``ecp5`` or ``ecp5_nodsp``): the database keeps the seeds as text."""
    return {int(seed): mhz for seed, mhz in (row["result"][target]["fmax_mhz"] or {}).items()}


#: HardFloat's IEEE-in/IEEE-out tops (anchors/hardfloat/hardfloat_wrappers.v) and the
#: preset of ours each is compared with.
HARDFLOAT = {"hf_mul_fp16": "fp16_mul", "hf_mul_bf16": "bf16_mul",
             "hf_mul_fp32": "fp32_mul", "hf_fma_fp16": "fp16_fma16", "hf_fma_fp32": "fp32_fma"}


def hardfloat_points(anchors, tops, job, settings=None):
    """HardFloat's ``tops`` as Verilog points of ``job`` (:mod:`nnarith.sweep`),
    each against its preset, when ``anchors`` holds ``hardfloat/``; else
    None, saying so (HardFloat is not ours to ship)."""
    from nnarith import sweep
    folder = Path(anchors or "", "hardfloat")
    if not anchors or not folder.is_dir():
        print(f"no HardFloat under {anchors}: its rows are left out")
        return None
    return sweep.verilog_grid([f"{top}={HARDFLOAT[top]}" for top in tops],
                              [folder / "hardfloat_wrappers.v"], [folder / "source"], job,
                              settings)


def number(value, digits=0):
    """``value`` with thousands separators and ``digits`` decimals, "n/a" for None."""
    return "n/a" if value is None else f"{value:,.{digits}f}"


def tracked(items, label, unit="runs", total=None):
    """Iterate ``items`` reporting on stderr how many are done, of how many
    (``total``, default ``len(items)``), and the ETA; each run reports its own
    progress beside."""
    total = len(items) if total is None else total
    with Progress(f"bench {label}", total, unit) as progress:
        for item in items:
            yield item
            progress.advance()


def parser(doc):
    """An argument parser with ``--liberty`` and ``-o``; add options, then :func:`parse`."""
    result = argparse.ArgumentParser(description=doc.splitlines()[0])
    result.add_argument("--liberty", help="liberty for µm² (skipped when absent)")
    result.add_argument("-o", "--output", default=str(OUT))
    return result


def parse(arguments):
    """Parsed arguments, ``liberty`` None when the file is missing, ``output`` a Path."""
    args = arguments.parse_args()
    if not args.liberty or not Path(args.liberty).is_file():
        print(f"no liberty at {args.liberty}: µm² columns skipped")
        args.liberty = None
    args.output = Path(args.output)
    return args


COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#98df8a", "#d62728", "#9467bd", "#8c564b",
          "#e377c2", "#7f7f7f"]


def svg_line_plot(title, x_labels, series, log_y=True):
    """An SVG line plot: one line per ``(label, values)`` in ``series`` over
    the categories ``x_labels``, y on a log scale (decades) or linear from 0."""
    width, height, left, right, top, bottom = 760, 420, 70, 250, 30, 50
    values = [v for _, row in series for v in row if v > 0 or not log_y]
    if log_y:
        lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
        hi = max(hi, lo + 1)
        scale = lambda v: (hi - math.log10(v)) / (hi - lo)               # noqa: E731
        ticks = [10.0 ** e for e in range(lo, hi + 1)]
    else:
        step = 10 ** math.floor(math.log10(max(values) or 1))
        top_value = math.ceil(max(values) / step) * step or 1
        scale = lambda v: 1 - v / top_value                               # noqa: E731
        ticks = [top_value * i / 5 for i in range(6)]
    x = lambda i: left + i * (width - left - right) / max(1, len(x_labels) - 1)   # noqa: E731
    y = lambda v: top + scale(v) * (height - top - bottom)                       # noqa: E731
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">{title}</text>']
    for tick in ticks:
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" '
                     f'y2="{y(tick):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 8}" y="{y(tick) + 4:.1f}" text-anchor="end">'
                     f'{tick:g}</text>')
    for i, label in enumerate(x_labels):
        parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 20}" text-anchor="middle">'
                     f'{label}</text>')
    for n, (label, row) in enumerate(series):
        color = COLORS[n % len(COLORS)]
        points = [(x(i), y(v)) for i, v in enumerate(row) if v > 0 or not log_y]
        parts.append('<polyline points="' + " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
                     + f'" fill="none" stroke="{color}" stroke-width="2"/>')
        parts += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>'
                  for px, py in points]
        legend_y = top + 10 + 20 * n
        parts.append(f'<line x1="{width - right + 15}" x2="{width - right + 40}" '
                     f'y1="{legend_y}" y2="{legend_y}" stroke="{color}" stroke-width="2"/>')
        parts.append(f'<text x="{width - right + 46}" y="{legend_y + 4}">{label}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    """``python bench/results.py NAME FILE``: put the Markdown table of ``FILE``,
    written by a command of its own (``make synth``'s build/synth/report.md),
    in the README between the markers for ``NAME``."""
    arguments = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    arguments.add_argument("name")
    arguments.add_argument("file", type=Path)
    args = arguments.parse_args()
    lines = args.file.read_text(encoding="utf-8").rstrip("\n").split("\n")
    print("\n".join(lines))
    if not readme_table(args.name, lines):
        raise SystemExit(f"results: README.md has no <!-- bench:{args.name} --> markers")
    print(f"README.md: table {args.name} regenerated from {args.file}")


if __name__ == "__main__":
    main()
