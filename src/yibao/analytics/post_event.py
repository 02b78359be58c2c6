"""After settlement (事后): the rule library's "after" rules as SQL over all claims.

``run_rules(data_dir: Path, library: RuleLibrary, *, engine: str = "duckdb", spark_master: str = "local[2]",
out: Path | None = None, memory_limit: str | None = None, threads: int | None = None,
rule_ids: Iterable[str] = ()) -> RuleRun``

reads the Parquet claims of ``data_dir`` (docs/supervision.md's layout) and returns per-rule counts and
amounts, the seconds taken, and either the findings (``RuleRun.rows``) or, with ``out``, where they were
written as Parquet (DuckDB: one file; Spark: a directory of parts; ``read_findings`` reads either).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from yibao.domain.frozen import frozen
from yibao.domain.supervision.rules import RuleLibrary

ENGINES = ("duckdb", "spark")


class FindingRow(NamedTuple):
    """One finding of a post-event run (``yibao.analytics.sql.COLUMNS``)."""

    rule_id: str
    result: str
    mdtrt_id: str
    feedetl_sn: str
    med_list_codg: str
    amount: int
    fixmedins_code: str
    psn_no: str
    setl_id: str


@frozen
class RuleCount:
    rule_id: str
    findings: int
    amount: int
    """Fen at stake."""


@frozen
class RuleRun:
    engine: str
    version: str
    """The rule library's version."""
    counts: tuple[RuleCount, ...]
    """Every rule that ran, in the library's order (0 when it found nothing)."""
    seconds: float
    path: Path | None = None
    rows: tuple[FindingRow, ...] = ()
    """The findings, sorted by (rule_id, mdtrt_id, feedetl_sn), when not written to ``path``."""

    @property
    def total(self) -> int:
        return sum(c.findings for c in self.counts)


def run_rules(
    data_dir: Path,
    library: RuleLibrary,
    *,
    engine: str = "duckdb",
    spark_master: str = "local[2]",
    out: Path | None = None,
    memory_limit: str | None = None,
    threads: int | None = None,
    rule_ids: Iterable[str] = (),
) -> RuleRun:
    rules = library.select(stage="after", rule_ids=rule_ids)
    started = time.perf_counter()
    if not rules:
        counts: list[tuple[str, int, int]] = []
        found: list[tuple[object, ...]] = []
    elif engine == "duckdb":
        from yibao.analytics import on_duckdb

        counts, found = on_duckdb.run(data_dir, rules, out, memory_limit=memory_limit, threads=threads)
    elif engine == "spark":
        from yibao.analytics import on_spark  # Spark is heavy to import: only when asked for

        counts, found = on_spark.run(data_dir, rules, out, master=spark_master)
    else:
        raise ValueError(f"engine: {engine!r} is not one of {', '.join(ENGINES)}")
    seconds = time.perf_counter() - started
    by_rule = {rule_id: (n, amount) for rule_id, n, amount in counts}
    return RuleRun(
        engine=engine,
        version=library.version,
        counts=tuple(RuleCount(r.id, *by_rule.get(r.id, (0, 0))) for r in rules),
        seconds=seconds,
        path=out,
        rows=tuple(sorted(_row(f) for f in found)),
    )


def _row(values: Iterable[object]) -> FindingRow:
    rule_id, result, mdtrt_id, sn, code, amount, fixmedins_code, psn_no, setl_id = values
    return FindingRow(
        str(rule_id), str(result), str(mdtrt_id), str(sn), str(code), int(str(amount)), str(fixmedins_code),
        str(psn_no), str(setl_id or ""),
    )  # fmt: skip


def read_findings(path: Path, batch: int = 50_000) -> Iterator[list[FindingRow]]:
    """The findings a run wrote to ``path``, in batches."""
    import pyarrow.dataset as ds  # a quarter of a second to import: not for every `yibao` command

    for record_batch in ds.dataset(path, format="parquet").to_batches(batch_size=batch):
        yield [_row(values) for values in zip(*record_batch.to_pydict().values(), strict=True)]
