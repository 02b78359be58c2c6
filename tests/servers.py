"""A real `yibao serve` process for the tests that talk to one over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

from yibao.federation.launch import free_port

PIDS: dict[str, int] = {}
"""base URL → the process id of the `yibao serve` answering there (its workers are its children)."""


@contextmanager
def running_server(
    database_url: str, log_path: Path, workers: int = 1, env: dict[str, str] | None = None, args: Sequence[str] = ()
) -> Iterator[str]:
    """Start `yibao serve` on a free port over ``database_url`` (already migrated); its base URL.

    The server's output goes to ``log_path``; ``env`` adds to its environment, ``args`` to its command
    line; it is stopped when the block ends.
    """
    port = free_port()
    with log_path.open("w") as log:
        cmd = [sys.executable, "-m", "yibao", "serve", "--port", str(port), "--workers", str(workers), "--no-upgrade"]
        proc = subprocess.Popen(
            [*cmd, *args],
            env={**os.environ, **(env or {}), "YIBAO_DATABASE_URL": database_url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        PIDS[base] = proc.pid
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "server did not start in 30 s"
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(timeout=15)
