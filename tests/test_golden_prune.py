"""Magnitude pruning of the digits networks: the 2:4 and unstructured masks by hand
and against brute force, the 2:4 mask against sparse24's compression, pruning the
MLP and the CNN (in the im2col layout), the masked fine-tune (pruned weights stay
0.0, deterministic, recovers accuracy), argument checks, and train() unchanged by
the refactor that shares its Adam loop with the fine-tune."""

import hashlib
import itertools
import re

import numpy as np
import pytest

from nnarith.golden.network import (
    CNN, MLP, accuracy, load_digits_split, train, train_from,
)
from nnarith.golden.prune import (
    STRUCTURES, fine_tune, mask_24, mask_magnitude, prune, weight_names,
)
from nnarith.golden.sparse24 import compress_24, decompress_24, meta_indices


@pytest.fixture(scope="module")
def mlp(models):
    return models["mlp"]


@pytest.fixture(scope="module")
def small_cnn(split):
    """A CNN after one epoch: enough for layout and masking checks, fast."""
    return train("cnn", split, epochs=1)


def groups_of(mask, k):
    """``(g, column, rows)`` for every 2:4 group of a ``(K, N)`` mask."""
    for g in range(0, k, 4):
        for j in range(mask.shape[1]):
            yield g, j, mask[g:g + 4, j]


def brute_force_keep(magnitudes, kept):
    """The kept positions: the subset of ``kept`` positions with the largest sum of
    magnitudes, the lexicographically first among equals (= ties to lower indices).
    Exact on integer magnitudes."""
    best, best_sum = None, None
    for subset in itertools.combinations(range(len(magnitudes)), kept):
        total = sum(int(magnitudes[i]) for i in subset)
        if best_sum is None or total > best_sum:
            best, best_sum = subset, total
    return set(best)


# ---------------------------------------------------------------- mask_24

def test_mask_24_by_hand():
    # K = 9 (the CNN's conv1): groups rows 0..3, 4..7 and the partial row 8.
    w = np.array([[1, -3, 2, 2, 5],
                  [4, 0, -2, 2, 5],
                  [-4, 1, 2, 2, 5],
                  [0, 0, 0, 2, 5],
                  [7, 7, 1, 1, 1],
                  [1, 1, 1, 1, 1],
                  [9, -9, 9, 9, 9],
                  [0, 0, 0, 0, 0],
                  [1, 2, 3, 4, 0]], dtype=np.float32)
    expected = np.array([[0, 1, 1, 1, 1],      # col 0: |4| and |-4| (rows 1, 2)
                         [1, 0, 1, 1, 1],      # col 2: 2, -2, 2 tie: rows 0, 1
                         [1, 1, 0, 0, 0],      # cols 3, 4: all equal: rows 0, 1
                         [0, 0, 0, 0, 0],
                         [1, 1, 1, 1, 1],      # cols 2..4: 1, 1, 9, 0: rows 4 and 6
                         [0, 0, 0, 0, 0],
                         [1, 1, 1, 1, 1],
                         [0, 0, 0, 0, 0],
                         [1, 1, 1, 1, 1]],     # partial group of one: kept, even 0
                        dtype=bool)
    np.testing.assert_array_equal(mask_24(w), expected)
    # Integers rank exactly, int64 extremes included; float64 too.
    np.testing.assert_array_equal(mask_24(np.array([[-2**63], [2**63 - 1], [5], [-6]])),
                                  [[True], [True], [False], [False]])
    np.testing.assert_array_equal(mask_24(np.array([[1.0], [1.0 + 2**-52], [1.0], [-1.0]])),
                                  [[True], [True], [False], [False]])
    np.testing.assert_array_equal(mask_24([[0.5, -0.25]]), [[True, True]])


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 72])
def test_mask_24_groups_keep_two_and_the_largest(k):
    rng = np.random.default_rng(k)
    for w in (rng.integers(-3, 4, size=(k, 7)),        # many ties and zeros
              rng.standard_normal((k, 7)).astype(np.float32)):
        mask = mask_24(w)
        assert mask.shape == w.shape and mask.dtype == bool
        for g, j, kept in groups_of(mask, k):
            size = len(kept)
            assert kept.sum() == min(2, size)
            if w.dtype.kind in "iu":
                want = brute_force_keep(np.abs(w[g:g + 4, j]), min(2, size))
                assert set(np.flatnonzero(kept)) == want
            else:                                          # no ties: the two largest
                magnitudes = np.abs(w[g:g + 4, j])
                assert magnitudes[kept].min(initial=np.inf) >= magnitudes[~kept].max(
                    initial=-np.inf)


def test_mask_24_is_sparse24_compression_of_each_column():
    """Column j of W is one 2:4 vector along K: compress_24 picks the same positions."""
    w = np.random.default_rng(1).integers(-4, 5, size=(64, 10))
    _, meta = compress_24(w.T)
    index0, index1 = meta_indices(meta)
    expected = np.zeros((10, 16, 4), dtype=bool)
    np.put_along_axis(expected, index0[..., None], True, axis=2)
    np.put_along_axis(expected, index1[..., None], True, axis=2)
    np.testing.assert_array_equal(mask_24(w), expected.reshape(10, 64).T)


# ---------------------------------------------------------------- mask_magnitude

@pytest.mark.parametrize("shape", [(1,), (2, 3), (3, 2, 1), (8,)])
def test_mask_magnitude_against_brute_force(shape):
    rng = np.random.default_rng(len(shape))
    w = rng.integers(-3, 4, size=shape)
    for kept in range(1, w.size + 1):
        density = kept / w.size
        assert round(density * w.size) == kept
        mask = mask_magnitude(w, density)
        assert mask.shape == w.shape and mask.dtype == bool
        assert set(np.flatnonzero(mask)) == brute_force_keep(np.abs(w).reshape(-1), kept)
        np.testing.assert_array_equal(mask_magnitude(w.astype(np.float32), density), mask)


def test_mask_magnitude_ties_and_rounding():
    w = np.ones((2, 5))
    # round() halves to even: 2.5 -> 2, 7.5 -> 8, 0.5 -> 0, 1.5 -> 2.
    for density, kept in ((0.25, 2), (0.75, 8), (0.05, 0), (0.15, 2), (1, 10), (0.1, 1)):
        mask = mask_magnitude(w, density)
        assert mask.sum() == kept == round(density * 10)
        assert np.array_equal(np.flatnonzero(mask), np.arange(kept))     # lower flat index
    w = np.array([[3.0, -1.0], [-3.0, 2.0]])
    np.testing.assert_array_equal(mask_magnitude(w, 0.25), [[True, False], [False, False]])
    np.testing.assert_array_equal(mask_magnitude(w, 0.75), [[True, False], [True, True]])
    big = np.random.default_rng(0).standard_normal((64, 10))
    assert mask_magnitude(big, 0.1).sum() == 64 and mask_magnitude(big, 0.5).sum() == 320


@pytest.mark.parametrize("call, message", [
    (lambda: mask_24(np.zeros(4)), "weight: must be a (K, N) matrix"),
    (lambda: mask_24(np.zeros((0, 3))), "weight: must be a (K, N) matrix"),
    (lambda: mask_24([[np.nan, 1.0]]), "weight: must not hold NaN"),
    (lambda: mask_24(np.ones((4, 2), dtype=bool)), "weight: must be an array of real"),
    (lambda: mask_24("w1"), "weight: must be an array of real"),
    (lambda: mask_24(np.ones((4, 2), dtype=complex)), "weight: must be an array of real"),
    (lambda: mask_magnitude(np.ones(4), 0), "density: must be a number in (0, 1]"),
    (lambda: mask_magnitude(np.ones(4), 1.5), "density: must be a number in (0, 1]"),
    (lambda: mask_magnitude(np.ones(4), np.nan), "density: must be a number in (0, 1]"),
    (lambda: mask_magnitude(np.ones(4), True), "density: must be a number in (0, 1]"),
    (lambda: mask_magnitude(np.ones(4), "0.5"), "density: must be a number in (0, 1]"),
    (lambda: mask_magnitude(np.ones(0), 0.5), "weight: must hold at least one entry"),
])
def test_masks_refuse_bad_arguments(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()


# ---------------------------------------------------------------- prune

def test_prune_mlp_24(mlp):
    pruned, masks = prune(mlp, structure="2:4")
    assert type(pruned) is MLP and list(masks) == ["w1", "w2"] == weight_names(mlp)
    for name in ("w1", "w2"):
        w = mlp.params[name]
        np.testing.assert_array_equal(masks[name], mask_24(w))
        np.testing.assert_array_equal(pruned.params[name], np.where(masks[name], w, 0))
        assert not np.signbit(pruned.params[name][~masks[name]]).any()     # +0.0
        assert masks[name].mean() == 0.5
        # What the 2:4 hardware format holds: compressing each column loses nothing.
        values, meta = compress_24(pruned.params[name].T)
        np.testing.assert_array_equal(decompress_24(values, meta).T, pruned.params[name])
    for name in ("b1", "b2"):
        np.testing.assert_array_equal(pruned.params[name], mlp.params[name])
    assert pruned.config == {**mlp.config, "pruning": {
        "structure": "2:4", "density": 0.5, "skip": [], "fine_tune": None}}
    assert "pruning" not in mlp.config


def test_prune_cnn_in_the_im2col_layout(small_cnn):
    """Conv weights are pruned as the (9 * C_in, C_out) GEMM operand: the 2:4 groups
    of conv2 are 4 consecutive input channels of one kernel tap."""
    pruned, masks = prune(small_cnn, structure="2:4", skip=["w3"])
    assert type(pruned) is CNN and masks["w1"].shape == (9, 8) and masks["w2"].shape == (72, 16)
    # conv1, K = 9: rows 0..3 and 4..7 keep 2 each, the partial row 8 is always kept.
    assert (masks["w1"].sum(axis=0) == 5).all() and masks["w1"][8].all()
    hwio = masks["w2"].reshape(3, 3, 8, 16)
    assert (hwio.reshape(3, 3, 2, 4, 16).sum(axis=3) == 2).all()
    assert masks["w3"].all()
    np.testing.assert_array_equal(pruned.w3, small_cnn.w3)
    np.testing.assert_array_equal(pruned.w2, np.where(masks["w2"], small_cnn.w2, 0))
    assert pruned.config["pruning"]["skip"] == ["w3"]
    assert pruned.layers()[1].weight is pruned.w2       # what the GEMM multiplies


def test_prune_unstructured(mlp, small_cnn):
    for model, density in ((mlp, 0.25), (small_cnn, 0.1), (mlp, 1.0)):
        pruned, masks = prune(model, structure="unstructured", density=density, skip=("w2",))
        for name in weight_names(model):
            if name == "w2":
                assert masks[name].all()
                np.testing.assert_array_equal(pruned.params[name], model.params[name])
                continue
            w = model.params[name]
            assert masks[name].sum() == round(density * w.size)
            np.testing.assert_array_equal(masks[name], mask_magnitude(w, density))
            np.testing.assert_array_equal(pruned.params[name], np.where(masks[name], w, 0))
        assert pruned.config["pruning"] == {"structure": "unstructured", "density": density,
                                            "skip": ["w2"], "fine_tune": None}


@pytest.mark.parametrize("kwargs, message", [
    ({"structure": "2:8"}, "structure: must be one of"),
    ({"structure": None}, "structure: must be one of"),
    ({"structure": "2:4", "density": 0.5}, "density: must be None for structure '2:4'"),
    ({"structure": "unstructured"}, "density: structure 'unstructured' needs a density"),
    ({"structure": "unstructured", "density": 0}, r"density: must be a number in \(0, 1\]"),
    ({"structure": "unstructured", "density": 1.01}, r"density: must be a number in \(0, 1\]"),
    ({"structure": "unstructured", "density": -0.5}, r"density: must be a number in \(0, 1\]"),
    ({"structure": "unstructured", "density": float("inf")}, "density: must be a number"),
    ({"structure": "2:4", "skip": "w1"}, "skip: must be a collection of weight names"),
    ({"structure": "2:4", "skip": [1]}, "skip: must be a collection of weight names"),
    ({"structure": "2:4", "skip": ("b1",)}, "skip: unknown weights \\['b1'\\]"),
    ({"structure": "2:4", "skip": ("w1", "w3")}, "skip: unknown weights \\['w3'\\]"),
])
def test_prune_refuses_bad_arguments(mlp, kwargs, message):
    with pytest.raises(ValueError, match=message):
        prune(mlp, **kwargs)
    with pytest.raises(ValueError, match="model: must be an MLP or a CNN"):
        prune(mlp.params, structure="2:4")
    assert STRUCTURES == ("unstructured", "2:4")


# ---------------------------------------------------------------- fine_tune

def test_fine_tune_keeps_pruned_weights_zero_and_is_deterministic(split, small_cnn, mlp):
    for model, kwargs in ((mlp, {"structure": "2:4"}),
                          (small_cnn, {"structure": "unstructured", "density": 0.25})):
        pruned, masks = prune(model, **kwargs)
        tuned = fine_tune(pruned, split, masks, epochs=2)
        again = fine_tune(pruned, split, masks, epochs=2)
        other = fine_tune(pruned, split, masks, epochs=2, seed=1)
        assert type(tuned) is type(model)
        for name, p in tuned.params.items():
            assert p.dtype == np.float32
            np.testing.assert_array_equal(p, again.params[name])
            keep = masks.get(name)
            if keep is not None:
                assert (p[~keep] == 0).all() and not np.signbit(p[~keep]).any()
                assert (p[keep] != pruned.params[name][keep]).any()
        assert not np.array_equal(tuned.w1, other.w1)
        assert tuned.config == {**pruned.config, "pruning": {
            **pruned.config["pruning"], "fine_tune": {"epochs": 2, "lr": 1e-3, "seed": 0}}}


def test_fine_tune_masks_from_the_start_and_all_true_is_plain_training(split, mlp):
    # A dense model with a mask: the masked-out weights are zero from the first step.
    keep = {"w1": mask_magnitude(mlp.w1, 0.5)}
    tuned = fine_tune(mlp, split, keep, epochs=1, lr=3e-3, seed=5)
    assert (tuned.w1[~keep["w1"]] == 0).all() and (tuned.w2 != mlp.w2).any()
    assert tuned.config["pruning"] == {"structure": None, "density": None, "skip": [],
                                       "fine_tune": {"epochs": 1, "lr": 3e-3, "seed": 5}}
    # All-True masks change nothing against the unmasked loop.
    ones = {name: np.ones(mlp.params[name].shape, dtype=bool) for name in weight_names(mlp)}
    plain = train_from(mlp, split, epochs=1, lr=3e-3, seed=5)
    masked = fine_tune(mlp, split, ones, epochs=1, lr=3e-3, seed=5)
    for name, p in plain.items():
        np.testing.assert_array_equal(masked.params[name], p)


def test_fine_tune_recovers_the_accuracy_pruning_lost(split, mlp):
    """2:4 costs the default MLP test accuracy (0.961 -> 0.936); 10 epochs of masked
    fine-tune win it back (0.967). Over seeds 0..4 of split and training, pruned
    0.86..0.96 and fine-tuned 0.967..0.981: a property, not a number."""
    pruned, masks = prune(mlp, structure="2:4")
    tuned = fine_tune(pruned, split, masks)
    assert accuracy(tuned, split.x_test, split.y_test) >= accuracy(
        pruned, split.x_test, split.y_test)
    assert accuracy(tuned, split.x_train, split.y_train) >= accuracy(
        pruned, split.x_train, split.y_train)


@pytest.mark.parametrize("args, kwargs, message", [
    ((None,), {}, "masks: must be a mapping of weight names"),
    (([True],), {}, "masks: must be a mapping of weight names"),
    (({"w9": np.ones((64, 64), dtype=bool)},), {}, r"masks: MLP has no weights \['w9'\]"),
    (({"b1": np.ones(64, dtype=bool)},), {}, r"masks: MLP has no weights \['b1'\]"),
    (({"w1": np.ones((64, 63), dtype=bool)},), {}, r"masks: 'w1' must be a bool array of shape"),
    (({"w1": np.ones((64, 64), dtype=int)},), {}, r"masks: 'w1' must be a bool array of shape"),
    (({"w1": "all"},), {}, r"masks: 'w1' must be a bool array of shape"),
    ((), {"epochs": 0}, "epochs: must be an integer in 1..1000"),
    ((), {"epochs": 1001}, "epochs: must be an integer in 1..1000"),
    ((), {"epochs": 2.0}, "epochs: must be an integer in 1..1000"),
    ((), {"epochs": True}, "epochs: must be an integer in 1..1000"),
    ((), {"lr": 0}, r"lr: must be a number in \(0.0, 1.0\]"),
    ((), {"lr": 1.5}, r"lr: must be a number in \(0.0, 1.0\]"),
    ((), {"lr": float("nan")}, r"lr: must be a number in \(0.0, 1.0\]"),
    ((), {"seed": -1}, "seed: must be an integer in 0..4294967295"),
])
def test_fine_tune_refuses_bad_arguments(split, mlp, args, kwargs, message):
    masks = args[0] if args else {"w1": np.ones((64, 64), dtype=bool)}
    with pytest.raises(ValueError, match=message):
        fine_tune(mlp, split, masks, **kwargs)


def test_fine_tune_refuses_bad_model_and_split(split, mlp):
    masks = {"w1": np.ones((64, 64), dtype=bool)}
    with pytest.raises(ValueError, match="model: must be an MLP or a CNN"):
        fine_tune(mlp.params, split, masks)
    with pytest.raises(ValueError, match="split: must be a DigitsSplit"):
        fine_tune(mlp, (split.x_train, split.y_train), masks)


# ---------------------------------------------------------------- train() unchanged

def weights_sha256(model):
    digest = hashlib.sha256()
    for name, p in model.params.items():
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(p, dtype="<f4").tobytes())
    return digest.hexdigest()


# sha256 of the float32 parameters (name, then little-endian bytes, in SHAPES
# order) that train() gave with the default split BEFORE its Adam loop was
# shared with fine_tune (golden/network.py of commit d3514cf). Training runs in
# float64 on one BLAS thread, so these hold on this machine; another BLAS could
# in principle round one float64 differently (see golden/network.py).
TRAIN_SHA256 = {
    ("mlp", 2): "483980b61ded805bad3ce4c9c0316fcb3ba8c46541df65f82eed390374c112b2",
    ("cnn", 1): "cacb6b74e365e74f6e2db4aa09b91243b317f5bd8b8c3b222c475a01754a4dbf",
    ("mlp", None): "25154b9bcd68e511bd413692c2ed1824e66a2f5b9260549cda71fa4bfe237cb5",
    ("cnn", None): "ab5127721ccfad7ee05f321ad24f1499c595ba5d8581fe6c80138edd4030e95b",
}


@pytest.mark.parametrize("kind, epochs", list(TRAIN_SHA256))
def test_train_is_unchanged_by_the_shared_adam_loop(split, models, kind, epochs):
    model = models[kind] if epochs is None else train(kind, split, epochs=epochs)
    assert weights_sha256(model) == TRAIN_SHA256[kind, epochs]
    assert split.config() == load_digits_split().config()
