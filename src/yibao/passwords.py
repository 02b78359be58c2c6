"""Password hashing for the console's accounts: argon2id (argon2-cffi), an adapter the use cases are handed.

``yibao.app.accounts`` sees only the ``PasswordHasher`` protocol; the parameters are argon2-cffi's
defaults (RFC 9106's second recommendation: 64 MiB, 3 passes), and a hash made with older parameters
is replaced on the next successful sign-in. Tests may use ``Argon2Hasher.fast()`` (tiny parameters).
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


class Argon2Hasher:
    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()

    @classmethod
    def fast(cls) -> Argon2Hasher:
        """Cheap parameters, for tests only."""
        return cls(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID))

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
