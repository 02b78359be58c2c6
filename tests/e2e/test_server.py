"""The real thing: `yibao serve` as its own process with two workers, HIS clients over real HTTP.

The same conversations as the in-process flow tests, then real concurrent settlements of one person,
then `yibao ledger check` as a newcomer would run it. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from tests.databases import BACKENDS, fresh_database, load_demo
from tests.flows import BLOOD_TEST, RETIREE, WORKER, certno, line, register, settle_data
from tests.integration.test_settlement_flows import inpatient_stay, outpatient_visit
from tests.integration.test_voucher_flow import activate, registration, utcnow
from tests.servers import PIDS, running_server
from yibao.sim.his import HisClient, KeepAlive
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.voucher.authority import Authority


def yibao(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "YIBAO_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "yibao", *args], capture_output=True, text=True, env=env, check=False)


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of a running server (two workers) with the Guangzhou demo data loaded."""
    with fresh_database(request.param, tmp_path) as url:
        load_demo(url)
        with running_server(url, tmp_path / "server.log", workers=2) as base:
            LOGS[base] = tmp_path / "server.log"
            yield base, url


def log_of(base: str) -> str:
    """What the server process wrote (its log is kept beside its database)."""
    return LOGS[base].read_text()


LOGS: dict[str, Path] = {}


def ledger_check(url: str) -> list[str]:
    run = yibao("ledger", "check", url=url)
    return [] if run.returncode == 0 else (run.stdout + run.stderr).splitlines()


def test_conversations_over_real_http(server: tuple[str, str]) -> None:
    base, url = server
    his = HisClient(base, "H44010600001", "广州市第一人民医院")
    outpatient_visit(his, lambda: ledger_check(url))
    inpatient_stay(his, lambda: ledger_check(url))
    docs = httpx.get(base + "/openapi.json").json()
    assert "/fsi/api/outpatientSettleService/saveSettletmentV2" in docs["paths"]
    # personal data never reaches the server's log, not even in full
    assert certno(RETIREE) not in log_of(base) and certno(WORKER) not in log_of(base)


def test_concurrent_settlements_of_one_person_never_overspend(server: tuple[str, str]) -> None:
    """Six visits of 4,000 yuan settled at the same moment by one person, on two server workers.

    Each would take 1,800 (45%) of the 3,600 outpatient ceiling and 2,200 or more from the 5,000
    account. Together they must take exactly the ceiling and exactly the balance, never more.
    """
    base, url = server
    his = HisClient(base, "H44010600001")
    visits = []
    for i in range(6):
        mdtrt_id = register(his, WORKER, ipt_otp_no=f"MZC{i}")
        his.call("2204", {"feedetail": [line("1", mdtrt_id, WORKER, BLOOD_TEST, "160", "25")]})
        visits.append(mdtrt_id)

    def settle(mdtrt_id: str) -> dict[str, Decimal]:
        client = HisClient(base, "H44010600001")  # one connection each: truly concurrent requests
        try:
            out = client.call("2207", settle_data(WORKER, mdtrt_id, "4000"))["setlinfo"]
            return {k: out[k] for k in ("hifp_pay", "acct_pay", "psn_cash_pay", "balc")}
        finally:
            client.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(settle, visits))

    assert sum(r["hifp_pay"] for r in results) == Decimal("3600.00")
    assert sum(r["acct_pay"] for r in results) == Decimal("5000.00")
    assert all(r["balc"] >= 0 for r in results)
    assert sorted(r["balc"] for r in results)[0] == Decimal("0.00")
    assert ledger_check(url) == []


def test_a_visit_by_voucher_over_real_http(server: tuple[str, str]) -> None:
    """The counter scans the phone's code twice at once (two workers): one ecToken. Then the visit."""
    base, url = server
    db = Database(make_engine(url))
    try:
        ec_index_no = activate(db, WORKER).ec_index_no
    finally:
        db.dispose()
    authority = Authority.load()  # the same key files as the server's (a developer's machine)
    counters = [HisClient(base, "H44010600001", "广州市第一人民医院") for _ in range(2)]
    code = authority.issue(ec_index_no, utcnow()).text
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda his: his.read_code(code, "01101"), counters))
    assert sorted(a["code"] for a in answers) == [0, 500163]
    token = next(a["data"]["ecToken"] for a in answers if a["code"] == 0)

    his = counters[0]
    psn = his.call("1101", {"data": {"mdtrt_cert_type": "01", "mdtrt_cert_no": token, "psn_cert_type": "01"}})
    assert psn["baseinfo"]["psn_no"] == WORKER
    mdtrt_id = his.call("2201", registration(WORKER, token))["data"]["mdtrt_id"]
    his.call("2204", {"feedetail": [line("1", mdtrt_id, WORKER, BLOOD_TEST, "1", "30")]})
    pay = his.read_code(authority.issue(ec_index_no, utcnow()).text, "01301")["data"]["ecToken"]
    setl = his.call("2207", settle_data(WORKER, mdtrt_id, "30", mdtrt_cert_type="01", mdtrt_cert_no=pay))
    assert setl["setlinfo"]["medfee_sumamt"] == 30
    assert ledger_check(url) == []


def workers_of(base: str) -> set[int]:
    """The server's worker processes (not multiprocessing's resource tracker, also its child)."""
    server = PIDS[base]
    children = Path(f"/proc/{server}/task/{server}/children").read_text().split()
    return {int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()}


def test_workers_replaced_after_max_requests_lose_no_request(tmp_path: Path) -> None:
    """`--max-requests 20`: a worker leaves once it has answered 20-22 messages (uvicorn looks every
    0.1 s, so a fast one answers a few dozen more first) and the server starts another. One HIS
    connection sends messages until both first workers have gone: the worker it was on goes away
    between two of them, and the client's next message, refused unread, is sent again to another."""
    with fresh_database("postgresql", tmp_path) as url:
        load_demo(url)
        with running_server(url, tmp_path / "server.log", workers=2, args=("--max-requests", "20")) as base:
            deadline = time.monotonic() + 30
            while len(first := workers_of(base)) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)  # /healthz answers as soon as one of them has started
            assert len(first) == 2
            conn, his = KeepAlive(int(base.rsplit(":", 1)[1])), HisClient(base, "H44010600001")
            signed, sent = set(), 0
            deadline = time.monotonic() + 60
            while first & workers_of(base) and time.monotonic() < deadline:
                body = json.dumps(his.envelope("9001", {"signIn": {"opter_no": "001"}})).encode()
                answer = json.loads(conn.post(body))
                assert answer["infcode"] == 0, answer
                signed.add(answer["output"]["signinoutb"]["sign_no"])
                sent += 1
            assert not first & workers_of(base), "the first workers still serve"
            assert len(signed) == sent >= 40  # each message answered once, by one worker or another
    with fresh_database("sqlite", tmp_path) as url:
        run = yibao("serve", "--max-requests", "20", url=url)
        assert run.returncode == 2 and "--max-requests" in run.stderr and "PostgreSQL" in run.stderr
