"""SM2 on gmalg (pure Python, about 100 signatures a second): the reference implementation.

gmalg takes any SM2 ID and an injectable random source, so a signature can be made with a fixed k
and compared with the standard's worked example (tests/unit/test_sm_crypto.py). Not for the hot path.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from gmalg import SM2

from yibao.crypto.sm2 import DEFAULT_USER_ID, KeyPair, check_private, is_on_curve, raw, split


@lru_cache(maxsize=64)
def _public_of(private: bytes) -> bytes:
    check_private(private)
    return bytes(SM2().generate_pk(private))


class GmalgSm2:
    """The ``Sm2Backend`` on gmalg. ``nonce``, when given, replaces the random k (tests only)."""

    name = "gmalg"

    def __init__(self, nonce: Callable[[int], int] | None = None) -> None:
        self._nonce = nonce

    def generate(self) -> KeyPair:
        private, public = SM2().generate_keypair()
        return KeyPair(bytes(private).rjust(32, b"\0"), bytes(public))

    def public_key(self, private: bytes) -> bytes:
        return _public_of(private)

    def sign(self, private: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        signer = SM2(private, user_id, _public_of(private), rnd_fn=self._nonce)
        r, s = signer.sign(message)
        return raw(int.from_bytes(r, "big"), int.from_bytes(s, "big"))

    def verify(self, public: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_USER_ID) -> bool:
        if not is_on_curve(public) or split(signature) is None:
            return False
        return bool(SM2(uid=user_id, pk=public).verify(message, signature[:32], signature[32:]))
