"""Findings of the rule engine (part of ``SqlStore``; ``yibao.app.supervision``, docs/supervision.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple, fields

from sqlalchemy import Connection, func, select

from yibao.app.records import StoredFinding
from yibao.store import tables as t

_NAMES = [f.name for f in fields(StoredFinding)]
_KEY = "(stage, run_id, rule_id, mdtrt_id, feedetl_sn)"


class SqlSupervision:
    """Mixed into SqlStore."""

    conn: Connection

    def add_findings(self, findings: Sequence[StoredFinding]) -> int:
        if not findings:
            return 0
        count = select(func.count()).select_from(t.supervision_finding)
        before = self.conn.execute(count).scalar_one()
        for start in range(0, len(findings), 1000):
            rows = [astuple(f) for f in findings[start : start + 1000]]
            self.insert_rows(t.supervision_finding, _NAMES, rows, f"ON CONFLICT {_KEY} DO NOTHING")  # type: ignore[attr-defined]
        return int(self.conn.execute(count).scalar_one()) - int(before)
