"""How fast the rule engine reviews a 50-line visit with the whole shipped library, and what 3102 costs.

    .venv/bin/python bench/review.py [--n 5000] [--lines 50] [--http 300]

1. in-process: ``review`` of --n visits of --lines lines drawn from the synthetic city's catalogue
   (outpatient and inpatient, some lines breaking restrictions), stage ``during``, with a history of
   12 other visits of the person; the compiled plan is made on the first call and reused;
2. over the application's HTTP stack in this process (FastAPI through its test client, SQLite in a
   temporary directory with the demo registry and the city catalogue): --http 3102 messages of the same
   size, each also loading the person's stored visits and recording its findings.

Prints p50/p99 (and mean) per visit, wall-clock and (in-process) this thread's CPU time, which a busy
machine does not inflate; and findings per visit. It prints figures and never asserts.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import tomllib
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient

from yibao.api.server import create_app
from yibao.domain.catalog import Catalog
from yibao.domain.supervision.encounter import Encounter, Line
from yibao.domain.supervision.engine import review
from yibao.files import catalog_item_from_data
from yibao.files.rules import load_rule_library
from yibao.sim.city import catalogue_toml
from yibao.sim.his import HisClient
from yibao.store import loading, migrate
from yibao.store.database import Database
from yibao.store.engine import make_engine

ROOT = Path(__file__).resolve().parents[1]
GZ = ROOT / "examples" / "guangzhou"
DX = ("J06.900", "E11.900", "I10.x00", "K35.800", "N40.x00", "O80.000", "C34.900")


def city_catalog() -> Catalog:
    data = tomllib.loads(catalogue_toml("440100", "bench"), parse_float=Decimal)
    return Catalog.of("440100", "bench", [catalog_item_from_data(row) for row in data["items"]])


def visit(rng: random.Random, codes: list[str], n: int, mdtrt_id: str, begn: date) -> Encounter:
    kind = rng.choice(("outpatient", "inpatient"))
    days = 1 if kind == "outpatient" else rng.randint(3, 10)
    lines = tuple(
        Line(str(i + 1), rng.choice(codes), begn + timedelta(days=rng.randrange(days)), Decimal(rng.randint(1, 3)),
             Decimal(rng.randint(100, 50_000)) / 100, 0, rng.choice((0, 0, 3, 7, 30, 40)))
        for i in range(n)
    )  # fmt: skip
    lines = tuple(Line(x.feedetl_sn, x.med_list_codg, x.fee_date, x.cnt, x.pric, int(x.pric * x.cnt * 100), x.days)
                  for x in lines)  # fmt: skip
    return Encounter(
        mdtrt_id=mdtrt_id, psn_no="P1", gend=rng.choice("12"), age=rng.randint(1, 90), insutype="310",
        fixmedins_code="H1", hosp_lv=rng.randint(1, 3), med_type="21" if kind == "inpatient" else "11", kind=kind,
        begn_date=begn, end_date=begn + timedelta(days=days - 1), main_dx=rng.choice(DX), lines=lines,
        admdvs="440100", atddr_no="D1", medfee_sumamt=sum(x.amount for x in lines),
    )  # fmt: skip


def percentiles(label: str, seconds: list[float], extra: str = "") -> None:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"{label:<44} n={len(ms):>6}  p50 {statistics.median(ms):7.3f} ms  p99 {p99:7.3f} ms  "
          f"mean {statistics.fmean(ms):7.3f} ms  {extra}")  # fmt: skip


def in_process(n: int, size: int) -> None:
    library, catalog = load_rule_library(), city_catalog()
    rng = random.Random(7)
    codes = list(catalog.items)
    day = date(2026, 3, 1)
    history = [visit(rng, codes, size, f"H{i}", day - timedelta(days=5 * i + 2)) for i in range(12)]
    visits = [visit(rng, codes, size, f"M{i}", day) for i in range(200)]
    start = time.perf_counter()
    review(visits[0], library, catalog, stage="during", history=history)
    print(f"first call (compiles the plan): {(time.perf_counter() - start) * 1000:.1f} ms, "
          f"{len(library.rules)} rules, {len(catalog.items)} catalogue items")  # fmt: skip
    timings, cpu, fired = [], [], 0
    for i in range(n):
        enc = visits[i % len(visits)]
        c0, t0 = time.thread_time(), time.perf_counter()
        found = review(enc, library, catalog, stage="during", history=history)
        timings.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        fired += len(found)
    percentiles(f"review, {size} lines, whole library (wall)", timings, f"{fired / n:.1f} findings/visit")
    # CPU time of this thread: what the engine costs, without the waits of a machine shared with others
    percentiles(f"review, {size} lines, whole library (CPU)", cpu)


def over_http(n: int, size: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        db = Database(make_engine(url))
        migrate.upgrade(db.engine)
        loading.load_registry_file(db, GZ / "registry.json")
        catalog_file = Path(tmp) / "catalog.toml"
        catalog_file.write_text(catalogue_toml("440100", "bench"), encoding="utf-8")
        loading.load_catalog_file(db, catalog_file)
        rng = random.Random(11)
        codes = [c for c in city_catalog().items]
        with TestClient(create_app(db)) as client:
            his = HisClient("", "H44010600001", client=client)
            his.sign_in()
            now = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
            timings, fired = [], 0
            for i in range(n + 20):
                orders = [{"rx_id": str(j), "hilist_code": rng.choice(codes), "cnt": "1", "pric": "12.5",
                           "sumamt": "12.5", "drord_begn_date": now} for j in range(size)]  # fmt: skip
                body = {"data": {"patient_dtos": [{
                    "patn_id": "44010000000000012345", "gend": "1", "brdy": "1958-04-02", "poolarea": "440100",
                    "curr_mdtrt_id": f"B{i}", "fsi_encounter_dtos": [{
                        "mdtrt_id": f"B{i}", "medins_id": "H44010600001", "adm_date": now, "dscg_date": now,
                        "med_mdtrt_type": "1", "med_type": "11", "insutype": "310", "dscg_main_dise_codg": "J06.900",
                        "fsi_diagnose_dtos": [{"dise_codg": "J06.900", "maindise_flag": "1"}],
                        "fsi_order_dtos": orders}]}], "trig_scen": "2"}}  # fmt: skip
                t0 = time.perf_counter()
                out = his.call("3102", body)
                if i >= 20:  # the first messages warm the caches
                    timings.append(time.perf_counter() - t0)
                    fired += len(out["result"])
        db.dispose()
    percentiles(f"3102 over HTTP (in-process ASGI, SQLite), {size} lines", timings, f"{fired / n:.1f} rules/visit")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=50)
    parser.add_argument("--http", type=int, default=300, help="3102 messages over HTTP (0: skip)")
    args = parser.parse_args()
    in_process(args.n, args.lines)
    if args.http:
        over_http(args.http, args.lines)


if __name__ == "__main__":
    main()
