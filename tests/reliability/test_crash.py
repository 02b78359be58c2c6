"""The server killed with SIGKILL ten times while HIS clients settle; every acknowledged settlement
exists exactly once, nothing unacknowledged is half-written, and the ledger checks. On both databases.

Each kill costs a server start (about 2–3 s of imports on the test box), so the suite's run is short;
the long, configurable run is bench/crash.py (100 and 200 kills); docs/reliability.md has its figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.databases import BACKENDS, fresh_database, load_demo
from tests.reliability.harness import Server, consistency_problems, crash_run, load_persons, make_persons
from yibao.federation.launch import free_port

KILLS = 10


@pytest.mark.parametrize("backend", BACKENDS)
def test_settlements_survive_ten_kills(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        load_demo(url)
        persons, registry = make_persons(40)
        load_persons(url, registry, tmp_path / "persons.json")
        server = Server(url, free_port(), tmp_path / "server.log", workers=1)
        run = crash_run(server, persons, threads=4, kills=KILLS, uptime=(0.1, 0.5), seed=7)
        print(run.figures())
        assert run.errors == [], server.log_tail()
        assert run.kills == KILLS
        assert run.tally.retries > 0, "no kill landed while a request was in flight"
        assert len(run.tally.acknowledged) >= KILLS, run.figures()
        assert run.tally.refusals == []
        problems, checked = consistency_problems(url, run.tally)
        assert problems == [], "\n".join(problems[:30])
        assert checked["acknowledged settlements found"] == len(run.tally.acknowledged)
