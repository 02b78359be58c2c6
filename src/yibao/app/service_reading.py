"""Reading service applications (docs/services.md): an application's file with its tasks and clock
(``application_file``, logged), a clerk's inbox of open tasks (``inbox``) and a person's applications
(``mine``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from yibao.app.accounts import Principal
from yibao.app.audit import record
from yibao.app.records import local_date
from yibao.app.service_access import audit_entry, may_act, visible
from yibao.app.service_records import Application, ApplicationQuery, ServiceAction, Task
from yibao.domain.frozen import frozen
from yibao.domain.services import RETURNED, Calendar, Timing, against, timing

if TYPE_CHECKING:
    from yibao.app.ports import Store


INBOX_LIMIT = 500


@frozen
class TaskView:
    task: Task
    timing: Timing | None
    """Open tasks only: the step against its due date."""
    may_act: bool


@frozen
class ApplicationFile:
    application: Application
    tasks: list[TaskView]
    timing: Timing | None
    """None while returned (the clock waits for the materials)."""


def clock(cal: Calendar, application: Application, today: date) -> Timing | None:
    if application.status == RETURNED:
        return None
    finished = local_date(application.finished_at) if application.finished_at else None
    return timing(cal, local_date(application.accepted_at), application.item.time_limit, today, finished)


def _task_timing(cal: Calendar, task: Task, today: date) -> Timing | None:
    return None if task.closed_at is not None else against(cal, local_date(task.opened_at), task.due_date, today)


def application_file(store: Store, application_id: str, who: Principal, now: datetime, ip: str) -> ApplicationFile:
    """The application with its tasks and clock, for its person or a clerk who sees it (logged)."""
    application, tasks = visible(store, application_id, who)
    record(store, audit_entry(who, ServiceAction.VIEW, now, ip, application, application.status))
    cal, today = store.service_calendar(), local_date(now)
    views = [
        TaskView(t, _task_timing(cal, t, today), t.closed_at is None and may_act(t, application, who)) for t in tasks
    ]
    return ApplicationFile(application, views, clock(cal, application, today))


@frozen
class InboxRow:
    task: Task
    application: Application
    timing: Timing | None


def inbox(store: Store, who: Principal, now: datetime) -> list[InboxRow]:
    """The open tasks a clerk may do, the most urgent first (overdue, then by due date)."""
    cal, today = store.service_calendar(), local_date(now)
    rows = [InboxRow(t, a, _task_timing(cal, t, today)) for t, a in store.open_tasks(who.region, INBOX_LIMIT)]
    return sorted(rows, key=lambda r: (r.task.due_date, r.task.opened_at))


def mine(store: Store, psn_no: str, now: datetime) -> list[tuple[Application, Timing | None]]:
    """The person's applications, the newest first, with their clocks."""
    cal, today = store.service_calendar(), local_date(now)
    return [(a, clock(cal, a, today)) for a in store.applications(ApplicationQuery(psn_no=psn_no, limit=100))]
