"""Signatures on node ↔ hub calls: HMAC-SM3 with a secret per node, a timestamp and a nonce.

Every call in either direction carries::

    x-yb-node        the node the call is from (hub → node: the node it is for)
    x-yb-timestamp   Unix seconds
    x-yb-nonce       random, used once
    x-yb-signature   hex HMAC-SM3(secret, timestamp + "\\n" + nonce + "\\n" + body)

The node's secret is derived from the hub's key, as the gateway derives callers' secrets:
hex HMAC-SM3(hub key, "node:" + node id) — the hub keeps no table of secrets, and `yibao hub node add`
prints the one a node is given. A stale timestamp, a nonce seen before, an unknown node or a wrong
signature is refused: a replayed call never reaches a use case. Idempotency is the message id in
the body (``msgid``): the same call signed again is answered as the first time.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Mapping

from yibao.crypto.sm import hmac_sm3
from yibao.nonces import MemoryNonces, Nonces

NODE, TIMESTAMP, NONCE, SIGNATURE = "x-yb-node", "x-yb-timestamp", "x-yb-nonce", "x-yb-signature"
MAX_SKEW = 300
STYLE = "node"


class SignatureError(Exception):
    def __init__(self, header: str, reason: str) -> None:
        super().__init__(f"{header}: {reason}")


def node_secret(hub_key: bytes, node_id: str) -> bytes:
    """The secret the hub and one node share."""
    return bytes.fromhex(hmac_sm3(hub_key, f"{STYLE}:{node_id}".encode()))


def sign(secret: bytes, node_id: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp, nonce = str(int(time.time() if now is None else now)), secrets.token_hex(16)
    mac = hmac_sm3(secret, f"{timestamp}\n{nonce}\n".encode() + body)
    return {NODE: node_id, TIMESTAMP: timestamp, NONCE: nonce, SIGNATURE: mac}


class Verifier:
    """Checks calls signed by the nodes ``secret_of`` knows (None: an unknown node)."""

    def __init__(
        self,
        secret_of: Callable[[str], bytes | None],
        nonces: Nonces | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secret_of = secret_of
        self.nonces: Nonces = nonces or MemoryNonces()
        self.clock = clock

    def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """The node that signed the call (lower-case header names), or SignatureError."""
        node, timestamp = headers.get(NODE, ""), headers.get(TIMESTAMP, "")
        nonce, signature = headers.get(NONCE, ""), headers.get(SIGNATURE, "").lower()
        for name, value in ((NODE, node), (TIMESTAMP, timestamp), (NONCE, nonce), (SIGNATURE, signature)):
            if not value:
                raise SignatureError(name, "不能为空")
        if len(node) > 64 or len(nonce) > 64:
            raise SignatureError(NONCE, "节点标识与随机数不能超过 64 个字符")
        try:
            at = int(timestamp)
        except ValueError:
            raise SignatureError(TIMESTAMP, "应为 Unix 秒") from None
        now = self.clock()
        if abs(now - at) > MAX_SKEW:
            raise SignatureError(TIMESTAMP, f"与本机时间相差超过 {MAX_SKEW} 秒")
        secret = self.secret_of(node)
        if secret is None:
            raise SignatureError(NODE, f"{node} 不是已登记的节点")
        expected = hmac_sm3(secret, f"{timestamp}\n{nonce}\n".encode() + body)
        if not hmac.compare_digest(expected, signature):
            raise SignatureError(SIGNATURE, "签名不符")
        if not self.nonces.first_use(node, nonce, at, now - MAX_SKEW):
            raise SignatureError(NONCE, "已使用过（重放）")
        return node
