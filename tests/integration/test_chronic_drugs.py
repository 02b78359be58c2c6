"""5205: the drugs settled for a person's 门诊慢特病 visits, at every institution, for the next doctor."""

from __future__ import annotations

from pathlib import Path

from tests.flows import AMOXICILLIN, BLOOD_TEST, RETIREE, STATIN, line, register, settle_data
from tests.integration.conftest import his_at
from yibao.sim.his import HisClient
from yibao.store import loading
from yibao.store.database import Database

# A later version of the Guangzhou employee policy that also pays 门诊慢特病 (for this test only).
CHRONIC = """
[policy]
admdvs = "440100"
insutype = "310"
name = "test: 广州 with 门诊慢特病"
begndate = 2024-01-01
fund_pay_type = "310100"
account = {}
[[policy.benefits]]
name = "普通门诊"
med_types = ["11"]
pool = "outpatient"
ratios = [{ ratio = 0.45 }]
deductible = { period = "visit", rows = [] }
[[policy.benefits]]
name = "门诊慢特病"
med_types = ["14"]
pool = "chronic"
ratios = [{ ratio = 0.75 }]
deductible = { period = "year", rows = [{ amount = 200 }] }
"""


def test_chronic_drug_records_span_institutions(hospital: HisClient, http: object, db: Database,
                                                tmp_path: Path) -> None:  # fmt: skip
    policy = tmp_path / "chronic.toml"
    policy.write_text(CHRONIC)
    loading.load_policy_file(db, policy)
    other = his_at(http, "H44010600002")  # type: ignore[arg-type]
    for his, serial, code in ((hospital, "C1", STATIN), (other, "C2", AMOXICILLIN)):
        mdtrt_id = register(his, RETIREE, ipt_otp_no=serial)
        his.call("2204", {"feedetail": [line("1", mdtrt_id, RETIREE, code, "10", "2.00"),
                                        line("2", mdtrt_id, RETIREE, BLOOD_TEST, "1", "25")]})  # fmt: skip
        his.call("2207", settle_data(RETIREE, mdtrt_id, "45.00", med_type="14"))
    ordinary = register(hospital, RETIREE, ipt_otp_no="C3")  # an ordinary visit: not a chronic record
    hospital.call("2204", {"feedetail": [line("1", ordinary, RETIREE, STATIN, "5", "2.00")]})
    hospital.call("2207", settle_data(RETIREE, ordinary, "10.00"))

    records = hospital.call("5205", {"data": {"psn_no": RETIREE}})["feedetail"]
    assert [(r["fixmedins_code"], r["med_list_codg"], str(r["det_item_fee_sumamt"])) for r in records] == [
        ("H44010600001", STATIN, "20.00"),
        ("H44010600002", AMOXICILLIN, "20.00"),
    ]  # drugs only: the blood test is a service
