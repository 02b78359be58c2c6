"""The voucher QR code: a short, signed, expiring token naming one voucher (docs/voucher.md).

The token is base32 (RFC 4648, upper case, no padding: every character is in the QR code's
alphanumeric set, so the code is about a sixth smaller than with base64) of::

    offset  size  field
    0       1     version, 1
    1       2     key id of the authority key that signed (big endian)
    3       4     expiry, Unix seconds (big endian)
    7       8     nonce, random: what "redeemed once" is recorded by
    15      1     L, the length of the voucher index number (1..64)
    16      L     the voucher index number (ecIndexNo), printable ASCII
    16+L    64    SM2 signature, raw r ‖ s, default ID, over CONTEXT ‖ bytes 0..16+L

Verification checks, in this order: the shape (``Malformed``), the key id (``UnknownKey``), the
signature (``BadSignature``), the expiry (``Expired``): an expired answer is given for authentic
codes only. "Once" is the database's: the key (key_id, nonce) of ``voucher_use`` (yibao.app.voucher).
"""

from __future__ import annotations

import base64
import binascii
import os
import struct
from collections.abc import Mapping

from yibao.crypto.sm2 import SIGNATURE, Sm2Backend
from yibao.domain.frozen import frozen

VERSION = 1
CONTEXT = b"yibao/voucher-code/v1\0"
"""Signed in front of the payload and never sent: a signature made for anything else never passes."""
TTL = 60
MAX_INDEX = 64
NONCE = 8
_HEAD = struct.Struct(">BHI8sB")


class TokenError(Exception):
    """A code that does not admit anyone; ``reason`` is a short stable word for logs and answers."""

    reason = "invalid"


class Malformed(TokenError):
    reason = "malformed"


class UnknownKey(TokenError):
    reason = "unknown-key"


class BadSignature(TokenError):
    reason = "bad-signature"


class Expired(TokenError):
    reason = "expired"


@frozen
class Claims:
    ec_index_no: str
    key_id: int
    expires: int
    """Unix seconds; the code is good while now < expires"""
    nonce: bytes


@frozen
class SigningKey:
    key_id: int
    private: bytes


def _check_index(ec_index_no: str) -> bytes:
    try:
        raw = ec_index_no.encode("ascii")
    except UnicodeEncodeError:
        raw = b""
    if not 1 <= len(raw) <= MAX_INDEX or not all(0x21 <= b <= 0x7E for b in raw):
        raise ValueError(f"a voucher index number is 1 to {MAX_INDEX} printable ASCII characters")
    return raw


def payload(claims: Claims) -> bytes:
    """The signed bytes of a code (without CONTEXT)."""
    index = _check_index(claims.ec_index_no)
    if len(claims.nonce) != NONCE:
        raise ValueError(f"the nonce has {NONCE} bytes")
    return _HEAD.pack(VERSION, claims.key_id, claims.expires, claims.nonce, len(index)) + index


def encode(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def decode(text: str) -> bytes:
    t = text.strip().upper()
    try:
        return base64.b32decode(t + "=" * (-len(t) % 8))
    except (binascii.Error, ValueError):
        raise Malformed("not base32") from None


def parse(data: bytes) -> tuple[Claims, bytes, bytes]:
    """(claims, the signed payload, the signature) of a decoded code; Malformed if it is not one."""
    if len(data) < _HEAD.size + 1 + SIGNATURE:
        raise Malformed("too short")
    version, key_id, expires, nonce, length = _HEAD.unpack_from(data)
    if version != VERSION:
        raise Malformed(f"version {version}")
    end = _HEAD.size + length
    if not 1 <= length <= MAX_INDEX or len(data) != end + SIGNATURE:
        raise Malformed("wrong length")
    index = data[_HEAD.size : end]
    if not all(0x21 <= b <= 0x7E for b in index):
        raise Malformed("voucher index is not printable ASCII")
    return Claims(index.decode("ascii"), key_id, expires, nonce), data[:end], data[end:]


def issue(
    ec_index_no: str, now: float, key: SigningKey, backend: Sm2Backend, *, ttl: int = TTL, nonce: bytes | None = None
) -> str:
    """A code for the voucher, good for ``ttl`` seconds from ``now`` (Unix seconds)."""
    claims = Claims(ec_index_no, key.key_id, int(now) + ttl, os.urandom(NONCE) if nonce is None else nonce)
    signed = payload(claims)
    return encode(signed + backend.sign(key.private, CONTEXT + signed))


def verify(text: str, now: float, public_keys: Mapping[int, bytes], backend: Sm2Backend) -> Claims:
    """The claims of an authentic code still in time, else the TokenError that says why not."""
    claims, signed, signature = parse(decode(text))
    public = public_keys.get(claims.key_id)
    if public is None:
        raise UnknownKey(f"key {claims.key_id}")
    if not backend.verify(public, CONTEXT + signed, signature):
        raise BadSignature("signature does not verify")
    if now >= claims.expires:
        raise Expired(f"expired {int(now) - claims.expires + 1} s ago")
    return claims
