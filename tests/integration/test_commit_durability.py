"""Which commits wait for the disk (PostgreSQL): a visit's registration and fee lines do not, its
settlement and reversal do, and so does any transaction that moves money, whatever it was opened as;
with YIBAO_DURABLE_VISITS=1 every one does (docs/reliability.md, promise 8)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.databases import demo_database
from tests.flows import BLOOD_TEST, STATIN, WORKER, line, register, settle_data, upload
from yibao.api.server import create_app
from yibao.app.records import LoggedMessage
from yibao.domain.ledger import Transfer
from yibao.sim.his import HisClient
from yibao.store import libpq
from yibao.store.database import Database
from yibao.store.sql import ASYNC_COMMIT


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """PostgreSQL only (SQLite's commits in WAL mode wait for no disk either way: synchronous=NORMAL)."""
    with demo_database("postgresql", tmp_path) as database:
        yield database


@pytest.fixture
def waited(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each transaction that wrote and committed through libpq: whether its commit waited for the
    WAL's flush."""
    found: list[bool] = []
    run = libpq.run

    def watching(driver: Any, info: dict[str, Any], commands: Any, *, commit: bool = False, begin: bool = True) -> Any:
        if commit and commands:  # a commit with writes (a reading transaction's has none: it waits for nothing)
            found.append(all(statement != ASYNC_COMMIT for statement, _ in commands))
        return run(driver, info, commands, commit=commit, begin=begin)

    monkeypatch.setattr(libpq, "run", watching)
    return found


def test_a_visit_and_its_lines_do_not_wait_for_the_disk_and_its_settlement_does(
    hospital: HisClient, waited: list[bool]
) -> None:
    waited.clear()  # the hospital's sign-in (9001) waits: it is no visit record
    mdtrt_id = register(hospital, WORKER)
    upload(
        hospital,
        line("1", mdtrt_id, WORKER, BLOOD_TEST, "1", "50.00"),
        line("2", mdtrt_id, WORKER, STATIN, "2", "25.00"),
    )
    assert waited == [False, False]

    data = settle_data(WORKER, mdtrt_id, "100.00")
    hospital.call("2206", data)  # reads: commits nothing
    done = hospital.call("2207", data)
    assert waited == [False, False, True]

    reversal = {"data": {"psn_no": WORKER, "mdtrt_id": mdtrt_id, "setl_id": done["setlinfo"]["setl_id"]}}
    hospital.call("2208", reversal)
    assert waited == [False, False, True, True]


def test_a_transaction_that_moves_money_waits_for_the_disk_whatever_it_was_opened_as(
    db: Database, waited: list[bool]
) -> None:
    now = datetime(2026, 11, 24, 8, 0)
    with db.transaction(durable=False) as store:
        store.log_message("H44010600001", "M-NO-MONEY", LoggedMessage("2201", "h", "{}", None), now)
    with db.transaction(durable=False) as store:
        store.log_message("H44010600001", "M-MONEY", LoggedMessage("2201", "h", "{}", None), now)
        store.post("M-MONEY", [Transfer("TEST:A", "TEST:B", 100, "test")], now)
    with db.transaction() as store:
        store.log_message("H44010600001", "M-DURABLE", LoggedMessage("2201", "h", "{}", None), now)
    assert waited == [False, True, True]


def test_an_operator_may_have_every_commit_wait(
    db: Database, waited: list[bool], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YIBAO_DURABLE_VISITS", "1")
    with TestClient(create_app(db)) as http:
        his = HisClient("", "H44010600001", client=http)
        his.sign_in()
        mdtrt_id = register(his, WORKER)
        upload(his, line("1", mdtrt_id, WORKER, BLOOD_TEST, "1", "50.00"))
    assert waited == [True, True, True]  # the sign-in, the registration, the upload
