"""3101 (事前) and 3102 (事中) through the HTTP interface, and the rule check at 2207, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.flows import (
    AMOXICILLIN,
    RETIREE,
    admit,
    discharge_data,
    line,
    now_text,
    refusal,
    register,
    row_counts,
    settle_data,
    upload,
)
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.database import Database

PROGESTERONE = "XG03DAH073E001010100367"  # 黄体酮注射液, 限女性
HOSPITAL = "H44010600001"


def order(rx_id: str, code: str, cnt: str = "1", pric: str = "10", **extra: Any) -> dict[str, Any]:
    return {"rx_id": rx_id, "rxno": f"RX{rx_id}", "hilist_code": code, "hilist_name": "", "cnt": cnt, "pric": pric,
            "sumamt": str(int(cnt) * int(pric)), "drord_begn_date": now_text(), **extra}  # fmt: skip


def encounter(mdtrt_id: str, *orders: dict[str, Any], kind: str = "1", dx: str = "J06.900", **extra: Any
              ) -> dict[str, Any]:  # fmt: skip
    return {
        "mdtrt_id": mdtrt_id, "medins_id": HOSPITAL, "medins_name": "广州市第一人民医院", "medins_lv": "3",
        "adm_date": now_text(), "dscg_date": now_text() if kind == "1" else "", "dscg_main_dise_codg": dx,
        "dr_codg": "D440106000001", "dscg_dept_codg": "A03", "med_mdtrt_type": kind,
        "med_type": "11" if kind == "1" else "21", "insutype": "310", "out_setl_flag": "2",
        "fsi_diagnose_dtos": [{"dise_id": "1", "inout_dise_type": "2", "maindise_flag": "1", "dias_srt_no": "1",
                               "dise_codg": dx, "dise_name": "", "dise_date": now_text()}],
        "fsi_order_dtos": list(orders), "fsi_operation_dtos": [], **extra,
    }  # fmt: skip


def analyze(*encounters: dict[str, Any], gend: str = "1", curr: str = "", **extra: Any) -> dict[str, Any]:
    patient = {"patn_id": RETIREE, "patn_name": "陈伯", "gend": gend, "brdy": "1958-04-02", "poolarea": "440100",
               "curr_mdtrt_id": curr or encounters[0]["mdtrt_id"], "fsi_encounter_dtos": list(encounters)}  # fmt: skip
    return {"data": {"patient_dtos": [patient], "rule_ids": [], "task_id": "T1", "trig_scen": "1", **extra}}


def findings(db: Database) -> list[tuple[str, str, str, str, str | None, str]]:
    f = tables.supervision_finding.c
    with db.engine.connect() as conn:
        rows = conn.execute(select(f.stage, f.rule_id, f.mdtrt_id, f.feedetl_sn, f.setl_id, f.run_id)).all()
    return sorted(tuple(r) for r in rows)


def test_3101_answers_the_rules_that_fire_with_the_national_structure(hospital: HisClient, db: Database) -> None:
    body = analyze(
        encounter("MZ-PLAN-1", order("1", PROGESTERONE), order("2", AMOXICILLIN), order("3", "X0000NOWHERE"))
    )
    result = hospital.call("3101", body)["result"]
    by_rule = {r["rule_id"]: r for r in result}
    assert set(by_rule) == {"GZ-YP-001", "GL-SJ-004"}  # 限女性 for a man; a code not in the catalogue
    sex = by_rule["GZ-YP-001"]
    assert set(sex) == {"jr_id", "rule_id", "rule_name", "vola_cont", "patn_id", "mdtrt_id", "vola_amt",
                        "vola_amt_stas", "sev_deg", "vola_evid", "vola_bhvr_type", "task_id",
                        "judge_result_detail_dtos"}  # fmt: skip
    assert (sex["rule_name"], sex["sev_deg"], sex["patn_id"], sex["mdtrt_id"], sex["task_id"]) == (
        "药品区分性别使用", "1", RETIREE, "MZ-PLAN-1", "T1",
    )  # fmt: skip
    assert "黄体酮注射液" in sex["vola_cont"] and "女" in sex["vola_cont"] and str(sex["vola_amt"]) == "10.00"
    [detail] = sex["judge_result_detail_dtos"]
    assert (detail["rx_id"], detail["vola_item_type"], str(detail["vola_amt"]), detail["jr_id"]) == (
        "1", "101", "10.00", sex["jr_id"],
    )  # fmt: skip
    assert by_rule["GL-SJ-004"]["sev_deg"] == "2"
    # the same through the service's own path, for a woman: only the unknown code
    answer = hospital.post(hospital.envelope("3101", analyze(encounter("MZ-PLAN-2", order("1", PROGESTERONE),
                                                                      order("2", "X0000NOWHERE")), gend="2")),
                           path="/fsi/api/riskConService/beforeAnalyze")  # fmt: skip
    assert answer["infcode"] == 0 and [r["rule_id"] for r in answer["output"]["result"]] == ["GL-SJ-004"]
    assert findings(db) == []  # 事前 records nothing


def test_3101_can_ask_for_some_rules_only(hospital: HisClient) -> None:
    body = analyze(encounter("MZ-PLAN-3", order("1", PROGESTERONE), order("2", "X0000NOWHERE")), rule_ids=["GL-SJ-004"])
    assert [r["rule_id"] for r in hospital.call("3101", body)["result"]] == ["GL-SJ-004"]
    assert hospital.call("3101", analyze(encounter("MZ-PLAN-4", order("1", AMOXICILLIN))))["result"] == []


def test_3102_sees_a_prior_stay_in_the_store_and_records_its_findings(hospital: HisClient, db: Database) -> None:
    prior = admit(hospital, RETIREE, days_ago=10)
    hospital.call("2402", discharge_data(RETIREE, prior, now_text(-timedelta(days=3))))
    body = analyze(encounter("ZY-NEW-1", order("1", AMOXICILLIN), kind="2", dx="K35.900"))
    envelope = hospital.envelope("3102", body)
    answer = hospital.post(envelope, path="/fsi/api/riskConService/courseAnalyze")
    assert answer["infcode"] == 0
    [split] = [r for r in answer["output"]["result"] if r["rule_id"] == "GL-XW-001"]  # 分解住院
    assert split["rule_name"] == "分解住院" and prior in split["vola_cont"] and split["judge_result_detail_dtos"] == []
    assert ("during", "GL-XW-001", "ZY-NEW-1", "", None, envelope["msgid"]) in findings(db)
    assert {row[5] for row in findings(db)} == {envelope["msgid"]}
    # another institution's stay does not count as the same hospital's
    other = analyze(encounter("ZY-NEW-2", order("1", AMOXICILLIN), kind="2", dx="K35.900", medins_id="H44010600002"))
    assert "GL-XW-001" not in [r["rule_id"] for r in hospital.call("3102", other)["result"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["data"].pop("patient_dtos"), "input.data.patient_dtos"),
        (lambda b: b["data"]["patient_dtos"][0].update(gend="x"), "input.data.patient_dtos[0].gend"),
        (lambda b: b["data"]["patient_dtos"][0].update(brdy="not a date"), "input.data.patient_dtos.0.brdy"),
        (
            lambda b: b["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0].update(med_mdtrt_type="7"),
            "input.data.patient_dtos[0].fsi_encounter_dtos[0].med_mdtrt_type",
        ),
        (
            lambda b: b["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]["fsi_order_dtos"][0].update(cnt="abc"),
            "input.data.patient_dtos.0.fsi_encounter_dtos.0.fsi_order_dtos.0.cnt",
        ),
        (
            lambda b: b["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]["fsi_order_dtos"][0].update(cnt="0"),
            "input.data.patient_dtos[0].fsi_encounter_dtos[0].fsi_order_dtos[0].cnt",
        ),
        (
            lambda b: b["data"]["patient_dtos"][0]["fsi_encounter_dtos"][0]["fsi_order_dtos"][0].pop("hilist_code"),
            "input.data.patient_dtos.0.fsi_encounter_dtos.0.fsi_order_dtos.0.hilist_code",
        ),
        (
            lambda b: b["data"]["patient_dtos"][0].update(curr_mdtrt_id="ELSEWHERE"),
            "input.data.patient_dtos[0].curr_mdtrt_id",
        ),
        (lambda b: b["data"].update(rule_ids=["NO-SUCH-RULE"]), "input.data.rule_ids"),
    ],
)
def test_bad_input_is_refused_naming_the_field(hospital: HisClient, change: Any, field: str) -> None:
    body = analyze(encounter("MZ-BAD-1", order("1", AMOXICILLIN), order("2", AMOXICILLIN)))
    change(body)
    for infno in ("3101", "3102"):
        assert refusal(hospital, infno, body).startswith(f"{field}: ")


def test_a_repeated_rx_id_is_refused(hospital: HisClient) -> None:
    body = analyze(encounter("MZ-BAD-2", order("1", AMOXICILLIN), order("1", PROGESTERONE)))
    assert refusal(hospital, "3101", body).startswith("input.data.patient_dtos[0].fsi_encounter_dtos[0]"
                                                      ".fsi_order_dtos[1].rx_id: ")  # fmt: skip


def settle_progesterone(hospital: HisClient) -> tuple[str, dict[str, Any]]:
    """An outpatient visit of a man billed 黄体酮 (限女性): GZ-YP-001, definite."""
    mdtrt_id = register(hospital, RETIREE)
    diagnosis = {"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900", "diag_name": "急性上呼吸道感染",
                 "diag_dept": "A03", "dise_dor_no": "D1", "dise_dor_name": "张医生", "diag_time": now_text(),
                 "maindiag_flag": "1"}  # fmt: skip
    hospital.call("2203", {"mdtrtinfo": {"mdtrt_id": mdtrt_id, "psn_no": RETIREE, "med_type": "11",
                                         "begntime": now_text(), "main_cond_dscr": "", "dise_codg": "J06.900",
                                         "dise_name": "急性上呼吸道感染"}, "diseinfo": [diagnosis]})  # fmt: skip
    upload(hospital, line("1", mdtrt_id, RETIREE, AMOXICILLIN, "2", "10"),
           line("2", mdtrt_id, RETIREE, PROGESTERONE, "1", "12"))  # fmt: skip
    return mdtrt_id, settle_data(RETIREE, mdtrt_id, "32")


def test_mark_mode_settles_and_stores_the_findings_with_the_settlement(hospital: HisClient, db: Database) -> None:
    mdtrt_id, data = settle_progesterone(hospital)
    pre = hospital.call("2206", data)
    assert [(v["rule_id"], v["feedetl_sn"]) for v in pre["vola_info"]] == [("GZ-YP-001", "2")]
    assert findings(db) == []  # a pre-settlement reports, and stores nothing
    msgid = hospital.next_msgid()
    setl_id = hospital.call("2207", data, msgid=msgid)["setlinfo"]["setl_id"]
    assert findings(db) == [("during", "GZ-YP-001", mdtrt_id, "2", setl_id, msgid)]


def test_refuse_mode_refuses_a_definite_finding_and_writes_nothing(
    hospital: HisClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, data = settle_progesterone(hospital)
    monkeypatch.setenv("YIBAO_SUPERVISION", "refuse")
    before = row_counts(db)
    err = refusal(hospital, "2207", data)
    assert err.startswith("input.data.mdtrt_id: ") and "GZ-YP-001" in err and "明细 2" in err and "黄体酮" in err
    after = row_counts(db)
    assert {k: v for k, v in after.items() if v != before[k]} == {}
    monkeypatch.setenv("YIBAO_SUPERVISION", "off")
    hospital.call("2207", data)
    assert findings(db) == []
