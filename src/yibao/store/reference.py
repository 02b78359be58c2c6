"""The reference lists (1303, 1304, 1307–1317) in the ``reference_entry`` table, read with SQLAlchemy Core.

Versions are digit strings compared as numbers: a longer version is newer, and of two as long the
greater. ``SqlStore.reference_entries`` answers through ``entries`` here.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, func, or_, select

from yibao.app.ports import ReferenceQuery
from yibao.domain.reference import ReferenceEntry
from yibao.store import tables as t

__all__ = ["ReferenceEntry", "ReferenceQuery", "entries", "reference_entry_of", "reference_values"]

_R = t.reference_entry.c
ORDER = (_R.code, _R.ref_code, _R.admdvs, _R.fixmedins_code)


def entries(
    conn: Connection, q: ReferenceQuery, offset: int = 0, limit: int | None = None
) -> tuple[int, list[ReferenceEntry]]:
    """(how many rows match, the rows from ``offset``, at most ``limit``) in the order of their codes."""
    where = conditions(q)
    total = conn.execute(select(func.count()).select_from(t.reference_entry).where(*where)).scalar_one()
    page = select(t.reference_entry).where(*where).order_by(*ORDER).offset(offset)
    if limit is not None:
        page = page.limit(limit)
    return int(total), [reference_entry_of(row) for row in conn.execute(page)]


def conditions(q: ReferenceQuery) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = [_R.infno == q.infno]
    if q.newer_than not in ("", "0"):
        n = len(q.newer_than)
        where.append(or_(func.length(_R.ver) > n, and_(func.length(_R.ver) == n, _R.ver > q.newer_than)))
    for column, value in ((_R.code, q.code), (_R.ref_code, q.ref_code), (_R.list_type, q.list_type),
                          (_R.vali_flag, q.vali_flag)):  # fmt: skip
        if value:
            where.append(column == value)
    if q.name:
        where.append(_R.name.contains(q.name, autoescape=True))
    if q.admdvs is not None:
        where.append(_R.admdvs.in_(q.admdvs))
    if q.fixmedins_code is not None:
        where.append(_R.fixmedins_code == q.fixmedins_code)
    if q.updated_since is not None:
        where.append(_R.updt_time >= q.updated_since)
    if q.valid_on is not None:
        where.append(or_(_R.begndate.is_(None), _R.begndate <= q.valid_on))
        where.append(or_(_R.enddate.is_(None), _R.enddate >= q.valid_on))
    return where


def reference_entry_of(row: Row[Any]) -> ReferenceEntry:
    m = row._mapping
    return ReferenceEntry(
        infno=m["infno"],
        code=m["code"],
        name=m["name"],
        values=json.loads(m["body"]),
        ref_code=m["ref_code"],
        admdvs=m["admdvs"],
        fixmedins_code=m["fixmedins_code"],
        list_type=m["list_type"],
        begndate=m["begndate"],
        enddate=m["enddate"],
        vali_flag=m["vali_flag"],
        ver=m["ver"],
        updt_time=m["updt_time"],
    )


def reference_values(e: ReferenceEntry, ver: str, now: datetime) -> dict[str, object]:
    """The row to store for ``e``, changed by the load of version ``ver`` at ``now`` (UTC)."""
    return {
        "infno": e.infno,
        "code": e.code,
        "ref_code": e.ref_code,
        "admdvs": e.admdvs,
        "fixmedins_code": e.fixmedins_code,
        "name": e.name,
        "list_type": e.list_type,
        "begndate": e.begndate,
        "enddate": e.enddate,
        "vali_flag": e.vali_flag,
        "ver": ver,
        "updt_time": now,
        "body": json.dumps(dict(e.values), ensure_ascii=False, sort_keys=True),
    }
