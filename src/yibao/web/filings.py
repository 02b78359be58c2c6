"""Cross-region filings (备案) in the portal and the console (``yibao.app.filings``).

- ``/portal/filings``: the person's own filings and a form to file one (it waits for the bureau);
- ``/console/filings``: the filings waiting for the bureau, of persons insured in the account's
  region; approve or refuse each (``Permission.FILINGS``).

Every page that lists filings and every decision is written to the audit log before the answer goes
out. The routes are added to the console's router (``yibao.web.console.console_router``), so the
guard (``yibao.web.guard.ROUTES``) checks them like every other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.app import filings
from yibao.app.audit import Action
from yibao.app.errors import NotFound
from yibao.app.ports import Store, UnitOfWork
from yibao.domain.errors import DomainError
from yibao.domain.filings import TYPE_LABELS, FilingType
from yibao.web.guard import principal_of

T = TypeVar("T")
Page = Callable[..., Response]
Audit = Callable[..., None]
Form = Callable[[Request], Awaitable[dict[str, str]]]


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text.strip()) if text.strip() else None
    except ValueError:
        return None


def add_filing_routes(
    router: APIRouter,
    *,
    page: Page,
    accounts: UnitOfWork,
    audit: Audit,
    form: Form,
    now: Callable[[], datetime],
    client_ip: Callable[[Request], str],
) -> None:
    """The portal's and the console's filing pages, on ``router`` (whose route class is guarded);
    ``accounts`` opens the transactions, ``page``, ``audit`` and ``form`` are the console's own."""

    def read(use: Callable[[Store], T]) -> T:
        with accounts.transaction(write=False) as store:
            return use(store)

    def write(use: Callable[[Store], T]) -> T:
        with accounts.transaction() as store:
            return use(store)

    # ---- the portal: the person's own

    def portal_page(request: Request, status: int = 200, error: str = "", done: str = "") -> Response:
        who = principal_of(request)
        assert who is not None and who.psn_no is not None
        psn_no = who.psn_no

        def look(store: Store) -> tuple[list[Any], list[Any]]:
            return store.filings_of(psn_no), store.insurances(psn_no)

        listed, insurances = read(look)
        audit(request, Action.PORTAL_VIEW, psn_no, "filings")
        return page(
            request,
            "portal/filings.html",
            status=status,
            filings=listed,
            insurances=insurances,
            types=[(t.value, TYPE_LABELS[t]) for t in FilingType],
            error=error,
            done=done,
        )

    @router.get("/portal/filings")
    def portal_filings(request: Request, done: str = "") -> Response:
        return portal_page(request, done=done[:30])

    @router.post("/portal/filings")
    async def portal_file(request: Request) -> Response:
        f = await form(request)
        return await run_in_threadpool(portal_apply, request, f)

    def portal_apply(request: Request, f: dict[str, str]) -> Response:
        who = principal_of(request)
        assert who is not None and who.psn_no is not None
        psn_no, at, ip = who.psn_no, now(), client_ip(request)
        begndate = _day(f.get("begndate", ""))
        if begndate is None:
            return portal_page(request, status=400, error="请填写开始日期（YYYY-MM-DD）")

        def make(store: Store) -> str:
            return filings.apply(
                store,
                psn_no=psn_no,
                insutype=f.get("insutype", "").strip()[:6],
                filing_type=f.get("filing_type", "").strip()[:12],
                mdtrtarea_admdvs=f.get("mdtrtarea_admdvs", "")[:12],
                begndate=begndate,
                enddate=_day(f.get("enddate", "")),
                reason=f.get("reason", ""),
                now=at,
                ip=ip,
            ).filing_id

        try:
            made = write(make)
        except DomainError as exc:
            return portal_page(request, status=400, error=str(exc))
        return RedirectResponse(f"/portal/filings?done={quote(made)}", status_code=303)

    # ---- the console: the bureau's approval

    def console_page(request: Request, status: int = 200, error: str = "", done: str = "") -> Response:
        who = principal_of(request)
        assert who is not None
        region = who.region

        def look(store: Store) -> list[Any]:
            return filings.awaiting(store, region)

        listed = read(look)
        audit(request, Action.FILING_VIEW, "", "filings", f"{len(listed)} awaiting")
        return page(request, "console/filings.html", status=status, filings=listed, error=error, done=done)

    @router.get("/console/filings")
    def console_filings(request: Request, done: str = "") -> Response:
        return console_page(request, done=done[:30])

    @router.post("/console/filings/{filing_id}")
    async def console_decide(request: Request, filing_id: str) -> Response:
        f = await form(request)
        return await run_in_threadpool(decide, request, filing_id, f)

    def decide(request: Request, filing_id: str, f: dict[str, str]) -> Response:
        who = principal_of(request)
        assert who is not None
        decision = f.get("decision", "")
        if decision not in ("approve", "refuse"):
            return console_page(request, status=400, error="请选择批准或驳回")
        at, ip = now(), client_ip(request)

        def change(store: Store) -> None:
            filings.decide(
                store, filing_id=filing_id, approve=decision == "approve", actor=who.name, actor_kind=who.kind,
                region=who.region, memo=f.get("memo", ""), now=at, ip=ip,
            )  # fmt: skip

        try:
            write(change)
        except NotFound as exc:
            return console_page(request, status=404, error=str(exc))
        except DomainError as exc:
            return console_page(request, status=409, error=str(exc))
        return RedirectResponse(f"/console/filings?done={quote(filing_id)}", status_code=303)
