"""A post-event run's findings into ``supervision_finding`` (stage "after"), through the store.

``import_findings(database: Database, data_dir: Path, findings: Path, *, library: RuleLibrary, run_id: str,
now: datetime, batch: int = 10_000) -> int`` reads the findings a run wrote (``run_rules(out=…)``) with the
visits' regions and stores those not stored yet; returns how many were new. A run imported twice adds
nothing: the table is unique per (stage, run_id, rule_id, mdtrt_id, feedetl_sn).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from yibao.analytics.on_duckdb import connect
from yibao.app.records import StoredFinding
from yibao.domain.money import fen_to_yuan
from yibao.domain.supervision.rules import RuleLibrary
from yibao.store.database import Database


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _source(findings: Path) -> str:
    """DuckDB's file list for a findings file (DuckDB) or directory of parts (Spark)."""
    pattern = findings / "*.parquet" if findings.is_dir() else findings
    return "'" + str(pattern).replace("'", "''") + "'"


def import_findings(
    database: Database, data_dir: Path, findings: Path, *, library: RuleLibrary, run_id: str, now: datetime,
    batch: int = 10_000,
) -> int:  # fmt: skip
    rules = {r.id: r for r in library.rules}
    con = connect(data_dir)
    try:
        result = con.execute(
            "SELECT f.rule_id, f.result, f.mdtrt_id, f.feedetl_sn, f.med_list_codg, f.amount, f.fixmedins_code, "
            f"f.psn_no, f.setl_id, v.insuplc_admdvs, v.admdvs FROM read_parquet({_source(findings)}) f "
            "JOIN visits v ON v.mdtrt_id = f.mdtrt_id"
        )
        added = 0
        while rows := result.fetchmany(batch):
            stored = [_stored(row, rules[row[0]].name, rules[row[0]].message, library.version, run_id, now)
                      for row in rows]  # fmt: skip
            with database.transaction() as store:
                added += store.add_findings(stored)
        return added
    finally:
        con.close()


def _stored(row: tuple[Any, ...], name: str, message: str, version: str, run_id: str, now: datetime) -> StoredFinding:
    rule_id, result, mdtrt_id, sn, code, amount, fixmedins_code, psn_no, setl_id, insuplc, admdvs = row
    facts = _Blank(rule=name, code=code, name=code, sn=sn, amount=str(fen_to_yuan(int(amount))))
    return StoredFinding(
        stage="after", run_id=run_id, rule_id=rule_id, rule_version=version, result=result, mdtrt_id=mdtrt_id,
        feedetl_sn=sn, med_list_codg=code, setl_id=setl_id or None, fixmedins_code=fixmedins_code, psn_no=psn_no,
        insuplc_admdvs=insuplc, mdtrtarea_admvs=admdvs, amount=int(amount), message=message.format_map(facts),
        created_at=now,
    )  # fmt: skip
