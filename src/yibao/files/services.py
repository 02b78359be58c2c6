"""The service list and the holiday calendar as files (docs/services.md).

- ``service_items.toml`` (shipped): ``version`` and ``[[items]]``, each a ``yibao.domain.services.ServiceItem``;
  a region's local items are a file of the same shape (``yibao services adopt --local FILE``).
- ``holidays.toml`` (shipped): ``[[year]]`` with ``year``, ``source``, ``holidays`` (``{name, from, to}``)
  and ``workdays`` (the weekend days worked instead).

Every key is checked; an error names the file, the item and the key, e.g.
``service_items.toml: items.3.steps: 办理环节须以 submit（申请受理）开始、以 done（办结）结束``.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from yibao.domain.errors import DomainError
from yibao.domain.services import Calendar, Catalogue, ServiceItem, check_catalogue, check_item
from yibao.files.loader import FileError, _strict_adapter, _validate, file_or_shipped

HERE = Path(__file__).parent
SHIPPED_ITEMS = HERE / "service_items.toml"
SHIPPED_HOLIDAYS = HERE / "holidays.toml"

_ITEMS: TypeAdapter[list[ServiceItem]] = _strict_adapter(list[ServiceItem])
_ITEM: TypeAdapter[ServiceItem] = TypeAdapter(ServiceItem)


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The list of ``path``; None: the shipped one (read once)."""
    return file_or_shipped(path, SHIPPED_ITEMS, catalogue_from_data)


def catalogue_from_data(data: Any, where: str) -> Catalogue:
    if not isinstance(data, dict):
        raise FileError(f"{where}: (top level): expected version and [[items]]")
    unknown = sorted(set(data) - {"version", "items"})
    if unknown:
        raise FileError(f"{where}: {unknown[0]}: unknown key (version, items)")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise FileError(f"{where}: version: a string is required")
    if not isinstance(data.get("items"), list) or not data["items"]:
        raise FileError(f"{where}: items: an array of tables [[items]] is required")
    items = _validate(_ITEMS, data["items"], where)
    catalogue = Catalogue(version, tuple(i if i.version else dataclasses.replace(i, version=version) for i in items))
    try:
        return check_catalogue(catalogue)
    except DomainError as exc:
        raise FileError(f"{where}: {exc}") from None


def item_to_json(item: ServiceItem) -> str:
    """An item as JSON that ``item_from_json`` reads back unchanged (how a region's list is stored)."""
    return json.dumps(dataclasses.asdict(item), ensure_ascii=False)


def item_from_json(text: str, where: str = "<stored service item>") -> ServiceItem:
    try:
        return check_item(_ITEM.validate_json(text), where)
    except (ValidationError, DomainError) as exc:
        raise FileError(f"{where}: {exc}") from None


# ---------------------------------------------------------------- holidays


def load_calendar(path: Path | None = None) -> Calendar:
    """The calendar of ``path``; None: the shipped one (read once)."""
    return file_or_shipped(path, SHIPPED_HOLIDAYS, calendar_from_data)


def calendar_from_data(data: Any, where: str) -> Calendar:
    if not isinstance(data, dict) or set(data) != {"year"} or not isinstance(data["year"], list):
        raise FileError(f"{where}: (top level): expected only [[year]] tables")
    holidays: set[date] = set()
    workdays: set[date] = set()
    years: set[int] = set()
    for i, row in enumerate(data["year"]):
        at = f"{where}: year.{i}"
        if not isinstance(row, dict):
            raise FileError(f"{at}: a table is required")
        unknown = sorted(set(row) - {"year", "source", "holidays", "workdays"})
        if unknown:
            raise FileError(f"{at}.{unknown[0]}: unknown key (year, source, holidays, workdays)")
        year = row.get("year")
        if not isinstance(year, int) or year in years:
            raise FileError(f"{at}.year: a year (once) is required")
        if not isinstance(row.get("source"), str) or not row["source"]:
            raise FileError(f"{at}.source: say where the dates come from")
        years.add(year)
        for j, span in enumerate(row.get("holidays", [])):
            first, last = (span.get(k) if isinstance(span, dict) else None for k in ("from", "to"))
            if not isinstance(first, date) or not isinstance(last, date) or not first <= last:
                raise FileError(f"{at}.holidays.{j}: from and to dates are required, from ≤ to")
            if first.year != year or last.year != year:
                raise FileError(f"{at}.holidays.{j}: dates outside {year}")
            holidays.update(first + timedelta(days=n) for n in range((last - first).days + 1))
        for j, day in enumerate(row.get("workdays", [])):
            if not isinstance(day, date) or day.year != year or day.weekday() < 5:
                raise FileError(f"{at}.workdays.{j}: a Saturday or Sunday of {year} is required")
            workdays.add(day)
    return Calendar(frozenset(holidays), frozenset(workdays), frozenset(years))
