"""The console's queries (the ``DashboardStore`` port of ``yibao.app.dashboard``) in SQLAlchemy Core.

Read only, on SQLite and PostgreSQL alike. Times in and out are naive UTC, amounts integer fen. Sums
over settlements include reversals, whose amounts are the opposite: every figure is net of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy import BigInteger, Connection, String, and_, case, exists, func, literal_column, or_, select

from yibao.app.dashboard import (
    AccountRecord,
    AccountTotals,
    CertSlice,
    CrossRegionSlice,
    LineRecord,
    SettlementSummary,
    Slice,
    StatementRecord,
    VisitFacts,
    VoucherCounts,
)
from yibao.app.records import FundRowRecord, InstitutionRecord, InsuranceRecord, PersonRecord, SettlementRow
from yibao.app.voucher import ACTIVE, SUSPENDED, VoucherRecord, VoucherUse
from yibao.domain.ledger import credit_balance, personal_account
from yibao.domain.money import Fen
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.personal import PersonalData, personal_for
from yibao.store.sql import counter_totals

AMOUNTS = [c.name for c in t.settlement.columns if isinstance(c.type, BigInteger)]
LIABILITIES = ("acct", "payable")  # accounts that hold what is owed: credits should not fall below debits

s = t.settlement.c
net_count = func.coalesce(func.sum(case((s.revs_setl_id.is_(None), 1), else_=-1)), 0)


def total(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


class SqlDashboardSource:
    """Hands out a SqlDashboard over one read-only transaction of ``db``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextmanager
    def reading(self) -> Iterator[SqlDashboard]:
        with self.db.transaction(write=False) as store:
            yield SqlDashboard(store.conn)


class SqlDashboard:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgres = conn.dialect.name == "postgresql"

    # ---------------------------------------------------------------- today's figures

    def slices(
        self, begin: datetime, end: datetime, fixmedins_code: str | None = None, region: str = ""
    ) -> list[Slice]:
        keys = (s.fixmedins_code, s.insuplc_admdvs, s.insutype, s.med_type)
        q = (
            select(
                *keys,
                func.coalesce(func.sum(case((s.revs_setl_id.is_(None), 1), else_=0)), 0),
                net_count,
                total(s.medfee_sumamt),
                total(s.hifp_pay),
                total(s.fund_pay_sumamt),
                total(s.acct_pay),
                total(s.psn_cash_pay),
            )
            .where(s.setl_time >= begin, s.setl_time < end)
            .group_by(*keys)
        )
        if fixmedins_code is not None:
            q = q.where(s.fixmedins_code == fixmedins_code)
        if region:
            q = q.where(s.insuplc_admdvs.startswith(region, autoescape=True))
        return [Slice(a, b, c, d, *(int(v) for v in rest)) for a, b, c, d, *rest in self.conn.execute(q)]

    def settlements_per_minute(self, begin: datetime, end: datetime, region: str = "") -> dict[str, int]:
        if self.postgres:
            minute = func.to_char(s.setl_time, literal_column("'YYYY-MM-DD HH24:MI'"), type_=String)
        else:  # SQLite keeps times as text 'YYYY-MM-DD HH:MM:SS.ffffff'
            minute = func.substr(s.setl_time, literal_column("1"), literal_column("16"), type_=String)
        q = select(minute, net_count).where(s.setl_time >= begin, s.setl_time < end).group_by(minute)
        if region:
            q = q.where(s.insuplc_admdvs.startswith(region, autoescape=True))
        return {str(m): int(n) for m, n in self.conn.execute(q)}

    def institutions_by_code(self, codes: Sequence[str]) -> dict[str, InstitutionRecord]:
        i = t.institution.c
        found: dict[str, InstitutionRecord] = {}
        for start in range(0, len(codes), 500):
            q = select(*_institution_columns()).where(i.fixmedins_code.in_(list(codes[start : start + 500])))
            found.update((row[0], InstitutionRecord(*row)) for row in self.conn.execute(q))
        return found

    def region_names(self) -> dict[str, str]:
        return {a: n for a, n in self.conn.execute(select(t.region.c.admdvs, t.region.c.name))}

    # ---------------------------------------------------------------- persons

    def person(self, psn_no: str) -> PersonRecord | None:
        return self._person(t.person.c.psn_no == psn_no)

    def person_by_certno(self, certno: str) -> PersonRecord | None:
        found = self._person(t.person.c.certno_hash.in_(self.personal.lookups(certno)))
        return found if found and found.certno == certno else None

    def person_by_card(self, card_no: str) -> PersonRecord | None:
        found = self._person(t.person.c.card_no_hash.in_(self.personal.lookups(card_no)))
        return found if found and found.card_no == card_no else None

    @cached_property
    def personal(self) -> PersonalData:
        return personal_for(self.conn.engine.url)

    def _person(self, where: Any) -> PersonRecord | None:
        row = self.conn.execute(select(t.person).where(where).limit(1)).first()
        return self.personal.person_of(row._mapping) if row else None

    def insurances(self, psn_no: str) -> list[InsuranceRecord]:
        q = select(t.insurance).where(t.insurance.c.psn_no == psn_no).order_by(t.insurance.c.insutype)
        return [InsuranceRecord(**r._mapping) for r in self.conn.execute(q)]

    def account_balance(self, psn_no: str) -> Fen | None:
        a = t.ledger_account.c
        row = self.conn.execute(
            select(a.debits_posted, a.credits_posted).where(a.code == personal_account(psn_no))
        ).first()
        return None if row is None else credit_balance(int(row[0]), int(row[1]))

    def counter_totals(self, psn_no: str, year: str) -> list[tuple[str, str, str, Fen]]:
        return counter_totals(self.conn, psn_no, year)

    # ---------------------------------------------------------------- settlements

    def settlements(
        self, *, psn_no: str | None = None, fixmedins_code: str | None = None, limit: int = 20, region: str = ""
    ) -> list[SettlementSummary]:
        i = t.institution.c
        r = t.settlement.alias("r")
        q = (
            select(
                s.setl_id,
                s.setl_time,
                s.psn_no,
                s.fixmedins_code,
                func.coalesce(i.fixmedins_name, s.fixmedins_code).label("fixmedins_name"),
                s.insutype,
                s.med_type,
                s.medfee_sumamt,
                s.fund_pay_sumamt,
                s.acct_pay,
                s.psn_cash_pay,
                s.revs_setl_id,
                exists().where(r.c.revs_setl_id == s.setl_id).label("reversed"),
            )
            .select_from(t.settlement.outerjoin(t.institution, i.fixmedins_code == s.fixmedins_code))
            .order_by(s.setl_time.desc(), s.setl_id.desc())
            .limit(limit)
        )
        if psn_no is not None:
            q = q.where(s.psn_no == psn_no)
        if fixmedins_code is not None:
            q = q.where(s.fixmedins_code == fixmedins_code)
        if region:
            q = q.where(s.insuplc_admdvs.startswith(region, autoescape=True))
        return [SettlementSummary(**{**row._mapping, "reversed": bool(row.reversed)}) for row in self.conn.execute(q)]

    def settlement(self, setl_id: str) -> SettlementRow | None:
        row = self.conn.execute(select(t.settlement).where(s.setl_id == setl_id)).first()
        if row is None:
            return None
        m = dict(row._mapping)
        amounts = {name: int(m.pop(name)) for name in AMOUNTS}
        return SettlementRow(**m, amounts=amounts)

    def reversal_of(self, setl_id: str) -> str | None:
        found: str | None = self.conn.execute(select(s.setl_id).where(s.revs_setl_id == setl_id)).scalar()
        return found

    def fund_rows(self, setl_id: str) -> list[FundRowRecord]:
        d = t.setl_detail.c
        rows = self.conn.execute(select(t.setl_detail).where(d.setl_id == setl_id).order_by(d.fund_pay_type))
        return [FundRowRecord(**r._mapping) for r in rows]

    def settlement_lines(self, setl_id: str, catalog_admdvs: str) -> list[LineRecord]:
        line, fee, item, setl = t.setl_line.c, t.fee_line.c, t.catalog_item.c, t.settlement.c
        q = (
            select(
                line.feedetl_sn,
                line.med_list_codg,
                func.coalesce(item.med_list_name, ""),
                line.chrgitm_lv,
                fee.cnt,
                fee.pric,
                line.pric_uplmt_amt,
                line.selfpay_prop,
                line.det_item_fee_sumamt,
                line.fulamt_ownpay_amt,
                line.overlmt_amt,
                line.preselfpay_amt,
                line.inscp_scp_amt,
                line.memo,
            )
            .select_from(
                t.setl_line.join(t.settlement, setl.setl_id == line.setl_id)
                .outerjoin(  # the settlement's lines, found by its visit
                    t.fee_line,
                    and_(fee.mdtrt_id == setl.mdtrt_id, fee.setl_id == line.setl_id, fee.feedetl_sn == line.feedetl_sn),
                )
                .outerjoin(
                    t.catalog_item, and_(item.med_list_codg == line.med_list_codg, item.admdvs == catalog_admdvs)
                )
            )
            .where(line.setl_id == setl_id)
        )
        lines = [LineRecord(*list(row)) for row in self.conn.execute(q)]
        lines.sort(key=lambda x: (0, int(x.feedetl_sn), "") if x.feedetl_sn.isdigit() else (1, 0, x.feedetl_sn))
        return lines

    def visit(self, mdtrt_id: str) -> VisitFacts | None:
        v = t.visit.c
        row = self.conn.execute(
            select(v.mdtrt_id, v.kind, v.begntime, v.endtime, v.dept_name, v.dr_name, v.dise_codg, v.dise_name).where(
                v.mdtrt_id == mdtrt_id
            )
        ).first()
        return VisitFacts(*row) if row else None

    # ---------------------------------------------------------------- institutions

    def institution(self, fixmedins_code: str) -> InstitutionRecord | None:
        i = t.institution.c
        row = self.conn.execute(select(*_institution_columns()).where(i.fixmedins_code == fixmedins_code)).first()
        return InstitutionRecord(*row) if row else None

    def find_institutions(self, text: str, limit: int, region: str = "") -> list[InstitutionRecord]:
        i = t.institution.c
        q = (
            select(*_institution_columns())
            .where(
                or_(
                    i.fixmedins_code.startswith(text, autoescape=True), i.fixmedins_name.contains(text, autoescape=True)
                )
            )
            .order_by(i.fixmedins_code)
            .limit(limit)
        )
        if region:
            q = q.where(i.admdvs.startswith(region, autoescape=True))
        return [InstitutionRecord(*row) for row in self.conn.execute(q)]

    def statements(self, fixmedins_code: str, limit: int) -> list[StatementRecord]:
        c = t.statement.c
        q = (
            select(c.insutype, c.clr_type, c.stmt_begndate, c.stmt_enddate, c.stmt_rslt, c.stmt_rslt_dscr, c.created_at)
            .where(c.fixmedins_code == fixmedins_code)
            .order_by(c.created_at.desc(), c.id.desc())
            .limit(limit)
        )
        return [StatementRecord(*row) for row in self.conn.execute(q)]

    # ---------------------------------------------------------------- the ledger

    def account_totals(self, prefix: str) -> AccountTotals:
        a = t.ledger_account.c
        overdrawn = (
            func.coalesce(func.sum(case((a.debits_posted > a.credits_posted, 1), else_=0)), 0)
            if prefix in LIABILITIES
            else literal_column("0")
        )
        q = select(func.count(), total(a.debits_posted), total(a.credits_posted), overdrawn).where(
            a.code.startswith(prefix + ":", autoescape=True)
        )
        n, debits, credits, bad = self.conn.execute(q).one()
        return AccountTotals(prefix, int(n), int(debits), int(credits), int(bad))

    def accounts(self, prefix: str, limit: int) -> list[AccountRecord]:
        a = t.ledger_account.c
        q = (
            select(a.code, a.debits_posted, a.credits_posted)
            .where(a.code.startswith(prefix + ":", autoescape=True))
            .order_by((a.debits_posted + a.credits_posted).desc(), a.code)
            .limit(limit)
        )
        return [AccountRecord(code, int(d), int(c)) for code, d, c in self.conn.execute(q)]

    # ---------------------------------------------------------------- the electronic voucher

    def voucher_counts(self, begin: datetime, end: datetime, region: str = "") -> VoucherCounts:
        v = t.voucher.c
        q = select(
            func.count(),
            count_if(v.status == ACTIVE),
            count_if(v.status == SUSPENDED),
            count_if(and_(v.activated_at >= begin, v.activated_at < end)),
        )
        if region:
            q = q.where(_insured_in(v.psn_no, region))
        return VoucherCounts(*(int(n) for n in self.conn.execute(q).one()))

    def code_reads(
        self, begin: datetime | None = None, end: datetime | None = None, region: str = ""
    ) -> dict[str, int]:
        u = t.voucher_use.c
        q = select(u.business_type, func.count()).group_by(u.business_type)
        if begin is not None:
            q = q.where(u.used_at >= begin)
        if end is not None:
            q = q.where(u.used_at < end)
        if region:
            q = q.where(_insured_in(u.psn_no, region))
        return {str(b): int(n) for b, n in self.conn.execute(q)}

    def cert_slices(self, begin: datetime, end: datetime, region: str = "") -> list[CertSlice]:
        original = t.settlement.alias("original")
        cert = func.coalesce(original.c.mdtrt_cert_type, s.mdtrt_cert_type)
        q = (
            select(s.fixmedins_code, cert, net_count, total(s.medfee_sumamt))
            .select_from(t.settlement.outerjoin(original, original.c.setl_id == s.revs_setl_id))
            .where(s.setl_time >= begin, s.setl_time < end)
            .group_by(s.fixmedins_code, cert)
        )
        if region:
            q = q.where(s.insuplc_admdvs.startswith(region, autoescape=True))
        return [CertSlice(str(code), str(kind), int(n), int(fen)) for code, kind, n, fen in self.conn.execute(q)]

    def voucher_of(self, psn_no: str) -> VoucherRecord | None:
        row = self.conn.execute(select(t.voucher).where(t.voucher.c.psn_no == psn_no)).first()
        return VoucherRecord(**row._mapping) if row else None

    def voucher_uses(self, psn_no: str, limit: int) -> list[VoucherUse]:
        u = t.voucher_use.c
        q = select(t.voucher_use).where(u.psn_no == psn_no).order_by(u.used_at.desc(), u.nonce).limit(limit)
        return [VoucherUse(**r._mapping) for r in self.conn.execute(q)]

    # ---------------------------------------------------------------- cross-region settlement

    def cross_region_slices(self, begin: datetime, end: datetime, region: str = "") -> list[CrossRegionSlice]:
        keys = (s.cross_region, s.mdtrtarea_admvs, s.insuplc_admdvs)
        q = (
            select(*keys, net_count, total(s.medfee_sumamt), total(s.fund_pay_sumamt), total(s.acct_pay))
            .where(s.setl_time >= begin, s.setl_time < end, s.cross_region.in_(("T", "I")))
            .group_by(*keys)
        )
        if region:
            q = q.where(
                or_(
                    and_(s.cross_region == "T", s.mdtrtarea_admvs.startswith(region, autoescape=True)),
                    and_(s.cross_region == "I", s.insuplc_admdvs.startswith(region, autoescape=True)),
                )
            )
        return [
            CrossRegionSlice(str(side), str(treated), str(insured), *(int(v) for v in rest))
            for side, treated, insured, *rest in self.conn.execute(q)
        ]


def count_if(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _insured_in(psn_no: Any, region: str) -> Any:
    """The person has an insurance of the region (how the console scopes persons)."""
    i = t.insurance.c
    return exists().where(i.psn_no == psn_no, i.insuplc_admdvs.startswith(region, autoescape=True))


def _institution_columns() -> list[Any]:
    i = t.institution.c
    return [i.fixmedins_code, i.fixmedins_name, i.fixmedins_type, i.hosp_lv, i.specialty, i.admdvs, i.status]
