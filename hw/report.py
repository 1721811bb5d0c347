"""``make synth``: synthesize every preset (and its listed variants) into one table."""

import json
import sys
import time
from pathlib import Path

from ..progress import Progress
from .catalogue import PRESETS, build
from .synth import SynthesisError, synthesize

__all__ = ["synth_report", "markdown"]

COLUMNS = [
    ("preset", lambda r: r["preset"]),
    ("variant", lambda r: r["variant"] or "-"),
    ("generic cells", lambda r: r["generic"]["cells"]),
    ("levels", lambda r: r["generic"]["levels"]),
    ("transistors", lambda r: r["generic"]["transistors"]),
    ("µm²", lambda r: r["asic"]["area_um2"] if "asic" in r else "n/a"),
    ("iCE40 LUT4/carry/MAC16", lambda r: "{lut4}/{carry}/{dsp}".format(**r["ice40"])),
    ("ECP5 LUT4/MULT18", lambda r: "{lut4}/{dsp}".format(**r["ecp5"])),
    ("ECP5 LUT4 no DSP", lambda r: r["ecp5_nodsp"]["lut4"]),
    ("Xilinx LUT/DSP48", lambda r: "{lut}/{dsp}".format(**r["xilinx"])),
    ("Xilinx LUT no DSP", lambda r: r["xilinx_nodsp"]["lut"]),
    ("ECP5 Fmax MHz (DSP / no DSP)",
     lambda r: f"{r['ecp5'].get('fmax_mhz')} / {r['ecp5_nodsp'].get('fmax_mhz')}"),
    ("synthesis s", lambda r: r.get("seconds", "n/a")),
]


def _variant_name(overrides):
    return ",".join(f"{k}={v}" for k, v in overrides.items())


def synth_report(out_dir, liberty=None, presets=None, *, progress=True):
    """Synthesize presets (default: all) and their variants; write report.json
    and report.md. ``progress``: report the units done, and each one's tool
    runs, on stderr. A unit whose synthesis fails gets an error row (and a
    line on stderr) instead of stopping the report."""
    out_dir = Path(out_dir)
    runs = [(name, overrides) for name in presets or PRESETS
            for overrides in ({}, *PRESETS[name].variants)]
    rows = []
    with Progress("report", len(runs), "units", enabled=progress) as bar:
        for name, overrides in runs:
            variant = _variant_name(overrides)
            label = f"{name} {variant}".rstrip()
            bar.step(label)
            workdir = out_dir / (name + (f"-{variant.replace('=', '-').replace(',', '_')}"
                                         if variant else ""))
            start = time.monotonic()
            try:
                result = synthesize(build(name, overrides), name, workdir, liberty=liberty,
                                    progress=progress)
            except SynthesisError as failure:
                # One unit that does not fit (nextpnr on the ECP5 25k) must not cost the rest.
                print(f"report: {label}: {failure}", file=sys.stderr)
                result = {"error": str(failure)}
            rows.append({"preset": name, "variant": variant, **result,
                         "seconds": round(time.monotonic() - start)})
            # Written after every row: big presets take many minutes each, and an
            # interrupted run should still leave what it has measured.
            (out_dir / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
            (out_dir / "report.md").write_text(markdown(rows))
            bar.advance()
    return rows


def markdown(rows):
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['preset']} | {row['variant'] or '-'} | failed: {row['error']} |")
            continue
        lines.append("| " + " | ".join(str(cell(row)) for _, cell in COLUMNS) + " |")
    return "\n".join(lines) + "\n"
