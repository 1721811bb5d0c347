"""Golden-model throughput on one core: products per second, best of 3 runs
over 4 M random operands. Writes build/bench/golden_speed.{json,md}.
Run: make bench (or python bench/golden_speed.py).
"""

import time

import numpy as np

from nnarith.golden.fixed import fixed_mul
from nnarith.golden.float import multiply
from nnarith.golden.formats import QFormat

from results import publish

N = 4_000_000


def rate(fn):
    fn()                                   # warm up: allocation, page faults
    best = min(_timed(fn) for _ in range(3))
    return N / best


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main():
    rng = np.random.default_rng(0)
    i8 = rng.integers(-128, 127, (2, N), endpoint=True)
    h = rng.integers(0, 1 << 16, (2, N), dtype=np.uint64)
    s = rng.integers(0, 1 << 32, (2, N), dtype=np.uint64)
    modes = rng.integers(0, 5, N)
    cases = [
        ("int8 x int8 -> Q8.4, half-even, saturate",
         lambda: fixed_mul(i8[0], i8[1], QFormat(8), QFormat(8), QFormat(12, 4))),
        ("fp16 x fp16 -> fp16, RNE", lambda: multiply(h[0], h[1], "fp16")),
        ("fp16 x fp16 -> fp16, mode per element", lambda: multiply(h[0], h[1], "fp16", rm=modes)),
        ("bf16 x bf16 -> bf16, RNE", lambda: multiply(h[0], h[1], "bf16")),
        ("fp32 x fp32 -> fp32, RNE", lambda: multiply(s[0], s[1], "fp32")),
    ]
    rows = [{"case": name, "per_s": round(rate(fn))} for name, fn in cases]
    lines = ["| golden model (one core) | products/s |", "|---|---|"]
    lines += [f"| {r['case']} | {r['per_s'] / 1e6:.1f} M |" for r in rows]
    publish("golden_speed", rows, lines)


if __name__ == "__main__":
    main()
