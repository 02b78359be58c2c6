"""SM3 (GB/T 32905) and SM4-GCM (GB/T 32907, GCM as in NIST SP 800-38D) from the ``cryptography`` package."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

NONCE = 12
TAG = 16


class Unsealed(ValueError):
    """A sealed value does not open: changed, truncated, under another key or another context."""


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of ``data``."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def hmac_sm3(key: bytes, message: bytes) -> str:
    """Hex HMAC-SM3 (RFC 2104 over GB/T 32905's SM3)."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(message)
    return mac.finalize().hex()


def sm4_gcm_seal(key: bytes, plain: bytes, aad: bytes, nonce: bytes | None = None) -> bytes:
    """nonce(12) ‖ ciphertext ‖ tag(16) under a 16-byte SM4 key, ``aad`` authenticated (not stored).
    A random nonce unless one is given (tests only: a nonce must never repeat under one key)."""
    n = os.urandom(NONCE) if nonce is None else nonce
    enc = Cipher(algorithms.SM4(key), modes.GCM(n)).encryptor()
    enc.authenticate_additional_data(aad)
    body = enc.update(plain) + enc.finalize()
    return n + body + enc.tag


def sm4_gcm_open(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    """The clear bytes of ``sm4_gcm_seal``'s output; Unsealed if it does not authenticate."""
    if len(sealed) < NONCE + TAG:
        raise Unsealed("too short")
    dec = Cipher(algorithms.SM4(key), modes.GCM(sealed[:NONCE], sealed[-TAG:])).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        return dec.update(sealed[NONCE:-TAG]) + dec.finalize()
    except InvalidTag:
        raise Unsealed("does not authenticate (changed, another key, or another context)") from None
