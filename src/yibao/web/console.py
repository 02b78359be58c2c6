"""The bureau's console (/console) and the insured person's portal (/portal): pages over the read side.

Server-rendered Jinja2 pages; htmx polls /console/live every 2 s for the figures, and ECharts draws
the charts. Both libraries come from the npm registry at build time (`make`, into build/web) and are
served from here: every page forbids loading anything from another origin (Content-Security-Policy).
Every route needs what ``yibao.web.guard.ROUTES`` says: staff sign in (``/console/login``) to a
server-side session, their role's permissions and their region bound what they see, and every view
of personal data and every change is written to the audit log (``yibao.app.audit``) before the
page goes out. The portal shows the insured person signed in, and nobody else.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from yibao.app import accounts as account
from yibao.app import audit as audit_log
from yibao.app import dashboard, online, voucher_portal
from yibao.app import voucher as vouchers
from yibao.app.accounts import (
    CONSOLE,
    PORTAL,
    AccountError,
    LoginRefused,
    PasswordHasher,
    Permission,
    Principal,
    Role,
)
from yibao.app.audit import Action, AuditEntry
from yibao.app.cross_region import Federation
from yibao.app.dashboard import DashboardSource, DashboardStore, Overview
from yibao.app.errors import NotFound, Refused
from yibao.app.online_orders import AWAITING
from yibao.app.ports import Store, UnitOfWork
from yibao.app.voucher import CodeAuthority
from yibao.domain.errors import DomainError
from yibao.domain.money import Fen, fen_to_yuan
from yibao.passwords import Argon2Hasher
from yibao.sms import SmsOutbox
from yibao.voucher.qr import qr_svg
from yibao.web.filings import add_filing_routes
from yibao.web.funds import add_fund_routes
from yibao.web.guard import PORTAL_SELF, SAFE_METHODS, Access, guarded_route, login_url, principal_of, same_origin
from yibao.web.i18n import AMOUNTS, LANGS, translator
from yibao.web.policy_simulation import add_policy_simulation_routes
from yibao.web.services import add_service_routes
from yibao.web.supervision import add_supervision_routes

HERE = Path(__file__).resolve().parent
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
T = TypeVar("T")


def vendor_dir() -> Path:
    """Where `make` installed the npm packages (YIBAO_WEB_ASSETS overrides it)."""
    configured = os.environ.get("YIBAO_WEB_ASSETS")
    return Path(configured) if configured else HERE.parents[2] / "build" / "web" / "node_modules"


def static_files(vendor: Path) -> dict[str, Path]:
    return {
        "console.css": HERE / "static" / "console.css",
        "console.js": HERE / "static" / "console.js",
        "voucher.js": HERE / "static" / "voucher.js",
        "funds.js": HERE / "static" / "funds.js",
        "policy_simulation.js": HERE / "static" / "policy_simulation.js",
        "echarts.min.js": vendor / "echarts" / "dist" / "echarts.min.js",
        "htmx.min.js": vendor / "htmx.org" / "dist" / "htmx.min.js",
    }


# ---------------------------------------------------------------- formatting for the templates


def yuan(fen: Fen | None) -> str:
    """Fen as yuan with thousands separators: 1234567 → 12,345.67."""
    return "" if fen is None else f"{fen_to_yuan(fen):,.2f}"


def when(value: datetime | None) -> str:
    return "" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


def yuan_number(fen: Fen) -> float:
    """For charts only: a display number, never for sums."""
    return float(Decimal(fen) / 100)


def templates() -> Jinja2Templates:
    engine = Jinja2Templates(directory=str(HERE / "templates"))
    engine.env.filters["yuan"] = yuan
    engine.env.filters["when"] = when
    return engine


def chart_data(o: Overview) -> dict[str, Any]:
    return {
        "minute": {"labels": [m.label for m in o.per_minute], "values": [m.settlements for m in o.per_minute]},
        "insutype": [{"name": f"{s.label}", "value": yuan_number(s.fund_pay_sumamt)} for s in o.by_insutype],
        "medtype": [{"name": s.label, "value": yuan_number(s.fund_pay_sumamt)} for s in o.by_med_type],
        "top": [{"name": i.fixmedins_name, "value": i.settlements} for i in reversed(o.top_institutions)],
        "district": [{"name": d.name, "value": d.settlements} for d in o.districts],
    }


# ---------------------------------------------------------------- the router

CONSOLE_COOKIE = "yibao_console"
PORTAL_COOKIE = "yibao_portal"


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def local_path(target: str, default: str = "/console") -> str:
    """Only a path of this site (never //elsewhere or a full URL) is a place to go back to."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else default


def console_router(
    source: DashboardSource,
    accounts: UnitOfWork,
    hasher: PasswordHasher | None = None,
    vendor: Path | None = None,
    codes: CodeAuthority | None = None,
    federation: Federation | None = None,
) -> APIRouter:
    """The console and the portal, reading through ``source``; accounts, sessions and the audit log
    through ``accounts``; ``codes`` signs the voucher codes the portal shows. Every route is checked
    against ``yibao.web.guard.ROUTES``."""
    files = static_files(vendor or vendor_dir())
    views = templates()
    passwords: PasswordHasher = hasher or Argon2Hasher()

    def utc_now() -> datetime:
        return datetime.now(UTC).replace(tzinfo=None)

    def read(use: Callable[[DashboardStore], T]) -> T:
        with source.reading() as store:
            return use(store)

    def write(use: Callable[[Store], T]) -> T:
        with accounts.transaction() as store:
            return use(store)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = request.cookies.get("lang", "zh")
        lang = lang if lang in LANGS else "zh"
        missing = [n for n in ("echarts.min.js", "htmx.min.js") if not files[n].is_file()]
        me = principal_of(request)
        response = views.TemplateResponse(
            request,
            name,
            {
                "t": translator(lang),
                "lang": lang,
                "assets_missing": missing,
                "path": request.url.path,
                "me": me if me is not None and me.kind == CONSOLE else None,
                "P": Permission,
                **context,
            },
            status_code=status,
        )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def audit(request: Request, action: Action, psn_no: str = "", obj: str = "", detail: str = "") -> None:
        """One row of the audit log, written before the page that shows the data is sent."""
        who = principal_of(request)
        entry = AuditEntry(
            utc_now(),
            who.name if who else "",
            who.kind if who else "anonymous",
            action,
            psn_no,
            obj,
            client_ip(request),
            detail,
        )
        write(lambda store: audit_log.record(store, entry))

    async def form(request: Request) -> dict[str, str]:
        """An urlencoded form (personal data goes in a POST body, never in a URL)."""
        fields = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        return {name: values[0] for name, values in fields.items()}

    # ---- who is calling

    def identify_now(request: Request, kind: str) -> Principal | None:
        token = request.cookies.get(CONSOLE_COOKIE if kind == CONSOLE else PORTAL_COOKIE, "")
        if not token:
            return None
        now = utc_now()
        with accounts.transaction(write=False) as store:
            found = account.authenticate(store, token, kind, now)
        if found is None:
            return None
        if found.touch:
            write(lambda store: account.touch(store, token, now))
        return found.principal

    async def identify(request: Request, kind: str) -> Principal | None:
        return await run_in_threadpool(identify_now, request, kind)

    async def refuse(request: Request, access: Access, who: Principal | None) -> Response:
        htmx = request.headers.get("hx-request") == "true"
        if request.method not in SAFE_METHODS and not same_origin(request):
            return page(request, "console/refused.html", status=403, reason="origin")
        if who is None and access == PORTAL_SELF:
            if request.method == "GET" and not htmx:
                return RedirectResponse("/portal", status_code=303)
            answer = page(request, "portal/index.html", status=401, p=None, failed=False)
            if htmx:  # the voucher page's refresh after the session ended: the whole page goes to sign-in
                answer.headers["HX-Redirect"] = "/portal"
            return answer
        if who is None or who.kind != CONSOLE:
            if request.method == "GET" and not htmx:
                return RedirectResponse(login_url(request), status_code=303)
            response = page(request, "console/refused.html", status=401, reason="login")
            response.headers["HX-Redirect"] = "/console/login"
            return response
        request.state.principal = who  # the header shows who was refused
        await run_in_threadpool(audit, request, Action.REFUSED, "", request.url.path, f"needs {access}")
        return page(request, "console/refused.html", status=403, reason="permission")

    router = APIRouter(include_in_schema=False, route_class=guarded_route(identify, refuse))

    def region(request: Request) -> str:
        who = principal_of(request)
        return who.region if who else ""

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    # ---- signing in and out

    @router.get("/console/login")
    async def login_page(request: Request, next: str = "/console") -> Response:
        if await identify(request, CONSOLE) is not None:
            return RedirectResponse(local_path(next), status_code=303)
        return page(request, "console/login.html", next=local_path(next), failed=False, username="")

    @router.post("/console/login")
    async def login(request: Request) -> Response:
        fields = await form(request)
        target = local_path(fields.get("next", ""))
        now, ip = utc_now(), client_ip(request)

        def attempt(store: Store) -> str | None:
            try:
                token, _ = account.login(
                    store,
                    passwords,
                    username=fields.get("username", ""),
                    password=fields.get("password", ""),
                    now=now,
                    ip=ip,
                )
            except LoginRefused:
                return None
            return token

        token = await run_in_threadpool(write, attempt)
        if token is None:
            username = fields.get("username", "")[:50]
            return page(request, "console/login.html", status=401, next=target, failed=True, username=username)
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(request, response, CONSOLE_COOKIE, token)
        return response

    def signed_out(request: Request, cookie: str, target: str) -> Response:
        """End the session of ``cookie`` (console or portal) and go to ``target``."""
        who = principal_of(request)
        token = request.cookies.get(cookie, "")
        if who is not None:
            write(lambda store: account.logout(store, token, who, utc_now(), client_ip(request)))
        response = RedirectResponse(target, status_code=303)
        response.delete_cookie(cookie, path="/", httponly=True, samesite="strict")
        return response

    @router.post("/console/logout")
    def logout(request: Request) -> Response:
        return signed_out(request, CONSOLE_COOKIE, "/console/login")

    # ---- the figures

    latest: dict[str, tuple[float, Overview]] = {}
    computing = threading.Lock()

    def current(request: Request) -> Overview:
        """The overview of the caller's region, computed at most once a second in this process however
        many consoles poll it."""
        scope = region(request)
        with computing:
            cached = latest.get(scope)
            if cached and time.monotonic() - cached[0] < 1.0:
                return cached[1]
            o = read(lambda store: dashboard.overview(store, datetime.now(UTC), scope))
            latest[scope] = (time.monotonic(), o)
            return o

    @router.get("/console")
    def overview_page(request: Request) -> Response:
        o = current(request)
        return page(request, "console/dashboard.html", o=o, charts=chart_data(o))

    @router.get("/console/live")
    def live(request: Request) -> Response:
        o = current(request)
        return page(request, "console/_live.html", o=o, charts=chart_data(o), oob=True)

    @router.get("/console/vouchers")
    def vouchers_page(request: Request) -> Response:
        """The electronic voucher: activation, codes read, settlements by certificate, adoption per institution."""
        scope = region(request)
        figures = read(lambda store: dashboard.voucher_figures(store, datetime.now(UTC), scope))
        return page(request, "console/vouchers.html", v=figures)

    @router.get("/console/cross-region")
    def cross_region_page(request: Request) -> Response:
        """Cross-region settlement: settlements per region pair, both sides, and the amounts awaiting clearing."""
        scope = region(request)
        figures = read(lambda store: dashboard.cross_region_figures(store, datetime.now(UTC), scope))
        return page(request, "console/cross_region.html", v=figures)

    # ---- a person

    @router.get("/console/person")
    def person_search(request: Request) -> Response:
        return page(request, "console/person.html", p=None, searched=False)

    @router.post("/console/person")
    async def person_find(request: Request) -> Response:
        query = (await form(request)).get("q", "").strip()
        scope = region(request)
        found = await run_in_threadpool(read, lambda store: dashboard.find_person(store, query, scope))
        psn_no = found.psn_no if found else ""
        await run_in_threadpool(audit, request, Action.PERSON_SEARCH, psn_no, "", "" if found else "not found")
        if found is None:
            return page(request, "console/person.html", status=404, p=None, searched=True)
        return RedirectResponse(f"/console/person/{quote(found.psn_no)}", status_code=303)

    @router.get("/console/person/{psn_no}")
    def person_page(request: Request, psn_no: str) -> Response:
        scope = region(request)
        view = read(lambda store: dashboard.person_view(store, psn_no, datetime.now(UTC), region=scope))
        if view is None or view.psn_no != psn_no:  # the path names a psn_no, not an ID number
            audit(request, Action.PERSON_VIEW, psn_no[:30], "", "not found")
            return page(request, "console/person.html", status=404, p=None, searched=True)
        audit(request, Action.PERSON_VIEW, view.psn_no)
        voucher = read(lambda store: dashboard.person_voucher(store, view.psn_no))
        return page(request, "console/person.html", p=view, searched=True, voucher=voucher)

    @router.post("/console/person/{psn_no}/voucher")
    async def person_voucher_change(request: Request, psn_no: str) -> Response:
        suspend = (await form(request)).get("suspend") == "1"
        return await run_in_threadpool(voucher_change, request, psn_no, suspend)

    def voucher_change(request: Request, psn_no: str, suspend: bool) -> Response:
        """Suspend or restore the person's voucher (yibao.app.voucher.set_suspended), audited in the same
        transaction; then back to the person's page."""
        scope = region(request)
        found = read(lambda store: dashboard.find_person(store, psn_no, scope))
        who = principal_of(request)
        if found is None or found.psn_no != psn_no or who is None:
            return page(request, "console/person.html", status=404, p=None, searched=True)
        now, ip = utc_now(), client_ip(request)
        action = Action.VOUCHER_SUSPEND if suspend else Action.VOUCHER_RESTORE

        def change(store: Store) -> None:
            changed = vouchers.set_suspended(store, psn_no, suspend, now)
            audit_log.record(store, AuditEntry(now, who.name, who.kind, action, psn_no, changed.ec_index_no, ip))

        try:
            write(change)
        except NotFound:
            return page(request, "console/person.html", status=404, p=None, searched=True)
        return RedirectResponse(f"/console/person/{quote(psn_no)}", status_code=303)

    # ---- an institution

    @router.get("/console/institution")
    def institution_search(request: Request, q: str = "") -> Response:
        scope = region(request)
        found = read(lambda store: dashboard.find_institutions(store, q, region=scope))
        if len(found) == 1:
            return RedirectResponse(f"/console/institution/{quote(found[0].fixmedins_code)}", status_code=303)
        return page(request, "console/institutions.html", q=q, found=found, status=404 if q and not found else 200)

    @router.get("/console/institution/{fixmedins_code}")
    def institution_page(request: Request, fixmedins_code: str) -> Response:
        scope = region(request)
        view = read(lambda store: dashboard.institution_view(store, fixmedins_code, datetime.now(UTC), scope))
        if view is None:
            return page(request, "console/institutions.html", q=fixmedins_code, found=[], status=404)
        audit(
            request,
            Action.INSTITUTION_VIEW,
            "",
            view.institution.fixmedins_code,
            f"{len(view.settlements)} settlements",
        )
        return page(request, "console/institution.html", v=view)

    # ---- a settlement

    @router.get("/console/settlement")
    def settlement_search(request: Request, q: str = "") -> Response:
        if q.strip():
            return RedirectResponse(f"/console/settlement/{quote(q.strip())}", status_code=303)
        return page(request, "console/settlement.html", v=None, q="", amount_names=AMOUNTS)

    @router.get("/console/settlement/{setl_id}")
    def settlement_page(request: Request, setl_id: str) -> Response:
        scope = region(request)
        view = read(lambda store: dashboard.settlement_view(store, setl_id, scope))
        if view is None:
            return page(request, "console/settlement.html", status=404, v=None, q=setl_id, amount_names=AMOUNTS)
        audit(request, Action.SETTLEMENT_VIEW, view.row.psn_no, view.row.setl_id)
        return page(request, "console/settlement.html", v=view, q=setl_id, amount_names=AMOUNTS)

    # ---- the ledger

    @router.get("/console/ledger")
    def ledger_page(request: Request) -> Response:
        return page(request, "console/ledger.html", v=read(dashboard.ledger_view))

    # ---- the audit log

    @router.get("/console/audit")
    def audit_page(
        request: Request, actor: str = "", psn_no: str = "", action: str = "", first: str = "", last: str = ""
    ) -> Response:
        try:
            begin = date.fromisoformat(first) if first else None
            end = date.fromisoformat(last) if last else None
        except ValueError:
            begin = end = None
        query = audit_log.query_of(actor, psn_no, action, begin, end)
        detail = " ".join(f"{k}={v}" for k, v in (("actor", actor), ("psn_no", psn_no), ("action", action),
                                                   ("first", first), ("last", last)) if v)  # fmt: skip
        audit(request, Action.AUDIT_SEARCH, psn_no.strip()[:30], "", detail)
        with accounts.transaction(write=False) as store:
            entries = audit_log.search(store, query)
        return page(
            request,
            "console/audit.html",
            entries=entries,
            actions=list(Action),
            f={"actor": actor, "psn_no": psn_no, "action": action, "first": first, "last": last},
        )

    # ---- the accounts

    def users_page(request: Request, status: int = 200, error: str = "", done: str = "") -> Response:
        who = principal_of(request)
        assert who is not None
        with accounts.transaction(write=False) as store:
            listed = account.users(store, who)
        return page(
            request, "console/users.html", status=status, users=listed, roles=list(Role), error=error, done=done
        )

    def change(request: Request, use: Callable[[Store, Principal], None], done: str) -> Response:
        who = principal_of(request)
        assert who is not None
        try:
            write(lambda store: use(store, who))
        except AccountError as exc:
            return users_page(request, status=400, error=str(exc))
        return users_page(request, done=done)

    @router.get("/console/users")
    def users_list(request: Request) -> Response:
        return users_page(request)

    @router.post("/console/users")
    async def user_create(request: Request) -> Response:
        f = await form(request)
        ip = client_ip(request)

        def create(store: Store, who: Principal) -> None:
            account.create_user(
                store,
                passwords,
                username=f.get("username", "").strip(),
                password=f.get("password", ""),
                role=f.get("role", ""),
                admdvs=f.get("admdvs", "").strip(),
                display_name=f.get("display_name", ""),
                now=utc_now(),
                by=who,
                ip=ip,
            )

        return await run_in_threadpool(change, request, create, f.get("username", "").strip())

    @router.post("/console/users/{username}/active")
    async def user_active(request: Request, username: str) -> Response:
        active = (await form(request)).get("active") == "1"
        ip = client_ip(request)

        def flip(store: Store, who: Principal) -> None:
            account.set_active(store, username=username, active=active, now=utc_now(), by=who, ip=ip)

        return await run_in_threadpool(change, request, flip, username)

    @router.post("/console/users/{username}/password")
    async def user_password(request: Request, username: str) -> Response:
        password = (await form(request)).get("password", "")
        ip = client_ip(request)

        def reset(store: Store, who: Principal) -> None:
            account.set_password(store, passwords, username=username, password=password, now=utc_now(), by=who, ip=ip)

        return await run_in_threadpool(change, request, reset, username)

    # ---- language, static files

    @router.get("/console/lang/{lang}")
    def switch_language(lang: str, next: str = "/console") -> RedirectResponse:
        response = RedirectResponse(local_path(next), status_code=303)
        response.set_cookie("lang", lang if lang in LANGS else "zh", max_age=365 * 86400, samesite="lax")
        return response

    @router.get("/console/static/{name}")
    def static(name: str) -> Response:
        path = files.get(name)
        if path is None or not path.is_file():
            return PlainTextResponse(f"{name}: not installed (run `make install`)", status_code=404)
        headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return FileResponse(path, headers=headers)

    # ---- the insured person's portal: only ever the person signed in

    @router.get("/portal")
    async def portal_entry(request: Request) -> Response:
        if await identify(request, PORTAL) is not None:
            return RedirectResponse("/portal/me", status_code=303)
        return page(request, "portal/index.html", p=None, failed=False)

    @router.post("/portal")
    async def portal_login(request: Request) -> Response:
        f = await form(request)
        now, ip = utc_now(), client_ip(request)

        def attempt(store: Store) -> str | None:
            try:
                token, _ = account.portal_login(
                    store, certno=f.get("certno", ""), card_no=f.get("card_no", ""), now=now, ip=ip
                )
            except LoginRefused:
                return None
            return token

        token = await run_in_threadpool(write, attempt)
        if token is None:
            return page(request, "portal/index.html", status=401, p=None, failed=True)
        response = RedirectResponse("/portal/me", status_code=303)
        set_session_cookie(request, response, PORTAL_COOKIE, token)
        return response

    @router.get("/portal/me")
    def portal_page(request: Request) -> Response:
        who = principal_of(request)
        assert who is not None and who.psn_no is not None
        psn_no = who.psn_no
        view = read(lambda store: dashboard.person_view(store, psn_no, datetime.now(UTC), settlements=10))
        if view is None or view.psn_no != psn_no:
            return page(request, "portal/index.html", status=404, p=None, failed=False)
        audit(request, Action.PORTAL_VIEW, psn_no)
        return page(request, "portal/index.html", p=view, failed=False)

    # ---- the portal's online orders (internet hospitals, yibao.app.online): paid with the voucher's code

    def orders_page(request: Request, status: int = 200, error: str = "", paid: str = "") -> Response:
        """The person's orders; those awaiting payment carry a fresh code of the person's voucher, which
        the payment hands back to authorise it."""
        who = principal_of(request)
        assert who is not None and who.psn_no is not None
        psn_no, now = who.psn_no, utc_now()
        code, notice = "", ""
        with accounts.transaction(write=False) as store:
            found = online.orders(store, psn_no)
            names = {o.fixmedins_code: store.institution(o.fixmedins_code) for o in found}
            if codes is not None and any(o.status == AWAITING for o in found):
                try:
                    code = vouchers.current_code(store, codes, psn_no, now).text
                except DomainError as exc:  # no voucher activated, or suspended
                    notice = exc.reason
        listed = [
            {**asdict(o), "institution": inst.fixmedins_name if (inst := names[o.fixmedins_code]) else o.fixmedins_code}
            for o in found
        ]
        audit(request, Action.PORTAL_VIEW, psn_no, "orders")
        return page(
            request,
            "portal/orders.html",
            status=status,
            awaiting=[o for o in listed if o["status"] == AWAITING],
            others=[o for o in listed if o["status"] != AWAITING],
            code=code,
            notice=notice,
            error=error,
            paid=paid,
        )

    @router.get("/portal/orders")
    def portal_orders(request: Request, paid: str = "") -> Response:
        return orders_page(request, paid=paid[:30])

    @router.post("/portal/orders/{pay_ord_id}/pay")
    async def portal_pay(request: Request, pay_ord_id: str) -> Response:
        code = (await form(request)).get("code", "")
        return await run_in_threadpool(pay_order, request, pay_ord_id, code)

    def pay_order(request: Request, pay_ord_id: str, code: str) -> Response:
        """Pay the order (online.pay: the code used up, the settlement written) and audit it, in one transaction."""
        who = principal_of(request)
        assert who is not None and who.psn_no is not None
        if codes is None:
            return orders_page(request, status=503, error="本节点未配置电子凭证密钥")
        psn_no, now, ip, verifier = who.psn_no, utc_now(), client_ip(request), codes

        def settle_order(store: Store) -> None:
            done = online.pay(store, verifier, psn_no=psn_no, pay_ord_id=pay_ord_id, code=code, now=now)
            entry = AuditEntry(now, who.name, who.kind, Action.PORTAL_PAY, psn_no, pay_ord_id, ip, done.setl_id or "")
            audit_log.record(store, entry)

        try:
            write(settle_order)
        except NotFound as exc:
            return orders_page(request, status=404, error=str(exc))
        except DomainError as exc:
            return orders_page(request, status=409, error=str(exc))
        return RedirectResponse(f"/portal/orders?paid={quote(pay_ord_id)}", status_code=303)

    # ---- cross-region filings: the person files in the portal, the bureau decides (yibao.web.filings)

    add_filing_routes(router, page=page, accounts=accounts, audit=audit, form=form, now=utc_now, client_ip=client_ip)
    add_supervision_routes(
        router, page=page, accounts=accounts, now=utc_now, client_ip=client_ip, federation=federation
    )
    add_service_routes(
        router, page=page, accounts=accounts, audit=audit, now=utc_now, client_ip=client_ip, federation=federation
    )
    add_policy_simulation_routes(router, page=page)
    add_fund_routes(router, page=page, accounts=accounts, audit=audit, now=utc_now)  # contributions and funds

    @router.post("/portal/logout")
    def portal_logout(request: Request) -> Response:
        return signed_out(request, PORTAL_COOKIE, "/portal")

    # ---- the portal's electronic voucher: activation (which signs the person in) and the live code

    outbox = SmsOutbox()

    def activation_page(request: Request, status: int = 200, *, step: str = "details", **fields: str) -> Response:
        context = {"certno": "", "psn_name": "", "device_id": "", "error": "", **fields}
        context["device_id"] = context["device_id"] or str(uuid.uuid4())  # the page's script keeps its own
        return page(request, "portal/activate.html", status=status, step=step, **context)

    @router.get("/portal/activate")
    def portal_activate_page(request: Request) -> Response:
        return activation_page(request)

    @router.post("/portal/activate")
    async def portal_activate(request: Request) -> Response:
        f = await form(request)
        now, ip = utc_now(), client_ip(request)
        certno, psn_name = f.get("certno", "").strip()[:50], f.get("psn_name", "").strip()[:50]
        device_id = f.get("device_id", "").strip() or str(uuid.uuid4())

        def attempt(store: Store) -> voucher_portal.CodeToSend | Refused | None:
            try:
                return voucher_portal.start(
                    store, certno=certno, psn_name=psn_name, device_id=device_id, now=now, ip=ip
                )
            except Refused as exc:
                return exc

        started = await run_in_threadpool(write, attempt)
        if isinstance(started, Refused):
            return activation_page(request, 400, certno=certno, psn_name=psn_name, error=started.reason)
        if started is not None:  # sent after the commit; the answer is the same when nothing was sent
            await run_in_threadpool(outbox.send, started.psn_no, started.text, now)
        return activation_page(request, step="code", certno=certno)

    @router.post("/portal/activate/confirm")
    async def portal_activate_confirm(request: Request) -> Response:
        f = await form(request)
        now, ip = utc_now(), client_ip(request)
        certno = f.get("certno", "").strip()[:50]

        def attempt(store: Store) -> str | Refused:
            try:
                token, _ = voucher_portal.confirm(store, certno=certno, code=f.get("code", ""), now=now, ip=ip)
            except Refused as exc:  # the failed try and its audit row are committed all the same
                return exc
            return token

        confirmed = await run_in_threadpool(write, attempt)
        if isinstance(confirmed, Refused):
            return activation_page(request, 401, step="code", certno=certno, error=confirmed.reason)
        response = RedirectResponse("/portal/voucher", status_code=303)
        set_session_cookie(request, response, PORTAL_COOKIE, confirmed)
        return response

    def voucher_now(request: Request, history: bool) -> dict[str, Any]:
        """What the voucher page and its code show: the view, the code's SVG, its seconds left."""
        who = principal_of(request)
        assert who is not None and who.psn_no is not None
        now = utc_now()
        with accounts.transaction(write=False) as store:
            view = voucher_portal.voucher_view(store, who.psn_no, now, codes, history=history)
        shown: dict[str, Any] = {"v": view, "qr": "", "seconds": 0}
        if view.code is not None:
            shown["qr"] = qr_svg(view.code.text)
            shown["seconds"] = max(int((view.code.expires - now).total_seconds()), 0)
        return shown

    @router.get("/portal/voucher")
    def portal_voucher(request: Request) -> Response:
        shown = voucher_now(request, history=True)
        who = principal_of(request)
        assert who is not None
        audit(request, Action.PORTAL_VIEW, who.psn_no or "", "voucher")
        return page(request, "portal/voucher.html", **shown)

    @router.get("/portal/voucher/code")
    def portal_voucher_code(request: Request) -> Response:
        """The code alone (htmx replaces it every 45 s and when its countdown ends)."""
        shown = voucher_now(request, history=False)
        return page(request, "portal/_voucher_code.html", **shown)

    return router


def set_session_cookie(request: Request, response: Response, name: str, token: str) -> None:
    """The session id: HttpOnly (no script reads it), SameSite=Strict (no other site sends it), Secure
    over HTTPS (or with YIBAO_SECURE_COOKIES=1 behind a TLS proxy); it lasts until the browser closes,
    and the server ends it earlier (idle and absolute limits)."""
    secure = request.url.scheme == "https" or os.environ.get("YIBAO_SECURE_COOKIES") == "1"
    response.set_cookie(name, token, httponly=True, samesite="strict", secure=secure, path="/")
