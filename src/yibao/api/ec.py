"""The voucher centre's code query (电子凭证中台): ``POST /localcfc/api/hsecfc/localQrCodeQuery``.

A scanning terminal posts what it read::

    {"transType": "ec.query", "orgId": "H44010600001",
     "data": {"orgId": "H44010600001", "businessType": "01101", "ecQrCode": "AEAAB…",
              "operatorId": "…", "operatorName": "…", "officeId": "…", "officeName": "…", "deviceType": "…"}}

and gets ``{"code": 0, "type": "success", "message": "成功", "data": {userName, idNo (masked), idType,
insuOrg, ecIndexNo, ecToken, …}}`` — or ``{"code": 5001xx, "type": "fail", "message": "<field>: why",
"data": null}``. It is not an FSI envelope: no msgid, no sign-in; behind the gateway, the signature
names the institution, which must be ``orgId``. Each code is read once (yibao.app.voucher.read_code).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from yibao.api.fsi.dispatch import utcnow
from yibao.api.fsi.gateway import Caller
from yibao.app.ports import UnitOfWork
from yibao.app.voucher import MALFORMED, REFUSALS, CodeRefused, CodeVerifier, read_code

PATH = "/localcfc/api/hsecfc/localQrCodeQuery"
TRANS_TYPE = "ec.query"
log = logging.getLogger("yibao.ec")


def answer(code: int, message: str, data: dict[str, object] | None = None) -> str:
    """The voucher centre's answer shape."""
    body = {"code": code, "type": "success" if code == 0 else "fail", "message": message, "data": data}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _fail(reason: str, detail: str) -> str:
    return answer(REFUSALS[reason][0], detail)


def _text(node: dict[str, Any], name: str) -> str:
    value = node.get(name)
    return str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""


class CodeQuery:
    def __init__(self, db: UnitOfWork, codes: CodeVerifier) -> None:
        self.db = db
        self.codes = codes

    def handle(self, raw: bytes, caller: Caller | None = None, now: datetime | None = None) -> str:
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return answer(MALFORMED, "请求不是有效的JSON")
        if not isinstance(body, dict):
            return answer(MALFORMED, "请求应为JSON对象")
        if _text(body, "transType") != TRANS_TYPE:
            return _fail("field", f"transType: 应为 {TRANS_TYPE}")
        data = body.get("data")
        if not isinstance(data, dict):
            return _fail("field", "data: 缺少业务数据")
        org_id = _text(body, "orgId") or _text(data, "orgId")
        if _text(data, "orgId") and _text(body, "orgId") and _text(data, "orgId") != _text(body, "orgId"):
            return _fail("field", "data.orgId: 与 orgId 不符")
        if caller is not None and caller.fixmedins_code not in (None, org_id):
            return _fail("not-designated", f"orgId: {org_id} 与网关签名的机构 {caller.fixmedins_code} 不符")
        try:
            with self.db.transaction() as store:
                out = read_code(
                    store,
                    self.codes,
                    org_id=org_id,
                    business_type=_text(data, "businessType"),
                    qr_code=_text(data, "ecQrCode"),
                    now=now or utcnow(),
                )
        except CodeRefused as exc:
            return answer(exc.code, str(exc))
        except Exception:
            log.exception("ec.query from %s failed", org_id)
            return answer(500000, "系统错误，请稍后重新扫码")
        return answer(0, "成功", out)
