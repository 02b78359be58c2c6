"""Contributions and the funds on both databases (docs/contributions.md): a month's collection posted in the
ledger and proved by the ledger check, the fund's balance equal to its income minus its spending, a deferred
employer's employee settling through the interface while another employer's arrears suspend its staff until
paid, the 9-month rule decided on the ledger's months of reserve, and the console's funds page and the
portal's monthly credits."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.accounts import add_user, sign_in
from tests.flows import AMOXICILLIN, RESIDENT, RETIREE, WORKER, line, refusal, register, settle_data
from yibao.api.server import create_app
from yibao.app import contributions as ca
from yibao.app.audit import AuditQuery
from yibao.app.ports import Store
from yibao.app.records import local_date
from yibao.domain import contribution as c
from yibao.domain.errors import DomainError
from yibao.domain.ledger import Code, Transfer, check_ledger, opening_account
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.database import Database

T = TypeVar("T")
GZ = "440100"
CIVIL = "44010000000000034567"  # 公务员在职, 320 months
FUND = "fund:440100:310100"
E1, E2 = "440100E00000001", "440100E00000002"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def today() -> date:
    return local_date(now())


def run(db: Database, use: Callable[[Store], T]) -> T:
    with db.transaction() as store:
        return use(store)


def employers(db: Database) -> None:
    run(db, lambda s: (ca.register_employer(s, E1, "广州某科技有限公司", GZ, now()),
                       ca.register_employer(s, E2, "广州市某局", GZ, now())))  # fmt: skip


def account(db: Database, code: str) -> tuple[int, int]:
    a = tables.ledger_account.c
    with db.engine.connect() as conn:
        row = conn.execute(select(a.debits_posted, a.credits_posted).where(a.code == code)).first()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def insurance(db: Database, psn_no: str) -> tuple[str, int]:
    i = tables.insurance.c
    with db.engine.connect() as conn:
        row = conn.execute(select(i.psn_insu_stas, i.contrib_months).where(i.psn_no == psn_no)).one()
    return str(row[0]), int(row[1])


def problems(db: Database) -> list[str]:
    with db.transaction(write=False) as store:
        return check_ledger(store.ledger_facts())


def settle(his: HisClient, psn_no: str, serial: str) -> dict[str, Any]:
    mdtrt_id = register(his, psn_no, ipt_otp_no=f"MZ-CT{serial}")
    his.call("2204", {"feedetail": [line("1", mdtrt_id, psn_no, AMOXICILLIN, "40", "0.52")]})
    return dict(his.call("2207", settle_data(psn_no, mdtrt_id, "20.80"))["setlinfo"])


def test_a_months_collection_is_posted_and_the_fund_balance_is_income_minus_spending(
    db: Database, hospital: HisClient
) -> None:
    employers(db)
    month = c.month_of(today())
    e1 = run(db, lambda s: ca.declare(s, E1, month, [(WORKER, 1_200_000)], now()))
    e2 = run(db, lambda s: ca.declare(s, E2, month, [(CIVIL, 300_000)], now()))
    assert (e1.employer_amt, e1.employee_amt, e1.to_account, e1.to_pool) == (72_000, 24_000, 24_000, 72_000)
    assert e2.base_total == run(db, lambda s: s.contribution_rates().wage_base(GZ, month).floor)
    assert account(db, f"receivable:{E1}") == (96_000, 0)
    with pytest.raises(DomainError) as twice:
        run(db, lambda s: ca.declare(s, E1, month, [(WORKER, 1)], now()))
    assert twice.value.field == "month"
    with pytest.raises(DomainError) as retiree:
        run(db, lambda s: ca.declare(s, E2, c.add_months(month, 1), [(RETIREE, 500_000)], now()))
    assert retiree.value.field == "lines.0.psn_no"

    acct_before = account(db, f"acct:{WORKER}")
    paid = run(db, lambda s: ca.collect(s, E1, month, now()))
    assert (paid.status(today()), paid.late_fee) == (c.PAID, 0)
    with pytest.raises(DomainError) as paid_twice:
        run(db, lambda s: ca.collect(s, E1, month, now()))
    assert paid_twice.value.field == "month"
    assert account(db, f"receivable:{E1}") == (96_000, 96_000)
    assert account(db, f"acct:{WORKER}")[1] - acct_before[1] == 24_000
    persons, credited = run(db, lambda s: ca.credit_retirees(s, GZ, month, now()))
    assert (persons, credited) == (1, 8_000)  # the demo registry's one retiree, 80 yuan after the reform
    retiree_view = run(db, lambda s: ca.person_contributions(s, RETIREE, today()))
    assert [(m.month, m.source, m.credited) for m in retiree_view.months] == [(month, "退休人员定额划入", 8_000)]
    setl = settle(hospital, WORKER, "1")  # the pooled fund pays a real settlement
    run(db, lambda s: ca.enrol_residents(s, GZ, 2021, [RESIDENT], datetime(2020, 10, 1, 2)))
    with pytest.raises(DomainError) as again:
        run(db, lambda s: ca.enrol_residents(s, GZ, 2021, [RESIDENT], datetime(2020, 10, 2, 2)))
    assert again.value.field == "psn_no"
    with pytest.raises(DomainError) as late:
        run(db, lambda s: ca.enrol_residents(s, GZ, 2022, [RESIDENT], datetime(2022, 3, 1, 2)))
    assert late.value.field == "paid_on"

    months = run(db, lambda s: ca.fund_series(s, GZ, c.EMPLOYEE))
    debits, credits = account(db, FUND)
    assert (
        credits - debits == months[-1].balance == sum(m.income + m.other - m.spending - m.to_accounts for m in months)
    )
    assert sum(m.income for m in months) == e1.to_pool
    assert sum(m.to_accounts for m in months) == 8_000
    hifp = int(Decimal(str(setl["hifp_pay"])) * 100)
    assert hifp > 0 and sum(m.spending for m in months) == hifp
    residents = run(db, lambda s: ca.fund_series(s, GZ, c.RESIDENT))
    assert [(m.month, m.income) for m in residents] == [("2020-10", 90_000)]  # 320 + the subsidy 580
    assert problems(db) == []

    with db.engine.begin() as conn:  # a credit the ledger does not hold
        conn.execute(text(f"UPDATE account_credit SET amount = amount + 1 WHERE psn_no = '{WORKER}'"))
    assert problems(db) == [f"acct:{WORKER}: 征缴记账净额 -24000 ≠ 征缴记录 -24001"]


def test_a_deferred_employers_staff_settle_while_arrears_suspend_another_employers_until_paid(
    db: Database, hospital: HisClient
) -> None:
    employers(db)
    day = today()
    month = c.add_months(c.month_of(day), -4)  # unpaid for four months: past the arrears rule's three
    run(db, lambda s: ca.declare(s, E1, month, [(WORKER, 800_000)], now()))
    run(db, lambda s: ca.declare(s, E2, month, [(CIVIL, 900_000)], now()))
    until = c.month_end(c.add_months(month, 6))
    run(db, lambda s: ca.defer(s, E1, [month], until, day))
    with pytest.raises(DomainError) as too_long:
        run(db, lambda s: ca.defer(s, E2, [month], c.month_end(c.add_months(month, 7)), day))
    assert too_long.value.field == "until"
    assert insurance(db, WORKER) == ("1", 151)  # the deferred month counts: continuous months go on

    waiting = register(hospital, CIVIL, ipt_otp_no="MZ-CT2")  # a visit under way when the arrears rule runs
    hospital.call("2204", {"feedetail": [line("1", waiting, CIVIL, AMOXICILLIN, "40", "0.52")]})
    arrears = run(db, lambda s: ca.apply_arrears(s, GZ, day))
    assert (arrears.employers, arrears.suspended, arrears.deferred) == ([E2], 1, 1)
    assert insurance(db, WORKER) == ("1", 151) and insurance(db, CIVIL) == ("2", 320)
    setl = settle(hospital, WORKER, "1")  # the deferred employer's employee settles as ever
    assert Decimal(str(setl["medfee_sumamt"])) == Decimal("20.80")
    assert "参保状态为暂停" in refusal(hospital, "2207", settle_data(CIVIL, waiting, "20.80"))

    paid = run(db, lambda s: ca.collect(s, E2, month, now()))
    assert paid.status(day) == c.PAID_LATE and paid.late_fee > 0
    assert insurance(db, CIVIL) == ("1", 321)  # restored and the month counted once paid
    hospital.call("2207", settle_data(CIVIL, waiting, "20.80"))
    on_time = run(db, lambda s: ca.collect(s, E1, month, now()))
    assert (on_time.status(day), on_time.late_fee) == (c.PAID, 0)  # within the window: no late fee
    assert insurance(db, WORKER) == ("1", 151)  # not counted twice
    view = run(db, lambda s: ca.person_contributions(s, WORKER, day))
    assert [(m.month, m.status, m.credited) for m in view.months] == [(month, c.PAID, 16_000)]
    assert problems(db) == []


def test_the_9_month_rule_is_decided_on_the_ledgers_months_of_reserve(db: Database) -> None:
    employers(db)
    month = c.month_of(today())
    following = c.add_months(month, 1)
    nine = c.Reduction("nine", "9个月规则", "440000", c.EMPLOYEE, following, "", c.POINTS, Decimal("0.005"),
                       reserve_above=Decimal(9))  # fmt: skip
    table = replace(run(db, lambda s: s.contribution_rates()), reductions=(nine,))

    def opening(amount: int) -> None:
        transfer = Transfer(opening_account("pooled_fund"), FUND, amount, Code.OPENING)
        run(db, lambda s: s.post(f"opening:fund:{amount}", [transfer], now()))

    opening(50_000)
    run(db, lambda s: ca.credit_retirees(s, GZ, month, now()))  # 80 yuan out: the fund's only outgo
    low = run(db, lambda s: ca.declare(s, E1, following, [(WORKER, 1_000_000)], now(), table=table))
    assert (low.reserve_months, low.employer_rate, low.reductions) == ("5.25", "0.06", "")  # 420 ÷ 80
    opening(60_000)
    high = run(db, lambda s: ca.declare(s, E2, following, [(CIVIL, 1_000_000)], now(), table=table))
    assert (high.reserve_months, high.employer_rate, high.reductions) == ("12.75", "0.055", "nine")  # 1,020 ÷ 80
    assert high.employer_amt == 55_000 and low.employer_amt == 60_000


def test_the_funds_page_and_the_portals_monthly_credits(db: Database) -> None:
    employers(db)
    month = c.month_of(today())
    bill = run(db, lambda s: ca.declare(s, E1, month, [(WORKER, 1_000_000)], now()))
    run(db, lambda s: ca.collect(s, E1, month, now()))
    run(db, lambda s: ca.declare(s, E2, month, [(CIVIL, 1_000_000)], now()))
    add_user(db, "ro", "readonly", "440100")
    add_user(db, "sz", "readonly", "440300")
    with TestClient(create_app(db)) as client:
        sign_in(client, "ro")
        page = client.get("/console/funds")
        assert page.status_code == 200 and 'href="/console/funds" class="active"' in page.text
        debits, credits = account(db, FUND)
        assert attr(page.text, "fund-balance", "data-fen") == str(credits - debits) == str(bill.to_pool)
        assert 'data-rule="gd-9-month"' in page.text and 'data-status="deferred"' in page.text
        assert re.search(r'data-status="due" data-bills="1"', page.text)
        same = client.get("/console/funds", params={"employer_rate": "6", "employee_rate": "2"})
        assert attr(same.text, "whatif-result", "data-income-change") == "0"
        cut = client.get("/console/funds", params={"employer_rate": "5.5"})
        assert attr(cut.text, "whatif-result", "data-income-change") == str(-2 * 5_000)  # 0.5 point of two bases
        bad = client.get("/console/funds", params={"employer_rate": "six"})
        assert bad.status_code == 400 and "employer_rate" in bad.text
    with TestClient(create_app(db)) as client:
        sign_in(client, "sz")
        assert 'data-testid="no-fund"' in client.get("/console/funds").text
    with TestClient(create_app(db)) as client:
        client.post("/portal", data={"certno": "440104198809152340", "card_no": "K44010023456"})
        page = client.get("/portal/contributions")
        assert page.status_code == 200
        assert re.search(rf'data-month="{month}" data-status="paid" data-credited="20000"', page.text)
        assert attr(page.text, "credited-total", "data-fen") == "20000"
        assert client.get("/portal/me").text.count('href="/portal/contributions"') == 1
    with db.transaction(write=False) as store:
        logged = store.audit_entries(AuditQuery(psn_no=WORKER, action="portal.view"), 10)
    assert any(e.object == "contributions" for e in logged)


def attr(page: str, testid: str, name: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*\s{name}="([^"]*)"', page)
    assert found, f"{testid} {name} not on the page"
    return found.group(1)
