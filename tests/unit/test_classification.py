"""Line classification: 全自费, 超限价, 先行自付 and 政策范围内, one rule at a time."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from yibao.domain.catalog import Catalog, CatalogItem, Restrictions
from yibao.domain.claim import FeeLine
from yibao.domain.classification import LineContext, LineResult, classify_line
from yibao.domain.codes import ChrgitmLv, ListType
from yibao.domain.errors import ClaimError

CTX = LineContext(admdvs="440106", day=date(2024, 6, 1), gend="1", age=40, hosp_lv=2, med_type="21")
D = Decimal


def item(lv: str = "01", **kw: object) -> CatalogItem:
    return CatalogItem("X1", "测试药品", ListType.DRUG, ChrgitmLv(lv), **kw)  # type: ignore[arg-type]


def split(r: LineResult) -> tuple[int, int, int, int]:
    """(全自费, 超限价, 先行自付, 政策范围内) in fen."""
    return r.fulamt_ownpay_amt, r.overlmt_amt, r.preselfpay_amt, r.inscp_scp_amt


def classify(it: CatalogItem | None, cnt: str = "2", pric: str = "50", ctx: LineContext = CTX) -> LineResult:
    return classify_line(FeeLine("1", "X1", D(cnt), D(pric)), it, ctx, "feedetail[0]")


def test_class_a_is_all_in_policy() -> None:
    assert split(classify(item("01"))) == (0, 0, 0, 10000)


def test_class_b_patient_pays_the_selfpay_share_first() -> None:
    r = classify(item("02", selfpay_prop=D("0.1")))
    assert split(r) == (0, 0, 1000, 9000)
    assert r.selfpay_prop == D("0.1")


def test_selfpay_share_of_the_place_of_treatment_wins() -> None:
    it = item("02", selfpay_prop=D("0.1"), selfpay_prop_by_admdvs={"44": D("0.08"), "440106": D("0.05")})
    assert split(classify(it)) == (0, 0, 500, 9500)
    elsewhere = LineContext("310118", CTX.day, "1", 40, 2, "21")
    assert split(classify(it, ctx=elsewhere)) == (0, 0, 1000, 9000)


def test_class_c_and_unknown_items_are_all_own_pay() -> None:
    assert split(classify(item("03"))) == (10000, 0, 0, 0)
    unknown = classify(None)
    assert split(unknown) == (10000, 0, 0, 0)
    assert unknown.chrgitm_lv == "03"
    assert "不在医保目录" in unknown.memo


def test_class_b_above_its_price_cap() -> None:
    # 2 × 50.00 against a cap of 42.50: 15.00 above the cap, 10% of the remaining 85.00 up front
    r = classify(item("02", selfpay_prop=D("0.1"), pric_uplmt_amt=D("42.5")))
    assert split(r) == (0, 1500, 850, 7650)
    assert r.pric_uplmt_amt == D("42.5")


def test_price_below_the_cap_has_nothing_above_it() -> None:
    assert split(classify(item("01", pric_uplmt_amt=D("60")))) == (0, 0, 0, 10000)


def test_regional_price_cap() -> None:
    it = item("01", pric_uplmt_amt=D("100"), pric_uplmt_by_admdvs={"4401": D("45")})
    assert split(classify(it)) == (0, 1000, 0, 9000)


def test_quantity_above_the_limit_is_own_pay() -> None:
    r = classify(item("01", restrictions=Restrictions(max_cnt_per_visit=D("3"))), cnt="5", pric="10")
    assert split(r) == (2000, 0, 0, 3000)
    assert "限定数量" in r.memo


@pytest.mark.parametrize(
    ("restriction", "why"),
    [
        (Restrictions(sex="2"), "性别"),
        (Restrictions(age_min=60), "年龄"),
        (Restrictions(age_max=18), "年龄"),
        (Restrictions(min_hosp_lv=3), "级及以上"),
        (Restrictions(med_types=("11",)), "医疗类别"),
    ],
)
def test_restrictions_make_the_line_own_pay(restriction: Restrictions, why: str) -> None:
    r = classify(item("01", restrictions=restriction))
    assert split(r) == (10000, 0, 0, 0)
    assert why in r.memo


def test_restrictions_that_are_met_change_nothing() -> None:
    ok = Restrictions(sex="1", age_min=18, age_max=60, min_hosp_lv=2, med_types=("21",), indication="限成人")
    assert split(classify(item("01", restrictions=ok))) == (0, 0, 0, 10000)


def test_item_outside_its_validity_is_own_pay() -> None:
    assert split(classify(item("01", enddate=date(2023, 12, 31)))) == (10000, 0, 0, 0)
    assert split(classify(item("01", begndate=date(2024, 1, 1)))) == (0, 0, 0, 10000)


def test_line_total_given_by_the_institution_is_kept() -> None:
    r = classify_line(FeeLine("1", "X1", D("3"), D("0.333333"), D("1.00")), item("01"), CTX, "feedetail[0]")
    assert r.det_item_fee_sumamt == 100
    assert r.inscp_scp_amt == 100


def test_unit_prices_with_six_decimals_round_once() -> None:
    r = classify(item("01"), cnt="3", pric="0.333333")
    assert r.det_item_fee_sumamt == 100  # 0.999999 yuan → 1.00


@pytest.mark.parametrize(("cnt", "pric", "field"), [("0", "1", "cnt"), ("1", "-1", "pric")])
def test_bad_lines_name_the_field(cnt: str, pric: str, field: str) -> None:
    with pytest.raises(ClaimError) as err:
        classify(item("01"), cnt=cnt, pric=pric)
    assert err.value.field == f"feedetail[0].{field}"


def test_catalog_lookup_by_code() -> None:
    cat = Catalog.of("440100", "v1", [item("01")])
    assert cat.get("X1") is not None
    assert cat.get("X2") is None


def test_a_line_total_that_disagrees_with_price_times_count_is_refused() -> None:
    with pytest.raises(ClaimError) as err:
        classify_line(FeeLine("1", "X1", D("3"), D("2"), D("6.02")), item("01"), CTX, "feedetail[0]")
    assert err.value.field == "feedetail[0].det_item_fee_sumamt"
    within_a_fen = classify_line(FeeLine("1", "X1", D("3"), D("2"), D("6.01")), item("01"), CTX, "feedetail[0]")
    assert within_a_fen.det_item_fee_sumamt == 601
