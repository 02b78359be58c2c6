"""The hub's region directory: which node serves which admdvs prefixes, at which URL."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, insert, select

from yibao.domain.frozen import frozen
from yibao.store import tables as t


@frozen
class Node:
    node_id: str
    url: str
    regions: tuple[str, ...]


class Directory:
    """The nodes in the hub's database, read again at most every ``refresh`` seconds."""

    def __init__(self, engine: Engine, refresh: float = 2.0) -> None:
        self.engine = engine
        self.refresh = refresh
        self._nodes: dict[str, Node] = {}
        self._read = 0.0
        self._lock = threading.Lock()

    def nodes(self) -> dict[str, Node]:
        with self._lock:
            if time.monotonic() - self._read > self.refresh:
                with self.engine.connect() as conn:
                    rows = conn.execute(select(t.hub_node)).all()
                self._nodes = {r.node_id: Node(r.node_id, r.url, tuple(r.regions.split(","))) for r in rows}
                self._read = time.monotonic()
            return self._nodes

    def node_for(self, admdvs: str) -> Node | None:
        """The node serving the region: the longest matching prefix wins."""
        best: tuple[int, Node] | None = None
        for node in self.nodes().values():
            for prefix in node.regions:
                if prefix and admdvs.startswith(prefix) and (best is None or len(prefix) > best[0]):
                    best = (len(prefix), node)
        return None if best is None else best[1]

    def add(self, node: Node) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.hub_node).where(t.hub_node.c.node_id == node.node_id))
            conn.execute(
                insert(t.hub_node).values(
                    node_id=node.node_id,
                    url=node.url.rstrip("/"),
                    regions=",".join(node.regions),
                    updated_at=datetime.now(UTC).replace(tzinfo=None),
                )
            )
        self._read = 0.0
