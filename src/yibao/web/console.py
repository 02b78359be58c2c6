"""The bureau's console (/console) and the insured person's portal (/portal): pages over the read side.

Server-rendered Jinja2 pages; htmx polls /console/live every 2 s for the figures, and ECharts draws
the charts. Both libraries come from the npm registry at build time (`make`, into build/web) and are
served from here: every page forbids loading anything from another origin (Content-Security-Policy).
No sign-in yet: a later issue adds accounts and roles, and the pages say so.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from yibao.app import dashboard
from yibao.app.dashboard import DashboardSource, DashboardStore, Overview
from yibao.domain.money import Fen, fen_to_yuan
from yibao.web.i18n import AMOUNTS, LANGS, translator

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


def console_router(source: DashboardSource, vendor: Path | None = None) -> APIRouter:
    """The console and the portal, reading through ``source``."""
    files = static_files(vendor or vendor_dir())
    views = templates()
    router = APIRouter(include_in_schema=False)

    def read(use: Callable[[DashboardStore], T]) -> T:
        with source.reading() as store:
            return use(store)

    def page(request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = request.cookies.get("lang", "zh")
        lang = lang if lang in LANGS else "zh"
        missing = [n for n in ("echarts.min.js", "htmx.min.js") if not files[n].is_file()]
        response = views.TemplateResponse(
            request,
            name,
            {"t": translator(lang), "lang": lang, "assets_missing": missing, "path": request.url.path, **context},
            status_code=status,
        )
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def now() -> datetime:
        return datetime.now(UTC)

    async def form_value(request: Request, name: str) -> str:
        """One field of an urlencoded form (personal data goes in a POST body, never in a URL)."""
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        return (fields.get(name) or [""])[0].strip()

    @router.get("/")
    def root() -> RedirectResponse:
        return RedirectResponse("/console", status_code=303)

    latest: list[tuple[float, Overview]] = []
    computing = threading.Lock()

    def current() -> Overview:
        """The overview, computed at most once a second in this process however many consoles poll it."""
        with computing:
            if latest and time.monotonic() - latest[0][0] < 1.0:
                return latest[0][1]
            o = read(lambda store: dashboard.overview(store, now()))
            latest[:] = [(time.monotonic(), o)]
            return o

    @router.get("/console")
    def overview_page(request: Request) -> Response:
        o = current()
        return page(request, "console/dashboard.html", o=o, charts=chart_data(o))

    @router.get("/console/live")
    def live(request: Request) -> Response:
        o = current()
        return page(request, "console/_live.html", o=o, charts=chart_data(o), oob=True)

    # ---- a person

    @router.get("/console/person")
    def person_search(request: Request) -> Response:
        return page(request, "console/person.html", p=None, searched=False)

    @router.post("/console/person")
    async def person_find(request: Request) -> Response:
        query = await form_value(request, "q")
        found = await run_in_threadpool(read, lambda store: dashboard.find_person(store, query))
        if found is None:
            return page(request, "console/person.html", status=404, p=None, searched=True)
        return RedirectResponse(f"/console/person/{quote(found.psn_no)}", status_code=303)

    @router.get("/console/person/{psn_no}")
    def person_page(request: Request, psn_no: str) -> Response:
        view = read(lambda store: dashboard.person_view(store, psn_no, now()))
        if view is None or view.psn_no != psn_no:  # the path names a psn_no, not an ID number
            return page(request, "console/person.html", status=404, p=None, searched=True)
        return page(request, "console/person.html", p=view, searched=True)

    # ---- an institution

    @router.get("/console/institution")
    def institution_search(request: Request, q: str = "") -> Response:
        found = read(lambda store: dashboard.find_institutions(store, q))
        if len(found) == 1:
            return RedirectResponse(f"/console/institution/{quote(found[0].fixmedins_code)}", status_code=303)
        return page(request, "console/institutions.html", q=q, found=found, status=404 if q and not found else 200)

    @router.get("/console/institution/{fixmedins_code}")
    def institution_page(request: Request, fixmedins_code: str) -> Response:
        view = read(lambda store: dashboard.institution_view(store, fixmedins_code, now()))
        if view is None:
            return page(request, "console/institutions.html", q=fixmedins_code, found=[], status=404)
        return page(request, "console/institution.html", v=view)

    # ---- a settlement

    @router.get("/console/settlement")
    def settlement_search(request: Request, q: str = "") -> Response:
        if q.strip():
            return RedirectResponse(f"/console/settlement/{quote(q.strip())}", status_code=303)
        return page(request, "console/settlement.html", v=None, q="", amount_names=AMOUNTS)

    @router.get("/console/settlement/{setl_id}")
    def settlement_page(request: Request, setl_id: str) -> Response:
        view = read(lambda store: dashboard.settlement_view(store, setl_id))
        status = 200 if view else 404
        return page(request, "console/settlement.html", status=status, v=view, q=setl_id, amount_names=AMOUNTS)

    # ---- the ledger

    @router.get("/console/ledger")
    def ledger_page(request: Request) -> Response:
        return page(request, "console/ledger.html", v=read(dashboard.ledger_view))

    # ---- language, static files

    @router.get("/console/lang/{lang}")
    def switch_language(lang: str, next: str = "/console") -> RedirectResponse:
        target = next if next.startswith("/") and not next.startswith("//") else "/console"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie("lang", lang if lang in LANGS else "zh", max_age=365 * 86400, samesite="lax")
        return response

    @router.get("/console/static/{name}")
    def static(name: str) -> Response:
        path = files.get(name)
        if path is None or not path.is_file():
            return PlainTextResponse(f"{name}: not installed (run `make install`)", status_code=404)
        headers = {"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"}
        return FileResponse(path, headers=headers)

    # ---- the insured person's portal

    @router.get("/portal")
    def portal_entry(request: Request) -> Response:
        return page(request, "portal/index.html", p=None, searched=False)

    @router.post("/portal")
    async def portal_find(request: Request) -> Response:
        query = await form_value(request, "q")
        found = await run_in_threadpool(read, lambda store: dashboard.find_person(store, query))
        if found is None:
            return page(request, "portal/index.html", status=404, p=None, searched=True)
        return RedirectResponse(f"/portal/{quote(found.psn_no)}", status_code=303)

    @router.get("/portal/{psn_no}")
    def portal_page(request: Request, psn_no: str) -> Response:
        view = read(lambda store: dashboard.person_view(store, psn_no, now(), settlements=10))
        if view is None or view.psn_no != psn_no:
            return page(request, "portal/index.html", status=404, p=None, searched=True)
        return page(request, "portal/index.html", p=view, searched=True)

    return router
