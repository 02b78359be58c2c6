from __future__ import annotations

from yibao.domain.codes import ChrgitmLv, FundPayType, Insutype, MdtrtCertType, MedType, PsnInsuStas, PsnType


def test_codes_carry_their_chinese_names() -> None:
    assert Insutype("310").label == "职工基本医疗保险"
    assert MedType.INPATIENT.value == "21" and MedType("21").label == "普通住院"
    assert PsnType("1201").label == "职工退休"
    assert MdtrtCertType.ID_CARD.label == "居民身份证"
    assert ChrgitmLv("02").label == "乙类"
    assert FundPayType("610100").label == "医疗救助基金"


def test_a_regional_code_outside_the_national_table_is_shown_as_it_is() -> None:
    assert Insutype.describe("39999") == "39999"
    assert PsnInsuStas.describe("2") == "暂停"
