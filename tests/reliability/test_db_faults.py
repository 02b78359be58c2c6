"""Database faults under load: PostgreSQL connections cut from the server's side, SQLite out of space.

Either way a message is answered infcode -1 (系统错误, nothing done) or not at all, the client sends
it again under the same msgid, and in the end every settlement exists once and the ledger checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import psycopg
import simplejson
from sqlalchemy import event

from tests.databases import PG_ADMIN, fresh_database, load_demo
from tests.flows import BLOOD_TEST, line, now_text, row_counts
from tests.reliability.harness import (
    DOCTOR,
    HOSPITAL,
    SYSTEM_ERROR,
    CrashRun,
    Server,
    Tally,
    consistency_problems,
    crash_run,
    load_persons,
    make_persons,
)
from yibao.api.fsi.dispatch import Dispatcher
from yibao.federation.launch import free_port
from yibao.sim.his import HisClient
from yibao.store.database import Database
from yibao.store.engine import make_engine


def test_postgresql_connections_terminated_under_load(tmp_path: Path) -> None:
    """pg_terminate_backend on every backend of the server's database, 8 times while 4 clients settle."""
    with fresh_database("postgresql", tmp_path) as url:
        load_demo(url)
        persons, registry = make_persons(24)
        load_persons(url, registry, tmp_path / "persons.json")
        db_name = url.rsplit("/", 1)[1]
        terminated: list[int] = []

        def terminate() -> None:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                row = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (db_name,),
                ).fetchone()
            terminated.append(int(row[0]) if row else 0)

        server = Server(url, free_port(), tmp_path / "server.log", workers=2)
        run = crash_run(server, persons, threads=4, kills=8, uptime=(0.3, 0.9), seed=3, fault=terminate,
                        retry_system_errors=True)  # fmt: skip
        print(run.figures(), f"; backends terminated: {terminated}")
        assert run.errors == [], server.log_tail()
        assert len(terminated) == 8 and sum(terminated) >= 8, terminated
        assert run.tally.refusals == []  # every -1 was 系统错误 and went through when sent again
        assert run.tally.system_errors > 0, "no request noticed the cut connections"
        assert len(run.tally.acknowledged) >= 20
        problems, _ = consistency_problems(url, run.tally)
        assert problems == [], "\n".join(problems[:30])
        assert "Traceback" not in "".join(run.tally.answers.values())


def envelope(his: HisClient, infno: str, input: dict[str, Any]) -> bytes:
    return simplejson.dumps(his.envelope(infno, input)).encode()


def test_sqlite_disk_full_is_answered_minus_one_and_changes_nothing(tmp_path: Path) -> None:
    """``PRAGMA max_page_count`` near the current size: the file cannot grow, as on a full disk.

    First visits run until the database is full (whatever message that hits), then settlements
    (2207) are sent with no room at all. Each -1 is 系统错误 and leaves every table as it was; with
    room again, the same messages go through and the books are whole.
    """
    url = f"sqlite:///{tmp_path / 'yibao.db'}"
    load_demo(url)
    persons, registry = make_persons(4)
    load_persons(url, registry, tmp_path / "persons.json")
    engine = make_engine(url)
    room: dict[str, int | None] = {"pages": None}  # pages the file may still grow by; None: no limit

    @event.listens_for(engine, "connect")
    def _limit(dbapi_connection: Any, _record: Any) -> None:
        if room["pages"] is not None:
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages + room['pages']}")

    def limit(pages: int | None) -> None:
        room["pages"] = pages
        engine.dispose()  # the next connection gets the limit

    db = Database(engine)
    dispatcher = Dispatcher(db)
    his = HisClient("", HOSPITAL, client=None)  # type: ignore[arg-type]  # only its envelopes
    tally = Tally()
    failed: list[tuple[str, bytes]] = []

    def send(infno: str, body: bytes) -> dict[str, Any] | None:
        """The answer, or None after checking that the -1 is clean and wrote nothing."""
        before = row_counts(db)
        raw = dispatcher.handle(body)
        assert isinstance(raw, str)
        answer: dict[str, Any] = json.loads(raw)
        if answer["infcode"] == 0:
            if infno == "2207":
                tally.acknowledged[answer["output"]["setlinfo"]["setl_id"]] = answer["output"]["setlinfo"]["mdtrt_id"]
                tally.answers[json.loads(body)["msgid"]] = raw
            return answer
        assert answer["infcode"] == -1 and answer["err_msg"].startswith(SYSTEM_ERROR), answer
        assert "Traceback" not in raw
        assert row_counts(db) == before, f"{infno} answered -1 but wrote"
        failed.append((infno, body))
        return None

    def visit(n: int, full_at_settlement: bool) -> None:
        person = persons[n % len(persons)]
        answer = send("2201", envelope(his, "2201", {"data": {
            "psn_no": person.psn_no, "insutype": "310", "begntime": now_text(), "mdtrt_cert_type": "02",
            "mdtrt_cert_no": person.certno, "ipt_otp_no": f"MZ{n}", "atddr_no": DOCTOR}}))  # fmt: skip
        if answer is None:
            return
        mdtrt_id = answer["output"]["data"]["mdtrt_id"]
        tally.registered[mdtrt_id] = ""
        lines = [line(str(i), mdtrt_id, person.psn_no, BLOOD_TEST, "1", "25.00") for i in range(40)]
        if send("2204", envelope(his, "2204", {"feedetail": lines})) is None:
            return
        if full_at_settlement:
            limit(0)
        send("2207", envelope(his, "2207", {"data": {
            "psn_no": person.psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": person.certno, "med_type": "11",
            "medfee_sumamt": "1000.00", "mdtrt_id": mdtrt_id, "insutype": "310", "acct_used_flag": "1"}}))  # fmt: skip
        if full_at_settlement:
            limit(None)

    signed = json.loads(str(dispatcher.handle(envelope(his, "9001", {"signIn": {"opter_no": "001"}}))))
    his.sign_no = signed["output"]["signinoutb"]["sign_no"]
    try:
        limit(40)
        n = 0
        while len(failed) < 3 and n < 100:
            visit(n, full_at_settlement=False)
            n += 1
        assert len(failed) >= 3, "the database never filled up"
        settled_before_full = len(tally.acknowledged)
        limit(None)
        for i in range(3):
            visit(n + i, full_at_settlement=True)
        assert [infno for infno, _ in failed[-3:]] == ["2207"] * 3
        print(f"settled {settled_before_full} before the file was full; -1 for {[i for i, _ in failed]}")
        for infno, body in failed:  # room again: the same messages (same msgid) go through
            assert send(infno, body) is not None, infno
    finally:
        db.dispose()
    problems, _ = consistency_problems(url, tally)
    assert problems == [], "\n".join(problems[:30])


@contextmanager
def private_postgresql(tmp_path: Path) -> Iterator[tuple[str, Callable[[str], None]]]:
    """A PostgreSQL cluster of this test's own (initdb in a temporary directory, its own port and
    socket), so that restarting it disturbs nobody else on the machine: its URL and a restart (in
    pg_ctl's shutdown mode: "fast", or "immediate", a crash)."""
    bindir = Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    home = Path(tempfile.mkdtemp(prefix="yibao-pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(home, "postgres")
    data, port = home / "data", free_port()
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50"

    def ctl(*args: str) -> None:
        cmd = [*as_postgres, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(home / "log"), "-w", *args]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    subprocess.run([*as_postgres, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    try:
        ctl("-o", options, "start")
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as admin:
            admin.execute("CREATE DATABASE yibao")
        yield f"postgresql://postgres@127.0.0.1:{port}/yibao", lambda mode: ctl("-m", mode, "restart")
    finally:
        with suppress(subprocess.SubprocessError):
            ctl("-m", "immediate", "stop")
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def settling_through_restarts(tmp_path: Path, mode: str, seed: int) -> Iterator[tuple[str, CrashRun]]:
    """4 clients settle on a 2-worker server while a private cluster restarts 4 times in pg_ctl's
    ``mode``: its URL (up again) and the run, each client through to the end, the faults felt."""
    with private_postgresql(tmp_path) as (url, restart):
        load_demo(url)
        persons, registry = make_persons(24)
        load_persons(url, registry, tmp_path / "persons.json")
        server = Server(url, free_port(), tmp_path / "server.log", workers=2)
        run = crash_run(server, persons, threads=4, kills=4, uptime=(1.0, 2.0), seed=seed,
                        fault=lambda: restart(mode), retry_system_errors=True)  # fmt: skip
        print(run.figures())
        assert run.errors == [], server.log_tail()
        assert run.tally.system_errors > 0, f"no request noticed the restarts ({mode})"
        assert len(run.tally.acknowledged) >= 20
        yield url, run


def test_postgresql_restarted_under_load(tmp_path: Path) -> None:
    """The database restarts 4 times (pg_ctl restart -m fast: every connection dropped, a few hundred
    ms without a database) while 4 clients settle: each message is answered or refused cleanly, sent
    again, and in the end every settlement exists once and the books are whole."""
    with settling_through_restarts(tmp_path, "fast", seed=5) as (url, run):
        assert run.tally.refusals == []  # every -1 was 系统错误 and went through when sent again
        problems, _ = consistency_problems(url, run.tally)
        assert problems == [], "\n".join(problems[:30])


LOST_WHOLE = ("就诊不存在", "没有待结算的费用明细")
"""What the next message about a visit record lost in a crash is told (promise 8): its visit, or its
fee lines, do not exist."""


def test_postgresql_crashed_under_load(tmp_path: Path) -> None:
    """The database crashes 4 times (pg_ctl restart -m immediate: its processes killed without a
    checkpoint, the WAL its writer had not written yet gone, recovery at the next start) while 4
    clients settle. Every settlement a client was told of is there; a visit or an upload told of in
    the moment before a crash may be lost, whole, and the client's next message about it is told so
    (docs/reliability.md, promise 8); the books are whole."""
    with settling_through_restarts(tmp_path, "immediate", seed=7) as (url, run):
        assert [r for r in run.tally.refusals if not any(lost in r for lost in LOST_WHOLE)] == []
        problems, _ = consistency_problems(url, run.tally)
        lost = [p for p in problems if p.endswith("acknowledged to the client does not exist")]
        print(f"{len(lost)} visits acknowledged and lost in a crash; {len(run.tally.refusals)} messages told so")
        assert [p for p in problems if p not in lost] == [], "\n".join(problems[:30])
