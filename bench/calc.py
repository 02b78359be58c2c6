"""How fast the pure calculator settles a 20-line claim, in-process (no database, no HTTP).

    .venv/bin/python bench/calc.py [--n 20000]

Prints settlements per second, p50/p99 latency per settlement and peak memory.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import tracemalloc
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from yibao.domain.claim import FeeLine
from yibao.domain.settlement import calculate
from yibao.files import load_catalog, load_claim, load_policy

ROOT = Path(__file__).resolve().parents[1]
GZ = ROOT / "examples" / "guangzhou"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--lines", type=int, default=20)
    args = parser.parse_args()

    policy = load_policy(GZ / "employee-2022-12.toml")
    catalog = load_catalog(GZ / "catalog.toml")
    base = load_claim(GZ / "claim-inpatient.json")
    rng = random.Random(7)
    codes = list(catalog.items)
    claims = [
        replace(
            base,
            feedetail=tuple(
                FeeLine(str(i), rng.choice(codes), Decimal(rng.randint(1, 10)), Decimal(rng.randint(50, 90_000)) / 100)
                for i in range(args.lines)
            ),
        )
        for _ in range(200)
    ]

    timings = []
    start = time.perf_counter()
    for i in range(args.n):
        t0 = time.perf_counter_ns()
        calculate(claims[i % len(claims)], policy, catalog)
        timings.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - start

    tracemalloc.start()  # separately: tracing slows the loop several times over
    for c in claims:
        calculate(c, policy, catalog)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    timings.sort()
    print(f"calculator: {args.n} settlements of {args.lines} lines in {elapsed:.2f} s")
    print(f"  throughput  {args.n / elapsed:,.0f} settlements/s on one core")
    print(f"  p50         {statistics.median(timings) / 1e3:,.0f} µs")
    print(f"  p99         {timings[int(len(timings) * 0.99)] / 1e3:,.0f} µs")
    print(f"  peak memory {peak / 1024:,.0f} KiB allocated while settling {len(claims)} claims")


if __name__ == "__main__":
    main()
