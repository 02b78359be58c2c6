"""Contributions, pure (docs/contributions.md): the seed's arithmetic — Guangdong's employer rate halved from
6% to 3% for February to June 2020, then cut by at least 0.5 point from July in a city whose pooled fund
covers more than 9 months — the bases' floor and ceiling, the 2021 account reform, deferral and late fees,
the arrears rule, months of reserve, the postings, and a rate proposal's what-if."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain import contribution as c
from yibao.domain.errors import DomainError
from yibao.domain.ledger import Code, balances
from yibao.domain.money import apply_ratio
from yibao.files.contributions import load_rate_table, rate_table_from_data
from yibao.files.loader import FileError, read_data

GZ = "440100"
TABLE = load_rate_table()
RULES = TABLE.rules
D = Decimal


def rates(month: str, reserve: str | None) -> tuple[str, str, tuple[str, ...]]:
    d = c.decide_rates(TABLE, GZ, c.EMPLOYEE, month, None if reserve is None else D(reserve))
    return c.rate_text(d.employer), c.rate_text(d.employee), d.applied


# ---------------------------------------------------------------- the seed's rates


def test_the_halving_takes_the_employer_rate_from_6_to_3_percent_for_february_to_june_2020() -> None:
    assert rates("2020-01", "11.2") == ("6%", "2%", ())
    for month in ("2020-02", "2020-03", "2020-04", "2020-05", "2020-06"):
        assert rates(month, "11.2") == ("3%", "2%", ("2020-halving",))
    # the national condition: only where the pooled fund covers more than 6 months
    assert rates("2020-03", "6") == ("6%", "2%", ())
    assert rates("2020-03", None) == ("6%", "2%", ())  # not measurable: no cut without evidence


def test_from_july_a_city_above_9_months_gets_at_least_a_half_point_cut() -> None:
    for month in ("2020-07", "2020-12", "2021-04"):
        employer, employee, applied = rates(month, "11.2")
        assert applied == ("gd-9-month",) and employee == "2%"
        assert D(employer.rstrip("%")) <= D("5.5")  # ≥ 0.5 point off 6%
    assert rates("2020-07", "9") == ("6%", "2%", ())  # 超过9个月: exactly 9 is not more
    assert rates("2020-07", "9.01")[0] == "5.5%"
    assert rates("2021-05", "11.2") == ("6%", "2%", ())  # the rule ran to April 2021


def test_the_halved_month_costs_the_employer_exactly_half() -> None:
    base = TABLE.wage_base(GZ, "2020-03")
    for reserve, employer in (("11.2", 30_000), ("5", 60_000)):
        d = c.decide_rates(TABLE, GZ, c.EMPLOYEE, "2020-03", D(reserve))
        p = c.person_contribution("P", 1_000_000, d, base)  # a 10,000-yuan wage
        assert (p.base, p.employer, p.employee) == (1_000_000, employer, 20_000)


def test_the_rule_triggers_say_why_in_a_sentence() -> None:
    triggers = {t.reduction.id: t for t in c.rule_triggers(TABLE, GZ, c.EMPLOYEE, "2020-09", D("11.2"))}
    nine = triggers["gd-9-month"]
    assert nine.in_force and nine.condition_met
    assert "11.2 个月 > 9 个月" in nine.text and "单位费率降低 0.5 个百分点" in nine.text
    halving = triggers["2020-halving"]
    assert halving.condition_met and not halving.in_force and "不在期限内" in halving.text
    low = {t.reduction.id: t for t in c.rule_triggers(TABLE, GZ, c.EMPLOYEE, "2020-09", D("8.4"))}
    assert not low["gd-9-month"].condition_met and "8.4 个月 ≤ 9 个月" in low["gd-9-month"].text


# ---------------------------------------------------------------- bases and the account reform


def test_the_base_is_the_wage_within_60_and_300_percent_of_the_average() -> None:
    base = TABLE.wage_base(GZ, "2020-03")
    assert (base.average, base.floor, base.ceiling) == (800_000, 480_000, 2_400_000)
    assert [c.clamp_base(w, base) for w in (300_000, 480_000, 999_999, 2_400_000, 9_000_000)] == [
        480_000, 480_000, 999_999, 2_400_000, 2_400_000,
    ]  # fmt: skip
    with pytest.raises(DomainError) as bad:
        c.clamp_base(-1, base)
    assert bad.value.field == "wage"


def test_the_2021_reform_stops_the_employer_funding_in_service_accounts_and_credits_retirees() -> None:
    before = c.decide_rates(TABLE, GZ, c.EMPLOYEE, "2022-11", None)
    after = c.decide_rates(TABLE, GZ, c.EMPLOYEE, "2022-12", None)
    wage = TABLE.wage_base(GZ, "2022-11")
    p0 = c.person_contribution("P", 1_000_000, before, wage)
    p1 = c.person_contribution("P", 1_000_000, after, wage)
    assert p0.to_account == 20_000 + 8_000  # the employee's 2% and 0.8 point of the employer's
    assert p1.to_account == 20_000  # the employee's own 2% only
    assert (p0.employer, p1.employer) == (60_000, 60_000)
    assert (before.row.retiree_credit, after.row.retiree_credit) == (0, 8_000)


@given(
    wage=st.integers(0, 10_000_000),
    employer=st.decimals(D(0), D("0.12"), places=4),
    employee=st.decimals(D(0), D("0.04"), places=4),
    share=st.decimals(D(0), D(1), places=2),
    points=st.decimals(D(0), D("0.05"), places=4),
)
def test_a_contribution_splits_exactly_into_the_account_and_the_pooled_fund(
    wage: int, employer: Decimal, employee: Decimal, share: Decimal, points: Decimal
) -> None:
    row = c.RateRow(GZ, c.EMPLOYEE, "2020-01", "", employer, employee, share, points)
    decision = c.RateDecision(GZ, c.EMPLOYEE, "2020-01", row, employer, employee, (), None)
    base = TABLE.wage_base(GZ, "2020-01")
    p = c.person_contribution("P", wage, decision, base)
    assert base.floor <= p.base <= base.ceiling
    assert p.employer + p.employee == p.to_account + p.to_pool
    assert min(p.employer, p.employee, p.to_account, p.to_pool) >= 0
    assert p.to_account >= apply_ratio(p.employee, share)  # the employee's share is always credited
    # the posting of its payment moves exactly what was assessed and leaves the receivable at zero
    moved = c.assessment_posting("E1", GZ, c.EMPLOYEE, p.employer + p.employee) + c.payment_posting(
        "E1", GZ, c.EMPLOYEE, p.to_pool, [("P", p.to_account)], fee=7
    )
    net = balances(moved)
    assert sum(net.values()) == 0
    assert net.get("receivable:E1", 0) == 0 and net.get(f"assessed:{GZ}:310", 0) == 0
    assert net.get(f"fund:{GZ}:310100", 0) == -(p.to_pool + 7)
    assert net.get("acct:P", 0) == -p.to_account
    assert all(t.code == Code.CONTRIBUTION for t in moved)


# ---------------------------------------------------------------- bills: status, deferral, late fee, arrears


def test_a_bills_status_through_due_deferral_payment_and_arrears() -> None:
    due = c.due_date("2026-03")
    assert due == date(2026, 3, 31)
    open_bill = c.BillState("2026-03", due)
    assert c.bill_status(open_bill, date(2026, 3, 20)) == c.DUE
    assert c.bill_status(open_bill, date(2026, 4, 1)) == c.ARREARS
    deferred = c.BillState("2026-03", due, deferred_until=date(2026, 9, 30))
    assert c.bill_status(deferred, date(2026, 8, 1)) == c.DEFERRED
    assert c.bill_status(deferred, date(2026, 10, 1)) == c.ARREARS
    assert c.bill_status(c.BillState("2026-03", due, paid_on=date(2026, 3, 15)), date(2026, 5, 1)) == c.PAID
    assert c.bill_status(c.BillState("2026-03", due, paid_on=date(2026, 4, 2)), date(2026, 5, 1)) == c.PAID_LATE
    assert c.bill_status(c.BillState("2026-03", due, date(2026, 9, 30), date(2026, 9, 1)), date(2026, 10, 1)) == c.PAID


def test_late_fees_are_half_a_per_mille_a_day_and_none_within_the_deferral_window() -> None:
    state = c.BillState("2026-03", date(2026, 3, 31))
    assert c.late_fee(1_000_000, state, date(2026, 3, 31), RULES) == 0
    assert c.late_fee(1_000_000, state, date(2026, 4, 10), RULES) == 5_000  # 10 days × 0.05% of 10,000 yuan
    deferred = c.BillState("2026-03", date(2026, 3, 31), deferred_until=date(2026, 9, 30))
    assert c.late_fee(1_000_000, deferred, date(2026, 9, 30), RULES) == 0
    assert c.late_fee(1_000_000, deferred, date(2026, 10, 2), RULES) == 1_000  # counted from the window's end


def test_a_deferral_lasts_at_most_six_months_after_the_due_date() -> None:
    state = c.BillState("2020-02", date(2020, 2, 29))
    c.check_deferral(state, date(2020, 8, 31), date(2020, 3, 1), RULES)
    for until, today in ((date(2020, 9, 1), date(2020, 3, 1)), (date(2020, 2, 28), date(2020, 2, 1)),
                         (date(2020, 4, 30), date(2020, 5, 1))):  # fmt: skip
        with pytest.raises(DomainError) as bad:
            c.check_deferral(state, until, today, RULES)
        assert bad.value.field == "until"


def test_arrears_suspend_benefits_only_past_the_rule_and_a_deferral_never_does() -> None:
    due = date(2026, 3, 31)
    unpaid = c.BillState("2026-03", due)
    assert not c.suspends_benefits(unpaid, date(2026, 6, 30), RULES)  # 3 months: not more than the rule's 3
    assert c.suspends_benefits(unpaid, date(2026, 7, 1), RULES)
    deferred = c.BillState("2026-03", due, deferred_until=date(2026, 9, 30))
    assert not any(c.suspends_benefits(deferred, date(2026, m, 1), RULES) for m in range(4, 10))
    assert c.counts_as_contributed(deferred, date(2026, 8, 1))  # continuous months go on during the deferral
    assert not c.suspends_benefits(deferred, date(2026, 12, 31), RULES)  # 3 months after the window
    assert c.suspends_benefits(deferred, date(2027, 1, 1), RULES)
    assert not c.suspends_benefits(c.BillState("2026-03", due, paid_on=date(2026, 12, 1)), date(2027, 6, 1), RULES)


def test_residents_pay_in_their_enrolment_period() -> None:
    rate = TABLE.resident_rate(GZ, 2021)
    assert (rate.individual, rate.subsidy) == (32_000, 58_000)
    c.check_enrolment(rate, date(2020, 10, 1))
    with pytest.raises(DomainError) as late:
        c.check_enrolment(rate, date(2021, 1, 5))
    assert late.value.field == "paid_on"
    posting = c.resident_posting(GZ, 2 * rate.individual, 2 * rate.subsidy)
    assert balances(posting)[f"fund:{GZ}:390100"] == -180_000


# ---------------------------------------------------------------- months of reserve


def test_months_of_reserve_is_the_balance_over_the_last_12_months_average_outgo() -> None:
    flows = [c.MonthFlow(f"2019-{m:02d}", income=2_000, spending=1_000) for m in range(1, 13)]
    flows += [c.MonthFlow("2020-01", income=1_000, spending=1_000, to_accounts=0, other=100_000)]
    months = c.fund_months(flows, last="2020-03")
    assert [m.month for m in months][-3:] == ["2020-01", "2020-02", "2020-03"]
    assert months[11].balance == 12_000 and months[11].reserve_months == D("12.00")
    assert months[12].balance == 112_000 and months[12].reserve_months == D("112.00")
    # February has no outgo: the average of the last 12 months (11 of 1,000 and one 0) falls
    assert months[13].reserve_months == (D(112_000) * 12 / 11_000).quantize(D("0.01"))
    assert c.reserve_before(months, "2020-02") == D("112.00")
    assert c.reserve_months(100, []) is None and c.reserve_months(100, [0, 0]) is None
    assert c.fund_months([c.MonthFlow("2020-01", income=5)])[0].reserve_months is None


def test_a_month_flow_tells_contributions_from_settlements_and_the_rest() -> None:
    f = c.month_flow(
        "2020-03", {Code.CONTRIBUTION: (300, 10_000), Code.SETTLEMENT: (4_000, 0), Code.REVERSAL: (0, 500),
                    Code.OPENING: (0, 7), Code.RECOVERY: (0, 20)},
    )  # fmt: skip
    assert (f.income, f.to_accounts, f.spending, f.other) == (10_000, 300, 3_500, 27)


# ---------------------------------------------------------------- a rate proposal


def billed(month: str, emp: str, base: int, reserve: str | None = "11.2") -> c.BilledMonth:
    return c.BilledMonth(emp, f"单位{emp}", month, GZ, c.EMPLOYEE, base, 3, None if reserve is None else D(reserve))


def test_a_proposal_that_changes_nothing_reports_zero_change() -> None:
    bills = [billed("2020-03", "E1", 1_234_567), billed("2020-08", "E2", 2_000_001), billed("2021-06", "E1", 999)]
    fund = c.fund_months([c.MonthFlow("2020-03", income=500_000, spending=40_000)], last="2021-06")
    for proposal in (c.Proposal(GZ), c.Proposal(GZ, employer=D("0.06"), employee=D("0.02"))):
        r = c.simulate(TABLE, proposal, bills, fund)
        assert (r.income_change, r.pool_change, r.balance_after - r.balance_before) == (0, 0, 0)
        assert r.reserve_after == r.reserve_before and all(e.change == 0 for e in r.employers)


def test_a_lower_employer_rate_costs_the_fund_its_share_and_lowers_the_reserve() -> None:
    bills = [billed("2021-06", "E1", 1_000_000), billed("2021-07", "E1", 1_000_000), billed("2021-07", "E2", 500_000)]
    fund = c.fund_months([c.MonthFlow(f"2021-{m:02d}", income=200_000, spending=100_000) for m in range(1, 8)])
    r = c.simulate(TABLE, c.Proposal(GZ, employer=D("0.055")), bills, fund)
    assert r.income_change == -(5_000 + 5_000 + 2_500)  # 0.5 point of each base
    assert r.pool_change == r.income_change  # the employer's share goes to the pooled fund after the reform
    assert {e.emp_no: e.change for e in r.employers} == {"E1": -10_000, "E2": -2_500}
    assert r.balance_after == r.balance_before - 12_500
    assert r.reserve_after is not None and r.reserve_before is not None and r.reserve_after < r.reserve_before
    with pytest.raises(DomainError) as bad:
        c.simulate(TABLE, c.Proposal(GZ, employer=D("0.5")), bills, fund)
    assert bad.value.field == "employer"


# ---------------------------------------------------------------- the rate file


def test_a_bad_rate_file_names_the_row_and_the_key() -> None:
    from yibao.files.contributions import SHIPPED

    data = read_data(SHIPPED)
    data["reduction"][1]["value"] = "half"
    with pytest.raises(FileError, match=r"rates\.toml: reduction\[gd-9-month\]\.value"):
        rate_table_from_data(data, "rates.toml")
    data = read_data(SHIPPED)
    data["rate"][0]["employer_share"] = "0.01"
    with pytest.raises(FileError, match=r"rate\.0\.employer_share: 未知的项"):
        rate_table_from_data(data, "rates.toml")
