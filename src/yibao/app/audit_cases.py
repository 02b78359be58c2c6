"""Joint audit cases (联审互查): findings of one institution carried through 智能互查 → 现场联审 → 查实,
and the recovery (追回) posted in the ledger (docs/supervision.md "Joint audit cases").

An auditor picks findings (``supervision_finding`` rows, of any stage) of one institution and opens a
case over them: each becomes an item that copies the finding's evidence (visit, line, item, amount,
rule, message) so that the case stands on its own. The on-site review records a result per item
(confirmed or cleared, the amount it reviewed, a note); the case is then confirmed with the amount to
recover (at most what was confirmed) or closed without violation; a confirmed case is recovered by one
balanced posting: the institution's payable is debited and each settlement's fund (or, for a settlement
made here for another region, that region's clearing account) credited its share.

Every step appends a ``audit_case_event`` (who, when, what amount) and a row of the audit log. A case is
visible to the bureaus of the institution's region and of the regions where its findings' persons are
insured.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import fields, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from yibao.app.accounts import Principal, covers
from yibao.app.audit import AuditEntry, record
from yibao.app.errors import NotFound, Refused
from yibao.app.privacy import mask_certno
from yibao.app.records import StoredFinding
from yibao.domain.codes import FundPayType
from yibao.domain.frozen import frozen
from yibao.domain.ledger import clearing_account, fund_account, recovery_posting
from yibao.domain.money import Fen
from yibao.domain.supervision import cases as stages
from yibao.domain.supervision.cases import CLOSED, CONFIRMED, CONFIRMED_ITEM, CROSS_CHECK, ON_SITE, RECOVERED

if TYPE_CHECKING:
    from yibao.app.cross_region import Federation
    from yibao.app.ports import Store, UnitOfWork

MAX_ITEMS = 20_000
"""Findings one case may hold (one institution's post-event run fits several times over)."""


class CaseAction(StrEnum):
    """The audit log's actions of this module."""

    VIEW = "case.view"
    OPEN = "case.open"
    REVIEW = "case.review"
    CONFIRM = "case.confirm"
    RECOVER = "case.recover"
    CLOSE = "case.close"
    FINDINGS = "findings.view"


@frozen
class AuditCase:
    case_id: str
    fixmedins_code: str
    fixmedins_name: str
    admdvs: str
    """The institution's region."""
    stage: str
    title: str
    check_count: int
    check_amount: Fen
    reviewed_amount: Fen
    confirmed_amount: Fen
    recover_amount: Fen
    recovered_amount: Fen
    created_by: str
    created_at: datetime
    updated_at: datetime
    shared_from: str = ""
    """"" opened on this node; else the node (or region) it came from."""

    @property
    def stage_label(self) -> str:
        return stages.STAGE_LABELS.get(self.stage, self.stage)


@frozen
class CaseItem:
    case_id: str
    finding_id: int
    rule_id: str
    result: str
    mdtrt_id: str
    feedetl_sn: str
    med_list_codg: str
    setl_id: str | None
    psn_no: str
    insuplc_admdvs: str
    amount: Fen
    message: str
    review: str = ""
    """"" not reviewed on site yet, confirmed or cleared."""
    reviewed_amount: Fen = 0
    note: str = ""

    @property
    def review_label(self) -> str:
        return stages.ITEM_RESULTS.get(self.review, "")


@frozen
class CaseEvent:
    case_id: str
    seq: int
    stage: str
    actor: str
    at: datetime
    """Naive UTC."""
    note: str
    amount: Fen

    @property
    def stage_label(self) -> str:
        return stages.STAGE_LABELS.get(self.stage, self.stage)


@frozen
class FindingRow:
    id: int
    finding: StoredFinding
    case_id: str
    """The case that holds it ("" none)."""


@frozen
class FindingQuery:
    """Which findings; empty fields do not filter."""

    region: str = ""
    """An admdvs prefix: findings treated or insured there."""
    stage: str = ""
    begin: datetime | None = None
    """Naive UTC, inclusive (the finding's created_at)."""
    end: datetime | None = None
    fixmedins_code: str = ""
    rule_id: str = ""


@frozen
class FindingGroup:
    key: str
    """rule_id or fixmedins_code."""
    result: str
    count: int
    amount: Fen


@frozen
class Board:
    """The joint audit's figures, as the zone reports them (智能互查 N 条 / X 万元 …)."""

    check_count: int
    check_amount: Fen
    reviewed_count: int
    reviewed_amount: Fen
    reviewed_cases: int
    """Cases reviewed on site (家次)."""
    confirmed_count: int
    recover_amount: Fen
    recovered_amount: Fen
    by_stage: dict[str, int]


class AuditCaseStore(Protocol):
    def findings(self, q: FindingQuery, limit: int) -> list[FindingRow]:
        """The newest first."""

    def findings_by_id(self, ids: Sequence[int]) -> list[FindingRow]: ...
    def finding_groups(self, q: FindingQuery, by: str) -> list[FindingGroup]:
        """Counts and amounts by ``rule_id`` or ``fixmedins_code`` and result."""

    def insert_case(self, case: AuditCase, items: Sequence[CaseItem]) -> None: ...
    def update_case(self, case: AuditCase) -> None:
        """Stage, amounts and updated_at."""

    def update_item(self, item: CaseItem) -> None:
        """Its on-site result."""

    def audit_case(self, case_id: str) -> AuditCase | None: ...
    def case_items(self, case_id: str) -> list[CaseItem]: ...
    def add_case_event(self, event: CaseEvent) -> None: ...
    def case_events(self, case_id: str) -> list[CaseEvent]: ...
    def audit_cases(self, region: str, limit: int) -> list[AuditCase]:
        """Cases of the region's institutions or insured, the latest changed first."""

    def case_board(self, region: str) -> Board: ...
    def save_shared_case(self, case: AuditCase, items: Sequence[CaseItem], events: Sequence[CaseEvent]) -> None:
        """Keep (or refresh) a case another node shared: the case, its items replaced, events not yet kept."""


# ---------------------------------------------------------------- reading


def visible(case: AuditCase, items: Sequence[CaseItem], region: str) -> bool:
    return covers(region, case.admdvs) or any(covers(region, i.insuplc_admdvs) for i in items)


@frozen
class CaseFile:
    case: AuditCase
    items: list[CaseItem]
    events: list[CaseEvent]


def case_file(store: Store, case_id: str, who: Principal, now: datetime, ip: str) -> CaseFile:
    """The case with its evidence and history (the view is written to the audit log)."""
    case, items = _visible_case(store, case_id, who, acting=False)
    record(store, _entry(who, CaseAction.VIEW, now, ip, case_id, f"{len(items)} items"))
    return CaseFile(case, items, store.case_events(case_id))


def board(store: Store, region: str) -> Board:
    return store.case_board(region)


# ---------------------------------------------------------------- the stages


def open_case(
    store: Store, finding_ids: Sequence[int], title: str, who: Principal, now: datetime, ip: str
) -> AuditCase:
    """智能互查: a case over findings of one institution (none of them in another case still open)."""
    wanted = sorted(set(finding_ids))
    if not wanted:
        raise Refused("finding_ids", "请选择至少一条疑点")
    if len(wanted) > MAX_ITEMS:
        raise Refused("finding_ids", f"一个案件至多 {MAX_ITEMS} 条疑点")
    rows = store.findings_by_id(wanted)
    missing = sorted(set(wanted) - {r.id for r in rows})
    if missing:
        raise NotFound("finding_ids", f"疑点 {missing[:5]} 不存在")
    outside = [r.id for r in rows if not _finding_visible(r.finding, who.region)]
    if outside:
        raise NotFound("finding_ids", f"疑点 {outside[:5]} 不存在")
    taken = sorted({r.case_id for r in rows if r.case_id})
    if taken:
        raise Refused("finding_ids", f"部分疑点已在案件 {', '.join(taken[:3])} 中")
    codes = sorted({r.finding.fixmedins_code for r in rows})
    if len(codes) != 1:
        raise Refused("finding_ids", f"一个案件只能针对一家定点机构，所选疑点涉及 {', '.join(codes[:5])}")
    institution = store.institution(codes[0])
    if institution is None:
        raise NotFound("fixmedins_code", f"{codes[0]} 定点医药机构不存在")
    case_id = store.new_id("AC", institution.admdvs)
    items = [_item_of(case_id, r) for r in rows]
    total = sum(i.amount for i in items)
    case = AuditCase(
        case_id=case_id, fixmedins_code=institution.fixmedins_code, fixmedins_name=institution.fixmedins_name,
        admdvs=institution.admdvs, stage=CROSS_CHECK, title=title.strip()[:200] or f"{institution.fixmedins_name} 联审",
        check_count=len(items), check_amount=total, reviewed_amount=0, confirmed_amount=0, recover_amount=0,
        recovered_amount=0, created_by=who.name, created_at=now, updated_at=now,
    )  # fmt: skip
    store.insert_case(case, items)
    _event(store, case, who, now, f"智能互查立案：{len(items)} 条疑点", total)
    record(store, _entry(who, CaseAction.OPEN, now, ip, case_id, f"{institution.fixmedins_code} {len(items)} items"))
    return case


def review_item(
    store: Store,
    case_id: str,
    finding_id: int,
    result: str,
    reviewed_amount: Fen,
    note: str,
    who: Principal,
    now: datetime,
    ip: str,
) -> AuditCase:
    """现场联审: the on-site result of one item (the first one moves the case on site)."""
    case, items = _visible_case(store, case_id, who)
    stage = stages.move(case_id, case.stage, ON_SITE)
    item = next((i for i in items if i.finding_id == finding_id), None)
    if item is None:
        raise NotFound("finding_id", f"案件 {case_id} 无疑点 {finding_id}")
    stages.check_review(result, reviewed_amount, item.amount)
    reviewed = replace(item, review=result, reviewed_amount=reviewed_amount, note=note.strip()[:500])
    store.update_item(reviewed)
    items = [reviewed if i.finding_id == finding_id else i for i in items]
    case = replace(
        case,
        stage=stage,
        reviewed_amount=sum(i.reviewed_amount for i in items if i.review),
        confirmed_amount=sum(i.reviewed_amount for i in items if i.review == CONFIRMED_ITEM),
        updated_at=now,
    )
    store.update_case(case)
    label = stages.ITEM_RESULTS[result]
    _event(store, case, who, now, _noted(f"疑点 {finding_id}（{item.rule_id}）{label}", note), reviewed_amount)
    record(store, _entry(who, CaseAction.REVIEW, now, ip, case_id, f"{finding_id} {result} {reviewed_amount}"))
    return case


def confirm(
    store: Store, case_id: str, recover_amount: Fen, note: str, who: Principal, now: datetime, ip: str
) -> AuditCase:
    """查实: violations confirmed on site, and the amount to recover (≤ the confirmed items' reviewed amount)."""
    case, items = _visible_case(store, case_id, who)
    stage = stages.move(case_id, case.stage, CONFIRMED)
    if not any(i.review == CONFIRMED_ITEM for i in items):
        raise Refused("items", f"案件 {case_id} 没有现场查实的疑点：无违规请结案")
    stages.check_recover_amount(recover_amount, case.confirmed_amount)
    case = replace(case, stage=stage, recover_amount=recover_amount, updated_at=now)
    store.update_case(case)
    confirmed = sum(1 for i in items if i.review == CONFIRMED_ITEM)
    _event(store, case, who, now, _noted(f"查实违规 {confirmed} 起", note), recover_amount)
    record(store, _entry(who, CaseAction.CONFIRM, now, ip, case_id, f"recover {recover_amount}"))
    return case


def close(store: Store, case_id: str, note: str, who: Principal, now: datetime, ip: str) -> AuditCase:
    """结案: no violation (no item confirmed on site)."""
    case, items = _visible_case(store, case_id, who)
    stage = stages.move(case_id, case.stage, CLOSED)
    if any(i.review == CONFIRMED_ITEM for i in items):
        raise Refused("items", f"案件 {case_id} 有现场查实的疑点，应查实并追回，不能无违规结案")
    case = replace(case, stage=stage, updated_at=now)
    store.update_case(case)
    _event(store, case, who, now, _noted("结案，无违规", note), 0)
    record(store, _entry(who, CaseAction.CLOSE, now, ip, case_id))
    return case


def recover(store: Store, case_id: str, who: Principal, now: datetime, ip: str) -> AuditCase:
    """追回: one balanced posting (code ``recovery``) of the amount to recover, split over the confirmed
    items' settlements in proportion to their reviewed amounts."""
    case, items = _visible_case(store, case_id, who)
    stage = stages.move(case_id, case.stage, RECOVERED)
    weights: dict[str, Fen] = {}
    for item in items:
        if item.review == CONFIRMED_ITEM and item.reviewed_amount:
            if not item.setl_id:
                raise Refused("items.setl_id", f"疑点 {item.finding_id} 无结算记录，无法追回")
            weights[item.setl_id] = weights.get(item.setl_id, 0) + item.reviewed_amount
    shares = stages.split(case.recover_amount, sorted(weights.items()))
    credits: dict[str, Fen] = {}
    for setl_id, amount in shares.items():
        account = _paid_from(store, case, setl_id)
        credits[account] = credits.get(account, 0) + amount
    store.post(f"recovery:{case_id}", recovery_posting(case.fixmedins_code, credits), now)
    case = replace(case, stage=stage, recovered_amount=case.recover_amount, updated_at=now)
    store.update_case(case)
    posted = "，".join(f"{account} {amount}" for account, amount in sorted(credits.items()))
    _event(store, case, who, now, f"追回入账：{posted}", case.recovered_amount)
    record(store, _entry(who, CaseAction.RECOVER, now, ip, case_id, f"recovered {case.recovered_amount}"))
    return case


def _paid_from(store: Store, case: AuditCase, setl_id: str) -> str:
    """The account that paid the settlement, to be paid back: the insured region's pooled fund of the
    settlement's insurance type (``<insutype>100``: 310 → 310100, 390 → 390100), or, for a settlement
    made here for another region, that region's clearing account (it is paid back through clearing)."""
    settlement = store.settlement(setl_id)
    if settlement is None or settlement.fixmedins_code != case.fixmedins_code:
        raise NotFound("items.setl_id", f"结算 {setl_id} 不存在或不属于 {case.fixmedins_code}")
    if settlement.revs_setl_id is not None or store.reversal_of(setl_id) is not None:
        raise Refused("items.setl_id", f"结算 {setl_id} 已撤销，基金已退回，无需追回")
    if settlement.cross_region == "T":
        return clearing_account(settlement.insuplc_admdvs)
    if settlement.cross_region == "I":
        raise Refused("items.setl_id", f"结算 {setl_id} 在外地就医：追回由就医地办理")
    pooled = f"{settlement.insutype}100"
    known = {f.value for f in FundPayType}
    return fund_account(settlement.insuplc_admdvs, pooled if pooled in known else FundPayType.EMPLOYEE_POOL.value)


# ---------------------------------------------------------------- helpers


def _finding_visible(f: StoredFinding, region: str) -> bool:
    return covers(region, f.mdtrtarea_admvs) or covers(region, f.insuplc_admdvs)


def _visible_case(
    store: Store, case_id: str, who: Principal, *, acting: bool = True
) -> tuple[AuditCase, list[CaseItem]]:
    case = store.audit_case(case_id)
    items = [] if case is None else store.case_items(case_id)
    if case is None or not visible(case, items, who.region):
        raise NotFound("case_id", f"案件 {case_id} 不存在")
    if acting and case.shared_from:
        raise Refused("case_id", f"案件 {case_id} 由 {case.shared_from} 共享，只读：各步骤由立案地办理")
    return case, items


def _item_of(case_id: str, row: FindingRow) -> CaseItem:
    f = row.finding
    return CaseItem(
        case_id=case_id, finding_id=row.id, rule_id=f.rule_id, result=f.result, mdtrt_id=f.mdtrt_id,
        feedetl_sn=f.feedetl_sn, med_list_codg=f.med_list_codg, setl_id=f.setl_id, psn_no=f.psn_no,
        insuplc_admdvs=f.insuplc_admdvs, amount=f.amount, message=f.message,
    )  # fmt: skip


def _noted(text: str, note: str) -> str:
    return f"{text}：{note.strip()}" if note.strip() else text


def _event(store: Store, case: AuditCase, who: Principal, now: datetime, note: str, amount: Fen) -> None:
    seq = len(store.case_events(case.case_id)) + 1
    store.add_case_event(CaseEvent(case.case_id, seq, case.stage, who.name, now, note[:1000], amount))


def _entry(who: Principal, action: CaseAction, now: datetime, ip: str, case_id: str, detail: str = "") -> AuditEntry:
    return AuditEntry(now, who.name, who.kind, action.value, "", case_id, ip, detail)


def findings_page(
    store: Store, q: FindingQuery, who: Principal, now: datetime, ip: str, limit: int = 500
) -> tuple[list[FindingGroup], list[FindingGroup], list[FindingRow]]:
    """By rule, by institution, and (for one institution) its findings to choose from; logged as a view.
    ``q.region`` narrows the account's region (a wider or other one is the account's own)."""
    q = replace(q, region=q.region if q.region.startswith(who.region) else who.region)  # never wider than the account
    by_rule = store.finding_groups(q, "rule_id")
    by_institution = store.finding_groups(q, "fixmedins_code")
    listed = store.findings(q, limit) if q.fixmedins_code else []
    record(store, _entry(who, CaseAction.FINDINGS, now, ip, q.fixmedins_code, f"{len(listed)} listed"))
    return by_rule, by_institution, listed


def rule_names(store: Store) -> dict[str, str]:
    """Rule id → the rule's name in the library in force, for pages that list findings."""
    return {r.id: r.name for r in store.rule_library().rules}


# ---------------------------------------------------------------- sharing across regions (the hub)

SHARE_OP = "audit_case"
"""The node op that carries a case to the node of an insured region (docs/cross-region.md)."""


def share(db: UnitOfWork, federation: Federation | None, case_id: str, who: Principal, now: datetime) -> list[str]:
    """After a step, with no transaction open: send the case (summary, the region's own items with
    person numbers masked, the history) to the node of each insured region that another node serves,
    and note in the history where it went or why not. The regions it reached."""
    if federation is None:
        return []
    with db.transaction(write=False) as store:
        case = store.audit_case(case_id)
        items = store.case_items(case_id)
        events = store.case_events(case_id)
    if case is None or case.shared_from:
        return []
    reached, notes = [], []
    for region in sorted(
        {i.insuplc_admdvs for i in items if i.insuplc_admdvs and not federation.serves(i.insuplc_admdvs)}
    ):
        mine = [i for i in items if i.insuplc_admdvs == region]
        key = f"{case_id}|{region}|{len(events)}".encode()
        msgid = f"{SHARE_OP}:{hashlib.sha256(key).hexdigest()[:32]}"
        try:
            federation.call(SHARE_OP, region, msgid, _snapshot(case, mine, events, federation.node_id))
        except Refused as exc:  # Unreachable too: the next step shares the case again
            notes.append(f"共享至参保地 {region} 未成功：{exc.reason}")
            continue
        reached.append(region)
        notes.append(f"已共享至参保地 {region}（{len(mine)} 条疑点）")
    if notes:
        with db.transaction() as store:
            _event(store, case, who, now, "；".join(notes), 0)
    return reached


def _snapshot(case: AuditCase, items: Sequence[CaseItem], events: Sequence[CaseEvent], node_id: str) -> dict[str, Any]:
    return {
        "node": node_id,
        "case": _plain(case),
        "items": [_plain(replace(i, psn_no=mask_certno(i.psn_no))) for i in items],
        "events": [_plain(e) for e in events],
    }


def _plain(record: AuditCase | CaseItem | CaseEvent) -> dict[str, Any]:
    return {
        f.name: (v.isoformat() if isinstance(v := getattr(record, f.name), datetime) else v) for f in fields(record)
    }


def receive(store: Store, payload: dict[str, Any]) -> dict[str, Any]:
    """A case another node shared with this one (the insured region's bureau): kept read-only, marked
    with where it came from; sent again after each step there, it is refreshed."""
    try:
        node = str(payload["node"])[:20]
        case = _record(AuditCase, payload["case"])
        items = [_record(CaseItem, i) for i in payload["items"]]
        events = [_record(CaseEvent, e) for e in payload["events"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused("payload", f"共享案件报文无效：{exc}") from None
    kept = store.audit_case(case.case_id)
    if kept is not None and not kept.shared_from:
        raise Refused("case.case_id", f"案件 {case.case_id} 是本地立案的案件")
    case = replace(case, shared_from=f"{node}/{case.admdvs}")
    store.save_shared_case(case, [replace(i, case_id=case.case_id) for i in items], events)
    return {"case_id": case.case_id, "items": len(items), "events": len(events)}


def _record(cls: type[Any], data: dict[str, Any]) -> Any:
    values = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.type in ("datetime", "datetime | None") and isinstance(value, str):
            value = datetime.fromisoformat(value)
        elif f.type in ("int", "Fen"):
            value = int(value)
        values[f.name] = value
    return cls(**values)
