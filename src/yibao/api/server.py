"""The HTTP server: the national interface under /fsi, OpenAPI docs under /docs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio.to_thread
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from yibao import __version__
from yibao.api import ec, node
from yibao.api.ec import CodeQuery
from yibao.api.fsi.dispatch import Dispatcher, utcnow
from yibao.api.fsi.gateway import Caller, Gateway, GatewayError
from yibao.api.fsi.transactions import PATHS, TRANSACTIONS
from yibao.api.memory import collecting_for_a_worker, release_periodically, trim_interval
from yibao.api.node import NodeCalls
from yibao.app.files import FileContent
from yibao.app.voucher import REFUSALS
from yibao.federation.client import HubFederation
from yibao.store.dashboard import SqlDashboardSource
from yibao.store.database import Database
from yibao.voucher.authority import Authority
from yibao.web import console_router

JSON = "application/json"


class RequestEnvelope(BaseModel):
    """The national request envelope (documentation; the dispatcher reads it tolerantly)."""

    model_config = ConfigDict(extra="allow")
    infno: str = Field(examples=["2207"], description="交易编号; letter variants such as 2207A are accepted")
    msgid: str = Field(description="发送方报文ID: fixmedins_code + yyyyMMddHHmmss + serial")
    mdtrtarea_admvs: str = Field("", description="就医地医保区划")
    insuplc_admdvs: str = Field("", description="参保地医保区划")
    recer_sys_code: str = ""
    infver: str = Field("V1.0", description='"V1.0", "1", "1.0" ...')
    opter_type: str = "1"
    opter: str = ""
    opter_name: str = ""
    inf_time: str = ""
    fixmedins_code: str = Field(description="定点医药机构编号")
    fixmedins_name: str = ""
    sign_no: str = Field("", description="交易签到流水号 from 9001")
    input: dict[str, object] = Field(default_factory=dict, description="交易输入: nodes per transaction")


class ResponseEnvelope(BaseModel):
    infcode: int = Field(description="0 success, -1 failure")
    inf_refmsgid: str
    refmsg_time: str
    respond_time: str
    err_msg: str | None
    output: dict[str, object]


def create_app(db: Database | None = None, gateway: Gateway | None = None) -> NationalInterface:
    """The server over ``db``. ``gateway``: check every interface call's signature; by default that
    of the key file YIBAO_GATEWAY_KEY_FILE names, if it names one (and none is checked otherwise)."""
    database = db or Database()
    key_file = os.environ.get("YIBAO_GATEWAY_KEY_FILE")
    gateway = gateway or (Gateway.from_file(Path(key_file)) if key_file else None)
    if gateway is not None and (shared := database.shared_nonces()) is not None:
        gateway.nonces = shared

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        trimming = asyncio.create_task(release_periodically(trim_interval()))
        with collecting_for_a_worker():
            yield
        trimming.cancel()
        database.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="yibao 医疗保障信息平台",
        version=__version__,
        description="The national interface (定点医药机构接口). Every transaction is reachable at its "
        "service path and at the single entry /fsi/api/callService with `infno` in the body.",
    )
    authority = Authority.load()  # the voucher codes' keys: signs for the portal, verifies for ec.query and 1162
    federation = HubFederation.from_env()  # one node of several, if YIBAO_NODE_ID and the rest are set
    dispatcher = Dispatcher(
        database,
        os.environ.get("YIBAO_ADMDVS", "000000"),
        codes=authority,
        federation=federation,
        durable_visits=os.environ.get("YIBAO_DURABLE_VISITS") == "1",  # docs/reliability.md, promise 8
    )

    app.openapi = lambda: fsi_openapi(app)  # type: ignore[method-assign]

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # the console (/console) and portal (/portal); accounts, sessions and the audit log in the same database
    app.include_router(console_router(SqlDashboardSource(database), database, codes=authority, federation=federation))

    node_calls = None if federation is None else NodeCalls(database, federation, federation.secret)
    return NationalInterface(
        app, dispatcher, gateway=gateway, code_query=CodeQuery(database, authority), node_calls=node_calls
    )


class NationalInterface:
    """The ASGI application: POSTs under /fsi/api/ go straight to the dispatcher, everything else
    (docs, health) to FastAPI. Each call settles money in a few milliseconds of CPU; the framework's
    routing, request and response objects would cost about as much again, so the interface skips them.

    The dispatcher runs on the event loop itself: a worker serves one message at a time, without the
    thread hand-offs that cost more CPU than they save here; run several workers for concurrency.
    """

    def __init__(
        self,
        app: FastAPI,
        dispatcher: Dispatcher,
        limits: Limits | None = None,
        gateway: Gateway | None = None,
        code_query: CodeQuery | None = None,
        node_calls: NodeCalls | None = None,
    ) -> None:
        self.app = app
        self.dispatcher = dispatcher
        self.code_query = code_query
        self.node_calls = node_calls
        self.gateway = gateway
        self.limits = limits or Limits.from_env()
        self.buckets = RateLimiter(self.limits.rate, self.limits.burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if path == ec.PATH and self.code_query is not None and scope["type"] == "http" and scope["method"] == "POST":
            await self.query_code(scope, receive, send)
            return
        if path == node.PATH and self.node_calls is not None and scope["type"] == "http" and scope["method"] == "POST":
            body = await self.read_body(scope, receive, "node")
            if isinstance(body, str):
                await self.send(send, node.refusal("body", body).decode())
                return
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            answered = await anyio.to_thread.run_sync(self.node_calls.handle, headers, body)
            await self.send(send, answered.decode())
            return
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        service = path[len(PREFIX) :]
        infno = None if service == "callService" else PATHS.get(service)
        if infno is None and service != "callService":
            await self.app(scope, receive, send)  # an unknown service: FastAPI's 404
            return
        body = await self.read_body(scope, receive, infno)
        if isinstance(body, str):  # a refusal before the dispatcher: too large, or too many messages
            answer: str | FileContent = self.dispatcher.error(body, utcnow())
        elif self.gateway is None:
            answer = await self.handle(body, infno, None)
        else:
            try:
                sent = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                caller = self.gateway.verify(sent, body)
            except GatewayError as exc:
                answer = self.dispatcher.error(str(exc), utcnow())
            else:
                answer = await self.handle(body, infno, caller)
        await self.send(send, answer)

    async def handle(self, body: bytes, infno: str | None, caller: Caller | None) -> str | FileContent:
        """The dispatcher's answer: on the event loop, or, on a node of several, in a thread — its
        messages wait for other nodes, which may be calling this one meanwhile."""
        if self.dispatcher.federation is None:
            return self.dispatcher.handle(body, infno, caller)
        return await anyio.to_thread.run_sync(self.dispatcher.handle, body, infno, caller)

    async def query_code(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ec.query (yibao.api.ec): the same limits and gateway check as the interface's messages."""
        assert self.code_query is not None
        body = await self.read_body(scope, receive, "ec.query")
        if isinstance(body, str):
            await self.send(send, ec.answer(REFUSALS["field"][0], body))
            return
        caller = None
        if self.gateway is not None:
            try:
                sent = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                caller = self.gateway.verify(sent, body)
            except GatewayError as exc:
                await self.send(send, ec.answer(REFUSALS["field"][0], str(exc)))
                return
        await self.send(send, self.code_query.handle(body, caller))

    @staticmethod
    async def send(send: Send, answer: str | FileContent) -> None:
        if isinstance(answer, FileContent):
            disposition = f"attachment; filename*=UTF-8''{quote(answer.filename)}"
            headers = [(b"content-type", b"application/octet-stream"), (b"content-disposition", disposition.encode())]
            content = answer.content
        else:
            headers, content = [(b"content-type", JSON.encode())], answer.encode()
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    async def read_body(self, scope: Scope, receive: Receive, infno: str | None) -> bytes | str:
        """The request body, or the err_msg that refuses it: larger than the limit (read no further
        than the limit) or beyond the institution's rate. Refusals are answered infcode -1, HTTP 200."""
        limits = self.limits
        largest = limits.upload_bytes if infno in (None, UPLOAD) else limits.body_bytes
        declared = dict(scope.get("headers") or ()).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > largest:
            return limits.too_large(int(declared), infno)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > largest:
                return limits.too_large(len(body), infno)
        if len(body) > limits.body_bytes and infno is None and _infno_of(body) != UPLOAD:
            return limits.too_large(len(body), _infno_of(body))
        if limits.rate > 0 and not self.buckets.take(_institution_of(body)):
            return f"fixmedins_code: 请求过于频繁，每个机构每秒最多 {limits.rate:g} 笔，请稍后重试"
        return body


UPLOAD = "9101"
_INSTITUTION = re.compile(rb'"(?:fixmedins_code|orgId)"\s*:\s*"?([^",}\s]{0,40})')


def _institution_of(body: bytes) -> str:
    """The envelope's fixmedins_code, found without parsing the body (the dispatcher parses it once).

    The first occurrence counts: the envelope's own fields precede ``input`` as HIS clients write
    them. The code is the sender's own claim anyway, until gateway signatures verify it.
    """
    m = _INSTITUTION.search(body)
    return m.group(1).decode(errors="replace") if m else ""


def _infno_of(body: bytes) -> str | None:
    """The base transaction code of a (large) body, or None when it is not a readable envelope."""
    try:
        infno = json.loads(body).get("infno")
    except (ValueError, UnicodeDecodeError, AttributeError):
        return None
    return str(infno).strip()[:4] if infno is not None else None


@dataclass(frozen=True)
class Limits:
    """What one message may be: its size, and how many an institution may send per second.

    From the environment: YIBAO_MAX_BODY_BYTES (default 1 MiB), YIBAO_MAX_UPLOAD_BYTES (9101 file
    uploads, 10 MiB), YIBAO_RATE_LIMIT (messages a second per fixmedins_code in each server process,
    default 500; 0 turns it off) and YIBAO_RATE_BURST (default twice the rate).
    """

    body_bytes: int = 1 << 20
    upload_bytes: int = 10 << 20
    rate: float = 500.0
    burst: float = 1000.0

    @classmethod
    def from_env(cls) -> Limits:
        env = os.environ
        rate = float(env.get("YIBAO_RATE_LIMIT", cls.rate))
        return cls(
            body_bytes=int(env.get("YIBAO_MAX_BODY_BYTES", cls.body_bytes)),
            upload_bytes=int(env.get("YIBAO_MAX_UPLOAD_BYTES", cls.upload_bytes)),
            rate=rate,
            burst=float(env.get("YIBAO_RATE_BURST", 2 * rate)),
        )

    def too_large(self, size: int, infno: str | None) -> str:
        if infno == UPLOAD:
            return f"body: 报文 {size} 字节，超过文件上传(9101)上限 {_size(self.upload_bytes)}"
        return f"body: 报文 {size} 字节，超过上限 {_size(self.body_bytes)}（文件上传9101为 {_size(self.upload_bytes)}）"


def _size(n: int) -> str:
    return f"{n / (1 << 20):g} MB" if n >= 1 << 20 else f"{n / 1024:g} KB" if n >= 1024 else f"{n} 字节"


class RateLimiter:
    """A token bucket per institution: ``rate`` tokens a second, at most ``burst`` saved up."""

    MAX_BUCKETS = 10_000

    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, max(burst, 1.0)
        self.buckets: dict[str, tuple[float, float]] = {}  # code → (tokens, when)
        self.lock = threading.Lock()

    def take(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            tokens, then = self.buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if len(self.buckets) >= self.MAX_BUCKETS and key not in self.buckets:
                # forget institutions whose buckets are full again: they lose nothing by it
                self.buckets = {k: v for k, v in self.buckets.items() if v[0] + (now - v[1]) * self.rate < self.burst}
            if tokens < 1.0:
                self.buckets[key] = (tokens, now)
                return False
            self.buckets[key] = (tokens - 1.0, now)
            return True


PREFIX = "/fsi/api/"


def fsi_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document plus every path of the national interface."""
    if app.openapi_schema:
        cached: dict[str, Any] = app.openapi_schema
        return cached
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    models = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (RequestEnvelope, ResponseEnvelope):
        models[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")

    def operation(summary: str, operation_id: str) -> dict[str, Any]:
        ref = {"$ref": "#/components/schemas/RequestEnvelope"}
        answer = {"$ref": "#/components/schemas/ResponseEnvelope"}
        return {"post": {"tags": ["fsi"], "summary": summary, "operationId": operation_id,
                         "requestBody": {"required": True, "content": {JSON: {"schema": ref}}},
                         "responses": {"200": {"description": "The response envelope (a file for 9102)",
                                               "content": {JSON: {"schema": answer}}}}}}  # fmt: skip

    paths = schema.setdefault("paths", {})
    paths[PREFIX + "callService"] = operation("Single entry: any transaction by infno", "callService")
    for txn in TRANSACTIONS.values():
        for path in txn.paths:
            paths[PREFIX + path] = operation(f"{txn.infno} {txn.name}", f"{txn.infno}_{path.replace('/', '_')}")
    app.openapi_schema = schema
    return schema
