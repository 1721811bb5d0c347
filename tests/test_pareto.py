"""The Pareto front (hand examples, ties, duplicates, a brute-force check) and
the accuracy-energy plot: both files written, the same SVG bytes every time,
matplotlib imported only when plotting, and the argument checks."""

import itertools
import random
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from nnarith.pareto import X_LABEL, Y_LABEL, front, plot


@pytest.mark.parametrize("points, expected", [
    ([], []),
    ([(1.0, 0.5)], [0]),
    # (3, 0.55) is dominated by (2, 0.6); the rest sorted by energy
    ([(1, 0.5), (2, 0.6), (3, 0.55), (0.5, 0.4)], [3, 0, 1]),
    ([(1, 0.5), (1, 0.7)], [1]),                 # same x: the higher y
    ([(2, 0.7), (1, 0.7)], [1]),                 # same y: the lower x
    ([(1, 0.7), (2, 0.8), (1, 0.7)], [0, 2, 1]), # equal points both stay, by index
    ([(1, 0.9), (2, 0.5), (2, 0.5)], [0]),       # equal but dominated: both go
    ([(3, 0.9), (2, 0.9), (1, 0.9), (1, 0.9)], [2, 3]),
])
def test_front_by_hand(points, expected):
    assert front(points) == expected


def dominated(p, q):
    """q dominates p."""
    return q[0] <= p[0] and q[1] >= p[1] and q != p


def test_front_is_the_non_dominated_set_in_any_order():
    rng = random.Random(7)
    for _ in range(200):
        points = [(rng.randint(1, 5), rng.randint(0, 4)) for _ in range(rng.randint(1, 8))]
        kept = front(points)
        assert set(kept) == {i for i, p in enumerate(points)
                             if not any(dominated(p, q) for q in points)}
        assert kept == sorted(kept, key=lambda i: (points[i][0], i))
    points = [(1, 0.5), (2, 0.6), (3, 0.55), (0.5, 0.4)]
    for order in itertools.permutations(range(4)):
        assert sorted(points[order[i]] for i in front([points[i] for i in order])) == \
            [(0.5, 0.4), (1, 0.5), (2, 0.6)]


def test_front_takes_numpy_scalars():
    assert front([(np.float32(2), np.int64(1)), (np.uint8(1), np.float64(1))]) == [1]


@pytest.mark.parametrize("points", [None, "ab", [(1,)], [(1, 2, 3)], [(1, float("nan"))],
                                    [(float("inf"), 1)], [(True, 1)], [(1, "2")], [3]])
def test_front_refuses_what_is_not_points(points):
    with pytest.raises(ValueError, match=r"^points: "):
        front(points)


ROWS = [
    {"label": "fp32", "energy_pj": 5e5, "accuracy": 0.97, "family": "fp32"},
    {"label": "fp16_fused", "energy_pj": 2e5, "accuracy": 0.968, "family": "float"},
    {"label": "int8_sym", "energy_pj": 4e4, "accuracy": 0.96, "family": "int8"},
    {"label": "int8_slow", "energy_pj": 6e4, "accuracy": 0.95, "family": "int8"},
    {"label": "bf_2x2", "energy_pj": None, "accuracy": 0.5, "family": "bitfusion"},
]


def test_plot_writes_png_and_svg_the_same_every_time(tmp_path):
    png, svg = plot(ROWS, tmp_path / "digits.mlp")
    assert (png, svg) == (tmp_path / "digits.mlp.png", tmp_path / "digits.mlp.svg")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    text = svg.read_bytes()
    ET.fromstring(text)
    # text is drawn as glyph paths; matplotlib keeps each string in a comment
    for words in (X_LABEL, Y_LABEL, "fp16_fused", "int8_slow", "Pareto front",
                  "Not plotted (no energy estimate): bf_2x2"):
        assert words.encode() in text
    _, again = plot(ROWS, tmp_path / "out" / "again")
    assert again.read_bytes() == text


def test_plot_without_families(tmp_path):
    rows = [{"name": "a", "e": 3, "acc": 0.5}, {"name": "b", "e": 1, "acc": 0.25}]
    _, svg = plot(rows, str(tmp_path / "plain"), x="e", y="acc", label="name", title="plain")
    text = svg.read_bytes()
    assert b"plain" in text and b"Not plotted" not in text


def test_importing_the_module_does_not_import_matplotlib():
    code = "import sys, nnarith.pareto; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def row(**fields):
    return {**ROWS[0], **fields}


@pytest.mark.parametrize("kwargs, name", [
    ({"rows": []}, "rows"),
    ({"rows": None}, "rows"),
    ({"rows": ROWS[0]}, "rows"),
    ({"rows": [ROWS[0], "fp32"]}, "rows"),
    ({"rows": [row(energy_pj=0)]}, "rows"),
    ({"rows": [row(energy_pj=-1.0)]}, "rows"),
    ({"rows": [row(energy_pj="5")]}, "rows"),
    ({"rows": [row(energy_pj=None)]}, "rows"),       # nothing left to plot
    ({"rows": [row(accuracy=97.0)]}, "rows"),        # percent, not a fraction
    ({"rows": [row(accuracy=None)]}, "rows"),
    ({"rows": [row(label=3)]}, "rows"),
    ({"rows": [row(family="int4")]}, "rows"),
    ({"rows": ROWS, "x": "energy"}, "x"),
    ({"rows": ROWS, "x": ""}, "x"),
    ({"rows": ROWS, "y": "top1"}, "y"),
    ({"rows": ROWS, "label": None}, "label"),
    ({"rows": ROWS, "stem": ""}, "stem"),
    ({"rows": ROWS, "stem": 3}, "stem"),
    ({"rows": ROWS, "title": None}, "title"),
])
def test_plot_refuses_bad_arguments_by_name(tmp_path, kwargs, name):
    kwargs = {"stem": tmp_path / "p", **kwargs}
    with pytest.raises(ValueError, match=rf"^{name}: "):
        plot(kwargs.pop("rows"), kwargs.pop("stem"), **kwargs)
    assert not list(tmp_path.iterdir())
