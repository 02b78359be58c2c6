"""The unit of work: a database transaction with a Store over it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, event

from yibao.store.engine import make_engine
from yibao.store.nonces import SqlNonces
from yibao.store.sql import PENDING, ConfigCache, SqlStore


class Database:
    """An engine and the process's configuration cache; hands out one SqlStore per transaction."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine()
        self.cache = ConfigCache()
        self.sqlite = self.engine.dialect.name == "sqlite"
        self._writer = threading.Lock()
        if not self.sqlite and not event.contains(self.engine, "before_execute", _flush_first):
            event.listen(self.engine, "before_execute", _flush_first)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SqlStore]:
        """Commit on success, roll back on any exception. On SQLite a reading transaction does not
        take the write lock (``write=False``), so queries do not queue behind settlements."""
        if write and self.sqlite:
            # SQLite has one writer at a time; threads of this process queue here in order instead of
            # polling the database lock with growing sleeps (which gave multi-second tails).
            with self._writer, self._transaction({}) as store:
                yield store
        else:
            with self._transaction({} if write else {"sqlite_deferred": True}) as store:
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

    def shared_nonces(self) -> SqlNonces | None:
        """Where the gateway's workers share the nonces they have seen: the database on PostgreSQL
        (several worker processes); None on SQLite, served by one process, which keeps them in memory."""
        return None if self.sqlite else SqlNonces(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()


def _flush_first(conn: Connection, *_: object) -> None:
    """A statement through SQLAlchemy sees the writes the store holds back (SqlStore.write)."""
    if (store := conn.info.get(PENDING)) is not None:
        store.flush()
