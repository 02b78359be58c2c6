"""Validating a transaction's input nodes into the use cases' command records.

pydantic checks each node against the command dataclass, in lax mode: "12.50" and 12.5 are both
Decimal, 440100 and "440100" are both str, "0"/"1" are booleans. Empty strings and nulls count as
absent. Datetimes arrive in local time (Asia/Shanghai) and are turned into UTC here, at the edge.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar, get_args, get_type_hints

from pydantic import ConfigDict, TypeAdapter, ValidationError

from yibao.api.fsi.envelope import EnvelopeError, to_utc

T = TypeVar("T")
DEEP = "JSON嵌套层数过多"
TOLERANT = ConfigDict(coerce_numbers_to_str=True, extra="ignore")
"""Not ``str_strip_whitespace``: pydantic-core keeps every string it strips in a cache of 16,384
entries, about 1.3 MiB a worker, which a soak saw as growth (docs/reliability.md); ``_present`` strips."""


def _present(value: Any) -> Any:
    """The value without empty fields (None, "" or blanks) and with its strings stripped."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, str):
                v = v.strip()
            elif isinstance(v, dict | list):
                v = _present(v)
            if v is not None and v != "":
                out[k] = v
        return out
    if isinstance(value, list):
        return [_present(v) for v in value]
    return value.strip() if isinstance(value, str) else value


_ADAPTERS: dict[type[Any], TypeAdapter[Any]] = {}


def _validate(cls: type[T], value: dict[str, Any]) -> T:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        cls.__pydantic_config__ = TOLERANT  # type: ignore[attr-defined]
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    record: T = adapter.validate_python(_present(value))
    return _utc(record)


def _utc(record: T) -> T:
    """The record with its datetimes (local time as sent) turned into UTC."""
    names = _DATETIMES.get(type(record))
    if names is None:
        hints = get_type_hints(type(record))
        names = _DATETIMES[type(record)] = tuple(n for n, h in hints.items() if datetime in (h, *get_args(h)))
    for name in names:
        if (value := getattr(record, name)) is not None:
            # the record was made a moment ago and nobody else holds it: set it in place, cheaply
            object.__setattr__(record, name, to_utc(value))
    return record


_DATETIMES: dict[type[Any], tuple[str, ...]] = {}


def _error(exc: ValidationError, prefix: str) -> EnvelopeError:
    err = exc.errors()[0]
    where = ".".join([prefix, *(str(p) for p in err["loc"])])
    return EnvelopeError(where, "不能为空" if err["type"] == "missing" else err["msg"])


def one(data: dict[str, Any], node: str, cls: type[T]) -> T:
    """The record in ``input[node]``."""
    value = data.get(node)
    if isinstance(value, list) and len(value) == 1:  # some clients wrap a single node in a list
        value = value[0]
    if not isinstance(value, dict):
        raise EnvelopeError(f"input.{node}", "不能为空" if value in (None, "", []) else "应为对象")
    try:
        return _validate(cls, value)
    except ValidationError as exc:
        raise _error(exc, f"input.{node}") from None
    except RecursionError:
        raise EnvelopeError(f"input.{node}", DEEP) from None


def many(data: dict[str, Any], node: str, cls: type[T], *, required: bool = True, most: int | None = None) -> list[T]:
    """The records in the list ``input[node]`` (a single object counts as a list of one), at most ``most``."""
    value = data.get(node)
    if value in (None, "", []):
        if required:
            raise EnvelopeError(f"input.{node}", "不能为空")
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise EnvelopeError(f"input.{node}", "应为数组")
    if most is not None and len(value) > most:
        raise EnvelopeError(f"input.{node}", f"{len(value)} 条，超过每次上传上限 {most} 条，请分批上传")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise EnvelopeError(f"input.{node}[{i}]", "应为对象")
        try:
            out.append(_validate(cls, item))
        except ValidationError as exc:
            raise _error(exc, f"input.{node}[{i}]") from None
        except RecursionError:
            raise EnvelopeError(f"input.{node}[{i}]", DEEP) from None
    return out


def dicts(data: dict[str, Any], node: str) -> list[dict[str, object]]:
    """A list node kept as plain dictionaries (diagnoses and other free-form nodes)."""
    value = data.get(node) or []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise EnvelopeError(f"input.{node}", "应为对象数组")
    try:
        return [_present(v) for v in value]
    except RecursionError:
        raise EnvelopeError(f"input.{node}", DEEP) from None
