"""The same 2207 sent ten times at once over HTTP, to a server with two workers: one settlement.

Two *different* settlements of one person in parallel (never beyond the account balance or the
ceiling) are tests/e2e/test_server.py::test_concurrent_settlements_of_one_person_never_overspend;
a duplicate that lost the race in-process is tests/integration/test_interface_envelope.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import simplejson
from sqlalchemy import text

from tests.databases import BACKENDS, fresh_database, load_demo
from tests.flows import BLOOD_TEST, WORKER, balance, line, register, settle_data
from tests.reliability.harness import Tally, consistency_problems
from tests.servers import running_server
from yibao.sim.his import HisClient
from yibao.store.database import Database
from yibao.store.engine import make_engine


@pytest.fixture(params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    with fresh_database(request.param, tmp_path) as url:
        load_demo(url)
        with running_server(url, tmp_path / "server.log", workers=2) as base:
            yield base, url


def test_the_same_settlement_sent_ten_times_at_once_moves_money_once(server: tuple[str, str]) -> None:
    base, url = server
    his = HisClient(base, "H44010600001")
    his.sign_in()
    tally = Tally()
    for round in range(3):
        mdtrt_id = register(his, WORKER, ipt_otp_no=f"MZD{round}")
        his.call("2204", {"feedetail": [line("1", mdtrt_id, WORKER, BLOOD_TEST, "4", "25")]})
        before = Decimal(balance(his, WORKER))
        envelope = his.envelope("2207", settle_data(WORKER, mdtrt_id, "100"))
        body = simplejson.dumps(envelope).encode()
        start = threading.Barrier(10)
        answers: list[bytes] = []

        def send(start: threading.Barrier = start, body: bytes = body, answers: list[bytes] = answers) -> None:
            with httpx.Client(timeout=30) as client:  # a connection each: ten requests truly at once
                start.wait()
                r = client.post(base + "/fsi/api/callService", content=body)
                answers.append(r.content)

        threads = [threading.Thread(target=send) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert len(answers) == 10
        assert len(set(answers)) == 1, {a[:200] for a in answers}  # the same answer, byte for byte
        answer = simplejson.loads(answers[0], use_decimal=True)
        assert answer["infcode"] == 0, answer["err_msg"]
        setlinfo = answer["output"]["setlinfo"]
        assert Decimal(balance(his, WORKER)) == before - setlinfo["acct_pay"]
        assert setlinfo["acct_pay"] > 0  # money moved, once
        tally.acknowledged[setlinfo["setl_id"]] = mdtrt_id
        tally.answers[envelope["msgid"]] = answers[0].decode()
        tally.registered[mdtrt_id] = ""
    db = Database(make_engine(url))
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT COUNT(*) FROM settlement")).scalar_one() == 3
            assert conn.execute(text("SELECT COUNT(*) FROM message_log WHERE infno = '2207'")).scalar_one() == 3
    finally:
        db.dispose()
    problems, _ = consistency_problems(url, tally)
    assert problems == []
