"""All post-event rules over millions of synthetic claims: DuckDB and local Spark, time and peak memory.

    .venv/bin/python bench/supervision_scale.py --visits 1000000
    .venv/bin/python bench/supervision_scale.py --visits 10000000 --spark
    .venv/bin/python bench/supervision_scale.py --data /tmp/claims-10m --spark

What it does:

1. unless --data names claims already written, generates --visits visits with ``yibao.sim.claims``
   (3 % of them carrying a planted scheme) into a temporary folder (or --keep DIR) and prints the time,
   rows and size on disk;
2. runs every "after" rule of the shipped library on DuckDB (``yibao.analytics.run_rules``, findings
   written to Parquet) under --memory-limit (default 6GB: DuckDB spills to disk beyond it, and the machine
   is shared) and prints the time, findings and the peak resident memory of the process that ran it;
3. with --spark, the same job on local Spark (``local[2]``); the peak memory printed is the Python
   driver's, the JVM's is its own.

Each step runs in a process of its own, so each peak is that step's. It prints figures and never asserts;
the target is all rules over 10 million claims in under 60 s with DuckDB on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

STEP = r"""
import json, resource, sys, time
from pathlib import Path
step, data, arg, memory = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]
started = time.perf_counter()
out = {}
if step == "generate":
    from yibao.files.rules import load_rule_library
    from yibao.sim.claims import ClaimsConfig, Knowledge, generate
    from yibao.sim.fraud import Injector
    config = ClaimsConfig(visits=int(arg), seed=1, knowledge=Knowledge.of(load_rule_library()))
    report = generate(data, config, Injector(rate=0.03, seed=1))
    out = {"visits": report.visits, "lines": report.lines, "planted": report.planted}
else:
    from yibao.analytics.post_event import run_rules
    from yibao.files.rules import load_rule_library
    run = run_rules(data, load_rule_library(), engine=step, out=Path(arg), memory_limit=memory or None)
    out = {"findings": run.total, "rules": len(run.counts), "rule_seconds": run.seconds}
out["seconds"] = time.perf_counter() - started
out["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def step(name: str, data: Path, arg: str, memory: str = "") -> dict[str, float]:
    done = subprocess.run([sys.executable, "-c", STEP, name, str(data), arg, memory], capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def size_mib(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visits", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, help="Claims already written (skips generating).")
    parser.add_argument("--keep", type=Path, help="Generate into this folder and keep it.")
    parser.add_argument("--spark", action="store_true", help="Also run the rules on local Spark.")
    parser.add_argument("--memory-limit", default="6GB", help="DuckDB's memory_limit (it spills beyond it).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="yibao-supervision-"))
    try:
        data = args.data or args.keep or work / "claims"
        if args.data is None:
            g = step("generate", data, str(args.visits))
            print(f"generate   {g['visits']:>12,.0f} visits {g['lines']:>12,.0f} lines in {g['seconds']:7.1f} s")
            disk = size_mib(data)
            print(f"           peak {g['peak_mib']:,.0f} MiB, {disk:,.0f} MiB on disk, {g['planted']:,.0f} planted")
        for engine in ("duckdb", "spark") if args.spark else ("duckdb",):
            r = step(engine, data, str(work / f"findings-{engine}"), args.memory_limit if engine == "duckdb" else "")
            print(
                f"{engine:<10} {r['rules']:>5.0f} rules {r['findings']:>12,.0f} findings in {r['rule_seconds']:7.1f} s"
            )
            print(f"           process {r['seconds']:.1f} s, peak {r['peak_mib']:,.0f} MiB")
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
        print(f"machine    {len(os.sched_getaffinity(0))} cores usable, {memory:.1f} GiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
