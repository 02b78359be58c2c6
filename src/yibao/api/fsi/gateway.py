"""The gateway in front of the national interface: which system is calling, proven by a signature.

Two styles that real HIS clients speak (../shared/domain/national-interface.md §6):

- 里约 (Rio, Tencent's gateway): ``x-tif-paasid``, ``x-tif-timestamp`` (unix seconds), ``x-tif-nonce``
  and ``x-tif-signature`` = hex SHA-256(timestamp + token + nonce + timestamp), either case;
- SM3-HMAC (Zhejiang): ``x-ca-key`` = the institution's code and ``x-ca-signature`` =
  ``"<unix seconds>:" + hex HMAC-SM3(secret, "<unix seconds>\\n" + body)``.

A caller's token or secret is derived from the node's gateway key, which is kept outside the
database: hex HMAC-SM3(key, style + ":" + id). The bureau hands it out with ``yibao gateway issue``;
there is nothing per caller to store or look up on each request. Rotation: a key file lists the
new key first, and signatures made with the keys after it are still accepted until they are removed.

A timestamp more than ``max_skew`` seconds from now is stale; a Rio nonce is accepted once within
that window. The nonces used are remembered by a ``Nonces``: in the process's memory by default, in
the database (``yibao.store.nonces``) when the server runs on PostgreSQL, where several worker
processes share the load and a replay must be refused by whichever of them receives it.
"""

from __future__ import annotations

import hashlib
import hmac as std_hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from yibao.crypto.sm import hmac_sm3
from yibao.domain.frozen import frozen
from yibao.nonces import MemoryNonces, Nonces

RIO, SM3 = "rio", "sm3"
INSTITUTION = re.compile(r"^[HP]\d{11}$")
MAX_NONCE = 64
"""The longest x-tif-nonce taken (Rio sends 32 hex digits or a UUID)."""


class GatewayError(Exception):
    """A request the gateway lets no further: the header at fault and why."""

    def __init__(self, header: str, reason: str) -> None:
        super().__init__(f"{header}: {reason}")


@frozen
class Caller:
    """Who the gateway let in. ``fixmedins_code``: the one institution this caller may speak for (an
    SM3 key, or a Rio paasid that is an institution's code); None for a regional front-end system."""

    style: str
    key_id: str
    fixmedins_code: str | None


def caller_secret(key: bytes, style: str, key_id: str) -> str:
    """The token (Rio) or secret (SM3) of one caller under one gateway key."""
    return hmac_sm3(key, f"{style}:{key_id}".encode())


def rio_headers(paasid: str, token: str, now: float | None = None, nonce: str | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    nonce = nonce or secrets.token_hex(16)
    signature = hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()
    return {"x-tif-paasid": paasid, "x-tif-timestamp": timestamp, "x-tif-nonce": nonce, "x-tif-signature": signature}


def sm3_headers(key_id: str, secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    timestamp = str(int(time.time() if now is None else now))
    signature = hmac_sm3(secret.encode(), timestamp.encode() + b"\n" + body)
    return {"x-ca-key": key_id, "x-ca-signature": f"{timestamp}:{signature}"}


@frozen
class Signer:
    """A client's side: signs each request body in its style (HisClient, the simulator, the bench)."""

    style: str
    key_id: str
    secret: str

    def headers(self, body: bytes) -> dict[str, str]:
        if self.style == RIO:
            return rio_headers(self.key_id, self.secret)
        return sm3_headers(self.key_id, self.secret, body)


def read_keys(path: Path) -> list[bytes]:
    """The gateway keys of a key file: hex, one a line, newest first; # starts a comment."""
    keys = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            key = bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"{path}:{n}: 不是十六进制密钥") from None
        if len(key) < 16:
            raise ValueError(f"{path}:{n}: 密钥至少 16 字节")
        keys.append(key)
    if not keys:
        raise ValueError(f"{path}: 没有密钥")
    return keys


class Gateway:
    def __init__(
        self,
        keys: Sequence[bytes],
        max_skew: int = 300,
        clock: Callable[[], float] = time.time,
        nonces: Nonces | None = None,
    ) -> None:
        if not keys:
            raise ValueError("a gateway needs at least one key")
        self.keys = list(keys)
        self.max_skew = max_skew
        self.clock = clock
        self.nonces: Nonces = nonces or MemoryNonces()

    @classmethod
    def from_file(cls, path: Path) -> Gateway:
        return cls(read_keys(path))

    def signer(self, style: str, key_id: str) -> Signer:
        """A caller's signer under the newest key (what ``yibao gateway issue`` hands out)."""
        return Signer(style, key_id, caller_secret(self.keys[0], style, key_id))

    def verify(self, headers: Mapping[str, str], body: bytes) -> Caller:
        """The caller of a request with these (lower-case) headers and body, or GatewayError."""
        if "x-tif-signature" in headers or "x-tif-paasid" in headers:
            return self._rio(headers)
        if "x-ca-signature" in headers or "x-ca-key" in headers:
            return self._sm3(headers, body)
        raise GatewayError("x-tif-signature", "缺少网关签名（里约 x-tif-* 或 SM3 x-ca-*）")

    def _fresh(self, header: str, timestamp: str) -> float:
        try:
            at = int(timestamp)
        except ValueError:
            raise GatewayError(header, "时间戳应为 Unix 秒") from None
        if abs(self.clock() - at) > self.max_skew:
            raise GatewayError(header, f"时间戳与服务器时间相差超过 {self.max_skew} 秒")
        return at

    def _rio(self, headers: Mapping[str, str]) -> Caller:
        paasid, nonce = headers.get("x-tif-paasid", ""), headers.get("x-tif-nonce", "")
        timestamp, signature = headers.get("x-tif-timestamp", ""), headers.get("x-tif-signature", "").lower()
        for name, value in (("x-tif-paasid", paasid), ("x-tif-timestamp", timestamp), ("x-tif-nonce", nonce)):
            if not value:
                raise GatewayError(name, "不能为空")
        at = self._fresh("x-tif-timestamp", timestamp)
        for key in self.keys:
            token = caller_secret(key, RIO, paasid)
            expected = hashlib.sha256(f"{timestamp}{token}{nonce}{timestamp}".encode()).hexdigest()
            if std_hmac.compare_digest(expected, signature):
                self._once(paasid, nonce, at)
                return Caller(RIO, paasid, paasid if INSTITUTION.match(paasid) else None)
        raise GatewayError("x-tif-signature", "签名不符")

    def _sm3(self, headers: Mapping[str, str], body: bytes) -> Caller:
        key_id, signed = headers.get("x-ca-key", ""), headers.get("x-ca-signature", "")
        if not key_id:
            raise GatewayError("x-ca-key", "不能为空")
        timestamp, _, signature = signed.partition(":")
        if not signature:
            raise GatewayError("x-ca-signature", '应为 "<Unix 秒>:<HMAC-SM3>"')
        self._fresh("x-ca-signature", timestamp)
        for key in self.keys:
            secret = caller_secret(key, SM3, key_id).encode()
            if std_hmac.compare_digest(hmac_sm3(secret, timestamp.encode() + b"\n" + body), signature.lower()):
                return Caller(SM3, key_id, key_id)
        raise GatewayError("x-ca-signature", "签名不符")

    def _once(self, paasid: str, nonce: str, at: float) -> None:
        if len(nonce) > MAX_NONCE or len(paasid) > MAX_NONCE:
            raise GatewayError("x-tif-nonce", f"x-tif-paasid 与 x-tif-nonce 不能超过 {MAX_NONCE} 个字符")
        if not self.nonces.first_use(paasid, nonce, at, self.clock() - self.max_skew):
            raise GatewayError("x-tif-nonce", "已使用过（重放）")
