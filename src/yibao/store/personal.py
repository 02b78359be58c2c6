"""Personal data at rest: SM4-GCM for ID numbers, names and card numbers, HMAC-SM3 for looking them up.

A stored value is text, ``v<key id>:<base64 of nonce(12) + ciphertext + tag(16)>``: SM4 in GCM mode
(authenticated: a changed byte fails to decrypt), a random 96-bit nonce per value, and as associated
data the field and the person it belongs to (``certno/<psn_no>``), so a value copied into another
row or column does not decrypt either. The key a value names decrypts it; new values are sealed with
the newest key, and ``yibao data-key rotate`` re-seals old ones.

Equality lookups (1101 by ID number or card, the portal's sign-in, the console's search) go through a
keyed hash, hex HMAC-SM3 under a separate lookup key, kept in an indexed column beside the ciphertext.

The keys live in a file outside the database (``YIBAO_DATA_KEY_FILE``)::

    # comment lines and blank lines are ignored
    v2 <32 hex digits: an SM4 key>        the newest key (the first v-line) seals new values
    v1 <32 hex digits>                    older keys still open the values that name them
    lookup <64 hex digits>                the HMAC-SM3 key of the lookup hashes (exactly one)
    lookup-previous <64 hex digits>       while `yibao data-key rotate-lookup` runs: the key before

Without the variable (a developer's machine), the file is ``<database file>.keys`` next to an SQLite
database, and ``$XDG_DATA_HOME/yibao/data-keys`` (``~/.local/share/yibao/data-keys``) for any other
database; it is made with one new key the first time it is needed (mode 600). See docs/security.md.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import multiprocessing
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from sqlalchemy.engine import URL, make_url

from yibao.app.records import PersonRecord
from yibao.crypto import keyfile
from yibao.crypto.sm import Unsealed, sm4_gcm_open, sm4_gcm_seal
from yibao.domain.frozen import frozen

ENV = "YIBAO_DATA_KEY_FILE"
T = TypeVar("T")
_KEY_LINE = re.compile(r"^(v[1-9][0-9]{0,8}|lookup|lookup-previous)\s+([0-9a-fA-F]+)$")
HEADER = (
    "# yibao personal-data keys (docs/security.md, 'Personal data at rest'). Keep this file outside the\n"
    "# database and its backups. Newest SM4 key first; 'lookup' is the HMAC-SM3 key of the lookup hashes.\n"
)


class DataKeyError(Exception):
    """The key file is missing, malformed, or lacks the key a stored value names."""


class Tampered(DataKeyError):
    """A stored value does not decrypt: changed, truncated, or moved from another row or column."""


@frozen
class KeyRing:
    keys: dict[int, bytes]
    """SM4 keys (16 bytes) by id."""
    newest: int
    lookup: bytes
    previous_lookup: bytes | None = None
    """The lookup key before ``lookup`` while the rows are hashed again: lookups try both."""

    @classmethod
    def parse(cls, text: str, where: str = "key file") -> KeyRing:
        keys: dict[int, bytes] = {}
        order: list[int] = []
        lookups: dict[str, bytes] = {}
        for n, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            m = _KEY_LINE.match(line)
            if m is None:
                raise DataKeyError(f"{where}:{n}: expected 'v<id> <32 hex digits>' or 'lookup <64 hex digits>'")
            name, value = m.group(1), bytes.fromhex(m.group(2))
            if name.startswith("lookup"):
                if name in lookups:
                    raise DataKeyError(f"{where}:{n}: a second {name} key")
                if len(value) < 32:
                    raise DataKeyError(f"{where}:{n}: a lookup key must have at least 64 hex digits")
                lookups[name] = value
                continue
            key_id = int(name[1:])
            if key_id in keys:
                raise DataKeyError(f"{where}:{n}: key {name} twice")
            if len(value) != 16:
                raise DataKeyError(f"{where}:{n}: an SM4 key has 32 hex digits")
            keys[key_id] = value
            order.append(key_id)
        if not order:
            raise DataKeyError(f"{where}: no SM4 key (a line 'v1 <32 hex digits>')")
        if "lookup" not in lookups:
            raise DataKeyError(f"{where}: no lookup key (a line 'lookup <64 hex digits>')")
        return cls(keys, order[0], lookups["lookup"], lookups.get("lookup-previous"))

    def text(self) -> str:
        lines = [f"v{self.newest} {self.keys[self.newest].hex()}"]
        lines += [f"v{k} {v.hex()}" for k, v in sorted(self.keys.items(), reverse=True) if k != self.newest]
        lines.append(f"lookup {self.lookup.hex()}")
        if self.previous_lookup is not None:
            lines.append(f"lookup-previous {self.previous_lookup.hex()}")
        return HEADER + "\n".join(lines) + "\n"

    def with_new_key(self) -> KeyRing:
        new = max(self.keys) + 1
        return replace(self, keys={**self.keys, new: secrets.token_bytes(16)}, newest=new)

    def with_new_lookup(self) -> KeyRing:
        """A new lookup key; the current one stays as the previous until the rows are hashed again."""
        if self.previous_lookup is not None:
            raise DataKeyError("a lookup rotation is under way already: run `yibao data-key rotate-lookup` again")
        return replace(self, lookup=secrets.token_bytes(32), previous_lookup=self.lookup)

    @classmethod
    def generate(cls) -> KeyRing:
        return cls({1: secrets.token_bytes(16)}, 1, secrets.token_bytes(32))


OPENED_KEPT = 4096
"""Clear values a process keeps of what it opened lately (a dict, emptied when full or when the key file changes)."""
KEPT_WHEN_SEALED = 64
"""Values this short (numbers, names) are kept as they are sealed; answers sealed for the log are not."""


class PersonalData:
    """Seals and opens personal fields under a key file, and hashes them for lookup. Thread safe.

    The file is read again when a value names a key this process does not know (another process ran
    ``yibao data-key new``), and checked for changes at most every few seconds before sealing.
    """

    RECHECK = 5.0

    def __init__(self, path: Path, ring: KeyRing | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp = self._file_stamp()
        self._checked = time.monotonic()
        self._set(ring or KeyRing.parse(_read(path), str(path)))

    @classmethod
    def of(cls, ring: KeyRing, path: Path = Path("<memory>")) -> PersonalData:
        return cls(path, ring)

    def _set(self, ring: KeyRing) -> None:
        self.ring = ring
        self._newest = ring.newest
        self._prefix = f"v{ring.newest}:"
        self._lookup = crypto_hmac.HMAC(ring.lookup, hashes.SM3())
        self._previous = None if ring.previous_lookup is None else crypto_hmac.HMAC(ring.previous_lookup, hashes.SM3())
        self._clear: dict[tuple[str, str], str] = {}
        """(sealed, context) → clear value: the same person is opened at each message of a visit"""

    def _file_stamp(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def reload(self) -> bool:
        """Read the key file again if it changed; whether it did."""
        with self._lock:
            self._checked = time.monotonic()
            stamp = self._file_stamp()
            if stamp is None or stamp == self._stamp:
                return False
            self._set(KeyRing.parse(_read(self.path), str(self.path)))
            self._stamp = stamp
            return True

    @property
    def newest(self) -> int:
        if time.monotonic() - self._checked > self.RECHECK:
            self.reload()
        return self._newest

    # ---------------------------------------------------------------- values

    def seal(self, value: str, context: str) -> str:
        """``value`` encrypted under the newest key, bound to ``context`` (e.g. ``certno/<psn_no>``)."""
        key_id = self.newest
        sealed = sm4_gcm_seal(self.ring.keys[key_id], value.encode(), context.encode())
        stored = f"v{key_id}:{base64.b64encode(sealed).decode()}"
        if len(value) <= KEPT_WHEN_SEALED:  # a visit's certificate number sealed at 2201 is opened at 2204
            self._keep(stored, context, value)
        return stored

    def open(self, stored: str, context: str) -> str:
        """The clear value of a sealed one; Tampered if it does not decrypt under the key it names."""
        head, sep, body = stored.partition(":")
        if not sep or head[:1] != "v" or not head[1:].isdigit():
            raise Tampered(f"{context}: not a sealed value")
        key_id = int(head[1:])
        key = self.ring.keys.get(key_id)
        if key is None:
            self.reload()
            key = self.ring.keys.get(key_id)
            if key is None:
                raise DataKeyError(f"{context}: key v{key_id} is not in {self.path}")
        if (clear := self._clear.get((stored, context))) is not None:
            return clear
        try:
            blob = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise Tampered(f"{context}: not base64") from None
        try:
            clear = sm4_gcm_open(key, blob, context.encode()).decode()
        except Unsealed:
            raise Tampered(f"{context}: does not decrypt (changed, or not this row's)") from None
        self._keep(stored, context, clear)
        return clear

    def _keep(self, stored: str, context: str, clear: str) -> None:
        if len(self._clear) >= OPENED_KEPT:
            self._clear.clear()
        self._clear[(stored, context)] = clear

    def key_of(self, stored: str) -> int:
        head = stored.partition(":")[0]
        return int(head[1:]) if head[:1] == "v" and head[1:].isdigit() else 0

    def is_current(self, stored: str | None) -> bool:
        return stored is None or stored.startswith(self._prefix)

    def lookup(self, value: str) -> str:
        """The keyed hash stored for equality lookups: hex HMAC-SM3(lookup key, value)."""
        if time.monotonic() - self._checked > self.RECHECK:
            self.reload()
        return _hash(self._lookup, value)

    def lookups(self, value: str) -> tuple[str, str]:
        """The hashes a row with ``value`` may carry: under the lookup key, and under the previous one
        while the rows are hashed again (else the first twice: one statement shape either way)."""
        current = self.lookup(value)
        previous = self._previous
        return current, current if previous is None else _hash(previous, value)

    # ---------------------------------------------------------------- persons

    def person_values(self, p: PersonRecord) -> dict[str, Any]:
        """The person table's columns for a record."""
        card = p.card_no
        return {
            "psn_no": p.psn_no,
            "psn_cert_type": p.psn_cert_type,
            "certno_enc": self.seal(p.certno, f"certno/{p.psn_no}"),
            "certno_hash": self.lookup(p.certno),
            "psn_name_enc": self.seal(p.psn_name, f"psn_name/{p.psn_no}"),
            "gend": p.gend,
            "brdy": p.brdy,
            "naty": p.naty,
            "card_no_enc": None if card is None else self.seal(card, f"card_no/{p.psn_no}"),
            "card_no_hash": None if card is None else self.lookup(card),
            "card_sn": p.card_sn,
        }

    def person_row(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """A clear row in PersonRecord's field order → the stored row in STORED_COLUMNS' order."""
        psn_no, cert_type, certno, name, gend, brdy, naty, card, card_sn = row
        return (
            psn_no, cert_type, self.seal(certno, f"certno/{psn_no}"), self.lookup(certno),
            self.seal(name, f"psn_name/{psn_no}"), gend, brdy, naty,
            None if card is None else self.seal(card, f"card_no/{psn_no}"),
            None if card is None else self.lookup(card), card_sn,
        )  # fmt: skip

    def open_person(self, row: Sequence[Any]) -> list[Any]:
        """A row selected as READ_COLUMNS (PersonRecord's field order, sealed fields) with the fields opened."""
        values = list(row)
        psn_no = values[0]
        values[2] = self.open(values[2], f"certno/{psn_no}")
        values[3] = self.open(values[3], f"psn_name/{psn_no}")
        if values[7] is not None:
            values[7] = self.open(values[7], f"card_no/{psn_no}")
        return values

    def person_of(self, m: Mapping[Any, Any]) -> PersonRecord:
        """A record from a mapping of the person table's columns."""
        return PersonRecord(*self.open_person([m[c] for c in READ_COLUMNS]))


STORED_COLUMNS = ("psn_no", "psn_cert_type", "certno_enc", "certno_hash", "psn_name_enc", "gend", "brdy", "naty",
                  "card_no_enc", "card_no_hash", "card_sn")  # fmt: skip
READ_COLUMNS = (
    "psn_no",
    "psn_cert_type",
    "certno_enc",
    "psn_name_enc",
    "gend",
    "brdy",
    "naty",
    "card_no_enc",
    "card_sn",
)
"""PersonRecord's fields, the sealed ones by their column names."""


# ---------------------------------------------------------------- where the keys are


def user_key_file() -> Path:
    return keyfile.user_data_dir() / "data-keys"


def key_file_for(url: str | URL) -> tuple[Path, bool]:
    """(the key file of a database, whether it may be made when missing).

    ``YIBAO_DATA_KEY_FILE`` if set (never made: a missing production key is an error, not a new key);
    else ``<file>.keys`` beside an SQLite database file, else the per-user file."""
    named = os.environ.get(ENV)
    if named:
        return Path(named).expanduser().absolute(), False
    u = make_url(url) if isinstance(url, str) else url
    db = u.database or ""
    if u.get_backend_name() == "sqlite" and db and db != ":memory:" and not db.startswith("file:"):
        return Path(db + ".keys").absolute(), True
    return user_key_file(), True


_RINGS: dict[Path, PersonalData] = {}
_BY_URL: dict[tuple[str | None, int], tuple[str | URL, PersonalData]] = {}
_RINGS_LOCK = threading.Lock()


def personal_for(url: str | URL) -> PersonalData:
    """The PersonalData of a database, one per key file and process (made on a developer's machine)."""
    env = os.environ.get(ENV)
    # by the URL object, not its value: an engine's URL is hashed by rendering it, which every
    # transaction's first read of a person paid (8.5 µs a message)
    seen = _BY_URL.get((env, id(url)))
    if seen is not None and seen[0] is url:
        return seen[1]
    found = _personal_at(*key_file_for(url))
    if len(_BY_URL) >= 256:
        _BY_URL.clear()
    _BY_URL[(env, id(url))] = (url, found)  # the URL kept with it: its id is not another's meanwhile
    return found


def _personal_at(path: Path, may_make: bool) -> PersonalData:
    found = _RINGS.get(path)
    if found is not None:
        return found
    with _RINGS_LOCK:
        if path not in _RINGS:
            if may_make and not path.exists():
                make_key_file(path, KeyRing.generate())
            _RINGS[path] = PersonalData(path)
        return _RINGS[path]


def forget(path: Path | None = None) -> None:
    """Drop the cached key rings (all, or one file's): the next use reads the file again."""
    with _RINGS_LOCK:
        _BY_URL.clear()
        if path is None:
            _RINGS.clear()
        else:
            _RINGS.pop(path.absolute(), None)


def make_key_file(path: Path, ring: KeyRing) -> bool:
    """Write a new key file (mode 600) unless one exists; whether this call made it. Safe against a
    race with another process: the file appears complete or not at all."""
    return keyfile.create_new(path, ring.text())


def write_key_file(path: Path, ring: KeyRing) -> None:
    """Replace the key file atomically (mode 600)."""
    keyfile.replace(path, ring.text())


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise DataKeyError(f"{path}: no personal-data key file ({ENV}); make one with `yibao data-key new`") from None


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


# ---------------------------------------------------------------- bulk sealing (the synthetic city)

_WORKER: list[PersonalData] = []


def _init_worker(ring_text: str) -> None:
    _WORKER[:] = [PersonalData.of(KeyRing.parse(ring_text))]


def _seal_rows(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    return [_WORKER[0].person_row(row) for row in rows]


def sealed_batches(personal: PersonalData, batches: Iterator[T], rows_of: Callable[[T], list[Any]], *,
                   workers: int, ahead: int = 4) -> Iterator[tuple[T, list[tuple[Any, ...]]]]:  # fmt: skip
    """Each batch with its person rows sealed (``person_row``), in order. With ``workers`` > 0 the
    sealing runs in that many processes (SM4-GCM and HMAC-SM3 cost about 25 µs a person, which
    would otherwise double the build), at most ``ahead`` batches in flight."""
    if workers <= 0:
        for b in batches:
            yield b, [personal.person_row(row) for row in rows_of(b)]
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, context, initializer=_init_worker, initargs=(personal.ring.text(),)) as pool:
        pending: deque[tuple[T, Future[list[tuple[Any, ...]]]]] = deque()
        try:
            for b in batches:
                pending.append((b, pool.submit(_seal_rows, rows_of(b))))
                if len(pending) >= ahead:
                    done, future = pending.popleft()
                    yield done, future.result()
            while pending:
                done, future = pending.popleft()
                yield done, future.result()
        finally:
            for _, future in pending:
                future.cancel()


def _hash(mac: crypto_hmac.HMAC, value: str) -> str:
    h = mac.copy()
    h.update(value.encode())
    return h.finalize().hex()
