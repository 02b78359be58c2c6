"""Online settlement for internet hospitals (互联网+医保, 移动支付): 6201, the portal's payment, 6301, 6203, 6401.

An internet hospital uploads an online order's fee lines (6201): the platform opens an outpatient
visit for it at the institution, stores the lines and answers what the settlement would be, settling
nothing (as 2206 does). The person pays in the portal, authorising it with a fresh code of their own
voucher (``pay``): the code is used up through the voucher machinery (business type 01301 at the
order's institution, so it is in the voucher's history) and the order is settled as a normal
outpatient settlement (``settle.settle`` with the code's ecToken, mdtrt_cert_type 01), in the same
transaction. The hospital asks the result (6301), refunds it (6203: ``settle.reverse``, the exact
opposite) or, before payment, cancels the upload (6401). Only the uploading institution sees its orders.

Order states (ord_stas): 1 awaiting payment, 2 paid, 3 refunded, 4 cancelled (``online_orders``, with
the store's part).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from yibao.app.access import active_insurance, caller
from yibao.app.commands import FeeLineIn, OnlineUpload, OrderRef, Reverse, SettleIn
from yibao.app.errors import NotFound, Refused
from yibao.app.online_orders import AWAITING, CANCELLED, PAID, REFUNDED, OrderRecord
from yibao.app.ports import Store
from yibao.app.records import Context, VisitRecord, local_date
from yibao.app.settle import reverse, run_calculator, settle, stored_output
from yibao.app.visits import known_person, lines_of
from yibao.app.voucher import CodeVerifier, use_code
from yibao.domain.money import fen_to_yuan

PAYMENT_BUSINESS = "01301"
"""用码业务类型 结算: what a payment's code is used for."""
SETTLING_INFNO = "2207"
"""A payment is an outpatient settlement: its settlement row says 2207, its msgid is the pay_ord_id."""


# ---------------------------------------------------------------- the hospital's side


def upload(
    store: Store, ctx: Context, cmd: OnlineUpload, feedetail: Sequence[FeeLineIn]
) -> tuple[dict[str, object], str]:
    """6201 线上费用明细上传: a visit for the order, its lines, and what the settlement would be."""
    inst = caller(store, ctx, hospital=True)
    if not 1 <= len(cmd.med_org_ord) <= 30:
        raise Refused("input.data.med_org_ord", "应为 1 至 30 个字符")
    known = store.order_by_med_org_ord(inst.fixmedins_code, cmd.med_org_ord)
    if known is not None:
        raise Refused("input.data.med_org_ord", f"{cmd.med_org_ord} 已上传，支付订单号 {known.pay_ord_id}")
    person = known_person(store, cmd.psn_no, "input.data")
    insurance = active_insurance(store, cmd.psn_no, cmd.insutype, "input.data")
    if not feedetail:
        raise Refused("input.feedetail", "费用明细不能为空")
    visit = VisitRecord(
        mdtrt_id=store.new_id("M", inst.admdvs),
        psn_no=person.psn_no,
        insutype=cmd.insutype,
        fixmedins_code=inst.fixmedins_code,
        med_type=cmd.med_type,
        kind="outpatient",
        status="open",
        ipt_otp_no=cmd.ipt_otp_no or cmd.med_org_ord,
        begntime=cmd.begntime or ctx.now,
        endtime=None,
        mdtrt_cert_type="01",
        mdtrt_cert_no="",
        insuplc_admdvs=insurance.insuplc_admdvs,
        mdtrtarea_admvs=inst.admdvs,
        dept_code=cmd.dept_code,
        dept_name=cmd.dept_name,
        atddr_no=cmd.atddr_no,
        dr_name=cmd.dr_name,
        dise_codg=cmd.dise_codg,
        dise_name=cmd.dise_name,
    )
    lines = lines_of(visit, feedetail, cmd.medfee_sumamt)
    store.insert_visit(visit, ctx.now)
    store.insert_fee_lines(lines)
    c = run_calculator(store, ctx, visit, insurance, lines, cmd.med_type, cmd.acct_used_flag)
    info = c.result.setlinfo
    order = OrderRecord(
        pay_ord_id=store.new_id("P", inst.admdvs),
        fixmedins_code=inst.fixmedins_code,
        med_org_ord=cmd.med_org_ord,
        psn_no=person.psn_no,
        insutype=cmd.insutype,
        med_type=cmd.med_type,
        acct_used_flag=cmd.acct_used_flag,
        mdtrt_id=visit.mdtrt_id,
        status=AWAITING,
        setl_id=None,
        refund_setl_id=None,
        medfee_sumamt=info.medfee_sumamt,
        fund_pay_sumamt=info.fund_pay_sumamt,
        acct_pay=info.acct_pay,
        psn_cash_pay=info.psn_cash_pay,
        created_at=ctx.now,
    )
    store.insert_order(order)
    return {"data": order_data(order)}, order.pay_ord_id


def query(store: Store, ctx: Context, ref: OrderRef) -> dict[str, object]:
    """6301 订单结算结果查询: the order's state and, once paid, its settlement as 5203 answers it."""
    order = own_order(store, ctx, ref, lock=False)
    out: dict[str, object] = {"data": order_data(order)}
    if order.setl_id is not None:
        row = store.settlement(order.setl_id)
        person = store.person(order.psn_no)
        assert row is not None and person is not None
        out.update(stored_output(store, row, person))
    return out


def refund(store: Store, ctx: Context, ref: OrderRef) -> tuple[dict[str, object], str]:
    """6203 医保退费: the exact opposite of the order's settlement (``settle.reverse``); the order's
    lines and visit are closed with it."""
    order = own_order(store, ctx, ref, lock=True)
    if order.status != PAID or order.setl_id is None:
        raise Refused("input.data.pay_ord_id", f"{order.pay_ord_id} 订单状态为{order.status_name}，不能退费")
    output, refund_setl_id = reverse(
        store, ctx, Reverse(setl_id=order.setl_id, psn_no=order.psn_no, mdtrt_id=order.mdtrt_id), ("outpatient",)
    )
    close_visit(store, order.mdtrt_id)
    done = replace(order, status=REFUNDED, refund_setl_id=refund_setl_id, closed_at=ctx.now)
    store.update_order(done)
    return {"data": order_data(done), **output}, refund_setl_id


def cancel(store: Store, ctx: Context, ref: OrderRef) -> dict[str, object]:
    """6401 费用明细上传撤销: only while the order awaits payment; its lines and visit go with it."""
    order = own_order(store, ctx, ref, lock=True)
    if order.status != AWAITING:
        hint = "，请先退费(6203)" if order.status == PAID else ""
        raise Refused("input.data.pay_ord_id", f"{order.pay_ord_id} 订单状态为{order.status_name}，不能撤销{hint}")
    close_visit(store, order.mdtrt_id)
    done = replace(order, status=CANCELLED, closed_at=ctx.now)
    store.update_order(done)
    return {"data": order_data(done)}


def close_visit(store: Store, mdtrt_id: str) -> None:
    store.cancel_lines(mdtrt_id, None)
    visit = store.visit(mdtrt_id)
    if visit is not None and visit.status != "cancelled":
        store.update_visit(replace(visit, status="cancelled"))


def own_order(store: Store, ctx: Context, ref: OrderRef, *, lock: bool) -> OrderRecord:
    """The caller's order named by pay_ord_id (or med_org_ord); another institution's is not found."""
    if ref.pay_ord_id:
        found = store.lock_order(ref.pay_ord_id) if lock else store.order(ref.pay_ord_id)
        field, value = "input.data.pay_ord_id", ref.pay_ord_id
    elif ref.med_org_ord:
        found = store.order_by_med_org_ord(ctx.fixmedins_code, ref.med_org_ord)
        if found is not None and lock:
            found = store.lock_order(found.pay_ord_id)
        field, value = "input.data.med_org_ord", ref.med_org_ord
    else:
        raise Refused("input.data.pay_ord_id", "pay_ord_id 与 med_org_ord 不能同时为空")
    if found is None or found.fixmedins_code != ctx.fixmedins_code:
        raise NotFound(field, f"{value} 订单不存在")
    if ref.psn_no and ref.psn_no != found.psn_no:
        raise Refused("input.data.psn_no", f"{ref.psn_no} 与订单 {found.pay_ord_id} 的人员不符")
    return found


def order_data(order: OrderRecord) -> dict[str, object]:
    return {
        "pay_ord_id": order.pay_ord_id,
        "med_org_ord": order.med_org_ord,
        "ord_stas": order.status,
        "psn_no": order.psn_no,
        "mdtrt_id": order.mdtrt_id,
        "setl_id": order.setl_id,
        "refd_setl_id": order.refund_setl_id,
        "medfee_sumamt": fen_to_yuan(order.medfee_sumamt),
        "fund_pay_sumamt": fen_to_yuan(order.fund_pay_sumamt),
        "acct_pay": fen_to_yuan(order.acct_pay),
        "psn_cash_pay": fen_to_yuan(order.psn_cash_pay),
    }


# ---------------------------------------------------------------- the person's side (the portal)


def orders(store: Store, psn_no: str, limit: int = 20) -> list[OrderRecord]:
    """The person's orders, those awaiting payment first, then the latest others."""
    found = store.orders_of(psn_no, limit)
    return [o for o in found if o.status == AWAITING] + [o for o in found if o.status != AWAITING]


def pay(store: Store, codes: CodeVerifier, *, psn_no: str, pay_ord_id: str, code: str, now: datetime) -> OrderRecord:
    """The person pays an order awaiting payment, authorising it with a fresh code of their own voucher:
    the code is used up (business type 01301 at the order's institution) and the order settled as an
    outpatient settlement with the ecToken it gave, in the caller's one transaction."""
    order = store.lock_order(pay_ord_id)
    if order is None or order.psn_no != psn_no:
        raise NotFound("pay_ord_id", f"{pay_ord_id} 订单不存在")
    if order.status != AWAITING:
        raise Refused("pay_ord_id", f"{pay_ord_id} 订单状态为{order.status_name}，不能支付")
    use, _ = use_code(
        store,
        codes,
        org_id=order.fixmedins_code,
        business_type=PAYMENT_BUSINESS,
        qr_code=code,
        now=now,
        node="code",
        psn_no=psn_no,
    )
    ctx = Context(
        fixmedins_code=order.fixmedins_code,
        msgid=order.pay_ord_id,
        infno=SETTLING_INFNO,
        now=now,
        today=local_date(now),
        opter=psn_no,
    )
    cmd = SettleIn(
        psn_no=order.psn_no,
        mdtrt_id=order.mdtrt_id,
        medfee_sumamt=fen_to_yuan(order.medfee_sumamt),
        insutype=order.insutype,
        mdtrt_cert_type="01",
        mdtrt_cert_no=use.ec_token,
        med_type=order.med_type,
        acct_used_flag=order.acct_used_flag,
    )
    _, setl_id = settle(store, ctx, cmd, "outpatient")
    row = store.settlement(setl_id)
    assert row is not None
    paid = replace(
        order,
        status=PAID,
        setl_id=setl_id,
        paid_at=now,
        medfee_sumamt=row.amounts["medfee_sumamt"],
        fund_pay_sumamt=row.amounts["fund_pay_sumamt"],
        acct_pay=row.amounts["acct_pay"],
        psn_cash_pay=row.amounts["psn_cash_pay"],
    )
    store.update_order(paid)
    return paid
