"""Text messages to insured people: a stand-in for an SMS gateway (there is none in this version).

``SmsOutbox.send`` writes the message to the log (logger ``yibao.sms``) and, when the environment
variable ``YIBAO_SMS_OUTBOX`` names a file, appends one JSON line ``{"psn_no", "text", "at"}`` to it
(``at``: UTC, ISO 8601): what a developer, a demonstration or a test reads the one-time codes from.
A real gateway would look the person's mobile number up and send ``text`` to it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime
from pathlib import Path

OUTBOX_ENV = "YIBAO_SMS_OUTBOX"
log = logging.getLogger("yibao.sms")


class SmsOutbox:
    """Sends by writing down. ``path`` overrides ``YIBAO_SMS_OUTBOX`` (read at each message)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def outbox(self) -> Path | None:
        if self.path is not None:
            return self.path
        named = os.environ.get(OUTBOX_ENV, "")
        return Path(named) if named else None

    def send(self, psn_no: str, text: str, now: datetime) -> None:
        log.info("SMS to %s: %s", psn_no, text)
        path = self.outbox()
        if path is None:
            return
        line = json.dumps({"psn_no": psn_no, "text": text, "at": now.isoformat(timespec="seconds") + "Z"})
        with self._lock, path.open("a", encoding="utf-8") as out:  # one short write: whole lines across processes
            out.write(line + "\n")


def read_outbox(path: Path) -> list[dict[str, str]]:
    """The messages of an outbox file, oldest first."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
