"""A node's record of the hub's clearing runs (part of ``SqlStore``; ``yibao.app.clearing``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, insert, select, update

from yibao.app.clearing import ClearingItem
from yibao.app.records import SettlementRow
from yibao.store import tables as t

_AMOUNTS = [c.name for c in t.settlement.columns if c.type.__class__.__name__ == "BigInteger"]


class SqlClearing:
    """Mixed into SqlStore."""

    conn: Connection

    def uncleared_settlements(
        self,
        role: str,
        *,
        before: datetime | None = None,
        mdtrt_ids: Sequence[str] | None = None,
        setl_ids: Sequence[str] | None = None,
    ) -> list[SettlementRow]:
        s, c = t.settlement.c, t.clearing_item.c
        q = (
            select(t.settlement)
            .select_from(t.settlement.outerjoin(t.clearing_item, c.setl_id == s.setl_id))
            .where(s.cross_region == role, (c.status.is_(None)) | (c.status != "cleared"))
        )
        if before is not None:
            q = q.where(s.setl_time < before)
        if mdtrt_ids is not None:
            q = q.where(s.mdtrt_id.in_(list(mdtrt_ids)))
        if setl_ids is not None:
            q = q.where(s.setl_id.in_(list(setl_ids)))
        out = []
        for row in self.conn.execute(q.order_by(s.setl_time, s.setl_id)):
            m = dict(row._mapping)
            amounts = {name: int(m.pop(name)) for name in _AMOUNTS}
            out.append(SettlementRow(**m, amounts=amounts))
        return out

    def clearing_run_seen(self, run_id: str) -> bool:
        c = t.clearing_item.c
        return self.conn.execute(select(c.setl_id).where(c.run_id == run_id).limit(1)).first() is not None

    def mark_clearing(self, items: Sequence[ClearingItem], now: datetime) -> None:
        c = t.clearing_item.c
        known = set()
        ids = [i.setl_id for i in items]
        for start in range(0, len(ids), 500):
            known |= set(self.conn.execute(select(c.setl_id).where(c.setl_id.in_(ids[start : start + 500]))).scalars())
        for i in items:
            values = {"role": i.role, "status": i.status, "run_id": i.run_id, "reason": i.reason[:500],
                      "updated_at": now}  # fmt: skip
            if i.setl_id in known:
                self.conn.execute(update(t.clearing_item).where(c.setl_id == i.setl_id).values(**values))
            else:
                self.conn.execute(insert(t.clearing_item).values(setl_id=i.setl_id, **values))
