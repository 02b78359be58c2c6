"""Refusals and 冲正 (2601) through the interface.

A refused message is answered infcode -1 with the field it is about, and writes nothing at all: every
table holds as many rows afterwards as before. 2601 undoes what an earlier message did, exactly once,
and answers success when there is nothing to undo.
"""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import update

from tests.flows import (
    AMOXICILLIN,
    BLOOD_TEST,
    NON_CATALOGUE_TEA,
    PEOPLE,
    RESIDENT,
    RETIREE,
    SUSPENDED,
    WORKER,
    amounts,
    balance,
    certno,
    ledger_problems,
    line,
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
from yibao.store.tables import institution


def registration(psn_no: str, insutype: str = "310") -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "insutype": insutype, "begntime": now_text(), "mdtrt_cert_type": "02",
                     "mdtrt_cert_no": certno(psn_no) if psn_no in PEOPLE else "440106199901010000",
                     "ipt_otp_no": "MZ0001", "dept_code": "A03", "dept_name": "内科"}}  # fmt: skip


def correction(psn_no: str, omsgid: str, oinfno: str) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "omsgid": omsgid, "oinfno": oinfno}}


def lines_of(his: HisClient, psn_no: str, mdtrt_id: str) -> list[tuple[str, str]]:
    """5204: (feedetl_sn, vali_flag) of every line of the visit, cancelled ones included."""
    out = his.call("5204", {"data": {"psn_no": psn_no, "mdtrt_id": mdtrt_id}})["output"]
    return [(str(r["feedetl_sn"]), str(r["vali_flag"])) for r in out]


# ---------------------------------------------------------------- refusals write nothing


def test_registrations_that_are_refused(http: TestClient, hospital: HisClient, db: Database) -> None:
    suspended_hospital, pharmacy = his_at(http, "H44010600009"), his_at(http, "P44010600001")  # both signed in
    before = row_counts(db)
    unknown = "44010000000000099999"
    assert refusal(hospital, "2201", registration(unknown)).startswith("input.data.psn_no: ")
    assert refusal(hospital, "2201", registration(SUSPENDED)).startswith("input.data.psn_no: ")  # 参保暂停
    wrong_card = {"data": {**registration(RETIREE)["data"], "mdtrt_cert_no": certno(WORKER)}}
    assert refusal(hospital, "2201", wrong_card).startswith("input.data.mdtrt_cert_no: ")
    assert refusal(hospital, "2201", registration(RETIREE, "390")).startswith("input.data.insutype: ")
    assert refusal(suspended_hospital, "2201", registration(RETIREE)).startswith("fixmedins_code: ")
    stranger = HisClient("", "H99999999999", client=http)  # no such institution: it cannot even sign in
    assert refusal(stranger, "9001", {"signIn": {"opter_no": "001"}}).startswith("fixmedins_code: ")
    assert refusal(stranger, "2201", registration(RETIREE)) == "sign_no: 未签到，请先签到(9001)"
    assert refusal(pharmacy, "2201", registration(RETIREE)).startswith("infno: ")
    stay = {"mdtrtinfo": {"psn_no": RETIREE, "insutype": "310", "begntime": now_text(), "mdtrt_cert_type": "02",
                          "mdtrt_cert_no": certno(RETIREE), "med_type": "21", "ipt_no": "ZY1"}}  # fmt: skip
    assert refusal(pharmacy, "2401", stay).startswith("infno: ")
    assert refusal(hospital, "2401", {"mdtrtinfo": {**stay["mdtrtinfo"], "med_type": "11"}}).startswith(
        "input.mdtrtinfo.med_type: "
    )
    assert row_counts(db) == before


def test_a_fee_batch_with_one_bad_line_is_refused_whole(hospital: HisClient, db: Database) -> None:
    mdtrt_id = register(hospital, RETIREE)
    before = row_counts(db)
    bad = {**line("3", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25"), "det_item_fee_sumamt": "70"}
    err = refusal(hospital, "2204", {"feedetail": [line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"),
                                                   line("2", mdtrt_id, RETIREE, NON_CATALOGUE_TEA, "1", "10"),
                                                   bad]})  # fmt: skip
    assert err.startswith("input.feedetail[2].det_item_fee_sumamt: ")
    zero = line("1", mdtrt_id, RETIREE, AMOXICILLIN, "0", "0.52")
    assert refusal(hospital, "2204", {"feedetail": [zero]}).startswith("input.feedetail[0].cnt: ")
    twice = [
        line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"),
        line("1", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25"),
    ]
    assert refusal(hospital, "2204", {"feedetail": twice}).startswith("input.feedetail[1].feedetl_sn: ")
    assert row_counts(db) == before
    assert lines_of(hospital, RETIREE, mdtrt_id) == []

    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"))
    stored = row_counts(db)
    again = [line("2", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25"), line("1", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25")]
    assert refusal(hospital, "2204", {"feedetail": again}).startswith("input.feedetail[1].feedetl_sn: ")
    someone_else = line("2", mdtrt_id, WORKER, BLOOD_TEST, "3", "25")
    assert refusal(hospital, "2204", {"feedetail": [someone_else]}).startswith("input.feedetail[0].psn_no: ")
    assert row_counts(db) == stored
    assert lines_of(hospital, RETIREE, mdtrt_id) == [("1", "1")]


def test_settlements_that_are_refused(http: TestClient, hospital: HisClient, db: Database) -> None:
    mdtrt_id = register(hospital, RETIREE)
    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"))
    other_hospital = his_at(http, "H44010600004")
    before = row_counts(db)
    assert refusal(hospital, "2207", settle_data(RETIREE, mdtrt_id, "21.85")).startswith("input.data.medfee_sumamt: ")
    assert refusal(hospital, "2207", settle_data(WORKER, mdtrt_id, "21.84")).startswith("input.data.psn_no: ")
    assert refusal(hospital, "2207", settle_data(RETIREE, mdtrt_id, "21.84", insutype="390")).startswith(
        "input.data.insutype: "
    )
    assert refusal(other_hospital, "2207", settle_data(RETIREE, mdtrt_id, "21.84")).startswith("input.data.mdtrt_id: ")
    assert refusal(other_hospital, "2206", settle_data(RETIREE, mdtrt_id, "21.84")).startswith("input.data.mdtrt_id: ")
    err = refusal(other_hospital, "2204", {"feedetail": [line("2", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25")]})
    assert err.startswith("input.feedetail[0].mdtrt_id: ")
    assert (
        refusal(hospital, "2102", pharmacy_data(RETIREE, "21.84", line("1", "", RETIREE, AMOXICILLIN, "42", "0.52")))[
            :6
        ]
        == "infno:"
    )
    assert row_counts(db) == before
    assert balance(hospital, RETIREE) == "3200.00"


def test_a_resident_without_a_policy_cannot_settle(hospital: HisClient, db: Database) -> None:
    """黄小宝 is insured as a resident (390); no Guangzhou resident policy is loaded."""
    mdtrt_id = hospital.call("2201", registration(RESIDENT, "390"))["data"]["mdtrt_id"]
    upload(hospital, line("1", mdtrt_id, RESIDENT, AMOXICILLIN, "10", "0.52"))
    before = row_counts(db)
    data = settle_data(RESIDENT, mdtrt_id, "5.20", insutype="390")
    assert refusal(hospital, "2206", data).startswith("input.data.insutype: ")
    err = refusal(hospital, "2207", data)
    assert err.startswith("input.data.insutype: ") and "390" in err
    assert row_counts(db) == before
    assert lines_of(hospital, RESIDENT, mdtrt_id) == [("1", "1")]  # still there, waiting to be settled


# ---------------------------------------------------------------- 2601 冲正


def test_correcting_a_settlement_reverses_it_once(hospital: HisClient, db: Database) -> None:
    mdtrt_id = register(hospital, RETIREE)
    upload(
        hospital,
        line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"),
        line("2", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25"),
    )
    msgid = "H44010600001-lost-answer-1"
    done = hospital.call("2207", settle_data(RETIREE, mdtrt_id, "96.84"), msgid=msgid)["setlinfo"]
    assert balance(hospital, RETIREE) == "3146.74"

    out = hospital.call("2601", correction(RETIREE, msgid, "2207"))["data"]
    assert (out["omsgid"], out["revs_flag"]) == (msgid, "1")
    assert balance(hospital, RETIREE) == "3200.00"
    assert ledger_problems(db) == []
    corrected = row_counts(db)
    assert corrected["settlement"] == 2  # the settlement and its reversal

    hospital.call("2601", correction(RETIREE, msgid, "2207"))  # the HIS is not sure it went through
    assert balance(hospital, RETIREE) == "3200.00"
    after = row_counts(db)
    assert after["message_log"] == corrected["message_log"] + 1
    assert {k: v for k, v in after.items() if k != "message_log"} == {
        k: v for k, v in corrected.items() if k != "message_log"
    }
    reversed_ = {"data": {"setl_id": done["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": RETIREE}}
    assert refusal(hospital, "2208", reversed_).startswith("input.data.setl_id: ")

    # the lines are free again: the visit settles anew, at the same amounts
    again = hospital.call("2207", settle_data(RETIREE, mdtrt_id, "96.84"))["setlinfo"]
    assert amounts(again, "hifp_pay", "acct_pay", "balc") == amounts(done, "hifp_pay", "acct_pay", "balc")
    assert ledger_problems(db) == []


def test_corrections_with_nothing_to_undo_and_refused_ones(http: TestClient, hospital: HisClient, db: Database) -> None:
    mdtrt_id = register(hospital, RETIREE)
    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"))
    refused_msgid = "H44010600001-refused-1"
    assert refusal(hospital, "2207", settle_data(RETIREE, mdtrt_id, "1.00"), msgid=refused_msgid)
    registered = "H44010600001-registration-1"
    hospital.call("2201", registration(WORKER), msgid=registered)
    other_hospital = his_at(http, "H44010600004")
    before = row_counts(db)

    # never received, or refused: nothing to undo, and success
    for omsgid in ("H44010600001-never-sent", refused_msgid):
        out = hospital.call("2601", correction(RETIREE, omsgid, "2207"))["data"]
        assert (out["omsgid"], out["revs_flag"]) == (omsgid, "0")
    # another institution's message of the same msgid is not this one's to correct
    out = other_hospital.call("2601", correction(WORKER, registered, "2201"))["data"]
    assert out["revs_flag"] == "0"
    assert row_counts(db) == {**before, "message_log": before["message_log"] + 3}  # only the 2601s themselves

    assert refusal(hospital, "2601", correction(WORKER, registered, "2207")).startswith("input.data.oinfno: ")
    assert refusal(hospital, "2601", correction(WORKER, registered, "2206")).startswith("input.data.oinfno: ")
    assert refusal(hospital, "2601", {"data": {"psn_no": WORKER, "omsgid": registered}}).startswith(
        "input.data.oinfno: "
    )
    assert row_counts(db) == {**before, "message_log": before["message_log"] + 3}
    assert [v["vali_flag"] for v in hospital.call("5201", {"data": {"psn_no": WORKER}})["mdtrtinfo"]] == ["1"]
    assert balance(hospital, RETIREE) == "3200.00"


def test_correcting_a_registration_cancels_it(hospital: HisClient) -> None:
    msgid = "H44010600001-registration-2"
    mdtrt_id = hospital.call("2201", registration(WORKER), msgid=msgid)["data"]["mdtrt_id"]
    upload(hospital, line("1", mdtrt_id, WORKER, AMOXICILLIN, "42", "0.52"))
    assert hospital.call("2601", correction(WORKER, msgid, "2201"))["data"]["revs_flag"] == "1"
    assert hospital.call("5201", {"data": {"psn_no": WORKER}})["mdtrtinfo"][0]["vali_flag"] == "0"
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "0")]
    assert refusal(hospital, "2204", {"feedetail": [line("2", mdtrt_id, WORKER, BLOOD_TEST, "3", "25")]}).startswith(
        "input.feedetail[0].mdtrt_id: "
    )
    assert hospital.call("2601", correction(WORKER, msgid, "2201"))["data"]["revs_flag"] == "1"  # still cancelled


def test_correcting_an_upload_cancels_only_its_own_unsettled_lines(hospital: HisClient, db: Database) -> None:
    mdtrt_id = register(hospital, WORKER)
    first, second = "H44010600001-upload-1", "H44010600001-upload-2"
    hospital.call("2204", {"feedetail": [line("1", mdtrt_id, WORKER, AMOXICILLIN, "42", "0.52")]}, msgid=first)
    hospital.call("2204", {"feedetail": [line("2", mdtrt_id, WORKER, BLOOD_TEST, "3", "25"),
                                         line("3", mdtrt_id, WORKER, NON_CATALOGUE_TEA, "1", "10")]},
                  msgid=second)  # fmt: skip
    assert hospital.call("2601", correction(WORKER, second, "2204"))["data"]["revs_flag"] == "1"
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "1"), ("2", "0"), ("3", "0")]

    # the HIS uploads line 2 again under its old number, then repeats the correction it was unsure of
    upload(hospital, line("2", mdtrt_id, WORKER, BLOOD_TEST, "3", "25"))
    hospital.call("2601", correction(WORKER, second, "2204"))
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "1"), ("2", "0"), ("2", "1"), ("3", "0")]

    done = hospital.call("2207", settle_data(WORKER, mdtrt_id, "96.84"))["setlinfo"]
    assert str(done["medfee_sumamt"]) == "96.84"
    hospital.call("2601", correction(WORKER, first, "2204"))  # settled lines are not the upload's to take back
    assert lines_of(hospital, WORKER, mdtrt_id) == [("1", "1"), ("2", "0"), ("2", "1"), ("3", "0")]
    assert ledger_problems(db) == []


def test_a_suspended_institution_can_only_give_money_back(hospital: HisClient, db: Database) -> None:
    """Its agreement suspended after the visit began: no more fees or settlements, but reversals go through."""
    settled = register(hospital, RETIREE, ipt_otp_no="MZS1")
    upload(hospital, line("1", settled, RETIREE, AMOXICILLIN, "10", "0.52"))
    setl_id = hospital.call("2207", settle_data(RETIREE, settled, "5.20"))["setlinfo"]["setl_id"]
    pending = register(hospital, RETIREE, ipt_otp_no="MZS2")
    with db.engine.begin() as conn:
        conn.execute(update(institution).where(institution.c.fixmedins_code == "H44010600001").values(status="0"))
    before = row_counts(db)
    assert refusal(hospital, "2204", {"feedetail": [line("1", pending, RETIREE, AMOXICILLIN, "1", "0.52")]}).startswith(
        "fixmedins_code: "
    )
    assert refusal(hospital, "2207", settle_data(RETIREE, pending, "0.52")).startswith("fixmedins_code: ")
    assert row_counts(db) == before
    hospital.call("2208", {"data": {"setl_id": setl_id, "mdtrt_id": settled, "psn_no": RETIREE}})
    assert ledger_problems(db) == []


def test_visit_information_cannot_change_a_settled_visit(hospital: HisClient) -> None:
    mdtrt_id = register(hospital, RETIREE, ipt_otp_no="MZV1")
    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "10", "0.52"))
    hospital.call("2207", settle_data(RETIREE, mdtrt_id, "5.20"))
    err = refusal(hospital, "2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": RETIREE, "med_type": "14"}})
    assert err.startswith("input.mdtrtinfo.mdtrt_id: ") and "已有结算" in err
