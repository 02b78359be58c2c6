"""Visits and fees: outpatient registration (2201–2205), admission and discharge (2401–2405),
inpatient fee upload (2301/2302). None of these moves money; settlement does (settle.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields, replace
from decimal import Decimal
from operator import attrgetter

import orjson

from yibao.app.access import active_insurance, caller, own_visit
from yibao.app.commands import (
    Admission,
    AdmissionChange,
    Discharge,
    FeeLineCancel,
    FeeLineIn,
    Register,
    VisitInfo,
    VisitRef,
)
from yibao.app.cross_region import guest
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import ReadAhead, Store
from yibao.app.records import Context, FeeLineRecord, InstitutionRecord, PersonRecord, VisitRecord
from yibao.app.voucher import check_ec_token
from yibao.domain.claim import FeeLine, age_on
from yibao.domain.classification import LineContext, classify_line, line_total
from yibao.domain.money import fen_to_yuan, yuan_to_fen
from yibao.domain.settlement import line_output

CANCEL_ALL = "0000"


def person_here(store: Store, ctx: Context, psn_no: str, node: str) -> PersonRecord:
    """The person a visit opens for: one insured at another node is fetched from it first (and kept)."""
    return guest(store, ctx, psn_no, node) or known_person(store, psn_no, node)


def known_person(store: Store, psn_no: str, node: str) -> PersonRecord:
    person = store.person(psn_no)
    if person is None:
        raise NotFound(f"{node}.psn_no", f"{psn_no} 人员编号不存在")
    return person


def check_certificate(
    store: Store, ctx: Context, person: PersonRecord, cert_type: str, cert_no: str, node: str
) -> None:
    """The credential shown at the counter must belong to the person (01 an ecToken of this institution
    and business, 02 ID card, 03 social security card)."""
    if cert_type == "01":
        check_ec_token(store, cert_no, ctx.fixmedins_code, person.psn_no, ctx.infno, ctx.now, node)
    if cert_type == "02" and cert_no and cert_no != person.certno:
        raise Refused(f"{node}.mdtrt_cert_no", "身份证号与人员不符")
    if cert_type == "03" and cert_no and cert_no != person.card_no:
        raise Refused(f"{node}.mdtrt_cert_no", "社会保障卡号与人员不符")


def open_visit(
    store: Store,
    ctx: Context,
    inst: InstitutionRecord,
    person: PersonRecord,
    insutype: str,
    node: str,
    **fields: object,
) -> VisitRecord:
    insurance = active_insurance(store, person.psn_no, insutype, node)
    visit = VisitRecord(
        mdtrt_id=store.new_id("M", inst.admdvs),
        psn_no=person.psn_no,
        insutype=insutype,
        fixmedins_code=inst.fixmedins_code,
        status="open",
        insuplc_admdvs=insurance.insuplc_admdvs,
        mdtrtarea_admvs=inst.admdvs,
        endtime=None,
        **fields,  # type: ignore[arg-type]
    )
    store.insert_visit(visit, ctx.now)
    return visit


def register(store: Store, ctx: Context, cmd: Register) -> dict[str, object]:
    """2201 门诊挂号."""
    store.read_ahead(ReadAhead(institution=ctx.fixmedins_code, person=cmd.psn_no, insurance=(cmd.psn_no, cmd.insutype)))
    inst = caller(store, ctx, hospital=True)
    person = person_here(store, ctx, cmd.psn_no, "input.data")
    check_certificate(store, ctx, person, cmd.mdtrt_cert_type, cmd.mdtrt_cert_no, "input.data")
    visit = open_visit(
        store, ctx, inst, person, cmd.insutype, "input.data",
        med_type=cmd.med_type, kind="outpatient", ipt_otp_no=cmd.ipt_otp_no, begntime=cmd.begntime,
        mdtrt_cert_type=cmd.mdtrt_cert_type, mdtrt_cert_no=cmd.mdtrt_cert_no, dept_code=cmd.dept_code,
        dept_name=cmd.dept_name, atddr_no=cmd.atddr_no, dr_name=cmd.dr_name,
    )  # fmt: skip
    return {"data": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "ipt_otp_no": visit.ipt_otp_no}}


def ensure_nothing_settled(store: Store, visit: VisitRecord, node: str) -> None:
    if store.has_live_settlement(visit.mdtrt_id):
        raise Refused(f"{node}.mdtrt_id", f"{visit.mdtrt_id} 已有结算，请先撤销结算")


def cancel_registration(store: Store, ctx: Context, cmd: VisitRef) -> dict[str, object]:
    """2202 挂号撤销: only before any settlement; its unsettled lines go with it."""
    visit = own_visit(store, ctx, cmd.mdtrt_id, cmd.psn_no, "outpatient")
    if visit.status == "cancelled":
        raise Refused("input.data.mdtrt_id", f"{visit.mdtrt_id} 已撤销")
    ensure_nothing_settled(store, visit, "input.data")
    store.cancel_lines(visit.mdtrt_id, None)
    store.update_visit(replace(visit, status="cancelled"))
    return {}


def visit_info(store: Store, ctx: Context, cmd: VisitInfo, diseinfo: Sequence[dict[str, object]]) -> dict[str, object]:
    """2203 就诊信息上传: med_type and diagnoses of an outpatient visit."""
    visit = own_visit(store, ctx, cmd.mdtrt_id, cmd.psn_no, "outpatient", "input.mdtrtinfo")
    if visit.status != "open":
        raise Refused("input.mdtrtinfo.mdtrt_id", f"{visit.mdtrt_id} 不是有效就诊")
    ensure_nothing_settled(store, visit, "input.mdtrtinfo")
    store.update_visit(replace(visit, med_type=cmd.med_type, dise_codg=cmd.dise_codg, dise_name=cmd.dise_name))
    store.replace_diagnoses(visit.mdtrt_id, diseinfo)
    return {}


def admit(store: Store, ctx: Context, cmd: Admission, diseinfo: Sequence[dict[str, object]]) -> dict[str, object]:
    """2401 入院办理."""
    inst = caller(store, ctx, hospital=True)
    person = person_here(store, ctx, cmd.psn_no, "input.mdtrtinfo")
    check_certificate(store, ctx, person, cmd.mdtrt_cert_type, cmd.mdtrt_cert_no, "input.mdtrtinfo")
    if not cmd.med_type.startswith("2") and not cmd.med_type.startswith("52"):
        raise Refused("input.mdtrtinfo.med_type", f"{cmd.med_type} 不是住院类医疗类别")
    if store.open_stay(cmd.psn_no, inst.fixmedins_code):
        raise Refused("input.mdtrtinfo.psn_no", f"{cmd.psn_no} 在本机构已有未出院的住院登记")
    visit = open_visit(
        store, ctx, inst, person, cmd.insutype, "input.mdtrtinfo",
        med_type=cmd.med_type, kind="inpatient", ipt_otp_no=cmd.ipt_no, begntime=cmd.begntime,
        mdtrt_cert_type=cmd.mdtrt_cert_type, mdtrt_cert_no=cmd.mdtrt_cert_no, dept_code=cmd.adm_dept_codg,
        dept_name=cmd.adm_dept_name, atddr_no=cmd.atddr_no, dr_name=cmd.chfpdr_name,
        dise_codg=cmd.dise_codg or cmd.dscg_maindiag_code, dise_name=cmd.dise_name or cmd.dscg_maindiag_name,
    )  # fmt: skip
    store.replace_diagnoses(visit.mdtrt_id, diseinfo)
    return {"result": {"mdtrt_id": visit.mdtrt_id, "psn_no": visit.psn_no, "ipt_otp_no": visit.ipt_otp_no}}


def change_admission(store: Store, ctx: Context, cmd: AdmissionChange) -> dict[str, object]:
    """2403 住院信息变更."""
    visit = own_visit(store, ctx, cmd.mdtrt_id, cmd.psn_no, "inpatient", "input.adminfo")
    if visit.status != "open":
        raise Refused("input.adminfo.mdtrt_id", f"{visit.mdtrt_id} 不在院")
    changes = {
        "med_type": cmd.med_type,
        "begntime": cmd.begntime,
        "dept_code": cmd.adm_dept_codg,
        "dept_name": cmd.adm_dept_name,
        "atddr_no": cmd.atddr_no,
        "dr_name": cmd.chfpdr_name,
        "dise_codg": cmd.dise_codg,
        "dise_name": cmd.dise_name,
    }
    store.update_visit(replace(visit, **{k: v for k, v in changes.items() if v}))  # type: ignore[arg-type]
    return {}


def discharge(store: Store, ctx: Context, cmd: Discharge, diseinfo: Sequence[dict[str, object]]) -> dict[str, object]:
    """2402 出院办理."""
    visit = own_visit(store, ctx, cmd.mdtrt_id, cmd.psn_no, "inpatient", "input.dscginfo")
    if visit.status != "open":
        raise Refused("input.dscginfo.mdtrt_id", f"{visit.mdtrt_id} 不在院")
    if cmd.endtime < visit.begntime:
        raise Refused("input.dscginfo.endtime", "出院时间早于入院时间")
    store.update_visit(
        replace(
            visit,
            status="discharged",
            endtime=cmd.endtime,
            dise_codg=cmd.dise_codg or visit.dise_codg,
            dise_name=cmd.dise_name or visit.dise_name,
        )
    )
    if diseinfo:
        store.replace_diagnoses(visit.mdtrt_id, diseinfo)
    return {}


def cancel_admission(store: Store, ctx: Context, cmd: VisitRef) -> dict[str, object]:
    """2404 入院撤销: only with no settlement and no fee lines left."""
    visit = own_visit(store, ctx, cmd.mdtrt_id, cmd.psn_no, "inpatient")
    if visit.status != "open":
        raise Refused("input.data.mdtrt_id", f"{visit.mdtrt_id} 不在院，不能撤销入院")
    ensure_nothing_settled(store, visit, "input.data")
    if store.unsettled_lines(visit.mdtrt_id, None):
        raise Refused("input.data.mdtrt_id", f"{visit.mdtrt_id} 还有费用明细，请先撤销明细(2302)")
    store.update_visit(replace(visit, status="cancelled"))
    return {}


def undo_discharge(store: Store, ctx: Context, cmd: VisitRef) -> dict[str, object]:
    """2405 出院撤销: back in hospital, unless the stay is already finally settled."""
    visit = own_visit(store, ctx, cmd.mdtrt_id, cmd.psn_no, "inpatient")
    if visit.status != "discharged":
        raise Refused("input.data.mdtrt_id", f"{visit.mdtrt_id} 未出院")
    if store.has_live_settlement(visit.mdtrt_id, final_only=True):
        raise Refused("input.data.mdtrt_id", f"{visit.mdtrt_id} 已出院结算，请先撤销结算(2305)")
    store.update_visit(replace(visit, status="open", endtime=None))
    return {}


def upload_fees(
    store: Store, ctx: Context, lines: Sequence[FeeLineIn], kind: str
) -> tuple[dict[str, object], list[tuple[str, str, int]]]:
    """2204/2301 费用明细上传: store the lines and answer how each one is classified; also returns
    (mdtrt_id, feedetl_sn, row id) of what was stored, which is what a 2601 of the message would cancel.

    The whole batch is checked before anything is stored: one bad line refuses them all.
    """
    if not lines:
        raise Refused("input.feedetail", "费用明细不能为空")
    first = lines[0]
    store.read_ahead(
        ReadAhead(institution=ctx.fixmedins_code, person=first.psn_no, visit=first.mdtrt_id, line_sns=first.mdtrt_id,
                  fee_line_ids=len(lines))
    )  # fmt: skip
    visits: dict[str, tuple[VisitRecord, set[str], LineContext]] = {}
    records, results = [], []
    for i, line in enumerate(lines):
        node = f"input.feedetail[{i}]"
        if not line.mdtrt_id:
            raise Refused(f"{node}.mdtrt_id", "不能为空")
        if line.mdtrt_id not in visits:
            visit = own_visit(store, ctx, line.mdtrt_id, line.psn_no, kind, node)
            if visit.status != "open":
                raise Refused(f"{node}.mdtrt_id", f"{visit.mdtrt_id} 不是有效就诊，不能上传明细")
            visits[visit.mdtrt_id] = (visit, store.live_line_sns(visit.mdtrt_id), line_context(store, ctx, visit))
        visit, taken, lctx = visits[line.mdtrt_id]
        if line.psn_no != visit.psn_no:
            raise Refused(f"{node}.psn_no", f"{line.psn_no} 与就诊人员不符")
        if line.feedetl_sn in taken:
            raise Refused(f"{node}.feedetl_sn", f"{line.feedetl_sn} 在就诊 {visit.mdtrt_id} 中重复")
        taken.add(line.feedetl_sn)
        record = fee_line_record(line, node)
        records.append(record)
        results.append(classify_uploaded(store, lctx, record, node))
    ids = store.insert_fee_lines(records)
    return {"result": results}, [(r.mdtrt_id, r.feedetl_sn, row_id) for r, row_id in zip(records, ids, strict=True)]


def line_context(store: Store, ctx: Context, visit: VisitRecord) -> LineContext:
    """Who, where and when, as the catalogue's restrictions look at a line of this visit."""
    person = store.person(visit.psn_no)
    inst = store.institution(visit.fixmedins_code)
    assert person is not None and inst is not None  # a visit is only made for known ones
    return LineContext(visit.mdtrtarea_admvs, ctx.today, person.gend, age_on(person.brdy, ctx.today), inst.hosp_lv,
                       visit.med_type)  # fmt: skip


# What an uploaded line carries beyond what settlement reads: kept with the line as it came.
EXTRA_FIELDS = tuple(f.name for f in fields(FeeLineIn) if f.name not in {g.name for g in fields(FeeLineRecord)})
_extra_values = attrgetter(*EXTRA_FIELDS)


def fee_line_record(line: FeeLineIn, node: str) -> FeeLineRecord:
    total = line_total(
        FeeLine(line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, line.det_item_fee_sumamt), node
    )
    extra = {
        name: value for name, value in zip(EXTRA_FIELDS, _extra_values(line), strict=True) if value not in ("", None)
    }
    return FeeLineRecord(
        mdtrt_id=line.mdtrt_id,
        feedetl_sn=line.feedetl_sn,
        psn_no=line.psn_no,
        chrg_bchno=line.chrg_bchno,
        med_list_codg=line.med_list_codg,
        medins_list_codg=line.medins_list_codg,
        cnt=line.cnt,
        pric=line.pric,
        det_item_fee_sumamt=total,
        fee_ocur_time=line.fee_ocur_time,
        status="uploaded",
        setl_id=None,
        body=orjson.dumps(extra, default=str).decode(),
    )


def lines_of(visit: VisitRecord, feedetail: Sequence[FeeLineIn], medfee_sumamt: Decimal | None) -> list[FeeLineRecord]:
    """The lines of a visit made in the same message as them (2101/2102, 6201): each serial number
    once, each line the visit's person's, and their total ``medfee_sumamt`` if given."""
    lines = []
    for i, line in enumerate(feedetail):
        node = f"input.feedetail[{i}]"
        if line.psn_no and line.psn_no != visit.psn_no:
            raise Refused(f"{node}.psn_no", f"{line.psn_no} 与就诊人员不符")
        if any(other.feedetl_sn == line.feedetl_sn for other in feedetail[:i]):
            raise Refused(f"{node}.feedetl_sn", f"{line.feedetl_sn} 重复")
        lines.append(replace(fee_line_record(line, node), mdtrt_id=visit.mdtrt_id, psn_no=visit.psn_no))
    total = sum(line.det_item_fee_sumamt for line in lines)
    if medfee_sumamt is not None and yuan_to_fen(medfee_sumamt) != total:
        raise Refused("input.data.medfee_sumamt", f"{medfee_sumamt} 与明细总额 {fen_to_yuan(total)} 不符")
    return lines


def classify_uploaded(store: Store, lctx: LineContext, line: FeeLineRecord, node: str) -> dict[str, object]:
    """How a line will be classified at settlement (就医地目录), as 2204/2301 answer it."""
    catalog = store.catalog(lctx.admdvs)
    fee = FeeLine(line.feedetl_sn, line.med_list_codg, line.cnt, line.pric, fen_to_yuan(line.det_item_fee_sumamt))
    return line_output(classify_line(fee, catalog.get(line.med_list_codg), lctx, node))


def cancel_fees(store: Store, ctx: Context, mdtrt_id: str, psn_no: str, kind: str, sns: Sequence[str] | None,
                chrg_bchno: str | None, node: str) -> dict[str, object]:  # fmt: skip
    """2205/2302 明细撤销: only unsettled lines; "0000" means all of them."""
    visit = own_visit(store, ctx, mdtrt_id, psn_no, kind, node)
    if visit.status == "cancelled":
        raise Refused(f"{node}.mdtrt_id", f"{mdtrt_id} 已撤销")
    if sns is not None:
        for sn in sns:
            if not any(line.feedetl_sn == sn for line in store.unsettled_lines(mdtrt_id, None)):
                raise Refused(f"{node}.feedetl_sn", f"{sn} 不存在或已结算")
        store.cancel_lines(mdtrt_id, None, sns)
    else:
        store.cancel_lines(mdtrt_id, chrg_bchno)
    return {}


def cancel_inpatient_fees(store: Store, ctx: Context, items: Sequence[FeeLineCancel]) -> dict[str, object]:
    """2302: items of (mdtrt_id, feedetl_sn); feedetl_sn "0000" cancels every unsettled line of the stay."""
    if not items:
        raise Refused("input.data", "不能为空")
    for item in items:
        sns = None if item.feedetl_sn == CANCEL_ALL else [item.feedetl_sn]
        cancel_fees(store, ctx, item.mdtrt_id, item.psn_no, "inpatient", sns, None, "input.data")
    return {}
