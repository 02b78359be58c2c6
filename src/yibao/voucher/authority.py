"""The issuing authority as the use cases see it: ``CodeIssuer`` and ``CodeVerifier`` over the SM2 keys."""

from __future__ import annotations

from datetime import UTC, datetime

from yibao.app.voucher import BadCode, CodeClaims, IssuedCode
from yibao.crypto.sm2 import Sm2Backend
from yibao.voucher import token
from yibao.voucher.keys import AuthorityKeys, load_authority


def _unix(at: datetime) -> float:
    return at.replace(tzinfo=UTC).timestamp()


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


class Authority:
    """Signs codes with the newest key, verifies codes of every key it holds. Times are naive UTC."""

    def __init__(self, keys: AuthorityKeys, backend: Sm2Backend, ttl: int = token.TTL) -> None:
        self.signing = keys.signing
        self.public_keys = keys.public_keys
        self.backend = backend
        self.ttl = ttl

    @classmethod
    def load(cls, backend: Sm2Backend | None = None) -> Authority:
        """The deployment's keys (``yibao.voucher.keys``: made on first use on a developer's machine)."""
        if backend is None:
            from yibao.crypto.tongsuo import TongsuoSm2

            backend = TongsuoSm2()
        return cls(load_authority(backend), backend)

    def issue(self, ec_index_no: str, now: datetime) -> IssuedCode:
        text = token.issue(ec_index_no, _unix(now), self.signing, self.backend, ttl=self.ttl)
        return IssuedCode(text, _utc(int(_unix(now)) + self.ttl))

    def verify(self, text: str, now: datetime) -> CodeClaims:
        try:
            c = token.verify(text, _unix(now), self.public_keys, self.backend)
        except token.TokenError as exc:
            raise BadCode(exc.reason, str(exc)) from None
        return CodeClaims(c.ec_index_no, c.key_id, c.nonce.hex(), _utc(c.expires))
