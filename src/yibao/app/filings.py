"""Filings (备案) and filing-free zones, kept by the insured region; the flags of a cross-region visit.

- ``cross_region_flags``: what the insured region's policy sees of a visit elsewhere (the rules are
  ``yibao.domain.filings.visit_flags``): looked up at settlement time with the visit's dates, so a
  filing made after admission but before the discharge settlement still counts.
- 2501 转院备案 / 2502 撤销 by the referring institution: approved at once.
- The insured person files online in the portal (``apply``); the bureau approves or refuses in the
  console (``decide``). Both are written to the audit log in the same transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from yibao.app.audit import Action, AuditEntry, record
from yibao.app.cross_region import ask_hub, hub_msgid, plain, remote_region
from yibao.app.errors import NotFound, Refused
from yibao.app.records import Context, local_date
from yibao.domain.errors import DomainError
from yibao.domain.filings import (
    FiledBy,
    Filing,
    FilingStatus,
    FilingType,
    Zone,
    check_admdvs,
    same_pool,
    temporary_end,
    visit_flags,
)
from yibao.domain.frozen import frozen

if TYPE_CHECKING:
    from yibao.app.ports import Store


class FilingStore(Protocol):
    def zones(self) -> list[Zone]: ...
    def save_zone(self, zone: Zone) -> None:
        """Insert, or replace the zone of the same code."""

    def add_filing(self, filing: Filing) -> None: ...
    def save_filing(self, filing: Filing) -> None:
        """Store a changed filing (its status, decision, memo)."""

    def filing(self, filing_id: str) -> Filing | None: ...
    def filings_of(self, psn_no: str, insutype: str | None = None) -> list[Filing]:
        """The person's filings (of one insurance type), newest first."""

    def filings_awaiting(self, limit: int) -> list[Filing]:
        """Filings applied for and not yet decided, oldest first."""


# ---------------------------------------------------------------- the flags of a visit


def cross_region_flags(
    store: Store,
    *,
    psn_no: str,
    insutype: str,
    insuplc_admdvs: str,
    mdtrtarea_admvs: str,
    kind: str,
    emergency: bool,
    begntime: datetime,
    setl_date: date,
) -> tuple[str, ...]:
    """The cross-region flags of a visit of one of this node's insured persons (参保地 rules).

    ``begntime`` is the visit's start as stored (naive UTC); ``setl_date`` the local settlement date.
    () inside the pooling region; else "cross_region" and one of "cross_region_zone",
    "cross_region_long_term", "cross_region_referral", "cross_region_temporary",
    "cross_region_emergency", "cross_region_unfiled" (``yibao.domain.filings``).
    """
    if same_pool(insuplc_admdvs, mdtrtarea_admvs):
        return ()
    return visit_flags(
        insuplc_admdvs=insuplc_admdvs,
        mdtrtarea_admvs=mdtrtarea_admvs,
        kind=kind,
        emergency=emergency,
        first_day=local_date(begntime),
        setl_date=setl_date,
        zones=store.zones(),
        filings=store.filings_of(psn_no, insutype),
    )


# ---------------------------------------------------------------- making filings


def new_filing_id(insuplc_admdvs: str, now: datetime) -> str:
    """trt_dcla_detl_sn: the insured region, "BA", the UTC time and 6 random digits (28 characters)."""
    return f"{insuplc_admdvs[:6]:0<6}BA{now:%Y%m%d%H%M%S}{secrets.randbelow(10**6):06d}"


def _insured_region(store: Store, psn_no: str, insutype: str, node: str) -> str:
    person = store.person(psn_no)
    if person is None:
        raise NotFound(f"{node}.psn_no", f"{psn_no} 人员编号不存在")
    insurance = next((i for i in store.insurances(psn_no) if i.insutype == insutype), None)
    if insurance is None:
        raise Refused(f"{node}.insutype", f"该人员未参加险种 {insutype}")
    return insurance.insuplc_admdvs


def _period(filing_type: FilingType, begndate: date, enddate: date | None, node: str) -> date | None:
    if enddate is not None and enddate < begndate:
        raise Refused(f"{node}.enddate", f"{enddate} 早于开始日期 {begndate}")
    if filing_type == FilingType.LONG_TERM:
        return None
    return temporary_end(begndate, enddate)


@frozen
class ReferralIn:
    """2501 refmedin (转院备案), national field names."""

    psn_no: str
    insutype: str
    mdtrtarea_admdvs: str
    begndate: date
    enddate: date | None = None
    reflin_medins_no: str = ""
    reflin_medins_name: str = ""
    refl_type: str = ""
    refl_date: date | None = None
    refl_rea: str = ""
    refl_opnn: str = ""
    hosp_agre_refl_flag: str = ""
    refl_used_flag: str = ""
    refl_old_mdtrt_id: str = ""
    diag_code: str = ""
    diag_name: str = ""
    dise_cond_dscr: str = ""
    insu_optins: str = ""
    tel: str = ""
    addr: str = ""


@frozen
class ReferralCancel:
    """2502 data (转院备案撤销)."""

    trt_dcla_detl_sn: str
    psn_no: str
    memo: str = ""


def file_referral(store: Store, ctx: Context, cmd: ReferralIn) -> tuple[dict[str, object], str]:
    """2501 转院备案 by the referring institution, for a person insured at this node: approved at once.
    Answers result{trt_dcla_detl_sn}; the filing id is also what a 2601 of the message would cancel.
    For a person insured at another node (the envelope's insuplc_admdvs), that node files it."""
    node = "input.refmedin"
    region = ctx.insuplc_admdvs or cmd.psn_no[:6]
    if remote_region(ctx, region):
        answer = ask_hub(ctx, "filing", region, hub_msgid("filing", ctx.fixmedins_code, ctx.msgid), plain(cmd))
        return answer, str(answer["result"]["trt_dcla_detl_sn"])
    insuplc = _insured_region(store, cmd.psn_no, cmd.insutype, node)
    try:
        area = check_admdvs(f"{node}.mdtrtarea_admdvs", cmd.mdtrtarea_admdvs.strip())
    except DomainError as exc:
        raise Refused(exc.field, exc.reason) from None
    if same_pool(insuplc, area):
        raise Refused(f"{node}.mdtrtarea_admdvs", f"{area} 与参保地 {insuplc} 属同一统筹区，无需异地转诊备案")
    enddate = _period(FilingType.REFERRAL, cmd.begndate, cmd.enddate, node)
    filing = Filing(
        filing_id=new_filing_id(insuplc, ctx.now),
        psn_no=cmd.psn_no,
        insutype=cmd.insutype,
        filing_type=FilingType.REFERRAL,
        mdtrtarea_admdvs=area,
        begndate=cmd.begndate,
        enddate=enddate,
        status=FilingStatus.APPROVED,
        filed_by=FiledBy.INSTITUTION,
        created_at=ctx.now,
        fixmedins_code=ctx.fixmedins_code,
        reflin_medins_no=cmd.reflin_medins_no[:30],
        reflin_medins_name=cmd.reflin_medins_name[:200],
        refl_type=cmd.refl_type[:6],
        diag_code=cmd.diag_code[:30],
        diag_name=cmd.diag_name[:200],
        reason=(cmd.refl_rea or cmd.dise_cond_dscr)[:500],
        decided_at=ctx.now,
        decided_by=ctx.fixmedins_code,
        memo=cmd.refl_opnn[:500],
    )
    store.add_filing(filing)
    return {"result": {"trt_dcla_detl_sn": filing.filing_id}}, filing.filing_id


def cancel_referral(store: Store, ctx: Context, cmd: ReferralCancel) -> dict[str, object]:
    """2502 转院备案撤销: only the institution that filed it, and only once."""
    node = "input.data"
    filing = store.filing(cmd.trt_dcla_detl_sn)
    if filing is None or filing.psn_no != cmd.psn_no or filing.fixmedins_code != ctx.fixmedins_code:
        raise NotFound(f"{node}.trt_dcla_detl_sn", f"{cmd.trt_dcla_detl_sn} 不是本机构为该人员办理的备案")
    if filing.status == FilingStatus.CANCELLED:
        raise Refused(f"{node}.trt_dcla_detl_sn", "备案已撤销")
    cancelled = replace(
        filing, status=FilingStatus.CANCELLED, decided_at=ctx.now, decided_by=ctx.fixmedins_code,
        memo=(cmd.memo or filing.memo)[:500],
    )  # fmt: skip
    store.save_filing(cancelled)
    return {"result": {"trt_dcla_detl_sn": filing.filing_id, "vali_flag": "0"}}


# ---------------------------------------------------------------- the portal and the console


def apply(
    store: Store,
    *,
    psn_no: str,
    insutype: str,
    filing_type: str,
    mdtrtarea_admdvs: str,
    begndate: date,
    enddate: date | None,
    reason: str,
    now: datetime,
    ip: str,
) -> Filing:
    """The insured person files online (portal): the filing waits for the bureau's approval."""
    node = "filing"
    try:
        kind = FilingType(filing_type)
    except ValueError:
        raise Refused(f"{node}.filing_type", f"{filing_type or '(空)'} 不是备案类型") from None
    insuplc = _insured_region(store, psn_no, insutype, node)
    try:
        area = check_admdvs(f"{node}.mdtrtarea_admdvs", mdtrtarea_admdvs.strip())
    except DomainError as exc:
        raise Refused(exc.field, exc.reason) from None
    if same_pool(insuplc, area):
        raise Refused(f"{node}.mdtrtarea_admdvs", f"{area} 与参保地 {insuplc} 属同一统筹区，无需备案")
    filing = Filing(
        filing_id=new_filing_id(insuplc, now),
        psn_no=psn_no,
        insutype=insutype,
        filing_type=kind,
        mdtrtarea_admdvs=area,
        begndate=begndate,
        enddate=_period(kind, begndate, enddate, node),
        status=FilingStatus.APPLIED,
        filed_by=FiledBy.PORTAL,
        created_at=now,
        reason=reason.strip()[:500],
    )
    store.add_filing(filing)
    record(store, AuditEntry(now, psn_no, "portal", Action.FILING_APPLY, psn_no, filing.filing_id, ip, kind.value))
    return filing


def decide(
    store: Store, *, filing_id: str, approve: bool, actor: str, actor_kind: str, region: str, memo: str,
    now: datetime, ip: str,
) -> Filing:  # fmt: skip
    """The bureau approves or refuses a filing applied for; ``region`` is the admdvs prefix the
    account sees ("" for all): a filing of a person insured elsewhere is not found."""
    filing = store.filing(filing_id)
    if filing is None or not _insured_region(store, filing.psn_no, filing.insutype, "filing").startswith(region):
        raise NotFound("filing_id", f"{filing_id} 备案不存在")
    if filing.status != FilingStatus.APPLIED:
        raise Refused("filing_id", f"备案状态为{filing.status.label}，不能再审核")
    decided = replace(
        filing,
        status=FilingStatus.APPROVED if approve else FilingStatus.REFUSED,
        decided_at=now,
        decided_by=actor,
        memo=memo.strip()[:500],
    )
    store.save_filing(decided)
    action = Action.FILING_APPROVE if approve else Action.FILING_REFUSE
    record(store, AuditEntry(now, actor, actor_kind, action, filing.psn_no, filing_id, ip, decided.memo[:200]))
    return decided


def awaiting(store: Store, region: str, limit: int = 200) -> list[Filing]:
    """Filings waiting for the bureau, of persons insured in the account's region."""
    found = []
    for filing in store.filings_awaiting(limit):
        insurance = next((i for i in store.insurances(filing.psn_no) if i.insutype == filing.insutype), None)
        if insurance is not None and insurance.insuplc_admdvs.startswith(region):
            found.append(filing)
    return found
