"""The HTTP server: the national interface under /fsi, OpenAPI docs under /docs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from yibao import __version__
from yibao.api.fsi.dispatch import Dispatcher
from yibao.api.fsi.transactions import PATHS, TRANSACTIONS
from yibao.app.files import FileContent
from yibao.store.dashboard import SqlDashboardSource
from yibao.store.database import Database
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


def create_app(db: Database | None = None) -> NationalInterface:
    database = db or Database()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        database.dispose()

    app = FastAPI(
        lifespan=lifespan,
        title="yibao 医疗保障信息平台",
        version=__version__,
        description="The national interface (定点医药机构接口). Every transaction is reachable at its "
        "service path and at the single entry /fsi/api/callService with `infno` in the body.",
    )
    dispatcher = Dispatcher(database, os.environ.get("YIBAO_ADMDVS", "000000"))

    app.openapi = lambda: fsi_openapi(app)  # type: ignore[method-assign]

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(console_router(SqlDashboardSource(database)))  # the console (/console) and portal (/portal)

    return NationalInterface(app, dispatcher)


class NationalInterface:
    """The ASGI application: POSTs under /fsi/api/ go straight to the dispatcher, everything else
    (docs, health) to FastAPI. Each call settles money in a few milliseconds of CPU; the framework's
    routing, request and response objects would cost about as much again, so the interface skips them.

    The dispatcher runs on the event loop itself: a worker serves one message at a time, without the
    thread hand-offs that cost more CPU than they save here; run several workers for concurrency.
    """

    def __init__(self, app: FastAPI, dispatcher: Dispatcher) -> None:
        self.app = app
        self.dispatcher = dispatcher

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        service = path[len(PREFIX) :]
        infno = None if service == "callService" else PATHS.get(service)
        if infno is None and service != "callService":
            await self.app(scope, receive, send)  # an unknown service: FastAPI's 404
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        answer = self.dispatcher.handle(body, infno)
        if isinstance(answer, FileContent):
            disposition = f"attachment; filename*=UTF-8''{quote(answer.filename)}"
            headers = [(b"content-type", b"application/octet-stream"), (b"content-disposition", disposition.encode())]
            content = answer.content
        else:
            headers, content = [(b"content-type", JSON.encode())], answer.encode()
        headers.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})


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
