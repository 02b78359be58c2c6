"""The service list and the workflow of an application (yibao.domain.services): the shapes of a
workflow (simple, returned for materials, joint across three regions), the working-day clock with the
2026 holidays and adjusted weekends, the diff of two regions' lists, the materials a form needs, and
the shipped files."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from yibao.domain.errors import DomainError
from yibao.domain.services import (
    APPROVE,
    CHECK,
    CHECKED,
    DONE,
    FETCHED,
    FINISHED,
    MISSING,
    PASS,
    PROMISED,
    PROVIDED,
    REFUSE,
    REFUSED,
    RETURN,
    RETURNED,
    SUBMIT,
    SUBMITTED,
    Calendar,
    FormField,
    Material,
    MaterialState,
    ServiceItem,
    Step,
    add_working_days,
    check_form,
    check_item,
    decide,
    diff,
    missing,
    needed,
    submitted,
    timing,
    working_days,
)
from yibao.files.loader import FileError
from yibao.files.services import calendar_from_data, load_calendar, load_catalogue

CAL = load_calendar()
ZONE = ("310118", "320509", "330421")


def item(code: str = "T1", *, steps: tuple[Step, ...] | None = None, **kw: object) -> ServiceItem:
    base = ServiceItem(
        code=code, name="测试事项", family="测试", time_limit=5, standard="五个工作日内办结",
        steps=steps or (Step(SUBMIT), Step(CHECK), Step(APPROVE), Step(DONE)),
        materials=(Material("id", "身份证", source="identity"), Material("invoice", "票据"),
                   Material("promise", "承诺书", promise=True),
                   Material("discharge", "出院小结", when={"med_type": ("21",)})),
        fields=(FormField("med_type", "医疗类别", kind="choice", choices=(("11", "门诊"), ("21", "住院"))),),
    )  # fmt: skip
    return check_item(replace(base, **kw))  # type: ignore[arg-type]


# ---------------------------------------------------------------- workflow shapes


def test_a_simple_item_goes_submit_check_approve_done() -> None:
    simple = item()
    first = submitted(simple, {}, ())
    assert (first.status, first.step, first.open, first.finished) == (SUBMITTED, CHECK, ("",), False)
    checked = decide(simple, CHECK, PASS, 0)
    assert (checked.status, checked.step, checked.open) == (CHECKED, APPROVE, ("",))
    done = decide(simple, APPROVE, PASS, 0)
    assert (done.status, done.step, done.finished) == (FINISHED, DONE, True)
    # an item without an approval step is done when its materials pass
    short = item(steps=(Step(SUBMIT), Step(CHECK), Step(DONE)))
    assert decide(short, CHECK, PASS, 0).finished


def test_a_return_for_materials_goes_back_to_the_person_and_a_refusal_ends_it() -> None:
    simple = item()
    back = decide(simple, CHECK, RETURN, 0)
    assert (back.status, back.step, back.open, back.finished, back.cancel_others) == (RETURNED, SUBMIT, (), False, True)
    # the resubmission walks the steps again from the check
    assert submitted(simple, {}, ()).step == CHECK
    refused = decide(simple, APPROVE, REFUSE, 0)
    assert (refused.status, refused.finished) == (REFUSED, False)
    with pytest.raises(DomainError) as caught:
        decide(simple, APPROVE, "maybe", 0)
    assert caught.value.field == "outcome"
    with pytest.raises(DomainError) as caught:
        decide(simple, SUBMIT, PASS, 0)
    assert caught.value.field == "step"


def test_a_joint_step_opens_a_task_in_each_region_and_passes_with_the_last() -> None:
    joint = item(steps=(Step(SUBMIT), Step(CHECK), Step(APPROVE, parallel=ZONE), Step(DONE)))
    assert joint.joint
    opened = decide(joint, CHECK, PASS, 0)
    assert (opened.step, opened.open) == (APPROVE, ZONE)
    assert decide(joint, APPROVE, PASS, 2) == decide(joint, APPROVE, PASS, 1)  # still waiting for the others
    waiting = decide(joint, APPROVE, PASS, 1)
    assert (waiting.status, waiting.step, waiting.open, waiting.finished) == (CHECKED, APPROVE, (), False)
    assert decide(joint, APPROVE, PASS, 0).finished
    # one region returning it ends the other regions' tasks
    assert decide(joint, APPROVE, RETURN, 2).cancel_others


def test_an_instant_item_is_done_at_submission_only_when_nothing_needs_a_look() -> None:
    instant = item(instant=True, steps=(Step(SUBMIT), Step(APPROVE), Step(DONE)))
    fetched = (MaterialState("id", "身份证", FETCHED, "x"), MaterialState("promise", "承诺书", PROMISED))
    needs_invoice = replace(instant, materials=instant.materials[:1] + instant.materials[2:])
    assert submitted(needs_invoice, {}, fetched).finished
    provided = (*fetched, MaterialState("invoice", "票据", PROVIDED, "No. 1"))
    assert submitted(instant, {}, provided).step == APPROVE  # a receipt the clerk must look at
    assert not submitted(instant, {}, fetched).finished  # the invoice is missing


# ---------------------------------------------------------------- materials and forms


def test_materials_a_form_needs_and_what_is_missing() -> None:
    simple = item()
    assert [m.code for m in needed(simple, {"med_type": "11"})] == ["id", "invoice", "promise"]
    assert [m.code for m in needed(simple, {"med_type": "21"})] == ["id", "invoice", "promise", "discharge"]
    states = [MaterialState("id", "身份证", FETCHED, "4401**"), MaterialState("invoice", "票据", MISSING)]
    assert [m.code for m in missing(simple, {"med_type": "21"}, states)] == ["invoice", "promise", "discharge"]
    with pytest.raises(DomainError) as caught:
        check_form(simple, {})
    assert caught.value.field == "form.med_type"
    with pytest.raises(DomainError) as caught:
        check_form(simple, {"med_type": "99"})
    assert caught.value.field == "form.med_type"
    assert check_form(simple, {"med_type": "21", "other": "dropped"}) == {"med_type": "21"}


def test_a_bad_item_is_refused_naming_the_key() -> None:
    for bad, key in (
        ({"steps": (Step(CHECK), Step(DONE))}, "steps"),
        ({"steps": (Step(SUBMIT), Step(APPROVE), Step(CHECK), Step(DONE))}, "steps"),
        ({"steps": (Step(SUBMIT), Step(CHECK, parallel=("310118", "abc")), Step(DONE))}, "steps.1.parallel"),
        ({"time_limit": -1}, "time_limit"),
        ({"levels": ("galaxy",)}, "levels"),
        ({"materials": (Material("id", "x", source="horoscope"),)}, "materials.0.source"),
    ):
        with pytest.raises(DomainError) as caught:
            item(**bad)
        assert caught.value.field == f"item[T1].{key}", caught.value


# ---------------------------------------------------------------- the clock


def test_working_days_skip_the_2026_holidays_and_count_the_adjusted_weekends() -> None:
    # Spring Festival 2026: 15–23 February off, Saturday the 14th and the 28th worked
    assert CAL.is_working_day(date(2026, 2, 14)) and not CAL.is_working_day(date(2026, 2, 16))
    assert add_working_days(CAL, date(2026, 2, 13), 1) == date(2026, 2, 14)  # a Saturday, worked
    assert add_working_days(CAL, date(2026, 2, 14), 1) == date(2026, 2, 24)  # over the nine days off
    assert working_days(CAL, date(2026, 2, 13), date(2026, 2, 27)) == 5  # 14, 24, 25, 26, 27
    assert working_days(CAL, date(2026, 2, 13), date(2026, 3, 1)) == 6  # and Saturday the 28th, not Sunday
    # National Day: 1–7 October off, Saturday the 10th worked
    assert add_working_days(CAL, date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert add_working_days(CAL, date(2026, 9, 30), 0) == date(2026, 9, 30)
    # without the data, the same days are plain weekdays and weekends
    plain = Calendar()
    assert add_working_days(plain, date(2026, 2, 13), 1) == date(2026, 2, 16)
    assert CAL.known(date(2026, 6, 1)) and not CAL.known(date(2031, 6, 1))


def test_an_application_against_its_time_limit() -> None:
    # accepted on Friday 2026-09-25 (中秋), 5 working days: 28, 29, 30 Sept, then 8 and 9 October
    clock = timing(CAL, date(2026, 9, 25), 5, date(2026, 9, 30))
    assert (clock.due, clock.used, clock.left, clock.overdue, clock.due_soon) == (date(2026, 10, 9), 3, 2, False, False)
    soon = timing(CAL, date(2026, 9, 25), 5, date(2026, 10, 8))
    assert (soon.left, soon.due_soon) == (1, True)
    late = timing(CAL, date(2026, 9, 25), 5, date(2026, 10, 13))  # past it: Saturday the 10th, 12th, 13th
    assert (late.used, late.left, late.overdue) == (8, -3, True)
    finished = timing(CAL, date(2026, 9, 25), 5, date(2026, 12, 1), finished=date(2026, 10, 9))
    assert (finished.used, finished.overdue, finished.due_soon) == (5, False, False)


def test_the_holiday_file_is_checked() -> None:
    with pytest.raises(FileError, match=r"year.0.workdays.0: a Saturday or Sunday"):
        calendar_from_data({"year": [{"year": 2026, "source": "x", "workdays": [date(2026, 2, 16)]}]}, "h.toml")
    with pytest.raises(FileError, match=r"year.0.source"):
        calendar_from_data({"year": [{"year": 2026}]}, "h.toml")


# ---------------------------------------------------------------- the regional diff


def test_the_diff_of_two_lists_names_what_is_not_unified() -> None:
    a = [item("A1", name="参保登记", family="参保登记"), item("A2", name="异地就医备案", family="备案"),
         item("A3", name="只在甲地", family="甲"), item("A4", name="家庭共济绑定", family="个人账户")]  # fmt: skip
    b = [
        item("A1", name="参保登记", family="参保登记", time_limit=10, standard="十个工作日"),
        item("B2", name="异地就医备案", family="备案"),  # the same item under another code
        item("B9", name="只在乙地", family="乙"),
        item("B4", name="家庭共济（跨区）", family="个人账户"),  # the family's one item on each side
    ]
    found = {(d.kind, d.code_a, d.code_b): d.attributes for d in diff(a, b)}
    assert found == {
        ("differs", "A1", "A1"): ("time_limit", "standard"),
        ("differs", "A2", "B2"): ("code",),
        ("differs", "A4", "B4"): ("code", "name"),
        ("only_a", "A3", ""): (),
        ("only_b", "", "B9"): (),
    }
    assert diff(a, list(a)) == []


# ---------------------------------------------------------------- the shipped list


def test_the_shipped_list_has_the_families_and_the_zones_twelve_items() -> None:
    catalogue = load_catalogue()
    families = {i.family for i in catalogue.items}
    assert {"参保登记", "参保信息变更", "参保缴费", "个人账户", "异地就医备案", "门诊慢特病待遇认定", "转移接续",
            "零星报销", "生育津贴", "医疗救助", "定点机构申请"} <= families  # fmt: skip
    zone = [i for i in catalogue.items if i.zone == "yrd-demo"]
    assert len(zone) == 12 and all("online" in i.channels for i in zone)
    assert sum(i.joint for i in zone) == 5
    assert all(set(s.parallel) == set(ZONE) for i in zone for s in i.steps if s.parallel)
    # in Qingpu the zone's items replace the national ones of their families; Guangzhou has the national list
    qingpu = catalogue.offered_in("310118")
    assert {i.code for i in qingpu if i.family == "零星报销"} == {"YRD09"}
    assert {i.code for i in catalogue.offered_in("440100") if i.family == "零星报销"} == {"YB09"}
    assert [i.code for i in qingpu if not i.zone] == ["YB12"]  # 定点机构申请: not on the zone's list
    assert {i.effect for i in catalogue.items} == {"", "filing", "manual_claim", "transfer"}


def test_a_bad_list_file_names_the_item_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "local.toml"
    bad.write_text(
        'version = "1"\n[[items]]\ncode = "L1"\nname = "x"\nfamily = "x"\ntime_limit = 3\nstandard = "s"\n'
        'steps = [{ code = "submit" }, { code = "done" }]\nchannels = ["fax"]\n'
    )
    with pytest.raises(FileError, match=r"local.toml: items.0\[L1\].channels"):
        load_catalogue(bad)
