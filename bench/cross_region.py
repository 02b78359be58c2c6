"""Cross-region settlement against local settlement, measured in one run (issue 7).

    .venv/bin/python bench/cross_region.py [--backend sqlite|postgresql] [--concurrency 8] [--seconds 20]

A hub and two nodes on 127.0.0.1, each a real `yibao serve` over its own database holding a synthetic
city (Jiangsu Wujiang 320509, the treating node; Shanghai Qingpu 310118, the insured node; the
demonstration zone loaded, so Qingpu's insured are treated in Wujiang without a filing). Against the
Wujiang node, at the same concurrency, for ``--seconds`` each, in turn:

- local: complete outpatient settlements (2201, 2204, 2206, 2207) of Wujiang's employees;
- cross-region: the same conversations of Qingpu's employees, the envelopes naming 310118 — 2201 fetches
  the person's rows from Qingpu (registry), 2206 asks Qingpu's policy (presettle), 2207 settles Qingpu's
  side first (settle), every call through the hub and signed.

It prints the throughput (settlements a second), p50/p99 of 2207 and of the whole conversation for each,
and what crossing regions adds. Figures are printed, never asserted; the ledger check of both nodes
follows. Each client thread keeps its own persons (no two conversations of one person at a time).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from settle import PG_ADMIN, ROOT

from yibao.domain.ledger import check_ledger
from yibao.federation.launch import RegionNode, free_port, running_federation
from yibao.sim.city import build_city, catalogue
from yibao.sim.his import HisClient, KeepAlive
from yibao.sim.traffic import Patient, Site, sample_city, sample_guests
from yibao.store.database import Database
from yibao.store.engine import make_engine
from yibao.store.filings import load_zones_file

TREATING, INSURED = ("wj", "320509"), ("qp", "310118")
CODES = ("2201", "2204", "2206", "2207")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/cross_region.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite", help="the nodes' databases")
    p.add_argument("--pg-admin-url", default=PG_ADMIN)
    p.add_argument("--concurrency", type=int, default=8, help="client threads, the same for both runs")
    p.add_argument("--seconds", type=float, default=20.0, help="each run's length")
    p.add_argument("--workers", type=int, default=1, help="`yibao serve` workers of each node")
    p.add_argument("--persons", type=int, default=4_000, help="insured persons of each city")
    return p.parse_args(argv)


@contextmanager
def database(backend: str, pg_admin: str, folder: Path, name: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'{name}.db'}"
        return
    import secrets

    import psycopg

    db = f"yibao_bench_{name}_{secrets.token_hex(4)}"
    with psycopg.connect(pg_admin, autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    try:
        yield pg_admin.rsplit("/", 1)[0] + f"/{db}"
    finally:
        with psycopg.connect(pg_admin, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def prepare(url: str, region: str, persons: int) -> None:
    build_city(url, region=region, persons=persons, institutions=10, seed=int(region) % 1000)
    db = Database(make_engine(url))
    try:
        load_zones_file(db, ROOT / "examples" / "zones.toml")
    finally:
        db.dispose()


@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=dict)
    conversations: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    first_error: str = ""

    def merge(self, other: Tally) -> None:
        for code, values in other.latency.items():
            self.latency.setdefault(code, []).extend(values)
        self.conversations += other.conversations
        for k, v in other.errors.items():
            self.errors[k] = self.errors.get(k, 0) + v
        self.first_error = self.first_error or other.first_error


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))] * 1e3


class Failed(Exception):
    pass


def conversation(conn: KeepAlive, his: HisClient, patient: Patient, n: int, tally: Tally) -> None:
    """2201, 2204, 2206, 2207 of one outpatient visit: two lines of a drug and a service."""
    insuplc = patient.insuplc

    def call(infno: str, data: dict[str, Any]) -> Any:
        body = json.dumps(his.envelope(infno, data, insuplc_admdvs=insuplc), ensure_ascii=False).encode()
        t0 = time.perf_counter()
        answer = json.loads(conn.post(body), parse_float=Decimal)
        tally.latency.setdefault(infno, []).append(time.perf_counter() - t0)
        if answer.get("infcode") != 0:
            tally.errors[infno] = tally.errors.get(infno, 0) + 1
            tally.first_error = tally.first_error or f"{infno}: {answer.get('err_msg')}"
            raise Failed
        return answer["output"]

    cert = {"mdtrt_cert_type": "02", "mdtrt_cert_no": patient.certno, "psn_cert_type": "01"}
    t0 = time.perf_counter()
    register = {"psn_no": patient.psn_no, "insutype": "310", "begntime": now(), "ipt_otp_no": f"MZ{n:08d}",
                "med_type": "11", **cert}  # fmt: skip
    mdtrt_id = call("2201", {"data": register})["data"]["mdtrt_id"]
    drug, service = ITEMS
    lines = [
        {"feedetl_sn": str(i), "mdtrt_id": mdtrt_id, "psn_no": patient.psn_no, "chrg_bchno": "1",
         "med_list_codg": item.med_list_codg, "medins_list_codg": f"HIS{i}", "det_item_fee_sumamt": str(price * cnt),
         "cnt": str(cnt), "pric": str(price), "fee_ocur_time": now(), "bilg_dept_codg": "A03",
         "bilg_dept_name": "内科", "bilg_dr_codg": "D1", "bilg_dr_name": "医生"}
        for i, (item, cnt, price) in enumerate(((drug, 2, Decimal("12.50")), (service, 1, Decimal("30.00"))), 1)
    ]  # fmt: skip
    call("2204", {"feedetail": lines})
    data = {"data": {"psn_no": patient.psn_no, "mdtrt_id": mdtrt_id, "medfee_sumamt": "55.00", "insutype": "310",
                     "med_type": "11", "acct_used_flag": "1", "chrg_bchno": "1", "psn_setlway": "01",
                     **cert}}  # fmt: skip
    call("2206", data)
    call("2207", data)
    tally.conversations.append(time.perf_counter() - t0)


def now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def pick_items() -> tuple[Any, Any]:
    items = [i for i in catalogue() if "o" in i.settings and i.chrgitm_lv == "01" and not i.sex and i.age_min is None
             and i.age_max is None and i.price_cap is None]  # fmt: skip
    drug = next(i for i in items if i.list_type == "101")
    service = next(i for i in items if i.list_type == "201")
    return drug, service


ITEMS = pick_items()


def run(base: str, sites: Sequence[Site], patients: Sequence[Patient], concurrency: int, seconds: float) -> Tally:
    """``concurrency`` threads, each with its own persons, holding conversations for ``seconds``."""
    port = int(base.rsplit(":", 1)[1])
    clients = {s.code: HisClient(base, s.code, mdtrtarea_admvs=TREATING[1]) for s in sites}
    for his in clients.values():
        his.sign_in()
    tallies = [Tally() for _ in range(concurrency)]
    stop = time.monotonic() + seconds
    serial = iter(range(10**9))
    lock = threading.Lock()

    def worker(k: int) -> None:
        conn = KeepAlive(port, 30.0)
        mine = patients[k::concurrency]
        i = 0
        try:
            while time.monotonic() < stop:
                site = sites[(k + i) % len(sites)]
                with lock:
                    n = next(serial)
                with suppress(Failed):
                    conversation(conn, clients[site.code], mine[i % len(mine)], n, tallies[k])
                i += 1
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(concurrency)]
    started = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    total = Tally()
    for t in tallies:
        total.merge(t)
    total.latency["_seconds"] = [time.monotonic() - started]
    for his in clients.values():
        his.close()
    return total


def report(name: str, t: Tally) -> tuple[float, float, float]:
    seconds = t.latency["_seconds"][0]
    rate = len(t.conversations) / seconds
    print(f"  {name:<13} {len(t.conversations):6,} settlements in {seconds:5.1f} s = {rate:7.1f}/s   "
          + "   ".join(f"{c} {pct(t.latency.get(c, []), 0.5):6.1f}/{pct(t.latency.get(c, []), 0.99):6.1f}"
                       for c in CODES)
          + f"   visit {pct(t.conversations, 0.5):6.1f}/{pct(t.conversations, 0.99):6.1f} ms"
          + (f"   errors {t.errors} (first: {t.first_error})" if t.errors else ""))  # fmt: skip
    return rate, pct(t.latency.get("2207", []), 0.5), pct(t.latency.get("2207", []), 0.99)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="yibao-bench-xr-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        nodes: dict[str, RegionNode] = {}
        for node_id, admdvs in (TREATING, INSURED):
            url = stack.enter_context(database(args.backend, args.pg_admin_url, folder, node_id))
            t0 = time.monotonic()
            prepare(url, admdvs, args.persons)
            print(f"city {admdvs}: {args.persons:,} persons in {time.monotonic() - t0:.1f} s ({args.backend})")
            nodes[node_id] = RegionNode(node_id, admdvs, url, free_port(), folder / f"{node_id}.log",
                                        args=("--workers", str(args.workers)))  # fmt: skip
        treating, insured = nodes[TREATING[0]], nodes[INSURED[0]]
        local = sample_city(treating.url, TREATING[1], 4_000)
        sites = [s for s in local.hospitals if s.hosp_lv >= 2] or list(local.hospitals)
        guests = sample_guests(insured.url, INSURED[1], 4_000)
        print(f"{len(local.employees):,} local and {len(guests):,} Qingpu employees, {len(sites)} hospitals; "
              f"{args.concurrency} client threads, {args.seconds:g} s each, "
              f"nodes with {args.workers} worker(s)")  # fmt: skip
        with running_federation(folder, nodes, timeout=90):
            run(treating.base, sites, local.employees, 2, 2.0)  # warm up both paths
            run(treating.base, sites, guests, 2, 2.0)
            print(f"against {treating.base} (Wujiang), p50/p99 in ms:")
            lr, l50, l99 = report("local", run(treating.base, sites, local.employees, args.concurrency, args.seconds))
            cr, c50, c99 = report("cross-region", run(treating.base, sites, guests, args.concurrency, args.seconds))
            print(f"  cross-region adds {c50 - l50:+.1f} ms at p50 and {c99 - l99:+.1f} ms at p99 to 2207; "
                  f"throughput {cr / lr:.0%} of local ({cr:.1f}/s against {lr:.1f}/s)")  # fmt: skip
        for node in (treating, insured):
            db = Database(make_engine(node.url))
            try:
                with db.transaction(write=False) as store:
                    problems = check_ledger(store.ledger_facts())
            finally:
                db.dispose()
            print(f"ledger check {node.admdvs}: " + ("balanced" if not problems else f"{len(problems)} difference(s)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
