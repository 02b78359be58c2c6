"""The funds page of the console and the person's contributions in the portal (``yibao.app.contributions``;
docs/contributions.md).

- ``/console/funds``: a pooled fund of the account's region month by month, all from the ledger (income,
  spending, balance, months of reserve with the 6- and 9-month lines), participation, the rate rules
  against the months of reserve, the bills by status, and a contribution-rate proposal's what-if (a GET
  form: it computes, it changes nothing). Figures only, no personal data: ``Permission.FIGURES``.
- ``/portal/contributions``: the person's months — declared, deferred or paid — and every credit of the
  personal account; written to the audit log like every portal page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from yibao.app import contributions as ca
from yibao.app.audit import Action
from yibao.app.ports import Store, UnitOfWork
from yibao.app.records import local_date
from yibao.domain import contribution as c
from yibao.domain.errors import DomainError
from yibao.domain.money import Fen
from yibao.web.guard import principal_of

T = TypeVar("T")
Page = Callable[..., Response]
Audit = Callable[..., None]
RESERVE_LINES = (6, 9)
"""Months of reserve drawn as lines: the halving's and the 9-month rule's thresholds."""


def percent(text: str, field: str) -> Decimal | None:
    """A form's rate in percent ("5.5") as a decimal (0.055); "" → None; DomainError naming the field."""
    value = text.strip().rstrip("%")
    if not value:
        return None
    try:
        rate = Decimal(value) / 100
        if not rate.is_finite():
            raise InvalidOperation
    except InvalidOperation:
        raise DomainError(field, f"{text!r} 不是百分数") from None
    return rate


def chart_of(view: ca.FundsView) -> dict[str, Any]:
    """For the charts only (display numbers in yuan, never summed again)."""

    def y(fen: Fen) -> float:
        return float(Decimal(fen) / 100)

    return {
        "months": [m.month for m in view.months],
        "income": [y(m.income) for m in view.months],
        "spending": [y(m.spending + m.to_accounts) for m in view.months],
        "balance": [y(m.balance) for m in view.months],
        "reserve": [None if m.reserve_months is None else float(m.reserve_months) for m in view.months],
        "lines": list(RESERVE_LINES),
    }


def add_fund_routes(
    router: APIRouter, *, page: Page, accounts: UnitOfWork, audit: Audit, now: Callable[[], datetime]
) -> None:
    """The funds page and the portal's contributions on ``router`` (whose route class is guarded)."""

    def read(use: Callable[[Store], T]) -> T:
        with accounts.transaction(write=False) as store:
            return use(store)

    @router.get("/console/funds")
    def funds_page(
        request: Request,
        fund: str = "",
        month: str = "",
        employer_rate: str = "",
        employee_rate: str = "",
        first: str = "",
        last: str = "",
    ) -> Response:
        who = principal_of(request)
        region = who.region if who else ""
        today = local_date(now())
        admdvs, _, insutype = fund.partition(":")
        view = read(
            lambda store: ca.funds_view(store, region, admdvs[:6], insutype[:3] or c.EMPLOYEE, month[:7], today)
        )
        proposal, result, error = None, None, ""
        wanted = {"employer_rate": employer_rate, "employee_rate": employee_rate, "first": first[:7], "last": last[:7]}
        if (employer_rate or employee_rate or first or last) and view.admdvs:
            try:
                proposal = c.Proposal(view.admdvs, c.EMPLOYEE, percent(employer_rate, "employer_rate"),
                                      percent(employee_rate, "employee_rate"))  # fmt: skip
                for name in ("first", "last"):
                    if wanted[name]:
                        c.parse_month(wanted[name], name)
                chosen = proposal
                result = read(lambda store: ca.simulate_proposal(store, chosen, wanted["first"], wanted["last"]))
            except DomainError as exc:
                error = str(exc)
        return page(
            request, "console/funds.html", status=400 if error else 200, v=view, chart=chart_of(view),
            proposal=proposal, result=result, error=error, f=wanted, rate_text=c.rate_text, reserve_lines=RESERVE_LINES,
            insutype_labels={c.EMPLOYEE: "职工基本医疗保险", c.RESIDENT: "城乡居民基本医疗保险"},
        )  # fmt: skip

    @router.get("/portal/contributions")
    def portal_contributions(request: Request) -> Response:
        who = principal_of(request)
        assert who is not None and who.psn_no is not None
        psn_no = who.psn_no
        view = read(lambda store: ca.person_contributions(store, psn_no, local_date(now())))
        audit(request, Action.PORTAL_VIEW, psn_no, "contributions")
        return page(request, "portal/contributions.html", c=view)
