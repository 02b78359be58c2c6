"""零星报销 on both databases: a bill the person paid in full, settled by the calculator exactly as the
counter would have settled it, counted in the year's counters (a later settlement meets the ceiling it
used), paid to the person's bank account in the ledger, made once per request, reversible once; bad
input refused naming the field; the ledger check finds a claim edited by hand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, text

from tests.flows import AMOXICILLIN, RETIREE, STATIN, SUSPENDED, WORKER, ledger_problems, line, register, settle_data
from tests.helpers import local_today
from yibao.app import manual_claims as mc
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store
from yibao.domain.claim import Amounts
from yibao.domain.errors import DomainError
from yibao.domain.ledger import Code
from yibao.domain.money import fen_to_yuan
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.database import Database

T = TypeVar("T")
HOSPITAL = "H44010600001"
CLERK = "clerk-li"
COMPARED = ("medfee_sumamt", "fulamt_ownpay_amt", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay",
            "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "balc")  # fmt: skip


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def run(db: Database, use: Callable[[Store], T]) -> T:
    with db.transaction() as store:
        return use(store)


def bill(request_id: str, psn_no: str = RETIREE, **kw: Any) -> mc.ManualClaimIn:
    today = local_today()
    values: dict[str, Any] = {
        "request_id": request_id, "psn_no": psn_no, "insutype": "310", "med_type": "11", "begndate": today,
        "enddate": today, "mdtrtarea_admvs": "440100", "fixmedins_code": HOSPITAL, "acct_used_flag": True,
        "lines": (mc.BillLine(AMOXICILLIN, Decimal(10), Decimal("0.52")), mc.BillLine(STATIN, Decimal(2), Decimal(30))),
    }  # fmt: skip
    return mc.ManualClaimIn(**{**values, **kw})


def settle(db: Database, cmd: mc.ManualClaimIn) -> mc.ManualClaimResult:
    return run(db, lambda s: mc.settle_claim(s, cmd, CLERK, now()))


def balance(db: Database, code: str) -> int:
    """credits − debits."""
    a = tables.ledger_account.c
    with db.engine.connect() as conn:
        row = conn.execute(select(a.debits_posted, a.credits_posted).where(a.code == code)).first()
    return 0 if row is None else int(row[1]) - int(row[0])


def yuan(fen: int) -> str:
    return str(fen_to_yuan(fen))


def test_a_bill_is_settled_as_the_counter_would_and_paid_to_the_person(db: Database, hospital: HisClient) -> None:
    fund, bank, acct = "fund:440100:310100", f"bank:{RETIREE}", f"acct:{RETIREE}"
    before = (balance(db, fund), balance(db, acct))
    claim = settle(db, bill("APP-1")).claim
    assert claim.fixmedins_name and claim.hosp_lv == 3 and claim.flags == "manual_claim"
    assert claim.amounts["medfee_sumamt"] == 520 + 6000 and claim.paid > 0
    paid_by_funds = claim.amounts["fund_pay_sumamt"]
    assert balance(db, bank) == claim.paid  # paid to the person: the funds and the account → bank
    assert balance(db, fund) == before[0] - paid_by_funds
    assert balance(db, acct) == before[1] - claim.amounts["acct_pay"]
    assert ledger_problems(db) == []
    run(db, lambda s: mc.reverse_claim(s, claim.claim_id, CLERK, now(), "重复报销"))
    assert (balance(db, fund), balance(db, acct), balance(db, bank)) == (*before, 0)

    # the same lines settled at the counter, over the same counters and balance: the same amounts
    mdtrt_id = register(hospital, RETIREE)
    hospital.call("2204", {"feedetail": [line("1", mdtrt_id, RETIREE, AMOXICILLIN, "10", "0.52"),
                                         line("2", mdtrt_id, RETIREE, STATIN, "2", "30")]})  # fmt: skip
    counter = hospital.call("2207", settle_data(RETIREE, mdtrt_id, "65.20"))["setlinfo"]
    assert {n: str(counter[n]) for n in COMPARED} == {n: yuan(claim.amounts[n]) for n in COMPARED}
    assert ledger_problems(db) == []


def test_a_claim_counts_toward_the_ceiling_and_its_reversal_gives_it_back(db: Database, hospital: HisClient) -> None:
    """Guangzhou's outpatient pool pays 45% up to 3,600 a year: a 10,000 bill reimbursed by hand uses the
    whole ceiling, so the counter's next outpatient settlement gets nothing from the pool until the
    claim is reversed."""
    big = bill("APP-2", WORKER, lines=(), amounts=Amounts(medfee_sumamt=Decimal(10000)), acct_used_flag=False)
    claim = settle(db, big).claim
    assert (claim.amounts["hifp_pay"], claim.amounts["acct_pay"], claim.paid) == (360000, 0, 360000)

    def outpatient_pool(serial: str) -> str:
        mdtrt_id = register(hospital, WORKER, f"MZ{serial}")
        hospital.call("2204", {"feedetail": [line(serial, mdtrt_id, WORKER, AMOXICILLIN, "100", "1")]})
        return str(hospital.call("2207", settle_data(WORKER, mdtrt_id, "100.00"))["setlinfo"]["hifp_pay"])

    assert outpatient_pool("1") == "0.00"
    run(db, lambda s: mc.reverse_claim(s, claim.claim_id, CLERK, now()))
    assert outpatient_pool("2") == "45.00"
    year = f"{local_today():%Y}"
    totals = {k: v for _, _, k, v in run(db, lambda s: s.counter_totals(WORKER, year))}
    assert totals["outpatient_year"] == 4500  # the claim's 3,600 given back; the settlements paid 0, then 45
    assert ledger_problems(db) == []


def test_one_request_one_claim_one_reversal_and_the_ledger_check(db: Database) -> None:
    first = settle(db, bill("APP-3"))
    again = settle(db, bill("APP-3"))
    assert again.replayed and again.claim.claim_id == first.claim.claim_id
    x = tables.ledger_transfer.c
    with db.engine.connect() as conn:
        postings = conn.execute(select(x.posting_id).where(x.code == Code.MANUAL_CLAIM).distinct()).scalars().all()
    assert postings == [first.claim.claim_id]
    with pytest.raises(Refused) as other:
        settle(db, bill("APP-3", med_type="13"))
    assert other.value.field == "request_id"
    reversal = run(db, lambda s: mc.reverse_claim(s, first.claim.claim_id, CLERK, now()))
    assert reversal.claim.revs_claim_id == first.claim.claim_id
    assert reversal.claim.amounts["fund_pay_sumamt"] == -first.claim.amounts["fund_pay_sumamt"]
    for target in (first.claim.claim_id, reversal.claim.claim_id):
        with pytest.raises(Refused) as twice:
            run(db, lambda s, c=target: mc.reverse_claim(s, c, CLERK, now()))  # type: ignore[misc]
        assert twice.value.field == "claim_id"
    listed = run(db, lambda s: mc.claims_of(s, RETIREE))
    assert {c.claim_id for c in listed} == {first.claim.claim_id, reversal.claim.claim_id}
    assert ledger_problems(db) == []

    claim = settle(db, bill("APP-7")).claim  # then edited by hand: the ledger check finds it
    with db.engine.begin() as conn:
        conn.execute(
            text(f"UPDATE manual_claim_fund SET fund_payamt = fund_payamt + 1 WHERE claim_id = '{claim.claim_id}'")
        )
    problems = ledger_problems(db)
    assert "fund:440100:310100: 零星报销记账净额" in " ".join(problems), problems


def test_care_abroad_or_unfiled_elsewhere_and_an_application_form(db: Database) -> None:
    abroad = settle(db, bill("APP-4", mdtrtarea_admvs="", fixmedins_code="", fixmedins_name="Tokyo Clinic"))
    assert abroad.claim.flags == "manual_claim abroad" and abroad.claim.catalog.startswith("440100")
    assert "境外或未知地区" in abroad.claim.setl_proc_info
    elsewhere = settle(db, bill("APP-5", mdtrtarea_admvs="310118", fixmedins_code="", hosp_lv=3,
                                lines=(), amounts=Amounts(medfee_sumamt=Decimal(100))))  # fmt: skip
    assert elsewhere.claim.flags == "manual_claim cross_region cross_region_unfiled"
    home = settle(db, bill("APP-6", lines=(), amounts=Amounts(medfee_sumamt=Decimal(100))))
    # 20 points less for care elsewhere without a filing (45% → 25%)
    assert (home.claim.amounts["hifp_pay"], elsewhere.claim.amounts["hifp_pay"]) == (4500, 2500)
    # a stay abroad: the level-3 deductible of an admission (1,000), then 80% of the rest
    stay = settle(db, bill("APP-8", WORKER, med_type="21", begndate=local_today() - timedelta(days=10),
                           enddate=local_today() - timedelta(days=3), mdtrtarea_admvs="", fixmedins_code="", hosp_lv=3,
                           lines=(), amounts=Amounts(medfee_sumamt=Decimal(20000))))  # fmt: skip
    assert (stay.claim.kind, stay.claim.amounts["act_pay_dedc"], stay.claim.amounts["hifp_pay"]) == (
        "inpatient", 100_000, 1_520_000)  # fmt: skip
    assert ledger_problems(db) == []

    # an application of the services, settled from its form when approved
    today = local_today().isoformat()
    # no place given: the hospital's region
    form = {"insutype": "310", "med_type": "11", "fixmedins_code": HOSPITAL, "begndate": today,
            "medfee_sumamt": "200.00", "invoice_no": "No.1"}  # fmt: skip
    application = SimpleNamespace(application_id="FW-1", psn_no=WORKER, form=form, updated_by=CLERK)
    result = run(db, lambda s: mc.effect(s, application, now()))
    assert result["medfee_sumamt"] == "200.00" and result["paid_to_person"] == "90.00"  # 45% of 200, as at home
    claim = run(db, lambda s: mc.claim_result(s, result["claim_id"])).claim
    assert (claim.mdtrtarea_admvs, claim.flags, claim.request_id) == ("440100", "manual_claim", "FW-1")
    bad = SimpleNamespace(application_id="FW-2", psn_no=WORKER, form={**form, "begndate": "2026-13-01"},
                          updated_by=CLERK)  # fmt: skip
    with pytest.raises(Refused) as refused:
        run(db, lambda s: mc.effect(s, bad, now()))
    assert refused.value.field == "form.begndate"
    with pytest.raises(NotFound):
        run(db, lambda s: mc.claim_result(s, "nope"))


BAD: list[tuple[dict[str, Any], str]] = [
    ({"psn_no": "44010099999999999999"}, "psn_no"),
    ({"insutype": "390"}, "insutype"),
    ({"med_type": "99"}, "med_type"),
    ({"begndate": local_today() + timedelta(days=1)}, "enddate"),
    ({"enddate": local_today() + timedelta(days=1)}, "enddate"),
    ({"mdtrtarea_admvs": "4401"}, "mdtrtarea_admvs"),
    ({"amounts": Amounts(medfee_sumamt=Decimal(1))}, "amounts"),
    ({"lines": ()}, "lines"),
    ({"lines": (mc.BillLine(AMOXICILLIN, Decimal(0), Decimal(1)),)}, "lines[0].cnt"),
    ({"lines": (mc.BillLine(AMOXICILLIN, Decimal(1), Decimal(1)), mc.BillLine("", Decimal(1), Decimal(1)))},
     "lines[1].med_list_codg"),
    ({"psn_no": SUSPENDED}, "psn_no"),  # suspended since 2025-12-31
]  # fmt: skip


def test_bad_input_is_refused_naming_the_field(db: Database) -> None:
    for change, field in BAD:
        with pytest.raises(DomainError) as refused:
            settle(db, bill("APP-BAD", **change))
        assert refused.value.field == field, (change, refused.value)
    with db.engine.connect() as conn:
        assert conn.execute(select(tables.manual_claim.c.claim_id)).first() is None
