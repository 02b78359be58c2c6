"""Fund supervision at the point of care: 3101 事前 (beforeAnalyze), 3102 事中 (courseAnalyze) and the
check at settlement (2207/2304, reported at 2206/2303), per the node setting ``YIBAO_SUPERVISION``.

The visit the HIS sends (patient_dtos → fsi_encounter_dtos → fsi_order_dtos, national field names) is
turned into the engine's Encounter; the person's other encounters in the message and their visits of
the last 90 days in the store are the history the cross-visit rules read. docs/interface.md has the
fields, docs/supervision.md the rules.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from yibao.app.errors import Refused
from yibao.app.ports import PastVisit, Store
from yibao.app.recent import RecentAnswers
from yibao.app.records import Context, FeeLineRecord, PersonRecord, StoredFinding, VisitRecord, local_date
from yibao.domain.catalog import Catalog
from yibao.domain.claim import age_on
from yibao.domain.frozen import frozen
from yibao.domain.money import fen_to_yuan, round_fen, yuan_to_fen
from yibao.domain.supervision.encounter import Encounter, Line
from yibao.domain.supervision.engine import review
from yibao.domain.supervision.rules import Finding, Rule, RuleLibrary

MODE_ENV = "YIBAO_SUPERVISION"
MODES = ("off", "mark", "refuse")
HISTORY_DAYS = 90
KINDS = {"1": "outpatient", "2": "inpatient", "3": "pharmacy", "4": "outpatient"}
"""med_mdtrt_type 1 门诊, 2 住院, 3 购药, 4 其他."""
SEV_DEG = {"definite": "1", "suspicious": "2"}
"""sev_deg: 1 明确违规, 2 可疑."""
NEEDS_DIAGNOSES = ("indication", "missing_diagnosis")
_TOLERANT = {"coerce_numbers_to_str": True, "extra": "ignore"}


def mode() -> str:
    """off, mark (the default) or refuse."""
    value = os.environ.get(MODE_ENV, "mark").strip().lower()
    return value if value in MODES else "mark"


# ------------------------------------------------------------------------------------------ the input


@frozen
class DiagnoseIn:
    """fsi_diagnose_dtos."""

    dise_codg: str
    dise_name: str = ""
    maindise_flag: str = "0"
    dise_id: str = ""
    inout_dise_type: str = ""
    dias_srt_no: str = ""


@frozen
class OrderIn:
    """fsi_order_dtos: one prescription (医嘱) line."""

    rx_id: str
    hilist_code: str
    cnt: Decimal
    pric: Decimal
    hilist_name: str = ""
    sumamt: Decimal | None = None
    drord_begn_date: datetime | None = None
    drord_stop_date: datetime | None = None
    drug_used_days: int | None = None
    """Days of supply; when absent, drord_stop_date − drord_begn_date in days."""
    hilist_type: str = ""
    drord_dr_codg: str = ""


@frozen
class EncounterIn:
    """fsi_encounter_dtos: one visit (就诊)."""

    mdtrt_id: str
    medins_id: str
    adm_date: datetime
    med_mdtrt_type: str
    insutype: str
    dscg_date: datetime | None = None
    med_type: str = ""
    medins_lv: str = ""
    medins_admdvs: str = ""
    dscg_main_dise_codg: str = ""
    dr_codg: str = ""
    dscg_dept_codg: str = ""
    out_setl_flag: str = ""
    medfee_sumamt: Decimal | None = None
    fsi_diagnose_dtos: tuple[DiagnoseIn, ...] = ()
    fsi_order_dtos: tuple[OrderIn, ...] = ()
    fsi_operation_dtos: tuple[dict[str, Any], ...] = ()


@frozen
class PatientIn:
    """patient_dtos: the insured person (patn_id is the psn_no) and their visits."""

    patn_id: str
    gend: str
    brdy: date
    fsi_encounter_dtos: tuple[EncounterIn, ...]
    patn_name: str = ""
    poolarea: str = ""
    curr_mdtrt_id: str = ""


@frozen
class AnalyzeIn:
    """3101/3102 data."""

    patient_dtos: tuple[PatientIn, ...]
    trig_scen: str = ""
    rule_ids: tuple[str, ...] = ()
    task_id: str = ""


# nested nodes are read as laxly as the top node (yibao.api.fsi.parsing)
DiagnoseIn.__pydantic_config__ = _TOLERANT  # type: ignore[attr-defined]
OrderIn.__pydantic_config__ = _TOLERANT  # type: ignore[attr-defined]
EncounterIn.__pydantic_config__ = _TOLERANT  # type: ignore[attr-defined]
PatientIn.__pydantic_config__ = _TOLERANT  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------------------ 3101 / 3102


def before_analyze(store: Store, ctx: Context, cmd: AnalyzeIn) -> dict[str, object]:
    """3101 事前: the findings of the ``before`` rules; nothing is written."""
    return {"result": _analyze(store, ctx, cmd, "before")[0]}


def course_analyze(store: Store, ctx: Context, cmd: AnalyzeIn) -> dict[str, object]:
    """3102 事中: the findings of the ``during`` rules, recorded with this message's msgid as the run."""
    result, stored = _analyze(store, ctx, cmd, "during")
    store.add_findings(stored)
    return {"result": result}


def _analyze(
    store: Store, ctx: Context, cmd: AnalyzeIn, stage: str
) -> tuple[list[dict[str, object]], list[StoredFinding]]:
    library = store.rule_library()
    rules = _chosen_rules(library, cmd.rule_ids)
    if not cmd.patient_dtos:
        raise Refused("input.data.patient_dtos", "不能为空")
    result: list[dict[str, object]] = []
    stored: list[StoredFinding] = []
    for p, patient in enumerate(cmd.patient_dtos):
        where = f"input.data.patient_dtos[{p}]"
        if patient.gend not in ("0", "1", "2", "9"):
            raise Refused(f"{where}.gend", f"{patient.gend!r} 不是性别代码（1 男, 2 女, 9 未说明）")
        if not patient.fsi_encounter_dtos:
            raise Refused(f"{where}.fsi_encounter_dtos", "不能为空")
        sent = [_encounter_in(store, ctx, patient, e, f"{where}.fsi_encounter_dtos[{i}]")
                for i, e in enumerate(patient.fsi_encounter_dtos)]  # fmt: skip
        current = [e for e in sent if e.mdtrt_id == patient.curr_mdtrt_id] if patient.curr_mdtrt_id else sent
        if not current:
            raise Refused(f"{where}.curr_mdtrt_id", f"{patient.curr_mdtrt_id} 不在 fsi_encounter_dtos 中")
        history = _history(store, ctx, patient, sent, rules)
        for enc in current:
            catalog = store.catalog(enc.admdvs)
            findings = review(enc, rules, catalog, stage=stage, history=history)
            result += _result(findings, library, catalog, enc, patient.patn_id, cmd.task_id, ctx.msgid, len(result))
            stored += [_stored(f, library, stage, ctx, enc, patient.poolarea or ctx.insuplc_admdvs) for f in findings]
    return result, stored


def _chosen_rules(library: RuleLibrary, rule_ids: Sequence[str]) -> tuple[Rule, ...]:
    if not rule_ids:
        return library.rules
    unknown = [r for r in rule_ids if library.get(r) is None]
    if unknown:
        raise Refused("input.data.rule_ids", f"规则 {unknown[0]} 不在规则库 {library.version} 中")
    wanted = tuple(sorted(set(rule_ids)))
    return _chosen(library, wanted, lambda: tuple(r for r in library.rules if r.id in wanted))


_CHOSEN: dict[tuple[int, tuple[str, ...]], tuple[RuleLibrary, tuple[Rule, ...]]] = {}


def _chosen(library: RuleLibrary, key: tuple[str, ...], make: Callable[[], tuple[Rule, ...]]) -> tuple[Rule, ...]:
    """The same tuple for the same choice of the same library, so the engine's compiled plan is reused."""
    found = _CHOSEN.get((id(library), key))
    if found is not None and found[0] is library:
        return found[1]
    if len(_CHOSEN) > 256:
        _CHOSEN.clear()
    rules = make()
    _CHOSEN[(id(library), key)] = (library, rules)
    return rules


def _encounter_in(store: Store, ctx: Context, patient: PatientIn, e: EncounterIn, where: str) -> Encounter:
    kind = KINDS.get(e.med_mdtrt_type)
    if kind is None:
        raise Refused(f"{where}.med_mdtrt_type", f"{e.med_mdtrt_type!r} 不是就诊类型（1 门诊, 2 住院, 3 购药, 4 其他）")
    institution = store.institution(e.medins_id)
    if institution is not None:
        hosp_lv = institution.hosp_lv
    elif e.medins_lv in ("1", "2", "3"):
        hosp_lv = int(e.medins_lv)
    else:
        hosp_lv = 0
    admdvs = ctx.mdtrtarea_admvs or e.medins_admdvs or (institution.admdvs if institution else "")
    begn = e.adm_date.date()
    main_dx = e.dscg_main_dise_codg or next((d.dise_codg for d in e.fsi_diagnose_dtos if d.maindise_flag == "1"), "")
    lines: list[Line] = []
    seen: set[str] = set()
    for i, o in enumerate(e.fsi_order_dtos):
        at = f"{where}.fsi_order_dtos[{i}]"
        if o.rx_id in seen:
            raise Refused(f"{at}.rx_id", f"{o.rx_id} 在本次就诊中重复")
        seen.add(o.rx_id)
        if o.cnt <= 0:
            raise Refused(f"{at}.cnt", "数量必须大于0")
        if o.pric < 0:
            raise Refused(f"{at}.pric", "单价不能为负")
        for name, value in (("cnt", o.cnt), ("pric", o.pric), ("sumamt", o.sumamt)):
            _bounded(value, f"{at}.{name}")
        amount = yuan_to_fen(o.sumamt) if o.sumamt is not None else round_fen(o.pric * o.cnt * 100)
        days = o.drug_used_days
        if days is None:
            ordered = o.drord_stop_date and o.drord_begn_date and (o.drord_stop_date - o.drord_begn_date).days
            days = max(0, ordered or 0)
        fee_day = o.drord_begn_date.date() if o.drord_begn_date else begn
        lines.append(Line(o.rx_id, o.hilist_code, fee_day, o.cnt, o.pric, amount, days))
    _bounded(e.medfee_sumamt, f"{where}.medfee_sumamt")
    total = yuan_to_fen(e.medfee_sumamt) if e.medfee_sumamt is not None else sum(x.amount for x in lines)
    return Encounter(
        mdtrt_id=e.mdtrt_id, psn_no=patient.patn_id, gend=patient.gend, age=age_on(patient.brdy, begn),
        insutype=e.insutype, fixmedins_code=e.medins_id, hosp_lv=hosp_lv,
        med_type=e.med_type or ("21" if kind == "inpatient" else "41" if kind == "pharmacy" else "11"), kind=kind,
        begn_date=begn, end_date=e.dscg_date.date() if e.dscg_date else None, main_dx=main_dx,
        diagnoses=tuple(d.dise_codg for d in e.fsi_diagnose_dtos if d.dise_codg != main_dx),
        lines=tuple(lines), cross_region=e.out_setl_flag in ("3", "4") or bool(patient.poolarea and admdvs
                                                                              and patient.poolarea != admdvs),
        admdvs=admdvs, atddr_no=e.dr_codg, medfee_sumamt=total,
    )  # fmt: skip


LARGEST = Decimal(10) ** 10
"""Counts, prices and amounts at or above this are refused: no real order has them, and the engine's
exact arithmetic (millionths of a yuan) stays within Decimal's precision."""


def _bounded(value: Decimal | None, where: str) -> None:
    if value is not None and not abs(value) < LARGEST:
        raise Refused(where, f"{value} 超出合理范围")


def _history(
    store: Store, ctx: Context, patient: PatientIn, sent: list[Encounter], rules: Sequence[Rule]
) -> list[Encounter]:
    """The person's other visits: those in the message, then those of the store (90 days) not in it."""
    if not any(r.cross_visit for r in rules):
        return sent
    named = {e.mdtrt_id for e in sent}
    past = store.recent_visits(patient.patn_id, ctx.now - timedelta(days=HISTORY_DAYS))
    gend, brdy = patient.gend, patient.brdy
    return sent + [past_encounter(p, gend, brdy) for p in past if p.visit.mdtrt_id not in named]


def past_encounter(p: PastVisit, gend: str, brdy: date) -> Encounter:
    """A stored visit as the engine reads it."""
    v = p.visit
    begn = local_date(v.begntime)
    return Encounter(
        mdtrt_id=v.mdtrt_id, psn_no=v.psn_no, gend=gend, age=age_on(brdy, begn), insutype=v.insutype,
        fixmedins_code=v.fixmedins_code, hosp_lv=p.hosp_lv, med_type=v.med_type, kind=v.kind, begn_date=begn,
        end_date=local_date(v.endtime) if v.endtime else None, main_dx=p.main_dx,
        diagnoses=tuple(d for d in p.diagnoses if d != p.main_dx), lines=tuple(_line(x) for x in p.lines),
        cross_region=v.insuplc_admdvs != v.mdtrtarea_admvs, admdvs=v.mdtrtarea_admvs, atddr_no=v.atddr_no,
        medfee_sumamt=sum(x.det_item_fee_sumamt for x in p.lines),
    )  # fmt: skip


def _line(x: FeeLineRecord) -> Line:
    return Line(x.feedetl_sn, x.med_list_codg, local_date(x.fee_ocur_time), x.cnt, x.pric, x.det_item_fee_sumamt,
                days_of_supply(x.body))  # fmt: skip


def days_of_supply(body: str) -> int:
    """用药天数 (2204 prd_days), kept in a stored line's body; 0 when not given or unreadable."""
    if "prd_days" not in body:
        return 0
    value = json.loads(body).get("prd_days")
    try:
        return int(Decimal(str(value))) if value not in (None, "") else 0
    except ArithmeticError:
        return 0


# ------------------------------------------------------------------------------------------ the output


def _result(
    findings: Sequence[Finding], library: RuleLibrary, catalog: Catalog, enc: Encounter, patn_id: str, task_id: str,
    msgid: str, start: int,
) -> list[dict[str, object]]:  # fmt: skip
    """One item (jr_id) per rule and visit, its lines in judge_result_detail_dtos."""
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.rule_id, []).append(f)
    out: list[dict[str, object]] = []
    for rule_id, group in grouped.items():
        rule = library.get(rule_id)
        assert rule is not None
        jr_id = f"{msgid}-{start + len(out) + 1}"
        messages = list(dict.fromkeys(f.message for f in group))
        amount = sum(f.amount for f in group)
        details = [
            {
                "jrd_id": f"{jr_id}-{n}",
                "jr_id": jr_id,
                "patn_id": patn_id,
                "mdtrt_id": enc.mdtrt_id,
                "rx_id": f.feedetl_sn,
                "hilist_code": f.med_list_codg,
                "vola_item_type": item.list_type.value if (item := catalog.get(f.med_list_codg)) else "",
                "vola_amt": fen_to_yuan(f.amount),
            }
            for n, f in enumerate(group, 1)
            if f.feedetl_sn
        ]
        out.append({
            "jr_id": jr_id, "rule_id": rule.id, "rule_name": rule.name, "vola_cont": "；".join(messages),
            "patn_id": patn_id, "mdtrt_id": enc.mdtrt_id, "vola_amt": fen_to_yuan(amount), "vola_amt_stas": "1",
            "sev_deg": SEV_DEG[rule.result], "vola_evid": f"{rule.name}（规则库 {library.version} {rule.id}）",
            "vola_bhvr_type": rule.category, "task_id": task_id, "judge_result_detail_dtos": details,
        })  # fmt: skip
    return out


def _stored(
    f: Finding, library: RuleLibrary, stage: str, ctx: Context, enc: Encounter, insuplc: str, setl_id: str | None = None
) -> StoredFinding:
    return StoredFinding(
        stage=stage, run_id=ctx.msgid, rule_id=f.rule_id, rule_version=library.version, result=f.result,
        mdtrt_id=f.mdtrt_id, feedetl_sn=f.feedetl_sn, med_list_codg=f.med_list_codg, setl_id=setl_id,
        fixmedins_code=enc.fixmedins_code, psn_no=enc.psn_no, insuplc_admdvs=insuplc or enc.admdvs,
        mdtrtarea_admvs=enc.admdvs, amount=f.amount, message=f.message, created_at=ctx.now,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ at settlement


@frozen
class SettlementCheck:
    """The ``during`` rules that need no history, on the lines a settlement pays."""

    findings: list[Finding] = field(default_factory=list)
    library: RuleLibrary | None = None
    encounter: Encounter | None = None
    insuplc: str = ""

    def record(self, store: Store, ctx: Context, setl_id: str) -> None:
        """mark: the findings, stored with the settlement (stage during, run the msgid)."""
        if self.findings and self.library is not None and self.encounter is not None:
            enc, lib = self.encounter, self.library
            stored = [_stored(f, lib, "during", ctx, enc, self.insuplc, setl_id) for f in self.findings]
            store.add_findings(stored, count=False)

    def report(self, output: dict[str, object]) -> dict[str, object]:
        """2206/2303: the findings in the answer (vola_info), nothing stored."""
        if self.findings:
            output["vola_info"] = [
                {"rule_id": f.rule_id, "sev_deg": SEV_DEG[f.result], "feedetl_sn": f.feedetl_sn,
                 "med_list_codg": f.med_list_codg, "vola_amt": fen_to_yuan(f.amount), "vola_cont": f.message}
                for f in self.findings
            ]  # fmt: skip
        return output


def _settlement_rules(library: RuleLibrary) -> tuple[Rule, ...]:
    return _chosen(library, ("@settlement",),
                   lambda: tuple(r for r in library.select(stage="during") if not r.cross_visit))  # fmt: skip


RECENT_REVIEWS: RecentAnswers[tuple[Finding, ...]] = RecentAnswers()
"""The settlement rules' last findings by encounter (pure: no cross-visit rule among them)."""


def check_settlement(
    store: Store,
    ctx: Context,
    visit: VisitRecord,
    person: PersonRecord,
    lines: Sequence[FeeLineRecord],
    med_type: str,
    *,
    refuse: bool,
) -> SettlementCheck:
    """The settlement's check: off does nothing; refuse (when ``refuse``) refuses a definite finding."""
    current = mode()
    if current == "off":
        return SettlementCheck()
    library = store.rule_library()
    rules = _settlement_rules(library)
    institution = store.institution(visit.fixmedins_code)
    catalog = store.catalog(visit.mdtrtarea_admvs)
    begn = local_date(visit.begntime)
    enc = Encounter(
        mdtrt_id=visit.mdtrt_id, psn_no=visit.psn_no, gend=person.gend, age=age_on(person.brdy, begn),
        insutype=visit.insutype, fixmedins_code=visit.fixmedins_code,
        hosp_lv=institution.hosp_lv if institution else 0, med_type=med_type, kind=visit.kind, begn_date=begn,
        end_date=local_date(visit.endtime) if visit.endtime else None, main_dx=visit.dise_codg,
        lines=tuple(_line(x) for x in lines), cross_region=visit.insuplc_admdvs != visit.mdtrtarea_admvs,
        admdvs=visit.mdtrtarea_admvs, atddr_no=visit.atddr_no,
        medfee_sumamt=sum(x.det_item_fee_sumamt for x in lines),
    )  # fmt: skip
    if any(rule.logic in NEEDS_DIAGNOSES for rule in rules):
        enc = _with_diagnoses(enc, store.diagnoses(visit.mdtrt_id))
    found = RECENT_REVIEWS.get(enc, (rules, catalog), lambda: tuple(review(enc, rules, catalog, stage="during")))
    findings = list(found)
    if refuse and current == "refuse":
        definite = [f for f in findings if f.result == "definite"]
        if definite:
            raise Refused("input.data.mdtrt_id", "；".join(_refusal(f, library) for f in definite))
    return SettlementCheck(findings, library, enc, visit.insuplc_admdvs)


def _with_diagnoses(enc: Encounter, rows: Sequence[dict[str, object]]) -> Encounter:
    codes = [str(r.get("diag_code") or "") for r in rows]
    mains = sorted(str(r.get("diag_code") or "") for r in rows if r.get("maindiag_flag") == "1")
    main = mains[0] if mains else enc.main_dx
    return replace(enc, main_dx=main, diagnoses=tuple(c for c in codes if c and c != main))


def _refusal(f: Finding, library: RuleLibrary) -> str:
    rule = library.get(f.rule_id)
    name = rule.name if rule else f.rule_id
    where = f"明细 {f.feedetl_sn}（{f.med_list_codg}）" if f.feedetl_sn else "本次就诊"
    return f"违反规则 {f.rule_id} {name}：{where} {f.message}"
