"""What every benchmark shares: its command line (a liberty for µm², an output
folder) and where it leaves its figures, build/bench/<name>.json and .md."""

import argparse
import json
from pathlib import Path

OUT = Path("build/bench")


def publish(name, data, lines, out=OUT):
    """Write ``data`` as JSON and the Markdown table ``lines``, and print the table."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


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
