"""Policy simulation reports (政策测算) in the console: ``/console/policy-simulation``.

``yibao policy simulate --json <folder>/<name>.json`` writes a report (yibao.analytics.simulation); the
console lists the reports in the folder named by ``YIBAO_POLICY_SIMULATIONS`` (default ``simulations``
under the server's working directory), newest first, and shows one: the change to each fund and to
what patients pay, by hospital level, person type, med_type and cost band, the persons reaching the
ceiling, the months of reserve, with charts. A caller sees the reports of the regions they cover.
Reports are figures without personal data: the page needs ``Permission.FIGURES``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from yibao.app.accounts import covers
from yibao.web.guard import principal_of
from yibao.web.i18n import TEXT

REPORT_KIND = "yibao.policy-simulation"
"""The ``kind`` of a report file (yibao.analytics.simulation.REPORT_KIND)."""
NAME = re.compile(r"^[\w.-]{1,120}\.json$")
MOST = 200
FUNDS = ("hifp_pay", "hifmi_pay", "cvlserv_pay", "hifob_pay", "hifes_pay", "maf_pay", "oth_pay")
Page = Callable[..., Response]


SIMULATIONS_ENV = "YIBAO_POLICY_SIMULATIONS"


def reports_folder() -> Path:
    return Path(os.environ.get(SIMULATIONS_ENV, "simulations"))


def read_report(path: Path) -> dict[str, Any] | None:
    """A report file, or None for anything else (another JSON file, a half-written one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == REPORT_KIND else None


def visible(report: dict[str, Any], region: str) -> bool:
    return all(covers(region, str(p.get("admdvs", ""))) for p in report.get("policies", []))


def yuan(fen: int) -> float:
    """For charts only: a display number, never for sums."""
    return fen / 100


def charts(r: dict[str, Any]) -> dict[str, Any]:
    totals = r["totals"]
    funds = [f for f in FUNDS if totals["baseline"].get(f) or totals["proposal"].get(f)]

    def pair(rows: list[dict[str, Any]], measure: str) -> dict[str, Any]:
        return {
            "labels": [row["label"] for row in rows],
            "baseline": [yuan(row["baseline"][measure]) for row in rows],
            "proposal": [yuan(row["proposal"][measure]) for row in rows],
        }

    return {
        "funds": {
            "labels": [TEXT[f"amt.{f}"][0] for f in funds],
            "baseline": [yuan(totals["baseline"][f]) for f in funds],
            "proposal": [yuan(totals["proposal"][f]) for f in funds],
        },
        "hosp_lv": pair(r["by_hosp_lv"], "fund_pay_sumamt"),
        "psn_type": pair(r["by_psn_type"], "psn_part_amt"),
        "cost_band": {
            "labels": [row["label"] for row in r["by_cost_band"]],
            "fund": [yuan(row["change"]["fund_pay_sumamt"]) for row in r["by_cost_band"]],
            "oop": [yuan(row["change"]["psn_part_amt"]) for row in r["by_cost_band"]],
        },
    }


def add_policy_simulation_routes(router: APIRouter, *, page: Page) -> None:
    """The report pages on ``router`` (whose route class is guarded); ``page`` is the console's."""

    @router.get("/console/policy-simulation")
    def simulation_page(request: Request, report: str = "") -> Response:
        who = principal_of(request)
        region = who.region if who else ""
        folder = reports_folder()
        files = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True) if folder.is_dir() else []
        listed: list[tuple[str, dict[str, Any]]] = []
        for path in files:
            if len(listed) >= MOST:
                break
            found = read_report(path) if NAME.match(path.name) else None
            if found is not None and visible(found, region):
                listed.append((path.name, found))
        chosen = next((r for name, r in listed if name == report), None) if report else None
        if report and chosen is None:
            return page(request, "console/policy_simulation.html", status=404, listed=listed, current=None,
                        chosen=report, folder=str(folder), charts={})  # fmt: skip
        name, current = (report, chosen) if chosen else (listed[0] if listed else ("", None))
        return page(request, "console/policy_simulation.html", listed=listed, current=current, chosen=name,
                    folder=str(folder), charts=charts(current) if current else {})  # fmt: skip
