"""Nonces used once: who remembers them. The gateway (里约 x-tif-nonce) and the calls between nodes
(x-yb-nonce) refuse a nonce seen before within their window; ``yibao.store.nonces`` keeps them in the
database for several worker processes."""

from __future__ import annotations

import threading
from typing import Protocol


class Nonces(Protocol):
    def first_use(self, caller: str, nonce: str, at: float, forget_before: float) -> bool:
        """Record the caller's nonce (signed at ``at``, Unix seconds): True the first time, False after.
        Nonces signed before ``forget_before`` may be forgotten: their timestamps are stale by then."""
        ...


class MemoryNonces:
    """The nonces one process has seen."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def first_use(self, caller: str, nonce: str, at: float, forget_before: float) -> bool:
        with self._lock:
            if len(self._seen) > 100_000:
                self._seen = {k: t for k, t in self._seen.items() if t >= forget_before}
            if (caller, nonce) in self._seen:
                return False
            self._seen[caller, nonce] = at
            return True
