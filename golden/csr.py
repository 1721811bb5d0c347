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
"""

import numpy as np

from .mac import fit_accumulator

__all__ = ["csr_encode", "csr_decode", "csr_sorted", "csr_dot", "merge_steps", "merge_join",
           "merge_cycles", "csr_join"]


def csr_encode(x):
    """``(indices, values)`` of the nonzeros of dense vector ``x``, as int64
    arrays; an all-zero vector is the single entry (0, 0)."""
    x = np.asarray(x, dtype=np.int64).ravel()
    indices = np.flatnonzero(x)
    if not len(indices):
        return np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
    return indices.astype(np.int64), x[indices]


def csr_decode(indices, values, length):
    """The dense vector of ``length`` elements that ``(indices, values)`` stands
    for; an index that appears twice adds both values."""
    dense = np.zeros(length, dtype=np.int64)
    np.add.at(dense, np.asarray(indices, dtype=np.int64), np.asarray(values, dtype=np.int64))
    return dense


def csr_sorted(indices):
    """Whether ``indices`` is strictly increasing (what a well-formed vector is)."""
    indices = np.asarray(indices, dtype=np.int64)
    return bool(np.all(indices[1:] > indices[:-1]))


def csr_dot(ai, av, bi, bv):
    """Exact ``sum of av[i] * bv[j] over ai[i] == bi[j]``, as a Python int."""
    ai, bi = np.asarray(ai, dtype=np.int64), np.asarray(bi, dtype=np.int64)
    av, bv = np.asarray(av, dtype=object), np.asarray(bv, dtype=object)
    equal = ai[:, None] == bi[None, :]
    rows, cols = np.nonzero(equal)
    return int(sum(av[rows] * bv[cols], 0))


def merge_steps(ai, bi, width=1):
    """The merge join's cycles: a list of ``(a_taken, b_taken)`` ranges of
    entry positions consumed on each side per cycle (module docstring)."""
    if width not in (1, 2):
        raise ValueError(f"width: must be 1 or 2, got {width!r}")
    ai, bi = [int(i) for i in ai], [int(i) for i in bi]
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


def merge_join(ai, av, bi, bv, width=1):
    """Run the merge join: ``(total, cycles)``, ``total`` the exact sum of the
    products of the entry pairs with equal index consumed in the same cycle."""
    steps = merge_steps(ai, bi, width)
    total = 0
    for a_taken, b_taken in steps:
        total += sum(int(av[i]) * int(bv[j]) for i in a_taken for j in b_taken
                     if int(ai[i]) == int(bi[j]))
    return total, len(steps)


def merge_cycles(ai, bi, width=1):
    """Cycles the merge join of index lists ``ai`` and ``bi`` takes."""
    return len(merge_steps(ai, bi, width))


def csr_join(ai, av, bi, bv, *, acc_width=32, acc_signed=True):
    """What the CSR join unit reports for one vector pair: ``(dot, error)``,
    ``dot`` the wrapped dot product, ``error`` set (and ``dot`` 0) when either
    index list is not strictly increasing."""
    error = not (csr_sorted(ai) and csr_sorted(bi))
    return (0 if error else fit_accumulator(csr_dot(ai, av, bi, bv), acc_width, acc_signed)), error
