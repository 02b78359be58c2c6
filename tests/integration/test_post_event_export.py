"""The stored claims exported as Parquet (reversed settlements left out), run and imported back once."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

import pyarrow.dataset as ds
from sqlalchemy import func, select
from typer.testing import CliRunner

from tests.flows import AMOXICILLIN, BLOOD_TEST, RETIREE, WORKER, line, local_today, register, settle_data
from yibao.analytics.export import export_claims
from yibao.analytics.importing import import_findings
from yibao.analytics.post_event import run_rules
from yibao.cli import app
from yibao.files.rules import load_rule_library
from yibao.sim.his import HisClient
from yibao.store import tables
from yibao.store.database import Database


def settled_visit(his: HisClient, psn_no: str, days: str) -> tuple[str, str]:
    mdtrt_id = register(his, psn_no)
    drug = {**line("1", mdtrt_id, psn_no, AMOXICILLIN, "42", "0.52"), "prd_days": days}
    his.call("2204", {"feedetail": [drug, line("2", mdtrt_id, psn_no, BLOOD_TEST, "3", "25")]})
    setl_id = str(his.call("2207", settle_data(psn_no, mdtrt_id, "96.84"))["setlinfo"]["setl_id"])
    return mdtrt_id, setl_id


def findings_after(db: Database) -> int:
    """Findings of post-event runs (the settlement stores its own, stage during)."""
    f = tables.supervision_finding
    with db.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(f).where(f.c.stage == "after")).scalar_one())


def test_export_leaves_out_reversed_settlements_and_keeps_the_line_facts(
    hospital: HisClient, db: Database, tmp_path: Path
) -> None:
    kept, setl_id = settled_visit(hospital, RETIREE, "45")
    gone, gone_setl = settled_visit(hospital, WORKER, "5")
    hospital.call("2208", {"data": {"setl_id": gone_setl, "mdtrt_id": gone, "psn_no": WORKER}})

    counts = export_claims(db.engine, tmp_path, batch=1)  # batches of one row: visits straddle them

    visits = ds.dataset(tmp_path / "visits", partitioning="hive").to_table().to_pylist()
    assert [(v["mdtrt_id"], v["setl_id"], v["medfee_sumamt"], v["kind"]) for v in visits] == [
        (kept, setl_id, 9684, "outpatient")
    ]
    today = local_today()
    assert (str(visits[0]["admdvs"]), visits[0]["month"], visits[0]["begn_date"]) == (
        "440100", f"{today:%Y-%m}", today,
    )  # fmt: skip
    lines = ds.dataset(tmp_path / "lines", partitioning="hive").to_table().to_pylist()
    assert sorted((x["feedetl_sn"], x["cnt"], x["pric"], x["amount"], x["days"], x["fee_date"]) for x in lines) == [
        ("1", 42.0, 0.52, 2184, 45, today),
        ("2", 3.0, 25.0, 7500, 0, today),
    ]
    assert (counts.visits, counts.lines) == (1, 2) and counts.items > 0
    assert (tmp_path / "items.parquet").exists() and (tmp_path / "item_lists.parquet").exists()

    library = load_rule_library()
    run = run_rules(tmp_path, library, out=tmp_path / "findings.parquet")
    fired = {c.rule_id for c in run.counts if c.findings}
    assert "GL-YP-002" in fired  # days of supply 45 > 30
    now = datetime.combine(local_today(), time(4))
    for expected in (run.total, 0):  # imported twice: the second time adds nothing
        added = import_findings(db, tmp_path, tmp_path / "findings.parquet", library=library, run_id="PE1", now=now)
        assert added == expected
    assert findings_after(db) == run.total


def test_the_command_runs_the_rules_and_imports_each_run_once(
    hospital: HisClient, db: Database, tmp_path: Path
) -> None:
    settled_visit(hospital, RETIREE, "45")
    url = db.engine.url.render_as_string(hide_password=False)
    runner = CliRunner()
    exported = runner.invoke(app, ["supervise", "export", "--data", str(tmp_path), "--database", url])
    assert exported.exit_code == 0, exported.output
    out = tmp_path / "findings.parquet"
    ran = runner.invoke(app, ["supervise", "run", "--data", str(tmp_path), "--database", url, "--import",
                              "--out", str(out)])  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "GL-YP-002" in ran.output and "findings stored" in ran.output
    stored = findings_after(db)
    assert stored > 0
    again = runner.invoke(app, ["supervise", "run", "--data", str(tmp_path), "--database", url, "--import"])
    assert again.exit_code == 0, again.output
    assert findings_after(db) == 2 * stored  # a second run is a new run id: its findings are its own
