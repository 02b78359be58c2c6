"""Service items and applications (part of ``SqlStore``; ``yibao.app.service_records.ServiceStore``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, exists, func, insert, or_, select, update

from yibao.app.service_records import (
    Application,
    ApplicationQuery,
    ClockRow,
    RegionItem,
    StatusCount,
    Task,
)
from yibao.domain.services import CHECKED, SUBMITTED, Calendar, Catalogue, MaterialState
from yibao.files.services import item_from_json, item_to_json, load_calendar, load_catalogue
from yibao.store import tables as t

_TASK = ("application_id", "seq", "step", "party", "opened_at", "due_date", "closed_at", "outcome", "actor",
         "channel", "note")  # fmt: skip
OPEN = (SUBMITTED, CHECKED)


def _row_of(a: Application) -> dict[str, Any]:
    return {
        "application_id": a.application_id,
        "item_code": a.item.code,
        "item_name": a.item.name,
        "item_version": a.item.version,
        "item": item_to_json(a.item),
        "time_limit": a.item.time_limit,
        **_changing(a),
        "submitted_at": a.submitted_at,
        "created_by": a.created_by,
    }


def _changing(a: Application) -> dict[str, Any]:
    return {
        "psn_no": a.psn_no,
        "admdvs": a.admdvs,
        "channel": a.channel,
        "status": a.status,
        "step": a.step,
        "form": json.dumps(a.form, ensure_ascii=False),
        "materials": json.dumps([asdict(m) for m in a.materials], ensure_ascii=False),
        "due_date": a.due_date,
        "trips": a.trips,
        "accepted_at": a.accepted_at,
        "updated_at": a.updated_at,
        "finished_at": a.finished_at,
        "updated_by": a.updated_by,
        "result": json.dumps(a.result, ensure_ascii=False),
        "note": a.note,
    }


def _application(r: Any) -> Application:
    return Application(
        application_id=r.application_id, item=item_from_json(r.item, f"service_application[{r.application_id}].item"),
        psn_no=r.psn_no, admdvs=r.admdvs, channel=r.channel, status=r.status, step=r.step, form=json.loads(r.form),
        materials=tuple(MaterialState(**m) for m in json.loads(r.materials)), due_date=r.due_date, trips=r.trips,
        submitted_at=r.submitted_at, accepted_at=r.accepted_at, updated_at=r.updated_at, created_by=r.created_by,
        updated_by=r.updated_by, finished_at=r.finished_at, result=json.loads(r.result), note=r.note,
    )  # fmt: skip


def _like(column: ColumnElement[str], region: str) -> ColumnElement[bool]:
    return column.like(f"{region}%")


class SqlServices:
    """Mixed into SqlStore."""

    conn: Connection

    # ---- the lists

    def service_catalogue(self) -> Catalogue:
        return load_catalogue()

    def service_calendar(self) -> Calendar:
        return load_calendar()

    def region_items(self, admdvs: str) -> list[RegionItem]:
        s = t.service_list.c
        rows = self.conn.execute(select(t.service_list).where(s.admdvs == admdvs).order_by(s.local, s.code))
        return [
            RegionItem(r.admdvs, item_from_json(r.item, f"service_list[{r.admdvs}/{r.code}]"), bool(r.local),
                       r.adopted_at, r.adopted_by)
            for r in rows
        ]  # fmt: skip

    def adopted_regions(self) -> list[str]:
        s = t.service_list.c
        return [str(r) for r in self.conn.execute(select(s.admdvs).distinct().order_by(s.admdvs)).scalars()]

    def save_region_items(self, admdvs: str, items: Sequence[RegionItem]) -> None:
        self.conn.execute(delete(t.service_list).where(t.service_list.c.admdvs == admdvs))
        if items:
            self.conn.execute(
                insert(t.service_list),
                [
                    {"admdvs": admdvs, "code": r.item.code, "local": r.local, "version": r.item.version[:20],
                     "name": r.item.name, "item": item_to_json(r.item), "adopted_at": r.adopted_at,
                     "adopted_by": r.adopted_by}
                    for r in items
                ],
            )  # fmt: skip

    # ---- applications and tasks

    def insert_application(self, application: Application) -> None:
        self.conn.execute(insert(t.service_application).values(_row_of(application)))

    def update_application(self, application: Application) -> None:
        a = t.service_application.c
        self.conn.execute(
            update(t.service_application)
            .where(a.application_id == application.application_id)
            .values(_changing(application))
        )

    def application(self, application_id: str, lock: bool = False) -> Application | None:
        a = t.service_application.c
        q = select(t.service_application).where(a.application_id == application_id)
        if lock and self.conn.dialect.name == "postgresql":  # SQLite: BEGIN IMMEDIATE holds the write lock
            q = q.with_for_update()
        row = self.conn.execute(q).first()
        return None if row is None else _application(row)

    def _visible(self, region: str) -> list[ColumnElement[bool]]:
        if not region:
            return []
        a, k = t.service_application.c, t.service_task.c
        party = exists().where(k.application_id == a.application_id, _like(k.party, region))
        return [or_(_like(a.admdvs, region), party)]

    def applications(self, q: ApplicationQuery) -> list[Application]:
        a = t.service_application.c
        where = self._visible(q.region)
        if q.psn_no:
            where.append(a.psn_no == q.psn_no)
        if q.status == "open":
            where.append(a.status.in_(OPEN))
        elif q.status:
            where.append(a.status == q.status)
        if q.item_code:
            where.append(a.item_code == q.item_code)
        rows = self.conn.execute(
            select(t.service_application).where(*where).order_by(a.submitted_at.desc(), a.application_id).limit(q.limit)
        )
        return [_application(r) for r in rows]

    def add_task(self, task: Task) -> None:
        self.conn.execute(insert(t.service_task).values({n: getattr(task, n) for n in _TASK}))

    def close_task(self, task: Task) -> None:
        k = t.service_task.c
        self.conn.execute(
            update(t.service_task)
            .where(k.application_id == task.application_id, k.seq == task.seq)
            .values(closed_at=task.closed_at, outcome=task.outcome, actor=task.actor, channel=task.channel,
                    note=task.note)
        )  # fmt: skip

    def tasks(self, application_id: str) -> list[Task]:
        k = t.service_task.c
        rows = self.conn.execute(
            select(*(k[n] for n in _TASK)).where(k.application_id == application_id).order_by(k.seq)
        )
        return [Task(*r) for r in rows]

    def open_tasks(self, region: str, limit: int) -> list[tuple[Task, Application]]:
        a, k = t.service_application.c, t.service_task.c
        where: list[ColumnElement[bool]] = [k.closed_at.is_(None)]
        if region:
            regional = func.length(k.party) == 6  # a region's task; else the handling office's or a department's
            where.append(or_(regional & _like(k.party, region), ~regional & _like(a.admdvs, region)))
        rows = self.conn.execute(
            select(*(k[n].label(f"task_{n}") for n in _TASK), t.service_application)
            .join(t.service_application, a.application_id == k.application_id)
            .where(*where)
            .order_by(k.due_date, k.opened_at)
            .limit(limit)
        ).all()
        return [(Task(*r[: len(_TASK)]), _application(r)) for r in rows]

    # ---- the board

    def service_counts(self, region: str) -> list[StatusCount]:
        a = t.service_application.c
        where = [_like(a.admdvs, region)] if region else []
        rows = self.conn.execute(
            select(a.item_code, func.min(a.item_name), a.status, a.admdvs, a.channel, func.count())
            .where(*where)
            .group_by(a.item_code, a.status, a.admdvs, a.channel)
        )
        return [StatusCount(c, n, s, r, ch, int(count)) for c, n, s, r, ch, count in rows]

    def service_clock(self, region: str, limit: int) -> list[ClockRow]:
        a = t.service_application.c
        where = [_like(a.admdvs, region)] if region else []
        rows = self.conn.execute(
            select(a.item_code, a.status, a.channel, a.trips, a.time_limit, a.accepted_at, a.finished_at)
            .where(*where)
            .order_by(a.submitted_at.desc())
            .limit(limit)
        )
        return [ClockRow(*r) for r in rows]
