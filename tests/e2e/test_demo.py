"""`make demo`'s main job, as a newcomer sees it, without the browser: `yibao demo --headless` builds a
city, serves it, lets its hospitals settle, prints the go-live figures and proves the ledger."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from sqlalchemy import case, func, select

from tests.servers import free_port
from yibao.store.engine import make_engine
from yibao.store.tables import settlement


def test_headless_demo_settles_prints_the_figures_and_balances_the_books(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    run = subprocess.run(
        [sys.executable, "-m", "yibao", "demo", "--headless", "--settlements", "120", "--persons", "3000",
         "--institutions", "15", "--rate", "40", "--port", str(free_port()), "--database", str(db)],
        capture_output=True, text=True, timeout=300, check=False, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "ledger check: every posting balanced" in run.stdout
    shown = re.search(r"实时结算笔数 settlements\s*│\s*([\d,]+)", run.stdout)
    assert shown, run.stdout[-2000:]
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        net = conn.execute(select(func.sum(case((settlement.c.revs_setl_id.is_(None), 1), else_=-1)))).scalar_one()
    engine.dispose()
    assert int(shown.group(1).replace(",", "")) == net >= 100
