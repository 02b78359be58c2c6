"""Every rule of the shipped library on a visit that breaks it and on one that keeps it.

The cases are keyed by rule id and the test is parametrised over the library: a rule added without
cases fails here. The catalogue is the synthetic city's (its restrictions are the rules' knowledge).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest

from yibao.domain.catalog import Catalog, CatalogItem
from yibao.domain.codes import ChrgitmLv, ListType
from yibao.domain.supervision.encounter import Encounter, Line
from yibao.domain.supervision.engine import review
from yibao.domain.supervision.rules import Finding, RuleLibrary
from yibao.files import catalog_item_from_data
from yibao.files.loader import FileError
from yibao.files.rules import load_rule_library
from yibao.sim.city import catalogue, catalogue_toml

D0 = date(2026, 3, 10)
LIBRARY = load_rule_library()
CODE = {e.name: e.med_list_codg for e in catalogue()}
HERBS = {"T001700643": "冬虫夏草", "T002101082": "鹿茸", "T001900521": "西洋参", "T000300112": "黄芪"}


@cache
def city_catalog() -> Catalog:
    data = tomllib.loads(catalogue_toml("440100", "test"), parse_float=Decimal)
    items = [catalog_item_from_data(row) for row in data["items"]]
    herbs = [CatalogItem(code, name, ListType.HERBAL, ChrgitmLv.CLASS_C) for code, name in HERBS.items()]
    return Catalog.of("440100", "test", items + herbs)


def ln(name_or_code: str, sn: str = "1", *, day: date = D0, cnt: str = "1", pric: str = "10", amount: int | None = None,
       days: int = 0) -> Line:  # fmt: skip
    code = CODE.get(name_or_code, name_or_code)
    fen = amount if amount is not None else int(Decimal(pric) * Decimal(cnt) * 100)
    return Line(sn, code, day, Decimal(cnt), Decimal(pric), fen, days)


def visit(*lines: Line, **kw: object) -> Encounter:
    base = Encounter(
        mdtrt_id="M1", psn_no="P1", gend="1", age=40, insutype="310", fixmedins_code="H1", hosp_lv=3,
        med_type="11", kind="outpatient", begn_date=D0, end_date=D0, main_dx="J06.900", lines=tuple(lines),
        admdvs="440100", atddr_no="D1", medfee_sumamt=sum(x.amount for x in lines),
    )  # fmt: skip
    return replace(base, **kw)  # type: ignore[arg-type]


def stay(*lines: Line, days: int = 5, **kw: object) -> Encounter:
    return visit(*lines, **{"kind": "inpatient", "med_type": "21", "end_date": D0 + timedelta(days=days), **kw})


@dataclass(frozen=True)
class Case:
    encounter: Encounter
    history: tuple[Encounter, ...] = ()
    sn: str = "1"
    """The line the rule fires on ("" a visit finding)."""


def diabetic(*lines: Line, **kw: object) -> Encounter:
    return visit(*lines, main_dx="E11.900", **kw)


def days_ago(n: int) -> date:
    return D0 - timedelta(days=n)


prior_stay = stay(mdtrt_id="M0", main_dx="K35.800", begn_date=days_ago(20), end_date=days_ago(10))
PAIRS_OK = ln("普通门诊诊查费", pric="8")
CASES: dict[str, tuple[Case, Case]] = {
    # 政策类 药品
    "GZ-YP-001": (Case(visit(ln("地屈孕酮片"), gend="1")), Case(visit(ln("地屈孕酮片"), gend="2"))),
    "GZ-YP-002": (Case(visit(ln("布洛芬混悬液"), age=30)), Case(visit(ln("布洛芬混悬液"), age=6))),
    "GZ-YP-003": (
        Case(visit(ln("盐酸二甲双胍片"), main_dx="I10.x00")),
        Case(visit(ln("盐酸二甲双胍片"), main_dx="I10.x00", diagnoses=("E11.900",))),
    ),
    "GZ-YP-004": (Case(stay(ln("注射用美罗培南"), hosp_lv=0)), Case(stay(ln("注射用美罗培南"), hosp_lv=3))),
    "GZ-YP-005": (Case(visit(ln("注射用美罗培南"))), Case(stay(ln("注射用美罗培南")))),
    "GZ-YP-006": (
        Case(visit(ln("人破伤风免疫球蛋白注射液"), insutype="310")),
        Case(visit(ln("人破伤风免疫球蛋白注射液"), insutype="work_injury")),
    ),
    "GZ-YP-007": (
        Case(visit(ln("米非司酮片"), gend="2", insutype="310")),
        Case(visit(ln("米非司酮片"), gend="2", insutype="510")),
    ),
    "GZ-YP-008": (Case(visit(ln("阿莫西林胶囊", days=10))), Case(visit(ln("阿莫西林胶囊", days=7)))),
    "GZ-YP-009": (Case(visit(ln("T001700643"))), Case(visit(ln("T000300112")))),
    "GZ-YP-010": (
        Case(stay(ln("氯化钠注射液(0.9% 250ml)", pric="3.500001"))),
        Case(stay(ln("氯化钠注射液(0.9% 250ml)", pric="3.5"))),
    ),
    # 政策类 医疗服务项目
    "GZ-XM-001": (
        Case(visit(ln("急诊诊查费", "1"), ln("急诊监护费", "2")), sn="2"),
        Case(
            visit(
                ln("急诊诊查费", "1"),
                ln("急诊监护费", "2", day=D0 + timedelta(days=1)),
                end_date=D0 + timedelta(days=1),
            )
        ),
    ),
    "GZ-XM-002": (
        Case(stay(ln("床位费（三人间）", "1"), ln("床位费（三人间）", "2")), sn="1"),
        Case(stay(ln("床位费（三人间）", "1"), ln("床位费（三人间）", "2", day=D0 + timedelta(days=1)))),
    ),
    "GZ-XM-003": (Case(visit(ln("阴道灌洗上药"), gend="1")), Case(visit(ln("阴道灌洗上药"), gend="2"))),
    "GZ-XM-004": (Case(visit(ln("小儿头皮静脉输液"), age=8)), Case(visit(ln("小儿头皮静脉输液"), age=6))),
    "GZ-XM-005": (Case(visit(ln("普通门诊诊查费", pric="12"))), Case(visit(ln("普通门诊诊查费", pric="10")))),
    "GZ-XM-006": (Case(visit(ln("电子胃镜检查"), hosp_lv=1)), Case(visit(ln("电子胃镜检查"), hosp_lv=2))),
    "GZ-XM-007": (Case(visit(ln("糖化血红蛋白测定"))), Case(diabetic(ln("糖化血红蛋白测定")))),
    # 政策类 医用耗材
    "GZ-HC-001": (Case(stay(ln("一次性使用静脉留置针", pric="16"))), Case(stay(ln("一次性使用静脉留置针", pric="15")))),
    "GZ-HC-002": (
        Case(visit(ln("宫内节育器"), gend="1", insutype="510")),
        Case(visit(ln("宫内节育器"), gend="2", insutype="510")),
    ),
    "GZ-HC-003": (
        Case(stay(ln("一次性使用腹腔镜穿刺器", "1", cnt="2"), ln("一次性使用腹腔镜穿刺器", "2", cnt="2"))),
        Case(stay(ln("一次性使用腹腔镜穿刺器", "1", cnt="2"), ln("一次性使用腹腔镜穿刺器", "2", cnt="1"))),
    ),
    "GZ-HC-004": (
        Case(visit(ln("宫内节育器"), gend="2", insutype="390")),
        Case(visit(ln("宫内节育器"), gend="2", insutype="510")),
    ),
    "GZ-HC-005": (Case(stay(ln("一次性使用儿童吸氧面罩"), age=15)), Case(stay(ln("一次性使用儿童吸氧面罩"), age=14))),
    "GZ-HC-006": (Case(visit(ln("血糖试纸"), main_dx="I10.x00")), Case(diabetic(ln("血糖试纸")))),
    # 管理类 数据质量
    "GL-SJ-001": (
        Case(visit(ln("普通门诊诊查费", pric="8"), main_dx=""), sn=""),
        Case(visit(ln("普通门诊诊查费", pric="8"), main_dx="", diagnoses=("J06.900",))),
    ),
    "GL-SJ-002": (Case(stay(ln("一级护理", day=days_ago(1)))), Case(stay(ln("一级护理", day=D0 + timedelta(days=5))))),
    "GL-SJ-003": (
        Case(visit(ln("阿莫西林胶囊", cnt="2", pric="10", amount=1998))),
        Case(visit(ln("阿莫西林胶囊", cnt="3", pric="3.333", amount=1000))),
    ),
    "GL-SJ-004": (Case(visit(ln("X000NOTINCATALOGUE"))), Case(visit(ln("阿莫西林胶囊")))),
    # 管理类 药品管控
    "GL-YP-001": (
        Case(
            visit(ln("苯磺酸氨氯地平片", days=1)),
            (visit(ln("苯磺酸氨氯地平片", days=30, day=days_ago(20)), mdtrt_id="M0", begn_date=days_ago(20)),),
        ),
        Case(
            visit(ln("苯磺酸氨氯地平片", days=1)),
            (visit(ln("苯磺酸氨氯地平片", days=30, day=days_ago(27)), mdtrt_id="M0", begn_date=days_ago(27)),),
        ),
    ),
    "GL-YP-002": (Case(visit(ln("苯磺酸氨氯地平片", days=31))), Case(visit(ln("苯磺酸氨氯地平片", days=30)))),
    # 管理类 耗材管控
    "GL-HC-001": (
        Case(stay(ln("一次性使用腹腔镜穿刺器"), ln("阑尾切除术", "2"))),
        Case(stay(ln("一次性使用腹腔镜穿刺器"), ln("腹腔镜下阑尾切除术", "2"))),
    ),
    "GL-HC-002": (Case(visit(ln("血液透析器"))), Case(visit(ln("血液透析器"), ln("血液透析", "2")))),
    "GL-HC-003": (
        Case(stay(ln("一次性使用导尿包", "1"), ln("一次性使用导尿包", "2")), sn="2"),
        Case(stay(ln("一次性使用导尿包", "1"), ln("一次性使用导尿包", "2", cnt="2"))),
    ),
    # 管理类 诊疗行为
    "GL-XW-001": (
        Case(stay(main_dx="K35.900"), (prior_stay,), sn=""),
        Case(stay(main_dx="K35.900"), (replace(prior_stay, fixmedins_code="H2"),)),
    ),
    "GL-XW-002": (
        Case(
            stay(
                *(ln("床位费（三人间）", f"b{i}", day=D0 + timedelta(days=i)) for i in range(3)),
                *(ln("一级护理", f"n{i}", day=D0 + timedelta(days=i)) for i in range(3)),
            ),
            sn="",
        ),
        Case(
            stay(
                *(ln("床位费（三人间）", f"b{i}", day=D0 + timedelta(days=i)) for i in range(3)),
                ln("血常规检查", "x", day=D0),
            )
        ),
    ),
    "GL-XW-003": (
        Case(
            visit(ln("普通门诊诊查费", pric="8")), (stay(mdtrt_id="M0", begn_date=days_ago(2), end_date=None),), sn=""
        ),
        Case(visit(ln("普通门诊诊查费", pric="8")), (stay(mdtrt_id="M0", begn_date=days_ago(2), end_date=D0),)),
    ),
    "GL-XW-004": (
        Case(visit(PAIRS_OK, mdtrt_id="M2"), (visit(PAIRS_OK, mdtrt_id="M1"),), sn=""),
        Case(visit(PAIRS_OK, mdtrt_id="M1"), (visit(PAIRS_OK, mdtrt_id="M2"),)),
    ),
    "GL-XW-005": (
        Case(visit(PAIRS_OK), tuple(visit(PAIRS_OK, mdtrt_id=f"O{i}", psn_no=f"Q{i}") for i in range(80)), sn=""),
        Case(visit(PAIRS_OK), tuple(visit(PAIRS_OK, mdtrt_id=f"O{i}", psn_no=f"Q{i}") for i in range(79))),
    ),
    # 医疗类
    "YL-YP-001": (
        Case(visit(ln("苯磺酸氨氯地平片", "1"), ln("硝苯地平控释片", "2")), sn="2"),
        Case(visit(ln("苯磺酸氨氯地平片", "1"), ln("缬沙坦胶囊", "2"))),
    ),
    "YL-YP-002": (
        Case(stay(ln("复方氯化钠注射液", "1"), ln("注射用头孢曲松钠", "2")), sn="2"),
        Case(stay(ln("氯化钠注射液(0.9% 250ml)", "1", pric="3"), ln("注射用头孢曲松钠", "2"))),
    ),
    "YL-YP-003": (Case(visit(ln("左氧氟沙星片"), age=12)), Case(visit(ln("左氧氟沙星片"), age=18))),
    "YL-XM-001": (
        Case(visit(ln("血常规检查", "1"), ln("血常规检查", "2")), sn="2"),
        Case(visit(ln("血常规检查", "1"), ln("血常规检查", "2", pric="11"))),
    ),
    "YL-XM-002": (Case(stay(ln("全身麻醉"))), Case(stay(ln("全身麻醉"), ln("剖宫产术", "2"), gend="2"))),
    "YL-HC-001": (Case(stay(ln("可吸收性外科缝线"))), Case(stay(ln("可吸收性外科缝线"), ln("腹股沟疝修补术", "2")))),
}


def fired(rule_id: str, case: Case, stage: str) -> list[Finding]:
    rule = LIBRARY.get(rule_id)
    assert rule is not None
    return [f for f in review(case.encounter, (rule,), city_catalog(), stage=stage, history=case.history)
            if f.rule_id == rule_id]  # fmt: skip


@pytest.mark.parametrize("rule", LIBRARY.rules, ids=lambda r: f"{r.id}-{r.name}")
def test_every_rule_fires_on_a_breach_and_stays_silent_otherwise(rule: object) -> None:
    assert hasattr(rule, "id") and rule.id in CASES, f"no cases for {rule}: add a breach and a compliant visit"
    breach, ok = CASES[rule.id]
    stage = rule.stages[0]  # type: ignore[attr-defined]
    findings = fired(rule.id, breach, stage)
    assert [f.feedetl_sn for f in findings][:1] == [breach.sn], findings
    f = findings[0]
    assert f.result == rule.result and f.message and "{" not in f.message  # type: ignore[attr-defined]
    line = next((x for x in breach.encounter.lines if x.feedetl_sn == f.feedetl_sn), None)
    assert f.amount == (line.amount if line else breach.encounter.medfee_sumamt)
    assert fired(rule.id, ok, stage) == []


def test_the_library_covers_every_logic_and_category() -> None:
    from yibao.domain.supervision.rules import CATEGORIES, LOGICS

    assert LIBRARY.version == "1.0" and len(LIBRARY.rules) >= 30
    assert {r.logic for r in LIBRARY.rules} == set(LOGICS)
    assert {(r.family, r.category) for r in LIBRARY.rules} == {(f, c) for f, cs in CATEGORIES.items() for c in cs}


def test_rules_apply_only_in_their_scenes_and_stages() -> None:
    case = CASES["GZ-YP-005"][0]  # 限住院 drug at an outpatient visit
    assert review(case.encounter, LIBRARY, city_catalog(), stage="during")
    practitioner = CASES["GL-XW-005"][0]
    assert not [f for f in review(practitioner.encounter, LIBRARY, city_catalog(), stage="during",
                                  history=practitioner.history) if f.rule_id == "GL-XW-005"]  # fmt: skip
    pharmacy_only = replace(CASES["GL-XW-004"][0].encounter, kind="pharmacy")
    assert not [f for f in review(pharmacy_only, LIBRARY, city_catalog(), stage="during",
                                  history=CASES["GL-XW-004"][0].history) if f.rule_id == "GL-XW-004"]  # fmt: skip


def test_a_line_fires_once_per_rule_and_messages_name_the_item() -> None:
    enc = visit(ln("急诊诊查费", "1"), ln("急诊监护费", "2"), ln("急诊监护费", "3", cnt="2"))
    findings = [f for f in review(enc, LIBRARY, city_catalog(), stage="during") if f.rule_id == "GZ-XM-001"]
    assert [f.feedetl_sn for f in findings] == ["2", "3"]
    assert "急诊监护费" in findings[0].message and "急诊诊查费" in findings[0].message
    day = [f for f in review(enc, LIBRARY, city_catalog(), stage="during") if f.rule_id == "GZ-XM-002"]
    assert [f.feedetl_sn for f in day] == ["2", "3"] and "3 次" in day[0].message


def test_the_settlement_classification_ignores_the_supervision_fields() -> None:
    from yibao.domain.classification import LineContext, restriction_breach

    item = city_catalog().get(CODE["盐酸二甲双胍片"])
    assert item is not None and item.restrictions.dx_prefixes and item.restrictions.max_days == 30
    assert restriction_breach(item, LineContext("440100", D0, "1", 40, 3, "11")) is None


# ------------------------------------------------------------------------------------------ the loader


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


RULE = """
[[rules]]
id = "T-1"
name = "药品区分性别使用"
family = "policy"
category = "drug"
logic = "sex"
result = "definite"
window = "visit"
scenes = ["outpatient"]
stages = ["during"]
message = "{name}"
"""


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (('logic = "sex"', 'logic = "gender"'), "rule[T-1].logic"),
        (('family = "policy"', 'family = "money"'), "rule[T-1].family"),
        (('category = "drug"', 'category = "behaviour"'), "rule[T-1].category"),
        (('result = "definite"', 'result = "maybe"'), "rule[T-1].result"),
        (('scenes = ["outpatient"]', 'scenes = ["moon"]'), "rule[T-1].scenes"),
        (('stages = ["during"]', "stages = []"), "rule[T-1].stages"),
        (('message = "{name}"', 'message = "{nmae}"'), "rule[T-1].message"),
        (('message = "{name}"', 'message = "{name"'), "rule[T-1].message"),
        (('window = "visit"', 'window = "visit"\nlist_types = ["999"]'), "rule[T-1].list_types"),
        (('window = "visit"', 'window = "visit"\ncolour = "red"'), "rule[T-1].colour"),
        (('window = "visit"\n', ""), "rule[T-1].window"),
        (('logic = "sex"', 'logic = "exclusive_pair"'), "rule[T-1].params.pairs"),
        (('logic = "sex"', 'logic = "exclusive_pair"\nparams = { pairs = [["a"]] }'), "rule[T-1].params.pairs"),
        (('logic = "sex"', 'logic = "readmission"\nparams = { days = "15" }'), "rule[T-1].params.days"),
        (('logic = "sex"', 'logic = "sex"\nparams = { days = 3 }'), "rule[T-1].params.days"),
    ],
)
def test_the_loader_names_the_rule_and_key(tmp_path: Path, change: tuple[str, str], where: str) -> None:
    text = 'version = "1.0"\n' + RULE.replace(*change)
    with pytest.raises(FileError, match=r"rules\.toml: " + re.escape(where)):
        load_rule_library(write(tmp_path, text))


def test_the_loader_refuses_duplicates_and_a_missing_version(tmp_path: Path) -> None:
    with pytest.raises(FileError, match=r"rule\[T-1\]\.id: 规则编号重复"):
        load_rule_library(write(tmp_path, 'version = "1.0"\n' + RULE + RULE))
    with pytest.raises(FileError, match=r"rules\.toml: version"):
        load_rule_library(write(tmp_path, RULE))
    with pytest.raises(FileError, match=r"rules\.toml: rules\.0\.id"):
        load_rule_library(write(tmp_path, 'version = "1.0"\n' + RULE.replace('id = "T-1"\n', "")))
    loaded = load_rule_library(write(tmp_path, 'version = "2"\n' + RULE))
    assert isinstance(loaded, RuleLibrary) and loaded.rules[0].id == "T-1"


def test_the_new_restrictions_round_trip_through_the_stored_json() -> None:
    from yibao.files import catalog_item_to_json

    for name in ("盐酸二甲双胍片", "米非司酮片", "床位费（三人间）"):
        item = city_catalog().get(CODE[name])
        assert item is not None
        back = catalog_item_from_data(json.loads(catalog_item_to_json(item)))
        assert back == item and back.restrictions == item.restrictions
    assert city_catalog().get(CODE["米非司酮片"]).restrictions.insutypes == ("510",)  # type: ignore[union-attr]
    assert city_catalog().get(CODE["床位费（三人间）"]).restrictions.max_cnt_per_day == 1  # type: ignore[union-attr]
