"""Fixtures shared by the tests: a fresh folder the yowasp tools can see;
for the digits-network tests, the seeded split and the two trained networks
(each trained once per test module)."""

import shutil
import uuid
from pathlib import Path

import pytest

from nnarith.golden.network import load_digits_split, train


@pytest.fixture
def here(request):
    """A fresh folder under ``build/<test module>``, removed afterwards: yowasp
    tools cannot see /tmp."""
    folder = Path("build", request.module.__name__.rpartition(".")[2],
                  uuid.uuid4().hex[:12]).resolve()
    folder.mkdir(parents=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def split():
    return load_digits_split()


@pytest.fixture(scope="module")
def models(split):
    return {kind: train(kind, split) for kind in ("mlp", "cnn")}


SLOW_IN_CI = Path(__file__).with_name("slow_in_ci.txt")


@pytest.hookimpl(tryfirst=True)      # before -m deselects by marker
def pytest_collection_modifyitems(config, items):
    """Mark the tests listed in slow_in_ci.txt slow; a line that no longer
    names a test of a file collected whole is an error, not a silent no-op."""
    listed = {line for line in SLOW_IN_CI.read_text().splitlines()
              if line and not line.startswith("#")}
    for item in items:
        if item.nodeid in listed:
            item.add_marker(pytest.mark.slow)
    whole = [Path(arg).resolve() for arg in config.args if "::" not in arg]
    collected = {item.nodeid for item in items}
    stale = sorted(nodeid for nodeid in listed - collected
                   if any(Path(config.rootpath, nodeid.split("::")[0]).resolve().is_relative_to(w)
                          for w in whole))
    if stale:
        raise pytest.UsageError(f"{SLOW_IN_CI.name}: no such test: {stale[0]}"
                                f"{f' (and {len(stale) - 1} more)' if len(stale) > 1 else ''}")
