"""A national hub and its nodes as real processes on 127.0.0.1: what the cross-region tests, `yibao demo
--regions 3` and bench/cross_region.py start (docs/cross-region.md).

Each node is a `yibao serve` over its own database, told its node id, regions, the hub's URL and its
secret through the environment (``YIBAO_NODE_*``); the hub is `yibao hub serve` over its own SQLite
directory naming the nodes at the ports they will listen on. The hub's key is made afresh for a run.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from yibao.federation.signing import node_secret
from yibao.hub.directory import Directory, Node
from yibao.store import migrate
from yibao.store.engine import make_engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RegionNode:
    """One node: its database, its port, and its `yibao serve` process (started, killed, started again)."""

    node_id: str
    admdvs: str
    url: str
    """The node's database."""
    port: int
    log: Path
    env: dict[str, str] | None = None
    """Added to the process's environment (the node's federation settings, a gateway key …)."""
    args: Sequence[str] = field(default_factory=tuple)
    """Added to `yibao serve`'s arguments (e.g. ``--workers 1``)."""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0, *, wait: bool = True) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "yibao", "serve", "--port", str(self.port), "--no-upgrade", *self.args],
                env={**os.environ, **(self.env or {}), "YIBAO_DATABASE_URL": self.url},
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float = 30.0) -> None:
        assert self.proc is not None
        wait_until_up(self.base, self.proc, self.log, timeout)

    def kill(self) -> None:
        """SIGKILL: no goodbye, as a machine that fails."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=15)


def wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 30.0) -> None:
    """Until ``base``/healthz answers 200; RuntimeError (with the log's end) if the process stops or
    ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"{base} stopped while starting:\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{base} did not start in {timeout:g} s:\n{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path, size: int = 3000) -> str:
    try:
        return log.read_text(errors="replace")[-size:]
    except OSError:
        return ""


@contextmanager
def running_hub(folder: Path, nodes: Mapping[str, RegionNode]) -> Iterator[tuple[str, bytes]]:
    """The hub, its directory (``folder``/hub.db) naming ``nodes`` at the ports they will listen on:
    (base URL, hub key). Stopped when the block ends."""
    key = secrets.token_bytes(32)
    key_file = folder / "hub.key"
    key_file.write_text(key.hex())
    hub_url = f"sqlite:///{folder / 'hub.db'}"
    engine = make_engine(hub_url)
    try:
        migrate.upgrade(engine)
        directory = Directory(engine)
        for n in nodes.values():
            directory.add(Node(n.node_id, n.base, (n.admdvs,)))
    finally:
        engine.dispose()
    port = free_port()
    log_path = folder / "hub.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "yibao", "hub", "serve", "--port", str(port), "--key-file", str(key_file),
             "--database-url", hub_url],
            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(base, proc, log_path)
        yield base, key
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def node_env(node: RegionNode, hub: str, key: bytes, folder: Path) -> dict[str, str]:
    """The environment that makes ``node`` one of the hub's: id, regions, hub URL and its secret's file."""
    secret_file = folder / f"{node.node_id}.secret"
    secret_file.write_text(node_secret(key, node.node_id).hex())
    return {
        "YIBAO_NODE_ID": node.node_id,
        "YIBAO_NODE_REGIONS": node.admdvs,
        "YIBAO_HUB_URL": hub,
        "YIBAO_NODE_KEY_FILE": str(secret_file),
        "YIBAO_ADMDVS": node.admdvs,
    }


@contextmanager
def running_federation(folder: Path, nodes: Mapping[str, RegionNode], timeout: float = 30.0) -> Iterator[str]:
    """The hub and ``nodes`` (their databases ready) started as processes; the hub's base URL. Every
    process is stopped when the block ends."""
    with running_hub(folder, nodes) as (hub, key):
        try:
            for n in nodes.values():  # started together, waited for together: each takes seconds to import
                n.env = {**(n.env or {}), **node_env(n, hub, key, folder)}
                n.start(wait=False)
            for n in nodes.values():
                n.wait(timeout)
            yield hub
        finally:
            for n in nodes.values():
                n.stop()
