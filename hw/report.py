"""``make synth``: synthesize every preset (and its listed variants) into one table."""

import json
from pathlib import Path

from .catalogue import PRESETS, build
from .synth import synthesize

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
            result = synthesize(build(name, overrides), name, workdir, liberty=liberty)
            rows.append({"preset": name, "variant": variant, **result})
    (out_dir / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out_dir / "report.md").write_text(markdown(rows))
    return rows


def markdown(rows):
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(str(cell(row)) for _, cell in COLUMNS) + " |")
    return "\n".join(lines) + "\n"
