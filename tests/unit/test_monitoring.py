"""Monitoring against peers: a planted outlier tops the list for the indicator planted; equals score zero."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from yibao.analytics.encounters import write_encounters
from yibao.analytics.layout import write_items
from yibao.analytics.monitoring import monitor, robust_z
from yibao.cli import app
from yibao.domain.catalog import CatalogItem
from yibao.domain.codes import ChrgitmLv, ListType
from yibao.domain.supervision.encounter import Encounter, Line

DRUG, SERVICE = "XDRUG0000000001", "001SERVICE00001"
ITEMS = [
    CatalogItem(DRUG, "药", ListType.DRUG, ChrgitmLv.CLASS_A),
    CatalogItem(SERVICE, "诊查", ListType.SERVICE, ChrgitmLv.CLASS_A),
]


def visits(inst: str, lv: int, n: int, drug_fen: int, service_fen: int) -> list[Encounter]:
    out = []
    for i in range(n):
        day = date(2026, 3, 2) + timedelta(days=i % 5)  # weekdays only
        lines = (
            Line("1", DRUG, day, Decimal(1), Decimal(drug_fen) / 100, drug_fen),
            Line("2", SERVICE, day, Decimal(1), Decimal(service_fen) / 100, service_fen),
        )
        out.append(
            Encounter(
                mdtrt_id=f"{inst}-{i:04d}",
                psn_no=f"{inst}-P{i:04d}",
                gend="1",
                age=40,
                insutype="310",
                fixmedins_code=inst,
                hosp_lv=lv,
                med_type="11",
                kind="outpatient",
                begn_date=day,
                end_date=day,
                main_dx="I10",
                lines=lines,
                admdvs="440100",
                atddr_no=f"D-{inst}",
                medfee_sumamt=drug_fen + service_fen,
            )
        )
    return out


def planted(tmp_path: Path) -> None:
    """Level-2 general hospitals, one billing three times the drugs for the same total; level-3 eye
    hospitals, all alike."""
    claims: list[Encounter] = []
    specialty = {}
    for k in range(8):  # level 2 general hospitals; H2-7 bills three times the drugs for the same total
        inst = f"H2-{k}"
        specialty[inst] = "general"
        claims += visits(inst, 2, 40, 7500, 2500) if k == 7 else visits(inst, 2, 40, 5000 + 10 * k, 5000 - 10 * k)
    for k in range(6):  # level 3 eye hospitals, all alike
        inst = f"H3-{k}"
        specialty[inst] = "eye"
        claims += visits(inst, 3, 40, 3000, 7000)
    write_encounters(claims, tmp_path, specialty=specialty)
    write_items(ITEMS, tmp_path)


def test_the_planted_drug_share_outlier_tops_and_equals_score_zero(tmp_path: Path) -> None:
    planted(tmp_path)

    scores = monitor(tmp_path, "institution", min_visits=30)

    top = scores[0]
    assert top.entity == "H2-7"
    assert top.reasons[0].indicator == "drug_share"
    assert (round(top.reasons[0].value, 4), round(top.reasons[0].peer_median, 4)) == (0.75, 0.5035)
    assert top.score > 3
    eye = [s for s in scores if s.specialty == "eye"]
    assert len(eye) == 6 and all(s.score == 0 and s.reasons == () and s.peers == "3/eye" for s in eye)


def test_the_command_prints_the_outlier_first_with_its_reason(tmp_path: Path) -> None:
    planted(tmp_path)
    result = CliRunner().invoke(
        app, ["supervise", "monitor", "--data", str(tmp_path), "--top", "3"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "H2-" in line or "H3-" in line]
    assert "H2-7" in rows[0] and "药占比" in rows[0]


def test_a_small_specialty_group_is_compared_with_its_level(tmp_path: Path) -> None:
    claims: list[Encounter] = []
    specialty = {}
    for k in range(6):
        inst = f"H2-{k}"
        specialty[inst] = "general" if k < 4 else "eye"
        claims += visits(inst, 2, 30, 5000, 5000)
    write_encounters(claims, tmp_path, specialty=specialty)
    write_items(ITEMS, tmp_path)
    scores = monitor(tmp_path, "practitioner", min_visits=30)
    assert {s.peers for s in scores} == {"2"} and {s.peer_count for s in scores} == {6}


def test_robust_z_uses_the_median_and_mad() -> None:
    z = robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0, np.nan]))
    assert np.isnan(z[-1])
    assert z[2] == 0 and round(float(z[4]), 3) == round(97 / 1.4826, 3)
    assert (robust_z(np.array([5.0, 5.0, 5.0])) == 0).all()
