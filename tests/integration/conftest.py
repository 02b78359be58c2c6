from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.databases import BACKENDS, demo_database
from yibao.api.server import create_app
from yibao.sim.his import HisClient
from yibao.store.database import Database


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with demo_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def http(db: Database) -> Iterator[TestClient]:
    """The real FastAPI application, in-process (the e2e tests use a real server process)."""
    with TestClient(create_app(db)) as client:
        yield client


def his_at(http: TestClient, fixmedins_code: str) -> HisClient:
    """A HIS of the institution, signed in (9001): its envelopes carry the sign_no."""
    his = HisClient("", fixmedins_code, client=http)
    his.sign_in()
    return his


@pytest.fixture
def hospital(http: TestClient) -> HisClient:
    """H44010600001: a level-3 hospital in Guangzhou."""
    return his_at(http, "H44010600001")


@pytest.fixture
def pharmacy(http: TestClient) -> HisClient:
    return his_at(http, "P44010600001")
