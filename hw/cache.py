"""What nnarith keeps between runs, under ``NNARITH_BUILD`` (default
``build``), and the hashes that say when a kept result still holds: the
source of the modules that made it, the versions of the tools they ran and
the inputs. A result whose key matches came out of the same code and tools,
so it would come out the same again (comments and docstrings are not code).
"""

import ast
import fcntl
import hashlib
import importlib.util
import json
import os
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path

__all__ = ["BUILD_ROOT", "digest", "source_digest", "versions", "file_lock", "cached"]

BUILD_ROOT = Path(os.environ.get("NNARITH_BUILD", "build"))


def digest(*parts: bytes) -> str:
    """SHA-256 of ``parts`` (NUL between them), hexadecimal."""
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


@lru_cache(maxsize=None)
def source_digest(*modules: str) -> str:
    """The hash of the code of ``modules`` (dotted names; a package stands
    for every module under it): their syntax trees without docstrings, so
    that an edit of a comment or a docstring keeps every result, while any
    change to what the code does invalidates them."""
    files = []
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec.submodule_search_locations:
            files += sorted(f for folder in spec.submodule_search_locations
                            for f in Path(folder).rglob("*.py"))
        else:
            files.append(Path(spec.origin))
    return digest(*(_code(f) for f in files))


def _code(path: Path) -> bytes:
    """The syntax tree of a Python file, docstrings dropped (comments and
    layout are not in it), as text."""
    tree = ast.parse(path.read_bytes(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            first = node.body[0] if node.body else None
            if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    and isinstance(first.value.value, str)):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree).encode()


@lru_cache(maxsize=None)
def versions(*distributions: str) -> dict:
    """The installed version of each Python distribution (None where missing)."""
    found = {}
    for name in distributions:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


@contextmanager
def file_lock(path):
    """An exclusive lock on ``path`` (a file) while the block runs: parallel
    processes that need one result make it once, one after the other."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cached(kind: str, key: str, compute):
    """``compute()`` (a JSON value) kept as ``BUILD_ROOT/cache/<kind>/<key>.json``:
    made once per key, read back afterwards; a process that asks while another
    makes it waits for that result."""
    path = BUILD_ROOT / "cache" / kind / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(path.with_suffix(".lock")):
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        value = compute()
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(value), encoding="utf-8")
        os.replace(partial, path)
    return value
