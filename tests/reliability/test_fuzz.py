"""Hostile input through the in-process Dispatcher on SQLite (tests/reliability/fuzzing.py).

Every answer is JSON with infcode 0 or -1 and no stack trace, and a -1 changes no table. A few
hundred cases here; bench/fuzz.py runs as many as you like. schemathesis against a real server is
tests/reliability/test_schemathesis.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from tests.databases import fresh_database, load_demo
from tests.reliability.fuzzing import Failures, Target, envelopes, inputs, raw_bodies, spoilt, watch_failures
from yibao.api.server import create_app
from yibao.sim.his import HisClient
from yibao.store.database import Database
from yibao.store.engine import make_engine

FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    with fresh_database("sqlite", tmp) as url:
        load_demo(url)
        db = Database(make_engine(url))
        t = Target(db)
        with TestClient(create_app(db)) as http:
            t.prepare(HisClient("", "H44010600001", client=http))
        yield t
        db.dispose()


@pytest.fixture(scope="module")
def failures() -> Failures:
    return watch_failures()


def no_unexpected(failures: Failures) -> None:
    """Nothing answered 系统错误: every hostile input is refused with a reason (infcode -1, err_msg)."""
    assert not failures.seen, "\n".join(f"{n}× {k}" for k, n in failures.seen.most_common())


def test_raw_bodies(target: Target, failures: Failures) -> None:
    @FUZZ
    @given(raw_bodies())
    def run(body: bytes) -> None:
        assert target.check(body)["infcode"] == -1

    run()
    no_unexpected(failures)


def test_envelopes(target: Target, failures: Failures) -> None:
    @FUZZ
    @given(envelopes(target.his))
    def run(body: bytes) -> None:
        target.check(body)

    run()
    no_unexpected(failures)


def test_every_transaction_input(target: Target, failures: Failures) -> None:
    @settings(FUZZ, max_examples=300)
    @given(inputs(target.his))
    def run(body: bytes) -> None:
        target.check(body)

    run()
    no_unexpected(failures)


def test_valid_messages_spoilt(target: Target, failures: Failures) -> None:
    @settings(FUZZ, max_examples=300)
    @given(spoilt(target))
    def run(body: bytes) -> None:
        target.check(body)

    run()
    print(dict(target.outcomes))
    assert target.outcomes["0"] > 0  # some spoilt messages still go through: the valid ones are valid
    no_unexpected(failures)
