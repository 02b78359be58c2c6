"""`yibao ledger check` passes on an honest ledger and names every kind of tampering, exiting non-zero."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import text

from tests.flows import AMOXICILLIN, RETIREE, line, register, settle_data
from yibao.sim.his import HisClient
from yibao.store.database import Database


def ledger_check(db: Database) -> subprocess.CompletedProcess[str]:
    url = db.engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "YIBAO_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "yibao", "ledger", "check"], capture_output=True, text=True,
                          env=env, check=False)  # fmt: skip


def tamper(db: Database, sql: str) -> None:
    with db.engine.connect() as conn:
        conn.execute(text(sql))
        conn.commit()


def settle_one(hospital: HisClient) -> str:
    mdtrt_id = register(hospital, RETIREE)
    hospital.call("2204", {"feedetail": [line("1", mdtrt_id, RETIREE, AMOXICILLIN, "10", "0.52")]})
    return str(hospital.call("2207", settle_data(RETIREE, mdtrt_id, "5.20"))["setlinfo"]["setl_id"])


def test_honest_ledger_passes(hospital: HisClient, db: Database) -> None:
    settle_one(hospital)
    run = ledger_check(db)
    assert run.returncode == 0, run.stdout
    assert "all balanced and equal to the settlements" in run.stdout


def test_an_account_total_edited_by_hand_is_found(hospital: HisClient, db: Database) -> None:
    settle_one(hospital)
    tamper(db, "UPDATE ledger_account SET debits_posted = debits_posted + 1 WHERE code = 'fund:440100:310100'")
    run = ledger_check(db)
    assert run.returncode == 1
    assert "DIFF fund:440100:310100: 账户累计" in run.stdout


def test_a_settlement_amount_edited_by_hand_is_found(hospital: HisClient, db: Database) -> None:
    setl_id = settle_one(hospital)
    tamper(db, f"UPDATE setl_detail SET fund_payamt = fund_payamt + 100 WHERE setl_id = '{setl_id}' "
               "AND fund_pay_type = '310100'")  # fmt: skip
    tamper(db, f"UPDATE settlement SET acct_pay = acct_pay - 1 WHERE setl_id = '{setl_id}'")
    run = ledger_check(db)
    assert run.returncode == 1
    assert "fund:440100:310100: 结算记账净额" in run.stdout
    assert f"acct:{RETIREE}: 结算记账净额" in run.stdout
    assert "payable:H44010600001: 结算记账净额" in run.stdout


def test_an_unbalanced_transfer_is_found(hospital: HisClient, db: Database) -> None:
    settle_one(hospital)
    tamper(db, "UPDATE ledger_transfer SET amount = -amount WHERE code = 'opening' AND credit_account = "
               f"'acct:{RETIREE}'")  # fmt: skip
    run = ledger_check(db)
    assert run.returncode == 1
    assert "DIFF transfer" in run.stdout
