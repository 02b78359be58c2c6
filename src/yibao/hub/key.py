"""The hub's key: the secret every node's own secret is derived from (yibao.federation.signing)."""

from __future__ import annotations

from pathlib import Path

KEY_ENV = "YIBAO_HUB_KEY_FILE"


def read_key(path: Path) -> bytes:
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 16:
        raise ValueError(f"{path}: the hub key has at least 32 hex digits")
    return key
