"""The envelope as real HIS clients send it, and the idempotency of messages by (fixmedins_code, msgid).

Real clients send numbers as strings and strings as numbers, "1" or "V1.0" for infver, regional
extra fields, empty strings for absent optional fields, infno with a letter suffix and ``input`` as a
JSON string; all of that must settle exactly as the textbook envelope does. What cannot be read is
answered infcode -1 (HTTP 200) with the field named.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import simplejson
from fastapi.testclient import TestClient
from sqlalchemy import text

from tests.flows import (
    AMOXICILLIN,
    BLOOD_TEST,
    RETIREE,
    WORKER,
    amounts,
    balance,
    certno,
    ledger_problems,
    line,
    now_text,
    register,
    row_counts,
    settle_data,
    upload,
)
from tests.integration.conftest import his_at
from yibao.api.fsi.dispatch import Dispatcher
from yibao.api.fsi.envelope import body_hash, legacy_body_hash
from yibao.sim.his import HisClient
from yibao.store.database import Database

SETTLE_PATH = "/fsi/api/outpatientSettleService/saveSettletmentV2"
REGISTER_PATH = "/fsi/api/outpatientDocInfoService/outpatientRregistration"
# the retiree's visit of test_settlement_flows: 96.84 in the policy range, 45% of it from the fund
EXPECTED = ("96.84", "43.58", "53.26", "0.00", "3146.74")
NAMES = ("medfee_sumamt", "hifp_pay", "acct_pay", "psn_cash_pay", "balc")


def raw_post(http: TestClient, body: bytes | dict[str, Any], path: str = "/fsi/api/callService") -> dict[str, Any]:
    """POST exactly these bytes (or this JSON, floats as JSON numbers); the HTTP status must be 200."""
    content = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    r = http.post(path, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    answer: dict[str, Any] = json.loads(r.content, parse_float=Decimal)
    return answer


def two_lines(mdtrt_id: str, psn_no: str) -> list[dict[str, Any]]:
    return [line("1", mdtrt_id, psn_no, AMOXICILLIN, "42", "0.52"), line("2", mdtrt_id, psn_no, BLOOD_TEST, "3", "25")]


def uploaded_visit(his: HisClient, psn_no: str = RETIREE) -> str:
    """A registered visit with 96.84 of lines uploaded (amoxicillin 21.84, blood tests 75)."""
    mdtrt_id = register(his, psn_no)
    upload(his, *two_lines(mdtrt_id, psn_no))
    return mdtrt_id


# ---------------------------------------------------------------- tolerance


def test_numbers_and_strings_either_way(hospital: HisClient, http: TestClient, db: Database) -> None:
    """Amounts, counts and flags as JSON numbers; codes (infno, ipt_otp_no, chrg_bchno) as JSON numbers."""
    numbered = {"data": {**register_input(RETIREE)["data"], "ipt_otp_no": 20240001}}
    reg = raw_post(http, hospital.envelope("2201", numbered))
    assert reg["infcode"] == 0, reg["err_msg"]
    assert reg["output"]["data"]["ipt_otp_no"] == "20240001"
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    lines = [
        {**ln, "cnt": float(ln["cnt"]), "pric": float(ln["pric"]), "chrg_bchno": 7,
         "det_item_fee_sumamt": float(ln["det_item_fee_sumamt"])}
        for ln in two_lines(mdtrt_id, RETIREE)
    ]  # fmt: skip
    up = raw_post(http, {**hospital.envelope("2204", {"feedetail": lines}), "infno": 2204})
    assert up["infcode"] == 0, up["err_msg"]
    assert [str(r["inscp_scp_amt"]) for r in up["output"]["result"]] == ["21.84", "75.00"]

    data = settle_data(RETIREE, mdtrt_id, "0", chrg_bchno="7")["data"]
    pre = raw_post(http, hospital.envelope("2206", {"data": {**data, "medfee_sumamt": 96.84, "acct_used_flag": 1}}))
    assert pre["infcode"] == 0, pre["err_msg"]
    done = raw_post(http, hospital.envelope("2207", {"data": {**data, "medfee_sumamt": "96.84", "chrg_bchno": 7}}))
    assert done["infcode"] == 0, done["err_msg"]
    assert amounts(done["output"]["setlinfo"], *NAMES) == EXPECTED
    assert amounts(pre["output"]["setlinfo"], "hifp_pay", "acct_pay") == EXPECTED[1:3]
    assert ledger_problems(db) == []


def test_real_client_envelope_variants(hospital: HisClient, http: TestClient) -> None:
    """infver "1", regional extra fields, empty optional strings, input as a JSON string, a service path."""
    empty_optional = {"atddr_no": "", "dr_name": "", "dept_code": "", "dept_name": "", "caty": "", "med_type": ""}
    registration = {"data": {**register_input(RETIREE)["data"], "ipt_otp_no": "MZ0002", **empty_optional}}
    env = hospital.envelope("2201", {})
    env.update(
        infver="1",
        serv_code="GZ-0001",
        serv_sign="c2lnbmF0dXJl",
        enctype="SM4",
        insuplc_admdvs="",
        opter="",
        input=json.dumps(registration, ensure_ascii=False),
    )
    del env["infno"]  # the service path says which transaction this is
    reg = raw_post(http, env, REGISTER_PATH)
    assert reg["infcode"] == 0, reg["err_msg"]
    assert reg["err_msg"] is None
    assert set(reg) >= {"infcode", "inf_refmsgid", "refmsg_time", "respond_time", "err_msg", "output"}
    mdtrt_id = reg["output"]["data"]["mdtrt_id"]
    visit = hospital.call("5201", {"data": {"psn_no": RETIREE}})["mdtrtinfo"][0]
    assert (visit["mdtrt_id"], visit["med_type"], visit["ipt_otp_no"]) == (mdtrt_id, "11", "MZ0002")  # "" → default

    upload(hospital, *two_lines(mdtrt_id, RETIREE))
    pre = hospital.call("2206A", settle_data(RETIREE, mdtrt_id, "96.84", invono="", chrg_bchno=""))
    assert pre["setlinfo"]["setl_id"] is None
    settle_env = hospital.envelope("2207A", settle_data(RETIREE, mdtrt_id, "96.84"))
    settle_env["infver"] = "V1.0"
    done = raw_post(http, settle_env, SETTLE_PATH)  # 2207A on 2207's own path
    assert done["infcode"] == 0, done["err_msg"]
    assert amounts(done["output"]["setlinfo"], *NAMES) == EXPECTED
    assert balance(hospital, RETIREE) == "3146.74"


def test_unreadable_envelopes_and_fields_are_answered_with_the_field(
    hospital: HisClient, http: TestClient, db: Database
) -> None:
    before = row_counts(db)
    mdtrt_id = "440100M0000000000000000000000"
    settle = settle_data(RETIREE, mdtrt_id, "96.84")

    def err(body: bytes | dict[str, Any], path: str = "/fsi/api/callService") -> str:
        answer = raw_post(http, body, path)
        assert answer["infcode"] == -1 and answer["output"] == {}
        return str(answer["err_msg"])

    assert err(b"{not json").startswith("body:")
    assert err(b"\xff\xfe\x00garbage").startswith("body:")
    assert err(b"[1, 2]").startswith("body:")
    assert err(hospital.envelope("2208", settle), SETTLE_PATH).startswith("infno:")  # path says 2207
    assert err(hospital.envelope("9999", settle)).startswith("infno:")
    assert err(hospital.envelope("22O7", settle)).startswith("infno:")
    no_infno = hospital.envelope("2207", settle)
    del no_infno["infno"]
    assert err(no_infno).startswith("infno:")  # the single entry needs it
    no_msgid = hospital.envelope("2207", settle)
    del no_msgid["msgid"]
    assert err(no_msgid).startswith("msgid:")
    assert err({**hospital.envelope("2207", settle), "msgid": ""}).startswith("msgid:")
    assert err({**hospital.envelope("2207", settle), "msgid": "x" * 51}).startswith("msgid:")
    no_code = hospital.envelope("2207", settle)
    del no_code["fixmedins_code"]
    assert err(no_code).startswith("fixmedins_code:")
    assert err({**hospital.envelope("2207", settle), "input": "{broken"}).startswith("input:")
    assert err({**hospital.envelope("2207", settle), "input": [settle]}).startswith("input:")
    assert err(hospital.envelope("2207", {})).startswith("input.data:")

    # inside input: a required field empty, a number that is not one, a list that is not one
    no_begntime = {"data": {**register_input(RETIREE)["data"], "begntime": ""}}
    assert err(hospital.envelope("2201", no_begntime)).startswith("input.data.begntime: ")
    bad_cnt = {**line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"), "cnt": "forty-two"}
    assert err(hospital.envelope("2204", {"feedetail": [bad_cnt]})).startswith("input.feedetail[0].cnt: ")
    assert err(hospital.envelope("2204", {"feedetail": "1"})).startswith("input.feedetail: ")
    assert row_counts(db) == before


# ---------------------------------------------------------------- idempotency


def test_a_repeated_message_is_answered_again_without_settling_twice(hospital: HisClient, db: Database) -> None:
    mdtrt_id = uploaded_visit(hospital)
    env = hospital.envelope("2207", settle_data(RETIREE, mdtrt_id, "96.84"))
    first = hospital.post(env)
    assert first["infcode"] == 0
    after_first = row_counts(db)
    again = hospital.post(env)
    assert again == first  # the very answer, inf_refmsgid and times included
    # input as a JSON string of the same object, another infver, extra fields: still the same message
    respelled = {**env, "input": json.dumps(env["input"]), "infver": "1", "serv_code": "GZ", "enctype": ""}
    assert hospital.post(respelled) == first
    assert row_counts(db) == after_first
    assert after_first["settlement"] == 1
    assert balance(hospital, RETIREE) == "3146.74"

    # the same msgid carrying anything else is refused, and writes nothing
    changed = hospital.post({**env, "input": settle_data(RETIREE, mdtrt_id, "96.84", acct_used_flag="0")})
    assert changed["infcode"] == -1
    assert changed["err_msg"].startswith("msgid:")
    other_infno = hospital.post(hospital.envelope("2208", {"data": {"setl_id": "x", "psn_no": RETIREE}},
                                                  msgid=env["msgid"]))  # fmt: skip
    assert other_infno["infcode"] == -1 and other_infno["err_msg"].startswith("msgid:")
    assert row_counts(db) == after_first
    assert ledger_problems(db) == []


def test_a_message_logged_under_the_earlier_body_hash_is_still_the_same_message(
    hospital: HisClient, db: Database
) -> None:
    """Messages logged before the body hash was written by orjson (2026-11-23) carry simplejson's: a
    retry after the upgrade gets its answer, not "a different body"."""
    mdtrt_id = uploaded_visit(hospital)
    env = hospital.envelope("2207", settle_data(RETIREE, mdtrt_id, "96.84"))
    first = hospital.post(env)
    assert first["infcode"] == 0
    legacy = legacy_body_hash("2207", env["input"])
    assert legacy != body_hash("2207", env["input"])
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE message_log SET body_hash = :h WHERE msgid = :m"), {"h": legacy, "m": env["msgid"]})
    after_first = row_counts(db)
    assert hospital.post(env) == first
    changed = hospital.post({**env, "input": settle_data(RETIREE, mdtrt_id, "96.84", acct_used_flag="0")})
    assert changed["infcode"] == -1 and changed["err_msg"].startswith("msgid:")
    assert row_counts(db) == after_first


def test_msgids_are_per_institution_and_refusals_leave_none_behind(http: TestClient, db: Database) -> None:
    first, second = his_at(http, "H44010600001"), his_at(http, "H44010600004")
    msgid = "H4401060000120240101000000"
    a = first.call("2201", register_input(WORKER), msgid=msgid)["data"]["mdtrt_id"]
    b = second.call("2201", register_input(WORKER), msgid=msgid)["data"]["mdtrt_id"]
    assert a != b

    # a refused message is not recorded: corrected, its msgid carries it
    mdtrt_id = uploaded_visit(first)
    retry = "H4401060000120240101000001"
    wrong = first.post(first.envelope("2207", settle_data(RETIREE, mdtrt_id, "96.83"), msgid=retry))
    assert wrong["infcode"] == -1 and wrong["err_msg"].startswith("input.data.medfee_sumamt:")
    done = first.call("2207", settle_data(RETIREE, mdtrt_id, "96.84"), msgid=retry)
    assert amounts(done["setlinfo"], *NAMES) == EXPECTED
    assert row_counts(db)["settlement"] == 1


def register_input(psn_no: str) -> dict[str, Any]:
    return {"data": {"psn_no": psn_no, "insutype": "310", "begntime": now_text(), "mdtrt_cert_type": "02",
                     "mdtrt_cert_no": certno(psn_no), "ipt_otp_no": "MZ9"}}  # fmt: skip


def test_a_repeated_message_runs_again_and_is_rolled_back(hospital: HisClient, db: Database) -> None:
    """The dispatcher does not look in the message log first: a repeated message runs again, as a duplicate
    running alongside the first would, and loses to the first's log row: the first's answer, nothing twice."""
    dispatcher = Dispatcher(db)
    registration = simplejson.dumps(hospital.envelope("2201", register_input(WORKER))).encode()
    first = dispatcher.handle(registration)
    after_first = row_counts(db)
    assert dispatcher.handle(registration) == first  # its own visit was rolled back when the log said "taken"
    assert row_counts(db) == after_first

    # this one waited for the person's lock; by then the first had settled the lines
    mdtrt_id = uploaded_visit(hospital)
    settlement = simplejson.dumps(hospital.envelope("2207", settle_data(RETIREE, mdtrt_id, "96.84"))).encode()
    first = dispatcher.handle(settlement)
    assert isinstance(first, str) and json.loads(first)["infcode"] == 0
    after_first = row_counts(db)
    assert dispatcher.handle(settlement) == first
    assert row_counts(db) == after_first
    assert balance(hospital, RETIREE) == "3146.74"
    assert ledger_problems(db) == []
