"""Monthly clearing (清算) between real processes: a hub and three nodes (Guangzhou on PostgreSQL).

A month of cross-region traffic in every direction, some of it reversed; `yibao hub clearing run`
nets the confirmed lines into one payment per region (the nets sum to zero, each equals the node's own
T/I settlements), advances are drawn first, every node posts and `yibao ledger check` passes; a line
reversed on the insured side only is disputed and carried over until it is reversed where treated too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.e2e.test_cross_region import his, ledger_check, visit_by
from tests.flows import AMOXICILLIN, BLOOD_TEST
from tests.regions import RegionNode, federation
from yibao.app import for_hub
from yibao.app.clearing import POST
from yibao.app.errors import Refused
from yibao.app.records import Context, local_date
from yibao.domain.money import yuan_to_fen
from yibao.federation.client import HubFederation
from yibao.federation.signing import node_secret
from yibao.hub.clearing import NodeCaller
from yibao.hub.directory import Node
from yibao.store import tables as t
from yibao.store.database import Database
from yibao.store.engine import make_engine

PEOPLE = {  # psn_no → certno, three of each region
    "gz": {"44010000000000023456": "440104198809152340", "44010000000000012345": "440106195804021236",
           "44010000000000034567": "440103197503123458"},
    "qp": {"31011800000000010001": "310229199005120018", "31011800000000010002": "310229197811030026",
           "31011800000000010004": "310229195502180013"},
    "wj": {"32050900000000020002": "320584198506270020", "32050900000000020003": "320584199308150030",
           "32050900000000020001": "320584196203140019"},
}  # fmt: skip
HOSPITALS = {"gz": ("H44010600001", "H44010600002"), "qp": ("H31011800002", "H31011800001"),
             "wj": ("H32050900002", "H32050900001")}  # fmt: skip
ADVANCE = "50"  # yuan each region paid in: a paying region's first 50 yuan come from it


@dataclass
class Federation:
    nodes: dict[str, RegionNode]
    tmp: Path

    @property
    def hub_db(self) -> str:
        return f"sqlite:///{self.tmp / 'hub.db'}"

    def hub(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "yibao", "hub", *args, "--database-url", self.hub_db]
        return subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=False, timeout=120)

    def clear(self, month: str) -> subprocess.CompletedProcess[str]:
        run = self.hub("clearing", "run", "--month", month, "--key-file", str(self.tmp / "hub.key"))
        assert run.returncode == 0, run.stdout + run.stderr
        return run

    def query(self, url: str, statement: Any) -> list[Any]:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                return list(conn.execute(statement))
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    tmp = tmp_path_factory.mktemp("clearing")
    with federation(tmp, backends={"gz": "postgresql"}) as running:
        yield Federation(running, tmp)


def month_now() -> str:
    return f"{local_date(datetime.now(UTC).replace(tzinfo=None)):%Y-%m}"


def settled(f: Federation, node: str, role: str) -> list[Any]:
    s = t.settlement.c
    q = select(s.setl_id, s.mdtrt_id, s.msgid, s.insuplc_admdvs, s.mdtrtarea_admvs, s.revs_setl_id,
               s.fund_pay_sumamt + s.acct_pay).where(s.cross_region == role)  # fmt: skip
    return f.query(f.nodes[node].url, q)


def balances(f: Federation, node: str) -> dict[str, int]:
    a = t.ledger_account.c
    rows = f.query(f.nodes[node].url, select(a.code, a.debits_posted - a.credits_posted))
    return {code: int(v) for code, v in rows if v}


def transfer_count(f: Federation, node: str) -> int:
    return int(f.query(f.nodes[node].url, select(func.count()).select_from(t.ledger_transfer))[0][0])


def hub_rows(f: Federation, table: Any, run_id: str) -> list[Any]:
    return f.query(f.hub_db, select(table).where(table.c.run_id == run_id))


def last_run(f: Federation) -> str:
    r = t.hub_clearing_run.c
    return str(f.query(f.hub_db, select(r.run_id).order_by(r.created_at.desc()).limit(1))[0][0])


def all_checked(f: Federation) -> bool:
    """`yibao ledger check` passes on every node (run side by side)."""
    with ThreadPoolExecutor() as pool:
        problems = dict(zip(f.nodes, pool.map(ledger_check, f.nodes.values()), strict=True))
    assert problems == {n: [] for n in f.nodes}
    return True


def reverse_insured_side_only(f: Federation, node: str, mdtrt_id: str) -> None:
    """The insured node reverses its side of a settlement on its own (as if by its operators): the
    treating node still has it, so the line is disputed."""
    (msgid,) = [r.msgid for r in settled(f, node, "I") if r.mdtrt_id == mdtrt_id]
    db = Database(make_engine(f.nodes[node].url))
    try:
        with db.transaction() as store:
            now = datetime.now(UTC).replace(tzinfo=None)
            ctx = Context(fixmedins_code="", msgid="local-fix", infno="2208", now=now, today=local_date(now))
            assert for_hub.reverse_here(store, ctx, {"settle_msgid": msgid})["reversed"]
    finally:
        db.dispose()


def test_a_month_clears_to_zero_and_disputes_carry_over(fed: Federation) -> None:
    f, month = fed, month_now()
    admdvs = {name: node.admdvs for name, node in f.nodes.items()}
    # ---- a month of traffic: each region's insured treated in both others, some visits reversed
    reversed_count = 0
    directions = [(a, b) for a in f.nodes for b in f.nodes if a != b]
    for i, (treating, insured) in enumerate(directions):  # 2 or 3 visits each way, amounts differing
        for k, (psn_no, certno) in enumerate(list(PEOPLE[insured].items())[: 2 + i % 2]):
            h = his(f.nodes[treating], HOSPITALS[treating][k % 2])
            fees = [(BLOOD_TEST, str(1 + k + i), "30"), (AMOXICILLIN, "2", f"{12 + k * i}.50")]
            mdtrt_id, setl = visit_by(h, psn_no, certno, admdvs[insured], *fees)
            if k == 1:  # one visit per direction reversed by 2208 (both sides)
                h.call("2208", {"data": {"setl_id": setl["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": psn_no}})
                reversed_count += 1
    # ---- one settlement reversed on the insured side only: Wujiang's insured treated in Qingpu
    qp_his = his(f.nodes["qp"], HOSPITALS["qp"][0])
    wj_psn, wj_cert = next(iter(PEOPLE["wj"].items()))
    disputed_mdtrt, disputed_setl = visit_by(qp_his, wj_psn, wj_cert, admdvs["wj"], (BLOOD_TEST, "3", "40"))
    reverse_insured_side_only(f, "wj", disputed_mdtrt)
    treated = {n: settled(f, n, "T") for n in f.nodes}
    assert sum(len(v) for v in treated.values()) == 15 + reversed_count + 1
    with ThreadPoolExecutor() as pool:
        paid_in = pool.map(lambda n: f.hub("advance", "--region", admdvs[n], "--amount", ADVANCE), f.nodes)
        assert all(p.returncode == 0 for p in paid_in)

    # ---- the run
    run = f.clear(month)
    assert "posted on every node" in run.stdout and "有异议的明细 1 条" in run.stdout, run.stdout
    run_id = last_run(f)
    nets = {r.admdvs: r for r in hub_rows(f, t.hub_clearing_net, run_id)}
    assert set(nets) == set(admdvs.values())
    assert sum(r.net for r in nets.values()) == 0 and sum(r.receivable - r.payable for r in nets.values()) == 0
    assert any(r.net != 0 for r in nets.values()), run.stdout
    for n, region in admdvs.items():  # each region's net is its own T less its own I settlements
        receivable = sum(r[6] for r in treated[n] if r.mdtrt_id != disputed_mdtrt)
        payable = sum(r[6] for r in settled(f, n, "I"))  # Wujiang's reversed pair sums to zero
        assert (nets[region].receivable, nets[region].payable) == (receivable, payable), n
        assert nets[region].advance == (min(yuan_to_fen(ADVANCE), -nets[region].net) if nets[region].net < 0 else 0)
        assert all(r.posted_at is not None for r in nets.values())
    lines = hub_rows(f, t.hub_clearing_line, run_id)
    disputed = [x for x in lines if x.status == "disputed"]
    assert [(x.treating_node, x.mdtrt_id) for x in disputed] == [("qp", disputed_mdtrt)]
    assert "参保地已冲正" in disputed[0].reason
    assert all(x.certno_masked[:6].isdigit() and "*" in x.certno_masked for x in lines)

    # ---- every node posted: its clearing accounts hold only the disputed line; the hub's side is closed
    amount = yuan_to_fen(str(disputed_setl["fund_pay_sumamt"])) + yuan_to_fen(str(disputed_setl["acct_pay"]))
    for n, region in admdvs.items():
        b = balances(f, n)
        left = {k: v for k, v in b.items() if k.startswith("clearing:")}
        assert left == ({f"clearing:{admdvs['wj']}": amount} if n == "qp" else {}), (n, left)
        net, advance = nets[region].net, nets[region].advance
        assert b.get("cash:clearing", 0) == net + advance and -b.get("advance:hub", 0) == advance
    assert all_checked(f)

    # ---- posting again moves nothing: a re-sent post, a second run of the month
    moved = {n: transfer_count(f, n) for n in f.nodes}
    caller = NodeCaller(bytes.fromhex((f.tmp / "hub.key").read_text()))
    try:
        qp = f.nodes["qp"]
        again = caller.call(Node("qp", qp.base, (qp.admdvs,)), POST, f"{run_id}:again", {"run_id": run_id})
        assert again["already_posted"] is True and again["transfers"] > 0
    finally:
        caller.close()
    second = f.clear(month)
    assert "有异议的明细 1 条" in second.stdout
    run2 = last_run(f)
    assert run2 != run_id
    assert [(x.line_id, x.status) for x in hub_rows(f, t.hub_clearing_line, run2)] == [
        (disputed[0].line_id, "disputed")
    ]
    assert all(r.net == 0 and r.advance == 0 for r in hub_rows(f, t.hub_clearing_net, run2))
    assert {n: transfer_count(f, n) for n in f.nodes} == moved

    # ---- reversed where treated too: the pair clears next time, and nothing is left anywhere
    qp_his.call("2208", {"data": {"setl_id": disputed_setl["setl_id"], "mdtrt_id": disputed_mdtrt, "psn_no": wj_psn}})
    f.clear(month)
    run3 = last_run(f)
    third = hub_rows(f, t.hub_clearing_line, run3)
    assert len(third) == 2 and {x.status for x in third} == {"confirmed"}
    for n in f.nodes:
        assert not {k: v for k, v in balances(f, n).items() if k.startswith("clearing:")}, n
    assert all_checked(f)


def test_only_the_hub_may_call_clearing(fed: Federation) -> None:
    """A node cannot route a clearing call to another node through the hub."""
    wj = fed.nodes["wj"]
    key = bytes.fromhex((fed.tmp / "hub.key").read_text())
    assert wj.env is not None
    me = HubFederation("wj", (wj.admdvs,), wj.env["YIBAO_HUB_URL"], node_secret(key, "wj"))
    with pytest.raises(Refused, match="只由国家平台发起"):
        me.call(POST, "310118", "clearing-post:forged", {"run_id": "forged"})
