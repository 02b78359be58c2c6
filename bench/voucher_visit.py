"""What the electronic voucher adds to a visit's first step: 1101 by voucher against 1101 by card.

    .venv/bin/python bench/voucher_visit.py [--backend sqlite|postgresql] [--n 500]

Against a fresh database (the Guangzhou example registry) and a real `yibao serve` (one worker), one
client on 127.0.0.1 times, n times each, in turn:

- 1101 by social security card (mdtrt_cert_type 03) and by ID card (02): the counter's usual first step;
- the phone's part: a fresh signed code (SM2 sign, in this process as the portal would);
- ec.query (the counter reads the code: verify, use it up, an ecToken), then 1101 by that ecToken (01).

It prints p50/p99 of each and the voucher's added latency at the counter: ec.query + 1101(01) − 1101(03).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from settle import PG_ADMIN, ROOT, Server, fresh_database

from yibao.app import voucher
from yibao.sim.his import HisClient
from yibao.store import loading, migrate
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.voucher.authority import Authority

GZ = ROOT / "examples" / "guangzhou"
WORKER = "44010000000000023456"


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def prepare(url: str) -> tuple[str, dict[str, Any]]:
    """Load the example registry, activate the worker's voucher; (ec_index_no, the worker's registry row)."""
    db = Database(make_engine(url))
    try:
        migrate.upgrade(db.engine)
        loading.load_registry_file(db, GZ / "registry.json")
        for policy in ("employee-2021.toml", "employee-2022-12.toml"):
            loading.load_policy_file(db, GZ / policy)
        loading.load_catalog_file(db, GZ / "catalog.toml")
        with db.transaction() as store:
            person = store.person(WORKER)
            assert person is not None
            started = voucher.start_activation(store, person.certno, person.psn_name, "bench-phone", utcnow())
            assert started is not None
        with db.transaction() as store:
            activated = voucher.confirm_activation(store, person.certno, started[1], utcnow())
        return activated.ec_index_no, {"certno": person.certno, "card_no": person.card_no, "card_sn": person.card_sn}
    finally:
        db.dispose()


def timed(n: int, fn: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return samples


def p(samples: list[float], q: int) -> float:
    return statistics.quantiles(samples, n=100)[q - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--n", type=int, default=500, help="calls of each kind")
    parser.add_argument("--pg-admin-url", default=PG_ADMIN)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_database(args, Path(tmp)) as (url, _):
        ec_index_no, who = prepare(url)
        server = Server(url, 1, Path(tmp) / "server.log")
        server.start()
        try:
            run(args.n, server.port, ec_index_no, who, Authority.load())
        finally:
            server.stop()


def run(n: int, port: int, ec_index_no: str, who: dict[str, Any], authority: Authority) -> None:
    his = HisClient(f"http://127.0.0.1:{port}", "H44010600001", client=httpx.Client(timeout=30))
    his.sign_in()

    def person_info(cert_type: str, cert_no: str, **more: str) -> None:
        data = {"mdtrt_cert_type": cert_type, "mdtrt_cert_no": cert_no, "psn_cert_type": "01", **more}
        assert his.call("1101", {"data": data})["baseinfo"]["psn_no"] == WORKER

    tokens: list[str] = []

    def scan() -> None:
        answer = his.read_code(authority.issue(ec_index_no, utcnow()).text, "01101")
        assert answer["code"] == 0, answer
        tokens.append(answer["data"]["ecToken"])

    for _ in range(20):  # warm up both paths
        person_info("03", who["card_no"], card_sn=who["card_sn"])
        scan()
    card = timed(n, lambda: person_info("03", who["card_no"], card_sn=who["card_sn"]))
    id_card = timed(n, lambda: person_info("02", who["certno"]))
    phone = timed(n, lambda: authority.issue(ec_index_no, utcnow()))
    tokens.clear()
    query = timed(n, scan)
    by_token = []
    for token in tokens:
        t = time.perf_counter()
        person_info("01", token)
        by_token.append(time.perf_counter() - t)
    voucher_total = [a + b for a, b in zip(query, by_token, strict=True)]
    rows = [
        ("1101 by card (03)", card),
        ("1101 by ID card (02)", id_card),
        ("phone: sign a code", phone),
        ("ec.query (read the code)", query),
        ("1101 by ecToken (01)", by_token),
        ("voucher: ec.query + 1101", voucher_total),
    ]
    for name, samples in rows:
        print(f"{name:28} p50 {p(samples, 50):7.2f} ms   p99 {p(samples, 99):7.2f} ms   (n={len(samples)})")
    added50 = p(voucher_total, 50) - p(card, 50)
    added99 = p(voucher_total, 99) - p(card, 99)
    print(f"{'added by the voucher':28} p50 {added50:+7.2f} ms   p99 {added99:+7.2f} ms   (against the card)")


if __name__ == "__main__":
    main()
