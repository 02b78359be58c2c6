"""Joint audit cases and the findings they are made of (part of ``SqlStore``; ``yibao.app.audit_cases``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields

from sqlalchemy import ColumnElement, Connection, case, delete, exists, func, insert, or_, select, update

from yibao.app.audit_cases import (
    AuditCase,
    Board,
    CaseEvent,
    CaseItem,
    FindingGroup,
    FindingQuery,
    FindingRow,
)
from yibao.app.records import StoredFinding
from yibao.domain.supervision.cases import CLOSED, CONFIRMED_ITEM, STAGES
from yibao.store import tables as t

_FINDING = [f.name for f in fields(StoredFinding)]
_CASE = [f.name for f in fields(AuditCase)]
_ITEM = [f.name for f in fields(CaseItem)]
_EVENT = [f.name for f in fields(CaseEvent)]


def _like(column: ColumnElement[str], region: str) -> ColumnElement[bool]:
    return column.like(f"{region}%")


class SqlAuditCases:
    """Mixed into SqlStore."""

    conn: Connection

    # ---- findings

    def _finding_filter(self, q: FindingQuery) -> list[ColumnElement[bool]]:
        f = t.supervision_finding.c
        where: list[ColumnElement[bool]] = []
        if q.region:
            where.append(or_(_like(f.mdtrtarea_admvs, q.region), _like(f.insuplc_admdvs, q.region)))
        if q.stage:
            where.append(f.stage == q.stage)
        if q.begin is not None:
            where.append(f.created_at >= q.begin)
        if q.end is not None:
            where.append(f.created_at < q.end)
        if q.fixmedins_code:
            where.append(f.fixmedins_code == q.fixmedins_code)
        if q.rule_id:
            where.append(f.rule_id == q.rule_id)
        return where

    def _finding_rows(self, where: Sequence[ColumnElement[bool]], limit: int | None) -> list[FindingRow]:
        f, i, c = t.supervision_finding.c, t.audit_case_item.c, t.audit_case.c
        open_case = (
            select(func.min(i.case_id))
            .select_from(t.audit_case_item.join(t.audit_case, c.case_id == i.case_id))
            .where(i.finding_id == f.id, c.stage != CLOSED, c.shared_from == "")
            .scalar_subquery()
        )
        q = select(f.id, *(f[n] for n in _FINDING), open_case).where(*where).order_by(f.id.desc())
        if limit is not None:
            q = q.limit(limit)
        return [FindingRow(int(r[0]), StoredFinding(*r[1:-1]), r[-1] or "") for r in self.conn.execute(q)]

    def findings(self, q: FindingQuery, limit: int) -> list[FindingRow]:
        return self._finding_rows(self._finding_filter(q), limit)

    def findings_by_id(self, ids: Sequence[int]) -> list[FindingRow]:
        f = t.supervision_finding.c
        out: list[FindingRow] = []
        for start in range(0, len(ids), 1000):
            out += self._finding_rows([f.id.in_(list(ids[start : start + 1000]))], None)
        return out

    def finding_groups(self, q: FindingQuery, by: str) -> list[FindingGroup]:
        f = t.supervision_finding.c
        key = f[by]
        rows = self.conn.execute(
            select(key, f.result, func.count(), func.coalesce(func.sum(f.amount), 0))
            .where(*self._finding_filter(q))
            .group_by(key, f.result)
            .order_by(func.sum(f.amount).desc(), key, f.result)
        )
        return [FindingGroup(k, r, int(n), int(a)) for k, r, n, a in rows]

    # ---- cases

    def insert_case(self, case: AuditCase, items: Sequence[CaseItem]) -> None:
        self.conn.execute(insert(t.audit_case).values(dict(zip(_CASE, astuple(case), strict=True))))
        for start in range(0, len(items), 1000):
            rows = [astuple(i) for i in items[start : start + 1000]]
            self.insert_rows(t.audit_case_item, _ITEM, rows)  # type: ignore[attr-defined]

    def update_case(self, case: AuditCase) -> None:
        c = t.audit_case.c
        values = {n: getattr(case, n) for n in _CASE if n.endswith("_amount") or n in ("stage", "updated_at")}
        self.conn.execute(update(t.audit_case).where(c.case_id == case.case_id).values(values))

    def update_item(self, item: CaseItem) -> None:
        i = t.audit_case_item.c
        self.conn.execute(
            update(t.audit_case_item)
            .where(i.case_id == item.case_id, i.finding_id == item.finding_id)
            .values(review=item.review, reviewed_amount=item.reviewed_amount, note=item.note)
        )

    def audit_case(self, case_id: str) -> AuditCase | None:
        row = self.conn.execute(
            select(*(t.audit_case.c[n] for n in _CASE)).where(t.audit_case.c.case_id == case_id)
        ).first()
        return None if row is None else AuditCase(*row)

    def case_items(self, case_id: str) -> list[CaseItem]:
        i = t.audit_case_item.c
        rows = self.conn.execute(select(*(i[n] for n in _ITEM)).where(i.case_id == case_id).order_by(i.finding_id))
        return [CaseItem(*r) for r in rows]

    def add_case_event(self, event: CaseEvent) -> None:
        self.conn.execute(insert(t.audit_case_event).values(dict(zip(_EVENT, astuple(event), strict=True))))

    def case_events(self, case_id: str) -> list[CaseEvent]:
        e = t.audit_case_event.c
        rows = self.conn.execute(select(*(e[n] for n in _EVENT)).where(e.case_id == case_id).order_by(e.seq))
        return [CaseEvent(*r) for r in rows]

    def save_shared_case(self, case: AuditCase, items: Sequence[CaseItem], events: Sequence[CaseEvent]) -> None:
        c, i, e = t.audit_case.c, t.audit_case_item.c, t.audit_case_event.c
        if self.audit_case(case.case_id) is None:
            self.conn.execute(insert(t.audit_case).values(dict(zip(_CASE, astuple(case), strict=True))))
        else:
            values = {n: getattr(case, n) for n in _CASE if n not in ("case_id", "created_by", "created_at")}
            self.conn.execute(update(t.audit_case).where(c.case_id == case.case_id).values(values))
        self.conn.execute(delete(t.audit_case_item).where(i.case_id == case.case_id))  # the copy, not the record
        self.insert_rows(t.audit_case_item, _ITEM, [astuple(x) for x in items])  # type: ignore[attr-defined]
        kept = self.conn.execute(select(func.coalesce(func.max(e.seq), 0)).where(e.case_id == case.case_id)).scalar()
        for event in events:
            if event.case_id == case.case_id and event.seq > int(kept or 0):
                self.add_case_event(event)

    def _visible_cases(self, region: str) -> list[ColumnElement[bool]]:
        if not region:
            return []
        c, i = t.audit_case.c, t.audit_case_item.alias("insured_item").c  # an alias: the board joins the items too
        insured = exists().where(i.case_id == c.case_id, _like(i.insuplc_admdvs, region))
        return [or_(_like(c.admdvs, region), insured)]

    def audit_cases(self, region: str, limit: int) -> list[AuditCase]:
        c = t.audit_case.c
        q = select(*(c[n] for n in _CASE)).where(*self._visible_cases(region))
        return [AuditCase(*r) for r in self.conn.execute(q.order_by(c.updated_at.desc(), c.case_id).limit(limit))]

    def case_board(self, region: str) -> Board:
        c, i = t.audit_case.c, t.audit_case_item.c
        visible = self._visible_cases(region)
        reviewed, confirmed = i.review != "", i.review == CONFIRMED_ITEM
        items = self.conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(i.amount), 0),
                func.coalesce(func.sum(case((reviewed, 1), else_=0)), 0),
                func.coalesce(func.sum(case((reviewed, i.reviewed_amount), else_=0)), 0),
                func.count(func.distinct(case((reviewed, i.case_id)))),
                func.coalesce(func.sum(case((confirmed, 1), else_=0)), 0),
            )
            .select_from(t.audit_case_item.join(t.audit_case, c.case_id == i.case_id))
            .where(*visible)
        ).one()
        by_stage = {stage: 0 for stage in STAGES}
        recover = recovered = 0
        for stage, n, to_recover, done in self.conn.execute(
            select(c.stage, func.count(), func.sum(c.recover_amount), func.sum(c.recovered_amount))
            .where(*visible)
            .group_by(c.stage)
        ):
            by_stage[stage] = int(n)
            recover, recovered = recover + int(to_recover), recovered + int(done)
        count, amount, reviewed_count, reviewed_amount, reviewed_cases, confirmed_count = (int(v) for v in items)
        return Board(
            count,
            amount,
            reviewed_count,
            reviewed_amount,
            reviewed_cases,
            confirmed_count,
            recover,
            recovered,
            by_stage,
        )
