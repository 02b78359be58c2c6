"""Reference files: the national lists of 1303, 1304 and 1307–1317 as TOML or JSON.

A file has a version and one array per list, each row in the list's national field names::

    ver = "20230101001"          # digits; the rows this load adds or changes get this version

    [[diagnoses]]                # 1307 (sections: see yibao.domain.reference.LISTS)
    diag_code = "I10.x00"
    diag_name = "高血压"
    cpr = "9"

A list in the file is the whole list (for its regions and institutions): a row that is no longer in
it stays, marked ``vali_flag = "0"``. A row may say ``vali_flag = "0"`` itself. Unknown keys, missing
codes and names, a code twice, a bad date or region are errors naming the file, the row and the key.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from yibao.domain.reference import LISTS, SECTIONS, ReferenceEntry, entry_of, normal_version
from yibao.files.loader import FileError, read_data

DATE_FIELDS = ("begndate", "enddate", "begntime", "endtime")


def load_reference(path: Path) -> tuple[str, dict[str, list[ReferenceEntry]]]:
    """(version, rows by infno) of a reference file; only the lists the file has."""
    return reference_from_data(read_data(path), str(path))


def reference_from_data(data: Any, where: str) -> tuple[str, dict[str, list[ReferenceEntry]]]:
    if not isinstance(data, dict):
        raise FileError(f"{where}: (top level): expected a table with ver and the lists")
    unknown = sorted(set(data) - {"ver", *SECTIONS})
    if unknown:
        raise FileError(f"{where}: {unknown[0]}: unknown key (lists: {', '.join(SECTIONS)})")
    try:
        ver = normal_version(_text(data.get("ver", "")))
    except (TypeError, ValueError):
        raise FileError(f"{where}: ver: {data.get('ver')!r} is not a version (digits, e.g. 20230101001)") from None
    if ver == "0":
        raise FileError(f"{where}: ver: a version is required (digits, e.g. 20230101001)")
    lists: dict[str, list[ReferenceEntry]] = {}
    for section, rows in data.items():
        if section == "ver":
            continue
        ref = SECTIONS[section]
        if not isinstance(rows, list):
            raise FileError(f"{where}: {section}: expected an array of tables")
        entries: list[ReferenceEntry] = []
        seen: dict[tuple[str, str, str, str], int] = {}
        for i, row in enumerate(rows):
            entry = _entry(ref.infno, row, f"{where}: {section}.{i}")
            if entry.key() in seen:
                raise FileError(
                    f"{where}: {section}.{i}.{ref.code}: {entry.code} appears twice (row {seen[entry.key()]})"
                )
            seen[entry.key()] = i
            entries.append(entry)
        lists[ref.infno] = entries
    return ver, lists


def _entry(infno: str, row: Any, where: str) -> ReferenceEntry:
    ref = LISTS[infno]
    if not isinstance(row, dict):
        raise FileError(f"{where}: expected a table of fields")
    allowed = {*ref.fields, "vali_flag"}
    for key in row:
        if key not in allowed:
            raise FileError(f"{where}.{key}: not a field of {infno} {ref.title}")
    values: dict[str, str] = {}
    for key, value in row.items():
        try:
            values[key] = _text(value)
        except TypeError:
            raise FileError(f"{where}.{key}: expected text, a number or a date") from None
    vali_flag = values.pop("vali_flag", "1")
    for key in ref.required:
        if not values.get(key):
            raise FileError(f"{where}.{key}: required")
    for key in DATE_FIELDS:
        if values.get(key):
            try:
                date.fromisoformat(values[key][:10])
            except ValueError:
                raise FileError(f"{where}.{key}: {values[key]!r} is not a date (YYYY-MM-DD)") from None
            values[key] = values[key][:10]
    for key in (ref.admdvs,) if ref.admdvs else ():
        if values.get(key) and not (len(values[key]) == 6 and values[key].isdigit()):
            raise FileError(f"{where}.{key}: {values[key]!r} is not a region code (6 digits)")
    if vali_flag not in ("0", "1"):
        raise FileError(f"{where}.vali_flag: {vali_flag!r} should be 0 or 1")
    for key, value in values.items():
        if len(value) > (300 if key == ref.name else 2000):
            raise FileError(f"{where}.{key}: longer than the column allows")
    for key in (ref.code, ref.ref_code):
        if key and len(values.get(key, "")) > 50:
            raise FileError(f"{where}.{key}: longer than 50 characters")
    return entry_of(ref, values, vali_flag)


def _text(value: Any) -> str:
    """A field as the interface carries it: text (numbers exactly as written, dates ISO)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int, Decimal)):
        return str(value).strip()
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if value is None:
        return ""
    raise TypeError(type(value).__name__)
