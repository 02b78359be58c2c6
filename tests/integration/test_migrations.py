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


@pytest.mark.parametrize("backend", BACKENDS)
def test_unsettled_lines_are_not_indexed_by_setl_id(backend: str, tmp_path: Path) -> None:
    """0017: NULL setl_ids stay out of the index (else a prepared read of a visit's unsettled lines
    scans them all), and a reversal finds its counters by index. compare_metadata ignores an index's WHERE."""
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with engine.connect() as conn:
                indexes = {
                    name: " ".join(str(definition).split())
                    for name, definition in conn.exec_driver_sql(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                        if backend == "sqlite"
                        else "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                    )
                }
            assert "WHERE" in indexes["ix_fee_line_setl_id"] and "IS NOT NULL" in indexes["ix_fee_line_setl_id"]
            assert "setl_id" in indexes["ix_counter_delta_setl_id"]
        finally:
            engine.dispose()
