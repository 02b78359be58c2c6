"""Crash harness: HIS clients settle while the server is killed with SIGKILL and restarted.

Used by the short test (tests/reliability/test_crash.py) and the long run (bench/crash.py).

Each client thread has its own persons and settles outpatient visits (2201 → 2204 → 2206 → 2207)
at one hospital. Every message is built once and, after a transport failure (connection refused or
reset, no answer), sent again byte for byte — the same msgid — until an answer comes. A killer
thread starts ``yibao serve`` in its own process group, lets it serve for a random moment, kills
the whole group with SIGKILL, and starts it again on the same port.

Afterwards :func:`consistency_problems` compares what the clients were told with the database.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import text

from tests.databases import GZ
from tests.flows import AMOXICILLIN, BLOOD_TEST, line, now_text
from yibao.app.records import LOCAL
from yibao.domain.frozen import frozen
from yibao.sim.his import HisClient, KeepAlive
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.personal import personal_for
from yibao.store.sql import logged_answer

HOSPITAL = "H44010600001"
DOCTOR = "D440106000001"
CODES = ("2201", "2204", "2206", "2207")
SYSTEM_ERROR = "系统错误"


# ---------------------------------------------------------------------------------------- persons


def id_check_digit(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


@frozen
class Person:
    psn_no: str
    certno: str


def make_persons(count: int, acct_balc: str = "5000") -> tuple[list[Person], dict[str, Any]]:
    """``count`` Guangzhou employees (insutype 310) and the registry file that loads them."""
    template = next(p for p in json.loads((GZ / "registry.json").read_text())["persons"] if p["acct_balc"] == 5000)
    persons, entries = [], []
    for i in range(count):
        first17 = f"4401061985{(i // 28) % 12 + 1:02d}{i % 28 + 1:02d}{i // 336 % 1000:03d}"
        person = Person(f"44010077{i + 1:012d}", first17 + id_check_digit(first17))
        persons.append(person)
        entry = {k: v for k, v in template.items() if k not in ("card_no", "card_sn")}
        entries.append({**entry, "psn_no": person.psn_no, "certno": person.certno, "brdy": "1985-01-01",
                        "acct_balc": acct_balc})  # fmt: skip
    return persons, {"persons": entries}


def load_persons(url: str, registry: dict[str, Any], path: Path) -> None:
    from yibao.store import loading

    path.write_text(json.dumps(registry, ensure_ascii=False), encoding="utf-8")
    db = Database(make_engine(url))
    try:
        loading.load_registry_file(db, path)
    finally:
        db.dispose()


# ---------------------------------------------------------------------------------------- the server


class Server:
    """``yibao serve`` in its own process group, killed with SIGKILL and started again on one port."""

    def __init__(self, url: str, port: int, log_path: Path, workers: int = 1, env: dict[str, str] | None = None):
        self.url, self.port, self.log_path, self.workers = url, port, log_path, workers
        # no rate limit (tests/reliability/test_limits.py has it): the clients all send as one institution,
        # as fast as a server on a fast database answers them, which can be more than 500 a second
        self.env = {**os.environ, "YIBAO_DATABASE_URL": url, "YIBAO_RATE_LIMIT": "0", **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> float:
        """Start it and wait for /healthz; the seconds that took."""
        t0 = time.monotonic()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "yibao", "serve", "--port", str(self.port), "--workers", str(self.workers),
                 "--no-upgrade"],
                env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        self.starts += 1
        while True:
            if self.healthy():
                return time.monotonic() - t0
            if self.proc.poll() is not None:  # e.g. the port not yet free: try again
                time.sleep(0.2)
                return self.start(timeout - (time.monotonic() - t0))
            if time.monotonic() - t0 > timeout:
                self.kill()
                raise RuntimeError(f"server did not start in {timeout:.0f} s: {self.log_tail()}")
            time.sleep(0.02)

    def healthy(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def kill(self) -> None:
        """SIGKILL to the whole group (the server and its workers), and wait for it."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        """A clean stop (SIGTERM to the group), SIGKILL if it does not go."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            self.kill()
        self.proc = None

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# ---------------------------------------------------------------------------------------- the clients


@dataclass
class Tally:
    requests: int = 0
    """Messages sent for the first time."""
    retries: int = 0
    """Sends of a message again after a transport failure."""
    retried: int = 0
    """Messages sent more than once."""
    replayed: int = 0
    """Answers that were older than the retry that fetched them: committed, lost in a kill, replayed."""
    refused: dict[str, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    visits: int = 0
    acknowledged: dict[str, str] = field(default_factory=dict)
    """setl_id → mdtrt_id of every 2207 answered infcode 0."""
    answers: dict[str, str] = field(default_factory=dict)
    """msgid → the 2207 answer exactly as received."""
    registered: dict[str, str] = field(default_factory=dict)
    """mdtrt_id → msgid of its 2201."""
    system_errors: int = 0
    """Answers 系统错误 (infcode -1, nothing done) that the client sent again, same msgid."""


class GaveUp(RuntimeError):
    pass


class Client:
    """One HIS workstation: one connection, one message at a time, resent until answered."""

    def __init__(self, port: int, tally: Tally, give_up_after: float = 120.0, retry_system_errors: bool = False):
        self.port, self.tally, self.give_up_after = port, tally, give_up_after
        self.retry_system_errors = retry_system_errors
        self.his = HisClient("", HOSPITAL, client=None)  # type: ignore[arg-type]  # only its envelopes
        self.conn = KeepAlive(port)
        self.lock = threading.Lock()

    def send(self, body: bytes) -> bytes:
        return self.conn.post(body)

    def call(self, infno: str, input: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
        """(answer, answer text, msgid): the same bytes again after each transport failure."""
        msgid = self.his.next_msgid()
        body = json.dumps(self.his.envelope(infno, input, msgid=msgid), ensure_ascii=False).encode()
        self.tally.requests += 1
        resent, deadline = False, time.monotonic() + self.give_up_after
        while True:
            sent_at = f"{datetime.now(LOCAL):%Y%m%d%H%M%S%f}"[:17]
            try:
                raw = self.send(body)
            except (OSError, http.client.HTTPException):
                if time.monotonic() > deadline:
                    raise GaveUp(f"{infno} {msgid}: no answer in {self.give_up_after:.0f} s") from None
                self.tally.retries += 1
                resent = True
                time.sleep(0.05)
                continue
            answer: dict[str, Any] = json.loads(raw, parse_float=Decimal)
            if resent and str(answer.get("respond_time", "")) < sent_at:
                self.tally.replayed += 1
            if self.retry_system_errors and str(answer.get("err_msg") or "").startswith(SYSTEM_ERROR):
                self.tally.system_errors += 1
                if time.monotonic() > deadline:
                    raise GaveUp(f"{infno} {msgid}: still {answer['err_msg']} after {self.give_up_after:.0f} s")
                resent = True
                time.sleep(0.05)
                continue
            self.tally.retried += resent
            if answer.get("infcode") != 0:
                self.tally.refused[infno] = self.tally.refused.get(infno, 0) + 1
                self.tally.refusals.append(f"{infno}: {answer.get('err_msg')}")
            return answer, raw.decode(), msgid

    def sign_in(self) -> None:
        """9001, as a HIS does at the start of the day; its sign_no goes into every envelope after it."""
        answer = self.call("9001", {"signIn": {"opter_no": self.his.opter, "mac": "", "ip": "127.0.0.1"}})[0]
        if answer["infcode"] != 0:
            raise RuntimeError(f"9001: {answer['err_msg']}")
        self.his.sign_no = str(answer["output"]["signinoutb"]["sign_no"])

    def close(self) -> None:
        self.conn.close()


def one_visit(client: Client, rng: random.Random, person: Person, lines: int) -> None:
    """2201, 2204, 2206, 2207; a refusal ends the visit (and is counted)."""
    t = client.tally
    t.visits += 1
    answer, _, msgid = client.call("2201", {"data": {
        "psn_no": person.psn_no, "insutype": "310", "begntime": now_text(), "mdtrt_cert_type": "02",
        "mdtrt_cert_no": person.certno, "ipt_otp_no": f"MZ{rng.randrange(10**8):08d}", "atddr_no": DOCTOR,
        "dr_name": "张医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03",
    }})  # fmt: skip
    if answer["infcode"] != 0:
        return
    mdtrt_id = str(answer["output"]["data"]["mdtrt_id"])
    t.registered[mdtrt_id] = msgid
    fee = [
        line(str(i + 1), mdtrt_id, person.psn_no, rng.choice((BLOOD_TEST, AMOXICILLIN)), str(rng.randint(1, 4)),
             f"{rng.randint(500, 9000) / 100:.2f}")
        for i in range(lines)
    ]  # fmt: skip
    medfee = sum((Decimal(f["det_item_fee_sumamt"]) for f in fee), Decimal(0))
    if client.call("2204", {"feedetail": fee})[0]["infcode"] != 0:
        return
    data = {"data": {
        "psn_no": person.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "med_type": "11",
        "medfee_sumamt": str(medfee), "psn_setlway": "01", "mdtrt_id": mdtrt_id, "chrg_bchno": "B1",
        "insutype": "310", "acct_used_flag": "1",
    }}  # fmt: skip
    if client.call("2206", data)[0]["infcode"] != 0:
        return
    answer, raw, msgid = client.call("2207", data)
    if answer["infcode"] == 0:
        t.acknowledged[str(answer["output"]["setlinfo"]["setl_id"])] = mdtrt_id
        t.answers[msgid] = raw


# ---------------------------------------------------------------------------------------- the run


@dataclass
class CrashRun:
    fault: str = "kills (SIGKILL)"
    kills: int = 0
    starts: int = 0
    seconds: float = 0.0
    restart_seconds: float = 0.0
    tally: Tally = field(default_factory=Tally)
    errors: list[str] = field(default_factory=list)
    """Client threads that stopped on something other than a refusal."""

    def figures(self) -> str:
        t = self.tally
        refused = sum(t.refused.values())
        return (
            f"{self.kills} {self.fault} in {self.seconds:.1f} s, {self.starts} server starts "
            f"({self.restart_seconds / max(self.starts, 1):.2f} s each); {t.visits} visits, {t.requests} requests, "
            f"{t.retried} of them sent again ({t.retries} sends after a transport failure), "
            f"{t.replayed} answers replayed from the message log; "
            f"{t.system_errors} answers 系统错误 sent again; "
            f"{len(t.acknowledged)} settlements acknowledged, {refused} refused"
        )


def crash_run(
    server: Server,
    persons: list[Person],
    *,
    threads: int = 4,
    kills: int = 20,
    uptime: tuple[float, float] = (0.2, 0.8),
    lines: int = 3,
    seed: int = 1,
    progress: Callable[[str], None] | None = None,
    fault: Callable[[], None] | None = None,
    retry_system_errors: bool = False,
) -> CrashRun:
    """Settle from ``threads`` clients while ``server`` is killed ``kills`` times (or ``fault`` is
    done that many times instead); the server is left stopped. Persons are dealt out to the threads,
    so no two threads share one."""
    run = CrashRun() if fault is None else CrashRun(fault="faults")
    stop = threading.Event()
    tallies = [Tally() for _ in range(threads)]

    def client_thread(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        mine = persons[n::threads]
        client = Client(server.port, tallies[n], retry_system_errors=retry_system_errors)
        try:
            client.sign_in()
            while not stop.is_set():
                one_visit(client, rng, mine[rng.randrange(len(mine))], lines)
        except Exception as exc:
            run.errors.append(f"thread {n}: {type(exc).__name__}: {exc}")
        finally:
            client.close()

    t0 = time.monotonic()
    run.restart_seconds += server.start()
    workers = [threading.Thread(target=client_thread, args=(n,), daemon=True) for n in range(threads)]
    for w in workers:
        w.start()
    rng = random.Random(seed)
    try:
        while run.kills < kills:
            time.sleep(rng.uniform(*uptime))
            if fault is None:
                server.kill()
                run.kills += 1
                run.restart_seconds += server.start()
            else:
                fault()
                run.kills += 1
            if progress and run.kills % 10 == 0:
                done = sum(len(t.acknowledged) for t in tallies)
                progress(f"  {run.kills} kills, {done} settlements acknowledged, {time.monotonic() - t0:.0f} s")
        time.sleep(rng.uniform(*uptime))  # the last server lets every client finish its visit
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=180)
        server.stop()
    run.starts = server.starts
    run.seconds = time.monotonic() - t0
    for t in tallies:
        run.tally.requests += t.requests
        run.tally.retries += t.retries
        run.tally.replayed += t.replayed
        run.tally.retried += t.retried
        run.tally.system_errors += t.system_errors
        run.tally.visits += t.visits
        for k, v in t.refused.items():
            run.tally.refused[k] = run.tally.refused.get(k, 0) + v
        run.tally.refusals += t.refusals
        run.tally.acknowledged.update(t.acknowledged)
        run.tally.answers.update(t.answers)
        run.tally.registered.update(t.registered)
    if any(w.is_alive() for w in workers):
        run.errors.append("a client thread did not finish")
    return run


# ---------------------------------------------------------------------------------------- the checks


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def consistency_problems(url: str, tally: Tally) -> tuple[list[str], dict[str, int]]:
    """What differs between the clients' answers and the database, and the number of each check made."""
    db = Database(make_engine(url))
    problems: list[str] = []
    checked: dict[str, int] = {}
    try:
        settled = {r[0]: r for r in rows(db, "SELECT setl_id, mdtrt_id, msgid, medfee_sumamt, fixmedins_code "
                                             "FROM settlement WHERE revs_setl_id IS NULL")}  # fmt: skip
        acked = tally.acknowledged
        checked["acknowledged settlements found"] = len(acked)
        problems += [f"acknowledged settlement {s} is not in the database" for s in acked.keys() - settled.keys()]
        problems += [f"settlement {s} was never acknowledged" for s in settled.keys() - acked.keys()]
        problems += [f"settlement {s} is of visit {settled[s][1]}, acknowledged for {m}"
                     for s, m in acked.items() if s in settled and settled[s][1] != m]  # fmt: skip

        twice = rows(db, "SELECT mdtrt_id, COUNT(*) FROM settlement GROUP BY mdtrt_id HAVING COUNT(*) > 1")
        checked["visits with at most one settlement"] = len({r[1] for r in settled.values()})
        problems += [f"visit {m} has {n} settlements" for m, n in twice]

        orphans = rows(db, "SELECT f.id, f.setl_id FROM fee_line f LEFT JOIN settlement s ON s.setl_id = f.setl_id "
                           "WHERE f.setl_id IS NOT NULL AND s.setl_id IS NULL")  # fmt: skip
        problems += [f"fee line {i} linked to missing settlement {s}" for i, s in orphans]
        sums = dict(rows(db, "SELECT setl_id, SUM(det_item_fee_sumamt) FROM fee_line WHERE setl_id IS NOT NULL "
                             "GROUP BY setl_id"))  # fmt: skip
        setl_lines = dict(rows(db, "SELECT setl_id, COUNT(*) FROM setl_line GROUP BY setl_id"))
        fee_counts = dict(rows(db, "SELECT setl_id, COUNT(*) FROM fee_line WHERE setl_id IS NOT NULL GROUP BY setl_id"))
        for s, r in settled.items():
            checked["settlements whose lines add up"] = checked.get("settlements whose lines add up", 0) + 1
            if int(sums.get(s) or 0) != int(r[3]):
                problems.append(f"settlement {s}: medfee {r[3]} fen, its fee lines {sums.get(s)} fen")
            if setl_lines.get(s, 0) != fee_counts.get(s, 0):
                problems.append(f"settlement {s}: {setl_lines.get(s, 0)} setl_line rows, {fee_counts.get(s, 0)} lines")

        postings = rows(db, "SELECT DISTINCT t.posting_id FROM ledger_transfer t LEFT JOIN settlement s "
                            "ON s.setl_id = t.posting_id WHERE s.setl_id IS NULL")  # fmt: skip
        checked["ledger postings"] = int(rows(db, "SELECT COUNT(DISTINCT posting_id) FROM ledger_transfer")[0][0])
        problems += [f"ledger posting {p} has no settlement" for (p,) in postings if not p.startswith("opening-")]
        unposted = rows(db, "SELECT s.setl_id FROM settlement s LEFT JOIN ledger_transfer t "
                            "ON t.posting_id = s.setl_id WHERE t.id IS NULL "
                            "AND (s.fund_pay_sumamt <> 0 OR s.acct_pay <> 0)")  # fmt: skip
        problems += [f"settlement {s} has no ledger posting" for (s,) in unposted]

        personal = personal_for(url)  # the answers are kept sealed, but a fee upload's
        logged = {
            (code, msgid): (code, msgid, infno, logged_answer(personal, code, msgid, infno, stored))
            for code, msgid, infno, stored in rows(db, "SELECT fixmedins_code, msgid, infno, response FROM message_log")
        }
        for s, r in settled.items():
            entry = logged.get((r[4], r[2]))
            if entry is None or entry[2] != "2207":
                problems.append(f"settlement {s}: no 2207 in the message log under msgid {r[2]}")
            elif json.loads(entry[3])["output"]["setlinfo"]["setl_id"] != s:
                problems.append(f"settlement {s}: the message log's answer names another settlement")
        for msgid, raw in tally.answers.items():
            checked["2207 answers equal to the message log"] = (
                checked.get("2207 answers equal to the message log", 0) + 1
            )
            entry = logged.get((HOSPITAL, msgid))
            if entry is None or entry[3] != raw:
                problems.append(f"2207 {msgid}: the answer received differs from the message log")
        for (code, msgid), entry in logged.items():
            if entry[2] == "2207" and json.loads(entry[3])["infcode"] == 0:
                setl_id = json.loads(entry[3])["output"]["setlinfo"]["setl_id"]
                if setl_id not in settled:
                    problems.append(f"message log {code} {msgid}: answered settlement {setl_id} does not exist")
        visits = {r[0] for r in rows(db, "SELECT mdtrt_id FROM visit")}
        registered = {json.loads(e[3])["output"]["data"]["mdtrt_id"] for e in logged.values()
                      if e[2] == "2201" and json.loads(e[3])["infcode"] == 0}  # fmt: skip
        checked["visits matched to a logged 2201"] = len(visits)
        problems += [f"visit {m} has no 2201 in the message log" for m in visits - registered]
        problems += [f"2201 answered visit {m}, which does not exist" for m in registered - visits]
        problems += [f"visit {m} acknowledged to the client does not exist" for m in tally.registered.keys() - visits]
    finally:
        db.dispose()
    check = subprocess.run([sys.executable, "-m", "yibao", "ledger", "check"], capture_output=True, text=True,
                           env={**os.environ, "YIBAO_DATABASE_URL": url}, check=False)  # fmt: skip
    checked["ledger check"] = 1
    if check.returncode != 0:
        problems.append(f"yibao ledger check failed: {(check.stdout + check.stderr).strip()[-2000:]}")
    return problems, checked
