"""The synthetic city's contributions: its employers, a wage per employee, and months of declarations and
payments through the use cases (yibao.app.contributions) — ``yibao contributions generate``.

Employers are the city's distinct ``emp_name`` of in-service employees (1101 and 1102; 灵活就业 1103 pay
as individuals and are left out), numbered ``<admdvs>E<8 digits>`` in name order. Each employee's
monthly wage is drawn once (lognormal around the region's average wage; civil servants a little higher).
Month by month, in time order (so each month's rates are decided on the fund as the ledger stood at the
end of the month before): every employer declares, most pay within the month, a share pay one or two
months late (a late fee), a share never pays (arrears), and in the deferral months a share is granted
缓缴 and pays at the window's end (no late fee); nothing is paid after now (the current month's later
payments stay due). Retirees get the reform's fixed credit, residents their
year's contribution in the enrolment month. The same seed gives the same history.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from yibao.app import contributions as ca
from yibao.app.ports import Store
from yibao.app.records import LOCAL, local_date
from yibao.domain import contribution as c
from yibao.domain.codes import PsnInsuStas
from yibao.domain.errors import DomainError
from yibao.domain.money import Fen
from yibao.sim.city import AS_OF
from yibao.store import tables as t
from yibao.store.database import Database

Progress = Callable[[str, int, int], None]


@dataclass
class GenerateReport:
    months: int = 0
    employers: int = 0
    bills: int = 0
    lines: int = 0
    paid: int = 0
    paid_late: int = 0
    deferred: int = 0
    unpaid: int = 0
    income: Fen = 0
    retiree_credits: int = 0
    residents: int = 0
    suspended: int = 0
    seconds: float = 0.0
    rates: dict[str, str] = field(default_factory=dict)
    """month → the employer rate decided (and the reductions applied)."""

    def lines_text(self) -> list[str]:
        return [
            f"{self.months} months, {self.employers:,} employers: {self.bills:,} bills ({self.lines:,} employee lines) "
            f"in {self.seconds:.1f} s",
            f"  paid {self.paid:,}, paid late {self.paid_late:,}, deferred {self.deferred:,}, unpaid {self.unpaid:,}; "
            f"received {c.yuan_text(self.income)} yuan",
            f"  retirees' credits {self.retiree_credits:,}, residents enrolled {self.residents:,}, "
            f"employees suspended for arrears {self.suspended:,}",
        ]


def at_local(day: int, month: str, hour: int = 10) -> datetime:
    """Naive UTC of a local (Asia/Shanghai) time on a day of a month (clamped to its last day)."""
    end = c.month_end(month)
    local = datetime(end.year, end.month, min(day, end.day), hour, tzinfo=LOCAL)
    return local.astimezone(UTC).replace(tzinfo=None)


def city_employers(db: Database, region: str) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    """emp_no → (emp_name, [(psn_no, psn_type)]) of the region's in-service employees (1101, 1102)."""
    i = t.insurance.c
    staff: dict[str, list[tuple[str, str]]] = {}
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(i.emp_name, i.psn_no, i.psn_type)
            .where(
                i.insutype == c.EMPLOYEE, i.insuplc_admdvs == region, i.psn_type.in_(("1101", "1102")), i.emp_name != ""
            )
            .order_by(i.psn_no)
        )
        for name, psn_no, psn_type in rows:
            staff.setdefault(name, []).append((psn_no, psn_type))
    return {f"{region}E{n:08d}": (name, staff[name]) for n, name in enumerate(sorted(staff), 1)}


def generate(
    db: Database,
    region: str,
    first: str,
    last: str,
    *,
    seed: int = 1,
    late_share: float = 0.05,
    arrears_share: float = 0.01,
    defer_months: tuple[str, str] | None = None,
    defer_share: float = 0.1,
    progress: Progress | None = None,
) -> GenerateReport:
    """The months ``first`` … ``last`` of the city's contributions (see the module's docstring)."""
    started = time.monotonic()
    months = c.months_between(first, last)
    if not months:
        raise DomainError("last", f"{last} 早于 {first}")
    horizon = datetime.now(UTC).replace(tzinfo=None)  # history only: nothing is paid after now
    if last > c.month_of(local_date(horizon)):
        raise DomainError("last", f"{last} 是将来的月份")
    report = GenerateReport(months=len(months))
    employers = city_employers(db, region)
    report.employers = len(employers)
    created = at_local(1, first)
    with db.transaction() as store:
        table = store.contribution_rates()
        for emp_no, (name, _) in employers.items():
            ca.register_employer(store, emp_no, name, region, created)
    wages = _wages(employers, seed)
    behaviour = {e: random.Random(f"{seed}:{e}").random() for e in employers}
    # a late payer pays one or two months after its month; deferred months at the window's end
    pending: list[tuple[datetime, str, str]] = []
    for n, month in enumerate(months):
        counted = month >= c.month_of(AS_OF)  # the city's contrib_months already count months before as_of
        rng = random.Random(f"{seed}:{month}")
        average = table.wage_base(region, month).average
        with db.transaction() as store:
            reserve = ca.reserve_for(store, region, c.EMPLOYEE, month)
            deferring = defer_months is not None and defer_months[0] <= month <= defer_months[1]
            for emp_no, (_, staff) in employers.items():
                active = [(p, wages[p]) for p, _ in staff]
                bill = ca.declare(store, emp_no, month, [(p, _scaled(w, average)) for p, w in active],
                                  min(at_local(3, month), horizon), reserve=reserve)  # fmt: skip
                report.bills += 1
                report.lines += bill.headcount
                report.rates.setdefault(month, f"{c.rate_text(Decimal(bill.employer_rate))} {bill.reductions}".strip())
                kind = behaviour[emp_no]
                if kind < arrears_share:
                    continue  # never pays: arrears
                if deferring and rng.random() < defer_share:
                    until = c.month_end(c.add_months(month, 6))
                    ca.defer(store, emp_no, [month], until, c.month_end(month), count_months=counted)
                    report.deferred += 1
                    pay = datetime(until.year, until.month, 1) + timedelta(days=rng.randrange(until.day))
                    pending.append((at_local(pay.day, c.month_of(pay.date())), emp_no, month))
                elif kind < arrears_share + late_share:
                    later = c.add_months(month, 1 + int(rng.random() * 2))
                    pending.append((at_local(1 + rng.randrange(27), later), emp_no, month))
                else:
                    pending.append((at_local(10 + rng.randrange(18), month), emp_no, month))
            due = sorted(p for p in pending if p[0] < min(at_local(1, c.add_months(month, 1), 0), horizon))
            pending = [p for p in pending if p not in due]
            for paid_at, emp_no, bill_month in due:
                bill = ca.collect(store, emp_no, bill_month, paid_at, count_months=bill_month >= c.month_of(AS_OF))
                report.income += bill.total + bill.late_fee
                if bill.late_fee:
                    report.paid_late += 1
                else:
                    report.paid += 1
            persons, _ = ca.credit_retirees(store, region, month, min(at_local(15, month), horizon))
            report.retiree_credits += persons
            report.residents += _enrol(store, table, region, month, horizon)
        if progress:
            progress("months", n + 1, len(months))
    report.unpaid = report.bills - report.paid - report.paid_late
    with db.transaction() as store:
        report.suspended = ca.apply_arrears(store, region, min(c.month_end(last), local_date(horizon))).suspended
    report.seconds = time.monotonic() - started
    return report


def _enrol(store: Store, table: c.RateTable, region: str, month: str, horizon: datetime) -> int:
    """Residents pay next year's contribution in the month their enrolment period ends."""
    for rate in table.residents:
        if rate.admdvs == region and c.month_of(rate.enrol_end) == month:
            residents = [i.psn_no for i in store.insured_persons(region, c.RESIDENT)
                         if i.psn_insu_stas == PsnInsuStas.NORMAL]  # fmt: skip
            paid = store.residents_paid(region, rate.year)
            wanted = [p for p in residents if p not in paid]
            day = min(rate.enrol_end.day, 15)
            return ca.enrol_residents(store, region, rate.year, wanted, min(at_local(day, month), horizon))[0]
    return 0


def _wages(employers: dict[str, tuple[str, list[tuple[str, str]]]], seed: int) -> dict[str, Decimal]:
    """Each employee's wage as a multiple of the average wage (lognormal, median 0.85; civil servants × 1.2)."""
    out = {}
    for _, staff in employers.values():
        for psn_no, psn_type in staff:
            rng = random.Random(f"{seed}:wage:{psn_no}")
            multiple = rng.lognormvariate(-0.16, 0.55) * (1.2 if psn_type == "1102" else 1.0)
            out[psn_no] = Decimal(f"{multiple:.4f}")
    return out


def _scaled(multiple: Decimal, average: Fen) -> Fen:
    """The month's wage: the multiple of the average, to the yuan."""
    return int((multiple * average / 100).quantize(Decimal(1))) * 100
