"""Calls from the national hub to this node: ``POST /node/call`` (docs/cross-region.md).

The body is ``{"msgid", "from_node", "op", "payload"}``, signed by the hub with this node's secret
(yibao.federation.signing). Operations that write (``for_hub.WRITES``) run in one transaction with
the record of their answer in the message log under ("node:<from_node>", msgid): the same call again
— the treating node retrying after a lost answer — gets the first answer, and the same msgid with
another body is refused. Answers: ``{"ok": true, "data": …}`` or ``{"ok": false, "field", "error"}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime

from yibao.app import clearing, for_hub
from yibao.app.cross_region import Federation
from yibao.app.ports import UnitOfWork
from yibao.app.records import Context, LoggedMessage, local_date
from yibao.domain.errors import DomainError
from yibao.federation.client import dumps
from yibao.federation.signing import SignatureError, Verifier

PATH = "/node/call"
log = logging.getLogger("yibao.node")


def refusal(field: str, error: str, code: str = "refused") -> bytes:
    return dumps({"ok": False, "field": field, "error": error, "code": code})


class NodeCalls:
    def __init__(self, db: UnitOfWork, federation: Federation, secret: bytes) -> None:
        self.db = db
        self.federation = federation
        self.verifier = Verifier(lambda node: secret if node == federation.node_id else None)

    def handle(self, headers: Mapping[str, str], raw: bytes) -> bytes:
        try:
            self.verifier.verify(headers, raw)
        except SignatureError as exc:
            return refusal("signature", str(exc), "signature")
        try:
            body = json.loads(raw)
            msgid, source, op, payload = body["msgid"], body["from_node"], body["op"], body["payload"]
            if not all(isinstance(v, str) and 0 < len(v) <= 50 for v in (msgid, source, op)):
                raise ValueError("msgid, from_node and op are 1 to 50 characters")
            if not isinstance(payload, dict):
                raise ValueError("payload is an object")
        except (ValueError, KeyError, TypeError) as exc:
            return refusal("body", f"报文无效：{exc}")
        if op not in for_hub.READS | for_hub.WRITES:
            return refusal("op", f"{op} 不是节点间交易")
        if op in clearing.READS | clearing.WRITES and source != clearing.HUB:
            return refusal("op", f"{op} 只受理国家平台的调用")
        now = datetime.now(UTC).replace(tzinfo=None)
        ctx = Context(
            fixmedins_code=str(
                payload.get("institution", {}).get("fixmedins_code") or payload.get("fixmedins_code") or ""
            ),
            msgid=msgid,
            infno=str(payload.get("infno") or op)[:6],
            now=now,
            today=date.fromisoformat(str(payload["setl_date"])) if payload.get("setl_date") else local_date(now),
            federation=self.federation,
        )
        caller = f"node:{source}"[:30]
        body_hash = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        try:
            if op in for_hub.READS:
                with self.db.transaction(write=False) as store:
                    return dumps({"ok": True, "data": for_hub.answer(store, ctx, op, payload)})
            with self.db.transaction() as store:
                done = store.logged(caller, msgid)
                if done is not None:
                    return self.replay(done, body_hash)
                answer = dumps({"ok": True, "data": for_hub.answer(store, ctx, op, payload)})
                store.log_message(caller, msgid, LoggedMessage(op[:6], body_hash, answer.decode(), None), now)
            return answer
        except DomainError as exc:
            return self.meanwhile(caller, msgid, body_hash) or refusal(exc.field, exc.reason)
        except Exception:
            first = self.meanwhile(caller, msgid, body_hash)
            if first is not None:
                return first
            log.exception("%s %s from %s failed", op, msgid, source)
            return refusal("op", "参保地系统错误，未结算", "unreachable")

    def meanwhile(self, caller: str, msgid: str, body_hash: str) -> bytes | None:
        """The answer of a concurrent twin of this call that committed first (it held the person's lock)."""
        try:
            with self.db.transaction(write=False) as store:
                done = store.logged(caller, msgid)
        except Exception:
            return None
        return None if done is None else self.replay(done, body_hash)

    @staticmethod
    def replay(done: LoggedMessage, body_hash: str) -> bytes:
        if done.body_hash != body_hash:
            return refusal("msgid", "报文ID已使用，且报文内容与原报文不同")
        return done.response.encode()
