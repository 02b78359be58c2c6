"""Manual claims (零星报销) — part of ``SqlStore``; ``yibao.app.manual_claims``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, func, insert, or_, select

from yibao.app.manual_claims import ManualClaim
from yibao.app.records import FundRowRecord
from yibao.domain.codes import FundPayType
from yibao.domain.ledger import Code, bank_account, fund_account, personal_account
from yibao.domain.money import Fen
from yibao.store import tables as t

_CLAIM = [f.name for f in fields(ManualClaim) if f.name != "amounts"]
_FUND = [f.name for f in fields(FundRowRecord)]
ACCOUNT = FundPayType.EMPLOYEE_ACCOUNT.value


class SqlManualClaims:
    """Mixed into SqlStore."""

    conn: Connection

    def insert_manual_claim(
        self, claim: ManualClaim, funds: Sequence[FundRowRecord], counter_deltas: dict[tuple[str, str], Fen]
    ) -> None:
        values: dict[str, Any] = {n: getattr(claim, n) for n in _CLAIM}
        values.update({name: claim.amounts.get(name, 0) for name in t.SETL_AMOUNTS})
        self.conn.execute(insert(t.manual_claim).values(values))
        if funds:
            rows = [{"claim_id" if n == "setl_id" else n: getattr(f, n) for n in _FUND} for f in funds]
            self.conn.execute(insert(t.manual_claim_fund), rows)
        self.insert_rows(  # type: ignore[attr-defined]
            t.counter_delta,
            ("psn_no", "insutype", "period", "key", "delta", "setl_id"),
            [
                (claim.psn_no, claim.insutype, period, key, delta, claim.claim_id)
                for (key, period), delta in counter_deltas.items()
            ],
        )

    def _claims(self, *where: Any, limit: int | None = None) -> list[ManualClaim]:
        c = t.manual_claim.c
        q = select(t.manual_claim).where(*where).order_by(c.created_at.desc(), c.claim_id.desc())
        return [_claim(r) for r in self.conn.execute(q if limit is None else q.limit(limit))]

    def manual_claim(self, claim_id: str) -> ManualClaim | None:
        found = self._claims(t.manual_claim.c.claim_id == claim_id)
        return found[0] if found else None

    def manual_claim_by_request(self, request_id: str) -> ManualClaim | None:
        found = self._claims(t.manual_claim.c.request_id == request_id)
        return found[0] if found else None

    def manual_claim_funds(self, claim_id: str) -> list[FundRowRecord]:
        f = t.manual_claim_fund.c
        rows = self.conn.execute(select(t.manual_claim_fund).where(f.claim_id == claim_id).order_by(f.fund_pay_type))
        return [FundRowRecord(*r) for r in rows]

    def manual_claim_reversal(self, claim_id: str) -> str | None:
        c = t.manual_claim.c
        return self.conn.execute(select(c.claim_id).where(c.revs_claim_id == claim_id)).scalar()

    def manual_claims_of(self, psn_no: str, limit: int = 200) -> list[ManualClaim]:
        return self._claims(t.manual_claim.c.psn_no == psn_no, limit=limit)

    def inpatient_stays_before(self, psn_no: str, begin: datetime) -> int:
        v, c = t.visit.c, t.manual_claim.c
        year_start = begin.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        visits = select(func.count()).where(
            v.psn_no == psn_no, v.kind == "inpatient", v.status != "cancelled", v.begntime >= year_start,
            v.begntime < begin,
        )  # fmt: skip
        reversed_ids = select(c.revs_claim_id).where(c.revs_claim_id.is_not(None))
        claims = select(func.count()).where(
            c.psn_no == psn_no, c.kind == "inpatient", c.revs_claim_id.is_(None), c.claim_id.not_in(reversed_ids),
            c.begndate >= year_start.date(), c.begndate < begin.date(),
        )  # fmt: skip
        return int(self.conn.execute(visits).scalar_one()) + int(self.conn.execute(claims).scalar_one())


def _claim(row: Row[Any]) -> ManualClaim:
    m = dict(row._mapping)
    amounts = {name: int(m.pop(name)) for name in t.SETL_AMOUNTS}
    return ManualClaim(**m, amounts=amounts)


def posted_net(conn: Connection, code: str, prefixes: tuple[str, ...] = ()) -> dict[tuple[str, str], Fen]:
    """(code, account) → net debits − credits over the transfers of ``code``; only the accounts whose code
    starts with one of ``prefixes``, if given."""
    x = t.ledger_transfer.c
    net: dict[tuple[str, str], Fen] = {}
    for column, sign in ((x.debit_account, 1), (x.credit_account, -1)):
        query = select(column, func.sum(x.amount)).where(x.code == code).group_by(column)
        if prefixes:
            query = query.where(or_(*(column.like(f"{p}%") for p in prefixes)))
        for account, amount in conn.execute(query):
            net[code, account] = net.get((code, account), 0) + sign * int(amount)
    return {k: v for k, v in net.items() if v} if prefixes else net


def ledger_facts(conn: Connection) -> tuple[dict[tuple[str, str], Fen], dict[tuple[str, str], Fen]]:
    """What the manual claims posted, and what their rows say they should have: each fund +its payments,
    the personal account +acct_pay, the person's bank account −(funds + acct_pay); reversals included."""
    c, f = t.manual_claim.c, t.manual_claim_fund.c
    code = Code.MANUAL_CLAIM
    expected: dict[tuple[str, str], Fen] = {}

    def add(account: str, amount: Fen) -> None:
        expected[code, account] = expected.get((code, account), 0) + amount

    funds = (
        select(c.insuplc_admdvs, f.fund_pay_type, func.sum(f.fund_payamt))
        .select_from(t.manual_claim_fund.join(t.manual_claim, c.claim_id == f.claim_id))
        .where(f.fund_pay_type != ACCOUNT)
        .group_by(c.insuplc_admdvs, f.fund_pay_type)
    )
    for admdvs, fund, amount in conn.execute(funds):
        add(fund_account(admdvs, fund), int(amount))
    per_person = select(c.psn_no, func.sum(c.acct_pay), func.sum(c.fund_pay_sumamt + c.acct_pay)).group_by(c.psn_no)
    for psn_no, acct_pay, paid in conn.execute(per_person):
        add(personal_account(psn_no), int(acct_pay))
        add(bank_account(psn_no), -int(paid))
    return posted_net(conn, code), expected
