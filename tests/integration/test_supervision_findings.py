"""Findings are stored once per stage, run, rule, visit and line, on both databases."""

from __future__ import annotations

from datetime import datetime

from yibao.app.records import StoredFinding
from yibao.store.database import Database


def finding(rule_id: str, feedetl_sn: str, run_id: str = "R1") -> StoredFinding:
    return StoredFinding(
        stage="after", run_id=run_id, rule_id=rule_id, rule_version="1.0", result="definite", mdtrt_id="M1",
        feedetl_sn=feedetl_sn, med_list_codg="X", setl_id=None, fixmedins_code="H44010600001", psn_no="P1",
        insuplc_admdvs="440100", mdtrtarea_admvs="440100", amount=1234, message="m", created_at=datetime(2026, 1, 1),
    )  # fmt: skip


def test_a_run_imported_twice_adds_nothing_the_second_time(db: Database) -> None:
    first = [finding("GZ-YP-001", "1"), finding("GZ-YP-001", "2"), finding("GZ-GL-001", "")]
    with db.transaction() as store:
        assert store.add_findings(first) == 3
    with db.transaction() as store:
        assert store.add_findings([*first, finding("GZ-YP-001", "1", run_id="R2")]) == 1
