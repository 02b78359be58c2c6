"""A node's part in the hub's monthly clearing (清算; docs/cross-region.md "Clearing").

Three calls, from the hub only (``/node/call`` refuses them from another node):

``clearing-detail`` (3260-style, read)
    Where treated: the month's settlements and reversals with ``cross_region`` "T", one line each
    (setl_id, mdtrt_id, psn_no, masked certno, insured region, institution, setl_time, medfee_sumamt,
    fund_pay_sumamt, acct_pay), and every earlier one no run has cleared yet (a disputed line, or a
    month never run): disputed lines come again until they are confirmed. Likewise, as the new region of
    a 转移接续, the sides received here whose money no run has carried yet (``transfers``).
``clearing-confirm`` (3261/3262-style, read)
    Where insured: each line of another node's detail is confirmed against a "I" settlement of this
    node not yet cleared, of the same mdtrt_id, treating region, amounts and direction, each used once
    — or disputed with a reason: no such settlement, other amounts, or reversed on one side only. As the
    region left, each transfer against its own side (same person, regions and amount, not yet carried).
``clearing-post`` (write, idempotent by the run id)
    The run's result for this node: the confirmed lines it holds (both roles) are marked cleared, the
    disputed ones it treated are marked disputed, and one posting ``clearing:<run_id>`` (code
    ``clearing``) moves their ``clearing:<region>`` balances to ``clearing:hub`` and pays the net
    (``domain.ledger.clearing_posting``); the confirmed transfers' ``transfer:<region>`` balances close
    the same way, so one net payment carries both. The node computes the net from its own rows and
    refuses a run whose net is not the hub's.

Transfers clear as settlements do, with the new region (转入地, owed the account's balance) in the place
of the treating region and the region left (转出地) in the place of the insured one: the money of a
transfer is a debt between two regions' funds like any other, and netting it into the month's one
payment per region costs nothing more than a second kind of line.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Protocol

from yibao.app.errors import Refused
from yibao.app.privacy import mask_certno
from yibao.app.records import LOCAL, Context, SettlementRow, local_time
from yibao.domain.frozen import frozen
from yibao.domain.ledger import clearing_posting
from yibao.domain.money import Fen, fen_to_yuan, yuan_to_fen

if TYPE_CHECKING:
    from yibao.app.ports import Store
    from yibao.app.transfers import InsuranceTransfer

DETAIL, CONFIRM, POST = "clearing-detail", "clearing-confirm", "clearing-post"
READS = frozenset({DETAIL, CONFIRM})
WRITES = frozenset({POST})
HUB = "hub"
"""The ``from_node`` of the hub's own calls; no node may have this id."""


@frozen
class ClearingItem:
    """What a clearing run made of one of this node's cross-region settlements."""

    setl_id: str
    role: str
    """T treated here, I insured here."""
    status: str
    """cleared, or disputed (it comes again in the next run)."""
    run_id: str
    reason: str = ""


class ClearingStore(Protocol):
    def uncleared_settlements(
        self,
        role: str,
        *,
        before: datetime | None = None,
        mdtrt_ids: Sequence[str] | None = None,
        setl_ids: Sequence[str] | None = None,
    ) -> list[SettlementRow]:
        """This node's settlements and reversals of ``cross_region`` ``role`` that no clearing run has
        cleared (disputed ones included), settled before ``before`` (UTC) or of the given visits or
        ids, in the order they were settled."""

    def clearing_run_seen(self, run_id: str) -> bool:
        """A run of this id has posted here."""

    def mark_clearing(self, items: Sequence[ClearingItem], now: datetime) -> None:
        """Record (or update) what a run made of each settlement."""


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """``yyyy-mm`` as its first instant and the next month's, naive UTC (months are local)."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise Refused("month", f"{month} 应为 yyyy-mm") from None
    after = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return tuple(  # type: ignore[return-value]
        datetime.combine(d, time(), LOCAL).astimezone(UTC).replace(tzinfo=None) for d in (first, after)
    )


def yuan(fen: Fen) -> str:
    return str(fen_to_yuan(fen))


def fen(value: object, field: str) -> Fen:
    try:
        return yuan_to_fen(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        raise Refused(field, f"{value} 不是金额") from None


def paid(row: SettlementRow) -> Fen:
    """What the insured region owes the treating one for a settlement: its funds and personal account."""
    return row.amounts["fund_pay_sumamt"] + row.amounts["acct_pay"]


# ---------------------------------------------------------------- where treated: the month's detail (3260)


def detail(store: Store, payload: dict[str, Any]) -> dict[str, Any]:
    month = str(payload.get("month", ""))
    begin, end = month_bounds(month)
    lines = []
    for row in store.uncleared_settlements("T", before=end):
        person = store.person(row.psn_no)
        lines.append(
            {
                "line_id": row.setl_id,
                "setl_id": row.setl_id,
                "revs_setl_id": row.revs_setl_id,
                "mdtrt_id": row.mdtrt_id,
                "psn_no": row.psn_no,
                "certno": mask_certno(person.certno if person else "", head=6),
                "insuplc_admdvs": row.insuplc_admdvs,
                "mdtrtarea_admvs": row.mdtrtarea_admvs,
                "fixmedins_code": row.fixmedins_code,
                "setl_time": local_time(row.setl_time).isoformat(timespec="seconds"),
                "medfee_sumamt": yuan(row.amounts["medfee_sumamt"]),
                "fund_pay_sumamt": yuan(row.amounts["fund_pay_sumamt"]),
                "acct_pay": yuan(row.amounts["acct_pay"]),
                "carried_over": row.setl_time < begin,
            }
        )
    moved = [transfer_line(x) for x in store.uncleared_transfers("in", before=end)]
    return {"month": month, "lines": lines, "transfers": moved}


def transfer_line(x: InsuranceTransfer) -> dict[str, Any]:
    return {
        "transfer_id": x.transfer_id, "psn_no": x.psn_no, "insutype": x.insutype, "from_admdvs": x.from_admdvs,
        "to_admdvs": x.to_admdvs, "transfer_date": x.transfer_date.isoformat(), "amount": yuan(x.amount),
    }  # fmt: skip


# ---------------------------------------------------------------- where insured: confirm or dispute (3261/3262)


def _key(mdtrt_id: str, treating: str, medfee: Fen, fund: Fen, acct: Fen, reversal: bool) -> tuple[object, ...]:
    return (mdtrt_id, treating, medfee, fund, acct, reversal)


def confirm(store: Store, ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
    lines = payload.get("lines")
    if not isinstance(lines, list):
        raise Refused("lines", "应为清分明细列表")
    ours = store.uncleared_settlements("I", mdtrt_ids=sorted({str(x.get("mdtrt_id", "")) for x in lines}))
    free: dict[tuple[object, ...], list[SettlementRow]] = {}
    for row in ours:
        a = row.amounts
        key = _key(row.mdtrt_id, row.mdtrtarea_admvs, a["medfee_sumamt"], a["fund_pay_sumamt"], a["acct_pay"],
                   row.revs_setl_id is not None)  # fmt: skip
        free.setdefault(key, []).append(row)
    by_id = {row.setl_id: row for row in ours}
    reversal_of = {row.revs_setl_id: row.setl_id for row in ours if row.revs_setl_id}
    visits = {row.mdtrt_id for row in ours}
    answers: dict[str, dict[str, Any]] = {}
    matched: dict[str, str] = {}  # our setl_id → line_id
    for x in lines:
        line_id = str(x["line_id"])
        insured = str(x.get("insuplc_admdvs", ""))
        if ctx.federation is not None and not ctx.federation.serves(insured):
            answers[line_id] = _dispute(line_id, f"{insured} 不是本节点的参保地")
            continue
        medfee, fund, acct = (fen(x.get(k), k) for k in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay"))
        key = _key(str(x["mdtrt_id"]), str(x.get("mdtrtarea_admvs", "")), medfee, fund, acct,
                   bool(x.get("revs_setl_id")))  # fmt: skip
        if free.get(key):
            row = free[key].pop(0)
            matched[row.setl_id] = line_id
            answers[line_id] = {"line_id": line_id, "status": "confirmed", "insured_setl_id": row.setl_id, "reason": ""}
        elif str(x["mdtrt_id"]) in visits:
            answers[line_id] = _dispute(line_id, "金额与参保地结算不符")
        else:
            answers[line_id] = _dispute(line_id, "参保地无此结算（或已清算）")
    # a settlement and its reversal clear together, or neither: reversed on one side only is disputed
    changed = True
    while changed:
        changed = False
        for setl_id, line_id in list(matched.items()):
            row = by_id[setl_id]
            partner = row.revs_setl_id if row.revs_setl_id else reversal_of.get(setl_id)
            if partner is None or partner not in by_id or partner in matched:
                continue
            what = "参保地已冲正此结算，就医地未冲正" if row.revs_setl_id is None else "参保地原结算未同时确认"
            answers[line_id] = _dispute(line_id, f"{what}（{partner}）")
            del matched[setl_id]
            changed = True
    moved = payload.get("transfers", [])
    if not isinstance(moved, list):
        raise Refused("transfers", "应为转移接续明细列表")
    return {"lines": [answers[str(x["line_id"])] for x in lines], "transfers": confirm_transfers(store, ctx, moved)}


def confirm_transfers(store: Store, ctx: Context, moved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """As the region left: each transfer the new region's node holds against this node's own side."""
    ids = [str(m["transfer_id"]) for m in moved]
    ours = {x.transfer_id: x for x in store.uncleared_transfers("out", transfer_ids=ids)} if ids else {}
    answers = []
    for m in moved:
        transfer_id, left = str(m["transfer_id"]), str(m.get("from_admdvs", ""))
        mine = ours.pop(transfer_id, None)
        said = (str(m.get("psn_no", "")), left, str(m.get("to_admdvs", "")), fen(m.get("amount"), "amount"))
        if ctx.federation is not None and not ctx.federation.serves(left):
            reason = f"{left} 不是本节点的转出地"
        elif mine is None:
            reason = "转出地无此转移（或已清算）"
        elif (mine.psn_no, mine.from_admdvs, mine.to_admdvs, mine.amount) != said:
            reason = "人员、地区或金额与转出地不符"
        else:
            reason = ""
        answers.append({"transfer_id": transfer_id, "status": "disputed" if reason else "confirmed", "reason": reason})
    return answers


def _dispute(line_id: str, reason: str) -> dict[str, Any]:
    return {"line_id": line_id, "status": "disputed", "insured_setl_id": None, "reason": reason}


# ---------------------------------------------------------------- both: post the run's result


def posting_id(run_id: str) -> str:
    return f"clearing:{run_id}"


def post(store: Store, ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
    run_id = str(payload.get("run_id", ""))
    if not 0 < len(run_id) <= 30:
        raise Refused("run_id", "清算批次号应为 1 至 30 个字符")
    if store.clearing_run_seen(run_id) or store.transfers_cleared_by(run_id):
        moved = store.transfers_of(posting_id(run_id))
        return {"run_id": run_id, "already_posted": True, "transfers": len(moved)}
    treated_ids = [str(i) for i in payload.get("treated", [])]
    insured_ids = [str(i) for i in payload.get("insured", [])]
    in_ids, out_ids = ([str(i) for i in payload.get(k, [])] for k in ("transfers_in", "transfers_out"))
    disputed = {str(d["setl_id"]): str(d.get("reason", "")) for d in payload.get("disputed", [])}
    treated = store.uncleared_settlements("T", setl_ids=treated_ids) if treated_ids else []
    insured = store.uncleared_settlements("I", setl_ids=insured_ids) if insured_ids else []
    for name, wanted, found in (("treated", treated_ids, treated), ("insured", insured_ids, insured)):
        missing = set(wanted) - {r.setl_id for r in found}
        if missing:
            raise Refused(name, f"{', '.join(sorted(missing)[:5])} 不是本节点未清算的异地结算")
    received = store.uncleared_transfers("in", transfer_ids=in_ids) if in_ids else []
    sent = store.uncleared_transfers("out", transfer_ids=out_ids) if out_ids else []
    for name, wanted_ids, sides in (("transfers_in", in_ids, received), ("transfers_out", out_ids, sent)):
        missing = set(wanted_ids) - {x.transfer_id for x in sides}
        if missing:
            raise Refused(name, f"{', '.join(sorted(missing)[:5])} 不是本节点未清算的转移接续")
    closed: dict[str, Fen] = {}
    for row in treated:
        closed[row.insuplc_admdvs] = closed.get(row.insuplc_admdvs, 0) + paid(row)
    for row in insured:
        closed[row.mdtrtarea_admvs] = closed.get(row.mdtrtarea_admvs, 0) - paid(row)
    carried: dict[str, Fen] = {}  # transfer:<region>: received from it (owed us) − sent to it (owed by us)
    for x in received:
        carried[x.from_admdvs] = carried.get(x.from_admdvs, 0) + x.amount
    for x in sent:
        carried[x.to_admdvs] = carried.get(x.to_admdvs, 0) - x.amount
    net, expected = sum(closed.values()) + sum(carried.values()), fen(payload.get("net", "0"), "net")
    if net != expected:
        raise Refused("net", f"本节点确认明细净额 {yuan(net)} ≠ 国家平台清算净额 {yuan(expected)}")
    transfers = clearing_posting(closed, fen(payload.get("advance", "0"), "advance"), carried)
    store.post(posting_id(run_id), transfers, ctx.now)
    still = store.uncleared_settlements("T", setl_ids=sorted(disputed)) if disputed else []
    items = [ClearingItem(r.setl_id, "T", "cleared", run_id) for r in treated]
    items += [ClearingItem(r.setl_id, "I", "cleared", run_id) for r in insured]
    items += [ClearingItem(r.setl_id, "T", "disputed", run_id, disputed[r.setl_id]) for r in still]
    store.mark_clearing(items, ctx.now)
    store.mark_transfers_cleared("in", [x.transfer_id for x in received], run_id)
    store.mark_transfers_cleared("out", [x.transfer_id for x in sent], run_id)
    return {"run_id": run_id, "already_posted": False, "transfers": len(transfers), "net": yuan(net),
            "cleared": len(treated) + len(insured), "disputed": len(still),
            "transfers_cleared": len(received) + len(sent)}  # fmt: skip
