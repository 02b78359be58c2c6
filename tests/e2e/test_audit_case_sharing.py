"""A joint audit case shared across regions between real processes (a hub and three nodes): Wujiang's
auditor opens a case over a finding on a Qingpu-insured patient's care at a Wujiang hospital; the hub
carries it (op ``audit_case``, person numbers masked) to Qingpu's node, where Qingpu's auditor sees it
read-only; each later step refreshes it there; the recovery is posted at Wujiang against the clearing
account of Qingpu, and both ledgers check."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import select

from tests.accounts import PASSWORD, add_user_at
from tests.e2e.test_cross_region import LU, QINGPU, his, ledger_check, visit_by
from tests.flows import AMOXICILLIN, BLOOD_TEST
from tests.regions import federation
from yibao.app.privacy import mask_certno
from yibao.app.records import StoredFinding
from yibao.domain.ledger import Code
from yibao.federation.launch import RegionNode
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine

HOSPITAL = "H32050900001"


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RegionNode]]:
    with federation(tmp_path_factory.mktemp("audit-regions")) as running:
        yield running


def add_finding(node: RegionNode, mdtrt_id: str, setl_id: str) -> int:
    db = Database(make_engine(node.url))
    try:
        with db.transaction() as store:
            store.add_findings([StoredFinding(
                "after", "XR-1", "GZ-YP-009", "2026.1", "definite", mdtrt_id, "1", AMOXICILLIN, setl_id, HOSPITAL,
                LU, "310118", "320509", 2500, "阿莫西林单次就诊超量", datetime.now(UTC).replace(tzinfo=None),
            )])  # fmt: skip
        with db.engine.connect() as conn:
            f = t.supervision_finding.c  # (the settlement's own check may have stored findings of its own)
            return int(conn.execute(select(f.id).where(f.run_id == "XR-1")).scalar_one())
    finally:
        db.dispose()


@contextmanager
def console(node: RegionNode, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=node.base, timeout=30) as client:
        login = {"username": username, "password": PASSWORD, "next": "/console"}
        assert client.post("/console/login", data=login, follow_redirects=False).status_code == 303
        yield client


def test_a_case_is_shared_with_the_insured_region_and_refreshed_at_each_step(nodes: dict[str, RegionNode]) -> None:
    wj, qp = nodes["wj"], nodes["qp"]
    mdtrt_id, setl = visit_by(his(wj, HOSPITAL), LU, QINGPU[LU]["certno"], "310118",
                              (AMOXICILLIN, "2", "12.50"), (BLOOD_TEST, "1", "30"))  # fmt: skip
    finding_id = add_finding(wj, mdtrt_id, str(setl["setl_id"]))
    add_user_at(wj.url, "wj-audit", "auditor", "320509")
    add_user_at(qp.url, "qp-audit", "auditor", "310118")
    with console(wj, "wj-audit") as here, console(qp, "qp-audit") as insured:
        opened = here.post("/console/supervision/cases", data={"finding_id": str(finding_id), "title": "跨省联审"})
        assert opened.status_code == 303, opened.text
        case_path = opened.headers["location"]
        case_id = case_path.rsplit("/", 1)[1]

        board = insured.get("/console/supervision/cases")
        assert f'data-case-id="{case_id}" data-stage="cross_check"' in board.text
        assert re.search(r'data-testid="board-check-count">1<', board.text)
        shown = insured.get(case_path)
        assert shown.status_code == 200 and 'data-testid="case-shared"' in shown.text and "wj/320509" in shown.text
        assert LU not in shown.text and mask_certno(LU) in shown.text  # the person number masked
        assert 'data-testid="review-form"' not in shown.text  # read-only where insured
        refused = insured.post(f"{case_path}/review", data={"finding_id": str(finding_id), "result": "cleared",
                                                            "reviewed_amount": "0"})  # fmt: skip
        assert refused.status_code == 409 and "只读" in refused.text

        for step, data in (("review", {"finding_id": str(finding_id), "result": "confirmed", "reviewed_amount": "25"}),
                           ("confirm", {"recover_amount": "25.00"}), ("recover", {})):  # fmt: skip
            done = here.post(f"{case_path}/{step}", data=data)
            assert done.status_code == 303, (step, done.text)
        assert 'data-stage="recovered"' in insured.get(case_path).text
        history = insured.get(case_path).text
        assert history.count('data-actor="wj-audit"') >= 4  # the steps taken at Wujiang, seen at Qingpu

    engine = make_engine(wj.url)
    try:
        with engine.connect() as conn:
            x = t.ledger_transfer.c
            posted = conn.execute(select(x.debit_account, x.credit_account, x.amount).where(x.code == Code.RECOVERY))
            assert [tuple(r) for r in posted] == [(f"payable:{HOSPITAL}", "clearing:310118", 2500)]
            e = t.audit_case_event.c
            notes = list(conn.execute(select(e.note).where(e.case_id == case_id)).scalars())
            assert any("已共享至参保地 310118" in n for n in notes)
    finally:
        engine.dispose()
    assert ledger_check(wj) == [] and ledger_check(qp) == []
