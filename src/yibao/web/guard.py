"""Who may call what: every route of the console and the portal, and the one permission it needs.

``ROUTES`` is the single map. Every route of the router is built by ``guarded_route``, which looks its
method and path up here when the application starts: a route missing from the map fails the start
(nothing can be forgotten), and every request is checked before its handler runs — pages, htmx polls
and form posts alike. ``PUBLIC`` routes need nobody; ``PORTAL_SELF`` routes need an insured person
signed in to the portal (who then only ever sees their own data); a ``Permission`` needs a console
account whose role grants it (``yibao.app.accounts.GRANTS``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Literal
from urllib.parse import quote, urlsplit

from fastapi import Request, Response
from fastapi.routing import APIRoute

from yibao.app.accounts import Permission, Principal

PUBLIC: Literal["public"] = "public"
PORTAL_SELF: Literal["portal"] = "portal"
Access = Permission | Literal["public", "portal"]

ROUTES: dict[tuple[str, str], Access] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/console/static/{name}"): PUBLIC,
    ("GET", "/console/lang/{lang}"): PUBLIC,
    # signing in and out
    ("GET", "/console/login"): PUBLIC,
    ("POST", "/console/login"): PUBLIC,
    ("POST", "/console/logout"): Permission.SIGNED_IN,
    # the figures: no personal data
    ("GET", "/console"): Permission.FIGURES,
    ("GET", "/console/live"): Permission.FIGURES,
    ("GET", "/console/vouchers"): Permission.FIGURES,
    ("GET", "/console/cross-region"): Permission.FIGURES,
    ("GET", "/console/policy-simulation"): Permission.FIGURES,  # reports of yibao policy simulate
    ("GET", "/console/funds"): Permission.FIGURES,  # the funds from the ledger, a rate proposal's what-if
    # personal data
    ("GET", "/console/person"): Permission.PERSONS,
    ("POST", "/console/person"): Permission.PERSONS,
    ("GET", "/console/person/{psn_no}"): Permission.PERSONS,
    ("POST", "/console/person/{psn_no}/voucher"): Permission.VOUCHERS,
    ("GET", "/console/settlement"): Permission.SETTLEMENTS,
    ("GET", "/console/settlement/{setl_id}"): Permission.SETTLEMENTS,
    # institutions and the ledger
    ("GET", "/console/institution"): Permission.INSTITUTIONS,
    ("GET", "/console/institution/{fixmedins_code}"): Permission.INSTITUTIONS,
    ("GET", "/console/ledger"): Permission.LEDGER,
    # the audit log and the accounts
    ("GET", "/console/audit"): Permission.AUDIT,
    ("GET", "/console/users"): Permission.USERS,
    ("POST", "/console/users"): Permission.USERS,
    ("POST", "/console/users/{username}/active"): Permission.USERS,
    ("POST", "/console/users/{username}/password"): Permission.USERS,
    # the insured person's portal
    ("GET", "/portal"): PUBLIC,
    ("POST", "/portal"): PUBLIC,
    ("GET", "/portal/me"): PORTAL_SELF,
    ("POST", "/portal/logout"): PORTAL_SELF,
    # online orders of internet hospitals: the person's own, paid with their voucher's code
    ("GET", "/portal/orders"): PORTAL_SELF,
    ("POST", "/portal/orders/{pay_ord_id}/pay"): PORTAL_SELF,
    # the electronic voucher: activation is a sign-in (public), the code is the person's own
    ("GET", "/portal/activate"): PUBLIC,
    ("POST", "/portal/activate"): PUBLIC,
    ("POST", "/portal/activate/confirm"): PUBLIC,
    ("GET", "/portal/voucher"): PORTAL_SELF,
    ("GET", "/portal/voucher/code"): PORTAL_SELF,
    # cross-region filings (备案): the person's own in the portal, the bureau's approval in the console
    ("GET", "/portal/filings"): PORTAL_SELF,
    ("GET", "/portal/contributions"): PORTAL_SELF,  # the person's months and personal-account credits
    ("POST", "/portal/filings"): PORTAL_SELF,
    ("GET", "/console/filings"): Permission.FILINGS,
    ("POST", "/console/filings/{filing_id}"): Permission.FILINGS,
    # fund supervision: findings and joint audit cases (yibao.web.supervision)
    ("GET", "/console/supervision"): Permission.SUPERVISION_READ,
    ("GET", "/console/supervision/cases"): Permission.SUPERVISION_READ,
    ("GET", "/console/supervision/cases/{case_id}"): Permission.SUPERVISION_READ,
    ("POST", "/console/supervision/cases"): Permission.SUPERVISION_AUDIT,
    ("POST", "/console/supervision/cases/{case_id}/review"): Permission.SUPERVISION_AUDIT,
    ("POST", "/console/supervision/cases/{case_id}/confirm"): Permission.SUPERVISION_AUDIT,
    ("POST", "/console/supervision/cases/{case_id}/recover"): Permission.SUPERVISION_AUDIT,
    ("POST", "/console/supervision/cases/{case_id}/close"): Permission.SUPERVISION_AUDIT,
    # service items and applications (yibao.web.services): the person's own in the portal, the clerks'
    # work and the board in the console
    ("GET", "/portal/services"): PORTAL_SELF,
    ("GET", "/portal/services/{item_code}"): PORTAL_SELF,
    ("POST", "/portal/services/{item_code}"): PORTAL_SELF,
    ("GET", "/portal/applications/{application_id}"): PORTAL_SELF,
    ("POST", "/portal/applications/{application_id}/resubmit"): PORTAL_SELF,
    ("GET", "/console/services"): Permission.SERVICES_BOARD,
    ("GET", "/console/services/catalogue"): Permission.SERVICES_BOARD,
    ("POST", "/console/services/catalogue/adopt"): Permission.SERVICES_CATALOGUE,
    ("GET", "/console/services/inbox"): Permission.SERVICES_HANDLE,
    ("GET", "/console/services/counter"): Permission.SERVICES_HANDLE,
    ("POST", "/console/services/counter"): Permission.SERVICES_HANDLE,
    ("GET", "/console/services/applications/{application_id}"): Permission.SERVICES_HANDLE,
    ("POST", "/console/services/applications/{application_id}/tasks/{seq}"): Permission.SERVICES_HANDLE,
    ("POST", "/console/services/applications/{application_id}/resubmit"): Permission.SERVICES_HANDLE,
}

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def access_of(methods: Iterable[str], path: str) -> Access:
    """The access a route needs; LookupError for a route the map does not name."""
    needs = {ROUTES.get((method, path)) for method in methods}
    if None in needs or len(needs) != 1:
        raise LookupError(f"{sorted(methods)} {path}: not in yibao.web.guard.ROUTES — say who may call it")
    found = needs.pop()
    assert found is not None
    return found


def same_origin(request: Request) -> bool:
    """A request that changes something must come from a page of this server (with SameSite=Strict
    cookies, a second line against cross-site request forgery)."""
    origin = request.headers.get("origin")
    if origin and origin != "null":  # pages are sent with Referrer-Policy no-referrer: browsers then say "null"
        return urlsplit(origin).netloc == request.headers.get("host", "")
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


Identify = Callable[[Request, str], Awaitable[Principal | None]]
Refuse = Callable[[Request, Access, Principal | None], Awaitable[Response]]


def guarded_route(identify: Identify, refuse: Refuse) -> type[APIRoute]:
    """An APIRoute class whose handler first checks ``ROUTES`` for the route; ``identify`` finds the
    caller of a request (console or portal) and ``refuse`` answers one that may not pass."""

    class GuardedRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()
            access = access_of(self.methods or (), self.path)

            async def guarded(request: Request) -> Response:
                request.state.principal = None
                request.state.access = access
                if request.method not in SAFE_METHODS and not same_origin(request):
                    return await refuse(request, access, None)
                if access == PUBLIC:
                    return await handler(request)
                principal = await identify(request, "portal" if access == PORTAL_SELF else "console")
                if principal is None or (access != PORTAL_SELF and not principal.can(access)):
                    return await refuse(request, access, principal)
                request.state.principal = principal
                return await handler(request)

            return guarded

    return GuardedRoute


def login_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/console/login?next=" + quote(target, safe="")


def principal_of(request: Request) -> Principal | None:
    who: Any = getattr(request.state, "principal", None)
    return who if isinstance(who, Principal) else None
