"""Contributions and the funds' flows (part of ``SqlStore``; ``yibao.app.contributions``, docs/contributions.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import date
from operator import attrgetter
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    String,
    and_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    text,
    update,
)

from yibao.app.contributions import (
    RETIREE_SOURCE,
    AccountCredit,
    Bill,
    DeclarationLine,
    Employer,
    FundFlowRow,
    ResidentPayment,
)
from yibao.app.records import InsuranceRecord
from yibao.domain.contribution import EMPLOYEE, POOLED_FUND, RESIDENT, RateTable
from yibao.domain.ledger import Code, fund_account, personal_account, receivable_account
from yibao.domain.money import Fen
from yibao.files.contributions import load_rate_table
from yibao.store import tables as t
from yibao.store.manual_claims import posted_net

_EMPLOYER = [f.name for f in fields(Employer)]
_BILL = [f.name for f in fields(Bill)]
_LINE = [f.name for f in fields(DeclarationLine)]
_CREDIT = [f.name for f in fields(AccountCredit)]
_RESIDENT = [f.name for f in fields(ResidentPayment)]
_INSURANCE = [f.name for f in fields(InsuranceRecord)]
CHUNK = 1000
_IDS: BindParameter[str] = bindparam(
    "ids", expanding=True
)  # one parameter for a list: far cheaper to build than one per value


def _rows(names: Sequence[str]) -> Any:
    """A record's values in field order (dataclasses' astuple deep-copies: many times slower)."""
    return attrgetter(*names)


class SqlContributions:
    """Mixed into SqlStore."""

    conn: Connection
    postgres: bool

    def contribution_rates(self) -> RateTable:
        return load_rate_table()

    # ---- employers and bills

    def save_employer(self, employer: Employer) -> bool:
        if self.employer(employer.emp_no) is not None:
            return False
        self.conn.execute(insert(t.employer).values(dict(zip(_EMPLOYER, _rows(_EMPLOYER)(employer), strict=True))))
        return True

    def employer(self, emp_no: str) -> Employer | None:
        row = self.conn.execute(select(*(t.employer.c[n] for n in _EMPLOYER)).where(t.employer.c.emp_no == emp_no))
        found = row.first()
        return None if found is None else Employer(*found)

    def employers(self, region: str) -> list[Employer]:
        e = t.employer.c
        rows = self.conn.execute(
            select(*(e[n] for n in _EMPLOYER)).where(e.admdvs.like(f"{region}%")).order_by(e.emp_no)
        )
        return [Employer(*r) for r in rows]

    def insert_bill(self, bill: Bill, lines: Sequence[DeclarationLine]) -> None:
        self.conn.execute(insert(t.contribution_bill).values(dict(zip(_BILL, _rows(_BILL)(bill), strict=True))))
        for start in range(0, len(lines), CHUNK):
            self.insert_rows(t.contribution_line, _LINE, list(map(_rows(_LINE), lines[start : start + CHUNK])))  # type: ignore[attr-defined]

    def _bill_where(self, emp_no: str, month: str, insutype: str) -> ColumnElement[bool]:
        b = t.contribution_bill.c
        return and_(b.emp_no == emp_no, b.month == month, b.insutype == insutype)

    def contribution_bill(self, emp_no: str, month: str, insutype: str) -> Bill | None:
        b = t.contribution_bill.c
        row = self.conn.execute(select(*(b[n] for n in _BILL)).where(self._bill_where(emp_no, month, insutype))).first()
        return None if row is None else Bill(*row)

    def update_bill(self, bill: Bill, *, unpaid_only: bool = False) -> bool:
        where = self._bill_where(bill.emp_no, bill.month, bill.insutype)
        if unpaid_only:
            where = and_(where, t.contribution_bill.c.paid_on.is_(None))
        done = self.conn.execute(
            update(t.contribution_bill)
            .where(where)
            .values(
                deferred_until=bill.deferred_until,
                paid_on=bill.paid_on,
                late_fee=bill.late_fee,
                months_counted=bill.months_counted,
            )
        )
        return bool(done.rowcount == 1)

    def bill_lines(self, emp_no: str, month: str, insutype: str) -> list[DeclarationLine]:
        x = t.contribution_line.c
        rows = self.conn.execute(
            select(*(x[n] for n in _LINE))
            .where(x.emp_no == emp_no, x.month == month, x.insutype == insutype)
            .order_by(x.psn_no)
        )
        return [DeclarationLine(*r) for r in rows]

    def bills(
        self, region: str, first: str = "", last: str = "", *, emp_no: str = "", unpaid: bool = False
    ) -> list[Bill]:
        b = t.contribution_bill.c
        q = select(*(b[n] for n in _BILL)).where(b.admdvs.like(f"{region}%"))
        if first:
            q = q.where(b.month >= first)
        if last:
            q = q.where(b.month <= last)
        if emp_no:
            q = q.where(b.emp_no == emp_no)
        if unpaid:
            q = q.where(b.paid_on.is_(None))
        return [Bill(*r) for r in self.conn.execute(q.order_by(b.month, b.emp_no, b.insutype))]

    # ---- personal-account credits and residents

    def add_account_credits(self, credits: Sequence[AccountCredit]) -> None:
        for start in range(0, len(credits), CHUNK):
            self.insert_rows(t.account_credit, _CREDIT, list(map(_rows(_CREDIT), credits[start : start + CHUNK])))  # type: ignore[attr-defined]

    def account_credits(self, psn_no: str) -> list[AccountCredit]:
        a = t.account_credit.c
        rows = self.conn.execute(
            select(*(a[n] for n in _CREDIT)).where(a.psn_no == psn_no).order_by(a.month.desc(), a.source)
        )
        return [AccountCredit(*r) for r in rows]

    def person_lines(self, psn_no: str) -> list[tuple[DeclarationLine, Bill]]:
        x, b = t.contribution_line.c, t.contribution_bill.c
        joined = t.contribution_line.join(
            t.contribution_bill, and_(b.emp_no == x.emp_no, b.month == x.month, b.insutype == x.insutype)
        )
        rows = self.conn.execute(
            select(*(x[n] for n in _LINE), *(b[n] for n in _BILL))
            .select_from(joined)
            .where(x.psn_no == psn_no)
            .order_by(x.month.desc(), x.emp_no)
        )
        n = len(_LINE)
        return [(DeclarationLine(*r[:n]), Bill(*r[n:])) for r in rows]

    def add_resident_payments(self, payments: Sequence[ResidentPayment]) -> None:
        for start in range(0, len(payments), CHUNK):
            rows = list(map(_rows(_RESIDENT), payments[start : start + CHUNK]))
            self.insert_rows(t.resident_contribution, _RESIDENT, rows)  # type: ignore[attr-defined]

    def resident_payments(self, psn_no: str) -> list[ResidentPayment]:
        r = t.resident_contribution.c
        rows = self.conn.execute(select(*(r[n] for n in _RESIDENT)).where(r.psn_no == psn_no).order_by(r.year.desc()))
        return [ResidentPayment(*row) for row in rows]

    def residents_paid(self, admdvs: str, year: int) -> set[str]:
        r = t.resident_contribution.c
        return set(self.conn.execute(select(r.psn_no).where(r.admdvs == admdvs, r.year == year)).scalars())

    # ---- the insured

    def insurances_of(self, psn_nos: Sequence[str], insutype: str) -> dict[str, InsuranceRecord]:
        i = t.insurance.c
        out: dict[str, InsuranceRecord] = {}
        wanted = list(psn_nos)
        for start in range(0, len(wanted), CHUNK):
            rows = self.conn.execute(
                select(*(i[n] for n in _INSURANCE)).where(i.insutype == insutype, i.psn_no.in_(_IDS)),
                {"ids": wanted[start : start + CHUNK]},
            )
            out.update((r[0], InsuranceRecord(*r)) for r in rows)
        return out

    def insured_persons(self, admdvs: str, insutype: str, psn_type_prefix: str = "") -> list[InsuranceRecord]:
        i = t.insurance.c
        q = select(*(i[n] for n in _INSURANCE)).where(i.insuplc_admdvs == admdvs, i.insutype == insutype)
        if psn_type_prefix:
            q = q.where(i.psn_type.like(f"{psn_type_prefix}%"))
        return [InsuranceRecord(*r) for r in self.conn.execute(q.order_by(i.psn_no))]

    def _each_chunk(self, psn_nos: Sequence[str], insutype: str, values: dict[str, Any]) -> None:
        i = t.insurance.c
        wanted = list(psn_nos)
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            self.conn.execute(
                update(t.insurance).where(i.insutype == insutype, i.psn_no.in_(_IDS)).values(values), {"ids": chunk}
            )

    def add_contrib_months(self, psn_nos: Sequence[str], insutype: str, months: int) -> None:
        self._each_chunk(psn_nos, insutype, {"contrib_months": t.insurance.c.contrib_months + months})

    def set_insurance_status(
        self, psn_nos: Sequence[str], insutype: str, stas: str, paus_insu_date: date | None
    ) -> None:
        self._each_chunk(psn_nos, insutype, {"psn_insu_stas": stas, "paus_insu_date": paus_insu_date})

    def add_suspensions(self, emp_no: str, insutype: str, psn_nos: Sequence[str], since: date) -> None:
        rows = [(p, insutype, since, emp_no) for p in psn_nos]
        for start in range(0, len(rows), CHUNK):
            names = ("psn_no", "insutype", "since", "emp_no")
            self.insert_rows(t.arrears_suspension, names, rows[start : start + CHUNK])  # type: ignore[attr-defined]

    def open_suspensions(self, emp_no: str, insutype: str) -> list[str]:
        s = t.arrears_suspension.c
        q = select(s.psn_no).where(s.emp_no == emp_no, s.insutype == insutype, s.restored_on.is_(None))
        return sorted(set(self.conn.execute(q).scalars()))

    def close_suspensions(self, emp_no: str, insutype: str, on: date) -> None:
        s = t.arrears_suspension.c
        self.conn.execute(
            update(t.arrears_suspension)
            .where(s.emp_no == emp_no, s.insutype == insutype, s.restored_on.is_(None))
            .values(restored_on=on)
        )

    def participation(self, region: str) -> list[tuple[str, str, int]]:
        i = t.insurance.c
        rows = self.conn.execute(
            select(i.insutype, i.psn_type, func.count())
            .where(i.psn_insu_stas == "1", i.insuplc_admdvs.like(f"{region}%"))
            .group_by(i.insutype, i.psn_type)
        )
        return [(str(a), str(b), int(n)) for a, b, n in rows]

    # ---- the funds, from the ledger

    def _local_month(self) -> ColumnElement[str]:
        created = t.ledger_transfer.c.created_at
        if self.postgres:
            return func.to_char(created + text("interval '8 hours'"), literal_column("'YYYY-MM'"), type_=String)
        return func.strftime("%Y-%m", created, "+8 hours", type_=String)

    def fund_flows(self, account: str) -> list[FundFlowRow]:
        x = t.ledger_transfer.c
        month = self._local_month()
        sums: dict[tuple[str, str], list[Fen]] = {}
        for column, side in ((x.debit_account, 0), (x.credit_account, 1)):
            rows = self.conn.execute(
                select(month, x.code, func.sum(x.amount)).where(column == account).group_by(month, x.code)
            )
            for m, code, amount in rows:
                sums.setdefault((str(m), str(code)), [0, 0])[side] += int(amount)
        return [FundFlowRow(account, m, code, d, cr) for (m, code), (d, cr) in sorted(sums.items())]

    def fund_accounts(self, region: str) -> list[str]:
        a = t.ledger_account.c
        pooled = tuple(POOLED_FUND.values())
        codes = self.conn.execute(select(a.code).where(a.code.like(f"fund:{region}%")).order_by(a.code)).scalars()
        return [code for code in codes if code.rsplit(":", 1)[-1] in pooled]


# ---- what `yibao ledger check` compares (yibao.domain.ledger.check_ledger)


def ledger_facts(conn: Connection) -> tuple[dict[tuple[str, str], Fen], dict[tuple[str, str], Fen]]:
    """(posted, expected): net debits − credits of contribution transfers on every pooled fund, personal
    account and employer's receivable, and the same as the contribution records say."""
    key = Code.CONTRIBUTION
    expected: dict[tuple[str, str], Fen] = {}

    def add(account: str, amount: Fen) -> None:
        expected[key, account] = expected.get((key, account), 0) + amount

    b = t.contribution_bill.c
    for emp_no, amount in conn.execute(
        select(b.emp_no, func.sum(b.employer_amt + b.employee_amt)).where(b.paid_on.is_(None)).group_by(b.emp_no)
    ):
        add(receivable_account(emp_no), int(amount))
    for admdvs, insutype, amount in conn.execute(
        select(b.admdvs, b.insutype, func.sum(b.to_pool + b.late_fee))
        .where(b.paid_on.is_not(None))
        .group_by(b.admdvs, b.insutype)
    ):
        add(fund_account(admdvs, POOLED_FUND.get(insutype, POOLED_FUND[EMPLOYEE])), -int(amount))
    r = t.resident_contribution.c
    for admdvs, amount in conn.execute(select(r.admdvs, func.sum(r.individual_amt + r.subsidy_amt)).group_by(r.admdvs)):
        add(fund_account(admdvs, POOLED_FUND[RESIDENT]), -int(amount))
    a = t.account_credit.c
    for psn_no, amount in conn.execute(select(a.psn_no, func.sum(a.amount)).group_by(a.psn_no)):
        add(personal_account(psn_no), -int(amount))
    for admdvs, amount in conn.execute(
        select(a.admdvs, func.sum(a.amount)).where(a.source == RETIREE_SOURCE).group_by(a.admdvs)
    ):
        add(fund_account(admdvs, POOLED_FUND[EMPLOYEE]), int(amount))
    return posted_net(conn, key, ("fund:", "acct:", "receivable:")), {k: v for k, v in expected.items() if v}
