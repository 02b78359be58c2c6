"""The rule engine: one visit against the rule library, the meanings of docs/supervision.md to the letter.

``review`` selects the rules of the stage and the visit's scenes and runs each rule's logic. Per
(rules, catalogue) a plan is compiled once: for each rule the catalogue items its logic can fire on
(e.g. only items with a sex restriction), so that a line costs a dictionary lookup per rule.

The facts a rule's message may name (yibao.domain.supervision.params.FACTS): rule (its name), code,
name (the item's name), sn, date, cnt, pric, amount (yuan), limit (what the catalogue or rule allows),
value (what the visit has), other (the other item or line), gend, age, dx, insutype, med_type, hosp_lv,
days, prev (the other visit), count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from yibao.domain.catalog import Catalog, CatalogItem
from yibao.domain.frozen import frozen
from yibao.domain.money import yuan_to_fen
from yibao.domain.supervision.encounter import Encounter, Line
from yibao.domain.supervision.rules import VISIT_LOGICS, Finding, Rule, RuleLibrary

Facts = dict[str, object]
Hit = tuple[Line | None, Facts]
"""A line (None: the visit) the rule fires on, with the facts its message names."""

SEX = {"1": "男", "2": "女"}
MICRO = Decimal(1_000_000)
_ONE = Decimal(1)


@frozen
class Visit:
    """A visit being reviewed with what every logic needs looked up once."""

    enc: Encounter
    catalog: Catalog
    items: Mapping[str, CatalogItem]
    """The visit's codes that are in the catalogue."""
    history: Sequence[Encounter]
    """Other visits (never the reviewed one)."""

    def name(self, code: str) -> str:
        item = self.items.get(code) or self.catalog.get(code)
        return item.name if item else code


Logic = Callable[["Compiled", Visit, Sequence[Line]], list[Hit]]


@frozen
class Compiled:
    rule: Rule
    logic: Logic
    candidates: frozenset[str] | None
    """Codes the logic can fire on (None: any code of a looked-at list type)."""
    list_types: frozenset[str]


# ------------------------------------------------------------------------------------------ line logics


def _looked_at(c: Compiled, v: Visit) -> list[Line]:
    """Lines of catalogue items of the rule's list types."""
    items, types = v.items, c.list_types
    return [
        ln
        for ln in v.enc.lines
        if ln.med_list_codg in items and (not types or items[ln.med_list_codg].list_type in types)
    ]


def _facts(v: Visit, ln: Line, **more: object) -> Facts:
    return {"code": ln.med_list_codg, "name": v.name(ln.med_list_codg), "sn": ln.feedetl_sn,
            "date": ln.fee_date.isoformat(), "cnt": _num(ln.cnt), "pric": _num(ln.pric),
            "amount": _yuan(ln.amount), **more}  # fmt: skip


def _sex(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    gend = v.enc.gend
    if gend not in SEX:
        return []
    out: list[Hit] = []
    for ln in lines:
        sex = v.items[ln.med_list_codg].restrictions.sex
        if sex and sex != gend:
            out.append((ln, _facts(v, ln, limit=SEX.get(sex, sex), value=SEX[gend])))
    return out


def _age(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    age, out = v.enc.age, list[Hit]()
    for ln in lines:
        r = v.items[ln.med_list_codg].restrictions
        if (r.age_min is not None and age < r.age_min) or (r.age_max is not None and age > r.age_max):
            limit = f"{r.age_min if r.age_min is not None else 0}–{r.age_max if r.age_max is not None else ''}岁"
            out.append((ln, _facts(v, ln, limit=limit, value=f"{age}岁")))
    return out


def _insutype(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    return [
        (ln, _facts(v, ln, limit=_insutypes(types), value=v.enc.insutype))
        for ln in lines
        if (types := v.items[ln.med_list_codg].restrictions.insutypes) and v.enc.insutype not in types
    ]


def _insutypes(types: Iterable[str]) -> str:
    names = {"510": "生育保险", "work_injury": "工伤保险", "310": "职工基本医疗保险", "390": "城乡居民基本医疗保险"}
    return "、".join(names.get(t, t) for t in types)


def _indication(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    dxs = [d for d in (v.enc.main_dx, *v.enc.diagnoses) if d]
    out: list[Hit] = []
    for ln in lines:
        prefixes = v.items[ln.med_list_codg].restrictions.dx_prefixes
        if prefixes and not any(d.startswith(p) for d in dxs for p in prefixes):
            out.append((ln, _facts(v, ln, limit="、".join(prefixes), value="、".join(dxs) or "无")))
    return out


def _hosp_level(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    out: list[Hit] = []
    for ln in lines:
        lv = v.items[ln.med_list_codg].restrictions.min_hosp_lv
        if lv is not None and lv > v.enc.hosp_lv:
            out.append((ln, _facts(v, ln, limit=f"{lv}级及以上", value=f"{v.enc.hosp_lv}级")))
    return out


def _med_type(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    return [
        (ln, _facts(v, ln, limit="、".join(types), value=v.enc.med_type))
        for ln in lines
        if (types := v.items[ln.med_list_codg].restrictions.med_types) and v.enc.med_type not in types
    ]


def _price_cap(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    out: list[Hit] = []
    for ln in lines:
        cap = v.items[ln.med_list_codg].price_cap_in(v.enc.admdvs)
        if cap is not None and _micro(ln.pric) > _micro(cap):
            out.append((ln, _facts(v, ln, limit=_num(cap), value=_num(ln.pric))))
    return out


def _day_quantity(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    groups: dict[tuple[str, date], list[Line]] = defaultdict(list)
    for ln in lines:
        if v.items[ln.med_list_codg].restrictions.max_cnt_per_day is not None:
            groups[(ln.med_list_codg, ln.fee_date)].append(ln)
    return _over(v, groups.values(), lambda ln: v.items[ln.med_list_codg].restrictions.max_cnt_per_day)


def _visit_quantity(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    groups: dict[str, list[Line]] = defaultdict(list)
    for ln in lines:
        if v.items[ln.med_list_codg].restrictions.max_cnt_per_visit is not None:
            groups[ln.med_list_codg].append(ln)
    return _over(v, groups.values(), lambda ln: v.items[ln.med_list_codg].restrictions.max_cnt_per_visit)


def _over(v: Visit, groups: Iterable[list[Line]], limit_of: Callable[[Line], Decimal | None]) -> list[Hit]:
    out: list[Hit] = []
    for group in groups:
        limit, total = limit_of(group[0]), sum((ln.cnt for ln in group), Decimal(0))
        if limit is not None and total > limit:
            out += [(ln, _facts(v, ln, limit=_num(limit), value=_num(total))) for ln in group]
    return out


def _days_supply(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    fixed = c.rule.params.get("max_days")
    out: list[Hit] = []
    for ln in lines:
        limit = fixed if fixed is not None else v.items[ln.med_list_codg].restrictions.max_days
        if limit is not None and ln.days > limit:
            out.append((ln, _facts(v, ln, limit=limit, value=ln.days, days=ln.days)))
    return out


def _exclusive_pair(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    on_day: dict[tuple[str, date], list[Line]] = defaultdict(list)
    for ln in lines:
        on_day[(ln.med_list_codg, ln.fee_date)].append(ln)
    fired: dict[str, Hit] = {}
    for a, b in c.rule.params["pairs"]:
        for (code, day), seconds in on_day.items():
            if code == b and (a, day) in on_day:
                for ln in seconds:
                    fired.setdefault(ln.feedetl_sn, (ln, _facts(v, ln, other=v.name(a), limit=a)))
    return list(fired.values())


def _requires_item(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    prefix, requires = c.rule.params["item"], tuple(c.rule.params["requires"])
    if any(ln.med_list_codg.startswith(requires) for ln in v.enc.lines):
        return []
    return [(ln, _facts(v, ln, limit="、".join(requires))) for ln in lines if ln.med_list_codg.startswith(prefix)]


def _never_paid(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    codes = tuple(c.rule.params["codes"])
    return [(ln, _facts(v, ln)) for ln in lines if ln.med_list_codg.startswith(codes)]


def _duplicate_group(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    n = int(c.rule.params["group_len"])
    groups: dict[tuple[str, date], list[Line]] = defaultdict(list)
    for ln in lines:
        groups[(ln.med_list_codg[1 : 1 + n], ln.fee_date)].append(ln)
    out: list[Hit] = []
    for (group, _), group_lines in groups.items():
        codes = {ln.med_list_codg for ln in group_lines}
        if len(codes) >= 2:
            kept = min(codes)
            out += [(ln, _facts(v, ln, other=v.name(kept), limit=group))
                    for ln in group_lines if ln.med_list_codg != kept]  # fmt: skip
    return out


def _duplicate_line(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    groups: dict[tuple[str, date, int, Decimal], list[Line]] = defaultdict(list)
    for ln in lines:
        groups[(ln.med_list_codg, ln.fee_date, _micro(ln.pric), ln.cnt)].append(ln)
    out: list[Hit] = []
    for group in groups.values():
        if len(group) >= 2:
            first = min(ln.feedetl_sn for ln in group)
            out += [(ln, _facts(v, ln, other=first)) for ln in group if ln.feedetl_sn != first]
    return out


def _fee_outside_visit(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    begn, end = v.enc.begn_date, v.enc.end_date
    span = f"{begn.isoformat()}～{end.isoformat() if end else ''}"
    return [(ln, _facts(v, ln, limit=span, value=ln.fee_date.isoformat()))
            for ln in lines if ln.fee_date < begn or (end is not None and ln.fee_date > end)]  # fmt: skip


def _amount_mismatch(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    out: list[Hit] = []
    for ln in lines:
        computed = yuan_to_fen(ln.pric * ln.cnt)
        if abs(computed - ln.amount) > 1:
            out.append((ln, _facts(v, ln, limit=_yuan(computed), value=_yuan(ln.amount))))
    return out


def _unknown_item(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    return [(ln, _facts(v, ln)) for ln in v.enc.lines if ln.med_list_codg not in v.items]


def _early_refill(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    if v.enc.kind != "outpatient":
        return []
    grace = int(c.rule.params.get("grace", 0))
    earlier: dict[str, list[tuple[date, int, str]]] = defaultdict(list)
    for other in v.history:
        if other.kind == "outpatient" and other.psn_no == v.enc.psn_no:
            for e in other.lines:
                if e.days > 0:
                    earlier[e.med_list_codg].append((e.fee_date, e.days, other.mdtrt_id))
    out: list[Hit] = []
    for ln in lines:
        for d1, n, prev in earlier.get(ln.med_list_codg, ()):
            if d1 < ln.fee_date and (ln.fee_date - d1).days < n - grace:
                out.append((ln, _facts(v, ln, prev=prev, other=d1.isoformat(), limit=n, days=(ln.fee_date - d1).days)))
                break
    return out


# ------------------------------------------------------------------------------------------ visit logics


def _visit_facts(v: Visit, **more: object) -> Facts:
    return {"amount": _yuan(v.enc.medfee_sumamt), **more}


def _missing_diagnosis(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    return [] if v.enc.main_dx or v.enc.diagnoses else [(None, _visit_facts(v))]


def _readmission(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    e = v.enc
    if e.kind != "inpatient" or not e.main_dx:
        return []
    days, same_inst = int(c.rule.params["days"]), bool(c.rule.params.get("same_institution", False))
    for p in v.history:
        if (
            p.kind == "inpatient" and p.psn_no == e.psn_no and p.end_date is not None
            and (p.begn_date, p.mdtrt_id) < (e.begn_date, e.mdtrt_id)
            and 0 <= (e.begn_date - p.end_date).days <= days
            and p.main_dx[:3] == e.main_dx[:3]
            and (not same_inst or p.fixmedins_code == e.fixmedins_code)
        ):  # fmt: skip
            gap = (e.begn_date - p.end_date).days
            return [(None, _visit_facts(v, prev=p.mdtrt_id, other=p.end_date.isoformat(), days=gap, limit=days,
                                        dx=e.main_dx))]  # fmt: skip
    return []


def _outpatient_during_stay(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    e = v.enc
    if e.kind != "outpatient":
        return []
    for s in v.history:
        if (
            s.kind == "inpatient" and s.psn_no == e.psn_no
            and s.begn_date < e.begn_date and (s.end_date is None or e.begn_date < s.end_date)
        ):  # fmt: skip
            span = f"{s.begn_date.isoformat()}～{s.end_date.isoformat() if s.end_date else ''}"
            return [(None, _visit_facts(v, prev=s.mdtrt_id, other=span, date=e.begn_date.isoformat()))]
    return []


def _bed_days_without_treatment(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    if v.enc.kind != "inpatient":
        return []
    bed = tuple(c.rule.params["bed_codes"])
    care = bed + tuple(c.rule.params.get("nursing_codes", ()))
    bed_days: set[date] = set()
    treated: set[date] = set()
    for ln in v.enc.lines:
        if ln.med_list_codg.startswith(bed):
            bed_days.add(ln.fee_date)
        if not ln.med_list_codg.startswith(care):
            treated.add(ln.fee_date)
    idle = len(bed_days - treated)
    if idle >= int(c.rule.params["min_days"]):
        return [(None, _visit_facts(v, days=idle, limit=c.rule.params["min_days"]))]
    return []


def _same_day_repeat(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    e = v.enc
    if e.kind != "outpatient":
        return []
    before = [
        o.mdtrt_id for o in v.history
        if o.kind == "outpatient" and o.psn_no == e.psn_no and o.fixmedins_code == e.fixmedins_code
        and o.begn_date == e.begn_date and o.mdtrt_id < e.mdtrt_id
    ]  # fmt: skip
    if not before:
        return []
    return [(None, _visit_facts(v, prev=min(before), count=len(before) + 1, date=e.begn_date.isoformat()))]


def _practitioner_load(c: Compiled, v: Visit, lines: Sequence[Line]) -> list[Hit]:
    e = v.enc
    if e.kind != "outpatient" or not e.atddr_no:
        return []
    count = 1 + sum(
        1 for o in v.history if o.kind == "outpatient" and o.atddr_no == e.atddr_no and o.begn_date == e.begn_date
    )
    limit = int(c.rule.params["max_visits"])
    if count > limit:
        return [(None, _visit_facts(v, count=count, limit=limit, value=e.atddr_no, date=e.begn_date.isoformat()))]
    return []


LOGIC_FUNCTIONS: dict[str, Logic] = {
    "sex": _sex, "age": _age, "insutype": _insutype, "indication": _indication, "hosp_level": _hosp_level,
    "med_type": _med_type, "price_cap": _price_cap, "day_quantity": _day_quantity,
    "visit_quantity": _visit_quantity, "days_supply": _days_supply, "exclusive_pair": _exclusive_pair,
    "requires_item": _requires_item, "never_paid": _never_paid, "duplicate_group": _duplicate_group,
    "duplicate_line": _duplicate_line, "fee_outside_visit": _fee_outside_visit,
    "amount_mismatch": _amount_mismatch, "unknown_item": _unknown_item, "early_refill": _early_refill,
    "missing_diagnosis": _missing_diagnosis, "readmission": _readmission,
    "outpatient_during_stay": _outpatient_during_stay, "bed_days_without_treatment": _bed_days_without_treatment,
    "same_day_repeat": _same_day_repeat, "practitioner_load": _practitioner_load,
}  # fmt: skip


# ------------------------------------------------------------------------------------------ the plan


def _candidates(rule: Rule, catalog: Catalog) -> frozenset[str] | None:
    """The catalogue codes a restriction logic can fire on; None for the other logics."""
    wanted: Callable[[CatalogItem], object] | None = {
        "sex": lambda i: i.restrictions.sex,
        "age": (lambda i: i.restrictions.age_max is not None and i.restrictions.age_max <= 17)
        if rule.params.get("child_only")
        else (lambda i: i.restrictions.age_min is not None
              or (i.restrictions.age_max is not None and i.restrictions.age_max > 17)),
        "insutype": (lambda i: rule.params["insutype"] in i.restrictions.insutypes)
        if "insutype" in rule.params
        else (lambda i: i.restrictions.insutypes),
        "indication": lambda i: i.restrictions.dx_prefixes,
        "hosp_level": lambda i: i.restrictions.min_hosp_lv is not None,
        "med_type": lambda i: i.restrictions.med_types,
        "price_cap": lambda i: i.pric_uplmt_amt is not None or i.pric_uplmt_by_admdvs,
        "day_quantity": lambda i: i.restrictions.max_cnt_per_day is not None,
        "visit_quantity": lambda i: i.restrictions.max_cnt_per_visit is not None,
        "days_supply": (lambda i: True) if rule.params.get("max_days") is not None
        else (lambda i: i.restrictions.max_days is not None),
    }.get(rule.logic)  # fmt: skip
    if wanted is None:
        return None
    return frozenset(code for code, item in catalog.items.items() if rule.looks_at(item.list_type) and wanted(item))


@frozen
class Plan:
    rules: tuple[Rule, ...]
    catalog: Catalog
    compiled: tuple[Compiled, ...]
    by_stage_scene: dict[tuple[str, str], tuple[Compiled, ...]]


_PLANS: dict[tuple[int, int], Plan] = {}


def plan_for(rules: tuple[Rule, ...], catalog: Catalog) -> Plan:
    """The compiled plan of these rules over this catalogue, cached by the objects' identity."""
    key = (id(rules), id(catalog))
    plan = _PLANS.get(key)
    if plan is not None and plan.rules is rules and plan.catalog is catalog:
        return plan
    compiled = tuple(
        Compiled(r, LOGIC_FUNCTIONS[r.logic], _candidates(r, catalog), frozenset(r.list_types)) for r in rules
    )
    by: dict[tuple[str, str], tuple[Compiled, ...]] = {}
    for stage in ("before", "during", "after"):
        for scene in ("outpatient", "inpatient", "pharmacy", "internet", "cross_region"):
            by[(stage, scene)] = tuple(c for c in compiled if stage in c.rule.stages and scene in c.rule.scenes)
    plan = Plan(rules, catalog, compiled, by)
    if len(_PLANS) > 16:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


def _rules_of(library_or_rules: RuleLibrary | Sequence[Rule]) -> tuple[Rule, ...]:
    if isinstance(library_or_rules, RuleLibrary):
        return library_or_rules.rules
    return library_or_rules if isinstance(library_or_rules, tuple) else tuple(library_or_rules)


# ------------------------------------------------------------------------------------------ review


def review(
    encounter: Encounter,
    library_or_rules: RuleLibrary | Sequence[Rule],
    catalog: Catalog,
    *,
    stage: str,
    history: Sequence[Encounter] = (),
) -> list[Finding]:
    """The findings of the rules of ``stage`` in the visit's scenes, in library order then line order.

    ``history`` holds other visits (the person's, and the practitioner's for practitioner_load); the
    visit itself is left out of it by mdtrt_id.
    """
    plan = plan_for(_rules_of(library_or_rules), catalog)
    rules = _applicable(plan, stage, encounter.scenes)
    if not rules:
        return []
    items = {}
    for ln in encounter.lines:
        item = catalog.get(ln.med_list_codg)
        if item is not None:
            items[ln.med_list_codg] = item
    others = [h for h in history if h.mdtrt_id != encounter.mdtrt_id]
    visit = Visit(encounter, catalog, items, others)
    base = {"gend": SEX.get(encounter.gend, encounter.gend), "age": encounter.age, "dx": encounter.main_dx,
            "insutype": encounter.insutype, "med_type": encounter.med_type, "hosp_lv": encounter.hosp_lv}  # fmt: skip
    order = {ln.feedetl_sn: i for i, ln in enumerate(encounter.lines)}
    present = {ln.med_list_codg for ln in encounter.lines}
    looked_at: dict[frozenset[str], list[Line]] = {}
    findings: list[Finding] = []
    for c in rules:
        if c.rule.logic in VISIT_LOGICS:
            lines: Sequence[Line] = ()
        elif c.candidates is not None:
            cands = c.candidates
            if cands.isdisjoint(present):
                continue
            lines = [ln for ln in encounter.lines if ln.med_list_codg in cands]
        else:
            if c.list_types not in looked_at:
                looked_at[c.list_types] = _looked_at(c, visit)
            lines = looked_at[c.list_types]
        hits = c.logic(c, visit, lines)
        hits.sort(key=lambda h: order.get(h[0].feedetl_sn, 0) if h[0] else -1)
        for line, facts in hits:
            findings.append(_finding(c.rule, encounter, line, {"rule": c.rule.name, **base, **facts}))
    return findings


def _applicable(plan: Plan, stage: str, scenes: Sequence[str]) -> tuple[Compiled, ...]:
    if len(scenes) == 1:
        return plan.by_stage_scene.get((stage, scenes[0]), ())
    wanted = {c.rule.id for s in scenes for c in plan.by_stage_scene.get((stage, s), ())}
    return tuple(c for c in plan.compiled if c.rule.id in wanted)


def _finding(rule: Rule, enc: Encounter, line: Line | None, facts: Facts) -> Finding:
    message = rule.message.format_map(_Blank(facts))
    if line is None:
        return Finding(rule.id, rule.result, enc.mdtrt_id, "", "", enc.medfee_sumamt, message)
    return Finding(rule.id, rule.result, enc.mdtrt_id, line.feedetl_sn, line.med_list_codg, line.amount, message)


class _Blank(dict[str, Any]):
    """Facts a logic has none of read as empty text."""

    def __missing__(self, key: str) -> str:
        return ""


def _micro(value: Decimal) -> int:
    return int((value * MICRO).quantize(_ONE, ROUND_HALF_UP))


def _num(value: Decimal | int) -> str:
    if isinstance(value, int):
        return str(value)
    text = format(value.normalize(), "f")
    return text


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
