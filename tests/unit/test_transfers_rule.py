"""The pure rules of 转移接续 (months carried, a month paid in both counted once, a gap of more than three
months an interruption; the account's balance moved whole) and of 零星报销's posting and dates."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from yibao.domain.errors import DomainError
from yibao.domain.ledger import Code, LedgerFacts, Transfer, balances, check_ledger, clearing_posting
from yibao.domain.manual_claims import check_dates, kind_of, manual_claim_posting, manual_claim_reversal
from yibao.domain.transfers import Span, carry, month_index, transfer_in_posting, transfer_out_posting


def test_every_month_left_is_counted_where_the_person_arrives() -> None:
    out = Span(160, date(2013, 7, 1), date(2026, 3, 15))
    moved = carry(out, None, date(2026, 4, 2))
    assert (moved.months_out, moved.months_before, moved.overlap, moved.months_after, moved.gap) == (160, 0, 0, 160, 0)
    assert not moved.interrupted


def test_a_month_paid_in_both_regions_counts_once() -> None:
    out = Span(24, date(2024, 4, 1), date(2026, 3, 1))
    mine = Span(5, date(2026, 3, 1), date(2026, 7, 1))  # March paid in both
    moved = carry(out, mine, date(2026, 7, 20))
    assert (moved.overlap, moved.months_after) == (1, 28)


def test_the_overlap_is_never_more_than_the_smaller_count() -> None:
    out = Span(2, date(2020, 1, 1), date(2026, 1, 1))  # two months somewhere in six years
    mine = Span(3, date(2025, 1, 1), date(2026, 1, 1))
    assert carry(out, mine, date(2026, 1, 1)).overlap == 2


@pytest.mark.parametrize(("last_out", "first_in", "gap", "interrupted"), [
    (date(2026, 1, 1), date(2026, 2, 1), 0, False),
    (date(2026, 1, 1), date(2026, 5, 10), 3, False),
    (date(2026, 1, 1), date(2026, 6, 1), 4, True),
    (date(2025, 12, 31), date(2026, 1, 1), 0, False),
])  # fmt: skip
def test_a_gap_of_more_than_three_months_is_an_interruption_and_the_months_still_count(
    last_out: date, first_in: date, gap: int, interrupted: bool
) -> None:
    moved = carry(Span(30, date(2020, 1, 1), last_out), None, first_in)
    assert (moved.gap, moved.interrupted, moved.months_after) == (gap, interrupted, 30)


def test_a_person_who_moves_twice_keeps_every_month() -> None:
    a_to_b = carry(Span(160, date(2013, 7, 1), date(2026, 1, 1)), None, date(2026, 2, 1))
    b_months = a_to_b.months_after + 8  # eight months paid in B
    b_to_c = carry(Span(b_months, date(2026, 2, 1), date(2026, 9, 1)), None, date(2026, 10, 1))
    assert b_to_c.months_after == 160 + 8


@given(
    out_months=st.integers(0, 600), in_months=st.integers(0, 600), start=st.integers(0, 400),
    length=st.integers(0, 400), in_start=st.integers(0, 400), in_length=st.integers(0, 400),
)  # fmt: skip
def test_no_month_is_lost_or_counted_twice(
    out_months: int, in_months: int, start: int, length: int, in_start: int, in_length: int
) -> None:
    def day(index: int) -> date:
        return date(2000 + index // 12, index % 12 + 1, 1)

    out = Span(out_months, day(start), day(start + length))
    mine = Span(in_months, day(in_start), day(in_start + in_length))
    moved = carry(out, mine, day(in_start))
    assert max(out_months, in_months) <= moved.months_after <= out_months + in_months
    assert moved.months_after == out_months + in_months - moved.overlap
    assert 0 <= moved.overlap <= min(out_months, in_months, length + 1, in_length + 1)


def test_a_span_is_checked() -> None:
    with pytest.raises(DomainError) as negative:
        Span(-1, date(2020, 1, 1), date(2020, 1, 1))
    assert negative.value.field == "months"
    with pytest.raises(DomainError) as backwards:
        Span(1, date(2020, 2, 1), date(2020, 1, 31))
    assert backwards.value.field == "first"
    assert month_index(date(2026, 1, 31)) - month_index(date(2025, 12, 1)) == 1


def test_the_balance_leaves_one_region_and_arrives_whole_in_the_other() -> None:
    out = transfer_out_posting("P1", "320509", 260_001)
    into = transfer_in_posting("P1", "310118", 260_001)
    assert out == [Transfer("acct:P1", "transfer:320509", 260_001, Code.TRANSFER)]
    assert into == [Transfer("transfer:310118", "acct:P1", 260_001, Code.TRANSFER)]
    assert balances(out)["acct:P1"] + balances(into)["acct:P1"] == 0  # what left one account arrived in the other
    assert transfer_out_posting("P1", "320509", 0) == [] == transfer_in_posting("P1", "310118", 0)
    with pytest.raises(DomainError) as negative:
        transfer_out_posting("P1", "320509", -1)
    assert negative.value.field == "amount"


def test_a_manual_claim_pays_the_person_and_its_reversal_takes_it_back() -> None:
    posting = manual_claim_posting("440100", "P1", [("310100", 3_600), ("330100", 0)], 1_234)
    assert posting == [
        Transfer("fund:440100:310100", "bank:P1", 3_600, Code.MANUAL_CLAIM),
        Transfer("acct:P1", "bank:P1", 1_234, Code.MANUAL_CLAIM),
    ]
    back = manual_claim_reversal(posting)
    assert {t.code for t in back} == {Code.MANUAL_CLAIM}
    assert all(v == 0 for v in balances(posting + back).values())


def test_the_kind_of_care_and_the_dates_of_a_bill() -> None:
    assert (kind_of("21"), kind_of("52"), kind_of("13")) == ("inpatient", "inpatient", "outpatient")
    with pytest.raises(DomainError) as unknown:
        kind_of("2")
    assert unknown.value.field == "med_type"
    today = date(2026, 6, 1)
    check_dates(date(2026, 5, 1), date(2026, 5, 20), today)
    for begin, end in ((date(2026, 5, 2), date(2026, 5, 1)), (date(2026, 5, 2), date(2026, 6, 2)),
                       (date(2023, 1, 1), date(2024, 1, 1))):  # fmt: skip
        with pytest.raises(DomainError) as bad:
            check_dates(begin, end, today)
        assert bad.value.field == "enddate"


def test_the_ledger_check_compares_the_postings_with_the_records() -> None:
    posted = {(Code.TRANSFER, "acct:P1"): 100, (Code.TRANSFER, "transfer:320509"): -100}
    facts = LedgerFacts({}, {}, {}, {}, [], recorded_net=posted, expected_recorded=dict(posted))
    assert check_ledger(facts) == []
    short = {**posted, (Code.MANUAL_CLAIM, "bank:P1"): -1}
    problems = check_ledger(LedgerFacts({}, {}, {}, {}, [], recorded_net=short, expected_recorded=posted))
    assert problems == ["bank:P1: 零星报销记账净额 -1 ≠ 零星报销记录 0"]


@given(
    st.dictionaries(st.sampled_from(["310118", "320509", "330421"]), st.integers(-(10**6), 10**6), max_size=3),
    st.dictionaries(st.sampled_from(["310118", "320509", "440100"]), st.integers(-(10**6), 10**6), max_size=3),
)
def test_a_clearing_run_closes_the_transfer_accounts_into_its_one_net_payment(
    closed: dict[str, int], moved: dict[str, int]
) -> None:
    """Settlements (``clearing:<region>``) and accounts moved (``transfer:<region>``: + received from the
    region, − sent to it) leave for ``clearing:hub``; the net of both is received or paid in cash, and
    ``clearing:hub`` ends at zero: the net payment carries the transfers."""
    posting = clearing_posting(closed, 0, moved)
    net = balances(posting)
    assert sum(net.values()) == 0 and net.get("clearing:hub", 0) == 0
    for region, amount in moved.items():
        assert net.get(f"transfer:{region}", 0) == -amount  # a debit balance of ``amount`` is closed by a credit
    assert net.get("cash:clearing", 0) == sum(closed.values()) + sum(moved.values())
    assert all(t.code == Code.CLEARING for t in posting)
