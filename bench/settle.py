"""Complete outpatient settlements over HTTP against a real `yibao serve`, on SQLite or PostgreSQL.

    .venv/bin/python bench/settle.py --backend sqlite --workers 1 --duration 25
    .venv/bin/python bench/settle.py --backend postgresql --workers 2 --duration 25
    .venv/bin/python bench/settle.py --backend postgresql --settlements 3000 --concurrency 32
    .venv/bin/python bench/settle.py --backend postgresql --workers 3 --duration 15 --against ../old --rounds 4
    .venv/bin/python bench/settle.py --help

What it does, by itself and only on 127.0.0.1:

1. makes a fresh database: an SQLite file in a temporary directory, or a PostgreSQL database
   ``yibao_bench_<random>`` next to --pg-admin-url (env YIBAO_BENCH_PG), dropped at the end;
2. writes a synthetic registry (--persons employees of Guangzhou, insutype 310, psn_type 1101 or
   1201, with an opening personal account; --institutions hospitals H440106xxxxx of levels 1-3)
   and loads it, the two Guangzhou employee policies and the demo catalogue with ``yibao``;
3. starts ``yibao serve --workers W`` on a free port and waits for /healthz;
4. drives complete outpatient visits from --clients processes with threads (--concurrency in
   all): 2201 registration, 2204 upload of --lines fee lines drawn from the catalogue,
   2206 pre-settlement, 2207 settlement. Envelopes are built by the project's HisClient and
   posted over keep-alive connections (yibao.sim.his.KeepAlive: the request written to the socket,
   the answer read by httptools, so the clients take little of the machine from the server). Each
   thread has its own slice of the persons, so concurrent settlements never share a person, and its
   own slice of the msgid serials. Every thread first settles --warmup visits that are not measured;
5. prints settlements/s, API calls/s, p50/p99 latency per transaction, errors (with the first
   err_msg of each kind), a few consistency checks of the 2207 answers, server CPU per settlement
   (utime + stime of the server process and its workers from /proc, before and after; the clients'
   and PostgreSQL's CPU are shown but not counted) and the result of ``yibao ledger check``;
6. stops the server and removes what it made, also on Ctrl-C or SIGTERM (after SIGKILL only the
   temporary directory and a PostgreSQL database named yibao_bench_* can be left behind).

With ``--against CHECKOUT`` (another commit's tree, e.g. ``git worktree add ../old <commit>``) it makes a
second database and server with that checkout's src/, and drives the two in turn, A B, B A, …, for
--rounds runs each. It prints each run's figures and each side's medians. A shared box's speed drifts
within minutes (by a tenth, some days by a third), and turns then differ by more than a change of a few
per cent: with ``--together`` each round drives both sides at the same moment instead (each with
--concurrency in flight, one of the two drives in a forked process), so the swings weigh on both within
the round; they share the cores, so compare their CPU a settlement, not their throughput.

It prints figures and never asserts. The machine is shared by the server, the clients and, on
PostgreSQL, the database (and whatever else runs there: the last line says how much that took),
so settlements/s is what this box does with everything on it; server CPU per settlement is the
figure that carries over to another machine.
"""

from __future__ import annotations

import argparse
import ctypes
import http.client
import json
import math
import multiprocessing as mp
import os
import queue
import random
import resource
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from yibao.domain.frozen import frozen
from yibao.federation.launch import free_port
from yibao.sim.his import HisClient, KeepAlive

ROOT = Path(__file__).resolve().parents[1]
GZ = ROOT / "examples" / "guangzhou"
POLICIES = (GZ / "employee-2021.toml", GZ / "employee-2022-12.toml")
CATALOG = GZ / "catalog.toml"
CODES = ("2201", "2204", "2206", "2207")
ADMDVS = "440100"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PG_ADMIN = os.environ.get("YIBAO_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
CLK_TCK = os.sysconf("SC_CLK_TCK")
CENT = Decimal("0.01")


# ---------------------------------------------------------------------------------------- options


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/settle.py",
        description="Complete outpatient settlements (2201, 2204, 2206, 2207) over HTTP against a fresh "
        "database and a real `yibao serve`; prints throughput, latency, errors and server CPU.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite", help="database to settle into")
    p.add_argument("--workers", type=int, default=2, help="server worker processes (yibao serve --workers)")
    p.add_argument("--persons", type=int, default=2000, help="synthetic insured employees (insutype 310)")
    p.add_argument("--institutions", type=int, default=20, help="synthetic hospitals, levels 1-3")
    p.add_argument("--clients", type=int, default=2, help="client processes")
    p.add_argument("--concurrency", type=int, default=16, help="settlements in flight, over all client processes")
    p.add_argument("--duration", type=float, default=20.0, help="seconds of measured load")
    p.add_argument("--settlements", type=int, default=None, help="settle this many instead of running --duration")
    p.add_argument("--lines", type=int, default=20, help="fee lines a visit (2204)")
    p.add_argument("--warmup", type=int, default=2, help="settlements a client thread makes before measuring")
    p.add_argument("--acct-balc", type=Decimal, default=Decimal(5000), help="opening personal account, yuan")
    p.add_argument("--seed", type=int, default=1, help="random seed of the registry and the fee lines")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one answer")
    p.add_argument("--time-limit", type=float, default=600.0, help="hard limit on the measured phase, seconds")
    p.add_argument("--pg-admin-url", default=PG_ADMIN, help="PostgreSQL maintenance database (env YIBAO_BENCH_PG)")
    p.add_argument(
        "--against", type=Path, default=None, metavar="CHECKOUT",
        help="another checkout (a git worktree of an older commit, say): its src/ serves a second database, and "
        "the two servers are driven in turn, --rounds times each, for --duration each",
    )  # fmt: skip
    p.add_argument("--rounds", type=int, default=3, help="with --against: measured runs of each side")
    p.add_argument("--together", action="store_true",
                   help="with --against: drive both sides at the same moment in each round, not in turn")  # fmt: skip
    args = p.parse_args(argv)
    for name in ("workers", "persons", "institutions", "clients", "concurrency", "lines"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1")
    if args.warmup < 0 or args.duration <= 0 or (args.settlements is not None and args.settlements < 1):
        p.error("--warmup must be ≥ 0, --duration > 0 and --settlements ≥ 1")
    if args.clients > args.concurrency:
        p.error("--clients cannot exceed --concurrency (each client process needs a thread)")
    if args.concurrency > 1000:
        p.error("--concurrency above 1000 would break the msgid serial space (4 digits a second)")
    if args.persons < args.concurrency:
        p.error("--persons must be at least --concurrency (every client thread has its own persons)")
    if args.against is not None and not (args.against / "src" / "yibao").is_dir():
        p.error(f"--against {args.against}: no src/yibao there")
    if args.against is not None and (args.rounds < 1 or args.settlements is not None):
        p.error("--against runs --rounds ≥ 1 rounds of --duration (not --settlements)")
    if args.together and args.against is None:
        p.error("--together needs --against")
    if args.backend == "postgresql" and not on_this_machine(args.pg_admin_url):
        p.error("--pg-admin-url must point at 127.0.0.1 or a local socket: the benchmark talks to nothing else")
    return args


def on_this_machine(url: str) -> bool:
    """A loopback host, or PostgreSQL's socket directory (``postgresql://postgres@/postgres?host=/run/postgresql``)."""
    parts = urlsplit(url)
    return parts.hostname in LOOPBACK or (parts.hostname is None and "host=/" in parts.query)


def database_url(admin_url: str, name: str) -> str:
    """``admin_url`` with its database replaced by ``name``."""
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


# ---------------------------------------------------------------------------------------- registry


@frozen
class Person:
    psn_no: str
    certno: str


@frozen
class Hospital:
    code: str
    name: str
    doctor: str


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红文"


def id_check_digit(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def make_registry(persons: int, institutions: int, acct_balc: Decimal, seed: int) -> dict[str, Any]:
    """Guangzhou employees (1101 in service, 1201 retired) and hospitals H440106xxxxx of levels 1-3."""
    rng = random.Random(seed)
    hospitals = [
        {
            "fixmedins_code": f"H440106{i + 1:05d}",
            "fixmedins_name": f"广州市第{i + 1}人民医院（合成）",
            "admdvs": ADMDVS,
            "fixmedins_type": "1",
            "hosp_lv": i % 3 + 1,
        }
        for i in range(institutions)
    ]
    doctors = [
        {"prac_code": f"D440106{i + 1:06d}", "prac_name": "张医生", "fixmedins_code": h["fixmedins_code"],
         "dept_code": "A03"}
        for i, h in enumerate(hospitals)
    ]  # fmt: skip
    people = []
    certnos: set[str] = set()
    for i in range(persons):
        retired = rng.random() < 0.3
        brdy = date(
            rng.randint(1940, 1963) if retired else rng.randint(1966, 2003), rng.randint(1, 12), rng.randint(1, 28)
        )
        gend = rng.choice("12")
        while True:
            seq = rng.randrange(0, 1000, 2) + (1 if gend == "1" else 0)  # odd for men, even for women
            first17 = f"440106{brdy:%Y%m%d}{seq:03d}"
            certno = first17 + id_check_digit(first17)
            if certno not in certnos:
                certnos.add(certno)
                break
        start = date(max(1993, brdy.year + 22), rng.randint(1, 12), 1)
        months = (date.today().year - start.year) * 12 + date.today().month - start.month
        if retired:
            months = min(months, (brdy.year + 60 - start.year) * 12)
        people.append(
            {
                "psn_no": f"44010099{i + 1:012d}",
                "psn_cert_type": "01",
                "certno": certno,
                "psn_name": rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2))),
                "gend": gend,
                "brdy": brdy.isoformat(),
                "insurance": [
                    {
                        "insutype": "310",
                        "psn_type": "1201" if retired else "1101",
                        "insuplc_admdvs": ADMDVS,
                        "psn_insu_date": start.isoformat(),
                        "emp_name": f"广州某合成单位{rng.randint(1, 500):03d}",
                        "contrib_months": max(0, months),
                    }
                ],
                "acct_balc": str(acct_balc),
            }
        )
    return {
        "regions": [{"admdvs": ADMDVS, "name": "广州市"}],
        "institutions": hospitals,
        "practitioners": doctors,
        "persons": people,
    }


# ---------------------------------------------------------------------------------------- fee lines


@frozen
class Item:
    """How a HIS bills one catalogue item: price range in fen, count range, how often it appears."""

    code: str
    lo: int
    hi: int
    cnt_lo: int
    cnt_hi: int
    weight: int


KNOWN = {  # the demo catalogue: plausible outpatient prices (fen) and counts
    "XJ01CAA040A001010100039": (30, 120, 12, 48, 10),  # 阿莫西林胶囊, a capsule
    "XC10AAA050A001010101444": (200, 500, 7, 28, 8),  # 阿托伐他汀钙片, a tablet
    "XL01XCT038B002010100961": (170_000, 240_000, 1, 1, 1),  # 曲妥珠单抗 (inpatient only: 全自费 here)
    "XG03DAH073E001010100367": (300, 1_200, 1, 5, 3),  # 黄体酮注射液 (women only)
    "001102000010000": (4_000, 8_000, 1, 1, 2),  # 床位费, cap 60
    "002501000010000": (1_500, 3_000, 1, 2, 10),  # 血常规
    "003306000010000": (200_000, 350_000, 1, 1, 1),  # 腹腔镜阑尾切除 (level 2 and up)
    "C0310011980000000001": (30_000, 90_000, 1, 4, 1),  # 穿刺器, cap 800, at most 3 a visit
    "Z000000000000000000001": (2_000, 8_000, 1, 3, 3),  # 保健茶, 丙类
}
BY_LIST_TYPE = {"101": (50, 5_000, 1, 30, 6), "201": (1_000, 30_000, 1, 3, 4), "301": (1_000, 50_000, 1, 2, 1)}


def catalogue_items(path: Path) -> list[Item]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    items = []
    for entry in data["items"]:
        code = entry["med_list_codg"]
        lo, hi, cnt_lo, cnt_hi, weight = KNOWN.get(code) or BY_LIST_TYPE.get(entry["list_type"], (100, 20_000, 1, 3, 2))
        items.append(Item(code, lo, hi, cnt_lo, cnt_hi, weight))
    return items


def now_text() -> str:
    return f"{datetime.now():%Y-%m-%d %H:%M:%S}"


def fee_lines(
    rng: random.Random, items: list[Item], n: int, mdtrt_id: str, psn_no: str, doctor: str
) -> tuple[list[dict[str, Any]], Decimal]:
    """n lines as 2204 feedetail (det_item_fee_sumamt = pric × cnt exactly) and their sum."""
    chosen = rng.choices(items, weights=[i.weight for i in items], k=n)
    lines, total = [], Decimal(0)
    when = now_text()
    for sn, item in enumerate(chosen, 1):
        pric = Decimal(rng.randint(item.lo, item.hi)) * CENT
        cnt = Decimal(rng.randint(item.cnt_lo, item.cnt_hi))
        amount = (pric * cnt).quantize(CENT)
        total += amount
        lines.append(
            {
                "feedetl_sn": str(sn),
                "mdtrt_id": mdtrt_id,
                "psn_no": psn_no,
                "chrg_bchno": "B1",
                "med_list_codg": item.code,
                "medins_list_codg": f"HIS-{item.code[:6]}",
                "det_item_fee_sumamt": str(amount),
                "cnt": str(cnt),
                "pric": str(pric),
                "fee_ocur_time": when,
                "bilg_dept_codg": "A03",
                "bilg_dept_name": "内科",
                "bilg_dr_codg": doctor,
                "bilg_dr_name": "张医生",
            }
        )
    return lines, total


# ---------------------------------------------------------------------------------------- processes and /proc


def proc_stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime + stime + cutime + cstime in seconds) of a live process, or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    rest = raw[raw.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return int(rest[1]), sum(int(x) for x in rest[11:15]) / CLK_TCK


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and all its live descendants (uvicorn's workers)."""
    stats = {pid: s for pid in all_pids() if (s := proc_stat(pid)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += stats[pid][1]
            todo.extend(children.get(pid, ()))
    return total


def postgres_backends(dbname: str) -> list[int]:
    """The PostgreSQL backends serving ``dbname`` now (their title names the database)."""
    pids = []
    for pid in all_pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {dbname} " in title:
            pids.append(pid)
    return pids


def cpu_of(pids: list[int]) -> float:
    """CPU seconds of those of ``pids`` still alive."""
    return sum(s[1] for pid in pids if (s := proc_stat(pid)))


def postgres_backends_cpu(dbname: str) -> float:
    """CPU seconds of the PostgreSQL backends serving ``dbname``."""
    return cpu_of(postgres_backends(dbname))


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    fields_ = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields_[3] + fields_[4]
    return (sum(fields_) - idle) / CLK_TCK, sum(fields_) / CLK_TCK


def code_env(src: Path | None) -> dict[str, str]:
    """The environment of a ``yibao`` process: this checkout's code, or that of ``src`` (--against)."""
    return {**os.environ, "PYTHONPATH": str(src)} if src is not None else dict(os.environ)


def yibao(*args: str, url: str, timeout: float = 600.0, src: Path | None = None) -> str:
    """Run the ``yibao`` command against ``url``; its output, or SystemExit with what it said."""
    env = {**code_env(src), "YIBAO_DATABASE_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "yibao", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode not in (0, 1) or (done.returncode == 1 and args[:2] != ("ledger", "check")):
        said = (done.stdout + done.stderr).strip().splitlines()
        raise SystemExit(f"yibao {' '.join(args)} failed ({done.returncode}):\n" + "\n".join(said[-12:]))
    return done.stdout


def revision(root: Path = ROOT) -> str:
    """The commit the server code is at, and whether src/ has changes on top (read-only git calls)."""

    def git(*args: str) -> str:
        cmd = ["git", "--no-optional-locks", "-C", str(root), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False).stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--", "src")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (head or "unknown") + (" + uncommitted changes in src/" if dirty else "")


# ---------------------------------------------------------------------------------------- the database


@contextmanager
def fresh_database(args: argparse.Namespace, tmp: Path) -> Iterator[tuple[str, str]]:
    """(url, name) of an empty database; a PostgreSQL one is dropped afterwards."""
    if args.backend == "sqlite":
        path = tmp / "bench.db"
        yield f"sqlite:///{path}", str(path)
        return
    import psycopg

    name = f"yibao_bench_{secrets.token_hex(6)}"
    with psycopg.connect(args.pg_admin_url, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(args.pg_admin_url, name), name
    finally:
        with psycopg.connect(args.pg_admin_url, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ---------------------------------------------------------------------------------------- the server


def die_with_parent() -> None:
    """SIGTERM this process (the server, a client) if the benchmark itself is killed."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    def __init__(self, url: str, workers: int, log: Path, src: Path | None = None) -> None:
        self.url, self.workers, self.log, self.src = url, workers, log, src
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> None:
        cmd = [sys.executable, "-m", "yibao", "serve", "--host", "127.0.0.1", "--port", str(self.port),
               "--workers", str(self.workers), "--database-url", self.url]  # fmt: skip
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,
                env=code_env(self.src),
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"yibao serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            with suppress(OSError, http.client.HTTPException):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            time.sleep(0.1)
        raise SystemExit(f"yibao serve did not answer /healthz within {timeout:.0f} s:\n{self.log_tail()}")

    def cpu(self) -> float:
        assert self.proc is not None
        return tree_cpu(self.proc.pid)

    def stop(self) -> None:
        """SIGTERM (uvicorn stops its workers), then SIGKILL to the server's own process group."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group start_new_session made: ours alone
            self.proc.wait(timeout=10)

    def log_tail(self, n: int = 20) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "\n".join(lines[-n:])


# ---------------------------------------------------------------------------------------- the clients


@dataclass
class Tally:
    """What one client thread (then a process, then the whole run) saw in the measured phase."""

    latency: dict[str, list[float]] = field(default_factory=lambda: {code: [] for code in CODES})
    settlement: list[float] = field(default_factory=list)
    started: int = 0
    settled: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    """Answers with infcode -1, by transaction."""
    transport: Counter[str] = field(default_factory=Counter)
    """No answer (connection failed, timeout, HTTP status), by transaction."""
    messages: dict[str, Counter[str]] = field(default_factory=dict)
    checks: Counter[str] = field(default_factory=Counter)
    client_cpu: float = 0.0
    end: float = 0.0

    def merge(self, other: Tally) -> None:
        for code, values in other.latency.items():
            self.latency.setdefault(code, []).extend(values)
        self.settlement.extend(other.settlement)
        self.started += other.started
        self.settled += other.settled
        self.errors.update(other.errors)
        self.transport.update(other.transport)
        for code, msgs in other.messages.items():
            self.messages.setdefault(code, Counter()).update(msgs)
        self.checks.update(other.checks)
        self.client_cpu += other.client_cpu
        self.end = max(self.end, other.end)


@frozen
class Plan:
    port: int
    lines: int
    warmup: int
    timeout: float
    seed: int
    hospitals: tuple[Hospital, ...]
    items: tuple[Item, ...]
    total_threads: int


class Sync:
    """Shared between the parent and every client thread: warm-up barrier, start signal, stop rules."""

    def __init__(self, ctx: Any, parties: int, settlements: int | None) -> None:
        self.ready = ctx.Barrier(parties)
        self.go = ctx.Event()
        self.deadline = ctx.Value("d", 0.0)
        self.remaining = ctx.Value("q", -1 if settlements is None else settlements)

    def claim(self) -> bool:
        """May this thread start another measured settlement?"""
        if time.monotonic() >= self.deadline.value:
            return False
        with self.remaining.get_lock():
            if self.remaining.value < 0:
                return True
            if self.remaining.value == 0:
                return False
            self.remaining.value -= 1
            return True


class Msgids:
    """fixmedins_code(12) + yyyyMMddHHmmss(14) + serial(4), the serial space split between threads
    so that no two client threads (in any process) can make the same msgid in the same second."""

    def __init__(self, thread: int, threads: int) -> None:
        self.size = 10_000 // threads
        self.base = thread * self.size
        self.n = 0

    def next(self, fixmedins_code: str) -> str:
        self.n += 1
        return f"{fixmedins_code}{datetime.now():%Y%m%d%H%M%S}{self.base + self.n % self.size:04d}"


class Failed(Exception):
    pass


class Caller:
    """One keep-alive HTTP connection and the envelopes of the project's HisClient."""

    def __init__(self, plan: Plan, his: dict[str, HisClient], msgids: Msgids) -> None:
        self.plan, self.his, self.msgids = plan, his, msgids
        self.conn = KeepAlive(plan.port, plan.timeout)

    def post(self, body: bytes) -> dict[str, Any]:
        answer: dict[str, Any] = orjson.loads(self.conn.post(body))
        return answer

    def call(self, tally: Tally, code: str, hospital: str, data: dict[str, Any]) -> Any:
        his = self.his[hospital]
        body = orjson.dumps(his.envelope(code, data, msgid=self.msgids.next(hospital)))
        t0 = time.perf_counter()
        try:
            answer = self.post(body)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            tally.transport[code] += 1
            tally.messages.setdefault(code, Counter())[f"(no answer) {type(exc).__name__}: {exc}"[:200]] += 1
            raise Failed from None
        elapsed = time.perf_counter() - t0
        if answer.get("infcode") != 0:
            tally.errors[code] += 1
            tally.messages.setdefault(code, Counter())[str(answer.get("err_msg"))[:300]] += 1
            raise Failed
        tally.latency.setdefault(code, []).append(elapsed)
        return answer["output"]

    def close(self) -> None:
        self.conn.close()


def registration(rng: random.Random, person: Person, doctor: str) -> dict[str, Any]:
    """2201's input: an outpatient visit by ID card."""
    return {"data": {
        "psn_no": person.psn_no, "insutype": "310", "begntime": now_text(), "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person.certno, "ipt_otp_no": f"MZ{rng.randrange(10**8):08d}",
        "atddr_no": doctor, "dr_name": "张医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03",
    }}  # fmt: skip


def settlement(person: Person, mdtrt_id: str, medfee: Decimal) -> dict[str, Any]:
    """2206's and 2207's input: all the visit's lines, the personal account used."""
    return {"data": {
        "psn_no": person.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "med_type": "11",
        "medfee_sumamt": str(medfee), "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
        "insutype": "310", "acct_used_flag": "1",
    }}  # fmt: skip


def yuan(amount: float) -> Decimal:
    """An amount of an answer, exact: read as a float (orjson, lighter than json's Decimal parsing),
    whose shortest repr is the number as written for amounts of two decimals."""
    return Decimal(repr(amount))


def one_settlement(caller: Caller, tally: Tally, rng: random.Random, person: Person, hospital: Hospital) -> None:
    """2201, 2204, 2206, 2207 for one outpatient visit; a failed step ends the visit."""
    plan, code = caller.plan, hospital.code
    t0 = time.perf_counter()
    tally.started += 1
    try:
        out = caller.call(tally, "2201", code, registration(rng, person, hospital.doctor))
        mdtrt_id = str(out["data"]["mdtrt_id"])
        lines, medfee = fee_lines(rng, list(plan.items), plan.lines, mdtrt_id, person.psn_no, hospital.doctor)
        caller.call(tally, "2204", code, {"feedetail": lines})
        data = settlement(person, mdtrt_id, medfee)
        pre = caller.call(tally, "2206", code, data)["setlinfo"]
        done = caller.call(tally, "2207", code, data)["setlinfo"]
        paid = yuan(done["fund_pay_sumamt"]) + yuan(done["acct_pay"]) + yuan(done["psn_cash_pay"])
        differs = any(yuan(pre[k]) != yuan(done[k]) for k in ("fund_pay_sumamt", "acct_pay", "psn_cash_pay"))
        sent_back = yuan(done["medfee_sumamt"])
    except Failed:
        return
    except Exception as exc:  # an answer of an unexpected shape: count it, keep the client going
        tally.checks["answers of unexpected shape"] += 1
        tally.messages.setdefault("client", Counter())[f"{type(exc).__name__}: {exc}"[:200]] += 1
        return
    tally.settled += 1
    tally.settlement.append(time.perf_counter() - t0)
    tally.checks["2207 medfee_sumamt ≠ sent"] += sent_back != medfee
    tally.checks["2207 fund + acct + cash ≠ medfee"] += paid != medfee
    tally.checks["2206 ≠ 2207 (fund, acct, cash)"] += differs


def client_thread(plan: Plan, sync: Sync, caller: Caller, persons: list[Person], thread: int, out: list[Tally]) -> None:
    rng = random.Random(plan.seed * 1_000_003 + thread)
    warm = Tally()
    try:
        for _ in range(plan.warmup):
            one_settlement(caller, warm, rng, rng.choice(persons), rng.choice(plan.hospitals))
        sync.ready.wait(timeout=plan.timeout * 4 * max(1, plan.warmup) + 120)
        started = sync.go.wait(timeout=120)
    except threading.BrokenBarrierError:
        started = False
    if not started:
        caller.close()
        return
    tally = Tally()
    while sync.claim():
        one_settlement(caller, tally, rng, rng.choice(persons), rng.choice(plan.hospitals))
    tally.end = time.monotonic()
    caller.close()
    out.append(tally)


def client_process(plan: Plan, sync: Sync, threads: list[int], persons: list[Person], queue: Any) -> None:
    """A HIS client: one process, one thread per settlement in flight, results to the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    die_with_parent()
    unused = httpx.Client()  # HisClient wants one; we only borrow its envelope and post through KeepAlive
    his = {h.code: HisClient("", h.code, fixmedins_name=h.name, client=unused) for h in plan.hospitals}
    callers = [Caller(plan, his, Msgids(t, plan.total_threads)) for t in threads]
    sign_in = Tally()  # each hospital signs in (9001) once, as a HIS does at the start of the day
    for h in plan.hospitals:
        with suppress(Failed):
            out = callers[0].call(
                sign_in, "9001", h.code, {"signIn": {"opter_no": "001", "mac": "", "ip": "127.0.0.1"}}
            )
            his[h.code].sign_no = str(out["signinoutb"]["sign_no"])
    results: list[Tally] = []
    workers = [
        threading.Thread(
            target=client_thread,
            args=(plan, sync, caller, persons[t :: plan.total_threads], t, results),
            daemon=True,
        )
        for t, caller in zip(threads, callers, strict=True)
    ]
    for w in workers:
        w.start()
    sync.go.wait()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for w in workers:
        w.join()
    after = resource.getrusage(resource.RUSAGE_SELF)
    total = Tally()
    for r in results:
        total.merge(r)
    total.errors.update(sign_in.errors)  # 9001 outside the measured phase, but its errors are worth seeing
    total.transport.update(sign_in.transport)
    for code, msgs in sign_in.messages.items():
        total.messages.setdefault(code, Counter()).update(msgs)
    total.client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    unused.close()
    queue.put(total)


# ---------------------------------------------------------------------------------------- the run


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


@dataclass
class Measured:
    tally: Tally
    seconds: float
    server_cpu: float
    db_cpu: float | None
    machine_busy: float
    machine_total: float


def drive(args: argparse.Namespace, plan: Plan, persons: list[Person], server: Server, db_name: str) -> Measured:
    ctx = mp.get_context("fork")  # the parent has no threads of its own at this point
    sync = Sync(ctx, plan.total_threads + 1, args.settlements)
    queue = ctx.Queue()
    per_process = [list(range(plan.total_threads))[i :: args.clients] for i in range(args.clients)]
    procs = [
        ctx.Process(target=client_process, args=(plan, sync, threads, persons, queue), daemon=True)
        for threads in per_process
    ]
    for p in procs:
        p.start()
    try:
        try:
            sync.ready.wait(timeout=plan.timeout * 4 * max(1, plan.warmup) + 180)
        except threading.BrokenBarrierError:
            raise SystemExit("the client threads did not finish their warm-up in time") from None
        server_before = server.cpu()
        db_before = postgres_backends_cpu(db_name) if args.backend == "postgresql" else None
        busy_before, total_before = machine_cpu()
        start = time.monotonic()
        limit = args.time_limit if args.settlements is not None else min(args.duration, args.time_limit)
        sync.deadline.value = start + limit
        sync.go.set()
        total = Tally()
        for _ in procs:
            total.merge(queue.get(timeout=limit + plan.timeout + 120))
        server_after = server.cpu()
        db_after = postgres_backends_cpu(db_name) if args.backend == "postgresql" else None
        busy_after, total_after = machine_cpu()
    finally:
        sync.deadline.value = 0.0  # on the way out early (an error, a signal): no new settlements
        sync.ready.abort()
        sync.go.set()
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
    return Measured(
        total,
        max(total.end - start, 1e-9),
        server_after - server_before,
        None if db_before is None or db_after is None else db_after - db_before,
        busy_after - busy_before,
        total_after - total_before,
    )


def report(args: argparse.Namespace, m: Measured, setup_s: float, server_log: str) -> None:
    t = m.tally
    calls = sum(len(v) for v in t.latency.values()) + sum(t.errors.values())
    n = max(t.settled, 1)
    print(f"measured: {m.seconds:.1f} s")
    print(f"  settlements     {t.settled:,} completed of {t.started:,} started: {t.settled / m.seconds:,.1f} /s")
    print(f"  API calls       {calls:,} answered: {calls / m.seconds:,.1f} /s")
    print("  latency, ms      p50      p99      max        n")
    for code in CODES:
        v = sorted(t.latency.get(code, []))
        mx = v[-1] if v else math.nan
        print(f"    {code}       {percentile(v, 0.5) * 1e3:7.1f}  {percentile(v, 0.99) * 1e3:7.1f}  "
              f"{mx * 1e3:7.1f}  {len(v):7,}")  # fmt: skip
    s = sorted(t.settlement)
    print(f"    settlement {percentile(s, 0.5) * 1e3:7.1f}  {percentile(s, 0.99) * 1e3:7.1f}  "
          f"{(s[-1] if s else math.nan) * 1e3:7.1f}  {len(s):7,}   (all four calls)")  # fmt: skip
    per_code = ", ".join(f"{c} {t.errors.get(c, 0)}" for c in CODES)
    extra = {k: v for k, v in t.errors.items() if k not in CODES}
    per_code += "".join(f", {k} {v}" for k, v in extra.items())
    no_answer = sum(t.transport.values())
    print(
        f"  errors          {sum(t.errors.values()):,} answered infcode -1 ({per_code}); {no_answer:,} without answer"
    )
    for code in sorted(t.messages):
        for msg, count in t.messages[code].most_common(3):
            print(f"    {code} ×{count}: {msg}")
    print("  checks          " + ", ".join(f"{k}: {v}" for k, v in t.checks.items()))
    cores = os.cpu_count() or 1
    busy_cores = m.server_cpu / m.seconds
    print(f"  server CPU      {m.server_cpu / n * 1e3:.2f} ms a settlement ({m.server_cpu:.1f} s in {m.seconds:.1f} s: "
          f"{busy_cores:.2f} of {cores} cores; server process and its workers)")  # fmt: skip
    if m.db_cpu is not None:
        print(f"  PostgreSQL CPU  {m.db_cpu / n * 1e3:.2f} ms a settlement ({m.db_cpu:.1f} s: backends of this "
              "database, not counted above)")  # fmt: skip
    print(f"  client CPU      {t.client_cpu / n * 1e3:.2f} ms a settlement ({t.client_cpu:.1f} s, not counted)")
    # the figure that carries across the box's swings: what every core fully busy would settle at this cost
    all_told = (m.server_cpu + (m.db_cpu or 0.0) + t.client_cpu) / n
    print(f"  all told        {all_told * 1e3:.2f} ms a settlement: {cores / all_told:,.0f}/s "
          f"with {cores} cores fully busy")  # fmt: skip
    busy = m.machine_busy / m.machine_total * 100 if m.machine_total else math.nan
    others = max(0.0, m.machine_busy - m.server_cpu - (m.db_cpu or 0.0) - t.client_cpu) / m.seconds
    print(f"  machine         {busy:.0f}% busy of {cores} cores; everything else on the box took {others:.2f} cores")
    print(f"  setup           {setup_s:.1f} s (database, registry, policies, catalogue)")
    if server_log.strip():
        lines = server_log.strip().splitlines()
        print(f"  server log      {len(lines)} line(s); last: {lines[-1][:200]}")


@dataclass
class Side:
    """One database and the server over it: this checkout's code, or --against's."""

    label: str
    code: str
    url: str
    db_name: str
    server: Server
    setup_s: float


def prepare(args: argparse.Namespace, tmp: Path, stack: ExitStack, registry_file: Path, label: str,
            root: Path = ROOT, src: Path | None = None) -> Side:  # fmt: skip
    """A fresh database loaded with the registry, the policies and the catalogue, and a server over it
    (both gone when ``stack`` closes)."""
    (tmp / label).mkdir()
    url, db_name = stack.enter_context(fresh_database(args, tmp / label))
    t0 = time.monotonic()
    for out in (
        yibao("db", "init", url=url, src=src),
        yibao("load-registry", str(registry_file), url=url, src=src),
        yibao("load-policy", *map(str, POLICIES), url=url, src=src),
        yibao("load-catalog", str(CATALOG), url=url, src=src),
    ):
        for line in out.strip().splitlines():
            print(f"  {line}" if label == "this" else f"  {label}: {line}")
    setup_s = time.monotonic() - t0
    server = Server(url, args.workers, tmp / label / "server.log", src)
    stack.callback(server.stop)
    server.start()
    return Side(label, revision(root), url, db_name, server, setup_s)


def ledger_check(side: Side) -> str:
    check = yibao("ledger", "check", url=side.url, src=side.server.src).strip().splitlines()
    diffs = sum(1 for line in check if line.startswith("DIFF"))
    return (check[-1] if check else "(no output)") + (f" [{diffs} DIFF]" if diffs else "")


def brief(m: Measured) -> dict[str, float]:
    n, t = max(m.tally.settled, 1), m.tally
    p2207 = sorted(t.latency.get("2207", []))
    return {
        "settlements/s": t.settled / m.seconds,
        "server ms": m.server_cpu / n * 1e3,
        "PostgreSQL ms": (m.db_cpu or 0.0) / n * 1e3,
        "client ms": t.client_cpu / n * 1e3,
        "2207 p50 ms": percentile(p2207, 0.5) * 1e3,
        "2207 p99 ms": percentile(p2207, 0.99) * 1e3,
        "errors": sum(t.errors.values()) + sum(t.transport.values()),
    }


def at_once(
    args: argparse.Namespace, sides: list[Side], plans: list[Plan], persons: list[Person]
) -> list[dict[str, float]]:
    """--together: both sides driven in the same window, the second in a forked process (its own client
    processes and measurements, as drive makes them)."""
    ctx = mp.get_context("fork")  # the parent has no threads of its own: drive forks its clients alike
    results = ctx.Queue()

    def second() -> None:
        results.put(brief(drive(args, plans[1], persons, sides[1].server, sides[1].db_name)))

    child = ctx.Process(target=second, daemon=False)
    child.start()
    try:
        first = brief(drive(args, plans[0], persons, sides[0].server, sides[0].db_name))
        while True:
            try:
                other: dict[str, float] = results.get(timeout=5)
                break
            except queue.Empty:
                if not child.is_alive():
                    raise SystemExit(f"the drive of {sides[1].label} ended without its figures") from None
    finally:
        child.join(timeout=60)
        if child.is_alive():
            child.terminate()
    return [first, other]


def alternate(args: argparse.Namespace, sides: list[Side], make_plan: Callable[[Side, int], Plan],
              persons: list[Person]) -> None:  # fmt: skip
    """--against: the sides driven in turn (A B, B A, …), or at once (--together), so that a box whose
    speed drifts within minutes weighs on both alike; each run's figures, then each side's medians."""
    runs: dict[str, list[dict[str, float]]] = {side.label: [] for side in sides}
    for r in range(args.rounds):
        order = sides if r % 2 == 0 else sides[::-1]
        if args.together:
            both = at_once(args, order, [make_plan(side, r) for side in order], persons)
        else:
            both = [brief(drive(args, make_plan(side, r), persons, side.server, side.db_name)) for side in order]
        for side, figures in zip(order, both, strict=True):
            runs[side.label].append(figures)
            print(f"  round {r + 1} {side.label:8} " + ", ".join(f"{k} {v:,.2f}" for k, v in figures.items()))
    print("medians of the rounds:")
    for side in sides:
        medians = {k: statistics.median(run[k] for run in runs[side.label]) for k in runs[side.label][0]}
        print(f"  {side.label:8} {side.code}: " + ", ".join(f"{k} {v:,.2f}" for k, v in medians.items()))
    for side in sides:
        side.server.stop()
        print(f"  ledger check ({side.label}): {ledger_check(side)}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)

    def stop(signum: int, _frame: object) -> None:
        print(f"stopping on signal {signum}: the server, the client processes and the database go too", file=sys.stderr)
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    items = catalogue_items(CATALOG)
    threads = args.concurrency
    mode = f"{args.settlements:,} settlements" if args.settlements else f"{args.duration:g} s"
    if args.against is not None:
        mode += f", {args.rounds} rounds against {args.against}" + (", both at once" if args.together else "")
    print(f"yibao settlement benchmark: {args.backend}, {args.workers} server worker(s), {args.clients} client "
          f"process(es) with {threads} settlements in flight, {args.lines} fee lines a visit, {mode}")  # fmt: skip
    print(f"  code at {revision()}; Python {sys.version.split()[0]}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="yibao-bench-") as tmpdir, ExitStack() as stack:
        tmp = Path(tmpdir)
        registry = make_registry(args.persons, args.institutions, args.acct_balc, args.seed)
        registry_file = tmp / "registry.json"
        registry_file.write_text(json.dumps(registry, ensure_ascii=False), encoding="utf-8")
        persons = [Person(p["psn_no"], p["certno"]) for p in registry["persons"]]
        hospitals = tuple(
            Hospital(h["fixmedins_code"], h["fixmedins_name"], d["prac_code"])
            for h, d in zip(registry["institutions"], registry["practitioners"], strict=True)
        )

        def make_plan(side: Side, round_no: int) -> Plan:
            return Plan(side.server.port, args.lines, args.warmup, args.timeout, args.seed + round_no, hospitals,
                        tuple(items), threads)  # fmt: skip

        sides = [prepare(args, tmp, stack, registry_file, "this")]
        if args.against is not None:
            sides.append(prepare(args, tmp, stack, registry_file, "against", args.against, args.against / "src"))
            print(f"  against: code at {sides[1].code}")
            alternate(args, sides, make_plan, persons)
            return
        (side,) = sides
        measured = drive(args, make_plan(side, 0), persons, side.server, side.db_name)
        side.server.stop()
        report(args, measured, side.setup_s, side.server.log.read_text(errors="replace"))
        print(f"  ledger check    {ledger_check(side)}")


if __name__ == "__main__":
    main()
