"""The service board's first figures for `yibao demo`: a few applications (经办服务) of the city's region
through the use cases (yibao.app.service_applications; docs/services.md), over the past weeks — some online, some at
the counter; finished ones with their working days, instant ones done at once, one returned for
materials, one resubmitted at a second visit, one refused, a joint item (医保、民政并联) half-passed, one
overdue. Sixteen applications, a few tens of transactions: about 0.1 s on SQLite.

Nothing here settles or moves money: the 转移接续 waits at approval and the 零星报销 at its check (their
effects are the clerk's to run in the console); the instant 异地就医备案 files its filings.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from yibao.app import service_applications, service_board
from yibao.app.accounts import Principal
from yibao.app.ports import Store
from yibao.app.service_records import Application
from yibao.store import tables as t
from yibao.store.database import Database

CLERK = "demo-clerk"


@dataclass
class ServicesReport:
    applications: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    online: int = 0
    seconds: float = 0.0

    def text(self) -> str:
        s = self.by_status
        return (f"{self.applications} 件申请（网上 {self.online}）：办结 {s.get('done', 0)}、在办 "
                f"{s.get('submitted', 0) + s.get('checked', 0)}、退回补正 {s.get('returned', 0)}、"
                f"不予办理 {s.get('refused', 0)}")  # fmt: skip


def _persons(db: Database, admdvs: str, insutype: str, wanted: int, rng: random.Random) -> list[str]:
    """Persons insured (normal) in the region under ``insutype``, with months paid for employees."""
    i = t.insurance.c
    q = select(i.psn_no).where(i.insutype == insutype, i.psn_insu_stas == "1", i.insuplc_admdvs == admdvs)
    if insutype == "310":
        q = q.where(i.contrib_months > 0)
    with db.engine.connect() as conn:
        found = list(conn.execute(q.order_by(i.psn_no).limit(500)).scalars())
    return rng.sample(found, min(wanted, len(found)))


def generate(db: Database, admdvs: str, now: datetime, seed: int = 0) -> ServicesReport:
    """The applications, handled by a clerk ``demo-clerk`` of ``admdvs``; ``now`` naive UTC."""
    started = time.monotonic()
    rng = random.Random(seed)
    workers = _persons(db, admdvs, "310", 14, rng)
    residents = _persons(db, admdvs, "390", 1, rng)
    if len(workers) < 14:
        return ServicesReport()
    clerk = Principal("console", CLERK, "clerk", admdvs, "演示经办员")

    def day(ago: float) -> datetime:
        """``ago`` days before now, in office hours (UTC 01:00–08:00 is 09:00–16:00 in Shanghai)."""
        at = (now - timedelta(days=ago)).replace(hour=2, minute=rng.randrange(60), second=0, microsecond=0)
        return min(at, now)

    def write(use: Callable[[Store], Application]) -> Application:
        with db.transaction() as store:
            return use(store)

    def submit(
        code: str, psn_no: str, ago: float, *, online: bool, form: Mapping[str, str] | None = None,
        provided: Mapping[str, str] | None = None, promised: Sequence[str] = (),
    ) -> Application:  # fmt: skip
        who = Principal("portal", psn_no, psn_no=psn_no) if online else clerk
        return write(lambda s: service_applications.submit(
            s, item_code=code, form=form or {}, provided=provided or {}, promised=promised, who=who, now=day(ago),
            ip="127.0.0.1", psn_no="" if online else psn_no,
        ))  # fmt: skip

    def act(a: Application, outcome: str, ago: float, note: str = "", missing: Sequence[str] = ()) -> None:
        """The clerk closes the first open task (the joint step's parties in order)."""

        def decide(store: Store) -> Application:
            task = next(x for x in store.tasks(a.application_id) if x.closed_at is None)
            return service_applications.decide_task(store, a.application_id, task.seq, outcome, note=note, who=clerk,
                                                    now=day(ago), ip="127.0.0.1", missing_codes=missing)  # fmt: skip

        write(decide)

    w = workers
    # instant items: done at submission (异地就医备案 files an approved temporary filing)
    filing = {"insutype": "310", "filing_type": "temporary", "mdtrtarea_admdvs": "310118"}
    submit("YB06", w[0], 12, online=True, form={**filing, "begndate": f"{day(12):%Y-%m-%d}"})
    submit("YB06", w[1], 3, online=False, form={**filing, "mdtrtarea_admdvs": "320509",
                                                "begndate": f"{day(3):%Y-%m-%d}"})  # fmt: skip
    submit("YB04", w[2], 1, online=True)
    submit("YB02", w[3], 5, online=True, form={"change": "phone", "value": "13800000000"})
    # 门诊慢特病: one done, one overdue at the check, one returned for its records
    chronic = {"disease": "M00500 高血压", "fixmedins_code": "H44010600001"}
    papers = {"diagnosis": "诊断证明 ZD-0001", "records": "病历 4 页"}
    done = submit("YB07", w[4], 20, online=True, form=chronic, provided=papers)
    act(done, "pass", 19)
    act(done, "pass", 14)
    submit("YB07", w[5], 40, online=True, form=chronic, provided=papers)  # nobody looked: overdue
    short = submit("YB07", w[6], 8, online=False, form=chronic, provided={"diagnosis": "诊断证明 ZD-0002"})
    act(short, "return", 7, missing=("records",))
    # 生育津贴 online, done
    birth = submit("YB10", w[7], 15, online=True, form={"birth_date": f"{day(30):%Y-%m-%d}", "emp_name": "某公司"},
                   provided={"birth": "出生医学证明 O440100001"})  # fmt: skip
    act(birth, "pass", 13)
    act(birth, "pass", 10)
    # 医疗救助: a joint item (医保 and 民政 in parallel) — one done, one with 民政's task still open
    aid = {"medfee_sumamt": "3200.00", "reason": "大病自付费用较高"}
    proofs = {"status": "低保证 DB-0001", "invoice": "结算单 JS-0001"}
    helped = submit("YB11", w[8], 25, online=True, form=aid, provided=proofs)
    for ago in (24, 22, 21):
        act(helped, "pass", ago)
    waiting = submit("YB11", w[9], 10, online=False, form=aid, provided=proofs)
    act(waiting, "pass", 9)
    act(waiting, "pass", 8)  # 医保 passed; 民政 has not answered yet
    # 家庭共济绑定: one refused, one done
    bind = {"member_certno": "440106200001010011", "relation": "child"}
    refused = submit("YB05", w[10], 6, online=False, form=bind, provided={"relation": "出生医学证明"})
    act(refused, "refuse", 5, note="被共济人不是本人的近亲属（户籍信息不符）")
    bound = submit("YB05", w[11], 9, online=True, form={**bind, "relation": "spouse"},
                   provided={"relation": "结婚证 J-0001"}, promised=("consent",))  # fmt: skip
    act(bound, "pass", 7)
    # 转移接续 at the counter, checked and waiting for approval (approving it moves the account)
    moving = submit("YB08", w[12], 4, online=False, form={"insutype": "310", "from_admdvs": admdvs,
                                                          "to_admdvs": "440300"})  # fmt: skip
    act(moving, "pass", 3)
    # 零星报销 at the counter: returned for the fee list, brought at a second visit, waiting for its check
    bill = {"insutype": "310", "med_type": "11", "fixmedins_code": "H44010600001", "begndate": f"{day(16):%Y-%m-%d}",
            "medfee_sumamt": "350.00", "invoice_no": "No.0001"}  # fmt: skip
    claim = submit("YB09", w[13], 14, online=False, form=bill, provided={"invoice": "票据 No.0001"},
                   promised=("bank",))  # fmt: skip
    act(claim, "return", 13, missing=("detail",))
    write(lambda s: service_applications.resubmit(s, claim.application_id, provided={"detail": "费用明细 2 页"},
                                                  promised=(), who=clerk, now=day(11), ip="127.0.0.1"))  # fmt: skip
    # 定点医药机构申请 (an institution's, at the counter) and 城乡居民参保登记
    station = {"institution_name": "某社区卫生服务站", "credit_code": "12440100MB0000001X", "kind": "1",
               "admdvs": admdvs}  # fmt: skip
    submit("YB12", "", 7, online=False, form=station,
           provided={"licence": "执业许可证 PDY-0001", "system": "测试报告", "staff": "制度材料"})  # fmt: skip
    if residents:
        enrol = submit("YB01", residents[0], 2, online=False, form={"insutype": "390", "phone": "13900000000"})
        act(enrol, "pass", 1)

    with db.transaction(write=False) as store:
        board = service_board.board(store, admdvs, now)
    return ServicesReport(board.total, {k: v for k, v in board.by_status.items() if v}, board.online,
                          time.monotonic() - started)  # fmt: skip
