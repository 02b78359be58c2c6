"""Integrated queries (5201–5206): visits, diagnoses, settlements, fee lines, accumulators."""

from __future__ import annotations

from yibao.app.commands import RecordQuery
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store
from yibao.app.records import Context
from yibao.app.settle import stored_output
from yibao.domain.codes import ListType, MedType
from yibao.domain.money import fen_to_yuan


def visits(store: Store, ctx: Context, q: RecordQuery) -> dict[str, object]:
    """5201 就诊信息查询: the person's visits at the caller's institution."""
    rows = store.visits_of(q.psn_no, ctx.fixmedins_code, q.begntime, q.endtime, q.med_type or None)
    return {
        "mdtrtinfo": [
            {
                "mdtrt_id": v.mdtrt_id,
                "psn_no": v.psn_no,
                "fixmedins_code": v.fixmedins_code,
                "med_type": v.med_type,
                "begntime": v.begntime,
                "endtime": v.endtime,
                "insutype": v.insutype,
                "ipt_otp_no": v.ipt_otp_no,
                "vali_flag": "0" if v.status == "cancelled" else "1",
                "dise_codg": v.dise_codg,
                "dise_name": v.dise_name,
                "insuplc_admdvs": v.insuplc_admdvs,
                "mdtrtarea_admvs": v.mdtrtarea_admvs,
            }
            for v in rows
        ]
    }


def own_visit_id(store: Store, ctx: Context, q: RecordQuery) -> str:
    if not q.mdtrt_id:
        raise Refused("input.data.mdtrt_id", "不能为空")
    visit = store.visit(q.mdtrt_id)
    if visit is None or visit.fixmedins_code != ctx.fixmedins_code or visit.psn_no != q.psn_no:
        raise NotFound("input.data.mdtrt_id", f"{q.mdtrt_id} 就诊不存在")
    return visit.mdtrt_id


def diagnoses(store: Store, ctx: Context, q: RecordQuery) -> dict[str, object]:
    """5202 诊断信息查询."""
    return {"diseinfo": store.diagnoses(own_visit_id(store, ctx, q))}


def settlement(store: Store, ctx: Context, q: RecordQuery) -> dict[str, object]:
    """5203 结算信息查询: one settlement (or reversal) by setl_id."""
    row = store.settlement(q.setl_id)
    if row is None or row.fixmedins_code != ctx.fixmedins_code or row.psn_no != q.psn_no:
        raise NotFound("input.data.setl_id", f"{q.setl_id} 结算记录不存在")
    person = store.person(row.psn_no)
    assert person is not None
    return stored_output(store, row, person)


def fee_lines(store: Store, ctx: Context, q: RecordQuery) -> dict[str, object]:
    """5204 费用明细查询: every line of a visit with its status and, once settled, its classification."""
    return {"output": store.fee_lines_of(own_visit_id(store, ctx, q))}


def chronic_drugs(store: Store, ctx: Context, q: RecordQuery) -> dict[str, object]:
    """5205 慢特病用药记录查询: the drugs settled for the person's 门诊慢特病 visits (med_type 14) at any
    institution in the period, so that a doctor sees what other hospitals already prescribed."""
    if store.person(q.psn_no) is None:
        raise NotFound("input.data.psn_no", f"{q.psn_no} 人员编号不存在")
    drugs = (ListType.DRUG, ListType.HERBAL)
    records = []
    for line in store.settled_lines_of(q.psn_no, MedType.CHRONIC_OUTPATIENT, q.begntime, q.endtime):
        item = store.catalog(line.mdtrtarea_admvs).get(line.med_list_codg)
        if item is None or item.list_type not in drugs:
            continue
        records.append({
            "mdtrt_id": line.mdtrt_id,
            "fixmedins_code": line.fixmedins_code,
            "med_list_codg": line.med_list_codg,
            "med_list_name": item.name,
            "cnt": line.cnt,
            "pric": line.pric,
            "det_item_fee_sumamt": fen_to_yuan(line.det_item_fee_sumamt),
            "fee_ocur_time": line.fee_ocur_time,
            "setl_id": line.setl_id,
        })  # fmt: skip
    return {"feedetail": records}


def accumulators(store: Store, ctx: Context, q: RecordQuery) -> dict[str, object]:
    """5206 人员累计信息查询: the person's year-to-date counters (cum_ym "yyyyMM" picks the year)."""
    if store.person(q.psn_no) is None:
        raise NotFound("input.data.psn_no", f"{q.psn_no} 人员编号不存在")
    year = q.cum_ym[:4] if q.cum_ym else f"{ctx.today:%Y}"
    return {
        "cuminfo": [
            {"insutype": insutype, "year": period, "cum_type_code": key, "cum": fen_to_yuan(total)}
            for insutype, period, key, total in store.counter_totals(q.psn_no, year)
        ]
    }
