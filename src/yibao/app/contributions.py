"""Contributions (征缴) and the funds' indicators: the use cases (docs/contributions.md).

- ``register_employer``, ``declare`` (a month's payroll declaration: the bases clamped, the rates of the
  month decided on the fund's months of reserve at the end of the month before, the receivable posted),
  ``defer`` (缓缴: no late fee in the window, benefits and continuous months kept), ``collect`` (the
  money received, split into the pooled fund and each personal account, a late fee after the window),
  ``apply_arrears`` (the arrears rule: ``domain.contribution.suspends_benefits``; a deferred employer's
  staff are never touched), ``credit_retirees`` (the reform's fixed credit), ``enrol_residents``.
- ``fund_series``: a pooling region's fund month by month from its ledger account's transfers;
  ``funds_view`` the console's page; ``simulate_proposal`` a rate proposal's what-if;
  ``person_contributions`` the portal's monthly personal-account credits.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal, Protocol

from yibao.app.errors import NotFound, Refused
from yibao.app.records import InsuranceRecord, local_date
from yibao.domain import contribution as c
from yibao.domain.codes import PsnInsuStas, PsnType
from yibao.domain.contribution import (
    EMPLOYEE,
    POOLED_FUND,
    RESIDENT,
    BilledMonth,
    BillState,
    FundMonth,
    MonthFlow,
    Proposal,
    ProposalResult,
    RateTable,
    Trigger,
)
from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen
from yibao.domain.ledger import fund_account
from yibao.domain.money import Fen

if TYPE_CHECKING:
    from yibao.app.ports import Store

RETIREE_SOURCE = "retiree"
"""``account_credit.source`` of a retiree's fixed monthly credit (an employer's credits carry its emp_no)."""


# ---------------------------------------------------------------- records


@frozen
class Employer:
    emp_no: str
    emp_name: str
    admdvs: str
    """The pooling region its employees are insured in."""
    created_at: datetime


@frozen
class Bill:
    """An employer's month of one insurance type."""

    emp_no: str
    month: str
    insutype: str
    admdvs: str
    headcount: int
    base_total: Fen
    employer_rate: str
    employee_rate: str
    reductions: str
    """The reductions' ids applied, comma-separated."""
    reserve_months: str | None
    """The months of reserve the rates were decided on (None: not measurable)."""
    employer_amt: Fen
    employee_amt: Fen
    to_account: Fen
    to_pool: Fen
    due_date: date
    deferred_until: date | None
    paid_on: date | None
    late_fee: Fen
    months_counted: bool
    declared_at: datetime

    @property
    def total(self) -> Fen:
        return self.employer_amt + self.employee_amt

    @property
    def state(self) -> BillState:
        return BillState(self.month, self.due_date, self.deferred_until, self.paid_on)

    def status(self, today: date) -> str:
        return c.bill_status(self.state, today)


@frozen
class DeclarationLine:
    emp_no: str
    month: str
    insutype: str
    psn_no: str
    wage: Fen
    base: Fen
    employer_amt: Fen
    employee_amt: Fen
    to_account: Fen
    to_pool: Fen


@frozen
class AccountCredit:
    psn_no: str
    month: str
    source: str
    """The employer's emp_no, or ``retiree``."""
    admdvs: str
    amount: Fen
    posting_id: str
    credited_at: datetime


@frozen
class ResidentPayment:
    psn_no: str
    year: int
    admdvs: str
    individual_amt: Fen
    subsidy_amt: Fen
    paid_on: date
    posting_id: str


@frozen
class FundFlowRow:
    """A fund account's transfers of one local month and code, summed (what the ledger says)."""

    account: str
    month: str
    code: str
    debits: Fen
    credits: Fen


class ContributionStore(Protocol):
    def contribution_rates(self) -> RateTable:
        """The rate table in force (the shipped src/yibao/files/contribution_rates.toml), read once."""

    def save_employer(self, employer: Employer) -> bool:
        """Insert it unless its emp_no is known; whether it was new."""

    def employer(self, emp_no: str) -> Employer | None: ...
    def employers(self, region: str) -> list[Employer]:
        """Employers of the regions under the admdvs prefix ``region``, by emp_no."""

    def insert_bill(self, bill: Bill, lines: Sequence[DeclarationLine]) -> None: ...
    def contribution_bill(self, emp_no: str, month: str, insutype: str) -> Bill | None: ...
    def update_bill(self, bill: Bill, *, unpaid_only: bool = False) -> bool:
        """Its deferral, payment, late fee and months_counted; whether it was updated (``unpaid_only``: only
        while no payment is recorded — the row's lock makes a second payment of one bill wait, then fail)."""

    def bill_lines(self, emp_no: str, month: str, insutype: str) -> list[DeclarationLine]: ...
    def bills(
        self, region: str, first: str = "", last: str = "", *, emp_no: str = "", unpaid: bool = False
    ) -> list[Bill]:
        """Bills of the region prefix between the months (inclusive; "" open), by month and emp_no."""

    def add_account_credits(self, credits: Sequence[AccountCredit]) -> None: ...
    def account_credits(self, psn_no: str) -> list[AccountCredit]:
        """The newest month first."""

    def person_lines(self, psn_no: str) -> list[tuple[DeclarationLine, Bill]]:
        """The person's declared months with their bills, the newest first."""

    def add_resident_payments(self, payments: Sequence[ResidentPayment]) -> None: ...
    def resident_payments(self, psn_no: str) -> list[ResidentPayment]: ...
    def residents_paid(self, admdvs: str, year: int) -> set[str]: ...
    def insurances_of(self, psn_nos: Sequence[str], insutype: str) -> dict[str, InsuranceRecord]: ...
    def insured_persons(self, admdvs: str, insutype: str, psn_type_prefix: str = "") -> list[InsuranceRecord]:
        """Insurance records of the pooling region and type (psn_type starting with the prefix), by psn_no."""

    def add_contrib_months(self, psn_nos: Sequence[str], insutype: str, months: int) -> None: ...
    def set_insurance_status(
        self, psn_nos: Sequence[str], insutype: str, stas: str, paus_insu_date: date | None
    ) -> None: ...
    def add_suspensions(self, emp_no: str, insutype: str, psn_nos: Sequence[str], since: date) -> None: ...
    def open_suspensions(self, emp_no: str, insutype: str) -> list[str]:
        """psn_no of the employer's employees the arrears rule suspended and nobody restored yet."""

    def close_suspensions(self, emp_no: str, insutype: str, on: date) -> None: ...
    def participation(self, region: str) -> list[tuple[str, str, int]]:
        """(insutype, psn_type, persons) insured normally in the region prefix."""

    def fund_flows(self, account: str) -> list[FundFlowRow]:
        """The account's transfers by local month and code."""

    def fund_accounts(self, region: str) -> list[str]:
        """The pooled fund accounts (fund:<admdvs>:<type>) of the region prefix in the ledger."""


# ---------------------------------------------------------------- employers and declarations


def register_employer(store: Store, emp_no: str, emp_name: str, admdvs: str, now: datetime) -> Employer:
    if not emp_no.strip() or len(emp_no) > 30:
        raise DomainError("emp_no", f"单位编号须为 1–30 个字符：{emp_no!r}")
    if not emp_name.strip():
        raise DomainError("emp_name", "单位名称不能为空")
    if len(admdvs) != 6 or not admdvs.isdigit():
        raise DomainError("admdvs", f"须为6位统筹区代码：{admdvs!r}")
    employer = Employer(emp_no.strip(), emp_name.strip()[:200], admdvs, now)
    if not store.save_employer(employer):
        known = store.employer(employer.emp_no)
        if known is not None and (known.emp_name, known.admdvs) != (employer.emp_name, admdvs):
            raise Refused("emp_no", f"单位编号 {emp_no} 已登记为 {known.emp_name}（{known.admdvs}）")
    return employer


def _employer(store: Store, emp_no: str) -> Employer:
    employer = store.employer(emp_no)
    if employer is None:
        raise NotFound("emp_no", f"参保单位 {emp_no} 不存在")
    return employer


def reserve_for(store: Store, admdvs: str, insutype: str, month: str) -> Decimal | None:
    """The fund's months of reserve at the end of the month before ``month``, from the ledger."""
    return c.reserve_before(fund_series(store, admdvs, insutype), month)


def declare(
    store: Store,
    emp_no: str,
    month: str,
    wages: Sequence[tuple[str, Fen]],
    now: datetime,
    *,
    insutype: str = EMPLOYEE,
    table: RateTable | None = None,
    reserve: Decimal | Literal["ledger"] | None = "ledger",
) -> Bill:
    """申报: the employer's month — each in-service employee's wage clamped to the floor and ceiling, the
    rates of the month (on the months of reserve at the end of the month before, from the ledger unless a
    batch caller already computed them with ``reserve_for``), the bill and its lines, and the receivable
    posted (``contrib:<emp_no>:<month>:<insutype>:assess``)."""
    c.parse_month(month)
    if insutype != EMPLOYEE:
        raise DomainError("insutype", f"按月申报只适用于职工基本医疗保险 {EMPLOYEE}：{insutype}")
    employer = _employer(store, emp_no)
    if store.contribution_bill(emp_no, month, insutype) is not None:
        raise Refused("month", f"{employer.emp_name} {month} 已申报")
    if not wages:
        raise DomainError("lines", "申报须至少有一名职工")
    table = table or store.contribution_rates()
    seen: set[str] = set()
    for i, (psn_no, wage) in enumerate(wages):
        if psn_no in seen:
            raise DomainError(f"lines.{i}.psn_no", f"{psn_no} 重复申报")
        seen.add(psn_no)
        if wage < 0:
            raise DomainError(f"lines.{i}.wage", f"工资不能为负：{wage}")
    insured = store.insurances_of([p for p, _ in wages], insutype)
    for i, (psn_no, _) in enumerate(wages):
        ins = insured.get(psn_no)
        if ins is None or ins.insuplc_admdvs != employer.admdvs:
            raise NotFound(f"lines.{i}.psn_no", f"{psn_no} 无本统筹区 {employer.admdvs} 的职工医保参保记录")
        if not ins.psn_type.startswith("11"):
            raise Refused(f"lines.{i}.psn_no", f"{psn_no} 人员类别为{PsnType.describe(ins.psn_type)}，不按在职申报")
    months_reserve = reserve_for(store, employer.admdvs, insutype, month) if isinstance(reserve, str) else reserve
    decision = c.decide_rates(table, employer.admdvs, insutype, month, months_reserve)
    wage_base = table.wage_base(employer.admdvs, month)
    people = [c.person_contribution(p, w, decision, wage_base) for p, w in wages]
    lines = [
        DeclarationLine(
            emp_no, month, insutype, p.psn_no, p.wage, p.base, p.employer, p.employee, p.to_account, p.to_pool
        )
        for p in people
    ]
    bill = Bill(
        emp_no=emp_no, month=month, insutype=insutype, admdvs=employer.admdvs, headcount=len(lines),
        base_total=sum(p.base for p in people), employer_rate=str(decision.employer),
        employee_rate=str(decision.employee), reductions=",".join(decision.applied),
        reserve_months=None if months_reserve is None else str(months_reserve),
        employer_amt=sum(p.employer for p in people), employee_amt=sum(p.employee for p in people),
        to_account=sum(p.to_account for p in people), to_pool=sum(p.to_pool for p in people),
        due_date=c.due_date(month), deferred_until=None, paid_on=None, late_fee=0, months_counted=False,
        declared_at=now,
    )  # fmt: skip
    store.insert_bill(bill, lines)
    store.post(_posting(bill, "assess"), c.assessment_posting(emp_no, bill.admdvs, insutype, bill.total), now)
    return bill


def _posting(bill: Bill, step: str) -> str:
    return f"contrib:{bill.emp_no}:{bill.month}:{bill.insutype}:{step}"


def _bill(store: Store, emp_no: str, month: str, insutype: str) -> Bill:
    c.parse_month(month)
    bill = store.contribution_bill(emp_no, month, insutype)
    if bill is None:
        raise NotFound("month", f"参保单位 {emp_no} 无 {month} 的申报")
    return bill


def _count_months(store: Store, bill: Bill, lines: Sequence[DeclarationLine] | None = None) -> Bill:
    """The employees' continuous contribution months go on (once per bill)."""
    if bill.months_counted:
        return bill
    if lines is None:
        lines = store.bill_lines(bill.emp_no, bill.month, bill.insutype)
    store.add_contrib_months([x.psn_no for x in lines], bill.insutype, 1)
    return replace(bill, months_counted=True)


# ---------------------------------------------------------------- deferral, payment, arrears


def defer(
    store: Store,
    emp_no: str,
    months: Sequence[str],
    until: date,
    today: date,
    *,
    insutype: str = EMPLOYEE,
    count_months: bool = True,
) -> list[Bill]:
    """缓缴: the months' unpaid bills may be paid until ``until`` without late fee; the employees' benefits
    are unaffected (the arrears rule never suspends a deferred month) and their months go on counting."""
    _employer(store, emp_no)
    if not months:
        raise DomainError("months", "请指定缓缴的月份")
    table = store.contribution_rates()
    out = []
    for month in months:
        bill = _bill(store, emp_no, month, insutype)
        c.check_deferral(bill.state, until, today, table.rules)
        bill = replace(bill, deferred_until=until)
        if count_months:
            bill = _count_months(store, bill)
        store.update_bill(bill)
        out.append(bill)
    return out


def collect(
    store: Store, emp_no: str, month: str, paid_at: datetime, *, insutype: str = EMPLOYEE, count_months: bool = True
) -> Bill:
    """实收: the month paid in full on the local day of ``paid_at`` (UTC): the receivable cleared, the pooled
    fund and each employee's personal account credited (``account_credit`` rows, the portal's monthly
    credits), a late fee after the due date or the deferral's end; then, if the employer has no arrears
    left that the rule would suspend for, its suspended employees are restored."""
    bill = _bill(store, emp_no, month, insutype)
    if bill.paid_on is not None:
        raise Refused("month", f"参保单位 {emp_no} {month} 已于 {bill.paid_on} 缴费")
    table = store.contribution_rates()
    paid_on = local_date(paid_at)
    fee = c.late_fee(bill.total, bill.state, paid_on, table.rules)
    lines = store.bill_lines(emp_no, month, insutype)
    bill = replace(bill, paid_on=paid_on, late_fee=fee)
    if count_months:
        bill = _count_months(store, bill, lines)
    if not store.update_bill(bill, unpaid_only=True):  # first: a concurrent payment of the bill waits here
        raise Refused("month", f"参保单位 {emp_no} {month} 已缴费")
    posting_id = _posting(bill, "pay")
    accounts = [(x.psn_no, x.to_account) for x in lines if x.to_account]
    store.post(posting_id, c.payment_posting(emp_no, bill.admdvs, insutype, bill.to_pool, accounts, fee), paid_at)
    store.add_account_credits(
        [AccountCredit(p, month, emp_no, bill.admdvs, amount, posting_id, paid_at) for p, amount in accounts]
    )
    _restore_if_clear(store, bill.emp_no, insutype, paid_on, table)
    return bill


def _restore_if_clear(store: Store, emp_no: str, insutype: str, today: date, table: RateTable) -> None:
    suspended = store.open_suspensions(emp_no, insutype)
    if not suspended:
        return
    if any(c.suspends_benefits(b.state, today, table.rules) for b in store.bills("", emp_no=emp_no, unpaid=True)):
        return
    store.set_insurance_status(suspended, insutype, PsnInsuStas.NORMAL.value, None)
    store.close_suspensions(emp_no, insutype, today)


@frozen
class ArrearsRun:
    employers: list[str]
    """emp_no of employers whose arrears suspend benefits."""
    suspended: int
    """Employees suspended by this run."""
    deferred: int
    """Employers with unpaid months inside a deferral window (left alone)."""


def apply_arrears(store: Store, region: str, today: date, *, insutype: str = EMPLOYEE) -> ArrearsRun:
    """The arrears rule over the region's unpaid bills: an employer with a month the rule says suspends
    (``suspends_benefits``) has the employees of its latest such month suspended (psn_insu_stas 2 from
    today) — the settlement then refuses them, as for any suspended insurance — until it pays. Deferred
    months never suspend."""
    rules = store.contribution_rates().rules
    unpaid = [b for b in store.bills(region, unpaid=True) if b.insutype == insutype]
    deferred = {b.emp_no for b in unpaid if b.status(today) == c.DEFERRED}
    latest: dict[str, Bill] = {}
    for b in unpaid:
        if c.suspends_benefits(b.state, today, rules):
            latest[b.emp_no] = b if b.emp_no not in latest or b.month > latest[b.emp_no].month else latest[b.emp_no]
    suspended = 0
    for emp_no, bill in sorted(latest.items()):
        staff = [x.psn_no for x in store.bill_lines(emp_no, bill.month, insutype)]
        normal = [
            p for p, ins in store.insurances_of(staff, insutype).items() if ins.psn_insu_stas == PsnInsuStas.NORMAL
        ]
        if normal:
            store.set_insurance_status(normal, insutype, PsnInsuStas.SUSPENDED.value, today)
            store.add_suspensions(emp_no, insutype, normal, today)
            suspended += len(normal)
    return ArrearsRun(sorted(latest), suspended, len(deferred))


# ---------------------------------------------------------------- retirees and residents


def credit_retirees(store: Store, admdvs: str, month: str, at: datetime) -> tuple[int, Fen]:
    """The reform's fixed monthly credit (定额划入) of every retiree of the region insured normally, from
    the pooled fund (once a month); (persons, amount)."""
    c.parse_month(month)
    row = store.contribution_rates().rate_row(admdvs, EMPLOYEE, month)
    if row.retiree_credit <= 0:
        return 0, 0
    posting_id = f"contrib:retiree:{admdvs}:{month}"
    if store.transfers_of(posting_id):
        raise Refused("month", f"{admdvs} {month} 退休人员个人账户已划入")
    retirees = [
        i.psn_no
        for group in ("12", "13")  # 退休, 离休
        for i in store.insured_persons(admdvs, EMPLOYEE, group)
        if i.psn_insu_stas == PsnInsuStas.NORMAL
    ]
    credits = [(p, row.retiree_credit) for p in retirees]
    store.post(posting_id, c.retiree_posting(admdvs, credits), at)
    store.add_account_credits([AccountCredit(p, month, RETIREE_SOURCE, admdvs, a, posting_id, at) for p, a in credits])
    return len(credits), sum(a for _, a in credits)


def enrol_residents(
    store: Store, admdvs: str, year: int, psn_nos: Iterable[str], paid_at: datetime
) -> tuple[int, Fen, Fen]:
    """居民参保缴费: each resident's flat contribution for ``year``, paid in its enrolment period, with the
    government's subsidy per person, into the residents' pooled fund; (persons, individual, subsidy)."""
    rate = store.contribution_rates().resident_rate(admdvs, year)
    paid_on = local_date(paid_at)
    c.check_enrolment(rate, paid_on)
    wanted = sorted(set(psn_nos))
    if not wanted:
        return 0, 0, 0
    insured = store.insurances_of(wanted, RESIDENT)
    for psn_no in wanted:
        ins = insured.get(psn_no)
        if ins is None or ins.insuplc_admdvs != admdvs:
            raise NotFound("psn_no", f"{psn_no} 无本统筹区 {admdvs} 的居民医保参保记录")
    paid = store.residents_paid(admdvs, year)
    done = sorted(set(wanted) & paid)
    if done:
        raise Refused("psn_no", f"{done[0]} 等 {len(done)} 人已缴纳 {year} 年度居民医保")
    posting_id = f"contrib:resident:{admdvs}:{year}:{wanted[0]}:{len(wanted)}"
    individual, subsidy = rate.individual * len(wanted), rate.subsidy * len(wanted)
    store.post(posting_id, c.resident_posting(admdvs, individual, subsidy), paid_at)
    store.add_resident_payments(
        [ResidentPayment(p, year, admdvs, rate.individual, rate.subsidy, paid_on, posting_id) for p in wanted]
    )
    return len(wanted), individual, subsidy


# ---------------------------------------------------------------- the funds


def fund_series(store: Store, admdvs: str, insutype: str, last: str | None = None) -> list[FundMonth]:
    """The pooled fund of the region and type month by month, all from its ledger account."""
    return c.fund_months(_flows(store.fund_flows(fund_account(admdvs, POOLED_FUND[insutype]))), last)


def _flows(rows: Sequence[FundFlowRow]) -> list[MonthFlow]:
    by_month: dict[str, dict[str, tuple[Fen, Fen]]] = {}
    for r in rows:
        codes = by_month.setdefault(r.month, {})
        d, cr = codes.get(r.code, (0, 0))
        codes[r.code] = (d + r.debits, cr + r.credits)
    return [c.month_flow(month, codes) for month, codes in sorted(by_month.items())]


@frozen
class Participation:
    in_service: int
    retired: int
    residents: int
    population: int | None
    population_source: str

    @property
    def insured(self) -> int:
        return self.in_service + self.retired + self.residents

    @property
    def rate(self) -> Decimal | None:
        """Insured ÷ population, to 0.01 %."""
        if not self.population:
            return None
        return (Decimal(self.insured) * 100 / self.population).quantize(Decimal("0.01"))


@frozen
class StatusCount:
    status: str
    label: str
    bills: int
    employers: int
    amount: Fen


@frozen
class FundsView:
    admdvs: str
    insutype: str
    funds: list[tuple[str, str]]
    """(admdvs, insutype) of every pooled fund the region has in the ledger."""
    months: list[FundMonth]
    month: FundMonth | None
    """The month shown (the latest by default)."""
    triggers: list[Trigger]
    participation: Participation
    statuses: list[StatusCount]
    rates_now: c.RateDecision | None
    table_version: str


def funds_view(store: Store, region: str, admdvs: str, insutype: str, month: str, today: date) -> FundsView:
    """The console's funds page: the chosen pooled fund (of the caller's region) month by month, the rate
    rules against its months of reserve, participation, and the bills by status."""
    funds = []
    for account in store.fund_accounts(region):
        _, fund_admdvs, fund_type = account.split(":")
        kind = next((k for k, v in POOLED_FUND.items() if v == fund_type), None)
        if kind is not None:
            funds.append((fund_admdvs, kind))
    if not admdvs or (admdvs, insutype) not in funds:
        admdvs, insutype = funds[0] if funds else (admdvs or "", insutype)
    table = store.contribution_rates()
    months = fund_series(store, admdvs, insutype, c.month_of(today)) if admdvs else []
    shown = next((m for m in months if m.month == month), months[-1] if months else None)
    reserve = shown.reserve_months if shown else None
    the_month = shown.month if shown else c.month_of(today)
    triggers = c.rule_triggers(table, admdvs, insutype, the_month, reserve) if admdvs else []
    try:
        rates_now = c.decide_rates(table, admdvs, insutype, c.add_months(the_month, 1), reserve)
    except DomainError:
        rates_now = None
    counts = {EMPLOYEE: 0, "retired": 0, RESIDENT: 0}
    for kind, psn_type, n in store.participation(region):
        if kind == EMPLOYEE:
            counts["retired" if psn_type[:2] in ("12", "13") else EMPLOYEE] += n
        elif kind == RESIDENT:
            counts[RESIDENT] += n
    population = table.population(admdvs, today.year) if admdvs else None
    participation = Participation(counts[EMPLOYEE], counts["retired"], counts[RESIDENT],
                                  population.persons if population else None,
                                  population.source if population else "")  # fmt: skip
    return FundsView(admdvs, insutype, funds, months, shown, triggers, participation,
                     bill_statuses(store.bills(region), today), rates_now, table.version)  # fmt: skip


def bill_statuses(bills: Sequence[Bill], today: date) -> list[StatusCount]:
    out = []
    for status in (c.DUE, c.DEFERRED, c.ARREARS, c.PAID, c.PAID_LATE):
        mine = [b for b in bills if b.status(today) == status]
        amount = sum(b.total + b.late_fee for b in mine)
        out.append(StatusCount(status, c.STATUS_LABELS[status], len(mine), len({b.emp_no for b in mine}), amount))
    return out


def simulate_proposal(store: Store, proposal: Proposal, first: str = "", last: str = "") -> ProposalResult:
    """A rate proposal over the declared months ``first`` … ``last`` (default: the latest 12 declared)."""
    proposal.check()
    bills = [b for b in store.bills(proposal.admdvs, first, last) if b.insutype == proposal.insutype]
    if not first and not last and bills:
        newest = max(b.month for b in bills)
        bills = [b for b in bills if b.month > c.add_months(newest, -12)]
    employers = {e.emp_no: e.emp_name for e in store.employers(proposal.admdvs)}
    billed = [
        BilledMonth(
            b.emp_no,
            employers.get(b.emp_no, b.emp_no),
            b.month,
            b.admdvs,
            b.insutype,
            b.base_total,
            b.headcount,
            Decimal(b.reserve_months) if b.reserve_months else None,
        )
        for b in bills
    ]
    regions = sorted({b.admdvs for b in bills}) or [proposal.admdvs]
    fund = fund_series(store, regions[0], proposal.insutype) if len(regions) == 1 else []
    return c.simulate(store.contribution_rates(), proposal, billed, fund)


# ---------------------------------------------------------------- the portal


@frozen
class PortalMonth:
    month: str
    source: str
    """The employer's name, or 退休人员定额划入."""
    base: Fen | None
    employer_amt: Fen | None
    employee_amt: Fen | None
    credited: Fen
    """Credited to the personal account (0 until the employer pays)."""
    status: str
    status_label: str


@frozen
class PortalView:
    months: list[PortalMonth]
    residents: list[ResidentPayment]
    credited_total: Fen


def person_contributions(store: Store, psn_no: str, today: date) -> PortalView:
    """The person's months: each declared month with its status (a deferred month shows as 缓缴, benefits
    unaffected) and what was credited to the personal account, and retirees' fixed credits."""
    credits = {(x.month, x.source): x for x in store.account_credits(psn_no)}
    names: dict[str, str] = {}
    months = []
    for line, bill in store.person_lines(psn_no):
        if line.emp_no not in names:
            employer = store.employer(line.emp_no)
            names[line.emp_no] = employer.emp_name if employer else line.emp_no
        credit = credits.pop((line.month, line.emp_no), None)
        status = bill.status(today)
        months.append(PortalMonth(line.month, names[line.emp_no], line.base, line.employer_amt, line.employee_amt,
                                  credit.amount if credit else 0, status, c.STATUS_LABELS[status]))  # fmt: skip
    for credit in credits.values():
        label = "退休人员定额划入" if credit.source == RETIREE_SOURCE else credit.source
        months.append(PortalMonth(credit.month, label, None, None, None, credit.amount, c.PAID, "已划入"))
    months.sort(key=lambda m: (m.month, m.source), reverse=True)
    return PortalView(months, store.resident_payments(psn_no), sum(m.credited for m in months))
