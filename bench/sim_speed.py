"""Simulation throughput: cocotb vectors/s on Icarus and Verilator, and golden
model products/s in NumPy. Writes build/bench/sim_speed.{json,md}.
Run: make bench (or python bench/sim_speed.py).

cocotb figures are for the streaming loop alone (timed inside the testbench),
not for Verilog compilation or simulator start-up.
"""

import json
import time
from pathlib import Path

import numpy as np

from golden.fixed import fixed_mul
from golden.formats import QFormat
from sim.runner import simulate

CASES = [("int8_mul", {"stages": 0}), ("int8_mul", {"stages": 2}),
         ("int16_mul", {"stages": 0, "arch": "booth"})]


def golden_rate(n=4_000_000):
    rng = np.random.default_rng(0)
    a = rng.integers(-128, 127, n, endpoint=True)
    b = rng.integers(-128, 127, n, endpoint=True)
    q = QFormat(8)
    start = time.perf_counter()
    fixed_mul(a, b, q, q, QFormat(12, 4), "half_even", "saturate")
    return n / (time.perf_counter() - start)


def main():
    rows = []
    for simulator in ("icarus", "verilator"):
        for preset, overrides in CASES:
            result = simulate(preset, overrides, simulator=simulator, count=20_000, seed=1,
                              tag=f"bench-{preset}-{simulator}")
            assert result.ok, result.summary()
            rows.append({"simulator": simulator, "preset": preset,
                         "params": ",".join(f"{k}={v}" for k, v in overrides.items()),
                         "vectors": result.vectors,
                         "vectors_per_s": round(result.vectors / result.seconds)})
            print(rows[-1], flush=True)
    golden = golden_rate()
    lines = ["| simulator | unit | vectors | vectors/s |", "|---|---|---|---|"]
    lines += [f"| {r['simulator']} | {r['preset']} {r['params']} | {r['vectors']} | "
              f"{r['vectors_per_s']:,} |" for r in rows]
    lines.append(f"| golden (NumPy) | int8 x int8 -> Q8.4 half-even saturate | 4,000,000 | "
                 f"{golden:,.0f} |")
    out = Path("build/bench")
    out.mkdir(parents=True, exist_ok=True)
    (out / "sim_speed.json").write_text(json.dumps({"cocotb": rows, "golden_per_s": golden},
                                                   indent=2) + "\n")
    (out / "sim_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
