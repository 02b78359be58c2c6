"""Build a synthetic city into a fresh database and print how long it took and how much memory it used.

    .venv/bin/python bench/city.py --backend sqlite --persons 1000000
    .venv/bin/python bench/city.py --backend postgresql --persons 13000000
    .venv/bin/python bench/city.py --backend sqlite --persons 200000 --institutions 130 --traffic 20 --rate 100
    .venv/bin/python bench/city.py --help

What it does, by itself and only on 127.0.0.1:

1. makes a fresh database: an SQLite file in a temporary directory, or a PostgreSQL database
   ``yibao_bench_<random>`` next to --pg-admin-url (env YIBAO_BENCH_PG), dropped at the end;
2. builds the city with ``yibao.sim.city.build_city`` (what ``yibao sim city`` runs) and prints the
   build time by stage, rows written and rows/s, the peak resident memory of this process (which on
   SQLite includes the database engine; PostgreSQL's own memory is not counted) and the size on disk;
3. with --ledger-check, runs ``yibao ledger check`` and times it;
4. with --traffic S, starts ``yibao serve`` on the city and plays ``yibao.sim.traffic`` against it for
   S seconds at --rate settlements/s (the clients are threads of this process, on the same cores as
   the server), then prints the simulator's report and the ledger check;
5. removes what it made, also on Ctrl-C or SIGTERM.

It prints figures and never asserts.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from yibao.federation.launch import free_port
from yibao.sim.city import build_city
from yibao.sim.traffic import run_traffic

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = os.environ.get("YIBAO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/city.py",
        description="Build a synthetic city into a fresh database; print build time, rows/s and peak memory.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--persons", type=int, default=1_000_000, help="insured persons")
    p.add_argument("--institutions", type=int, default=1307, help="hospitals and pharmacies")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=20_000, help="persons generated and written at a time")
    p.add_argument("--ledger-check", action="store_true", help="run `yibao ledger check` after the build")
    p.add_argument("--traffic", type=float, default=0.0, help="seconds of HIS traffic against a server afterwards")
    p.add_argument("--rate", type=float, default=100.0, help="settlements/s the traffic aims at")
    p.add_argument("--workers", type=int, default=0, help="server workers (0: 1 on SQLite, 3 on PostgreSQL)")
    p.add_argument("--concurrency", type=int, default=32, help="conversations in flight at most")
    p.add_argument("--pg-admin-url", default=PG_ADMIN, help="PostgreSQL maintenance database (env YIBAO_BENCH_PG)")
    args = p.parse_args(argv)
    if args.persons < 0 or args.institutions < 1 or args.batch_size < 1:
        p.error("--persons must be ≥ 0, --institutions and --batch-size ≥ 1")
    if args.backend == "postgresql" and urlsplit(args.pg_admin_url).hostname not in LOOPBACK:
        p.error("--pg-admin-url must point at 127.0.0.1: the benchmark talks to nothing else")
    return args


@contextmanager
def fresh_database(args: argparse.Namespace, tmp: Path) -> Iterator[str]:
    """The URL of an empty database; a PostgreSQL one is dropped afterwards."""
    if args.backend == "sqlite":
        yield f"sqlite:///{tmp / 'city.db'}"
        return
    import psycopg

    name = f"yibao_bench_{secrets.token_hex(6)}"
    with psycopg.connect(args.pg_admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield args.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(args.pg_admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def size_on_disk(url: str) -> int:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    import psycopg

    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


def yibao(*args: str, url: str, timeout: float = 3600.0) -> tuple[float, str]:
    """(seconds, output) of a ``yibao`` command against ``url``."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "yibao", *args], env={**os.environ, "YIBAO_DATABASE_URL": url},
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
    return time.perf_counter() - t0, (done.stdout + done.stderr).strip()


@contextmanager
def server(url: str, workers: int, log: Path, args: Sequence[str] = ()) -> Iterator[str]:
    """A `yibao serve` (``args`` added to its command line) on a free port of 127.0.0.1; its base URL.
    Stopped (its process group) afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "yibao", "serve", "--port", str(port), "--workers", str(workers), "--no-upgrade"]
    cmd += args
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env={**os.environ, "YIBAO_DATABASE_URL": url}, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    log.with_suffix(".pid").write_text(str(proc.pid))  # for whoever watches its memory (bench/soak.py)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a server traced by bench/memprobe takes minutes to start
        while True:
            with suppress(httpx.TransportError):
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"yibao serve did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group start_new_session made: ours alone
            proc.wait(timeout=10)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    def stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    print(f"yibao city benchmark: {args.backend}, {args.persons:,} persons, {args.institutions:,} institutions, "
          f"seed {args.seed}; Python {sys.version.split()[0]}, {os.cpu_count()} cores")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="yibao-city-") as tmpdir, fresh_database(args, Path(tmpdir)) as url:
        marks: dict[str, float] = {}
        last = [0.0]

        def progress(stage: str, done: int, total: int) -> None:
            now = time.perf_counter()
            marks.setdefault(f"{stage} start", now)
            if done >= total:
                marks[f"{stage} end"] = now
            if stage == "persons" and (now - last[0] >= 30 or done >= total):
                last[0] = now
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"  … {done:,} of {total:,} persons, peak memory so far {rss:,.0f} MiB", flush=True)

        t0 = time.perf_counter()
        report = build_city(url, persons=args.persons, institutions=args.institutions, seed=args.seed,
                            progress=progress, batch_size=args.batch_size)  # fmt: skip
        seconds = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        for line in report.lines():
            print(line)

        def span(stage: str) -> float:
            return marks.get(f"{stage} end", t0) - marks.get(f"{stage} start", t0)

        print(f"  build time      {seconds:,.1f} s: setup (schema, policies, catalogue) {span('setup'):.1f} s, "
              f"institutions {span('institutions'):.1f} s, persons {span('persons'):.1f} s, "
              f"indexes and statistics {span('indexes'):.1f} s")  # fmt: skip
        print(f"  throughput      {report.rows / seconds:,.0f} rows/s, {args.persons / seconds:,.0f} persons/s")
        print(f"  peak memory     {rss:,.0f} MiB resident (this process; ru_maxrss)")
        print(f"  on disk         {size_on_disk(url) / 2**20:,.0f} MiB")
        if args.ledger_check:
            took, out = yibao("ledger", "check", url=url)
            print(f"  ledger check    {took:.1f} s: {out.splitlines()[-1] if out else '(no output)'}")
        if args.traffic > 0:
            workers = args.workers or (1 if args.backend == "sqlite" else 3)
            with server(url, workers, Path(tmpdir) / "server.log") as base:
                print(f"traffic: yibao serve --workers {workers}, {args.concurrency} conversations in flight at most")
                traffic = run_traffic(base, args.rate, args.traffic, url, seed=args.seed,
                                      concurrency=args.concurrency)  # fmt: skip
            for line in traffic.lines():
                print(line)
            took, out = yibao("ledger", "check", url=url)
            print(f"  ledger check    {took:.1f} s: {out.splitlines()[-1] if out else '(no output)'}")


if __name__ == "__main__":
    main()
