"""What approval of a service application does (docs/services.md).

Approval's effect (``EFFECTS``, by the item's ``effect``): 异地就医备案 files and approves the filing
(``yibao.app.filings``); 零星报销 and 转移接续 call their use cases. On a node of several, a 转移接续 with
the other region on another node is made through the hub before the approval's transaction
(``through_hub``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar

from yibao.app import filings, manual_claims, transfers
from yibao.app.accounts import CONSOLE
from yibao.app.errors import Refused
from yibao.app.service_records import Application
from yibao.app.transfers import Hub, HubFirst

if TYPE_CHECKING:
    from yibao.app.cross_region import Federation
    from yibao.app.ports import Store, UnitOfWork


T = TypeVar("T")

Effect = Callable[["Store", Application, datetime, Hub | None], Mapping[str, object]]
"""Run when an application is approved (or, for an instant item, submitted), in the same transaction:
``(store, application, now, hub) -> result`` shown on the application. ``application.updated_by`` is who
approved it; ``application.form`` holds the item's fields; ``hub`` is the node's way to the hub (None on a
node alone). A Refused stops the approval (nothing is written); ``HubFirst`` asks ``through_hub`` to make
the call through the hub first, outside the transaction, and approve again."""


def _filing(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    """异地就医备案: the filing (``yibao.app.filings``), approved at once — by the clerk who approved the
    application, or by the platform when the item is instant and nothing needed a look."""
    f = application.form
    try:
        begndate = date.fromisoformat(f.get("begndate", ""))
        enddate = date.fromisoformat(f["enddate"]) if f.get("enddate") else None
    except ValueError:
        raise Refused("form.begndate", "开始、结束日期须为 YYYY-MM-DD") from None
    made = filings.apply(
        store, psn_no=application.psn_no, insutype=f.get("insutype", ""), filing_type=f.get("filing_type", ""),
        mdtrtarea_admdvs=f.get("mdtrtarea_admdvs", ""), begndate=begndate, enddate=enddate,
        reason=f.get("reason", "") or application.item.name, now=now, ip="",
    )  # fmt: skip
    approved = filings.decide(
        store, filing_id=made.filing_id, approve=True, actor=application.updated_by, actor_kind=CONSOLE, region="",
        memo=f"经办服务申请 {application.application_id}", now=now, ip="",
    )  # fmt: skip
    end = approved.enddate.isoformat() if approved.enddate else "长期"
    return {"filing_id": approved.filing_id, "filing": f"{approved.filing_type.label}，{approved.begndate} 至 {end}"}


def _manual_claim(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    """零星报销 (手工报销): the bill settled by the calculator and paid to the person (``yibao.app.manual_claims``)."""
    return manual_claims.effect(store, application, now)


def _transfer(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    """转移接续: the insurance relationship moved with its months and money (``yibao.app.transfers``): here
    when this node serves both regions, else through the hub before the approval's transaction."""
    return transfers.effect(store, application, now, hub)


EFFECTS: dict[str, Effect] = {
    "filing": _filing,
    "manual_claim": _manual_claim,
    "transfer": _transfer,
}
"""The item's ``effect`` → what approval does. An item without one is done when approved."""


def run_effect(store: Store, application: Application, now: datetime, hub: Hub | None) -> dict[str, str]:
    effect = application.item.effect
    if not effect:
        return {}
    use = EFFECTS.get(effect)
    if use is None:
        raise Refused("effect", f"事项 {application.item.code} 的办结动作 {effect} 未登记")
    return {str(k): str(v) for k, v in use(store, application, now, hub).items()}


def through_hub(db: UnitOfWork, federation: Federation | None, use: Callable[[Store, Hub | None], T]) -> T:
    """``use`` (a ``submit``, ``resubmit`` or ``decide_task`` given the hub) in a write transaction. When
    approval's effect must first reach another node (``HubFirst``), that transaction is rolled back, the
    call through the hub is made with no transaction open (idempotent by the application's id) and ``use``
    runs again, finding it made. ``federation``: the node's (None on a node alone)."""
    hub = Hub(federation) if federation is not None else None
    try:
        with db.transaction() as store:
            return use(store, hub)
    except HubFirst as first:
        if hub is None:
            raise
        first.make(db, hub)
    with db.transaction() as store:
        return use(store, hub)
