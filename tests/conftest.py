"""Fixtures shared by the digits-network tests: the seeded split and the two
trained networks (each trained once per test module)."""

import pytest

from nnarith.golden.network import load_digits_split, train


@pytest.fixture(scope="module")
def split():
    return load_digits_split()


@pytest.fixture(scope="module")
def models(split):
    return {kind: train(kind, split) for kind in ("mlp", "cnn")}
