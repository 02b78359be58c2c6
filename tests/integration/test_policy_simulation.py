"""``yibao policy simulate`` end to end on a small claims file, and its reports in the console
(/console/policy-simulation) on SQLite and PostgreSQL.

The claims are the replay generator's (``yibao sim replay-claims``): Guangzhou's employees and residents.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.accounts import add_user, sign_in
from yibao.analytics.simulation import REPORT_KIND
from yibao.api.server import create_app
from yibao.cli import app
from yibao.sim.replay_claims import generate
from yibao.store.database import Database
from yibao.web import policy_simulation

ROOT = Path(__file__).resolve().parents[2]
GZ = ROOT / "examples" / "guangzhou"
EMPLOYEE, RESIDENT = GZ / "employee-2022-12.toml", GZ / "resident-illustrative.toml"
PROPOSAL = ROOT / "examples" / "policy-simulation" / "employee-proposal.toml"
SIDES = ("fund_pay_sumamt", "hifp_pay", "psn_part_amt", "acct_pay", "psn_cash_pay")


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("claims") / "claims.parquet"
    generate(path, 1500, seed=7)
    return path


def simulate(tmp: Path, *args: str | Path) -> dict[str, Any]:
    out = tmp / "report.json"
    run = CliRunner().invoke(app, ["policy", "simulate", *map(str, args), "--json", str(out)])
    assert run.exit_code == 0, run.output
    assert "基金与个人负担" in run.output
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


def test_a_proposal_that_changes_nothing_reports_no_change(claims: Path, tmp_path: Path) -> None:
    report = simulate(tmp_path, "--claims", claims, "--baseline", EMPLOYEE, "--baseline", RESIDENT,
                      "--proposal", EMPLOYEE, "--proposal", RESIDENT, "--chunk-claims", "3000")  # fmt: skip
    assert report["kind"] == REPORT_KIND and report["claims"] > 10_000 and report["skipped"] == []
    assert set(report["totals"]["change"].values()) == {0}
    assert report["totals"]["baseline"]["hifp_pay"] > 0 and report["totals"]["baseline"]["maf_pay"] > 0
    for key in ("by_hosp_lv", "by_psn_type", "by_med_type", "by_insutype", "by_cost_band"):
        assert report[key] and all(set(row["change"].values()) == {0} for row in report[key]), key
    assert report["ceiling_persons"]["baseline"] == report["ceiling_persons"]["proposal"] > 0


def test_a_proposal_changes_the_claims_it_touches_and_the_parts_add_up(claims: Path, tmp_path: Path) -> None:
    """The proposal raises level-3 inpatient ratios and the outpatient limit of employees: residents and
    level-1/2 inpatient stays are untouched; the fund pays what patients no longer bear."""
    report = simulate(tmp_path, "--claims", claims, "--baseline", EMPLOYEE, "--baseline", RESIDENT,
                      "--proposal", PROPOSAL, "--fund-balance", "310=3000000")  # fmt: skip
    totals = report["totals"]
    change = totals["change"]
    assert change["fund_pay_sumamt"] > 0 and change["fund_pay_sumamt"] == -change["psn_part_amt"]
    assert change["psn_part_amt"] == change["acct_pay"] + change["psn_cash_pay"]
    insutypes = {row["key"]: row["change"] for row in report["by_insutype"]}
    assert set(insutypes["390"].values()) == {0} and insutypes["310"]["hifp_pay"] == change["hifp_pay"]
    pharmacy = next(row for row in report["by_med_type"] if row["key"] == "41")
    assert pharmacy["change"]["fund_pay_sumamt"] == 0  # the pharmacy benefit did not change
    # every breakdown adds up to the totals, claims and persons included
    for key, count in (("by_hosp_lv", "claims"), ("by_psn_type", "claims"), ("by_med_type", "claims"),
                       ("by_cost_band", "persons")):  # fmt: skip
        rows = report[key]
        assert sum(row[count] for row in rows) == report[count], key
        for side in ("baseline", "proposal"):
            for name in SIDES:
                assert sum(row[side][name] for row in rows) == totals[side][name], (key, side, name)
    assert report["totals"]["claim"]["medfee_sumamt"] == sum(row["medfee_sumamt"] for row in report["by_hosp_lv"])
    # the months of reserve: the balance over the baseline's monthly pooled spending, then the proposal's
    [reserve], months = report["reserve"], report["period"]["months"]
    employees = insutypes["310"]
    base = next(row for row in report["by_insutype"] if row["key"] == "310")["baseline"]["hifp_pay"]
    assert reserve["insutype"] == "310" and months == 12 and reserve["monthly_spending"] == round(base / 12)
    assert reserve["monthly_spending_after"] == reserve["monthly_spending"] + round(employees["hifp_pay"] / 12)
    assert reserve["months_before"] == round(3_000_000_00 / reserve["monthly_spending"], 2)
    assert reserve["months_after"] < reserve["months_before"]


def test_bad_input_is_one_line_naming_the_problem(claims: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = runner.invoke(app, ["policy", "simulate", "--claims", str(claims), "--baseline", str(EMPLOYEE),
                              "--proposal", str(RESIDENT)])  # fmt: skip
    assert run.exit_code == 2 and "no baseline for insutype 390" in run.output
    both = ["--baseline", str(EMPLOYEE), "--baseline", str(RESIDENT), "--proposal", str(PROPOSAL)]
    run = runner.invoke(app, ["policy", "simulate", "--claims", str(claims), *both, "--fund-balance", "100"])
    assert run.exit_code == 2 and "name the insutype: 310=100" in run.output
    run = runner.invoke(app, ["policy", "simulate", "--claims", str(tmp_path / "none.parquet"),
                              "--baseline", str(EMPLOYEE), "--proposal", str(EMPLOYEE)])  # fmt: skip
    assert run.exit_code == 2 and "none.parquet" in run.output
    older = GZ / "employee-2021.toml"  # no pharmacy benefit (med_type 41): refused, not guessed
    run = runner.invoke(app, ["policy", "simulate", "--claims", str(claims), "--baseline", str(EMPLOYEE),
                              "--proposal", str(older)])  # fmt: skip
    assert run.exit_code == 2 and "med_type: 41 不在" in run.output


def rows(page: str, testid: str) -> list[dict[str, str]]:
    body = page.split(f'data-testid="{testid}"')[1].split("</table>")[0]
    return [dict(re.findall(r'data-([a-z-]+)="([^"]*)"', tr)) for tr in re.findall(r"<tr (data-[^>]*)>", body)]


def test_the_console_lists_the_reports_and_shows_one_with_its_charts(
    db: Database, claims: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "simulations"
    folder.mkdir()
    report = simulate(tmp_path, "--claims", claims, "--baseline", EMPLOYEE, "--proposal", PROPOSAL,
                      "--fund-balance", "2000000")  # fmt: skip
    (folder / "gz-proposal.json").write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    elsewhere = dict(report, policies=[dict(report["policies"][0], admdvs="310118")])
    (folder / "qingpu.json").write_text(json.dumps(elsewhere), encoding="utf-8")
    (folder / "other.json").write_text('{"kind": "something else"}', encoding="utf-8")
    monkeypatch.setenv("YIBAO_POLICY_SIMULATIONS", str(folder))
    assert policy_simulation.REPORT_KIND == REPORT_KIND
    add_user(db, "boss", "readonly", "000000")
    add_user(db, "gz", "readonly", "440100")
    with TestClient(create_app(db)) as c:
        assert (
            c.get("/console/policy-simulation", follow_redirects=False).headers["location"].startswith("/console/login")
        )
        sign_in(c, "boss")
        page = c.get("/console/policy-simulation?report=gz-proposal.json")
        assert page.status_code == 200 and 'href="/console/policy-simulation" class="active"' in page.text
        assert sorted(r["name"] for r in rows(page.text, "reports")) == ["gz-proposal.json", "qingpu.json"]
        change = report["totals"]["change"]
        assert re.search(rf'data-testid="fund-change" data-value="{change["fund_pay_sumamt"]}"', page.text)
        assert re.search(rf'data-testid="oop-change" data-value="{change["psn_part_amt"]}"', page.text)
        shown = {r["field"]: (int(r["baseline"]), int(r["proposal"])) for r in rows(page.text, "totals")}
        assert shown["hifp_pay"] == (report["totals"]["baseline"]["hifp_pay"], report["totals"]["proposal"]["hifp_pay"])
        levels = {r["key"]: int(r["fund-change"]) for r in rows(page.text, "by-hosp-lv")}
        assert levels == {row["key"]: row["change"]["fund_pay_sumamt"] for row in report["by_hosp_lv"]}
        [reserve] = report["reserve"]
        assert f"{reserve['months_before']:.2f} → {reserve['months_after']:.2f}" in page.text
        assert 'id="sim-chart-data"' in page.text and "/console/static/policy_simulation.js" in page.text
        charts = json.loads(page.text.split('id="sim-chart-data" type="application/json">')[1].split("</script>")[0])
        assert charts["funds"]["labels"] == ["统筹基金支出"] and len(charts["hosp_lv"]["baseline"]) == 4
        assert c.get("/console/policy-simulation?report=../secret.json").status_code == 404
        assert c.get("/console/static/policy_simulation.js").status_code == 200
    with TestClient(create_app(db)) as c:
        sign_in(c, "gz")  # Guangzhou's account: not Qingpu's report
        page = c.get("/console/policy-simulation")
        assert [r["name"] for r in rows(page.text, "reports")] == ["gz-proposal.json"]
        assert c.get("/console/policy-simulation?report=qingpu.json").status_code == 404


def test_the_report_does_not_depend_on_the_chunks(claims: Path) -> None:
    """Persons are never split between chunks: chunks of 2,500 claims give the report of one chunk."""
    from yibao.analytics.simulation import simulate as run
    from yibao.files import load_policy

    def report(chunk: int) -> dict[str, Any]:
        r = run(claims, [load_policy(EMPLOYEE), load_policy(RESIDENT)], [load_policy(PROPOSAL)], chunk_claims=chunk)
        return {k: v for k, v in r.items() if k not in ("created", "seconds", "peak_rss_mib")}

    assert report(2_500) == report(1_000_000)
