"""One post-event pass over a database's own claims: export them, run the "after" rules on DuckDB,
store the findings (what `yibao supervise export` + `run --import` do in two steps, for the demo and cron).

The passes of one day share a run id, so a pass repeated during the day stores only what is new.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from yibao.analytics.export import export_claims
from yibao.analytics.importing import import_findings
from yibao.analytics.post_event import RuleRun, run_rules
from yibao.app.records import local_date
from yibao.domain.frozen import frozen
from yibao.domain.supervision.rules import RuleLibrary
from yibao.files.rules import load_rule_library
from yibao.store.database import Database
from yibao.store.engine import make_engine


@frozen
class Pass:
    run_id: str
    visits: int
    run: RuleRun
    stored: int
    """Findings new to the database: not stored by an earlier pass of the day."""


def review_stored_claims(url: str, *, library: RuleLibrary | None = None, memory_limit: str = "2GB") -> Pass:
    library = library or load_rule_library()
    now = datetime.now(UTC).replace(tzinfo=None)
    run_id = f"PE{local_date(now):%Y%m%d}"
    engine = make_engine(url)
    db = Database(engine)
    try:
        with tempfile.TemporaryDirectory(prefix="yibao-pass-") as tmp:
            data = Path(tmp) / "claims"
            counts = export_claims(engine, data)
            findings = Path(tmp) / "findings.parquet"
            result = run_rules(data, library, out=findings, memory_limit=memory_limit)
            stored = import_findings(db, data, findings, library=library, run_id=run_id, now=now)
    finally:
        db.dispose()
    return Pass(run_id, counts.visits, result, stored)
