"""``make synth``: every preset (and its listed variants) synthesized as
sweep points (:mod:`nnarith.sweep`: every worker, resumable, one database),
then one table."""

import json
from pathlib import Path

from .catalogue import PRESETS

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


def synth_report(out_dir, liberty=None, presets=None, *, workers=None, scheduler=None,
                 progress=True):
    """Synthesize presets (default: all) and their variants as two sweep
    points each (``synth`` for generic, asic with ``liberty``, iCE40 and
    Xilinx; ``fmax`` for ECP5 with nextpnr) into ``out_dir/synth.db``, which
    a rerun reuses; write report.json and report.md. A unit whose synthesis
    fails gets an error row instead of stopping the report."""
    from .. import sweep
    out_dir = Path(out_dir)
    runs = [(name, overrides) for name in presets or PRESETS
            for overrides in ({}, *PRESETS[name].variants)]
    settings = {"targets": ["generic", "ice40", "xilinx"] + (["asic"] if liberty else []),
                "liberty": liberty}
    points = []
    for name, overrides in runs:
        values = {key: [value] for key, value in overrides.items()}
        points += sweep.grid(name, values, "synth", settings) + sweep.grid(name, values, "fmax")
    db, root = out_dir / "synth.db", out_dir / "sweep"
    sweep.run(points, db, workers=workers, scheduler=scheduler, root=root, progress=progress)
    found = sweep.collect(points, db, root=root)
    rows = []
    for (name, overrides), synth, timed in zip(runs, found[0::2], found[1::2]):
        row = {"preset": name, "variant": _variant_name(overrides)}
        failed = next((r for r in (synth, timed) if r is None or r["status"] != "done"), False)
        if failed is not False:
            rows.append({**row, "error": failed["error"] if failed else "not run"})
            continue
        # The best placement of the fmax point's seeds.
        ecp5 = {key: {**timed["result"][key], "fmax_mhz": timed["metrics"][metric]}
                for key, metric in (("ecp5", "fmax_mhz"), ("ecp5_nodsp", "fmax_nodsp_mhz"))}
        rows.append({**row, **synth["result"], **ecp5,
                     "seconds": round(synth["seconds"] + timed["seconds"])})
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
