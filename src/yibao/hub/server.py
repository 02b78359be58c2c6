"""`yibao hub serve`: the national hub's HTTP server (docs/cross-region.md).

``POST /hub/route`` takes a node's signed call ``{"msgid", "to_admdvs", "op", "payload"}``, finds the
node serving ``to_admdvs`` in the directory and forwards ``{"msgid", "from_node", "op", "payload"}`` to
its ``/node/call``, signed with that node's secret; the answer goes back as it came. The hub keeps no
business data of its own: the nodes are the systems of record, and a retried call (same msgid) is
answered by the node that first answered it.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI, Request, Response

from yibao.federation.client import dumps
from yibao.federation.signing import SignatureError, Verifier, node_secret, sign
from yibao.hub.directory import Directory, Node
from yibao.hub.key import KEY_ENV, read_key
from yibao.store.engine import make_engine

NODE_CALL = "/node/call"
JSON = "application/json"


def node_request(
    hub_key: bytes, target: Node, msgid: str, from_node: str, op: str, payload: dict[str, object]
) -> tuple[str, bytes, dict[str, str]]:
    """The hub's call to a node's ``/node/call``: (URL, body, headers), signed with that node's secret.
    ``from_node`` is the node the call comes from, or "hub" for the hub's own (clearing)."""
    body = dumps({"msgid": msgid, "from_node": from_node, "op": op, "payload": payload})
    signed = sign(node_secret(hub_key, target.node_id), target.node_id, body)
    return target.url + NODE_CALL, body, {"content-type": JSON, **signed}


def create_hub(database_url: str | None = None, key: bytes | None = None, timeout: float = 10.0) -> FastAPI:
    engine = make_engine(database_url or os.environ.get("YIBAO_HUB_DATABASE_URL"))
    hub_key = key if key is not None else read_key(Path(os.environ[KEY_ENV]))
    directory = Directory(engine)
    verifier = Verifier(lambda node: node_secret(hub_key, node) if node in directory.nodes() else None)
    clients: list[httpx.AsyncClient] = []

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        clients.append(httpx.AsyncClient(timeout=timeout))
        yield
        await clients[0].aclose()
        engine.dispose()

    app = FastAPI(lifespan=lifespan, title="yibao hub 国家医保信息平台（异地就医）")

    def answer(body: dict[str, object], status: int = 200) -> Response:
        return Response(dumps(body), status_code=status, media_type=JSON)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/hub/directory")
    def nodes() -> dict[str, object]:
        return {n.node_id: {"url": n.url, "regions": list(n.regions)} for n in directory.nodes().values()}

    @app.post("/hub/route")
    async def route(request: Request) -> Response:
        raw = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            source = verifier.verify(headers, raw)
        except SignatureError as exc:
            return answer({"ok": False, "code": "signature", "field": "signature", "error": str(exc)}, 401)
        try:
            body = json.loads(raw)
            msgid, to_admdvs, op, payload = body["msgid"], str(body["to_admdvs"]), body["op"], body["payload"]
        except (ValueError, KeyError, TypeError) as exc:
            return answer({"ok": False, "code": "body", "field": "body", "error": f"报文无效：{exc}"})
        if str(op).startswith("clearing-"):
            return answer({"ok": False, "code": "refused", "field": "op", "error": f"{op} 只由国家平台发起"})
        target = directory.node_for(to_admdvs)
        if target is None:
            return answer({"ok": False, "code": "no-route", "field": "insuplc_admdvs",
                           "error": f"{to_admdvs} 没有接入国家平台的节点"})  # fmt: skip
        url, forward, headers = node_request(hub_key, target, msgid, source, op, payload)
        try:
            r = await clients[0].post(url, content=forward, headers=headers)
        except httpx.HTTPError as exc:
            return answer({"ok": False, "code": "unreachable", "field": "insuplc_admdvs",
                           "error": f"参保地节点 {target.node_id} 不可达（{type(exc).__name__}），未结算"})  # fmt: skip
        return Response(r.content, status_code=200, media_type=JSON)

    return app
