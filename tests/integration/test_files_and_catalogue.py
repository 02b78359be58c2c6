"""Catalogue downloads (1301–1319 then 9102), the catalogue query (1312), file upload (9101) and
detail reconciliation (3202) against the settlements the platform holds."""

from __future__ import annotations

import base64
import io
import zipfile

from tests.flows import AMOXICILLIN, BLOOD_TEST, RETIREE, line, register, settle_data
from tests.helpers import local_today
from yibao.sim.his import HisClient


def download(his: HisClient, file_qury_no: str) -> bytes:
    body = his.envelope("9102", {"fsDownloadIn": {"file_qury_no": file_qury_no, "filename": "",
                                                  "fixmedins_code": his.fixmedins_code}})  # fmt: skip
    r = his.client.post(his.base_url + "/fsi/api/fileupload/download", json=body)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream", r.text
    return r.content


def test_catalogue_download_then_file_download(hospital: HisClient) -> None:
    out = hospital.call("1301", {"data": {"ver": "0"}})
    assert out["filename"].endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(download(hospital, out["file_qury_no"]))) as zf:
        (name,) = zf.namelist()
        rows = [r.split("\t") for r in zf.read(name).decode().splitlines()]
    assert rows[0][:4] == ["med_list_codg", "med_list_name", "list_type", "chrgitm_lv"]
    drugs = {r[0]: r for r in rows[1:]}
    assert set(drugs) == {
        "XJ01CAA040A001010100039", "XC10AAA050A001010101444", "XL01XCT038B002010100961",
        "XG03DAH073E001010100367", "Z000000000000000000001",
    }  # fmt: skip
    assert drugs["XC10AAA050A001010101444"][4] == "0.05"  # Guangzhou's own 先行自付 share

    caps = hospital.call("1318", {"data": {"ver": "0"}})
    with zipfile.ZipFile(io.BytesIO(download(hospital, caps["file_qury_no"]))) as zf:
        text = zf.read(zf.namelist()[0]).decode()
    assert "001102000010000\t床位费（三人间）\t440100\t60" in text


def test_another_institution_cannot_download_the_file(hospital: HisClient, pharmacy: HisClient) -> None:
    out = hospital.call("1305", {"data": {"ver": "0"}})
    body = pharmacy.envelope("9102", {"fsDownloadIn": {"file_qury_no": out["file_qury_no"]}})
    answer = pharmacy.post(body, "/fsi/api/fileupload/download")
    assert answer["infcode"] == -1
    assert "input.fsDownloadIn.file_qury_no" in answer["err_msg"]


def test_catalogue_query_pages(hospital: HisClient) -> None:
    first = hospital.call("1312", {"data": {"page_num": "1", "page_size": "4"}})
    second = hospital.call("1312", {"data": {"page_num": 3, "page_size": 4}})
    assert (first["total_count"], first["pages"], len(first["data"]), len(second["data"])) == (9, 3, 4, 1)
    one = hospital.call("1312", {"data": {"hilist_code": "001102000010000"}})
    assert [(r["hilist_code"], str(r["hilist_pric_uplmt_amt"])) for r in one["data"]] == [("001102000010000", "60")]
    bad = hospital.post(hospital.envelope("1312", {"data": {"page_size": 5000}}))
    assert bad["infcode"] == -1 and "input.data.page_size" in bad["err_msg"]


def test_detail_reconciliation_finds_each_difference(hospital: HisClient) -> None:
    settled = []
    for i in range(2):
        mdtrt_id = register(hospital, RETIREE, ipt_otp_no=f"MZD{i}")
        hospital.call("2204", {"feedetail": [line("1", mdtrt_id, RETIREE, AMOXICILLIN, "10", "0.52"),
                                             line("2", mdtrt_id, RETIREE, BLOOD_TEST, "1", "25")]})  # fmt: skip
        settled.append(hospital.call("2207", settle_data(RETIREE, mdtrt_id, "30.20"))["setlinfo"])
    good, other = settled
    rows = [
        "setl_id\tmdtrt_id\tpsn_no\tmedfee_sumamt\tfund_pay_sumamt\tacct_pay\trefd_setl_flag",
        f"{good['setl_id']}\t{good['mdtrt_id']}\t{RETIREE}\t30.20\t{good['fund_pay_sumamt']}\t{good['acct_pay']}\t0",
        f"{other['setl_id']}\t{other['mdtrt_id']}\t{RETIREE}\t30.20\t0.00\t30.20\t0",  # wrong split
        f"440100S0000000000000000000000\tX\t{RETIREE}\t1.00\t1.00\t0.00\t0",  # unknown to the platform
    ]
    upload = hospital.call(
        "9101",
        {
            "fsUploadIn": {
                "in": base64.b64encode("\n".join(rows).encode()).decode(),
                "filename": "detail.txt",
                "fixmedins_code": hospital.fixmedins_code,
            }
        },
    )
    today = local_today().isoformat()
    out = hospital.call(
        "3202",
        {
            "data": {
                "setl_optins": "440100",
                "file_qury_no": upload["file_qury_no"],
                "stmt_begndate": today,
                "stmt_enddate": today,
                "medfee_sumamt": "61.40",
                "fund_pay_sumamt": "0",
                "cash_payamt": "0",
                "fixmedins_setl_cnt": 3,
            }
        },
    )
    assert (out["stmt_rslt"], out["diff_cnt"]) == ("1", 2)
    report = download(hospital, out["file_qury_no"]).decode()
    assert f"{other['setl_id']}\t1\t金额不符" in report
    assert "440100S0000000000000000000000\t1\t机构有、中心无" in report
    assert good["setl_id"] not in report

    bad = hospital.call("9101", {"fsUploadIn": {"in": list(b"only\tthree\tcolumns"), "filename": "bad.txt"}})
    refused = hospital.post(hospital.envelope("3202", {"data": {"setl_optins": "440100", "file_qury_no":
                            bad["file_qury_no"], "stmt_begndate": today, "stmt_enddate": today}}))  # fmt: skip
    assert refused["infcode"] == -1 and "第1行" in refused["err_msg"]
