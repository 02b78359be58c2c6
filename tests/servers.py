"""A real `yibao serve` process for the tests that talk to one over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from yibao.federation.launch import free_port


@contextmanager
def running_server(
    database_url: str, log_path: Path, workers: int = 1, env: dict[str, str] | None = None
) -> Iterator[str]:
    """Start `yibao serve` on a free port over ``database_url`` (already migrated); its base URL.

    The server's output goes to ``log_path``; ``env`` adds to its environment; it is stopped when the
    block ends.
    """
    port = free_port()
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "yibao", "serve", "--port", str(port), "--workers", str(workers), "--no-upgrade"],
            env={**os.environ, **(env or {}), "YIBAO_DATABASE_URL": database_url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
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
