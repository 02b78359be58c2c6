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
def test_settling_a_line_changes_no_indexed_column(backend: str, tmp_path: Path) -> None:
    """0018: no index of fee_line names setl_id (0017 had indexed settled lines only: NULLs in the index
    made a prepared read of a visit's unsettled lines scan them all), so that on PostgreSQL, where the
    table leaves half of each page free, settling a line is a HOT update; a reversal finds its counters
    by index. compare_metadata sees neither an index's WHERE nor a table's fill factor."""
    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        try:
            migrate.upgrade(engine)
            with engine.connect() as conn:
                indexes = {
                    (table, name): " ".join(str(definition).split())
                    for table, name, definition in conn.exec_driver_sql(
                        "SELECT tbl_name, name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index'"
                        if backend == "sqlite"
                        else "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                    )
                }
                options = (
                    conn.exec_driver_sql("SELECT reloptions FROM pg_class WHERE relname = 'fee_line'").scalar()
                    if backend == "postgresql"
                    else None
                )
            fee_line = {name: sql for (table, name), sql in indexes.items() if table == "fee_line"}
            assert "ix_fee_line_mdtrt_id" in fee_line
            assert not [name for name, sql in fee_line.items() if "setl_id" in sql]
            assert "setl_id" in indexes[("counter_delta", "ix_counter_delta_setl_id")]
            if backend == "postgresql":
                assert options == ["fillfactor=50"]
        finally:
            engine.dispose()
