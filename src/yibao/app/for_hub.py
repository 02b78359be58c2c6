"""What a node answers the hub for its own insured (参保地): who they are, and their side of a
settlement made in another region (参保地政策) — docs/cross-region.md.

Each operation takes the payload the treating node sent and a Context whose ``fixmedins_code`` is the
treating institution and whose ``msgid`` is the hub call's id (the same for every retry: the answer
is logged under it, so a retried settle is answered again, never settled twice).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from yibao.app import audit_cases, clearing, filings, registry, transfers
from yibao.app.access import active_insurance
from yibao.app.commands import PersonQuery, Reverse
from yibao.app.cross_region import READ_OPS, plain
from yibao.app.errors import NotFound, Refused
from yibao.app.filings import ReferralIn
from yibao.app.ports import Store
from yibao.app.records import Context, InstitutionRecord, InsuranceRecord, VisitRecord
from yibao.app.settle import Computed, claim_of, counters_before, record, reverse, settlement_output
from yibao.domain.catalog import EMPTY_CATALOG
from yibao.domain.claim import Amounts
from yibao.domain.errors import PolicyError
from yibao.domain.filings import EMERGENCY_MED_TYPES
from yibao.domain.policy import select_policy
from yibao.domain.settlement import calculate

READS = READ_OPS | clearing.READS
WRITES = (
    frozenset({"settle", "reverse", "filing", audit_cases.SHARE_OP, transfers.OUT_OP, transfers.IN_OP})
    | clearing.WRITES
)


def answer(store: Store, ctx: Context, op: str, payload: dict[str, Any]) -> dict[str, Any]:
    if op == "person":
        return registry.person_info(store, ctx, PersonQuery(**_fields(payload, PersonQuery)))
    if op == "registry":
        return registry_of(store, str(payload.get("psn_no", "")))
    if op in ("presettle", "settle"):
        return settle_here(store, ctx, payload, commit=op == "settle")
    if op == "reverse":
        return reverse_here(store, ctx, payload)
    if op == "filing":  # 2501 by an institution of another region, for one of this node's insured
        dates = {k: date.fromisoformat(str(v)) for k, v in payload.items() if k in DATES and v}
        cmd = ReferralIn(**{**{k: v for k, v in payload.items() if k not in DATES}, **dates})
        return filings.file_referral(store, ctx, cmd)[0]
    if op == audit_cases.SHARE_OP:  # a joint audit case about this node's insured, shared by the treating node
        return audit_cases.receive(store, payload)
    if op == transfers.OUT_OP:  # 转移接续: the person's new region asks this one (where they leave) for the transfer
        return transfers.transfer_out(store, payload, ctx.now, ctx.federation)
    if op == transfers.IN_OP:  # 转移接续: the region the person leaves hands this one (where they arrive) its side
        return transfers.transfer_in_here(store, payload, ctx.now, ctx.federation)
    if op == clearing.DETAIL:
        return clearing.detail(store, payload)
    if op == clearing.CONFIRM:
        return clearing.confirm(store, ctx, payload)
    if op == clearing.POST:
        return clearing.post(store, ctx, payload)
    raise Refused("op", f"{op} 不是节点间交易")


DATES = frozenset({"begndate", "enddate", "refl_date"})


def _fields(payload: dict[str, Any], cls: type[Any]) -> dict[str, Any]:
    return {k: str(v) for k, v in payload.items() if k in cls.__dataclass_fields__ and v is not None}


def registry_of(store: Store, psn_no: str) -> dict[str, Any]:
    """The registry part a treating node keeps of one of this node's insured."""
    person = store.person(psn_no)
    if person is None:
        raise NotFound("input.data.psn_no", f"{psn_no} 参保地无此人员")
    return {
        "person": plain(person),
        "insurance": [plain(i) for i in store.insurances(psn_no)],
        "identities": [plain(i) for i in store.identities(psn_no)],
    }


def settle_here(store: Store, ctx: Context, payload: dict[str, Any], *, commit: bool) -> dict[str, Any]:
    """The insured region's settlement of a visit classified elsewhere: its policy, its counters, its
    personal account; with ``commit`` written here (funds → the treating region's clearing account)."""
    psn_no, insutype = str(payload["psn_no"]), str(payload["insutype"])
    if commit:
        store.lock_person(psn_no)
    person = store.person(psn_no)
    if person is None:
        raise NotFound("input.data.psn_no", f"{psn_no} 参保地无此人员")
    insurance = active_insurance(store, psn_no, insutype, "input.data")
    if ctx.federation is not None and not ctx.federation.serves(insurance.insuplc_admdvs):
        raise Refused("input.data.psn_no", f"{psn_no} 不是本节点参保人员")
    day = date.fromisoformat(str(payload["setl_date"]))
    inst = institution_of(payload)
    flags = visit_flags(store, payload, insurance, inst.admdvs, day)
    visit = foreign_visit(store, payload, insurance, inst, flags, write=commit)
    try:
        policy = select_policy(store.policies(), insurance.insuplc_admdvs, insutype, day)
    except PolicyError as exc:
        raise Refused("input.data.insutype", exc.reason) from None
    before = counters_before(store, policy, psn_no, insutype, day)
    claim = claim_of(store, person, insurance, visit, inst.hosp_lv, inst.specialty, visit.med_type, day,
                     bool(payload.get("acct_used_flag", True)), before, amounts=amounts_of(payload))  # fmt: skip
    result = calculate(claim, policy, EMPTY_CATALOG)
    periods = {key: policy.counter_period(key, day) for key in result.accumulators}
    c = Computed(visit, person, insurance, [], result, visit.med_type, before, periods, cross_region="I")
    setl_id = None
    if commit:
        setl_id = record(store, ctx, c, visit.kind, bool(payload.get("mid_setl_flag")))
    out = settlement_output(c, setl_id, ctx)
    return {**out, "setl_id": setl_id, "policy_name": result.policy_name, "trace": list(result.trace),
            "flags": list(flags)}  # fmt: skip


def reverse_here(store: Store, ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
    """Reverse this node's side of the settlement a treating node's settle call made (nothing if none)."""
    reversed_ids = []
    for setl_id in store.settlement_ids_by_msgid(str(payload["settle_msgid"])):
        row = store.settlement(setl_id)
        if row is None or row.cross_region != "I" or row.revs_setl_id is not None:
            continue
        if store.reversal_of(setl_id) is not None:
            continue
        visit = store.visit(row.mdtrt_id)
        assert visit is not None
        reverse(store, replace(ctx, fixmedins_code=row.fixmedins_code), Reverse(setl_id, row.psn_no), (visit.kind,))
        reversed_ids.append(setl_id)
    return {"reversed": reversed_ids}


def institution_of(payload: dict[str, Any]) -> InstitutionRecord:
    inst = payload["institution"]
    return InstitutionRecord(
        fixmedins_code=str(inst["fixmedins_code"]),
        fixmedins_name=str(inst["fixmedins_name"]),
        fixmedins_type=str(inst["fixmedins_type"]),
        hosp_lv=int(inst["hosp_lv"]),
        specialty=str(inst.get("specialty", "")),
        admdvs=str(inst["admdvs"]),
        status="1",
    )


def visit_flags(
    store: Store, payload: dict[str, Any], insurance: InsuranceRecord, mdtrtarea_admvs: str, day: date
) -> tuple[str, ...]:
    """The cross-region case of the visit (filing, zone, emergency) as flags the policy adjusts on."""
    from yibao.app.filings import cross_region_flags

    return cross_region_flags(
        store,
        psn_no=insurance.psn_no,
        insutype=insurance.insutype,
        insuplc_admdvs=insurance.insuplc_admdvs,
        mdtrtarea_admvs=mdtrtarea_admvs,
        kind=str(payload["kind"]),
        emergency=str(payload["med_type"]) in EMERGENCY_MED_TYPES,
        begntime=datetime.fromisoformat(str(payload["begntime"])),
        setl_date=day,
    )


def foreign_visit(
    store: Store,
    payload: dict[str, Any],
    insurance: InsuranceRecord,
    institution: InstitutionRecord,
    flags: tuple[str, ...],
    *,
    write: bool,
) -> VisitRecord:
    """This node's record of its insured's visit at another region's institution (the same mdtrt_id as
    there), made at its first settlement; the institution is registered here as foreign."""
    mdtrt_id = str(payload["mdtrt_id"])
    wanted = VisitRecord(
        mdtrt_id=mdtrt_id,
        psn_no=insurance.psn_no,
        insutype=insurance.insutype,
        fixmedins_code=institution.fixmedins_code,
        med_type=str(payload["med_type"]),
        kind=str(payload["kind"]),
        status="open",
        ipt_otp_no="",
        begntime=datetime.fromisoformat(str(payload["begntime"])),
        endtime=None,
        mdtrt_cert_type="",
        mdtrt_cert_no="",
        insuplc_admdvs=insurance.insuplc_admdvs,
        mdtrtarea_admvs=institution.admdvs,
        flags=" ".join(flags),
    )
    visit = store.visit(mdtrt_id)
    if visit is not None and (visit.psn_no != insurance.psn_no or visit.fixmedins_code != institution.fixmedins_code):
        raise Refused("input.data.mdtrt_id", f"{mdtrt_id} 已是其他人员或机构的就诊")
    if not write:
        return replace(visit, flags=wanted.flags, med_type=wanted.med_type) if visit else wanted
    if visit is None:
        store.save_foreign_institution(institution)
        store.insert_visit(wanted, wanted.begntime)
        return wanted
    if (visit.flags, visit.med_type) != (wanted.flags, wanted.med_type):
        visit = replace(visit, flags=wanted.flags, med_type=wanted.med_type)
        store.update_visit(visit)
    return visit


def amounts_of(payload: dict[str, Any]) -> Amounts:
    a = payload["amounts"]
    return Amounts(
        medfee_sumamt=Decimal(str(a["medfee_sumamt"])),
        fulamt_ownpay_amt=Decimal(str(a["fulamt_ownpay_amt"])),
        overlmt_selfpay=Decimal(str(a["overlmt_selfpay"])),
        preselfpay_amt=Decimal(str(a["preselfpay_amt"])),
        inscp_scp_amt=Decimal(str(a["inscp_scp_amt"])),
    )
