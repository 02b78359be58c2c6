"""The post-event SQL on DuckDB, in process: Parquet read in place with hive partitioning."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from yibao.analytics.sql import DIALECTS, findings_query, staging, views
from yibao.analytics.tables import SOURCES, columns, files
from yibao.domain.supervision.rules import Rule

DIALECT = DIALECTS["duckdb"]
_TYPES = {
    "string": "VARCHAR", "int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN",
    "date32[day]": "DATE", "timestamp[us]": "TIMESTAMP",
}  # fmt: skip


def _path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def connect(
    data_dir: Path, *, memory_limit: str | None = None, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the claims of ``data_dir`` as views ``visits``, ``lines``, ``diagnoses``,
    ``items`` and ``item_lists``."""
    # Spill to the system's temporary folder, not a .tmp in whatever folder the command runs in.
    spill = Path(tempfile.gettempdir()) / f"yibao-duckdb-{os.getpid()}"
    config: dict[str, str | bool | int | float | list[str]] = {
        "preserve_insertion_order": False,
        "temp_directory": str(spill),
    }
    if memory_limit:
        config["memory_limit"] = memory_limit
    if threads:
        config["threads"] = threads
    con = duckdb.connect(config=config)
    for name, schema in SOURCES.items():
        found = files(data_dir, name)
        if not found:
            cols = ", ".join(f"CAST(NULL AS {sql_type}) AS {col}" for col, sql_type in columns(schema, _TYPES))
            con.execute(f"CREATE VIEW {name} AS SELECT {cols} WHERE FALSE")
        elif name in ("items", "item_lists"):
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_path(found[0])})")
        else:
            glob = _path(data_dir / name / "*" / "*" / "*.parquet")
            con.execute(
                f"CREATE VIEW {name} AS SELECT * FROM read_parquet({glob}, hive_partitioning = true, "
                "hive_types = {'admdvs': VARCHAR, 'month': VARCHAR})"
            )
    return con


def run(
    data_dir: Path, rules: tuple[Rule, ...], out: Path | None, *, memory_limit: str | None, threads: int | None
) -> tuple[list[tuple[str, int, int]], list[tuple[object, ...]]]:
    """Per rule (rule_id, findings, amount), and the findings themselves unless written to ``out``."""
    con = connect(data_dir, memory_limit=memory_limit, threads=threads)
    try:
        for _, statement in staging(DIALECT) + views(DIALECT):
            con.execute(statement)
        con.execute(DIALECT.stage.format(name="pe_findings", query=findings_query(rules, DIALECT)))
        counts = con.execute(
            "SELECT rule_id, COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM pe_findings GROUP BY rule_id"
        ).fetchall()
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            con.execute(f"COPY pe_findings TO {_path(out)} (FORMAT PARQUET)")
            return counts, []
        return counts, con.execute("SELECT * FROM pe_findings").fetchall()
    finally:
        con.close()
