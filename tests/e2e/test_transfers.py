"""转移接续 between real processes (a hub and three nodes): Qingpu's 陆海峰 moves to Wujiang (applied for
in Wujiang: its node asks Qingpu's through the hub), is treated there and pays part from the account he
brought, then moves on to Guangzhou (applied for in Wujiang again, where he leaves: Guangzhou's node
receives through the hub). Every month is counted where he ends up, every fen of the account is where
the ledgers say, each region's transfer account mirrors the other's, retries change nothing, and
`yibao ledger check` passes on every node.

The use cases run in this process as the applying node's application server would (its database, its
federation key); the other side is the real node process behind the real hub.

Through the services workflow (the nodes' own consoles over HTTP): 钱卫东 arrives in Guangzhou, whose
clerk files 转移接续 at the counter and approves it — Guangzhou's node asks Qingpu's through the hub; 沈丽华
leaves Qingpu for Wujiang by the zone's joint item, approved by a clerk of each of the three regions in
Qingpu's one window — an approval whose hub call went through but whose own transaction was lost
completes on the next attempt, nothing moved twice. Then `yibao hub clearing run` carries the month's
transfers in the net payment between the regions: every ``transfer:`` account is zero again."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.accounts import PASSWORD, add_user_at
from tests.e2e.test_cross_region import LU, QINGPU, his, rows, visit_by
from tests.flows import AMOXICILLIN, BLOOD_TEST
from tests.helpers import local_today
from tests.regions import federation
from yibao.app import service_applications, service_effects, transfers
from yibao.app.accounts import Principal
from yibao.app.errors import Refused
from yibao.app.ports import Store
from yibao.app.records import InsuranceRecord
from yibao.app.service_records import Application
from yibao.domain.ledger import Code, check_ledger
from yibao.federation.client import HubFederation
from yibao.federation.launch import RegionNode
from yibao.hub import clearing
from yibao.hub.directory import Directory
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine

MONTHS, ACCOUNT = 160, 260_000  # 陆海峰 in Qingpu's registry: 160 months, 2,600.00 yuan
QIAN, SHEN = "31011800000000010003", "31011800000000010002"  # Qingpu: 370 months, 900 yuan; 318 months, 1,800


@pytest.fixture(scope="module")
def where(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("transfer-regions")


@pytest.fixture(scope="module")
def nodes(where: Path) -> Iterator[dict[str, RegionNode]]:
    with federation(where) as running:
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


def all_checked(nodes: dict[str, RegionNode]) -> bool:
    """What `yibao ledger check` runs (``check_ledger`` over the node's ledger facts) passes on every node."""
    problems = {}
    for name, node in nodes.items():
        db = Database(make_engine(node.url))
        try:
            with db.transaction(write=False) as store:
                problems[name] = check_ledger(store.ledger_facts())
        finally:
            db.dispose()
    assert problems == {n: [] for n in nodes}
    return True


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def state(node: RegionNode, psn_no: str = LU) -> tuple[InsuranceRecord | None, dict[str, int], list[str]]:
    """The person's insurance there, the balances (credits − debits) of the accounts transfers touch, and
    the transfer postings."""
    db = Database(make_engine(node.url))
    try:
        with db.transaction(write=False) as store:
            insurance = store.insurance(psn_no, "310")
        a, x = t.ledger_account.c, t.ledger_transfer.c
        with db.engine.connect() as conn:
            found = conn.execute(
                select(a.code, a.credits_posted - a.debits_posted).where(
                    (a.code == f"acct:{psn_no}") | a.code.like("transfer:%")
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
    assert all_checked(nodes)


# ---------------------------------------------------------------- through the services workflow, on the nodes' consoles


def on(node: RegionNode, username: str, region: str) -> httpx.Client:
    """A clerk of ``region`` signed in to the node's console."""
    add_user_at(node.url, username, "clerk", region)
    client = httpx.Client(base_url=node.base, timeout=30)
    signed = client.post("/console/login", data={"username": username, "password": PASSWORD, "next": "/console"})
    assert signed.status_code == 303
    return client


def open_task(client: httpx.Client, application_id: str) -> str:
    """The URL of the first open task the clerk may act on."""
    page = client.get(f"/console/services/applications/{application_id}")
    assert page.status_code == 200, page.text[-500:]
    return f"/console/services/applications/{application_id}/tasks/" + page.text.split("/tasks/", 1)[1].split('"')[0]


def passed(client: httpx.Client, application_id: str) -> None:
    done = client.post(open_task(client, application_id), data={"outcome": "pass"}, follow_redirects=False)
    assert done.status_code == 303, done.text[-800:]


def application(node: RegionNode, application_id: str) -> Application:
    db = Database(make_engine(node.url))
    try:
        with db.transaction(write=False) as store:
            found = store.application(application_id)
    finally:
        db.dispose()
    assert found is not None
    return found


def enrolled_in(node: RegionNode, source: RegionNode, psn_no: str, emp_name: str) -> None:
    """The person's new employer enrols them where they arrive (the registry rows as the region left has them)."""
    db, there = Database(make_engine(node.url)), Database(make_engine(source.url))
    try:
        with there.transaction(write=False) as store:
            person, identities = store.person(psn_no), store.identities(psn_no)
        assert person is not None
        with db.transaction() as store:
            store.add_person(person, identities)
            store.save_insurance(InsuranceRecord(psn_no, "310", "1101", "1", node.admdvs, local_today(), None, False,
                                                 emp_name, 0))  # fmt: skip
    finally:
        db.dispose()
        there.dispose()


def test_a_transfer_approved_in_either_regions_console_goes_through_the_hub(nodes: dict[str, RegionNode]) -> None:
    qp, wj, gz = nodes["qp"], nodes["wj"], nodes["gz"]
    today = local_today()
    # ---- 钱卫东 arrives in Guangzhou: filed at its counter, approved in its console (转入地)
    enrolled_in(gz, qp, QIAN, "广州某精密机械公司")
    clerk = on(gz, "gz-clerk", "440100")
    try:
        filed = clerk.post("/console/services/counter", data={
            "action": "submit", "item_code": "YB08", "psn_no": QIAN, "f_insutype": "310", "f_from_admdvs": "310118",
            "f_to_admdvs": "440100", "m_contribution": "青浦缴费凭证 QP-0370"}, follow_redirects=False)  # fmt: skip
        assert filed.status_code == 303, filed.text[-800:]
        arriving = filed.headers["location"].rsplit("/", 1)[1]
        passed(clerk, arriving)  # the check
        passed(clerk, arriving)  # the approval: the hub, then the approval's transaction
        assert 'data-status="done"' in clerk.get(f"/console/services/applications/{arriving}").text
    finally:
        clerk.close()
    done = application(gz, arriving)
    assert (done.status, done.result["months_carried"], done.result["months_after"]) == ("done", "370", "370")
    assert done.result["account_moved"] == "900.00"
    (qp_ins, qp_bal, qp_posted), (gz_ins, gz_bal, gz_posted) = state(qp, QIAN), state(gz, QIAN)
    assert qp_ins is not None and gz_ins is not None
    assert (qp_ins.psn_insu_stas, qp_ins.paus_insu_date, gz_ins.psn_insu_stas, gz_ins.contrib_months) == (
        "4", today, "1", 370)  # fmt: skip
    assert (qp_bal[f"acct:{QIAN}"], gz_bal[f"acct:{QIAN}"]) == (0, 90_000)
    assert qp_bal["transfer:440100"] == -gz_bal["transfer:310118"] == 90_000
    assert f"transfer:{arriving}:out" in qp_posted and f"transfer:{arriving}:in" in gz_posted

    # ---- 沈丽华 leaves Qingpu for Wujiang by the zone's joint item, in Qingpu's one window (转出地)
    clerks = {region: on(qp, f"clerk-{region}", region) for region in ("310118", "320509", "330421")}
    try:
        filed = clerks["310118"].post("/console/services/counter", data={
            "action": "submit", "item_code": "YRD08", "psn_no": SHEN, "f_insutype": "310", "f_from_admdvs": "310118",
            "f_to_admdvs": "320509"}, follow_redirects=False)  # fmt: skip
        assert filed.status_code == 303, filed.text[-800:]
        leaving = filed.headers["location"].rsplit("/", 1)[1]
        for region in ("310118", "310118", "320509"):  # the check, then two of the three parallel approvals
            passed(clerks[region], leaving)
        # the last approval once as Qingpu's server would run it, the hub's answer in hand and then the
        # approval's own transaction lost (a crash): the transfer is made, the application still waits
        task = int(open_task(clerks["330421"], leaving).rsplit("/", 1)[1])
        last = Principal("console", "clerk-330421", "clerk", "330421")
        with applying_at(qp) as (db, fed):

            def lost(store: Store, hub: transfers.Hub | None) -> Application:
                if hub is not None and hub.made:
                    raise ConnectionError("the approval's transaction was lost")
                return service_applications.decide_task(
                    store, leaving, task, "pass", note="", who=last, now=now(), ip="", hub=hub
                )

            with pytest.raises(ConnectionError):
                service_effects.through_hub(db, fed, lost)
        assert application(qp, leaving).status != "done"
        assert state(wj, SHEN)[0] is not None  # Wujiang received him already
        passed(clerks["330421"], leaving)  # the clerk tries again: done, nothing moved twice
    finally:
        for client in clerks.values():
            client.close()
    done = application(qp, leaving)
    assert (done.status, done.result["months_carried"], done.result["account_moved"]) == ("done", "318", "1800.00")
    (qp_ins, qp_bal, qp_posted), (wj_ins, wj_bal, wj_posted) = state(qp, SHEN), state(wj, SHEN)
    assert qp_ins is not None and wj_ins is not None
    assert (qp_ins.psn_insu_stas, wj_ins.insuplc_admdvs, wj_ins.psn_insu_stas, wj_ins.contrib_months) == (
        "4", "320509", "1", 318)  # fmt: skip
    assert (qp_bal[f"acct:{SHEN}"], wj_bal[f"acct:{SHEN}"]) == (0, 180_000)
    assert qp_posted.count(f"transfer:{leaving}:out") == 1 and wj_posted.count(f"transfer:{leaving}:in") == 1
    # (every node's ledger check: after the clearing below, which proves these postings against the records too)


# ---------------------------------------------------------------- the money between the regions: the monthly clearing


def balances(node: RegionNode) -> dict[str, int]:
    """Every account's balance (debits − credits), the zero ones left out."""
    engine = make_engine(node.url)
    try:
        with engine.connect() as conn:
            a = t.ledger_account.c
            return {code: int(v) for code, v in conn.execute(select(a.code, a.debits_posted - a.credits_posted)) if v}
    finally:
        engine.dispose()


def owed(node: RegionNode) -> dict[str, int]:
    """Per region of this node: personal accounts received less sent, as its transfer records say."""
    engine = make_engine(node.url)
    try:
        with engine.connect() as conn:
            x = t.insurance_transfer.c
            got: dict[str, int] = {}
            for role, to, left, amount in conn.execute(select(x.role, x.to_admdvs, x.from_admdvs, x.amount)):
                region, sign = (to, 1) if role == "in" else (left, -1)
                got[region] = got.get(region, 0) + sign * int(amount)
            return got
    finally:
        engine.dispose()


def clear(where: Path, month: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "yibao", "hub", "clearing", "run", "--month", month, "--key-file",
               str(where / "hub.key"), "--database-url", f"sqlite:///{where / 'hub.db'}"]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    return run


def hub_rows(where: Path, statement: Any) -> list[Any]:
    engine = make_engine(f"sqlite:///{where / 'hub.db'}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement))
    finally:
        engine.dispose()


def test_the_monthly_clearing_pays_the_transfers_and_empties_the_transfer_accounts(
    nodes: dict[str, RegionNode], where: Path
) -> None:
    gz = nodes["gz"]
    li = "44010000000000023456"  # 李晓敏, Guangzhou, 5,000 yuan: to Qingpu, applied for where she leaves
    with applying_at(gz) as (db, fed):
        transfers.transfer_away(db, fed, transfers.TransferIn("T-GZ-QP", li, "440100", "310118", local_today()),
                                "gz-clerk", now())  # fmt: skip
    before = {n: balances(node) for n, node in nodes.items()}
    assert before["gz"]["transfer:310118"] < 0 < before["qp"]["transfer:440100"]  # what each owes the other
    regions = {node.admdvs: n for n, node in nodes.items()}
    expected = {node.admdvs: owed(node).get(node.admdvs, 0) for node in nodes.values()}
    assert sum(expected.values()) == 0 and any(expected.values())
    assert expected == {a: sum(v for k, v in before[regions[a]].items() if k.startswith("transfer:")) for a in regions}

    month = f"{local_today():%Y-%m}"
    run = clear(where, month)
    assert "posted on every node" in run.stdout and "转移接续（个人账户）" in run.stdout, run.stdout
    r, n, x = t.hub_clearing_run.c, t.hub_clearing_net.c, t.hub_clearing_transfer.c
    (run_id,) = hub_rows(where, select(r.run_id).order_by(r.created_at.desc()).limit(1))[0]
    nets = {row.admdvs: row.net for row in hub_rows(where, select(n.admdvs, n.net).where(n.run_id == run_id))}
    assert nets == expected  # each region receives what it took in and pays what it sent out, net
    carried = hub_rows(where, select(x.transfer_id, x.status).where(x.run_id == run_id))
    assert len(carried) == 5 and {s for _, s in carried} == {"confirmed"}
    after = {n: balances(node) for n, node in nodes.items()}
    for name, node in nodes.items():
        assert not [k for k in after[name] if k.startswith("transfer:")], after[name]
        assert after[name].get("clearing:hub", 0) == 0
        assert after[name].get("cash:clearing", 0) == nets[node.admdvs], name  # received (+) or paid (−)
    assert all_checked(nodes)
    assert sum(b.get("cash:clearing", 0) for b in after.values()) == 0  # no money made or lost between regions
    for name in nodes:  # the personal accounts themselves are untouched by clearing
        assert {k: v for k, v in after[name].items() if k.startswith("acct:")} == {
            k: v for k, v in before[name].items() if k.startswith("acct:")}  # fmt: skip

    # ---- a second run (the hub's, in this process) carries nothing again
    engine = make_engine(f"sqlite:///{where / 'hub.db'}")
    caller = clearing.NodeCaller(bytes.fromhex((where / "hub.key").read_text()))
    try:
        again = clearing.run_month(engine, Directory(engine), caller, month)
    finally:
        caller.close()
        engine.dispose()
    assert (again.status, again.transfers, again.run_id != run_id) == ("posted", [], True)
    assert {n: balances(node) for n, node in nodes.items()} == after
