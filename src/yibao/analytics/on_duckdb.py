"""The post-event SQL on DuckDB, in process: Parquet read in place with hive partitioning."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from yibao.analytics.sql import CROSS_VISIT, DIALECTS, all_visits, cross_lines, hits_query, resolve, staging, views
from yibao.analytics.tables import SOURCES, columns, files
from yibao.domain.supervision.rules import Rule

DIALECT = DIALECTS["duckdb"]
RUN_MEMORY_LIMIT = "6GB"
"""A rule run's default, not DuckDB's 80% of the machine: all visits and two months of lines fit in it, and
DuckDB spills past it to the temporary folder."""
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
            _partitioned(con, name, _path(data_dir / name / "*" / "*" / "*.parquet"))
    return con


def _partitioned(con: duckdb.DuckDBPyConnection, name: str, source: str) -> None:
    con.execute(
        f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM read_parquet({source}, hive_partitioning = true, "
        "hive_types = {'admdvs': VARCHAR, 'month': VARCHAR})"
    )


def _of_months(con: duckdb.DuckDBPyConnection, data_dir: Path, months: list[str]) -> None:
    """Views ``lines`` and ``diagnoses`` over those months' files only. DuckDB estimates a Parquet scan's rows
    from the files it lists first: over the whole glob, a later month's lines look like one row, and the
    staging join then hashes ten million lines instead of the month's visits (4-5 s more a chunk at 10M)."""
    for name in ("lines", "diagnoses"):
        found = [f for f in files(data_dir, name) if f.parent.name.removeprefix("month=") in months]
        if found:
            _partitioned(con, name, "[" + ", ".join(_path(f) for f in found) + "]")


def run(
    data_dir: Path,
    rules: tuple[Rule, ...],
    out: Path | None,
    *,
    memory_limit: str | None,
    threads: int | None,
    months_a_chunk: int = 2,
) -> tuple[list[tuple[str, int, int]], list[tuple[object, ...]]]:
    """Per rule (rule_id, findings, amount), and the findings themselves unless written to ``out``.

    Visits and codes are staged once; the lines and diagnoses ``months_a_chunk`` months at a time, for the
    rules that read only a visit's own (memory stays bounded by the chunk). The lines the cross-visit rules
    read are kept from each chunk, and those rules run last over all visits; then the findings get their
    visits' ids and codes."""
    con = connect(data_dir, memory_limit=memory_limit or RUN_MEMORY_LIMIT, threads=threads)
    local = tuple(r for r in rules if r.logic not in CROSS_VISIT)
    cross = tuple(r for r in rules if r.logic in CROSS_VISIT)
    months = _months(data_dir)
    # One month's Parquet file of a small set is a single row group, read by one thread: two months at least.
    chunks = [months[i : i + months_a_chunk] for i in range(0, len(months), months_a_chunk)] or [[]]
    try:
        con.execute(all_visits(DIALECT))
        staged = dict(staging(DIALECT))
        for name in ("pe_codes", "pe_lists"):
            con.execute(staged[name])
        into = _Into(con)
        for chunk in chunks:
            _of_months(con, data_dir, chunk)
            for _, statement in staging(DIALECT, chunk):
                con.execute(statement)
            _views(con)
            if local:
                into("pe_hits", hits_query(local, DIALECT))
            if cross:
                into("pe_cross_lines", cross_lines(cross, DIALECT))
        con.execute(DIALECT.view.format(name="pe_visits", query="SELECT * FROM pe_all_visits"))
        if cross:
            con.execute("DROP TABLE pe_lines")
            con.execute("ALTER TABLE pe_cross_lines RENAME TO pe_lines")
            _views(con)
            into("pe_hits", hits_query(cross, DIALECT))
        # The visits' ids and the codes once for all the findings (a table of known size: the planner hashes
        # the findings, not ten million visits).
        con.execute(DIALECT.stage.format(name="pe_findings", query=resolve("pe_hits")))
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


def _views(con: duckdb.DuckDBPyConnection) -> None:
    for _, statement in views(DIALECT):  # bound to the pe_lines of the moment
        con.execute(statement)


class _Into:
    """Appends a query's rows to a temp table, made by the first."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con, self.made = con, set[str]()

    def __call__(self, table: str, query: str) -> None:
        if table in self.made:
            self.con.execute(f"INSERT INTO {table} {query}")
        else:
            self.con.execute(DIALECT.stage.format(name=table, query=query))
            self.made.add(table)


def _months(data_dir: Path) -> list[str]:
    """The month partitions of the visits."""
    return sorted({p.parent.name.removeprefix("month=") for p in files(data_dir, "visits")})
