"""A region's list of service items (事项清单; docs/services.md).

The list: a region's adopted list (``adopt``: the shipped items offered there, plus its own local items),
or, until it adopts one, the shipped items offered there; ``list_diff`` says what two regions have not
unified yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from yibao.app.accounts import Principal
from yibao.app.audit import AuditEntry, record
from yibao.app.errors import NotFound, Refused
from yibao.app.service_records import RegionItem, ServiceAction
from yibao.domain.errors import DomainError
from yibao.domain.services import Difference, ServiceItem, check_item, diff

if TYPE_CHECKING:
    from yibao.app.ports import Store


def items_for(store: Store, admdvs: str) -> list[ServiceItem]:
    """The region's list: its adopted one, else the shipped items offered there."""
    adopted = store.region_items(admdvs)
    if adopted:
        return [r.item for r in adopted]
    return store.service_catalogue().offered_in(admdvs)


def find_item(store: Store, admdvs: str, code: str) -> ServiceItem:
    found = next((i for i in items_for(store, admdvs) if i.code == code), None)
    if found is None:
        raise NotFound("item_code", f"{admdvs} 的服务事项清单中没有事项 {code or '(空)'}")
    return found


def check_region(admdvs: str, field_name: str = "admdvs") -> str:
    if len(admdvs) != 6 or not admdvs.isdigit() or admdvs == "000000":
        raise Refused(field_name, f"{admdvs or '(空)'} 不是六位行政区划代码")
    return admdvs


def adopt(
    store: Store, admdvs: str, local: Sequence[ServiceItem], who: Principal, now: datetime, ip: str
) -> list[RegionItem]:
    """The region takes the shipped items offered there as its list, plus its own ``local`` items
    (whose codes must not be codes of the unified list); adopting again takes the newer list."""
    check_region(admdvs)
    unified = store.service_catalogue().offered_in(admdvs)
    taken = {i.code for i in store.service_catalogue().items}
    rows = [RegionItem(admdvs, i, False, now, who.name) for i in unified]
    for n, item in enumerate(local):
        try:
            check_item(item, f"local.{n}")
        except DomainError as exc:
            raise Refused(exc.field, exc.reason) from None
        if item.code in taken or item.code in {r.item.code for r in rows}:
            raise Refused(f"local.{n}.code", f"{item.code} 是统一清单（或本地清单）已有的事项编码")
        rows.append(RegionItem(admdvs, replace(item, regions=(admdvs,)), True, now, who.name))
    store.save_region_items(admdvs, rows)
    detail = f"{len(unified)} unified, {len(local)} local, version {store.service_catalogue().version}"
    record(store, AuditEntry(now, who.name, who.kind, ServiceAction.ADOPT, "", admdvs, ip, detail))
    return rows


def list_diff(store: Store, a: str, b: str) -> list[Difference]:
    """What the lists of regions ``a`` and ``b`` have not unified (``yibao.domain.services.diff``)."""
    return diff(items_for(store, check_region(a, "a")), items_for(store, check_region(b, "b")))
