"""Bureau staff accounts, their roles and regions, and the sessions of the console and the portal.

Roles grant permissions (``GRANTS``); the web layer maps every route to the one permission it needs.
An account belongs to a region (admdvs): a clerk of 440100 sees only the people insured in 4401xx and
the figures of their settlements; ``000000`` sees the whole node. Passwords are hashed by the
``PasswordHasher`` the caller hands in (argon2id in ``yibao.passwords``); this module never sees a
hashing library. A session is a random id in a cookie; the store keeps only its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from yibao.app.audit import Action, AuditEntry, AuditStore, record
from yibao.app.records import PersonRecord
from yibao.domain.frozen import frozen

ALL_REGIONS = "000000"
"""The admdvs of an account that sees every region of the node."""

CONSOLE = "console"
PORTAL = "portal"


class Role(StrEnum):
    ADMIN = "admin"
    CLERK = "clerk"
    AUDITOR = "auditor"
    ANALYST = "analyst"
    READONLY = "readonly"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS: dict[str, str] = {
    Role.ADMIN: "管理员",
    Role.CLERK: "经办员",
    Role.AUDITOR: "稽核员",
    Role.ANALYST: "分析员",
    Role.READONLY: "只读",
}


class Permission(StrEnum):
    FIGURES = "figures.view"
    """The dashboard: figures and charts, no personal data."""
    INSTITUTIONS = "institution.view"
    """Institutions and their recent settlements (psn_no and amounts)."""
    PERSONS = "person.view"
    """A person's personal data: masked name and ID number, insurance, balance, settlements."""
    SETTLEMENTS = "settlement.view"
    """One settlement with its visit, diagnosis and fee lines."""
    LEDGER = "ledger.view"
    AUDIT = "audit.view"
    USERS = "users.manage"
    VOUCHERS = "voucher.manage"
    """Suspend or restore a person's electronic voucher (a lost phone, suspected abuse)."""
    FILINGS = "filing.manage"
    """See the cross-region filings (备案) waiting for the bureau, approve or refuse them."""
    SUPERVISION_READ = "supervision.read"
    """Findings of the rule engine and the joint audit cases, with their evidence (psn_no, visits, lines)."""
    SUPERVISION_AUDIT = "supervision.audit"
    """Open joint audit cases, record on-site results, confirm, recover (a ledger posting) or close them."""
    SERVICES_BOARD = "services.board"
    """The service board, the service list and the regions' diff (figures and items, no personal data)."""
    SERVICES_HANDLE = "services.handle"
    """Service applications: the inbox, an application's page, applying at the counter, passing, returning
    or refusing a task (yibao.app.service_applications)."""
    SERVICES_CATALOGUE = "services.catalogue"
    """Adopt the service list for a region."""
    SIGNED_IN = "signed-in"
    """Any console account: the header, signing out."""


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.CLERK: frozenset(
        {
            Permission.SIGNED_IN,
            Permission.FIGURES,
            Permission.INSTITUTIONS,
            Permission.PERSONS,
            Permission.SETTLEMENTS,
            Permission.VOUCHERS,
            Permission.FILINGS,
            Permission.SERVICES_BOARD,
            Permission.SERVICES_HANDLE,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.SIGNED_IN,
            Permission.FIGURES,
            Permission.INSTITUTIONS,
            Permission.PERSONS,
            Permission.SETTLEMENTS,
            Permission.LEDGER,
            Permission.AUDIT,
            Permission.SUPERVISION_READ,
            Permission.SUPERVISION_AUDIT,
            Permission.SERVICES_BOARD,
        }
    ),
    Role.ANALYST: frozenset(
        {
            Permission.SIGNED_IN,
            Permission.FIGURES,
            Permission.INSTITUTIONS,
            Permission.LEDGER,
            Permission.SERVICES_BOARD,
        }
    ),
    Role.READONLY: frozenset(
        {Permission.SIGNED_IN, Permission.FIGURES, Permission.INSTITUTIONS, Permission.SERVICES_BOARD}
    ),
}

WHOLE_NODE = frozenset({Permission.LEDGER, Permission.AUDIT})
"""Permissions that only an account of every region (000000) has: the ledger's accounts and the audit
log are not kept per region."""

CONSOLE_IDLE = timedelta(minutes=30)
CONSOLE_MAX = timedelta(hours=12)
PORTAL_IDLE = timedelta(minutes=15)
PORTAL_MAX = timedelta(hours=2)
TOUCH_EVERY = timedelta(seconds=60)
"""A session's expiry slides forward on use, written at most once a minute."""

FAILURES_ALLOWED = 5
LOCKOUT = timedelta(minutes=15)
"""After five failed sign-ins within 15 minutes, the account (or the person, in the portal) is refused
until the window has passed, even with the right password."""

MIN_PASSWORD = 10
USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,49}$")
ADMDVS = re.compile(r"^\d{6}$")


class AccountError(ValueError):
    """A request about accounts that cannot be done: the message says why (shown to the operator)."""


class LoginRefused(Exception):
    """Wrong username or password, a disabled or locked account: the caller is told no more than that."""


# ---------------------------------------------------------------- records and the port


@frozen
class UserRecord:
    username: str
    display_name: str
    role: str
    admdvs: str
    password_hash: str
    active: bool
    created_at: datetime
    password_changed_at: datetime

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


@frozen
class SessionRecord:
    token_hash: str
    kind: str
    """console or portal."""
    username: str | None
    psn_no: str | None
    created_at: datetime
    seen_at: datetime
    expires_at: datetime
    ip: str


class AccountStore(Protocol):
    def console_user(self, username: str) -> UserRecord | None: ...
    def console_users(self) -> list[UserRecord]: ...
    def insert_console_user(self, user: UserRecord) -> None: ...
    def update_console_user(self, user: UserRecord) -> None:
        """Role, region, display name, password hash and active flag of an existing account."""

    def insert_session(self, session: SessionRecord) -> None: ...
    def web_session(self, token_hash: str) -> SessionRecord | None: ...
    def touch_session(self, token_hash: str, seen_at: datetime, expires_at: datetime) -> None: ...
    def delete_session(self, token_hash: str) -> None: ...
    def delete_sessions(self, *, username: str | None = None, expired_before: datetime | None = None) -> int:
        """Sessions of one account, or those expired before a time; how many."""


class PersonFinder(Protocol):
    def person_by_certno(self, certno: str) -> PersonRecord | None: ...


class AccountsStore(AccountStore, AuditStore, PersonFinder, Protocol):
    """What the use cases of this module need: accounts, sessions, the audit log, the registry."""


class PasswordHasher(Protocol):
    def hash(self, password: str) -> str: ...
    def verify(self, password_hash: str, password: str) -> bool:
        """False for a wrong password (never raises for one)."""

    def needs_rehash(self, password_hash: str) -> bool: ...


# ---------------------------------------------------------------- who is calling


@frozen
class Principal:
    """The signed-in caller of one request."""

    kind: str
    """console or portal."""
    name: str
    """The console username, or the psn_no signed in to the portal."""
    role: str = ""
    admdvs: str = ALL_REGIONS
    display_name: str = ""
    psn_no: str | None = None

    @property
    def region(self) -> str:
        """The admdvs prefix the caller sees: "" for every region."""
        return region_prefix(self.admdvs)

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, "")

    def can(self, permission: Permission) -> bool:
        if self.kind != CONSOLE or self.role not in set(Role):
            return False
        if permission in WHOLE_NODE and self.region:
            return False
        return permission in GRANTS[Role(self.role)]


def region_prefix(admdvs: str) -> str:
    """440106 → 440106, 440100 → 4401, 440000 → 44, 000000 → "" (every region)."""
    value = admdvs.strip()
    while value.endswith("00"):
        value = value[:-2]
    return value


def covers(region: str, admdvs: str) -> bool:
    """A caller who sees ``region`` (a prefix from region_prefix) sees a record of ``admdvs``."""
    return admdvs.startswith(region)


# ---------------------------------------------------------------- accounts


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise AccountError("password: no leading or trailing spaces")


def create_user(
    store: AccountsStore,
    hasher: PasswordHasher,
    *,
    username: str,
    password: str,
    role: str,
    admdvs: str,
    now: datetime,
    by: Principal,
    ip: str = "",
    display_name: str = "",
) -> UserRecord:
    """A new account; ``by`` (an administrator, or the CLI) is recorded in the audit log."""
    if not USERNAME.match(username):
        raise AccountError("username: 2–50 lower-case letters, digits, '.', '_' or '-'")
    if role not in set(Role):
        raise AccountError(f"role: one of {', '.join(Role)}")
    if not ADMDVS.match(admdvs):
        raise AccountError("admdvs: six digits (000000 for every region)")
    if by.kind == CONSOLE and not covers(by.region, admdvs):
        raise AccountError(f"admdvs: {admdvs} is outside your region {by.admdvs}")
    check_password(password)
    if store.console_user(username) is not None:
        raise AccountError(f"username: {username} exists")
    user = UserRecord(username, display_name.strip()[:100], role, admdvs, hasher.hash(password), True, now, now)
    store.insert_console_user(user)
    record(store, entry(by, Action.USER_CREATE, now, ip, obj=username, detail=f"role={role} admdvs={admdvs}"))
    return user


def managed_user(store: AccountsStore, username: str, by: Principal) -> UserRecord:
    user = store.console_user(username)
    if user is None or (by.kind == CONSOLE and not covers(by.region, user.admdvs)):
        raise AccountError(f"username: {username} not found")
    return user


def set_password(
    store: AccountsStore,
    hasher: PasswordHasher,
    *,
    username: str,
    password: str,
    now: datetime,
    by: Principal,
    ip: str = "",
) -> None:
    """A new password; the account's sessions end."""
    user = managed_user(store, username, by)
    check_password(password)
    store.update_console_user(replace(user, password_hash=hasher.hash(password), password_changed_at=now))
    store.delete_sessions(username=username)
    record(store, entry(by, Action.USER_PASSWORD, now, ip, obj=username))


def set_active(
    store: AccountsStore, *, username: str, active: bool, now: datetime, by: Principal, ip: str = ""
) -> None:
    """Enable or disable an account; a disabled account's sessions end. Nobody disables themselves."""
    user = managed_user(store, username, by)
    if not active and by.kind == CONSOLE and by.name == username:
        raise AccountError("username: you cannot disable your own account")
    store.update_console_user(replace(user, active=active))
    if not active:
        store.delete_sessions(username=username)
    record(store, entry(by, Action.USER_ENABLE if active else Action.USER_DISABLE, now, ip, obj=username))


def users(store: AccountsStore, by: Principal) -> list[UserRecord]:
    """The accounts of the caller's region."""
    return [u for u in store.console_users() if covers(by.region, u.admdvs)]


# ---------------------------------------------------------------- sessions


def new_token() -> tuple[str, str]:
    """(the cookie's value, what the store keeps)."""
    token = secrets.token_urlsafe(32)
    return token, token_hash(token)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def principal_of(user: UserRecord) -> Principal:
    return Principal(CONSOLE, user.username, user.role, user.admdvs, user.display_name)


def login(
    store: AccountsStore, hasher: PasswordHasher, *, username: str, password: str, now: datetime, ip: str
) -> tuple[str, Principal]:
    """Check the password and open a console session: (the cookie's value, who). Raises LoginRefused."""
    name = username.strip().lower()[:50]
    user = store.console_user(name)
    failures = store.audit_count(Action.LOGIN_FAILED, now - LOCKOUT, actor=name)
    if user is None:
        hasher.hash(password)  # about as slow as checking a real one: the answer does not tell who exists
        record(store, AuditEntry(now, name, "anonymous", Action.LOGIN_FAILED, ip=ip, detail="unknown username"))
        raise LoginRefused
    if failures >= FAILURES_ALLOWED:
        record(store, AuditEntry(now, name, CONSOLE, Action.LOGIN_LOCKED, ip=ip, detail="too many failures"))
        raise LoginRefused
    if not hasher.verify(user.password_hash, password) or not user.active:
        detail = "wrong password" if user.active else "account disabled"
        record(store, AuditEntry(now, name, CONSOLE, Action.LOGIN_FAILED, ip=ip, detail=detail))
        raise LoginRefused
    if hasher.needs_rehash(user.password_hash):
        store.update_console_user(replace(user, password_hash=hasher.hash(password)))
    token, hashed = new_token()
    store.delete_sessions(expired_before=now)
    store.insert_session(
        SessionRecord(hashed, CONSOLE, user.username, None, now, now, min(now + CONSOLE_IDLE, now + CONSOLE_MAX), ip)
    )
    record(store, AuditEntry(now, user.username, CONSOLE, Action.LOGIN, ip=ip))
    return token, principal_of(user)


def portal_login(store: AccountsStore, *, certno: str, card_no: str, now: datetime, ip: str) -> tuple[str, Principal]:
    """The insured person signs in with their ID number and social security card number.

    A stand-in for the national e-voucher or an SMS code (neither exists in this version): both numbers
    must match one person; five failures for a person within 15 minutes lock the portal for them.
    """
    person = store.person_by_certno(certno.strip().upper()[:50])
    psn_no = person.psn_no if person else ""
    if person is not None and store.audit_count(Action.PORTAL_LOGIN_FAILED, now - LOCKOUT, psn_no=psn_no) >= (
        FAILURES_ALLOWED
    ):
        record(store, AuditEntry(now, "", "anonymous", Action.PORTAL_LOGIN_FAILED, psn_no, ip=ip, detail="locked"))
        raise LoginRefused
    card = (person.card_no or "") if person else ""
    if person is None or not card or not hmac.compare_digest(card.encode(), card_no.strip().upper().encode()):
        record(store, AuditEntry(now, "", "anonymous", Action.PORTAL_LOGIN_FAILED, psn_no, ip=ip))
        raise LoginRefused
    return open_portal_session(store, psn_no, now, ip)


def open_portal_session(
    store: AccountsStore, psn_no: str, now: datetime, ip: str, *, detail: str = ""
) -> tuple[str, Principal]:
    """A portal session for a person already proven (card number, or the voucher's one-time code):
    (the cookie's value, who), with its ``portal.login`` row in the audit log."""
    token, hashed = new_token()
    store.delete_sessions(expired_before=now)
    store.insert_session(SessionRecord(hashed, PORTAL, None, psn_no, now, now, now + PORTAL_IDLE, ip))
    record(store, AuditEntry(now, psn_no, PORTAL, Action.PORTAL_LOGIN, psn_no, ip=ip, detail=detail))
    return token, Principal(PORTAL, psn_no, psn_no=psn_no)


@frozen
class Authenticated:
    principal: Principal
    touch: bool
    """The session's expiry should slide forward (``touch``)."""


def authenticate(store: AccountsStore, token: str, kind: str, now: datetime) -> Authenticated | None:
    """The caller behind a cookie's session id, if the session is of ``kind``, alive and its account active."""
    if not token or len(token) > 200:
        return None
    session = store.web_session(token_hash(token))
    if session is None or session.kind != kind or now >= session.expires_at:
        return None
    touch = now - session.seen_at >= TOUCH_EVERY
    if kind == PORTAL and session.psn_no:
        return Authenticated(Principal(PORTAL, session.psn_no, psn_no=session.psn_no), touch)
    if kind != CONSOLE or session.username is None:
        return None
    user = store.console_user(session.username)
    if user is None or not user.active or user.password_changed_at > session.created_at:
        return None
    return Authenticated(principal_of(user), touch)


def touch(store: AccountsStore, token: str, now: datetime) -> None:
    """Slide the session's expiry: idle time from now, never past its absolute limit."""
    session = store.web_session(token_hash(token))
    if session is None:
        return
    idle, limit = (CONSOLE_IDLE, CONSOLE_MAX) if session.kind == CONSOLE else (PORTAL_IDLE, PORTAL_MAX)
    store.touch_session(session.token_hash, now, min(now + idle, session.created_at + limit))


def logout(store: AccountsStore, token: str, who: Principal, now: datetime, ip: str) -> None:
    store.delete_session(token_hash(token))
    action = Action.LOGOUT if who.kind == CONSOLE else Action.PORTAL_LOGOUT
    record(store, entry(who, action, now, ip))


def entry(who: Principal, action: Action, now: datetime, ip: str, *, obj: str = "", detail: str = "") -> AuditEntry:
    return AuditEntry(now, who.name, who.kind, action, who.psn_no or "", obj, ip, detail)
