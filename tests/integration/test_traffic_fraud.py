"""`yibao sim traffic --fraud-rate`: the simulated HIS uploads planted fee lines and records each one."""

from __future__ import annotations

import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from tests.databases import fresh_database
from tests.servers import running_server
from yibao.files.rules import load_rule_library
from yibao.sim.city import build_city, catalogue
from yibao.sim.claims import Knowledge
from yibao.sim.fraud import FEE_SCHEMES, FeeFraud
from yibao.sim.traffic import Mix, run_traffic
from yibao.store import tables as t
from yibao.store.engine import make_engine


def test_planted_fee_lines_are_uploaded_and_recorded(tmp_path: Path) -> None:
    knowledge = Knowledge.of(load_rule_library())
    truth = tmp_path / "truth.jsonl"
    with fresh_database("sqlite", tmp_path) as url:
        build_city(url, persons=1_000, institutions=8, seed=5)
        fraud = FeeFraud(0.6, truth, knowledge)
        with running_server(url, tmp_path / "server.log", workers=1) as server:
            report = run_traffic(server, rate=20, duration=3, db_url=url, seed=5, concurrency=4,
                                 mix=Mix(outpatient=0.7, inpatient=0.3, pharmacy=0.0), fraud=fraud)  # fmt: skip
        fraud.close()
        assert report.errors == 0, "\n".join(report.lines())
        engine = make_engine(url)
        try:
            f = t.fee_line.c
            with engine.connect() as conn:
                rows = conn.execute(select(f.mdtrt_id, f.feedetl_sn, f.med_list_codg, f.cnt, f.pric)).all()
        finally:
            engine.dispose()
    planted = [json.loads(line) for line in truth.read_text().splitlines()]
    assert planted and len(planted) == fraud.planted
    assert {p["scheme"] for p in planted} <= set(FEE_SCHEMES) and len({p["scheme"] for p in planted}) >= 3
    lines: dict[str, dict[str, tuple[str, Decimal, Decimal]]] = defaultdict(dict)
    for r in rows:
        lines[r.mdtrt_id][r.feedetl_sn] = (r.med_list_codg, Decimal(r.cnt), Decimal(r.pric))
    items = {i.med_list_codg: i for i in catalogue()}
    for p in planted:
        visit = lines[p["mdtrt_id"]]
        code, cnt, pric = visit[p["feedetl_sn"]]
        item = items[code]
        if p["scheme"] == "duplicate_line":
            assert any(int(sn) < int(p["feedetl_sn"]) and other == (code, cnt, pric) for sn, other in visit.items())
        elif p["scheme"] == "price_above_cap":
            assert item.price_cap is not None and pric > item.price_cap
        elif p["scheme"] == "over_quantity":
            assert cnt > (item.max_cnt_per_day or item.max_cnt or 0)
        else:
            assert any(b == code and a in {c for c, _, _ in visit.values()} for a, b in knowledge.pairs)
