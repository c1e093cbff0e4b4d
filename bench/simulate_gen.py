"""How fast the simulator generates traffic: prints events/s for a few run sizes.

Run: .venv/bin/python bench/simulate_gen.py [--repeat N]
"""

from __future__ import annotations

import argparse
import time

from dojo_pulse.simulation import generate

START_MS = 1_764_111_111_000
CASES = ((100.0, 600.0, 0.0), (500.0, 600.0, 0.05), (1000.0, 600.0, 0.1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    for rate, duration, invalid in CASES:
        best = best_cpu = 0.0
        events = 0
        for seed in range(args.repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            requests, _ = generate(
                seed, rate=rate, duration_s=duration, start_ms=START_MS, invalid_ratio=invalid
            )
            elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
            events = sum(len(r.body["events"]) for r in requests)
            best = max(best, events / elapsed)
            # CPU time is what to compare on a shared, busy machine.
            best_cpu = max(best_cpu, events / cpu)
        print(
            f"rate={rate:>6.0f}/s duration={duration:.0f}s invalid={invalid:.2f}: "
            f"{events} events, best {best:,.0f} events/s wall, {best_cpu:,.0f} events/s CPU"
        )


if __name__ == "__main__":
    main()
