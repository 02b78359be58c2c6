"""The round trips to PostgreSQL of each message of an outpatient settlement, counted: a statement added
to the hot path outside the read-ahead and the held writes shows here before it shows in bench/."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.databases import demo_database
from tests.flows import BLOOD_TEST, STATIN, WORKER, line, register, settle_data, upload
from yibao.sim.his import HisClient
from yibao.store import libpq
from yibao.store.database import Database
from yibao.store.sql import SqlStore

CONFIGURATION = ("config_stamp", "policy_version", "catalog_item")
"""What the process's configuration cache (store.sql.ConfigCache) reads now and then, a second after its last look."""


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    """PostgreSQL only (SQLite runs in the process: no round trips)."""
    with demo_database("postgresql", tmp_path) as database:
        yield database


@pytest.fixture
def round_trips(db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Round trips by way: libpq pipelines, psycopg cursors (SqlStore.sql), SQLAlchemy Core statements."""
    counted: Counter[str] = Counter()
    run, sql = libpq.run, SqlStore.sql

    def counting_run(*args: Any, **kwargs: Any) -> list[libpq.Row]:
        counted["libpq"] += 1
        return run(*args, **kwargs)

    def counting_sql(self: SqlStore, statement: str, params: Any = ()) -> Any:
        counted["cursor"] += 1
        return sql(self, statement, params)

    def core(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not any(name in statement for name in CONFIGURATION):
            counted["core"] += 1

    monkeypatch.setattr(libpq, "run", counting_run)
    monkeypatch.setattr(SqlStore, "sql", counting_sql)
    event.listen(db.engine, "before_cursor_execute", core)
    yield counted
    event.remove(db.engine, "before_cursor_execute", core)


def test_an_outpatient_settlement_takes_seven_round_trips(hospital: HisClient, round_trips: Counter[str]) -> None:
    register(hospital, WORKER)  # a first visit: the statements are prepared on the connection
    round_trips.clear()
    mdtrt_id = register(hospital, WORKER, "MZ0002")
    assert round_trips == Counter(libpq=2)  # the reads; the visit, the log and the commit

    round_trips.clear()
    upload(
        hospital,
        line("1", mdtrt_id, WORKER, BLOOD_TEST, "1", "50.00"),
        line("2", mdtrt_id, WORKER, STATIN, "2", "25.00"),
    )
    assert round_trips == Counter(libpq=2)  # the reads with the new rows' ids; the lines, the log and the commit

    data = settle_data(WORKER, mdtrt_id, "100.00")
    round_trips.clear()
    pre = hospital.call("2206", data)
    assert round_trips == Counter(libpq=1)  # the read-ahead alone: no transaction to open or close

    round_trips.clear()
    done = hospital.call("2207", data)
    assert round_trips == Counter(libpq=2)  # the person's lock with the read-ahead; the writes and the commit
    assert done["setlinfo"]["medfee_sumamt"] == pre["setlinfo"]["medfee_sumamt"] == 100
