"""Simulation throughput: cocotb vectors/s on Icarus and Verilator.
Writes build/bench/sim_speed.{json,md}.
Run: make bench (or python bench/sim_speed.py).

cocotb figures are for the streaming loop alone (timed inside the testbench),
not for Verilog compilation or simulator start-up.
"""

from nnarith.sim.runner import simulate

from results import publish, tracked

CASES = [("int8_mul", {"stages": 0}), ("int8_mul", {"stages": 2}),
         ("int16_mul", {"stages": 0, "arch": "booth"}), ("fp16_mul", {"stages": 0}),
         ("fp16_mul", {"stages": 3})]


def main():
    rows = []
    for simulator, (preset, overrides) in tracked(
            [(simulator, case) for simulator in ("icarus", "verilator") for case in CASES],
            "sim_speed"):
        result = simulate(preset, overrides, simulator=simulator, count=20_000, seed=1,
                          tag=f"bench-{preset}-{simulator}")
        assert result.ok, result.summary()
        rows.append({"simulator": simulator, "preset": preset,
                     "params": ",".join(f"{k}={v}" for k, v in overrides.items()),
                     "vectors": result.vectors,
                     "vectors_per_s": round(result.vectors / result.seconds)})
        print(rows[-1], flush=True)
    lines = ["| simulator | unit | vectors | vectors/s |", "|---|---|---|---|"]
    lines += [f"| {r['simulator']} | {r['preset']} {r['params']} | {r['vectors']} | "
              f"{r['vectors_per_s']:,} |" for r in rows]
    publish("sim_speed", rows, lines)


if __name__ == "__main__":
    main()
