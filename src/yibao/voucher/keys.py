"""The issuing authority's SM2 keys (the national voucher centre's role), sealed at rest.

The key file (``YIBAO_VOUCHER_KEY_FILE``), one line per key, newest first::

    # comment lines and blank lines are ignored
    k2 <130 hex digits: public key 04‖x‖y> <base64: SM4-GCM nonce ‖ sealed private key ‖ tag>
    k1 <...>                        older keys only verify codes they signed, until those expire

The first k-line signs new codes. Each private key is sealed with SM4-GCM under the sealing key,
with ``voucher-authority/k<id>/`` ‖ public key as associated data (a sealed key moved to another
line does not open). The sealing key (16 bytes, 32 hex digits) comes from ``YIBAO_VOUCHER_SEAL_KEY``,
else from the file named by ``YIBAO_VOUCHER_SEAL_KEY_FILE``; it is never in the key file, the
repository or the database.

Without ``YIBAO_VOUCHER_KEY_FILE`` (a developer's machine) both files live in ``$XDG_DATA_HOME/yibao``
(``voucher-keys`` and ``voucher-seal-key``, mode 600), made on first use. With it, nothing is ever
made: a missing file or sealing key is an error.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from pathlib import Path

from yibao.crypto import keyfile
from yibao.crypto.sm import Unsealed, sm4_gcm_open, sm4_gcm_seal
from yibao.crypto.sm2 import BadKey, KeyPair, Sm2Backend, check_public
from yibao.domain.frozen import frozen
from yibao.voucher.token import SigningKey

ENV = "YIBAO_VOUCHER_KEY_FILE"
SEAL_ENV = "YIBAO_VOUCHER_SEAL_KEY"
SEAL_FILE_ENV = "YIBAO_VOUCHER_SEAL_KEY_FILE"
HEADER = (
    "# yibao voucher authority keys (docs/voucher.md). Newest first: the first line signs new codes,\n"
    "# the others verify codes they signed. Private keys are SM4-GCM sealed; the sealing key is elsewhere.\n"
)
_LINE = re.compile(r"^k([1-9][0-9]{0,4})\s+([0-9a-fA-F]{130})\s+([A-Za-z0-9+/=]+)$")
MAX_KEY_ID = 65535


class VoucherKeyError(Exception):
    """The key file or the sealing key is missing, malformed, or does not open."""


def _aad(key_id: int, public: bytes) -> bytes:
    return f"voucher-authority/k{key_id}/".encode() + public


@frozen
class AuthorityKeys:
    keys: Mapping[int, KeyPair]
    newest: int

    @property
    def signing(self) -> SigningKey:
        return SigningKey(self.newest, self.keys[self.newest].private)

    @property
    def public_keys(self) -> dict[int, bytes]:
        return {k: v.public for k, v in self.keys.items()}

    @classmethod
    def generate(cls, backend: Sm2Backend) -> AuthorityKeys:
        return cls({1: backend.generate()}, 1)

    def with_new_key(self, backend: Sm2Backend) -> AuthorityKeys:
        new = max(self.keys) + 1
        if new > MAX_KEY_ID:
            raise VoucherKeyError("key ids are exhausted")
        return AuthorityKeys({**self.keys, new: backend.generate()}, new)

    def without(self, key_id: int) -> AuthorityKeys:
        """Retire an older key (once every code it signed has expired: a minute after rotation)."""
        if key_id == self.newest:
            raise VoucherKeyError("the newest key signs new codes; rotate first")
        return AuthorityKeys({k: v for k, v in self.keys.items() if k != key_id}, self.newest)

    def text(self, seal_key: bytes) -> str:
        order = [self.newest, *sorted((k for k in self.keys if k != self.newest), reverse=True)]
        lines = []
        for k in order:
            pair = self.keys[k]
            sealed = base64.b64encode(sm4_gcm_seal(seal_key, pair.private, _aad(k, pair.public))).decode()
            lines.append(f"k{k} {pair.public.hex()} {sealed}")
        return HEADER + "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str, seal_key: bytes, backend: Sm2Backend, where: str = "key file") -> AuthorityKeys:
        keys: dict[int, KeyPair] = {}
        order: list[int] = []
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = _LINE.match(line)
            if m is None:
                raise VoucherKeyError(f"{where}:{n}: expected 'k<id> <130 hex digits> <base64>'")
            key_id = int(m.group(1))
            if key_id in keys or key_id > MAX_KEY_ID:
                raise VoucherKeyError(f"{where}:{n}: key k{key_id} twice or out of range")
            try:
                public = check_public(bytes.fromhex(m.group(2)))
                private = sm4_gcm_open(seal_key, base64.b64decode(m.group(3), validate=True), _aad(key_id, public))
                if backend.public_key(private) != public:
                    raise BadKey("the private key is not the public key's")
            except (Unsealed, binascii.Error) as exc:
                raise VoucherKeyError(f"{where}:{n}: k{key_id} does not open with this sealing key ({exc})") from None
            except BadKey as exc:
                raise VoucherKeyError(f"{where}:{n}: k{key_id}: {exc}") from None
            keys[key_id] = KeyPair(private, public)
            order.append(key_id)
        if not order:
            raise VoucherKeyError(f"{where}: no key (a line 'k1 <public key> <sealed private key>')")
        return cls(keys, order[0])


# ---------------------------------------------------------------- where the keys are


@frozen
class KeyPlace:
    path: Path
    seal_path: Path | None
    """None when the sealing key comes from the environment"""
    may_make: bool


def key_place() -> KeyPlace:
    named = os.environ.get(ENV)
    seal_named = os.environ.get(SEAL_FILE_ENV)
    seal_path = None if os.environ.get(SEAL_ENV) else Path(seal_named).expanduser() if seal_named else None
    if named:
        if seal_path is None and not os.environ.get(SEAL_ENV):
            raise VoucherKeyError(f"{ENV} is set but the sealing key is not: set {SEAL_ENV} or {SEAL_FILE_ENV}")
        return KeyPlace(Path(named).expanduser().absolute(), seal_path, False)
    base = keyfile.user_data_dir()
    if seal_path is None and not os.environ.get(SEAL_ENV):
        seal_path = base / "voucher-seal-key"
    return KeyPlace(base / "voucher-keys", seal_path, True)


def _parse_seal_key(text: str, where: str) -> bytes:
    lines = [x.strip() for x in text.splitlines() if x.strip() and not x.strip().startswith("#")]
    try:
        key = bytes.fromhex(lines[0]) if len(lines) == 1 else b""
    except ValueError:
        key = b""
    if len(key) != 16:
        raise VoucherKeyError(f"{where}: the sealing key is one line of 32 hex digits (an SM4 key)")
    return key


def seal_key(place: KeyPlace) -> bytes:
    if place.seal_path is None:
        return _parse_seal_key(os.environ.get(SEAL_ENV, ""), SEAL_ENV)
    if place.may_make and not place.seal_path.exists():
        keyfile.create_new(place.seal_path, os.urandom(16).hex() + "\n")
    try:
        return _parse_seal_key(place.seal_path.read_text(), str(place.seal_path))
    except FileNotFoundError:
        raise VoucherKeyError(f"{place.seal_path}: no sealing key file") from None


def load_authority(backend: Sm2Backend, place: KeyPlace | None = None) -> AuthorityKeys:
    """The authority's keys (a developer's machine: made on first use)."""
    p = place or key_place()
    key = seal_key(p)
    if p.may_make and not p.path.exists():
        keyfile.create_new(p.path, AuthorityKeys.generate(backend).text(key))
    try:
        text = p.path.read_text()
    except FileNotFoundError:
        raise VoucherKeyError(f"{p.path}: no voucher key file ({ENV}); make one with `yibao voucher new-key`") from None
    return AuthorityKeys.parse(text, key, backend, str(p.path))


def rotate(backend: Sm2Backend, place: KeyPlace | None = None) -> AuthorityKeys:
    """Put a new key at the head of the key file (made if missing, also under ``YIBAO_VOUCHER_KEY_FILE``:
    this is the command that makes it); codes signed under older keys verify until they expire."""
    p = place or key_place()
    if not p.path.exists():
        p = KeyPlace(p.path, p.seal_path, True)
        key = seal_key(p)
        keys = AuthorityKeys.generate(backend)
        if not keyfile.create_new(p.path, keys.text(key)):
            raise VoucherKeyError(f"{p.path}: made by another process meanwhile; run again")
        return keys
    key = seal_key(p)
    keys = AuthorityKeys.parse(p.path.read_text(), key, backend, str(p.path)).with_new_key(backend)
    keyfile.replace(p.path, keys.text(key))
    return keys
