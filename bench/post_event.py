"""Post-event supervision: all the library's "after" rules over a folder of Parquet claims, per engine.

    .venv/bin/yibao sim claims --out /data/claims --visits 10000000
    .venv/bin/python bench/post_event.py --data /data/claims [--engine duckdb --engine spark]

Each engine runs in a child process of its own, which reports its peak memory: the process's RSS
high-water mark (getrusage; DuckDB runs inside it) plus, for Spark, the JVM's (VmHWM of /proc). Prints
per engine: the rules, findings, seconds of the run (reading the Parquet included; Spark's startup not)
and of the whole child process, and the peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path


def child(data: Path, engine: str, memory_limit: str | None, threads: int | None) -> None:
    from yibao.analytics.post_event import run_rules
    from yibao.files.rules import load_rule_library

    library = load_rule_library()
    out = Path("/tmp") / f"yibao-bench-findings-{engine}"
    out = out.with_suffix(".parquet") if engine == "duckdb" else out
    jvm = 0
    if engine == "spark":
        from yibao.analytics.on_spark import session

        spark = session()  # started before the clock: its startup is not the rules' time
    run = run_rules(data, library, engine=engine, out=out, memory_limit=memory_limit, threads=threads)
    if engine == "spark":
        gateway = spark.sparkContext._gateway
        assert gateway is not None  # a local session launched its JVM
        pid = gateway.proc.pid
        status = Path(f"/proc/{pid}/status").read_text()
        jvm = next(int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM:"))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + jvm  # KiB on Linux
    print(json.dumps({"rules": len(run.counts), "findings": run.total, "seconds": run.seconds, "peak_kib": peak,
                      "by_rule": {c.rule_id: c.findings for c in run.counts}}))  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="claims from `yibao sim claims`")
    parser.add_argument("--engine", action="append", choices=("duckdb", "spark"), help="default: both")
    parser.add_argument("--memory-limit", help="DuckDB memory limit, e.g. 12GB")
    parser.add_argument("--threads", type=int, help="DuckDB threads")
    parser.add_argument("--spark-memory", help="the local Spark driver's memory, e.g. 4g (default 2g)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.data, args.child, args.memory_limit, args.threads)
        return
    visits = sum(f.stat().st_size for f in (args.data / "visits").rglob("*.parquet"))
    lines = sum(f.stat().st_size for f in (args.data / "lines").rglob("*.parquet"))
    print(f"claims in {args.data}: visits {visits / 1e6:.0f} MB, lines {lines / 1e6:.0f} MB of Parquet")
    print(f"{'engine':<8} {'rules':>5} {'findings':>12} {'run s':>8} {'process s':>10} {'peak RSS':>10}")
    for engine in args.engine or ["duckdb", "spark"]:
        command = [sys.executable, __file__, "--data", str(args.data), "--child", engine]
        if args.memory_limit:
            command += ["--memory-limit", args.memory_limit]
        if args.threads:
            command += ["--threads", str(args.threads)]
        env = dict(os.environ)
        if args.spark_memory:
            env["YIBAO_SPARK_DRIVER_MEMORY"] = args.spark_memory
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        elapsed = time.perf_counter() - started
        if done.returncode:
            last = [line for line in done.stderr.splitlines() if not line.lstrip().startswith("at ")][-15:]
            print(f"{engine:<8} failed after {elapsed:.0f} s (exit {done.returncode}):", *last, sep="\n  ")
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{engine:<8} {result['rules']:>5} {result['findings']:>12,} {result['seconds']:>8.1f} "
              f"{elapsed:>10.1f} {result['peak_kib'] / 1024 / 1024:>8.1f} GB")  # fmt: skip


if __name__ == "__main__":
    main()
