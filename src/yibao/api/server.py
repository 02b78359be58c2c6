"""The HTTP server: the national interface under /fsi, OpenAPI docs under /docs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from yibao import __version__
from yibao.api.fsi.dispatch import Dispatcher
from yibao.api.fsi.transactions import TRANSACTIONS
from yibao.app.files import FileContent
from yibao.store.database import Database

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


def create_app(db: Database | None = None) -> FastAPI:
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
    app.state.dispatcher = dispatcher
    body_doc = {"requestBody": {"content": {JSON: {"schema": RequestEnvelope.model_json_schema()}}, "required": True}}

    @app.post(
        "/fsi/api/callService",
        summary="Single entry: any transaction by infno",
        response_model=ResponseEnvelope,
        openapi_extra=body_doc,
        tags=["fsi"],
    )
    async def call_service(request: Request) -> Response:
        return respond(dispatcher.handle(await request.body(), None))

    for txn in TRANSACTIONS.values():
        for path in txn.paths:
            app.add_api_route(
                f"/fsi/api/{path}",
                _service_route(dispatcher, txn.infno),
                methods=["POST"],
                summary=f"{txn.infno} {txn.name}",
                response_model=ResponseEnvelope,
                openapi_extra=body_doc,
                tags=["fsi"],
                name=f"{txn.infno}:{path}",
            )

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def _service_route(dispatcher: Dispatcher, infno: str):  # type: ignore[no-untyped-def]
    async def route(request: Request) -> Response:
        return respond(dispatcher.handle(await request.body(), infno))

    return route


def respond(answer: str | FileContent) -> Response:
    if isinstance(answer, FileContent):
        disposition = f"attachment; filename*=UTF-8''{quote(answer.filename)}"
        return Response(
            answer.content, media_type="application/octet-stream", headers={"Content-Disposition": disposition}
        )
    return Response(answer, media_type=JSON)
