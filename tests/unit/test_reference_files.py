"""Reference files (1303, 1304, 1307–1317): what a good file gives and how a bad one is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from yibao.domain.reference import LISTS, version_key
from yibao.files import FileError
from yibao.files.reference import load_reference

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "guangzhou" / "reference.toml"


def test_the_example_file_holds_every_list_with_real_codes() -> None:
    ver, lists = load_reference(EXAMPLE)
    assert ver == "20230101001"
    assert set(lists) == set(LISTS)
    assert all(1 <= len(rows) <= 60 for rows in lists.values())
    diagnoses = {e.code: e.name for e in lists["1307"]}
    assert {k: diagnoses[k] for k in ("I10.x00", "E11.900", "J06.900")} == {
        "I10.x00": "高血压",
        "E11.900": "2型糖尿病",
        "J06.900": "急性上呼吸道感染",
    }
    assert {e.code: e.name for e in lists["1308"]}["47.0100"] == "腹腔镜阑尾切除术"
    chronic = {e.code: e for e in lists["1309"]}
    assert (chronic["M00300"].name, chronic["M00300"].admdvs, chronic["M09100"].admdvs) == ("高血压病", "", "440100")
    surgery = lists["1310"][0]
    assert (surgery.code, surgery.ref_code) == ("K35.800", "47.0100")
    match = lists["1317"][0]
    assert (match.fixmedins_code, match.code, match.ref_code, match.admdvs) == (
        "H44010600001",
        "YP0001",
        "XJ01CAA040A001010100039",
        "440100",
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "reference.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('ver = "1"\n[[diagnosis]]\ndiag_code = "I10.x00"\n', "diagnosis: unknown key"),
        ('[[diagnoses]]\ndiag_code = "I10.x00"\ndiag_name = "高血压"\n', "ver: a version is required"),
        ('ver = "v1"\n', "ver: 'v1' is not a version"),
        ('ver = "1"\n[[diagnoses]]\ndiag_code = "I10.x00"\n', "diagnoses.0.diag_name: required"),
        ('ver = "1"\n[[diagnoses]]\ndiag_code = "I10.x00"\ndiag_name = "高血压"\ndiag_nmae = "x"\n',
         "diagnoses.0.diag_nmae: not a field of 1307"),
        ('ver = "1"\n[[diagnoses]]\ndiag_code = "I10.x00"\ndiag_name = "a"\n[[diagnoses]]\ndiag_code = "I10.x00"\n'
         'diag_name = "b"\n', "diagnoses.1.diag_code: I10.x00 appears twice"),
        ('ver = "1"\n[[chronic_diseases]]\nopsp_dise_code = "M00300"\nopsp_dise_name = "高血压病"\nadmdvs = "4401"\n',
         "chronic_diseases.0.admdvs: '4401' is not a region code"),
        ('ver = "1"\n[[list_matches]]\nmed_list_codg = "A"\nhilist_code = "A"\nhilist_name = "a"\n'
         'begndate = "2023-13-01"\n', "list_matches.0.begndate: '2023-13-01' is not a date"),
        ('ver = "1"\n[[operations]]\noprn_oprt_code = "47.0100"\noprn_oprt_name = "x"\nvali_flag = "2"\n',
         "operations.0.vali_flag: '2' should be 0 or 1"),
        ('ver = "1"\n[[operations]]\noprn_oprt_code = "47.0100"\noprn_oprt_name = ["x"]\n',
         "operations.0.oprn_oprt_name: expected text"),
    ],
)  # fmt: skip
def test_a_bad_file_is_refused_naming_the_key(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(FileError, match="reference.toml: " + error.replace("[", r"\[").replace(".", r"\.")):
        load_reference(write(tmp_path, text))


def test_numbers_and_dates_become_text_and_versions_compare_as_numbers(tmp_path: Path) -> None:
    ver, lists = load_reference(
        write(tmp_path, 'ver = "0042"\n[[list_matches]]\nmed_list_codg = 1\nhilist_code = "A"\nhilist_name = "a"\n'
                        "begndate = 2023-01-01\n")
    )  # fmt: skip
    (row,) = lists["1316"]
    assert (ver, row.code, row.values["begndate"], str(row.begndate)) == ("42", "1", "2023-01-01", "2023-01-01")
    assert version_key("9") < version_key("10") < version_key("20230101001") < version_key("20240101001")
