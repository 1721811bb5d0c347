"""Explicit-index (CSR) sparse vectors and the merge join of two of them.

A vector is stored as the sorted indices of its nonzeros and their values
(SparTen's "explicit indices"); an all-zero vector is the single entry
(index 0, value 0), so that every vector has at least one entry and a last
one. The dot product of two such vectors is the sum of value products over
the indices both hold (the inner join).

The merge join walks both index lists at once. Each cycle it looks at the
first ``width`` remaining entries of each side (width 1 or 2), takes
``t = min(a[width-1], b[width-1])`` (a missing entry, because fewer than
``width`` are left on that side, counts as +infinity) and consumes on each
side the entries of that window whose index is ``<= t``, multiplying the pairs
of consumed entries with equal index. No match is skipped: an entry beyond a
side's window has an index above that side's ``b[width-1] >= t``. For width 1
this is the classic merge (advance the smaller head, both on a match, drain
the longer side once the other is done) and takes ``|union of index sets|``
cycles.

On malformed (unsorted) index lists the window rule is completed so that the
walk still ends: a side whose window's last entry is ``<= t`` consumes its
whole window, otherwise the longest prefix of entries ``<= t`` (for sorted
lists this is the same thing). The unit flags such vectors and reports 0.

Arguments are checked: indices are integers >= 0 (int64), values integers
(any size), an index list and its values of one length; floats, bools and
other objects are a ValueError naming the argument.
"""

import numpy as np
from numpy.typing import ArrayLike

from .checks import count, integers
from .mac import fit_accumulator

__all__ = ["csr_encode", "csr_decode", "csr_sorted", "csr_dot", "merge_steps", "merge_join",
           "merge_cycles", "csr_join"]


_INT64 = (-(1 << 63), (1 << 63) - 1)


def _indices(indices, name):
    return integers(indices, name, 0, _INT64[1], kind="indices").ravel()


def _entries(indices, values, side):
    """A checked vector ``(indices, values)``: int64 indices >= 0, integer values, one length."""
    indices = _indices(indices, f"{side}i")
    values = integers(values, f"{side}v", kind="values").ravel()
    if indices.shape != values.shape:
        raise ValueError(f"{side}i, {side}v: must have one length, got {indices.size} indices "
                         f"and {values.size} values")
    return indices, values


def csr_encode(x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """``(indices, values)`` of the nonzeros of dense vector ``x`` (int64 values),
    as int64 arrays; an all-zero vector is the single entry (0, 0)."""
    x = integers(x, "x", *_INT64, kind="values").ravel()
    indices = np.flatnonzero(x)
    if not len(indices):
        return np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    return indices.astype(np.int64), x[indices]


def csr_decode(indices: ArrayLike, values: ArrayLike, length: int) -> np.ndarray:
    """The dense vector of ``length`` elements that ``(indices, values)`` stands
    for (indices below ``length``, int64 values); an index that appears twice
    adds both values."""
    length = count(length, "length", 1)
    indices = integers(indices, "indices", 0, length - 1, kind="indices").ravel()
    values = integers(values, "values", *_INT64, kind="values").ravel()
    if indices.shape != values.shape:
        raise ValueError(f"indices, values: must have one length, got {indices.size} and "
                         f"{values.size}")
    dense = np.zeros(length, dtype=np.int64)
    np.add.at(dense, indices, values)
    return dense


def csr_sorted(indices: ArrayLike) -> bool:
    """Whether ``indices`` (integers >= 0) is strictly increasing (what a
    well-formed vector is)."""
    return _sorted(_indices(indices, "indices"))


def _sorted(indices):
    return bool(np.all(indices[1:] > indices[:-1]))


def csr_dot(ai: ArrayLike, av: ArrayLike, bi: ArrayLike, bv: ArrayLike) -> int:
    """Exact ``sum of av[i] * bv[j] over ai[i] == bi[j]``, as a Python int."""
    return _dot(*_entries(ai, av, "a"), *_entries(bi, bv, "b"))


def _dot(ai, av, bi, bv):
    av, bv = av.astype(object), bv.astype(object)
    equal = ai[:, None] == bi[None, :]
    rows, cols = np.nonzero(equal)
    return int(sum(av[rows] * bv[cols], 0))


def merge_steps(ai: ArrayLike, bi: ArrayLike, width: int = 1) -> list[tuple[range, range]]:
    """The merge join's cycles: a list of ``(a_taken, b_taken)`` ranges of
    entry positions consumed on each side per cycle (module docstring)."""
    return _merge_steps(_indices(ai, "ai").tolist(), _indices(bi, "bi").tolist(), _width(width))


def _width(width):
    if width not in (1, 2) or isinstance(width, bool):
        raise ValueError(f"width: must be 1 or 2, got {width!r}")
    return width


def _merge_steps(ai, bi, width):
    """:func:`merge_steps` on checked index lists (Python ints)."""
    pos = [0, 0]
    steps = []
    while pos[0] < len(ai) or pos[1] < len(bi):
        windows = [side[p:p + width] for side, p in zip((ai, bi), pos)]
        t = min(w[width - 1] if len(w) == width else float("inf") for w in windows)
        taken = []
        for w in windows:
            if w and w[-1] <= t:
                count = len(w)
            else:
                count = 0
                while count < len(w) and w[count] <= t:
                    count += 1
            taken.append(count)
        steps.append(tuple(range(p, p + k) for p, k in zip(pos, taken)))
        pos = [p + k for p, k in zip(pos, taken)]
    return steps


def merge_join(ai: ArrayLike, av: ArrayLike, bi: ArrayLike, bv: ArrayLike,
               width: int = 1) -> tuple[int, int]:
    """Run the merge join: ``(total, cycles)``, ``total`` the exact sum of the
    products of the entry pairs with equal index consumed in the same cycle."""
    (ai, av), (bi, bv) = ((x.tolist() for x in _entries(i, v, side))
                          for i, v, side in ((ai, av, "a"), (bi, bv, "b")))
    steps = _merge_steps(ai, bi, _width(width))
    total = 0
    for a_taken, b_taken in steps:
        total += sum(av[i] * bv[j] for i in a_taken for j in b_taken if ai[i] == bi[j])
    return total, len(steps)


def merge_cycles(ai: ArrayLike, bi: ArrayLike, width: int = 1) -> int:
    """Cycles the merge join of index lists ``ai`` and ``bi`` takes."""
    return len(merge_steps(ai, bi, width))


def csr_join(ai: ArrayLike, av: ArrayLike, bi: ArrayLike, bv: ArrayLike, *, acc_width: int = 32,
             acc_signed: bool = True) -> tuple[int, bool]:
    """What the CSR join unit reports for one vector pair: ``(dot, error)``,
    ``dot`` the wrapped dot product, ``error`` set (and ``dot`` 0) when either
    index list is not strictly increasing."""
    ai, av = _entries(ai, av, "a")
    bi, bv = _entries(bi, bv, "b")
    error = not (_sorted(ai) and _sorted(bi))
    return (0 if error else fit_accumulator(_dot(ai, av, bi, bv), acc_width, acc_signed)), error
