"""Contributions (征缴) and the funds' indicators (docs/contributions.md): pure rules, amounts in fen.

- **Rates as data** (``RateTable``, read from src/yibao/files/contribution_rates.toml): per region (an
  admdvs prefix), insurance type and period the employer and employee rates, what of each goes to the
  personal account, the retirees' fixed monthly credit (the 2021 reform), and the reductions with their
  conditions: a factor (2020's halving, 6% → 3%) or a cut in points (the 9-month rule, ≥ 0.5 point),
  each only where the pooled fund's months of reserve exceed a threshold.
- **A contribution**: the declared wage clamped to the region's floor and ceiling (e.g. 60 % and 300 %
  of the average wage), × the rates, rounded half up to the fen; split into the personal account and
  the pooled fund so that ``employer + employee = to_account + to_pool`` always.
- **A bill's status** (due, deferred, arrears, paid, paid late), the late fee (万分之五 a day, 社会保险法
  第八十六条) and the one rule that lets arrears touch benefits (``suspends_benefits``): a deferral
  never does; arrears do only once they are older than the rules' months after the due date or the
  end of the deferral window.
- **Fund indicators**: month by month, income, spending, balance and months of reserve (accumulated
  balance ÷ average monthly spending over the last 12 months), from the ledger's flows.
- **Postings**: receivable on declaration, received and split into the pooled fund and the personal
  accounts on payment, retirees' credits, residents' annual contributions with the subsidy.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from yibao.domain.codes import FundPayType, Insutype
from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen
from yibao.domain.ledger import (
    CONTRIBUTION_CASH,
    Code,
    Transfer,
    assessed_account,
    fund_account,
    personal_account,
    receivable_account,
    subsidy_account,
)
from yibao.domain.money import Fen, apply_ratio, fen_to_yuan

EMPLOYEE = Insutype.EMPLOYEE_BASIC.value
RESIDENT = Insutype.RESIDENT_BASIC.value
POOLED_FUND = {EMPLOYEE: FundPayType.EMPLOYEE_POOL.value, RESIDENT: FundPayType.RESIDENT_POOL.value}
"""The pooled fund (统筹基金) an insurance type's contributions go to."""

FACTOR, POINTS = "factor", "points"
EMPLOYER_SIDE, EMPLOYEE_SIDE = "employer", "employee"

# ---------------------------------------------------------------- months ("YYYY-MM")


def parse_month(text: str, field_name: str = "month") -> tuple[int, int]:
    """(year, month) of "YYYY-MM"; DomainError naming ``field_name`` otherwise."""
    value = text.strip()
    if len(value) != 7 or value[4] != "-" or not (value[:4] + value[5:]).isdigit() or not 1 <= int(value[5:]) <= 12:
        raise DomainError(field_name, f"{text!r} 不是月份 (YYYY-MM)")
    return int(value[:4]), int(value[5:])


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(month: str, n: int) -> str:
    y, m = parse_month(month)
    y, m0 = divmod(y * 12 + m - 1 + n, 12)
    return f"{y:04d}-{m0 + 1:02d}"


def months_between(first: str, last: str) -> list[str]:
    """first … last inclusive (empty if last is before first)."""
    out, month = [], first
    while month <= last:
        out.append(month)
        month = add_months(month, 1)
    return out


def month_end(month: str) -> date:
    y, m = parse_month(month)
    return date(y, m, calendar.monthrange(y, m)[1])


def months_after(earlier: date, later: date) -> int:
    """Whole calendar months from ``earlier`` to ``later`` (0 in the same month; negative before)."""
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _prefix(admdvs: str) -> str:
    value = admdvs.strip()
    while value.endswith("00"):
        value = value[:-2]
    return value


def _covers(row_admdvs: str, admdvs: str) -> int:
    """How specific a row of ``row_admdvs`` is for ``admdvs`` (length of its prefix), or -1 if not."""
    p = _prefix(row_admdvs)
    return len(p) if admdvs.startswith(p) else -1


def _in_period(begin: str, end: str, month: str) -> bool:
    return begin <= month and (not end or month <= end)


# ---------------------------------------------------------------- the rate table


@frozen
class WageBase:
    """The average wage (社平工资) a region's contribution bases are bounded by, from ``begin``."""

    admdvs: str
    begin: str
    average: Fen
    floor_ratio: Decimal = Decimal("0.6")
    ceiling_ratio: Decimal = Decimal("3")

    @property
    def floor(self) -> Fen:
        return apply_ratio(self.average, self.floor_ratio)

    @property
    def ceiling(self) -> Fen:
        return apply_ratio(self.average, self.ceiling_ratio)


@frozen
class RateRow:
    """The rates of an insurance type in a region over a period (``end`` "" : open)."""

    admdvs: str
    insutype: str
    begin: str
    end: str
    employer: Decimal
    employee: Decimal
    employee_to_account: Decimal = Decimal(1)
    """Share of the employee's contribution credited to the personal account."""
    employer_to_account: Decimal = Decimal(0)
    """Points of the base (e.g. 0.008) of the employer's contribution credited to an in-service employee's
    account; 0 after the 2021 reform (国办发〔2021〕14号), which sends it all to the pooled fund."""
    retiree_credit: Fen = 0
    """Fixed monthly credit of a retiree's account from the pooled fund (the reform's 定额划入)."""
    source: str = ""


@frozen
class Reduction:
    """A rate reduction and its condition: ``factor`` × the rate or ``points`` off it, for the months
    begin … end, where the pooled fund's months of reserve exceed ``reserve_above`` (None: always)."""

    id: str
    name: str
    admdvs: str
    insutype: str
    begin: str
    end: str
    kind: str
    value: Decimal
    side: str = EMPLOYER_SIDE
    reserve_above: Decimal | None = None
    source: str = ""

    def describe(self) -> str:
        """E.g. "单位费率减半", "单位费率降低 0.5 个百分点"."""
        side = "单位" if self.side == EMPLOYER_SIDE else "个人"
        if self.kind == FACTOR:
            return f"{side}费率减半" if self.value == Decimal("0.5") else f"{side}费率 × {_num(self.value)}"
        return f"{side}费率降低 {_points(self.value)} 个百分点"


@frozen
class ResidentRate:
    """A year of the residents' scheme: the flat contribution per person, the government's subsidy per
    person, and the enrolment period (集中参保缴费期) in which that year is paid."""

    admdvs: str
    year: int
    individual: Fen
    subsidy: Fen
    enrol_begin: date
    enrol_end: date
    source: str = ""


@frozen
class CollectionRules:
    late_fee_daily: Decimal = Decimal("0.0005")
    """滞纳金: 万分之五 a day of the amount unpaid (社会保险法 第八十六条)."""
    deferral_max_months: int = 6
    """A deferral (缓缴) ends at most this many months after the month's due date (医保发〔2020〕6号)."""
    suspend_after_months: int = 3
    """Arrears (not deferred) older than this many months after the due date (or the deferral's end)
    suspend the employees' benefits until paid [illustrative: regions set their own]."""


@frozen
class Population:
    """The resident population a region's participation rate is measured against."""

    admdvs: str
    year: int
    persons: int
    source: str = ""


@frozen
class RateTable:
    version: str
    wages: tuple[WageBase, ...] = ()
    rates: tuple[RateRow, ...] = ()
    reductions: tuple[Reduction, ...] = ()
    residents: tuple[ResidentRate, ...] = ()
    populations: tuple[Population, ...] = ()
    rules: CollectionRules = field(default_factory=CollectionRules)

    def wage_base(self, admdvs: str, month: str) -> WageBase:
        rows = [w for w in self.wages if _covers(w.admdvs, admdvs) >= 0 and w.begin <= month]
        if not rows:
            raise DomainError("month", f"{admdvs} 在 {month} 没有缴费基数上下限（社平工资）")
        return max(rows, key=lambda w: (_covers(w.admdvs, admdvs), w.begin))

    def rate_row(self, admdvs: str, insutype: str, month: str) -> RateRow:
        rows = [
            r
            for r in self.rates
            if r.insutype == insutype and _covers(r.admdvs, admdvs) >= 0 and _in_period(r.begin, r.end, month)
        ]
        if not rows:
            raise DomainError("month", f"{admdvs} 险种 {insutype} 在 {month} 没有缴费费率")
        return max(rows, key=lambda r: (_covers(r.admdvs, admdvs), r.begin))

    def resident_rate(self, admdvs: str, year: int) -> ResidentRate:
        rows = [r for r in self.residents if r.year == year and _covers(r.admdvs, admdvs) >= 0]
        if not rows:
            raise DomainError("year", f"{admdvs} 没有 {year} 年度居民医保个人缴费标准")
        return max(rows, key=lambda r: _covers(r.admdvs, admdvs))

    def population(self, admdvs: str, year: int) -> Population | None:
        rows = [p for p in self.populations if p.admdvs == admdvs and p.year <= year]
        return max(rows, key=lambda p: p.year) if rows else None

    def reductions_for(self, admdvs: str, insutype: str) -> list[Reduction]:
        return [r for r in self.reductions if r.insutype == insutype and _covers(r.admdvs, admdvs) >= 0]


# ---------------------------------------------------------------- the rates of a month


@frozen
class RateDecision:
    """The rates a month's contributions are assessed at, and why."""

    admdvs: str
    insutype: str
    month: str
    row: RateRow
    employer: Decimal
    employee: Decimal
    applied: tuple[str, ...]
    """Ids of the reductions applied, in order."""
    reserve_months: Decimal | None
    """The months of reserve the conditions were judged on (None: not measurable)."""
    notes: tuple[str, ...] = ()


def decide_rates(
    table: RateTable, admdvs: str, insutype: str, month: str, reserve_months: Decimal | None
) -> RateDecision:
    """The month's employer and employee rates: the table's row, then each reduction in force whose
    condition holds (a fund whose months of reserve cannot be measured — no spending yet — meets no
    condition: a cut needs evidence), in the table's order."""
    parse_month(month)
    row = table.rate_row(admdvs, insutype, month)
    rates = {EMPLOYER_SIDE: row.employer, EMPLOYEE_SIDE: row.employee}
    applied, notes = [], []
    for r in table.reductions_for(admdvs, insutype):
        if not _in_period(r.begin, r.end, month):
            continue
        if not condition_met(r, reserve_months):
            notes.append(f"{r.name}：{condition_text(r, reserve_months)}，不适用")
            continue
        before = rates[r.side]
        rates[r.side] = max(Decimal(0), before * r.value if r.kind == FACTOR else before - r.value)
        applied.append(r.id)
        notes.append(f"{r.name}：{_pct(before)} → {_pct(rates[r.side])}")
    return RateDecision(
        admdvs, insutype, month, row, rates[EMPLOYER_SIDE], rates[EMPLOYEE_SIDE], tuple(applied), reserve_months,
        tuple(notes),
    )  # fmt: skip


def condition_met(r: Reduction, reserve_months: Decimal | None) -> bool:
    if r.reserve_above is None:
        return True
    return reserve_months is not None and reserve_months > r.reserve_above


def condition_text(r: Reduction, reserve_months: Decimal | None) -> str:
    if r.reserve_above is None:
        return "无前提条件"
    if reserve_months is None:
        return f"累计结余可支付月数无法计算（尚无支出），须超过 {_num(r.reserve_above)} 个月"
    sign = ">" if reserve_months > r.reserve_above else "≤"
    return f"累计结余可支付 {reserve_months:.1f} 个月 {sign} {_num(r.reserve_above)} 个月"


@frozen
class Trigger:
    """A reduction against a fund's months of reserve, for the console."""

    reduction: Reduction
    in_force: bool
    """The month is within its period."""
    condition_met: bool
    text: str


def rule_triggers(
    table: RateTable, admdvs: str, insutype: str, month: str, reserve_months: Decimal | None
) -> list[Trigger]:
    """Each reduction of the region and type: in force this month or not, its condition met or not, e.g.
    "累计结余可支付 11.2 个月 > 9 个月：符合9个月规则：阶段性降低单位费率，单位费率降低 0.5 个百分点"."""
    out = []
    for r in table.reductions_for(admdvs, insutype):
        in_force = _in_period(r.begin, r.end, month)
        met = condition_met(r, reserve_months)
        verdict = f"符合{r.name}，{r.describe()}" if met else f"不符合{r.name}（{r.describe()}）"
        period = f"{r.begin} 至 {r.end or '长期'}"
        when = "" if in_force else f"；规则期限 {period}，{month} 不在期限内"
        out.append(Trigger(r, in_force, met, f"{condition_text(r, reserve_months)}：{verdict}{when}"))
    return out


# ---------------------------------------------------------------- one person's contribution


def clamp_base(wage: Fen, wage_base: WageBase) -> Fen:
    """The contribution base: the declared wage within the floor and ceiling."""
    if wage < 0:
        raise DomainError("wage", f"工资不能为负: {wage}")
    return min(max(wage, wage_base.floor), wage_base.ceiling)


@frozen
class PersonContribution:
    psn_no: str
    wage: Fen
    base: Fen
    employer: Fen
    employee: Fen
    to_account: Fen
    to_pool: Fen


def person_contribution(psn_no: str, wage: Fen, decision: RateDecision, wage_base: WageBase) -> PersonContribution:
    """An in-service employee's month: each share rounded to the fen; the account gets the employee's
    share of their own contribution and the employer's points of the base (never more than was paid),
    the pooled fund the rest."""
    base = clamp_base(wage, wage_base)
    employer = apply_ratio(base, decision.employer)
    employee = apply_ratio(base, decision.employee)
    row = decision.row
    to_account = apply_ratio(employee, row.employee_to_account) + min(
        employer, apply_ratio(base, row.employer_to_account)
    )
    to_account = min(to_account, employer + employee)
    return PersonContribution(psn_no, wage, base, employer, employee, to_account, employer + employee - to_account)


# ---------------------------------------------------------------- a bill: status, deferral, late fee

DUE, DEFERRED, ARREARS, PAID, PAID_LATE = "due", "deferred", "arrears", "paid", "paid_late"
STATUS_LABELS = {DUE: "待缴", DEFERRED: "缓缴", ARREARS: "欠费", PAID: "已缴", PAID_LATE: "补缴（含滞纳金）"}


@frozen
class BillState:
    """What decides a month's bill status: its due date, a deferral granted until a day, when it was paid."""

    month: str
    due_date: date
    deferred_until: date | None = None
    paid_on: date | None = None

    @property
    def late_from(self) -> date:
        """The last day without a late fee: the due date, or the end of the deferral window."""
        if self.deferred_until is not None and self.deferred_until > self.due_date:
            return self.deferred_until
        return self.due_date


def due_date(month: str) -> date:
    """A month's contributions are due by its last day (当月申报、当月缴纳)."""
    return month_end(month)


def bill_status(state: BillState, today: date) -> str:
    if state.paid_on is not None:
        return PAID if state.paid_on <= state.late_from else PAID_LATE
    if state.deferred_until is not None and today <= state.deferred_until:
        return DEFERRED
    return DUE if today <= state.due_date else ARREARS


def late_fee(amount: Fen, state: BillState, paid_on: date, rules: CollectionRules) -> Fen:
    """万分之五 a day from the day after the due date — or, for a deferred month, after the deferral's end:
    no late fee within the window."""
    days = (paid_on - state.late_from).days
    return apply_ratio(amount, rules.late_fee_daily * days) if days > 0 and amount > 0 else 0


def check_deferral(state: BillState, until: date, today: date, rules: CollectionRules) -> None:
    """A deferral (缓缴) of an unpaid month, granted at most ``deferral_max_months`` after its due date."""
    if state.paid_on is not None:
        raise DomainError("month", f"{state.month} 已缴费，无需缓缴")
    if until < today:
        raise DomainError("until", f"缓缴截止日 {until} 早于今天 {today}")
    if until <= state.due_date:
        raise DomainError("until", f"缓缴截止日 {until} 须晚于应缴日 {state.due_date}")
    if months_after(state.due_date, until) > rules.deferral_max_months:
        raise DomainError("until", f"缓缴期限至多为应缴日后 {rules.deferral_max_months} 个月：{until} 超出")


def suspends_benefits(state: BillState, today: date, rules: CollectionRules) -> bool:
    """欠费暂停待遇规则 — the one rule by which an employer's unpaid contributions touch its employees'
    benefits. A deferred month never does (缓缴期间待遇不受影响, continuous months kept); a paid one
    never does; arrears do once more than ``suspend_after_months`` whole months have passed since the due
    date or, for a month that was deferred, since the window ended."""
    if state.paid_on is not None:
        return False
    if state.deferred_until is not None and today <= state.deferred_until:
        return False
    return today > state.late_from and months_after(state.late_from, today) > rules.suspend_after_months


def counts_as_contributed(state: BillState, today: date) -> bool:
    """A month counts towards the employees' continuous contribution months once paid or deferred."""
    return state.paid_on is not None or (state.deferred_until is not None and today <= state.deferred_until)


# ---------------------------------------------------------------- residents


def check_enrolment(rate: ResidentRate, paid_on: date) -> None:
    if not rate.enrol_begin <= paid_on <= rate.enrol_end:
        raise DomainError(
            "paid_on",
            f"{rate.year} 年度居民医保集中缴费期为 {rate.enrol_begin} 至 {rate.enrol_end}：{paid_on} 不在其中",
        )


# ---------------------------------------------------------------- postings


def assessment_posting(emp_no: str, admdvs: str, insutype: str, amount: Fen) -> list[Transfer]:
    """应收: the month's declared contributions become the employer's receivable."""
    if amount <= 0:
        return []
    return [Transfer(receivable_account(emp_no), assessed_account(admdvs, insutype), amount, Code.CONTRIBUTION)]


def payment_posting(
    emp_no: str,
    admdvs: str,
    insutype: str,
    to_pool: Fen,
    to_accounts: Iterable[tuple[str, Fen]],
    fee: Fen = 0,
) -> list[Transfer]:
    """实收: the money received clears the receivable; what was assessed goes to the pooled fund and to
    each personal account; a late fee goes to the pooled fund."""
    accounts = [(p, a) for p, a in to_accounts if a]
    total = to_pool + sum(a for _, a in accounts)
    assessed, fund = assessed_account(admdvs, insutype), fund_account(admdvs, POOLED_FUND[insutype])
    out = []
    if total:
        out.append(Transfer(CONTRIBUTION_CASH, receivable_account(emp_no), total, Code.CONTRIBUTION))
    if to_pool:
        out.append(Transfer(assessed, fund, to_pool, Code.CONTRIBUTION))
    out += [Transfer(assessed, personal_account(p), a, Code.CONTRIBUTION) for p, a in sorted(accounts)]
    if fee:
        out.append(Transfer(CONTRIBUTION_CASH, fund, fee, Code.CONTRIBUTION))
    return out


def retiree_posting(admdvs: str, credits: Iterable[tuple[str, Fen]]) -> list[Transfer]:
    """The pooled fund credits retirees' accounts their fixed monthly amount (定额划入)."""
    fund = fund_account(admdvs, POOLED_FUND[EMPLOYEE])
    return [Transfer(fund, personal_account(p), a, Code.CONTRIBUTION) for p, a in sorted(credits) if a]


def resident_posting(admdvs: str, individual: Fen, subsidy: Fen) -> list[Transfer]:
    """Residents' contributions received and the government's subsidy, into the residents' pooled fund."""
    fund = fund_account(admdvs, POOLED_FUND[RESIDENT])
    out = []
    if individual:
        out.append(Transfer(CONTRIBUTION_CASH, fund, individual, Code.CONTRIBUTION))
    if subsidy:
        out.append(Transfer(subsidy_account(admdvs), fund, subsidy, Code.CONTRIBUTION))
    return out


# ---------------------------------------------------------------- fund indicators


@frozen
class MonthFlow:
    """A pooled fund's month, from its ledger account's transfers."""

    month: str
    income: Fen = 0
    """Contributions credited (code contribution)."""
    spending: Fen = 0
    """Settlements net of reversals (codes settlement, reversal)."""
    to_accounts: Fen = 0
    """Paid out to personal accounts (code contribution, e.g. retirees' fixed credits)."""
    other: Fen = 0
    """Everything else, net: opening balances, recoveries …"""


def month_flow(month: str, by_code: Mapping[str, tuple[Fen, Fen]]) -> MonthFlow:
    """A fund account's month from its (debits, credits) by transfer code."""
    income = spending = to_accounts = other = 0
    for code, (debits, credits) in by_code.items():
        if code == Code.CONTRIBUTION:
            income += credits
            to_accounts += debits
        elif code in (Code.SETTLEMENT, Code.REVERSAL):
            spending += debits - credits
        else:
            other += credits - debits
    return MonthFlow(month, income, spending, to_accounts, other)


@frozen
class FundMonth:
    month: str
    income: Fen
    spending: Fen
    to_accounts: Fen
    other: Fen
    balance: Fen
    """Accumulated, at the end of the month."""
    reserve_months: Decimal | None
    """balance ÷ the average monthly outgo (spending + to_accounts) of the last 12 months (fewer if the
    fund is younger); None when that average is not positive."""
    months_averaged: int


RESERVE_WINDOW = 12


def reserve_months(balance: Fen, outgo: Sequence[Fen]) -> Decimal | None:
    """Months of reserve (累计结余可支付月数): ``balance`` ÷ the average of ``outgo`` (the months averaged), to
    0.01 month."""
    if not outgo:
        return None
    total = sum(outgo)
    if total <= 0:
        return None
    return (Decimal(balance) * len(outgo) / total).quantize(Decimal("0.01"), ROUND_HALF_UP)


def fund_months(flows: Sequence[MonthFlow], last: str | None = None) -> list[FundMonth]:
    """Month by month from the first flow to ``last`` (or the last flow), months without flows as zeros."""
    by_month: dict[str, MonthFlow] = {}
    for f in flows:
        seen = by_month.get(f.month)
        by_month[f.month] = f if seen is None else _add(seen, f)
    if not by_month:
        return []
    months = months_between(min(by_month), max([*by_month, *([last] if last else [])]))
    out: list[FundMonth] = []
    balance, outgo = 0, list[Fen]()
    for month in months:
        f = by_month.get(month, MonthFlow(month))
        balance += f.income + f.other - f.spending - f.to_accounts
        outgo = [*outgo, f.spending + f.to_accounts][-RESERVE_WINDOW:]
        out.append(
            FundMonth(
                month, f.income, f.spending, f.to_accounts, f.other, balance, reserve_months(balance, outgo), len(outgo)
            )
        )
    return out


def _add(a: MonthFlow, b: MonthFlow) -> MonthFlow:
    return MonthFlow(a.month, a.income + b.income, a.spending + b.spending, a.to_accounts + b.to_accounts,
                     a.other + b.other)  # fmt: skip


def reserve_before(months: Sequence[FundMonth], month: str) -> Decimal | None:
    """The months of reserve at the end of the month before ``month`` (what its rates are decided on)."""
    earlier = [m for m in months if m.month < month]
    return earlier[-1].reserve_months if earlier else None


# ---------------------------------------------------------------- a rate proposal (what-if)


@frozen
class BilledMonth:
    """An employer's assessed month, as the proposal recomputes it."""

    emp_no: str
    emp_name: str
    month: str
    admdvs: str
    insutype: str
    base_total: Fen
    headcount: int
    reserve_months: Decimal | None
    """What its rates were decided on."""


@frozen
class Proposal:
    """New base rates (before reductions) for the region and type; None keeps the table's."""

    admdvs: str
    insutype: str = EMPLOYEE
    employer: Decimal | None = None
    employee: Decimal | None = None

    def check(self) -> None:
        for name, value in ((EMPLOYER_SIDE, self.employer), (EMPLOYEE_SIDE, self.employee)):
            if value is not None and not Decimal(0) <= value <= Decimal("0.3"):
                raise DomainError(name, f"费率须在 0 与 30% 之间：{value}")


@frozen
class EmployerChange:
    emp_no: str
    emp_name: str
    headcount: int
    """The most employees of a month."""
    before: Fen
    after: Fen

    @property
    def change(self) -> Fen:
        return self.after - self.before


@frozen
class ProposalResult:
    first: str
    last: str
    months: int
    income_before: Fen
    income_after: Fen
    pool_change: Fen
    """Of the income change, what the pooled fund gets (the rest goes to personal accounts)."""
    employers: list[EmployerChange]
    """The employer's own share, before and after, most changed first."""
    reserve_before: Decimal | None
    reserve_after: Decimal | None
    balance_before: Fen
    balance_after: Fen

    @property
    def income_change(self) -> Fen:
        return self.income_after - self.income_before


def proposed_table(table: RateTable, proposal: Proposal) -> RateTable:
    """The table with the proposal's base rates in every row of its region and type."""
    proposal.check()
    rows = tuple(
        replace(
            r,
            employer=r.employer if proposal.employer is None else proposal.employer,
            employee=r.employee if proposal.employee is None else proposal.employee,
        )
        if r.insutype == proposal.insutype and _covers(r.admdvs, proposal.admdvs) >= 0
        else r
        for r in table.rates
    )
    return replace(table, rates=rows)


def simulate(
    table: RateTable, proposal: Proposal, billed: Sequence[BilledMonth], fund: Sequence[FundMonth]
) -> ProposalResult:
    """Had the proposal's rates been in force over the billed months: each month's rates decided again on
    the same months of reserve, its base total × the rates before and after (both computed alike, so an
    unchanged proposal reports exactly zero), the employers' shares, and the fund's balance and months of
    reserve at the end with the pooled fund's extra income added in the months it was billed."""
    new_table = proposed_table(table, proposal)
    mine = [b for b in billed if b.insutype == proposal.insutype and _covers(proposal.admdvs, b.admdvs) >= 0]
    before_total = after_total = pool_change = 0
    per_employer: dict[str, list[Fen]] = {}
    heads: dict[str, tuple[str, int]] = {}
    extra: dict[str, Fen] = {}
    for b in mine:
        old = decide_rates(table, b.admdvs, b.insutype, b.month, b.reserve_months)
        new = decide_rates(new_table, b.admdvs, b.insutype, b.month, b.reserve_months)
        er0, ee0 = apply_ratio(b.base_total, old.employer), apply_ratio(b.base_total, old.employee)
        er1, ee1 = apply_ratio(b.base_total, new.employer), apply_ratio(b.base_total, new.employee)
        before_total += er0 + ee0
        after_total += er1 + ee1
        # the employee's share goes to the account as the row says; the employer's change all to the pool
        pooled = (er1 - er0) + (ee1 - ee0) - (apply_ratio(ee1, new.row.employee_to_account)
                                              - apply_ratio(ee0, old.row.employee_to_account))  # fmt: skip
        pool_change += pooled
        extra[b.month] = extra.get(b.month, 0) + pooled
        totals = per_employer.setdefault(b.emp_no, [0, 0])
        totals[0] += er0
        totals[1] += er1
        name, most = heads.get(b.emp_no, (b.emp_name, 0))
        heads[b.emp_no] = (name, max(most, b.headcount))
    employers = sorted(
        (EmployerChange(e, heads[e][0], heads[e][1], t[0], t[1]) for e, t in per_employer.items()),
        key=lambda c: (-abs(c.change), c.emp_no),
    )
    flows = [MonthFlow(m.month, m.income, m.spending, m.to_accounts, m.other) for m in fund]
    flows += [MonthFlow(month, income=amount) for month, amount in extra.items() if amount]
    last = fund[-1].month if fund else None
    after = fund_months(flows, last) if flows else []
    months = sorted({b.month for b in mine})
    return ProposalResult(
        first=months[0] if months else "", last=months[-1] if months else "", months=len(months),
        income_before=before_total, income_after=after_total, pool_change=pool_change, employers=employers,
        reserve_before=fund[-1].reserve_months if fund else None,
        reserve_after=after[-1].reserve_months if after else None,
        balance_before=fund[-1].balance if fund else 0, balance_after=after[-1].balance if after else 0,
    )  # fmt: skip


# ---------------------------------------------------------------- formatting


def _num(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def _points(value: Decimal) -> str:
    return _num(value * 100)


def _pct(rate: Decimal) -> str:
    return f"{_points(rate)}%"


def rate_text(rate: Decimal) -> str:
    """0.06 → "6%", 0.055 → "5.5%"."""
    return _pct(rate)


def yuan_text(amount: Fen) -> str:
    return f"{fen_to_yuan(amount)}"
