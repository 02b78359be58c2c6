"""Key files: small text files outside the database, written atomically and readable by the owner only."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def user_data_dir() -> Path:
    """``$XDG_DATA_HOME/yibao`` (``~/.local/share/yibao``): where a developer's keys go by default."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "yibao"


def _temporary(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return tmp


def create_new(path: Path, text: str) -> bool:
    """Write ``text`` to a new file (mode 600) unless one exists; whether this call made it. Safe against a
    race with another process: the file appears complete or not at all."""
    tmp = _temporary(path, text)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def replace(path: Path, text: str) -> None:
    """Replace the file atomically (mode 600)."""
    os.replace(_temporary(path, text), path)
