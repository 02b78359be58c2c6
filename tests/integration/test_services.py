"""Service applications on both databases (yibao.app.service_*): the person applies in the portal with the
platform's data filled in, a clerk returns an application for materials and approves the resubmission,
a joint item of the Yangtze Delta zone completes when Qingpu, Wujiang and Jiashan have all passed their
tasks, 异地就医备案 files an approved filing, and the service board counts it all (by item, status and
region, working days against the limit, online share, trips, overdue). The regions' lists: adoption
with local items, and the diff of what is not unified."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.accounts import add_user, sign_in
from tests.databases import ROOT
from tests.flows import RETIREE, WORKER, certno
from yibao.api.server import create_app
from yibao.app import service_applications, service_board, service_effects, service_lists, service_reading
from yibao.app.accounts import Principal
from yibao.app.audit import AuditQuery
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store
from yibao.app.service_records import Application, ApplicationQuery
from yibao.cli import app as cli
from yibao.domain.errors import DomainError
from yibao.domain.filings import FilingStatus
from yibao.domain.services import FETCHED, MISSING, PROMISED, PROVIDED, ServiceItem, Step
from yibao.store import loading, tables
from yibao.store.database import Database

T = TypeVar("T")
IP = "127.0.0.7"
GZ_CLERK = Principal("console", "zhou", "clerk", "440100", "经办员周")
QP_CLERK = Principal("console", "lu", "clerk", "310118", "青浦经办员")
WJ_CLERK = Principal("console", "wu", "clerk", "320509", "吴江经办员")
JS_CLERK = Principal("console", "jia", "clerk", "330421", "嘉善经办员")
QINGPU_PERSON = "31011800000000010002"


def at(text: str) -> datetime:
    """A naive UTC time from local Shanghai wall-clock text (the clock runs on local days)."""
    local = datetime.fromisoformat(text)
    return local.replace(hour=local.hour - 8) if local.hour >= 8 else local


def portal(psn_no: str) -> Principal:
    return Principal("portal", psn_no, psn_no=psn_no)


def run(db: Database, use: Callable[[Store], T]) -> T:
    with db.transaction() as store:
        return use(store)


def submit(db: Database, code: str, who: Principal, now: datetime, psn_no: str = "", **kw: Any) -> Application:
    return run(db, lambda s: service_applications.submit(
        s, item_code=code, form=kw.get("form", {}), provided=kw.get("provided", {}), promised=kw.get("promised", ()),
        who=who, now=now, ip=IP, psn_no=psn_no,
    ))  # fmt: skip


def act(db: Database, a: Application, who: Principal, outcome: str, now: datetime, *, step: str = "",
        note: str = "", missing: tuple[str, ...] = ()) -> Application:  # fmt: skip
    """Close the open task of ``who`` (of ``step``) with ``outcome``."""
    tasks = run(db, lambda s: s.tasks(a.application_id))
    mine = [t for t in tasks if t.closed_at is None and (not step or t.step == step)
            and (t.party in ("", "bureau") or who.admdvs.startswith(t.party))]  # fmt: skip
    assert mine, tasks
    seq = mine[0].seq
    return run(db, lambda s: service_applications.decide_task(
        s, a.application_id, seq, outcome, note=note, who=who, now=now, ip=IP, missing_codes=missing
    ))  # fmt: skip


def refused(field: str, use: Callable[[], Any]) -> str:
    with pytest.raises(DomainError) as caught:
        use()
    assert caught.value.field == field, caught.value
    return caught.value.reason


def test_a_portal_application_is_filled_from_the_platform_and_approved(db: Database) -> None:
    """生育津贴 online: identity, insurance and months of contribution come from the platform; the
    person provides only the birth certificate, checks and approval pass it, no trip was made."""
    applied = submit(db, "YB10", portal(WORKER), at("2026-03-02 09:00"), form={"birth_date": "2026-02-20",
                     "emp_name": "广州某科技有限公司"}, provided={"birth": "出生医学证明 O440123456"})  # fmt: skip
    how = {m.code: (m.how, m.value) for m in applied.materials}
    assert how["id"] == (FETCHED, "居民身份证(户口簿) 4401**********2340 · 李*敏")
    assert how["insurance"][0] == FETCHED and "职工基本医疗保险 · 440100" in how["insurance"][1]
    assert how["contribution"] == (FETCHED, "职工基本医疗保险 累计缴费 150 个月")
    assert how["birth"] == (PROVIDED, "出生医学证明 O440123456")
    assert (applied.status, applied.step, applied.channel, applied.trips, applied.admdvs) == (
        "submitted",
        "check",
        "online",
        0,
        "440100",
    )
    assert applied.due_date == date(2026, 3, 23)  # 15 working days after Monday 2 March
    # the person sees their own, another person and a clerk elsewhere do not
    refused("application_id", lambda: run(db, lambda s: service_reading.application_file(
        s, applied.application_id, portal(RETIREE), at("2026-03-02 09:05"), IP)))  # fmt: skip
    refused("application_id", lambda: run(db, lambda s: service_reading.application_file(
        s, applied.application_id, QP_CLERK, at("2026-03-02 09:05"), IP)))  # fmt: skip

    checked = act(db, applied, GZ_CLERK, "pass", at("2026-03-03 10:00"))
    assert (checked.status, checked.step) == ("checked", "approve")
    done = act(db, checked, GZ_CLERK, "pass", at("2026-03-04 10:00"))
    assert (done.status, done.step, done.finished_at) == ("done", "done", at("2026-03-04 10:00"))
    history = run(db, lambda s: s.tasks(applied.application_id))
    assert [(t.step, t.outcome, t.actor) for t in history] == [
        ("submit", "pass", WORKER),
        ("check", "pass", "zhou"),
        ("approve", "pass", "zhou"),
        ("done", "pass", "zhou"),
    ]
    view = run(db, lambda s: service_reading.application_file(s, applied.application_id, portal(WORKER),
                                                         at("2026-03-05 09:00"), IP))  # fmt: skip
    assert view.timing is not None and (view.timing.used, view.timing.overdue) == (2, False)
    logged = run(db, lambda s: [e.action for e in s.audit_entries(AuditQuery(), 50)])
    assert {"service.submit", "service.decide", "service.view"} <= set(logged)


def test_returned_for_materials_at_the_counter_and_resubmitted(db: Database) -> None:
    """门诊慢特病待遇认定 at the counter without the diagnosis: the check cannot pass it, returns it naming
    every missing material at once; the clock stops; the resubmission (a second trip) starts it again."""
    applied = submit(db, "YB07", GZ_CLERK, at("2026-04-01 09:00"), psn_no=RETIREE,
                     form={"disease": "M00500 高血压", "fixmedins_code": "H44010600001"},
                     provided={"records": "病历 12 页"})  # fmt: skip
    assert (applied.channel, applied.trips) == ("counter", 1)
    assert {m.code: m.how for m in applied.materials} == {
        "id": FETCHED,
        "insurance": FETCHED,
        "diagnosis": MISSING,
        "records": PROVIDED,
    }
    assert "诊断证明" in refused("materials", lambda: act(db, applied, GZ_CLERK, "pass", at("2026-04-01 10:00")))
    refused("missing", lambda: act(db, applied, GZ_CLERK, "return", at("2026-04-01 10:00")))  # say what is missing
    back = act(db, applied, GZ_CLERK, "return", at("2026-04-01 10:00"), missing=("diagnosis", "records"),
               note="病历须盖章")  # fmt: skip
    assert (back.status, back.step) == ("returned", "submit")
    assert back.note == "请补正：二级及以上定点医疗机构诊断证明、相关病历及检查报告；病历须盖章"
    assert run(db, lambda s: service_reading.application_file(s, back.application_id, GZ_CLERK, at("2026-04-20 09:00"),
                                                        IP)).timing is None  # the clock waits  # fmt: skip
    assert not run(db, lambda s: service_reading.inbox(s, GZ_CLERK, at("2026-04-02 09:00")))

    again = run(db, lambda s: service_applications.resubmit(
        s, back.application_id, provided={"diagnosis": "诊断证明 No. 7", "records": "病历（盖章）"}, promised=(),
        who=GZ_CLERK, now=at("2026-04-07 09:00"), ip=IP))  # fmt: skip
    assert (again.status, again.trips, again.accepted_at) == ("submitted", 2, at("2026-04-07 09:00"))
    assert again.due_date == date(2026, 4, 28)  # 15 working days from Tuesday 7 April (清明 was 4–6 April)
    inbox = run(db, lambda s: service_reading.inbox(s, GZ_CLERK, at("2026-04-10 09:00")))
    check = next(r for r in inbox if r.application.application_id == again.application_id)
    assert check.task.due_date == date(2026, 4, 9) and check.timing is not None and check.timing.overdue  # 2 days
    done = act(db, act(db, again, GZ_CLERK, "pass", at("2026-04-10 09:00")), GZ_CLERK, "pass", at("2026-04-10 10:00"))
    assert done.status == "done"
    refused(
        "status",
        lambda: run(
            db,
            lambda s: service_applications.resubmit(
                s, done.application_id, provided={}, promised=(), who=GZ_CLERK, now=at("2026-04-11 09:00"), ip=IP
            ),
        ),
    )


def test_a_joint_item_completes_when_all_three_regions_have(db: Database) -> None:
    """The zone's 门诊慢特病待遇认定（三地互认）: one window in Qingpu, a parallel task in each of the three
    regions; Wujiang and Jiashan see theirs, Guangzhou sees nothing; done with the last one."""
    loading.load_registry_file(db, ROOT / "examples" / "qingpu" / "registry.json")
    applied = submit(db, "YRD07", portal(QINGPU_PERSON), at("2026-05-11 09:00"),
                     form={"disease": "M01600 糖尿病", "fixmedins_code": "H31011800001"},
                     provided={"diagnosis": "诊断证明", "records": "检查报告"})  # fmt: skip
    assert (applied.admdvs, applied.item.code) == ("310118", "YRD07")
    checked = act(db, applied, QP_CLERK, "pass", at("2026-05-11 10:00"))
    opened = [t for t in run(db, lambda s: s.tasks(applied.application_id)) if t.closed_at is None]
    assert sorted(t.party for t in opened) == ["310118", "320509", "330421"]
    wujiang_inbox = run(db, lambda s: service_reading.inbox(s, WJ_CLERK, at("2026-05-11 11:00")))
    assert [(r.application.application_id, r.task.party) for r in wujiang_inbox] == [(applied.application_id, "320509")]
    assert not [r for r in run(db, lambda s: service_reading.inbox(s, GZ_CLERK, at("2026-05-11 11:00")))
                if r.application.application_id == applied.application_id]  # fmt: skip
    seq_qingpu = next(t.seq for t in opened if t.party == "310118")
    refused(
        "seq",
        lambda: run(
            db,
            lambda s: service_applications.decide_task(
                s, applied.application_id, seq_qingpu, "pass", note="", who=WJ_CLERK, now=at("2026-05-11 11:00"), ip=IP
            ),
        ),
    )

    wujiang = act(db, checked, WJ_CLERK, "pass", at("2026-05-12 09:00"))
    qingpu = act(db, wujiang, QP_CLERK, "pass", at("2026-05-12 10:00"))
    assert (wujiang.status, qingpu.status, qingpu.step) == ("checked", "checked", "approve")
    done = act(db, qingpu, JS_CLERK, "pass", at("2026-05-13 09:00"))
    assert (done.status, done.finished_at) == ("done", at("2026-05-13 09:00"))
    closed = run(db, lambda s: s.tasks(applied.application_id))
    assert sorted(t.actor for t in closed if t.step == "approve") == ["jia", "lu", "wu"]

    # a return by one region ends the other regions' tasks and goes back to the person
    second = submit(db, "YRD07", portal(QINGPU_PERSON), at("2026-05-14 09:00"),
                    form={"disease": "M01600", "fixmedins_code": "H31011800001"},
                    provided={"diagnosis": "诊断证明", "records": "检查报告"})  # fmt: skip
    back = act(db, act(db, second, QP_CLERK, "pass", at("2026-05-14 10:00")), JS_CLERK, "return",
               at("2026-05-14 11:00"), missing=("records",))  # fmt: skip
    assert back.status == "returned"
    outcomes = sorted(t.outcome for t in run(db, lambda s: s.tasks(second.application_id)) if t.step == "approve")
    assert outcomes == ["cancelled", "cancelled", "return"]

    # two clerks pass the last two parallel tasks at the same moment: the second waits for the first
    # (the application's row is locked), sees its task closed, and finishes the application
    racy = submit(db, "YRD07", portal(QINGPU_PERSON), at("2026-05-15 09:00"),
                  form={"disease": "M01600", "fixmedins_code": "H31011800001"},
                  provided={"diagnosis": "诊断证明", "records": "检查报告"})  # fmt: skip
    act(db, act(db, racy, QP_CLERK, "pass", at("2026-05-15 10:00")), JS_CLERK, "pass", at("2026-05-15 11:00"))
    left = {t.party: t.seq for t in run(db, lambda s: s.tasks(racy.application_id)) if t.closed_at is None}
    raced: list[Application] = []

    def wujiang_passes() -> None:
        raced.append(run(db, lambda s: service_applications.decide_task(
            s, racy.application_id, left["320509"], "pass", note="", who=WJ_CLERK, now=at("2026-05-12 09:00"),
            ip=IP)))  # fmt: skip

    with db.transaction() as store:
        first = service_applications.decide_task(store, racy.application_id, left["310118"], "pass", note="",
                                                 who=QP_CLERK, now=at("2026-05-12 09:00"), ip=IP)  # fmt: skip
        racing = threading.Thread(target=wujiang_passes)
        racing.start()
        time.sleep(0.3)  # Wujiang's transaction is under way, waiting for this one
    racing.join(timeout=30)
    assert first.status == "checked" and [a.status for a in raced] == ["done"]


def test_filing_online_is_approved_at_once_or_by_the_clerk(db: Database) -> None:
    """异地就医备案 as a service item: a temporary filing is approved at submission (nothing to look at);
    a referral brings the hospital's certificate and waits for the clerk, whose approval files it."""
    form = {"insutype": "310", "filing_type": "temporary", "mdtrtarea_admdvs": "310118", "begndate": "2026-06-01"}
    instant = submit(db, "YB06", portal(WORKER), at("2026-05-20 09:00"), form=form)
    assert (instant.status, instant.trips, instant.finished_at) == ("done", 0, at("2026-05-20 09:00"))
    filing = run(db, lambda s: s.filing(instant.result["filing_id"]))
    assert filing is not None
    assert (filing.status, filing.decided_by) == (FilingStatus.APPROVED, service_applications.SYSTEM)
    assert filing.enddate == date(2026, 11, 30)  # six months at least
    assert [t.step for t in run(db, lambda s: s.tasks(instant.application_id))] == ["submit", "done"]

    referral = submit(db, "YB06", portal(WORKER), at("2026-05-20 09:10"), form={**form, "filing_type": "referral"},
                      provided={"referral": "转诊单 ZZ-0520"})  # fmt: skip
    assert (referral.status, referral.step) == ("checked", "approve")
    done = act(db, referral, GZ_CLERK, "pass", at("2026-05-20 14:00"))
    filing = run(db, lambda s: s.filing(done.result["filing_id"]))
    assert filing is not None and (filing.status, filing.filing_type, filing.decided_by) == (
        FilingStatus.APPROVED,
        "referral",
        "zhou",
    )
    # a filing the filings use case refuses (same pooling region) stops the approval: nothing is written
    before = run(db, lambda s: len(s.applications(ApplicationQuery(psn_no=WORKER))))
    refused("filing.mdtrtarea_admdvs", lambda: submit(db, "YB06", portal(WORKER), at("2026-05-20 09:20"),
                                                      form={**form, "mdtrtarea_admdvs": "440106"}))  # fmt: skip
    assert run(db, lambda s: len(s.applications(ApplicationQuery(psn_no=WORKER)))) == before
    # every effect the list names is registered; an item at the counter only is not applied for online
    named = {i.effect for i in run(db, lambda s: s.service_catalogue().items) if i.effect}
    assert named <= set(service_effects.EFFECTS)
    with pytest.raises(Refused) as caught:
        submit(db, "YB12", portal(WORKER), at("2026-07-01 09:00"))
    assert caught.value.field == "channel"  # 定点医药机构申请: at the counter only


def test_the_service_board(db: Database) -> None:
    """By item, status and region; working days against the limit; online share; trips; overdue."""
    provided = {"diagnosis": "诊断证明", "records": "病历"}
    chronic = {"disease": "M00500", "fixmedins_code": "H44010600001"}
    online = submit(db, "YB07", portal(WORKER), at("2026-06-01 09:00"), form=chronic, provided=provided)
    act(db, act(db, online, GZ_CLERK, "pass", at("2026-06-02 09:00")), GZ_CLERK, "pass", at("2026-06-03 09:00"))
    counter = submit(db, "YB07", GZ_CLERK, at("2026-06-01 09:30"), psn_no=RETIREE, form=chronic)
    back = act(db, counter, GZ_CLERK, "return", at("2026-06-01 10:00"), missing=("diagnosis", "records"))
    again = run(db, lambda s: service_applications.resubmit(s, back.application_id, provided=provided, promised=(),
                                                 who=GZ_CLERK, now=at("2026-06-15 09:00"), ip=IP))  # fmt: skip
    act(db, act(db, again, GZ_CLERK, "pass", at("2026-06-15 10:00")), GZ_CLERK, "pass", at("2026-07-20 09:00"))
    late = submit(db, "YB05", portal(RETIREE), at("2026-06-01 11:00"),
                  form={"member_certno": "440106200001011234", "relation": "child"},
                  provided={"relation": "户口簿"}, promised=("consent",))  # fmt: skip
    assert {m.code: m.how for m in late.materials}["consent"] == PROMISED
    submit(db, "YB04", portal(WORKER), at("2026-06-01 12:00"))  # instant, online

    figures = run(db, lambda s: service_board.board(s, "4401", at("2026-06-30 09:00")))
    assert (figures.total, figures.finished, figures.online) == (4, 3, 3)
    assert figures.by_status["done"] == 3 and figures.by_status["submitted"] == 1
    assert figures.by_region == {"440100": 4}
    assert figures.online_share == Decimal("75.0")
    assert (figures.trips, figures.avg_trips, figures.at_most_one_trip) == (2, Decimal("0.67"), 2)
    chronic_row = next(i for i in figures.items if i.item_code == "YB07")
    # online: 1 working day to approve (2 June → 3 June … accepted 1 June: 2 days); at the counter: from
    # the resubmission on 15 June to 20 July, 24 working days (端午 19 June off) against a limit of 15
    assert (chronic_row.total, chronic_row.finished, chronic_row.on_time, chronic_row.time_limit) == (2, 2, 1, 15)
    assert chronic_row.avg_days == Decimal("13.0")  # (2 + 24) / 2
    assert [(a.item.code, t.left) for a, t in figures.overdue] == [("YB05", -15)]  # 5 days from 1 June: 8 June
    # another region's board has none of it
    assert run(db, lambda s: service_board.board(s, "3101", at("2026-06-30 09:00"))).total == 0


def test_regions_adopt_the_list_and_the_diff_shows_what_is_not_unified(db: Database, tmp_path: Path) -> None:
    admin = Principal("console", "root", "admin", "000000")
    local = ServiceItem(code="WJ-L01", name="吴江区医保服务站点预约", family="预约服务", time_limit=1,
                        standard="一个工作日内回复", steps=(Step("submit"), Step("done")), instant=True)  # fmt: skip
    now = at("2026-07-01 09:00")
    qingpu = run(db, lambda s: service_lists.adopt(s, "310118", [], admin, now, IP))
    assert len(qingpu) == 13 and not any(r.local for r in qingpu)
    run(db, lambda s: service_lists.adopt(s, "320509", [local], admin, now, IP))
    found = run(db, lambda s: service_lists.list_diff(s, "310118", "320509"))
    assert [(d.kind, d.code_b) for d in found] == [("only_b", "WJ-L01")]
    assert run(db, lambda s: service_lists.list_diff(s, "310118", "330421")) == []  # Jiashan: the shipped zone list
    national = {
        (d.kind, d.code_a, d.code_b): d.attributes
        for d in run(db, lambda s: service_lists.list_diff(s, "440100", "310118"))
    }
    assert "code" in national[("differs", "YB07", "YRD07")]
    assert ("only_a", "YB03", "") not in national  # 参保缴费: the zone has it as YRD03
    # the local item is offered in Wujiang only, and its code cannot take a unified one
    wujiang = run(db, lambda s: service_lists.items_for(s, "320509"))
    assert [i.code for i in wujiang if i.code.startswith("WJ")] == ["WJ-L01"]
    clash = ServiceItem(code="YRD01", name="x", family="x", time_limit=1, standard="x",
                        steps=(Step("submit"), Step("done")))  # fmt: skip
    refused("local.0.code", lambda: run(db, lambda s: service_lists.adopt(s, "320509", [clash], admin, now, IP)))
    with pytest.raises(NotFound):
        run(db, lambda s: service_lists.find_item(s, "440100", "WJ-L01"))
    a = tables.service_list.c
    with db.engine.connect() as conn:
        assert conn.execute(select(func.count()).where(a.admdvs == "320509")).scalar() == 14

    # the command line: Wujiang adopts again with another local item from a file
    url = db.engine.url.render_as_string(hide_password=False)
    local_file = tmp_path / "wujiang.toml"
    local_file.write_text(
        'version = "wj-2026"\n[[items]]\ncode = "WJ-L02"\nname = "医保政策咨询预约"\nfamily = "咨询"\n'
        'time_limit = 1\nstandard = "一个工作日内回复"\nsteps = [{ code = "submit" }, { code = "done" }]\n'
    )
    runner = CliRunner()
    made = runner.invoke(cli, ["services", "adopt", "320509", "--local", str(local_file), "--database-url", url])
    assert made.exit_code == 0 and "13 unified items, 1 local" in made.output, made.output
    printed = runner.invoke(cli, ["services", "diff", "310118", "320509", "--database-url", url])
    assert printed.exit_code == 1 and printed.output.split("\t")[:3] == ["only_b", "-", "WJ-L02"], printed.output
    same = runner.invoke(cli, ["services", "diff", "310118", "330421", "--database-url", url])
    assert same.exit_code == 0, same.output
    bad = tmp_path / "bad.toml"
    bad.write_text(local_file.read_text().replace('"submit"', '"check"'))
    refused_file = runner.invoke(cli, ["services", "adopt", "320509", "--local", str(bad), "--database-url", url])
    assert refused_file.exit_code == 2 and "bad.toml: items.0[WJ-L02].steps" in refused_file.output


def test_the_pages_portal_applies_clerk_returns_and_approves(db: Database) -> None:
    """Through the real application in-process: the portal's form shows what the platform holds, the person
    applies; the clerk's inbox lists it, a return names the materials, the person resubmits, the clerk
    passes both steps; a read-only account sees the board but not the application."""
    add_user(db, "zhou", "clerk", "440100")
    add_user(db, "ro", "readonly", "440100")
    with TestClient(create_app(db)) as person, TestClient(create_app(db)) as clerk, TestClient(create_app(db)) as ro:
        person.post("/portal", data={"certno": certno(WORKER), "card_no": "K44010023456"})
        listed = person.get("/portal/services")
        assert 'data-item-code="YB07"' in listed.text and 'data-item-code="YB12"' not in listed.text  # counter only
        form = person.get("/portal/services/YB07")
        assert form.text.count('data-testid="material-fetched"') == 2 and "平台已有，无需提供" in form.text
        assert "4401**********2340" in form.text and certno(WORKER) not in form.text
        bad = person.post("/portal/services/YB07", data={"f_disease": ""})
        assert bad.status_code == 400 and "form.disease" in bad.text
        sent = person.post("/portal/services/YB07", data={"f_disease": "M00500", "f_fixmedins_code": "H44010600001",
                           "m_diagnosis": "诊断证明 A-1"}, follow_redirects=False)  # fmt: skip
        assert sent.status_code == 303
        application_id = sent.headers["location"].rsplit("/", 1)[1]
        assert 'data-status="submitted"' in person.get(sent.headers["location"]).text

        assert sign_in(clerk, "zhou").status_code == 303
        assert application_id in clerk.get("/console/services/inbox").text
        page = clerk.get(f"/console/services/applications/{application_id}")
        seq = int(re.findall(r"/tasks/(\d+)", page.text)[0])
        url = f"/console/services/applications/{application_id}/tasks/{seq}"
        refused_pass = clerk.post(url, data={"outcome": "pass"})
        assert refused_pass.status_code == 409 and "相关病历及检查报告" in refused_pass.text
        assert (
            clerk.post(url, data={"outcome": "return", "missing": "records"}, follow_redirects=False).status_code == 303
        )

        back = person.get(f"/portal/applications/{application_id}")
        assert 'data-status="returned"' in back.text and "请补正：相关病历及检查报告" in back.text
        again = person.post(f"/portal/applications/{application_id}/resubmit", data={"m_records": "病历 3 页"},
                            follow_redirects=False)  # fmt: skip
        assert again.status_code == 303
        for _ in ("check", "approve"):
            page = clerk.get(f"/console/services/applications/{application_id}")
            seq = int(re.findall(r"/tasks/(\d+)", page.text)[0])
            done = clerk.post(f"/console/services/applications/{application_id}/tasks/{seq}", data={"outcome": "pass"},
                              follow_redirects=False)  # fmt: skip
            assert done.status_code == 303
        assert 'data-status="done"' in person.get(f"/portal/applications/{application_id}").text
        board = clerk.get("/console/services")
        assert 'data-testid="board-total">1<' in board.text and 'data-testid="board-online">100.0%' in board.text

        assert sign_in(ro, "ro").status_code == 303
        assert ro.get("/console/services").status_code == 200
        assert ro.get(f"/console/services/applications/{application_id}").status_code == 403
        diff = ro.get("/console/services/catalogue?a=310118&b=330421")
        assert 'data-testid="diff-none"' in diff.text


def test_approval_settles_a_manual_claim_and_moves_an_insurance(db: Database) -> None:
    """零星报销 and 转移接续 through the workflow: approval runs their use cases in its transaction
    (yibao.app.manual_claims, yibao.app.transfers) and the application shows what they did."""
    bill = {"insutype": "310", "med_type": "11", "fixmedins_code": "H44010600001", "mdtrtarea_admdvs": "440100",
            "begndate": "2026-08-03", "medfee_sumamt": "200.00", "invoice_no": "No.1"}  # fmt: skip
    claim = submit(db, "YB09", portal(WORKER), at("2026-08-10 09:00"), form=bill, promised=("bank",),
                   provided={"invoice": "票据 No.1", "detail": "明细 1 页"})  # fmt: skip
    paid = act(db, act(db, claim, GZ_CLERK, "pass", at("2026-08-10 10:00")), GZ_CLERK, "pass", at("2026-08-11 10:00"))
    assert paid.status == "done" and paid.result["claim_id"]
    assert (paid.result["medfee_sumamt"], paid.result["paid_to_person"]) == ("200.00", "90.00")  # 45% of 200

    move = {"insutype": "310", "from_admdvs": "440100", "to_admdvs": "440300"}
    moving = submit(db, "YB08", GZ_CLERK, at("2026-08-12 09:00"), psn_no=WORKER, form=move)
    assert {m.code: m.how for m in moving.materials} == {"id": FETCHED, "insurance": FETCHED, "contribution": FETCHED}
    moved = act(db, act(db, moving, GZ_CLERK, "pass", at("2026-08-12 10:00")), GZ_CLERK, "pass", at("2026-08-12 11:00"))
    assert (moved.result["transfer_id"], moved.result["months_carried"], moved.result["account_moved"]) == (
        moving.application_id,
        "150",
        "5000.00",
    )
    assert moved.trips == 1  # everything it needed was the platform's: one visit to the counter
