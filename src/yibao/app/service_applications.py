"""Service applications (经办服务: 最多跑一次, 一站式联办; docs/services.md).

An application (``submit``): in the portal by the person (online, no trip) or at a counter by a clerk
(a trip). Materials the platform holds are filled in from its data (``yibao.app.service_materials``); the
person only provides the rest, or signs a promise where the item allows. The item's steps then open tasks
(``decide_task`` closes one: pass, return for materials — all of them named at once — or refuse); a joint
step's tasks, one per region or department, all have to pass. A returned application is resubmitted
(``resubmit``) and its clock starts again. When it is done, approval's effect runs
(``yibao.app.service_effects``).

Every submission and decision is written to the audit log in its transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from yibao.app.accounts import PORTAL, Principal, covers
from yibao.app.audit import AuditEntry, record
from yibao.app.errors import NotFound, Refused
from yibao.app.privacy import looks_like_certno
from yibao.app.records import local_date
from yibao.app.service_access import audit_entry, may_act, visible
from yibao.app.service_effects import run_effect
from yibao.app.service_lists import check_region, find_item, items_for
from yibao.app.service_materials import fill, prefill
from yibao.app.service_records import Application, ServiceAction, Task
from yibao.app.transfers import Hub
from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen
from yibao.domain.services import (
    CANCELLED,
    CHECK,
    COUNTER,
    DONE,
    FETCHED,
    MISSING,
    ONLINE,
    PASS,
    PROMISED,
    PROVIDED,
    REFUSE,
    REFUSED,
    RETURN,
    RETURNED,
    SUBMIT,
    MaterialState,
    Move,
    ServiceItem,
    add_working_days,
    check_form,
    decide,
    missing,
    needed,
    submitted,
)

if TYPE_CHECKING:
    from yibao.app.ports import Store


SYSTEM = "即时办结"
"""The actor of what the platform does by itself (an instant item's approval)."""


@frozen
class Prepared:
    """What the form of an item shows before it is filled: the person, and the materials the platform holds."""

    item: ServiceItem
    psn_no: str
    prefilled: dict[str, str]
    """Material code → the platform's data standing in for it (平台已有，无需提供)."""


def prepare(store: Store, item_code: str, query: str, who: Principal, now: datetime, ip: str) -> Prepared:
    """The form of an item for a person: in the portal the person signed in; at the counter the person
    the clerk names by ID number or psn_no ("" for an institution's item). Logged: it shows their data."""
    if who.kind == PORTAL:
        assert who.psn_no is not None
        psn_no, admdvs = who.psn_no, _region_of(store, who.psn_no)
    else:
        psn_no = _person_of(store, query) if query.strip() else ""
        admdvs = who.admdvs if who.region else (_region_of(store, psn_no) if psn_no else "")
        check_region(admdvs)
    item = find_item(store, admdvs, item_code)
    if item.applicant == "person" and not psn_no:
        raise Refused("person", "请填写参保人的身份证号码或人员编号")
    shown = prefill(store, item, psn_no, local_date(now)) if psn_no else {}
    record(store, AuditEntry(now, who.name, who.kind, ServiceAction.VIEW, psn_no, item.code, ip, "form"))
    return Prepared(item, psn_no, shown)


def _person_of(store: Store, query: str) -> str:
    text = query.strip()
    person = store.person_by_certno(text.upper()) if looks_like_certno(text) else store.person(text[:30])
    if person is None:
        raise NotFound("person", "没有找到该参保人")
    return person.psn_no


def offered(store: Store, who: Principal) -> list[ServiceItem]:
    """The items the caller may apply for: in the portal, the person's region's items online (for
    persons); at the counter, the clerk's region's items at a counter."""
    if who.kind == PORTAL:
        assert who.psn_no is not None
        items = items_for(store, _region_of(store, who.psn_no))
        return [i for i in items if ONLINE in i.channels and i.applicant == "person"]
    if not who.region:
        return list(store.service_catalogue().items)
    return [i for i in items_for(store, who.admdvs) if COUNTER in i.channels]


def _region_of(store: Store, psn_no: str) -> str:
    regions = sorted({i.insuplc_admdvs for i in store.insurances(psn_no) if i.psn_insu_stas == "1"})
    if not regions:
        raise Refused("psn_no", "没有正常参保的险种，无法在网上办理")
    return regions[0]


def submit(
    store: Store,
    *,
    item_code: str,
    form: Mapping[str, str],
    provided: Mapping[str, str],
    promised: Sequence[str],
    who: Principal,
    now: datetime,
    ip: str,
    psn_no: str = "",
    hub: Hub | None = None,
) -> Application:
    """A new application: by the person in the portal (online; ``psn_no`` is theirs), or by a clerk at
    the counter for ``psn_no`` (a trip; "" for an institution's item). Materials are filled in; an
    instant item with nothing to look at is done (and its effect run) at once."""
    today = local_date(now)
    if who.kind == PORTAL:
        assert who.psn_no is not None
        psn_no, channel = who.psn_no, ONLINE
        admdvs = _region_of(store, psn_no)
    else:
        channel = COUNTER
        admdvs = who.admdvs if who.region else ""
        if psn_no and store.person(psn_no) is None:
            raise NotFound("psn_no", f"{psn_no} 人员编号不存在")
        if not admdvs:
            admdvs = _region_of(store, psn_no) if psn_no else ""
        check_region(admdvs)
    item = find_item(store, admdvs, item_code)
    if channel not in item.channels:
        raise Refused("channel", f"{item.name} 不能{'网上' if channel == ONLINE else '在窗口'}办理")
    if (item.applicant == "person") != bool(psn_no):
        raise Refused("psn_no", "个人事项须指明参保人" if psn_no == "" else f"{item.name} 由单位申请，不针对个人")
    try:
        clean = check_form(item, form)
    except DomainError as exc:
        raise Refused(exc.field, exc.reason) from None
    states = fill(store, item, psn_no, clean, provided, promised, today)
    cal = store.service_calendar()
    application = Application(
        application_id=store.new_id("FW", admdvs), item=item, psn_no=psn_no, admdvs=admdvs, channel=channel,
        status="", step=SUBMIT, form=clean, materials=states, due_date=add_working_days(cal, today, item.time_limit),
        trips=int(channel == COUNTER), submitted_at=now, accepted_at=now, updated_at=now, created_by=who.name,
        updated_by=who.name,
    )  # fmt: skip
    move = submitted(item, clean, states)
    store.insert_application(replace(application, status=move.status, step=move.step))
    task = Task(application.application_id, 1, SUBMIT, "", now, application.due_date)
    store.add_task(task)
    store.close_task(replace(task, closed_at=now, outcome=PASS, actor=who.name, channel=channel, note=_noted(states)))
    done = _apply(store, application, move, 2, now, SYSTEM if move.finished else who.name, hub)
    record(store, audit_entry(who, ServiceAction.SUBMIT, now, ip, done, f"{item.code} {channel} {done.status}"))
    return done


def resubmit(
    store: Store,
    application_id: str,
    *,
    provided: Mapping[str, str],
    promised: Sequence[str],
    who: Principal,
    now: datetime,
    ip: str,
    hub: Hub | None = None,
) -> Application:
    """The materials a return asked for: by the person online, or at a counter (another trip). The clock
    starts again today (the day the complete materials arrive is the day of acceptance)."""
    application, tasks = visible(store, application_id, who, lock=True)
    if application.status != RETURNED:
        raise Refused("status", f"申请 {application_id} 状态为{application.status_label}，无需补正")
    channel = ONLINE if who.kind == PORTAL else COUNTER
    if channel == COUNTER and not covers(who.region, application.admdvs):
        raise Refused("application_id", f"申请 {application_id} 由 {application.admdvs} 受理，请在受理地补正")
    kept = {s.code: s.value for s in application.materials if s.how == PROVIDED}
    states = fill(
        store, application.item, application.psn_no, application.form, {**kept, **provided},
        [*promised, *(s.code for s in application.materials if s.how == PROMISED)], local_date(now),
    )  # fmt: skip
    due = add_working_days(store.service_calendar(), local_date(now), application.item.time_limit)
    application = replace(
        application, materials=states, due_date=due, trips=application.trips + (channel == COUNTER),
        accepted_at=now, updated_at=now, updated_by=who.name, note="",
    )  # fmt: skip
    seq = _next_seq(tasks)
    task = Task(application_id, seq, SUBMIT, "", now, due)
    store.add_task(task)
    store.close_task(replace(task, closed_at=now, outcome=PASS, actor=who.name, channel=channel, note=_noted(states)))
    move = submitted(application.item, application.form, states)
    done = _apply(store, application, move, seq + 1, now, SYSTEM if move.finished else who.name, hub)
    record(store, audit_entry(who, ServiceAction.RESUBMIT, now, ip, done, f"{channel} {done.status}"))
    return done


def decide_task(
    store: Store,
    application_id: str,
    seq: int,
    outcome: str,
    *,
    note: str,
    who: Principal,
    now: datetime,
    ip: str,
    missing_codes: Sequence[str] = (),
    hub: Hub | None = None,
) -> Application:
    """A clerk closes an open task: pass (at check, only with every required material in hand), return
    (naming every missing material at once, 一次性告知) or refuse (saying why). When the step's last
    task passes, the next step opens; after approval the effect runs and the application is done."""
    application, tasks = visible(store, application_id, who, lock=True)
    task = next((t for t in tasks if t.seq == seq), None)
    if task is None or task.closed_at is not None:
        raise NotFound("seq", f"申请 {application_id} 没有待办任务 {seq}")
    if not may_act(task, application, who):
        raise Refused("seq", f"任务 {seq} 由 {task.party_label or application.admdvs} 办理")
    item = application.item
    note = note.strip()[:500]
    if outcome not in (PASS, RETURN, REFUSE):
        raise Refused(
            "outcome", f"办理结果须为 pass（通过）、return（退回补正）或 refuse（不予办理），而不是 {outcome!r}"
        )
    if outcome == RETURN:
        codes = {m.code: m.name for m in needed(item, application.form)}
        unknown = [c for c in missing_codes if c not in codes]
        if unknown:
            raise Refused("missing", f"事项没有材料 {unknown[0]}")
        if not missing_codes and not note:
            raise Refused("missing", "退回补正须一次性告知所缺的全部材料（勾选材料或写明）")
        named = "、".join(codes[c] for c in missing_codes)
        note = "；".join(x for x in (f"请补正：{named}" if named else "", note) if x)
        states = tuple(
            replace(s, how=MISSING, value="") if s.code in missing_codes else s for s in application.materials
        )
        application = replace(application, materials=states)
    elif outcome == PASS and task.step == CHECK:
        lacking = missing(item, application.form, application.materials)
        if lacking:
            raise Refused("materials", f"缺少材料：{'、'.join(m.name for m in lacking)}，请退回补正")
    elif outcome == REFUSE and not note:
        raise Refused("note", "不予办理须写明理由")
    others = [t for t in tasks if t.step == task.step and t.closed_at is None and t.seq != seq]
    try:
        move = decide(item, task.step, outcome, len(others))
    except DomainError as exc:
        raise Refused(exc.field, exc.reason) from None
    store.close_task(replace(task, closed_at=now, outcome=outcome, actor=who.name, note=note))
    if move.cancel_others:
        for other in others:
            store.close_task(replace(other, closed_at=now, outcome=CANCELLED, actor=who.name))
    if outcome != PASS:
        application = replace(application, note=note)
    done = _apply(store, replace(application, updated_by=who.name), move, _next_seq(tasks), now, who.name, hub)
    record(store, audit_entry(who, ServiceAction.DECIDE, now, ip, done, f"{seq} {task.step} {outcome}"))
    return done


def _apply(
    store: Store, application: Application, move: Move, seq: int, now: datetime, actor: str, hub: Hub | None = None
) -> Application:
    """Write the move: the application's status and step, the tasks it opens, and when it reaches done,
    approval's effect and a closed done task with its result."""
    application = replace(application, status=move.status, step=move.step, updated_at=now)
    if move.finished:
        application = replace(application, updated_by=actor)
        result = run_effect(store, application, now, hub)
        application = replace(application, result=result, finished_at=now)
        note = "；".join(f"{k} {v}" for k, v in result.items())
        store.add_task(Task(application.application_id, seq, DONE, "", now, application.due_date, now, PASS, actor,
                            note=note[:500]))  # fmt: skip
    elif move.status == REFUSED:
        application = replace(application, finished_at=now)
    cal = store.service_calendar()
    for n, party in enumerate(move.open):
        days = application.item.step(move.step).days
        due = add_working_days(cal, local_date(now), days) if days else application.due_date
        store.add_task(Task(application.application_id, seq + n, move.step, party, now, min(due, application.due_date)))
    store.update_application(application)
    return application


def _next_seq(tasks: Sequence[Task]) -> int:
    return max((t.seq for t in tasks), default=0) + 1


def _noted(states: Sequence[MaterialState]) -> str:
    n = {how: sum(1 for s in states if s.how == how) for how in (FETCHED, PROMISED, PROVIDED, MISSING)}
    return f"平台调取 {n[FETCHED]} 项，承诺 {n[PROMISED]} 项，提供 {n[PROVIDED]} 项，缺 {n[MISSING]} 项"
