"""Connecting to the database: SQLite (WAL) by default, PostgreSQL through YIBAO_DATABASE_URL."""

from __future__ import annotations

import os
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, make_url

DEFAULT_URL = "sqlite:///yibao.db"
LOCK_TIMEOUT = "10s"
"""PostgreSQL: how long a statement waits for a row or table another transaction holds (a stuck
session, a long batch) before it fails, and its message with it (``Busy``), instead of holding a
server worker for as long as the other holds the lock."""


def database_url() -> str:
    return os.environ.get("YIBAO_DATABASE_URL", DEFAULT_URL)


def make_engine(url: str | None = None, *, lock_timeout: str = LOCK_TIMEOUT, **kw: Any) -> Engine:
    """An engine for ``url``; on SQLite every transaction takes the write lock up front; on PostgreSQL
    a lock is waited for ``lock_timeout`` at most (unless the URL sets the connection's ``options``).

    SQLite's default (deferred) transactions let two writers read the same remaining ceiling and
    then collide; BEGIN IMMEDIATE makes the second wait for the first, which is the lock we need.
    """
    url = url or database_url()
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not url.startswith("sqlite"):
        kw.setdefault("pool_size", 10)
        kw.setdefault("max_overflow", 20)
        kw.setdefault("pool_pre_ping", False)
        # a settlement reads its rows ahead as JSON values (yibao.store.sql, read_ahead)
        kw.setdefault("json_deserializer", orjson.loads)
        # psycopg prepares nothing of its own: a rollback would make it deallocate every prepared
        # statement of the connection, the settlement path's too (yibao.store.libpq)
        kw["connect_args"] = {"prepare_threshold": None, **kw.get("connect_args", {})}
        if "options" not in make_url(url).query:
            kw["connect_args"].setdefault("options", f"-c lock_timeout={lock_timeout}")
        return create_engine(url, **kw)

    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kw)

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        deferred = conn.get_execution_options().get("sqlite_deferred")
        conn.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")

    return engine
