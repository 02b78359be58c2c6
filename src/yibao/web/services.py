"""Service items and applications in the portal and the console (``yibao.app.service_*``; docs/services.md).

The portal (the person's own): ``/portal/services`` lists the items the person may apply for online and
their applications; ``/portal/services/{item_code}`` is an item's form, the materials the platform holds
shown as 平台已有，无需提供; ``/portal/applications/{id}`` follows one, and takes the materials a return
asked for.

The console: ``/console/services`` the service board (applications by item, status and region, working
days against the limit, online share, trips, overdue), ``/console/services/catalogue`` the region's list
and the diff of two regions' lists (adoption for an administrator), ``/console/services/inbox`` the open
tasks of the clerk's region, ``/console/services/counter`` an application at the counter, and
``/console/services/applications/{id}`` an application with pass / return / refuse on each open task.

Every page that shows an application or a person's data, and every change, is written to the audit log
by the use cases. A submission, resubmission or decision runs through ``service_effects.through_hub`` with
the node's federation: a 转移接续 approved here whose other region is another node's is made through the hub.
The routes are added to the console's router, so the guard checks each one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.app import service_applications, service_board, service_effects, service_lists, service_reading
from yibao.app.accounts import Principal
from yibao.app.audit import Action
from yibao.app.cross_region import Federation
from yibao.app.errors import NotFound
from yibao.app.ports import Store, UnitOfWork
from yibao.app.records import local_date, local_time
from yibao.app.service_records import ServiceAction
from yibao.app.transfers import Hub
from yibao.domain.errors import DomainError
from yibao.domain.services import (
    CHANNELS,
    DEPARTMENTS,
    HOW_LABELS,
    LEVELS,
    OUTCOME_LABELS,
    SOURCES,
    STATUS_LABELS,
    STEP_LABELS,
    UNIFIED_LABELS,
)
from yibao.web.guard import principal_of
from yibao.web.supervision import form_lists

T = TypeVar("T")
Page = Callable[..., Response]
Audit = Callable[..., None]


def split_form(f: dict[str, list[str]]) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """The item's fields (``f_<code>``), the materials provided (``m_<code>``: the person's reference) and
    promised (``p_<code>`` ticked)."""
    first = {k: v[0] for k, v in f.items() if v}
    fields = {k[2:]: v for k, v in first.items() if k.startswith("f_")}
    provided = {k[2:]: v for k, v in first.items() if k.startswith("m_") and v.strip()}
    promised = [k[2:] for k, v in first.items() if k.startswith("p_") and v]
    return fields, provided, promised


def add_service_routes(
    router: APIRouter,
    *,
    page: Page,
    accounts: UnitOfWork,
    audit: Audit,
    now: Callable[[], datetime],
    client_ip: Callable[[Request], str],
    federation: Federation | None = None,
) -> None:
    """The service pages on ``router`` (whose route class is guarded); ``page`` and ``audit`` are the console's;
    ``federation``: the node's way to the hub (None on a node alone)."""

    def write(use: Callable[[Store], T]) -> T:
        with accounts.transaction() as store:
            return use(store)

    def read(use: Callable[[Store], T]) -> T:
        with accounts.transaction(write=False) as store:
            return use(store)

    def change(use: Callable[[Store, Hub | None], T]) -> T:
        """What may run approval's effect: through the hub first where it must (``through_hub``)."""
        return service_effects.through_hub(accounts, federation, use)

    def caller(request: Request) -> Principal:
        who = principal_of(request)
        assert who is not None
        return who

    def show(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return page(
            request, name, status=status, status_labels=STATUS_LABELS, step_labels=STEP_LABELS,
            how_labels=HOW_LABELS, outcome_labels=OUTCOME_LABELS, channel_labels=CHANNELS, level_labels=LEVELS,
            source_labels=SOURCES, unified_labels=UNIFIED_LABELS, local=local_time, departments=DEPARTMENTS,
            **context,
        )  # fmt: skip

    # ---------------------------------------------------------------- the portal

    def portal_list(request: Request, status: int = 200, error: str = "") -> Response:
        who, at = caller(request), now()

        def look(store: Store) -> tuple[list[Any], list[Any]]:
            return service_applications.offered(store, who), service_reading.mine(store, who.psn_no or "", at)

        try:
            items, mine = read(look)
        except DomainError as exc:
            items, mine, error, status = [], [], str(exc), 409
        audit(request, Action.PORTAL_VIEW, who.psn_no or "", "services")
        return show(request, "portal/services.html", status=status, items=items, mine=mine, error=error)

    @router.get("/portal/services")
    def portal_services(request: Request) -> Response:
        return portal_list(request)

    def portal_form(request: Request, item_code: str, status: int = 200, error: str = "",
                    values: dict[str, str] | None = None) -> Response:  # fmt: skip
        who, at, ip = caller(request), now(), client_ip(request)
        try:
            prepared = write(lambda store: service_applications.prepare(store, item_code, "", who, at, ip))
        except DomainError as exc:
            return portal_list(request, 404 if isinstance(exc, NotFound) else 409, str(exc))
        return show(request, "portal/service_item.html", status=status, p=prepared, error=error, values=values or {})

    @router.get("/portal/services/{item_code}")
    def portal_item(request: Request, item_code: str) -> Response:
        return portal_form(request, item_code)

    @router.post("/portal/services/{item_code}")
    async def portal_apply(request: Request, item_code: str) -> Response:
        f = await form_lists(request)
        return await run_in_threadpool(portal_applying, request, item_code, f)

    def portal_applying(request: Request, item_code: str, f: dict[str, list[str]]) -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        fields, provided, promised = split_form(f)
        try:
            made = change(lambda store, hub: service_applications.submit(
                store, item_code=item_code, form=fields, provided=provided, promised=promised, who=who, now=at, ip=ip,
                hub=hub,
            ))  # fmt: skip
        except DomainError as exc:
            return portal_form(request, item_code, 400, str(exc), fields)
        return RedirectResponse(f"/portal/applications/{quote(made.application_id)}", status_code=303)

    def portal_application(request: Request, application_id: str, status: int = 200, error: str = "") -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        try:
            found = write(lambda store: service_reading.application_file(store, application_id, who, at, ip))
        except DomainError as exc:
            return portal_list(request, 404, str(exc))
        return show(request, "portal/application.html", status=status, file=found, error=error)

    @router.get("/portal/applications/{application_id}")
    def portal_application_page(request: Request, application_id: str) -> Response:
        return portal_application(request, application_id)

    @router.post("/portal/applications/{application_id}/resubmit")
    async def portal_resubmit(request: Request, application_id: str) -> Response:
        f = await form_lists(request)
        return await run_in_threadpool(resubmitting, request, application_id, f, "/portal/applications/")

    def resubmitting(request: Request, application_id: str, f: dict[str, list[str]], back: str) -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        _, provided, promised = split_form(f)
        try:
            change(lambda store, hub: service_applications.resubmit(
                store, application_id, provided=provided, promised=promised, who=who, now=at, ip=ip, hub=hub,
            ))  # fmt: skip
        except DomainError as exc:
            if back.startswith("/portal"):
                return portal_application(request, application_id, 409, str(exc))
            return console_application(request, application_id, 409, str(exc))
        return RedirectResponse(f"{back}{quote(application_id)}", status_code=303)

    # ---------------------------------------------------------------- the console

    @router.get("/console/services")
    def board(request: Request) -> Response:
        who, at = caller(request), now()
        figures = read(lambda store: service_board.board(store, who.region, at))
        return show(request, "console/services.html", board=figures, today=local_date(at))

    @router.get("/console/services/catalogue")
    def catalogue(request: Request, a: str = "", b: str = "") -> Response:
        return catalogue_page(request, a.strip()[:6], b.strip()[:6])

    def catalogue_page(
        request: Request, a: str, b: str, status: int = 200, error: str = "", done: str = ""
    ) -> Response:
        who = caller(request)
        region = a or (who.admdvs if who.region else "")

        def look(store: Store) -> dict[str, Any]:
            shown: dict[str, Any] = {"adopted": store.adopted_regions(), "version": store.service_catalogue().version}
            shown["items"] = service_lists.items_for(store, region) if region else list(store.service_catalogue().items)
            shown["local_codes"] = {r.item.code for r in store.region_items(region) if r.local} if region else set()
            shown["diff"] = service_lists.list_diff(store, a, b) if a and b else None
            return shown

        try:
            shown = read(look)
        except DomainError as exc:
            return catalogue_page(request, "", "", 400, str(exc))
        return show(request, "console/service_catalogue.html", status=status, region=region, a=a, b=b,
                    error=error, done=done, **shown)  # fmt: skip

    @router.post("/console/services/catalogue/adopt")
    async def adopt(request: Request) -> Response:
        f = {k: v[0] for k, v in (await form_lists(request)).items() if v}
        return await run_in_threadpool(adopting, request, f.get("admdvs", "").strip()[:6])

    def adopting(request: Request, admdvs: str) -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        try:
            write(lambda store: service_lists.adopt(store, admdvs, [], who, at, ip))
        except DomainError as exc:
            return catalogue_page(request, "", "", 400, str(exc))
        return catalogue_page(request, admdvs, "", done=admdvs)

    @router.get("/console/services/inbox")
    def inbox(request: Request) -> Response:
        who, at = caller(request), now()
        rows = read(lambda store: service_reading.inbox(store, who, at))
        audit(request, ServiceAction.INBOX, "", "services", f"{len(rows)} open tasks")
        return show(request, "console/service_inbox.html", rows=rows)

    def counter_page(request: Request, status: int = 200, error: str = "", prepared: Any = None,
                     values: dict[str, str] | None = None) -> Response:  # fmt: skip
        who = caller(request)
        items = read(lambda store: service_applications.offered(store, who))
        return show(request, "console/service_counter.html", status=status, items=items, p=prepared, error=error,
                    values=values or {})  # fmt: skip

    @router.get("/console/services/counter")
    def counter(request: Request) -> Response:
        return counter_page(request)

    @router.post("/console/services/counter")
    async def counter_post(request: Request) -> Response:
        f = await form_lists(request)
        return await run_in_threadpool(counter_action, request, f)

    def counter_action(request: Request, f: dict[str, list[str]]) -> Response:
        """Two steps: ``prepare`` (the item and the person: the form with the platform's data) and ``submit``."""
        who, at, ip = caller(request), now(), client_ip(request)
        first = {k: v[0] for k, v in f.items() if v}
        item_code = first.get("item_code", "").strip()[:30]
        if first.get("action") != "submit":
            try:
                query = first.get("q", "")
                prepared = write(lambda store: service_applications.prepare(store, item_code, query, who, at, ip))
            except DomainError as exc:
                return counter_page(request, 404 if isinstance(exc, NotFound) else 400, str(exc))
            return counter_page(request, prepared=prepared)
        fields, provided, promised = split_form(f)
        psn_no = first.get("psn_no", "").strip()[:30]
        try:
            made = change(lambda store, hub: service_applications.submit(
                store, item_code=item_code, form=fields, provided=provided, promised=promised, who=who, now=at,
                ip=ip, psn_no=psn_no, hub=hub,
            ))  # fmt: skip
        except DomainError as exc:
            return counter_page(request, 404 if isinstance(exc, NotFound) else 400, str(exc), values=fields)
        return RedirectResponse(f"/console/services/applications/{quote(made.application_id)}", status_code=303)

    def console_application(request: Request, application_id: str, status: int = 200, error: str = "",
                            done: str = "") -> Response:  # fmt: skip
        who, at, ip = caller(request), now(), client_ip(request)
        try:
            found = write(lambda store: service_reading.application_file(store, application_id, who, at, ip))
        except DomainError as exc:
            return show(request, "console/service_application.html", status=404, file=None, error=str(exc), done="")
        return show(request, "console/service_application.html", status=status, file=found, error=error, done=done)

    @router.get("/console/services/applications/{application_id}")
    def application_page(request: Request, application_id: str, done: str = "") -> Response:
        return console_application(request, application_id, done=done[:20])

    @router.post("/console/services/applications/{application_id}/tasks/{seq}")
    async def decide(request: Request, application_id: str, seq: str) -> Response:
        f = await form_lists(request)
        return await run_in_threadpool(deciding, request, application_id, seq, f)

    def deciding(request: Request, application_id: str, seq: str, f: dict[str, list[str]]) -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        first = {k: v[0] for k, v in f.items() if v}
        if not seq.isdigit():
            return console_application(request, application_id, 404, "seq: 任务编号应为数字")
        outcome = first.get("outcome", "")
        try:
            change(lambda store, hub: service_applications.decide_task(
                store, application_id, int(seq), outcome, note=first.get("note", ""), who=who, now=at, ip=ip,
                missing_codes=[c for c in f.get("missing", []) if c], hub=hub,
            ))  # fmt: skip
        except NotFound as exc:
            return console_application(request, application_id, 404, str(exc))
        except DomainError as exc:
            return console_application(request, application_id, 409, str(exc))
        return RedirectResponse(
            f"/console/services/applications/{quote(application_id)}?done={quote(outcome)}", status_code=303
        )

    @router.post("/console/services/applications/{application_id}/resubmit")
    async def counter_resubmit(request: Request, application_id: str) -> Response:
        f = await form_lists(request)
        return await run_in_threadpool(resubmitting, request, application_id, f, "/console/services/applications/")
