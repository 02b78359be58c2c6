"""Online orders of internet hospitals as the store keeps them (``yibao.app.online`` has the use cases)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from yibao.domain.frozen import frozen
from yibao.domain.money import Fen

AWAITING, PAID, REFUNDED, CANCELLED = "1", "2", "3", "4"
STATUS_NAMES = {AWAITING: "待支付", PAID: "已支付", REFUNDED: "已退费", CANCELLED: "已撤销"}


@frozen
class OrderRecord:
    pay_ord_id: str
    fixmedins_code: str
    med_org_ord: str
    psn_no: str
    insutype: str
    med_type: str
    acct_used_flag: bool
    mdtrt_id: str
    status: str
    setl_id: str | None
    refund_setl_id: str | None
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen
    psn_cash_pay: Fen
    created_at: datetime
    paid_at: datetime | None = None
    closed_at: datetime | None = None

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, self.status)


class OnlineOrderStore(Protocol):
    def insert_order(self, order: OrderRecord) -> None: ...
    def order(self, pay_ord_id: str) -> OrderRecord | None: ...
    def order_by_med_org_ord(self, fixmedins_code: str, med_org_ord: str) -> OrderRecord | None: ...
    def lock_order(self, pay_ord_id: str) -> OrderRecord | None:
        """The order, its row locked until the transaction ends (two payments of it: one waits, then
        finds it paid)."""

    def update_order(self, order: OrderRecord) -> None: ...
    def orders_of(self, psn_no: str, limit: int) -> list[OrderRecord]:
        """The person's latest orders, newest first."""
