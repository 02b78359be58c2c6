"""Who may touch what: the calling institution, its own visits, the person's insurance in force.

Every visit transaction goes through ``own_visit``, which also refuses an institution whose agreement
is suspended; reversals do not, so that a suspended institution can still give money back.
"""

from __future__ import annotations

from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store
from yibao.app.records import Context, InstitutionRecord, InsuranceRecord, VisitRecord
from yibao.domain.codes import PsnInsuStas

KIND_NAME = {"outpatient": "门诊", "inpatient": "住院", "pharmacy": "药店购药"}


def caller(store: Store, ctx: Context, *, hospital: bool) -> InstitutionRecord:
    """The calling institution, which must be in service (and a hospital, for visits)."""
    inst = store.institution(ctx.fixmedins_code)
    if inst is None:
        raise NotFound("fixmedins_code", f"{ctx.fixmedins_code} 定点医药机构不存在")
    if inst.status != "1":
        raise Refused("fixmedins_code", f"{ctx.fixmedins_code} 定点资格已暂停")
    if hospital and inst.is_pharmacy:
        raise Refused("infno", f"零售药店不能办理 {ctx.infno} 交易")
    return inst


def own_visit(
    store: Store, ctx: Context, mdtrt_id: str, psn_no: str, kind: str, node: str = "input.data"
) -> VisitRecord:
    """The caller's own visit of this person, of the kind the transaction is for (``node``: where the ids came)."""
    visit = store.visit(mdtrt_id)
    if visit is None or visit.fixmedins_code != ctx.fixmedins_code:
        raise NotFound(f"{node}.mdtrt_id", f"{mdtrt_id} 就诊不存在")
    if visit.psn_no != psn_no:
        raise Refused(f"{node}.psn_no", f"{psn_no} 与就诊 {mdtrt_id} 的人员不符")
    institution = store.institution(ctx.fixmedins_code)
    if institution is None or institution.status != "1":
        raise Refused("fixmedins_code", f"{ctx.fixmedins_code} 定点资格已暂停")
    if visit.kind != kind:
        raise Refused(f"{node}.mdtrt_id", f"{mdtrt_id} 是{KIND_NAME[visit.kind]}就诊，不能用于{KIND_NAME[kind]}交易")
    return visit


def active_insurance(store: Store, psn_no: str, insutype: str, node: str) -> InsuranceRecord:
    insurance = store.insurance(psn_no, insutype)
    if insurance is None:
        raise NotFound(f"{node}.insutype", f"人员 {psn_no} 无险种 {insutype} 的参保记录")
    if insurance.psn_insu_stas != PsnInsuStas.NORMAL:
        status = PsnInsuStas.describe(insurance.psn_insu_stas)
        raise Refused(f"{node}.psn_no", f"{psn_no} 参保状态为{status}，不能享受待遇")
    return insurance
