"""The unit of work: a database transaction with a Store over it."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from psycopg.errors import LockNotAvailable
from sqlalchemy import Connection, Engine, event

from yibao.app.errors import Busy
from yibao.store import libpq
from yibao.store.engine import make_engine
from yibao.store.nonces import SqlNonces
from yibao.store.sql import PENDING, ConfigCache, SqlStore

log = logging.getLogger("yibao.store")
BUSY = "所需数据正被另一笔交易占用，本交易未完成、未记账，请稍后重发本报文"


class Database:
    """An engine and the process's configuration cache; hands out one SqlStore per transaction."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine()
        self.cache = ConfigCache()
        self.sqlite = self.engine.dialect.name == "sqlite"
        self._writer = threading.Lock()
        self._kept: list[Connection] = []
        # PostgreSQL connections kept checked out between transactions (_pg_transaction): half the
        # pool at most, so that what checks out of the pool itself still finds connections
        self._keep = min(10, getattr(self.engine.pool, "size", lambda: 0)() // 2)
        if not self.sqlite and not event.contains(self.engine, "before_execute", _flush_first):
            event.listen(self.engine, "before_execute", _flush_first)

    @contextmanager
    def transaction(self, *, write: bool = True, durable: bool = True) -> Iterator[SqlStore]:
        """Commit on success, roll back on any exception. A reading transaction (``write=False``) does
        not take SQLite's write lock, so queries do not queue behind settlements; on PostgreSQL its
        statements through libpq (the read-ahead) run each on its own, with no BEGIN and COMMIT to wait for."""
        if not self.sqlite:
            with self._pg_transaction(reading=not write, durable=durable) as store:
                yield store
        elif write:
            # SQLite has one writer at a time; threads of this process queue here in order instead of
            # polling the database lock with growing sleeps (which gave multi-second tails).
            with self._writer, self._transaction({}) as store:
                yield store
        else:
            with self._transaction({"sqlite_deferred": True}) as store:
                yield store

    @contextmanager
    def _transaction(self, options: dict[str, object]) -> Iterator[SqlStore]:
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            store = SqlStore(conn, self.cache)
            try:
                yield store
                store.flush(commit=True)
            finally:
                store.discard()

    @contextmanager
    def _pg_transaction(self, *, reading: bool, durable: bool) -> Iterator[SqlStore]:
        """PostgreSQL: a connection kept from an earlier transaction, its transaction opened by the first
        statement (libpq's BEGIN, or psycopg's) and committed by the store's last pipeline. Checking a
        connection out of SQLAlchemy's pool, beginning, committing and checking it in again cost 80–150 µs
        of CPU a transaction more (measured: BEGIN, SELECT 1, COMMIT at 177–243 against 93–104 µs). A
        connection goes back to the pool instead when it is not idle and sound afterwards."""
        try:
            conn = self._kept.pop()
        except IndexError:
            conn = self.engine.connect()
        store = SqlStore(conn, self.cache, reading=reading, durable=durable)
        try:
            yield store
            store.flush(commit=True)
            if conn.in_transaction():  # a Core statement began SQLAlchemy's (libpq's COMMIT ended it)
                conn.commit()
        except BaseException as exc:
            store.discard()
            with suppress(Exception):
                conn.rollback()  # SQLAlchemy's, if a Core statement began one
                store.driver.rollback()  # libpq's BEGIN, unknown to SQLAlchemy
            if isinstance(exc, LockNotAvailable) or isinstance(getattr(exc, "orig", None), LockNotAvailable):
                log.warning("a transaction gave up waiting for a lock another one holds: %s", exc)
                raise Busy("input", BUSY) from exc
            raise
        finally:
            if len(self._kept) < self._keep and _idle(store):
                self._kept.append(conn)
            else:
                conn.close()

    def shared_nonces(self) -> SqlNonces | None:
        """Where the gateway's workers share the nonces they have seen: the database on PostgreSQL
        (several worker processes); None on SQLite, served by one process, which keeps them in memory."""
        return None if self.sqlite else SqlNonces(self.engine)

    def dispose(self) -> None:
        while self._kept:
            self._kept.pop().close()
        self.engine.dispose()


def _idle(store: SqlStore) -> bool:
    """The store's connection sound and outside any transaction, SQLAlchemy's and the server's."""
    conn = store.conn
    if conn.invalidated or conn.closed or conn.in_transaction():
        return False
    return not store.driver.closed and not libpq.in_transaction(store.driver)


def _flush_first(conn: Connection, *_: object) -> None:
    """A statement through SQLAlchemy sees the writes the store holds back (SqlStore.write)."""
    if (store := conn.info.get(PENDING)) is not None:
        store.flush()
