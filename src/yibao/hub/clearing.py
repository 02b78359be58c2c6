"""`yibao hub clearing run`: the monthly clearing (清算) of cross-region settlements (docs/cross-region.md).

1. Every node sends its month's detail as the treating region (``clearing-detail``, 3260-style): its
   "T" settlements and reversals of the month, and earlier ones no run has cleared.
2. Each node's lines go to the insured regions' nodes, which confirm or dispute each one against their
   own "I" settlements (``clearing-confirm``, 3261/3262-style). Transfers (转移接续) likewise: the new
   region's node sends the personal accounts it received and no run has carried, the region left's node
   confirms each against its own side.
3. The confirmed amounts are netted across all region pairs into one figure per region: what was
   treated there for the others (receivable) less what its insured were treated for elsewhere
   (payable), plus the personal accounts moved into it less those moved out. The nets sum to zero. A
   region that pays has its advance (预付金, ``yibao hub advance``) drawn first; only the rest is paid in
   cash.
4. The run is stored here (``hub_clearing_*``), then every node posts its result (``clearing-post``,
   idempotent by the run id). If a node cannot be reached, the run stays "posting": running the same
   month again re-sends the stored run (nothing is posted twice) before any new run is made.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import Engine, func, insert, select, update

from yibao.app.clearing import CONFIRM, DETAIL, HUB, POST, fen, month_bounds
from yibao.domain.money import Fen
from yibao.hub.directory import Directory, Node
from yibao.hub.server import node_request
from yibao.store import tables as t


class ClearingError(Exception):
    """A node refused or did not answer a clearing call."""


@dataclass
class Line:
    """One line of a run, as the treating node sent it and the insured node answered."""

    treating_node: str
    line_id: str
    mdtrt_id: str
    revs_setl_id: str | None
    psn_no: str
    certno_masked: str
    treating_admdvs: str
    insured_admdvs: str
    fixmedins_code: str
    setl_time: datetime
    medfee_sumamt: Fen
    fund_pay_sumamt: Fen
    acct_pay: Fen
    status: str = "disputed"
    reason: str = ""
    insured_setl_id: str | None = None

    @property
    def amount(self) -> Fen:
        """What the insured region owes the treating one for it."""
        return self.fund_pay_sumamt + self.acct_pay


@dataclass
class TransferLine:
    """One 转移接续 of a run: the new region's node (``in_node``) is owed ``amount`` by the region left."""

    in_node: str
    transfer_id: str
    psn_no: str
    from_admdvs: str
    to_admdvs: str
    transfer_date: date
    amount: Fen
    status: str = "disputed"
    reason: str = ""


@dataclass
class Net:
    admdvs: str
    node_id: str
    receivable: Fen = 0
    payable: Fen = 0
    advance: Fen = 0
    posted_at: datetime | None = None

    @property
    def net(self) -> Fen:
        return self.receivable - self.payable

    @property
    def cash(self) -> Fen:
        """Received (> 0) or paid (< 0) in money: the net, less what the advance covers."""
        return self.net + self.advance


@dataclass
class Run:
    run_id: str
    month: str
    status: str
    lines: list[Line] = field(default_factory=list)
    nets: dict[str, Net] = field(default_factory=dict)
    transfers: list[TransferLine] = field(default_factory=list)
    resumed: bool = False
    failures: list[str] = field(default_factory=list)

    def pairs(self) -> dict[tuple[str, str], Fen]:
        """(insured region or region left, treating region or new region) → the confirmed amount the first
        owes the second."""
        owed = [(x.insured_admdvs, x.treating_admdvs, x.amount) for x in self.lines if x.status == "confirmed"]
        owed += [(x.from_admdvs, x.to_admdvs, x.amount) for x in self.transfers if x.status == "confirmed"]
        out: dict[tuple[str, str], Fen] = {}
        for payer, payee, amount in owed:
            out[payer, payee] = out.get((payer, payee), 0) + amount
        return out


def net_regions(
    lines: Iterable[Line], node_of: dict[str, str], transfers: Iterable[TransferLine] = ()
) -> dict[str, Net]:
    """Each region's receivable and payable over the confirmed lines and transfers (the nets sum to zero)."""
    owed = [(x.insured_admdvs, x.treating_admdvs, x.amount, x.status) for x in lines]
    owed += [(x.from_admdvs, x.to_admdvs, x.amount, x.status) for x in transfers]
    nets: dict[str, Net] = {}
    for payer, payee, amount, status in owed:
        for admdvs in (payee, payer):
            nets.setdefault(admdvs, Net(admdvs, node_of.get(admdvs, "")))
        if status == "confirmed":
            nets[payee].receivable += amount
            nets[payer].payable += amount
    return nets


def draw_advances(nets: dict[str, Net], balances: dict[str, Fen]) -> None:
    """A paying region's payment comes first from the advance it has paid in, as far as that goes."""
    for n in nets.values():
        if n.net < 0:
            n.advance = min(-n.net, max(0, balances.get(n.admdvs, 0)))


class NodeCaller:
    """The hub's own signed calls to nodes' ``/node/call`` (``from_node`` "hub")."""

    def __init__(self, hub_key: bytes, timeout: float = 60.0) -> None:
        self.hub_key = hub_key
        self.client = httpx.Client(timeout=timeout)

    def call(self, node: Node, op: str, msgid: str, payload: dict[str, Any]) -> dict[str, Any]:
        url, body, headers = node_request(self.hub_key, node, msgid, HUB, op, payload)
        try:
            r = self.client.post(url, content=body, headers=headers)
            answer = json.loads(r.content, parse_float=Decimal)
        except (httpx.HTTPError, ValueError) as exc:
            raise ClearingError(f"{node.node_id} ({op}): 不可达（{type(exc).__name__}）") from None
        if isinstance(answer, dict) and answer.get("ok") is True and isinstance(answer.get("data"), dict):
            data: dict[str, Any] = answer["data"]
            return data
        error = answer.get("error", answer) if isinstance(answer, dict) else answer
        raise ClearingError(f"{node.node_id} ({op}): {error}")

    def close(self) -> None:
        self.client.close()


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# ---------------------------------------------------------------- the run


def run_month(engine: Engine, directory: Directory, caller: NodeCaller, month: str) -> Run:
    """Clear the month: resume a run of it still posting, or make a new one; then post it on every node."""
    month_bounds(month)  # refuses anything but yyyy-mm
    with engine.connect() as conn:
        r = t.hub_clearing_run.c
        pending = conn.execute(
            select(r.run_id).where(r.month == month, r.status == "posting").order_by(r.created_at)
        ).scalar()
        count = conn.execute(select(func.count()).select_from(t.hub_clearing_run).where(r.month == month)).scalar()
    if pending is not None:
        run = load_run(engine, pending)
        run.resumed = True
    else:
        run = gather(directory, caller, month, f"CLR{month.replace('-', '')}-{int(count or 0) + 1:02d}")
        balances = advance_balances(engine)
        draw_advances(run.nets, balances)
        save_run(engine, run)
    post_run(engine, directory, caller, run)
    return run


def gather(directory: Directory, caller: NodeCaller, month: str, run_id: str) -> Run:
    """Steps 1–3: every node's detail, confirmed by the insured nodes, netted. Nothing stored yet."""
    nodes = directory.nodes()
    run = Run(run_id, month, "posting")
    for node in sorted(nodes.values(), key=lambda n: n.node_id):
        data = caller.call(node, DETAIL, f"{run_id}:detail", {"month": month})
        for x in data.get("lines", []):
            line = Line(
                treating_node=node.node_id,
                line_id=str(x["line_id"]),
                mdtrt_id=str(x["mdtrt_id"]),
                revs_setl_id=str(x["revs_setl_id"]) if x.get("revs_setl_id") else None,
                psn_no=str(x["psn_no"]),
                certno_masked=str(x.get("certno", ""))[:30],
                treating_admdvs=str(x["mdtrtarea_admvs"]),
                insured_admdvs=str(x["insuplc_admdvs"]),
                fixmedins_code=str(x["fixmedins_code"]),
                setl_time=datetime.fromisoformat(str(x["setl_time"])),
                medfee_sumamt=fen(x["medfee_sumamt"], "medfee_sumamt"),
                fund_pay_sumamt=fen(x["fund_pay_sumamt"], "fund_pay_sumamt"),
                acct_pay=fen(x["acct_pay"], "acct_pay"),
            )
            if directory.node_for(line.treating_admdvs) != node:
                line.reason = f"{line.treating_admdvs} 不由节点 {node.node_id} 服务"
            run.lines.append(line)
        for x in data.get("transfers", []):
            moved = TransferLine(
                in_node=node.node_id, transfer_id=str(x["transfer_id"])[:64], psn_no=str(x["psn_no"]),
                from_admdvs=str(x["from_admdvs"]), to_admdvs=str(x["to_admdvs"]),
                transfer_date=date.fromisoformat(str(x["transfer_date"])), amount=fen(x["amount"], "amount"),
            )  # fmt: skip
            if directory.node_for(moved.to_admdvs) != node:
                moved.reason = f"{moved.to_admdvs} 不由节点 {node.node_id} 服务"
            run.transfers.append(moved)
    batches: dict[tuple[str, str], tuple[list[Line], list[TransferLine]]] = {}
    for line in run.lines:
        insured = directory.node_for(line.insured_admdvs)
        if line.reason:
            continue
        if insured is None or insured.node_id == line.treating_node:
            line.reason = f"参保地 {line.insured_admdvs} 没有接入国家平台的其他节点"
            continue
        batches.setdefault((insured.node_id, line.treating_node), ([], []))[0].append(line)
    for moved in run.transfers:  # both regions on one node too: its two regions' funds are still two
        left = directory.node_for(moved.from_admdvs)
        if moved.reason:
            continue
        if left is None:
            moved.reason = f"转出地 {moved.from_admdvs} 没有接入国家平台"
            continue
        batches.setdefault((left.node_id, moved.in_node), ([], []))[1].append(moved)
    for i, ((insured_id, _), (lines, transfers)) in enumerate(sorted(batches.items())):
        payload = {"lines": [line_payload(x) for x in lines], "transfers": [transfer_payload(x) for x in transfers]}
        answers = caller.call(nodes[insured_id], CONFIRM, f"{run_id}:confirm:{i}", payload)
        by_id = {str(a["line_id"]): a for a in answers.get("lines", [])}
        for x in lines:
            a = by_id.get(x.line_id)
            if a is None:
                x.reason = "参保地未答复此明细"
            elif a.get("status") == "confirmed" and a.get("insured_setl_id"):
                x.status, x.insured_setl_id = "confirmed", str(a["insured_setl_id"])
            else:
                x.reason = str(a.get("reason") or "参保地有异议")
        said = {str(a["transfer_id"]): a for a in answers.get("transfers", [])}
        for t_ in transfers:
            a = said.get(t_.transfer_id)
            if a is None:
                t_.reason = "转出地未答复此转移"
            elif a.get("status") == "confirmed":
                t_.status = "confirmed"
            else:
                t_.reason = str(a.get("reason") or "转出地有异议")
    node_of = {}
    regions = [a for x in run.lines for a in (x.treating_admdvs, x.insured_admdvs)]
    regions += [a for x in run.transfers for a in (x.to_admdvs, x.from_admdvs)]
    for admdvs in regions:
        serving = directory.node_for(admdvs)
        node_of[admdvs] = serving.node_id if serving else ""
    run.nets = net_regions(run.lines, node_of, run.transfers)
    return run


def line_payload(x: Line) -> dict[str, Any]:
    return {
        "line_id": x.line_id,
        "mdtrt_id": x.mdtrt_id,
        "revs_setl_id": x.revs_setl_id,
        "psn_no": x.psn_no,
        "insuplc_admdvs": x.insured_admdvs,
        "mdtrtarea_admvs": x.treating_admdvs,
        "fixmedins_code": x.fixmedins_code,
        "setl_time": x.setl_time.isoformat(timespec="seconds"),
        "medfee_sumamt": _yuan(x.medfee_sumamt),
        "fund_pay_sumamt": _yuan(x.fund_pay_sumamt),
        "acct_pay": _yuan(x.acct_pay),
    }


def transfer_payload(x: TransferLine) -> dict[str, Any]:
    return {
        "transfer_id": x.transfer_id, "psn_no": x.psn_no, "from_admdvs": x.from_admdvs, "to_admdvs": x.to_admdvs,
        "transfer_date": x.transfer_date.isoformat(), "amount": _yuan(x.amount),
    }  # fmt: skip


def _yuan(fen_: Fen) -> str:
    return f"{Decimal(fen_) / 100:.2f}"


def post_payloads(run: Run) -> dict[str, dict[str, Any]]:
    """What each node posts: its confirmed lines (both roles), its disputed ones, its confirmed transfers
    (both sides), its regions' net."""
    out: dict[str, dict[str, Any]] = {}

    def of(node_id: str) -> dict[str, Any]:
        return out.setdefault(node_id, {"run_id": run.run_id, "month": run.month, "treated": [], "insured": [],
                                        "disputed": [], "transfers_in": [], "transfers_out": [], "net": 0,
                                        "advance": 0})  # fmt: skip

    for n in run.nets.values():
        if n.node_id:
            p = of(n.node_id)
            p["net"] += n.net
            p["advance"] += n.advance
    for x in run.lines:
        treating = of(x.treating_node)
        if x.status == "confirmed":
            treating["treated"].append(x.line_id)
            of(run.nets[x.insured_admdvs].node_id)["insured"].append(x.insured_setl_id)
        else:
            treating["disputed"].append({"setl_id": x.line_id, "reason": x.reason})
    for moved in run.transfers:
        if moved.status == "confirmed":
            of(moved.in_node)["transfers_in"].append(moved.transfer_id)
            of(run.nets[moved.from_admdvs].node_id)["transfers_out"].append(moved.transfer_id)
    for p in out.values():
        p["net"], p["advance"] = _yuan(p["net"]), _yuan(p["advance"])
    return out


def post_run(engine: Engine, directory: Directory, caller: NodeCaller, run: Run) -> None:
    """Step 4: every node posts (again, harmlessly, if it had); the run is "posted" when all have."""
    nodes = directory.nodes()
    for node_id, payload in sorted(post_payloads(run).items()):
        if all(n.posted_at is not None for n in run.nets.values() if n.node_id == node_id) and any(
            n.node_id == node_id for n in run.nets.values()
        ):
            continue
        node = nodes.get(node_id)
        try:
            if node is None:
                raise ClearingError(f"{node_id}: 不在节点目录中")
            caller.call(node, POST, f"clearing-post:{run.run_id}", payload)
        except ClearingError as exc:
            run.failures.append(str(exc))
            continue
        at = now_utc()
        with engine.begin() as conn:
            c = t.hub_clearing_net.c
            conn.execute(
                update(t.hub_clearing_net).where(c.run_id == run.run_id, c.node_id == node_id).values(posted_at=at)
            )
        for n in run.nets.values():
            if n.node_id == node_id:
                n.posted_at = at
    if not run.failures:
        run.status = "posted"
        with engine.begin() as conn:
            r = t.hub_clearing_run.c
            conn.execute(
                update(t.hub_clearing_run).where(r.run_id == run.run_id).values(status="posted", finished_at=now_utc())
            )


# ---------------------------------------------------------------- the hub's database


def save_run(engine: Engine, run: Run) -> None:
    """The run, its lines, its nets and the advances it draws, in one transaction."""
    now = now_utc()
    with engine.begin() as conn:
        conn.execute(insert(t.hub_clearing_run).values(run_id=run.run_id, month=run.month, status=run.status,
                                                       created_at=now))  # fmt: skip
        if run.lines:
            conn.execute(
                insert(t.hub_clearing_line),
                [{"run_id": run.run_id, **{k: getattr(x, k) for k in LINE_COLUMNS}} for x in run.lines],
            )
        if run.nets:
            conn.execute(
                insert(t.hub_clearing_net),
                [
                    {
                        "run_id": run.run_id,
                        "admdvs": n.admdvs,
                        "node_id": n.node_id,
                        "receivable": n.receivable,
                        "payable": n.payable,
                        "net": n.net,
                        "advance": n.advance,
                    }
                    for n in run.nets.values()
                ],
            )
        if run.transfers:
            conn.execute(
                insert(t.hub_clearing_transfer),
                [{"run_id": run.run_id, **{k: getattr(x, k) for k in TRANSFER_COLUMNS}} for x in run.transfers],
            )
        draws = [n for n in run.nets.values() if n.advance > 0]
        if draws:
            conn.execute(
                insert(t.hub_advance),
                [{"admdvs": n.admdvs, "amount": -n.advance, "run_id": run.run_id, "created_at": now} for n in draws],
            )


LINE_COLUMNS = (
    "treating_node", "line_id", "mdtrt_id", "revs_setl_id", "psn_no", "certno_masked", "treating_admdvs",
    "insured_admdvs", "fixmedins_code", "setl_time", "medfee_sumamt", "fund_pay_sumamt", "acct_pay", "status",
    "reason", "insured_setl_id",
)  # fmt: skip


TRANSFER_COLUMNS = (
    "in_node", "transfer_id", "psn_no", "from_admdvs", "to_admdvs", "transfer_date", "amount", "status", "reason",
)  # fmt: skip


def load_run(engine: Engine, run_id: str) -> Run:
    with engine.connect() as conn:
        r = conn.execute(select(t.hub_clearing_run).where(t.hub_clearing_run.c.run_id == run_id)).one()
        run = Run(r.run_id, r.month, r.status)
        lc = t.hub_clearing_line.c
        for row in conn.execute(select(t.hub_clearing_line).where(lc.run_id == run_id).order_by(lc.setl_time)):
            m = row._mapping
            run.lines.append(Line(**{k: m[k] for k in LINE_COLUMNS}))
        xc = t.hub_clearing_transfer.c
        for row in conn.execute(select(t.hub_clearing_transfer).where(xc.run_id == run_id).order_by(xc.transfer_id)):
            run.transfers.append(TransferLine(**{k: row._mapping[k] for k in TRANSFER_COLUMNS}))
        nc = t.hub_clearing_net.c
        for row in conn.execute(select(t.hub_clearing_net).where(nc.run_id == run_id).order_by(nc.admdvs)):
            run.nets[row.admdvs] = Net(row.admdvs, row.node_id, int(row.receivable), int(row.payable),
                                       int(row.advance), row.posted_at)  # fmt: skip
    return run


def advance_balances(engine: Engine) -> dict[str, Fen]:
    """Each region's advance still held: paid in, less what runs drew."""
    a = t.hub_advance.c
    with engine.connect() as conn:
        return {admdvs: int(total) for admdvs, total in conn.execute(
            select(a.admdvs, func.sum(a.amount)).group_by(a.admdvs))}  # fmt: skip


def pay_advance(engine: Engine, admdvs: str, amount: Fen) -> Fen:
    """Record an advance a region paid in; its balance now."""
    with engine.begin() as conn:
        conn.execute(insert(t.hub_advance).values(admdvs=admdvs, amount=amount, run_id="", created_at=now_utc()))
    return advance_balances(engine).get(admdvs, 0)


# ---------------------------------------------------------------- the netting table


def render(run: Run) -> list[Any]:
    """The run as rich tables: who owes whom, each region's net and payment, the transfers, the disputed lines."""
    from rich.table import Table

    regions = sorted(run.nets)
    pairs = run.pairs()
    title = f"清算 {run.month}  {run.run_id}" + ("（续发）" if run.resumed else "")
    matrix = Table(title=f"{title}：参保地、转出地（行）应付就医地、转入地（列）", show_footer=True)
    matrix.add_column("应付 \\ 应收", footer="合计")
    for col in regions:
        matrix.add_column(col, justify="right", footer=_yuan(sum(v for (_, b), v in pairs.items() if b == col)))
    matrix.add_column("应付合计", justify="right", footer=_yuan(sum(pairs.values())))
    for row in regions:
        cells = [_yuan(pairs[(row, col)]) if (row, col) in pairs else "" for col in regions]
        matrix.add_row(row, *cells, _yuan(sum(v for (a, _), v in pairs.items() if a == row)))
    nets = Table(title="各地净额（正数应收，负数应付）", show_footer=True)
    total = list(run.nets.values())
    for name, footer in (
        ("地区", "合计"),
        ("节点", ""),
        ("应收", _yuan(sum(n.receivable for n in total))),
        ("应付", _yuan(sum(n.payable for n in total))),
        ("净额", _yuan(sum(n.net for n in total))),
        ("预付金抵扣", _yuan(sum(n.advance for n in total))),
        ("实际收付", _yuan(sum(n.cash for n in total))),
        ("已记账", ""),
    ):
        nets.add_column(name, footer=footer, justify="left" if name in ("地区", "节点", "已记账") else "right")
    for n in sorted(total, key=lambda n: n.admdvs):
        nets.add_row(n.admdvs, n.node_id, _yuan(n.receivable), _yuan(n.payable), _yuan(n.net), _yuan(n.advance),
                     _yuan(n.cash), "是" if n.posted_at else "否")  # fmt: skip
    out: list[Any] = [matrix, nets]
    if run.transfers:
        moved = Table(title=f"转移接续（个人账户）{len(run.transfers)} 笔")
        for name in ("转入地节点", "转移", "转出地", "转入地", "金额", "状态"):
            moved.add_column(name, justify="right" if name == "金额" else "left")
        for m in run.transfers:
            state = "已确认" if m.status == "confirmed" else f"有异议：{m.reason}"
            moved.add_row(m.in_node, m.transfer_id, m.from_admdvs, m.to_admdvs, _yuan(m.amount), state)
        out.append(moved)
    disputed = [x for x in run.lines if x.status != "confirmed"]
    if disputed:
        d = Table(title=f"有异议的明细 {len(disputed)} 条（结转下月）")
        for name in ("就医地节点", "明细", "就诊", "参保地", "金额", "原因"):
            d.add_column(name, justify="right" if name == "金额" else "left")
        for x in disputed:
            d.add_row(x.treating_node, x.line_id, x.mdtrt_id, x.insured_admdvs, _yuan(x.amount), x.reason)
        out.append(d)
    return out
