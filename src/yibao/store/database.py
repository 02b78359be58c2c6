"""The unit of work: a database transaction with a Store over it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from yibao.store.engine import make_engine
from yibao.store.sql import ConfigCache, SqlStore


class Database:
    """An engine and the process's configuration cache; hands out one SqlStore per transaction."""

    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or make_engine()
        self.cache = ConfigCache()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[SqlStore]:
        """Commit on success, roll back on any exception. On SQLite a reading transaction does not
        take the write lock (``write=False``), so queries do not queue behind settlements."""
        options = {} if write else {"sqlite_deferred": True}
        with self.engine.connect().execution_options(**options) as conn, conn.begin():
            yield SqlStore(conn, self.cache)

    def dispose(self) -> None:
        self.engine.dispose()
