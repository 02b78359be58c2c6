"""Electronic vouchers, activation codes and the codes used, in SQLAlchemy Core (part of ``SqlStore``).

"Each code once" is the primary key (key_id, nonce) of ``voucher_use``: ``record_use`` inserts with
ON CONFLICT DO NOTHING (SQLite and PostgreSQL alike), so two counters, two worker processes or two
nodes scanning the same code cannot both get an ecToken.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, delete, insert, select, text

from yibao.app.voucher import ActivationRecord, VoucherRecord, VoucherUse
from yibao.store import tables as t

v = t.voucher.c
use_c = t.voucher_use.c

_RECORD_USE = text(
    "INSERT INTO voucher_use (key_id, nonce, expires_at, ec_index_no, psn_no, fixmedins_code, business_type,"
    " ec_token, used_at) VALUES (:key_id, :nonce, :expires_at, :ec_index_no, :psn_no, :fixmedins_code,"
    " :business_type, :ec_token, :used_at) ON CONFLICT (key_id, nonce) DO NOTHING"
)
_SAVE_VOUCHER = text(
    "INSERT INTO voucher (ec_index_no, psn_no, device_id, status, activated_at, updated_at)"
    " VALUES (:ec_index_no, :psn_no, :device_id, :status, :activated_at, :updated_at)"
    " ON CONFLICT (ec_index_no) DO UPDATE SET device_id = excluded.device_id, status = excluded.status,"
    " updated_at = excluded.updated_at"
)


class SqlVouchers:
    """Mixed into SqlStore: the methods of ``yibao.app.voucher.VoucherStore`` over ``self.conn``."""

    conn: Connection

    def voucher(self, ec_index_no: str) -> VoucherRecord | None:
        row = self.conn.execute(select(t.voucher).where(v.ec_index_no == ec_index_no)).first()
        return VoucherRecord(**row._mapping) if row else None

    def voucher_of(self, psn_no: str) -> VoucherRecord | None:
        row = self.conn.execute(select(t.voucher).where(v.psn_no == psn_no)).first()
        return VoucherRecord(**row._mapping) if row else None

    def save_voucher(self, voucher: VoucherRecord) -> None:
        self.conn.execute(_SAVE_VOUCHER, _values(voucher))

    def activation(self, psn_no: str) -> ActivationRecord | None:
        a = t.voucher_activation.c
        row = self.conn.execute(select(t.voucher_activation).where(a.psn_no == psn_no)).first()
        return ActivationRecord(**row._mapping) if row else None

    def save_activation(self, activation: ActivationRecord | None, psn_no: str) -> None:
        a = t.voucher_activation.c
        self.conn.execute(delete(t.voucher_activation).where(a.psn_no == psn_no))
        if activation is not None:
            self.conn.execute(insert(t.voucher_activation).values(**_values(activation)))

    def record_use(self, use: VoucherUse) -> bool:
        return bool(self.conn.execute(_RECORD_USE, _values(use)).rowcount == 1)

    def voucher_use(self, ec_token: str) -> VoucherUse | None:
        row = self.conn.execute(select(t.voucher_use).where(use_c.ec_token == ec_token)).first()
        return VoucherUse(**row._mapping) if row else None

    def voucher_uses(self, psn_no: str, limit: int) -> list[VoucherUse]:
        q = select(t.voucher_use).where(use_c.psn_no == psn_no).order_by(use_c.used_at.desc()).limit(limit)
        return [VoucherUse(**r._mapping) for r in self.conn.execute(q)]


def _values(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}
