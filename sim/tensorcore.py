"""Loader of the real-GPU tensor-core data (``shared/tensorcore``, see its SOURCE.txt).

Each set holds 5,000 dot products ``d = c + Σ a_k·b_k`` measured on one GPU: a and b
as fp16/bf16/tf32/E4M3/E5M2 values widened to fp32 (hex), c as fp32 and d as fp32 or as
fp16 widened to fp32 (32-character binary strings). The H100 FP8 -> fp32 sets were
measured with wgmma and c = +0 (SPEC_fp8_tf32.md §5), their fp16 sets with mma.sync. The data live outside the
repository; ``NNARITH_TENSORCORE_DATA`` points at a copy.
"""

import functools
import os
from pathlib import Path

import numpy as np

from ..golden.float import RNE, decode, round_pack
from ..golden.formats import float_format

__all__ = ["ENV_VAR", "GPU_FOLDERS", "IN_FORMATS", "SPEC_DIRECTED", "data_root", "available_sets",
           "instruction", "load_set", "narrow"]

ENV_VAR = "NNARITH_TENSORCORE_DATA"
#: Folder of each GPU that has measured data.
GPU_FOLDERS = {"v100": "V100", "a100": "A100", "h100": "H100"}


def data_root():
    """The data folder: ``$NNARITH_TENSORCORE_DATA``, else ``shared/tensorcore`` beside the repo."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path(__file__).resolve().parents[2] / "shared" / "tensorcore"


#: Input formats of the data sets; the FP8 folders and files are upper case.
IN_FORMATS = ("fp16", "bf16", "tf32", "e4m3", "e5m2")


def _files(gpu, in_fmt, out_fmt):
    label = in_fmt.upper() if in_fmt.startswith("e") else in_fmt
    folder = data_root() / GPU_FOLDERS[gpu] / label
    name = GPU_FOLDERS[gpu]
    return {"a": folder / f"a_{name}_{label}.txt", "b": folder / f"b_{name}_{label}.txt",
            "c": folder / f"c_{name}_fp32.txt", "d": folder / f"d_{name}_{out_fmt}.txt"}


def available_sets():
    """``(gpu, in_fmt, out_fmt)`` of every complete set in :func:`data_root`."""
    return [(gpu, in_fmt, out_fmt)
            for gpu in GPU_FOLDERS for in_fmt in IN_FORMATS for out_fmt in ("fp32", "fp16")
            if all(path.is_file() for path in _files(gpu, in_fmt, out_fmt).values())]


def narrow(fp32_bits, fmt):
    """fp32 patterns of values that ``fmt`` holds exactly, as ``fmt`` patterns
    (ValueError if one is not exact)."""
    fmt = float_format(fmt)
    fp32_bits = np.asarray(fp32_bits, dtype=np.uint64)
    d = decode(fp32_bits, "fp32")
    bits, flags = round_pack(d.sign, d.sig, d.exp, fmt, RNE)
    bad = (flags != 0) | d.is_nan | d.is_inf
    if bad.any():
        raise ValueError(f"fp32 pattern {int(fp32_bits[bad][0]):08x} is not an exact "
                         f"finite {fmt.name} value")
    return bits


@functools.lru_cache(maxsize=None)
def _read(path, base):
    """The integers of a text file, one row per line."""
    with open(path) as lines:
        return np.array([[int(word, base) for word in line.split()] for line in lines
                         if line.strip()], dtype=np.uint64)


def instruction(gpu, in_fmt, out_fmt):
    """The instruction a set was measured with where the GPU has a choice (Hopper
    FP8: wgmma for fp32 output, mma.sync for fp16), else None."""
    if gpu in ("h100", "h200") and in_fmt in ("e4m3", "e5m2"):
        return "wgmma" if out_fmt == "fp32" else "mma"
    return None


def load_set(gpu, in_fmt, out_fmt):
    """One data set: ``a``, ``b`` ``(n, K)`` in ``in_fmt``; ``c`` and the measured ``d``
    ``(n,)`` in ``out_fmt``; ``c_fp32`` as stored; ``instr`` as :func:`instruction`.
    For fp16 outputs ``c`` is the fp32 c rounded to fp16 (RNE), as the harness did
    before the MMA (SPEC §4); the wgmma sets ran with c = +0 whatever the c file holds.
    """
    if gpu not in GPU_FOLDERS:
        raise ValueError(f"gpu: data exist for {', '.join(GPU_FOLDERS)}, got {gpu!r}")
    files = _files(gpu, in_fmt, out_fmt)
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"no {gpu} {in_fmt}->{out_fmt} data (set {ENV_VAR}): "
                                f"missing {', '.join(missing)}")
    c_fp32 = _read(files["c"], 2)[:, 0].copy()
    d_fp32 = _read(files["d"], 2)[:, 0]
    instr = instruction(gpu, in_fmt, out_fmt)
    if instr == "wgmma":
        c, d = np.zeros_like(c_fp32), d_fp32.copy()
    elif out_fmt == "fp32":
        c, d = c_fp32.copy(), d_fp32.copy()
    else:
        dc = decode(c_fp32, "fp32")
        c, _ = round_pack(dc.sign, dc.sig, dc.exp, out_fmt, RNE)
        d = narrow(d_fp32, out_fmt)
    return {"gpu": gpu, "in_fmt": in_fmt, "out_fmt": out_fmt, "instr": instr,
            "a": narrow(_read(files["a"], 16), in_fmt), "b": narrow(_read(files["b"], 16), in_fmt),
            "c": c, "c_fp32": c_fp32, "d": d}


#: SPEC.md §5's directed tests: id, in_fmt, out_fmt, a, b, c (hex), then the expected d
#: on V100 | A100/Ada | H100/B200 (``n/a`` where the GPU lacks the mode).
SPEC_DIRECTED = [
    ("T1a", "fp16", "fp32", "3c00 0c00", "3c00 8c00", "00000000", "3f800000 3f7fffff 3f7fffff"),
    ("T1b", "fp16", "fp32", "3c00 0c00", "3c00 8800", "00000000", "3f800000 3f800000 3f7fffff"),
    ("T2", "fp16", "fp32", "3e00 0c00", "3e00 8c00", "00000000", "40100000 400fffff 400fffff"),
    ("T3", "fp16", "fp32", "4400", "3c00", "bf800001", "40400000 40400000 403fffff"),
    ("T4", "bf16", "fp32", "3f81 bf80", "3f80 3f80", "b3000001", "n/a 3c000000 3bffffc0"),
    ("T5a", "fp16", "fp32", "3c00 bc00", "3c00 3c00", "80000000", "00000000 00000000 00000000"),
    ("T5b", "bf16", "fp32", "1a00", "9a00", "00000000", "n/a 80000000 80000000"),
    ("T6", "bf16", "fp32", "1c80 1880", "1c80 9800", "00000000", "n/a 00000200 000001ff"),
    ("T7", "fp16", "fp16", "0c00 0002", "0800 0002", "0000", "0000 0000 0001"),
    ("T8a", "fp16", "fp16", "7bff 7bff", "3c00 3c00", "0000", "7c00 7c00 7c00"),
    ("T8b", "bf16", "fp32", "7f00", "4000", "00000000", "n/a 7f800000 7f800000"),
    ("T8c", "fp16", "fp32", "7c00 3c00", "0000 3c00", "3f800000", "7fffffff 7fffffff 7fffffff"),
]
