"""Insurance transfers (转移接续) and the registry rows they change — part of ``SqlStore``;
``yibao.app.transfers``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from yibao.app.records import IdentityRecord, InsuranceRecord, PersonRecord
from yibao.app.transfers import InsuranceTransfer
from yibao.domain.ledger import Code, personal_account, transfer_account
from yibao.domain.money import Fen
from yibao.store import tables as t
from yibao.store.manual_claims import posted_net
from yibao.store.personal import personal_for

_TRANSFER = [f.name for f in fields(InsuranceTransfer)]


class SqlTransfers:
    """Mixed into SqlStore."""

    conn: Connection
    _persons: dict[str, PersonRecord | None]
    _ahead: dict[tuple[str, ...], Any]

    def insert_insurance_transfer(self, record: InsuranceTransfer) -> None:
        values = {n: getattr(record, n) for n in _TRANSFER}
        values["paid_months"] = json.dumps(list(record.paid_months))
        self.conn.execute(insert(t.insurance_transfer).values(values))

    def insurance_transfer(self, transfer_id: str, role: str) -> InsuranceTransfer | None:
        x = t.insurance_transfer.c
        q = select(*(x[n] for n in _TRANSFER)).where(x.transfer_id == transfer_id, x.role == role)
        row = self.conn.execute(q).first()
        return None if row is None else _transfer(row)

    def insurance_transfers_of(self, psn_no: str) -> list[InsuranceTransfer]:
        x = t.insurance_transfer.c
        q = select(*(x[n] for n in _TRANSFER)).where(x.psn_no == psn_no).order_by(x.created_at.desc(), x.role)
        return [_transfer(r) for r in self.conn.execute(q)]

    def contribution_months(self, psn_no: str, insutype: str, admdvs: str) -> list[str]:
        line, bill, x = t.contribution_line.c, t.contribution_bill.c, t.insurance_transfer.c
        paid = (
            select(line.month)
            .select_from(
                t.contribution_line.join(
                    t.contribution_bill,
                    (bill.emp_no == line.emp_no) & (bill.month == line.month) & (bill.insutype == line.insutype),
                )
            )
            .where(line.psn_no == psn_no, line.insutype == insutype, bill.admdvs == admdvs, bill.months_counted)
        )
        months = set(self.conn.execute(paid).scalars())
        carried = select(x.paid_months).where(x.psn_no == psn_no, x.insutype == insutype, x.role == "in",
                                              x.to_admdvs == admdvs)  # fmt: skip
        for text in self.conn.execute(carried).scalars():
            months.update(json.loads(text))
        return sorted(months)

    def uncleared_transfers(
        self, role: str, *, before: datetime | None = None, transfer_ids: Sequence[str] | None = None
    ) -> list[InsuranceTransfer]:
        x = t.insurance_transfer.c
        q = select(*(x[n] for n in _TRANSFER)).where(x.role == role, x.cleared_run_id.is_(None), x.amount > 0)
        if before is not None:
            q = q.where(x.created_at < before)
        if transfer_ids is not None:
            q = q.where(x.transfer_id.in_(list(transfer_ids)))
        return [_transfer(r) for r in self.conn.execute(q.order_by(x.created_at, x.transfer_id))]

    def mark_transfers_cleared(self, role: str, transfer_ids: Sequence[str], run_id: str) -> None:
        x = t.insurance_transfer.c
        ids = list(transfer_ids)
        for start in range(0, len(ids), 500):
            self.conn.execute(
                update(t.insurance_transfer)
                .where(x.role == role, x.transfer_id.in_(ids[start : start + 500]), x.cleared_run_id.is_(None))
                .values(cleared_run_id=run_id)
            )

    def transfers_cleared_by(self, run_id: str) -> int:
        x = t.insurance_transfer.c
        return int(self.conn.execute(select(func.count()).where(x.cleared_run_id == run_id)).scalar_one())

    def save_insurance(self, insurance: InsuranceRecord) -> None:
        i = t.insurance.c
        self.conn.execute(delete(t.insurance).where(i.psn_no == insurance.psn_no, i.insutype == insurance.insutype))
        self.conn.execute(insert(t.insurance).values(asdict(insurance)))
        self._ahead.clear()  # rows read ahead (PostgreSQL) before the change are stale

    def add_person(self, person: PersonRecord, identities: list[IdentityRecord]) -> None:
        p = t.person.c
        if self.conn.execute(select(p.psn_no).where(p.psn_no == person.psn_no)).first() is not None:
            return
        self.conn.execute(insert(t.person).values(**personal_for(self.conn.engine.url).person_values(person)))
        if identities:
            self.conn.execute(insert(t.identity), [asdict(i) for i in identities])
        self._persons.pop(person.psn_no, None)
        self._ahead.clear()


def _transfer(row: Any) -> InsuranceTransfer:
    values = dict(zip(_TRANSFER, row, strict=True))
    values["paid_months"] = tuple(json.loads(values["paid_months"]))
    return InsuranceTransfer(**values)


def ledger_facts(conn: Connection) -> tuple[dict[tuple[str, str], Fen], dict[tuple[str, str], Fen]]:
    """What the transfers posted, and what their records say: where the person left, the personal account
    +amount and ``transfer:<new region>`` −amount; where they arrived, the mirror."""
    x = t.insurance_transfer.c
    code = Code.TRANSFER
    expected: dict[tuple[str, str], Fen] = {}
    for role, psn_no, from_admdvs, to_admdvs, amount in conn.execute(
        select(x.role, x.psn_no, x.from_admdvs, x.to_admdvs, x.amount)
    ):
        sign = 1 if role == "out" else -1
        other = to_admdvs if role == "out" else from_admdvs
        moves = ((personal_account(psn_no), sign * int(amount)), (transfer_account(other), -sign * int(amount)))
        for account, value in moves:
            expected[code, account] = expected.get((code, account), 0) + value
    return posted_net(conn, code), expected
