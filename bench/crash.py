"""Crash test, the long run: settlements over HTTP while `yibao serve` is killed with SIGKILL.

    .venv/bin/python bench/crash.py --backend sqlite --kills 100
    .venv/bin/python bench/crash.py --backend postgresql --kills 100 --workers 2 --threads 6
    .venv/bin/python bench/crash.py --help

What it does, on 127.0.0.1 only:

1. makes a fresh database (an SQLite file in a temporary directory, or a PostgreSQL database
   yibao_test_<random> next to YIBAO_TEST_PG, dropped at the end) with the Guangzhou demo data and
   --persons synthetic employees;
2. starts `yibao serve` in its own process group; --threads HIS client threads settle outpatient
   visits (2201 → 2204 → 2206 → 2207), each with its own persons, and send every message again,
   byte for byte (same msgid), after a transport failure until it is answered;
3. kills the server's process group with SIGKILL after a random --uptime and starts it again on the
   same port, --kills times, then lets the clients finish their visits and stops the server;
4. compares the acknowledged settlements with the database (each exactly once, nothing half-written,
   the message log's answers equal to what the clients got) and runs `yibao ledger check`;
5. prints the figures, and exits 1 if any check found a difference.

The harness is tests/reliability/harness.py; the test suite runs the same with 20 kills.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.databases import fresh_database, load_demo  # noqa: E402
from tests.reliability.harness import Server, consistency_problems, crash_run, load_persons, make_persons  # noqa: E402
from tests.servers import free_port  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/crash.py", description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)  # fmt: skip
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--kills", type=int, default=50, help="times the server is killed with SIGKILL")
    p.add_argument("--threads", type=int, default=4, help="HIS client threads")
    p.add_argument("--persons", type=int, default=200, help="synthetic employees, dealt out to the threads")
    p.add_argument("--workers", type=int, default=1, help="server worker processes (all killed together)")
    p.add_argument("--lines", type=int, default=3, help="fee lines a visit")
    p.add_argument("--uptime", type=float, nargs=2, default=(0.1, 0.8), metavar=("MIN", "MAX"),
                   help="seconds the server serves between a start and the next kill (uniform)")  # fmt: skip
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.threads < 1 or args.kills < 0 or args.persons < args.threads:
        p.error("--threads ≥ 1, --kills ≥ 0 and --persons ≥ --threads")

    print(f"crash run: {args.backend}, {args.workers} worker(s), {args.threads} client threads, "
          f"{args.kills} kills, uptime {args.uptime[0]:g}–{args.uptime[1]:g} s")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="yibao-crash-") as tmpdir:
        tmp = Path(tmpdir)
        with fresh_database(args.backend, tmp) as url:
            load_demo(url)
            persons, registry = make_persons(args.persons)
            load_persons(url, registry, tmp / "persons.json")
            server = Server(url, free_port(), tmp / "server.log", workers=args.workers)
            run = crash_run(server, persons, threads=args.threads, kills=args.kills, uptime=tuple(args.uptime),
                            lines=args.lines, seed=args.seed, progress=print)  # fmt: skip
            print(run.figures())
            if run.tally.refusals:
                print(f"  refusals: {len(run.tally.refusals)}, first: {run.tally.refusals[0]}")
            for error in run.errors:
                print(f"  client error: {error}")
            t0 = time.monotonic()
            problems, checked = consistency_problems(url, run.tally)
            print(f"checks ({time.monotonic() - t0:.1f} s): " + ", ".join(f"{k} {v}" for k, v in checked.items()))
            for problem in problems[:50]:
                print(f"  DIFF {problem}")
            print(f"{len(problems)} difference(s)" if problems else "no difference: every acknowledged settlement "
                  "exists exactly once, nothing half-written, ledger check passed")  # fmt: skip
            return 1 if problems or run.errors or run.tally.refusals else 0


if __name__ == "__main__":
    sys.exit(main())
