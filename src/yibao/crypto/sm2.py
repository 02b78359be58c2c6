"""The SM2 signature port (GB/T 32918.2, on the recommended curve of GB/T 32918.5).

Formats, the same for every backend:

- private key: the 32-byte big-endian scalar d (1 ≤ d ≤ n − 2), usually shown as 64 hex digits;
- public key: the 65-byte uncompressed point ``04 ‖ x ‖ y`` (130 hex digits);
- signature: **raw r ‖ s**, two 32-byte big-endian integers (64 bytes), not DER. Fixed width keeps
  a signed token parseable without a length field (the signature is the last 64 bytes) and 6–8 bytes
  shorter than DER, which matters in a QR code; it is also what the national platform's interfaces
  carry (hex or base64 of r‖s), and GM/T 0009's ``SM2Signature`` SEQUENCE is only a wrapper around the
  same two integers (``der_of`` / ``raw_of`` convert).
- user ID: the signer's distinguishing identifier hashed into Z_A; ``DEFAULT_USER_ID`` =
  ``1234567812345678`` (GM/T 0009), which everyone uses unless agreed otherwise.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from yibao.domain.frozen import frozen

DEFAULT_USER_ID = b"1234567812345678"
P = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_FFFFFFFF_00000000_FFFFFFFF_FFFFFFFF
A = P - 3
B = 0x28E9FA9E_9D9F5E34_4D5A9E4B_CF6509A7_F39789F5_15AB8F92_DDBCBD41_4D940E93
N = 0xFFFFFFFE_FFFFFFFF_FFFFFFFF_FFFFFFFF_7203DF6B_21C6052B_53BBF409_39D54123
"""The order of the base point (the curve's cofactor is 1)."""
SIGNATURE = 64
PRIVATE = 32
PUBLIC = 65


class BadKey(ValueError):
    """Not an SM2 private key (a scalar in 1..n−2) or public key (an uncompressed point on the curve)."""


@frozen
class KeyPair:
    private: bytes
    """32 bytes"""
    public: bytes
    """65 bytes, 04 ‖ x ‖ y"""

    @classmethod
    def from_hex(cls, private: str, public: str) -> KeyPair:
        return cls(bytes.fromhex(private), bytes.fromhex(public))


class Sm2Backend(Protocol):
    """SM2 key pairs and signatures. Implementations must agree byte for byte on keys and signatures."""

    name: str

    def generate(self) -> KeyPair: ...

    def public_key(self, private: bytes) -> bytes:
        """The 65-byte public key of a 32-byte private key (BadKey if it is not one)."""
        ...

    def sign(self, private: bytes, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """The 64-byte raw r ‖ s signature of ``message`` (SM3 over Z_A ‖ message, as the standard says)."""
        ...

    def verify(self, public: bytes, message: bytes, signature: bytes, user_id: bytes = DEFAULT_USER_ID) -> bool:
        """Whether ``signature`` (raw r ‖ s) is the signer's on ``message``: False for anything else,
        a malformed signature or public key included."""
        ...


def check_private(private: bytes) -> int:
    if len(private) != PRIVATE:
        raise BadKey(f"an SM2 private key has {PRIVATE} bytes, not {len(private)}")
    d = int.from_bytes(private, "big")
    if not 1 <= d <= N - 2:
        raise BadKey("an SM2 private key is a number from 1 to n − 2")
    return d


def is_on_curve(public: bytes) -> bool:
    """Whether ``public`` is ``04 ‖ x ‖ y`` with (x, y) a point of the curve (then of order n: cofactor 1)."""
    if len(public) != PUBLIC or public[0] != 4:
        return False
    x = int.from_bytes(public[1:33], "big")
    y = int.from_bytes(public[33:], "big")
    return x < P and y < P and (y * y - (x * x * x + A * x + B)) % P == 0


def check_public(public: bytes) -> bytes:
    if not is_on_curve(public):
        raise BadKey("an SM2 public key is 65 bytes, 04 ‖ x ‖ y, a point on the curve")
    return public


def split(signature: bytes) -> tuple[int, int] | None:
    """(r, s) of a raw signature, or None if it cannot be one (length, or r or s outside 1..n−1)."""
    if len(signature) != SIGNATURE:
        return None
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return None
    return r, s


def raw(r: int, s: int) -> bytes:
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def der_of(signature: bytes) -> bytes:
    """The DER ``SEQUENCE { r INTEGER, s INTEGER }`` (GM/T 0009 SM2Signature) of a raw signature."""
    rs = split(signature)
    if rs is None:
        raise ValueError("not a raw SM2 signature")
    return encode_dss_signature(*rs)


def raw_of(der: bytes) -> bytes:
    """The raw r ‖ s of a DER signature."""
    r, s = decode_dss_signature(der)
    return raw(r, s)
