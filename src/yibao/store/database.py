"""The unit of work: a database transaction with a Store over it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from yibao.store.engine import make_engine
from yibao.store.nonces import SqlNonces
from yibao.store.sql import ConfigCache, SqlStore


class Database:
    """An engine and the process's configuration cache; hands out one SqlStore per transaction."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine()
        self.cache = ConfigCache()
        self.sqlite = self.engine.dialect.name == "sqlite"
        self._writer = threading.Lock()

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
            yield SqlStore(conn, self.cache)

    def shared_nonces(self) -> SqlNonces | None:
        """Where the gateway's workers share the nonces they have seen: the database on PostgreSQL
        (several worker processes); None on SQLite, served by one process, which keeps them in memory."""
        return None if self.sqlite else SqlNonces(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()
