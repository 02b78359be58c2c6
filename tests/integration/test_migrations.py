"""The Alembic migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tests.databases import BACKENDS, fresh_database
from yibao.store import migrate
from yibao.store.engine import make_engine
from yibao.store.tables import metadata


@pytest.mark.parametrize("backend", BACKENDS)
def test_upgrade_builds_the_declared_schema(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            assert migrate.current(engine) == migrate.head(engine)
            with engine.connect() as conn:
                diff = compare_metadata(MigrationContext.configure(conn), metadata)
            assert diff == []
            migrate.upgrade(engine)  # running it again changes nothing
            assert migrate.current(engine) == migrate.head(engine)
        finally:
            engine.dispose()
