"""Bench model of the Fusion Unit array, and the mapping of an integer matrix
product onto it.

Golden: column ``c`` of the array is the sum over rows of Fusion Units that
all see the same ``mode`` and ``clear``, so its running sum is the sum of
their running sums (:func:`golden.bitfusion.fusion_accumulate`), wrapped to
the accumulator; each PE's weight is the word of the latest ``w_load``
(0 after reset).

Stimulus: a weight load, then vectors whose mode changes on every cycle
(every legal word ``count`` allows, illegal words among them), weight loads
and clears at random, and a run of the largest products that wraps a narrow
accumulator.
"""

import numpy as np

from ..golden.bitfusion import (MODE_BITS, decode_mode, encode_mode, fusion_accumulate,
                              pair_count, precisions)

from .vectors import random_bits, to_bits

__all__ = ["FusionArrayModel", "matrix_product_inputs", "matrix_product_result"]

#: Fraction of vectors that clear the accumulators / load new weights.
CLEAR_RATE = 1 / 32
LOAD_RATE = 1 / 16
#: Fraction of vectors under an illegal mode word.
ILLEGAL_RATE = 1 / 16
#: Vectors in the run of the largest product.
MARCH_STEPS = 16


def _words(packed, count, width):
    """Packed ports -> ``(len, count)`` object array of ``width``-bit words."""
    packed = np.asarray(packed, dtype=object)
    return np.stack([(packed >> (k * width)) & ((1 << width) - 1) for k in range(count)], axis=1)


def _pack(words, width):
    """``(len, count)`` words -> packed port values (Python ints)."""
    words = np.asarray(words, dtype=object)
    packed = np.zeros(len(words), dtype=object)
    for k in range(words.shape[1]):
        packed = packed + (words[:, k] << (k * width))
    return packed


class FusionArrayModel:
    #: Cycles of stimulus for ``nnarith sim`` without ``--vectors``: about 40 s on Icarus.
    default_count = 20_000

    def __init__(self, unit):
        p = unit.params
        self.rows, self.cols, self.acc_width = p["rows"], p["cols"], p["acc_width"]
        self.max_prec, self.min_prec, self.word = p["max_prec"], p["min_prec"], unit.word

    def _vector_words(self, rng, count, words):
        return _pack(random_bits(rng, self.word, count * words).astype(object)
                     .reshape(count, words), self.word)

    def stimulus(self, rng, count):
        rows, cols = self.rows, self.cols
        legal = np.flatnonzero(decode_mode(np.arange(1 << MODE_BITS), self.max_prec,
                                           self.min_prec)[4])
        mode = rng.permutation(np.resize(legal, count))      # every legal mode when count allows
        mode = np.where(rng.random(count) < ILLEGAL_RATE,
                        rng.integers(0, 1 << MODE_BITS, count), mode)
        load = rng.random(count) < LOAD_RATE
        load[0] = True
        clear = rng.random(count) < CLEAR_RATE
        a = self._vector_words(rng, count, rows)
        w = self._vector_words(rng, count, rows * cols)
        # Largest products at full precision, unsigned: all ones everywhere.
        top = max(precisions(self.max_prec, self.min_prec))
        ones = (1 << self.word) - 1
        march = encode_mode(top, top, False, False, self.min_prec)
        steps = MARCH_STEPS
        a = np.concatenate([a, np.full(steps, _pack([[ones] * rows], self.word)[0], dtype=object)])
        w = np.concatenate([w, np.full(steps, _pack([[ones] * rows * cols], self.word)[0],
                                       dtype=object)])
        mode = np.concatenate([mode, np.full(steps, march)])
        load = np.concatenate([load, np.arange(steps) == 0])
        clear = np.concatenate([clear, np.arange(steps) == 0])
        return {"a": a, "w": w, "w_load": load.astype(np.uint64),
                "mode": mode.astype(np.uint64), "clear": clear.astype(np.uint64)}

    def expected(self, inputs):
        rows, cols, word = self.rows, self.cols, self.word
        a = _words(inputs["a"], rows, word)
        w = _words(inputs["w"], rows * cols, word)
        load = np.asarray(inputs["w_load"]).astype(bool)
        count = len(load)
        # Each vector uses the weights of the latest load up to it (none: 0).
        latest = np.maximum.accumulate(np.where(load, np.arange(count), -1))
        held = np.where(latest[:, None] >= 0, w[np.maximum(latest, 0)], 0)
        mode, clear = np.asarray(inputs["mode"]), np.asarray(inputs["clear"])
        y = []
        for c in range(cols):
            total = np.zeros(count, dtype=object)
            for r in range(rows):
                acc, error = fusion_accumulate(a[:, r].astype(np.uint64),
                                               held[:, r * cols + c].astype(np.uint64), mode,
                                               clear, self.acc_width, self.max_prec,
                                               self.min_prec)
                total = total + acc.astype(object)
            y.append(to_bits(total, self.acc_width))
        return {"y": _pack(np.stack(y, axis=1), self.acc_width), "mode_error":
                error.astype(np.uint64)}


def matrix_product_inputs(A, W, pa, pb, a_signed, w_signed, rows=4, cols=4, max_prec=8,
                          min_prec=2):
    """Vectors that make a ``rows`` x ``cols`` array compute ``A @ W``.

    ``A`` (M x K) streams one row per vector, ``W`` (K x N) is held. Each PE
    takes ``n = pair_count(pa, pb)`` consecutive k's, so one vector covers a
    K-tile of ``rows * n`` and an N-tile of ``cols``; zero padding fills
    partial tiles. For each N-tile and row of ``A`` the K-tiles follow each
    other, the first clearing, each loading its weights (when there is one
    K-tile, only the first row of an N-tile loads). Returns ``(inputs,
    readout)``: ``readout[m, j]`` is the vector whose ``y`` holds row ``m`` of
    N-tile ``j``.
    """
    A, W = np.asarray(A, dtype=np.int64), np.asarray(W, dtype=np.int64)
    (M, K), N = A.shape, W.shape[1]
    n = pair_count(pa, pb, max_prec)
    word = max_prec * max_prec // min_prec
    k_tile = rows * n
    k_tiles, n_tiles = -(-K // k_tile), -(-N // cols)
    A = np.pad(A, ((0, 0), (0, k_tiles * k_tile - K)))
    W = np.pad(W, ((0, k_tiles * k_tile - K), (0, n_tiles * cols - N)))

    def packed(values, prec):
        """Packed words of ``values`` (..., n), pair i in bits [i*prec, (i+1)*prec)."""
        bits = values.astype(object) & ((1 << prec) - 1)
        return sum(bits[..., i] << (i * prec) for i in range(n))

    # a_words[m, t, r]: row r's activation word of K-tile t; w_words[t, j, r, c] likewise.
    a_words = packed(A.reshape(M, k_tiles, rows, n), pa)
    w_words = packed(W.reshape(k_tiles, rows, n, n_tiles, cols).transpose(0, 3, 1, 4, 2), pb)
    mode = encode_mode(pa, pb, a_signed, w_signed, min_prec)
    vectors = {"a": [], "w": [], "w_load": [], "mode": [], "clear": []}
    readout = np.zeros((M, n_tiles), dtype=np.int64)
    for j in range(n_tiles):
        for m in range(M):
            for t in range(k_tiles):
                vectors["a"].append(_pack([a_words[m, t]], word)[0])
                vectors["w"].append(_pack([w_words[t, j].ravel()], word)[0])
                vectors["w_load"].append(int(k_tiles > 1 or m == 0))
                vectors["mode"].append(mode)
                vectors["clear"].append(int(t == 0))
            readout[m, j] = len(vectors["mode"]) - 1
    inputs = {name: np.array(values, dtype=object if name in ("a", "w") else np.uint64)
              for name, values in vectors.items()}
    return inputs, readout


def matrix_product_result(y, readout, N, cols=4, acc_width=32):
    """The M x N product from the array's ``y`` outputs and ``readout``."""
    y = np.asarray(y, dtype=object)
    M, n_tiles = readout.shape
    out = np.zeros((M, n_tiles * cols), dtype=object)
    for m in range(M):
        for j in range(n_tiles):
            word = int(y[readout[m, j]])
            for c in range(cols):
                value = (word >> (c * acc_width)) & ((1 << acc_width) - 1)
                out[m, j * cols + c] = value - ((value >> (acc_width - 1)) << acc_width)
    return out[:, :N].astype(np.int64)
