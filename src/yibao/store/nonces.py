"""The gateway's Rio nonces, shared by every worker process through the database (PostgreSQL only).

Each nonce is one row, inserted with ON CONFLICT DO NOTHING in its own short transaction: whichever
worker receives a replay finds the row. Rows older than the gateway's window are deleted now and then
by the worker that happens to insert (their timestamps are stale, so the gateway refuses them anyway).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, text

from yibao.store import tables as t

_INSERT = text(
    "INSERT INTO gateway_nonce (caller, nonce, signed_at) VALUES (:caller, :nonce, :signed_at)"
    " ON CONFLICT (caller, nonce) DO NOTHING"
)
_NO_FSYNC = text("SET LOCAL synchronous_commit TO OFF")
PURGE_EVERY = 60.0
"""Seconds between deletions of stale rows, per process."""


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


class SqlNonces:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._purged = 0.0
        self._lock = threading.Lock()

    def first_use(self, caller: str, nonce: str, at: float, forget_before: float) -> bool:
        with self.engine.begin() as conn:
            if self.postgres:  # a nonce lost in a crash re-opens one request's replay window: no fsync for it
                conn.execute(_NO_FSYNC)
            first = conn.execute(_INSERT, {"caller": caller, "nonce": nonce, "signed_at": _utc(at)}).rowcount == 1
        now = time.monotonic()
        if now - self._purged > PURGE_EVERY and self._lock.acquire(blocking=False):
            try:
                self._purged = now
                with self.engine.begin() as conn:
                    conn.execute(delete(t.gateway_nonce).where(t.gateway_nonce.c.signed_at < _utc(forget_before)))
            finally:
                self._lock.release()
        return bool(first)
