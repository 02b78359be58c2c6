"""Pharmacy purchases (定点药店购药, 2101/2102/2103): a visit, its lines and its settlement in one message."""

from __future__ import annotations

from collections.abc import Sequence

from yibao.app.access import active_insurance, caller
from yibao.app.commands import FeeLineIn, PharmacyIn
from yibao.app.cross_region import remote_region, visit_id
from yibao.app.errors import Refused
from yibao.app.ports import Store
from yibao.app.records import Context, VisitRecord
from yibao.app.settle import record, run_calculator, settlement_output
from yibao.app.visits import check_certificate, lines_of, person_here


def purchase(
    store: Store, ctx: Context, cmd: PharmacyIn, feedetail: Sequence[FeeLineIn], *, commit: bool
) -> tuple[dict[str, object], str | None]:
    """2101 (commit False: nothing written) and 2102 (commit True)."""
    inst = caller(store, ctx, hospital=False)
    if not inst.is_pharmacy:
        raise Refused("infno", f"{ctx.infno} 是药店购药交易，医疗机构不能办理")
    if commit:
        store.lock_person(cmd.psn_no)
    person = person_here(store, ctx, cmd.psn_no, "input.data")
    check_certificate(store, ctx, person, cmd.mdtrt_cert_type, cmd.mdtrt_cert_no, "input.data")
    insurance = active_insurance(store, cmd.psn_no, cmd.insutype, "input.data")
    if not feedetail:
        raise Refused("input.feedetail", "费用明细不能为空")
    remote = remote_region(ctx, insurance.insuplc_admdvs)
    visit = VisitRecord(
        mdtrt_id=visit_id(ctx, inst.admdvs) if remote else store.new_id("M", inst.admdvs),
        psn_no=person.psn_no,
        insutype=cmd.insutype,
        fixmedins_code=inst.fixmedins_code,
        med_type=cmd.med_type,
        kind="pharmacy",
        status="open",
        ipt_otp_no=cmd.ipt_otp_no,
        begntime=cmd.begntime or ctx.now,
        endtime=None,
        mdtrt_cert_type=cmd.mdtrt_cert_type,
        mdtrt_cert_no=cmd.mdtrt_cert_no,
        insuplc_admdvs=insurance.insuplc_admdvs,
        mdtrtarea_admvs=inst.admdvs,
    )
    lines = lines_of(visit, feedetail, cmd.medfee_sumamt)
    if not commit:
        c = run_calculator(store, ctx, visit, insurance, lines, cmd.med_type, cmd.acct_used_flag)
        return settlement_output(c, None, ctx), None
    store.insert_visit(visit, ctx.now)
    store.insert_fee_lines(lines)
    c = run_calculator(store, ctx, visit, insurance, lines, cmd.med_type, cmd.acct_used_flag, commit=True)
    setl_id = record(store, ctx, c, "pharmacy", mid_setl_flag=False)
    return settlement_output(c, setl_id, ctx), setl_id
