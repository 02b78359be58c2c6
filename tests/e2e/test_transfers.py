"""转移接续 between real processes (a hub and three nodes): Qingpu's 陆海峰 moves to Wujiang (applied for
in Wujiang: its node asks Qingpu's through the hub), is treated there and pays part from the account he
brought, then moves on to Guangzhou (applied for in Wujiang again, where he leaves: Guangzhou's node
receives through the hub). Every month is counted where he ends up, every fen of the account is where
the ledgers say, each region's transfer account mirrors the other's, retries change nothing, and
`yibao ledger check` passes on every node.

The use cases run in this process as the applying node's application server would (its database, its
federation key); the other side is the real node process behind the real hub."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.e2e.test_cross_region import LU, QINGPU, his, ledger_check, rows, visit_by
from tests.flows import AMOXICILLIN, BLOOD_TEST
from tests.helpers import local_today
from tests.regions import federation
from yibao.app import transfers
from yibao.app.errors import Refused
from yibao.app.records import InsuranceRecord
from yibao.domain.ledger import Code
from yibao.federation.client import HubFederation
from yibao.federation.launch import RegionNode
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine

MONTHS, ACCOUNT = 160, 260_000  # 陆海峰 in Qingpu's registry: 160 months, 2,600.00 yuan


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RegionNode]]:
    with federation(tmp_path_factory.mktemp("transfer-regions")) as running:
        yield running


@contextmanager
def applying_at(node: RegionNode) -> Iterator[tuple[Database, HubFederation]]:
    """The node's database and its way to the hub, as its own application server has them."""
    env = node.env or {}
    secret = bytes.fromhex(Path(env["YIBAO_NODE_KEY_FILE"]).read_text().strip())
    db = Database(make_engine(node.url))
    try:
        yield db, HubFederation(node.node_id, (node.admdvs,), env["YIBAO_HUB_URL"], secret)
    finally:
        db.dispose()


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def state(node: RegionNode) -> tuple[InsuranceRecord | None, dict[str, int], list[str]]:
    """The person's insurance there, the balances (credits − debits) of the accounts transfers touch, and
    the transfer postings."""
    db = Database(make_engine(node.url))
    try:
        with db.transaction(write=False) as store:
            insurance = store.insurance(LU, "310")
        a, x = t.ledger_account.c, t.ledger_transfer.c
        with db.engine.connect() as conn:
            found = conn.execute(
                select(a.code, a.credits_posted - a.debits_posted).where(
                    (a.code == f"acct:{LU}") | a.code.like("transfer:%")
                )
            )
            balances = {code: int(value) for code, value in found}
            posted = conn.execute(select(x.posting_id).where(x.code == Code.TRANSFER).order_by(x.id))
            return insurance, balances, list(posted.scalars())
    finally:
        db.dispose()


def test_a_person_who_moves_twice_keeps_every_month_and_every_fen(nodes: dict[str, RegionNode]) -> None:
    qp, wj, gz = nodes["qp"], nodes["wj"], nodes["gz"]
    today = local_today()
    first = transfers.TransferIn("T-QP-WJ", LU, "310118", "320509", today, emp_name="吴江某电子厂")
    with applying_at(wj) as (db, fed):
        arrived = transfers.transfer_in(db, fed, first, "wj-clerk", now())
        assert (arrived.role, arrived.months, arrived.months_after, arrived.amount) == ("in", MONTHS, MONTHS, ACCOUNT)
        assert transfers.transfer_in(db, fed, first, "wj-clerk", now()) == arrived  # a retry: the same, nothing more
        with pytest.raises(Refused) as gone:  # Qingpu no longer insures him: its node says so, through the hub
            transfers.transfer_in(db, fed, transfers.TransferIn("T-QP-WJ-2", LU, "310118", "320509", today),
                                  "wj-clerk", now())  # fmt: skip
        assert gone.value.field == "psn_no" and "终止" in gone.value.reason

    # treated in Wujiang as one of its own insured now, partly paid from the account brought along
    mdtrt_id, setl = visit_by(his(wj, "H32050900001"), LU, QINGPU[LU]["certno"], "320509",
                              (AMOXICILLIN, "2", "12.50"), (BLOOD_TEST, "1", "30"))  # fmt: skip
    assert [(r.cross_region, r.mdtrt_id) for r in rows(wj, LU)] == [("", mdtrt_id)]
    spent = int(Decimal(str(setl["acct_pay"])) * 100)
    assert 0 < spent < ACCOUNT

    second = transfers.TransferIn("T-WJ-GZ", LU, "320509", "440100", today, emp_name="广州某公司")
    with applying_at(wj) as (db, fed):
        moved = transfers.transfer_away(db, fed, second, "wj-clerk", now())
        assert transfers.transfer_away(db, fed, second, "wj-clerk", now()) == moved
    assert (moved.role, moved.months, moved.months_after, moved.amount) == ("in", MONTHS, MONTHS, ACCOUNT - spent)

    (qp_ins, qp_bal, qp_posted), (wj_ins, wj_bal, wj_posted), (gz_ins, gz_bal, gz_posted) = map(state, (qp, wj, gz))
    assert qp_ins is not None and wj_ins is not None and gz_ins is not None
    assert [(i.insuplc_admdvs, i.psn_insu_stas, i.paus_insu_date) for i in (qp_ins, wj_ins)] == [
        ("310118", "4", today), ("320509", "4", today)]  # fmt: skip
    assert (gz_ins.insuplc_admdvs, gz_ins.psn_insu_stas, gz_ins.contrib_months, gz_ins.emp_name) == (
        "440100", "1", MONTHS, "广州某公司")  # fmt: skip
    # every fen: nothing left behind, all of what remained arrived, and each transfer account mirrors the other's
    assert (qp_bal[f"acct:{LU}"], wj_bal[f"acct:{LU}"], gz_bal[f"acct:{LU}"]) == (0, 0, ACCOUNT - spent)
    assert qp_bal["transfer:320509"] == -wj_bal["transfer:310118"] == ACCOUNT
    assert wj_bal["transfer:440100"] == -gz_bal["transfer:320509"] == ACCOUNT - spent
    assert (qp_posted, wj_posted, gz_posted) == (
        ["transfer:T-QP-WJ:out"], ["transfer:T-QP-WJ:in", "transfer:T-WJ-GZ:out"], ["transfer:T-WJ-GZ:in"])  # fmt: skip
    for node in (qp, wj, gz):
        assert ledger_check(node) == [], node.node_id
