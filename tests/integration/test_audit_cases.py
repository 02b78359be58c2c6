"""Joint audit cases (智能互查 → 现场联审 → 查实 → 追回) on both databases: findings over real settlements
made through the interface, a case carried to a recovery posted in the ledger, the refusals of steps out
of order, the regions that see a case, and the case board's figures as the Yangtze Delta zone reported them
(8,046 cross-checked, 29,457,000.00 yuan; 71 reviewed on site, 1,976,000.00 yuan; 27 confirmed)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.accounts import add_user, sign_in
from tests.flows import AMOXICILLIN, RETIREE, STATIN, WORKER, line, register, settle_data
from tests.integration.test_ledger_check import ledger_check
from yibao.app import audit_cases as cases
from yibao.app.accounts import Principal
from yibao.app.audit import AuditQuery
from yibao.app.errors import NotFound
from yibao.app.ports import Store
from yibao.app.records import StoredFinding
from yibao.domain.errors import DomainError
from yibao.domain.ledger import Code, Transfer
from yibao.domain.supervision.cases import split
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.database import Database

T = TypeVar("T")
HOSPITAL = "H44010600001"
AUDITOR = Principal("console", "shen", "auditor", "440100", "审计员沈")
IP = "127.0.0.9"
FUND = "fund:440100:310100"
PAYABLE = f"payable:{HOSPITAL}"


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def in_store(db: Database, use: Callable[[Store], T]) -> T:
    with db.transaction() as store:
        return use(store)


def do(db: Database, use: Callable[..., T], *args: Any, who: Principal = AUDITOR) -> T:
    """A use case in its own transaction, by ``who``, now."""
    return in_store(db, lambda s: use(s, *args, who, now(), IP))


def finding(n: int, amount: int, *, setl_id: str | None = None, mdtrt_id: str = "", sn: str = "", psn_no: str = "P1",
            insured: str = "440100", code: str = HOSPITAL, rule_id: str = "GZ-YP-001", run_id: str = "RUN-1",
            result: str = "definite") -> StoredFinding:  # fmt: skip
    return StoredFinding(
        stage="after", run_id=run_id, rule_id=rule_id, rule_version="2026.1", result=result,
        mdtrt_id=mdtrt_id or f"M{n:07d}", feedetl_sn=sn or str(n), med_list_codg=AMOXICILLIN, setl_id=setl_id,
        fixmedins_code=code, psn_no=psn_no, insuplc_admdvs=insured, mdtrtarea_admvs="440100", amount=amount,
        message=f"疑点 {n}", created_at=now(),
    )  # fmt: skip


def finding_ids(db: Database, run_id: str) -> list[int]:
    f = tables.supervision_finding.c
    with db.engine.connect() as conn:
        return [int(i) for i in conn.execute(select(f.id).where(f.run_id == run_id).order_by(f.id)).scalars()]


def balance(db: Database, code: str) -> int:
    """credits − debits of a ledger account (what a fund holds back, what is owed to an institution)."""
    a = tables.ledger_account.c
    with db.engine.connect() as conn:
        row = conn.execute(select(a.debits_posted, a.credits_posted).where(a.code == code)).first()
    return 0 if row is None else int(row[1]) - int(row[0])


def settle_visit(hospital: HisClient, psn_no: str, serial: str, code: str, cnt: str, pric: str) -> tuple[str, str]:
    mdtrt_id = register(hospital, psn_no, ipt_otp_no=f"MZ-AC{serial}")
    hospital.call("2204", {"feedetail": [line("1", mdtrt_id, psn_no, code, cnt, pric)]})
    total = f"{float(cnt) * float(pric):.2f}"
    out = hospital.call("2207", settle_data(psn_no, mdtrt_id, total))
    return mdtrt_id, str(out["setlinfo"]["setl_id"])


def refused(field: str, use: Callable[[], Any]) -> str:
    with pytest.raises(DomainError) as caught:
        use()
    assert caught.value.field == field, caught.value
    return caught.value.reason


def test_a_case_from_findings_to_recovery(hospital: HisClient, db: Database) -> None:
    first = settle_visit(hospital, RETIREE, "1", AMOXICILLIN, "40", "0.52")  # 20.80
    second = settle_visit(hospital, WORKER, "2", STATIN, "28", "3.15")  # 88.20
    made = [
        finding(1, 2080, setl_id=first[1], mdtrt_id=first[0], sn="1", psn_no=RETIREE),
        finding(2, 8820, setl_id=second[1], mdtrt_id=second[0], sn="1", psn_no=WORKER, rule_id="GZ-XM-002"),
        finding(3, 500, setl_id=second[1], mdtrt_id=second[0], sn="", psn_no=WORKER, rule_id="GZ-GL-001"),
    ]
    assert in_store(db, lambda s: s.add_findings(made)) == 3
    ids = finding_ids(db, "RUN-1")
    fund_before, payable_before = balance(db, FUND), balance(db, PAYABLE)

    case = do(db, cases.open_case, ids, "阿莫西林超量")
    assert (case.stage, case.check_count, case.check_amount, case.admdvs) == ("cross_check", 3, 11400, "440100")
    assert in_store(db, lambda s: s.findings_by_id(ids))[0].case_id == case.case_id
    refused("finding_ids", lambda: do(db, cases.open_case, ids[:1], ""))

    def review(fid: int, result: str, amount: int) -> cases.AuditCase:
        return do(db, cases.review_item, case.case_id, fid, result, amount, "现场核实")

    review(ids[0], "confirmed", 2080)
    review(ids[1], "confirmed", 5001)
    on_site = review(ids[2], "cleared", 500)
    assert (on_site.stage, on_site.reviewed_amount, on_site.confirmed_amount) == ("on_site", 7581, 7081)
    refused("recover_amount", lambda: do(db, cases.confirm, case.case_id, 7082, ""))
    confirmed = do(db, cases.confirm, case.case_id, 7001, "超量收费")
    assert (confirmed.stage, confirmed.recover_amount) == ("confirmed", 7001)

    recovered = do(db, cases.recover, case.case_id)
    assert (recovered.stage, recovered.recovered_amount) == ("recovered", 7001)
    posting: list[Transfer] = in_store(db, lambda s: s.transfers_of(f"recovery:{case.case_id}"))
    # both settlements are of insutype 310 in 440100: one fund, 2080 : 5001 of 7001 each to the fen
    assert posting == [Transfer(PAYABLE, FUND, 7001, Code.RECOVERY)]
    assert balance(db, FUND) - fund_before == 7001
    assert payable_before - balance(db, PAYABLE) == 7001
    run = ledger_check(db)
    assert run.returncode == 0, run.stdout

    events = in_store(db, lambda s: s.case_events(case.case_id))
    assert [e.stage for e in events] == ["cross_check", "on_site", "on_site", "on_site", "confirmed", "recovered"]
    assert [e.seq for e in events] == list(range(1, 7)) and all(e.actor == "shen" and e.at for e in events)
    assert [e.amount for e in events] == [11400, 2080, 5001, 500, 7001, 7001]
    logged = in_store(db, lambda s: [e.action for e in s.audit_entries(AuditQuery(), 50)])
    assert {"case.open", "case.review", "case.confirm", "case.recover"} <= set(logged)

    # a recovered case moves no further, and the ledger check notices a recovery that disagrees with it
    refused("stage", lambda: do(db, cases.recover, case.case_id))
    refused("stage", lambda: do(db, cases.close, case.case_id, ""))
    with db.engine.begin() as conn:
        c = tables.audit_case.c
        conn.execute(tables.audit_case.update().where(c.case_id == case.case_id).values(recovered_amount=7000))
    tampered = ledger_check(db)
    assert tampered.returncode == 1 and f"DIFF {PAYABLE}: 追回记账净额 7001 ≠ 联审案件追回金额 7000" in tampered.stdout


def test_steps_out_of_order_are_refused_naming_the_field(db: Database) -> None:
    made = [finding(n, 1000 * n, setl_id=None) for n in (1, 2)] + [finding(3, 100, code="H44010600002")]
    in_store(db, lambda s: s.add_findings(made))
    ids = finding_ids(db, "RUN-1")
    reason = refused("finding_ids", lambda: do(db, cases.open_case, ids, ""))
    assert "一家定点机构" in reason
    refused("finding_ids", lambda: do(db, cases.open_case, [], ""))
    with pytest.raises(NotFound):
        do(db, cases.open_case, [999_999], "")
    case = do(db, cases.open_case, ids[:2], "")
    cid = case.case_id

    assert "智能互查" in refused("stage", lambda: do(db, cases.confirm, cid, 1, ""))
    refused("stage", lambda: do(db, cases.recover, cid))
    refused("result", lambda: do(db, cases.review_item, cid, ids[0], "maybe", 1, ""))
    refused("reviewed_amount", lambda: do(db, cases.review_item, cid, ids[0], "confirmed", 1001, ""))
    do(db, cases.review_item, cid, ids[1], "cleared", 2000, "")
    refused("items", lambda: do(db, cases.confirm, cid, 1, ""))
    do(db, cases.review_item, cid, ids[0], "confirmed", 1000, "")
    refused("items", lambda: do(db, cases.close, cid, ""))
    do(db, cases.confirm, cid, 1000, "")
    refused("stage", lambda: do(db, cases.review_item, cid, ids[0], "cleared", 0, ""))
    # a confirmed line without a settlement (a 3101 finding) cannot be paid back
    refused("items.setl_id", lambda: do(db, cases.recover, cid))
    # a cleared case closes; then nothing more
    other = do(db, cases.open_case, ids[2:], "", who=Principal("console", "root", "admin"))
    do(db, cases.close, other.case_id, "无违规")
    refused("stage", lambda: do(db, cases.review_item, other.case_id, ids[2], "cleared", 0, ""))


def test_a_case_is_seen_by_the_bureaus_of_the_institution_and_of_the_insured_only(db: Database) -> None:
    in_store(db, lambda s: s.add_findings([finding(1, 500, insured="440300"), finding(2, 700)]))
    ids = finding_ids(db, "RUN-1")
    case = do(db, cases.open_case, ids, "异地参保")
    shenzhen = Principal("console", "sz", "auditor", "440300")
    foshan = Principal("console", "fs", "auditor", "440600")
    seen = in_store(db, lambda s: cases.case_file(s, case.case_id, shenzhen, now(), IP))
    assert [i.insuplc_admdvs for i in seen.items] == ["440300", "440100"]
    with pytest.raises(NotFound):
        in_store(db, lambda s: cases.case_file(s, case.case_id, foshan, now(), IP))
    assert [c.case_id for c in in_store(db, lambda s: s.audit_cases("4403", 10))] == [case.case_id]
    assert in_store(db, lambda s: s.audit_cases("4406", 10)) == []
    assert in_store(db, lambda s: cases.board(s, "4406")).check_count == 0
    assert in_store(db, lambda s: cases.board(s, "4403")).check_amount == 1200


def test_the_board_shows_the_zone_joint_audit_figures(db: Database, http: TestClient) -> None:
    """8,046 items cross-checked (29,457,000.00 yuan), 71 reviewed on site (1,976,000.00 yuan), 27 confirmed."""
    reviewed_amounts = list(split(197_600_000, [(str(n), 1 + n % 7) for n in range(71)]).values())
    rest = list(split(2_945_700_000 - 197_600_000, [(str(n), 1 + n % 5) for n in range(8046 - 71)]).values())
    assert len(reviewed_amounts) == 71 and len(rest) == 7975
    amounts = reviewed_amounts + rest
    in_store(db, lambda s: s.add_findings([finding(n, a, run_id="ZONE") for n, a in enumerate(amounts)]))
    ids = finding_ids(db, "ZONE")
    opened = [do(db, cases.open_case, part, "")
              for part in (ids[i : i + 1341] for i in range(0, len(ids), 1341))]  # fmt: skip
    assert len(opened) == 6
    for n in range(71):  # the first 71 items, spread over the first case
        result = "confirmed" if n < 27 else "cleared"
        do(db, cases.review_item, opened[0].case_id, ids[n], result, amounts[n], "")

    add_user(db, "shen", "auditor", "440100")
    assert sign_in(http, "shen").status_code == 303
    shown = http.get("/console/supervision/cases")
    assert shown.status_code == 200

    def figure(testid: str) -> str:
        found = re.search(rf'data-testid="{testid}">([^<]*)<', shown.text)
        assert found, testid
        return found.group(1)

    assert figure("board-check-count") == "8,046"
    assert figure("board-check-wan") == "2,945.70"
    assert figure("board-review-count") == "71"
    assert figure("board-review-wan") == "197.60"
    assert figure("board-confirmed-count") == "27"
    assert figure("board-review-cases") == "1"

    # the findings page sums the same findings, by rule and by institution
    page = http.get("/console/supervision", params={"stage": "after"})
    assert page.status_code == 200
    assert 'data-institution="H44010600001" data-result="definite" data-count="8046" data-fen="2945700000"' in page.text


def test_split_is_exact_to_the_fen() -> None:
    assert split(7001, [("a", 2080), ("b", 5001)]) == {"a": 2057, "b": 4944}  # 2056.50… and 4944.49…
    assert split(100, [("a", 1), ("b", 1), ("c", 1)]) == {"a": 34, "b": 33, "c": 33}
    assert sum(split(1_976_000_00, [(str(n), n + 1) for n in range(71)]).values()) == 1_976_000_00
    with pytest.raises(DomainError):
        split(1, [("a", 0)])
