"""Cross-region settlement between real processes: a hub and three nodes, each with its own database.

就医地目录、参保地政策: the treating node classifies the lines with its catalogue, the insured node
settles them with its policy, counters and personal account; both post to clearing accounts, and
each node's `yibao ledger check` passes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.flows import (
    AMOXICILLIN,
    BED,
    BLOOD_TEST,
    PEOPLE,
    RETIREE,
    SURGERY,
    WORKER,
    admit,
    discharge_data,
    inpatient_settle_data,
    line,
    now_text,
    upload,
)
from tests.helpers import local_today
from tests.regions import EXAMPLES, federation
from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.claim import Amounts, Claim, Person, Visit
from yibao.domain.settlement import calculate
from yibao.federation.launch import RegionNode
from yibao.federation.signing import sign
from yibao.files import load_policy
from yibao.sim.his import HisClient, InterfaceError
from yibao.store import tables as t
from yibao.store.engine import make_engine

QINGPU = {p["psn_no"]: p for p in json.loads((EXAMPLES / "qingpu" / "registry.json").read_text())["persons"]}
LU = "31011800000000010001"  # 陆海峰, Qingpu, in service, account 2,600
GU = "31011800000000010004"  # 顾国平, Qingpu, retired, account 4,200


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RegionNode]]:
    with federation(tmp_path_factory.mktemp("regions")) as running:
        yield running


def his(node: RegionNode, code: str) -> HisClient:
    return HisClient(node.base, code, mdtrtarea_admvs=node.admdvs)


def ledger_check(node: RegionNode) -> list[str]:
    env = {**os.environ, "YIBAO_DATABASE_URL": node.url}
    run = subprocess.run([sys.executable, "-m", "yibao", "ledger", "check"], capture_output=True, text=True, env=env,
                         check=False)  # fmt: skip
    return [] if run.returncode == 0 else (run.stdout + run.stderr).splitlines()


def rows(node: RegionNode, psn_no: str) -> list[Any]:
    engine = make_engine(node.url)
    try:
        with engine.connect() as conn:
            s = t.settlement.c
            q = select(s.setl_id, s.cross_region, s.fund_pay_sumamt, s.acct_pay, s.revs_setl_id, s.mdtrt_id)
            return list(conn.execute(q.where(s.psn_no == psn_no).order_by(s.setl_time)))
    finally:
        engine.dispose()


def visit_by(h: HisClient, psn_no: str, certno: str, insuplc: str, *fees: tuple[str, str, str], med_type: str = "11",
             msgid: str | None = None) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """1101, 2201, 2204 and 2207 at ``h`` for a person insured in ``insuplc``: (mdtrt_id, setlinfo)."""
    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "psn_cert_type": "01"}
    info = h.call("1101", {"data": cert}, insuplc_admdvs=insuplc)
    assert info["baseinfo"]["psn_no"] == psn_no
    register = {"psn_no": psn_no, "insutype": "310", "begntime": now_text(), "ipt_otp_no": f"MZ{psn_no[-4:]}",
                "med_type": med_type, **cert}  # fmt: skip
    mdtrt_id = h.call("2201", {"data": register}, insuplc_admdvs=insuplc)["data"]["mdtrt_id"]
    lines = [line(str(i), mdtrt_id, psn_no, code, cnt, pric) for i, (code, cnt, pric) in enumerate(fees, 1)]
    h.call("2204", {"feedetail": lines})
    total = sum(Decimal(c) * Decimal(p) for _, c, p in fees)
    data = {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "medfee_sumamt": str(total), "insutype": "310",
            "med_type": med_type, "acct_used_flag": "1", "chrg_bchno": "B1", "psn_setlway": "01", **cert}  # fmt: skip
    setl = h.call("2207", {"data": data}, msgid=msgid, insuplc_admdvs=insuplc)["setlinfo"]
    return mdtrt_id, setl


def expected(policy_file: Path, setlinfo: dict[str, Any], psn_type: str, brdy: date, hosp_lv: int, balance: str,
             flags: tuple[str, ...]) -> dict[str, Decimal]:  # fmt: skip
    """What the insured region's policy pays on the classified amounts, for a first visit of the year."""
    policy = load_policy(policy_file)
    claim = Claim(
        person=Person(psn_no="P", insutype="310", psn_type=psn_type, brdy=brdy, acct_balc=Decimal(balance)),
        visit=Visit(med_type="11", hosp_lv=hosp_lv, setl_date=local_today(), flags=flags),
        amounts=Amounts(
            medfee_sumamt=Decimal(str(setlinfo["medfee_sumamt"])),
            fulamt_ownpay_amt=Decimal(str(setlinfo["fulamt_ownpay_amt"])),
            overlmt_selfpay=Decimal(str(setlinfo["overlmt_selfpay"])),
            preselfpay_amt=Decimal(str(setlinfo["preselfpay_amt"])),
            inscp_scp_amt=Decimal(str(setlinfo["inscp_scp_amt"])),
        ),
    )
    out = calculate(claim, policy, EMPTY_CATALOG).setlinfo_output()
    return {k: Decimal(str(out[k])) for k in ("hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")}


def paid(setlinfo: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(str(setlinfo[k])) for k in ("hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay")}


def test_a_zone_patient_settles_across_provinces_without_a_filing(nodes: dict[str, RegionNode]) -> None:
    """Qingpu's 陆海峰 at a Wujiang level-3 hospital: the demonstration zone needs no filing for
    outpatient care, so Qingpu pays as at home, on Wujiang's classification of the lines."""
    wj, qp = nodes["wj"], nodes["qp"]
    person = QINGPU[LU]
    mdtrt_id, setl = visit_by(his(wj, "H32050900001"), LU, person["certno"], "310118",
                              (AMOXICILLIN, "2", "12.50"), (BLOOD_TEST, "1", "30"))  # fmt: skip
    assert setl["medfee_sumamt"] == Decimal("55.00")
    home = expected(EXAMPLES / "qingpu" / "employee-2024.toml", setl, "1101", date(1990, 5, 12), 3, "2600",
                    ("cross_region", "cross_region_zone"))  # fmt: skip
    assert paid(setl) == home
    treated, insured = rows(wj, LU), rows(qp, LU)
    assert [(r.cross_region, r.mdtrt_id) for r in treated] == [("T", mdtrt_id)]
    assert [(r.cross_region, r.mdtrt_id) for r in insured] == [("I", mdtrt_id)]
    assert (treated[0].fund_pay_sumamt, treated[0].acct_pay) == (insured[0].fund_pay_sumamt, insured[0].acct_pay)
    assert ledger_check(wj) == [] and ledger_check(qp) == []


def test_unfiled_care_outside_the_zone_is_paid_at_the_reduced_ratio(nodes: dict[str, RegionNode]) -> None:
    """Guangzhou's worker in Qingpu without a filing: Guangzhou's policy takes 20 points off."""
    qp, gz = nodes["qp"], nodes["gz"]
    person = PEOPLE[WORKER]
    _, setl = visit_by(his(qp, "H31011800002"), WORKER, person["certno"], "440100", (BLOOD_TEST, "2", "150"))
    brdy = date.fromisoformat(person["brdy"])
    unfiled = expected(EXAMPLES / "guangzhou" / "employee-2022-12.toml", setl, "1101", brdy, 2,
                       str(person["acct_balc"]), ("cross_region", "cross_region_unfiled"))  # fmt: skip
    at_home = expected(EXAMPLES / "guangzhou" / "employee-2022-12.toml", setl, "1101", brdy, 2,
                       str(person["acct_balc"]), ())  # fmt: skip
    assert paid(setl) == unfiled
    assert unfiled["hifp_pay"] < at_home["hifp_pay"]

    # the Qingpu hospital files a referral (2501); Guangzhou, where the worker is insured, keeps it
    h = his(qp, "H31011800002")
    refmedin = {"psn_no": WORKER, "insutype": "310", "mdtrtarea_admdvs": "310118",
                "begndate": local_today().isoformat(), "reflin_medins_no": "H31011800002",
                "refl_rea": "转诊"}  # fmt: skip
    filed = h.call("2501", {"refmedin": refmedin}, insuplc_admdvs="440100")["result"]["trt_dcla_detl_sn"]
    assert filed.startswith("440100BA")
    _, second = visit_by(h, WORKER, person["certno"], "440100", (BLOOD_TEST, "2", "150"))
    balance = str(Decimal(str(person["acct_balc"])) - unfiled["acct_pay"])
    referred = expected(EXAMPLES / "guangzhou" / "employee-2022-12.toml", second, "1101", brdy, 2, balance,
                        ("cross_region", "cross_region_referral"))  # fmt: skip
    assert paid(second)["hifp_pay"] == referred["hifp_pay"] > unfiled["hifp_pay"]
    assert ledger_check(qp) == [] and ledger_check(gz) == []


def test_the_insured_node_down_settles_nothing_and_a_retry_settles_once(nodes: dict[str, RegionNode]) -> None:
    """Kill Qingpu mid-conversation: Wujiang's 2207 is refused and writes nothing; started again, the
    same msgid settles once; a 2601 then reverses both sides."""
    wj, qp = nodes["wj"], nodes["qp"]
    h = his(wj, "H32050900002")
    person = QINGPU[GU]
    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": person["certno"], "psn_cert_type": "01"}
    register = {"psn_no": GU, "insutype": "310", "begntime": now_text(), "ipt_otp_no": "MZ-K1", "med_type": "11",
                **cert}  # fmt: skip
    mdtrt_id = h.call("2201", {"data": register}, insuplc_admdvs="310118")["data"]["mdtrt_id"]
    h.call("2204", {"feedetail": [line("1", mdtrt_id, GU, BLOOD_TEST, "1", "40")]})
    data = {"psn_no": GU, "mdtrt_id": mdtrt_id, "medfee_sumamt": "40", "insutype": "310", "med_type": "11",
            "acct_used_flag": "1", "chrg_bchno": "B1", "psn_setlway": "01", **cert}  # fmt: skip
    before = len(rows(qp, GU))
    qp.kill()
    msgid = h.next_msgid()
    with pytest.raises(InterfaceError, match="不可达") as down:
        h.call("2207", {"data": data}, msgid=msgid)
    assert "未结算" in down.value.err_msg
    assert rows(wj, GU) == []
    qp.start()
    first = h.call("2207", {"data": data}, msgid=msgid)["setlinfo"]
    again = h.call("2207", {"data": data}, msgid=msgid)["setlinfo"]
    assert again["setl_id"] == first["setl_id"]
    assert len(rows(qp, GU)) == before + 1 and len(rows(wj, GU)) == 1
    h.call("2601", {"data": {"psn_no": GU, "omsgid": msgid, "oinfno": "2207"}})
    for node in (wj, qp):
        settled = [r for r in rows(node, GU) if r.mdtrt_id == mdtrt_id]
        assert len(settled) == 2 and sum(r.fund_pay_sumamt + r.acct_pay for r in settled) == 0
        assert ledger_check(node) == []


def test_unsigned_and_replayed_calls_reach_nothing(nodes: dict[str, RegionNode]) -> None:
    qp = nodes["qp"]
    assert qp.env is not None
    hub, secret = qp.env["YIBAO_HUB_URL"], bytes.fromhex(Path(qp.env["YIBAO_NODE_KEY_FILE"]).read_text())
    query = {"mdtrt_cert_type": "02", "mdtrt_cert_no": PEOPLE[WORKER]["certno"]}
    body = json.dumps({"msgid": "t-1", "to_admdvs": "440100", "op": "person", "payload": query}).encode()
    unsigned = httpx.post(qp.base + "/node/call", content=body).json()
    assert (unsigned["ok"], unsigned["code"]) == (False, "signature")
    assert httpx.post(hub + "/hub/route", content=body).status_code == 401
    headers = sign(secret, "qp", body)
    first = httpx.post(hub + "/hub/route", content=body, headers=headers).json()
    assert first["ok"] is True and first["data"]["baseinfo"]["psn_no"] == WORKER
    replayed = httpx.post(hub + "/hub/route", content=body, headers=headers)
    assert replayed.status_code == 401 and "重放" in replayed.json()["error"]


def test_a_stay_in_another_region_settles_and_reverses_on_both_sides(nodes: dict[str, RegionNode]) -> None:
    """Guangzhou's retiree admitted in Wujiang (2401 … 2304), then 2305: both nodes end where they began."""
    wj, gz = nodes["wj"], nodes["gz"]
    h = his(wj, "H32050900001")
    mdtrt_id = admit(h, RETIREE, days_ago=3, ipt_no="ZY-X1")
    upload(h, line("1", mdtrt_id, RETIREE, BED, "3", "60"), line("2", mdtrt_id, RETIREE, SURGERY, "1", "2000"),
           infno="2301")  # fmt: skip
    h.call("2402", discharge_data(RETIREE, mdtrt_id))
    setl = h.call("2304", inpatient_settle_data(RETIREE, mdtrt_id, "2180", mid=False))["setlinfo"]
    assert Decimal(str(setl["fund_pay_sumamt"])) > 0
    insured = [r for r in rows(gz, RETIREE) if r.mdtrt_id == mdtrt_id]
    assert [(r.cross_region, r.fund_pay_sumamt) for r in insured] == [
        ("I", int(Decimal(str(setl["fund_pay_sumamt"])) * 100))
    ]
    h.call("2305", {"data": {"psn_no": RETIREE, "mdtrt_id": mdtrt_id, "setl_id": setl["setl_id"]}})
    for node in (wj, gz):
        both = [r for r in rows(node, RETIREE) if r.mdtrt_id == mdtrt_id]
        assert len(both) == 2 and sum(r.fund_pay_sumamt + r.acct_pay for r in both) == 0
        assert ledger_check(node) == []


def test_two_nodes_settle_each_others_insured_at_once(nodes: dict[str, RegionNode]) -> None:
    """Wujiang treats Qingpu's insured while Qingpu treats Wujiang's, at the same moment: neither node
    holds its write lock while it waits for the other, so nobody waits for the hub's timeout."""
    wj, qp = nodes["wj"], nodes["qp"]
    wujiang = {p["psn_no"]: p for p in json.loads((EXAMPLES / "wujiang" / "registry.json").read_text())["persons"]}
    jobs = [(wj, "H32050900003", psn_no, QINGPU[psn_no]["certno"], "310118") for psn_no in list(QINGPU)[1:4]]
    jobs += [(qp, "H31011800003", psn_no, p["certno"], "320509") for psn_no, p in list(wujiang.items())[1:4]]

    def one(job: tuple[RegionNode, str, str, str, str]) -> Decimal:
        node, code, psn_no, certno, insuplc = job
        _, setl = visit_by(his(node, code), psn_no, certno, insuplc, (BLOOD_TEST, "1", "25"))
        return Decimal(str(setl["medfee_sumamt"]))

    started = time.monotonic()
    with ThreadPoolExecutor(len(jobs)) as pool:
        assert list(pool.map(one, jobs)) == [Decimal(25)] * len(jobs)
    assert time.monotonic() - started < 60  # (the hub's timeout is 10 s a call: a deadlock would show)
    assert ledger_check(wj) == [] and ledger_check(qp) == []
