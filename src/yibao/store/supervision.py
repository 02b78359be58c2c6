"""Findings of the rule engine (part of ``SqlStore``; ``yibao.app.supervision``, docs/supervision.md)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

from sqlalchemy import Connection, or_, select

from yibao.app.ports import PastVisit
from yibao.app.records import FeeLineRecord, StoredFinding, VisitRecord
from yibao.domain.supervision.rules import RuleLibrary
from yibao.files.rules import load_rule_library
from yibao.store import tables as t

_NAMES = [f.name for f in fields(StoredFinding)]
_VALUES = attrgetter(*_NAMES)
"""A finding's values in field order (dataclasses' astuple deep-copies: many times slower)."""
_KEY = "(stage, run_id, rule_id, mdtrt_id, feedetl_sn)"
_VISIT_FIELDS = [f.name for f in fields(VisitRecord)]
_LINE_FIELDS = [f.name for f in fields(FeeLineRecord)]
RECENT_VISITS = 200
"""At most this many of a person's recent visits are read for the cross-visit rules."""


class SqlSupervision:
    """Mixed into SqlStore."""

    conn: Connection

    def add_findings(self, findings: Sequence[StoredFinding], *, count: bool = True) -> int:
        added, tail = 0, f"ON CONFLICT {_KEY} DO NOTHING"
        for start in range(0, len(findings), 1000):
            rows = [_VALUES(f) for f in findings[start : start + 1000]]
            if count:
                added += self.insert_rows(t.supervision_finding, _NAMES, rows, tail).rowcount  # type: ignore[attr-defined]
            else:
                self.write_rows(t.supervision_finding, _NAMES, rows, tail)  # type: ignore[attr-defined]
        return added

    def rule_library(self) -> RuleLibrary:
        return load_rule_library()

    def recent_visits(self, psn_no: str, since: datetime) -> list[PastVisit]:
        v = t.visit.c
        q = (
            select(t.visit, t.institution.c.hosp_lv)
            .join(t.institution, t.institution.c.fixmedins_code == v.fixmedins_code)
            .where(v.psn_no == psn_no, v.status != "cancelled")
            .where(or_(v.begntime >= since, v.endtime.is_(None), v.endtime >= since))
            .order_by(v.begntime.desc())
            .limit(RECENT_VISITS)
        )
        visits = []
        for row in self.conn.execute(q):
            m = row._mapping
            # the certificate number stays sealed in the table: no rule reads it
            visits.append((VisitRecord(**{**{n: m[n] for n in _VISIT_FIELDS}, "mdtrt_cert_no": ""}), int(m["hosp_lv"])))
        if not visits:
            return []
        ids = [visit.mdtrt_id for visit, _ in visits]
        lines: dict[str, list[FeeLineRecord]] = defaultdict(list)
        f = t.fee_line.c
        for row in self.conn.execute(
            select(t.fee_line).where(f.mdtrt_id.in_(ids), f.status != "cancelled").order_by(f.mdtrt_id, f.feedetl_sn)
        ):
            m = row._mapping
            exact = {"cnt": Decimal(m["cnt"]), "pric": Decimal(m["pric"])}  # stored as decimal text
            lines[m["mdtrt_id"]].append(FeeLineRecord(**{**{n: m[n] for n in _LINE_FIELDS}, **exact}))
        main: dict[str, str] = {}
        others: dict[str, list[str]] = defaultdict(list)
        d = t.diagnosis.c
        for mdtrt_id, code, flag in self.conn.execute(
            select(d.mdtrt_id, d.diag_code, d.maindiag_flag).where(d.mdtrt_id.in_(ids)).order_by(d.diag_srt_no)
        ):
            others[mdtrt_id].append(code)
            if flag == "1":
                main[mdtrt_id] = min(main.get(mdtrt_id, code), code)
        return [
            PastVisit(
                visit,
                hosp_lv,
                main.get(visit.mdtrt_id) or visit.dise_codg,
                tuple(others[visit.mdtrt_id]),
                tuple(lines[visit.mdtrt_id]),
            )
            for visit, hosp_lv in visits
        ]
