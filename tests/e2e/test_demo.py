"""`make demo`'s main job, as a newcomer sees it, without the browser: `yibao demo --headless` builds a
city, serves it, lets its hospitals settle, prints the go-live figures and proves the ledger."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import case, func, select

from yibao.app import service_board
from yibao.federation.launch import free_port
from yibao.store.database import Database
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
    # the service board has figures from the start: online and counter, finished, returned, refused, overdue
    assert "经办服务" in run.stdout
    store_db = Database(make_engine(f"sqlite:///{db}"))
    try:
        with store_db.transaction(write=False) as store:
            board = service_board.board(store, "", datetime.now(UTC).replace(tzinfo=None))
    finally:
        store_db.dispose()
    assert board.total >= 12 and 0 < board.online < board.total and board.finished > 0
    assert (board.by_status["returned"], board.by_status["refused"], len(board.overdue)) == (1, 1, 1)
    joint = next(i for i in board.items if i.item_code == "YB11")  # 医保、民政并联: one done, one waiting
    assert (joint.finished, joint.open) == (1, 1)
    # the policy what-if has a report: the illustrative proposal's higher ratios cost the pooled fund more
    report = json.loads((tmp_path / "demo-simulations" / "employee-proposal.json").read_text(encoding="utf-8"))
    pairs = {p["insutype"]: p["baseline"] == p["proposal"] for p in report["policies"]}
    assert report["claims"] > 0 and pairs == {"310": False, "390": True}  # the residents' policy unchanged
    assert report["totals"]["proposal"]["hifp_pay"] > report["totals"]["baseline"]["hifp_pay"] > 0


def test_the_multi_region_demo_settles_across_regions_and_every_node_balances(tmp_path: Path) -> None:
    """`yibao demo --regions 3 --headless`: three cities on three nodes and a hub; some visits are of
    persons insured in another city; every node's books balance and both sides record the same count."""
    db = tmp_path / "demo.db"
    run = subprocess.run(
        [sys.executable, "-m", "yibao", "demo", "--regions", "3", "--headless", "--settlements", "25", "--persons",
         "1200", "--institutions", "8", "--rate", "15", "--port", str(free_port()), "--database", str(db)],
        capture_output=True, text=True, timeout=240, check=False, env={**os.environ, "COLUMNS": "220"},
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-3000:]
    assert "ledger check: every node's postings balanced" in run.stdout
    assert "/console/cross-region" in run.stdout and run.stdout.count("登录 admin / ") == 3
    sides: dict[str, int] = {"T": 0, "I": 0}
    for node in ("gz-440100", "qp-310118", "wj-320509"):
        engine = make_engine(f"sqlite:///{tmp_path / 'demo-regions' / node}.db")
        with engine.connect() as conn:
            for side, n in conn.execute(
                select(settlement.c.cross_region, func.count()).group_by(settlement.c.cross_region)
            ):
                if side in sides:
                    sides[side] += n
        engine.dispose()
    assert sides["T"] == sides["I"] > 0
