"""Fund supervision in the console (``yibao.app.audit_cases``; docs/supervision.md "Joint audit cases").

- ``/console/supervision``: findings by rule and by institution (counts, amounts, definite/suspicious),
  filtered by stage, region and month; with an institution chosen, its findings to tick and open a case;
- ``/console/supervision/cases``: the case board — 智能互查, 现场联审, 查实 with counts and amounts, as the
  joint audit reports them, and the recovered amount — and the cases;
- ``/console/supervision/cases/{case_id}``: the evidence (the claim lines that fired), the history, and
  the form of each step (on-site result per item, confirm with the amount to recover, recover, close).

Every page and step goes through the use cases, which write the audit log in the same transaction.
The routes are added to the console's router, so the guard (``yibao.web.guard.ROUTES``) checks them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from yibao.app import audit_cases as cases
from yibao.app.accounts import Principal, region_prefix
from yibao.app.audit_cases import FindingQuery
from yibao.app.clearing import month_bounds
from yibao.app.cross_region import Federation
from yibao.app.errors import NotFound
from yibao.app.ports import Store, UnitOfWork
from yibao.domain.errors import DomainError
from yibao.domain.money import Fen, yuan_to_fen
from yibao.domain.supervision.cases import ITEM_RESULTS, STAGE_LABELS
from yibao.web.guard import principal_of

T = TypeVar("T")
Page = Callable[..., Response]
STAGES = ("before", "during", "after")
STAGE_NAMES = {"before": "事前", "during": "事中", "after": "事后"}


def wan(fen: Fen) -> str:
    """Fen as 万元 with two decimals: 2945700000 → 2,945.70."""
    return f"{(Decimal(fen) / 1_000_000).quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"


def amount_of(text: str, field: str) -> Fen:
    """A form's amount in yuan as fen; DomainError naming the field."""
    try:
        if not text.strip():
            raise InvalidOperation
        return yuan_to_fen(Decimal(text.strip()))
    except (InvalidOperation, ValueError, ArithmeticError):
        raise DomainError(field, f"{text!r} 不是金额（元）") from None


async def form_lists(request: Request) -> dict[str, list[str]]:
    """An urlencoded form with every value of each name (the ticked findings, a service form's materials)."""
    return parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)


def add_supervision_routes(
    router: APIRouter,
    *,
    page: Page,
    accounts: UnitOfWork,
    now: Callable[[], datetime],
    client_ip: Callable[[Request], str],
    federation: Federation | None = None,
) -> None:
    """The supervision pages on ``router`` (whose route class is guarded); ``page`` is the console's.
    With ``federation`` (a node of several), each step sends the case on to the nodes of its insured regions."""

    def write(use: Callable[[Store], T]) -> T:
        with accounts.transaction() as store:
            return use(store)

    def caller(request: Request) -> Principal:
        who = principal_of(request)
        assert who is not None
        return who

    def show(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        return page(
            request, name, status=status, wan=wan, stage_labels=STAGE_LABELS, item_results=ITEM_RESULTS,
            finding_stages=STAGE_NAMES, **context,
        )  # fmt: skip

    # ---- findings

    def findings_page(request: Request, f: dict[str, str], status: int = 200, error: str = "") -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        stage = f.get("stage", "") if f.get("stage", "") in STAGES else ""
        begin = end = None
        month = f.get("month", "").strip()[:7]
        try:
            if month:
                begin, end = month_bounds(month)
        except DomainError as exc:
            error, month = str(exc), ""
        region = f.get("region", "").strip()[:6]
        q = FindingQuery(
            region=region_prefix(region) if len(region) == 6 and region.isdigit() else "",
            stage=stage, begin=begin, end=end, fixmedins_code=f.get("fixmedins_code", "").strip()[:30],
            rule_id=f.get("rule_id", "").strip()[:30],
        )  # fmt: skip
        by_rule, by_institution, listed, names = write(
            lambda store: (*cases.findings_page(store, q, who, at, ip), cases.rule_names(store))
        )
        filters = {"stage": stage, "month": month, "region": region, "fixmedins_code": q.fixmedins_code,
                   "rule_id": q.rule_id}  # fmt: skip
        return show(
            request, "console/supervision.html", status=status, by_rule=by_rule, by_institution=by_institution,
            findings=listed, f=filters, error=error, rule_names=names,
        )  # fmt: skip

    @router.get("/console/supervision")
    def supervision(
        request: Request,
        stage: str = "",
        month: str = "",
        region: str = "",
        fixmedins_code: str = "",
        rule_id: str = "",
    ) -> Response:
        f = {"stage": stage, "month": month, "region": region, "fixmedins_code": fixmedins_code, "rule_id": rule_id}
        return findings_page(request, f)

    @router.post("/console/supervision/cases")
    async def open_case(request: Request) -> Response:
        f = await form_lists(request)
        return await run_in_threadpool(opening, request, f)

    def opening(request: Request, f: dict[str, list[str]]) -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        first = {k: v[0] for k, v in f.items() if v}
        try:
            ids = [int(v) for v in f.get("finding_id", [])]
        except ValueError:
            return findings_page(request, first, 400, "finding_ids: 疑点编号应为数字")
        title = first.get("title", "")
        try:
            made = write(lambda store: cases.open_case(store, ids, title, who, at, ip))
        except NotFound as exc:
            return findings_page(request, first, 404, str(exc))
        except DomainError as exc:
            return findings_page(request, first, 409, str(exc))
        cases.share(accounts, federation, made.case_id, who, at)
        return RedirectResponse(f"/console/supervision/cases/{quote(made.case_id)}", status_code=303)

    # ---- the board and the cases

    @router.get("/console/supervision/cases")
    def board(request: Request) -> Response:
        who = caller(request)

        def look(store: Store) -> tuple[cases.Board, list[cases.AuditCase]]:
            return cases.board(store, who.region), store.audit_cases(who.region, 200)

        figures, listed = write(look)
        return show(request, "console/cases.html", board=figures, cases=listed)

    def case_page(request: Request, case_id: str, status: int = 200, error: str = "", done: str = "") -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        try:
            found = write(lambda store: cases.case_file(store, case_id, who, at, ip))
        except NotFound as exc:
            return show(request, "console/case.html", status=404, file=None, error=str(exc), done="")
        return show(request, "console/case.html", status=status, file=found, error=error, done=done)

    @router.get("/console/supervision/cases/{case_id}")
    def case_view(request: Request, case_id: str, done: str = "") -> Response:
        return case_page(request, case_id, done=done[:20])

    def step(
        request: Request, case_id: str, done: str, use: Callable[[Store, Principal, datetime, str], Any]
    ) -> Response:
        who, at, ip = caller(request), now(), client_ip(request)
        try:
            write(lambda store: use(store, who, at, ip))
        except NotFound as exc:
            return case_page(request, case_id, 404, str(exc))
        except DomainError as exc:
            return case_page(request, case_id, 409, str(exc))
        cases.share(accounts, federation, case_id, who, at)
        return RedirectResponse(f"/console/supervision/cases/{quote(case_id)}?done={done}", status_code=303)

    @router.post("/console/supervision/cases/{case_id}/review")
    async def review(request: Request, case_id: str) -> Response:
        f = {k: v[0] for k, v in (await form_lists(request)).items() if v}
        return await run_in_threadpool(reviewing, request, case_id, f)

    def reviewing(request: Request, case_id: str, f: dict[str, str]) -> Response:
        try:
            finding_id = int(f.get("finding_id", ""))
            amount = amount_of(f.get("reviewed_amount", ""), "reviewed_amount")
        except ValueError as exc:
            return case_page(request, case_id, 400, str(exc) if isinstance(exc, DomainError) else "finding_id: 无效")
        result, note = f.get("result", ""), f.get("note", "")
        return step(
            request, case_id, "review",
            lambda s, w, at, ip: cases.review_item(s, case_id, finding_id, result, amount, note, w, at, ip),
        )  # fmt: skip

    @router.post("/console/supervision/cases/{case_id}/confirm")
    async def confirm(request: Request, case_id: str) -> Response:
        f = {k: v[0] for k, v in (await form_lists(request)).items() if v}
        return await run_in_threadpool(confirming, request, case_id, f)

    def confirming(request: Request, case_id: str, f: dict[str, str]) -> Response:
        try:
            amount = amount_of(f.get("recover_amount", ""), "recover_amount")
        except DomainError as exc:
            return case_page(request, case_id, 400, str(exc))
        note = f.get("note", "")
        return step(
            request, case_id, "confirm", lambda s, w, at, ip: cases.confirm(s, case_id, amount, note, w, at, ip)
        )

    @router.post("/console/supervision/cases/{case_id}/recover")
    async def recover(request: Request, case_id: str) -> Response:
        return await run_in_threadpool(
            step, request, case_id, "recover", lambda s, w, at, ip: cases.recover(s, case_id, w, at, ip)
        )

    @router.post("/console/supervision/cases/{case_id}/close")
    async def close(request: Request, case_id: str) -> Response:
        note = next(iter((await form_lists(request)).get("note", [])), "")
        return await run_in_threadpool(
            step, request, case_id, "close", lambda s, w, at, ip: cases.close(s, case_id, note, w, at, ip)
        )
