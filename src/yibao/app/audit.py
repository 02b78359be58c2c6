"""The audit log (审计日志): who saw or changed what, when, and from where.

Every view of a person's personal data (name, ID number, visits and settlements) in the console or
the portal, every sign-in and every change made through the console or the `yibao user` commands
is one row. Rows are only ever inserted: the application has no code path that updates or deletes
them, and the database refuses it too (triggers of migration 0003, on SQLite and PostgreSQL).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Protocol

from yibao.app.records import LOCAL, local_time
from yibao.domain.frozen import frozen


class Action(StrEnum):
    LOGIN = "login"
    LOGIN_FAILED = "login.failed"
    LOGIN_LOCKED = "login.locked"
    LOGOUT = "logout"
    PERSON_SEARCH = "person.search"
    PERSON_VIEW = "person.view"
    SETTLEMENT_VIEW = "settlement.view"
    INSTITUTION_VIEW = "institution.view"
    PORTAL_LOGIN = "portal.login"
    PORTAL_LOGIN_FAILED = "portal.login.failed"
    PORTAL_VIEW = "portal.view"
    PORTAL_LOGOUT = "portal.logout"
    PORTAL_PAY = "portal.pay"
    VOUCHER_CODE_SENT = "voucher.code_sent"
    VOUCHER_ACTIVATE = "voucher.activate"
    VOUCHER_ACTIVATE_FAILED = "voucher.activate.failed"
    USER_CREATE = "user.create"
    USER_PASSWORD = "user.password"
    USER_ENABLE = "user.enable"
    USER_DISABLE = "user.disable"
    AUDIT_SEARCH = "audit.search"
    VOUCHER_SUSPEND = "voucher.suspend"
    VOUCHER_RESTORE = "voucher.restore"
    REFUSED = "refused"
    FILING_APPLY = "filing.apply"
    FILING_VIEW = "filing.view"
    FILING_APPROVE = "filing.approve"
    FILING_REFUSE = "filing.refuse"

    @classmethod
    def label(cls, code: str) -> str:
        return LABELS.get(code, code)


LABELS: dict[str, str] = {
    Action.LOGIN: "登录",
    Action.LOGIN_FAILED: "登录失败",
    Action.LOGIN_LOCKED: "登录被锁定",
    Action.LOGOUT: "退出",
    Action.PERSON_SEARCH: "查询参保人",
    Action.PERSON_VIEW: "查看参保人",
    Action.SETTLEMENT_VIEW: "查看结算单",
    Action.INSTITUTION_VIEW: "查看定点机构",
    Action.PORTAL_LOGIN: "门户登录",
    Action.PORTAL_LOGIN_FAILED: "门户登录失败",
    Action.PORTAL_VIEW: "门户查看本人信息",
    Action.PORTAL_LOGOUT: "门户退出",
    Action.PORTAL_PAY: "门户支付线上订单",
    Action.VOUCHER_CODE_SENT: "发送电子凭证激活验证码",
    Action.VOUCHER_ACTIVATE: "激活电子凭证",
    Action.VOUCHER_ACTIVATE_FAILED: "电子凭证激活失败",
    Action.USER_CREATE: "新建账号",
    Action.USER_PASSWORD: "重置密码",
    Action.USER_ENABLE: "启用账号",
    Action.USER_DISABLE: "停用账号",
    Action.AUDIT_SEARCH: "查询审计日志",
    Action.VOUCHER_SUSPEND: "暂停医保电子凭证",
    Action.VOUCHER_RESTORE: "恢复医保电子凭证",
    Action.REFUSED: "越权访问被拒绝",
    Action.FILING_APPLY: "申请异地就医备案",
    Action.FILING_VIEW: "查看待审核的异地就医备案",
    Action.FILING_APPROVE: "批准异地就医备案",
    Action.FILING_REFUSE: "驳回异地就医备案",
    # joint audit cases (yibao.app.audit_cases.CaseAction)
    "findings.view": "查看监管疑点",
    "case.view": "查看联审案件",
    "case.open": "智能互查立案",
    "case.review": "记录现场联审结果",
    "case.confirm": "查实违规",
    "case.recover": "追回基金",
    "case.close": "联审案件无违规结案",
}


@frozen
class AuditEntry:
    at: datetime
    """Naive UTC in the store; local time in what ``search`` returns."""
    actor: str
    """The console username, the psn_no signed in to the portal, the operating-system user of the CLI."""
    actor_kind: str
    """console, portal, cli or anonymous."""
    action: str
    psn_no: str = ""
    """The person whose data was seen or changed, if any."""
    object: str = ""
    """What else the action concerned: a setl_id, fixmedins_code, username, page."""
    ip: str = ""
    detail: str = ""
    id: int | None = None

    @property
    def action_label(self) -> str:
        return Action.label(self.action)


@frozen
class AuditQuery:
    actor: str = ""
    psn_no: str = ""
    action: str = ""
    begin: datetime | None = None
    """Naive UTC, inclusive."""
    end: datetime | None = None
    """Naive UTC, exclusive."""


class AuditStore(Protocol):
    def insert_audit(self, entry: AuditEntry) -> None: ...
    def audit_entries(self, query: AuditQuery, limit: int) -> list[AuditEntry]:
        """The newest first."""

    def audit_count(self, action: str, since: datetime, *, actor: str | None = None, psn_no: str | None = None) -> int:
        """Rows of ``action`` at or after ``since`` (naive UTC), of one actor and/or one person."""


def record(store: AuditStore, entry: AuditEntry) -> None:
    """Write one row. Call it inside the transaction of the change it records, or before showing data."""
    store.insert_audit(entry)


def query_of(actor: str, psn_no: str, action: str, first: date | None, last: date | None) -> AuditQuery:
    """A search by local days (Asia/Shanghai), both inclusive."""
    begin = None if first is None else utc_midnight(first)
    end = None if last is None else utc_midnight(last + timedelta(days=1))
    return AuditQuery(actor.strip(), psn_no.strip(), action.strip(), begin, end)


def utc_midnight(day: date) -> datetime:
    """The local day's first instant, as the store keeps times (naive UTC)."""
    return datetime.combine(day, time(), LOCAL).astimezone(UTC).replace(tzinfo=None)


def search(store: AuditStore, query: AuditQuery, limit: int = 500) -> list[AuditEntry]:
    """Matching rows, the newest first, with local times."""
    return [
        AuditEntry(local_time(e.at), e.actor, e.actor_kind, e.action, e.psn_no, e.object, e.ip, e.detail, e.id)
        for e in store.audit_entries(query, limit)
    ]
