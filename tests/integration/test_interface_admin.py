"""Pharmacy purchases, the administration of visits and stays, queries and clearing applications.

A pharmacy purchase under Guangzhou's 2022-12 employee policy (med_type 41) is paid by the personal
account alone; the pooled fund pays nothing there.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.flows import (
    AMOXICILLIN,
    BED,
    BLOOD_TEST,
    NON_CATALOGUE_TEA,
    RESIDENT,
    RETIREE,
    STATIN,
    SUSPENDED,
    WORKER,
    admit,
    amounts,
    balance,
    discharge_data,
    ledger_problems,
    line,
    local_today,
    now_text,
    pharmacy_data,
    refusal,
    register,
    row_counts,
    settle_data,
    upload,
)
from tests.integration.conftest import his_at
from yibao.sim.his import HisClient
from yibao.store.database import Database


def visits_of(his: HisClient, psn_no: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = his.call("5201", {"data": {"psn_no": psn_no}})["mdtrtinfo"]
    return out


def lines_of(his: HisClient, psn_no: str, mdtrt_id: str) -> list[tuple[str, str]]:
    """5204: (feedetl_sn, vali_flag) of every line of the visit."""
    out = his.call("5204", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id}})["output"]
    return [(str(r["feedetl_sn"]), str(r["vali_flag"])) for r in out]


def visit_ref(psn_no: str, mdtrt_id: str, **extra: str) -> dict[str, Any]:
    return {"data": {"mdtrt_id": mdtrt_id, "psn_no": psn_no, **extra}}


# ---------------------------------------------------------------- pharmacy


def test_pharmacy_purchase(pharmacy: HisClient, http: TestClient, db: Database) -> None:
    # amoxicillin 21.84 (甲类) and a statin 88.20 (乙类): 110.04, all from the account
    purchase = pharmacy_data(WORKER, "110.04", line("1", "", WORKER, AMOXICILLIN, "42", "0.52"),
                             line("2", "", WORKER, STATIN, "28", "3.15"))  # fmt: skip
    before = row_counts(db)
    pre = pharmacy.call("2101", purchase)["setlinfo"]
    assert pre["setl_id"] is None
    assert amounts(pre, "hifp_pay", "acct_pay", "balc") == ("0.00", "110.04", "4889.96")
    assert row_counts(db) == before  # a pre-settlement writes nothing, not even its visit

    done = pharmacy.call("2102", purchase)
    info = done["setlinfo"]
    assert amounts(info, "medfee_sumamt", "hifp_pay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "balc") == (
        "110.04", "0.00", "0.00", "110.04", "0.00", "4889.96",
    )  # fmt: skip
    assert (info["med_type"], info["clr_type"]) == ("41", "41")
    assert {d["fund_pay_type"]: str(d["fund_payamt"]) for d in done["setldetail"]}["310200"] == "110.04"
    assert balance(pharmacy, WORKER) == "4889.96"
    assert ledger_problems(db) == []

    hospital = his_at(http, "H44010600001")
    reverse = {"data": {"setl_id": info["setl_id"], "psn_no": WORKER}}
    assert refusal(hospital, "2103", reverse).startswith("input.data.setl_id: ")  # not the hospital's
    assert refusal(pharmacy, "2208", reverse).startswith("input.data.setl_id: ")  # not an outpatient settlement
    back = pharmacy.call("2103", reverse)["setlinfo"]
    assert amounts(back, "medfee_sumamt", "acct_pay", "balc") == ("-110.04", "-110.04", "5000.00")
    assert balance(pharmacy, WORKER) == "5000.00"
    assert refusal(pharmacy, "2103", reverse).startswith("input.data.setl_id: ")  # already reversed
    assert ledger_problems(db) == []

    # a purchase whose answer was lost, corrected by 2601
    pharmacy.call("2102", purchase, msgid="P44010600001-lost-1")
    assert balance(pharmacy, WORKER) == "4889.96"
    correction = {"data": {"psn_no": WORKER, "omsgid": "P44010600001-lost-1", "oinfno": "2102"}}
    assert pharmacy.call("2601", correction)["data"]["revs_flag"] == "1"
    assert balance(pharmacy, WORKER) == "5000.00"
    assert ledger_problems(db) == []

    before = row_counts(db)
    tea = line("1", "", WORKER, NON_CATALOGUE_TEA, "1", "10")
    assert refusal(pharmacy, "2102", pharmacy_data(WORKER, "10.01", tea)).startswith("input.data.medfee_sumamt: ")
    twice = pharmacy_data(WORKER, "20", tea, line("1", "", WORKER, NON_CATALOGUE_TEA, "1", "10"))
    assert refusal(pharmacy, "2102", twice).startswith("input.feedetail[1].feedetl_sn: ")
    suspended = pharmacy_data(SUSPENDED, "10", line("1", "", SUSPENDED, NON_CATALOGUE_TEA, "1", "10"))
    assert refusal(pharmacy, "2102", suspended).startswith("input.data.psn_no: ")
    assert refusal(pharmacy, "2102", pharmacy_data(WORKER, "0")).startswith("input.feedetail")
    assert row_counts(db) == before


# ---------------------------------------------------------------- outpatient visits


def test_cancelling_a_registration(hospital: HisClient, db: Database) -> None:
    mdtrt_id = register(hospital, RETIREE)
    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"))
    hospital.call("2202", visit_ref(RETIREE, mdtrt_id))
    assert visits_of(hospital, RETIREE)[0]["vali_flag"] == "0"
    assert lines_of(hospital, RETIREE, mdtrt_id) == [("1", "0")]
    assert refusal(hospital, "2202", visit_ref(RETIREE, mdtrt_id)).startswith("input.data.mdtrt_id: ")
    assert refusal(hospital, "2207", settle_data(RETIREE, mdtrt_id, "21.84")).startswith("input.data.mdtrt_id: ")

    settled = register(hospital, RETIREE)
    upload(hospital, line("1", settled, RETIREE, AMOXICILLIN, "42", "0.52"))
    setl_id = hospital.call("2207", settle_data(RETIREE, settled, "21.84"))["setlinfo"]["setl_id"]
    assert refusal(hospital, "2202", visit_ref(RETIREE, settled)).startswith("input.data.mdtrt_id: ")
    hospital.call("2208", {"data": {"setl_id": setl_id, "mdtrt_id": settled, "psn_no": RETIREE}})
    hospital.call("2202", visit_ref(RETIREE, settled))  # once the settlement is reversed
    assert [v["vali_flag"] for v in visits_of(hospital, RETIREE)] == ["0", "0"]
    assert balance(hospital, RETIREE) == "3200.00"
    assert ledger_problems(db) == []


def test_visit_information_changes_the_med_type(hospital: HisClient) -> None:
    mdtrt_id = register(hospital, RETIREE)
    info: dict[str, Any] = {
        "mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": RETIREE, "med_type": "13", "dise_codg": "J06.900",
                      "dise_name": "急性上呼吸道感染"},
        "diseinfo": [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "急性上呼吸道感染",
                      "maindiag_flag": "1", "diag_dept": "A03", "dise_dor_no": "D440106000001"}],
    }  # fmt: skip
    hospital.call("2203", info)
    (visit,) = visits_of(hospital, RETIREE)
    assert (visit["med_type"], visit["dise_codg"]) == ("13", "J06.900")
    diseinfo = hospital.call("5202", {"data": {"psn_no": RETIREE, "mdtrt_id": mdtrt_id}})["diseinfo"]
    assert [(d["diag_code"], d["maindiag_flag"]) for d in diseinfo] == [("J06.900", "1")]

    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"))
    done = hospital.call("2207", settle_data(RETIREE, mdtrt_id, "21.84", med_type=""))["setlinfo"]
    assert done["med_type"] == "13"  # the visit's, as 2203 set it
    assert str(done["hifp_pay"]) == "9.83"  # 13 is paid like 11: 21.84 × 45%

    assert refusal(hospital, "2203", {"mdtrtinfo": {**info["mdtrtinfo"], "psn_no": WORKER}}).startswith(
        "input.mdtrtinfo.psn_no: "
    )


def test_cancelling_outpatient_lines_by_batch_and_all(hospital: HisClient, db: Database) -> None:
    mdtrt_id = register(hospital, WORKER)
    upload(hospital, line("1", mdtrt_id, WORKER, AMOXICILLIN, "42", "0.52", batch="B1"),
           line("2", mdtrt_id, WORKER, BLOOD_TEST, "3", "25", batch="B1"),
           line("3", mdtrt_id, WORKER, NON_CATALOGUE_TEA, "1", "10", batch="B2"))  # fmt: skip
    hospital.call("2205", visit_ref(WORKER, mdtrt_id, chrg_bchno="B1"))
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "0"), ("2", "0"), ("3", "1")]
    assert refusal(hospital, "2207", settle_data(WORKER, mdtrt_id, "106.84", chrg_bchno="0000")).startswith(
        "input.data.medfee_sumamt: "
    )

    upload(hospital, line("1", mdtrt_id, WORKER, AMOXICILLIN, "42", "0.52", batch="B3"))  # its number is free again
    hospital.call("2205", visit_ref(WORKER, mdtrt_id, chrg_bchno="0000"))
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "0"), ("1", "0"), ("2", "0"), ("3", "0")]
    err = refusal(hospital, "2207", settle_data(WORKER, mdtrt_id, "0", chrg_bchno="0000"))
    assert err.startswith("input.data.mdtrt_id: ")  # nothing left to settle
    assert row_counts(db)["settlement"] == 0


# ---------------------------------------------------------------- inpatient stays


def test_cancelling_inpatient_lines_one_and_all(hospital: HisClient) -> None:
    mdtrt_id = admit(hospital, WORKER, days_ago=3)
    upload(hospital, line("1", mdtrt_id, WORKER, BED, "3", "60"), line("2", mdtrt_id, WORKER, BLOOD_TEST, "3", "25"),
           line("3", mdtrt_id, WORKER, AMOXICILLIN, "42", "0.52"), infno="2301")  # fmt: skip
    hospital.call("2302", {"data": [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": WORKER}]})
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "0"), ("2", "1"), ("3", "1")]
    err = refusal(hospital, "2302", {"data": [{"feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": WORKER}]})
    assert err.startswith("input.data.feedetl_sn: ")
    hospital.call("2302", {"data": {"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": WORKER}})
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "0"), ("2", "0"), ("3", "0")]
    outpatient = register(hospital, WORKER)
    err = refusal(hospital, "2302", {"data": [{"feedetl_sn": "0000", "mdtrt_id": outpatient, "psn_no": WORKER}]})
    assert err.startswith("input.data.mdtrt_id: ")  # an outpatient visit's lines go by 2205


def test_changing_and_cancelling_an_admission(hospital: HisClient) -> None:
    mdtrt_id = admit(hospital, WORKER, days_ago=1)
    change = {"adminfo": {"mdtrt_id": mdtrt_id, "psn_no": WORKER, "med_type": "22", "adm_dept_codg": "A05",
                          "adm_dept_name": "骨科", "dise_codg": "S72.000", "dise_name": "股骨颈骨折"}}  # fmt: skip
    hospital.call("2403", change)
    (stay,) = visits_of(hospital, WORKER)
    assert (stay["med_type"], stay["dise_codg"], stay["vali_flag"]) == ("22", "S72.000", "1")

    upload(hospital, line("1", mdtrt_id, WORKER, BED, "1", "60"), infno="2301")
    assert refusal(hospital, "2404", visit_ref(WORKER, mdtrt_id)).startswith("input.data.mdtrt_id: ")
    hospital.call("2302", {"data": [{"feedetl_sn": "0000", "mdtrt_id": mdtrt_id, "psn_no": WORKER}]})
    hospital.call("2404", visit_ref(WORKER, mdtrt_id))
    assert visits_of(hospital, WORKER)[0]["vali_flag"] == "0"
    assert refusal(hospital, "2403", change).startswith("input.adminfo.mdtrt_id: ")
    assert refusal(hospital, "2404", visit_ref(WORKER, mdtrt_id)).startswith("input.data.mdtrt_id: ")
    admit(hospital, WORKER, days_ago=0, ipt_no="ZY0002")  # no stay is open any more


def test_discharge_and_its_undoing(hospital: HisClient) -> None:
    mdtrt_id = admit(hospital, WORKER, days_ago=5)
    assert refusal(hospital, "2405", visit_ref(WORKER, mdtrt_id)).startswith("input.data.mdtrt_id: ")  # not out yet
    too_early = discharge_data(WORKER, mdtrt_id, endtime="2000-01-01 00:00:00")
    assert refusal(hospital, "2402", too_early).startswith("input.dscginfo.endtime: ")
    hospital.call("2402", discharge_data(WORKER, mdtrt_id))
    (stay,) = visits_of(hospital, WORKER)
    assert stay["endtime"] is not None
    assert refusal(hospital, "2402", discharge_data(WORKER, mdtrt_id)).startswith("input.dscginfo.mdtrt_id: ")
    assert refusal(hospital, "2301", {"feedetail": [line("1", mdtrt_id, WORKER, BED, "1", "60")]}).startswith(
        "input.feedetail[0].mdtrt_id: "
    )

    hospital.call("2405", visit_ref(WORKER, mdtrt_id))
    (stay,) = visits_of(hospital, WORKER)
    assert (stay["endtime"], stay["vali_flag"]) == (None, "1")
    upload(hospital, line("1", mdtrt_id, WORKER, BED, "1", "60"), infno="2301")  # in hospital again


# ---------------------------------------------------------------- queries


def test_queries_of_a_settled_visit(http: TestClient, hospital: HisClient) -> None:
    mdtrt_id = register(hospital, RETIREE)
    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"),
           line("2", mdtrt_id, RETIREE, NON_CATALOGUE_TEA, "1", "10"))  # fmt: skip
    done = hospital.call("2207", settle_data(RETIREE, mdtrt_id, "31.84"))["setlinfo"]
    names = ("medfee_sumamt", "fulamt_ownpay_amt", "inscp_scp_amt", "hifp_pay", "acct_pay", "balc")
    assert amounts(done, *names) == ("31.84", "10.00", "21.84", "9.83", "22.01", "3177.99")

    query = {"data": {"psn_no": RETIREE, "setl_id": done["setl_id"]}}
    stored = hospital.call("5203", query)
    assert amounts(stored["setlinfo"], *names) == amounts(done, *names)
    assert (stored["setlinfo"]["mdtrt_id"], stored["setlinfo"]["refd_setl_flag"]) == (mdtrt_id, "0")
    assert {d["fund_pay_type"]: str(d["fund_payamt"]) for d in stored["setldetail"]} == {
        "310100": "9.83",
        "310200": "22.01",
    }
    other = his_at(http, "H44010600004")
    assert refusal(other, "5203", query).startswith("input.data.setl_id: ")
    assert refusal(hospital, "5203", {"data": {"psn_no": WORKER, "setl_id": done["setl_id"]}}).startswith(
        "input.data.setl_id: "
    )

    fees = hospital.call("5204", {"data": {"psn_no": RETIREE, "mdtrt_id": mdtrt_id}})["output"]
    assert [(f["feedetl_sn"], f["chrgitm_lv"], str(f["inscp_scp_amt"]), str(f["fulamt_ownpay_amt"])) for f in fees] == [
        ("1", "01", "21.84", "0.00"),
        ("2", "03", "0.00", "10.00"),
    ]
    assert {f["setl_id"] for f in fees} == {done["setl_id"]}
    assert refusal(other, "5204", {"data": {"psn_no": RETIREE, "mdtrt_id": mdtrt_id}}).startswith(
        "input.data.mdtrt_id: "
    )

    cum = hospital.call("5206", {"data": {"psn_no": RETIREE}})["cuminfo"]
    totals = {c["cum_type_code"]: str(c["cum"]) for c in cum}
    assert totals["outpatient_year"] == "9.83"  # what the pooled fund paid towards the 3,600 a year
    assert hospital.call("5206", {"data": {"psn_no": RETIREE, "cum_ym": "200001"}})["cuminfo"] == []
    assert hospital.call("5206", {"data": {"psn_no": WORKER}})["cuminfo"] == []
    assert refusal(hospital, "5206", {"data": {"psn_no": "44010000000000099999"}}).startswith("input.data.psn_no: ")

    visits = visits_of(hospital, RETIREE)
    assert [(v["mdtrt_id"], v["vali_flag"], v["fixmedins_code"]) for v in visits] == [(mdtrt_id, "1", "H44010600001")]
    assert visits_of(other, RETIREE) == []  # only the caller's own visits


def test_diagnoses_of_a_stay(hospital: HisClient, http: TestClient) -> None:
    mdtrt_id = admit(hospital, WORKER, days_ago=2)
    diseinfo = hospital.call("5202", {"data": {"psn_no": WORKER, "mdtrt_id": mdtrt_id}})["diseinfo"]
    assert [(d["diag_code"], d["diag_name"], d["maindiag_flag"]) for d in diseinfo] == [("K35.800", "急性阑尾炎", "1")]
    assert refusal(hospital, "5202", {"data": {"psn_no": WORKER}}).startswith("input.data.mdtrt_id: ")
    other = his_at(http, "H44010600004")
    assert refusal(other, "5202", {"data": {"psn_no": WORKER, "mdtrt_id": mdtrt_id}}).startswith(
        "input.data.mdtrt_id: "
    )
    # a discharge with diagnoses replaces them
    hospital.call("2402", {**discharge_data(WORKER, mdtrt_id),
                           "diseinfo": [{"diag_type": "1", "diag_srt_no": 1, "diag_code": "K35.300",
                                         "diag_name": "急性阑尾炎伴局限性腹膜炎", "maindiag_flag": "1"},
                                        {"diag_type": "1", "diag_srt_no": 2, "diag_code": "E11.900",
                                         "diag_name": "2型糖尿病", "maindiag_flag": "0"}]})  # fmt: skip
    diseinfo = hospital.call("5202", {"data": {"psn_no": WORKER, "mdtrt_id": mdtrt_id}})["diseinfo"]
    assert [d["diag_code"] for d in diseinfo] == ["K35.300", "E11.900"]


def test_institution_information_and_benefit_check(hospital: HisClient) -> None:
    (suspended,) = hospital.call("1201", {"medinsinfo": {"fixmedins_code": "H44010600009"}})["medinsinfo"]
    assert (suspended["fixmedins_stas"], suspended["hosp_lv"]) == ("0", "2")
    pharmacies = hospital.call("1201", {"medinsinfo": {"fixmedins_type": "2"}})["medinsinfo"]
    assert [p["fixmedins_code"] for p in pharmacies] == ["P44010600001"]
    assert hospital.call("1201", {"medinsinfo": {"fixmedins_code": "H00000000000"}})["medinsinfo"] == []

    def check(psn_no: str, insutype: str = "310", med_type: str = "11") -> tuple[str, str]:
        (trt,) = hospital.call("2001", {"data": {"psn_no": psn_no, "insutype": insutype, "med_type": med_type,
                                                 "begntime": now_text()}})["trtinfo"]  # fmt: skip
        assert trt["psn_no"] == psn_no
        return str(trt["trt_enjymnt_flag"]), str(trt["trt_chk_rslt"])

    assert check(RETIREE)[0] == "1"
    assert check(WORKER, med_type="21")[0] == "1"
    flag, reason = check(SUSPENDED)
    assert flag == "0" and "暂停" in reason
    assert check(RESIDENT, "390")[0] == "0"  # no resident policy is loaded
    assert check(RETIREE, "390")[0] == "0"  # not insured as a resident
    assert refusal(hospital, "2001", {"data": {"psn_no": "44010000000000099999", "insutype": "310",
                                               "med_type": "11"}}).startswith("input.data.psn_no: ")  # fmt: skip


# ---------------------------------------------------------------- clearing


def test_clearing_application_and_its_cancellation(hospital: HisClient, http: TestClient, db: Database) -> None:
    mdtrt_id = register(hospital, RETIREE)
    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"),
           line("2", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25"))  # fmt: skip
    hospital.call("2207", settle_data(RETIREE, mdtrt_id, "96.84"))  # fund 43.58, account 53.26
    today = local_today()
    month = today.replace(day=1)
    application = {"clr_type": "11", "setlym": f"{today:%Y%m}", "psntime": 1, "medfee_sumamt": "96.84",
                   "fund_appy_sum": "43.58", "cash_payamt": "0", "acct_pay": "53.26",
                   "begndate": month.isoformat(), "enddate": today.isoformat(), "clr_way": "1"}  # fmt: skip
    before = row_counts(db)
    wrong = {**application, "fund_appy_sum": "43.59"}
    err = refusal(hospital, "3203", {"data": wrong})
    assert err.startswith("input.data.fund_appy_sum: ") and "43.58" in err
    assert refusal(hospital, "3203", {"data": {**application, "setlym": "2024-1"}}).startswith("input.data.setlym: ")
    earlier = (month - timedelta(days=1)).isoformat()
    assert refusal(hospital, "3203", {"data": {**application, "begndate": earlier}}).startswith("input.data.begndate: ")
    assert row_counts(db) == before

    evt = hospital.call("3203", {"data": application})["result"]["clr_appy_evt_id"]
    assert evt
    assert refusal(hospital, "3203", {"data": application}).startswith("input.data.setlym: ")  # one a month
    assert row_counts(db)["clearing_application"] == before["clearing_application"] + 1

    other = his_at(http, "H44010600004")
    assert refusal(other, "3204", {"data": {"clr_appy_evt_id": evt}}).startswith("input.data.clr_appy_evt_id: ")
    hospital.call("3204", {"data": {"clr_appy_evt_id": evt, "clr_type": "11"}})
    assert refusal(hospital, "3204", {"data": {"clr_appy_evt_id": evt}}).startswith("input.data.clr_appy_evt_id: ")
    again = hospital.call("3203", {"data": application})["result"]["clr_appy_evt_id"]  # applied anew once cancelled
    assert again != evt
