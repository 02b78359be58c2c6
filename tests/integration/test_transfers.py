"""转移接续 on both databases, each side on its own and both on one node: the region left ends the
insurance and moves the whole personal account to ``transfer:<new region>``; the new region counts the
months (a month paid in both once, an interruption recorded) and credits the account from
``transfer:<region left>``; each side once per transfer id; the ledger check proves the postings against
the transfer records and finds one edited by hand. (Between real nodes: tests/e2e/test_transfers.py.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from sqlalchemy import select, text

from tests.flows import RETIREE, WORKER, ledger_problems
from tests.helpers import local_today
from yibao.app import clearing
from yibao.app import transfers as tr
from yibao.app.cross_region import plain
from yibao.app.errors import Refused
from yibao.app.ports import Store
from yibao.app.records import Context, PersonRecord
from yibao.domain.codes import PsnInsuStas
from yibao.domain.ledger import Code
from yibao.domain.money import fen_to_yuan
from yibao.store import tables
from yibao.store.database import Database

T = TypeVar("T")
CLERK = "clerk-wang"
NEWCOMER = "31011800000000019999"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def run(db: Database, use: Callable[[Store], T]) -> T:
    with db.transaction() as store:
        return use(store)


def move(transfer_id: str, psn_no: str, from_admdvs: str, to_admdvs: str, day: date | None = None) -> tr.TransferIn:
    return tr.TransferIn(transfer_id, psn_no, from_admdvs, to_admdvs, day or local_today(), emp_name="新单位")


def balance(db: Database, code: str) -> int:
    """credits − debits."""
    a = tables.ledger_account.c
    with db.engine.connect() as conn:
        row = conn.execute(select(a.debits_posted, a.credits_posted).where(a.code == code)).first()
    return 0 if row is None else int(row[1]) - int(row[0])


def postings(db: Database) -> list[str]:
    x = tables.ledger_transfer.c
    with db.engine.connect() as conn:
        q = select(x.posting_id).where(x.code == Code.TRANSFER).order_by(x.id)
        return list(conn.execute(q).scalars())


def test_both_regions_on_one_node_there_and_back(db: Database) -> None:
    account = balance(db, f"acct:{WORKER}")
    there = run(db, lambda s: tr.transfer_local(s, move("T-1", WORKER, "440100", "440200"), CLERK, now()))
    assert (there.role, there.months, there.months_after, there.amount) == ("in", 150, 150, account)
    insurance = run(db, lambda s: s.insurance(WORKER, "310"))
    assert insurance is not None
    assert (insurance.insuplc_admdvs, insurance.psn_insu_stas, insurance.contrib_months) == ("440200", "1", 150)
    assert (insurance.psn_insu_date, insurance.emp_name) == (local_today(), "新单位")
    assert balance(db, "transfer:440200") == account and balance(db, "transfer:440100") == -account
    assert balance(db, f"acct:{WORKER}") == account  # out and in on one node: the same account
    again = run(db, lambda s: tr.transfer_local(s, move("T-1", WORKER, "440100", "440200"), CLERK, now()))
    assert again == there and postings(db) == ["transfer:T-1:out", "transfer:T-1:in"]
    with pytest.raises(Refused) as reused:
        run(db, lambda s: tr.transfer_local(s, move("T-1", WORKER, "440100", "440300"), CLERK, now()))
    assert reused.value.field == "transfer_id"

    back = run(db, lambda s: tr.transfer_local(s, move("T-2", WORKER, "440200", "440100"), CLERK, now()))
    assert (back.months_after, back.amount) == (150, account)  # not a month more, not a fen less
    assert balance(db, "transfer:440200") == balance(db, "transfer:440100") == 0
    sides = run(db, lambda s: tr.transfers_of(s, WORKER))
    assert sorted((x.transfer_id, x.role) for x in sides) == [("T-1", "in"), ("T-1", "out"), ("T-2", "in"),
                                                              ("T-2", "out")]  # fmt: skip
    assert ledger_problems(db) == []

    # a transfer record edited by hand: the ledger check finds it
    run(db, lambda s: tr.transfer_local(s, move("T-14", WORKER, "440100", "440200"), CLERK, now()))
    with db.engine.begin() as conn:
        conn.execute(
            text("UPDATE insurance_transfer SET amount = amount - 1 WHERE transfer_id = 'T-14' AND role = 'in'")
        )
    problems = " ".join(ledger_problems(db))
    assert f"acct:{WORKER}: 转移接续记账净额" in problems and "transfer:440100: 转移接续记账净额" in problems, problems


def test_the_region_left_ends_the_insurance_and_an_application_moves_one(db: Database) -> None:
    account = balance(db, f"acct:{RETIREE}")
    payload = tr.out_payload(move("T-3", RETIREE, "440100", "310118"), CLERK)
    answer = run(db, lambda s: tr.transfer_out(s, payload, now()))
    sent = answer["transfer"]
    assert (sent["role"], sent["months"], sent["amount"], sent["last_month"]) == (
        "out",
        360,
        account,
        local_today().isoformat(),
    )
    assert answer["person"]["psn_no"] == RETIREE and answer["insurance"]["contrib_months"] == 360
    insurance = run(db, lambda s: s.insurance(RETIREE, "310"))
    assert insurance is not None
    assert (insurance.psn_insu_stas, insurance.paus_insu_date) == (PsnInsuStas.TERMINATED, local_today())
    assert balance(db, f"acct:{RETIREE}") == 0 and balance(db, "transfer:310118") == account
    assert run(db, lambda s: tr.transfer_out(s, payload, now()))["transfer"] == sent  # asked again: answered again
    assert postings(db) == ["transfer:T-3:out"]
    refusals = [
        ({**payload, "transfer_id": "T-4"}, "psn_no"),  # no longer insured here
        ({**payload, "transfer_id": "T-5", "psn_no": "44010099999999999999"}, "psn_no"),
        ({**payload, "transfer_id": "T-6", "psn_no": WORKER, "from_admdvs": "440200"}, "from_admdvs"),
        ({**payload, "transfer_id": "T-7", "psn_no": WORKER, "transfer_date": "2000-01-01"}, "transfer_date"),
        ({**payload, "transfer_id": "T-8", "transfer_date": "yesterday"}, "payload"),
    ]
    for bad, field in refusals:
        with pytest.raises(Refused) as refused:
            run(db, lambda s, p=bad: tr.transfer_out(s, p, now()))  # type: ignore[misc]
        assert refused.value.field == field, (bad, refused.value)
    assert ledger_problems(db) == []

    # an application of the services, approved: both regions on this node
    form = {"insutype": "310", "from_admdvs": "440100", "to_admdvs": "440300"}
    application = SimpleNamespace(application_id="FW-9", psn_no=WORKER, form=form, updated_by=CLERK)
    result = run(db, lambda s: tr.effect(s, application, now()))
    assert (result["transfer_id"], result["months_carried"], result["months_after"]) == ("FW-9", "150", "150")
    assert result["account_moved"] == "5000.00"
    same = SimpleNamespace(application_id="FW-10", psn_no=WORKER, form={**form, "from_admdvs": "440300"},
                           updated_by=CLERK)  # fmt: skip
    with pytest.raises(Refused) as refused:
        run(db, lambda s: tr.effect(s, same, now()))
    assert refused.value.field == "form.to_admdvs"


def answer_from(psn_no: str, months: int, first: date, last: date, amount: int, transfer_id: str) -> dict[str, Any]:
    """What the node of Qingpu (310118) answers for one of its insured moving to Guangzhou."""
    sent = tr.InsuranceTransfer(transfer_id, "out", psn_no, "310", "310118", "440100", local_today(), first, last,
                                months, 0, 0, 0, 0, amount, "", "qp-clerk", now())  # fmt: skip
    person = PersonRecord(psn_no, "01", "310229199001010011", "新来者", "1", date(1990, 1, 1), "01")
    insurance = {"psn_no": psn_no, "insutype": "310", "psn_type": "1101", "psn_insu_stas": "4",
                 "insuplc_admdvs": "310118", "psn_insu_date": first.isoformat(), "paus_insu_date": last.isoformat(),
                 "cvlserv_flag": False, "emp_name": "青浦某公司", "contrib_months": months}  # fmt: skip
    return {"transfer": plain(sent), "person": plain(person), "identities": [], "insurance": insurance}


def test_the_new_region_keeps_the_person_counts_the_months_and_credits_the_account(db: Database) -> None:
    cmd = move("T-9", NEWCOMER, "310118", "440100")
    answer = answer_from(NEWCOMER, 60, date(2021, 1, 1), local_today(), 12345, "T-9")
    got = run(db, lambda s: tr.receive(s, cmd, answer, CLERK, now()))
    assert (got.role, got.months_before, got.months_after, got.gap, got.amount) == ("in", 0, 60, 0, 12345)
    person, insurance = run(db, lambda s: (s.person(NEWCOMER), s.insurance(NEWCOMER, "310")))
    assert person is not None and person.psn_name == "新来者"
    assert insurance is not None and (insurance.insuplc_admdvs, insurance.contrib_months) == ("440100", 60)
    assert balance(db, f"acct:{NEWCOMER}") == 12345 and balance(db, "transfer:310118") == -12345
    assert run(db, lambda s: tr.receive(s, cmd, answer, CLERK, now())) == got
    assert postings(db) == ["transfer:T-9:in"]
    with pytest.raises(Refused) as mismatch:
        run(db, lambda s: tr.receive(s, move("T-10", WORKER, "310118", "440100"), answer, CLERK, now()))
    assert mismatch.value.field == "answer"

    # insured here already (since 2011-08, 150 months): 24 months of 2009-09 … 2011-08 carried in, the
    # month 2011-08 paid in both regions counted once
    twice = answer_from(WORKER, 24, date(2009, 9, 1), date(2011, 8, 1), 0, "T-11")
    both = run(db, lambda s: tr.receive(s, move("T-11", WORKER, "310118", "440100"), twice, CLERK, now()))
    assert (both.months_before, both.overlap, both.months_after, both.gap) == (150, 1, 173, 0)
    assert "只计一次" in both.note and postings(db) == ["transfer:T-9:in"]  # an empty account moves nothing
    # insured here since 1993-07: 12 months of 1992 carried in, with a gap of six months (1993-01 … 06),
    # an interruption; the months still count
    gap = answer_from(RETIREE, 12, date(1992, 1, 1), date(1992, 12, 1), 0, "T-12")
    broken = run(db, lambda s: tr.receive(s, move("T-12", RETIREE, "310118", "440100"), gap, CLERK, now()))
    assert (broken.gap, broken.interrupted, broken.months_after) == (6, True, 372) and "中断" in broken.note
    assert ledger_problems(db) == []


def paid_month(db: Database, emp_no: str, admdvs: str, month: str, psn_no: str) -> None:
    """A month an employer of ``admdvs`` declared and paid for the person (the contribution records)."""
    day = date.fromisoformat(f"{month}-15")
    with db.engine.begin() as conn:
        if conn.execute(select(tables.employer.c.emp_no).where(tables.employer.c.emp_no == emp_no)).first() is None:
            conn.execute(tables.employer.insert().values(emp_no=emp_no, emp_name=emp_no, admdvs=admdvs,
                                                         created_at=now()))  # fmt: skip
        conn.execute(tables.contribution_bill.insert().values(
            emp_no=emp_no, month=month, insutype="310", admdvs=admdvs, headcount=1, employer_rate="0.055",
            employee_rate="0.02", due_date=day, paid_on=day, months_counted=True, declared_at=now(),
        ))  # fmt: skip
        conn.execute(tables.contribution_line.insert().values(emp_no=emp_no, month=month, insutype="310",
                                                              psn_no=psn_no))  # fmt: skip


def test_the_months_recorded_month_by_month_are_carried_and_overlap_exactly(db: Database) -> None:
    """Months both regions record month by month overlap where they are common, not where spans meet: the
    worker's three months of 2011 in Qingpu (January to March, span to December) against Guangzhou's
    August (his first month here) overlap in none."""
    paid_month(db, "E-GZ", "440100", "2011-08", WORKER)
    came = answer_from(WORKER, 3, date(2011, 1, 1), date(2011, 12, 1), 0, "T-15")
    came["transfer"]["paid_months"] = ["2011-01", "2011-02", "2011-03"]
    got = run(db, lambda s: tr.receive(s, move("T-15", WORKER, "310118", "440100"), came, CLERK, now()))
    assert (got.overlap, got.months_after, got.paid_months) == (0, 153, ("2011-01", "2011-02", "2011-03"))
    # moving on, both the months paid here and those carried in go along
    paid_month(db, "E-OTHER", "440300", "2012-01", WORKER)  # another region's employer: not this region's record
    sent = run(db, lambda s: tr.transfer_out(s, tr.out_payload(move("T-16", WORKER, "440100", "320509"), CLERK), now()))
    assert list(sent["transfer"]["paid_months"]) == ["2011-01", "2011-02", "2011-03", "2011-08"]
    assert sent["transfer"]["months"] == 153


def test_the_clearing_carries_a_transfer_once_and_empties_the_transfer_accounts(db: Database) -> None:
    """The hub's clearing calls on a node that serves both regions (the hub played here): the detail lists the
    account received and not yet carried, the region left's side confirms it (a wrong amount or an unknown
    transfer is disputed), the post closes both ``transfer:`` accounts into the run's net — zero, both
    regions being this node's — once, and a carried transfer comes no more. (Between nodes, with the hub's
    netting: tests/e2e/test_transfers.py.)"""
    account = balance(db, f"acct:{WORKER}")
    run(db, lambda s: tr.transfer_local(s, move("T-20", WORKER, "440100", "440200"), CLERK, now()))
    ctx = Context("", "hub", "", now(), local_today())
    month = {"month": f"{local_today():%Y-%m}"}
    lines = run(db, lambda s: clearing.detail(s, month))["transfers"]
    assert [(x["transfer_id"], x["from_admdvs"], x["to_admdvs"], x["amount"]) for x in lines] == [
        ("T-20", "440100", "440200", str(fen_to_yuan(account)))]  # fmt: skip
    asked = [*lines, {**lines[0], "transfer_id": "T-none"}, {**lines[0], "amount": "0.01"}]
    said = run(db, lambda s: clearing.confirm(s, ctx, {"lines": [], "transfers": asked}))["transfers"]
    gone = "转出地无此转移（或已清算）"
    assert [(x["status"], x["reason"]) for x in said] == [("confirmed", ""), ("disputed", gone), ("disputed", gone)]
    wrong = run(db, lambda s: clearing.confirm(s, ctx, {"lines": [], "transfers": asked[2:]}))["transfers"]
    assert wrong[0]["reason"] == "人员、地区或金额与转出地不符"
    post = {"run_id": "CLR-T1", "transfers_in": ["T-20"], "transfers_out": ["T-20"], "net": "0"}
    with pytest.raises(Refused) as refused:
        run(db, lambda s: clearing.post(s, ctx, {**post, "transfers_in": ["T-20", "T-21"]}))
    assert refused.value.field == "transfers_in"
    posted = run(db, lambda s: clearing.post(s, ctx, post))
    assert (posted["already_posted"], posted["transfers_cleared"], posted["transfers"]) == (False, 2, 2)
    assert balance(db, "transfer:440100") == balance(db, "transfer:440200") == balance(db, "clearing:hub") == 0
    assert run(db, lambda s: clearing.post(s, ctx, post))["already_posted"] is True
    assert run(db, lambda s: clearing.detail(s, month))["transfers"] == []
    assert ledger_problems(db) == []
