"""The national reference lists: downloads 1303 and 1307–1315 (then 9102), by version; the paged queries
1304, 1316 and 1317; 1901 from the code tables. The demo database holds examples/guangzhou/reference.toml
(version 20230101001)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.integration.conftest import his_at
from yibao.domain.reference import LISTS, ROW_STATE
from yibao.files import FileError
from yibao.sim.his import HisClient
from yibao.store import loading
from yibao.store import tables as t
from yibao.store.database import Database

FIRST = "20230101001"


def download(his: HisClient, infno: str, ver: str = "0") -> tuple[dict[str, object], list[list[str]]]:
    """The answer of a download and the rows of its file (the first row names the columns)."""
    out = his.call(infno, {"data": {"ver": ver}})
    body = his.envelope("9102", {"fsDownloadIn": {"file_qury_no": out["file_qury_no"], "filename": out["filename"]}})
    r = his.client.post(his.base_url + "/fsi/api/fileupload/download", json=body)
    assert r.headers["content-type"] == "application/octet-stream", r.text
    with zipfile.ZipFile(io.BytesIO(r.content)) as zf:
        (name,) = zf.namelist()
        text = zf.read(name).decode("utf-8")
    assert name == str(out["filename"]).replace(".zip", ".txt")
    return out, [line.split("\t") for line in text.splitlines()]


# infno: (rows a Guangzhou hospital gets, a code that must be there and its name, a code that must not)
EXPECTED = {
    "1303": (5, "ZJ44010600001000001", "消炎止咳合剂", None),
    "1307": (43, "I10.x00", "高血压", None),
    "1308": (29, "47.0100", "腹腔镜阑尾切除术", None),
    "1309": (20, "M00300", "高血压病", "M09300"),  # 20 of 21: the 440300 (Shenzhen) row is not Guangzhou's
    "1310": (11, "K35.800", "急性阑尾炎", None),
    "1311": (8, "K63.500", "结肠息肉", None),
    "1313": (23, "M8140/3", "腺癌，NOS", None),
    "1314": (12, "BNG070", "眩晕", None),
    "1315": (12, "ZZGY10", "肝阳上亢证", None),
}


def test_each_list_downloads_as_a_zipped_file(hospital: HisClient) -> None:
    assert set(EXPECTED) == {infno for infno, ref in LISTS.items() if not ref.query}
    for infno, (count, code, name, absent) in EXPECTED.items():
        ref = LISTS[infno]
        out, rows = download(hospital, infno)
        header, body = rows[0], rows[1:]
        assert header == [*ref.fields, *ROW_STATE], infno
        assert (len(body), out["data_cnt"], out["ver"]) == (count, count, FIRST), infno
        assert all(len(row) == len(header) for row in body), infno
        by_code = {row[header.index(ref.code)]: row for row in body}
        assert by_code[code][header.index(ref.name)] == name, infno
        assert absent is None or absent not in by_code, infno
        assert {(row[-3], row[-1]) for row in body} == {("1", FIRST)}, infno  # vali_flag, ver

    _, rows = download(hospital, "1307")
    diagnoses = {row[rows[0].index("diag_code")]: row[rows[0].index("diag_name")] for row in rows[1:]}
    assert {k: diagnoses[k] for k in ("E11.900", "J06.900")} == {"E11.900": "2型糖尿病", "J06.900": "急性上呼吸道感染"}
    _, rows = download(hospital, "1309")
    regions = {row[0]: row[rows[0].index("admdvs")] for row in rows[1:]}
    assert (regions["M00300"], regions["M09100"]) == ("", "440100")


SECOND = """
ver = "20240101001"
[[diagnoses]]
diag_code = "I10.x00"
diag_name = "高血压"
cpr = "9"
cpr_code_scp = "I00-I99"
cpr_name = "循环系统疾病"
cgy_code = "I10"
sor_code = "I10.x"
[[diagnoses]]
diag_code = "J06.900"
diag_name = "急性上呼吸道感染（更名）"
[[diagnoses]]
diag_code = "U07.100"
diag_name = "新型冠状病毒感染"
"""


def test_a_download_gives_only_the_rows_newer_than_the_version_held(
    db: Database, hospital: HisClient, tmp_path: Path
) -> None:
    second = tmp_path / "reference-2024.toml"
    second.write_text(SECOND, encoding="utf-8")
    # the new file keeps I10.x00 as it was, renames J06.900, adds U07.100 and leaves out the other 41 rows
    assert loading.load_reference_file(db, second) == {"1307": 43}
    assert loading.load_reference_file(db, second) == {"1307": 0}  # the same file again changes nothing

    out, rows = download(hospital, "1307", FIRST)
    header = rows[0]
    changed = {row[header.index("diag_code")]: (row[header.index("diag_name")], row[-3], row[-1]) for row in rows[1:]}
    assert out["ver"] == "20240101001" and len(changed) == 43 and "I10.x00" not in changed
    assert changed["J06.900"] == ("急性上呼吸道感染（更名）", "1", "20240101001")
    assert changed["U07.100"] == ("新型冠状病毒感染", "1", "20240101001")
    assert changed["E11.900"] == ("2型糖尿病", "0", "20240101001")  # left the list: kept, no longer valid

    out, rows = download(hospital, "1307", "20240101001")
    assert (out["ver"], out["data_cnt"], rows[1:]) == ("20240101001", 0, [])
    _, rows = download(hospital, "1307", "0")
    assert len(rows) - 1 == 44
    out, rows = download(hospital, "1308", FIRST)  # a list the new file did not touch
    assert (out["ver"], rows[1:]) == (FIRST, [])

    older = tmp_path / "older.toml"
    older.write_text(SECOND.replace("20240101001", "20231231001").replace("（更名）", "（再改）"), encoding="utf-8")
    with pytest.raises(FileError, match="ver: 20231231001 is not newer than version 20240101001"):
        loading.load_reference_file(db, older)


def test_the_reference_queries_page(hospital: HisClient, other_hospital: HisClient) -> None:
    first = hospital.call("1304", {"data": {"page_num": 1, "page_size": 2}})
    last = hospital.call("1304", {"data": {"page_num": "3", "page_size": "2"}})
    assert (first["total_count"], first["pages"], len(first["data"]), len(last["data"])) == (5, 3, 2, 1)
    assert first["data"][0]["med_list_codg"] < first["data"][1]["med_list_codg"] < last["data"][0]["med_list_codg"]
    assert first["data"][0]["ver"] == FIRST and first["data"][0]["vali_flag"] == "1"
    tibetan = hospital.call("1304", {"data": {"drug_prodname": "珍珠丸"}})["data"]
    assert sorted(r["drug_genname"] for r in tibetan) == ["七十味珍珠丸", "二十五味珍珠丸"]
    assert hospital.call("1304", {})["total_count"] == 5  # data may be left out

    matches = hospital.call("1316", {"data": {"page_num": 1, "page_size": 100}})
    assert matches["total_count"] == 8 and {r["insu_admdvs"] for r in matches["data"]} == {"440100"}
    shenzhen = hospital.call("1316", {"data": {"insu_admdvs": "440300"}})
    assert [(r["med_list_codg"], r["insu_admdvs"]) for r in shenzhen["data"]] == [("XJ01CAA040A001010100039", "440300")]
    one = hospital.call("1316", {"data": {"hilist_code": "001102000010000"}})["data"]
    assert [(r["med_list_codg"], r["hilist_name"], r["list_type"]) for r in one] == [
        ("001102000010000", "床位费（三人间）", "201")
    ]
    assert hospital.call("1316", {"data": {"query_date": "2022-12-31"}})["total_count"] == 0
    assert hospital.call("1316", {"data": {"query_date": "2023-06-30", "list_type": "301"}})["total_count"] == 1
    assert hospital.call("1316", {"data": {"updt_time": "2999-01-01 00:00:00"}})["total_count"] == 0
    assert hospital.call("1316", {"data": {"updt_time": "2000-01-01 00:00:00"}})["total_count"] == 8

    own = hospital.call("1317", {"data": {"page_size": 5}})
    assert (own["total_count"], own["pages"]) == (8, 2)
    assert {r["fixmedins_code"] for r in own["data"]} == {"H44010600001"}
    amoxicillin = hospital.call("1317", {"data": {"med_list_codg": "XJ01CAA040A001010100039"}})["data"]
    assert [(r["medins_list_codg"], r["medins_list_name"]) for r in amoxicillin] == [
        ("YP0001", "阿莫西林胶囊(0.25g*24粒)")
    ]
    theirs = other_hospital.call("1317", {"data": {}})
    assert sorted(r["medins_list_codg"] for r in theirs["data"]) == ["TH-FW-001", "TH-YP-001"]


@pytest.fixture
def other_hospital(http: TestClient) -> HisClient:
    """H44010600002: another Guangzhou hospital, with matches of its own."""
    return his_at(http, "H44010600002")


@pytest.mark.parametrize(
    ("infno", "data", "field"),
    [
        ("1307", {"ver": "v2"}, "input.data.ver"),
        ("1304", {"page_size": 5000}, "input.data.page_size"),
        ("1304", {"page_num": 0}, "input.data.page_num"),
        ("1316", {"vali_flag": "2"}, "input.data.vali_flag"),
        ("1316", {"insu_admdvs": "4401"}, "input.data.insu_admdvs"),
        ("1317", {"fixmedins_code": "H44010600002"}, "input.data.fixmedins_code"),
        ("1316", {"updt_time": "yesterday"}, "input.data.updt_time"),
        ("1901", {"type": "no_such_table"}, "input.data.type"),
        ("1901", {"admdvs": "440100"}, "input.data.type"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    db: Database, hospital: HisClient, infno: str, data: dict[str, object], field: str
) -> None:
    with db.engine.connect() as conn:
        files_before = conn.execute(select(func.count()).select_from(t.stored_file)).scalar_one()
    answer = hospital.post(hospital.envelope(infno, {"data": data}))
    assert answer["infcode"] == -1
    assert str(answer["err_msg"]).startswith(field + ":"), answer["err_msg"]
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(t.stored_file)).scalar_one() == files_before


def test_dictionary_query_answers_from_the_code_tables(hospital: HisClient) -> None:
    insutype = hospital.call("1901", {"data": {"type": "insutype"}})["list"]
    assert insutype[0] == {"type": "insutype", "label": "职工基本医疗保险", "value": "310", "parentValue": "",
                           "sort": 1, "valiFlag": "1"}  # fmt: skip
    assert len(insutype) == 14
    med_type = {r["value"]: r["label"] for r in hospital.call("1901", {"data": {"type": "med_type"}})["list"]}
    assert med_type["14"] == "门诊慢特病"
    fund = {r["value"] for r in hospital.call("1901", {"data": {"type": "fund_pay_type"}})["list"]}
    assert {"310100", "390200", "610100"} <= fund
    assert hospital.call("1901", {"data": {"type": "gend", "valiFlag": "0"}})["list"] == []


def test_a_pharmacy_may_download_and_a_per_service_path_works(pharmacy: HisClient) -> None:
    body = pharmacy.envelope("1308", {"data": {"ver": "0"}})
    answer = pharmacy.post(body, "/fsi/api/catalogdownservice/downCatalog1308")
    assert answer["infcode"] == 0 and answer["output"]["data_cnt"] == 29
    body = pharmacy.envelope("1901", {"data": {"type": "clr_type"}})
    answer = pharmacy.post(body, "/fsi/api/catalogqueryservice/queryDataDic")
    assert [r["value"] for r in answer["output"]["list"]] == ["11", "21", "41", "99"]
