"""After settlement: the rule library as SQL gives the Python engine's findings, on DuckDB and on Spark."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.post_event_claims import Builder, catalog_for
from yibao.analytics.encounters import write_encounters
from yibao.analytics.layout import write_items
from yibao.analytics.post_event import RuleRun, read_findings, run_rules
from yibao.domain.catalog import Catalog
from yibao.domain.supervision.encounter import Encounter
from yibao.domain.supervision.engine import review
from yibao.domain.supervision.rules import RuleLibrary
from yibao.files.rules import load_rule_library

Key = tuple[str, str, str, str, str, int]


@pytest.fixture(scope="module")
def library() -> RuleLibrary:
    return load_rule_library()


@pytest.fixture(scope="module")
def claims(library: RuleLibrary, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Encounter], Catalog]:
    catalog = catalog_for(library)
    encounters = Builder(library, catalog, seed=11).claims(700)
    data = tmp_path_factory.mktemp("claims")
    write_encounters(encounters, data, batch=1000)
    write_items(catalog.items.values(), data)
    return data, encounters, catalog


@pytest.fixture(scope="module")
def duckdb_run(claims: tuple[Path, list[Encounter], Catalog], library: RuleLibrary) -> RuleRun:
    return run_rules(claims[0], library)


@pytest.fixture(scope="module")
def spark() -> Iterator[None]:
    from yibao.analytics.on_spark import PARTITIONS_ENV, session

    with pytest.MonkeyPatch.context() as env:
        env.setenv(PARTITIONS_ENV, "2")  # 700 claims: 32 partitions' tasks cost the test about 25 s more
        spark = session("local[2]")
        yield
        spark.stop()


def python_findings(encounters: list[Encounter], library: RuleLibrary, catalog: Catalog) -> set[Key]:
    """Visit by visit, with the person's other visits (and the practitioner's that day) as history."""
    by_person: dict[str, list[Encounter]] = defaultdict(list)
    by_doctor: dict[tuple[str, object], list[Encounter]] = defaultdict(list)
    for e in encounters:
        by_person[e.psn_no].append(e)
        by_doctor[(e.atddr_no, e.begn_date)].append(e)
    found: set[Key] = set()
    for e in encounters:
        history = {h.mdtrt_id: h for h in (*by_person[e.psn_no], *by_doctor[(e.atddr_no, e.begn_date)])}
        for f in review(e, library, catalog, stage="after", history=tuple(history.values())):
            found.add((f.rule_id, f.result, f.mdtrt_id, f.feedetl_sn, f.med_list_codg, f.amount))
    return found


def test_every_after_rule_fires_on_the_test_claims(duckdb_run: RuleRun, library: RuleLibrary) -> None:
    assert {c.rule_id for c in duckdb_run.counts} == {r.id for r in library.select(stage="after")}
    assert [c.rule_id for c in duckdb_run.counts if c.findings == 0] == []


def test_sql_on_duckdb_finds_what_the_python_engine_finds(
    duckdb_run: RuleRun, claims: tuple[Path, list[Encounter], Catalog], library: RuleLibrary
) -> None:
    _, encounters, catalog = claims
    sql = {(r.rule_id, r.result, r.mdtrt_id, r.feedetl_sn, r.med_list_codg, r.amount) for r in duckdb_run.rows}
    assert len(sql) == len(duckdb_run.rows)  # each (rule, visit, line) once
    python = python_findings(encounters, library, catalog)
    assert sorted(sql - python) == []
    assert sorted(python - sql) == []


def test_findings_carry_the_visit_institution_person_and_settlement(
    duckdb_run: RuleRun, claims: tuple[Path, list[Encounter], Catalog]
) -> None:
    visits = {e.mdtrt_id: e for e in claims[1]}
    for row in duckdb_run.rows:
        e = visits[row.mdtrt_id]
        assert (row.fixmedins_code, row.psn_no, row.setl_id) == (e.fixmedins_code, e.psn_no, f"S{e.mdtrt_id}")
    for c in duckdb_run.counts:
        rows = [r for r in duckdb_run.rows if r.rule_id == c.rule_id]
        assert (c.findings, c.amount) == (len(rows), sum(r.amount for r in rows))


def test_the_persons_hash_only_narrows_the_joins(
    duckdb_run: RuleRun, claims: tuple[Path, list[Encounter], Catalog], library: RuleLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """early_refill, outpatient_during_stay and same_day_repeat meet on a hash of the person: with every person
    hashing alike, the persons' numbers still decide, to the same findings."""
    from yibao.analytics import on_duckdb

    monkeypatch.setattr(on_duckdb, "DIALECT", replace(on_duckdb.DIALECT, hash="CAST(0 AS UBIGINT)"))
    run = run_rules(claims[0], library)
    assert run.rows == duckdb_run.rows


def test_spark_runs_the_same_sql_to_the_same_findings(
    spark: None, duckdb_run: RuleRun, claims: tuple[Path, list[Encounter], Catalog], library: RuleLibrary,
    tmp_path: Path,
) -> None:  # fmt: skip
    """Every SQL template (one per rule logic) on Spark, through one rule of each: a Spark query takes a
    second or more of planning and jobs whatever the data, so all of the library's rules on Spark
    against DuckDB are left to bench/post_event.py (docs/supervision.md)."""
    firsts = {r.logic: r.id for r in reversed(library.select(stage="after"))}
    chosen = set(firsts.values())
    on_spark = run_rules(claims[0], library, engine="spark", out=tmp_path / "findings", rule_ids=chosen)
    written = sorted(row for batch in read_findings(tmp_path / "findings") for row in batch)
    assert written == [row for row in duckdb_run.rows if row.rule_id in chosen]
    assert written  # the chosen rules find something on these claims
    assert on_spark.counts == tuple(c for c in duckdb_run.counts if c.rule_id in chosen)


def test_findings_written_by_duckdb_read_back_the_same(
    duckdb_run: RuleRun, claims: tuple[Path, list[Encounter], Catalog], library: RuleLibrary, tmp_path: Path
) -> None:
    run = run_rules(claims[0], library, out=tmp_path / "findings.parquet", threads=1, memory_limit="1GB")
    assert run.rows == ()
    assert sorted(row for batch in read_findings(tmp_path / "findings.parquet") for row in batch) == list(
        duckdb_run.rows
    )
