"""``make synth``: synthesize every preset (and its listed variants) into one table."""

import json
import time
from pathlib import Path

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


def synth_report(out_dir, liberty=None, presets=None, log=print):
    """Synthesize presets (default: all) and their variants; write report.json and report.md."""
    out_dir = Path(out_dir)
    rows = []
    for name in presets or PRESETS:
        preset = PRESETS[name]
        for overrides in ({}, *preset.variants):
            variant = _variant_name(overrides)
            log(f"synth {name} {variant}".rstrip())
            workdir = out_dir / (name + (f"-{variant.replace('=', '-').replace(',', '_')}"
                                         if variant else ""))
            start = time.monotonic()
            try:
                result = synthesize(build(name, overrides), name, workdir, liberty=liberty)
            except SynthesisError as failure:
                # One unit that does not fit (nextpnr on the ECP5 25k) must not cost the rest.
                log(str(failure))
                result = {"error": str(failure).splitlines()[0]}
            rows.append({"preset": name, "variant": variant, **result,
                         "seconds": round(time.monotonic() - start)})
            # Written after every row: big presets take many minutes each, and an
            # interrupted run should still leave what it has measured.
            (out_dir / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
            (out_dir / "report.md").write_text(markdown(rows))
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
