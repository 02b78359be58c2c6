"""A node's own settlements replayed: ``yibao policy export-claims`` then ``yibao policy simulate --database``,
on SQLite and PostgreSQL.

A handful of claims go through the real settlement path (the interface, in-process): outpatient visits up to
the annual outpatient ceiling, a visit settled, reversed and settled again, a retiree's account credited
between visits, an employee's stay with an interim settlement and a second stay, a pharmacy purchase, a
civil servant who does not use the account, and a resident with 低保 identity whose stay reaches 大病保险
and 医疗救助. Exported and replayed under the very policies that settled them, every claim's amounts equal
the stored settlement's: the replay is the service. The months of reserve come from the ledger.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from sqlalchemy import exists, select
from typer.testing import CliRunner

from tests.flows import (
    AMOXICILLIN,
    BED,
    BLOOD_TEST,
    RESIDENT,
    RETIREE,
    STATIN,
    SURGERY,
    WORKER,
    admit,
    discharge_data,
    inpatient_settle_data,
    line,
    pharmacy_data,
    register,
    settle_data,
    upload,
)
from tests.helpers import local_today
from tests.integration.conftest import his_at
from yibao.analytics.replay import OUTCOME_FIELDS, Replay, Vocab
from yibao.analytics.simulation import claims_from_table
from yibao.app import contributions as ca
from yibao.cli import app
from yibao.domain.ledger import Code, Transfer, fund_account, opening_account
from yibao.files import load_policy
from yibao.sim.his import HisClient
from yibao.store import loading
from yibao.store import tables as t
from yibao.store.database import Database

ROOT = Path(__file__).resolve().parents[2]
GZ = ROOT / "examples" / "guangzhou"
EMPLOYEE, RESIDENTS = GZ / "employee-2022-12.toml", GZ / "resident-illustrative.toml"
CIVIL_SERVANT = "44010000000000034567"
OPENING = 100_000_000  # fen: the employees' pooled fund's balance brought in


def outpatient(his: HisClient, psn_no: str, ipt_otp_no: str, *lines: tuple[str, str, str], **extra: str) -> str:
    """Register, upload and settle (2207) an outpatient visit; its setl_id."""
    insutype = extra.get("insutype", "310")
    mdtrt_id = register(his, psn_no, ipt_otp_no, insutype)
    upload(his, *(line(str(n), mdtrt_id, psn_no, code, cnt, pric) for n, (code, cnt, pric) in enumerate(lines, 1)))
    medfee = sum(Decimal(cnt) * Decimal(pric) for _, cnt, pric in lines)
    return str(his.call("2207", settle_data(psn_no, mdtrt_id, str(medfee), **extra))["setlinfo"]["setl_id"])


def stay(his: HisClient, psn_no: str, ipt_no: str, days_ago: int, *bills: list[tuple[str, str, str]],
         insutype: str = "310") -> None:  # fmt: skip
    """Admit, then each bill uploaded and settled: interim settlements, the last after discharge."""
    mdtrt_id = admit(his, psn_no, days_ago, ipt_no, insutype)
    n = 0
    for i, bill in enumerate(bills):
        lines = [line(str(n := n + 1), mdtrt_id, psn_no, code, cnt, pric) for code, cnt, pric in bill]
        his.call("2301", {"feedetail": lines})
        last = i == len(bills) - 1
        if last:
            his.call("2402", discharge_data(psn_no, mdtrt_id, insutype=insutype))
        medfee = str(sum(Decimal(cnt) * Decimal(pric) for _, cnt, pric in bill))
        his.call("2304", inpatient_settle_data(psn_no, mdtrt_id, medfee, mid=not last, insutype=insutype))


def settle_a_few_claims(db: Database, http: TestClient) -> None:
    hospital, pharmacy = his_at(http, "H44010600001"), his_at(http, "P44010600001")  # level 3; a pharmacy
    undone = outpatient(hospital, RETIREE, "MZ0001", (AMOXICILLIN, "42", "0.52"), (BLOOD_TEST, "3", "25"))
    hospital.call("2208", {"data": {"setl_id": undone, "psn_no": RETIREE}})
    outpatient(hospital, RETIREE, "MZ0002", (AMOXICILLIN, "42", "0.52"), (BLOOD_TEST, "3", "25"))
    now = datetime.now(UTC).replace(tzinfo=None)
    with db.transaction() as store:  # retirees' fixed monthly credit: the account grows between visits
        assert ca.credit_retirees(store, "440100", f"{local_today():%Y-%m}", now)[0] >= 1
    outpatient(hospital, RETIREE, "MZ0003", (BLOOD_TEST, "300", "25"))  # 3,375 of the 3,600 a year
    outpatient(hospital, RETIREE, "MZ0004", (BLOOD_TEST, "40", "25"))  # the ceiling cuts it
    stay(hospital, WORKER, "ZY0001", 10, [(BED, "9", "80"), (SURGERY, "1", "2800")], [(STATIN, "28", "3.15")])
    pharmacy.call("2102", pharmacy_data(WORKER, "21.84", line("1", "", WORKER, AMOXICILLIN, "42", "0.52")))
    stay(hospital, WORKER, "ZY0002", 0, [(SURGERY, "2", "2800")])
    outpatient(hospital, CIVIL_SERVANT, "MZ0005", (BLOOD_TEST, "4", "25"), acct_used_flag="0")
    stay(hospital, RESIDENT, "ZY0003", 5, [(SURGERY, "20", "2800")], insutype="390")
    outpatient(hospital, RESIDENT, "MZ0006", (BLOOD_TEST, "10", "25"), insutype="390")


def live_settlements(db: Database) -> dict[str, dict[str, Any]]:
    s, rev = t.settlement.c, t.settlement.alias("rev")
    query = select(t.settlement).where(s.revs_setl_id.is_(None), ~exists().where(rev.c.revs_setl_id == s.setl_id))
    with db.engine.connect() as conn:
        return {row.setl_id: dict(row._mapping) for row in conn.execute(query)}


def cli(*args: str | Path) -> str:
    run = CliRunner().invoke(app, ["policy", *map(str, args)])
    assert run.exit_code == 0, run.output
    return run.output


def test_stored_settlements_replay_to_their_stored_amounts_and_the_reserve_comes_from_the_ledger(
    db: Database, http: TestClient, tmp_path: Path
) -> None:
    loading.load_policy_file(db, RESIDENTS)
    with db.transaction() as store:
        transfer = Transfer(opening_account("funds"), fund_account("440100", "310100"), OPENING, Code.OPENING)
        store.post("opening-fund-310", [transfer], datetime.now(UTC).replace(tzinfo=None))
    settle_a_few_claims(db, http)
    url = db.engine.url.render_as_string(hide_password=False)
    claims = tmp_path / "claims.parquet"
    output = cli("export-claims", "--database", url, "--year", str(local_today().year), "--admdvs", "440100",
                 "--out", claims)  # fmt: skip
    stored = live_settlements(db)
    assert f"{len(stored)} claims of 4 persons" in output and len(stored) == 10

    table = pq.read_table(claims)
    setl_ids = table["setl_id"].to_pylist()
    assert sorted(setl_ids) == sorted(stored)  # the reversed visit and its reversal left out
    policies = {str(p.insutype): p for p in (load_policy(EMPLOYEE), load_policy(RESIDENTS))}
    assert {row["policy_name"] for row in stored.values()} == {p.name for p in policies.values()}
    vocab = Vocab()
    every, insutype = claims_from_table(table, vocab)
    every.check()
    replay = Replay(list(policies.values()), vocab)
    compared = 0
    for code, name in enumerate(vocab.values["insutype"]):
        rows = np.flatnonzero(insutype == code)
        layout = replay.lay_out(every, rows)
        outcome = replay.run(layout, policies[name])
        for j, row in enumerate(layout.order.tolist()):
            setl = stored[setl_ids[row]]
            got = {field: int(outcome.amounts[field][j]) for field in OUTCOME_FIELDS}
            assert got == {field: setl[field] for field in OUTCOME_FIELDS}, setl["setl_id"]
            compared += 1
    assert compared == len(stored)
    # the claims reached what makes a replay hard: the ceiling, an account credit, layers, a stay's deductible
    facts = table.to_pylist()
    assert any(s["hifp_pay"] < (s["inscp_scp_amt"] * 45 + 50) // 100 and s["med_type"] == "11" for s in stored.values())
    assert any(f["acct_credit"] > 0 for f in facts) and not all(f["acct_used_flag"] for f in facts)
    assert any(s["hifmi_pay"] > 0 and s["maf_pay"] > 0 for s in stored.values())
    worker = [f for f in facts if f["med_type"] == "21" and f["psn_type"] == "1101"]
    second = 2 if (local_today() - timedelta(days=10)).year == local_today().year else 1  # the n-th of its year
    assert [(f["admission_seq"], f["los_days"], f["stay_dedc_paid"]) for f in worker] == [
        (1, 10, 0), (1, 10, 100_000), (second, 1, 0)
    ]  # fmt: skip
    resident = [f for f in facts if f["insutype"] == "390"]
    assert {f["idet_types"] for f in resident} == {"2302"} and {f["psn_type"] for f in resident} == {"1403"}

    # the months of reserve from the ledger: the opening balance less what the fund paid and credited
    report_file = tmp_path / "report.json"
    cli("simulate", "--claims", claims, "--baseline", EMPLOYEE, "--baseline", RESIDENTS, "--proposal", EMPLOYEE,
        "--database", url, "--json", report_file)  # fmt: skip
    report = json.loads(report_file.read_text(encoding="utf-8"))
    spent = {k: sum(s["hifp_pay"] for s in stored.values() if s["insutype"] == k) for k in ("310", "390")}
    assert report["totals"]["baseline"]["hifp_pay"] == sum(spent.values())
    with db.engine.connect() as conn:
        credited = sum(conn.execute(select(t.account_credit.c.amount)).scalars())
    reserves = {r["insutype"]: r for r in report["reserve"]}
    employees, residents = reserves["310"], reserves["390"]
    assert employees["source"] == f"ledger {local_today():%Y-%m}"
    assert employees["balance"] == OPENING - spent["310"] - credited
    assert employees["monthly_spending"] == spent["310"] + credited == employees["monthly_spending_after"]
    assert employees["months_before"] == round(employees["balance"] / employees["monthly_spending"], 2)
    assert (residents["balance"], residents["monthly_spending"]) == (-spent["390"], spent["390"])
    # the options override the ledger's figures
    cli("simulate", "--claims", claims, "--baseline", EMPLOYEE, "--proposal", EMPLOYEE, "--database", url,
        "--fund-balance", "310=2000000", "--json", report_file)  # fmt: skip
    [given] = json.loads(report_file.read_text(encoding="utf-8"))["reserve"]
    assert (given["balance"], given["monthly_spending"], given["source"]) == (
        200_000_000, employees["monthly_spending"], f"given, monthly spending {employees['source']}",
    )  # fmt: skip


def test_bad_input_is_one_line_naming_it(tmp_path: Path) -> None:
    out, empty = str(tmp_path / "claims.parquet"), f"sqlite:///{tmp_path / 'empty.db'}"
    run = CliRunner().invoke(app, ["policy", "export-claims", "--year", "20250", "--out", out, "--database", empty])
    assert run.exit_code == 2 and "--year" in run.output and "20250 is not a year" in run.output
    run = CliRunner().invoke(app, ["policy", "export-claims", "--year", "2025", "--out", out, "--database", empty])
    assert run.exit_code == 2 and "error: cannot read the settlements" in run.output and not Path(out).exists()
