"""`yibao calc` as a newcomer runs it: a real process, JSON out, exit 2 and one line for a bad file."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GZ = ROOT / "examples" / "guangzhou"


def yibao(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "yibao", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_calc_picks_the_policy_version_by_date_and_prints_national_fields() -> None:
    run = yibao(
        "calc",
        "--policy", GZ / "employee-2021.toml",
        "--policy", GZ / "employee-2022-12.toml",
        "--catalog", GZ / "catalog.toml",
        "--claim", GZ / "claim-inpatient.json",
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout, parse_float=Decimal)
    info = out["setlinfo"]
    assert info["medfee_sumamt"] == info["fund_pay_sumamt"] + info["acct_pay"] + info["psn_cash_pay"]
    assert info["act_pay_dedc"] == Decimal("1000.00")  # the 2022-12 level-3 deductible, not 2021's 1,120
    assert "2022-12" in out["setl_proc_info"][0]
    assert [r["feedetl_sn"] for r in out["result"]] == [str(i) for i in range(1, 9)]
    assert {d["fund_pay_type"] for d in out["setldetail"]} == {"310100", "310200"}
    assert out["accumulators"]["inpatient.dedc"] == Decimal("1000.00")


def test_worked_example_through_the_command() -> None:
    ex = ROOT / "examples" / "E07_chengdu_2012_employee_lv1_age40"
    run = yibao("calc", "--policy", ex / "policy.toml", "--claim", ex / "claim.json")
    assert run.returncode == 0, run.stderr
    assert '"hifp_pay": 24564.51' in run.stdout  # an exact decimal, not a float


def test_bad_claim_file_is_one_line_naming_the_field(tmp_path: Path) -> None:
    claim = json.loads((GZ / "claim-inpatient.json").read_text())
    claim["visit"]["hosp_lv"] = "three"
    bad = tmp_path / "claim.json"
    bad.write_text(json.dumps(claim))
    run = yibao("calc", "--policy", GZ / "employee-2022-12.toml", "--catalog", GZ / "catalog.toml", "--claim", bad)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert "visit.hosp_lv" in run.stderr


def test_fee_lines_without_a_catalogue(tmp_path: Path) -> None:
    run = yibao("calc", "--policy", GZ / "employee-2022-12.toml", "--claim", GZ / "claim-inpatient.json")
    assert run.returncode == 2
    assert "feedetail" in run.stderr and "--catalog" in run.stderr


def test_no_policy_in_force(tmp_path: Path) -> None:
    claim = json.loads((GZ / "claim-inpatient.json").read_text())
    claim["visit"]["setl_date"] = "2020-06-01"
    old = tmp_path / "claim.json"
    old.write_text(json.dumps(claim))
    run = yibao("calc", "--policy", GZ / "employee-2022-12.toml", "--catalog", GZ / "catalog.toml", "--claim", old)
    assert run.returncode == 2
    assert "insutype" in run.stderr and "2020-06-01" in run.stderr
