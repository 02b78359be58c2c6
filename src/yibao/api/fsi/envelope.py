"""The request and response envelopes of the national interface, tolerant of real clients.

Real HIS clients send numbers as strings and strings as numbers, ``infver`` as "1" or "V1.0",
empty strings for absent optional fields, regional extra fields (serv_code, serv_sign, enctype ...)
and infno variants with a letter suffix (2206A). All of that is accepted here; what is missing or
wrong is answered with infcode -1 and an err_msg that names the field.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import orjson
import simplejson

from yibao.app.records import OFFSET, local_time
from yibao.domain.frozen import frozen

_serial = itertools.count(int.from_bytes(os.urandom(3), "big"))
INFNO = re.compile(r"^(\d{4})[A-Z]?$")


class EnvelopeError(ValueError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@frozen
class Envelope:
    infno: str
    """As sent, e.g. "2207A"."""
    base_infno: str
    """The transaction it maps to, e.g. "2207"."""
    msgid: str
    fixmedins_code: str
    mdtrtarea_admvs: str
    insuplc_admdvs: str
    opter: str
    sign_no: str
    input: dict[str, Any]
    body_hash: str


def text(value: object) -> str:
    """A field as a string whether it came as a string or a number; absent → ""."""
    if value is None:
        return ""
    if isinstance(value, float):  # only if a client bypassed our decimal parsing
        value = Decimal(str(value))
    return str(value).strip()


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _lone_surrogate(value: object) -> bool:
    """Whether a decoded JSON value holds text that is not Unicode (a \\ud800 escape without its pair)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            try:
                item.encode()
            except UnicodeEncodeError:
                return True
    return False


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} 不是有效的数值")  # NaN, Infinity: not JSON, and no amount


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError("body", f"不是有效的JSON: {exc}") from None
    except RecursionError:
        raise EnvelopeError("body", "JSON嵌套层数过多") from None
    if not isinstance(body, dict):
        raise EnvelopeError("body", "应为JSON对象")
    if _SURROGATE_ESCAPE.search(raw) and _lone_surrogate(body):  # the walk only when an escape is there
        raise EnvelopeError("body", "含无效的Unicode字符（不成对的代理项）")
    return body


def parse_envelope(body: dict[str, Any], path_infno: str | None = None) -> Envelope:
    infno = text(body.get("infno")) or (path_infno or "")
    if not infno:
        raise EnvelopeError("infno", "不能为空")
    m = INFNO.match(infno.upper())
    if not m:
        raise EnvelopeError("infno", f"{infno} 不是有效的交易编号")
    base = m.group(1)
    if path_infno and base != path_infno:
        raise EnvelopeError("infno", f"{infno} 与服务路径的交易 {path_infno} 不符")
    msgid = text(body.get("msgid"))
    if not msgid:
        raise EnvelopeError("msgid", "不能为空")
    if len(msgid) > 50:
        raise EnvelopeError("msgid", "长度不能超过50")
    fixmedins_code = text(body.get("fixmedins_code"))
    if not fixmedins_code:
        raise EnvelopeError("fixmedins_code", "不能为空")
    raw_input = body.get("input")
    if raw_input in (None, ""):
        raw_input = {}
    if isinstance(raw_input, str):  # some clients send input as a JSON string
        try:
            raw_input = json.loads(raw_input, parse_float=Decimal, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            raise EnvelopeError("input", "不是有效的JSON") from None
        if _lone_surrogate(raw_input):
            raise EnvelopeError("input", "含无效的Unicode字符（不成对的代理项）")
    if not isinstance(raw_input, dict):
        raise EnvelopeError("input", "应为JSON对象")
    return Envelope(
        infno=infno,
        base_infno=base,
        msgid=msgid,
        fixmedins_code=fixmedins_code,
        mdtrtarea_admvs=text(body.get("mdtrtarea_admvs")),
        insuplc_admdvs=text(body.get("insuplc_admdvs")),
        opter=text(body.get("opter")),
        sign_no=text(body.get("sign_no")),
        input=raw_input,
        body_hash=body_hash(base, raw_input),
    )


def body_hash(infno: str, data: dict[str, Any]) -> str:
    """What makes two messages the same message: the transaction and its input, keys sorted, each
    number as written."""
    try:
        canonical = orjson.dumps([infno, data], default=_json_default, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # integers beyond 64 bits, nesting beyond 254
        return legacy_body_hash(infno, data)
    return hashlib.sha256(canonical).hexdigest()


def legacy_body_hash(infno: str, data: dict[str, Any]) -> str:
    """body_hash as messages logged before 2026-11-23 have it (and as it is where orjson cannot write)."""
    try:
        canonical = simplejson.dumps([infno, data], sort_keys=True, use_decimal=True, ensure_ascii=False)
    except (RecursionError, ValueError):  # ValueError: a NaN that came as a float from elsewhere
        raise EnvelopeError("input", "JSON嵌套层数过多或含无效数值") from None
    return hashlib.sha256(canonical.encode()).hexdigest()


def to_utc(local_naive: datetime) -> datetime:
    if local_naive.tzinfo is not None:
        return local_naive.astimezone(UTC).replace(tzinfo=None)
    return local_naive - OFFSET


def ref_msgid(admdvs: str, now_utc: datetime) -> str:
    """inf_refmsgid: receiver admdvs(6) + yyyyMMddHHmmss(14) + serial(10)."""
    return f"{(admdvs or '000000')[:6]:0<6}{local_time(now_utc):%Y%m%d%H%M%S}{next(_serial) % 10**10:010d}"


def stamp(now_utc: datetime) -> str:
    """refmsg_time / respond_time: yyyyMMddHHmmssSSS, local time."""
    t = local_time(now_utc)
    return f"{t:%Y%m%d%H%M%S}{t.microsecond // 1000:03d}"


def response(
    infcode: int, output: object, err_msg: str | None, received: datetime, responded: datetime, admdvs: str
) -> dict[str, Any]:
    return {
        "infcode": infcode,
        "inf_refmsgid": ref_msgid(admdvs, received),
        "refmsg_time": stamp(received),
        "respond_time": stamp(responded),
        "err_msg": err_msg,
        "output": output if output is not None else {},
        "warn_msg": None,
        "cainfo": None,
        "signtype": None,
    }


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))  # the exact number as written, not a float
    if isinstance(value, datetime):
        return f"{local_time(value):%Y-%m-%d %H:%M:%S}"
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


_DUMPS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def dumps(value: object) -> str:
    """JSON for the wire: Decimal as exact numbers, datetimes (UTC inside) as local time."""
    return orjson.dumps(value, default=_json_default, option=_DUMPS).decode()
