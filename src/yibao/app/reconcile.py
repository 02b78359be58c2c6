"""Reconciliation with institutions (3201 对总账) and clearing applications (3203/3204)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from yibao.app.commands import ClearingApply, ClearingCancel, TotalStatement
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store, Totals
from yibao.app.records import LOCAL, Context
from yibao.domain.money import fen_to_yuan, yuan_to_fen


def utc_bounds(begin: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants that bound local dates begin..end inclusive (times are stored in UTC, naive)."""
    start = datetime.combine(begin, time(), LOCAL).astimezone(UTC).replace(tzinfo=None)
    stop = datetime.combine(end + timedelta(days=1), time(), LOCAL).astimezone(UTC).replace(tzinfo=None)
    return start, stop


def total_statement(store: Store, ctx: Context, cmd: TotalStatement) -> dict[str, object]:
    """3201: compare the institution's totals for a period with ours; 0 match, 1 mismatch.

    Reversals count with their negative amounts; the count is settlements less reversals.
    """
    if cmd.stmt_enddate < cmd.stmt_begndate:
        raise Refused("input.data.stmt_enddate", "对账结束日期早于开始日期")
    ours = store.totals(
        ctx.fixmedins_code, cmd.insutype, cmd.clr_type, *utc_bounds(cmd.stmt_begndate, cmd.stmt_enddate)
    )
    theirs = Totals(
        medfee_sumamt=yuan_to_fen(cmd.medfee_sumamt),
        fund_pay_sumamt=yuan_to_fen(cmd.fund_pay_sumamt),
        acct_pay=yuan_to_fen(cmd.acct_pay),
        count=cmd.fixmedins_setl_cnt,
    )
    differences = [
        f"{name} 机构 {fmt(getattr(theirs, name), name)} 中心 {fmt(getattr(ours, name), name)}"
        for name in ("medfee_sumamt", "fund_pay_sumamt", "acct_pay", "count")
        if getattr(theirs, name) != getattr(ours, name)
    ]
    result = "1" if differences else "0"
    description = "；".join(differences) or "对账一致"
    store.insert_statement(ctx.fixmedins_code, cmd, result, description, ctx.now)
    return {"stmtinfo": {"setl_optins": cmd.setl_optins, "stmt_rslt": result, "stmt_rslt_dscr": description}}


def fmt(value: int, name: str) -> str:
    return str(value) if name == "count" else str(fen_to_yuan(value))


def apply_clearing(store: Store, ctx: Context, cmd: ClearingApply) -> dict[str, object]:
    """3203 清算申请: the month's totals must match what was settled."""
    if len(cmd.setlym) != 6 or not cmd.setlym.isdigit():
        raise Refused("input.data.setlym", f"{cmd.setlym} 应为 yyyyMM")
    for name, day in (("begndate", cmd.begndate), ("enddate", cmd.enddate)):
        if f"{day:%Y%m}" != cmd.setlym:
            raise Refused(f"input.data.{name}", f"{day} 不在清算年月 {cmd.setlym} 内")
    ours = store.totals(ctx.fixmedins_code, None, cmd.clr_type, *utc_bounds(cmd.begndate, cmd.enddate))
    claimed = (yuan_to_fen(cmd.medfee_sumamt), yuan_to_fen(cmd.fund_appy_sum), yuan_to_fen(cmd.acct_pay))
    if claimed != (ours.medfee_sumamt, ours.fund_pay_sumamt, ours.acct_pay):
        raise Refused(
            "input.data.fund_appy_sum",
            f"申请金额与结算数据不符：中心 医疗费 {fen_to_yuan(ours.medfee_sumamt)} 基金 "
            f"{fen_to_yuan(ours.fund_pay_sumamt)} 账户 {fen_to_yuan(ours.acct_pay)}",
        )
    if store.open_clearing(ctx.fixmedins_code, cmd.clr_type, cmd.setlym):
        raise Refused("input.data.setlym", f"{cmd.setlym} 已有清算申请")
    evt = store.new_id("C", ctx.mdtrtarea_admvs or "000000")
    store.insert_clearing(evt, ctx.fixmedins_code, cmd, ctx.now)
    return {"result": {"clr_appy_evt_id": evt}}


def cancel_clearing(store: Store, ctx: Context, cmd: ClearingCancel) -> dict[str, object]:
    """3204 清算申请撤销."""
    if not store.cancel_clearing(cmd.clr_appy_evt_id, ctx.fixmedins_code):
        raise NotFound("input.data.clr_appy_evt_id", f"{cmd.clr_appy_evt_id} 清算申请不存在或已撤销")
    return {}
