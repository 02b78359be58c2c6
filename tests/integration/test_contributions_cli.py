"""`yibao contributions` on a small synthetic city (SQLite): months of declarations and payments generated
through the use cases, the fund month by month from the ledger, a rate proposal's what-if, a CSV
declaration, and the ledger check over it all."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import CliRunner

from yibao.cli import app
from yibao.sim.city import build_city
from yibao.store import tables
from yibao.store.engine import make_engine


def test_generate_then_funds_simulate_declare_and_the_ledger_check(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'city.db'}"
    build_city(url, persons=600, institutions=8, seed=3)
    runner = CliRunner()

    def cli(*args: str) -> str:
        result = runner.invoke(app, [*args, "--database-url", url])
        assert result.exit_code == 0, result.output
        return result.output

    out = cli("contributions", "generate", "--from", "2025-11", "--to", "2026-02", "--seed", "3")
    assert re.search(r"4 months, [1-9]\d* employers", out) and "residents enrolled" in out
    engine = make_engine(url)
    with engine.connect() as conn:
        bills = conn.execute(select(func.count()).select_from(tables.contribution_bill)).scalar_one()
        residents = conn.execute(select(func.count()).select_from(tables.resident_contribution)).scalar_one()
        employee = conn.execute(
            select(tables.contribution_line.c.psn_no, tables.contribution_line.c.emp_no).limit(1)
        ).one()
    engine.dispose()
    assert bills > 0 and residents > 0  # 2026's residents paid in December 2025, the enrolment's last month

    funds = cli("contributions", "funds")
    assert all(m in funds for m in ("2025-11", "2025-12", "2026-01", "2026-02"))
    assert "9个月规则" in funds

    unchanged = cli("contributions", "simulate")
    assert "change 0.00 (pooled fund 0.00)" in unchanged
    cut = cli("contributions", "simulate", "--employer-rate", "5.5")
    assert re.search(r"change -[\d,]+\.\d\d", cut)

    declarations = tmp_path / "march.csv"
    declarations.write_text(f"emp_no,month,psn_no,wage\n{employee[1]},2026-03,{employee[0]},12000\n", encoding="utf-8")
    declared = cli("contributions", "declare", str(declarations))
    assert f"{employee[1]} 2026-03: 1 employees" in declared and "employer 6%" in declared
    bad = runner.invoke(app, ["contributions", "declare", str(declarations), "--database-url", url])
    assert bad.exit_code == 2 and "month: " in bad.output  # declared already
    paid = cli("contributions", "collect", "--month", "2026-03", "--emp-no", employee[1], "--paid-on", "2026-03-20")
    assert "1 bills paid on 2026-03-20" in paid
    assert "all balanced" in cli("ledger", "check")
