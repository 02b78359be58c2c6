"""Real databases for the tests: a fresh SQLite file, and a fresh PostgreSQL database at 127.0.0.1.

With CI=true a PostgreSQL that cannot be reached fails the run instead of skipping its tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from yibao.store.database import Database

ROOT = Path(__file__).resolve().parents[1]
GZ = ROOT / "examples" / "guangzhou"
PG_ADMIN = os.environ.get("YIBAO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def _pg_reachable() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip()


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of ``backend``, dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'yibao.db'}"
        return
    problem = _pg_reachable()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is required in CI: {problem}")
        pytest.skip(f"PostgreSQL not reachable: {problem}")
    import psycopg

    name = f"yibao_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_demo(url: str) -> None:
    """Schema, the Guangzhou registry, policies and catalogue."""
    from yibao.store import loading, migrate
    from yibao.store.database import Database
    from yibao.store.engine import make_engine

    db = Database(make_engine(url))
    try:
        migrate.upgrade(db.engine)
        loading.load_registry_file(db, GZ / "registry.json")
        for policy in ("employee-2021.toml", "employee-2022-12.toml"):
            loading.load_policy_file(db, GZ / policy)
        loading.load_catalog_file(db, GZ / "catalog.toml")
        loading.load_reference_file(db, GZ / "reference.toml")
    finally:
        db.dispose()


@contextmanager
def demo_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A fresh database of ``backend`` with the demo loaded (load_demo), open, disposed of afterwards."""
    from yibao.store.database import Database
    from yibao.store.engine import make_engine

    with fresh_database(backend, tmp_path) as url:
        load_demo(url)
        database = Database(make_engine(url))
        try:
            yield database
        finally:
            database.dispose()
