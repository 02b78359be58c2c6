"""Who sees a service application and who may act on its tasks (docs/services.md).

The person sees their own applications, in the portal; a clerk those handled in their region or with a
task of a region there, and acts on a task of their region (a region's task there, else the handling
office's or a department's of an application handled there).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from yibao.app.accounts import CONSOLE, PORTAL, Principal, covers
from yibao.app.audit import AuditEntry
from yibao.app.errors import NotFound
from yibao.app.service_records import Application, ServiceAction, Task

if TYPE_CHECKING:
    from yibao.app.ports import Store


def _sees(application: Application, tasks: Sequence[Task], who: Principal) -> bool:
    if who.kind == PORTAL:
        return bool(application.psn_no) and application.psn_no == who.psn_no
    if who.kind != CONSOLE:
        return False
    return covers(who.region, application.admdvs) or any(
        t.party.isdigit() and covers(who.region, t.party) for t in tasks
    )


def may_act(task: Task, application: Application, who: Principal) -> bool:
    if who.kind != CONSOLE:
        return False
    return covers(who.region, task.party if task.party.isdigit() else application.admdvs)


def visible(store: Store, application_id: str, who: Principal, lock: bool = False) -> tuple[Application, list[Task]]:
    application = store.application(application_id, lock)
    tasks = [] if application is None else store.tasks(application_id)
    if application is None or not _sees(application, tasks, who):
        raise NotFound("application_id", f"申请 {application_id} 不存在")
    return application, tasks


def audit_entry(
    who: Principal, action: ServiceAction, now: datetime, ip: str, a: Application, detail: str
) -> AuditEntry:
    return AuditEntry(now, who.name, who.kind, action.value, a.psn_no, a.application_id, ip, detail[:200])
