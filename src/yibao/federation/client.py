"""A node's way to the other nodes: every call goes to the hub, signed, and the hub routes it."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from yibao.api.fsi.envelope import dumps as envelope_dumps
from yibao.app.cross_region import Unreachable
from yibao.app.errors import Refused
from yibao.federation.signing import sign

ROUTE = "/hub/route"
NODE_ENV = ("YIBAO_NODE_ID", "YIBAO_NODE_REGIONS", "YIBAO_HUB_URL", "YIBAO_NODE_KEY_FILE")


def dumps(value: Any) -> bytes:
    """As the interface writes JSON: Decimal exact, dates ISO, datetimes (UTC inside) as local time."""
    return envelope_dumps(value).encode()


@dataclass
class HubFederation:
    """This node (``node_id``, serving the admdvs prefixes ``regions``) among the others, through the hub."""

    node_id: str
    regions: tuple[str, ...]
    hub_url: str
    secret: bytes
    timeout: float = 10.0
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @classmethod
    def from_env(cls) -> HubFederation | None:
        """YIBAO_NODE_ID, YIBAO_NODE_REGIONS (comma-separated admdvs prefixes), YIBAO_HUB_URL and
        YIBAO_NODE_KEY_FILE (the secret `yibao hub node add` printed, hex); None without them."""
        values = [os.environ.get(name, "").strip() for name in NODE_ENV]
        if not any(values):
            return None
        missing = [name for name, value in zip(NODE_ENV, values, strict=True) if not value]
        if missing:
            raise ValueError(f"a node of several needs {', '.join(NODE_ENV)}; missing: {', '.join(missing)}")
        node_id, regions, hub_url, key_file = values
        secret = bytes.fromhex(Path(key_file).read_text().strip())
        return cls(node_id, tuple(r.strip() for r in regions.split(",") if r.strip()), hub_url.rstrip("/"), secret)

    def serves(self, admdvs: str) -> bool:
        return any(admdvs.startswith(prefix) for prefix in self.regions)

    def client(self) -> httpx.Client:
        found: httpx.Client | None = getattr(self._local, "client", None)
        if found is None:
            found = self._local.client = httpx.Client(timeout=self.timeout)
        return found

    def call(self, op: str, to_admdvs: str, msgid: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = dumps({"msgid": msgid, "to_admdvs": to_admdvs, "op": op, "payload": payload})
        headers = {"content-type": "application/json", **sign(self.secret, self.node_id, body)}
        where = f"参保地 {to_admdvs}"
        try:
            r = self.client().post(self.hub_url + ROUTE, content=body, headers=headers)
            answer = json.loads(r.content, parse_float=Decimal)
        except (httpx.HTTPError, ValueError) as exc:
            raise Unreachable("insuplc_admdvs", f"{where}：国家平台不可达（{type(exc).__name__}），未结算") from None
        if not isinstance(answer, dict):
            raise Unreachable("insuplc_admdvs", f"{where}：国家平台应答无效，未结算")
        if answer.get("ok") is True and isinstance(answer.get("data"), dict):
            data: dict[str, Any] = answer["data"]
            return data
        reason = str(answer.get("error", "未知错误"))
        if answer.get("code") == "unreachable":
            raise Unreachable("insuplc_admdvs", f"{where}：{reason}")
        raise Refused(str(answer.get("field") or "insuplc_admdvs"), f"{where}：{reason}")
