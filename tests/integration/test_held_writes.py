"""Writes the store holds back (SqlStore.write): seen by every later statement of their transaction,
committed with it, and failing it whole when one of them fails; on PostgreSQL their statements stay
prepared on the connection (yibao.store.libpq)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import QueuePool, func, select

from tests.databases import BACKENDS, fresh_database
from yibao.app.records import LoggedMessage
from yibao.domain.ledger import Code, Transfer
from yibao.store import migrate
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.sql import SqlStore

NOW = datetime(2026, 11, 23, 1, 0, 0)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as url:
        database = Database(make_engine(url))
        migrate.upgrade(database.engine)
        yield database
        database.dispose()


def message(n: int) -> LoggedMessage:
    return LoggedMessage("2207", f"hash{n}", f'{{"infcode": 0, "n": {n}}}', None)


def logged_count(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(t.message_log)).scalar_one())


def test_a_held_write_is_seen_by_the_driver_and_by_sqlalchemy_in_its_transaction(db: Database) -> None:
    with db.transaction() as store:
        store.log_message("H44010600001", "m1", message(1), NOW)
        assert store.conn.execute(select(func.count()).select_from(t.message_log)).scalar_one() == 1  # Core
        store.log_message("H44010600001", "m2", message(2), NOW)
        found = store.logged("H44010600001", "m2")  # through the driver
        assert found is not None and found.body_hash == "hash2"
        store.log_message("H44010600001", "m3", message(3), NOW)  # held until the commit
    assert logged_count(db) == 3


def test_a_failing_held_write_fails_its_whole_transaction_at_the_commit(db: Database) -> None:
    with db.transaction() as store:
        store.log_message("H44010600001", "m1", message(1), NOW)
    with pytest.raises(Exception, match=r"(?i)unique|duplicate"), db.transaction() as store:
        store.log_message("H44010600001", "m2", message(2), NOW)
        store.log_message("H44010600001", "m1", message(1), NOW)  # the primary key again
    assert logged_count(db) == 1
    with db.transaction(write=False) as store:
        assert store.logged("H44010600001", "m2") is None


def test_held_writes_go_nowhere_when_the_transaction_raises(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as store:
        store.log_message("H44010600001", "m1", message(1), NOW)
        raise RuntimeError("the use case refused")
    assert logged_count(db) == 0
    with db.transaction() as store:  # the connection went back to the pool clean
        store.log_message("H44010600001", "m2", message(2), NOW)
    assert logged_count(db) == 1


def test_two_postings_of_one_transaction_both_reach_the_ledger(db: Database) -> None:
    """Both add to the same accounts, in one transaction and one round trip."""
    with db.transaction() as store:
        store.post("p1", [Transfer("fund:a", "payable:h", 100, Code.SETTLEMENT)], NOW)
        store.post("p2", [Transfer("fund:a", "payable:h", 250, Code.SETTLEMENT)], NOW)
    with db.engine.connect() as conn:
        a = t.ledger_account.c
        rows = {
            code: (int(dr), int(cr)) for code, dr, cr in conn.execute(select(a.code, a.debits_posted, a.credits_posted))
        }
    assert rows == {"fund:a": (350, 0), "payable:h": (0, 350)}


def prepared(store: SqlStore) -> set[str]:
    """The settlement path's statements prepared on the store's connection (yibao.store.libpq)."""
    return {name for (name,) in store.sql("SELECT name FROM pg_prepared_statements") if name.startswith("yibao_")}


def test_postgresql_keeps_its_prepared_statements_through_rollbacks_and_prepares_them_again_when_gone(
    tmp_path: Path,
) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        db = Database(make_engine(url, pool_size=1, max_overflow=0))  # every transaction on one connection
        migrate.upgrade(db.engine)
        try:
            with db.transaction() as store:
                store.log_message("H44010600001", "m1", message(1), NOW)
                store.flush()
                first = prepared(store)
            assert len(first) == 1
            for n in (2, 3):  # psycopg's statements, then a rollback: it deallocates nothing of ours
                with pytest.raises(RuntimeError), db.transaction() as store:
                    store.log_message("H44010600001", f"m{n}", message(n), NOW)
                    for _ in range(6):  # more than psycopg's own threshold for preparing a statement
                        assert store.conn.execute(select(func.count()).select_from(t.message_log)).scalar_one() == 2
                    raise RuntimeError("the use case refused")
            with db.transaction() as store:
                assert prepared(store) == first
                store.sql("DEALLOCATE ALL")  # by another hand
            with pytest.raises(psycopg.errors.InvalidSqlStatementName), db.transaction() as store:
                store.log_message("H44010600001", "m4", message(4), NOW)
            with db.transaction() as store:  # prepared again
                store.log_message("H44010600001", "m5", message(5), NOW)
                store.flush()
                assert len(prepared(store)) == 1
            assert logged_count(db) == 2  # m1 and m5: nothing of the refused ones
        finally:
            db.dispose()


def backend(store: SqlStore) -> int:
    ((pid,),) = store.rows("SELECT pg_backend_pid()")
    return int(pid)


def test_postgresql_keeps_a_sound_connection_between_transactions_and_gives_back_a_dead_one(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path) as url:
        db = Database(make_engine(url))
        migrate.upgrade(db.engine)
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        try:
            with db.transaction() as store:
                pid = backend(store)
            assert pool.checkedout() == 1  # kept for the next transaction, not checked in
            with pytest.raises(RuntimeError), db.transaction() as store:
                assert backend(store) == pid
                store.log_message("H44010600001", "m1", message(1), NOW)
                store.flush()
                raise RuntimeError("the use case refused")
            assert pool.checkedout() == 1
            with db.transaction() as store:  # kept through the rollback, and nothing of it left
                assert backend(store) == pid
                assert store.logged("H44010600001", "m1") is None
            with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (pid,))
            with pytest.raises(psycopg.OperationalError), db.transaction() as store:
                store.log_message("H44010600001", "m2", message(2), NOW)
            assert pool.checkedout() == 0
            with db.transaction() as store:
                assert backend(store) != pid
                store.log_message("H44010600001", "m3", message(3), NOW)
            assert logged_count(db) == 1
        finally:
            db.dispose()
