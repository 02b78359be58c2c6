"""A complete outpatient visit and a complete inpatient stay through the interface, every amount checked.

The conversations are functions so that tests/e2e can hold them with a real server process too.

Amounts follow from Guangzhou's 2022-12 employee policy (examples/guangzhou/employee-2022-12.toml) and
the demo catalogue: outpatient 45% without referral, no deductible; inpatient at a level-3 hospital
1,000 deductible once per stay and 80% for an employee in service.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.flows import (
    AMOXICILLIN,
    BED,
    BLOOD_TEST,
    RETIREE,
    STATIN,
    SURGERY,
    WORKER,
    admit,
    amounts,
    inpatient_settle_data,
    line,
    now_text,
    person_info,
    register,
    settle_data,
)
from tests.helpers import local_today
from yibao.domain.ledger import check_ledger
from yibao.sim.his import HisClient
from yibao.store.database import Database


def ledger_problems(db: Database) -> list[str]:
    with db.transaction(write=False) as store:
        return check_ledger(store.ledger_facts())


def test_outpatient_visit(hospital: HisClient, db: Database) -> None:
    outpatient_visit(hospital, lambda: ledger_problems(db))


def test_inpatient_stay_with_interim_settlement(hospital: HisClient, db: Database) -> None:
    inpatient_stay(hospital, lambda: ledger_problems(db))


def outpatient_visit(hospital: HisClient, ledger_problems: Callable[[], list[str]]) -> None:
    """9001 → 1101 → 2201 → 2204 → 2206 → 2207 → 3201 → 2208 → 3201."""
    sign_no = hospital.sign_in()
    assert sign_no.startswith("440100")
    info = person_info(hospital, RETIREE)
    assert info["baseinfo"]["psn_name"] == "陈建国"
    assert str(info["insuinfo"][0]["balc"]) == "3200.00"
    mdtrt_id = register(hospital, RETIREE)

    up = hospital.call(
        "2204",
        {
            "feedetail": [
                line("1", mdtrt_id, RETIREE, AMOXICILLIN, "42", "0.52"),
                line("2", mdtrt_id, RETIREE, BLOOD_TEST, "3", "25"),
            ]
        },
    )
    assert [r["chrgitm_lv"] for r in up["result"]] == ["01", "01"]
    assert str(up["result"][0]["inscp_scp_amt"]) == "21.84"

    pre = hospital.call("2206", settle_data(RETIREE, mdtrt_id, "96.84"))["setlinfo"]
    assert pre["setl_id"] is None
    done = hospital.call("2207", settle_data(RETIREE, mdtrt_id, "96.84"))
    info7 = done["setlinfo"]
    # 96.84 in the policy range × 45% = 43.578 → 43.58; the account pays the rest
    assert amounts(info7, "medfee_sumamt", "hifp_pay", "acct_pay", "psn_cash_pay", "balc") == (
        "96.84", "43.58", "53.26", "0.00", "3146.74",
    )  # fmt: skip
    assert amounts(pre, "hifp_pay", "acct_pay") == amounts(info7, "hifp_pay", "acct_pay")
    assert {d["fund_pay_type"]: str(d["fund_payamt"]) for d in done["setldetail"]} == {
        "310100": "43.58",
        "310200": "53.26",
    }
    assert str(person_info(hospital, RETIREE)["insuinfo"][0]["balc"]) == "3146.74"
    assert ledger_problems() == []

    today = local_today().isoformat()
    statement = {"insutype": "310", "clr_type": "11", "setl_optins": "440100", "stmt_begndate": today,
                 "stmt_enddate": today, "medfee_sumamt": "96.84", "fund_pay_sumamt": "43.58", "acct_pay": "53.26",
                 "fixmedins_setl_cnt": "1"}  # fmt: skip
    assert hospital.call("3201", {"data": statement})["stmtinfo"]["stmt_rslt"] == "0"

    reversed_ = hospital.call("2208", {"data": {"setl_id": info7["setl_id"], "mdtrt_id": mdtrt_id, "psn_no": RETIREE}})
    assert amounts(reversed_["setlinfo"], "medfee_sumamt", "hifp_pay", "acct_pay", "balc") == (
        "-96.84", "-43.58", "-53.26", "3200.00",
    )  # fmt: skip
    assert str(person_info(hospital, RETIREE)["insuinfo"][0]["balc"]) == "3200.00"
    assert ledger_problems() == []

    # the day's totals now net to nothing; the institution's stale totals no longer match
    mismatch = hospital.call("3201", {"data": statement})["stmtinfo"]
    assert mismatch["stmt_rslt"] == "1"
    assert "fund_pay_sumamt" in mismatch["stmt_rslt_dscr"]
    statement.update(medfee_sumamt="0", fund_pay_sumamt="0", acct_pay="0", fixmedins_setl_cnt="0")
    assert hospital.call("3201", {"data": statement})["stmtinfo"]["stmt_rslt"] == "0"


def inpatient_stay(hospital: HisClient, ledger_problems: Callable[[], list[str]]) -> None:
    """2401 → 2301 → 2303 → 2304 (interim) → 2301 → 2402 → 2304 (final) → 2305 → 2405 → 5206."""
    mdtrt_id = admit(hospital, WORKER, days_ago=10)
    hospital.call(
        "2301",
        {"feedetail": [line("1", mdtrt_id, WORKER, BED, "9", "80"), line("2", mdtrt_id, WORKER, SURGERY, "1", "2800")]},
    )
    pre = hospital.call("2303", inpatient_settle_data(WORKER, mdtrt_id, "3520", mid=True))["setlinfo"]
    interim = hospital.call("2304", inpatient_settle_data(WORKER, mdtrt_id, "3520", mid=True))["setlinfo"]
    # bed 720 with a cap of 60 × 9: 180 above it; surgery 2,800 乙类: 280 up front. In the range 3,060:
    # deductible 1,000, then 80% of 2,060 = 1,648; the account pays the patient's 1,872
    assert amounts(interim, "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay") == (
        "180.00", "280.00", "3060.00", "1000.00", "1648.00",
    )  # fmt: skip
    assert amounts(interim, "psn_part_amt", "acct_pay", "balc") == ("1872.00", "1872.00", "3128.00")
    assert amounts(pre, "hifp_pay", "acct_pay") == amounts(interim, "hifp_pay", "acct_pay")

    hospital.call("2301", {"feedetail": [line("3", mdtrt_id, WORKER, STATIN, "28", "3.15")]})
    refused = hospital.post(hospital.envelope("2304", inpatient_settle_data(WORKER, mdtrt_id, "88.20", mid=False)))
    assert refused["infcode"] == -1 and "mid_setl_flag" in refused["err_msg"]  # not discharged yet

    hospital.call("2402", {"dscginfo": {"mdtrt_id": mdtrt_id, "psn_no": WORKER, "insutype": "310",
                                        "endtime": now_text(), "dise_codg": "K35.800", "dise_name": "急性阑尾炎",
                                        "dscg_way": "1"}})  # fmt: skip
    final = hospital.call("2304", inpatient_settle_data(WORKER, mdtrt_id, "88.20", mid=False))["setlinfo"]
    # the stay's deductible was charged by the interim settlement; statin 88.20 at Guangzhou's 5%
    assert amounts(final, "act_pay_dedc", "preselfpay_amt", "hifp_pay", "acct_pay", "balc") == (
        "0.00", "4.41", "67.03", "21.17", "3106.83",
    )  # fmt: skip

    undo_refused = hospital.post(hospital.envelope("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": WORKER}}))
    assert undo_refused["infcode"] == -1  # finally settled: reverse the settlement first
    back = hospital.call("2305", {"data": {"mdtrt_id": mdtrt_id, "setl_id": final["setl_id"], "psn_no": WORKER}})
    assert amounts(back["setlinfo"], "hifp_pay", "acct_pay", "balc") == ("-67.03", "-21.17", "3128.00")
    hospital.call("2405", {"data": {"mdtrt_id": mdtrt_id, "psn_no": WORKER}})  # back in hospital

    cum = hospital.call("5206", {"data": {"psn_no": WORKER}})["cuminfo"]
    totals = {c["cum_type_code"]: str(c["cum"]) for c in cum}
    assert totals["inpatient.dedc"] == "1000.00"  # only the interim settlement's deductible stands
    assert ledger_problems() == []
