"""A long run at a steady rate: memory, latency and errors printed every minute. Not for CI.

    .venv/bin/python bench/soak.py --backend postgresql --minutes 60 --rate 40
    .venv/bin/python bench/soak.py --backend sqlite --minutes 10 --rate 60 --persons 200000

Builds a synthetic city into a fresh database (bench/city.py's helpers), starts ``yibao serve`` with
a gateway key (every request signed), and plays the simulated hospitals against it minute after
minute (``yibao.sim.traffic``, the clients in this process). After each minute it prints the
settlements, errors, p50/p99 of 2207 and 2304, and the resident memory of the server's processes
(and of PostgreSQL's backends for this database); at the end, the growth of server memory from the
second minute to the last, how many server processes it saw (workers replaced after ``--max-requests``
among them: serve's default unless given), and ``yibao ledger check``. It prints figures and never asserts.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from city import fresh_database, server, yibao

from yibao.api.fsi.gateway import Gateway
from yibao.sim.city import build_city
from yibao.sim.traffic import run_traffic, sample_city

PG_ADMIN = os.environ.get("YIBAO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def tree(root: int) -> list[int]:
    """``root`` and its descendants (the server and its uvicorn workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def backends(url: str) -> list[int]:
    if not url.startswith("postgresql"):
        return []
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (name,)).fetchall()
    return [int(r[0]) for r in rows]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="bench/soak.py", description=__doc__.split("\n")[0])
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--minutes", type=int, default=60)
    p.add_argument("--rate", type=float, default=40.0, help="settlements a second")
    p.add_argument("--persons", type=int, default=200_000)
    p.add_argument("--institutions", type=int, default=130)
    p.add_argument("--workers", type=int, default=0, help="0: 1 on SQLite, 3 on PostgreSQL")
    p.add_argument("--max-requests", type=int, help="yibao serve --max-requests (0: never) [default: serve's]")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--pg-admin-url", default=PG_ADMIN)
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda signum, _f: sys.exit(128 + signum))
    workers = args.workers or (1 if args.backend == "sqlite" else 3)
    recycle = () if args.max_requests is None else ("--max-requests", str(args.max_requests))
    print(f"yibao soak: {args.backend}, {workers} worker(s) {' '.join(recycle) or '(serve decides --max-requests)'}, "
          f"{args.rate:g} settlements/s for {args.minutes} min, "
          f"city of {args.persons:,}; Python {sys.version.split()[0]}, {os.cpu_count()} cores", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="yibao-soak-") as tmpdir, fresh_database(args, Path(tmpdir)) as url:
        build_city(url, persons=args.persons, institutions=args.institutions, seed=args.seed)
        keys = Path(tmpdir) / "gateway.keys"
        keys.write_text(secrets.token_hex(32) + "\n")
        os.environ["YIBAO_GATEWAY_KEY_FILE"] = str(keys)
        gateway = Gateway.from_file(keys)
        city = sample_city(url, size=20_000, seed=args.seed)
        memory: list[float] = []
        seen: set[int] = set()  # the server's processes, replaced workers among them
        total_settlements = total_errors = 0
        with server(url, workers, Path(tmpdir) / "server.log", recycle) as base:
            pid = int(Path(tmpdir, "server.pid").read_text())
            print(" min  settled   /s  errors  2207 p50/p99 ms  2304 p50/p99 ms  server MiB  postgres MiB", flush=True)
            for minute in range(1, args.minutes + 1):
                report = run_traffic(base, args.rate, 60.0, url, seed=args.seed + minute, city=city, grace=10.0,
                                     gateway=gateway)  # fmt: skip
                processes = tree(pid)
                seen.update(processes)
                mib = rss_mib(processes)
                memory.append(mib)
                total_settlements += report.tally.settlements
                total_errors += report.errors
                print(f"{minute:4d} {report.tally.settlements:8,d} {report.settlements_per_second:5.1f} "
                      f"{report.errors:7d}   {report.percentile('2207', 0.5) * 1000:6.1f} / "
                      f"{report.percentile('2207', 0.99) * 1000:6.1f}   {report.percentile('2304', 0.5) * 1000:6.1f} / "
                      f"{report.percentile('2304', 0.99) * 1000:6.1f}   {mib:9.1f}  {rss_mib(backends(url)):11.1f}",
                      flush=True)  # fmt: skip
        growth = memory[-1] - memory[1] if len(memory) > 2 else 0.0
        print(f"settlements {total_settlements:,}, errors {total_errors}, server memory from minute 2 to "
              f"{len(memory)}: {growth:+.1f} MiB; {len(seen)} server processes seen (workers replaced "
              f"included)")  # fmt: skip
        took, out = yibao("ledger", "check", url=url)
        print(f"ledger check ({took:.1f} s): {out.splitlines()[-1] if out else '(no output)'}")


if __name__ == "__main__":
    main()
