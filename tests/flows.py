"""Interface conversations a HIS holds, shared by the in-process and the real-server tests."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from tests.databases import GZ
from yibao.app.records import LOCAL
from yibao.domain.ledger import check_ledger
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.database import Database

REGISTRY = json.loads((GZ / "registry.json").read_text())
PEOPLE = {p["psn_no"]: p for p in REGISTRY["persons"]}
RETIREE = "44010000000000012345"  # 职工退休, account 3,200
WORKER = "44010000000000023456"  # 职工在职, account 5,000
SUSPENDED = "44010000000000045678"  # 参保暂停
RESIDENT = "44010000000000056789"  # 城乡居民: no Guangzhou resident policy is loaded

AMOXICILLIN = "XJ01CAA040A001010100039"  # 甲类
BLOOD_TEST = "002501000010000"  # 甲类
BED = "001102000010000"  # 甲类, price cap 60
SURGERY = "003306000010000"  # 乙类, 先行自付 10%
STATIN = "XC10AAA050A001010101444"  # 乙类, 先行自付 10%, Guangzhou 5%
NON_CATALOGUE_TEA = "Z000000000000000000001"  # 丙类


def certno(psn_no: str) -> str:
    return str(PEOPLE[psn_no]["certno"])


def now_text(delta: timedelta = timedelta()) -> str:
    """Now as a HIS writes it: local time in Shanghai, whatever the machine's own zone."""
    return f"{datetime.now(LOCAL) + delta:%Y-%m-%d %H:%M:%S}"


def line(sn: str, mdtrt_id: str, psn_no: str, code: str, cnt: str, pric: str, batch: str = "B1") -> dict[str, Any]:
    return {
        "feedetl_sn": sn,
        "mdtrt_id": mdtrt_id,
        "psn_no": psn_no,
        "chrg_bchno": batch,
        "med_list_codg": code,
        "medins_list_codg": f"HIS-{code[:6]}",
        "det_item_fee_sumamt": str(Decimal(cnt) * Decimal(pric)),
        "cnt": cnt,
        "pric": pric,
        "fee_ocur_time": now_text(),
        "bilg_dept_codg": "A03",
        "bilg_dept_name": "内科",
        "bilg_dr_codg": "D440106000001",
        "bilg_dr_name": "张医生",
    }


def person_info(his: HisClient, psn_no: str) -> dict[str, Any]:
    out: dict[str, Any] = his.call(
        "1101",
        {
            "data": {
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno(psn_no),
                "psn_cert_type": "01",
                "certno": certno(psn_no),
                "psn_name": "",
            }
        },
    )
    return out


def register(his: HisClient, psn_no: str, ipt_otp_no: str = "MZ0001", insutype: str = "310") -> str:
    out = his.call(
        "2201",
        {
            "data": {
                "psn_no": psn_no,
                "insutype": insutype,
                "begntime": now_text(),
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno(psn_no),
                "ipt_otp_no": ipt_otp_no,
                "atddr_no": "D440106000001",
                "dr_name": "张医生",
                "dept_code": "A03",
                "dept_name": "内科",
                "caty": "A03",
            }
        },
    )
    return str(out["data"]["mdtrt_id"])


def settle_data(psn_no: str, mdtrt_id: str, medfee: str, **extra: Any) -> dict[str, Any]:
    return {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": certno(psn_no),
            "med_type": "11",
            "medfee_sumamt": medfee,
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "chrg_bchno": "B1",
            "insutype": "310",
            "acct_used_flag": "1",
            **extra,
        }
    }


def admit(his: HisClient, psn_no: str, days_ago: int = 10, ipt_no: str = "ZY0001", insutype: str = "310") -> str:
    out = his.call(
        "2401",
        {
            "mdtrtinfo": {
                "psn_no": psn_no,
                "insutype": insutype,
                "coner_name": "",
                "tel": "",
                "begntime": now_text(-timedelta(days=days_ago)),
                "mdtrt_cert_type": "02",
                "mdtrt_cert_no": certno(psn_no),
                "med_type": "21",
                "ipt_no": ipt_no,
                "medrcdno": ipt_no,
                "atddr_no": "D440106000001",
                "chfpdr_name": "张医生",
                "adm_diag_dscr": "急性阑尾炎",
                "adm_dept_codg": "A04",
                "adm_dept_name": "普外科",
                "adm_bed": "12",
                "dscg_maindiag_code": "K35.800",
                "dscg_maindiag_name": "急性阑尾炎",
            },
            "diseinfo": [
                {
                    "psn_no": psn_no,
                    "diag_type": "1",
                    "maindiag_flag": "1",
                    "diag_srt_no": "1",
                    "diag_code": "K35.800",
                    "diag_name": "急性阑尾炎",
                    "adm_cond": "",
                    "diag_dept": "A04",
                    "dise_dor_no": "D440106000001",
                    "dise_dor_name": "张医生",
                    "diag_time": now_text(),
                }
            ],
        },
    )
    return str(out["result"]["mdtrt_id"])


def inpatient_settle_data(psn_no: str, mdtrt_id: str, medfee: str, mid: bool, insutype: str = "310") -> dict[str, Any]:
    return {
        "data": {
            "psn_no": psn_no,
            "mdtrt_cert_type": "02",
            "mdtrt_cert_no": certno(psn_no),
            "medfee_sumamt": medfee,
            "psn_setlway": "01",
            "mdtrt_id": mdtrt_id,
            "insutype": insutype,
            "acct_used_flag": "1",
            "mid_setl_flag": "1" if mid else "0",
            "invono": "",
        }
    }


def amounts(setlinfo: dict[str, Any], *names: str) -> tuple[str, ...]:
    return tuple(str(setlinfo[n]) for n in names)


# ---------------------------------------------------------------- edges of the interface


def refusal(his: HisClient, infno: str, input: dict[str, Any], **kw: Any) -> str:
    """Send a message that must be refused; its err_msg."""
    answer = his.post(his.envelope(infno, input, **kw))
    assert answer["infcode"] == -1, f"{infno} was not refused: {answer['output']}"
    assert answer["output"] == {}
    return str(answer["err_msg"])


def upload(his: HisClient, *lines: dict[str, Any], infno: str = "2204") -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = his.call(infno, {"feedetail": list(lines)})["result"]
    return out


def balance(his: HisClient, psn_no: str) -> str:
    return str(person_info(his, psn_no)["insuinfo"][0]["balc"])


def pharmacy_data(psn_no: str, medfee: str, *lines: dict[str, Any]) -> dict[str, Any]:
    """2101/2102 input: the purchase and its lines in one message."""
    return {
        "data": {"psn_no": psn_no, "mdtrt_cert_type": "02", "mdtrt_cert_no": certno(psn_no), "insutype": "310",
                 "medfee_sumamt": medfee, "med_type": "41", "psn_setlway": "01", "acct_used_flag": "1"},
        "feedetail": list(lines),
    }  # fmt: skip


def discharge_data(psn_no: str, mdtrt_id: str, endtime: str | None = None, insutype: str = "310") -> dict[str, Any]:
    return {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, "insutype": insutype, "endtime": endtime or now_text(),
                         "dise_codg": "K35.800", "dise_name": "急性阑尾炎", "dscg_way": "1"}}  # fmt: skip


def local_today() -> date:
    """The platform's date (Asia/Shanghai), whatever the machine's time zone."""
    return datetime.now(LOCAL).date()


def row_counts(db: Database) -> dict[str, int]:
    """The number of rows in every table: "nothing was written" is this staying the same."""
    with db.engine.connect() as conn:
        return {
            table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for table in tables.metadata.sorted_tables
        }


def ledger_problems(db: Database) -> list[str]:
    with db.transaction(write=False) as store:
        return check_ledger(store.ledger_facts())
