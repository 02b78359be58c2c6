"""Hostile input for the national interface, and the rule every answer keeps.

Strategies (hypothesis) for raw bodies, envelopes and every transaction's input: wrong types, huge
strings, deep nesting, unicode (lone surrogates too), negative and NaN/Infinity amounts, numbers
of 400 digits, dates out of range, missing fields; and valid messages of the main transactions with
some of their fields replaced or dropped. :class:`Target` sends a body through the in-process
Dispatcher and checks the answer: JSON, encodable as UTF-8, infcode 0 or -1, no stack trace, and a
-1 leaves every table as it was. Used by tests/reliability/test_fuzz.py and bench/fuzz.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

from tests.flows import (
    BED,
    BLOOD_TEST,
    RETIREE,
    WORKER,
    admit,
    certno,
    discharge_data,
    inpatient_settle_data,
    line,
    now_text,
    register,
    row_counts,
    settle_data,
)
from yibao.api.fsi.dispatch import Dispatcher
from yibao.api.fsi.transactions import TRANSACTIONS
from yibao.app import commands
from yibao.app.files import FileContent
from yibao.domain.frozen import frozen
from yibao.sim.his import HisClient
from yibao.store.database import Database

HOSPITAL = "H44010600001"
ENVELOPE_FIELDS = ("infno", "msgid", "mdtrtarea_admvs", "insuplc_admdvs", "recer_sys_code", "dev_no", "dev_safe_info",
                   "cainfo", "signtype", "infver", "opter_type", "opter", "opter_name", "inf_time", "fixmedins_code",
                   "fixmedins_name", "sign_no", "input")  # fmt: skip
NODES = ("data", "feedetail", "mdtrtinfo", "diseinfo", "dscginfo", "adminfo", "signIn", "signOut", "medinsinfo",
         "fsUploadIn", "fsDownloadIn")  # fmt: skip
FIELDS = sorted(
    {f.name for cls in vars(commands).values() if dataclasses.is_dataclass(cls) for f in dataclasses.fields(cls)}
)


@frozen
class Raw:
    """JSON text put into a body as it is: numbers Python would not write, deep nesting."""

    text: str


def to_json(value: object) -> str:
    """JSON text of ``value``, Raw parts verbatim, floats NaN/Infinity as JavaScript writes them."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


# ---------------------------------------------------------------------------------------- strategies

STRANGE_TEXT = st.sampled_from([
    "", " ", "null", "NaN", "-1", "0", "1e999", "-0.001", "９９", "٣", "9999-99-99", "0000-00-00 00:00:00",
    "99999-12-31 23:59:59", "1900-01-01", "2024-02-30", "2024-13-01 25:61:61", "1970-01-01T00:00:00Z",
    "\u0000", "\ud800", "\udfff", "'; DROP TABLE settlement;--", "../../etc/passwd", "𠮷" * 10, "\u202e",
    "440100", "H44010600001", WORKER, "2207", "2207A", "${jndi:ldap://x}", "<script>", "%s%n",
])  # fmt: skip
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            Raw("1e400"),
            Raw("-1e400"),
            Raw("1" + "0" * 400),
            Raw("0." + "0" * 300 + "1"),
            Raw("-0"),
            Raw("NaN"),
            Raw("Infinity"),
            Raw("-Infinity"),
            Raw("1E-999999999"),
        ]
    ),
)
TEXT = st.one_of(
    st.text(max_size=40),
    STRANGE_TEXT,
    st.integers(min_value=1, max_value=200_000).map(lambda n: "长" * n),
)
DEEP = st.integers(min_value=50, max_value=100_000).flatmap(
    lambda n: st.sampled_from([Raw("[" * n + "]" * n), Raw('{"a":' * n + "1" + "}" * n), Raw("[" * n)])
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
VALUES = st.one_of(
    st.recursive(
        SCALARS,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    ),
    DEEP,
)


@st.composite
def raw_bodies(draw: st.DrawFn) -> bytes:
    """Anything at all as the body."""
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=200))
    if kind == 1:
        return draw(st.text(max_size=200)).encode("utf-8", "surrogatepass")
    if kind == 2:
        return to_json(draw(VALUES)).encode("utf-8", "surrogatepass")
    body = to_json(draw(st.dictionaries(st.sampled_from(ENVELOPE_FIELDS), VALUES, max_size=6)))
    return body[: draw(st.integers(0, len(body)))].encode("utf-8", "surrogatepass")  # cut short


def envelope(his: HisClient, infno: str, input: object) -> dict[str, Any]:
    env = his.envelope(infno, {})
    env["input"] = input
    return env


@st.composite
def envelopes(draw: st.DrawFn, his: HisClient) -> bytes:
    """A proper envelope with some of its own fields wrong, missing or strange."""
    infno = draw(st.sampled_from(sorted(TRANSACTIONS)) | TEXT)
    env = envelope(his, str(infno), {"data": {"psn_no": WORKER}})
    for name in draw(st.lists(st.sampled_from(ENVELOPE_FIELDS), max_size=4, unique=True)):
        if draw(st.booleans()):
            env.pop(name, None)
        else:
            env[name] = draw(VALUES)
    return to_json(env).encode("utf-8", "surrogatepass")


@st.composite
def inputs(draw: st.DrawFn, his: HisClient) -> bytes:
    """Every transaction of the table with an input of its nodes, made of any fields and values."""
    infno = draw(st.sampled_from(sorted(TRANSACTIONS)))
    node_value = st.one_of(
        st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8),
        st.lists(st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6), max_size=3),
        VALUES,
    )
    nodes = draw(st.dictionaries(st.sampled_from(NODES), node_value, max_size=3))
    return to_json(envelope(his, infno, nodes)).encode("utf-8", "surrogatepass")


# ---------------------------------------------------------------------------------------- valid messages, spoilt


@dataclass
class Target:
    """A migrated SQLite database with the demo data, its Dispatcher, and what was seen so far."""

    db: Database
    dispatcher: Dispatcher = field(init=False)
    his: HisClient = field(init=False)
    outcomes: Counter[str] = field(default_factory=Counter)
    valid: dict[str, dict[str, Any]] = field(default_factory=dict)
    """infno → a valid input (needing the visits made in :meth:`prepare`)."""

    def __post_init__(self) -> None:
        self.dispatcher = Dispatcher(self.db)
        self.his = HisClient("", HOSPITAL, client=None)  # type: ignore[arg-type]  # only its envelopes

    def prepare(self, http_his: HisClient) -> None:
        """Visits and fee lines that the valid messages refer to (made through ``http_his``)."""
        http_his.sign_in()
        self.his.sign_no = http_his.sign_no
        out_visit = register(http_his, WORKER)
        http_his.call("2204", {"feedetail": [line("1", out_visit, WORKER, BLOOD_TEST, "2", "25")]})
        stay = admit(http_his, RETIREE)
        http_his.call("2301", {"feedetail": [line("1", stay, RETIREE, BED, "3", "60")]})
        fee = line("9", out_visit, WORKER, BLOOD_TEST, "1", "25")
        self.valid = {
            "1101": {
                "data": {
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": certno(WORKER),
                    "psn_cert_type": "01",
                    "certno": certno(WORKER),
                    "psn_name": "",
                }
            },
            "2001": {"data": {"psn_no": WORKER, "insutype": "310", "med_type": "11"}},
            "2201": {
                "data": {
                    "psn_no": WORKER,
                    "insutype": "310",
                    "begntime": now_text(),
                    "mdtrt_cert_type": "02",
                    "mdtrt_cert_no": certno(WORKER),
                    "ipt_otp_no": "MZF",
                    "atddr_no": "D440106000001",
                }
            },
            "2204": {"feedetail": [fee]},
            "2206": settle_data(WORKER, out_visit, "50"),
            "2207": settle_data(WORKER, out_visit, "50"),
            "2301": {"feedetail": [line("8", stay, RETIREE, BED, "1", "60")]},
            "2303": inpatient_settle_data(RETIREE, stay, "180", mid=True),
            "2304": inpatient_settle_data(RETIREE, stay, "180", mid=True),
            "2402": discharge_data(RETIREE, stay),
            "2601": {"data": {"psn_no": WORKER, "omsgid": "X" * 30, "oinfno": "2207"}},
            "5203": {"data": {"psn_no": WORKER, "mdtrt_id": out_visit}},
            "5206": {"data": {"psn_no": WORKER, "cum_ym": "202401"}},
        }

    def check(self, body: bytes) -> dict[str, Any]:
        """Send ``body``; the answer, after asserting the rules every answer keeps."""
        before = row_counts(self.db)
        raw = self.dispatcher.handle(body)
        if isinstance(raw, FileContent):  # 9102 with a real file_qury_no: a file, not an envelope
            self.outcomes["file"] += 1
            return {"infcode": 0}
        raw.encode("utf-8")  # the server sends it as UTF-8: a lone surrogate in it would be a 500
        answer: dict[str, Any] = json.loads(raw)
        assert answer["infcode"] in (0, -1), answer
        assert isinstance(answer["output"], dict)
        text = raw.lower()
        assert "traceback" not in text and 'file "' not in text and "sqlalchemy" not in text, raw[:2000]
        if answer["infcode"] == -1:
            assert isinstance(answer["err_msg"], str) and answer["err_msg"], answer
            assert answer["output"] == {}
            assert row_counts(self.db) == before, f"answered -1 ({answer['err_msg']}) but wrote"
            self.outcomes["-1 " + ("系统错误" if answer["err_msg"].startswith("系统错误") else "refused")] += 1
        else:
            self.outcomes["0"] += 1
        return answer


@st.composite
def spoilt(draw: st.DrawFn, target: Target) -> bytes:
    """A valid message of a main transaction with one to three of its fields replaced or dropped."""
    infno = draw(st.sampled_from(sorted(target.valid)))
    data = json.loads(json.dumps(target.valid[infno]))
    paths: list[tuple[Any, Any]] = []

    def walk(node: Any) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            paths.append((node, key))
            walk(value)

    walk(data)
    for _ in range(draw(st.integers(1, 3))):
        parent, key = draw(st.sampled_from(paths))
        if isinstance(parent, dict) and draw(st.integers(0, 3)) == 0:
            parent.pop(key, None)
        else:
            with contextlib.suppress(IndexError, KeyError):
                parent[key] = draw(VALUES)
    return to_json(envelope(target.his, infno, data)).encode("utf-8", "surrogatepass")


class Failures(logging.Handler):
    """Counts what the dispatcher logged as unexpected (answered 系统错误): the kind and where."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc, tb = record.exc_info[1], record.exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            where = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}" if tb else "?"
            self.seen[f"{type(exc).__name__} at {where}: {str(exc)[:120]}"] += 1


def watch_failures() -> Failures:
    """Take the dispatcher's log of unexpected failures (fuzzing makes many on purpose) into a counter."""
    logger = logging.getLogger("yibao.fsi")
    handler = Failures()
    logger.addHandler(handler)
    logger.propagate = False
    return handler
