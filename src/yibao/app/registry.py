"""Who is who: person information (1101), institution information (1201), benefit check (2001)."""

from __future__ import annotations

from yibao.app.commands import BenefitCheck, InstitutionQuery, PersonQuery
from yibao.app.cross_region import plain, remote_person_info, remote_region
from yibao.app.errors import NotFound, Refused
from yibao.app.ports import Store
from yibao.app.records import Context, PersonRecord
from yibao.app.voucher import person_of_ec_token
from yibao.domain.claim import age_on
from yibao.domain.codes import Insutype, MdtrtCertType, PsnInsuStas
from yibao.domain.errors import DomainError
from yibao.domain.money import fen_to_yuan
from yibao.domain.policy import select_policy


def find_person(store: Store, ctx: Context, q: PersonQuery) -> PersonRecord:
    node = "input.data"
    if q.mdtrt_cert_type == MdtrtCertType.ID_CARD:
        person = store.person_by_certno(q.mdtrt_cert_no)
    elif q.mdtrt_cert_type == MdtrtCertType.SOCIAL_SECURITY_CARD:
        if not q.card_sn:
            raise Refused(f"{node}.card_sn", "社会保障卡读卡需要卡识别码")
        person = store.person_by_card(q.mdtrt_cert_no)
        if person is not None and person.card_sn != q.card_sn:
            raise Refused(f"{node}.card_sn", "卡识别码与社会保障卡不符")
    elif q.mdtrt_cert_type == MdtrtCertType.E_VOUCHER:
        person = store.person(person_of_ec_token(store, q.mdtrt_cert_no, ctx.fixmedins_code, ctx.now, node))
    else:
        raise Refused(f"{node}.mdtrt_cert_type", f"{q.mdtrt_cert_type} 不是有效的就诊凭证类型")
    if person is None:
        raise NotFound(f"{node}.mdtrt_cert_no", "未查询到该凭证对应的参保人员")
    if q.psn_name and q.psn_name != person.psn_name:
        raise Refused(f"{node}.psn_name", "姓名与凭证不符")
    return person


def person_info(store: Store, ctx: Context, q: PersonQuery) -> dict[str, object]:
    """1101 人员信息获取: baseinfo, insuinfo (with the personal account balance) and idetinfo; for a
    person insured in a region another node serves (the envelope's insuplc_admdvs), that node's answer."""
    if remote_region(ctx, ctx.insuplc_admdvs):
        return remote_person_info(ctx, ctx.insuplc_admdvs, plain(q))
    person = find_person(store, ctx, q)
    insuinfo = [
        {
            "balc": fen_to_yuan(store.account_balance(person.psn_no)) if ins.insutype == Insutype.EMPLOYEE_BASIC else 0,
            "insutype": ins.insutype,
            "psn_type": ins.psn_type,
            "psn_insu_stas": ins.psn_insu_stas,
            "psn_insu_date": ins.psn_insu_date,
            "paus_insu_date": ins.paus_insu_date,
            "cvlserv_flag": "1" if ins.cvlserv_flag else "0",
            "insuplc_admdvs": ins.insuplc_admdvs,
            "emp_name": ins.emp_name,
        }
        for ins in store.insurances(person.psn_no)
    ]
    idetinfo = [
        {
            "psn_idet_type": i.psn_idet_type,
            "psn_type_lv": "",
            "memo": i.memo,
            "begntime": i.begntime,
            "endtime": i.endtime,
        }
        for i in store.identities(person.psn_no)
    ]
    return {
        "baseinfo": {
            "psn_no": person.psn_no,
            "psn_cert_type": person.psn_cert_type,
            "certno": person.certno,
            "psn_name": person.psn_name,
            "gend": person.gend,
            "naty": person.naty,
            "brdy": person.brdy,
            "age": age_on(person.brdy, ctx.today),
        },
        "insuinfo": insuinfo,
        "idetinfo": idetinfo,
    }


def institution_info(store: Store, ctx: Context, q: InstitutionQuery) -> dict[str, object]:
    """1201 医药机构信息获取."""
    rows = store.institutions(q.fixmedins_code, q.fixmedins_name, q.fixmedins_type)
    return {
        "medinsinfo": [
            {
                "fixmedins_code": i.fixmedins_code,
                "fixmedins_name": i.fixmedins_name,
                "fixmedins_type": i.fixmedins_type,
                "hosp_lv": str(i.hosp_lv),
                "uscc": "",
                "admdvs": i.admdvs,
                "fixmedins_stas": i.status,
            }
            for i in rows
        ]
    }


def benefit_check(store: Store, ctx: Context, q: BenefitCheck) -> dict[str, object]:
    """2001 人员待遇享受检查: may this person be paid for this med_type today?"""
    if store.person(q.psn_no) is None:
        raise NotFound("input.data.psn_no", f"{q.psn_no} 人员编号不存在")
    ins = store.insurance(q.psn_no, q.insutype)
    reasons = []
    if ins is None:
        reasons.append(f"无险种 {Insutype.describe(q.insutype)} 参保记录")
    elif ins.psn_insu_stas != PsnInsuStas.NORMAL:
        reasons.append(f"参保状态为{PsnInsuStas.describe(ins.psn_insu_stas)}")
    else:
        try:
            select_policy(store.policies(), ins.insuplc_admdvs, q.insutype, ctx.today).benefit_for(q.med_type)
        except DomainError as exc:
            reasons.append(exc.reason)
    return {
        "trtinfo": [
            {
                "psn_no": q.psn_no,
                "trt_chk_type": "01",
                "fund_pay_type": "",
                "trt_enjymnt_flag": "0" if reasons else "1",
                "begndate": ctx.today,
                "enddate": ctx.today,
                "trt_chk_rslt": "；".join(reasons) or "可以享受待遇",
            }
        ]
    }
