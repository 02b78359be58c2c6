"""Settlement use cases: pre-settle, settle, reverse — outpatient, inpatient and pharmacy.

就医地目录、参保地政策: the lines are priced with the catalogue of the place of treatment
(the visit's mdtrtarea_admvs) and paid under the policy of the insured region (insuplc_admdvs).
Settling writes, in the caller's one transaction: the settlement and its fund rows, the lines'
classification, the person's counter deltas and the balanced ledger posting. Reversing writes the
exact opposite; nothing is updated in place except the fee lines' link to the settlement that paid them.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import date

from yibao.app import supervision
from yibao.app.access import KIND_NAME, active_insurance, own_visit
from yibao.app.commands import Reverse, SettleIn
from yibao.app.cross_region import remote_calculation, remote_region, reverse_remote
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import ReadAhead, Store
from yibao.app.recent import RecentAnswers
from yibao.app.records import (
    Context,
    FeeLineRecord,
    FundRowRecord,
    InsuranceRecord,
    PersonRecord,
    SettlementRow,
    VisitRecord,
    local_date,
)
from yibao.app.voucher import check_ec_token
from yibao.domain.catalog import Catalog
from yibao.domain.claim import Amounts, Claim, FeeLine, Person, Visit, age_on
from yibao.domain.codes import ClrType, FundPayType
from yibao.domain.errors import PolicyError
from yibao.domain.frozen import frozen
from yibao.domain.ledger import clearing_account, reversal_of, settlement_posting
from yibao.domain.money import Fen, fen_to_yuan, yuan_to_fen
from yibao.domain.policy import Policy, select_policy
from yibao.domain.settlement import SETLINFO_FIELDS, Settlement, calculate

CLR_TYPE = {"outpatient": ClrType.OUTPATIENT, "inpatient": ClrType.INPATIENT, "pharmacy": ClrType.PHARMACY}
ACCOUNT = FundPayType.EMPLOYEE_ACCOUNT


@frozen
class Computed:
    visit: VisitRecord
    person: PersonRecord
    insurance: InsuranceRecord
    lines: list[FeeLineRecord]
    result: Settlement
    med_type: str
    counters_before: dict[str, Fen]
    periods: dict[str, str]
    """The period each counter adds up over ("2024" or "2024-06")."""
    cross_region: str = ""
    """"T": settled by the insured node through the hub (this node treated); "I": this node's insured,
    treated elsewhere (docs/cross-region.md)."""

    def counter_deltas(self) -> dict[tuple[str, str], Fen]:
        after = self.result.accumulators
        return {
            (key, self.periods[key]): after[key] - self.counters_before.get(key, 0)
            for key in after
            if after[key] != self.counters_before.get(key, 0)
        }


def compute(store: Store, ctx: Context, cmd: SettleIn, kind: str, *, commit: bool = False) -> Computed:
    """Everything a settlement needs, and the calculator's answer; writes nothing here (``commit``: a
    person insured elsewhere is settled by their insured node, which writes its side)."""
    year, month = f"{ctx.today:%Y}", f"{ctx.today:%Y-%m}"
    if cmd.mdtrt_cert_type == "01":
        check_ec_token(store, cmd.mdtrt_cert_no, ctx.fixmedins_code, cmd.psn_no, ctx.infno, ctx.now, "input.data")
    store.read_ahead(
        ReadAhead(
            institution=ctx.fixmedins_code,
            person=cmd.psn_no,
            visit=cmd.mdtrt_id,
            insurance=(cmd.psn_no, cmd.insutype),
            unsettled_lines=cmd.mdtrt_id,
            counters=(cmd.psn_no, cmd.insutype, (year, month)),
            identities=cmd.psn_no,
            account=cmd.psn_no,
            diagnoses=cmd.mdtrt_id,
        )
    )
    visit = own_visit(store, ctx, cmd.mdtrt_id, cmd.psn_no, kind)
    if visit.status == "cancelled":
        raise Refused("input.data.mdtrt_id", f"{visit.mdtrt_id} 已撤销")
    if cmd.insutype != visit.insutype:
        raise Refused("input.data.insutype", f"{cmd.insutype} 与就诊登记险种 {visit.insutype} 不符")
    insurance = active_insurance(store, cmd.psn_no, cmd.insutype, "input.data")
    batch = cmd.chrg_bchno if cmd.chrg_bchno not in ("", "0000") else None
    lines = store.unsettled_lines(visit.mdtrt_id, batch)
    if not lines:
        raise Refused("input.data.mdtrt_id", f"{visit.mdtrt_id} 没有待结算的费用明细")
    uploaded = sum(line.det_item_fee_sumamt for line in lines)
    if yuan_to_fen(cmd.medfee_sumamt) != uploaded:
        raise Refused(
            "input.data.medfee_sumamt",
            f"{cmd.medfee_sumamt} 与已上传待结算明细总额 {fen_to_yuan(uploaded)} 不符",
        )
    return run_calculator(store, ctx, visit, insurance, lines, cmd.med_type or visit.med_type, cmd.acct_used_flag,
                          commit=commit, mid_setl_flag=cmd.mid_setl_flag)  # fmt: skip


def run_calculator(
    store: Store,
    ctx: Context,
    visit: VisitRecord,
    insurance: InsuranceRecord,
    lines: list[FeeLineRecord],
    med_type: str,
    acct_used_flag: bool,
    *,
    commit: bool = False,
    mid_setl_flag: bool = False,
) -> Computed:
    if remote_region(ctx, insurance.insuplc_admdvs):
        result, guest = remote_calculation(store, ctx, visit, insurance, lines, med_type, acct_used_flag,
                                           commit=commit, mid_setl_flag=mid_setl_flag)  # fmt: skip
        return Computed(visit, guest, insurance, lines, result, med_type, {}, {}, cross_region="T")
    day = ctx.today
    person = store.person(visit.psn_no)
    try:
        policy = select_policy(store.policies(), insurance.insuplc_admdvs, insurance.insutype, day)
    except PolicyError as exc:
        raise Refused("input.data.insutype", exc.reason) from None
    catalog = store.catalog(visit.mdtrtarea_admvs)
    institution = store.institution(visit.fixmedins_code)
    assert person is not None and institution is not None  # a visit is only made for known ones
    before = counters_before(store, policy, person.psn_no, insurance.insutype, day)
    claim = claim_of(store, person, insurance, visit, institution.hosp_lv, institution.specialty, med_type, day,
                     acct_used_flag, before, lines=lines)  # fmt: skip
    result = RECENT.calculate(claim, policy, catalog)
    periods = {key: policy.counter_period(key, day) for key in result.accumulators}
    return Computed(visit, person, insurance, lines, result, med_type, before, periods)


def counters_before(store: Store, policy: Policy, psn_no: str, insutype: str, day: date) -> dict[str, Fen]:
    """The person's year-to-date counters the policy reads, each of its own period (year or month)."""
    stored = store.counters(psn_no, insutype, (f"{day:%Y}", f"{day:%Y-%m}"))
    return {key: total for (key, period), total in stored.items() if policy.counter_period(key, day) == period}


def claim_of(
    store: Store,
    person: PersonRecord,
    insurance: InsuranceRecord,
    visit: VisitRecord,
    hosp_lv: int,
    specialty: str,
    med_type: str,
    day: date,
    acct_used_flag: bool,
    before: dict[str, Fen],
    *,
    lines: list[FeeLineRecord] | None = None,
    amounts: Amounts | None = None,
) -> Claim:
    """The calculator's claim: the person as the insured region knows them, the visit, and either the
    fee lines (classified by the calculator) or the amounts a treating region classified already."""
    return Claim(
        person=Person(
            psn_no=person.psn_no,
            insutype=insurance.insutype,
            psn_type=insurance.psn_type,
            insuplc_admdvs=insurance.insuplc_admdvs,
            brdy=person.brdy,
            gend=person.gend,
            idet_types=tuple(i.psn_idet_type for i in store.identities(person.psn_no) if i.valid_on(day)),
            contrib_months=insurance.contrib_months,
            cvlserv_flag=insurance.cvlserv_flag,
            acct_balc=fen_to_yuan(store.account_balance(person.psn_no)),
        ),
        visit=Visit(
            med_type=med_type,
            hosp_lv=hosp_lv,
            setl_date=day,
            mdtrtarea_admvs=visit.mdtrtarea_admvs,
            specialty=specialty,
            admission_seq=store.admission_seq(visit) if visit.kind == "inpatient" else 1,
            los_days=max(1, (day - local_date(visit.begntime)).days) if visit.kind == "inpatient" else 1,
            stay_dedc_paid=fen_to_yuan(store.visit_deductible_paid(visit.mdtrt_id) if visit.kind == "inpatient" else 0),
            flags=tuple(visit.flags.split()),
            acct_used_flag=acct_used_flag,
        ),
        feedetail=tuple(
            FeeLine(line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, fen_to_yuan(line.det_item_fee_sumamt))
            for line in lines or ()
        ),
        amounts=amounts,
        accumulators={key: fen_to_yuan(total) for key, total in before.items()},
    )


class RecentCalculations:
    """The calculator's last answers by their inputs (``calculate`` is pure): an equal claim under the
    same policy and catalogue objects gets the answer already made."""

    def __init__(self, size: int = 512) -> None:
        self._recent: RecentAnswers[Settlement] = RecentAnswers(size)

    def calculate(self, claim: Claim, policy: Policy, catalog: Catalog) -> Settlement:
        values = (claim.person, claim.visit, claim.feedetail, claim.amounts, tuple(sorted(claim.accumulators.items())))
        return self._recent.get(values, (policy, catalog), lambda: calculate(claim, policy, catalog))


RECENT = RecentCalculations()


def pre_settle(store: Store, ctx: Context, cmd: SettleIn, kind: str) -> dict[str, object]:
    """2206/2303: what the settlement would be, with nothing written or reserved."""
    c = compute(store, ctx, cmd, kind)
    check = supervision.check_settlement(store, ctx, c.visit, c.person, c.lines, c.med_type, refuse=False)
    return check.report(settlement_output(c, None, ctx, cmd.mdtrt_cert_type))


def settle(store: Store, ctx: Context, cmd: SettleIn, kind: str) -> tuple[dict[str, object], str]:
    """2207/2304: settle and write it all; returns the output and the new setl_id."""
    store.lock_person(cmd.psn_no)
    c = compute(store, ctx, cmd, kind, commit=True)
    if kind == "inpatient" and not cmd.mid_setl_flag and c.visit.status != "discharged":
        raise Refused("input.data.mid_setl_flag", f"{c.visit.mdtrt_id} 未办理出院，只能中途结算")
    check = supervision.check_settlement(store, ctx, c.visit, c.person, c.lines, c.med_type, refuse=True)
    setl_id = record(store, ctx, c, kind, cmd.mid_setl_flag, cmd.mdtrt_cert_type)
    check.record(store, ctx, setl_id)
    return settlement_output(c, setl_id, ctx, cmd.mdtrt_cert_type), setl_id


def record(store: Store, ctx: Context, c: Computed, kind: str, mid_setl_flag: bool, cert_type: str = "") -> str:
    """Write a computed settlement: the rows, the counters, the ledger posting, the lines' link."""
    setl_id = store.new_id("S", c.visit.mdtrtarea_admvs)
    info = c.result.setlinfo
    store.insert_settlement(
        SettlementRow(
            setl_id=setl_id,
            mdtrt_id=c.visit.mdtrt_id,
            psn_no=c.person.psn_no,
            fixmedins_code=c.visit.fixmedins_code,
            insutype=c.insurance.insutype,
            med_type=c.med_type,
            clr_type=CLR_TYPE[kind].value,
            insuplc_admdvs=c.insurance.insuplc_admdvs,
            mdtrtarea_admvs=c.visit.mdtrtarea_admvs,
            setl_time=ctx.now,
            msgid=ctx.msgid,
            infno=ctx.infno,
            mid_setl_flag=mid_setl_flag,
            revs_setl_id=None,
            policy_name=c.result.policy_name,
            amounts={name: getattr(info, name) for name in SETLINFO_FIELDS},
            setl_proc_info="\n".join(c.result.trace),
            mdtrt_cert_type=cert_type or c.visit.mdtrt_cert_type,
            cross_region=c.cross_region,
        ),
        [
            FundRowRecord(
                setl_id,
                d.fund_pay_type.value,
                d.inscp_scp_amt,
                d.crt_payb_lmt_amt,
                d.fund_payamt,
                d.setl_proc_info,
            )
            for d in c.result.setldetail
        ],
        c.result.lines,
        c.counter_deltas(),
    )
    funds = [(d.fund_pay_type.value, d.fund_payamt) for d in c.result.setldetail if d.fund_pay_type != ACCOUNT]
    posting = settlement_posting(
        c.insurance.insuplc_admdvs, c.person.psn_no, c.visit.fixmedins_code, funds, info.acct_pay,
        payer=clearing_account(c.insurance.insuplc_admdvs) if c.cross_region == "T" else None,
        payee=clearing_account(c.visit.mdtrtarea_admvs) if c.cross_region == "I" else None,
    )  # fmt: skip
    store.post(setl_id, posting, ctx.now)
    store.mark_lines_settled(c.visit.mdtrt_id, [line.feedetl_sn for line in c.lines], setl_id)
    return setl_id


def reverse(store: Store, ctx: Context, cmd: Reverse, kinds: tuple[str, ...]) -> tuple[dict[str, object], str]:
    """2208/2305/2103: the exact opposite of a settlement, as a new settlement; returns it and its id."""
    store.lock_person(cmd.psn_no)
    original = store.settlement(cmd.setl_id)
    if original is None or original.fixmedins_code != ctx.fixmedins_code:
        raise NotFound("input.data.setl_id", f"{cmd.setl_id} 结算记录不存在")
    if original.psn_no != cmd.psn_no:
        raise Refused("input.data.psn_no", f"{cmd.psn_no} 与结算 {cmd.setl_id} 的人员不符")
    if cmd.mdtrt_id and original.mdtrt_id != cmd.mdtrt_id:
        raise Refused("input.data.mdtrt_id", f"{cmd.mdtrt_id} 与结算 {cmd.setl_id} 的就诊不符")
    if original.revs_setl_id is not None:
        raise Refused("input.data.setl_id", f"{cmd.setl_id} 本身是撤销记录")
    visit = store.visit(original.mdtrt_id)
    assert visit is not None
    if visit.kind not in kinds:
        raise Refused("input.data.setl_id", f"{cmd.setl_id} 是{KIND_NAME[visit.kind]}结算，不能用此交易撤销")
    if store.reversal_of(cmd.setl_id) is not None:
        raise Refused("input.data.setl_id", f"{cmd.setl_id} 已撤销")
    if original.cross_region == "T":  # the insured node reverses its side first; it answers again if asked again
        reverse_remote(ctx, original.insuplc_admdvs, original.fixmedins_code, original.msgid)
    setl_id = store.new_id("S", original.mdtrtarea_admvs)
    amounts = {name: -value for name, value in original.amounts.items()}
    amounts["balc"] = store.account_balance(original.psn_no) + original.amounts["acct_pay"]
    row = SettlementRow(
        **{
            **{f.name: getattr(original, f.name) for f in fields(SettlementRow)},
            "setl_id": setl_id,
            "setl_time": ctx.now,
            "msgid": ctx.msgid,
            "infno": ctx.infno,
            "revs_setl_id": original.setl_id,
            "amounts": amounts,
            "setl_proc_info": f"撤销结算 {original.setl_id}",
        }
    )
    details = [
        FundRowRecord(setl_id, d.fund_pay_type, -d.inscp_scp_amt, d.crt_payb_lmt_amt, -d.fund_payamt, d.setl_proc_info)
        for d in store.fund_rows(original.setl_id)
    ]
    deltas = {key: -delta for key, delta in store.counter_deltas_of(original.setl_id).items()}
    store.insert_settlement(row, details, (), deltas)
    store.post(setl_id, reversal_of(store.transfers_of(original.setl_id)), ctx.now)
    store.unmark_lines(original.mdtrt_id, original.setl_id)
    person = store.person(original.psn_no)
    assert person is not None
    output = stored_output(store, row, person)
    return output, setl_id


def settlement_output(c: Computed, setl_id: str | None, ctx: Context, cert_type: str = "") -> dict[str, object]:
    """The national 2206/2207 output for a computed settlement."""
    setlinfo = c.result.setlinfo_output()
    setlinfo.update(person_fields(c.person, c.insurance.insutype, c.insurance.psn_type, ctx.today))
    setlinfo.update(
        mdtrt_id=c.visit.mdtrt_id,
        setl_id=setl_id,
        cvlserv_flag="1" if c.insurance.cvlserv_flag else "0",
        setl_time=ctx.now,
        mdtrt_cert_type=cert_type or c.visit.mdtrt_cert_type,
        med_type=c.med_type,
        medins_setl_id=ctx.msgid,
        clr_optins=c.insurance.insuplc_admdvs,
        clr_way="1",
        clr_type=CLR_TYPE[c.visit.kind].value,
    )
    return {"setlinfo": setlinfo, "setldetail": c.result.setldetail_output()}


def stored_output(store: Store, row: SettlementRow, person: PersonRecord) -> dict[str, object]:
    """The national output of a stored settlement (5203, 2208 answers)."""
    insurance = store.insurance(row.psn_no, row.insutype)
    setlinfo: dict[str, object] = {name: fen_to_yuan(value) for name, value in row.amounts.items()}
    setlinfo.update(
        person_fields(person, row.insutype, insurance.psn_type if insurance else "", local_date(row.setl_time))
    )
    setlinfo.update(
        mdtrt_id=row.mdtrt_id,
        setl_id=row.setl_id,
        cvlserv_flag="1" if insurance and insurance.cvlserv_flag else "0",
        setl_time=row.setl_time,
        med_type=row.med_type,
        medins_setl_id=row.msgid,
        clr_optins=row.insuplc_admdvs,
        clr_way="1",
        clr_type=row.clr_type,
        refd_setl_flag="1" if row.revs_setl_id else "0",
    )
    details = [d.setldetail() for d in store.fund_rows(row.setl_id)]
    return {"setlinfo": setlinfo, "setldetail": details}


def person_fields(person: PersonRecord, insutype: str, psn_type: str, day: date) -> dict[str, object]:
    return {
        "psn_no": person.psn_no,
        "psn_name": person.psn_name,
        "psn_cert_type": person.psn_cert_type,
        "certno": person.certno,
        "gend": person.gend,
        "naty": person.naty,
        "brdy": person.brdy,
        "age": age_on(person.brdy, day),
        "insutype": insutype,
        "psn_type": psn_type,
    }
