"""``make synth``: every preset (and its listed variants) synthesized as
sweep points (:mod:`nnarith.sweep`: every worker, resumable, one database),
then one table."""

import json
import re
from pathlib import Path

from .catalogue import PRESETS

__all__ = ["synth_report", "markdown", "report_points"]

#: Marks a block's FPGA figures, which come from one of its output elements.
ELEMENT = "ᵉ"

COLUMNS = [
    ("preset", lambda r: r["preset"]),
    ("variant", lambda r: r["variant"] or "-"),
    ("generic cells", lambda r: r["generic"]["cells"]),
    ("levels", lambda r: r["generic"]["levels"]),
    ("transistors", lambda r: r["generic"].get("transistors", "n/a")),
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


#: The columns a block takes from one output element.
FPGA_COLUMNS = {title for title, _ in COLUMNS if title.startswith(("iCE40", "ECP5", "Xilinx"))}


def _variant_name(overrides):
    return ",".join(f"{k}={v}" for k, v in overrides.items())


def report_points(name, overrides, settings):
    """The sweep points of one row: a ``synth`` point (``settings``) and an
    ``fmax`` point of the preset ``name`` with ``overrides``. A block (the
    MMAs) is split three ways instead: flat, ABC spends hours on one and it
    does not fit the ECP5 25k, so its generic and ASIC figures come from the
    whole block synthesized from its parts (``split``), and its FPGA figures
    from one output element (m = n = 1, the whole K)."""
    from .. import sweep
    from .synth import SPLIT_TARGETS
    values = {key: [value] for key, value in overrides.items()}
    preset = PRESETS[name]
    timed = {"timeout": settings.get("timeout")}
    if not preset.is_block:
        return (sweep.grid(name, values, "synth", settings)
                + sweep.grid(name, values, "fmax", timed))
    element = {**values, **{key: [value] for key, value in preset.one_output().items()}}
    whole = [t for t in settings["targets"] if t in SPLIT_TARGETS]
    fpga = [t for t in settings["targets"] if t not in SPLIT_TARGETS]
    return (sweep.grid(name, values, "synth", {**settings, "targets": whole, "split": True})
            + sweep.grid(name, element, "synth", {**settings, "targets": fpga})
            + sweep.grid(name, element, "fmax", timed))


def _row(name, overrides, found):
    """A row of the table from the database rows ``found`` of
    :func:`report_points` (None where a point did not run)."""
    row = {"preset": name, "variant": _variant_name(overrides)}
    failed = next((r for r in found if r is None or r["status"] != "done"), False)
    if failed is not False:
        return {**row, "error": failed["error"] if failed else "not run"}
    *synths, timed = found
    for synth in synths:
        row.update(synth["result"])
    # The best placement of the fmax point's seeds.
    row.update({key: {**timed["result"][key], "fmax_mhz": timed["metrics"][metric]}
                for key, metric in (("ecp5", "fmax_mhz"), ("ecp5_nodsp", "fmax_nodsp_mhz"))})
    if len(synths) > 1:
        row["fpga_element"] = True
    return {**row, "seconds": round(sum(r["seconds"] for r in found))}


def synth_report(out_dir, liberty=None, presets=None, *, workers=None, scheduler=None,
                 timeout=None, progress=True):
    """Synthesize presets (default: all) and their variants as sweep points
    (:func:`report_points`: ``synth`` for generic, asic with ``liberty``,
    iCE40 and Xilinx; ``fmax`` for ECP5 with nextpnr) into
    ``out_dir/synth.db``, which a rerun reuses; write report.json and
    report.md. A unit whose synthesis fails, or takes more than ``timeout``
    seconds a point, gets an error row instead of stopping the report."""
    from .. import sweep
    out_dir = Path(out_dir)
    settings = {"targets": ["generic", "ice40", "xilinx"] + (["asic"] if liberty else []),
                "liberty": liberty, "timeout": timeout}
    runs = [(name, overrides, report_points(name, overrides, settings))
            for name in presets or PRESETS for overrides in ({}, *PRESETS[name].variants)]
    db, root = out_dir / "synth.db", out_dir / "sweep"
    points = [point for _, _, group in runs for point in group]
    sweep.run(points, db, workers=workers, scheduler=scheduler, root=root, progress=progress)
    found = iter(sweep.collect(points, db, root=root))
    rows = [_row(name, overrides, [next(found) for _ in group])
            for name, overrides, group in runs]
    (out_dir / "report.json").write_text(json.dumps(rows, indent=2) + "\n")
    (out_dir / "report.md").write_text(markdown(rows))
    return rows


def markdown(rows):
    lines = ["| " + " | ".join(title for title, _ in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for row in rows:
        if "error" in row:
            # The log's path (in report.json) names this machine's folders: not for a table.
            error = re.sub(r"; (log|folder): \S+$", "", row["error"])
            lines.append(f"| {row['preset']} | {row['variant'] or '-'} | failed: {error} |")
            continue
        mark = ELEMENT if row.get("fpga_element") else ""
        lines.append("| " + " | ".join(f"{cell(row)}{mark if title in FPGA_COLUMNS else ''}"
                                       for title, cell in COLUMNS) + " |")
    if any(row.get("fpga_element") for row in rows):
        lines += ["", f"{ELEMENT} one output element of the block (m = n = 1, the whole K): a "
                  "whole block does not fit the ECP5 25k, and its generic cells, levels and "
                  "µm² come from the whole block synthesized from its parts (`nnarith sweep "
                  "--split`), which counts no transistors."]
    return "\n".join(lines) + "\n"
