"""The insured person's side of the electronic voucher, in the portal (/portal/activate, /portal/voucher).

Activation (``yibao.app.voucher.start_activation`` / ``confirm_activation``) with what a public page
needs around it: the same answer whether or not the details named somebody, at most
``accounts.FAILURES_ALLOWED`` codes sent to a person within ``accounts.LOCKOUT`` (so at most that
many times ``voucher.ACTIVATION_TRIES`` guesses), a row in the audit log for each step, and on success
a portal session (``accounts.open_portal_session``). Then the voucher page's view: its status, the
history of its uses, and a fresh code while it is active.
"""

from __future__ import annotations

from dataclasses import field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from yibao.app import voucher as v
from yibao.app.accounts import FAILURES_ALLOWED, LOCKOUT, PORTAL, Principal, open_portal_session
from yibao.app.audit import Action, AuditEntry, record
from yibao.app.errors import Refused
from yibao.app.records import local_time
from yibao.domain.frozen import frozen

if TYPE_CHECKING:
    from yibao.app.ports import Store

HISTORY = 20
"""How many of the latest uses the voucher page lists."""


class TextSender(Protocol):
    """Sends a text message to an insured person (an adapter: ``yibao.sms``)."""

    def send(self, psn_no: str, text: str, now: datetime) -> None: ...


def code_message(code: str) -> str:
    minutes = int(v.ACTIVATION_TTL.total_seconds() // 60)
    return f"【医保电子凭证】验证码 {code}，{minutes} 分钟内有效，用于激活医保电子凭证。如非本人操作，请忽略本短信。"


@frozen
class CodeToSend:
    psn_no: str
    text: str


def start(store: Store, *, certno: str, psn_name: str, device_id: str, now: datetime, ip: str) -> CodeToSend | None:
    """Step one: the message to send (after the transaction commits), or None — the details name
    nobody, or the person was sent enough codes for now. The caller answers the same either way.
    Raises Refused for a device id that is not one."""
    certno = certno.strip().upper()[:50]
    person = store.person_by_certno(certno)
    psn_no = person.psn_no if person else ""
    if person is not None and store.audit_count(Action.VOUCHER_CODE_SENT, now - LOCKOUT, psn_no=psn_no) >= (
        FAILURES_ALLOWED
    ):
        record(store, AuditEntry(now, "", "anonymous", Action.VOUCHER_ACTIVATE_FAILED, psn_no, ip=ip, detail="codes"))
        return None
    started = v.start_activation(store, certno, psn_name[:50], device_id, now)
    if started is None:
        record(store, AuditEntry(now, "", "anonymous", Action.VOUCHER_ACTIVATE_FAILED, psn_no, ip=ip, detail="details"))
        return None
    person, code = started
    record(store, AuditEntry(now, "", "anonymous", Action.VOUCHER_CODE_SENT, person.psn_no, ip=ip))
    return CodeToSend(person.psn_no, code_message(code))


def confirm(store: Store, *, certno: str, code: str, now: datetime, ip: str) -> tuple[str, Principal]:
    """Step two: the code activates the voucher and opens a portal session (the cookie's value, who).

    Raises Refused (wrong or expired code, suspended voucher) after writing down the refusal and the
    failed try: the caller commits the transaction all the same; no voucher and no session is written.
    """
    certno = certno.strip().upper()[:50]
    person = store.person_by_certno(certno)
    psn_no = person.psn_no if person else ""
    try:
        voucher = v.confirm_activation(store, certno, code[:20], now)
    except Refused as exc:
        record(
            store, AuditEntry(now, "", "anonymous", Action.VOUCHER_ACTIVATE_FAILED, psn_no, ip=ip, detail=exc.reason)
        )
        raise
    record(store, AuditEntry(now, voucher.psn_no, PORTAL, Action.VOUCHER_ACTIVATE, voucher.psn_no, ip=ip))
    return open_portal_session(store, voucher.psn_no, now, ip, detail="voucher activation")


# ---------------------------------------------------------------- the voucher page


@frozen
class UseView:
    at: datetime
    """Local time (Asia/Shanghai)."""
    institution: str
    business_type: str
    business_name: str


@frozen
class VoucherView:
    status: str
    """none (not activated), active or suspended."""
    activated_at: datetime | None = None
    """Local time."""
    code: v.IssuedCode | None = None
    """A fresh code, for an active voucher when an issuer was handed in."""
    uses: list[UseView] = field(default_factory=list)


def voucher_view(
    store: Store, psn_no: str, now: datetime, issuer: v.CodeIssuer | None, *, history: bool = True
) -> VoucherView:
    """What the person's voucher page shows (``history=False``: the code alone, for the refresh)."""
    voucher = store.voucher_of(psn_no)
    if voucher is None:
        return VoucherView("none")
    uses: list[UseView] = []
    if history:
        names: dict[str, str] = {}
        for use in store.voucher_uses(psn_no, HISTORY):
            if use.fixmedins_code not in names:
                found = store.institution(use.fixmedins_code)
                names[use.fixmedins_code] = found.fixmedins_name if found else use.fixmedins_code
            uses.append(
                UseView(
                    local_time(use.used_at),
                    names[use.fixmedins_code],
                    use.business_type,
                    v.BUSINESS_TYPES.get(use.business_type, use.business_type),
                )
            )
    active = voucher.status == v.ACTIVE
    code = v.current_code(store, issuer, psn_no, now) if active and issuer is not None else None
    return VoucherView("active" if active else "suspended", local_time(voucher.activated_at), code, uses)
