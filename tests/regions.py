"""Several yibao nodes and a national hub as real processes on 127.0.0.1, for the cross-region tests.

Guangzhou (440100), Shanghai Qingpu (310118) and Jiangsu Wujiang (320509), each a `yibao serve` over
its own database with its own registry, policies and catalogue, and `yibao hub serve` routing between
them (docs/cross-region.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from tests.databases import ROOT, fresh_database
from yibao.federation.launch import RegionNode, free_port, running_federation
from yibao.store import loading, migrate
from yibao.store.database import Database
from yibao.store.engine import make_engine

__all__ = ["EXAMPLES", "REGIONS", "RegionNode", "federation", "load_region"]

EXAMPLES = ROOT / "examples"
REGIONS = {
    "gz": ("440100", EXAMPLES / "guangzhou", ("employee-2021.toml", "employee-2022-12.toml")),
    "qp": ("310118", EXAMPLES / "qingpu", ("employee-2024.toml",)),
    "wj": ("320509", EXAMPLES / "wujiang", ("employee-2024.toml",)),
}


def load_region(url: str, folder: Path, policies: tuple[str, ...]) -> None:
    db = Database(make_engine(url))
    try:
        migrate.upgrade(db.engine)
        loading.load_registry_file(db, folder / "registry.json")
        for policy in policies:
            loading.load_policy_file(db, folder / policy)
        loading.load_catalog_file(db, folder / "catalog.toml")
        from yibao.store.filings import load_zones_file

        load_zones_file(db, EXAMPLES / "zones.toml")
    finally:
        db.dispose()


@contextmanager
def federation(tmp: Path, backends: dict[str, str] | None = None) -> Iterator[dict[str, RegionNode]]:
    """The three nodes (``backends``: node id → sqlite/postgresql, default SQLite) and the hub, running."""
    backends = backends or {}
    with ExitStack() as stack:
        nodes: dict[str, RegionNode] = {}
        for node_id, (admdvs, folder, policies) in REGIONS.items():
            where = tmp / node_id
            where.mkdir()
            url = stack.enter_context(fresh_database(backends.get(node_id, "sqlite"), where))
            load_region(url, folder, policies)
            nodes[node_id] = RegionNode(node_id, admdvs, url, free_port(), tmp / f"{node_id}.log")
        stack.enter_context(running_federation(tmp, nodes))
        yield nodes
