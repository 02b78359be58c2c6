"""Policy, catalogue and claim files: TOML or JSON, validated into the domain's records.

Numbers are read as Decimal, never float, so ``404.2`` in a policy file is exactly 404.20 yuan.
The domain's dataclasses are the schema (docs/policy-files.md): pydantic validates the parsed
file against them, refuses unknown keys and reports the first error as ``file: key.path: why``.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Callable, Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

import simplejson
from pydantic import ConfigDict, TypeAdapter, ValidationError

from yibao.domain.catalog import Catalog, CatalogItem
from yibao.domain.claim import Claim
from yibao.domain.errors import DomainError
from yibao.domain.policy import Policy

T = TypeVar("T")


class FileError(ValueError):
    """A file that cannot be used; the message names the file, the key and the reason in one line."""


def _dataclasses_in(t: Any) -> Iterator[type]:
    """Every dataclass reachable from the type ``t`` through fields, unions and containers."""
    origin = get_origin(t) or t
    if dataclasses.is_dataclass(origin) and isinstance(origin, type):
        yield origin
        for hint in get_type_hints(origin).values():
            yield from _dataclasses_in(hint)
    for arg in get_args(t):
        yield from _dataclasses_in(arg)


def _strict_adapter(cls: Any) -> TypeAdapter[Any]:
    # A misspelt key must be an error, not a silently ignored default.
    for dc in _dataclasses_in(cls):
        dc.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return TypeAdapter(cls)


_POLICY: TypeAdapter[Policy] = _strict_adapter(Policy)
_CLAIM: TypeAdapter[Claim] = _strict_adapter(Claim)
_ITEMS: TypeAdapter[list[CatalogItem]] = _strict_adapter(list[CatalogItem])
_ITEM: TypeAdapter[CatalogItem] = TypeAdapter(CatalogItem)


def read_data(path: Path) -> Any:
    """Parse a .toml or .json file with exact decimals."""
    if path.suffix not in (".toml", ".json"):
        raise FileError(f"{path}: unknown file type {path.suffix!r} (use .toml or .json)")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FileError(f"{path}: {exc.strerror or exc}") from None
    try:
        if path.suffix == ".toml":
            return tomllib.loads(text, parse_float=Decimal)
        return json.loads(text, parse_float=Decimal)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise FileError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None


def file_or_shipped(path: Path | None, shipped: Path, from_data: Callable[[Any, str], T]) -> T:
    """The file at ``path`` read by ``from_data``; None: the ``shipped`` file, read once."""
    return _shipped(shipped, from_data) if path is None else from_data(read_data(path), path.name)


@cache
def _shipped(shipped: Path, from_data: Callable[[Any, str], T]) -> T:
    return from_data(read_data(shipped), shipped.name)


_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")


def _validate(adapter: TypeAdapter[T], data: Any, path: Path | str) -> T:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        # A misspelt key shows up twice, as an unknown key and a missing one: name the misspelling.
        err = min(exc.errors(), key=lambda e: e["type"] not in _UNKNOWN_KEY)
        where = ".".join(str(p) for p in err["loc"]) or "(top level)"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise FileError(f"{path}: {where}: {err['msg']}{more}") from None
    except DomainError as exc:
        raise FileError(f"{path}: {exc}") from None


def load_policy(path: Path) -> Policy:
    return policy_from_data(read_data(path), str(path))


def parse_policy(toml_text: str, where: str = "<policy>") -> Policy:
    """A policy from TOML text, as in a policy file."""
    try:
        data = tomllib.loads(toml_text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise FileError(f"{where}: not valid TOML: {exc}") from None
    return policy_from_data(data, where)


def policy_from_data(data: Any, where: str) -> Policy:
    """The policy under a top-level ``policy`` table, or the whole document."""
    if isinstance(data, dict) and set(data) == {"policy"}:
        data = data["policy"]
    return _validate(_POLICY, data, where)


def load_claim(path: Path) -> Claim:
    return _validate(_CLAIM, read_data(path), path)


def load_catalog(path: Path) -> Catalog:
    """A catalogue file: ``admdvs``, ``version`` and a list of ``items``."""
    data = read_data(path)
    if not isinstance(data, dict):
        raise FileError(f"{path}: (top level): expected a table with admdvs, version and items")
    unknown = set(data) - {"admdvs", "version", "items"}
    if unknown:
        raise FileError(f"{path}: {sorted(unknown)[0]}: Extra inputs are not permitted")
    for key in ("admdvs", "version"):
        if not isinstance(data.get(key), str):
            raise FileError(f"{path}: {key}: a string is required")
    items = _validate(_ITEMS, data.get("items", []), path)
    codes = [item.med_list_codg for item in items]
    for i, code in enumerate(codes):
        if code in codes[:i]:
            raise FileError(f"{path}: items.{i}.med_list_codg: {code} appears twice")
    return Catalog.of(data["admdvs"], data["version"], items)


def policy_to_json(policy: Policy) -> str:
    return _POLICY.dump_json(policy).decode()


def policy_from_json(text: str, where: str = "<stored policy>") -> Policy:
    try:
        return _POLICY.validate_json(text)
    except ValidationError as exc:
        raise FileError(f"{where}: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None


def catalog_item_from_data(data: Any, where: str = "<catalog item>") -> CatalogItem:
    return _validate(_ITEM, data, where)


def catalog_item_to_json(item: CatalogItem) -> str:
    """An item as JSON that catalog_item_from_data reads back unchanged."""
    return json.dumps(dataclasses.asdict(item), ensure_ascii=False, default=str)


def dumps(value: Any) -> str:
    """JSON with Decimal amounts written as exact numbers (6660.00, not a float)."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, indent=2, default=_plain)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
