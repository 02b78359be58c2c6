"""A settlement that waits for a lock another session holds gives up after the engine's lock timeout
(PostgreSQL): answered -1, nothing written, and the same message settles once the lock is gone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.databases import fresh_database, load_demo
from tests.flows import BLOOD_TEST, WORKER, line, register, row_counts, settle_data, upload
from yibao.api.server import create_app
from yibao.sim.his import HisClient
from yibao.store.database import BUSY, Database
from yibao.store.engine import make_engine


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as found:
        load_demo(found)
        yield found


def test_a_settlement_waiting_for_a_held_lock_gives_up_and_writes_nothing(url: str) -> None:
    db = Database(make_engine(url, lock_timeout="1s"))
    try:
        with TestClient(create_app(db)) as http:
            his = HisClient("", "H44010600001", client=http)
            his.sign_in()
            mdtrt_id = register(his, WORKER)
            upload(his, line("1", mdtrt_id, WORKER, BLOOD_TEST, "1", "30"))
            envelope = his.envelope("2207", settle_data(WORKER, mdtrt_id, "30"))
            answers: list[dict[str, Any]] = []
            sending = threading.Thread(target=lambda: answers.append(his.post(envelope)), daemon=True)
            with psycopg.connect(url) as other:  # a session that locked the person and went quiet
                other.execute("SELECT 1 FROM person WHERE psn_no = %s FOR UPDATE", (WORKER,))
                before = row_counts(db)
                started = time.monotonic()
                sending.start()
                sending.join(timeout=8)
                waited = time.monotonic() - started
                assert answers, "the settlement still waits for the lock"
                [answer] = answers
                assert (answer["infcode"], answer["err_msg"], answer["output"]) == (-1, f"input: {BUSY}", {})
                assert 1 <= waited < 8
                assert row_counts(db) == before  # no settlement, no ledger posting, no message logged
            settled = his.post(envelope)  # the lock released: the same message, sent again
            assert settled["infcode"] == 0, settled["err_msg"]
            assert settled["output"]["setlinfo"]["medfee_sumamt"] == 30
    finally:
        db.dispose()
