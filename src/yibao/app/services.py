"""Service items and applications (经办服务: 事项清单, 最多跑一次, 一站式联办; docs/services.md).

- The list: a region's adopted list (``adopt``: the shipped items offered there, plus its own local
  items), or, until it adopts one, the shipped items offered there; ``list_diff`` says what two
  regions have not unified yet.
- An application (``submit``): in the portal by the person (online, no trip) or at a counter by a clerk
  (a trip). Materials the platform holds are filled in from its data (``FETCHERS``); the person only
  provides the rest, or signs a promise where the item allows. The item's steps then open tasks
  (``decide`` closes one: pass, return for materials — all of them named at once — or refuse); a
  joint step's tasks, one per region or department, all have to pass. A returned application is
  resubmitted (``resubmit``) and its clock starts again.
- Approval's effect (``EFFECTS``, by the item's ``effect``): 异地就医备案 files and approves the filing
  (``yibao.app.filings``); 零星报销 and 转移接续 call their use cases. On a node of several, a 转移接续
  with the other region on another node is made through the hub before the approval's transaction
  (``through_hub``).
- ``board``: applications by item, status and region, working days against the time limit, the share
  handled online, trips per finished application, and what is overdue.

Every submission, decision and view of an application is written to the audit log in its transaction.
The application keeps a copy of the item as it was when submitted: a later list changes nothing in it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, TypeVar

from yibao.app import filings, manual_claims, transfers
from yibao.app.accounts import CONSOLE, PORTAL, Principal, covers
from yibao.app.audit import AuditEntry, record
from yibao.app.errors import NotFound, Refused
from yibao.app.privacy import looks_like_certno, mask_certno, mask_name
from yibao.app.records import local_date
from yibao.app.transfers import Hub, HubFirst
from yibao.domain.codes import Insutype, PsnCertType, PsnIdetType
from yibao.domain.errors import DomainError
from yibao.domain.filings import FilingStatus
from yibao.domain.money import fen_to_yuan
from yibao.domain.services import (
    CANCELLED,
    CHECK,
    COUNTER,
    DEPARTMENTS,
    DONE,
    FETCHED,
    FINISHED,
    MISSING,
    ONLINE,
    OUTCOME_LABELS,
    PASS,
    PROMISED,
    PROVIDED,
    REFUSE,
    REFUSED,
    RETURN,
    RETURNED,
    STATUS_LABELS,
    STEP_LABELS,
    SUBMIT,
    Calendar,
    Catalogue,
    Difference,
    MaterialState,
    Move,
    ServiceItem,
    Timing,
    add_working_days,
    against,
    check_form,
    check_item,
    decide,
    diff,
    missing,
    needed,
    submitted,
    timing,
)

if TYPE_CHECKING:
    from yibao.app.cross_region import Federation
    from yibao.app.ports import Store, UnitOfWork

T = TypeVar("T")

SYSTEM = "即时办结"
"""The actor of what the platform does by itself (an instant item's approval)."""
INBOX_LIMIT = 500
BOARD_LIMIT = 50_000
"""Applications the board reads for its clock figures (the newest first)."""


class ServiceAction(StrEnum):
    """The audit log's actions of this module."""

    SUBMIT = "service.submit"
    RESUBMIT = "service.resubmit"
    DECIDE = "service.decide"
    VIEW = "service.view"
    INBOX = "service.inbox"
    ADOPT = "service.adopt"


# ---------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class Application:
    application_id: str
    item: ServiceItem
    """The item as it was when submitted."""
    psn_no: str
    """"" for an institution's application (定点医药机构申请)."""
    admdvs: str
    """The handling region (where it was submitted)."""
    channel: str
    """online or counter: where it was first submitted."""
    status: str
    step: str
    """The step it waits at (submit while returned; done when finished or refused)."""
    form: dict[str, str]
    materials: tuple[MaterialState, ...]
    due_date: date
    """The time limit's last working day, from the latest acceptance."""
    trips: int
    """Counter visits of the person (submissions and resubmissions at a counter)."""
    submitted_at: datetime
    accepted_at: datetime
    """The latest (re)submission: the clock starts again there. Naive UTC, as are the others."""
    updated_at: datetime
    created_by: str
    updated_by: str
    finished_at: datetime | None = None
    result: dict[str, str] = field(default_factory=dict)
    """What approval's effect did (a filing number, amounts paid …)."""
    note: str = ""
    """The latest return or refusal: what is missing, or why."""

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def step_label(self) -> str:
        return STEP_LABELS.get(self.step, self.step)

    @property
    def open(self) -> bool:
        return self.status not in (FINISHED, REFUSED, RETURNED)


@dataclass(frozen=True, slots=True)
class Task:
    """One step's work for one party (the handling office "", a region, a department); also the
    history: a (re)submission is a closed submit task, a finished application a closed done task."""

    application_id: str
    seq: int
    step: str
    party: str
    opened_at: datetime
    due_date: date
    closed_at: datetime | None = None
    outcome: str = ""
    actor: str = ""
    channel: str = ""
    """online or counter, on submit tasks."""
    note: str = ""

    @property
    def step_label(self) -> str:
        return STEP_LABELS.get(self.step, self.step)

    @property
    def party_label(self) -> str:
        return DEPARTMENTS.get(self.party, self.party)

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS.get(self.outcome, self.outcome)


@dataclass(frozen=True, slots=True)
class RegionItem:
    """An item of a region's adopted list."""

    admdvs: str
    item: ServiceItem
    local: bool
    """Added by the region (not on the unified list)."""
    adopted_at: datetime
    adopted_by: str


@dataclass(frozen=True, slots=True)
class ApplicationQuery:
    """Which applications; empty fields do not filter."""

    region: str = ""
    """An admdvs prefix: handled there, or with a task of a region there."""
    psn_no: str = ""
    status: str = ""
    item_code: str = ""
    limit: int = 200


@dataclass(frozen=True, slots=True)
class ClockRow:
    """What the board's clock figures need of one application."""

    item_code: str
    status: str
    channel: str
    trips: int
    time_limit: int
    accepted_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusCount:
    item_code: str
    item_name: str
    status: str
    admdvs: str
    channel: str
    count: int


class ServiceStore(Protocol):
    def service_catalogue(self) -> Catalogue:
        """The shipped list (src/yibao/files/service_items.toml), read once."""

    def service_calendar(self) -> Calendar:
        """The shipped holidays (src/yibao/files/holidays.toml), read once."""

    def region_items(self, admdvs: str) -> list[RegionItem]:
        """The region's adopted list ([] if it has not adopted one), by code."""

    def adopted_regions(self) -> list[str]: ...
    def save_region_items(self, admdvs: str, items: Sequence[RegionItem]) -> None:
        """Replace the region's list with these."""

    def insert_application(self, application: Application) -> None: ...
    def update_application(self, application: Application) -> None:
        """Everything but the id, the item, who created it and when."""

    def application(self, application_id: str, lock: bool = False) -> Application | None:
        """``lock``: hold the row until the transaction ends (two clerks passing the last two parallel
        tasks at once must not both see the other's still open)."""

    def applications(self, q: ApplicationQuery) -> list[Application]:
        """The newest first."""

    def add_task(self, task: Task) -> None: ...
    def close_task(self, task: Task) -> None:
        """Its closed_at, outcome, actor and note."""

    def tasks(self, application_id: str) -> list[Task]:
        """By seq."""

    def open_tasks(self, region: str, limit: int) -> list[tuple[Task, Application]]:
        """Tasks not closed that a clerk of ``region`` may do (a region task there, or a task of the
        handling office or a department of an application handled there), the oldest first."""

    def service_counts(self, region: str) -> list[StatusCount]:
        """Applications handled in ``region`` by item, status, handling region and channel."""

    def service_clock(self, region: str, limit: int) -> list[ClockRow]:
        """The newest ``limit`` applications handled in ``region``."""


# ---------------------------------------------------------------- the list of a region


def items_for(store: Store, admdvs: str) -> list[ServiceItem]:
    """The region's list: its adopted one, else the shipped items offered there."""
    adopted = store.region_items(admdvs)
    if adopted:
        return [r.item for r in adopted]
    return store.service_catalogue().offered_in(admdvs)


def find_item(store: Store, admdvs: str, code: str) -> ServiceItem:
    found = next((i for i in items_for(store, admdvs) if i.code == code), None)
    if found is None:
        raise NotFound("item_code", f"{admdvs} 的服务事项清单中没有事项 {code or '(空)'}")
    return found


def _check_region(admdvs: str, field_name: str = "admdvs") -> str:
    if len(admdvs) != 6 or not admdvs.isdigit() or admdvs == "000000":
        raise Refused(field_name, f"{admdvs or '(空)'} 不是六位行政区划代码")
    return admdvs


def adopt(
    store: Store, admdvs: str, local: Sequence[ServiceItem], who: Principal, now: datetime, ip: str
) -> list[RegionItem]:
    """The region takes the shipped items offered there as its list, plus its own ``local`` items
    (whose codes must not be codes of the unified list); adopting again takes the newer list."""
    _check_region(admdvs)
    unified = store.service_catalogue().offered_in(admdvs)
    taken = {i.code for i in store.service_catalogue().items}
    rows = [RegionItem(admdvs, i, False, now, who.name) for i in unified]
    for n, item in enumerate(local):
        try:
            check_item(item, f"local.{n}")
        except DomainError as exc:
            raise Refused(exc.field, exc.reason) from None
        if item.code in taken or item.code in {r.item.code for r in rows}:
            raise Refused(f"local.{n}.code", f"{item.code} 是统一清单（或本地清单）已有的事项编码")
        rows.append(RegionItem(admdvs, replace(item, regions=(admdvs,)), True, now, who.name))
    store.save_region_items(admdvs, rows)
    detail = f"{len(unified)} unified, {len(local)} local, version {store.service_catalogue().version}"
    record(store, AuditEntry(now, who.name, who.kind, ServiceAction.ADOPT, "", admdvs, ip, detail))
    return rows


def list_diff(store: Store, a: str, b: str) -> list[Difference]:
    """What the lists of regions ``a`` and ``b`` have not unified (``yibao.domain.services.diff``)."""
    return diff(items_for(store, _check_region(a, "a")), items_for(store, _check_region(b, "b")))


# ---------------------------------------------------------------- materials from the platform's data

Fetcher = Callable[["Store", str, Mapping[str, str], date], str | None]


def _identity(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    person = store.person(psn_no) if psn_no else None
    if person is None:
        return None
    cert = PsnCertType.describe(person.psn_cert_type)
    return f"{cert} {mask_certno(person.certno)} · {mask_name(person.psn_name)}"


def _active(store: Store, psn_no: str, form: Mapping[str, str]) -> list[tuple[str, str, date, int]]:
    wanted = form.get("insutype", "")
    return [
        (i.insutype, i.insuplc_admdvs, i.psn_insu_date, i.contrib_months)
        for i in (store.insurances(psn_no) if psn_no else [])
        if i.psn_insu_stas == "1" and (not wanted or i.insutype == wanted)
    ]


def _insurance(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    rows = _active(store, psn_no, form)
    return "；".join(f"{Insutype.describe(t)} · {a} · {d.isoformat()} 起参保" for t, a, d, _ in rows) or None


def _contribution(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    rows = [r for r in _active(store, psn_no, form) if r[3] > 0]
    return "；".join(f"{Insutype.describe(t)} 累计缴费 {m} 个月" for t, _, _, m in rows) or None


def _account(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    if not any(t == Insutype.EMPLOYEE_BASIC for t, *_ in _active(store, psn_no, {})):
        return None
    return f"个人账户余额 {fen_to_yuan(store.account_balance(psn_no)):,.2f} 元"


def _filings(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    held = [
        f
        for f in (store.filings_of(psn_no) if psn_no else [])
        if f.status == FilingStatus.APPROVED and f.begndate <= today and (f.enddate is None or today <= f.enddate)
    ]
    return "；".join(f"{f.filing_type.label} · {f.mdtrtarea_admdvs} · {f.filing_id}" for f in held) or None


def _special_identity(store: Store, psn_no: str, form: Mapping[str, str], today: date) -> str | None:
    known = {c.value for c in PsnIdetType}
    held = [i for i in (store.identities(psn_no) if psn_no else []) if i.psn_idet_type in known and i.valid_on(today)]
    return "；".join(PsnIdetType.describe(i.psn_idet_type) for i in held) or None


FETCHERS: dict[str, Fetcher] = {
    "identity": _identity,
    "insurance": _insurance,
    "contribution": _contribution,
    "account": _account,
    "filings": _filings,
    "special_identity": _special_identity,
}
"""How each ``yibao.domain.services.SOURCES`` entry is read: a masked summary, or None (not held)."""


def fill(
    store: Store,
    item: ServiceItem,
    psn_no: str,
    form: Mapping[str, str],
    provided: Mapping[str, str],
    promised: Sequence[str],
    today: date,
) -> tuple[MaterialState, ...]:
    """Each material the application needs: fetched from the platform's data where it holds it (the
    person brings nothing the platform knows), else promised (where allowed), provided (with the
    person's reference, e.g. an invoice number), or missing."""
    states = []
    for m in needed(item, form):
        value = FETCHERS[m.source](store, psn_no, form, today) if m.source in FETCHERS else None
        if value:
            states.append(MaterialState(m.code, m.name, FETCHED, value[:300]))
        elif m.promise and m.code in promised:
            states.append(MaterialState(m.code, m.name, PROMISED, "本人已签署告知承诺书"))
        elif m.code in provided:
            states.append(MaterialState(m.code, m.name, PROVIDED, provided[m.code].strip()[:200] or "已提交"))
        else:
            states.append(MaterialState(m.code, m.name, MISSING))
    return tuple(states)


def prefill(store: Store, item: ServiceItem, psn_no: str, today: date) -> dict[str, str]:
    """What the form of ``item`` shows the person before they fill anything: code → the platform's data
    for each material it holds (shown as 平台已有，无需提供)."""
    return {s.code: s.value for s in fill(store, item, psn_no, {}, {}, (), today) if s.how == FETCHED}


# ---------------------------------------------------------------- what approval does

Effect = Callable[["Store", Application, datetime, Hub | None], Mapping[str, object]]
"""Run when an application is approved (or, for an instant item, submitted), in the same transaction:
``(store, application, now, hub) -> result`` shown on the application. ``application.updated_by`` is who
approved it; ``application.form`` holds the item's fields; ``hub`` is the node's way to the hub (None on a
node alone). A Refused stops the approval (nothing is written); ``HubFirst`` asks ``through_hub`` to make
the call through the hub first, outside the transaction, and approve again."""


def _filing(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    """异地就医备案: the filing (``yibao.app.filings``), approved at once — by the clerk who approved the
    application, or by the platform when the item is instant and nothing needed a look."""
    f = application.form
    try:
        begndate = date.fromisoformat(f.get("begndate", ""))
        enddate = date.fromisoformat(f["enddate"]) if f.get("enddate") else None
    except ValueError:
        raise Refused("form.begndate", "开始、结束日期须为 YYYY-MM-DD") from None
    made = filings.apply(
        store, psn_no=application.psn_no, insutype=f.get("insutype", ""), filing_type=f.get("filing_type", ""),
        mdtrtarea_admdvs=f.get("mdtrtarea_admdvs", ""), begndate=begndate, enddate=enddate,
        reason=f.get("reason", "") or application.item.name, now=now, ip="",
    )  # fmt: skip
    approved = filings.decide(
        store, filing_id=made.filing_id, approve=True, actor=application.updated_by, actor_kind=CONSOLE, region="",
        memo=f"经办服务申请 {application.application_id}", now=now, ip="",
    )  # fmt: skip
    end = approved.enddate.isoformat() if approved.enddate else "长期"
    return {"filing_id": approved.filing_id, "filing": f"{approved.filing_type.label}，{approved.begndate} 至 {end}"}


def _manual_claim(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    """零星报销 (手工报销): the bill settled by the calculator and paid to the person (``yibao.app.manual_claims``)."""
    return manual_claims.effect(store, application, now)


def _transfer(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    """转移接续: the insurance relationship moved with its months and money (``yibao.app.transfers``): here
    when this node serves both regions, else through the hub before the approval's transaction."""
    return transfers.effect(store, application, now, hub)


EFFECTS: dict[str, Effect] = {
    "filing": _filing,
    "manual_claim": _manual_claim,
    "transfer": _transfer,
}
"""The item's ``effect`` → what approval does. An item without one is done when approved."""


def _run_effect(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    effect = application.item.effect
    if not effect:
        return {}
    use = EFFECTS.get(effect)
    if use is None:
        raise Refused("effect", f"事项 {application.item.code} 的办结动作 {effect} 未登记")
    return {str(k): str(v) for k, v in use(store, application, now, hub).items()}


def through_hub(db: UnitOfWork, federation: Federation | None, use: Callable[[Store, Hub | None], T]) -> T:
    """``use`` (a ``submit``, ``resubmit`` or ``decide_task`` given the hub) in a write transaction. When
    approval's effect must first reach another node (``HubFirst``), that transaction is rolled back, the
    call through the hub is made with no transaction open (idempotent by the application's id) and ``use``
    runs again, finding it made. ``federation``: the node's (None on a node alone)."""
    hub = Hub(federation) if federation is not None else None
    try:
        with db.transaction() as store:
            return use(store, hub)
    except HubFirst as first:
        if hub is None:
            raise
        first.make(db, hub)
    with db.transaction() as store:
        return use(store, hub)


# ---------------------------------------------------------------- applications


@dataclass(frozen=True, slots=True)
class Prepared:
    """What the form of an item shows before it is filled: the person, and the materials the platform holds."""

    item: ServiceItem
    psn_no: str
    prefilled: dict[str, str]
    """Material code → the platform's data standing in for it (平台已有，无需提供)."""


def prepare(store: Store, item_code: str, query: str, who: Principal, now: datetime, ip: str) -> Prepared:
    """The form of an item for a person: in the portal the person signed in; at the counter the person
    the clerk names by ID number or psn_no ("" for an institution's item). Logged: it shows their data."""
    if who.kind == PORTAL:
        assert who.psn_no is not None
        psn_no, admdvs = who.psn_no, _region_of(store, who.psn_no)
    else:
        psn_no = _person_of(store, query) if query.strip() else ""
        admdvs = who.admdvs if who.region else (_region_of(store, psn_no) if psn_no else "")
        _check_region(admdvs)
    item = find_item(store, admdvs, item_code)
    if item.applicant == "person" and not psn_no:
        raise Refused("person", "请填写参保人的身份证号码或人员编号")
    shown = prefill(store, item, psn_no, local_date(now)) if psn_no else {}
    record(store, AuditEntry(now, who.name, who.kind, ServiceAction.VIEW, psn_no, item.code, ip, "form"))
    return Prepared(item, psn_no, shown)


def _person_of(store: Store, query: str) -> str:
    text = query.strip()
    person = store.person_by_certno(text.upper()) if looks_like_certno(text) else store.person(text[:30])
    if person is None:
        raise NotFound("person", "没有找到该参保人")
    return person.psn_no


def offered(store: Store, who: Principal) -> list[ServiceItem]:
    """The items the caller may apply for: in the portal, the person's region's items online (for
    persons); at the counter, the clerk's region's items at a counter."""
    if who.kind == PORTAL:
        assert who.psn_no is not None
        items = items_for(store, _region_of(store, who.psn_no))
        return [i for i in items if ONLINE in i.channels and i.applicant == "person"]
    if not who.region:
        return list(store.service_catalogue().items)
    return [i for i in items_for(store, who.admdvs) if COUNTER in i.channels]


def _region_of(store: Store, psn_no: str) -> str:
    regions = sorted({i.insuplc_admdvs for i in store.insurances(psn_no) if i.psn_insu_stas == "1"})
    if not regions:
        raise Refused("psn_no", "没有正常参保的险种，无法在网上办理")
    return regions[0]


def submit(
    store: Store,
    *,
    item_code: str,
    form: Mapping[str, str],
    provided: Mapping[str, str],
    promised: Sequence[str],
    who: Principal,
    now: datetime,
    ip: str,
    psn_no: str = "",
    hub: Hub | None = None,
) -> Application:
    """A new application: by the person in the portal (online; ``psn_no`` is theirs), or by a clerk at
    the counter for ``psn_no`` (a trip; "" for an institution's item). Materials are filled in; an
    instant item with nothing to look at is done (and its effect run) at once."""
    today = local_date(now)
    if who.kind == PORTAL:
        assert who.psn_no is not None
        psn_no, channel = who.psn_no, ONLINE
        admdvs = _region_of(store, psn_no)
    else:
        channel = COUNTER
        admdvs = who.admdvs if who.region else ""
        if psn_no and store.person(psn_no) is None:
            raise NotFound("psn_no", f"{psn_no} 人员编号不存在")
        if not admdvs:
            admdvs = _region_of(store, psn_no) if psn_no else ""
        _check_region(admdvs)
    item = find_item(store, admdvs, item_code)
    if channel not in item.channels:
        raise Refused("channel", f"{item.name} 不能{'网上' if channel == ONLINE else '在窗口'}办理")
    if (item.applicant == "person") != bool(psn_no):
        raise Refused("psn_no", "个人事项须指明参保人" if psn_no == "" else f"{item.name} 由单位申请，不针对个人")
    try:
        clean = check_form(item, form)
    except DomainError as exc:
        raise Refused(exc.field, exc.reason) from None
    states = fill(store, item, psn_no, clean, provided, promised, today)
    cal = store.service_calendar()
    application = Application(
        application_id=store.new_id("FW", admdvs), item=item, psn_no=psn_no, admdvs=admdvs, channel=channel,
        status="", step=SUBMIT, form=clean, materials=states, due_date=add_working_days(cal, today, item.time_limit),
        trips=int(channel == COUNTER), submitted_at=now, accepted_at=now, updated_at=now, created_by=who.name,
        updated_by=who.name,
    )  # fmt: skip
    move = submitted(item, clean, states)
    store.insert_application(replace(application, status=move.status, step=move.step))
    task = Task(application.application_id, 1, SUBMIT, "", now, application.due_date)
    store.add_task(task)
    store.close_task(replace(task, closed_at=now, outcome=PASS, actor=who.name, channel=channel, note=_noted(states)))
    done = _apply(store, application, move, 2, now, SYSTEM if move.finished else who.name, hub)
    record(store, _entry(who, ServiceAction.SUBMIT, now, ip, done, f"{item.code} {channel} {done.status}"))
    return done


def resubmit(
    store: Store,
    application_id: str,
    *,
    provided: Mapping[str, str],
    promised: Sequence[str],
    who: Principal,
    now: datetime,
    ip: str,
    hub: Hub | None = None,
) -> Application:
    """The materials a return asked for: by the person online, or at a counter (another trip). The clock
    starts again today (the day the complete materials arrive is the day of acceptance)."""
    application, tasks = _visible(store, application_id, who, lock=True)
    if application.status != RETURNED:
        raise Refused("status", f"申请 {application_id} 状态为{application.status_label}，无需补正")
    channel = ONLINE if who.kind == PORTAL else COUNTER
    if channel == COUNTER and not covers(who.region, application.admdvs):
        raise Refused("application_id", f"申请 {application_id} 由 {application.admdvs} 受理，请在受理地补正")
    kept = {s.code: s.value for s in application.materials if s.how == PROVIDED}
    states = fill(
        store, application.item, application.psn_no, application.form, {**kept, **provided},
        [*promised, *(s.code for s in application.materials if s.how == PROMISED)], local_date(now),
    )  # fmt: skip
    due = add_working_days(store.service_calendar(), local_date(now), application.item.time_limit)
    application = replace(
        application, materials=states, due_date=due, trips=application.trips + (channel == COUNTER),
        accepted_at=now, updated_at=now, updated_by=who.name, note="",
    )  # fmt: skip
    seq = _next_seq(tasks)
    task = Task(application_id, seq, SUBMIT, "", now, due)
    store.add_task(task)
    store.close_task(replace(task, closed_at=now, outcome=PASS, actor=who.name, channel=channel, note=_noted(states)))
    move = submitted(application.item, application.form, states)
    done = _apply(store, application, move, seq + 1, now, SYSTEM if move.finished else who.name, hub)
    record(store, _entry(who, ServiceAction.RESUBMIT, now, ip, done, f"{channel} {done.status}"))
    return done


def decide_task(
    store: Store,
    application_id: str,
    seq: int,
    outcome: str,
    *,
    note: str,
    who: Principal,
    now: datetime,
    ip: str,
    missing_codes: Sequence[str] = (),
    hub: Hub | None = None,
) -> Application:
    """A clerk closes an open task: pass (at check, only with every required material in hand), return
    (naming every missing material at once, 一次性告知) or refuse (saying why). When the step's last
    task passes, the next step opens; after approval the effect runs and the application is done."""
    application, tasks = _visible(store, application_id, who, lock=True)
    task = next((t for t in tasks if t.seq == seq), None)
    if task is None or task.closed_at is not None:
        raise NotFound("seq", f"申请 {application_id} 没有待办任务 {seq}")
    if not _may_act(task, application, who):
        raise Refused("seq", f"任务 {seq} 由 {task.party_label or application.admdvs} 办理")
    item = application.item
    note = note.strip()[:500]
    if outcome not in (PASS, RETURN, REFUSE):
        raise Refused(
            "outcome", f"办理结果须为 pass（通过）、return（退回补正）或 refuse（不予办理），而不是 {outcome!r}"
        )
    if outcome == RETURN:
        codes = {m.code: m.name for m in needed(item, application.form)}
        unknown = [c for c in missing_codes if c not in codes]
        if unknown:
            raise Refused("missing", f"事项没有材料 {unknown[0]}")
        if not missing_codes and not note:
            raise Refused("missing", "退回补正须一次性告知所缺的全部材料（勾选材料或写明）")
        named = "、".join(codes[c] for c in missing_codes)
        note = "；".join(x for x in (f"请补正：{named}" if named else "", note) if x)
        states = tuple(
            replace(s, how=MISSING, value="") if s.code in missing_codes else s for s in application.materials
        )
        application = replace(application, materials=states)
    elif outcome == PASS and task.step == CHECK:
        lacking = missing(item, application.form, application.materials)
        if lacking:
            raise Refused("materials", f"缺少材料：{'、'.join(m.name for m in lacking)}，请退回补正")
    elif outcome == REFUSE and not note:
        raise Refused("note", "不予办理须写明理由")
    others = [t for t in tasks if t.step == task.step and t.closed_at is None and t.seq != seq]
    try:
        move = decide(item, task.step, outcome, len(others))
    except DomainError as exc:
        raise Refused(exc.field, exc.reason) from None
    store.close_task(replace(task, closed_at=now, outcome=outcome, actor=who.name, note=note))
    if move.cancel_others:
        for other in others:
            store.close_task(replace(other, closed_at=now, outcome=CANCELLED, actor=who.name))
    if outcome != PASS:
        application = replace(application, note=note)
    done = _apply(store, replace(application, updated_by=who.name), move, _next_seq(tasks), now, who.name, hub)
    record(store, _entry(who, ServiceAction.DECIDE, now, ip, done, f"{seq} {task.step} {outcome}"))
    return done


def _apply(
    store: Store, application: Application, move: Move, seq: int, now: datetime, actor: str, hub: Hub | None = None
) -> Application:
    """Write the move: the application's status and step, the tasks it opens, and when it reaches done,
    approval's effect and a closed done task with its result."""
    application = replace(application, status=move.status, step=move.step, updated_at=now)
    if move.finished:
        application = replace(application, updated_by=actor)
        result = _run_effect(store, application, now, hub)
        application = replace(application, result=result, finished_at=now)
        note = "；".join(f"{k} {v}" for k, v in result.items())
        store.add_task(Task(application.application_id, seq, DONE, "", now, application.due_date, now, PASS, actor,
                            note=note[:500]))  # fmt: skip
    elif move.status == REFUSED:
        application = replace(application, finished_at=now)
    cal = store.service_calendar()
    for n, party in enumerate(move.open):
        days = application.item.step(move.step).days
        due = add_working_days(cal, local_date(now), days) if days else application.due_date
        store.add_task(Task(application.application_id, seq + n, move.step, party, now, min(due, application.due_date)))
    store.update_application(application)
    return application


def _next_seq(tasks: Sequence[Task]) -> int:
    return max((t.seq for t in tasks), default=0) + 1


def _noted(states: Sequence[MaterialState]) -> str:
    n = {how: sum(1 for s in states if s.how == how) for how in (FETCHED, PROMISED, PROVIDED, MISSING)}
    return f"平台调取 {n[FETCHED]} 项，承诺 {n[PROMISED]} 项，提供 {n[PROVIDED]} 项，缺 {n[MISSING]} 项"


# ---------------------------------------------------------------- who sees and does what


def _sees(application: Application, tasks: Sequence[Task], who: Principal) -> bool:
    if who.kind == PORTAL:
        return bool(application.psn_no) and application.psn_no == who.psn_no
    if who.kind != CONSOLE:
        return False
    return covers(who.region, application.admdvs) or any(
        t.party.isdigit() and covers(who.region, t.party) for t in tasks
    )


def _may_act(task: Task, application: Application, who: Principal) -> bool:
    if who.kind != CONSOLE:
        return False
    return covers(who.region, task.party if task.party.isdigit() else application.admdvs)


def _visible(store: Store, application_id: str, who: Principal, lock: bool = False) -> tuple[Application, list[Task]]:
    application = store.application(application_id, lock)
    tasks = [] if application is None else store.tasks(application_id)
    if application is None or not _sees(application, tasks, who):
        raise NotFound("application_id", f"申请 {application_id} 不存在")
    return application, tasks


def _entry(who: Principal, action: ServiceAction, now: datetime, ip: str, a: Application, detail: str) -> AuditEntry:
    return AuditEntry(now, who.name, who.kind, action.value, a.psn_no, a.application_id, ip, detail[:200])


# ---------------------------------------------------------------- reading


@dataclass(frozen=True, slots=True)
class TaskView:
    task: Task
    timing: Timing | None
    """Open tasks only: the step against its due date."""
    may_act: bool


@dataclass(frozen=True, slots=True)
class ApplicationFile:
    application: Application
    tasks: list[TaskView]
    timing: Timing | None
    """None while returned (the clock waits for the materials)."""


def clock(cal: Calendar, application: Application, today: date) -> Timing | None:
    if application.status == RETURNED:
        return None
    finished = local_date(application.finished_at) if application.finished_at else None
    return timing(cal, local_date(application.accepted_at), application.item.time_limit, today, finished)


def _task_timing(cal: Calendar, task: Task, today: date) -> Timing | None:
    return None if task.closed_at is not None else against(cal, local_date(task.opened_at), task.due_date, today)


def application_file(store: Store, application_id: str, who: Principal, now: datetime, ip: str) -> ApplicationFile:
    """The application with its tasks and clock, for its person or a clerk who sees it (logged)."""
    application, tasks = _visible(store, application_id, who)
    record(store, _entry(who, ServiceAction.VIEW, now, ip, application, application.status))
    cal, today = store.service_calendar(), local_date(now)
    views = [
        TaskView(t, _task_timing(cal, t, today), t.closed_at is None and _may_act(t, application, who)) for t in tasks
    ]
    return ApplicationFile(application, views, clock(cal, application, today))


@dataclass(frozen=True, slots=True)
class InboxRow:
    task: Task
    application: Application
    timing: Timing | None


def inbox(store: Store, who: Principal, now: datetime) -> list[InboxRow]:
    """The open tasks a clerk may do, the most urgent first (overdue, then by due date)."""
    cal, today = store.service_calendar(), local_date(now)
    rows = [InboxRow(t, a, _task_timing(cal, t, today)) for t, a in store.open_tasks(who.region, INBOX_LIMIT)]
    return sorted(rows, key=lambda r: (r.task.due_date, r.task.opened_at))


def mine(store: Store, psn_no: str, now: datetime) -> list[tuple[Application, Timing | None]]:
    """The person's applications, the newest first, with their clocks."""
    cal, today = store.service_calendar(), local_date(now)
    return [(a, clock(cal, a, today)) for a in store.applications(ApplicationQuery(psn_no=psn_no, limit=100))]


# ---------------------------------------------------------------- the service board


@dataclass(frozen=True, slots=True)
class ItemFigures:
    item_code: str
    item_name: str
    time_limit: int
    total: int
    finished: int
    open: int
    returned: int
    refused: int
    online: int
    avg_days: Decimal | None
    """Working days from acceptance to done, on average."""
    on_time: int
    """Finished within the time limit."""
    overdue: int
    """Open and past the due date."""


@dataclass(frozen=True, slots=True)
class Board:
    total: int
    by_status: dict[str, int]
    by_region: dict[str, int]
    items: list[ItemFigures]
    online: int
    finished: int
    """Finished applications the clock read (all of them up to ``BOARD_LIMIT``)."""
    trips: int
    """Counter visits of those."""
    at_most_one_trip: int
    on_time: int
    overdue: list[tuple[Application, Timing]]
    due_soon: int

    @property
    def online_share(self) -> Decimal | None:
        return _percent(self.online, self.total)

    @property
    def avg_trips(self) -> Decimal | None:
        return (
            None
            if not self.finished
            else (Decimal(self.trips) / self.finished).quantize(Decimal("0.01"), ROUND_HALF_UP)
        )

    @property
    def one_trip_share(self) -> Decimal | None:
        return _percent(self.at_most_one_trip, self.finished)

    @property
    def on_time_share(self) -> Decimal | None:
        return _percent(self.on_time, self.finished)


def _percent(part: int, whole: int) -> Decimal | None:
    return None if not whole else (Decimal(100 * part) / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


def board(store: Store, region: str, now: datetime) -> Board:
    """The service board of the applications handled in ``region`` (an admdvs prefix, "" all)."""
    cal, today = store.service_calendar(), local_date(now)
    counts = store.service_counts(region)
    by_status: dict[str, int] = {s: 0 for s in STATUS_LABELS}
    by_region: dict[str, int] = {}
    names: dict[str, str] = {}
    per_item: dict[str, dict[str, int]] = {}
    for c in counts:
        by_status[c.status] = by_status.get(c.status, 0) + c.count
        by_region[c.admdvs] = by_region.get(c.admdvs, 0) + c.count
        names.setdefault(c.item_code, c.item_name)
        tally = per_item.setdefault(c.item_code, {})
        tally[c.status] = tally.get(c.status, 0) + c.count
        tally["online"] = tally.get("online", 0) + (c.count if c.channel == ONLINE else 0)
    days: dict[str, list[int]] = {}
    on_time: dict[str, int] = {}
    overdue_by_item: dict[str, int] = {}
    limits: dict[str, int] = {}
    trips = one_trip = due_soon = clocked = 0
    for row in store.service_clock(region, BOARD_LIMIT):
        limits.setdefault(row.item_code, row.time_limit)
        if row.status == FINISHED and row.finished_at is not None:
            t = timing(cal, local_date(row.accepted_at), row.time_limit, today, local_date(row.finished_at))
            days.setdefault(row.item_code, []).append(t.used)
            on_time[row.item_code] = on_time.get(row.item_code, 0) + (not t.overdue)
            trips += row.trips
            one_trip += row.trips <= 1
            clocked += 1
        elif row.status not in (FINISHED, REFUSED, RETURNED):
            t = timing(cal, local_date(row.accepted_at), row.time_limit, today)
            overdue_by_item[row.item_code] = overdue_by_item.get(row.item_code, 0) + t.overdue
            due_soon += t.due_soon
    items = []
    for code, tally in sorted(per_item.items()):
        spent = days.get(code, [])
        waiting = sum(v for k, v in tally.items() if k not in (FINISHED, REFUSED, RETURNED, "online"))
        items.append(
            ItemFigures(
                code, names[code], limits.get(code, 0), sum(v for k, v in tally.items() if k != "online"),
                tally.get(FINISHED, 0), waiting,
                tally.get(RETURNED, 0), tally.get(REFUSED, 0), tally.get("online", 0),
                (Decimal(sum(spent)) / len(spent)).quantize(Decimal("0.1"), ROUND_HALF_UP) if spent else None,
                on_time.get(code, 0), overdue_by_item.get(code, 0),
            )
        )  # fmt: skip
    overdue = []
    for application in store.applications(ApplicationQuery(region=region, status="open", limit=INBOX_LIMIT)):
        late = clock(cal, application, today)
        if late is not None and late.overdue and covers(region, application.admdvs):
            overdue.append((application, late))
    return Board(
        total=sum(by_status.values()), by_status=by_status, by_region=dict(sorted(by_region.items())), items=items,
        online=sum(i.online for i in items), finished=clocked, trips=trips, at_most_one_trip=one_trip,
        on_time=sum(on_time.values()), overdue=sorted(overdue, key=lambda p: p[1].left), due_soon=due_soon,
    )  # fmt: skip
