"""The unified service list (医保经办服务事项清单) and the workflow of an application (docs/services.md).

A service item carries the "six unifications" (六统一) of the Yangtze Delta zone — code, name,
materials, time limit in working days, steps and service standard — plus where it is offered (regions
and levels), how (online, at a counter) and which form fields it asks for. A material may name the
platform data that stands in for it (``source``): the person brings nothing the platform already holds
(最多跑一次), or may sign a promise instead of a certificate (告知承诺制).

An application walks the item's steps: submit → check (materials) → approve → done. A step may open
parallel tasks, one per region or department (一站式联办: the three regions of the zone); the step is
passed when every task is. Check and approve may return the application for missing materials (told
all at once, 一次性告知) or refuse it; a resubmission starts the clock again (行政许可法 art. 32: the day
the complete materials arrive is the day of acceptance).

The clock counts working days: weekdays, less the public holidays, plus the weekend days worked
instead (调休), as data (``Calendar``). Pure: the caller hands in the dates, never the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from datetime import date, timedelta

from yibao.domain.errors import DomainError
from yibao.domain.frozen import frozen

# ---------------------------------------------------------------- the vocabulary

LEVELS: dict[str, str] = {
    "province": "省级",
    "city": "市级",
    "county": "县（区）级",
    "township": "乡镇（街道）",
    "village": "村（社区）",
}
CHANNELS: dict[str, str] = {"online": "网上办", "counter": "窗口办"}
ONLINE, COUNTER = "online", "counter"

SOURCES: dict[str, str] = {
    "identity": "人员基本信息（身份证件）",
    "insurance": "参保信息",
    "contribution": "缴费记录（缴费月数）",
    "account": "个人账户",
    "filings": "异地就医备案记录",
    "special_identity": "人员身份（特困、低保等）",
    "institution": "定点医药机构信息",
}
"""Platform data that can stand in for a material (the app layer knows how to read each)."""

DEPARTMENTS: dict[str, str] = {
    "bureau": "医保经办机构（受理地）",
    "tax": "税务部门",
    "hrss": "人力资源社会保障部门",
    "civil": "民政部门",
    "health": "卫生健康部门",
}
"""Parties a joint (联办) step may open a task for besides regions (six-digit codes); the handling
region's clerks record the tasks of departments (what the department confirmed through data exchange)."""
APPLICANTS = {"person": "个人", "institution": "单位（定点医药机构）"}

FIELD_KINDS = ("text", "date", "admdvs", "choice", "money", "number")

SUBMIT, CHECK, APPROVE, DONE = "submit", "check", "approve", "done"
STEP_ORDER = (SUBMIT, CHECK, APPROVE, DONE)
STEP_LABELS = {SUBMIT: "申请受理", CHECK: "材料审核", APPROVE: "审批", DONE: "办结"}

SUBMITTED, CHECKED, RETURNED, FINISHED, REFUSED = "submitted", "checked", "returned", "done", "refused"
STATUS_LABELS = {
    SUBMITTED: "已受理，待审核材料",
    CHECKED: "材料齐全，待审批",
    RETURNED: "退回补正材料",
    FINISHED: "已办结",
    REFUSED: "不予办理",
}
WAITING_AT = {CHECK: SUBMITTED, APPROVE: CHECKED}
"""The status of an application waiting at a step."""

PASS, RETURN, REFUSE, CANCELLED = "pass", "return", "refuse", "cancelled"
OUTCOME_LABELS = {PASS: "通过", RETURN: "退回补正", REFUSE: "不予办理", CANCELLED: "撤销（其他任务已退回）"}

FETCHED, PROVIDED, PROMISED, MISSING = "fetched", "provided", "promised", "missing"
HOW_LABELS = {FETCHED: "平台已有，无需提供", PROVIDED: "已提供", PROMISED: "告知承诺", MISSING: "未提供"}

UNIFIED = ("code", "name", "materials", "time_limit", "steps", "standard")
"""The six unified attributes (六统一): 事项编码、事项名称、办理材料、办理时限、办理环节、服务标准."""
UNIFIED_LABELS = {
    "code": "事项编码",
    "name": "事项名称",
    "materials": "办理材料",
    "time_limit": "办理时限",
    "steps": "办理环节",
    "standard": "服务标准",
}

# ---------------------------------------------------------------- the item


@frozen
class Material:
    code: str
    name: str
    required: bool = True
    source: str = ""
    """Platform data that stands in for it (``SOURCES``); "" the person provides it."""
    promise: bool = False
    """The person may sign a promise instead (告知承诺制)."""
    when: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Needed only when a form field has one of these values, e.g. {filing_type = ["referral"]}."""

    @property
    def source_label(self) -> str:
        return SOURCES.get(self.source, "")


@frozen
class FormField:
    code: str
    name: str
    kind: str = "text"
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()
    """(value, label) for a ``choice``."""


@frozen
class Step:
    code: str
    name: str = ""
    days: int = 0
    """The step's own limit in working days (0: only the item's)."""
    parallel: tuple[str, ...] = ()
    """One task per region (six digits) or department (``DEPARTMENTS``); none: the handling office."""

    @property
    def label(self) -> str:
        return self.name or STEP_LABELS.get(self.code, self.code)


@frozen
class ServiceItem:
    code: str
    name: str
    family: str
    time_limit: int
    """承诺时限, working days after acceptance; 0: 即办 (the same day)."""
    standard: str
    steps: tuple[Step, ...]
    materials: tuple[Material, ...] = ()
    fields: tuple[FormField, ...] = ()
    regions: tuple[str, ...] = ("*",)
    """Where it is offered: "*" everywhere, or admdvs codes (310118; 310000 the province, …)."""
    levels: tuple[str, ...] = ("city", "county")
    channels: tuple[str, ...] = (ONLINE, COUNTER)
    effect: str = ""
    """What approval does (the app's registry: filing, manual_claim, transfer, …); "" nothing more."""
    instant: bool = False
    """即时办结: done at submission when every material it needs was fetched or promised."""
    zone: str = ""
    """The zone whose unified list it belongs to ("" the national base list); in the zone's regions its
    items replace the national items of the same family."""
    applicant: str = "person"
    """person, or institution (定点医药机构申请: at the counter only; the portal is for persons)."""
    version: str = ""
    note: str = ""

    @property
    def joint(self) -> bool:
        """一站式联办: some step opens tasks in other regions or departments."""
        return any(s.parallel for s in self.steps)

    def step(self, code: str) -> Step:
        found = next((s for s in self.steps if s.code == code), None)
        if found is None:
            raise DomainError("step", f"事项 {self.code} 没有环节 {code}")
        return found

    def next_step(self, code: str) -> str:
        codes = [s.code for s in self.steps]
        return codes[codes.index(code) + 1]

    def offered_in(self, admdvs: str) -> bool:
        return "*" in self.regions or any(admdvs.startswith(region_prefix(r)) for r in self.regions)

    def unified(self) -> dict[str, object]:
        """The six unified attributes, comparable between two regions' lists."""
        return {
            "code": self.code,
            "name": self.name,
            "materials": tuple((m.code, m.name, m.required, m.source, m.promise, sorted(m.when.items()))
                               for m in self.materials),
            "time_limit": self.time_limit,
            "steps": tuple((s.code, s.label, s.days, s.parallel) for s in self.steps),
            "standard": self.standard.strip(),
        }  # fmt: skip


def region_prefix(admdvs: str) -> str:
    """310118 → 310118, 310000 → 31, 000000 → "" (every region)."""
    value = admdvs.strip()
    while value.endswith("00"):
        value = value[:-2]
    return value


def check_item(item: ServiceItem, where: str = "item") -> ServiceItem:
    """The item, or DomainError naming the first key that is wrong."""
    at = f"{where}[{item.code or '?'}]"
    if not item.code.strip() or len(item.code) > 30:
        raise DomainError(f"{at}.code", "事项编码须为 1–30 个字符")
    if not item.name.strip():
        raise DomainError(f"{at}.name", "事项名称不能为空")
    if item.time_limit < 0 or item.time_limit > 365:
        raise DomainError(f"{at}.time_limit", f"办理时限须为 0–365 个工作日，而不是 {item.time_limit}")
    codes = [s.code for s in item.steps]
    if not codes or codes[0] != SUBMIT or codes[-1] != DONE:
        raise DomainError(f"{at}.steps", "办理环节须以 submit（申请受理）开始、以 done（办结）结束")
    order = [STEP_ORDER.index(c) if c in STEP_ORDER else -1 for c in codes]
    if -1 in order or order != sorted(set(order)):
        raise DomainError(f"{at}.steps", f"环节须按 {' → '.join(STEP_ORDER)} 的顺序各出现至多一次：{codes}")
    for i, s in enumerate(item.steps):
        if s.parallel and s.code not in (CHECK, APPROVE):
            raise DomainError(f"{at}.steps.{i}.parallel", "只有 check 与 approve 环节可并联办理")
        bad = [p for p in s.parallel if p not in DEPARTMENTS and not (len(p) == 6 and p.isdigit())]
        if bad or len(set(s.parallel)) != len(s.parallel):
            raise DomainError(
                f"{at}.steps.{i}.parallel", f"并联方须为六位区划或部门（{'/'.join(DEPARTMENTS)}），且不重复"
            )
        if s.days < 0:
            raise DomainError(f"{at}.steps.{i}.days", "环节时限不能为负")
    seen: set[str] = set()
    names = {f.code for f in item.fields}
    for i, m in enumerate(item.materials):
        if m.code in seen or not m.code:
            raise DomainError(f"{at}.materials.{i}.code", f"材料编码 {m.code!r} 为空或重复")
        seen.add(m.code)
        if m.source and m.source not in SOURCES:
            raise DomainError(f"{at}.materials.{i}.source", f"{m.source} 不是平台数据来源（{'/'.join(SOURCES)}）")
        unknown = sorted(set(m.when) - names)
        if unknown:
            raise DomainError(f"{at}.materials.{i}.when", f"表单没有字段 {unknown[0]}")
    for i, f in enumerate(item.fields):
        if f.kind not in FIELD_KINDS:
            raise DomainError(f"{at}.fields.{i}.kind", f"{f.kind} 不是字段类型（{'/'.join(FIELD_KINDS)}）")
        if (f.kind == "choice") != bool(f.choices):
            raise DomainError(f"{at}.fields.{i}.choices", "choice 字段须列出 choices，其他字段不能有")
    if [f.code for f in item.fields] != list(dict.fromkeys(f.code for f in item.fields)):
        raise DomainError(f"{at}.fields", "字段编码重复")
    if item.applicant not in APPLICANTS:
        raise DomainError(f"{at}.applicant", f"须为 {'/'.join(APPLICANTS)}")
    for key, allowed, values in (("levels", LEVELS, item.levels), ("channels", CHANNELS, item.channels)):
        if not values or any(v not in allowed for v in values):
            raise DomainError(f"{at}.{key}", f"须为 {'/'.join(allowed)} 中的一个或多个")
    if not item.regions or any(r != "*" and not (len(r) == 6 and r.isdigit()) for r in item.regions):
        raise DomainError(f"{at}.regions", '须为 "*" 或六位行政区划')
    return item


@frozen
class Catalogue:
    """A versioned list of items (the shipped national base list and the zones' unified lists)."""

    version: str
    items: tuple[ServiceItem, ...]

    def get(self, code: str) -> ServiceItem | None:
        return next((i for i in self.items if i.code == code), None)

    def offered_in(self, admdvs: str) -> list[ServiceItem]:
        """The items of a region: a zone's unified items where the zone has them, and the national
        items of the families the zone's list does not cover."""
        here = [i for i in self.items if i.offered_in(admdvs)]
        zoned = {i.family for i in here if i.zone}
        return [i for i in here if i.zone or i.family not in zoned]


def check_catalogue(catalogue: Catalogue) -> Catalogue:
    codes = [i.code for i in catalogue.items]
    for n, item in enumerate(catalogue.items):
        check_item(item, f"items.{n}")
        if item.code in codes[:n]:
            raise DomainError(f"items.{n}.code", f"{item.code} 出现两次")
    return catalogue


# ---------------------------------------------------------------- the diff of two regions' lists


@frozen
class Difference:
    kind: str
    """only_a, only_b or differs."""
    code_a: str
    code_b: str
    name: str
    attributes: tuple[str, ...] = ()
    """The unified attributes that differ (``UNIFIED``)."""

    @property
    def labels(self) -> str:
        return "、".join(UNIFIED_LABELS[a] for a in self.attributes)


def diff(a: Sequence[ServiceItem], b: Sequence[ServiceItem]) -> list[Difference]:
    """What is not yet unified between two lists: items of one only, and items both have whose six
    unified attributes differ. Two items are one service when they share the code, else the name, else
    the family when each list has one item of it left. Empty: the two lists are one list."""
    pairs: dict[int, ServiceItem] = {}
    left = list(b)

    def take(i: int, other: ServiceItem | None) -> None:
        if other is not None:
            pairs[i] = other
            left.remove(other)

    for i, item in enumerate(a):
        take(i, next((o for o in left if o.code == item.code), None))
    for i, item in enumerate(a):
        if i not in pairs:
            take(i, next((o for o in left if o.name == item.name), None))
    for i, item in enumerate(a):
        mine = [j for j, x in enumerate(a) if j not in pairs and x.family == item.family]
        theirs = [o for o in left if o.family == item.family]
        if i not in pairs and len(mine) == 1 and len(theirs) == 1:
            take(i, theirs[0])
    out: list[Difference] = []
    for i, item in enumerate(a):
        other = pairs.get(i)
        if other is None:
            out.append(Difference("only_a", item.code, "", item.name))
            continue
        ua, ub = item.unified(), other.unified()
        differing = tuple(k for k in UNIFIED if ua[k] != ub[k])
        if differing:
            out.append(Difference("differs", item.code, other.code, item.name, differing))
    return out + [Difference("only_b", "", o.code, o.name) for o in left]


# ---------------------------------------------------------------- materials


@frozen
class MaterialState:
    code: str
    name: str
    how: str
    """fetched, provided, promised or missing (``HOW_LABELS``)."""
    value: str = ""
    """What stands in for it: the platform data (masked), or the person's reference (an invoice number)."""

    @property
    def label(self) -> str:
        return HOW_LABELS.get(self.how, self.how)


def needed(item: ServiceItem, form: Mapping[str, str]) -> list[Material]:
    """The materials the application needs, given its form (``Material.when``)."""
    return [m for m in item.materials if all(form.get(k, "") in v for k, v in m.when.items())]


def missing(item: ServiceItem, form: Mapping[str, str], states: Iterable[MaterialState]) -> list[Material]:
    """Required materials neither fetched, provided nor promised."""
    have = {s.code for s in states if s.how != MISSING}
    return [m for m in needed(item, form) if m.required and m.code not in have]


def needs_a_look(item: ServiceItem, form: Mapping[str, str], states: Iterable[MaterialState]) -> bool:
    """Something a person provided (a certificate, a receipt) that a clerk must look at."""
    codes = {m.code for m in needed(item, form)}
    return any(s.how in (PROVIDED, MISSING) for s in states if s.code in codes)


def check_form(item: ServiceItem, form: Mapping[str, str]) -> dict[str, str]:
    """The form's fields of the item (others dropped), or DomainError naming a required one left empty
    or a value that does not fit its kind."""
    out: dict[str, str] = {}
    for f in item.fields:
        value = form.get(f.code, "").strip()[:500]
        where = f"form.{f.code}"
        if not value:
            if f.required:
                raise DomainError(where, f"请填写{f.name}")
            continue
        if f.kind == "choice" and value not in {c for c, _ in f.choices}:
            raise DomainError(where, f"{value!r} 不是{f.name}的选项")
        if f.kind == "admdvs" and not (len(value) == 6 and value.isdigit()):
            raise DomainError(where, f"{f.name}须为六位行政区划代码")
        if f.kind == "date":
            try:
                date.fromisoformat(value)
            except ValueError:
                raise DomainError(where, f"{f.name}须为日期 YYYY-MM-DD") from None
        if f.kind in ("money", "number"):
            digits = value.replace(".", "", 1)
            if not digits.isdigit() or (f.kind == "number" and "." in value):
                raise DomainError(where, f"{f.name}须为{'金额（元）' if f.kind == 'money' else '整数'}")
        out[f.code] = value
    return out


# ---------------------------------------------------------------- the workflow


@frozen
class Move:
    """What one outcome does to an application."""

    status: str
    step: str
    open: tuple[str, ...]
    """Parties of the tasks to open at ``step`` ("" the handling office)."""
    finished: bool = False
    """Reached done: approval's effect runs now."""
    cancel_others: bool = False
    """Close the step's other open tasks (a return or refusal ends them)."""


def parties(item: ServiceItem, step: str) -> tuple[str, ...]:
    return item.step(step).parallel or ("",)


def after(item: ServiceItem, step: str) -> Move:
    """The move once every task of ``step`` has passed."""
    nxt = item.next_step(step)
    if nxt == DONE:
        return Move(FINISHED, DONE, (), finished=True)
    return Move(WAITING_AT[nxt], nxt, parties(item, nxt))


def decide(item: ServiceItem, step: str, outcome: str, others_open: int) -> Move:
    """The move when a task of ``step`` closes with ``outcome`` and ``others_open`` tasks of the step
    are still open (parallel tasks: the step passes when the last one does)."""
    if step not in (CHECK, APPROVE):
        raise DomainError("step", f"{STEP_LABELS.get(step, step)}环节不由经办人员办理")
    if outcome == RETURN:
        return Move(RETURNED, SUBMIT, (), cancel_others=True)
    if outcome == REFUSE:
        return Move(REFUSED, DONE, (), cancel_others=True)
    if outcome != PASS:
        raise DomainError(
            "outcome", f"办理结果须为 pass（通过）、return（退回补正）或 refuse（不予办理），而不是 {outcome!r}"
        )
    if others_open:
        waiting = WAITING_AT[step]
        return Move(waiting, step, ())
    return after(item, step)


def submitted(item: ServiceItem, form: Mapping[str, str], states: Sequence[MaterialState]) -> Move:
    """The move of a (re)submission: an instant item with nothing to look at is done at once; else the
    step after submit (a missing required material is for the check to return)."""
    if item.instant and not needs_a_look(item, form, states) and not missing(item, form, states):
        return Move(FINISHED, DONE, (), finished=True)
    return after(item, SUBMIT)


# ---------------------------------------------------------------- working days


@frozen
class Calendar:
    """Public holidays and the weekend days worked instead (调休), by year."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()
    """Saturdays and Sundays that are working days."""
    years: frozenset[int] = frozenset()
    """Years the data covers; other years count Monday to Friday."""

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def known(self, day: date) -> bool:
        return day.year in self.years


def add_working_days(cal: Calendar, start: date, n: int) -> date:
    """The n-th working day after ``start`` (the day of acceptance is not counted); n = 0: ``start``."""
    if n < 0:
        raise DomainError("time_limit", "时限不能为负")
    day = start
    while n:
        day += timedelta(days=1)
        if cal.is_working_day(day):
            n -= 1
    return day


def working_days(cal: Calendar, start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 if ``end`` is not after ``start``)."""
    count, day = 0, start
    while day < end:
        day += timedelta(days=1)
        count += cal.is_working_day(day)
    return count


@frozen
class Timing:
    """An application or a step against its limit."""

    due: date
    used: int
    """Working days used so far (or in all, when finished)."""
    left: int
    """Working days left until the due date (negative: that many past it)."""
    overdue: bool
    due_soon: bool
    """Open, not overdue, and at most one working day left."""


def timing(cal: Calendar, accepted: date, limit: int, today: date, finished: date | None = None) -> Timing:
    """The clock from acceptance (``accepted``, local date) over ``limit`` working days, read on ``today``
    (or at ``finished``)."""
    return against(cal, accepted, add_working_days(cal, accepted, limit), today, finished)


def against(cal: Calendar, start: date, due: date, today: date, finished: date | None = None) -> Timing:
    """The clock from ``start`` to a ``due`` date, read on ``today`` (or at ``finished``)."""
    end = finished or today
    used = working_days(cal, start, end)
    left = working_days(cal, end, due) if end <= due else -working_days(cal, due, end)
    overdue = end > due
    return Timing(due, used, left, overdue, finished is None and not overdue and left <= 1)
