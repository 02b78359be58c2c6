"""Console accounts, web sessions and the audit log in SQLAlchemy Core (part of ``SqlStore``).

The audit log is written with INSERT only; there is deliberately no method here that updates or
deletes one of its rows, and the database's triggers (migration 0003) refuse it anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from yibao.app.accounts import SessionRecord, UserRecord
from yibao.app.audit import AuditEntry, AuditQuery
from yibao.store import tables as t

u = t.console_user.c
w = t.web_session.c
a = t.audit_log.c


class SqlAccounts:
    """Mixed into SqlStore: the methods of ``AccountStore`` and ``AuditStore`` over ``self.conn``."""

    conn: Connection

    # ---------------------------------------------------------------- accounts

    def console_user(self, username: str) -> UserRecord | None:
        row = self.conn.execute(select(t.console_user).where(u.username == username)).first()
        return _user(row._mapping) if row else None

    def console_users(self) -> list[UserRecord]:
        return [_user(r._mapping) for r in self.conn.execute(select(t.console_user).order_by(u.username))]

    def insert_console_user(self, user: UserRecord) -> None:
        self.conn.execute(insert(t.console_user).values(**_user_values(user), username=user.username))

    def update_console_user(self, user: UserRecord) -> None:
        self.conn.execute(update(t.console_user).where(u.username == user.username).values(**_user_values(user)))

    # ---------------------------------------------------------------- sessions

    def insert_session(self, session: SessionRecord) -> None:
        self.conn.execute(
            insert(t.web_session).values(
                token_hash=session.token_hash,
                kind=session.kind,
                username=session.username,
                psn_no=session.psn_no,
                created_at=session.created_at,
                seen_at=session.seen_at,
                expires_at=session.expires_at,
                ip=session.ip[:50],
            )
        )

    def web_session(self, token_hash: str) -> SessionRecord | None:
        row = self.conn.execute(select(t.web_session).where(w.token_hash == token_hash)).first()
        return SessionRecord(**row._mapping) if row else None

    def touch_session(self, token_hash: str, seen_at: datetime, expires_at: datetime) -> None:
        self.conn.execute(
            update(t.web_session).where(w.token_hash == token_hash).values(seen_at=seen_at, expires_at=expires_at)
        )

    def delete_session(self, token_hash: str) -> None:
        self.conn.execute(delete(t.web_session).where(w.token_hash == token_hash))

    def delete_sessions(self, *, username: str | None = None, expired_before: datetime | None = None) -> int:
        if username is None and expired_before is None:
            return 0
        q = delete(t.web_session)
        if username is not None:
            q = q.where(w.username == username)
        if expired_before is not None:
            q = q.where(w.expires_at < expired_before)
        return int(self.conn.execute(q).rowcount)

    # ---------------------------------------------------------------- the audit log (insert only)

    def insert_audit(self, entry: AuditEntry) -> None:
        self.conn.execute(
            insert(t.audit_log).values(
                at=entry.at,
                actor=entry.actor[:50],
                actor_kind=entry.actor_kind[:10],
                action=entry.action[:40],
                psn_no=entry.psn_no[:30],
                object=entry.object[:100],
                ip=entry.ip[:50],
                detail=entry.detail[:500],
            )
        )

    def audit_entries(self, query: AuditQuery, limit: int) -> list[AuditEntry]:
        q = select(t.audit_log).order_by(a.id.desc()).limit(limit)
        if query.actor:
            q = q.where(a.actor == query.actor)
        if query.psn_no:
            q = q.where(a.psn_no == query.psn_no)
        if query.action:
            q = q.where(a.action == query.action)
        if query.begin is not None:
            q = q.where(a.at >= query.begin)
        if query.end is not None:
            q = q.where(a.at < query.end)
        return [AuditEntry(**row._mapping) for row in self.conn.execute(q)]

    def audit_count(self, action: str, since: datetime, *, actor: str | None = None, psn_no: str | None = None) -> int:
        q = select(func.count()).select_from(t.audit_log).where(a.action == action, a.at >= since)
        if actor is not None:
            q = q.where(a.actor == actor)
        if psn_no is not None:
            q = q.where(a.psn_no == psn_no)
        return int(self.conn.execute(q).scalar_one())


def _user(m: Any) -> UserRecord:
    return UserRecord(**{**m, "active": bool(m["active"])})


def _user_values(user: UserRecord) -> dict[str, Any]:
    return {
        "display_name": user.display_name,
        "role": user.role,
        "admdvs": user.admdvs,
        "password_hash": user.password_hash,
        "active": user.active,
        "created_at": user.created_at,
        "password_changed_at": user.password_changed_at,
    }
