"""Online orders of internet hospitals in SQLAlchemy Core (part of ``SqlStore``).

"An order is paid once" is the row lock ``lock_order`` takes (``SELECT … FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already serialises writers): a second payment waits for the first to
commit, then finds the order paid. "One order per institution's order number" is the unique key
(fixmedins_code, med_org_ord).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select, update

from yibao.app.online_orders import OrderRecord
from yibao.store import tables as t

o = t.online_order.c


class SqlOnlineOrders:
    """Mixed into SqlStore: the methods of ``yibao.app.online_orders.OnlineOrderStore`` over ``self.conn``."""

    conn: Connection

    def insert_order(self, order: OrderRecord) -> None:
        self.conn.execute(insert(t.online_order).values(**_values(order)))

    def order(self, pay_ord_id: str) -> OrderRecord | None:
        row = self.conn.execute(select(t.online_order).where(o.pay_ord_id == pay_ord_id)).first()
        return OrderRecord(**row._mapping) if row else None

    def order_by_med_org_ord(self, fixmedins_code: str, med_org_ord: str) -> OrderRecord | None:
        q = select(t.online_order).where(o.fixmedins_code == fixmedins_code, o.med_org_ord == med_org_ord)
        row = self.conn.execute(q).first()
        return OrderRecord(**row._mapping) if row else None

    def lock_order(self, pay_ord_id: str) -> OrderRecord | None:
        q = select(t.online_order).where(o.pay_ord_id == pay_ord_id)
        if self.conn.dialect.name == "postgresql":
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return OrderRecord(**row._mapping) if row else None

    def update_order(self, order: OrderRecord) -> None:
        values = _values(order)
        del values["pay_ord_id"]
        self.conn.execute(update(t.online_order).where(o.pay_ord_id == order.pay_ord_id).values(**values))

    def orders_of(self, psn_no: str, limit: int) -> list[OrderRecord]:
        q = select(t.online_order).where(o.psn_no == psn_no).order_by(o.created_at.desc()).limit(limit)
        return [OrderRecord(**r._mapping) for r in self.conn.execute(q)]


def _values(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}
