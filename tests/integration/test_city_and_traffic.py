"""A small synthetic city on both databases, a real `yibao serve` over it, and HIS traffic that settles.

Every conversation must succeed, residents included, and the books must balance afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, func, inspect, select
from typer.testing import CliRunner, Result

from tests.databases import BACKENDS, fresh_database
from tests.servers import running_server
from yibao.cli import app
from yibao.domain.money import fen_to_yuan
from yibao.sim.city import CityExists, CityReport, build_city, catalogue
from yibao.sim.traffic import Mix, run_traffic
from yibao.store import tables as t
from yibao.store.engine import make_engine
from yibao.store.personal import personal_for

PERSONS, INSTITUTIONS, SEED = 2000, 12, 7


@dataclass
class City:
    backend: str
    url: str
    report: CityReport
    tmp: Path


@pytest.fixture(scope="module", params=BACKENDS)
def city(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    tmp = tmp_path_factory.mktemp(f"city-{request.param}")
    with fresh_database(request.param, tmp) as url:
        yield City(request.param, url, build_city(url, persons=PERSONS, institutions=INSTITUTIONS, seed=SEED), tmp)


def yibao(*args: str, url: str) -> Result:
    """The ``yibao`` command, in this process (a real process costs a second of imports)."""
    return CliRunner().invoke(app, list(args), env={"YIBAO_DATABASE_URL": url})


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_the_city_is_in_the_database_and_the_books_balance(city: City) -> None:
    engine = make_engine(city.url)
    try:
        c = city.report.counts
        assert (c["persons"], c["insurance"], c["institutions"]) == (PERSONS, PERSONS, INSTITUTIONS)
        assert 0 < c["identities"] < PERSONS * 0.05 and PERSONS * 0.4 < c["accounts"] < PERSONS * 0.8
        expected = {
            t.region: 1, t.person: PERSONS, t.insurance: PERSONS, t.identity: c["identities"],
            t.institution: INSTITUTIONS, t.practitioner: c["practitioners"], t.catalog_item: len(catalogue()),
            t.policy_version: 3, t.ledger_account: c["accounts"] + 1, t.ledger_transfer: c["accounts"],
            t.voucher: c["vouchers"],
        }  # fmt: skip
        assert PERSONS * 0.2 < c["vouchers"] < PERSONS * 0.4, c  # about 3 in 10 activated a voucher
        assert {table.name: count(engine, table) for table in expected} == {k.name: v for k, v in expected.items()}
        with engine.connect() as conn:
            a = t.ledger_account.c
            rows = dict(conn.execute(select(a.code, a.debits_posted - a.credits_posted)).all())
            assert rows.pop("opening:personal_accounts") == -sum(rows.values()) > 0
            assert {r.insutype for r in conn.execute(select(t.policy_version.c.insutype))} == {"310", "390"}
        # the indexes and foreign keys dropped for the bulk load are back
        schema = inspect(engine)
        assert {"ix_person_certno_hash", "ix_person_card_no_hash"} <= {i["name"] for i in schema.get_indexes("person")}
        assert "ix_ledger_transfer_posting_id" in {i["name"] for i in schema.get_indexes("ledger_transfer")}
        assert schema.get_foreign_keys("insurance") and len(schema.get_foreign_keys("ledger_transfer")) == 2
    finally:
        engine.dispose()
    check = yibao("ledger", "check", url=city.url)
    assert check.exit_code == 0 and "all balanced" in check.stdout, check.stdout + check.stderr
    with pytest.raises(CityExists):
        build_city(city.url, persons=10, institutions=INSTITUTIONS, seed=SEED)


@pytest.fixture(scope="module")
def server(city: City) -> Iterator[str]:
    """A real `yibao serve` over the city; its base URL."""
    with running_server(city.url, city.tmp / "server.log", workers=1 if city.backend == "sqlite" else 2) as base:
        yield base


def test_traffic_settles_every_conversation(city: City, server: str) -> None:
    # more stays, purchases and reversals than a real day, so that every conversation is held
    report = run_traffic(server, rate=25, duration=3, db_url=city.url, seed=3, concurrency=6,
                         mix=Mix(outpatient=0.55, inpatient=0.25, pharmacy=0.20), reversal_share=0.1,
                         interim_share=0.6)  # fmt: skip
    tally = report.tally
    assert report.errors == 0, "\n".join(report.lines())
    assert sum(tally.failed.values()) == 0 and tally.cut_short == 0
    assert min(tally.kinds["outpatient"], tally.kinds["inpatient"], tally.kinds["pharmacy"]) > 0, tally.kinds
    assert tally.reversals > 0 and tally.ok["9001"] > 0 and tally.ok["1101"] == sum(tally.kinds.values())
    # a share of the visits of persons with a voucher are made with it: one code read (and one more to pay)
    assert tally.by_voucher > 0 and tally.ok["ec.query"] >= tally.by_voucher, "\n".join(report.lines())
    assert {"2201", "2204", "2206", "2207", "2401", "2301", "2303", "2304", "2402", "2102"} <= set(tally.ok)
    assert tally.settlements >= 20 and report.settlements_per_second > 0

    engine = make_engine(city.url)
    try:
        s = t.settlement.c
        with engine.connect() as conn:
            rows = conn.execute(select(s.insutype, s.medfee_sumamt, s.revs_setl_id, s.mdtrt_cert_type)).all()
            uses = conn.execute(select(func.count()).select_from(t.voucher_use)).scalar_one()
            settlements = conn.execute(select(func.count()).select_from(t.settlement)).scalar_one()
    finally:
        engine.dispose()
    # every settlement the clients were told of is in the database, and nothing else
    assert settlements == tally.settlements + tally.reversals == len(rows)
    assert sum(1 for r in rows if r.revs_setl_id) == tally.reversals
    assert sum(1 for r in rows if r.mdtrt_cert_type == "01" and not r.revs_setl_id) == tally.by_voucher
    assert uses == tally.ok["ec.query"] and {r.mdtrt_cert_type for r in rows} == {"01", "02"}
    assert fen_to_yuan(sum(r.medfee_sumamt for r in rows)) == tally.money["medfee_sumamt"] > Decimal(0)
    assert {r.insutype for r in rows} == {"310", "390"}  # residents settle under the illustrative policy
    check = yibao("ledger", "check", url=city.url)
    assert check.exit_code == 0 and "all balanced" in check.stdout, check.stdout + check.stderr


def test_the_commands(tmp_path: Path, city: City, server: str) -> None:
    """`yibao sim city` builds and refuses to build twice; `yibao sim traffic` reports and exits 0."""
    if city.backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
        built = yibao("sim", "city", "--persons", "300", "--institutions", "5", "--seed", "2", url=url)
        assert built.exit_code == 0, built.stderr
        assert "300 persons" in built.stdout and "5 institutions" in built.stdout
        again = yibao("sim", "city", "--persons", "300", "--institutions", "5", "--seed", "2", url=url)
        assert again.exit_code == 2 and "already holds" in again.stderr
    run = yibao("sim", "traffic", "--url", server, "--rate", "10", "--duration", "1.5", "--concurrency", "4",
                "--seed", "5", url=city.url)  # fmt: skip
    assert run.exit_code == 0, run.stdout + run.stderr
    assert "errors         none" in run.stdout and "2207" in run.stdout
    away = yibao("sim", "traffic", "--url", "http://192.0.2.1:8000", "--duration", "1", url=city.url)
    assert away.exit_code == 2 and "127.0.0.1" in away.stderr


def test_both_databases_hold_the_same_city(tmp_path: Path) -> None:
    """The same seed writes the same rows, by COPY on PostgreSQL and by executemany on SQLite."""
    contents = []
    for backend in BACKENDS:
        (tmp_path / backend).mkdir()
        with fresh_database(backend, tmp_path / backend) as url:
            build_city(url, persons=400, institutions=6, seed=11, batch_size=150)
            engine = make_engine(url)
            try:
                with engine.connect() as conn:
                    # sealed values differ by their random nonces and the lookup hashes by key: compare them opened
                    sealed = personal_for(engine.url)
                    persons = sorted(map(str, map(sealed.person_of, conn.execute(select(t.person)).mappings())))
                    contents.append(
                        {"person": persons}
                        | {
                            table.name: sorted(tuple(map(str, row)) for row in conn.execute(select(*columns)))
                            for table, columns in (
                                (t.insurance, t.insurance.columns),
                                (t.identity, t.identity.columns),
                                (t.institution, t.institution.columns),
                                (t.practitioner, t.practitioner.columns),
                                (t.ledger_account, t.ledger_account.columns),
                                (t.ledger_transfer, [c for c in t.ledger_transfer.columns if c.name != "id"]),
                                (t.voucher, t.voucher.columns),
                            )
                        }
                    )
            finally:
                engine.dispose()
    assert contents[0] == contents[1]
    assert len(contents[0]["person"]) == 400
