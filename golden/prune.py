"""Magnitude pruning of the digits networks: 2:4 structured and unstructured,
with an optional masked fine-tune.

Every weight is pruned as the ``(K, N)`` GEMM operand its layer multiplies
(``model.params[name]``, :class:`~nnarith.golden.network.Layer`): dense
weights ``(in, out)``, conv weights the HWIO kernel as the ``(9 * C_in,
C_out)`` im2col matrix (rows in ``(ky, kx, c_in)`` order). Biases are never
pruned. The rules:

- **2:4** (:func:`mask_24`): per output column ``j``, along the reduction
  dimension ``K`` in groups of 4 consecutive rows (``4g .. 4g + 3``), keep
  the 2 entries of largest ``|w|``; ties go to the lower row index. A
  partial last group (``K`` not a multiple of 4, e.g. the CNN's ``conv1``
  with ``K = 9``) keeps ``min(2, its size)`` entries: the same as padding
  ``K`` with zero rows to a multiple of 4 and pruning that. This is NVIDIA's
  2:4 magnitude pruning along the reduction dimension, the groups
  :mod:`~nnarith.golden.sparse24` compresses (one column of ``W`` is one
  2:4 vector). A group with fewer than 2 nonzeros keeps zeros too: the mask
  marks positions, not nonzeros.
- **unstructured** (:func:`mask_magnitude`): over the whole tensor keep the
  ``round(density * size)`` entries of largest ``|w|`` (Python's ``round``:
  halves to even; it may be 0 for a tiny tensor at a low density); ties go
  to the lower flat index in C (row-major) order.

Magnitudes are exact: ``|w|`` of floats in float64 (every float of 64 bits
or fewer converts exactly), of integers in uint64. NaN is refused.

:func:`prune` applies one rule to every weight but those named in ``skip``
and returns the pruned model (pruned entries are +0.0) with its masks;
:func:`fine_tune` then trains it further with :func:`train`'s Adam
(:func:`~nnarith.golden.network.train_from`) while the pruned weights stay
exactly 0.0. Both are deterministic. The model's ``config`` gains
``{"pruning": {"structure", "density", "skip", "fine_tune"}}``.

Arguments are checked before any work: a ValueError names the parameter,
says what it accepts and shows what it got.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .checks import describe, float64_values
from .network import DigitsSplit, Network, train_from

__all__ = ["STRUCTURES", "GROUP", "KEPT", "mask_24", "mask_magnitude", "weight_names",
           "prune", "fine_tune"]

#: The pruning structures :func:`prune` knows.
STRUCTURES = ("unstructured", "2:4")
#: Rows per 2:4 group along K, and rows kept per group.
GROUP, KEPT = 4, 2
#: :func:`fine_tune` defaults.
FINE_TUNE_DEFAULTS = {"epochs": 10, "lr": 1e-3, "seed": 0}

_UINT64_MAX = np.iinfo(np.uint64).max


# --------------------------------------------------------------------------
# argument checks
# --------------------------------------------------------------------------

def _descending_key(x: object, name: str) -> np.ndarray:
    """A key whose ascending order is the descending order of ``|x|``, exact:
    ``-|x|`` in float64 for floats, ``2**64 - 1 - |x|`` in uint64 for integers."""
    arr = None
    if not isinstance(x, (str, bytes, bool, np.bool_)):
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError):
            arr = None
    if arr is not None and arr.dtype.kind in "iu":
        if arr.dtype.kind == "u":
            return _UINT64_MAX - arr.astype(np.uint64)
        signed = arr.astype(np.int64)
        # |int64 min| = 2**63 fits uint64; -(x + 1) never overflows.
        magnitude = np.where(signed < 0, (-(signed + 1)).astype(np.uint64) + np.uint64(1),
                             signed.astype(np.uint64))
        return _UINT64_MAX - magnitude
    if arr is None or arr.dtype.kind == "b":
        raise ValueError(f"{name}: must be an array of real numbers, got {describe(x)}")
    try:
        values = float64_values(arr, name)
    except ValueError:
        raise ValueError(f"{name}: must be an array of real numbers, got {describe(x)}") from None
    if np.isnan(values).any():
        raise ValueError(f"{name}: must not hold NaN")
    return -np.abs(values)


def _density(density: object) -> float:
    ok = (isinstance(density, (int, float, np.integer, np.floating))
          and not isinstance(density, (bool, np.bool_))
          and math.isfinite(float(density)) and 0.0 < float(density) <= 1.0)
    if not ok:
        raise ValueError(f"density: must be a number in (0, 1], got {describe(density)}")
    return float(density)


def _model(model: object) -> Network:
    if not isinstance(model, Network):
        raise ValueError(f"model: must be an MLP or a CNN, got {describe(model)}")
    return model


def weight_names(model: Network) -> list[str]:
    """The names of ``model``'s GEMM weights (``w1``, ``w2``, ...), in layer order."""
    return [name for name in _model(model).SHAPES if name.startswith("w")]


def _skip(skip: object, weights: list[str]) -> list[str]:
    """``skip`` (a collection of weight names) in ``weights`` order."""
    names = None
    if not isinstance(skip, (str, bytes, Mapping)) and isinstance(skip, Iterable):
        names = list(skip)
    if names is None or not all(isinstance(n, str) for n in names):
        raise ValueError(f"skip: must be a collection of weight names, e.g. ('w1',), "
                         f"got {describe(skip)}")
    unknown = [n for n in names if n not in weights]
    if unknown:
        raise ValueError(f"skip: unknown weights {unknown!r}; the weights are {weights}")
    return [n for n in weights if n in names]


# --------------------------------------------------------------------------
# masks
# --------------------------------------------------------------------------

def mask_24(weight: ArrayLike) -> np.ndarray:
    """The 2:4 keep mask of a ``(K, N)`` GEMM weight, bool ``(K, N)``.

    Per column, rows ``4g .. 4g + 3`` form a group that keeps its 2 largest
    ``|w|`` (ties: the lower row); a partial last group keeps ``min(2, size)``.
    ``weight``: a 2-D array of real numbers (floats or integers, no NaN) with
    ``K >= 1`` and ``N >= 1``.
    """
    key = _descending_key(weight, "weight")
    if key.ndim != 2 or 0 in key.shape:
        raise ValueError(f"weight: must be a (K, N) matrix with K, N >= 1, "
                         f"got shape {key.shape}")
    k, n = key.shape
    groups = -(-k // GROUP)
    # Pad rows rank last (the key's largest value, and after the real rows in a
    # stable sort), so a partial group keeps its real rows first.
    pad = np.inf if key.dtype.kind == "f" else _UINT64_MAX
    padded = np.full((groups * GROUP, n), pad, dtype=key.dtype)
    padded[:k] = key
    grouped = padded.reshape(groups, GROUP, n)
    order = np.argsort(grouped, axis=1, kind="stable")[:, :KEPT, :]
    keep = np.zeros(grouped.shape, dtype=bool)
    np.put_along_axis(keep, order, True, axis=1)
    return keep.reshape(groups * GROUP, n)[:k]


def mask_magnitude(weight: ArrayLike, density: float) -> np.ndarray:
    """The unstructured keep mask of ``weight`` (any shape), bool of its shape.

    Keeps the ``round(density * weight.size)`` entries of largest ``|w|``
    over the whole tensor (ties: the lower flat index in C order).
    ``weight``: an array of real numbers (floats or integers, no NaN) with at
    least one entry; ``density``: (0, 1].
    """
    key = _descending_key(weight, "weight")
    density = _density(density)
    if key.size == 0:
        raise ValueError(f"weight: must hold at least one entry, got shape {key.shape}")
    kept = round(density * key.size)
    order = np.argsort(key.reshape(-1), kind="stable")[:kept]
    keep = np.zeros(key.size, dtype=bool)
    keep[order] = True
    return keep.reshape(key.shape)


# --------------------------------------------------------------------------
# pruning a network
# --------------------------------------------------------------------------

def prune(model: Network, *, structure: str, density: float | None = None,
          skip: Iterable[str] = ()) -> tuple[Network, dict[str, np.ndarray]]:
    """``model`` with its weights magnitude-pruned, and the masks: ``(pruned, masks)``.

    ``structure``: ``"2:4"`` (:func:`mask_24`; ``density`` must be None, it
    is 0.5) or ``"unstructured"`` (:func:`mask_magnitude` per tensor;
    ``density`` in (0, 1] required). Every weight (``w1``, ``w2``, ... as the
    ``(K, N)`` GEMM operands) but those named in ``skip`` is pruned; biases
    are untouched. Pruned entries become +0.0.

    Returns a model of the same class whose ``config`` is the model's plus
    ``"pruning": {"structure", "density", "skip", "fine_tune": None}``
    (replacing any earlier ``"pruning"`` record; ``skip`` in weight order),
    and ``masks``: weight name -> bool keep array of the weight's shape (all
    True for a skipped weight).
    """
    model = _model(model)
    if not (isinstance(structure, str) and structure in STRUCTURES):
        raise ValueError(f"structure: must be one of {STRUCTURES}, got {describe(structure)}")
    if structure == "2:4":
        if density is not None:
            raise ValueError(f"density: must be None for structure '2:4' (it is 0.5), "
                             f"got {describe(density)}")
        recorded = KEPT / GROUP
    else:
        if density is None:
            raise ValueError("density: structure 'unstructured' needs a density in (0, 1], "
                             "got None")
        recorded = density = _density(density)
    weights = weight_names(model)
    skipped = _skip(skip, weights)

    masks: dict[str, np.ndarray] = {}
    pruned: dict[str, np.ndarray] = {}
    for name in weights:
        w = model.params[name]
        if name in skipped:
            masks[name] = np.ones(w.shape, dtype=bool)
            continue
        masks[name] = mask_24(w) if structure == "2:4" else mask_magnitude(w, density)
        pruned[name] = np.where(masks[name], w, np.float32(0.0))
    config = dict(model.config)
    config["pruning"] = {"structure": structure, "density": recorded, "skip": skipped,
                         "fine_tune": None}
    return _with_config(model.replace(**pruned), config), masks


def fine_tune(model: Network, split: DigitsSplit, masks: Mapping[str, ArrayLike], *,
              epochs: int = 10, lr: float = 1e-3, seed: int = 0) -> Network:
    """``model`` trained further on ``split.x_train`` with its pruned weights held at 0.0.

    :func:`~nnarith.golden.network.train`'s Adam (fresh moments, batches of
    ``TRAIN_DEFAULTS`` size shuffled by ``default_rng(seed)``, float64 with
    BLAS on one thread) from the model's own float32 weights as float64; the
    gradient of every masked-out weight is zeroed and each weight multiplied
    by its mask after every step (and once before the first), so the
    entries ``masks`` marks False are exactly 0.0 in the result. Deterministic.

    ``masks``: weight name -> bool array of that weight's shape, as
    :func:`prune` returns (a weight not named is trained unmasked);
    ``epochs``: 1..1000; ``lr``: (0, 1]; ``seed``: 0..2**32 - 1. The result's
    ``config`` records ``pruning.fine_tune = {"epochs", "lr", "seed"}``
    (``pruning`` holds ``None`` for structure and density if the model had no
    pruning record).
    """
    model = _model(model)
    if masks is None:
        raise ValueError("masks: must be a mapping of weight names to bool arrays "
                         "(prune() returns it), got None")
    # train_from checks split, epochs, lr, seed and masks before it trains.
    params = train_from(model, split, epochs=epochs, lr=lr, seed=seed, masks=masks)
    config = dict(model.config)
    pruning = dict(config.get("pruning") or {"structure": None, "density": None, "skip": []})
    pruning["fine_tune"] = {"epochs": int(epochs), "lr": float(lr), "seed": int(seed)}
    config["pruning"] = pruning
    return _with_config(model.replace(**params), config)


def _with_config(model: Network, config: Mapping[str, Any]) -> Network:
    return type(model)(**model.params, config=config)
