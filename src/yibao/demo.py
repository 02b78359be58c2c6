"""`yibao demo`: a Guangzhou hospital settles an outpatient visit and an inpatient stay through the
national interface of a real yibao server, and the ledger proves every fen. Then it keeps serving."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import uvicorn
from rich.console import Console
from rich.table import Table

from yibao.api.server import create_app
from yibao.domain.ledger import check_ledger
from yibao.sim.his import HisClient
from yibao.store import loading, migrate
from yibao.store.database import Database
from yibao.store.engine import make_engine

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "guangzhou"
SHOWN = ("medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc",
         "hifp_pay", "pool_prop_selfpay", "fund_pay_sumamt", "acct_pay", "psn_cash_pay", "balc")  # fmt: skip


def prepare(db_path: Path) -> Database:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db = Database(make_engine(f"sqlite:///{db_path}"))
    migrate.upgrade(db.engine)
    loading.load_registry_file(db, EXAMPLES / "registry.json")
    for policy in ("employee-2021.toml", "employee-2022-12.toml"):
        loading.load_policy_file(db, EXAMPLES / policy)
    loading.load_catalog_file(db, EXAMPLES / "catalog.toml")
    return db


def start_server(db: Database, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    config = uvicorn.Config(create_app(db), host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread


def show(console: Console, title: str, setlinfo: dict[str, Any]) -> None:
    table = Table(title=title, show_header=False, title_justify="left")
    for name in SHOWN:
        table.add_row(name, f"{setlinfo[name]:,.2f}")
    console.print(table)


def conversation(his: HisClient, console: Console) -> None:
    claim = json.loads((EXAMPLES / "claim-inpatient.json").read_text(), parse_float=Decimal)
    psn_no = claim["person"]["psn_no"]
    people = json.loads((EXAMPLES / "registry.json").read_text())["persons"]
    certno = next(p["certno"] for p in people if p["psn_no"] == psn_no)
    now = datetime.now()

    his.sign_in()
    info = his.call("1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": certno}})
    base, insu = info["baseinfo"], info["insuinfo"][0]
    console.print(f"1101 {base['psn_name']}，{base['age']}岁，险种 {insu['insutype']} 人员类别 {insu['psn_type']}，"
                  f"个人账户余额 {insu['balc']}")  # fmt: skip

    mdtrt_id = his.call("2201", {"data": {"psn_no": psn_no, "insutype": "310", "begntime": f"{now:%Y-%m-%d %H:%M:%S}",
                                          "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "ipt_otp_no": "MZ-DEMO",
                                          "dept_code": "A03", "dept_name": "内科"}})["data"]["mdtrt_id"]  # fmt: skip
    lines = [("1", "XJ01CAA040A001010100039", "24", "0.52"), ("2", "002501000010000", "1", "25"),
             ("3", "XC10AAA050A001010101444", "28", "3.15")]  # fmt: skip
    feedetail = [_line(sn, mdtrt_id, psn_no, code, cnt, pric, now) for sn, code, cnt, pric in lines]
    his.call("2204", {"feedetail": feedetail})
    total = sum(Decimal(f["det_item_fee_sumamt"]) for f in feedetail)
    settle = {"psn_no": psn_no, "mdtrt_id": mdtrt_id, "medfee_sumamt": str(total), "insutype": "310",
              "med_type": "11", "mdtrt_cert_type": "02", "mdtrt_cert_no": certno, "acct_used_flag": "1"}  # fmt: skip
    out = his.call("2207", {"data": settle})["setlinfo"]
    show(console, f"2207 门诊结算 {out['setl_id']}", out)

    begin = now - timedelta(days=int(claim["visit"]["los_days"]))
    stay = his.call("2401", {"mdtrtinfo": {"psn_no": psn_no, "insutype": "310", "mdtrt_cert_type": "02",
                                           "mdtrt_cert_no": certno, "med_type": "21", "ipt_no": "ZY-DEMO",
                                           "begntime": f"{begin:%Y-%m-%d %H:%M:%S}", "dise_codg": "K35.800",
                                           "dise_name": "急性阑尾炎"}})["result"]["mdtrt_id"]  # fmt: skip
    feedetail = [_line(f["feedetl_sn"], stay, psn_no, f["med_list_codg"], str(f["cnt"]), str(f["pric"]), now)
                 for f in claim["feedetail"]]  # fmt: skip
    his.call("2301", {"feedetail": feedetail})
    his.call("2402", {"dscginfo": {"mdtrt_id": stay, "psn_no": psn_no, "endtime": f"{now:%Y-%m-%d %H:%M:%S}"}})
    total = sum(Decimal(f["det_item_fee_sumamt"]) for f in feedetail)
    out = his.call("2304", {"data": {**settle, "mdtrt_id": stay, "medfee_sumamt": str(total), "med_type": "21"}})
    show(console, f"2304 住院结算 {out['setlinfo']['setl_id']}", out["setlinfo"])
    for row in out["setldetail"]:
        console.print(f"  {row['fund_pay_type']} {row['fund_pay_type_name']}: {row['fund_payamt']}  "
                      f"[dim]{row['setl_proc_info']}[/dim]")  # fmt: skip


def _line(sn: str, mdtrt_id: str, psn_no: str, code: str, cnt: str, pric: str, at: datetime) -> dict[str, Any]:
    amount = (Decimal(cnt) * Decimal(pric)).quantize(Decimal("0.01"))
    return {"feedetl_sn": sn, "mdtrt_id": mdtrt_id, "psn_no": psn_no, "med_list_codg": code, "cnt": cnt,
            "pric": pric, "det_item_fee_sumamt": str(amount), "fee_ocur_time": f"{at:%Y-%m-%d %H:%M:%S}"}  # fmt: skip


def run(db_path: Path, port: int, serve: bool) -> int:
    console = Console()
    db = prepare(db_path)
    server, thread = start_server(db, port)
    base = f"http://127.0.0.1:{port}"
    console.rule(f"yibao at {base} — 广州市第一人民医院 (H44010600001) settles through the national interface")
    his = HisClient(base, "H44010600001", "广州市第一人民医院（示例）")
    try:
        conversation(his, console)
    finally:
        his.close()
    with db.transaction(write=False) as store:
        problems = check_ledger(store.ledger_facts())
    console.print("ledger check: " + ("[green]every posting balanced, funds and payables equal the settlements"
                                      if not problems else f"[red]{problems}"))  # fmt: skip
    if serve:
        console.print(f"Serving {base}/fsi/api/callService — OpenAPI docs at {base}/docs — Ctrl-C to stop.")
        try:
            while thread.is_alive():
                thread.join(0.5)
        except KeyboardInterrupt:
            pass
    server.should_exit = True
    thread.join(10)
    db.dispose()
    return 1 if problems else 0
