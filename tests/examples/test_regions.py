"""The example regions of the cross-region nodes (issue 7): Shanghai Qingpu 310118 and Jiangsu Wujiang 320509.

Each region's files load into a fresh SQLite database of their own, and one outpatient visit and one
inpatient stay of its insured at its hospitals settle over the interface to amounts computed by hand from
examples/<region>/employee-2024.toml and catalog.toml (the computation is written next to each assert).
Every person's ID number in every example registry has a valid check digit (GB 11643, ISO 7064 MOD 11-2).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.databases import ROOT, fresh_database
from tests.flows import AMOXICILLIN, BED, BLOOD_TEST, STATIN, SURGERY, amounts, ledger_problems, line, now_text
from yibao.api.server import create_app
from yibao.domain.settlement import calculate
from yibao.files import load_catalog, load_claim, load_policy
from yibao.sim.his import HisClient
from yibao.store import loading, migrate
from yibao.store.database import Database
from yibao.store.engine import make_engine

EXAMPLES = ROOT / "examples"
REGISTRIES = sorted(EXAMPLES.glob("*/registry.json"))


@dataclass(frozen=True)
class Region:
    folder: str
    admdvs: str
    policy: str

    @property
    def path(self) -> Path:
        return EXAMPLES / self.folder

    def people(self) -> dict[str, dict[str, Any]]:
        registry = json.loads((self.path / "registry.json").read_text())
        return {p["psn_no"]: p for p in registry["persons"]}


QINGPU = Region("qingpu", "310118", "上海市职工医保（青浦）2024")
WUJIANG = Region("wujiang", "320509", "苏州市职工医保（吴江，示意）2024")


def load_region(url: str, region: Region) -> None:
    db = Database(make_engine(url))
    try:
        migrate.upgrade(db.engine)
        loading.load_registry_file(db, region.path / "registry.json")
        assert loading.load_policy_file(db, region.path / "employee-2024.toml") == region.policy
        assert loading.load_catalog_file(db, region.path / "catalog.toml") == 9
    finally:
        db.dispose()


# ---------------------------------------------------------------- ID numbers

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def check_digit(first17: str) -> str:
    """ISO 7064 MOD 11-2 as GB 11643 uses it: 10 is written X."""
    r = (12 - sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True)) % 11) % 11
    return "X" if r == 10 else str(r)


def test_check_digit_of_published_examples() -> None:
    assert check_digit("11010519491231002") == "X"  # the GB 11643 example 11010519491231002X


@pytest.mark.parametrize("registry", REGISTRIES, ids=[p.parent.name for p in REGISTRIES])
def test_every_id_number_is_valid(registry: Path) -> None:
    for person in json.loads(registry.read_text())["persons"]:
        certno, brdy = person["certno"], person["brdy"]
        assert len(certno) == 18 and certno[:17].isdigit(), certno
        assert certno[17] == check_digit(certno[:17]), f"{person['psn_no']}: {certno}"
        assert date.fromisoformat(brdy) == date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14]))
        assert int(certno[16]) % 2 == (1 if person["gend"] == "1" else 0), f"{certno}: sex digit"


# ---------------------------------------------------------------- each region on its own database


@pytest.mark.parametrize("region", [QINGPU, WUJIANG], ids=["qingpu", "wujiang"])
def test_region_files_load(region: Region, tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url:
        load_region(url, region)
        db = Database(make_engine(url))
        try:
            with db.transaction(write=False) as store:
                policies = [p for p in store.policies() if p.admdvs == region.admdvs]
                assert [p.name for p in policies] == [region.policy]
                assert {b.pool for b in policies[0].benefits} == {"inpatient", "outpatient", "pharmacy"}
                for benefit in policies[0].benefits[:2]:  # inpatient and outpatient: the cross-region cuts
                    assert {a.flag: str(a.points) for a in benefit.adjustments} == {
                        "cross_region_referral": "-0.10",
                        "cross_region_temporary": "-0.10",
                        "cross_region_emergency": "-0.10",
                        "cross_region_unfiled": "-0.20",
                    }
                assert len(store.catalog(region.admdvs).items) == 9
                for psn_no in region.people():
                    assert store.person(psn_no) is not None
        finally:
            db.dispose()


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, TestClient]]:
    """One database and one in-process interface per region, as the nodes of issue 7 will have."""
    clients: dict[str, TestClient] = {}
    dbs: list[Database] = []
    for region in (QINGPU, WUJIANG):
        url = f"sqlite:///{tmp_path_factory.mktemp(region.folder) / 'yibao.db'}"
        load_region(url, region)
        db = Database(make_engine(url))
        dbs.append(db)
        clients[region.folder] = TestClient(create_app(db)).__enter__()
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)
    for db in dbs:
        assert ledger_problems(db) == []
        db.dispose()


def his_at(nodes: dict[str, TestClient], region: Region, fixmedins_code: str) -> HisClient:
    his = HisClient("", fixmedins_code, mdtrtarea_admvs=region.admdvs, client=nodes[region.folder])
    assert his.sign_in().startswith(region.admdvs)
    return his


def cert(region: Region, psn_no: str) -> dict[str, str]:
    return {"mdtrt_cert_type": "02", "mdtrt_cert_no": region.people()[psn_no]["certno"]}


def outpatient(his: HisClient, region: Region, psn_no: str, lines: list[tuple[str, str, str]]) -> dict[str, Any]:
    """2201 → 2204 → 2207; the 2207 setlinfo."""
    visit = {"psn_no": psn_no, "insutype": "310", "begntime": now_text(), "ipt_otp_no": "MZ0001",
             "atddr_no": "D000000000001", "dr_name": "医生", "dept_code": "A03", "dept_name": "内科", "caty": "A03",
             **cert(region, psn_no)}  # fmt: skip
    mdtrt_id = str(his.call("2201", {"data": visit})["data"]["mdtrt_id"])
    fees = [line(str(n), mdtrt_id, psn_no, code, cnt, pric) for n, (code, cnt, pric) in enumerate(lines, 1)]
    his.call("2204", {"feedetail": fees})
    medfee = str(sum(Decimal(f["det_item_fee_sumamt"]) for f in fees))
    data = {"psn_no": psn_no, "med_type": "11", "medfee_sumamt": medfee, "psn_setlway": "01", "mdtrt_id": mdtrt_id,
            "chrg_bchno": "B1", "insutype": "310", "acct_used_flag": "1", **cert(region, psn_no)}  # fmt: skip
    setlinfo: dict[str, Any] = his.call("2207", {"data": data})["setlinfo"]
    return setlinfo


def inpatient(his: HisClient, region: Region, psn_no: str, lines: list[tuple[str, str, str]]) -> dict[str, Any]:
    """2401 (10 days ago) → 2301 → 2402 → 2304 final; the setlinfo."""
    stay = {"psn_no": psn_no, "insutype": "310", "coner_name": "", "tel": "", "med_type": "21", "ipt_no": "ZY0001",
            "begntime": now_text(-timedelta(days=10)), "medrcdno": "ZY0001", "atddr_no": "D000000000001",
            "chfpdr_name": "医生", "adm_diag_dscr": "急性阑尾炎", "adm_dept_codg": "A04", "adm_dept_name": "普外科",
            "adm_bed": "12", "dscg_maindiag_code": "K35.800", "dscg_maindiag_name": "急性阑尾炎",
            **cert(region, psn_no)}  # fmt: skip
    diagnosis = {"psn_no": psn_no, "diag_type": "1", "maindiag_flag": "1", "diag_srt_no": "1", "diag_code": "K35.800",
                 "diag_name": "急性阑尾炎", "adm_cond": "", "diag_dept": "A04", "dise_dor_no": "D000000000001",
                 "dise_dor_name": "医生", "diag_time": now_text()}  # fmt: skip
    mdtrt_id = str(his.call("2401", {"mdtrtinfo": stay, "diseinfo": [diagnosis]})["result"]["mdtrt_id"])
    fees = [line(str(n), mdtrt_id, psn_no, code, cnt, pric) for n, (code, cnt, pric) in enumerate(lines, 1)]
    his.call("2301", {"feedetail": fees})
    his.call("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": "310", "endtime": now_text(),
                                   "dise_codg": "K35.800", "dise_name": "急性阑尾炎", "dscg_way": "1"}})  # fmt: skip
    medfee = str(sum(Decimal(f["det_item_fee_sumamt"]) for f in fees))
    data = {"psn_no": psn_no, "medfee_sumamt": medfee, "psn_setlway": "01", "mdtrt_id": mdtrt_id, "insutype": "310",
            "acct_used_flag": "1", "mid_setl_flag": "0", "invono": "", **cert(region, psn_no)}  # fmt: skip
    setlinfo: dict[str, Any] = his.call("2304", {"data": data})["setlinfo"]
    return setlinfo


# the same fee lines at every hospital: (code, cnt, pric)
OUTPATIENT_LINES = [(BLOOD_TEST, "3", "25"), (STATIN, "28", "30"), (AMOXICILLIN, "42", "0.52")]
INPATIENT_LINES = [(BED, "9", "80"), (SURGERY, "1", "2800")]
SETTLED = ("medfee_sumamt", "preselfpay_amt", "overlmt_selfpay", "inscp_scp_amt", "act_pay_dedc", "hifp_pay",
           "psn_part_amt", "acct_pay", "psn_cash_pay", "balc")  # fmt: skip


def test_qingpu_outpatient_retiree_level_2(nodes: dict[str, TestClient]) -> None:
    his = his_at(nodes, QINGPU, "H31011800002")  # 上海市青浦区中医医院, level 2
    got = outpatient(his, QINGPU, "31011800000000010004", OUTPATIENT_LINES)  # 顾国平, 退休, account 4,200
    # blood test 3 × 25 = 75 (甲类); statin 28 × 30 = 840 (乙类: 84 先行自付, 756 in range); amoxicillin
    # 42 × 0.52 = 21.84 (甲类). Total 936.84, in range 75 + 756 + 21.84 = 852.84.
    # 退休 deductible 700 a year (none paid yet): 152.84 above it × 80% (退休, level 2) = 122.272 → 122.27.
    # The patient's 936.84 − 122.27 = 814.57 comes from the account: 4,200 − 814.57 = 3,385.43.
    assert amounts(got, *SETTLED) == (
        "936.84", "84.00", "0.00", "852.84", "700.00", "122.27", "814.57", "814.57", "0.00", "3385.43",
    )  # fmt: skip


def test_qingpu_inpatient_in_service_level_3(nodes: dict[str, TestClient]) -> None:
    his = his_at(nodes, QINGPU, "H31011800001")  # 复旦大学附属中山医院青浦分院, level 3
    got = inpatient(his, QINGPU, "31011800000000010002", INPATIENT_LINES)  # 沈丽华, 在职, account 1,800
    # bed 9 × 80 = 720 under Qingpu's cap of 70: 9 × 10 = 90 above it, 630 in range; surgery 2,800 乙类:
    # 280 先行自付, 2,520 in range. Total 3,520, in range 3,150.
    # 在职 deductible 1,500 a year: 1,650 above it × 85% = 1,402.50 (far below the 590,000 ceiling).
    # The patient's 3,520 − 1,402.50 = 2,117.50: the account's whole 1,800, then 317.50 in cash.
    assert amounts(got, *SETTLED) == (
        "3520.00", "280.00", "90.00", "3150.00", "1500.00", "1402.50", "2117.50", "1800.00", "317.50", "0.00",
    )  # fmt: skip


def test_wujiang_outpatient_in_service_level_1(nodes: dict[str, TestClient]) -> None:
    his = his_at(nodes, WUJIANG, "H32050900004")  # 松陵街道社区卫生服务中心, level 1
    got = outpatient(his, WUJIANG, "32050900000000020002", OUTPATIENT_LINES)  # 费晓燕, 在职, account 2,200
    # the same lines as in Qingpu: total 936.84, 84 先行自付, in range 852.84.
    # 在职 deductible 600 a year: 252.84 above it × 75% (在职, level 1) = 189.63 (within the 4,000 limit).
    # The patient's 936.84 − 189.63 = 747.21 comes from the account: 2,200 − 747.21 = 1,452.79.
    assert amounts(got, *SETTLED) == (
        "936.84", "84.00", "0.00", "852.84", "600.00", "189.63", "747.21", "747.21", "0.00", "1452.79",
    )  # fmt: skip


def test_wujiang_inpatient_retiree_level_3(nodes: dict[str, TestClient]) -> None:
    his = his_at(nodes, WUJIANG, "H32050900001")  # 苏州市第九人民医院, level 3
    got = inpatient(his, WUJIANG, "32050900000000020001", INPATIENT_LINES)  # 吴根林, 退休, account 3,600
    # bed 9 × 80 = 720 under Wujiang's cap of 50: 9 × 30 = 270 above it, 450 in range; surgery 2,800 乙类:
    # 280 先行自付, 2,520 in range. Total 3,520, in range 2,970.
    # First admission, level-3 deductible 900: 2,070 above it, in the first band (0–30,000) of 退休 at
    # level 3, 90%: 1,863.00. The patient's 3,520 − 1,863 = 1,657 from the account: 3,600 − 1,657 = 1,943.
    assert amounts(got, *SETTLED) == (
        "3520.00", "280.00", "270.00", "2970.00", "900.00", "1863.00", "1657.00", "1657.00", "0.00", "1943.00",
    )  # fmt: skip


# ---------------------------------------------------------------- the cross-region cuts, on the calculator alone


@pytest.mark.parametrize(
    ("flag", "hifp_pay"),
    [
        ("", "1402.50"),  # at home: 1,650 above the deductible × 85%
        ("cross_region_zone", "1402.50"),  # the demonstration zone: as at home
        ("cross_region_long_term", "1402.50"),  # long-term residents: as at home
        ("cross_region_referral", "1237.50"),  # 1,650 × 75%
        ("cross_region_emergency", "1237.50"),
        ("cross_region_temporary", "1237.50"),
        ("cross_region_unfiled", "1072.50"),  # 1,650 × 65%
    ],
)
def test_qingpu_cross_region_cuts(flag: str, hifp_pay: str, tmp_path: Path) -> None:
    """沈丽华's stay of test_qingpu_inpatient_in_service_level_3 (in range 3,150, deductible 1,500) with each flag."""
    claim = {
        "person": {"psn_no": "31011800000000010002", "insutype": "310", "psn_type": "1101",
                   "insuplc_admdvs": "310118", "brdy": "1978-11-03", "gend": "2", "acct_balc": 1800},
        "visit": {"med_type": "21", "hosp_lv": 3, "setl_date": "2026-11-22", "mdtrtarea_admvs": "310118",
                  "los_days": 10, "flags": [flag] if flag else [], "acct_used_flag": True},
        "feedetail": [{"feedetl_sn": str(n), "med_list_codg": code, "cnt": cnt, "pric": pric}
                      for n, (code, cnt, pric) in enumerate(INPATIENT_LINES, 1)],
    }  # fmt: skip
    (tmp_path / "claim.json").write_text(json.dumps(claim))
    result = calculate(
        load_claim(tmp_path / "claim.json"),
        load_policy(QINGPU.path / "employee-2024.toml"),
        load_catalog(QINGPU.path / "catalog.toml"),
    )
    assert str(result.setlinfo_output()["hifp_pay"]) == hifp_pay
