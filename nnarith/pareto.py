"""Accuracy against energy: the Pareto front and its plot.

:func:`front` picks the Pareto-optimal points for *minimize x, maximize y*:
a point is dropped when another has ``x' <= x`` and ``y' >= y`` with one of
them strict. Points equal in both stay (neither dominates the other), so the
result does not depend on the input order but for the order of equal points,
which is their index order. The front comes back sorted by x, then index.

:func:`plot` draws rows (mappings) as accuracy (``y``, a fraction 0..1,
plotted in percent) against energy per inference (``x``, pJ from
:mod:`nnarith.energy`, log axis), each point labelled, the front as a step
line (an accuracy is reached at its energy and at every higher one), one
marker per ``family`` when rows carry one (:data:`FAMILIES`). Rows whose x is
None (no energy estimate) are not plotted: a caption lists them. It writes
``<stem>.png`` and ``<stem>.svg`` with matplotlib's Agg renderer, imported
when called (importing this module does not need matplotlib); the same rows
give the same SVG bytes.

Arguments are checked: a ValueError names the parameter and what it accepts.
"""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from numbers import Real
from pathlib import Path

from .golden.checks import describe

__all__ = ["FAMILIES", "X_LABEL", "Y_LABEL", "front", "plot", "figure"]

#: Recipe families a row may carry, with the marker and colour of each.
FAMILIES = {
    "fp32": ("s", "black"),
    "float": ("o", "tab:blue"),
    "int8": ("^", "tab:orange"),
    "bitfusion": ("D", "tab:green"),
    "sparse": ("v", "tab:red"),
}

X_LABEL = "energy per inference (pJ, Horowitz 45 nm)"
Y_LABEL = "top-1 accuracy on the test split (%)"

# The SVG's element ids hash this salt instead of a random one, so that the
# same plot gives the same bytes.
_SALT = "nnarith.pareto"


def _number(value) -> bool:
    """A finite real number (NumPy scalars too), not a bool."""
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the Pareto-optimal ``(x, y)`` points (minimize x, maximize
    y), sorted by x, then index; equal points are all kept."""
    if isinstance(points, (str, bytes)) or not isinstance(points, Sequence):
        raise ValueError(f"points: must be a sequence of (x, y) pairs, got {describe(points)}")
    for i, point in enumerate(points):
        if (isinstance(point, (str, bytes)) or not isinstance(point, Sequence) or len(point) != 2
                or not all(_number(v) for v in point)):
            raise ValueError(f"points: must be (x, y) pairs of finite numbers, "
                             f"got {describe(point)} at index {i}")
    # Best y first among equal x: a later point at the same x is dominated
    # unless it equals the kept one.
    order = sorted(range(len(points)), key=lambda i: (float(points[i][0]), -float(points[i][1]), i))
    kept: list[int] = []
    for i in order:
        x, y = points[i]
        if not kept or y > points[kept[-1]][1] or (x, y) == tuple(points[kept[-1]]):
            kept.append(i)
    return kept


def _key(value, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: must be a non-empty string (a row key), got {describe(value)}")
    return value


def _checked_rows(rows, x: str, y: str, label: str) -> list[Mapping]:
    if isinstance(rows, (str, bytes, Mapping)) or not isinstance(rows, Sequence) or not rows:
        raise ValueError(f"rows: must be a non-empty sequence of mappings, got {describe(rows)}")
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise ValueError(f"rows: must be a non-empty sequence of mappings, "
                             f"got {describe(row)} at index {i}")
        for key, name in ((x, "x"), (y, "y"), (label, "label")):
            if key not in row:
                raise ValueError(f"{name}: key {key!r} missing from rows[{i}]")
        if row[x] is not None and not (_number(row[x]) and row[x] > 0):
            raise ValueError(f"rows: rows[{i}][{x!r}] must be None or a finite number > 0 "
                             f"(log axis), got {describe(row[x])}")
        if not (_number(row[y]) and 0 <= row[y] <= 1):
            raise ValueError(f"rows: rows[{i}][{y!r}] must be a fraction in 0..1, "
                             f"got {describe(row[y])}")
        if not isinstance(row[label], str):
            raise ValueError(f"rows: rows[{i}][{label!r}] must be a string, "
                             f"got {describe(row[label])}")
        family = row.get("family")
        if family is not None and (not isinstance(family, str) or family not in FAMILIES):
            raise ValueError(f"rows: rows[{i}]['family'] must be one of {', '.join(FAMILIES)} "
                             f"or None, got {describe(family)}")
    if all(row[x] is None for row in rows):
        raise ValueError(f"rows: no row has a value for {x!r}: nothing to plot")
    return list(rows)


def plot(rows: Sequence[Mapping], stem: str | os.PathLike, *, x: str = "energy_pj",
         y: str = "accuracy", label: str = "label",
         title: str = "Accuracy against energy per inference") -> tuple[Path, Path]:
    """Write the plot of ``rows`` to ``<stem>.png`` and ``<stem>.svg`` (folders
    made as needed); returns the two paths.

    ``x``, ``y``, ``label``: the keys of each row's energy (pJ, or None: not
    plotted), accuracy (a fraction 0..1) and point label; a row may carry
    ``family`` (:data:`FAMILIES`, or None).
    """
    x, y, label = _key(x, "x"), _key(y, "y"), _key(label, "label")
    rows = _checked_rows(rows, x, y, label)
    if not isinstance(stem, (str, os.PathLike)) or not os.fspath(stem):
        raise ValueError(f"stem: must be a non-empty path (str or PathLike), got {describe(stem)}")
    if not isinstance(title, str):
        raise ValueError(f"title: must be a string, got {describe(title)}")

    shown = [row for row in rows if row[x] is not None]
    skipped = [row[label] for row in rows if row[x] is None]
    points = [(float(row[x]), 100.0 * float(row[y])) for row in shown]
    with figure(stem) as fig:
        ax = fig.add_subplot()
        families = sorted({row.get("family") for row in shown},
                          key=lambda f: -1 if f is None else list(FAMILIES).index(f))
        for family in families:
            marker, colour = FAMILIES.get(family, ("o", "tab:gray"))
            xs, ys = zip(*(p for p, row in zip(points, shown) if row.get("family") == family))
            # rows without a family are "other" next to families, unnamed alone
            name = family if family is not None else ("other" if len(families) > 1 else None)
            ax.scatter(xs, ys, marker=marker, color=colour, zorder=3, label=name)
        # Recipes that land on the same point share one label, not a pile of text.
        labels: dict[tuple[float, float], list[str]] = {}
        for point, row in zip(points, shown):
            labels.setdefault(point, []).append(str(row[label]))
        for (px, py), names in labels.items():
            text = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} same)"
            ax.annotate(text, (px, py), xytext=(4, 3), textcoords="offset points", fontsize=7)
        best = front(points)
        ax.step([points[i][0] for i in best], [points[i][1] for i in best], where="post",
                color="gray", linestyle="--", zorder=2, label="Pareto front")
        ax.set_xscale("log")
        ax.margins(x=0.1, y=0.08)   # room for the labels of the outermost points
        ax.set_xlabel(X_LABEL)
        ax.set_ylabel(Y_LABEL)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        if skipped:
            note = "Not plotted (no energy estimate): " + ", ".join(skipped)
            fig.supxlabel(textwrap.fill(note, 110), fontsize=7, x=0.01, ha="left")
    return Path(f"{os.fspath(stem)}.png"), Path(f"{os.fspath(stem)}.svg")


@contextmanager
def figure(stem: str | os.PathLike):
    """A matplotlib figure (Agg, 8 x 5.5 in) to draw on; written to
    ``<stem>.png`` and ``<stem>.svg`` (folders made) when the block ends.
    Matplotlib's own defaults, not the user's matplotlibrc, and a fixed SVG
    salt: the same drawing gives the same bytes on every machine."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    png, svg = Path(f"{os.fspath(stem)}.png"), Path(f"{os.fspath(stem)}.svg")
    png.parent.mkdir(parents=True, exist_ok=True)
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams["svg.hashsalt"] = _SALT
        fig = Figure(figsize=(8, 5.5), layout="constrained")
        FigureCanvasAgg(fig)
        yield fig
        fig.savefig(png, dpi=150, metadata={"Software": None})
        fig.savefig(svg, metadata={"Date": None})
